-- Ory Kratos hooks: one configuration per organisation. Kratos authenticates with a
-- shared secret, which also tells vouch the organisation: it is kept only as a keyed
-- digest (blind index). The Kratos admin API key is sealed.
CREATE TABLE ory_configs (
    org_id TEXT PRIMARY KEY,
    secret_bidx TEXT NOT NULL UNIQUE,
    kratos_admin_url TEXT NOT NULL,
    api_key BYTEA,
    fail_open_lookup BIGINT NOT NULL,
    fail_open_validate BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The outbox also carries Kratos admin patches, which no API key signs: a delivery's
-- key_id no longer references api_keys (it names the signing key, or "kratos").
ALTER TABLE webhook_deliveries DROP CONSTRAINT IF EXISTS webhook_deliveries_key_id_fkey;
