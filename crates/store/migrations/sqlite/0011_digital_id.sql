-- Digital ID (OpenID4VP): the trust lists of credential issuers (IACA roots, PID and
-- other issuers' CAs; public certificates, per organisation) and the presentation
-- requests of the hosted flow. A request's id is the unguessable state in its
-- request_uri and response_uri; its response encryption key is sealed; it is answered
-- once (answered_at).
CREATE TABLE trust_anchors (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    subject TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    pem TEXT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (org_id, fingerprint)
);
CREATE INDEX trust_anchors_org ON trust_anchors (org_id);

CREATE TABLE presentation_requests (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    session_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    client_id TEXT NOT NULL,
    claims TEXT NOT NULL,
    enc_key BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered_at BIGINT
);
CREATE INDEX presentation_requests_session ON presentation_requests (session_id);
