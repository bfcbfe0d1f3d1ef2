//! Helpers for the tests against the production-like server of `scripts/start-prod-pg`:
//! TLS only, scram-sha-256, a certificate for `localhost` signed by a throwaway CA. Each test
//! gets its own database there (the role `cruddurroot` may create databases, like the RDS
//! master user), dropped when the test passes and kept when it fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;

use crate::common;

fn env_or_panic(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
            "{name} is not set: these tests need the production-like PostgreSQL; run them through \
             scripts/test, or `eval \"$(scripts/start-prod-pg)\"` first (it sets \
             CRUDDUR_TEST_PROD_URL and CRUDDUR_TEST_PROD_CA)"
        )
        })
}

/// The URL of the production-like server's `cruddur` database, with the password.
pub fn prod_url() -> url::Url {
    url::Url::parse(&env_or_panic("CRUDDUR_TEST_PROD_URL")).expect("CRUDDUR_TEST_PROD_URL is a URL")
}

/// The throwaway CA that signed the production-like server's certificate.
pub fn prod_ca() -> PathBuf {
    let p = PathBuf::from(env_or_panic("CRUDDUR_TEST_PROD_CA"));
    assert!(
        p.is_file(),
        "CRUDDUR_TEST_PROD_CA={} is not a file",
        p.display()
    );
    p
}

pub fn prod_password() -> String {
    prod_url()
        .password()
        .expect("CRUDDUR_TEST_PROD_URL has a password")
        .to_string()
}

pub fn prod_port() -> u16 {
    prod_url().port().unwrap_or(5432)
}

/// `url` with its host, database and query replaced.
pub fn with(url: &url::Url, host: Option<&str>, db: Option<&str>, query: Option<&str>) -> String {
    let mut u = url.clone();
    if let Some(h) = host {
        u.set_host(Some(h)).unwrap();
    }
    if let Some(d) = db {
        u.set_path(&format!("/{d}"));
    }
    u.set_query(query);
    u.to_string()
}

/// `sslmode=verify-full&sslrootcert=CA`.
pub fn verify_full(ca: &Path) -> String {
    format!("sslmode=verify-full&sslrootcert={}", ca.display())
}

