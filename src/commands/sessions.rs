//! `sessions`: who is connected to the target database.

use serde::Serialize;
use tokio_postgres::Client;

use crate::cli::SessionsArgs;
use crate::pg::Db;
use crate::target::{Target, TargetRequest};

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

pub async fn run(req: &TargetRequest, args: SessionsArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let admin = Db::connect_maintenance(&target, &super::connect_options(&args.conn)).await?;
    let client = admin.get().await?;
    let db = target.url.database();
    let sessions = list(&client, (!args.all).then_some(db.as_str())).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&sessions)?);
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
        print!("{}", table(&sessions));
    }
    Ok(())
}

/// Client sessions (no background workers), on one database or all, without our own.
pub async fn list(client: &Client, database: Option<&str>) -> anyhow::Result<Vec<Session>> {
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
pub fn table(sessions: &[Session]) -> String {
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
    crate::ui::table(
        &["PID", "USER", "DATABASE", "CLIENT", "APPLICATION", "STATE"],
        &rows,
    )
}
