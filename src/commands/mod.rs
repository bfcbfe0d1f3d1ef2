//! One module per subcommand, each with one `run`; this file dispatches and holds the few
//! helpers they share. Resources open late: only commands that need a runtime build one.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::cli::{Cli, Command, ConnArgs, RdsCommand, TlsCommand};
use crate::error::usage;
use crate::load::LoadOptions;
use crate::pg::ConnectOptions;
use crate::sql::input::{Prepared, Problem};
use crate::sql::{Input, ReadError, Vars};
use crate::target::TargetRequest;

pub mod add_user;
pub mod connect;
pub mod create;
pub mod doctor;
pub mod drop;
pub mod post_crud;
pub mod rds;
pub mod reset;
pub mod schema;
pub mod seed;
pub mod sessions;
pub mod setup;
pub mod tls;
pub mod update_sg_rule;
pub mod users;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let req = TargetRequest {
        url: cli.target.url,
        prod: cli.target.prod,
        protected: cli.target.protected,
    };
    match cli.command {
        Command::Connect(a) => connect::run(&req, a),
        Command::Create(a) => block_on(create::run(&req, a)),
        Command::Drop(a) => block_on(drop::run(&req, a)),
        Command::Sessions(a) => block_on(sessions::run(&req, a)),
        Command::Schema(a) => block_on(schema::run(&req, a)),
        Command::Seed(a) => block_on(seed::run(&req, a)),
        Command::Setup(a) => block_on(setup::run(&req, a)),
        Command::Reset(a) => block_on(reset::run(&req, a)),
        Command::Doctor(a) => block_on(doctor::run(&req, a)),
        Command::Tls(TlsCommand::FetchRdsCa(a)) => block_on(tls::fetch_rds_ca(a)),
        Command::UpdateSgRule(a) => block_on(update_sg_rule::run(&req, a)),
        Command::Rds(RdsCommand::Status(a)) => block_on(rds::status(&req, a)),
        Command::Rds(RdsCommand::Start(a)) => block_on(rds::start(a)),
        Command::Rds(RdsCommand::Stop(a)) => block_on(rds::stop(a)),
        Command::PostCrud(a) => block_on(post_crud::run(&req, a)),
        Command::AddUser(a) => block_on(add_user::run(&req, a)),
        Command::Users(a) => block_on(users::run(&req, a)),
    }
}

/// Runs a future on a new multi-threaded runtime.
pub fn block_on<F: Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?
        .block_on(f)
}

/// Connection options from the shared connection flags.
pub fn connect_options(conn: &ConnArgs) -> ConnectOptions {
    ConnectOptions {
        connect_timeout: Duration::from_secs(conn.connect_timeout.max(1)),
        wait: conn.wait.map(Duration::from_secs),
        ..ConnectOptions::default()
    }
}

/// The built-in schema, from `sql/schema.sql`.
pub const SCHEMA_SQL: &str = include_str!("../../sql/schema.sql");
/// The built-in seed data, from `sql/seed.sql`.
pub const SEED_SQL: &str = include_str!("../../sql/seed.sql");

/// Prepares a SQL input before anything is written: `file`, `-` for stdin, or the built-in
/// text, with the `-v NAME=VALUE` variables. A file (and every file it includes) is read
/// through once: refused meta-commands, missing files and unset variables fail here (exit 2),
/// unreadable SQL too (exit 1). Stdin is read only up to its first statement.
pub fn prepare_sql(
    file: Option<&Path>,
    builtin_name: &str,
    builtin: &'static str,
    vars: &[String],
    opts: LoadOptions,
) -> anyhow::Result<Prepared> {
    let input = sql_input(file, builtin_name, builtin);
    let vars = Vars::from_pairs(vars.iter().map(String::as_str))
        .map_err(|e| usage(format!("-v/--set: {e}")))?;
    Prepared::new(&input, &vars, opts.allows_connect()).map_err(read_error)
}

/// What `file` names: a file, `-` for stdin, or (no file) the built-in text.
pub fn sql_input(file: Option<&Path>, builtin_name: &str, builtin: &'static str) -> Input {
    match file {
        None => Input::builtin(builtin_name, builtin),
        Some(p) if p == Path::new("-") => Input::Stdin,
        Some(p) => Input::File(p.to_path_buf()),
    }
}

/// A reader's error before anything ran, with its exit code.
pub fn read_error(e: ReadError) -> anyhow::Error {
    let msg = format!("{e}\n  nothing was run");
    match e.problem {
        Problem::Refused => usage(msg),
        Problem::Lex | Problem::Io => anyhow::anyhow!(msg),
    }
}
