//! The flags of `migrate` and its subcommands.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::target::{ConfirmArgs, ConnArgs};

/// `migrate`: bare `migrate` is `migrate up`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub command: Option<MigrateCommand>,

    /// NOTE: global, so that it works on either side of the subcommand
    /// (`migrate --dir db/migrations up` = `migrate up --dir db/migrations`).
    #[command(flatten)]
    pub dir: MigrateDirArgs,

    #[command(flatten)]
    pub up: MigrateUpArgs,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Write <YYYYMMDDHHMMSS>_<NAME>.sql with empty up and down sections; print its path
    New(MigrateNewArgs),
    /// Apply every pending migration in time order (the default)
    Up(MigrateUpArgs),
    /// Undo the newest applied migration (--steps N: the newest N)
    Down(MigrateDownArgs),
    /// Show each migration: version, name, state (applied, pending, changed, missing), applied at
    Status(MigrateStatusArgs),
    /// Report the statements of pending migrations that lock a live table for long or break the
    /// running app (exit 1 on an error not allowed by a `-- cruddur-db:allow RULE reason` line)
    Lint(MigrateLintArgs),
    /// Record migrations as applied without running them (--unapply: as not applied), when
    /// the database already has (or lacks) their changes
    Mark(MigrateMarkArgs),
}

/// Where the migration files are.
#[derive(Debug, Clone, Default, Args)]
pub struct MigrateDirArgs {
    /// Migrations directory [default: db/migrations here, or backend-flask/db/migrations of the
    /// Cruddur checkout around the current directory]
    #[arg(
        long,
        value_name = "DIR",
        env = "CRUDDUR_MIGRATIONS_DIR",
        hide_env_values = true,
        global = true
    )]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateRunArgs {
    /// Seconds to wait for another migration run on the same database to finish
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub lock_timeout: u64,

    /// Run each migration under a lock_timeout and retry it when a lock is not granted
    /// (always on for a protected target)
    #[arg(long)]
    pub lock_guard: bool,

    /// Seconds (fractions allowed: 0.5) one statement may wait for a table lock before the
    /// migration is rolled back and tried again (with --lock-guard or a protected target)
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub ddl_lock_timeout: Duration,

    /// Seconds one statement may run at most (with --lock-guard or a protected target)
    /// [default: no limit]
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub statement_timeout: Option<Duration>,

    /// How many times a migration that timed out waiting for a lock is tried again
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub retries: u32,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateUpArgs {
    #[command(flatten)]
    pub run: MigrateRunArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateDownArgs {
    /// How many of the newest applied migrations to undo
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: u64,

    #[command(flatten)]
    pub run: MigrateRunArgs,
}

#[derive(Debug, Args)]
pub struct MigrateStatusArgs {
    /// Print a JSON array on stdout (version, name, state, applied_at)
    #[arg(long)]
    pub json: bool,

    /// Exit 1 when a migration is pending or changed (for CI)
    #[arg(long)]
    pub exit_code: bool,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct MigrateNewArgs {
    /// The migration's name: lower-case letters, digits and _ (e.g. add_bio_column)
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Fill the migration from `diff setup local --sql` (down: the reverse diff); refused when
    /// there is nothing to do or a statement cannot be reversed
    #[arg(long)]
    pub from_diff: bool,
}

#[derive(Debug, Args)]
pub struct MigrateLintArgs {
    /// Migration files to lint, in this order [default: the pending migrations of --dir]
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,

    /// Lint every migration of --dir, applied or not
    #[arg(long, conflicts_with = "files")]
    pub all: bool,

    /// Do not connect: lint the files alone (those given, else every migration of --dir; table
    /// sizes unknown)
    #[arg(long)]
    pub offline: bool,

    /// Print the findings as a JSON array on stdout
    #[arg(long)]
    pub json: bool,

    /// A table of fewer rows (the planner's estimate) is small: a lock on it is held for
    /// milliseconds, so a finding about that lock is info, not an error
    #[arg(long, value_name = "ROWS", default_value_t = crate::migrate::lint::SMALL_TABLE_ROWS)]
    pub small_table: u64,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct MigrateMarkArgs {
    /// The migrations: their version (the stamp of the file name) or file name
    #[arg(value_name = "VERSION", required = true)]
    pub versions: Vec<String>,

    /// Record them as not applied (forget them) instead
    #[arg(long)]
    pub unapply: bool,

    /// Seconds to wait for another migration run on the same database to finish
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub lock_timeout: u64,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Seconds as a duration: `5`, `0.2`, or with a unit, `200ms`.
fn parse_secs(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = match s.strip_suffix("ms") {
        Some(n) => (n, 0.001),
        None => (s.strip_suffix('s').unwrap_or(s), 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds (e.g. 5, 0.2, 200ms)"))?;
    if !v.is_finite() || v < 0.0 || v * scale > 86_400.0 {
        return Err(format!("{s:?} is not between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_take_fractions_and_milliseconds() {
        assert_eq!(parse_secs("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_secs("0.2"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_secs("200ms"), Ok(Duration::from_millis(200)));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
    }
}
