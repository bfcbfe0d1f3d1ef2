//! `setup`: create the database if missing, then schema and seed, all on the ONE target
//! resolved at the start (the old `setup prod` dropped local and loaded prod).

use crate::cli::SetupArgs;
use crate::lifecycle::{self, SetupFiles, SetupRequest};
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: SetupArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let files = SetupFiles::read(&SetupRequest {
        schema_file: args.schema_file.clone(),
        seed_file: args.seed_file.clone(),
        no_seed: args.no_seed,
        migrations_dir: args.migrations_dir.clone(),
        no_migrate: args.no_migrate,
    })?;
    if confirm.dry_run {
        for line in files.plan(&target) {
            println!("{line}");
        }
        return Ok(());
    }
    crate::protect::confirm(
        &target,
        &confirm,
        "set up the database (create, schema, seed, migrations)",
    )?;
    lifecycle::setup(&target, &files, &args.conn.options()).await
}
