//! `sync-cognito`: set the users' Cognito ids from the user pool (the bootcamp's
//! `update_cognito_user_ids`, every page, in one transaction, on the one target).

use crate::aws::Aws;
use crate::cli::SyncCognitoArgs;
use crate::commands::context::Run;
use crate::pg::Db;

pub async fn run(ctx: &Run, args: SyncCognitoArgs) -> anyhow::Result<()> {
    // Everything that needs no call first: the target, the pool id, then the AWS configuration
    // (a missing region or credentials is exit 2 before any call).
    let target = ctx.target()?;
    let pool_id = args.cognito.pool_id()?;
    let confirm = args.confirm.plain();
    let aws = Aws::load(&ctx.req.aws_settings()).await?;
    crate::protect::confirm(
        &target,
        &confirm,
        &format!("set the users' Cognito ids from user pool {pool_id}"),
    )?;
    let db = Db::connect(&target, &args.conn.options()).await?;
    crate::lifecycle::loading::require_schema(&db).await?;
    let report = crate::sync::sync_cognito(&db, &aws, &pool_id, confirm.dry_run).await?;
    if args.output.json {
        crate::ui::outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        crate::ui::out!("{}", report.text())?;
    }
    Ok(())
}
