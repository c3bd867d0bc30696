-- KYC verification sessions. Times are epoch milliseconds; metadata is sealed JSON;
-- only the SHA-256 of the hosted page token is kept.
CREATE TABLE verification_sessions (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    key_id TEXT NOT NULL REFERENCES api_keys(id),
    external_ref TEXT,
    status TEXT NOT NULL,
    overall_result TEXT,
    checks TEXT NOT NULL,
    results TEXT NOT NULL,
    redirect_url TEXT,
    callback_url TEXT,
    metadata BYTEA,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX verification_sessions_org ON verification_sessions(org_id, created_at);
CREATE INDEX verification_sessions_org_ref ON verification_sessions(org_id, external_ref);
CREATE INDEX verification_sessions_due ON verification_sessions(status, expires_at);
