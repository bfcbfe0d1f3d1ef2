//! `sync-cognito`: set the users' Cognito ids from the user pool (the bootcamp's
//! `update_cognito_user_ids`, every page, in one transaction, on the one target).

use crate::aws::Aws;
use crate::cli::SyncCognitoArgs;
use crate::pg::Db;
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: SyncCognitoArgs) -> anyhow::Result<()> {
    // Everything that needs no call first: the target, the pool id, then the AWS configuration
    // (a missing region or credentials is exit 2 before any call).
    let target = Target::from_env(req)?;
    let pool_id = args.cognito.pool_id()?;
    let confirm = args.confirm.plain();
    let aws = Aws::load(&req.aws_settings()).await?;
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
