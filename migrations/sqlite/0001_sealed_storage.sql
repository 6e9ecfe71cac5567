-- callscribe sealed storage, SQLite (the embedded default).
-- Every transcript byte is AES-256-GCM ciphertext (columns ending in the sealed blobs below);
-- nothing unredacted and no audio is ever a column. Times are unix seconds, offsets ms.
-- STRICT tables: a row can never hold a value of another type than its column's.

-- Fingerprints (HMAC) of the master key versions this database was sealed with; the keys
-- themselves never enter the database.
CREATE TABLE master_keys (
    version     INTEGER PRIMARY KEY,
    fingerprint BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE tenants (
    id                   TEXT    PRIMARY KEY,
    name                 TEXT    NOT NULL UNIQUE,
    retention_days       INTEGER NOT NULL CHECK (retention_days > 0),
    created_at           INTEGER NOT NULL,
    -- the tenant's index key (keyed lookup of provider call ids), sealed by a master key
    index_key            BLOB    NOT NULL,
    index_master_version INTEGER NOT NULL
) STRICT;

-- Tenant key-encryption keys, one row per version, each sealed by a master key version.
CREATE TABLE tenant_keys (
    tenant_id      TEXT    NOT NULL REFERENCES tenants(id),
    version        INTEGER NOT NULL,
    master_version INTEGER NOT NULL,
    wrapped        BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version)
) STRICT;

-- API keys: only the SHA-256 of the key is stored.
CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    tenant_id    TEXT    NOT NULL REFERENCES tenants(id),
    hash         BLOB    NOT NULL,
    role         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE calls (
    id           TEXT    PRIMARY KEY,
    tenant_id    TEXT    NOT NULL REFERENCES tenants(id),
    -- HMAC of the provider's call id under the tenant index key (for lookups) and the id
    -- itself sealed under the call's data key
    external_ref BLOB    NOT NULL,
    external_id  BLOB    NOT NULL,
    provider     TEXT    NOT NULL,
    tracks       TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    created_at   INTEGER NOT NULL,
    -- the call's data key sealed by tenant key version kek_version; NULL once shredded
    kek_version  INTEGER NOT NULL,
    data_key     BLOB
) STRICT;
CREATE INDEX calls_tenant_started ON calls (tenant_id, started_at);
CREATE INDEX calls_tenant_ref ON calls (tenant_id, external_ref);

CREATE TABLE segments (
    call_id        TEXT    NOT NULL REFERENCES calls(id),
    tenant_id      TEXT    NOT NULL,
    seq            INTEGER NOT NULL,
    speaker        TEXT    NOT NULL,
    start_ms       INTEGER NOT NULL,
    end_ms         INTEGER NOT NULL,
    policy_version INTEGER NOT NULL,
    key_version    INTEGER NOT NULL,
    text           BLOB    NOT NULL,
    detail         BLOB    NOT NULL,
    PRIMARY KEY (call_id, seq)
) STRICT;
CREATE INDEX segments_tenant ON segments (tenant_id);

-- The hash-chained audit trail (no PII) and its head.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    tenant_id TEXT,
    target    TEXT,
    detail    TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL
) STRICT;
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));
CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
