//! `iam-token`: an RDS IAM authentication token for the target's host, port and user, on
//! stdout, as `aws rds generate-db-auth-token` prints it. It is a password for 15 minutes.

use crate::commands::context::Run;
use crate::creds::{Credentials, Creds, Login};

pub async fn run(ctx: &Run) -> anyhow::Result<()> {
    let target = ctx.target()?;
    // NOTE: the token is for the URL's user, whatever --iam or --password-secret say.
    let creds = Creds::new(Credentials::Iam, ctx.req.aws_settings());
    let Login::Iam(tokens) = creds.login(&target.url).await? else {
        unreachable!("BUG: Credentials::Iam always logs in with tokens")
    };
    let token = tokens.token(&target.url).await?;
    crate::ui::status(&format!(
        "RDS IAM token for {} (region {}), valid for 15 minutes",
        target.url.short(),
        tokens.region()
    ));
    crate::ui::outln!("{token}")?;
    Ok(())
}
