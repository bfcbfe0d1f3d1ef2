//! The flags of the commands that say what a database is: `dump` and `diff`.

use std::path::PathBuf;

use clap::Args;

use super::target::ConnArgs;

#[derive(Debug, Args)]
pub struct DumpArgs {
    /// Write the SQL to FILE instead of stdout
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub conn: ConnArgs,
}
