//! `reset`: drop the database, then setup, on one target. Every input is read (stdin once)
//! and checked before anything is dropped.

use super::loading;
use crate::cli::ResetArgs;
use crate::commands::context::Run;
use crate::lifecycle;

pub async fn run(ctx: &Run, args: ResetArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let setup = &args.setup;
    let confirm = setup.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let request = setup.request(ctx.req.aws_settings())?;
    let drop = format!(
        "would drop database {:?} on {}{}",
        target.url.database(),
        target.url.maintenance(),
        if args.force {
            " (terminating its other sessions)"
        } else {
            ""
        }
    );
    let action = "reset the database (drop, create, schema, seed, migrations)";
    // NOTE: every input is read (stdin read once) before the confirmation and before
    // anything is dropped.
    let conn = setup.conn.options();
    match loading::plan_or_read(&target, &request, &confirm, Some(drop), action, &conn).await? {
        Some(files) => {
            lifecycle::workflow::reset(&target, files, &setup.conn.options(), args.force).await
        }
        None => Ok(()),
    }
}
