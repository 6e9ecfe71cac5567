//! The storage commands end to end: the real binary, the real model, both backends.

mod common;
mod store_common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output, Stdio};

use callscribe::store::Backend;
use common::{fixture, model_path, repo};
use store_common::{TestDb, contains, random_key, runtime};

/// Runs callscribe against `db`'s store: SQLite in its data directory (master key generated
/// there) or its PostgreSQL database (master key from the environment).
struct Cli<'a> {
    db: &'a TestDb,
    master_key: Option<String>,
}

impl Cli<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_callscribe"));
        c.args(args)
            .current_dir(repo())
            .env("CALLSCRIBE_LOG", "warn")
            .env_remove("CALLSCRIBE_MASTER_KEY");
        c.env("CALLSCRIBE_DATA_DIR", self.db.data_dir());
        match self.db.url() {
            Some(url) => c.env("CALLSCRIBE_DATABASE_URL", url),
            None => c.env_remove("CALLSCRIBE_DATABASE_URL"),
        };
        if let Some(k) = &self.master_key {
            c.env("CALLSCRIBE_MASTER_KEY", k);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run callscribe")
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
}

fn setup(backend: Backend) -> Option<TestDb> {
    if backend == Backend::Postgres && store_common::skip_postgres() {
        eprintln!("CALLSCRIBE_SKIP_POSTGRES=1: PostgreSQL test skipped");
        return None;
    }
    Some(runtime().block_on(TestDb::new(backend)))
}

