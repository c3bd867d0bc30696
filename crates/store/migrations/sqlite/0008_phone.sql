-- Phone identity (the v3 wire API): possession flows and enrolled phone identities.
-- The number and every personal field are sealed; lookups by number go through a
-- blind index. OTPs and Instant Link tokens are stored as digests only. `version`
-- makes every flow update a compare-and-set, so concurrent OTP attempts are all counted.
CREATE TABLE phone_flows (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    flow_type TEXT NOT NULL,
    phone_bidx TEXT,
    data BLOB NOT NULL,
    step TEXT NOT NULL,
    possession TEXT NOT NULL,
    possession_method TEXT,
    final_target_url TEXT,
    sms_message TEXT,
    allow_otp_retry BIGINT NOT NULL,
    client_customer_id TEXT,
    client_request_id TEXT,
    otp_hash TEXT,
    otp_expires_at BIGINT,
    otp_sends BIGINT NOT NULL,
    otp_failures BIGINT NOT NULL,
    link_hash TEXT UNIQUE,
    link_expires_at BIGINT,
    link_sends BIGINT NOT NULL,
    identity_id TEXT,
    version BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX phone_flows_org ON phone_flows (org_id, created_at);
CREATE INDEX phone_flows_request ON phone_flows (org_id, client_request_id);

CREATE TABLE phone_identities (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    phone BLOB NOT NULL,
    phone_bidx TEXT NOT NULL,
    client_customer_id TEXT,
    client_human_id TEXT,
    device_id TEXT,
    active BIGINT NOT NULL,
    monitored BIGINT NOT NULL,
    carrier TEXT,
    line_type TEXT,
    country_code TEXT,
    subscription_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX phone_identities_phone ON phone_identities (org_id, phone_bidx);
CREATE INDEX phone_identities_monitor ON phone_identities (phone_bidx, monitored);
CREATE INDEX phone_identities_subscription ON phone_identities (subscription_id);
