-- The images of a session's capture (a selfie frame, the document's front and back),
-- sealed, for a reviewer to look at. Kept while the session is undecided; once it is
-- decided, cancelled or expired, delete_after is set to that time plus keep_days (the
-- key's image retention) and the housekeeping sweep deletes them (keep_days 0: at once,
-- in the deciding transaction).
CREATE TABLE session_images (
    session_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    sealed BLOB NOT NULL,
    size_bytes BIGINT NOT NULL,
    keep_days INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    delete_after BIGINT,
    PRIMARY KEY (session_id, name)
);
CREATE INDEX session_images_delete_after ON session_images (delete_after);
