//! `reset`: drop the database, then setup, on one target.

use crate::cli::ResetArgs;
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: ResetArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let setup = &args.setup;
    if setup.confirm.dry_run {
        println!(
            "would drop database {:?} on {}",
            target.url.database(),
            target.url.maintenance()
        );
        super::setup::print_plan(&target, setup)?;
        return Ok(());
    }
    crate::protect::confirm(
        &target,
        &setup.confirm,
        "reset the database (drop, create, schema, seed)",
    )?;
    // Read the files before dropping anything.
    super::read_script(
        setup.schema_file.as_deref(),
        "sql/schema.sql",
        super::SCHEMA_SQL,
    )?;
    if !setup.no_seed {
        super::read_script(setup.seed_file.as_deref(), "sql/seed.sql", super::SEED_SQL)?;
    }
    let opts = super::connect_options(&setup.conn);
    super::drop::drop_database(&target, &opts, args.force).await?;
    super::setup::setup(&target, setup, &opts).await
}
