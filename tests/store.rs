//! The sealed store through its library API, on both backends: every test runs once on SQLite
//! and once on its own PostgreSQL database.

mod store_common;

use std::future::Future;
use std::sync::Arc;

use callscribe::redact::{EntityKind, Policy, Redactor, Span};
use callscribe::store::{
    Actor, AuthError, Backend, CallStatus, NewCall, NewSegment, Role, Store, StoreError,
};
use sqlx::Row;
use store_common::{KNOWN, TestDb, contains, random_key, runtime, segment};

fn op() -> Actor {
    Actor::Operator("test".into())
}

fn run<F, Fut>(backend: Backend, f: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    if backend == Backend::Postgres && store_common::skip_postgres() {
        eprintln!("CALLSCRIBE_SKIP_POSTGRES=1: PostgreSQL test skipped");
        return;
    }
    runtime().block_on(async {
        let db = TestDb::new(backend).await;
        f(db).await
    })
}

/// Runs each listed test on both backends.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::run(callscribe::store::Backend::Sqlite, super::$name) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::run(callscribe::store::Backend::Postgres, super::$name) } )*
        }
    };
}

both_backends!(
    transcripts_round_trip_and_no_plaintext_is_stored,
    a_tampered_byte_fails_with_a_clear_error,
    ciphertexts_swapped_between_rows_calls_and_tenants_fail,
    a_wrong_master_key_is_refused_and_nothing_is_lost,
    deleted_calls_and_tenants_are_crypto_shredded,
    no_method_crosses_tenants,
    the_audit_chain_detects_edits_and_deletions,
    retention_purge_shreds_expired_calls_only,
    api_keys_authenticate_only_while_valid,
    key_rotation_rewraps_resumably_without_touching_data,
    reprocess_redacts_more_and_is_idempotent,
    web_sessions_live_only_while_their_key_does,
    call_pages_filter_and_continue_without_overlap,
    a_database_from_before_the_vault_moves_its_keys_there,
    a_key_used_many_times_a_minute_costs_one_audit_write,
    key_lifetimes_above_the_maximum_are_refused_for_every_caller,
    a_workspaces_audit_verification_shows_only_its_own_entries,
);

/// A tenant with one call of three segments; returns (tenant id, call id).
async fn seed(store: &Store, name: &str, external: &str) -> (String, String) {
    let t = store.create_tenant(&op(), name, None).await.unwrap();
    let call = store
        .create_call(
            &op(),
            &t.id,
            &NewCall {
                external_id: external.into(),
                provider: "twilio".into(),
                tracks: vec!["caller".into(), "agent".into()],
                started_at: callscribe::sys::now(),
            },
        )
        .await
        .unwrap();
    let segs = [
        segment("agent", 0.5, &format!("welcome to {} support", KNOWN[0])),
        segment("caller", 3.0, &format!("my {} order is late", KNOWN[1])),
        segment(
            "agent",
            6.0,
            &format!("the {} from {} ships today", KNOWN[2], KNOWN[3]),
        ),
    ];
    for (i, s) in segs.iter().enumerate() {
        store
            .append_segment(
                &op(),
                &t.id,
                &call,
                NewSegment {
                    seq: i as u64,
                    segment: s,
                },
            )
            .await
            .unwrap();
    }
    store
        .finish_call(
            &op(),
            &t.id,
            &call,
            CallStatus::Complete,
            callscribe::sys::now(),
        )
        .await
        .unwrap();
    (t.id, call)
}

async fn transcripts_round_trip_and_no_plaintext_is_stored(db: TestDb) {
    let key = random_key();
    let store = Store::open(&db.config(&key)).await.unwrap();
    let (tenant, call) = seed(&store, "acme", "CAsecretprovideridentifier").await;
    let (info, t) = store.transcript(&op(), &tenant, &call).await.unwrap();
    assert_eq!(info.external_id, "CAsecretprovideridentifier");
    assert_eq!(info.status, CallStatus::Complete);
    assert_eq!(info.segments, 3);
    assert_eq!(t.call_id, "CAsecretprovideridentifier");
    assert_eq!(t.segments.len(), 3);
    assert_eq!(
        t.segments[1],
        segment("caller", 3.0, &format!("my {} order is late", KNOWN[1]))
    );
    assert_eq!(
        store
            .find_call(&tenant, "CAsecretprovideridentifier")
            .await
            .unwrap(),
        call
    );
    let listed = store.list_calls(&op(), &tenant).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].tracks, vec!["caller", "agent"]);
    // while open (WAL not yet checkpointed) and after closing
    for pass in ["open", "closed"] {
        let raw = db.raw_bytes();
        // the search works: the provider column is stored in the clear
        assert!(
            contains(&raw, b"twilio"),
            "the search finds plaintext columns ({pass})"
        );
        for word in
            KNOWN
                .iter()
                .chain(&["CAsecretprovideridentifier", "welcome to", "order is late"])
        {
            assert!(
                !contains(&raw, word.as_bytes()),
                "{word:?} found in the stored bytes ({pass})"
            );
        }
        if pass == "open" {
            store.close().await;
            break;
        }
    }
    let raw = db.raw_bytes();
    for word in KNOWN {
        assert!(
            !contains(&raw, word.as_bytes()),
            "{word:?} found after close"
        );
    }
    // and it reopens to the same text
    let store = Store::open(&db.config(&key)).await.unwrap();
    let (_, again) = store.transcript(&op(), &tenant, &call).await.unwrap();
    assert_eq!(again, t);
}

async fn corrupt(db: &TestDb, sql: &str, call: &str) {
    let mut owner = db.owner().await;
    let row = sqlx::query("SELECT text FROM segments WHERE call_id = $1 AND seq = 1")
        .bind(call)
        .fetch_one(&mut owner)
        .await
        .unwrap();
    let mut text: Vec<u8> = row.get(0);
    text[20] ^= 0x40;
    sqlx::query(sql)
        .bind(text)
        .bind(call)
        .execute(&mut owner)
        .await
        .unwrap();
}

