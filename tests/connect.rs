//! `connect`: what psql receives. A fake `psql` first on PATH records its argv and
//! environment; the real psql proves the read-only session and the TLS settings on the
//! production-like server.

mod common;
mod prod;

use std::path::PathBuf;

use prod::{prod_ca, prod_password, ProdDb};

#[test]
fn plain_connect_passes_no_password_or_url_in_argv() {
    let db = common::TestDb::new("connectplain");
    let home = db.home.path();
    let path = common::fake_psql(home);
    let (url, password) = common::url_with_password(&db);
    common::bin(home)
        .env("PATH", &path)
        .env("CONNECTION_URL", url.as_str())
        .arg("connect")
        .assert()
        .success();
    let s = common::psql_seen(home);
    assert!(s.args.is_empty(), "{:?}", s.args);
    common::argv_has_no_secret(&s, &password);
    let env = &s.env;
    assert_eq!(env["PGHOST"], url.host_str().unwrap());
    assert_eq!(env["PGPORT"], url.port().unwrap_or(5432).to_string());
    assert_eq!(env["PGUSER"], url.username());
    assert_eq!(env["PGDATABASE"], db.name);
    assert_eq!(env["PGPASSWORD"], password);
    assert_eq!(env["PGSSLMODE"], "prefer");
    // Not protected: no read-only session, no production prompt.
    assert!(!env.contains_key("PGOPTIONS"), "{}", s.raw);
    assert!(!env.contains_key("PSQLRC"), "{}", s.raw);
}

#[test]
fn extra_arguments_after_double_dash_reach_psql() {
    let db = common::TestDb::new("connectargs");
    let home = db.home.path();
    let path = common::fake_psql(home);
    let (url, password) = common::url_with_password(&db);
    common::bin(home)
        .env("PATH", &path)
        .env("CONNECTION_URL", url.as_str())
        .args(["connect", "--", "-c", "select 1", "-A"])
        .assert()
        .success();
    let s = common::psql_seen(home);
    assert_eq!(s.args, ["-c", "select 1", "-A"]);
    common::argv_has_no_secret(&s, &password);
}

/// Regression: connect used to hand psql a connection that could not work and pass libpq's
/// raw failure through (exit 2, no hint); now the tool's own client checks it first.
#[test]
fn a_connection_that_cannot_work_fails_before_psql_starts() {
    let db = common::TestDb::unmade("connectmissing");
    let home = db.home.path();
    let path = common::fake_psql(home);
    let (url, password) = common::url_with_password(&db);
    let out = common::bin(home)
        .env("PATH", &path)
        .env("CONNECTION_URL", url.as_str())
        .arg("connect")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(stderr.contains("cruddur-db create"), "{stderr}");
    // The error names the server by host and port only: no credentials of any kind.
    assert!(stderr.contains("on 127.0.0.1:5432"), "{stderr}");
    assert!(
        !stderr.contains('@') && !stderr.contains(&password),
        "{stderr}"
    );
    assert!(!home.join("psql-seen").exists(), "psql started anyway");
}

#[test]
fn prod_connect_is_read_only_with_the_prod_prompt_and_verified_tls() {
    let db = ProdDb::new("connectprod");
    let home = db.home.path();
    let path = common::fake_psql(home);
    let own_rc = home.join(".psqlrc");
    std::fs::write(&own_rc, "\\set HISTSIZE 5000\n").unwrap();
    db.cmd()
        .env("PATH", &path)
        .env("PGOPTIONS", "-c default_transaction_read_only=off")
        .args(["--prod", "connect"])
        .assert()
        .success();
    let s = common::psql_seen(home);
    assert!(s.args.is_empty(), "{:?}", s.args);
    common::argv_has_no_secret(&s, &prod_password());
    let env = &s.env;
    assert_eq!(env["PGPASSWORD"], prod_password());
    assert_eq!(env["PGDATABASE"], db.name);
    // Read-only comes last, so it wins over an inherited option that turns it off.
    assert!(
        env["PGOPTIONS"].ends_with("-c default_transaction_read_only=on"),
        "{}",
        env["PGOPTIONS"]
    );
    assert_eq!(env["PGSSLMODE"], "verify-full");
    assert_eq!(PathBuf::from(&env["PGSSLROOTCERT"]), prod_ca());
    let rc = std::fs::read_to_string(&env["PSQLRC"]).unwrap();
    assert!(rc.contains("PROMPT1"), "{rc}");
    assert!(rc.contains(" PROD "), "{rc}");
    assert!(rc.contains("%/@%M"), "{rc}");
    assert!(
        rc.contains(&format!("\\i '{}'", own_rc.display())),
        "the user's psqlrc is not sourced: {rc}"
    );
}

