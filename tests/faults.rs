//! The fault suite: what was tried under load and faults, kept as bounded tests on this
//! machine's loopback. Concurrent create/setup/reset, backends terminated mid-load and
//! mid-post-crud, a server that starts late under `--wait`, more workers than connection
//! slots, invalid UTF-8, a huge statement, metacharacters in handles and database names.
//! Synchronisation polls for the state itself (pg_stat_activity, rows), never sleeps a guess.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{psql_admin, write_file, TestDb};

fn spawn(db: &TestDb, args: &[&str]) -> Child {
    db.std_cmd()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits (bounded) until `cond` holds.
fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Regression: two `create` at once: one failed with 23505 on pg_database_datname_index.
#[test]
fn concurrent_creates_all_succeed() {
    let db = TestDb::unmade("manycreate");
    let children: Vec<Child> = (0..6).map(|_| spawn(&db, &["create"])).collect();
    for c in children {
        let out = finish(c);
        assert!(out.status.success(), "{}", text(&out));
    }
    assert!(db.exists());
}

/// Regression: two resets a few milliseconds apart ran schema, schema, seed, seed; one
/// failed on a duplicate seed row. A compound command holds one lock for all of its work.
#[test]
fn concurrent_resets_and_setups_run_whole() {
    let db = TestDb::seeded("manyreset");
    // Hold the setup/reset lock from a psql session, so that every run below must wait for it
    // (polled in pg_locks, not guessed with a sleep), then let them all go at once.
    let key = format!("1668445540, hashtext('{}')", db.name);
    let mut holder = std::process::Command::new("psql")
        .args(["-X", "-q", "-d", &common::admin_url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = holder.stdin.take().unwrap();
    writeln!(stdin, "SELECT pg_advisory_lock({key});").unwrap();
    let waiting = |granted: bool| {
        psql_admin(&format!(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = {granted} \
             AND classid = 1668445540 AND objid = (hashtext('{}')::bigint & 4294967295)::oid",
            db.name
        ))
        .trim()
        .parse::<usize>()
        .unwrap()
    };
    until("the holder's lock", || waiting(true) == 1);
    let children: Vec<Child> = [
        &["reset"][..],
        &["reset"][..],
        &["setup"][..],
        &["reset"][..],
    ]
    .iter()
    .map(|a| spawn(&db, a))
    .collect();
    until("all four runs to wait", || waiting(false) == 4);
    writeln!(stdin, "SELECT pg_advisory_unlock_all();").unwrap();
    drop(stdin);
    let _ = holder.wait();
    let outs: Vec<Output> = children.into_iter().map(finish).collect();
    for out in &outs {
        assert!(out.status.success(), "{}", text(out));
        assert!(
            text(out).contains("waiting for another cruddur-db setup or reset"),
            "{}",
            text(out)
        );
    }
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
}

/// A reset really drops: the database comes back with another oid; and `--force` ends a
/// session that holds it open.
#[test]
fn reset_drops_and_force_ends_sessions() {
    let db = TestDb::seeded("resetoid");
    let oid = || {
        psql_admin(&format!(
            "SELECT oid FROM pg_database WHERE datname = '{}'",
            db.name
        ))
    };
    let before = oid();
    let app = format!("hold_{}", db.name);
    let mut holder = std::process::Command::new("psql")
        .args(["-X", "-q", "-d", &db.url, "-c", "select pg_sleep(60)"])
        .env("PGAPPNAME", &app)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until("the holding session", || {
        psql_admin(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
        ))
        .trim()
            == "1"
    });
    db.cmd().arg("reset").assert().code(1);
    assert_eq!(oid(), before, "a refused reset keeps the database");
    db.cmd().args(["reset", "--force"]).assert().success();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_ne!(oid(), before, "reset did not drop the database");
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
    // setup --no-seed: schema only.
    db.cmd().args(["reset", "--no-seed"]).assert().success();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "0");
}

/// A backend terminated in the middle of a load: exit 1 and nothing of the file kept.
#[test]
fn a_load_whose_backend_is_killed_keeps_nothing() {
    let db = TestDb::seeded("killload");
    let app = format!("victim_{}", db.name);
    let url = format!("{}?application_name={app}", db.url);
    let file = write_file(
        db.home.path(),
        "slow.sql",
        "CREATE TABLE first_half (x int);\nSELECT pg_sleep(30);\nCREATE TABLE second_half (x int);\n",
    );
    let child = db
        .std_cmd()
        .env("CONNECTION_URL", &url)
        .arg("schema")
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until("the load to reach pg_sleep", || {
        psql_admin(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}' \
             AND query LIKE '%pg_sleep%' AND state = 'active'"
        ))
        .trim()
            == "1"
    });
    psql_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{app}'"
    ));
    let out = finish(child);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("nothing from this file was kept"),
        "{}",
        text(&out)
    );
    assert_eq!(db.scalar("SELECT to_regclass('first_half') IS NULL"), "t");
}

