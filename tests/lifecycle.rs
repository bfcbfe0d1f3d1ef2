//! The local database lifecycle against the real server: target resolution through the
//! binary, create, drop, sessions, schema, seed, setup, reset.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{bin, psql_admin, write_file, TestDb};
use predicates::prelude::*;

/// A psql session held open on `url` with an application name, until dropped.
struct Holder(Child);

impl Holder {
    fn open(url: &str, app: &str) -> Holder {
        let child = std::process::Command::new("psql")
            .args(["-X", "-q", "-d", url, "-c", "select pg_sleep(60)"])
            .env("PGAPPNAME", app)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while psql_admin(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
        ))
        .trim()
            != "1"
        {
            assert!(
                Instant::now() < deadline,
                "the holding session never appeared"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn resolution_order_through_the_binary_and_dotenv() {
    let db = TestDb::unmade("resolve");
    let home = db.home.path();
    // .env in the working directory is read.
    write_file(
        home,
        ".env",
        "CONNECTION_URL=postgresql://dotenv@dotenv.example:5432/fromdotenv\n",
    );
    bin(home)
        .args(["create", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("dotenv.example"));
    // The real environment wins over .env.
    bin(home)
        .env("CONNECTION_URL", "postgresql://real@real.example/x")
        .args(["create", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("real.example"));
    // --no-dotenv ignores the file: DATABASE_URL, then the built-in default.
    bin(home)
        .env("DATABASE_URL", "postgresql://d@database-url.example/x")
        .args(["--no-dotenv", "create", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("database-url.example"));
    bin(home)
        .args(["create", "--dry-run", "--no-dotenv"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "postgresql://postgres:****@localhost:5432/postgres",
        ));
    // --url wins over everything.
    bin(home)
        .env("PROD_CONNECTION_URL", "postgresql://p@prod.example/x")
        .args([
            "--prod",
            "--url",
            "postgresql://f@flag.example/x",
            "create",
            "--dry-run",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("flag.example"));
}

#[test]
fn prod_without_its_variable_is_a_usage_error_and_never_falls_back() {
    let db = TestDb::unmade("prodvar");
    db.cmd()
        .args(["--prod", "create", "--dry-run"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("PROD_CONNECTION_URL"));
}

#[test]
fn passwords_are_masked_in_errors_and_help() {
    let db = TestDb::unmade("mask");
    // A refused connection names host and port, never the password.
    bin(db.home.path())
        .args([
            "--url",
            "postgresql://root:hunter2@127.0.0.1:1/cruddur",
            "create",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("127.0.0.1:1"))
        .stderr(predicate::str::contains("connection refused"))
        .stderr(predicate::str::contains("hunter2").not());
    // A malformed URL is a usage error that shows the masked URL.
    bin(db.home.path())
        .env(
            "CONNECTION_URL",
            "postgresql://root:hunter2@host:notaport/cruddur",
        )
        .args(["create"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("root:****@host"))
        .stderr(predicate::str::contains("hunter2").not());
    // --help shows no value from the environment.
    for args in [
        &["--help"][..],
        &["seed", "--help"],
        &["connect", "--help"],
        &["update-sg-rule", "--help"],
        &["doctor", "--help"],
    ] {
        bin(db.home.path())
            .env("CONNECTION_URL", "postgresql://root:hunter2@h/cruddur")
            .env("PROD_CONNECTION_URL", "postgresql://root:hunter2@h/cruddur")
            .env("DB_SG_ID", "sg-hunter2")
            .env("CRUDDUR_IP_URL", "https://user:hunter2@ip.example")
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("hunter2").not());
    }
}

#[test]
fn create_twice_succeeds_with_a_note() {
    let db = TestDb::unmade("create");
    db.cmd()
        .arg("create")
        .assert()
        .success()
        .stderr(predicate::str::contains("created database"));
    assert!(db.exists());
    db.cmd()
        .arg("create")
        .assert()
        .success()
        .stderr(predicate::str::contains("already exists"));
}

#[test]
fn drop_with_an_open_session_says_who_then_force_ends_it() {
    let db = TestDb::new("drop");
    let app = format!("holder_{}", db.name);
    let holder = Holder::open(&db.url, &app);
    let pid = psql_admin(&format!(
        "SELECT pid FROM pg_stat_activity WHERE application_name = '{app}'"
    ));
    db.cmd()
        .arg("drop")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(pid.trim()))
        .stderr(predicate::str::contains(&app))
        .stderr(predicate::str::contains("--force"));
    assert!(db.exists(), "a refused drop keeps the database");
    db.cmd()
        .args(["drop", "--force"])
        .assert()
        .success()
        .stderr(predicate::str::contains("dropped"));
    assert!(!db.exists());
    drop(holder);
    // Dropping what is not there is fine (IF EXISTS).
    db.cmd()
        .arg("drop")
        .assert()
        .success()
        .stderr(predicate::str::contains("does not exist"));
}

#[test]
fn sessions_lists_client_sessions_on_the_target() {
    let db = TestDb::new("sessions");
    let app = format!("lister_{}", db.name);
    let _holder = Holder::open(&db.url, &app);
    db.cmd()
        .arg("sessions")
        .assert()
        .success()
        .stdout(predicate::str::contains("PID"))
        .stdout(predicate::str::contains(&app));
    let out = db.cmd().args(["sessions", "--json"]).output().unwrap();
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["application"], app.as_str());
    assert_eq!(rows[0]["database"], db.name.as_str());
    // --all lists sessions of other databases as well.
    let other = TestDb::new("sessions_other");
    let other_app = format!("other_{}", other.name);
    let _other_holder = Holder::open(&other.url, &other_app);
    db.cmd()
        .arg("sessions")
        .assert()
        .success()
        .stdout(predicate::str::contains(&other_app).not());
    db.cmd()
        .args(["sessions", "--all"])
        .assert()
        .success()
        .stdout(predicate::str::contains(&other_app))
        .stdout(predicate::str::contains(&app));
}

#[test]
fn schema_then_seed_loads_the_bootcamp_data() {
    let db = TestDb::new("schemaseed");
    db.cmd().arg("schema").assert().success();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "0");
    db.cmd()
        .arg("seed")
        .assert()
        .success()
        .stderr(predicate::str::contains("loaded sql/seed.sql"));
    assert_eq!(
        db.scalar("SELECT string_agg(handle, ',' ORDER BY handle) FROM users"),
        "andrewbrown,bayko,londo"
    );
    assert_eq!(db.scalar("SELECT count(*) > 0 FROM activities"), "t");
    // The schema enforces the app's rules.
    let bad = db
        .cmd()
        .arg("schema")
        .arg(write_file(
            db.home.path(),
            "long.sql",
            "INSERT INTO activities (user_uuid, message) SELECT uuid, repeat('x', 281) FROM users LIMIT 1;",
        ))
        .assert()
        .code(1);
    bad.stderr(predicate::str::contains("activities_message_check"));
}

#[test]
fn seed_before_schema_is_refused() {
    let db = TestDb::new("seedfirst");
    db.cmd()
        .arg("seed")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("schema is not loaded"))
        .stderr(predicate::str::contains("cruddur-db schema"));
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        "0"
    );
}

#[test]
fn setup_creates_loads_and_seeds_one_target_and_reset_starts_over() {
    let db = TestDb::unmade("setup");
    db.cmd().arg("setup").assert().success();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
    db.psql(
        "INSERT INTO users (display_name, email, handle) VALUES ('X', 'x@example.com', 'extra')",
    );
    db.cmd().arg("reset").assert().success();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
    // setup on an existing database reloads schema and seed.
    db.cmd().arg("setup").assert().success();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
}

#[test]
fn setup_never_splits_targets() {
    // Regression: the old `setup prod` dropped the local database and loaded prod.
    // With --url naming one database and CONNECTION_URL another, every step hits --url's.
    let local = TestDb::new("split_local");
    local.cmd().arg("schema").assert().success();
    local.cmd().arg("seed").assert().success();
    local.psql(
        "INSERT INTO users (display_name, email, handle) VALUES ('M', 'm@example.com', 'marker')",
    );
    let other = TestDb::unmade("split_other");
    local
        .cmd()
        .args(["--url", &other.url, "reset"])
        .assert()
        .success();
    assert!(other.exists());
    assert_eq!(other.scalar("SELECT count(*) FROM users"), "3");
    // The local database was neither dropped nor reloaded: the marker row is still there.
    assert!(local.exists());
    assert_eq!(
        local.scalar("SELECT count(*) FROM users WHERE handle = 'marker'"),
        "1"
    );
    assert_eq!(
        other.scalar("SELECT count(*) FROM users WHERE handle = 'marker'"),
        "0"
    );
}

#[test]
fn ci_example_commands_work_with_database_url_and_wait() {
    // The same commands examples/ci/github-actions.yml runs.
    let example = std::fs::read_to_string("examples/ci/github-actions.yml").unwrap();
    assert!(example.contains("cruddur-db setup --wait"), "{example}");
    let db = TestDb::unmade("ci");
    bin(db.home.path())
        .env("DATABASE_URL", &db.url)
        .args(["setup", "--wait"])
        .assert()
        .success();
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
}

#[test]
fn wait_gives_up_on_a_server_that_never_comes() {
    let db = TestDb::unmade("wait");
    bin(db.home.path())
        .args([
            "--url",
            "postgresql://postgres@127.0.0.1:1/x",
            "create",
            "--wait=1",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("waiting for 127.0.0.1:1"))
        .stderr(predicate::str::contains("connection refused"));
}

#[test]
fn a_missing_file_is_a_usage_error() {
    let db = TestDb::new("nofile");
    db.cmd()
        .args(["schema", "does-not-exist.sql"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does-not-exist.sql"));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    // `cruddur-db sessions | head -0`: the reader is gone before anything is written.
    let db = TestDb::new("pipe");
    let mut child = db
        .std_cmd()
        .args(["sessions", "--all", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
