-- Browser sessions: an agent or admin key exchanged for a short-lived session token
-- (`css_<id>_<secret>`). Only the SHA-256 of the token and of its CSRF token are stored. A
-- session is valid while it is neither expired nor revoked and the key it came from is valid.
CREATE TABLE web_sessions (
    id          TEXT    PRIMARY KEY,
    tenant_id   TEXT    NOT NULL REFERENCES tenants(id),
    key_id      TEXT    NOT NULL REFERENCES api_keys(id),
    hash        BLOB    NOT NULL,
    csrf_hash   BLOB    NOT NULL,
    role        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    -- when the chain of rotated sessions started: the absolute lifetime counts from here
    signed_in_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
) STRICT;
CREATE INDEX web_sessions_tenant ON web_sessions (tenant_id);
CREATE INDEX web_sessions_key ON web_sessions (key_id);
