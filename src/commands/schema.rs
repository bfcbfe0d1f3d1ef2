//! `schema [FILE]`: load the schema into the target database, and the loading that `seed`,
//! `setup` and `reset` share.

use anyhow::Context;

use crate::cli::LoadArgs;
use crate::load::{self, LoadOptions, Summary};
use crate::pg::{ConnectOptions, Db};
use crate::sql::{Kind, Script};
use crate::target::{Target, TargetRequest};
use crate::ui;

pub async fn run(req: &TargetRequest, args: LoadArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let script = super::read_script(args.file.as_deref(), "sql/schema.sql", super::SCHEMA_SQL)?;
    let opts = LoadOptions {
        transaction: !args.run.no_transaction,
    };
    if args.confirm.dry_run {
        dry_run(&target, &script, opts);
        return Ok(());
    }
    crate::protect::confirm(
        &target,
        &args.confirm,
        "load the schema (replacing its tables)",
    )?;
    let db = Db::connect(&target, &super::connect_options(&args.conn)).await?;
    load_into(&db, &script, opts).await?;
    Ok(())
}

/// What a dry run prints: the target, the file, its statements and the transaction mode.
pub fn dry_run(target: &Target, script: &Script, opts: LoadOptions) {
    let copies = script
        .statements
        .iter()
        .filter(|s| matches!(s.kind, Kind::Copy { .. }))
        .count();
    let skipped = script.statements.len() - script.runnable();
    println!(
        "would run {} on {}: {} statements ({} COPY blocks, {} psql meta-commands skipped), {}",
        script.name,
        target.url,
        script.runnable(),
        copies,
        skipped,
        if opts.transaction {
            "in one transaction"
        } else {
            "each in its own transaction (--no-transaction)"
        }
    );
}

/// Loads a script into the pool's database under the load lock, with a progress bar on a
/// terminal and a one-line summary on stderr.
pub async fn load_into(db: &Db, script: &Script, opts: LoadOptions) -> anyhow::Result<Summary> {
    let client = db.get().await?;
    load::lock(&client, &db.url.database())
        .await
        .context("failed to take the load lock")?;
    let bar = ui::bar(script.runnable() as u64, "statements");
    bar.set_message(script.name.clone());
    let result = load::run(&client, script, opts, &bar).await;
    bar.finish_and_clear();
    let _ = load::unlock(&client).await;
    let summary = result?;
    ui::status(&format!(
        "loaded {} into {}: {summary}",
        script.name,
        db.url.database()
    ));
    Ok(summary)
}

/// Connects to the target database for loading.
pub async fn connect(target: &Target, opts: &ConnectOptions) -> anyhow::Result<Db> {
    Db::connect(target, opts).await
}
