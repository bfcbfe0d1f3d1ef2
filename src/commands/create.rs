//! `create`: create the target database, or say that it exists.

use crate::cli::CreateArgs;
use crate::commands::context::Run;
use crate::lifecycle::{self, admin::Created};
use crate::sql::quote;
use crate::ui;

pub async fn run(ctx: &Run, args: CreateArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    if args.dry.dry_run {
        crate::ui::outln!(
            "would run on {}: CREATE DATABASE {} (if it does not exist)",
            target.url.maintenance(),
            quote::ident(&target.url.database())
        )?;
        return Ok(());
    }
    if lifecycle::admin::create_if_missing(&target, &args.conn.options()).await? == Created::Existed
    {
        ui::status(&format!(
            "database {:?} already exists on {}:{}; nothing to do",
            target.url.database(),
            target.url.host(),
            target.url.port()
        ));
    }
    Ok(())
}
