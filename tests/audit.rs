//! The audit log: a line for every write on a protected target (ok, failed, refused), whole
//! lines under concurrent runs, no secret in the file, and a refused write when the log
//! cannot be written.

mod common;

use common::{write_file, TestDb};
use predicates::prelude::*;
use serde_json::Value;

fn lines(dir: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect()
}

/// The test database's URL with a password in it (trust authentication ignores it).
fn url_with_password(db: &TestDb) -> (String, String) {
    let mut url = url::Url::parse(&db.url).unwrap();
    if url.password().is_none() {
        url.set_password(Some("audit-Secret-1")).unwrap();
    }
    let pw = url.password().unwrap().to_string();
    (url.to_string(), pw)
}

#[test]
fn protected_writes_are_logged_with_their_outcome() {
    let db = TestDb::seeded("auditok");
    let state = db.home.path().join("state");
    let (url, password) = url_with_password(&db);
    let cmd = || {
        let mut c = db.cmd();
        c.env("CONNECTION_URL", &url)
            .env("CRUDDUR_STATE_DIR", &state)
            .env("USER", "tester");
        c
    };
    // ok
    cmd()
        .args(["--protected", "seed", "--yes", "--confirm-db", &db.name])
        .arg(write_file(db.home.path(), "s.sql", "SELECT 1;"))
        .assert()
        .success();
    // failed
    cmd()
        .args(["--protected", "seed", "--yes", "--confirm-db", &db.name])
        .arg(write_file(
            db.home.path(),
            "bad.sql",
            "SELECT * FROM nowhere;",
        ))
        .assert()
        .code(1);
    // refused: no terminal, no --yes
    cmd()
        .args(["--protected", "drop"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("stdin is not a terminal"));
    // not logged: a dry run, a read, and an unprotected write
    cmd()
        .args(["--protected", "drop", "--dry-run"])
        .assert()
        .success();
    cmd().args(["--protected", "users"]).assert().success();
    cmd()
        .arg("seed")
        .arg(db.home.path().join("s.sql"))
        .assert()
        .success();

    let text = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert!(text.contains(":****@"), "{text}");
    assert!(!text.contains(&password), "{text}");
    let got = lines(&state);
    let outcomes: Vec<(&str, i64)> = got
        .iter()
        .map(|l| {
            (
                l["outcome"].as_str().unwrap(),
                l["exit_code"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(outcomes, [("ok", 0), ("failed", 1), ("refused", 3)]);
    let first = &got[0];
    assert_eq!(first["user"], "tester");
    assert!(first["host"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(first["target"]["database"], db.name.as_str());
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert!(first["duration_ms"].as_u64().is_some());
    let command: Vec<&str> = first["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(command[1..4], ["--protected", "seed", "--yes"]);

    // `audit` shows it; --last and --json.
    let out = cmd()
        .args(["audit", "--json", "--last", "2"])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown.as_array().unwrap().len(), 2);
    assert_eq!(shown[1]["outcome"], "refused");
    cmd()
        .arg("audit")
        .assert()
        .success()
        .stdout(predicate::str::contains("refused (3)"))
        .stdout(predicate::str::contains(&db.name));
}

#[test]
fn an_unwritable_log_refuses_the_write_before_it_starts() {
    let db = TestDb::seeded("auditfull");
    // A file where the directory should be: nothing can be created under it, even as root.
    let blocker = write_file(db.home.path(), "blocker", "");
    db.cmd()
        .env("CRUDDUR_STATE_DIR", blocker.join("state"))
        .args(["--protected", "reset", "--yes", "--confirm-db", &db.name])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot write the audit log"))
        .stderr(predicate::str::contains("CRUDDUR_STATE_DIR"));
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
    db.psql("INSERT INTO users (display_name, email, handle) VALUES ('x', 'x@x.x', 'x')");
    // The same write without protection needs no log.
    db.cmd()
        .env("CRUDDUR_STATE_DIR", blocker.join("state"))
        .arg("reset")
        .assert()
        .success();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
}

#[test]
fn concurrent_runs_append_whole_lines() {
    let db = TestDb::seeded("auditmany");
    let state = db.home.path().join("state");
    let file = write_file(db.home.path(), "one.sql", "SELECT 1;");
    let children: Vec<_> = (0..8)
        .map(|_| {
            db.std_cmd()
                .env("CRUDDUR_STATE_DIR", &state)
                .args(["--protected", "seed", "--yes", "--confirm-db", &db.name])
                .arg(&file)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let got = lines(&state);
    assert_eq!(got.len(), 8);
    assert!(got.iter().all(|l| l["outcome"] == "ok"));
}

/// `connect --write` hands the process to psql, so its line is written when psql starts;
/// a read-only `connect` writes nothing.
#[test]
fn connect_write_is_logged_when_psql_starts() {
    let db = TestDb::new("auditconnect");
    let state = db.home.path().join("state");
    let path = common::fake_psql(db.home.path());
    db.cmd()
        .env("CRUDDUR_STATE_DIR", &state)
        .env("PATH", &path)
        .args(["--protected", "connect"])
        .assert()
        .success();
    assert!(lines(&state).is_empty());
    db.cmd()
        .env("CRUDDUR_STATE_DIR", &state)
        .env("PATH", &path)
        .args([
            "--protected",
            "connect",
            "--write",
            "--yes",
            "--confirm-db",
            &db.name,
        ])
        .assert()
        .success();
    common::psql_seen(db.home.path());
    let got = lines(&state);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["outcome"], "ok");
    assert_eq!(got[0]["command"][2], "connect");
}
