//! Local snapshots: a copy of the target database kept on the same server as a database made
//! with `CREATE DATABASE ... TEMPLATE`, under a reserved name, with its metadata (what it is a
//! copy of, its name, time, git branch and commit, last migration) in the database's comment:
//! nothing is kept outside the server. `save`, `restore`, `list`, `drop`; `switch` is the git
//! hook's (save the branch being left, restore the one checked out).

use anyhow::anyhow;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::error::usage;
use crate::lifecycle::admin::{lingering_sessions, sessions, sessions_table, Session};
use crate::pg::{ConnectOptions, Db};
use crate::sql::quote::ident as quote_ident;
use crate::target::Target;
use crate::ui;

pub mod git;
mod restore;
mod switch;

pub use restore::restore;
pub use switch::switch;

/// Every snapshot database's name starts with this; nothing else may use it.
pub const PREFIX: &str = "cruddur_snapshot_";

/// Snapshots larger than this are copied with `STRATEGY = FILE_COPY` (one checkpoint, then
/// the files), smaller ones with `WAL_LOG` (block by block through the WAL, no checkpoint).
/// Measured on this project's benchmark machine (BENCHMARKS.md, "snapshot"): WAL_LOG wins
/// up to about 30 MB and loses from there on (equal at 30 MB, 1.2x slower at 63 MB).
pub const FILE_COPY_FROM_BYTES: i64 = 32 * 1024 * 1024;

/// What the comment of a snapshot database says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    /// Marks the comment as ours, and its format.
    pub cruddur_db_snapshot: u32,
    /// The database it is a copy of.
    pub of: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub branch: Option<String>,
    pub commit: Option<String>,
    /// The newest migration recorded as applied in the copy, if any.
    pub last_migration: Option<String>,
    /// Snapshots the save that made this one pruned (`--keep`), oldest first.
    #[serde(default)]
    pub pruned: Vec<Pruned>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Pruned {
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A snapshot found on the server.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// The snapshot database's own name.
    pub database: String,
    pub size_bytes: i64,
    #[serde(flatten)]
    pub meta: Meta,
}

/// The database name of snapshot `name` of database `of`: the prefix and a stable 64-bit
/// FNV-1a hash of both, so that any valid name of any database fits PostgreSQL's 63 bytes.
pub fn database_name(of: &str, name: &str) -> String {
    format!(
        "{PREFIX}{:016x}",
        fnv1a(&[of.as_bytes(), b"\0", name.as_bytes()])
    )
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// A snapshot name is what a git branch is usually called: letters, digits, `.`, `_`, `-`
/// and `/`, at most 63 characters, not starting with `-`, `.` or `/`.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/');
    if name.is_empty()
        || name.len() > 63
        || !name.chars().all(ok_char)
        || name.starts_with(['-', '.', '/'])
    {
        return Err(usage(format!(
            "{name:?} is not a valid snapshot name: use letters, digits, '.', '_', '-' and '/' \
             (at most 63 characters, not starting with '-', '.' or '/'), like a git branch name"
        )));
    }
    Ok(())
}

/// Snapshots are local: a protected target (production, RDS, `--protected`) is refused.
pub fn refuse_protected(target: &Target) -> anyhow::Result<()> {
    if target.protected {
        return Err(crate::error::kinded(
            crate::error::ErrorKind::Refused,
            format!(
                "refused: snapshot works on local databases only, and {} is protected ({}); \
                 for RDS use RDS snapshots (aws rds create-db-snapshot); nothing was changed",
                target.url.short(),
                crate::protect::why(target)
            ),
        ));
    }
    Ok(())
}