async fn a_tampered_byte_fails_with_a_clear_error(db: TestDb) {
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let (tenant, call) = seed(&store, "acme", "CA1").await;
    corrupt(
        &db,
        "UPDATE segments SET text = $1 WHERE call_id = $2 AND seq = 1",
        &call,
    )
    .await;
    let err = store.transcript(&op(), &tenant, &call).await.unwrap_err();
    assert!(matches!(err, StoreError::Decrypt { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("segment 1")
            && msg.contains(&call)
            && msg.contains(&tenant)
            && msg.contains("authentication failed"),
        "{msg}"
    );
    for word in KNOWN {
        assert!(!msg.contains(word), "error leaks text: {msg}");
    }
    // a corrupt wrapped data key and an unknown blob format are named too
    let mut owner = db.owner().await;
    // a value of the wrong type cannot even be written (STRICT tables in SQLite, types in PostgreSQL)
    assert!(
        sqlx::query("UPDATE segments SET start_ms = 'soon' WHERE call_id = $1")
            .bind(&call)
            .execute(&mut owner)
            .await
            .is_err()
    );
    let mut vault = db.vault_owner().await;
    sqlx::query("UPDATE call_keys SET wrapped = $1 WHERE call_id = $2")
        .bind(vec![1u8, 2, 3])
        .bind(&call)
        .execute(&mut vault)
        .await
        .unwrap();
    let msg = store
        .transcript(&op(), &tenant, &call)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("data key of call") && msg.contains("truncated"),
        "{msg}"
    );
    sqlx::query("UPDATE call_keys SET wrapped = $1 WHERE call_id = $2")
        .bind(vec![9u8; 60])
        .bind(&call)
        .execute(&mut vault)
        .await
        .unwrap();
    let msg = store
        .transcript(&op(), &tenant, &call)
        .await
        .unwrap_err()
        .to_string();
    assert!(msg.contains("format version 9"), "{msg}");
}

/// Swaps column `col` between two rows picked by `a` and `b` (owner connection), runs
/// `check`, then swaps back.
async fn swap(db: &TestDb, table: &str, col: &str, key: &str, a: (&str, i64), b: (&str, i64)) {
    let mut owner = if table == "call_keys" {
        db.vault_owner().await
    } else {
        db.owner().await
    };
    let get = |id: &str, seq: i64| {
        let sql = if table == "segments" {
            format!("SELECT {col} FROM segments WHERE {key} = $1 AND seq = $2")
        } else {
            format!("SELECT {col} FROM {table} WHERE {key} = $1 AND $2 = $2")
        };
        (sql, id.to_string(), seq)
    };
    let (qa, ia, sa) = get(a.0, a.1);
    let (qb, ib, sb) = get(b.0, b.1);
    let va: Vec<u8> = sqlx::query(&qa)
        .bind(&ia)
        .bind(sa)
        .fetch_one(&mut owner)
        .await
        .unwrap()
        .get(0);
    let vb: Vec<u8> = sqlx::query(&qb)
        .bind(&ib)
        .bind(sb)
        .fetch_one(&mut owner)
        .await
        .unwrap()
        .get(0);
    let set = |id: &str, seq: i64| {
        if table == "segments" {
            (
                format!("UPDATE segments SET {col} = $1 WHERE {key} = $2 AND seq = $3"),
                id.to_string(),
                seq,
            )
        } else {
            (
                format!("UPDATE {table} SET {col} = $1 WHERE {key} = $2 AND $3 = $3"),
                id.to_string(),
                seq,
            )
        }
    };
    let (ua, _, _) = set(a.0, a.1);
    let (ub, _, _) = set(b.0, b.1);
    sqlx::query(&ua)
        .bind(vb)
        .bind(&ia)
        .bind(sa)
        .execute(&mut owner)
        .await
        .unwrap();
    sqlx::query(&ub)
        .bind(va)
        .bind(&ib)
        .bind(sb)
        .execute(&mut owner)
        .await
        .unwrap();
}

async fn ciphertexts_swapped_between_rows_calls_and_tenants_fail(db: TestDb) {
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let (ta, ca) = seed(&store, "acme", "CA1").await;
    let (_, ca2) = {
        let c = store
            .create_call(
                &op(),
                &ta,
                &NewCall {
                    external_id: "CA2".into(),
                    provider: "twilio".into(),
                    tracks: vec!["agent".into()],
                    started_at: 0,
                },
            )
            .await
            .unwrap();
        for i in 0..3u64 {
            store
                .append_segment(
                    &op(),
                    &ta,
                    &c,
                    NewSegment {
                        seq: i,
                        segment: &segment("agent", i as f32, "other call text"),
                    },
                )
                .await
                .unwrap();
        }
        (ta.clone(), c)
    };
    let (tb, cb) = seed(&store, "globex", "CB1").await;
    let readable = |t: &str, c: &str| {
        let (t, c) = (t.to_string(), c.to_string());
        let store = &store;
        async move { store.transcript(&op(), &t, &c).await }
    };
    assert!(readable(&ta, &ca).await.is_ok());

    // between segments of one call, text ↔ detail within a segment, between calls, between tenants
    swap(&db, "segments", "text", "call_id", (&ca, 0), (&ca, 1)).await;
    let e = readable(&ta, &ca).await.unwrap_err().to_string();
    assert!(
        e.contains("segment 0") && e.contains("authentication failed"),
        "{e}"
    );
    swap(&db, "segments", "text", "call_id", (&ca, 0), (&ca, 1)).await;
    assert!(
        readable(&ta, &ca).await.is_ok(),
        "swapping back restores it"
    );

    let mut owner = db.owner().await;
    sqlx::query("UPDATE segments SET text = detail, detail = text WHERE call_id = $1 AND seq = 2")
        .bind(&ca)
        .execute(&mut owner)
        .await
        .unwrap();
    assert!(
        readable(&ta, &ca)
            .await
            .unwrap_err()
            .to_string()
            .contains("segment 2")
    );
    sqlx::query("UPDATE segments SET text = detail, detail = text WHERE call_id = $1 AND seq = 2")
        .bind(&ca)
        .execute(&mut owner)
        .await
        .unwrap();

    swap(&db, "segments", "text", "call_id", (&ca, 1), (&ca2, 1)).await;
    assert!(readable(&ta, &ca).await.is_err() && readable(&ta, &ca2).await.is_err());
    swap(&db, "segments", "text", "call_id", (&ca, 1), (&ca2, 1)).await;

    swap(&db, "segments", "text", "call_id", (&ca, 1), (&cb, 1)).await;
    assert!(readable(&ta, &ca).await.is_err() && readable(&tb, &cb).await.is_err());
    swap(&db, "segments", "text", "call_id", (&ca, 1), (&cb, 1)).await;

    // wrapped keys: data keys between calls, tenant keys between tenants
    swap(&db, "call_keys", "wrapped", "call_id", (&ca, 0), (&ca2, 0)).await;
    let e = readable(&ta, &ca).await.unwrap_err().to_string();
    assert!(e.contains("data key of call"), "{e}");
    swap(&db, "call_keys", "wrapped", "call_id", (&ca, 0), (&ca2, 0)).await;
    swap(
        &db,
        "tenant_keys",
        "wrapped",
        "tenant_id",
        (&ta, 0),
        (&tb, 0),
    )
    .await;
    let e = readable(&ta, &ca).await.unwrap_err().to_string();
    assert!(e.contains(&format!("tenant {ta}'s key version 1")), "{e}");
    swap(
        &db,
        "tenant_keys",
        "wrapped",
        "tenant_id",
        (&ta, 0),
        (&tb, 0),
    )
    .await;
    assert!(
        readable(&ta, &ca).await.is_ok()
            && readable(&tb, &cb).await.is_ok()
            && readable(&ta, &ca2).await.is_ok()
    );
}

async fn a_wrong_master_key_is_refused_and_nothing_is_lost(db: TestDb) {
    let key = random_key();
    let store = Store::open(&db.config(&key)).await.unwrap();
    let (tenant, call) = seed(&store, "acme", "CA1").await;
    let (_, before) = store.transcript(&op(), &tenant, &call).await.unwrap();
    store.close().await;
    let e = Store::open(&db.config(&random_key())).await.unwrap_err();
    assert!(
        matches!(e, StoreError::WrongMasterKey { version: 1, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("CALLSCRIBE_MASTER_KEY version 1"),
        "{e}"
    );
    let e = Store::open(&db.config("not base64!"))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("not base64"), "{e}");
    // a key only under another version number is not this database's key either
    let e = Store::open(&db.config(&format!("7:{}", random_key())))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("none of this database's master key versions"),
        "{e}"
    );
    let store = Store::open(&db.config(&key)).await.unwrap();
    let (_, after) = store.transcript(&op(), &tenant, &call).await.unwrap();
    assert_eq!(before, after);
}

/// Deleting a call destroys its data key, which lives only in the key vault: a copy of the
/// database taken before the deletion (a backup, a stolen file) still holds the call's sealed
/// rows and its tenant's key, and opens with the master key and the vault, yet cannot open
/// that call; the copy's other calls still open. Deleting a tenant does the same for all its
/// calls. No copy of a destroyed key is left in the vault's or the database's bytes.
async fn deleted_calls_and_tenants_are_crypto_shredded(db: TestDb) {
    let key = random_key();
    let store = Store::open(&db.config(&key)).await.unwrap();
    let (tenant, call) = seed(&store, "acme", "CA1").await;
    let kept = store
        .create_call(
            &op(),
            &tenant,
            &NewCall {
                external_id: "CA3".into(),
                provider: "twilio".into(),
                tracks: vec!["agent".into()],
                started_at: 0,
            },
        )
        .await
        .unwrap();
    store
        .append_segment(
            &op(),
            &tenant,
            &kept,
            NewSegment {
                seq: 0,
                segment: &segment("agent", 0.0, "a call that stays"),
            },
        )
        .await
        .unwrap();
    let (other, keep) = seed(&store, "acme2", "CA2").await;
    let db = &db;
    let vault_key = |c: String| async move {
        let mut v = db.vault_owner().await;
        let k: Vec<u8> = sqlx::query("SELECT wrapped FROM call_keys WHERE call_id = $1")
            .bind(&c)
            .fetch_one(&mut v)
            .await
            .unwrap()
            .get(0);
        k
    };
    let (wrapped, wrapped_kept) = (vault_key(call.clone()).await, vault_key(kept.clone()).await);
    let kek: Vec<u8> = sqlx::query("SELECT wrapped FROM tenant_keys WHERE tenant_id = $1")
        .bind(&tenant)
        .fetch_one(&mut db.owner().await)
        .await
        .unwrap()
        .get(0);
    store.close().await;
    let backup = db.backup().await;
    let backup_config = |vault: Option<String>| {
        let mut c = db.config(&key);
        c.database_url = Some(backup.clone());
        c.key_vault_url = vault;
        c
    };

    let store = Store::open(&db.config(&key)).await.unwrap();
    store.delete_call(&op(), &tenant, &call).await.unwrap();
    assert!(matches!(
        store.transcript(&op(), &tenant, &call).await.unwrap_err(),
        StoreError::CallNotFound { .. }
    ));
    assert!(matches!(
        store.delete_call(&op(), &tenant, &call).await.unwrap_err(),
        StoreError::CallNotFound { .. }
    ));
    store.close().await;
    assert!(
        !contains(&db.vault_raw_bytes(), &wrapped),
        "the destroyed data key is still in the vault"
    );
    assert!(
        contains(&db.vault_raw_bytes(), &wrapped_kept),
        "the search finds the kept key"
    );

    // the copy still holds the call's sealed rows, but cannot open them: the call reads as
    // deleted, and listing the tenant's calls leaves it out instead of failing
    let mut copy = TestDb::connect_owner(&backup, db.backend).await;
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM segments WHERE call_id = $1")
        .bind(&call)
        .fetch_one(&mut copy)
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    sqlx::Connection::close(copy).await.unwrap();
    let old = Store::open(&backup_config(Some(db.vault_url())))
        .await
        .unwrap();
    let listed: Vec<String> = old
        .list_calls(&op(), &tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, vec![kept.clone()]);
    assert_eq!(
        old.export_tenant(&op(), &tenant).await.unwrap().calls.len(),
        1
    );
    let e = old.transcript(&op(), &tenant, &call).await.unwrap_err();
    assert!(matches!(e, StoreError::CallShredded { .. }), "{e:?}");
    assert!(e.to_string().contains("data key is destroyed"), "{e}");
    let (_, t) = old.transcript(&op(), &tenant, &kept).await.unwrap();
    assert_eq!(t.segments[0].text, "a call that stays");
    old.close().await;
    // a copy opened beside a new, empty vault is refused rather than shown as all deleted
    let e = Store::open(&backup_config(None))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("key vault") && e.contains("is new") && e.contains("restore that vault"),
        "{e}"
    );

    // the tenant: its keys are destroyed, its calls are gone, the other tenant is untouched
    let store = Store::open(&db.config(&key)).await.unwrap();
    store.delete_tenant(&op(), &tenant).await.unwrap();
    assert!(matches!(
        store.tenant(&tenant).await.unwrap_err(),
        StoreError::TenantNotFound(_)
    ));
    assert_eq!(store.list_calls(&op(), &other).await.unwrap()[0].id, keep);
    store.close().await;
    assert!(
        !contains(&db.vault_raw_bytes(), &wrapped_kept),
        "the deleted tenant's data key is still in the vault"
    );
    assert!(
        !contains(&db.raw_bytes(), &kek),
        "the destroyed tenant key is still in the database"
    );
    let old = Store::open(&backup_config(Some(db.vault_url())))
        .await
        .unwrap();
    assert!(matches!(
        old.transcript(&op(), &tenant, &kept).await.unwrap_err(),
        StoreError::CallShredded { .. }
    ));
    assert!(old.transcript(&op(), &other, &keep).await.is_ok());
    old.close().await;
}

