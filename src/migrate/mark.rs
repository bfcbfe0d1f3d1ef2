//! `migrate mark`: records migrations as applied (or not) without running them, for a
//! database that already has their changes (made by hand, by `--from-diff`'s source, by a
//! restore) or lacks them. As Atlas `migrate set`, Alembic `stamp` and Flyway `baseline`.

use std::time::Duration;

use anyhow::Context;
use tokio_postgres::Client;

use super::file::{self, Migration};
use super::store;
use super::version::Version;
use crate::error::usage;
use crate::pg::Db;
use crate::sql::quote;

/// One migration named on the command line: its file, or only its recorded version (a file
/// that is gone can still be unapplied).
#[derive(Debug, Clone)]
pub struct Named {
    pub version: String,
    pub name: String,
    /// `None`: no file in the directory (only `--unapply` takes it, from the record).
    pub migration: Option<Migration>,
}

impl Named {
    fn label(&self) -> String {
        format!("{}_{}", self.version, self.name)
    }
}

/// What a mark did, per migration.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub changed: Vec<String>,
    /// Already in the state asked for: nothing written for them.
    pub unchanged: Vec<String>,
}

/// Finds each of `wanted` (a stamp, a file name, or a file name without extension) among
/// the files, else (for `--unapply`) among the recorded rows. Unknown names are refused
/// before anything is read from the database.
pub fn resolve(
    migrations: &[Migration],
    recorded: &[(String, String)],
    wanted: &[String],
    unapply: bool,
) -> anyhow::Result<Vec<Named>> {
    let mut out: Vec<Named> = Vec::new();
    for w in wanted {
        let w = w.trim();
        let stem = w.rsplit_once('.').map_or(w, |(s, _)| s);
        let found = migrations.iter().find(|m| {
            m.version.stamp == w
                || m.file_name == w
                || m.file_name.rsplit_once('.').is_some_and(|(s, _)| s == stem)
        });
        let named = match found {
            Some(m) => Named {
                version: m.version.stamp.clone(),
                name: m.name.clone(),
                migration: Some(m.clone()),
            },
            None => match recorded
                .iter()
                .find(|(v, n)| v == w || format!("{v}_{n}") == stem)
            {
                Some((v, n)) if unapply => Named {
                    version: v.clone(),
                    name: n.clone(),
                    migration: None,
                },
                _ => {
                    return Err(usage(format!(
                        "no migration {w:?} in the migrations directory; give its version (the \
                         digits its file name starts with) or its file name; `cruddur-db \
                         migrate status` lists them; nothing was changed"
                    )))
                }
            },
        };
        if !out.iter().any(|n| n.version == named.version) {
            out.push(named);
        }
    }
    Ok(out)
}

/// Records `names` as applied (or, `unapply`, as not applied) in one transaction under the
/// migration lock, with their checksums, keeping the bootcamp's pointer in step. `confirm`
/// sees the migrations that would change before anything is written.
pub async fn mark(
    db: &Db,
    dir: &std::path::Path,
    wanted: &[String],
    unapply: bool,
    lock_timeout: Duration,
    confirm: impl FnOnce(&[String]) -> anyhow::Result<()>,
) -> anyhow::Result<Report> {
    let migrations = file::discover(dir)?;
    let client = db.get().await?;
    let recorded = store::recorded(&client).await?.unwrap_or_default();
    let names = resolve(&migrations, &recorded, wanted, unapply)?;
    let state = store::read(&client, &migrations).await?;
    let is_applied = |v: &str| state.applied.iter().any(|a| a.version.stamp == v);
    let to_change: Vec<String> = names
        .iter()
        .filter(|n| is_applied(&n.version) == unapply)
        .map(Named::label)
        .collect();
    if !to_change.is_empty() {
        confirm(&to_change)?;
    }
    let database = db.url.database();
    store::lock(&client, &database, lock_timeout).await?;
    let result = locked(&client, &migrations, &names, unapply).await;
    store::unlock(&client).await;
    result
}

async fn locked(
    client: &Client,
    migrations: &[Migration],
    names: &[Named],
    unapply: bool,
) -> anyhow::Result<Report> {
    let mut state = store::read(client, migrations).await?;
    if state.needs_init() {
        store::init(client, state.to_adopt()).await?;
        state = store::read(client, migrations).await?;
    }
    let mut applied: Vec<(Version, String)> = state
        .applied
        .iter()
        .map(|a| (a.version.clone(), a.file.clone()))
        .collect();
    let mut report = Report::default();
    let mut sql = String::from("BEGIN;\n");
    let os_user = store::os_user();
    for n in names {
        let is_applied = applied.iter().any(|(v, _)| v.stamp == n.version);
        if is_applied != unapply {
            report.unchanged.push(n.label());
            continue;
        }
        if unapply {
            sql.push_str(&format!(
                "DELETE FROM {} WHERE version = {};\n",
                store::TABLE,
                quote::literal(&n.version)
            ));
            applied.retain(|(v, _)| v.stamp != n.version);
        } else {
            let m = n
                .migration
                .as_ref()
                .context("BUG: a migration to record has its file")?;
            sql.push_str(&format!(
                "INSERT INTO {} (version, name, file, checksum, execution_ms, applied_by_os, \
                 adopted) VALUES ({}, {}, {}, {}, NULL, {}, true);\n",
                store::TABLE,
                quote::literal(&m.version.stamp),
                quote::literal(&m.name),
                quote::literal(&m.file_name),
                quote::literal(&m.checksum),
                os_user
                    .as_deref()
                    .map_or_else(|| "NULL".to_string(), quote::literal),
            ));
            applied.push((m.version.clone(), m.file_name.clone()));
        }
        report.changed.push(n.label());
    }
    if report.changed.is_empty() {
        return Ok(report);
    }
    if state.pointer.is_some() {
        let p = quote::literal(&store::pointer_value(
            applied.iter().map(|(v, f)| (v, f.as_str())),
        ));
        sql.push_str(&format!(
            "UPDATE public.schema_information SET last_successful_run = {p} WHERE id = 1;\n"
        ));
    }
    sql.push_str("COMMIT;");
    if let Err(e) = client.batch_execute(&sql).await {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(anyhow::Error::new(crate::pg::Described(e))).with_context(|| {
            format!(
                "failed to record the migrations in {}; nothing was changed",
                store::TABLE
            )
        });
    }
    Ok(report)
}