/// The snapshots of database `of`, newest first.
pub async fn list(client: &Client, of: &str) -> anyhow::Result<Vec<Snapshot>> {
    let rows = client
        .query(
            "SELECT datname::text, shobj_description(oid, 'pg_database'), pg_database_size(oid) \
             FROM pg_database WHERE starts_with(datname::text, $1)",
            &[&PREFIX],
        )
        .await?;
    let mut found: Vec<Snapshot> = rows
        .iter()
        .filter_map(|r| {
            let database: String = r.try_get(0).ok()?;
            let comment: Option<String> = r.try_get(1).ok()?;
            let meta: Meta = serde_json::from_str(&comment?).ok()?;
            // NOTE: only the database with exactly this snapshot's name counts: a copy left
            // half-made under a temporary name carries the same comment.
            (meta.of == of && database == database_name(of, &meta.name)).then(|| Snapshot {
                database,
                size_bytes: r.try_get(2).unwrap_or(0),
                meta,
            })
        })
        .collect();
    found.sort_by_key(|s| std::cmp::Reverse(s.meta.created_at));
    Ok(found)
}

/// Finds snapshot `name` of `of`, or says which there are (exit 2).
pub async fn find(client: &Client, of: &str, name: &str) -> anyhow::Result<Snapshot> {
    let all = list(client, of).await?;
    if let Some(s) = all.iter().find(|s| s.meta.name == name) {
        return Ok(s.clone());
    }
    let names: Vec<&str> = all.iter().map(|s| s.meta.name.as_str()).collect();
    Err(usage(format!(
        "no snapshot named {name:?} of database {of:?}; {}",
        if names.is_empty() {
            "there are none yet (cruddur-db snapshot save NAME)".to_string()
        } else {
            format!("there are: {} (cruddur-db snapshot list)", names.join(", "))
        }
    )))
}

/// The maintenance connection every snapshot command works through (it is never a session on
/// the databases it copies), and whether the target database exists.
pub async fn admin(target: &Target, opts: &ConnectOptions) -> anyhow::Result<(Db, bool)> {
    let db = Db::connect_maintenance(target, opts).await?;
    let client = db.get().await?;
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&target.url.database()],
        )
        .await?
        .is_some();
    Ok((db, exists))
}

/// `CREATE DATABASE ... TEMPLATE` needs its template to itself: the sessions on `database`
/// are an error naming them (`force`: they are ended instead).
pub async fn clear_sessions(
    client: &Client,
    database: &str,
    force: bool,
    doing: &str,
) -> anyhow::Result<()> {
    // Our own short read before the copy may still be listed for a moment.
    let others = if force {
        sessions(client, Some(database)).await?
    } else {
        lingering_sessions(client, database).await?
    };
    if others.is_empty() {
        return Ok(());
    }
    if !force {
        return Err(in_use(database, &others, doing));
    }
    client
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&database],
        )
        .await?;
    ui::status(&format!(
        "ended {} session(s) on database {database:?} (--force)",
        others.len()
    ));
    Ok(())
}

fn in_use(database: &str, others: &[Session], doing: &str) -> anyhow::Error {
    anyhow!(
        "cannot {doing}: {} other session(s) are connected to database {database:?}, and a \
         copy needs it to itself:\n{}\nclose them (stop the app, quit psql), or pass --force to \
         terminate them; nothing was changed",
        others.len(),
        sessions_table(others)
    )
}

/// `CREATE DATABASE new TEMPLATE from`, with the strategy chosen by size (PostgreSQL 15 on;
/// before it there is only the file copy). A template in use is an error naming its sessions.
pub async fn copy_database(
    client: &Client,
    from: &str,
    new: &str,
    owner: Option<&str>,
    doing: &str,
) -> anyhow::Result<()> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int4, \
                    pg_database_size(d.oid) FROM pg_database d WHERE d.datname = $1",
            &[&from],
        )
        .await?;
    let version: i32 = row.try_get(0)?;
    let size: i64 = row.try_get(1)?;
    let mut sql = format!(
        "CREATE DATABASE {} TEMPLATE {}",
        quote_ident(new),
        quote_ident(from)
    );
    if let Some(owner) = owner {
        sql.push_str(&format!(" OWNER {}", quote_ident(owner)));
    }
    if version >= 150000 {
        sql.push_str(if size >= FILE_COPY_FROM_BYTES {
            " STRATEGY = FILE_COPY"
        } else {
            " STRATEGY = WAL_LOG"
        });
    }
    match client.batch_execute(&sql).await {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) => {
            Err(in_use(from, &sessions(client, Some(from)).await?, doing))
        }
        Err(e) => Err(anyhow::Error::new(crate::pg::Described(e))
            .context(format!("failed to copy database {from:?} to {new:?}"))),
    }
}