/// A database made before the key vault existed kept each call's sealed data key in `calls`:
/// the next start moves the keys to the vault, then drops the columns, and every call still
/// opens (a deleted call, whose key was already NULL, stays deleted).
async fn a_database_from_before_the_vault_moves_its_keys_there(db: TestDb) {
    let key = random_key();
    let store = Store::open(&db.config(&key)).await.unwrap();
    let (tenant, call) = seed(&store, "acme", "CA1").await;
    let (_, gone) = seed(&store, "acme2", "CA2").await;
    let (_, before) = store.transcript(&op(), &tenant, &call).await.unwrap();
    store.close().await;
    // turn it back into the old layout: keys in the calls table, no vault
    let mut v = db.vault_owner().await;
    let (kv, wrapped): (i64, Vec<u8>) = {
        let r = sqlx::query("SELECT kek_version, wrapped FROM call_keys WHERE call_id = $1")
            .bind(&call)
            .fetch_one(&mut v)
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    drop(v);
    let mut owner = db.owner().await;
    for sql in [
        "ALTER TABLE calls ADD COLUMN kek_version BIGINT NOT NULL DEFAULT 1",
        "ALTER TABLE calls ADD COLUMN data_key BYTEA",
    ] {
        let sql = if db.backend == Backend::Sqlite {
            sql.replace("BIGINT", "INTEGER").replace("BYTEA", "BLOB")
        } else {
            sql.to_string()
        };
        sqlx::query(&sql).execute(&mut owner).await.unwrap();
    }
    sqlx::query("UPDATE calls SET data_key = $1, kek_version = $2 WHERE id = $3")
        .bind(wrapped)
        .bind(kv)
        .bind(&call)
        .execute(&mut owner)
        .await
        .unwrap();
    // and without what came after the vault (migration 4: call ownership), which the next
    // start applies again
    let mut undo_later = vec![
        "DROP INDEX calls_open_node",
        "ALTER TABLE calls DROP COLUMN node_id",
        "DROP TABLE nodes",
    ];
    if db.backend == Backend::Postgres {
        undo_later.push("DROP FUNCTION interrupt_orphaned_calls(TEXT, BIGINT, BIGINT)");
    }
    for sql in undo_later {
        sqlx::query(sql).execute(&mut owner).await.unwrap();
    }
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version >= 3")
        .execute(&mut owner)
        .await
        .unwrap();
    drop(owner);
    db.drop_vault().await;

    let store = Store::open(&db.config(&key)).await.unwrap();
    let (_, after) = store.transcript(&op(), &tenant, &call).await.unwrap();
    assert_eq!(before, after);
    let e = store
        .transcript(&op(), &store.tenant("acme2").await.unwrap().id, &gone)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::CallShredded { .. }), "{e:?}");
    store.close().await;
    let mut owner = db.owner().await;
    assert!(
        sqlx::query("SELECT data_key FROM calls")
            .fetch_all(&mut owner)
            .await
            .is_err(),
        "the column is gone"
    );
    // and the next start leaves it all as it is
    let store = Store::open(&db.config(&key)).await.unwrap();
    assert_eq!(
        store.transcript(&op(), &tenant, &call).await.unwrap().1,
        before
    );
    store.close().await;
}

