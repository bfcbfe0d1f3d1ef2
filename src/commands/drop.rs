//! `drop`: drop the target database; say who holds it open, or end them with `--force`.

use anyhow::anyhow;
use tokio_postgres::error::SqlState;

use super::create::maintenance_client;
use crate::cli::DropArgs;
use crate::pg::{quote_ident, ConnectOptions};
use crate::target::{Target, TargetRequest};
use crate::ui;

pub async fn run(req: &TargetRequest, args: DropArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    if args.confirm.dry_run {
        println!(
            "would run on {}: DROP DATABASE IF EXISTS {}{}",
            target.url.maintenance(),
            quote_ident(&target.url.database()),
            if args.force { " WITH (FORCE)" } else { "" }
        );
        return Ok(());
    }
    crate::protect::confirm(&target, &args.confirm, "drop the database")?;
    drop_database(&target, &super::connect_options(&args.conn), args.force).await
}

/// Drops the target's database if it exists.
pub async fn drop_database(
    target: &Target,
    opts: &ConnectOptions,
    force: bool,
) -> anyhow::Result<()> {
    let name = target.url.database();
    let (client, exists) = maintenance_client(target, opts).await?;
    if !exists {
        ui::status(&format!(
            "database {name:?} does not exist; nothing to drop"
        ));
        return Ok(());
    }
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await?
        .get(0);
    let mut sql = format!("DROP DATABASE IF EXISTS {}", quote_ident(&name));
    if force {
        if version >= 130000 {
            sql.push_str(" WITH (FORCE)");
        } else {
            client
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&name],
                )
                .await?;
        }
    }
    match client.batch_execute(&sql).await {
        Ok(()) => {
            ui::status(&format!("dropped database {name:?}"));
            Ok(())
        }
        Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) => {
            let sessions = super::sessions::list(&client, Some(&name)).await?;
            let mut msg = format!(
                "cannot drop database {name:?}: {} other session(s) are connected to it:\n{}",
                sessions.len(),
                super::sessions::table(&sessions)
            );
            msg.push_str(
                "\nclose them (stop the app, quit psql), or run `cruddur-db drop --force` to terminate them",
            );
            Err(anyhow!(msg))
        }
        Err(e) => Err(anyhow!(
            "failed to drop database {name:?}: {}",
            crate::pg::describe(&e)
        )),
    }
}