/// Drops a database of ours (a snapshot or a half-made copy), ending any session on it.
pub async fn drop_own(client: &Client, database: &str) -> anyhow::Result<()> {
    debug_assert!(database.starts_with(PREFIX), "BUG: only our own databases");
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int4", &[])
        .await?
        .try_get(0)?;
    let force = if version >= 130000 {
        " WITH (FORCE)"
    } else {
        ""
    };
    client
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {}{force}",
            quote_ident(database)
        ))
        .await
        .map_err(|e| {
            anyhow::Error::new(crate::pg::Described(e))
                .context(format!("failed to drop database {database:?}"))
        })
}

/// Writes `meta` as the comment of `database`. The server quotes both (`format` with `%I`
/// and `%L`), so no name or value can end the statement.
async fn set_meta(client: &Client, database: &str, meta: &Meta) -> anyhow::Result<()> {
    let json = serde_json::to_string(meta)?;
    let sql: String = client
        .query_one(
            "SELECT format('COMMENT ON DATABASE %I IS %L', $1::text, $2::text)",
            &[&database, &json],
        )
        .await?
        .try_get(0)?;
    client.batch_execute(&sql).await?;
    Ok(())
}

/// The newest migration recorded as applied in `database`, if it has the history table.
async fn last_migration(target: &Target, opts: &ConnectOptions) -> Option<String> {
    let db = Db::connect(target, opts).await.ok()?;
    let client = db.get().await.ok()?;
    let row = client
        .query_opt(
            "SELECT to_regclass('public.cruddur_db_migrations') IS NOT NULL",
            &[],
        )
        .await
        .ok()??;
    if !row.try_get::<_, bool>(0).ok()? {
        return None;
    }
    client
        .query_opt(
            "SELECT version || '_' || name FROM public.cruddur_db_migrations \
             ORDER BY version DESC LIMIT 1",
            &[],
        )
        .await
        .ok()??
        .try_get(0)
        .ok()
}