async fn no_method_crosses_tenants(db: TestDb) {
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let (ta, ca) = seed(&store, "acme", "CA-shared-id").await;
    let (tb, cb) = seed(&store, "globex", "CB1").await;
    let key_a = store
        .create_api_key(&op(), &ta, Role::Admin, None)
        .await
        .unwrap();
    let not_found = |e: StoreError| matches!(e, StoreError::CallNotFound { .. });
    assert!(not_found(store.find_call(&tb, &ca).await.unwrap_err()));
    assert!(not_found(
        store.find_call(&tb, "CA-shared-id").await.unwrap_err()
    ));
    assert!(not_found(
        store.transcript(&op(), &tb, &ca).await.unwrap_err()
    ));
    let s = segment("agent", 9.0, "intruder");
    assert!(not_found(
        store
            .append_segment(
                &op(),
                &tb,
                &ca,
                NewSegment {
                    seq: 9,
                    segment: &s
                }
            )
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        store
            .finish_call(&op(), &tb, &ca, CallStatus::Failed, 0)
            .await
            .unwrap_err()
    ));
    assert!(not_found(
        store.delete_call(&op(), &tb, &ca).await.unwrap_err()
    ));
    let listed = store.list_calls(&op(), &tb).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec![cb.as_str()]
    );
    let export = store.export_tenant(&op(), &tb).await.unwrap();
    assert_eq!(export.calls.len(), 1);
    assert_eq!(export.calls[0].info.id, cb);
    assert!(export.api_keys.is_empty());
    assert!(
        export
            .audit
            .iter()
            .all(|e| e.tenant.as_deref() == Some(tb.as_str()))
    );
    assert!(matches!(
        store
            .revoke_api_key(&op(), &tb, &key_a.id)
            .await
            .unwrap_err(),
        StoreError::ApiKeyNotFound { .. }
    ));
    assert!(store.list_api_keys(&tb).await.unwrap().is_empty());
    store.rotate_tenant_key(&op(), &tb, None).await.unwrap();
    // a data key moved into the other tenant's call does not open there
    let mut vault = db.vault_owner().await;
    let dk: Vec<u8> = sqlx::query("SELECT wrapped FROM call_keys WHERE call_id = $1")
        .bind(&ca)
        .fetch_one(&mut vault)
        .await
        .unwrap()
        .get(0);
    sqlx::query("UPDATE call_keys SET wrapped = $1, kek_version = 1 WHERE call_id = $2")
        .bind(dk)
        .bind(&cb)
        .execute(&mut vault)
        .await
        .unwrap();
    assert!(store.transcript(&op(), &tb, &cb).await.is_err());
    // A is untouched by all of it
    let (info, t) = store.transcript(&op(), &ta, &ca).await.unwrap();
    assert_eq!((info.status, t.segments.len()), (CallStatus::Complete, 3));
    assert!(store.authenticate(&key_a.secret).await.is_ok());
    assert_eq!(store.find_call(&ta, "CA-shared-id").await.unwrap(), ca);
}

async fn tamper_audit(db: &TestDb, sql: &str, seq: i64) {
    let mut owner = db.owner().await;
    unlock_audit(db, &mut owner).await;
    sqlx::query(sql)
        .bind(seq)
        .execute(&mut owner)
        .await
        .unwrap();
}

