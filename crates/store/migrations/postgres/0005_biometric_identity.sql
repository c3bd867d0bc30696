-- Biometric identity (1:N): face templates of enrolled people, verification profiles,
-- every verification's results (the history checks read them) and known devices.
-- Templates are sealed (a face embedding is biometric data); seq orders them so that a
-- node's in-memory index can load only what other nodes added since it last looked.
CREATE TABLE face_templates (
    seq BIGSERIAL PRIMARY KEY,
    org_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX face_templates_org_seq ON face_templates (org_id, seq);
CREATE INDEX face_templates_person ON face_templates (org_id, person_id);

CREATE TABLE verification_profiles (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (org_id, slug)
);

CREATE TABLE identity_checks (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    person_id TEXT,
    verified BIGINT NOT NULL,
    composite DOUBLE PRECISION NOT NULL,
    results TEXT NOT NULL,
    profile_id TEXT,
    device TEXT,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    created_at BIGINT NOT NULL
);
CREATE INDEX identity_checks_person ON identity_checks (org_id, person_id, created_at);

CREATE TABLE known_devices (
    org_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (org_id, person_id, fingerprint)
);
