-- Ory Kratos hooks: one configuration per organisation. Kratos authenticates with a
-- shared secret, which also tells vouch the organisation: it is kept only as a keyed
-- digest (blind index). The Kratos admin API key is sealed.
CREATE TABLE ory_configs (
    org_id TEXT PRIMARY KEY,
    secret_bidx TEXT NOT NULL UNIQUE,
    kratos_admin_url TEXT NOT NULL,
    api_key BLOB,
    fail_open_lookup BIGINT NOT NULL,
    fail_open_validate BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The outbox also carries Kratos admin patches, which no API key signs: a delivery's
-- key_id no longer references api_keys (it names the signing key, or "kratos").
-- SQLite changes a constraint by rebuilding the table (foreign keys are off while
-- migrations run, and checked after).
CREATE TABLE webhook_deliveries_new (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL REFERENCES events(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    key_id TEXT NOT NULL,
    url TEXT NOT NULL,
    dialect TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_status BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
INSERT INTO webhook_deliveries_new (id, event_id, org_id, key_id, url, dialect, event_type, body, status,
    attempts, next_attempt_at, lease_until, last_status, last_error, created_at, finished_at)
SELECT id, event_id, org_id, key_id, url, dialect, event_type, body, status,
    attempts, next_attempt_at, lease_until, last_status, last_error, created_at, finished_at
FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_org ON webhook_deliveries(org_id, created_at);
