//! The flags of `migrate` and its subcommands.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::target::{ConfirmArgs, ConnArgs};

/// `migrate`: bare `migrate` is `migrate up`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub command: Option<MigrateCommand>,

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
        hide_env_values = true
    )]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateRunArgs {
    #[command(flatten)]
    pub dir: MigrateDirArgs,

    /// Seconds to wait for another migration run on the same database to finish
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub lock_timeout: u64,

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
    pub dir: MigrateDirArgs,

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

    #[command(flatten)]
    pub dir: MigrateDirArgs,
}
