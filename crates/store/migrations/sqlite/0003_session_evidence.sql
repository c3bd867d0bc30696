-- Biometric evidence of an open session (sealed JSON: the selfie and document portrait
-- embeddings), kept only until the session is decided, then set to NULL.
ALTER TABLE verification_sessions ADD COLUMN evidence BLOB;
