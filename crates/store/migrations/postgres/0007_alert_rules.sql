-- Alert rules of biometric identity: N failed verifications of one person or one device
-- within M minutes fire `alert.triggered` (once, when the count reaches N).
CREATE TABLE alert_rules (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    window_minutes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX alert_rules_org ON alert_rules (org_id);
CREATE INDEX identity_checks_device ON identity_checks (org_id, device, created_at);