/// Lifts the append-only triggers, as an attacker with the owner's rights can.
async fn unlock_audit(db: &TestDb, owner: &mut sqlx::AnyConnection) {
    match db.backend {
        Backend::Sqlite => {
            sqlx::query("DROP TRIGGER IF EXISTS audit_log_append_only_update")
                .execute(&mut *owner)
                .await
                .unwrap();
            sqlx::query("DROP TRIGGER IF EXISTS audit_log_append_only_delete")
                .execute(&mut *owner)
                .await
                .unwrap();
        }
        Backend::Postgres => {
            sqlx::query("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
                .execute(&mut *owner)
                .await
                .unwrap();
        }
    }
}

async fn the_audit_chain_detects_edits_and_deletions(db: TestDb) {
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let (tenant, call) = seed(&store, "acme", "CA1").await;
    store.transcript(&op(), &tenant, &call).await.unwrap();
    store
        .create_api_key(&op(), &tenant, Role::Agent, None)
        .await
        .unwrap();
    let report = store.verify_audit().await.unwrap();
    assert_eq!(report.broken, None);
    let events = store.audit_events(None, 0, 1000).await.unwrap();
    assert_eq!(report.entries, events.len() as u64);
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    for a in [
        "tenant.create",
        "call.create",
        "segment.store",
        "call.finish",
        "transcript.read",
        "key.create",
    ] {
        assert!(actions.contains(&a), "{a} not audited: {actions:?}");
    }
    assert!(events.iter().all(|e| e.actor == "operator:test"));
    // no PII in the trail
    for e in &events {
        for w in KNOWN.iter().chain(&["CA1"]) {
            assert!(
                !e.detail.contains(w) && !e.target.as_deref().unwrap_or("").contains(w),
                "{e:?}"
            );
        }
    }
    let n = events.len() as i64;
    // the application itself cannot rewrite the trail
    let mut owner = db.owner().await;
    if db.backend == Backend::Sqlite {
        let e = sqlx::query("UPDATE audit_log SET actor = 'x' WHERE seq = 1")
            .execute(&mut owner)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
    }
    drop(owner);

    tamper_audit(
        &db,
        "UPDATE audit_log SET actor = 'operator:someone-else' WHERE seq = $1",
        3,
    )
    .await;
    let r = store.verify_audit().await.unwrap();
    let b = r.broken.expect("edit detected");
    assert_eq!(b.seq, 3);
    assert!(b.reason.contains("changed"), "{}", b.reason);
    assert_eq!(r.entries, 2);
    tamper_audit(
        &db,
        "UPDATE audit_log SET actor = 'operator:test' WHERE seq = $1",
        3,
    )
    .await;
    assert_eq!(
        store.verify_audit().await.unwrap().broken,
        None,
        "restoring the entry restores the chain"
    );

    tamper_audit(&db, "DELETE FROM audit_log WHERE seq = $1", n).await;
    let b = store
        .verify_audit()
        .await
        .unwrap()
        .broken
        .expect("truncation detected");
    assert!(b.reason.contains("removed"), "{}", b.reason);

    tamper_audit(&db, "DELETE FROM audit_log WHERE seq = $1", 4).await;
    let b = store
        .verify_audit()
        .await
        .unwrap()
        .broken
        .expect("deletion detected");
    assert_eq!(b.seq, 4);
    assert!(b.reason.contains("missing"), "{}", b.reason);
}

/// `verify_audit_for` walks the installation's chain but reports one workspace's entries only:
/// their count and last hash, and a break's place only when it is one of them.
async fn a_workspaces_audit_verification_shows_only_its_own_entries(db: TestDb) {
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let (a, _) = seed(&store, "alpha", "CA-a").await;
    let (b, _) = seed(&store, "beta", "CA-b").await;
    store
        .create_api_key(&op(), &b, Role::Agent, None)
        .await
        .unwrap();
    let all = store.audit_events(None, 0, 1000).await.unwrap();
    let mine: Vec<_> = all
        .iter()
        .filter(|e| e.tenant.as_deref() == Some(a.as_str()))
        .collect();
    let hex = |h: &[u8; 32]| callscribe::store::audit::to_hex(h);
    let r = store.verify_audit_for(&a).await.unwrap();
    assert_eq!(r.broken, None);
    assert_eq!(r.entries, mine.len() as u64);
    assert!(
        r.entries < all.len() as u64,
        "beta's entries are not counted"
    );
    assert_eq!(r.last_hash, Some(hex(&mine.last().unwrap().hash)));
    let whole = store.verify_audit().await.unwrap();
    assert_eq!(
        (whole.entries, whole.broken),
        (all.len() as u64, None),
        "the operator's verification is installation-wide"
    );
    assert_ne!(r.last_hash, Some(whole.head_hash), "the head is beta's");

    // beta's entry changed (after alpha's last): alpha learns that the trail is broken, not where
    let theirs = all
        .iter()
        .find(|e| e.tenant.as_deref() == Some(b.as_str()) && e.seq > mine.last().unwrap().seq)
        .unwrap();
    let sql = "UPDATE audit_log SET detail = $2 WHERE seq = $1";
    let mut owner = db.owner().await;
    unlock_audit(&db, &mut owner).await;
    let set = |seq: u64, detail: String| sqlx::query(sql).bind(seq as i64).bind(detail);
    set(theirs.seq, "{}".into())
        .execute(&mut owner)
        .await
        .unwrap();
    let r = store.verify_audit_for(&a).await.unwrap();
    let broken = r.broken.expect("broken");
    assert_eq!(broken.seq, None);
    assert!(
        !broken.reason.chars().any(|c| c.is_ascii_digit()) && !broken.reason.contains(&b),
        "{}",
        broken.reason
    );
    assert_eq!(
        r.entries,
        mine.len() as u64,
        "alpha's entries before it verified"
    );
    assert_eq!(
        store.verify_audit().await.unwrap().broken.unwrap().seq,
        theirs.seq,
        "the operator sees where"
    );
    set(theirs.seq, theirs.detail.clone())
        .execute(&mut owner)
        .await
        .unwrap();
    assert_eq!(store.verify_audit_for(&a).await.unwrap().broken, None);

    // alpha's own entry changed: alpha is told which
    let own = mine[1];
    set(own.seq, "{}".into()).execute(&mut owner).await.unwrap();
    let r = store.verify_audit_for(&a).await.unwrap();
    let broken = r.broken.expect("broken");
    assert_eq!(broken.seq, Some(own.seq));
    assert!(broken.reason.contains("changed"), "{}", broken.reason);
    assert_eq!(r.entries, 1, "only alpha's entry before it verified");
    assert_eq!(r.last_hash, Some(hex(&mine[0].hash)));
}

async fn retention_purge_shreds_expired_calls_only(db: TestDb) {
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let now = callscribe::sys::now();
    let day = 86_400;
    let short = store.create_tenant(&op(), "short", Some(30)).await.unwrap();
    let long = store.create_tenant(&op(), "long", Some(60)).await.unwrap();
    let mut ids = Vec::new();
    for (t, age) in [
        (&short.id, 40),
        (&short.id, 10),
        (&long.id, 40),
        (&long.id, 61),
    ] {
        let c = store
            .create_call(
                &op(),
                t,
                &NewCall {
                    external_id: format!("age{age}"),
                    provider: "file".into(),
                    tracks: vec!["unknown".into()],
                    started_at: now - age * day,
                },
            )
            .await
            .unwrap();
        store
            .append_segment(
                &op(),
                t,
                &c,
                NewSegment {
                    seq: 0,
                    segment: &segment("unknown", 0.0, KNOWN[0]),
                },
            )
            .await
            .unwrap();
        ids.push((t.clone(), c));
    }
    let r = store
        .purge_expired(&Actor::System("retention"), now)
        .await
        .unwrap();
    assert_eq!((r.calls, r.tenants), (2, 2));
    let exists = |i: usize| {
        let (t, c) = ids[i].clone();
        let store = &store;
        async move { store.transcript(&op(), &t, &c).await.is_ok() }
    };
    assert!(!exists(0).await && exists(1).await && exists(2).await && !exists(3).await);
    let purged: Vec<_> = store
        .audit_events(None, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "call.purge")
        .collect();
    assert_eq!(purged.len(), 2);
    assert!(purged.iter().all(|e| e.actor == "system:retention"));
    // shorter retention takes effect at the next purge; the periodic runner does the same
    store.set_retention(&op(), &long.id, 30).await.unwrap();
    callscribe::store::run_periodic_purge(&store, std::time::Duration::from_secs(3600), async {})
        .await;
    assert!(!exists(2).await && exists(1).await);
    assert_eq!(store.verify_audit().await.unwrap().broken, None);
}

async fn api_keys_authenticate_only_while_valid(db: TestDb) {
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let t = store.create_tenant(&op(), "acme", None).await.unwrap();
    let k = store
        .create_api_key(&op(), &t.id, Role::Ingest, Some(30))
        .await
        .unwrap();
    assert!(
        k.secret.starts_with(&format!("{}_", k.id)) && k.secret.len() == 4 + 8 + 1 + 43,
        "{}",
        k.id
    );
    let p = store.authenticate(&k.secret).await.unwrap();
    assert_eq!(
        (p.tenant.as_str(), p.role, p.key_id.as_str()),
        (t.id.as_str(), Role::Ingest, k.id.as_str())
    );
    let listed = store.list_api_keys(&t.id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].prefix, k.id);
    assert!(listed[0].last_used_at.is_some());
    // wrong secret under a real prefix, unknown prefix, garbage: the same error
    let mut wrong = k.secret.to_string();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        wrong.as_str(),
        "csk_aaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "",
        "garbage",
    ] {
        assert!(
            matches!(store.authenticate(bad).await, Err(AuthError::Invalid)),
            "{bad}"
        );
    }
    // only the hash is stored
    let raw = db.raw_bytes();
    assert!(!contains(&raw, k.secret.as_bytes()));
    // the random part after "csk_ID_" (it may itself hold '_', base64url: split at the prefix)
    let secret_part = &k.secret[k.id.len() + 1..];
    assert_eq!(secret_part.len(), 43);
    assert!(!contains(&raw, secret_part.as_bytes()));
    // expired
    let mut owner = db.owner().await;
    sqlx::query("UPDATE api_keys SET expires_at = 1")
        .execute(&mut owner)
        .await
        .unwrap();
    assert!(matches!(
        store.authenticate(&k.secret).await,
        Err(AuthError::Invalid)
    ));
    sqlx::query("UPDATE api_keys SET expires_at = $1")
        .bind(callscribe::sys::now() + 1000)
        .execute(&mut owner)
        .await
        .unwrap();
    assert!(store.authenticate(&k.secret).await.is_ok());
    store.revoke_api_key(&op(), &t.id, &k.id).await.unwrap();
    assert!(matches!(
        store.authenticate(&k.secret).await,
        Err(AuthError::Invalid)
    ));
    assert!(
        store.list_api_keys(&t.id).await.unwrap()[0]
            .revoked_at
            .is_some()
    );
    let actions: Vec<String> = store
        .audit_events(None, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&"key.auth".to_string())
            && actions.contains(&"key.auth_failed".to_string())
            && actions.contains(&"key.revoke".to_string())
    );
}

/// `[store] max_key_ttl_days` is checked by the store itself, so the API and the command line
/// (both call `create_api_key`) get the same refusal; an out-of-range setting stops `open`.
async fn key_lifetimes_above_the_maximum_are_refused_for_every_caller(db: TestDb) {
    let key = random_key();
    for bad in [0, 3651] {
        let mut config = db.config(&key);
        config.settings.max_key_ttl_days = bad;
        let e = Store::open(&config).await.unwrap_err().to_string();
        assert!(
            e.contains("[store] max_key_ttl_days must be between 1 and 3650"),
            "{bad}: {e}"
        );
    }
    let mut config = db.config(&key);
    config.settings.max_key_ttl_days = 30;
    let store = Store::open(&config).await.unwrap();
    let t = store.create_tenant(&op(), "acme", None).await.unwrap();
    for above in [31, 90, 3650] {
        match store
            .create_api_key(&op(), &t.id, Role::Agent, Some(above))
            .await
        {
            Err(StoreError::Invalid(m)) => assert!(
                m.contains(&format!("{above} days"))
                    && m.contains("maximum of 30 days")
                    && m.contains("[store] max_key_ttl_days"),
                "{m}"
            ),
            other => panic!("ttl {above}: {:?}", other.map(|k| k.id)),
        }
    }
    assert!(
        store.list_api_keys(&t.id).await.unwrap().is_empty(),
        "nothing stored for a refused key"
    );
    let day = 86_400;
    for (requested, days) in [(Some(30), 30), (None, 30), (Some(1), 1)] {
        let before = callscribe::sys::now();
        let k = store
            .create_api_key(&op(), &t.id, Role::Agent, requested)
            .await
            .unwrap();
        let after = callscribe::sys::now();
        assert!(
            (before + days * day..=after + days * day).contains(&k.expires_at),
            "{requested:?}: expires {} not {days} days after {before}",
            k.expires_at
        );
    }
    assert_eq!(store.list_api_keys(&t.id).await.unwrap().len(), 3);
}

