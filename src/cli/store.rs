//! What every storage command shares: where the database and master key are, and opening the
//! store on a small tokio runtime (the commands are otherwise synchronous).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::store::{Store, StoreConfig, StoreSettings, redact_url};

/// Where the store lives. `Debug` (by hand) shows the URLs without their passwords.
#[derive(Clone, Args)]
pub struct StoreArgs {
    /// Data directory: the SQLite database (callscribe.db), its key vault (callscribe.keys.db)
    /// and the generated master key file (master.key).
    #[arg(long, env = "CALLSCRIBE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// sqlite://PATH or postgres://USER@HOST/DB [default: SQLite in --data-dir].
    #[arg(long, env = "CALLSCRIBE_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Master key file (mode 0600; VERSION:BASE64 lines) [default: DATA_DIR/master.key].
    /// CALLSCRIBE_MASTER_KEY, when set, is used instead.
    #[arg(long, env = "CALLSCRIBE_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Key vault holding the calls' data keys, kept apart from the database so that a deleted
    /// call cannot be read back from a copy of it: sqlite://PATH or postgres://USER@HOST/DB
    /// [default: DATA_DIR/callscribe.keys.db, or the PostgreSQL database's name + _keys].
    #[arg(long, env = "CALLSCRIBE_KEY_VAULT_URL", hide_env_values = true)]
    pub key_vault_url: Option<String>,
    /// The longest lifetime, in days, an API key may be created with (1..=3650)
    /// [default: 90, or `[store] max_key_ttl_days` in serve's --config].
    #[arg(long, env = "CALLSCRIBE_MAX_KEY_TTL_DAYS")]
    pub max_key_ttl_days: Option<u32>,
}

impl std::fmt::Debug for StoreArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreArgs")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("master_key_file", &self.master_key_file)
            .field(
                "key_vault_url",
                &self.key_vault_url.as_deref().map(redact_url),
            )
            .field("max_key_ttl_days", &self.max_key_ttl_days)
            .finish()
    }
}

impl StoreArgs {
    /// The store's configuration: these options over `settings` (serve's `[store]` table, or
    /// the defaults).
    pub fn config(&self, settings: &StoreSettings) -> StoreConfig {
        let mut c = StoreConfig::new(&self.data_dir, self.database_url.clone());
        c.master_key_file = self.master_key_file.clone();
        c.key_vault_url = self.key_vault_url.clone();
        c.settings = settings.clone();
        if let Some(days) = self.max_key_ttl_days {
            c.settings.max_key_ttl_days = days;
        }
        c
    }
}

/// A current-thread runtime for the store's async calls.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Opens the store with the default `[store]` settings (see [`open_with`]).
pub async fn open(args: &StoreArgs) -> anyhow::Result<Store> {
    open_with(args, &StoreSettings::default()).await
}

/// Opens the store; when it generated a master key, tells the operator loudly to back it up.
pub async fn open_with(args: &StoreArgs, settings: &StoreSettings) -> anyhow::Result<Store> {
    let store = Store::open(&args.config(settings)).await?;
    if let Some(path) = store.generated_master_key() {
        eprintln!(
            "\n\
             ************************************************************************\n\
             *  A NEW MASTER KEY WAS GENERATED: {}\n\
             *  Everything callscribe stores is encrypted under it. BACK IT UP NOW,\n\
             *  somewhere other than this machine. Without it the data is lost;\n\
             *  with it, anyone holding a copy of the database can read it.\n\
             ************************************************************************\n",
            path.display()
        );
    }
    Ok(store)
}

/// Resolves a tenant given by id or name to its id.
pub async fn tenant_id(store: &Store, tenant: &str) -> anyhow::Result<String> {
    Ok(store.tenant(tenant).await?.id)
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn utc(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant's algorithm)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    /// `Debug` of a parsed command line (clap's `Cli` derives it) never shows a database
    /// password or a client key.
    #[test]
    fn debug_of_a_command_line_shows_no_password_or_key() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "callscribe",
            "calls",
            "list",
            "--tenant",
            "acme",
            "--database-url",
            "postgres://app:pa55word@db/calls",
            "--key-vault-url",
            "postgres://vault:vau1tpw@db/keys",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        assert!(shown.contains("postgres://app:***@db/calls"), "{shown}");
        assert!(
            !shown.contains("pa55word") && !shown.contains("vau1tpw"),
            "{shown}"
        );
        let cli = crate::cli::Cli::try_parse_from([
            "callscribe",
            "replay",
            "call.wav",
            "--ingest-key",
            "csk_abcd2345_ingestsecret",
            "--agent-key",
            "csk_efgh6789_agentsecret",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        assert!(
            !shown.contains("secret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00:00");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(super::utc(1_700_000_000), "2023-11-14 22:13:20");
    }
}