/// Saves the target database as snapshot `name` (an existing one of that name is replaced,
/// after the new copy is made), then keeps only the newest `keep`. `origin` is the git branch
/// and commit the snapshot belongs to.
pub async fn save(
    target: &Target,
    opts: &ConnectOptions,
    name: &str,
    origin: (Option<String>, Option<String>),
    force: bool,
    keep: usize,
) -> anyhow::Result<()> {
    refuse_protected(target)?;
    check_name(name)?;
    let of = target.url.database();
    let (admin, exists) = admin(target, opts).await?;
    if !exists {
        return Err(anyhow!(
            "database {of:?} does not exist, so there is nothing to save (cruddur-db setup \
             makes it)"
        ));
    }
    let (branch, commit) = origin;
    // NOTE: read through its own short-lived connection before the copy: the copy needs the
    // database to itself.
    let last = last_migration(target, opts).await;
    let client = admin.get().await?;
    let doing = format!("save database {of:?} as snapshot {name:?}");
    clear_sessions(&client, &of, force, &doing).await?;
    let bar = ui::spinner(&format!("saving {of} as snapshot {name}"));
    let started = std::time::Instant::now();
    let final_name = database_name(&of, name);
    let tmp = format!("{final_name}_new");
    drop_own(&client, &tmp).await?;
    let copied = copy_database(&client, &of, &tmp, None, &doing).await;
    if let Err(e) = copied {
        bar.finish_and_clear();
        let _ = drop_own(&client, &tmp).await;
        return Err(e);
    }
    let mut meta = Meta {
        cruddur_db_snapshot: 1,
        of: of.clone(),
        name: name.to_string(),
        created_at: Utc::now(),
        branch,
        commit,
        last_migration: last,
        pruned: Vec::new(),
    };
    let older = list(&client, &of).await?;
    let replaced = older.iter().any(|s| s.meta.name == name);
    // The oldest beyond `keep` (counting the new one) go.
    let mut pruned: Vec<Pruned> = older
        .iter()
        .filter(|s| s.meta.name != name)
        .skip(keep.saturating_sub(1))
        .map(|s| Pruned {
            name: s.meta.name.clone(),
            created_at: s.meta.created_at,
        })
        .collect();
    pruned.reverse();
    meta.pruned = pruned.clone();
    let swapped = async {
        set_meta(&client, &tmp, &meta).await?;
        drop_own(&client, &final_name).await?;
        client
            .batch_execute(&format!(
                "ALTER DATABASE {} RENAME TO {}",
                quote_ident(&tmp),
                quote_ident(&final_name)
            ))
            .await?;
        anyhow::Ok(())
    }
    .await;
    bar.finish_and_clear();
    if let Err(e) = swapped {
        let _ = drop_own(&client, &tmp).await;
        return Err(e.context(format!("failed to save snapshot {name:?}")));
    }
    for p in &pruned {
        drop_own(&client, &database_name(&of, &p.name)).await?;
    }
    let snapshot = find(&client, &of, name).await?;
    ui::status(&format!(
        "saved database {of:?} as snapshot {name:?} ({}, {:.2}s){}{}",
        human_size(snapshot.size_bytes),
        started.elapsed().as_secs_f64(),
        if replaced {
            "; replaced the older one"
        } else {
            ""
        },
        if pruned.is_empty() {
            String::new()
        } else {
            format!(
                "; pruned {} (keeping {keep})",
                pruned
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    ));
    Ok(())
}

/// Drops snapshot `name` of the target database.
pub async fn drop(target: &Target, opts: &ConnectOptions, name: &str) -> anyhow::Result<()> {
    refuse_protected(target)?;
    check_name(name)?;
    let of = target.url.database();
    let (admin, _) = admin(target, opts).await?;
    let client = admin.get().await?;
    let snapshot = find(&client, &of, name).await?;
    drop_own(&client, &snapshot.database).await?;
    ui::status(&format!("dropped snapshot {name:?} of database {of:?}"));
    Ok(())
}

/// Sizes as people read them.
pub fn human_size(bytes: i64) -> String {
    indicatif::HumanBytes(u64::try_from(bytes).unwrap_or(0)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_database_names_are_stable_distinct_and_short() {
        let a = database_name("cruddur", "week-5");
        assert_eq!(a, database_name("cruddur", "week-5"));
        assert_ne!(a, database_name("cruddur", "week-4"));
        assert_ne!(a, database_name("cruddur2", "week-5"));
        // "of" and "name" cannot run into each other.
        assert_ne!(database_name("ab", "c"), database_name("a", "bc"));
        let long = "x".repeat(63);
        assert!(database_name(&long, &long).len() <= 63);
        assert!(a.starts_with(PREFIX));
    }

    #[test]
    fn snapshot_names_are_refused_unless_they_look_like_branch_names() {
        for ok in ["main", "week-5", "feature/bio.v2", "a_b"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-x",
            ".hidden",
            "/abs",
            "two words",
            "quote\"d",
            "semi;colon",
            "new\nline",
            &"y".repeat(64),
        ] {
            let e = check_name(bad).unwrap_err();
            assert_eq!(
                crate::error::exit_code(&e),
                crate::error::exit::USAGE,
                "{bad:?}"
            );
        }
    }
}
