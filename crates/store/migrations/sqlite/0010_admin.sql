-- Admin accounts of the console. The e-mail is sealed and blind-indexed; passwords are
-- argon2id PHC strings; the one-time setup link and session tokens are stored as
-- SHA-256 digests only; passkeys (webauthn-rs credentials) and the face template are
-- sealed.
CREATE TABLE admins (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    email BLOB NOT NULL,
    email_bidx TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    setup_hash TEXT UNIQUE,
    setup_expires_at BIGINT,
    face_template BLOB,
    face_consent_at BIGINT,
    enroll_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX admins_org ON admins (org_id);

CREATE TABLE admin_sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    admin_id TEXT NOT NULL REFERENCES admins(id),
    org_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    csrf TEXT NOT NULL,
    challenge BLOB,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

CREATE TABLE admin_passkeys (
    id TEXT PRIMARY KEY,
    admin_id TEXT NOT NULL REFERENCES admins(id),
    org_id TEXT NOT NULL,
    credential_id TEXT NOT NULL UNIQUE,
    passkey BLOB NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX admin_passkeys_admin ON admin_passkeys (admin_id);
