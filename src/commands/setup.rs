//! `setup`: create the database if missing, then schema and seed, all on the ONE target
//! resolved at the start (the old `setup prod` dropped local and loaded prod).

use crate::cli::SetupArgs;
use crate::lifecycle::{self, SetupFiles, SetupRequest};
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: SetupArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let request = SetupRequest {
        schema_file: args.schema_file.clone(),
        seed_file: args.seed_file.clone(),
        no_seed: args.no_seed,
        migrations_dir: args.migrations_dir.clone(),
        no_migrate: args.no_migrate,
        vars: args.vars.vars.clone(),
    };
    if confirm.dry_run {
        for line in request.plan(&target)? {
            println!("{line}");
        }
        if args.sync_cognito {
            println!(
                "would set the users' Cognito ids from user pool {}",
                args.cognito.pool_id()?
            );
        }
        return Ok(());
    }
    // NOTE: every input is prepared (stdin read once) before the confirmation and before
    // anything is dropped.
    let mut files = SetupFiles::read(&request)?;
    if args.sync_cognito {
        // Checked before anything is written: a missing pool id, region or credentials
        // stops here, not after the drop.
        let pool_id = args.cognito.pool_id()?;
        let aws = crate::aws::Aws::load(&args.aws.settings()).await?;
        files.cognito = Some((aws, pool_id));
    }
    crate::protect::confirm(
        &target,
        &confirm,
        "set up the database (create, schema, seed, migrations)",
    )?;
    lifecycle::setup(&target, files, &args.conn.options()).await
}