async fn key_rotation_rewraps_resumably_without_touching_data(db: TestDb) {
    let k1 = random_key();
    let k2 = random_key();
    let store = Store::open(&db.config(&format!("1:{k1}"))).await.unwrap();
    let (tenant, call) = seed(&store, "acme", "CA1").await;
    for i in 0..2 {
        store
            .create_call(
                &op(),
                &tenant,
                &NewCall {
                    external_id: format!("X{i}"),
                    provider: "file".into(),
                    tracks: vec!["unknown".into()],
                    started_at: 0,
                },
            )
            .await
            .unwrap();
    }
    let (_, before) = store.transcript(&op(), &tenant, &call).await.unwrap();
    let mut owner = db.owner().await;
    let seg_bytes = |rows: Vec<sqlx::any::AnyRow>| {
        rows.iter()
            .map(|r| r.get::<Vec<u8>, _>(0))
            .collect::<Vec<_>>()
    };
    let sealed_before = seg_bytes(
        sqlx::query("SELECT text FROM segments ORDER BY call_id, seq")
            .fetch_all(&mut owner)
            .await
            .unwrap(),
    );

    // tenant key: a limited run leaves the rest for the next, which finishes without a new version
    let r = store
        .rotate_tenant_key(&op(), &tenant, Some(1))
        .await
        .unwrap();
    assert_eq!(
        (r.version, r.resumed, r.rewrapped, r.remaining),
        (2, false, 1, 2)
    );
    assert!(r.retired.is_empty());
    assert_eq!(
        store.transcript(&op(), &tenant, &call).await.unwrap().1,
        before,
        "readable mid-rotation"
    );
    let r = store.rotate_tenant_key(&op(), &tenant, None).await.unwrap();
    assert_eq!(
        (
            r.version,
            r.resumed,
            r.rewrapped,
            r.remaining,
            r.retired.clone()
        ),
        (2, true, 2, 0, vec![1])
    );
    let versions: Vec<i64> = sqlx::query("SELECT version FROM tenant_keys")
        .fetch_all(&mut owner)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, vec![2], "the old tenant key is destroyed");
    let r = store.rotate_tenant_key(&op(), &tenant, None).await.unwrap();
    assert_eq!((r.version, r.resumed, r.rewrapped), (3, false, 3));
    store.close().await;

    // master key: refused without a new version in the variable
    let mut store = Store::open(&db.config(&format!("1:{k1}"))).await.unwrap();
    let e = store
        .rotate_master_key(&op())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("CALLSCRIBE_MASTER_KEY"), "{e}");
    store.close().await;
    let mut store = Store::open(&db.config(&format!("1:{k1},2:{k2}")))
        .await
        .unwrap();
    let r = store.rotate_master_key(&op()).await.unwrap();
    assert_eq!(
        (r.version, r.resumed, r.rewrapped, r.retired.clone()),
        (2, false, 2, vec![1])
    );
    store.close().await;
    // version 1 can go: the data opens with version 2 alone, and no longer with version 1
    let store = Store::open(&db.config(&format!("2:{k2}"))).await.unwrap();
    assert_eq!(
        store.transcript(&op(), &tenant, &call).await.unwrap().1,
        before
    );
    store.close().await;
    let e = Store::open(&db.config(&format!("1:{k1}")))
        .await
        .unwrap()
        .transcript(&op(), &tenant, &call)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::MasterKeyVersionMissing { version: 2, .. }),
        "{e:?}"
    );
    // nothing was re-encrypted
    let sealed_after = seg_bytes(
        sqlx::query("SELECT text FROM segments ORDER BY call_id, seq")
            .fetch_all(&mut owner)
            .await
            .unwrap(),
    );
    assert_eq!(sealed_before, sealed_after);
}

async fn reprocess_redacts_more_and_is_idempotent(db: TestDb) {
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let t = store.create_tenant(&op(), "acme", None).await.unwrap();
    let c = store
        .create_call(
            &op(),
            &t.id,
            &NewCall {
                external_id: "CA1".into(),
                provider: "file".into(),
                tracks: vec!["caller".into()],
                started_at: 0,
            },
        )
        .await
        .unwrap();
    // policy 1 redacted names only; the e-mail address is still in the stored text
    let mut s0 = segment("caller", 0.0, "hi this is [NAME] calling");
    s0.redactions = vec![Span {
        kind: EntityKind::Name,
        start: 11,
        end: 17,
        t_start: Some(0.9),
        t_end: Some(1.1),
    }];
    let s1 = segment("caller", 3.0, "my email is jo.bloggs@example.com thanks");
    let s2 = segment("caller", 6.0, "that is all");
    for (i, s) in [&s0, &s1, &s2].into_iter().enumerate() {
        store
            .append_segment(
                &op(),
                &t.id,
                &c,
                NewSegment {
                    seq: i as u64,
                    segment: s,
                },
            )
            .await
            .unwrap();
    }
    // a corrupt segment fails alone
    let c2 = store
        .create_call(
            &op(),
            &t.id,
            &NewCall {
                external_id: "CA2".into(),
                provider: "file".into(),
                tracks: vec!["caller".into()],
                started_at: 0,
            },
        )
        .await
        .unwrap();
    for i in 0..2u64 {
        store
            .append_segment(
                &op(),
                &t.id,
                &c2,
                NewSegment {
                    seq: i,
                    segment: &segment("caller", i as f32 * 3.0, "call me at jo@example.org"),
                },
            )
            .await
            .unwrap();
    }
    corrupt(
        &db,
        "UPDATE segments SET text = $1 WHERE call_id = $2 AND seq = 1",
        &c2,
    )
    .await;

    let policy = Policy {
        version: 2,
        ..Policy::default()
    };
    let redactor = Arc::new(Redactor::new(policy).unwrap());
    let mut progress = Vec::new();
    let r = store
        .reprocess(&op(), std::slice::from_ref(&t.id), &redactor, |d, n| {
            progress.push((d, n))
        })
        .await
        .unwrap();
    assert_eq!(progress, vec![(1, 2), (2, 2)]);
    assert_eq!(r.updated, 4, "{r:?}");
    assert_eq!(r.failures.len(), 1, "{r:?}");
    assert_eq!(
        (r.failures[0].call.as_str(), r.failures[0].seq),
        (c2.as_str(), Some(1))
    );
    let (_, tr) = store.transcript(&op(), &t.id, &c).await.unwrap();
    assert!(tr.segments.iter().all(|s| s.policy_version == 2));
    assert!(
        !tr.segments[1].text.contains("example.com"),
        "{}",
        tr.segments[1].text
    );
    assert!(
        tr.segments[1].text.contains("[EMAIL]"),
        "{}",
        tr.segments[1].text
    );
    assert!(
        tr.segments[1]
            .words
            .iter()
            .all(|w| !w.word.contains("example.com"))
    );
    assert_eq!(tr.segments[0].text, "hi this is [NAME] calling");
    assert_eq!(
        tr.segments[0].redactions.len(),
        1,
        "the earlier span is kept"
    );
    assert_eq!(tr.segments[2].text, "that is all");
    // idempotent: nothing left to do but the corrupt segment
    let r = store
        .reprocess(&op(), std::slice::from_ref(&t.id), &redactor, |_, _| {})
        .await
        .unwrap();
    assert_eq!((r.updated, r.failures.len()), (0, 1), "{r:?}");
    let actions: Vec<String> = store
        .audit_events(None, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "segment.reprocess").count(),
        4
    );
}

