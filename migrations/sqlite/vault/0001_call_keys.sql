-- callscribe key vault, SQLite: the calls' data keys, kept in a database of their own
-- (DATA_DIR/callscribe.keys.db by default) so that deleting a call destroys the only copy of
-- its key that callscribe keeps, and a copy of the main database taken earlier (a backup,
-- a stolen file) cannot be decrypted for that call any more.

-- Which store this vault belongs to: the fingerprint of that store's first master key
-- version (a vault paired with another database is refused).
CREATE TABLE vault_info (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fingerprint BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

-- One row per call that is not deleted: its data key sealed by the tenant's key-encryption
-- key version kek_version (which lives, sealed by a master key, in the main database).
CREATE TABLE call_keys (
    call_id     TEXT    PRIMARY KEY,
    tenant_id   TEXT    NOT NULL,
    kek_version INTEGER NOT NULL,
    wrapped     BLOB    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX call_keys_tenant ON call_keys (tenant_id, kek_version);
