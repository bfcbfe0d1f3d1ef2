//! Doctor's notes after the checklist: whether the migration history matches the schema, and
//! the scratch databases killed runs left behind. Never fails doctor on their own.

use std::time::Duration;

use crate::commands::context::Run;
use crate::pg::{ConnectOptions, Db};

/// The lines to print: the history's lies (or that it matches), then stale scratch databases.
pub async fn lines(ctx: &Run, timeout: Duration) -> Vec<String> {
    let conn = ConnectOptions {
        connect_timeout: timeout,
        ..ConnectOptions::default()
    };
    let Ok(target) = ctx.target() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(dir) = std::env::current_dir()
        .ok()
        .and_then(|cwd| crate::migrate::default_dir(&cwd))
    {
        let status = async {
            let db = Db::connect(&target, &conn).await?;
            crate::migrate::status(&db, &dir).await
        }
        .await;
        match status {
            Ok(s) if s.lies.is_empty() => out.push(format!(
                "migration history: matches the schema ({})",
                dir.display()
            )),
            Ok(s) => {
                out.push(format!(
                    "migration history: {} migration(s) whose record does not match the schema:",
                    s.lies.len()
                ));
                out.extend(s.lies.iter().map(|l| format!("    {l}")));
            }
            Err(e) => out.push(format!("migration history: not checked: {e:#}")),
        }
    }
    match crate::catalog::side::stale_scratches(&target, &conn).await {
        Ok(stale) if stale.is_empty() => {}
        Ok(stale) => out.push(format!(
            "scratch databases left by killed runs: {} (the next diff or --from-diff on this \
             server drops them; or `cruddur-db drop --url ...` each)",
            stale.join(", ")
        )),
        Err(_) => {}
    }
    out
}