/// PostgreSQL enforces isolation itself: the application role, with a bare SELECT, sees no
/// other tenant's rows and cannot switch row-level security off.
#[test]
fn postgres_row_level_security_isolates_tenants_for_bare_queries() {
    run(Backend::Postgres, |db| async move {
        let store = Store::open(&db.config(&random_key())).await.unwrap();
        let (ta, _) = seed(&store, "acme", "CA1").await;
        let (tb, cb) = seed(&store, "globex", "CB1").await;
        store
            .create_api_key(&op(), &ta, Role::Admin, None)
            .await
            .unwrap();
        store.close().await;
        let mut app = db.owner().await;
        sqlx::query("SET ROLE callscribe_app")
            .execute(&mut app)
            .await
            .unwrap();
        let count = |table: &'static str| format!("SELECT COUNT(*) FROM {table}");
        for table in ["segments", "calls", "api_keys", "tenant_keys"] {
            // no tenant set
            let n: i64 = sqlx::query(&count(table))
                .fetch_one(&mut app)
                .await
                .unwrap()
                .get(0);
            assert_eq!(n, 0, "{table} with no tenant");
        }
        let mut tx = sqlx::Connection::begin(&mut app).await.unwrap();
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(&tb)
            .execute(&mut *tx)
            .await
            .unwrap();
        let ids: Vec<String> = sqlx::query("SELECT DISTINCT tenant_id FROM segments")
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(ids, vec![tb.clone()], "tenant B sees only its own segments");
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM api_keys")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "A's API key is invisible to B");
        // writing a row for A while scoped to B is refused
        let e = sqlx::query("UPDATE calls SET tenant_id = $1 WHERE id = $2")
            .bind(&ta)
            .bind(&cb)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("row-level security"), "{e}");
        tx.rollback().await.unwrap();
        // A wrong tenant id sees nothing
        let mut tx = sqlx::Connection::begin(&mut app).await.unwrap();
        sqlx::query("SELECT set_config('app.tenant_id', 't_nosuchtenant', true)")
            .execute(&mut *tx)
            .await
            .unwrap();
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM segments")
            .fetch_one(&mut *tx)
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0);
        tx.rollback().await.unwrap();
        // the role can neither bypass nor disable the policies, nor rewrite the audit trail
        sqlx::query("SET row_security = off")
            .execute(&mut app)
            .await
            .unwrap();
        let Err(e) = sqlx::query("SELECT COUNT(*) FROM segments")
            .fetch_one(&mut app)
            .await
        else {
            panic!("row_security = off must fail for a role subject to policies");
        };
        assert!(e.to_string().contains("row-level security"), "{e}");
        sqlx::query("SET row_security = on")
            .execute(&mut app)
            .await
            .unwrap();
        for sql in [
            "ALTER TABLE segments DISABLE ROW LEVEL SECURITY",
            "DROP POLICY tenant_isolation ON segments",
            "UPDATE audit_log SET actor = 'x'",
            "DELETE FROM audit_log",
        ] {
            let e = sqlx::query(sql).execute(&mut app).await.unwrap_err();
            let m = e.to_string();
            assert!(
                m.contains("must be owner") || m.contains("permission denied"),
                "{sql}: {m}"
            );
        }
        // the key vault's data keys: none without a tenant, only its own with one
        let mut vault = db.vault_owner().await;
        sqlx::query("SET ROLE callscribe_app")
            .execute(&mut vault)
            .await
            .unwrap();
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM call_keys")
            .fetch_one(&mut vault)
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 0, "call_keys with no tenant");
        let mut tx = sqlx::Connection::begin(&mut vault).await.unwrap();
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(&tb)
            .execute(&mut *tx)
            .await
            .unwrap();
        let ids: Vec<String> = sqlx::query("SELECT call_id FROM call_keys")
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            ids,
            vec![cb.clone()],
            "tenant B sees only its own call's key"
        );
        let e = sqlx::query("UPDATE call_keys SET tenant_id = $1")
            .bind(&ta)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("row-level security"), "{e}");
        tx.rollback().await.unwrap();
        let e = sqlx::query("ALTER TABLE call_keys DISABLE ROW LEVEL SECURITY")
            .execute(&mut vault)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("must be owner"), "{e}");
    });
}

/// A generated master key file on the embedded default; a backup copy of the database taken
/// before a deletion stops opening once the master key is rotated and the old version removed.
#[test]
fn sqlite_generated_key_file_and_backups_shredded_by_master_rotation() {
    use std::os::unix::fs::PermissionsExt;
    run(Backend::Sqlite, |db| async move {
        let mut config = db.config("");
        config.master_key = None;
        let mut store = Store::open(&config).await.unwrap();
        let key_file = db.data_dir().join("master.key");
        assert_eq!(store.generated_master_key(), Some(key_file.as_path()));
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (tenant, call) = seed(&store, "acme", "CA1").await;
        store.close().await;
        let backup = db.dir.path().join("backup.db");
        std::fs::copy(db.data_dir().join("callscribe.db"), &backup).unwrap();

        store = Store::open(&config).await.unwrap();
        assert_eq!(store.generated_master_key(), None, "generated only once");
        store.delete_call(&op(), &tenant, &call).await.unwrap();
        let r = store.rotate_master_key(&op()).await.unwrap();
        assert_eq!((r.version, r.retired.clone()), (2, vec![1]));
        store.close().await;
        // the operator removes version 1 from the key file, as the rotation told them
        let text = std::fs::read_to_string(&key_file).unwrap();
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with("1:"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&key_file, kept).unwrap();
        let store = Store::open(&config).await.unwrap();
        assert!(store.list_calls(&op(), &tenant).await.unwrap().is_empty());
        store.close().await;
        let mut old = config.clone();
        old.database_url = Some(format!("sqlite://{}", backup.display()));
        let e = Store::open(&old).await.unwrap_err().to_string();
        assert!(
            e.contains("none of this database's master key versions"),
            "{e}"
        );
    });
}

