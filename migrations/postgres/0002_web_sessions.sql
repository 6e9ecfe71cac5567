-- Browser sessions (see the SQLite migration). Tenant-owned: row-level security as for every
-- other tenant table; a SECURITY DEFINER function finds a session by its public id before the
-- tenant is known, joined with the key it came from so a revoked or expired key ends it.
CREATE TABLE web_sessions (
    id           TEXT   PRIMARY KEY,
    tenant_id    TEXT   NOT NULL REFERENCES tenants(id),
    key_id       TEXT   NOT NULL REFERENCES api_keys(id),
    hash         BYTEA  NOT NULL,
    csrf_hash    BYTEA  NOT NULL,
    role         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    signed_in_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX web_sessions_tenant ON web_sessions (tenant_id);
CREATE INDEX web_sessions_key ON web_sessions (key_id);
ALTER TABLE web_sessions ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON web_sessions
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

CREATE FUNCTION web_session_lookup(session_id TEXT)
RETURNS TABLE (tenant_id TEXT, key_id TEXT, hash BYTEA, csrf_hash BYTEA, role TEXT, created_at BIGINT,
               signed_in_at BIGINT, expires_at BIGINT, revoked_at BIGINT, key_expires_at BIGINT, key_revoked_at BIGINT)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT s.tenant_id, s.key_id, s.hash, s.csrf_hash, s.role, s.created_at, s.signed_in_at, s.expires_at,
           s.revoked_at, k.expires_at, k.revoked_at
    FROM web_sessions s JOIN api_keys k ON k.id = s.key_id AND k.tenant_id = s.tenant_id
    WHERE s.id = session_id
$$;
REVOKE ALL ON FUNCTION web_session_lookup(TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION web_session_lookup(TEXT) TO callscribe_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON web_sessions TO callscribe_app;
