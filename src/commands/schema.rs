//! `schema [FILE]`: load the schema into the target database.

use crate::cli::LoadArgs;
use crate::lifecycle::{self, SCHEMA_SQL};
use crate::load::LoadOptions;
use crate::pg::Db;
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: LoadArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let file = lifecycle::checkout_file(args.file.as_deref(), |c| c.schema.clone());
    let opts = LoadOptions::one_transaction(!args.run.no_transaction);
    if confirm.dry_run {
        let input = lifecycle::sql_input(file.as_deref(), "sql/schema.sql", SCHEMA_SQL);
        println!(
            "{}",
            lifecycle::describe_load(&target, &input, &args.vars.vars, opts)?
        );
        return Ok(());
    }
    let input = lifecycle::prepare(
        file.as_deref(),
        "sql/schema.sql",
        SCHEMA_SQL,
        &args.vars.vars,
        opts,
    )?;
    lifecycle::require_statements(&input, "schema")?;
    crate::protect::confirm(&target, &confirm, "load the schema (replacing its tables)")?;
    let conn = args.conn.options();
    let db = Db::connect(&target, &conn).await?;
    lifecycle::load(&db, input, opts, &conn).await?;
    Ok(())
}
