//! `completions SHELL` and `man`: the shell completion script and the manual page, generated
//! from the one command-line definition so they never drift from it.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "cruddur-db", &mut out);
    out.flush().context("failed to write the completion script")
}

pub fn man() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("failed to write the manual page")?;
    out.flush().context("failed to write the manual page")
}
