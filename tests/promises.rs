//! README promises not proven elsewhere: `require` with `~/.postgresql/root.crt` verifies the
//! chain; doctor's security-group check through DB_INSTANCE_ID, its DNS failure;
//! `--connect-timeout` against a port that accepts TCP and never answers; exit 141 for `users`
//! on a closed stdout; `seed` waits for the load lock held elsewhere, says so, then loads.

mod aws_support;
mod common;
mod prod;

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use aws_support::{aws_cmd, moto_url, Moto, GOOD_IP, NEW_IP};
use common::TestDb;
use prod::{make_ca, prod_ca, prod_password, prod_port, prod_url, with, ProdDb};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Puts `ca` at `~/.postgresql/root.crt` under `home`.
fn install_root_crt(home: &Path, ca: &Path) {
    let dir = home.join(".postgresql");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(ca, dir.join("root.crt")).unwrap();
}

/// `sessions` (a read-only command that connects) on `url` with HOME `home`.
fn sessions(home: &Path, url: &str) -> Output {
    common::bin(home)
        .args(["--url", url, "sessions"])
        .output()
        .unwrap()
}

#[test]
fn require_with_a_root_crt_in_home_verifies_the_chain() {
    // By address: the certificate is for localhost, so only a chain check (not a name check)
    // can pass, as verify-ca does.
    let url = with(
        &prod_url(),
        Some("127.0.0.1"),
        None,
        Some("sslmode=require"),
    );

    let right = tempfile::tempdir().unwrap();
    install_root_crt(right.path(), &prod_ca());
    let out = sessions(right.path(), &url);
    assert!(out.status.success(), "{}", stderr(&out));

    let wrong = tempfile::tempdir().unwrap();
    let other = make_ca(wrong.path(), "not-the-server-ca");
    install_root_crt(wrong.path(), &other);
    let out = sessions(wrong.path(), &url);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown CA"), "{err}");
    let root_crt = wrong.path().join(".postgresql").join("root.crt");
    assert!(err.contains(&root_crt.display().to_string()), "{err}");
    assert!(!err.contains(&prod_password()), "{err}");
}

/// `doctor --prod` on this database with DB_INSTANCE_ID and this workstation's IP given;
/// exit code and stdout lines.
fn doctor_instance(db: &ProdDb, instance: &str) -> (i32, Vec<String>, String) {
    let out = aws_cmd(db.home.path(), &moto_url())
        .env("PROD_CONNECTION_URL", db.verified_url())
        .env("DB_INSTANCE_ID", instance)
        .args([
            "--prod",
            "doctor",
            "--ip",
            GOOD_IP,
            "--connect-timeout",
            "3",
        ])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        stdout(&out).lines().map(str::to_string).collect(),
        stderr(&out),
    )
}

#[test]
fn doctor_checks_the_security_groups_of_db_instance_id() {
    let db = ProdDb::seeded("doctorinst");
    let moto = Moto::new();
    let port = i32::from(prod_port());
    let group = moto.group();
    let old = moto.add_rule(&group, "tcp", port, port, &format!("{NEW_IP}/32"), "GITPOD");
    let instance = moto.instance(&[&group], port);

    let (code, lines, err) = doctor_instance(&db, &instance);
    assert_eq!(code, 1, "{lines:#?}{err}");
    assert!(
        lines[2].starts_with("fail  security group allows my IP"),
        "{lines:#?}"
    );
    assert!(
        lines[2].contains(GOOD_IP) && lines[2].contains("update-sg-rule"),
        "{}",
        lines[2]
    );
    assert!(lines[3].starts_with("skip"), "{lines:#?}");

    // Another rule of the instance's group lets the address in: the check passes and names it.
    let mine = moto.add_rule(
        &group,
        "tcp",
        port,
        port,
        &format!("{GOOD_IP}/32"),
        "office",
    );
    let (code, lines, err) = doctor_instance(&db, &instance);
    assert_eq!(code, 0, "{lines:#?}{err}");
    assert!(
        lines[2].starts_with("ok    security group allows my IP"),
        "{lines:#?}"
    );
    assert!(lines[2].contains(&mine), "{}", lines[2]);
    assert!(!lines[2].contains(&old), "{}", lines[2]);
    assert!(lines.iter().all(|l| l.starts_with("ok ")), "{lines:#?}");
}

