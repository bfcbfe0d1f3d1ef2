//! `reset`: drop the database, then setup, on one target. Every input is read (stdin once)
//! and checked before anything is dropped.

use crate::cli::ResetArgs;
use crate::lifecycle::{self, SetupFiles, SetupRequest};
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: ResetArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let setup = &args.setup;
    let confirm = setup.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let request = SetupRequest {
        schema_file: setup.schema_file.clone(),
        seed_file: setup.seed_file.clone(),
        no_seed: setup.no_seed,
        migrations_dir: setup.migrations_dir.clone(),
        no_migrate: setup.no_migrate,
        vars: setup.vars.vars.clone(),
    };
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
        for line in request.plan(&target)? {
            println!("{line}");
        }
        return Ok(());
    }
    // NOTE: every input is prepared (stdin read once) before the confirmation and before
    // anything is dropped.
    let files = SetupFiles::read(&request)?;
    crate::protect::confirm(
        &target,
        &confirm,
        "reset the database (drop, create, schema, seed, migrations)",
    )?;
    lifecycle::reset(&target, files, &setup.conn.options(), args.force).await
}
