//! `setup`: create the database if missing, then schema and seed, all on the ONE target
//! resolved at the start (the old `setup prod` dropped local and loaded prod).

use crate::cli::SetupArgs;
use crate::load::LoadOptions;
use crate::pg::{ConnectOptions, Db};
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: SetupArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    if args.confirm.dry_run {
        print_plan(&target, &args)?;
        return Ok(());
    }
    crate::protect::confirm(
        &target,
        &args.confirm,
        "set up the database (create, schema, seed)",
    )?;
    setup(&target, &args, &super::connect_options(&args.conn)).await
}

/// Prints what setup would do.
pub fn print_plan(target: &Target, args: &SetupArgs) -> anyhow::Result<()> {
    println!(
        "would create database {:?} on {} if it is missing",
        target.url.database(),
        target.url.maintenance()
    );
    let schema = super::read_script(
        args.schema_file.as_deref(),
        "sql/schema.sql",
        super::SCHEMA_SQL,
    )?;
    super::schema::dry_run(target, &schema, LoadOptions::default());
    if !args.no_seed {
        let seed = super::read_script(args.seed_file.as_deref(), "sql/seed.sql", super::SEED_SQL)?;
        super::schema::dry_run(target, &seed, LoadOptions::default());
    }
    Ok(())
}

/// The steps of setup, every one on `target`.
pub async fn setup(target: &Target, args: &SetupArgs, opts: &ConnectOptions) -> anyhow::Result<()> {
    // Read both files first: a bad path fails before anything is written.
    let schema = super::read_script(
        args.schema_file.as_deref(),
        "sql/schema.sql",
        super::SCHEMA_SQL,
    )?;
    let seed = if args.no_seed {
        None
    } else {
        Some(super::read_script(
            args.seed_file.as_deref(),
            "sql/seed.sql",
            super::SEED_SQL,
        )?)
    };
    super::create::create_if_missing(target, opts).await?;
    let db = Db::connect(target, opts).await?;
    super::schema::load_into(&db, &schema, LoadOptions::default()).await?;
    if let Some(seed) = seed {
        super::schema::load_into(&db, &seed, LoadOptions::default()).await?;
    }
    Ok(())
}
