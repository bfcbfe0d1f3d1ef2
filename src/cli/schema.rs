//! The flags of the commands that say what a database is: `dump` and `diff`.

use std::path::PathBuf;

use clap::Args;

use super::target::ConnArgs;

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Write the SQL to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Write the dump even when the database has objects the reader cannot write (they are
    /// listed on stderr and in a `-- not dumped:` comment at the top); without it `dump`
    /// refuses (exit 1) and writes nothing
    #[arg(long)]
    pub allow_incomplete: bool,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// What to compare from: local, prod, setup (what `setup` builds from this checkout, without
    /// the seed), a postgresql:// URL, or a .sql file
    #[arg(value_name = "FROM")]
    pub from: String,

    /// What to compare to, in the same forms as FROM
    #[arg(value_name = "TO")]
    pub to: String,

    /// Print the differences as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// Print the SQL that turns FROM into TO; destructive statements are preceded by a
    /// `-- destructive:` comment
    #[arg(long)]
    pub sql: bool,

    /// Compare owners too (left out unless asked); --sql writes ALTER ... OWNER TO
    #[arg(long)]
    pub owners: bool,

    /// Compare grants too (left out unless asked); reported, not written as SQL
    #[arg(long)]
    pub grants: bool,

    /// Exit 1 when the sides differ (for CI: `cruddur-db diff setup prod --exit-code`)
    #[arg(long)]
    pub exit_code: bool,

    /// Server to make scratch databases on for .sql and setup sides
    /// [default: the local target's server]
    #[arg(
        long,
        value_name = "URL",
        env = "CRUDDUR_SCRATCH_URL",
        hide_env_values = true
    )]
    pub scratch_url: Option<String>,

    #[command(flatten)]
    pub conn: ConnArgs,
}
