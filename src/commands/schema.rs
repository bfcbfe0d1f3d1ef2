//! `schema [FILE]`: load the schema into the target database, and the loading that `seed`,
//! `setup` and `reset` share.

use anyhow::Context;

use crate::cli::LoadArgs;
use crate::error::coded;
use crate::load::{self, DbConnector, LoadOptions, Summary};
use crate::pg::{ConnectOptions, Db};
use crate::sql::input::Prepared;
use crate::sql::{Input, Reader, Vars};
use crate::target::{Target, TargetRequest};
use crate::ui;

pub async fn run(req: &TargetRequest, args: LoadArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let opts = LoadOptions::one_transaction(!args.run.no_transaction);
    if args.confirm.dry_run {
        let input = super::sql_input(args.file.as_deref(), "sql/schema.sql", super::SCHEMA_SQL);
        return dry_run(&target, &input, &args.vars.vars, opts);
    }
    let input = super::prepare_sql(
        args.file.as_deref(),
        "sql/schema.sql",
        super::SCHEMA_SQL,
        &args.vars.vars,
        opts,
    )?;
    crate::protect::confirm(
        &target,
        &args.confirm,
        "load the schema (replacing its tables)",
    )?;
    let conn = super::connect_options(&args.conn);
    let db = Db::connect(&target, &conn).await?;
    load_into(&db, input, opts, &conn).await?;
    Ok(())
}

/// What a dry run prints: the target, the file, its statements and the transaction mode. The
/// file (stdin too) is read through, and its refusals reported, as a real run would.
pub fn dry_run(
    target: &Target,
    input: &Input,
    vars: &[String],
    opts: LoadOptions,
) -> anyhow::Result<()> {
    let vars = Vars::from_pairs(vars.iter().map(String::as_str))
        .map_err(|e| crate::error::usage(format!("-v/--set: {e}")))?;
    let stats = Reader::open(input, vars, opts.allows_connect())
        .and_then(Reader::survey)
        .map_err(super::read_error)?;
    println!(
        "would run {} on {}: {} statements ({} COPY blocks, {} files included, {} psql meta-commands skipped), {}",
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
    );
    Ok(())
}

/// Loads a prepared input into the pool's database under the load lock, with a progress bar
/// on a terminal (bytes when the size is known) and a one-line summary on stderr. `conn`
/// opens the databases a `\c` in the file names.
pub async fn load_into(
    db: &Db,
    input: Prepared,
    opts: LoadOptions,
    conn: &ConnectOptions,
) -> anyhow::Result<Summary> {
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
    let result = load::run(&client, input, opts, &bar, &connector).await;
    bar.finish_and_clear();
    let _ = load::unlock(&client).await;
    let summary = result.map_err(|e| {
        if e.exit == crate::error::exit::FAILED {
            anyhow::Error::new(e)
        } else {
            coded(e.exit, e.to_string())
        }
    })?;
    ui::status(&format!(
        "loaded {name} into {}: {summary}",
        db.url.database()
    ));
    Ok(summary)
}

/// Connects to the target database for loading.
pub async fn connect(target: &Target, opts: &ConnectOptions) -> anyhow::Result<Db> {
    Db::connect(target, opts).await
}
