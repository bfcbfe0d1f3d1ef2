//! Loading SQL into a target: reading a script (a file, stdin or the built-in text) with its
//! `-v` variables before anything is written, what a dry run says of it, and the load itself
//! under the load lock with a progress bar.

use std::path::Path;

use anyhow::{anyhow, Context};

use super::SCHEMA_TABLES;
use crate::dburl::DbUrl;
use crate::error::usage;
use crate::load::{self, DbConnector, LoadOptions, Shaping, Summary, Transaction};
use crate::pg::{ConnectOptions, Db};
use crate::sql::input::Problem;
use crate::sql::script::Script;
use crate::sql::{Input, ReadError, Reader, Server, Vars};
use crate::target::Target;
use crate::ui;

/// What `file` names: a file, `-` for stdin, or (no file) the built-in text.
pub fn sql_input(file: Option<&Path>, builtin_name: &str, builtin: &'static str) -> Input {
    match file {
        None => Input::builtin(builtin_name, builtin),
        Some(p) if p == Path::new("-") => Input::Stdin,
        Some(p) => Input::File(p.to_path_buf()),
    }
}

/// A reader's error before anything ran, with its exit code: a refusal (a meta-command, a
/// missing include, an unset variable) or an unreadable file is 2, SQL that cannot be split 1.
pub fn read_error(e: ReadError) -> anyhow::Error {
    let msg = format!("{e}\n  nothing was run");
    match e.problem {
        Problem::Refused | Problem::Io => usage(msg),
        Problem::Lex => anyhow!(msg),
    }
}

fn vars(pairs: &[String]) -> anyhow::Result<Vars> {
    Vars::from_pairs(pairs.iter().map(String::as_str)).map_err(|e| usage(format!("-v/--set: {e}")))
}

/// Reads a SQL script before anything is written: `file`, `-` for stdin, or the built-in
/// text, with the `-v NAME=VALUE` variables. A file (and every file it includes) is read
/// through once: refused meta-commands, missing files and unset variables fail here (exit 2).
/// Stdin is read only up to its first statement. `server`: where `\c` is checked against.
pub fn read_script(
    file: Option<&Path>,
    builtin_name: &str,
    builtin: &'static str,
    pairs: &[String],
    opts: LoadOptions,
    server: Option<&Server>,
) -> anyhow::Result<Script> {
    let input = sql_input(file, builtin_name, builtin);
    Script::new_on(&input, &vars(pairs)?, opts.allows_connect(), server).map_err(read_error)
}

/// Where a file runs on `url`, which its `\c` commands are checked against.
pub fn server_of(url: &DbUrl) -> Server {
    Server {
        host: url.host(),
        port: url.port(),
        user: url.user(),
        database: url.database(),
    }
}

/// Refuses an input with no statement at all (an empty file, or only comments): loaded as
/// the schema it would leave an empty database, after a drop even. Checked before anything
/// runs.
pub fn require_statements(input: &Script, what: &str) -> anyhow::Result<()> {
    if input.has_statements() {
        return Ok(());
    }
    Err(usage(format!(
        "{} holds no SQL statement (it is empty or only comments); refusing to use it as the \
         {what}; nothing was changed",
        input.name
    )))
}

/// Warns about an input with no statement (a seed file may be empty on purpose).
pub fn warn_if_empty(input: &Script) {
    if !input.has_statements() {
        ui::warn(&format!(
            "{} holds no SQL statement (it is empty or only comments); nothing to load",
            input.name
        ));
    }
}

/// What a dry run prints for one input: the target, the file, its statements and the
/// transaction mode. The input (stdin too) is read through, and its refusals reported, as a
/// real run would.
pub fn describe_load(
    target: &Target,
    input: &Input,
    pairs: &[String],
    opts: LoadOptions,
) -> anyhow::Result<String> {
    let stats = Reader::open(input, vars(pairs)?, opts.allows_connect())
        .map(|r| r.on_server(Some(server_of(&target.url))))
        .and_then(Reader::survey)
        .map_err(read_error)?;
    Ok(format!(
        "would run {} on {}: {} statements ({} COPY blocks, {} files included, {} psql \
         meta-commands skipped), {}",
        input.name(),
        target.url,
        stats.statements,
        stats.copies,
        stats.includes,
        stats.skipped,
        if opts.allows_connect() {
            "each in its own transaction (--no-transaction)"
        } else {
            "in one transaction"
        }
    ))
}

/// Loads a script into the pool's database under the load lock, with a progress bar
/// on a terminal (bytes when the size is known) and a one-line summary on stderr. `conn`
/// opens the databases a `\c` in the file names.
pub async fn load(
    db: &Db,
    input: Script,
    mut opts: LoadOptions,
    conn: &ConnectOptions,
) -> anyhow::Result<Summary> {
    // NOTE: CRUDDUR_PREPARE=off (checked by the command layer) turns the shapes off.
    if let (false, Transaction::Own { shapes }) = (load::shapes_allowed(), &mut opts.transaction) {
        *shapes = Shaping::AsWritten;
    }
    let client = db.get().await?;
    load::lock(&client, &db.url.database())
        .await
        .context("failed to take the load lock")?;
    let name = input.name.clone();
    let bar = match input.size() {
        Some(n) => ui::byte_bar(n),
        None => ui::spinner(""),
    };
    bar.set_message(name.clone());
    let connector = DbConnector::new(db, conn);
    let connector = opts
        .allows_connect()
        .then_some(&connector as &dyn load::Connector);
    let result = load::run(&client, input, opts, &bar, connector).await;
    bar.finish_and_clear();
    let _ = load::unlock(&client).await;
    let summary = result.map_err(|e| crate::error::tag(e.kind, e))?;
    ui::status(&format!(
        "loaded {name} into {}: {summary}",
        db.url.database()
    ));
    Ok(summary)
}

/// Which of the schema's tables are missing.
pub async fn missing_tables(db: &Db) -> anyhow::Result<Vec<String>> {
    let client = db.get().await?;
    let mut missing = Vec::new();
    for table in SCHEMA_TABLES {
        let found: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[table])
            .await?
            .get(0);
        if !found {
            missing.push(table.to_string());
        }
    }
    Ok(missing)
}

/// Fails with a clear message (exit 2) unless the schema's tables exist.
pub async fn require_schema(db: &Db) -> anyhow::Result<()> {
    let missing = missing_tables(db).await?;
    if missing.is_empty() {
        return Ok(());
    }
    Err(usage(format!(
        "the schema is not loaded in database {:?}: table(s) {} missing; run `cruddur-db schema` \
         (or `cruddur-db setup`) first; nothing was written",
        db.url.database(),
        missing.join(", ")
    )))
}
