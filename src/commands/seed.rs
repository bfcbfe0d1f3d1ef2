//! `seed [FILE]`: load seed data; refuses when the schema's tables are missing.

use crate::cli::LoadArgs;
use crate::error::usage;
use crate::load::LoadOptions;
use crate::pg::Db;
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: LoadArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let opts = LoadOptions::one_transaction(!args.run.no_transaction);
    if args.confirm.dry_run {
        let input = super::sql_input(args.file.as_deref(), "sql/seed.sql", super::SEED_SQL);
        return super::schema::dry_run(&target, &input, &args.vars.vars, opts);
    }
    let input = super::prepare_sql(
        args.file.as_deref(),
        "sql/seed.sql",
        super::SEED_SQL,
        &args.vars.vars,
        opts,
    )?;
    crate::protect::confirm(&target, &args.confirm, "load seed data")?;
    let conn = super::connect_options(&args.conn);
    let db = Db::connect(&target, &conn).await?;
    if args.file.is_none() {
        require_schema(&db).await?;
    }
    super::schema::load_into(&db, input, opts, &conn).await?;
    Ok(())
}

/// The tables of the built-in schema that the built-in seed writes to.
pub const SCHEMA_TABLES: &[&str] = &["public.users", "public.activities"];

/// Fails with a clear message unless the schema's tables exist.
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
