//! What a new user hit in the first ten minutes on a clean clone, each kept as a regression
//! test: passwords in malformed URLs, `--wait 5`, wrong hints, silent waits, plans on the
//! wrong stream, inputs read twice, empty files.

mod common;

use common::{bin, write_file, TestDb};
use predicates::prelude::*;

const SECRET: &str = "hunter2-Secret";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Regression: URLs without `//` were echoed whole through every channel.
#[test]
fn malformed_urls_never_show_the_password() {
    let home = tempfile::tempdir().unwrap();
    let bad = [
        format!("u:{SECRET}@localhost/db"),
        format!("postgres:/u:{SECRET}@h/db"),
        format!("postgres:u:{SECRET}@h/db"),
    ];
    for url in &bad {
        let runs = [
            bin(home.path())
                .args(["--url", url, "create"])
                .output()
                .unwrap(),
            bin(home.path())
                .env("CONNECTION_URL", url)
                .arg("create")
                .output()
                .unwrap(),
            bin(home.path())
                .env("CONNECTION_URL", url)
                .arg("doctor")
                .output()
                .unwrap(),
        ];
        for out in &runs {
            let text = format!("{}{}", stdout(out), stderr(out));
            assert!(text.contains(":****@"), "{url}: {text}");
            assert!(!text.contains(SECRET), "{url}: {text}");
        }
        assert_eq!(runs[0].status.code(), Some(2), "{}", stderr(&runs[0]));
        let json = bin(home.path())
            .env("CONNECTION_URL", url)
            .args(["doctor", "--json"])
            .output()
            .unwrap();
        let text = stdout(&json);
        assert!(text.contains(":****@"), "{url}: {text}");
        assert!(!text.contains(SECRET), "{url}: {text}");
    }
}

/// Regression: the same through `.env`, and a `.env` line with an unclosed quote.
#[test]
fn dotenv_never_shows_the_password() {
    let home = tempfile::tempdir().unwrap();
    write_file(
        home.path(),
        ".env",
        &format!("CONNECTION_URL=postgres:u:{SECRET}@h/db\n"),
    );
    let out = bin(home.path()).arg("create").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(":****@"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(SECRET), "{}", stderr(&out));
    write_file(
        home.path(),
        ".env",
        &format!("A=1\nCONNECTION_URL=\"postgresql://u:{SECRET}@h/db\n"),
    );
    let out = bin(home.path()).arg("create").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(".env: line 2"), "{err}");
    assert!(err.contains("--no-dotenv"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
}

/// Regression: `--wait 5` was read as a SQL file named 5.
#[test]
fn a_spaced_wait_value_says_use_equals() {
    let db = TestDb::new("waitspace");
    for args in [
        &["schema", "--wait", "5"][..],
        &["create", "--wait", "5"][..],
    ] {
        db.cmd()
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("use --wait=5"));
    }
}

