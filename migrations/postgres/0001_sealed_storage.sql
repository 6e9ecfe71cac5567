-- callscribe sealed storage, PostgreSQL. Same schema as the SQLite migration, plus tenant
-- isolation enforced by the database: the application works as the role callscribe_app, which
-- owns nothing and sees a tenant-owned row only when the transaction's app.tenant_id setting
-- names its tenant.

DO $$
BEGIN
    CREATE ROLE callscribe_app NOLOGIN;
EXCEPTION
    -- created by another database's migration (roles are cluster-wide), possibly concurrently
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE TABLE master_keys (
    version     BIGINT PRIMARY KEY,
    fingerprint BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE tenants (
    id                   TEXT   PRIMARY KEY,
    name                 TEXT   NOT NULL UNIQUE,
    retention_days       BIGINT NOT NULL CHECK (retention_days > 0),
    created_at           BIGINT NOT NULL,
    index_key            BYTEA  NOT NULL,
    index_master_version BIGINT NOT NULL
);

CREATE TABLE tenant_keys (
    tenant_id      TEXT   NOT NULL REFERENCES tenants(id),
    version        BIGINT NOT NULL,
    master_version BIGINT NOT NULL,
    wrapped        BYTEA  NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE TABLE api_keys (
    id           TEXT   PRIMARY KEY,
    tenant_id    TEXT   NOT NULL REFERENCES tenants(id),
    hash         BYTEA  NOT NULL,
    role         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE calls (
    id           TEXT   PRIMARY KEY,
    tenant_id    TEXT   NOT NULL REFERENCES tenants(id),
    external_ref BYTEA  NOT NULL,
    external_id  BYTEA  NOT NULL,
    provider     TEXT   NOT NULL,
    tracks       TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    started_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    created_at   BIGINT NOT NULL,
    kek_version  BIGINT NOT NULL,
    data_key     BYTEA
);
CREATE INDEX calls_tenant_started ON calls (tenant_id, started_at);
CREATE INDEX calls_tenant_ref ON calls (tenant_id, external_ref);

CREATE TABLE segments (
    call_id        TEXT   NOT NULL REFERENCES calls(id),
    tenant_id      TEXT   NOT NULL,
    seq            BIGINT NOT NULL,
    speaker        TEXT   NOT NULL,
    start_ms       BIGINT NOT NULL,
    end_ms         BIGINT NOT NULL,
    policy_version BIGINT NOT NULL,
    key_version    BIGINT NOT NULL,
    text           BYTEA  NOT NULL,
    detail         BYTEA  NOT NULL,
    PRIMARY KEY (call_id, seq)
);
CREATE INDEX segments_tenant ON segments (tenant_id);

CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        BIGINT NOT NULL,
    actor     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    tenant_id TEXT,
    target    TEXT,
    detail    TEXT   NOT NULL,
    prev_hash BYTEA  NOT NULL,
    hash      BYTEA  NOT NULL
);
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash BYTEA  NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Row-level security on every tenant-owned table. current_setting(..., true) is NULL or ''
-- when no tenant is set: then no row matches.
ALTER TABLE tenant_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE segments ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenant_keys
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON api_keys
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON calls
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
CREATE POLICY tenant_isolation ON segments
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

-- Authentication must find a key before the tenant is known: this function (running as the
-- owner) returns the one row with the given public key id, nothing else.
CREATE FUNCTION api_key_lookup(key_id TEXT)
RETURNS TABLE (tenant_id TEXT, hash BYTEA, role TEXT, expires_at BIGINT, revoked_at BIGINT)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT k.tenant_id, k.hash, k.role, k.expires_at, k.revoked_at FROM api_keys k WHERE k.id = key_id
$$;
REVOKE ALL ON FUNCTION api_key_lookup(TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api_key_lookup(TEXT) TO callscribe_app;

GRANT USAGE ON SCHEMA public TO callscribe_app;
GRANT SELECT, INSERT ON master_keys TO callscribe_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, tenant_keys, api_keys, calls, segments TO callscribe_app;
-- append-only for the application: no UPDATE or DELETE on the trail
GRANT SELECT, INSERT ON audit_log TO callscribe_app;
GRANT SELECT, UPDATE ON audit_head TO callscribe_app;
