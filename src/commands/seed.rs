//! `seed [FILE]`: load seed data; the built-in seed refuses when the schema's tables are
//! missing.

use crate::cli::LoadArgs;
use crate::lifecycle::{self, SEED_SQL};
use crate::load::LoadOptions;
use crate::pg::Db;
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: LoadArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let file = lifecycle::checkout_file(args.file.as_deref(), |c| c.seed.clone());
    let opts = LoadOptions::one_transaction(!args.run.no_transaction);
    if confirm.dry_run {
        let input = lifecycle::sql_input(file.as_deref(), "sql/seed.sql", SEED_SQL);
        println!(
            "{}",
            lifecycle::describe_load(&target, &input, &args.vars.vars, opts)?
        );
        return Ok(());
    }
    let input = lifecycle::prepare(
        file.as_deref(),
        "sql/seed.sql",
        SEED_SQL,
        &args.vars.vars,
        opts,
    )?;
    lifecycle::warn_if_empty(&input);
    crate::protect::confirm(&target, &confirm, "load seed data")?;
    let conn = args.conn.options();
    let db = Db::connect(&target, &conn).await?;
    if file.is_none() {
        lifecycle::require_schema(&db).await?;
    }
    lifecycle::load(&db, input, opts, &conn).await?;
    Ok(())
}
