//! `setup`: create the database if missing, then schema, seed, migrations (and Cognito ids),
//! all on the ONE target resolved at the start (the old `setup prod` dropped local and loaded
//! prod).

use super::loading;
use crate::cli::SetupArgs;
use crate::commands::context::Run;
use crate::lifecycle;

pub async fn run(ctx: &Run, args: SetupArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let request = args.request(ctx.req.aws_settings())?;
    let action = "set up the database (create, schema, seed, migrations)";
    let conn = args.conn.options();
    match loading::plan_or_read(&target, &request, &confirm, None, action, &conn).await? {
        Some(files) => lifecycle::workflow::setup(&target, files, &args.conn.options()).await,
        None => Ok(()),
    }
}
