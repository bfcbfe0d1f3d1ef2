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
    let request = setup.request(req.aws_settings())?;
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
    let files = SetupFiles::prepare(&request).await?;
    crate::protect::confirm(
        &target,
        &confirm,
        "reset the database (drop, create, schema, seed, migrations)",
    )?;
    lifecycle::reset(&target, files, &setup.conn.options(), args.force).await
}
