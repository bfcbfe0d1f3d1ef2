//! `setup`: create the database if missing, then schema and seed, all on the ONE target
//! resolved at the start (the old `setup prod` dropped local and loaded prod).

use crate::cli::SetupArgs;
use crate::lifecycle::{self, SetupFiles};
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: SetupArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let files = SetupFiles::read(
        args.schema_file.as_deref(),
        args.seed_file.as_deref(),
        args.no_seed,
    )?;
    if confirm.dry_run {
        for line in files.plan(&target) {
            println!("{line}");
        }
        return Ok(());
    }
    crate::protect::confirm(
        &target,
        &confirm,
        "set up the database (create, schema, seed)",
    )?;
    lifecycle::setup(&target, &files, &args.conn.options()).await
}
