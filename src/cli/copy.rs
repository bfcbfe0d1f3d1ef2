//! The flags of `copy`: production's data into another database, masked, in one snapshot.

use std::path::PathBuf;

use clap::Args;

use super::target::{ConfirmArgs, ConnArgs};

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The database to read: `local` (CONNECTION_URL, DATABASE_URL or the default), `prod`
    /// (PROD_CONNECTION_URL) or a PostgreSQL URL. Only read, in one READ ONLY snapshot
    #[arg(long, value_name = "SOURCE")]
    pub from: String,

    /// The database to write: `local`, `prod` or a URL. The copied tables are emptied and
    /// loaded in one transaction; a protected target needs confirmation
    #[arg(long, value_name = "TARGET")]
    pub to: String,

    /// NOTE: shadows the global `--url` (clap does not hand a global flag to a subcommand
    /// that has its own of the same id), so that copy's help does not offer a flag it refuses.
    #[arg(long = "url", id = "url", value_name = "URL", hide = true)]
    pub refused_url: Option<String>,

    /// NOTE: shadows the global `--prod`, as `refused_url` does `--url`.
    #[arg(long = "prod", id = "prod", hide = true)]
    pub refused_prod: bool,

    /// Create the source's schema on the target first (the target must not have its tables
    /// yet); without it the target must already have them (`cruddur-db setup`)
    #[arg(long)]
    pub schema: bool,

    /// The mask file (TOML: `[users]` then `email = "fake:email"`); default: db/mask.toml
    /// here, else backend-flask/db/mask.toml in the Cruddur checkout, when it exists
    #[arg(long, value_name = "FILE", conflicts_with = "no_mask")]
    pub mask: Option<PathBuf>,

    /// Copy every value as it is (no masking); said so in the audit log
    #[arg(long)]
    pub no_mask: bool,

    /// The salt of `hash` rules: the same salt gives the same hashes in every run (default: a
    /// new random salt per run, so hashes still match across the tables of one copy)
    #[arg(
        long,
        value_name = "SALT",
        env = "CRUDDUR_MASK_SALT",
        hide_env_values = true
    )]
    pub mask_salt: Option<String>,

    /// Copy only the rows of TABLE matching the SQL condition, plus every row they reference
    /// through foreign keys: `--where 'activities: created_at > now() - interval ''30 days'''`
    /// (repeatable). Tables without a filter then get only the rows referenced
    #[arg(long = "where", value_name = "TABLE: CONDITION")]
    pub where_: Vec<String>,

    /// Copy at most N rows of TABLE (and the rows they reference): `--limit activities:100`
    /// (repeatable)
    #[arg(long, value_name = "TABLE:N")]
    pub limit: Vec<String>,

    /// Connections reading the source side by side, all in the same snapshot; a large table
    /// is read in that many ctid ranges [default: the cores available, at most 16]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=16))]
    pub jobs: Option<u16>,

    /// Same as --verbose: also prints where the time went (read, send, index build,
    /// constraint validation, commit) and how each table was loaded
    #[arg(short = 'v')]
    pub verbose: bool,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}
