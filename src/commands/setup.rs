//! `setup`: create the database if missing, then schema and seed, all on the ONE target
//! resolved at the start (the old `setup prod` dropped local and loaded prod).

use std::path::Path;

use crate::cli::SetupArgs;
use crate::error::usage;
use crate::load::LoadOptions;
use crate::pg::{ConnectOptions, Db};
use crate::sql::input::Prepared;
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: SetupArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    if args.confirm.dry_run {
        print_plan(&target, &args)?;
        return Ok(());
    }
    let inputs = prepare(&args)?;
    crate::protect::confirm(
        &target,
        &args.confirm,
        "set up the database (create, schema, seed)",
    )?;
    setup(&target, inputs, &super::connect_options(&args.conn)).await
}

/// Prints what setup would do.
pub fn print_plan(target: &Target, args: &SetupArgs) -> anyhow::Result<()> {
    println!(
        "would create database {:?} on {} if it is missing",
        target.url.database(),
        target.url.maintenance()
    );
    refuse_stdin_twice(args)?;
    let schema = super::sql_input(
        args.schema_file.as_deref(),
        "sql/schema.sql",
        super::SCHEMA_SQL,
    );
    super::schema::dry_run(target, &schema, &args.vars.vars, LoadOptions::default())?;
    if !args.no_seed {
        let seed = super::sql_input(args.seed_file.as_deref(), "sql/seed.sql", super::SEED_SQL);
        super::schema::dry_run(target, &seed, &args.vars.vars, LoadOptions::default())?;
    }
    Ok(())
}

/// The schema and seed inputs of setup, prepared before anything is written.
pub struct Inputs {
    pub schema: Prepared,
    pub seed: Option<Prepared>,
}

fn refuse_stdin_twice(args: &SetupArgs) -> anyhow::Result<()> {
    let stdin = |f: &Option<std::path::PathBuf>| f.as_deref() == Some(Path::new("-"));
    if stdin(&args.schema_file) && stdin(&args.seed_file) && !args.no_seed {
        return Err(usage(
            "--schema-file - and --seed-file - cannot both read stdin; give one of them a file",
        ));
    }
    Ok(())
}

/// Reads both files first (with their includes): a bad path, a refused meta-command or an
/// unset variable fails before anything is written. Stdin is read once.
pub fn prepare(args: &SetupArgs) -> anyhow::Result<Inputs> {
    refuse_stdin_twice(args)?;
    let schema = super::prepare_sql(
        args.schema_file.as_deref(),
        "sql/schema.sql",
        super::SCHEMA_SQL,
        &args.vars.vars,
        LoadOptions::default(),
    )?;
    let seed = if args.no_seed {
        None
    } else {
        Some(super::prepare_sql(
            args.seed_file.as_deref(),
            "sql/seed.sql",
            super::SEED_SQL,
            &args.vars.vars,
            LoadOptions::default(),
        )?)
    };
    Ok(Inputs { schema, seed })
}

/// The steps of setup, every one on `target`.
pub async fn setup(target: &Target, inputs: Inputs, opts: &ConnectOptions) -> anyhow::Result<()> {
    super::create::create_if_missing(target, opts).await?;
    let db = Db::connect(target, opts).await?;
    super::schema::load_into(&db, inputs.schema, LoadOptions::default(), opts).await?;
    if let Some(seed) = inputs.seed {
        super::schema::load_into(&db, seed, LoadOptions::default(), opts).await?;
    }
    Ok(())
}
