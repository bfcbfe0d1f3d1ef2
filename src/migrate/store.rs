//! What the database knows: the tool's tracking table (one row per applied migration), the
//! bootcamp's `public.schema_information` pointer (adopted, then kept in step) and the
//! advisory lock that serialises migration runs.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use super::file::Migration;
use super::version::{Format, Version};
use crate::sql::quote;
use crate::ui;

/// The tracking table.
pub const TABLE: &str = "public.cruddur_db_migrations";
/// The tables the tool keeps in an application's database (its history, and the bootcamp's
/// pointer it keeps in step): `copy` never copies, masks or empties them, and a schema load
/// resets them.
pub const OWN_TABLES: &[(&str, &str)] = &[
    ("public", "cruddur_db_migrations"),
    ("public", "schema_information"),
];

/// Run in a schema load's own transaction after the file: the schema file is the state
/// before every migration, so nothing is applied any more. The tracking table is emptied
/// (kept, so that the bootcamp pointer is not adopted again) and the pointer set to `'0'`.
pub const FORGET_SQL: &str = "DO $cruddur_db$ BEGIN \
  IF to_regclass('public.cruddur_db_migrations') IS NOT NULL THEN \
    DELETE FROM public.cruddur_db_migrations; \
  END IF; \
  IF to_regclass('public.schema_information') IS NOT NULL THEN \
    UPDATE public.schema_information SET last_successful_run = '0' WHERE id = 1; \
  END IF; \
END $cruddur_db$";

/// The advisory lock key of migration runs ("migrate"); not the load lock's.
pub const LOCK_KEY: i64 = 0x006d_6967_7261_7465;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS public.cruddur_db_migrations (
  version       text PRIMARY KEY,
  name          text NOT NULL,
  file          text NOT NULL,
  checksum      text NOT NULL,
  applied_at    timestamptz NOT NULL DEFAULT now(),
  execution_ms  bigint,
  applied_by_db text NOT NULL DEFAULT current_user,
  applied_by_os text,
  adopted       boolean NOT NULL DEFAULT false
)";

const INSERT: &str = "INSERT INTO public.cruddur_db_migrations \
  (version, name, file, checksum, execution_ms, applied_by_os, adopted) \
  VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// One applied migration, as recorded (or as adoption would record it).
#[derive(Debug, Clone)]
pub struct Applied {
    pub version: Version,
    pub name: String,
    pub file: String,
    pub checksum: String,
    /// `None` for a migration adoption would record (not written yet).
    pub applied_at: Option<DateTime<Utc>>,
    pub adopted: bool,
}

/// The database's migration state.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The tracking table exists.
    pub tracking: bool,
    /// `public.schema_information` exists; its `last_successful_run` (row id 1, `'0'` when
    /// the row is missing).
    pub pointer: Option<String>,
    /// Applied migrations in time order; without the tracking table, the `.py` migrations
    /// the pointer says are done (to be adopted).
    pub applied: Vec<Applied>,
}

impl State {
    /// Whether the next write has to create the tracking table (and adopt).
    pub fn needs_init(&self) -> bool {
        !self.tracking
    }

    /// The migrations adoption records: all of `applied` before the table exists.
    pub fn to_adopt(&self) -> &[Applied] {
        if self.tracking {
            &[]
        } else {
            &self.applied
        }
    }
}

fn version_of(stamp: &str, file: &str) -> Version {
    let format = Format::of(file).unwrap_or(Format::Sql);
    Version::parse(stamp, format).unwrap_or_else(|| Version {
        stamp: stamp.to_string(),
        secs: 0,
        frac: String::new(),
    })
}

