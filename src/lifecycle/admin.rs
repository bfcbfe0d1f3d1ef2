//! Database administration on a target's server: create and drop its database, and see who
//! holds it open.

use anyhow::anyhow;
use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::pg::{quote_ident, ConnectOptions, Db};
use crate::target::Target;
use crate::ui;

/// A connection to the maintenance database of the target's server, and whether the target's
/// database exists.
async fn maintenance_client(
    target: &Target,
    opts: &ConnectOptions,
) -> anyhow::Result<(deadpool_postgres::Object, bool)> {
    let admin = Db::connect_maintenance(target, opts).await?;
    let client = admin.get().await?;
    let exists = database_exists(&client, &target.url.database()).await?;
    Ok((client, exists))
}

async fn database_exists(client: &Client, name: &str) -> anyhow::Result<bool> {
    Ok(client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some())
}

/// What [`create_if_missing`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    /// The database was there already (or another run created it at the same moment).
    Existed,
}

/// Creates the target's database unless it exists. Says what it did only when it created
/// one: what "exists" means depends on the caller.
pub async fn create_if_missing(target: &Target, opts: &ConnectOptions) -> anyhow::Result<Created> {
    let name = target.url.database();
    let (client, exists) = maintenance_client(target, opts).await?;
    if exists {
        return Ok(Created::Existed);
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
            Ok(Created::Created)
        }
        // Someone else created it between our check and our CREATE. NOTE: PostgreSQL reports
        // that race as 42P04 or, when both CREATEs reach the catalog together, as a unique
        // violation (23505) on pg_database's name index.
        Err(e) if is_create_race(&e) && database_exists(&client, &name).await? => {
            Ok(Created::Existed)
        }
        Err(e) => Err(anyhow::Error::new(crate::pg::Described(e)).context(format!(
            "failed to create database {name:?} on {}",
            target.url
        ))),
    }
}

fn is_create_race(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::DUPLICATE_DATABASE || *c == SqlState::UNIQUE_VIOLATION
    )
}

/// What [`drop_database`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    Dropped,
    Missing,
}

/// Drops the target's database if it exists. Without `force`, other sessions make it fail at
/// once with a table of who they are (PostgreSQL itself would wait 5 s in silence first);
/// with `force` they are terminated.
pub async fn drop_database(
    target: &Target,
    opts: &ConnectOptions,
    force: bool,
) -> anyhow::Result<Dropped> {
    let name = target.url.database();
    let (client, exists) = maintenance_client(target, opts).await?;
    if !exists {
        ui::status(&format!(
            "database {name:?} does not exist; nothing to drop"
        ));
        return Ok(Dropped::Missing);
    }
    if !force {
        let others = lingering_sessions(&client, &name).await?;
        if !others.is_empty() {
            return Err(in_use(&name, &others));
        }
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
            Ok(Dropped::Dropped)
        }
        Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) => {
            Err(in_use(&name, &sessions(&client, Some(&name)).await?))
        }
        Err(e) => Err(anyhow::Error::new(crate::pg::Described(e))
            .context(format!("failed to drop database {name:?}"))),
    }
}

fn in_use(name: &str, sessions: &[Session]) -> anyhow::Error {
    anyhow!(
        "cannot drop database {name:?}: {} other session(s) are connected to it:\n{}\nclose them \
         (stop the app, quit psql), or run `cruddur-db drop --force` to terminate them; nothing \
         was dropped",
        sessions.len(),
        sessions_table(sessions)
    )
}

/// One client session of the server.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub pid: i32,
    pub user: Option<String>,
    pub database: Option<String>,
    pub client: Option<String>,
    pub application: Option<String>,
    pub state: Option<String>,
}

/// The other sessions on `database` that are still there after a moment. NOTE: a session that
/// just ended (psql quit a moment ago, a pooled connection of a run that just finished) stays
/// listed until its backend has exited; such sessions get two seconds before they are named,
/// as DROP and CREATE DATABASE themselves wait a little for them.
pub async fn lingering_sessions(client: &Client, database: &str) -> anyhow::Result<Vec<Session>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut others = sessions(client, Some(database)).await?;
    while !others.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        others = sessions(client, Some(database)).await?;
    }
    Ok(others)
}

/// Client sessions (no background workers), on one database or all, without our own.
pub async fn sessions(client: &Client, database: Option<&str>) -> anyhow::Result<Vec<Session>> {
    let rows = client
        .query(
            "SELECT pid, usename::text, datname::text, \
                    COALESCE(host(client_addr) || ':' || client_port, 'local'), \
                    application_name, state \
             FROM pg_stat_activity \
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() \
               AND ($1::text IS NULL OR datname = $1) \
             ORDER BY datname, pid",
            &[&database],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Session {
            pid: r.get(0),
            user: r.get(1),
            database: r.get(2),
            client: r.get(3),
            application: r.get::<_, Option<String>>(4).filter(|a| !a.is_empty()),
            state: r.get(5),
        })
        .collect())
}

/// The sessions as an aligned table with a header.
pub fn sessions_table(sessions: &[Session]) -> String {
    let rows: Vec<[String; 6]> = sessions
        .iter()
        .map(|s| {
            let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            [
                s.pid.to_string(),
                o(&s.user),
                o(&s.database),
                o(&s.client),
                o(&s.application),
                o(&s.state),
            ]
        })
        .collect();
    ui::table(
        &["PID", "USER", "DATABASE", "CLIENT", "APPLICATION", "STATE"],
        &rows,
    )
}
