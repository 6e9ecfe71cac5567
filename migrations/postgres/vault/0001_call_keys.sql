-- callscribe key vault, PostgreSQL: the calls' data keys, in a database of their own
-- (by default the main database's name + "_keys" on the same server) so that deleting a call
-- destroys the only copy of its key that callscribe keeps, and a dump of the main database
-- taken earlier cannot be decrypted for that call any more. Row-level security as in the
-- main database: the application role sees a tenant's keys only inside that tenant's
-- transactions.

DO $$
BEGIN
    CREATE ROLE callscribe_app NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE TABLE vault_info (
    id          BIGINT PRIMARY KEY CHECK (id = 1),
    fingerprint BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE call_keys (
    call_id     TEXT   PRIMARY KEY,
    tenant_id   TEXT   NOT NULL,
    kek_version BIGINT NOT NULL,
    wrapped     BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX call_keys_tenant ON call_keys (tenant_id, kek_version);

ALTER TABLE call_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON call_keys
    USING (tenant_id = current_setting('app.tenant_id', true))
    WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT USAGE ON SCHEMA public TO callscribe_app;
GRANT SELECT, INSERT ON vault_info TO callscribe_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON call_keys TO callscribe_app;