#[test]
fn prod_connect_defaults_to_the_rds_bundle_in_the_cache() {
    let db = ProdDb::new("connectbundle");
    let home = db.home.path();
    let path = common::fake_psql(home);
    // The bundle `tls fetch-rds-ca` would have downloaded: here, the test server's CA.
    let cache = home.join(".cache/cruddur-db");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::copy(prod_ca(), cache.join("rds-global-bundle.pem")).unwrap();
    db.cmd()
        .env("PATH", &path)
        .env("PROD_CONNECTION_URL", db.url())
        .args(["--prod", "connect"])
        .assert()
        .success();
    let s = common::psql_seen(home);
    assert_eq!(s.env["PGSSLMODE"], "verify-full");
    assert_eq!(
        PathBuf::from(&s.env["PGSSLROOTCERT"]),
        home.join(".cache/cruddur-db/rds-global-bundle.pem")
    );
}

#[test]
fn prod_write_needs_the_confirmation() {
    let db = ProdDb::new("connectwrite");
    let home = db.home.path();
    let path = common::fake_psql(home);
    let out = db
        .cmd()
        .env("PATH", &path)
        .args(["--prod", "connect", "--write"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("refused: protected target: open a WRITABLE psql session on")
            && err.contains("needs confirmation, and stdin is not a terminal"),
        "{err}"
    );
    assert!(
        !home.join("psql-seen").exists(),
        "psql started without confirmation"
    );
    db.cmd()
        .env("PATH", &path)
        .args([
            "--prod",
            "connect",
            "--write",
            "--yes",
            "--confirm-db",
            &db.name,
        ])
        .assert()
        .success();
    let s = common::psql_seen(home);
    assert!(!s.env.contains_key("PGOPTIONS"), "{}", s.raw);
    let rc = std::fs::read_to_string(&s.env["PSQLRC"]).unwrap();
    assert!(rc.contains("PROD WRITE"), "{rc}");
    common::argv_has_no_secret(&s, &prod_password());
}

#[test]
fn real_psql_on_prod_is_read_only_and_verifies_tls() {
    let db = ProdDb::new("connectreal");
    let out = db
        .cmd()
        .args(["--prod", "connect", "--", "-X", "-A", "-t", "-c"])
        .arg("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .args(["-c", "SHOW default_transaction_read_only"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().collect::<Vec<_>>(), ["t", "on"]);
    let out = db
        .cmd()
        .args([
            "--prod",
            "connect",
            "--",
            "-X",
            "-c",
            "CREATE TABLE written (x int)",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("read-only transaction"), "{stderr}");
    assert_eq!(db.scalar("SELECT to_regclass('written') IS NULL"), "t");
    db.cmd()
        .args([
            "--prod",
            "connect",
            "--write",
            "--yes",
            "--confirm-db",
            &db.name,
        ])
        .args(["--", "-X", "-c", "CREATE TABLE written (x int)"])
        .assert()
        .success();
    assert_eq!(db.scalar("SELECT to_regclass('written') IS NOT NULL"), "t");
    // libpq gets verify-full too: by IP address the certificate (for localhost) is refused.
    let by_ip = prod::with(
        &prod::prod_url(),
        Some("127.0.0.1"),
        Some(&db.name),
        Some(&prod::verify_full(&prod_ca())),
    );
    let out = db
        .cmd()
        .env("PROD_CONNECTION_URL", by_ip)
        .args(["--prod", "connect", "--", "-X", "-c", "SELECT 1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("host name mismatch"), "{stderr}");
}

#[test]
fn missing_psql_says_how_to_install_it() {
    let home = tempfile::tempdir().unwrap();
    let empty = home.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = common::bin(home.path())
        .env("PATH", &empty)
        .env(
            "CONNECTION_URL",
            "postgresql://root:pw1234@localhost/cruddur",
        )
        .arg("connect")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("psql is not installed"), "{stderr}");
    assert!(
        stderr.contains("apt-get install postgresql-client"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw1234"), "{stderr}");
}