#[test]
fn doctor_names_a_dns_failure() {
    let h = tempfile::tempdir().unwrap();
    let url = "postgresql://cruddurroot:hunter2@no-such-db.cruddur.invalid:5432/cruddur";
    let out = common::bin(h.path())
        .args(["--url", url, "doctor", "--connect-timeout", "3"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    // The URL line shows the URL masked, so the password's absence means something.
    assert!(lines[0].starts_with("ok    URL parses"), "{text}");
    assert!(
        lines[0].contains("postgresql://cruddurroot:****@no-such-db.cruddur.invalid"),
        "{text}"
    );
    assert!(lines[1].starts_with("fail  DNS resolves"), "{text}");
    assert!(
        lines[1].contains("cannot resolve no-such-db.cruddur.invalid"),
        "{text}"
    );
    assert!(lines[1].contains(" -- fix: check the host name"), "{text}");
    assert!(lines[2..].iter().all(|l| l.starts_with("skip")), "{text}");
    assert!(!text.contains("hunter2") && !stderr(&out).contains("hunter2"));
}

#[test]
fn connect_timeout_gives_up_on_a_port_that_never_answers() {
    // Listening, so the kernel completes every TCP handshake, but nothing ever reads or
    // answers: the PostgreSQL startup never gets a reply.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let h = tempfile::tempdir().unwrap();
    let url = format!("postgresql://postgres:hunter2@127.0.0.1:{port}/cruddur?sslmode=disable");
    let out = common::bin(h.path())
        .args(["--url", &url, "sessions", "--connect-timeout", "1"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "timed out after 1s connecting to 127.0.0.1:{port}"
        )),
        "{err}"
    );
    // The URL is shown masked, so the password's absence below means something.
    assert!(
        err.contains("postgresql://postgres:****@127.0.0.1"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
    drop(silent);
}

#[test]
fn users_on_a_closed_stdout_exits_141_quietly() {
    // `cruddur-db users | head -0`.
    let db = TestDb::seeded("userspipe");
    let mut child = db
        .std_cmd()
        .args(["users"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("error"), "{err}");
}

/// The load lock's key, as the README's "concurrent runs" section names it.
const LOAD_LOCK_KEY: i64 = 0x0063_7275_6464_7572;

/// How many advisory locks on the load key exist in `db`, granted or waiting.
fn load_locks(db: &TestDb, granted: bool) -> usize {
    let sql = format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE d.datname = '{}' AND l.locktype = 'advisory' AND l.granted = {granted} \
         AND ((l.classid::bigint << 32) | l.objid::bigint) = {LOAD_LOCK_KEY}",
        db.name
    );
    db.scalar(&sql).parse().unwrap()
}

/// Polls `cond` until it holds; panics after a generous bound (a hang, not a timing claim).
fn poll_until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("never happened: {what}");
}

#[test]
fn seed_waits_for_the_load_lock_held_elsewhere_then_loads() {
    let db = TestDb::new("seedlock");
    db.cmd().arg("schema").assert().success();

    // Another session holds the load lock.
    let mut holder = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql runs");
    let mut to_holder = holder.stdin.take().unwrap();
    writeln!(to_holder, "SELECT pg_advisory_lock({LOAD_LOCK_KEY});").unwrap();
    poll_until("psql holds the load lock", || load_locks(&db, true) == 1);

    let seed = db
        .std_cmd()
        .arg("seed")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    poll_until("seed waits for the load lock", || {
        load_locks(&db, false) == 1
    });
    // Still waiting: nothing seeded yet.
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "0");

    writeln!(to_holder, "SELECT pg_advisory_unlock({LOAD_LOCK_KEY});").unwrap();
    writeln!(to_holder, "\\q").unwrap();
    drop(to_holder);
    let held = holder.wait_with_output().unwrap();
    assert!(held.status.success(), "{}", stderr(&held));

    let out = seed.wait_with_output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "waiting for another cruddur-db load on database {:?} to finish",
            db.name
        )),
        "{err}"
    );
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
}
