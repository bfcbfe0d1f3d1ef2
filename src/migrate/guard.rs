//! Applying under a lock timeout: each migration waits at most `lock_timeout` for a table
//! lock, so that it never stops the queries queued behind it for longer; a migration that
//! times out is rolled back and tried again, and each wait names the session holding the lock
//! (read from a second connection while the migration waits).

use std::future::Future;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use tokio_postgres::Client;

use super::{plain_error, run_sql, Section, SqlFailure};
use crate::load;
use crate::pg::Db;
use crate::sql::{Input, Vars};
use crate::ui;

/// SQLSTATE lock_not_available: what a statement gets when lock_timeout runs out.
pub const LOCK_NOT_AVAILABLE: &str = "55P03";

/// How each migration waits for its locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockGuard {
    /// `lock_timeout` for each statement.
    pub lock_timeout: Duration,
    /// `statement_timeout` for each statement; `None`: no limit.
    pub statement_timeout: Option<Duration>,
    /// Tries after the first when a lock is not granted.
    pub retries: u32,
}

impl LockGuard {
    /// The settings as SQL: `SET LOCAL` inside the migration's transaction, `SET` for the
    /// session when it runs without one (and [`LockGuard::reset_sql`] after).
    /// NOTE: statement_timeout is left alone unless asked for, so that a limit the server or
    /// the role sets stays in force.
    pub fn set_sql(&self, local: bool) -> String {
        let scope = if local { "SET LOCAL" } else { "SET" };
        let ms = |d: Duration| d.as_millis().max(1);
        let mut sql = format!("{scope} lock_timeout = '{}ms'", ms(self.lock_timeout));
        if let Some(d) = self.statement_timeout {
            sql.push_str(&format!("; {scope} statement_timeout = '{}ms'", ms(d)));
        }
        sql
    }

    pub fn reset_sql() -> &'static str {
        "RESET lock_timeout; RESET statement_timeout"
    }

    /// The pause before try `n` (2, 3, ...): 200 ms, doubled each time, at most 10 s.
    pub fn pause(n: u32) -> Duration {
        let exp = n.saturating_sub(2).min(6);
        Duration::from_millis(200 * (1u64 << exp)).min(Duration::from_secs(10))
    }
}

/// A session holding a lock the migration waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocker {
    pub pid: i32,
    pub user: String,
    pub application: String,
    pub state: String,
    /// Seconds its transaction has been open.
    pub xact_secs: f64,
    pub query: String,
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let app = if self.application.is_empty() {
            "-"
        } else {
            &self.application
        };
        write!(
            f,
            "pid {} (user {}, application {app}, {}, transaction open {:.1} s): {}",
            self.pid,
            self.user,
            self.state,
            self.xact_secs,
            crate::sql::input::first_line(&self.query)
        )
    }
}

/// What ends a blocker, as the messages say it.
pub fn how_to_end(blockers: &[Blocker]) -> String {
    let pids: Vec<String> = blockers.iter().map(|b| b.pid.to_string()).collect();
    format!(
        "see it with `cruddur-db sessions`; end it with SELECT pg_terminate_backend({})",
        pids.join(") and SELECT pg_terminate_backend(")
    )
}

const BLOCKERS: &str = "
SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), coalesce(a.state, ''),
       coalesce(extract(epoch FROM now() - a.xact_start), 0)::float8, coalesce(a.query, '')
FROM pg_stat_activity a
WHERE a.pid = ANY (pg_blocking_pids($1))
ORDER BY a.pid";

/// The sessions `pid` waits for.
pub async fn blockers(monitor: &Client, pid: i32) -> anyhow::Result<Vec<Blocker>> {
    let rows = monitor
        .query(BLOCKERS, &[&pid])
        .await
        .context("failed to read pg_stat_activity")?;
    Ok(rows
        .iter()
        .map(|r| Blocker {
            pid: r.get(0),
            user: r.get(1),
            application: r.get(2),
            state: r.get(3),
            xact_secs: r.get(4),
            query: r.get(5),
        })
        .collect())
}

/// The guard of one run: the settings, a second connection to watch from, and the pid of
/// the connection the migrations run on.
pub struct Guard {
    pub settings: LockGuard,
    monitor: deadpool_postgres::Object,
    pid: i32,
}

/// How often the watching connection asks who blocks the migration: every 200 ms, more often
/// when the lock timeout is shorter, so that a wait is named before it times out.
fn poll_every(lock_timeout: Duration) -> Duration {
    (lock_timeout / 2).clamp(Duration::from_millis(20), Duration::from_millis(200))
}

impl Guard {
    pub async fn new(db: &Db, client: &Client, settings: LockGuard) -> anyhow::Result<Guard> {
        let pid: i32 = client
            .query_one("SELECT pg_backend_pid()", &[])
            .await
            .context("failed to read the migration connection's pid")?
            .get(0);
        let monitor = db.get().await?;
        Ok(Guard {
            settings,
            monitor,
            pid,
        })
    }

    /// Runs `work` (one try of a migration) while watching for sessions that block it: the
    /// first time one is seen, a `waiting` line names it. Returns the result and the
    /// blockers seen last.
    pub async fn attempt<T>(&self, file: &str, work: impl Future<Output = T>) -> (T, Vec<Blocker>) {
        let seen: Mutex<Vec<Blocker>> = Mutex::new(Vec::new());
        let watch = async {
            let mut named: Vec<i32> = Vec::new();
            let every = poll_every(self.settings.lock_timeout);
            loop {
                tokio::time::sleep(every).await;
                // NOTE: a failed look is no reason to stop the migration; the next one may work.
                let Ok(now) = blockers(&self.monitor, self.pid).await else {
                    continue;
                };
                let new: Vec<&Blocker> = now.iter().filter(|b| !named.contains(&b.pid)).collect();
                if !new.is_empty() {
                    for b in &new {
                        ui::status(&format!("waiting: {file} waits for a lock held by {b}"));
                    }
                    ui::status(&format!("  {}", how_to_end(&now)));
                    named.extend(new.iter().map(|b| b.pid));
                }
                if !now.is_empty() {
                    *seen.lock().unwrap_or_else(|e| e.into_inner()) = now;
                }
            }
        };
        let result = tokio::select! {
            r = work => r,
            () = watch => unreachable!("BUG: the watch loop never ends"),
        };
        let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
        (result, seen)
    }
}