fn transcribe_store_then_read(backend: Backend) {
    let Some(db) = setup(backend) else { return };
    let cli = Cli {
        db: &db,
        master_key: (backend == Backend::Postgres).then(random_key),
    };
    let tenant = cli.ok(&["tenant", "create", "acme"]).trim().to_string();
    assert!(tenant.starts_with("t_"), "{tenant}");
    if backend == Backend::Sqlite {
        let o = cli.run(&["tenant", "list"]);
        assert!(String::from_utf8_lossy(&o.stdout).contains("acme"));
        assert!(db.data_dir().join("master.key").is_file());
    }
    let model = model_path();
    let speech = fixture("speech.16k.flac");
    let out = cli.ok(&[
        "transcribe",
        "--model",
        model.to_str().unwrap(),
        "--store",
        "--tenant",
        "acme",
        speech.to_str().unwrap(),
    ]);
    let call = out.split('\t').next().unwrap().to_string();
    assert!(
        call.starts_with("c_") && out.contains("speech.16k.flac"),
        "{out}"
    );

    let listed = cli.ok(&["calls", "list", "--tenant", &tenant]);
    assert!(
        listed.contains(&call) && listed.contains("speech") && listed.contains("Complete"),
        "{listed}"
    );
    let text = cli.ok(&["transcript", "show", "speech", "--tenant", "acme"]);
    assert!(common::normalise(&text).contains("transcription"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "transcript",
        "show",
        &call,
        "--tenant",
        "acme",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(json["call_id"], "speech");
    for key in [
        "start",
        "end",
        "speaker",
        "text",
        "words",
        "redactions",
        "policy_version",
    ] {
        assert!(
            json["segments"][0].get(key).is_some(),
            "segment lacks {key}"
        );
    }

    // the words are readable through callscribe and nowhere in the stored bytes
    let raw = db.raw_bytes();
    for word in ["transcription", "Hello", "short test", "Thank you"] {
        assert!(
            !contains(&raw, word.as_bytes()),
            "{word:?} is stored in the clear"
        );
    }

    let key = cli.ok(&[
        "key",
        "create",
        "--tenant",
        "acme",
        "--role",
        "agent",
        "--ttl-days",
        "7",
    ]);
    assert_eq!(key.lines().count(), 1);
    assert!(key.starts_with("csk_"), "{key}");
    let keys = cli.ok(&["key", "list", "--tenant", "acme"]);
    assert!(
        keys.contains(&key[..12]) && !keys.contains(key.trim()) && keys.contains("agent"),
        "{keys}"
    );

    let export = db.dir.path().join("export.json");
    cli.ok(&[
        "export",
        "--tenant",
        "acme",
        "--out",
        export.to_str().unwrap(),
    ]);
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    assert_eq!(exported["calls"][0]["id"], call.as_str());
    assert!(
        common::normalise(&exported["calls"][0]["transcript"]["segments"].to_string())
            .contains("transcription")
    );
    let again = cli.run(&[
        "export",
        "--tenant",
        "acme",
        "--out",
        export.to_str().unwrap(),
    ]);
    assert!(!again.status.success(), "an export never overwrites a file");

    let r = cli.run(&["reprocess", "--all"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(String::from_utf8_lossy(&r.stderr).contains("already current"));
    cli.ok(&["delete", "call", "speech", "--tenant", "acme"]);
    let gone = cli.run(&["transcript", "show", &call, "--tenant", "acme"]);
    assert_eq!(gone.status.code(), Some(1));
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(
        err.contains(&format!("error: no call {call} in tenant {tenant}")),
        "{err}"
    );
    let purge = cli.run(&["purge"]);
    assert!(String::from_utf8_lossy(&purge.stderr).contains("purged 0 expired calls"));
    cli.ok(&["keys", "rotate", "--tenant", "acme"]);
    let verify = cli.ok(&["audit", "verify"]);
    assert!(verify.starts_with("audit trail intact"), "{verify}");
    let audit = cli.ok(&["audit", "list", "--tenant", "acme"]);
    for action in [
        "tenant.create",
        "segment.store",
        "transcript.read",
        "export",
        "call.delete",
        "key.create",
        "keys.rotate_tenant",
    ] {
        assert!(audit.contains(action), "{action} missing from\n{audit}");
    }
    assert!(!common::normalise(&audit).contains("transcription"));
}

#[test]
fn transcribe_store_then_read_sqlite() {
    transcribe_store_then_read(Backend::Sqlite);
}

#[test]
fn transcribe_store_then_read_postgres() {
    transcribe_store_then_read(Backend::Postgres);
}

/// kill -9 of `transcribe --store` after it reported a stored call: the call and every
/// segment are there when the store is opened again.
#[test]
fn a_killed_batch_keeps_every_stored_segment() {
    let Some(db) = setup(Backend::Sqlite) else {
        return;
    };
    let cli = Cli {
        db: &db,
        master_key: None,
    };
    cli.ok(&["tenant", "create", "acme"]);
    let model = model_path();
    let files: Vec<String> = [
        "speech.16k.flac",
        "speech.8k.mulaw.wav",
        "speech.stereo44k.mp3",
        "speech.16k.flac",
        "speech.8k.mulaw.wav",
    ]
    .iter()
    .map(|f| fixture(f).display().to_string())
    .collect();
    let mut args = vec![
        "transcribe",
        "--model",
        model.to_str().unwrap(),
        "--workers",
        "1",
        "--store",
        "--tenant",
        "acme",
    ];
    args.extend(files.iter().map(String::as_str));
    let mut child = cli
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "killed, not exited");
    let call = first.split('\t').next().unwrap().to_string();
    assert!(call.starts_with("c_"), "{first}");
    let listed = cli.ok(&["calls", "list", "--tenant", "acme", "--format", "json"]);
    let calls: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let stored = calls
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == call.as_str())
        .expect("the reported call survived");
    assert_eq!(stored["status"], "complete");
    let n = stored["segments"].as_u64().unwrap();
    assert!(n >= 1);
    let json: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "transcript",
        "show",
        &call,
        "--tenant",
        "acme",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(json["segments"].as_array().unwrap().len() as u64, n);
    assert!(common::normalise(&json["segments"].to_string()).contains("transcription"));
    assert!(
        cli.ok(&["audit", "verify"])
            .starts_with("audit trail intact")
    );
}

/// `CALLSCRIBE_MASTER_KEY` is taken out of the process at start: while a store command is
/// opening the store (the master key already read), neither the variable nor the key's text is
/// in `/proc/PID/environ`, which shows the environment block the process was started with.
/// (The store is a PostgreSQL URL pointing at a listener of this test, so the command waits
/// there, mid-open, until the test lets it go.)
#[test]
fn the_master_key_leaves_the_environment_at_start() {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = random_key();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_callscribe"))
        .args(["tenant", "list"])
        .env("CALLSCRIBE_LOG", "warn")
        .env("CALLSCRIBE_DATA_DIR", data.path())
        .env(
            "CALLSCRIBE_DATABASE_URL",
            format!("postgres://u@127.0.0.1:{port}/db"),
        )
        .env_remove("CALLSCRIBE_KEY_VAULT_URL")
        .env("CALLSCRIBE_MASTER_KEY", &key)
        .env("CALLSCRIBE_CANARY", "still-here")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the store is connecting: the configuration, master key included, has been read
    let (conn, _) = listener.accept().unwrap();
    let environ = std::fs::read(format!("/proc/{}/environ", child.id())).unwrap();
    let entries: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    assert!(
        entries.iter().any(|e| e == "CALLSCRIBE_CANARY=still-here"),
        "the other variables are untouched (and readable here)"
    );
    let left: Vec<&String> = entries
        .iter()
        .filter(|e| e.starts_with("CALLSCRIBE_MASTER_KEY=") && e.len() > 22)
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(
        !contains(&environ, key.as_bytes()),
        "the key's text is gone"
    );
    drop(conn);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
}

/// `audit list` prints rows holding terminal escapes, newlines and huge values (written into the
/// database directly, as a client's text or an attacker with the file could) escaped and cut:
/// one line per row, no control character, in text and in JSON.
#[test]
fn audit_list_prints_hostile_rows_escaped() {
    let Some(db) = setup(Backend::Sqlite) else {
        return;
    };
    let cli = Cli {
        db: &db,
        master_key: None,
    };
    cli.ok(&["tenant", "create", "acme"]);
    runtime().block_on(async {
        let mut owner = db.owner().await;
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, tenant_id, target, detail, prev_hash, hash) \
             VALUES ((SELECT MAX(seq) + 1 FROM audit_log), 0, $1, $2, NULL, $3, $4, zeroblob(32), zeroblob(32))",
        )
        .bind("key:csk_\u{1b}[2J\u{1b}]0;owned\u{7}")
        .bind("key.auth_failed\n    99  1970-01-01 00:00:00  operator:root")
        .bind("\u{9b}31m\u{202e}txt.exe")
        .bind(format!("{{\"source\": \"{}\r\"}}", "A".repeat(10_000)))
        .execute(&mut owner)
        .await
        .unwrap();
    });
    let text = cli.ok(&["audit", "list"]);
    let json = cli.ok(&["audit", "list", "--format", "json"]);
    for out in [&text, &json] {
        assert_eq!(out.lines().count(), 2, "one line per row: {out}");
        assert!(
            !out.chars().any(|c| c.is_control() && c != '\n'),
            "a control character reached the terminal: {out:?}"
        );
        assert!(!out.contains('\u{202e}'));
    }
    let row = text.lines().nth(1).unwrap();
    assert!(
        row.contains("key:csk_\\u{1b}[2J")
            && row.contains("\\n    99")
            && row.contains("\\u{202e}"),
        "{row}"
    );
    assert!(
        row.contains("bytes]") && row.len() < 1500,
        "the 10 kB detail is cut: {}",
        row.len()
    );
    let hostile: serde_json::Value = serde_json::from_str(json.lines().nth(1).unwrap()).unwrap();
    assert!(
        hostile["actor"].as_str().unwrap().contains("\u{1b}[2J"),
        "JSON keeps the value, escaped"
    );
}

