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
    // Read the files (stdin once) before dropping anything.
    let inputs = super::setup::prepare(setup)?;
    let opts = super::connect_options(&setup.conn);
    super::drop::drop_database(&target, &opts, args.force).await?;
    super::setup::setup(&target, inputs, &opts).await
}
