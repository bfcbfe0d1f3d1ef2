//! `create`: create the target database, or say that it exists.

use crate::cli::CreateArgs;
use crate::pg::{quote_ident, ConnectOptions, Db};
use crate::target::{Target, TargetRequest};
use crate::ui;

pub async fn run(req: &TargetRequest, args: CreateArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let opts = super::connect_options(&args.conn);
    if args.dry_run {
        println!(
            "would run on {}: CREATE DATABASE {} (if it does not exist)",
            target.url.maintenance(),
            quote_ident(&target.url.database())
        );
        return Ok(());
    }
    create_if_missing(&target, &opts).await?;
    Ok(())
}

/// A connection to the maintenance database of the target's server, and whether the target's
/// database exists.
pub async fn maintenance_client(
    target: &Target,
    opts: &ConnectOptions,
) -> anyhow::Result<(deadpool_postgres::Object, bool)> {
    let admin = Db::connect_maintenance(target, opts).await?;
    let client = admin.get().await?;
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&target.url.database()],
        )
        .await?
        .is_some();
    Ok((client, exists))
}

/// Creates the target's database unless it exists; true when it was created.
pub async fn create_if_missing(target: &Target, opts: &ConnectOptions) -> anyhow::Result<bool> {
    let name = target.url.database();
    let (client, exists) = maintenance_client(target, opts).await?;
    if exists {
        ui::status(&format!(
            "database {name:?} already exists on {}:{}; nothing to do",
            target.url.host(),
            target.url.port()
        ));
        return Ok(false);
    }
    match client
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
        .await
    {
        Ok(()) => {
            ui::status(&format!(
                "created database {name:?} on {}:{}",
                target.url.host(),
                target.url.port()
            ));
            Ok(true)
        }
        // Someone else created it between our check and our CREATE.
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {
            ui::status(&format!("database {name:?} already exists; nothing to do"));
            Ok(false)
        }
        Err(e) => Err(anyhow::anyhow!(
            "failed to create database {name:?} on {}: {}",
            target.url,
            crate::pg::describe(&e)
        )),
    }
}