/// Operator mistakes give one clear line and no panic.
#[test]
fn store_errors_name_what_and_where() {
    let Some(db) = setup(Backend::Sqlite) else {
        return;
    };
    let cli = Cli {
        db: &db,
        master_key: None,
    };
    cli.ok(&["tenant", "create", "acme"]);
    let cases: Vec<(Vec<&str>, Option<String>, &str)> = vec![
        (
            vec!["calls", "list", "--tenant", "nosuch"],
            None,
            "error: no tenant nosuch",
        ),
        (
            vec!["transcript", "show", "CA404", "--tenant", "acme"],
            None,
            "error: no call CA404 in tenant t_",
        ),
        (
            vec!["tenant", "create", "acme"],
            None,
            "error: a tenant named acme already exists",
        ),
        (
            vec!["key", "revoke", "csk_zzzzzzzz", "--tenant", "acme"],
            None,
            "error: no API key csk_zzzzzzzz",
        ),
        (
            vec![
                "key",
                "create",
                "--tenant",
                "acme",
                "--role",
                "agent",
                "--ttl-days",
                "91",
            ],
            None,
            "error: invalid input: a key's lifetime (ttl_days) of 91 days is above this installation's maximum of 90 days ([store] max_key_ttl_days",
        ),
        (
            vec![
                "key",
                "create",
                "--tenant",
                "acme",
                "--role",
                "agent",
                "--max-key-ttl-days",
                "0",
            ],
            None,
            "[store] max_key_ttl_days must be between 1 and 3650 days, not 0",
        ),
        (vec!["tenant", "delete", "acme"], None, "--yes"),
        (
            vec!["calls", "list", "--tenant", "acme"],
            Some(random_key()),
            "is not the master key this database was sealed with",
        ),
        (
            vec!["calls", "list", "--tenant", "acme"],
            Some("abc".into()),
            "CALLSCRIBE_MASTER_KEY: entry 1 is not a valid master key",
        ),
        (
            vec!["keys", "rotate", "--master"],
            Some("1:x".into()),
            "not base64",
        ),
    ];
    for (args, key, expected) in cases {
        let o = Cli {
            db: &db,
            master_key: key,
        }
        .run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    use std::os::unix::fs::PermissionsExt;
    let key_file = db.data_dir().join("master.key");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = String::from_utf8_lossy(&cli.run(&["tenant", "list"]).stderr).into_owned();
    assert!(err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(
        cli.ok(&["tenant", "list"]).contains("acme"),
        "nothing was lost"
    );
}
