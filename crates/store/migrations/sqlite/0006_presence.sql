-- Human presence sessions (an agent asks for proof that an enrolled person is present)
-- and the keys that sign Human Presence Tokens. Personal fields are sealed; the page
-- token is stored as its SHA-256 only; a token's jti is redeemed at most once.
CREATE TABLE presence_sessions (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    token_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    email_lock BLOB,
    email_lock_bidx TEXT,
    nonce TEXT,
    ttl_seconds BIGINT NOT NULL,
    status TEXT NOT NULL,
    page_hash TEXT NOT NULL UNIQUE,
    person_id TEXT,
    verified_email BLOB,
    verified_at BIGINT,
    composite REAL,
    liveness REAL,
    jti TEXT UNIQUE,
    redeemed_at BIGINT,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX presence_sessions_org ON presence_sessions (org_id, created_at);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_sealed BLOB NOT NULL,
    public_key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
