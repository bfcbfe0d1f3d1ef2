//! `sessions`: who is connected to the target database.

use crate::cli::SessionsArgs;
use crate::commands::context::Run;
use crate::lifecycle;
use crate::pg::Db;

pub async fn run(ctx: &Run, args: SessionsArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let admin = Db::connect_maintenance(&target, &args.conn.options()).await?;
    let client = admin.get().await?;
    let db = target.url.database();
    let sessions = lifecycle::admin::sessions(&client, (!args.all).then_some(db.as_str())).await?;
    if args.output.json {
        crate::ui::outln!("{}", serde_json::to_string_pretty(&sessions)?)?;
    } else if sessions.is_empty() {
        crate::ui::status(&format!(
            "no other sessions on {}",
            if args.all {
                "the server".to_string()
            } else {
                format!("database {db:?}")
            }
        ));
    } else {
        crate::ui::out!("{}", lifecycle::admin::sessions_table(&sessions))?;
    }
    Ok(())
}
