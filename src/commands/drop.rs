//! `drop`: drop the target database; say who holds it open, or end them with `--force`.

use crate::cli::DropArgs;
use crate::commands::context::Run;
use crate::lifecycle;
use crate::sql::quote;

pub async fn run(ctx: &Run, args: DropArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let confirm = args.confirm.plain();
    crate::protect::confirm(&target, &confirm, "drop the database")?;
    if confirm.dry_run {
        crate::ui::outln!(
            "would run on {}: DROP DATABASE IF EXISTS {}{}",
            target.url.maintenance(),
            quote::ident(&target.url.database()),
            if args.force { " WITH (FORCE)" } else { "" }
        )?;
        return Ok(());
    }
    lifecycle::admin::drop_database(&target, &args.conn.options(), args.force).await?;
    Ok(())
}