/// post-crud with its connections terminated midway: the count it reports is the count of
/// rows written.
#[test]
fn post_crud_interrupted_reports_what_it_wrote() {
    let db = TestDb::seeded("killcrud");
    let app = format!("crud_{}", db.name);
    let url = format!("{}?application_name={app}", db.url);
    let before: i64 = db
        .scalar("SELECT count(*) FROM activities")
        .parse()
        .unwrap();
    let child = db
        .std_cmd()
        .env("CONNECTION_URL", &url)
        .args([
            "post-crud",
            "--handle",
            "andrewbrown",
            "--message",
            "n {N}",
            "--count",
            "200000",
            "--concurrency",
            "4",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until("some cruds", || {
        db.scalar("SELECT count(*) FROM activities")
            .parse::<i64>()
            .unwrap()
            > before + 50
    });
    psql_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{app}'"
    ));
    let out = finish(child);
    let err = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let written: i64 = err
        .split("stopped after posting ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in: {err}"));
    let rows: i64 = db
        .scalar("SELECT count(*) FROM activities")
        .parse()
        .unwrap();
    assert_eq!(rows - before, written, "{err}");
}

/// More workers than the role may have connections: the server's reason and the fix are
/// shown, and the count is right.
#[test]
fn more_workers_than_connection_slots_is_explained() {
    let db = TestDb::seeded("slots");
    let role = format!("lim_{}", db.name);
    db.psql(&format!(
        "CREATE ROLE \"{role}\" LOGIN CONNECTION LIMIT 3; \
         GRANT ALL ON ALL TABLES IN SCHEMA public TO \"{role}\";"
    ));
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username(&role).unwrap();
    url.set_password(None).unwrap();
    let out = db
        .cmd()
        .env("CONNECTION_URL", url.as_str())
        .args([
            "post-crud",
            "--handle",
            "andrewbrown",
            "--message",
            "m {N}",
            "--count",
            "500",
            "--concurrency",
            "20",
        ])
        .output()
        .unwrap();
    psql_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'"
    ));
    db.psql(&format!(
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM \"{role}\"; DROP ROLE \"{role}\";"
    ));
    let err = text(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("too many connections for role"), "{err}");
    assert!(err.contains("fewer workers"), "{err}");
    assert!(!err.contains("db error"), "{err}");
}

/// A proxy that starts listening only after `delay`, then forwards to the real server.
fn late_proxy(delay: Duration) -> u16 {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let upstream = url::Url::parse(&common::admin_url()).unwrap();
    let up = format!(
        "{}:{}",
        upstream.host_str().unwrap_or("127.0.0.1"),
        upstream.port().unwrap_or(5432)
    );
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        for conn in listener.incoming().take(64) {
            let Ok(client) = conn else { continue };
            let Ok(server) = TcpStream::connect(&up) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    port
}

#[test]
fn a_server_that_starts_late_is_waited_for() {
    let db = TestDb::unmade("late");
    let port = late_proxy(Duration::from_millis(1500));
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_port(Some(port)).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    let out = db
        .cmd()
        .env("CONNECTION_URL", format!("{url}?sslmode=disable"))
        .args(["create", "--wait=20"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("waiting for 127.0.0.1"),
        "{}",
        text(&out)
    );
    assert!(db.exists());
}

#[test]
fn invalid_utf8_is_refused_before_anything_runs() {
    let db = TestDb::seeded("utf8");
    let path = db.home.path().join("latin1.sql");
    std::fs::write(
        &path,
        b"CREATE TABLE t (x text);\nINSERT INTO t VALUES ('caf\xe9');\n",
    )
    .unwrap();
    let out = db.cmd().arg("schema").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("UTF-8"), "{}", text(&out));
    assert_eq!(db.scalar("SELECT to_regclass('t') IS NULL"), "t");
}

#[test]
fn a_huge_statement_loads() {
    let db = TestDb::new("huge");
    let big = "x".repeat(10 * 1024 * 1024);
    let sql = format!("CREATE TABLE big (v text);\nINSERT INTO big VALUES ('{big}');\n");
    let path = write_file(db.home.path(), "big.sql", &sql);
    db.cmd().arg("schema").arg(&path).assert().success();
    assert_eq!(db.scalar("SELECT length(v) FROM big"), "10485760");
}

#[test]
fn metacharacters_in_handles_and_database_names_are_data() {
    let db = TestDb::unmade("rel we\"ird");
    db.cmd().arg("setup").assert().success();
    assert!(db.exists());
    let handle = "o'brien\"; DROP TABLE users; --";
    db.cmd()
        .args([
            "add-user",
            "--name",
            "O'Brien",
            "--email",
            "ob@example.com",
            "--handle",
            handle,
        ])
        .assert()
        .success();
    db.cmd()
        .args([
            "post-crud",
            "--handle",
            handle,
            "--message",
            "$$ ' \" \\ %s",
        ])
        .assert()
        .success();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "4");
    assert_eq!(
        db.scalar("SELECT message FROM activities ORDER BY created_at DESC LIMIT 1"),
        "$$ ' \" \\ %s"
    );
}