/// Browser sessions: found by token (row-level security on PostgreSQL does not hide them from
/// the lookup), CSRF checked against the stored hash, rotated, revoked; a session ends with
/// the key it came from; only hashes are stored; another tenant never sees it.
async fn web_sessions_live_only_while_their_key_does(db: TestDb) {
    use callscribe::store::SessionTimes;
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let t = store.create_tenant(&op(), "acme", None).await.unwrap();
    let times = SessionTimes {
        idle_s: 600,
        max_s: 3600,
        rotate_s: 300,
    };
    let ingest = store
        .create_api_key(&op(), &t.id, Role::Ingest, None)
        .await
        .unwrap();
    let ingest_p = store.authenticate(&ingest.secret).await.unwrap();
    assert!(
        matches!(
            store.create_web_session(&ingest_p, &times).await,
            Err(StoreError::Invalid(_))
        ),
        "ingest keys cannot sign in"
    );
    let k = store
        .create_api_key(&op(), &t.id, Role::Agent, None)
        .await
        .unwrap();
    let p = store.authenticate(&k.secret).await.unwrap();
    let s = store.create_web_session(&p, &times).await.unwrap();
    assert!(s.token.starts_with("css_"));
    let now = callscribe::sys::now();
    assert!((now + 599..=now + 601).contains(&s.expires_at));
    let found = store.web_session(&s.token).await.unwrap();
    assert_eq!(found.principal, p);
    assert!(
        found.csrf_matches(&s.csrf) && !found.csrf_matches("") && !found.csrf_matches(&s.token)
    );
    // a wrong secret with the right id, and garbage, fail the same way
    let mut wrong = s.token.to_string();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [wrong.as_str(), "", "css_", "csk_x"] {
        assert!(
            matches!(store.web_session(bad).await, Err(AuthError::Invalid)),
            "{bad}"
        );
    }
    // only hashes are stored
    let raw = db.raw_bytes();
    // the random part after "css_ID_" (base64url, so it may itself hold '_')
    let secret_part = s.token.splitn(3, '_').nth(2).unwrap();
    assert!(secret_part.len() >= 32, "{secret_part}");
    assert!(!contains(&raw, secret_part.as_bytes()));
    assert!(!contains(&raw, s.csrf.as_bytes()));
    // rotation: a new token, the same CSRF token; the old one lives only for a short grace
    let (token2, _) = store.rotate_web_session(&found, &times).await.unwrap();
    let s2 = store.web_session(&token2).await.unwrap();
    assert!(s2.csrf_matches(&s.csrf));
    let old = store.web_session(&s.token).await.unwrap();
    assert!(old.expires_at <= callscribe::sys::now() + 30);
    // sign-out revokes
    store.revoke_web_session(&s2).await.unwrap();
    assert!(matches!(
        store.web_session(&token2).await,
        Err(AuthError::Invalid)
    ));
    // revoking the key ends its other sessions
    let s3 = store.create_web_session(&p, &times).await.unwrap();
    assert!(store.web_session(&s3.token).await.is_ok());
    store.revoke_api_key(&op(), &t.id, &k.id).await.unwrap();
    assert!(matches!(
        store.web_session(&s3.token).await,
        Err(AuthError::Invalid)
    ));
    // expired sessions fail
    let k2 = store
        .create_api_key(&op(), &t.id, Role::Admin, None)
        .await
        .unwrap();
    let s4 = store
        .create_web_session(&store.authenticate(&k2.secret).await.unwrap(), &times)
        .await
        .unwrap();
    let mut owner = db.owner().await;
    sqlx::query("UPDATE web_sessions SET expires_at = 1")
        .execute(&mut owner)
        .await
        .unwrap();
    assert!(matches!(
        store.web_session(&s4.token).await,
        Err(AuthError::Invalid)
    ));
    // the retention purge deletes sessions that ended (expired or revoked) over a day ago
    let s5 = store
        .create_web_session(&store.authenticate(&k2.secret).await.unwrap(), &times)
        .await
        .unwrap();
    let r = store
        .purge_expired(&Actor::System("retention"), callscribe::sys::now())
        .await
        .unwrap();
    assert_eq!(r.sessions, 4, "{r:?}");
    let left: i64 = sqlx::query("SELECT COUNT(*) FROM web_sessions")
        .fetch_one(&mut owner)
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 1);
    assert!(
        store.web_session(&s5.token).await.is_ok(),
        "a live session survives the purge"
    );
    // sign-in and sign-out are audited, never with the token
    let actions: Vec<String> = store
        .audit_events(Some(&t.id), 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.iter().filter(|a| *a == "session.create").count() >= 3
            && actions.contains(&"session.revoke".to_string()),
        "{actions:?}"
    );
    // deleting the tenant deletes its sessions
    store.delete_tenant(&op(), &t.id).await.unwrap();
    let n: i64 = sqlx::query("SELECT COUNT(*) FROM web_sessions")
        .fetch_one(&mut owner)
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
}

/// Paging through calls: newest first, state and time filters, cursors that neither skip nor
/// repeat, another tenant's calls never listed.
async fn call_pages_filter_and_continue_without_overlap(db: TestDb) {
    use callscribe::store::{CallQuery, CallState};
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let t = store.create_tenant(&op(), "acme", None).await.unwrap();
    let other = store.create_tenant(&op(), "other", None).await.unwrap();
    let mut ids = Vec::new();
    for i in 0..7i64 {
        let c = store
            .create_call(
                &op(),
                &t.id,
                &NewCall {
                    external_id: format!("ext-{i}"),
                    provider: "twilio".into(),
                    tracks: vec!["caller".into()],
                    started_at: 1_000 + i / 2,
                },
            )
            .await
            .unwrap();
        if i % 3 != 0 {
            store
                .finish_call(&op(), &t.id, &c, CallStatus::Complete, 2_000)
                .await
                .unwrap();
        }
        ids.push(c);
    }
    store
        .create_call(
            &op(),
            &other.id,
            &NewCall {
                external_id: "x".into(),
                provider: "twilio".into(),
                tracks: vec!["caller".into()],
                started_at: 1_001,
            },
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut q = CallQuery {
        limit: 3,
        ..CallQuery::default()
    };
    loop {
        let page = store.list_calls_page(&op(), &t.id, &q).await.unwrap();
        assert!(page.calls.len() <= 3);
        seen.extend(page.calls.iter().map(|c| (c.started_at, c.id.clone())));
        match page.next {
            Some(n) => q.after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(seen, sorted, "newest first, ties by id, no repeats");
    let live = store
        .list_calls_page(
            &op(),
            &t.id,
            &CallQuery {
                state: CallState::Live,
                limit: 50,
                ..CallQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(live.calls.len(), 3);
    assert!(live.calls.iter().all(|c| c.status == CallStatus::Open));
    let ended = store
        .list_calls_page(
            &op(),
            &t.id,
            &CallQuery {
                state: CallState::Ended,
                limit: 50,
                ..CallQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ended.calls.len(), 4);
    let window = store
        .list_calls_page(
            &op(),
            &t.id,
            &CallQuery {
                since: Some(1_001),
                until: Some(1_002),
                limit: 50,
                ..CallQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(window.calls.len(), 4);
    assert!(
        window
            .calls
            .iter()
            .all(|c| (1_001..=1_002).contains(&c.started_at))
    );
    let theirs = store
        .list_calls_page(
            &op(),
            &other.id,
            &CallQuery {
                limit: 50,
                ..CallQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(theirs.calls.len(), 1);
    assert!(!ids.contains(&theirs.calls[0].id));
}

/// Successful key checks are audited in aggregate like failed ones: a client starting calls
/// as fast as it can with a valid key must not add one fsynced write per start (issue 18 #4).
async fn a_key_used_many_times_a_minute_costs_one_audit_write(db: TestDb) {
    let store = Store::open(&db.config(&random_key())).await.unwrap();
    let t = store.create_tenant(&op(), "busy", None).await.unwrap();
    let k = store
        .create_api_key(&op(), &t.id, Role::Ingest, None)
        .await
        .unwrap();
    let other = store
        .create_api_key(&op(), &t.id, Role::Agent, None)
        .await
        .unwrap();
    for _ in 0..50 {
        store.authenticate(&k.secret).await.unwrap();
    }
    store.authenticate(&other.secret).await.unwrap();
    store.flush_failed_auths().await.unwrap();
    let auths: Vec<_> = store
        .audit_events(None, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "key.auth")
        .collect();
    assert_eq!(auths.len(), 2, "one row per key in the window: {auths:?}");
    let keys = store.list_api_keys(&t.id).await.unwrap();
    assert!(keys.iter().all(|k| k.last_used_at.is_some()), "{keys:?}");
    // a revoked key is refused at once, whatever the window holds
    store.revoke_api_key(&op(), &t.id, &k.id).await.unwrap();
    assert!(store.authenticate(&k.secret).await.is_err());
}