/// [`super::run_sql`] under the guard, when there is one: `lock_timeout` set for the migration
/// (`SET LOCAL` in its transaction, `SET` and `RESET` around it without one), and a try that
/// timed out waiting for a lock rolled back and made again after a pause, up to the retries.
/// NOTE: without a transaction, the statements before the one that timed out stay committed,
/// so such a migration is tried again only when the first statement timed out.
pub(super) async fn run(
    client: &Client,
    guard: Option<&Guard>,
    file: &str,
    section: &Section,
    epilogue: Option<&str>,
) -> Result<load::Summary, SqlFailure> {
    let Some(g) = guard else {
        return run_sql(client, file, section, epilogue, None).await;
    };
    let s = &g.settings;
    let name = Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
    let first = first_statement_line(section);
    let tries = s.retries.saturating_add(1);
    let mut n = 1;
    loop {
        let set = s.set_sql(epilogue.is_some());
        let (result, seen) = if epilogue.is_some() {
            g.attempt(&name, run_sql(client, file, section, epilogue, Some(&set)))
                .await
        } else {
            let work = async {
                client
                    .batch_execute(&set)
                    .await
                    .map_err(|e| SqlFailure::Migration(plain_error(file, &e)))?;
                let r = run_sql(client, file, section, None, None).await;
                let _ = client.batch_execute(LockGuard::reset_sql()).await;
                r
            };
            g.attempt(&name, work).await
        };
        let e = match result {
            Err(SqlFailure::Migration(e)) if e.code.as_deref() == Some(LOCK_NOT_AVAILABLE) => e,
            other => return other,
        };
        let held = if seen.is_empty() {
            "the session holding it was gone before it could be named".to_string()
        } else {
            let names: Vec<String> = seen.iter().map(ToString::to_string).collect();
            format!("held by {}; {}", names.join("; "), how_to_end(&seen))
        };
        let retry_safe = epilogue.is_some() || first == Some(e.line);
        if n >= tries || !retry_safe {
            let mut e = e;
            e.message = format!(
                "{} (no lock within {} ms after {n} tr{}; {held})",
                e.message,
                s.lock_timeout.as_millis(),
                if n == 1 { "y" } else { "ies" }
            );
            return Err(SqlFailure::Migration(e));
        }
        n += 1;
        let pause = LockGuard::pause(n);
        ui::warn(&format!(
            "{name}: no lock within {} ms at line {} ({held}); {}; try {n} of {tries} in {:.1} s",
            s.lock_timeout.as_millis(),
            e.line,
            if epilogue.is_some() {
                "rolled back, nothing kept"
            } else {
                "nothing ran"
            },
            pause.as_secs_f64()
        ));
        tokio::time::sleep(pause).await;
    }
}

/// The file line of a section's first statement.
fn first_statement_line(section: &Section) -> Option<usize> {
    let input = Input::text("migration", section.sql.clone());
    let mut reader = crate::sql::Reader::open(&input, Vars::default(), false).ok()?;
    while let Some(item) = reader.next_item().ok()? {
        if let crate::sql::Item::Sql(stmt) | crate::sql::Item::Copy { stmt, .. } = item {
            return Some(section.file_pos(stmt.loc.line, stmt.loc.column).0);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_pauses() {
        let g = LockGuard {
            lock_timeout: Duration::from_millis(200),
            statement_timeout: None,
            retries: 5,
        };
        assert_eq!(g.set_sql(true), "SET LOCAL lock_timeout = '200ms'");
        let limited = LockGuard {
            statement_timeout: Some(Duration::from_secs(30)),
            ..g.clone()
        };
        assert_eq!(
            limited.set_sql(false),
            "SET lock_timeout = '200ms'; SET statement_timeout = '30000ms'"
        );
        assert_eq!(
            poll_every(Duration::from_secs(5)),
            Duration::from_millis(200)
        );
        assert_eq!(
            poll_every(Duration::from_millis(100)),
            Duration::from_millis(50)
        );
        assert_eq!(
            poll_every(Duration::from_millis(10)),
            Duration::from_millis(20)
        );
        let pauses: Vec<u128> = (2..=8).map(|n| LockGuard::pause(n).as_millis()).collect();
        assert_eq!(pauses, [200, 400, 800, 1600, 3200, 6400, 10000]);
    }

    #[test]
    fn a_blocker_is_named_with_how_to_end_it() {
        let b = Blocker {
            pid: 42,
            user: "postgres".into(),
            application: String::new(),
            state: "idle in transaction".into(),
            xact_secs: 3.26,
            query: "LOCK TABLE users IN ACCESS EXCLUSIVE MODE;\nSELECT 1".into(),
        };
        assert_eq!(
            b.to_string(),
            "pid 42 (user postgres, application -, idle in transaction, transaction open 3.3 s): \
             LOCK TABLE users IN ACCESS EXCLUSIVE MODE;"
        );
        assert!(how_to_end(&[b]).contains("SELECT pg_terminate_backend(42)"));
    }
}
