//! Shared helpers for the integration tests: a uniquely named database per test on the real
//! server named by CRUDDUR_TEST_ADMIN_URL, and the binary with a cleared environment.
#![allow(dead_code)]

pub mod catalog;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;

/// Every `.rs` file under the crate's `src/`, sorted: its path from the crate's root (with
/// `/`) and its text. For the tests that keep a rule over the whole source.
pub fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// The server the tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("CRUDDUR_TEST_ADMIN_URL")
        .unwrap_or_else(|_| "postgresql://postgres@127.0.0.1:5432/postgres".to_string())
}

/// `admin_url` with another database.
pub fn url_for(db: &str) -> String {
    url_on(&admin_url(), db)
}

/// A server's admin URL with another database.
pub fn url_on(admin: &str, db: &str) -> String {
    let mut u = url::Url::parse(admin).expect("an admin URL is a URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique database name for a test.
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("t_{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A database that exists for one test: dropped when the test passes, kept when it fails so
/// the evidence stays.
pub struct TestDb {
    pub name: String,
    pub url: String,
    /// The admin URL of the server it is on (created and dropped through it).
    pub admin: String,
    /// A fresh HOME and working directory, so no user files or .env leak in.
    pub home: tempfile::TempDir,
}

impl TestDb {
    /// A new, empty database.
    pub fn new(prefix: &str) -> TestDb {
        let db = TestDb::unmade(prefix);
        psql_admin(&format!("CREATE DATABASE \"{}\"", db.name));
        db
    }

    /// A unique name (and URL) with no database behind it yet.
    pub fn unmade(prefix: &str) -> TestDb {
        TestDb::unmade_on(&admin_url(), prefix)
    }

    /// A new, empty database on another server, named by its admin URL.
    pub fn new_on(admin: &str, prefix: &str) -> TestDb {
        let db = TestDb::unmade_on(admin, prefix);
        psql(admin, &format!("CREATE DATABASE \"{}\"", db.name));
        db
    }

    /// [`TestDb::unmade`] on another server, named by its admin URL.
    pub fn unmade_on(admin: &str, prefix: &str) -> TestDb {
        let name = unique_name(prefix);
        let url = url_on(admin, &name);
        TestDb {
            name,
            url,
            admin: admin.to_string(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// A database with the built-in schema and seed loaded.
    pub fn seeded(prefix: &str) -> TestDb {
        let db = TestDb::unmade(prefix);
        db.cmd().arg("setup").assert().success();
        db
    }

    /// The binary with a cleared environment, CONNECTION_URL pointing at this database, and
    /// the temporary HOME as working directory.
    pub fn cmd(&self) -> Command {
        let mut c = bin(self.home.path());
        c.env("CONNECTION_URL", &self.url);
        c
    }

    /// [`TestDb::cmd`] as a `std::process::Command`.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std_bin(self.home.path());
        c.env("CONNECTION_URL", &self.url);
        c
    }

    /// Runs SQL on this database with psql and returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        psql(&self.url, sql)
    }

    /// A client on this database (its connection driven by a spawned task).
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
    }

    /// One value from a query.
    pub fn scalar(&self, sql: &str) -> String {
        self.psql(sql).trim().to_string()
    }

    pub fn exists(&self) -> bool {
        psql(
            &self.admin,
            &format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{}'",
                self.name
            ),
        )
        .trim()
            == "1"
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept database {} for inspection", self.name);
            return;
        }
        let drop = format!(
            "DROP DATABASE IF EXISTS \"{}\"",
            self.name.replace('"', "\"\"")
        );
        // NOTE: WITH (FORCE) is PostgreSQL 13+; on 12 the plain form (nothing is connected
        // once the test is done).
        for sql in [format!("{drop} WITH (FORCE)"), drop] {
            let done = std::process::Command::new("psql")
                .args(["-X", "-q", "-d", &self.admin, "-c", &sql])
                .output()
                .is_ok_and(|o| o.status.success());
            if done {
                break;
            }
        }
    }
}

/// The binary with a cleared environment (PATH kept), HOME set to `home`, run in `home`.
pub fn bin(home: &Path) -> Command {
    Command::from_std(std_bin(home))
}

/// The same as [`bin`], as a `std::process::Command` (to spawn it in the background).
pub fn std_bin(home: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("cruddur-db"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        .current_dir(home);
    c
}

/// Runs SQL with psql (ON_ERROR_STOP) and returns unaligned, tuples-only output.
pub fn psql(url: &str, sql: &str) -> String {
    let out = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// SQL on the admin database.
pub fn psql_admin(sql: &str) -> String {
    psql(&admin_url(), sql)
}

/// Writes a file into a directory and returns its path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// What the fake psql saw.
pub struct Seen {
    pub args: Vec<String>,
    pub env: HashMap<String, String>,
    pub raw: String,
}

/// A directory holding a fake `psql` that writes its argv and environment to
/// `$HOME/psql-seen` and exits 0; returns the PATH to use (fake first).
pub fn fake_psql(home: &Path) -> String {
    let dir = home.join("fakebin");
    std::fs::create_dir_all(&dir).unwrap();
    let psql = dir.join("psql");
    std::fs::write(
        &psql,
        "#!/bin/sh\n\
         out=\"$HOME/psql-seen\"\n\
         : > \"$out\"\n\
         for a in \"$@\"; do printf 'ARG %s\\n' \"$a\" >> \"$out\"; done\n\
         env | sed 's/^/ENV /' >> \"$out\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&psql, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

pub fn psql_seen(home: &Path) -> Seen {
    let raw = std::fs::read_to_string(home.join("psql-seen")).expect("the fake psql ran");
    let mut args = Vec::new();
    let mut env = HashMap::new();
    for line in raw.lines() {
        if let Some(a) = line.strip_prefix("ARG ") {
            args.push(a.to_string());
        } else if let Some(kv) = line.strip_prefix("ENV ") {
            if let Some((k, v)) = kv.split_once('=') {
                env.insert(k.to_string(), v.to_string());
            }
        }
    }
    Seen { args, env, raw }
}

pub fn argv_has_no_secret(s: &Seen, password: &str) {
    for a in &s.args {
        assert!(
            !a.contains(password),
            "password in psql's argv: {:?}",
            s.args
        );
        assert!(
            !a.contains("postgres://") && !a.contains("postgresql://"),
            "URL in argv: {:?}",
            s.args
        );
    }
}

/// The test database's URL with a password in it: the server's own when the admin URL has
/// one, else a made-up one (trust authentication ignores it).
pub fn url_with_password(db: &TestDb) -> (url::Url, String) {
    let mut url = url::Url::parse(&db.url).unwrap();
    let password = match url.password() {
        Some(p) => p.to_string(),
        None => {
            url.set_password(Some("s3cret-Pw")).unwrap();
            "s3cret-Pw".to_string()
        }
    };
    (url, password)
}

/// `pg_dump --schema-only --no-owner --no-privileges` of `url`, without what differs between
/// two databases of the same schema and nothing else: comment lines (pg_dump's version, the
/// database name), the random `\restrict` / `\unrestrict` keys, and blank lines. Every
/// statement, its text and its order are compared as they are.
pub fn pg_dump_schema(url: &str) -> String {
    let out = std::process::Command::new("pg_dump")
        .args(["--schema-only", "--no-owner", "--no-privileges", "-d", url])
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("--")
                && !l.starts_with("\\restrict")
                && !l.starts_with("\\unrestrict")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every user table of `url` with its row count and a digest of its rows.
pub fn rows_of(url: &str) -> String {
    let tables = psql(
        url,
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables \
         WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    );
    let mut out = String::new();
    for t in tables.lines() {
        let q = format!(
            "SELECT count(*) || ' ' || coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '-') FROM {t} r"
        );
        out.push_str(&format!("{t}: {}", psql(url, &q)));
    }
    out
}

/// Loads a SQL file into `url` with the real psql (ON_ERROR_STOP, one transaction).
pub fn psql_file(url: &str, file: &Path) {
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(file)
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql -f {} on {url} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The first line where two texts differ, both sides named, for a readable failure.
pub fn first_difference(a: &str, b: &str, names: (&str, &str)) -> String {
    let (la, lb): (Vec<_>, Vec<_>) = (a.lines().collect(), b.lines().collect());
    for i in 0..la.len().max(lb.len()) {
        let (x, y) = (la.get(i), lb.get(i));
        if x != y {
            return format!(
                "line {}: {} {:?} / {} {:?}",
                i + 1,
                names.0,
                x.unwrap_or(&"(end)"),
                names.1,
                y.unwrap_or(&"(end)")
            );
        }
    }
    "(same lines)".into()
}

/// The servers of other PostgreSQL versions to test on, as (major, admin URL), from
/// CRUDDUR_TEST_PG_VERSIONS (`MAJOR=ADMIN_URL` pairs separated by spaces, set by scripts/test
/// from scripts/start-pg-versions). Unset or empty is a failure, not a skip.
pub fn pg_version_servers() -> Vec<(u32, String)> {
    let raw = std::env::var("CRUDDUR_TEST_PG_VERSIONS").unwrap_or_default();
    let servers: Vec<(u32, String)> = raw
        .split_whitespace()
        .map(|pair| {
            let (major, url) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("CRUDDUR_TEST_PG_VERSIONS: {pair:?} is not MAJOR=URL"));
            let major = major.parse().unwrap_or_else(|_| {
                panic!("CRUDDUR_TEST_PG_VERSIONS: {major:?} is not a major version")
            });
            (major, url.to_string())
        })
        .collect();
    assert!(
        !servers.is_empty(),
        "CRUDDUR_TEST_PG_VERSIONS is unset or empty: run scripts/test, or set it from \
         scripts/start-pg-versions (eval \"$(scripts/start-pg-versions)\")"
    );
    servers
}