/// Reads the state; without the tracking table, works out what adopting the pointer records.
pub async fn read(client: &Client, migrations: &[Migration]) -> anyhow::Result<State> {
    let row = client
        .query_one(
            "SELECT to_regclass('public.cruddur_db_migrations') IS NOT NULL, \
                    to_regclass('public.schema_information') IS NOT NULL",
            &[],
        )
        .await
        .context("failed to look for the migration tables")?;
    let (tracking, has_pointer): (bool, bool) = (row.get(0), row.get(1));
    let pointer = if has_pointer {
        let v: Option<String> = client
            .query_opt(
                "SELECT last_successful_run::text FROM public.schema_information WHERE id = 1",
                &[],
            )
            .await
            .context("failed to read public.schema_information")?
            .and_then(|r| r.get(0));
        Some(v.unwrap_or_else(|| "0".to_string()))
    } else {
        None
    };
    let mut applied = Vec::new();
    if tracking {
        for r in client
            .query(
                "SELECT version, name, file, checksum, applied_at, adopted FROM public.cruddur_db_migrations",
                &[],
            )
            .await
            .context("failed to read the tracking table public.cruddur_db_migrations")?
        {
            let stamp: String = r.get(0);
            let file: String = r.get(2);
            applied.push(Applied {
                version: version_of(&stamp, &file),
                name: r.get(1),
                file,
                checksum: r.get(3),
                applied_at: Some(r.get(4)),
                adopted: r.get(5),
            });
        }
        applied.sort_by(|a, b| a.version.cmp(&b.version));
    } else if let Some(p) = &pointer {
        applied = adoptable(migrations, p)?
            .into_iter()
            .map(|m| Applied {
                version: m.version.clone(),
                name: m.name.clone(),
                file: m.file_name.clone(),
                checksum: m.checksum.clone(),
                applied_at: None,
                adopted: true,
            })
            .collect();
    }
    Ok(State {
        tracking,
        pointer,
        applied,
    })
}

/// The migrations the tracking table records (version and name, in time order); `None`
/// when the database has no tracking table. Reads only.
pub async fn recorded(client: &Client) -> anyhow::Result<Option<Vec<(String, String)>>> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('public.cruddur_db_migrations') IS NOT NULL",
            &[],
        )
        .await
        .context("failed to look for the tracking table")?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let mut rows: Vec<(Version, String)> = client
        .query(
            "SELECT version, name, file FROM public.cruddur_db_migrations",
            &[],
        )
        .await
        .context("failed to read the tracking table public.cruddur_db_migrations")?
        .iter()
        .map(|r| {
            let (stamp, name, file): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            (version_of(&stamp, &file), name)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let rows = rows.into_iter().map(|(v, name)| (v.stamp, name)).collect();
    Ok(Some(rows))
}

/// The `.py` migrations at or before the bootcamp's pointer, compared as times.
pub fn adoptable<'a>(
    migrations: &'a [Migration],
    pointer: &str,
) -> anyhow::Result<Vec<&'a Migration>> {
    let p = pointer.trim();
    if p.is_empty() || p == "0" {
        return Ok(Vec::new());
    }
    let at = Version::parse(p, Format::Py).ok_or_else(|| {
        anyhow::anyhow!(
            "public.schema_information.last_successful_run is {p:?}, which is not a migration \
             stamp; fix it (or set it to '0') before migrating"
        )
    })?;
    Ok(migrations
        .iter()
        .filter(|m| m.format == Format::Py && m.version.cmp_time(&at).is_le())
        .collect())
}

/// The value `last_successful_run` keeps: the newest applied `.py` stamp, `'0'` when none.
pub fn pointer_value<'a>(applied: impl Iterator<Item = (&'a Version, &'a str)>) -> String {
    applied
        .filter(|(_, file)| Format::of(file) == Some(Format::Py))
        .map(|(v, _)| v)
        .max()
        .map_or_else(|| "0".to_string(), |v| v.stamp.clone())
}

/// Creates the tracking table and records the adopted migrations, in one transaction.
pub async fn init(client: &Client, adopt: &[Applied]) -> anyhow::Result<()> {
    let tx = async {
        client.batch_execute("BEGIN").await?;
        client.batch_execute(CREATE).await?;
        let os_user = os_user();
        for a in adopt {
            client
                .execute(
                    INSERT,
                    &[
                        &a.version.stamp,
                        &a.name,
                        &a.file,
                        &a.checksum,
                        &None::<i64>,
                        &os_user,
                        &true,
                    ],
                )
                .await?;
        }
        client.batch_execute("COMMIT").await
    }
    .await;
    if let Err(e) = tx {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(anyhow::Error::new(crate::pg::Described(e)))
            .context("failed to create the tracking table public.cruddur_db_migrations");
    }
    Ok(())
}

