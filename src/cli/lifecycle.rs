//! The flags of the database's life: connect, create, drop, sessions, schema/seed, setup/reset,
//! doctor, audit, completions.

use std::path::PathBuf;

use clap::Args;

use super::aws::{CognitoArgs, InstanceArgs, IpArgs, RuleArgs};
use super::target::{ConfirmArgs, ConnArgs, DryRunArgs, OutputArgs};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only the last N lines
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Allow writes on a protected target (asks for the typed confirmation)
    #[arg(long)]
    pub write: bool,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,

    /// Extra arguments for psql, after `--`
    #[arg(last = true, value_name = "PSQL_ARGS")]
    pub psql_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub conn: ConnArgs,

    #[command(flatten)]
    pub dry: DryRunArgs,
}

#[derive(Debug, Args)]
pub struct DropArgs {
    /// Terminate the other sessions on the database, then drop it
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Sessions on every database of the server, not only the target
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// SQL file to load instead of the built-in one (`-` reads stdin)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// How a SQL file is run.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Run statement by statement in autocommit instead of one transaction
    /// (for files with CREATE DATABASE, VACUUM or CREATE INDEX CONCURRENTLY).
    /// In one transaction, INSERTs of a repeated shape are prepared once and run as EXECUTE
    /// with their own literals (CRUDDUR_PREPARE=off runs every statement as written)
    #[arg(long)]
    pub no_transaction: bool,
}

/// psql variables for SQL files.
#[derive(Debug, Clone, Default, Args)]
pub struct VarArgs {
    /// Set psql variable NAME to VALUE for the SQL files, as `psql -v` does (repeatable);
    /// the files use it as :NAME, :'NAME' (a literal) or :"NAME" (an identifier)
    #[arg(short = 'v', long = "set", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Schema file instead of the built-in sql/schema.sql
    #[arg(long, value_name = "FILE")]
    pub schema_file: Option<PathBuf>,

    /// Seed file instead of the built-in sql/seed.sql
    #[arg(long, value_name = "FILE")]
    pub seed_file: Option<PathBuf>,

    /// Create and load the schema only, no seed data
    #[arg(long)]
    pub no_seed: bool,

    /// Apply the pending migrations of DIR after the seed [default: db/migrations here, or
    /// backend-flask/db/migrations of the Cruddur checkout around the current directory]
    #[arg(
        long,
        value_name = "DIR",
        env = "CRUDDUR_MIGRATIONS_DIR",
        hide_env_values = true
    )]
    pub migrations_dir: Option<PathBuf>,

    /// Apply no migrations, even when a migrations directory is found
    #[arg(long, conflicts_with = "migrations_dir")]
    pub no_migrate: bool,

    /// Afterwards set the users' Cognito ids from the user pool, as `sync-cognito` does
    #[arg(long)]
    pub sync_cognito: bool,

    #[command(flatten)]
    pub cognito: CognitoArgs,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

impl SetupArgs {
    /// The flags as plain values; the pool id is checked here (exit 2 when missing).
    pub(crate) fn request(
        &self,
        aws: crate::aws::AwsSettings,
    ) -> anyhow::Result<crate::lifecycle::workflow::SetupRequest> {
        Ok(crate::lifecycle::workflow::SetupRequest {
            schema_file: self.schema_file.clone(),
            seed_file: self.seed_file.clone(),
            no_seed: self.no_seed,
            migrations_dir: self.migrations_dir.clone(),
            no_migrate: self.no_migrate,
            vars: self.vars.vars.clone(),
            sync_cognito: if self.sync_cognito {
                Some((aws, self.cognito.pool_id()?))
            } else {
                None
            },
        })
    }
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Terminate the other sessions on the database before dropping it
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub setup: SetupArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub output: OutputArgs,

    /// Seconds to wait for one connection attempt
    #[arg(
        long,
        value_name = "SECS",
        env = "CRUDDUR_CONNECT_TIMEOUT",
        hide_env_values = true,
        default_value_t = 5
    )]
    pub connect_timeout: u64,

    #[command(flatten)]
    pub instance: InstanceArgs,

    #[command(flatten)]
    pub rule: RuleArgs,

    #[command(flatten)]
    pub ip: IpArgs,
}