/// Runs psql on the production-like server as cruddurroot, verified against the CA; the
/// password goes through the environment.
pub fn prod_psql(db: &str, sql: &str) -> String {
    let out = libpq(StdCommand::new("psql"), db)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql on the production-like server failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn libpq(mut c: StdCommand, db: &str) -> StdCommand {
    let u = prod_url();
    c.env("PGHOST", u.host_str().unwrap())
        .env("PGPORT", prod_port().to_string())
        .env("PGUSER", u.username())
        .env("PGPASSWORD", prod_password())
        .env("PGDATABASE", db)
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", prod_ca())
        .env_remove("PGOPTIONS")
        .stdin(Stdio::null());
    c
}

/// A database of its own on the production-like server.
pub struct ProdDb {
    pub name: String,
    pub home: tempfile::TempDir,
}

impl ProdDb {
    /// A unique name with no database behind it yet.
    pub fn unmade(prefix: &str) -> ProdDb {
        ProdDb {
            name: common::unique_name(prefix),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// A new, empty database.
    pub fn new(prefix: &str) -> ProdDb {
        let db = ProdDb::unmade(prefix);
        prod_psql("cruddur", &format!("CREATE DATABASE \"{}\"", db.name));
        db
    }

    /// A database set up (schema and seed) by the binary itself, confirmed for automation.
    pub fn seeded(prefix: &str) -> ProdDb {
        let db = ProdDb::unmade(prefix);
        db.cmd()
            .args(["--prod", "setup", "--yes", "--confirm-db", &db.name])
            .assert()
            .success();
        db
    }

    /// The URL of this database with the password and no TLS parameters.
    pub fn url(&self) -> String {
        with(&prod_url(), None, Some(&self.name), None)
    }

    /// The URL with verify-full against the throwaway CA: what PROD_CONNECTION_URL holds.
    pub fn verified_url(&self) -> String {
        with(
            &prod_url(),
            None,
            Some(&self.name),
            Some(&verify_full(&prod_ca())),
        )
    }

    /// The binary with a cleared environment and PROD_CONNECTION_URL set to this database;
    /// tests add `--prod`.
    pub fn cmd(&self) -> Command {
        let mut c = common::bin(self.home.path());
        c.env("PROD_CONNECTION_URL", self.verified_url());
        c
    }

    pub fn psql(&self, sql: &str) -> String {
        prod_psql(&self.name, sql)
    }

    pub fn scalar(&self, sql: &str) -> String {
        self.psql(sql).trim().to_string()
    }

    pub fn exists(&self) -> bool {
        prod_psql(
            "cruddur",
            &format!(
                "SELECT count(*) FROM pg_database WHERE datname = '{}'",
                self.name
            ),
        )
        .trim()
            == "1"
    }

    /// Everything in the database, as pg_dump prints it (schema and data), to compare
    /// byte for byte; "(no database)" when it does not exist.
    pub fn snapshot(&self) -> String {
        if !self.exists() {
            return "(no database)".to_string();
        }
        let out = libpq(StdCommand::new("pg_dump"), &self.name)
            .args(["--no-comments"])
            .output()
            .expect("pg_dump runs");
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // NOTE: pg_dump 15.14+ brackets the dump with `\restrict KEY` using a random key.
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for ProdDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept database {} on the production-like server for inspection",
                self.name
            );
            return;
        }
        let _ = libpq(StdCommand::new("psql"), "cruddur")
            .args(["-X", "-q", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

/// Makes a throwaway CA (certificate and key) named `name` in `dir` with openssl; returns the
/// certificate's path.
pub fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    run_openssl(&[
        "req",
        "-x509",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        &format!("/CN={name}"),
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    cert
}

/// A server certificate and key for `localhost` signed by the CA `ca` made by [`make_ca`].
pub fn make_server_cert(dir: &Path, ca: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("server.key");
    let csr = dir.join("server.csr");
    let cert = dir.join("server.pem");
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run_openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        csr.to_str().unwrap(),
    ]);
    let ca_key = ca.with_extension("key");
    run_openssl(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        ca.to_str().unwrap(),
        "-CAkey",
        ca_key.to_str().unwrap(),
        "-set_serial",
        "4242",
        "-days",
        "2",
        "-extfile",
        ext.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
    ]);
    (cert, key)
}

fn run_openssl(args: &[&str]) {
    let out = StdCommand::new("openssl")
        .args(args)
        .output()
        .expect("openssl is installed (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A TCP port on 127.0.0.1 where nothing listens, held until the guard is dropped.
pub fn closed_port() -> ClosedPort {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    ClosedPort {
        _socket: socket,
        port,
    }
}

/// A port on 127.0.0.1 that refuses connections for as long as this lives: bound (so no
/// parallel test can take it) but never listening.
pub struct ClosedPort {
    _socket: socket2::Socket,
    pub port: u16,
}

/// Runs the binary with `args` in a real pseudo-terminal (util-linux `script`), typing
/// `input` on it; its exit code and everything it printed. `env` is the whole environment.
pub fn in_pty(args: &[&str], env: &[(&str, String)], input: &str) -> (i32, String) {
    let bin = assert_cmd::cargo::cargo_bin("cruddur-db");
    let line = std::iter::once(bin.to_str().unwrap())
        .chain(args.iter().copied())
        .map(shell_quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut c = StdCommand::new("script");
    c.args(["-q", "-e", "-c", &line, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SHELL", "/bin/sh")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
        if *k == "HOME" {
            // As common::bin: no .env of the repository leaks in.
            c.current_dir(v);
        }
    }
    let mut child = c
        .spawn()
        .expect("util-linux `script` runs (apt-get install bsdutils)");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl ProdDb {
    /// [`in_pty`] with this database's environment (as [`ProdDb::cmd`]).
    pub fn pty(&self, args: &[&str], input: &str) -> (i32, String) {
        let home = self.home.path();
        in_pty(
            args,
            &[
                ("HOME", home.display().to_string()),
                ("XDG_CACHE_HOME", home.join(".cache").display().to_string()),
                ("PROD_CONNECTION_URL", self.verified_url()),
            ],
            input,
        )
    }
}