/// The OS user running the tool, for the `applied_by_os` column.
pub fn os_user() -> Option<String> {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| crate::env::var(k).filter(|v| !v.is_empty()))
}

/// The bookkeeping of one step as SQL, run in the step's transaction: record (up) or forget
/// (down) the migration, then set the bootcamp's pointer when `pointer` says to.
/// `execution_ms` is an SQL expression for the `execution_ms` column.
/// NOTE: SQL text instead of bound parameters so that it travels with the migration's own
/// statements or its COMMIT: every round trip counts when 200 migrations run.
pub fn bookkeeping_sql(
    m: &Migration,
    direction: super::Direction,
    execution_ms: &str,
    pointer: Option<&str>,
) -> String {
    let mut sql = match direction {
        super::Direction::Up => format!(
            "INSERT INTO public.cruddur_db_migrations \
             (version, name, file, checksum, execution_ms, applied_by_os, adopted) \
             VALUES ({}, {}, {}, {}, {execution_ms}, {}, false);\n",
            quote::literal(&m.version.stamp),
            quote::literal(&m.name),
            quote::literal(&m.file_name),
            quote::literal(&m.checksum),
            os_user().map_or_else(|| "NULL".to_string(), |u| quote::literal(&u)),
        ),
        super::Direction::Down => format!(
            "DELETE FROM public.cruddur_db_migrations WHERE version = {};\n",
            quote::literal(&m.version.stamp)
        ),
    };
    if let Some(p) = pointer {
        let p = quote::literal(p);
        sql.push_str(&format!(
            "UPDATE public.schema_information SET last_successful_run = {p} WHERE id = 1;\n\
             INSERT INTO public.schema_information (id, last_successful_run) SELECT 1, {p} \
             WHERE NOT EXISTS (SELECT FROM public.schema_information WHERE id = 1);\n"
        ));
    }
    sql
}

/// Takes the migration lock on this session, waiting up to `timeout` and saying what for.
pub async fn lock(client: &Client, database: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut said = false;
    loop {
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
            .await
            .context("failed to ask for the migration lock")?
            .get(0);
        if got {
            return Ok(());
        }
        let holder: Option<i32> = client
            .query_opt(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND ((classid::bigint << 32) | objid::bigint) = $1 LIMIT 1",
                &[&LOCK_KEY],
            )
            .await
            .context("failed to look up the holder of the migration lock")?
            .map(|r| r.get(0));
        let who = holder.map_or_else(String::new, |p| format!(" (server pid {p})"));
        if Instant::now() >= deadline {
            anyhow::bail!(
                "timed out after {}s waiting for the migration lock on database {database:?}, \
                 held by another cruddur-db migrate{who}; nothing was run (raise --lock-timeout \
                 to wait longer)",
                timeout.as_secs()
            );
        }
        if !said {
            ui::status(&format!(
                "waiting up to {}s for another cruddur-db migrate on database {database:?} to finish{who} ...",
                timeout.as_secs()
            ));
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Releases the migration lock.
pub async fn unlock(client: &Client) {
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(stamp: &str, f: Format) -> Version {
        Version::parse(stamp, f).unwrap()
    }

    #[test]
    fn pointer_is_the_newest_py_stamp_by_time() {
        let a = v("16812294605993273", Format::Py);
        let b = v("17000000005", Format::Py);
        let c = v("20991231000000", Format::Sql);
        let rows = [
            (&a, "16812294605993273_a.py"),
            (&b, "17000000005_b.py"),
            (&c, "20991231000000_c.sql"),
        ];
        assert_eq!(pointer_value(rows.iter().copied()), "17000000005");
        assert_eq!(pointer_value(rows[2..].iter().copied()), "0");
    }
}
