//! `reset`: drop the database, then setup, on one target. Every input is read (stdin once)
//! and checked before anything is dropped.

use crate::cli::ResetArgs;
use crate::lifecycle::{self, SetupFiles};
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: ResetArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let setup = &args.setup;
    let confirm = setup.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let files = SetupFiles::read(
        setup.schema_file.as_deref(),
        setup.seed_file.as_deref(),
        setup.no_seed,
    )?;
    if confirm.dry_run {
        println!(
            "would drop database {:?} on {}{}",
            target.url.database(),
            target.url.maintenance(),
            if args.force {
                " (terminating its other sessions)"
            } else {
                ""
            }
        );
        for line in files.plan(&target) {
            println!("{line}");
        }
        return Ok(());
    }
    crate::protect::confirm(
        &target,
        &confirm,
        "reset the database (drop, create, schema, seed)",
    )?;
    lifecycle::reset(&target, &files, &setup.conn.options(), args.force).await
}
