//! `setup`: create the database if missing, then schema, seed, migrations (and Cognito ids),
//! all on the ONE target resolved at the start (the old `setup prod` dropped local and loaded
//! prod).

use crate::cli::SetupArgs;
use crate::lifecycle::{self, SetupFiles};
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: SetupArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let request = args.request(req.aws_settings())?;
    if confirm.dry_run {
        for line in request.plan(&target)? {
            println!("{line}");
        }
        return Ok(());
    }
    // NOTE: every input is prepared (stdin read once) before the confirmation.
    let files = SetupFiles::prepare(&request).await?;
    crate::protect::confirm(
        &target,
        &confirm,
        "set up the database (create, schema, seed, migrations)",
    )?;
    lifecycle::setup(&target, files, &args.conn.options()).await
}
