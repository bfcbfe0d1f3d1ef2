//! Applying under a lock timeout against the real server: a second session holds a lock the
//! migration needs; the migration waits at most `--ddl-lock-timeout`, names the blocker, is
//! rolled back and tried again, and succeeds once the blocker commits, or gives up after its
//! retries with nothing kept or recorded.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{write_file, TestDb};
use predicates::prelude::*;

/// A psql session that holds `LOCK TABLE users IN ACCESS EXCLUSIVE MODE` in an open
/// transaction until [`Blocker::commit`].
struct Blocker {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Blocker {
    fn lock(db: &TestDb, table: &str) -> Blocker {
        let child = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url])
            .env("PGAPPNAME", "lock-holder")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("psql runs");
        // From here on, Drop ends the session (and waits for psql) whatever happens.
        let mut blocker = Blocker { child, stdin: None };
        let mut stdin = blocker.child.stdin.take().unwrap();
        writeln!(stdin, "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;").unwrap();
        stdin.flush().unwrap();
        blocker.stdin = Some(stdin);
        // Wait until the lock is held, as the server sees it.
        for _ in 0..100 {
            let held = db.scalar(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE a.application_name = 'lock-holder' AND a.datname = current_database() \
                 AND l.mode = 'AccessExclusiveLock' AND l.granted AND l.locktype = 'relation'",
            );
            if held != "0" {
                return blocker;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the blocker never got its lock");
    }

    fn commit(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            writeln!(stdin, "COMMIT;").unwrap();
        }
        let _ = self.child.wait();
    }

    fn pid(db: &TestDb) -> String {
        db.scalar(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'lock-holder' \
             AND datname = current_database()",
        )
    }
}

impl Drop for Blocker {
    fn drop(&mut self) {
        self.commit();
    }
}

fn setup(db: &TestDb, section: &str, sql: &str) -> PathBuf {
    db.psql("CREATE TABLE public.users (id integer, handle text)");
    let dir = db.home.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "20240101000000_handle_index.sql",
        &format!("-- migrate:up{section}\n{sql}\n"),
    );
    dir
}

/// Spawns `migrate up ARGS`; its stderr lines arrive on the channel.
fn spawn(db: &TestDb, dir: &Path, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = db
        .std_cmd()
        .env("CRUDDUR_MIGRATIONS_DIR", dir)
        .args(["migrate", "up"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Reads lines until one contains `what` (returned) or the run ends; all lines in `seen`.
fn until(rx: &mpsc::Receiver<String>, what: &str, seen: &mut Vec<String>) -> Option<String> {
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        seen.push(line.clone());
        if line.contains(what) {
            return Some(line);
        }
    }
    None
}

fn recorded(db: &TestDb) -> String {
    db.scalar("SELECT count(*) FROM public.cruddur_db_migrations")
}

#[test]
fn a_blocked_migration_names_the_blocker_and_succeeds_once_it_commits() {
    let db = TestDb::new("lockwait");
    let dir = setup(&db, "", "ALTER TABLE public.users ADD COLUMN bio text;");
    let mut blocker = Blocker::lock(&db, "public.users");
    let pid = Blocker::pid(&db);
    let (mut child, rx) = spawn(
        &db,
        &dir,
        &["--lock-guard", "--ddl-lock-timeout", "1", "--retries", "20"],
    );
    let mut seen = Vec::new();
    let waiting = until(&rx, "waiting:", &mut seen).expect("a waiting line");
    assert!(
        waiting.contains(&format!("held by pid {pid} (user "))
            && waiting.contains("application lock-holder, idle in transaction")
            && waiting.contains("LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE"),
        "pid {pid}: {waiting}"
    );
    let how = until(&rx, "pg_terminate_backend", &mut seen).unwrap();
    assert!(
        how.contains(&format!("SELECT pg_terminate_backend({pid})"))
            && how.contains("cruddur-db sessions")
    );
    // Let one try time out before the blocker goes.
    until(&rx, "try 2 of 21", &mut seen).expect("a retry");
    blocker.commit();
    let status = child.wait().unwrap();
    seen.extend(rx.try_iter());
    assert!(status.success(), "{seen:#?}");
    assert!(
        seen.iter().any(|l| l.contains("rolled back, nothing kept")),
        "{seen:#?}"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = 'bio'"),
        "1"
    );
    assert_eq!(recorded(&db), "1");
}

#[test]
fn a_protected_target_gives_up_after_the_retries_with_nothing_kept() {
    let db = TestDb::new("lockgiveup");
    let dir = setup(&db, "", "ALTER TABLE public.users ADD COLUMN bio text;");
    let _blocker = Blocker::lock(&db, "public.users");
    let pid = Blocker::pid(&db);
    let (mut child, rx) = spawn(
        &db,
        &dir,
        &[
            "--protected",
            "--yes",
            "--confirm-db",
            &db.name,
            "--ddl-lock-timeout",
            "300ms",
            "--retries",
            "2",
        ],
    );
    let status = child.wait().unwrap();
    let seen: Vec<String> = rx.iter().collect();
    let all = seen.join("\n");
    assert_eq!(status.code(), Some(1), "{all}");
    assert!(
        all.contains("try 2 of 3") && all.contains("try 3 of 3"),
        "{all}"
    );
    assert!(
        all.contains("no lock within 300 ms after 3 tries")
            && all.contains(&format!("SELECT pg_terminate_backend({pid})")),
        "{all}"
    );
    assert!(
        all.contains("nothing of 20240101000000_handle_index.sql was kept"),
        "{all}"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = 'bio'"),
        "0"
    );
    assert_eq!(recorded(&db), "0");
}

#[test]
fn a_transaction_false_migration_is_guarded_with_set_and_tried_again() {
    let db = TestDb::new("lockcic");
    let dir = setup(
        &db,
        " transaction:false",
        "CREATE INDEX CONCURRENTLY users_handle ON public.users (handle);",
    );
    let mut blocker = Blocker::lock(&db, "public.users");
    let (mut child, rx) = spawn(
        &db,
        &dir,
        &[
            "--lock-guard",
            "--ddl-lock-timeout",
            "0.5",
            "--retries",
            "20",
        ],
    );
    let mut seen = Vec::new();
    until(&rx, "try 2 of 21", &mut seen).expect("a retry");
    assert!(seen.iter().any(|l| l.contains("nothing ran")), "{seen:#?}");
    blocker.commit();
    let status = child.wait().unwrap();
    seen.extend(rx.try_iter());
    assert!(status.success(), "{seen:#?}");
    assert_eq!(
        db.scalar(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'public.users_handle'::regclass"
        ),
        "t"
    );
    assert_eq!(recorded(&db), "1");
}

#[test]
fn a_statement_timeout_stops_a_long_statement_without_retries() {
    let db = TestDb::new("stmttimeout");
    let dir = setup(
        &db,
        "",
        "ALTER TABLE public.users ADD COLUMN bio text;\nSELECT pg_sleep(3);",
    );
    db.cmd()
        .env("CRUDDUR_MIGRATIONS_DIR", &dir)
        .args([
            "migrate",
            "up",
            "--lock-guard",
            "--statement-timeout",
            "200ms",
        ])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("statement timeout"))
        .stderr(predicates::str::contains("try 2").not());
    assert_eq!(
        db.scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = 'bio'"),
        "0"
    );
    assert_eq!(recorded(&db), "0");
}
