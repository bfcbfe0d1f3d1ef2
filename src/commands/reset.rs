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
        if setup.sync_cognito {
            println!(
                "would set the users' Cognito ids from user pool {}",
                setup.cognito.pool_id()?
            );
        }
        return Ok(());
    }
    // NOTE: every input is prepared (stdin read once) before the confirmation and before
    // anything is dropped.
    let mut files = SetupFiles::read(&request)?;
    if setup.sync_cognito {
        // Checked before anything is written: a missing pool id, region or credentials
        // stops here, not after the drop.
        let pool_id = setup.cognito.pool_id()?;
        let aws = crate::aws::Aws::load(&setup.aws.settings()).await?;
        files.cognito = Some((aws, pool_id));
    }
    crate::protect::confirm(
        &target,
        &confirm,
        "reset the database (drop, create, schema, seed, migrations)",
    )?;
    lifecycle::reset(&target, files, &setup.conn.options(), args.force).await
}