/// Regression: after `--wait=1` ran out, the error still said "pass --wait".
#[test]
fn a_wait_that_ran_out_does_not_suggest_waiting() {
    let home = tempfile::tempdir().unwrap();
    let out = bin(home.path())
        .args([
            "--url",
            "postgresql://postgres@127.0.0.1:1/x",
            "create",
            "--wait=1",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--wait=1"), "{err}");
    assert!(!err.contains("pass --wait"), "{err}");
}

/// Regression: clap turned `{n}` into a line break in the help text.
#[test]
fn post_crud_help_shows_the_number_placeholder_on_one_line() {
    let home = tempfile::tempdir().unwrap();
    let out = bin(home.path())
        .args(["post-crud", "--help"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("`{N}` becomes"), "{text}");
}

/// Regression: a role that does not exist was blamed on pg_hba.conf.
#[test]
fn doctor_says_a_missing_role_does_not_exist() {
    let db = TestDb::new("norole");
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_username("no_such_role_here").unwrap();
    let out = bin(db.home.path())
        .env("CONNECTION_URL", url.as_str())
        .arg("doctor")
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("does not exist"), "{text}");
    assert!(text.contains("CREATE ROLE"), "{text}");
    assert!(!text.contains("pg_hba.conf must allow"), "{text}");
    let out = bin(db.home.path())
        .env("CONNECTION_URL", url.as_str())
        .arg("users")
        .output()
        .unwrap();
    assert!(stderr(&out).contains("has no role"), "{}", stderr(&out));
}

/// Regression: a port that is not PostgreSQL gave "bytes remaining on stream".
#[test]
fn a_port_that_is_not_postgres_is_explained() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(4) {
            let Ok(mut conn) = conn else { continue };
            use std::io::{Read, Write};
            let mut buf = [0u8; 512];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let home = tempfile::tempdir().unwrap();
    let out = bin(home.path())
        .args([
            "--url",
            &format!("postgresql://postgres@127.0.0.1:{port}/x?sslmode=disable"),
            "users",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is this port a PostgreSQL server"), "{err}");
}

/// Regression: `connect --dry-run` printed "psql  on" (two spaces).
#[test]
fn connect_dry_run_reads_plainly() {
    let home = tempfile::tempdir().unwrap();
    let out = bin(home.path())
        .args([
            "--url",
            "postgresql://u:pw@localhost/db",
            "connect",
            "--dry-run",
        ])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.starts_with("would run psql on postgresql://u:****@localhost/db"),
        "{text}"
    );
    assert!(!text.contains("pw@"), "{text}");
}

/// Regression: `--confirm-db` naming another database was accepted with `--dry-run`.
#[test]
fn a_wrong_confirm_db_is_refused_in_dry_runs_too() {
    let db = TestDb::new("confirmdry");
    for cmd in ["schema", "seed", "setup", "reset", "drop"] {
        db.cmd()
            .args([cmd, "--dry-run", "--confirm-db", "another_db"])
            .assert()
            .code(3)
            .stderr(predicate::str::contains(
                "does not match the target database",
            ));
    }
}

/// Regression: post-crud and add-user printed their plans on stderr; every plan is stdout.
#[test]
fn every_dry_run_plan_is_on_stdout() {
    let db = TestDb::seeded("plans");
    let plans: [&[&str]; 7] = [
        &["create", "--dry-run"],
        &["drop", "--dry-run"],
        &["schema", "--dry-run"],
        &["setup", "--dry-run"],
        &["reset", "--dry-run"],
        &[
            "post-crud",
            "--handle",
            "andrewbrown",
            "--message",
            "hi",
            "--dry-run",
        ],
        &[
            "add-user",
            "--name",
            "N",
            "--email",
            "n@example.com",
            "--handle",
            "newone",
            "--dry-run",
        ],
    ];
    let activities = db.scalar("SELECT count(*) FROM activities");
    for args in plans {
        let out = db.cmd().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert!(
            stdout(&out).starts_with("would "),
            "{args:?}: {}",
            stdout(&out)
        );
    }
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
    assert_eq!(db.scalar("SELECT count(*) FROM activities"), activities);
}

/// Regression: `setup` on an existing database said "nothing to do" and then replaced its
/// tables.
#[test]
fn setup_on_an_existing_database_says_it_replaces_the_tables() {
    let db = TestDb::seeded("setupagain");
    let out = db.cmd().arg("setup").output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("nothing to do"), "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert!(err.contains("replaces its tables"), "{err}");
}

/// Regression: `drop` with a session open waited 5 s in silence before failing.
#[test]
fn drop_with_a_session_open_fails_at_once() {
    let db = TestDb::new("dropfast");
    let mut holder = std::process::Command::new("psql")
        .args(["-X", "-q", "-d", &db.url, "-c", "select pg_sleep(60)"])
        .env("PGAPPNAME", format!("hold_{}", db.name))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let app = format!("hold_{}", db.name);
    let seen = || {
        common::psql_admin(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
        ))
        .trim()
            == "1"
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen() {
        assert!(
            std::time::Instant::now() < deadline,
            "the session never appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // PostgreSQL itself waits 5 s for other sessions inside DROP DATABASE; the check before
    // it means the server never got the DROP: its statistics show no such wait.
    let out = db.cmd().arg("drop").output().unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("1 other session(s)"), "{err}");
    assert!(err.contains("nothing was dropped"), "{err}");
    assert!(db.exists());
}

/// Regression: `reset --schema-file -` read stdin twice: it dropped the database, then loaded
/// "0 statements" from the exhausted stdin.
#[test]
fn reset_reads_stdin_once_before_dropping() {
    let db = TestDb::seeded("resetstdin");
    let schema = lifecycle_schema();
    db.cmd()
        .args(["reset", "--schema-file", "-"])
        .write_stdin(schema)
        .assert()
        .success();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
    assert_eq!(
        db.scalar("SELECT to_regclass('public.from_stdin') IS NOT NULL"),
        "t"
    );
}

fn lifecycle_schema() -> String {
    let schema = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/schema.sql"),
    )
    .unwrap();
    format!("{schema}\nCREATE TABLE public.from_stdin (x int);\n")
}

/// Regression: an empty (or comment-only) schema loaded as "0 statements", exit 0, leaving an
/// empty database after reset's drop.
#[test]
fn an_empty_schema_file_is_refused_before_anything_changes() {
    let db = TestDb::seeded("emptyschema");
    let empty = write_file(
        db.home.path(),
        "empty.sql",
        "-- nothing here\n\n/* at all */\n",
    );
    for args in [
        vec!["schema", empty.to_str().unwrap()],
        vec!["setup", "--schema-file", empty.to_str().unwrap()],
        vec!["reset", "--schema-file", empty.to_str().unwrap()],
    ] {
        db.cmd()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("holds no SQL statement"))
            .stderr(predicate::str::contains("nothing was changed"));
    }
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
    db.cmd()
        .args(["seed", empty.to_str().unwrap()])
        .assert()
        .success()
        .stderr(predicate::str::contains("warning"))
        .stderr(predicate::str::contains("holds no SQL statement"));
}

#[test]
fn completions_and_man_page_are_generated() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = bin(home.path())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(stdout(&out).contains("update-sg-rule"), "{shell}");
    }
    bin(home.path())
        .args(["completions", "tcsh"])
        .assert()
        .code(2);
    let out = bin(home.path()).arg("man").output().unwrap();
    assert!(out.status.success());
    let page = stdout(&out);
    assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
    assert!(page.contains("cruddur\\-db"), "{page}");
}
