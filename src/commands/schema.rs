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
    let script = lifecycle::read_script(file.as_deref(), "sql/schema.sql", SCHEMA_SQL)?;
    lifecycle::require_statements(&script, "schema")?;
    let opts = LoadOptions {
        transaction: !args.run.no_transaction,
    };
    if confirm.dry_run {
        println!("{}", lifecycle::describe_load(&target, &script, opts));
        return Ok(());
    }
    crate::protect::confirm(&target, &confirm, "load the schema (replacing its tables)")?;
    let db = Db::connect(&target, &args.conn.options()).await?;
    lifecycle::load(&db, &script, opts).await?;
    Ok(())
}
