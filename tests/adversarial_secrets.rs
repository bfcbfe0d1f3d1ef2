//! The adversary's list for masking, secrets and copy (issue 27), kept as regression tests
//! against the real servers: each test is named after the hole it keeps closed.

mod common;
mod prod;

use common::TestDb;
use prod::ProdDb;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Every row of the target's Cruddur tables, to see that nothing was written.
fn rows(db: &TestDb) -> String {
    db.psql(
        "SELECT (SELECT string_agg(email, ',' ORDER BY email) FROM users) || '/' || \
         (SELECT count(*) FROM activities)",
    )
}

/// Regression: `--where "users: false) UNION ALL SELECT ..."` broke out of its parentheses
/// and every real email reached the target.
#[test]
fn where_breaking_out_of_its_parentheses_is_refused_before_anything_runs() {
    let src = TestDb::seeded("adv_where_src");
    let dst = TestDb::seeded("adv_where_dst");
    dst.psql("DELETE FROM activities; DELETE FROM users WHERE handle <> 'bayko'");
    let before = rows(&dst);
    for condition in [
        "users: false) UNION ALL SELECT uuid, display_name, email, handle, cognito_user_id, \
         created_at FROM users WHERE (true",
        "users: true; DELETE FROM users",
        "users: true ORDER BY 1",
        "users: true -- the rest is a comment",
    ] {
        let out = dst
            .cmd()
            .args([
                "copy", "--from", &src.url, "--to", "local", "--where", condition,
            ])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{condition}: {err}");
        assert!(err.contains("one boolean expression"), "{err}");
        assert!(err.contains("nothing was copied"), "{err}");
        assert_eq!(rows(&dst), before, "{condition}: the target changed");
    }
    // A condition the server cannot plan on its table is refused the same way.
    let out = dst
        .cmd()
        .args([
            "copy",
            "--from",
            &src.url,
            "--to",
            "local",
            "--where",
            "users: no_such = 1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no_such"), "{}", stderr(&out));
    assert_eq!(rows(&dst), before);
}

/// Regression: a subset copy exited 1 after committing (its counts were queried after the
/// commit) and the audit line said `failed`.
#[test]
fn a_subset_copy_from_production_is_audited_as_what_happened() {
    let src = ProdDb::seeded("adv_subset");
    let dst = TestDb::seeded("adv_subset_dst");
    let state = dst.home.path().join("state");
    let out = dst
        .cmd()
        .env("PROD_CONNECTION_URL", src.verified_url())
        .env("CRUDDUR_STATE_DIR", &state)
        .args([
            "copy",
            "--from",
            "prod",
            "--to",
            "local",
            "--where",
            "users: handle = 'bayko'",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("public.users: 1 rows (1 selected, 0 referenced)"),
        "{err}"
    );
    let log = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert!(log.contains("\"outcome\":\"ok\""), "{log}");
    assert!(
        log.contains("committed: 2 table(s), 1 rows, a subset (users: (handle = 'bayko'))"),
        "{log}"
    );
}

/// Regression: composite types, arrays of them, domains over them, tsvector and hstore
/// columns were copied without a rule and without a refusal.
#[test]
fn strict_masking_asks_for_every_type_that_can_carry_text() {
    let src = TestDb::new("adv_types_src");
    src.psql(
        "CREATE EXTENSION IF NOT EXISTS hstore; \
         CREATE TYPE person AS (name text, email text); \
         CREATE TYPE wrapper AS (inner_person person, n int); \
         CREATE TYPE point2 AS (x int, y int); \
         CREATE DOMAIN person_d AS person; \
         CREATE TABLE people (id int PRIMARY KEY, who person, many person[], nested wrapper, \
             dom person_d, words tsvector, attrs hstore, spot point2, spots point2[], \
             stamp timestamptz, flag bool); \
         INSERT INTO people VALUES (1, ('Real Person', 'secret.person@gmail.com'), \
             ARRAY[('A', 'a@gmail.com')::person], (('B', 'b@gmail.com'), 1), \
             ('C', 'c@gmail.com'), to_tsvector('secret.person@gmail.com'), \
             'email => \"d@gmail.com\"', (1, 2), ARRAY[(1, 2)::point2], now(), true);",
    );
    let dst = TestDb::new("adv_types_dst");
    let out = dst
        .cmd()
        .args(["copy", "--from", &src.url, "--to", "local", "--schema"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("[people]"), "{err}");
    for column in ["who", "many", "nested", "dom", "words", "attrs"] {
        assert!(
            err.contains(&format!("\n{column} = ")),
            "{column} not asked for: {err}"
        );
    }
    for column in ["id", "spot", "spots", "stamp", "flag"] {
        assert!(
            !err.contains(&format!("\n{column} = ")),
            "{column} asked for: {err}"
        );
    }
    assert!(err.contains("--no-mask"), "{err}");
    assert_eq!(
        dst.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'people'"),
        "0",
        "something was written"
    );
}

/// `url` with `password` set as userinfo (`user`) or as a `?password=` parameter, as typed.
fn with_password(url: &str, password: &str, as_param: bool) -> String {
    if as_param {
        format!("{url}?password={password}")
    } else {
        url.replacen("://postgres@", &format!("://postgres:{password}@"), 1)
    }
}

/// Regression: `diff` printed its sides as typed, `?password=` and passwords with a space
/// included, in text and in `--json`.
#[test]
fn diff_shows_its_sides_masked_in_text_and_json() {
    let a = TestDb::new("adv_diff_a");
    let b = TestDb::new("adv_diff_b");
    b.psql("CREATE TABLE extra (id int)");
    let from = with_password(&a.url, "Sp ace1,x", false);
    let to = with_password(&b.url, "Par am2 y", true);
    for json in [false, true] {
        let mut cmd = a.cmd();
        cmd.arg("diff");
        if json {
            cmd.arg("--json");
        }
        let out = cmd.args([&from, &to]).output().unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert_eq!(out.status.code(), Some(0), "{all}");
        assert!(all.contains("postgres:****@"), "json={json}: {all}");
        assert!(all.contains("?password=****"), "json={json}: {all}");
        for secret in ["Sp ace1", "Sp", "ace1", "Par am2", "am2"] {
            assert!(
                !all.contains(secret),
                "json={json}: {secret:?} shown: {all}"
            );
        }
    }
}

/// Regression: audit.jsonl kept raw `?password=` values, passwords with a space or a comma,
/// and the `--mask-salt`.
#[test]
fn the_audit_log_keeps_no_password_and_no_salt() {
    let src = ProdDb::seeded("adv_audit");
    let dst = TestDb::seeded("adv_audit_dst");
    let state = dst.home.path().join("state");
    for to in [
        with_password(&dst.url, "Au dit1,z", false),
        with_password(&dst.url, "Qu ery2,w", true),
    ] {
        let out = dst
            .cmd()
            .env("PROD_CONNECTION_URL", src.verified_url())
            .env("CRUDDUR_STATE_DIR", &state)
            .args([
                "copy",
                "--from",
                "prod",
                "--to",
                &to,
                "--mask-salt",
                "Pepper5alt",
            ])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(!err.contains("Pepper5alt"), "{err}");
    }
    let log = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(log.contains("postgres:****@"), "{log}");
    assert!(log.contains("?password=****"), "{log}");
    assert!(log.contains("\"--mask-salt\",\"****\""), "{log}");
    for secret in [
        "Au dit1",
        "Au",
        "dit1",
        "Qu ery2",
        "ery2",
        "Pepper5alt",
        &prod::prod_password(),
    ] {
        assert!(!log.contains(secret), "{secret:?} in the log: {log}");
    }
}

/// Regression: a `sql:` mask rule with a syntax error made the server's message quote the
/// rest of the query, salt included.
#[test]
fn a_broken_sql_rule_does_not_show_the_salt() {
    let src = TestDb::seeded("adv_salt_src");
    let dst = TestDb::seeded("adv_salt_dst");
    let mask = common::write_file(
        dst.home.path(),
        "mask.toml",
        "[users]\nhandle = \"sql:$$oops\"\n",
    );
    let out = dst
        .cmd()
        .args(["copy", "--from", &src.url, "--to", "local", "--mask"])
        .arg(&mask)
        .args(["--mask-salt", "Sa1tySecret"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The server quotes everything after an unterminated dollar quote: the hash comes after.
    assert!(err.contains("unterminated dollar-quoted string"), "{err}");
    assert!(err.contains("md5("), "{err}");
    assert!(!err.contains("Sa1tySecret"), "{err}");
    // The salt still makes the hashes: the same salt, the same hash as md5(salt || value).
    let ok = dst
        .cmd()
        .args([
            "copy",
            "--from",
            &src.url,
            "--to",
            "local",
            "--mask-salt",
            "Sa1tySecret",
        ])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(
        dst.scalar("SELECT string_agg(cognito_user_id, ',' ORDER BY handle) FROM users"),
        src.scalar(
            "SELECT string_agg('MOCK-' || md5('Sa1tySecret' || cognito_user_id), ',' \
             ORDER BY handle) FROM users"
        )
    );
}

/// Regression: copy's literals assumed standard_conforming_strings = on, so on a source with
/// it off `constant:o'k\b` arrived as `o'k<backspace>` (mask constants, the salt, the
/// snapshot id of `--jobs 2`).
#[test]
fn literals_arrive_as_written_when_standard_conforming_strings_is_off() {
    let src = TestDb::seeded("adv_scs_src");
    let dst = TestDb::seeded("adv_scs_dst");
    for db in [&src, &dst] {
        common::psql_admin(&format!(
            "ALTER DATABASE \"{}\" SET standard_conforming_strings = off",
            db.name
        ));
    }
    assert_eq!(src.scalar("SHOW standard_conforming_strings"), "off");
    let mask = common::write_file(
        dst.home.path(),
        "mask.toml",
        "[users]\ndisplay_name = \"constant:o'k\\\\b\"\n",
    );
    let out = dst
        .cmd()
        .args([
            "copy", "--from", &src.url, "--to", "local", "--jobs", "2", "--mask",
        ])
        .arg(&mask)
        .args(["--mask-salt", "o'k\\salt"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        dst.scalar("SELECT DISTINCT display_name FROM users"),
        "o'k\\b"
    );
    assert_eq!(
        dst.scalar("SELECT string_agg(cognito_user_id, ',' ORDER BY handle) FROM users"),
        src.scalar(
            "SELECT string_agg('MOCK-' || md5(E'o''k\\\\salt' || cognito_user_id), ',' \
             ORDER BY handle) FROM users"
        )
    );
}

/// Regression: `localhost` on one side and `127.0.0.1` (or `LOCALHOST`) on the other passed
/// the same-database check, and the copy waited forever on its own source.
#[test]
fn copy_onto_its_own_source_under_another_host_name_is_refused() {
    let db = TestDb::seeded("adv_self");
    let before = rows(&db);
    for host in ["localhost", "LOCALHOST"] {
        let other = db.url.replacen("127.0.0.1", host, 1);
        assert_ne!(other, db.url);
        let started = std::time::Instant::now();
        let out = db
            .cmd()
            .args(["copy", "--from", &other, "--to", &db.url, "--jobs", "1"])
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{host}: {err}");
        assert!(err.contains("the same database"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        assert_eq!(rows(&db), before);
    }
}

/// Regression: the production snapshot (a REPEATABLE READ transaction on the source) was
/// open while the confirmation prompt waited for a person.
#[test]
fn no_source_transaction_is_open_while_the_confirmation_waits() {
    use std::io::{Read, Write};
    let src = TestDb::seeded("adv_prompt_src");
    let dst = TestDb::seeded("adv_prompt_dst");
    let before = rows(&dst);
    let bin = assert_cmd::cargo::cargo_bin("cruddur-db");
    let command = format!(
        "'{}' --protected copy --from '{}' --to '{}'",
        bin.display(),
        src.url,
        dst.url
    );
    // `script` gives the copy a terminal, so it asks.
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dst.home.path())
        .env("NO_COLOR", "1")
        .current_dir(dst.home.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains("Type the database name") {
        assert!(
            std::time::Instant::now() < deadline,
            "no prompt: {}",
            String::from_utf8_lossy(&seen)
        );
        let mut buf = [0u8; 4096];
        let n = stdout.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "the copy ended without asking: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    let open = common::psql_admin(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' \
         AND (state LIKE 'idle in transaction%' OR backend_xmin IS NOT NULL) \
         AND pid <> pg_backend_pid()",
        src.name
    ));
    child
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"not-the-name\n")
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        open.trim(),
        "0",
        "a source transaction was open during the prompt"
    );
    assert!(!status.success());
    assert_eq!(
        rows(&dst),
        before,
        "the target changed after a wrong answer"
    );
}

/// Runs `args` on `db` with stdout on /dev/full.
fn on_full_disk(db: &TestDb, args: &[&str], dir: Option<&std::path::Path>) -> std::process::Output {
    let mut cmd = db.std_cmd();
    if let Some(d) = dir {
        cmd.env("CRUDDUR_MIGRATIONS_DIR", d);
    }
    cmd.args(args)
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap()
}

/// Regression: `dump`, `diff`, `migrate status --json`, `migrate new` and `sessions --json`
/// panicked with exit 101 when stdout was full.
#[test]
fn a_full_stdout_is_one_error_line_and_exit_1_never_a_panic() {
    let db = TestDb::seeded("adv_full");
    db.psql("ALTER TABLE users ADD COLUMN nickname text");
    let dir = db.home.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    let cases: &[&[&str]] = &[
        &["dump"],
        &["diff", "setup", "local"],
        &["diff", "--json", "setup", "local"],
        &["migrate", "status", "--json"],
        &["migrate", "new", "full_disk"],
        &["sessions", "--json"],
        &["users", "--json"],
    ];
    for args in cases {
        let out = on_full_disk(&db, args, Some(&dir));
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(
            lines[0].contains("No space left on device"),
            "{args:?}: {err}"
        );
    }
}

/// A reader that goes away (`| head -1`) ends the command quietly with 141.
#[test]
fn a_closed_stdout_ends_quietly_with_141() {
    let db = TestDb::seeded("adv_pipe");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = db.std_cmd().arg("dump").stdout(writer).output().unwrap();
    assert_eq!(out.status.code(), Some(141), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

/// Regression: SIGTERM and SIGHUP left scratch databases behind (only SIGINT cleaned up).
#[test]
fn sigterm_and_sighup_drop_the_scratch_database_and_exit_128_plus_n() {
    for (signal, code) in [("TERM", 143), ("HUP", 129)] {
        let db = TestDb::new(&format!("adv_sig_{signal}"));
        let slow = common::write_file(
            db.home.path(),
            "slow.sql",
            "CREATE TABLE t (id int);\nSELECT pg_sleep(30);\n",
        );
        let child = db
            .std_cmd()
            .args(["diff", slow.to_str().unwrap(), "local"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let pattern = format!("cruddur_db_scratch_t%_{pid}_%");
        let mut name = String::new();
        while name.is_empty() && std::time::Instant::now() < deadline {
            name = common::psql_admin(&format!(
                "SELECT datname FROM pg_database WHERE datname LIKE '{pattern}'"
            ))
            .trim()
            .to_string();
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(!name.is_empty(), "no scratch database appeared");
        std::thread::sleep(std::time::Duration::from_millis(500));
        std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(code), "{signal}: {err}");
        assert!(err.contains(&format!("stopped by SIG{signal}")), "{err}");
        let left = common::psql_admin(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
        ));
        assert_eq!(
            left.trim(),
            "0",
            "{signal}: scratch database {name} was left behind"
        );
    }
}

/// Regression: `diff setup local --protected` created and dropped a scratch database on the
/// protected server without asking.
#[test]
fn no_scratch_database_on_a_protected_server() {
    let db = TestDb::seeded("adv_scratch_prot");
    let child = db
        .std_cmd()
        .args(["--protected", "diff", "setup", "local"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("protected server") && err.contains("--scratch-url"),
        "{err}"
    );
    assert!(!err.contains("built setup"), "{err}");
    let made = common::psql_admin(&format!(
        "SELECT count(*) FROM pg_database WHERE datname LIKE 'cruddur_db_scratch_t%_{pid}_%'"
    ));
    assert_eq!(made.trim(), "0");
    // With a scratch server of its own it runs.
    let out = db
        .cmd()
        .args([
            "--protected",
            "diff",
            "--scratch-url",
            &common::admin_url(),
            "setup",
            "local",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Regression: a keyword/value conninfo (`host=... password=...`), quoted or with a comma,
/// was echoed in full in errors and in `doctor --json`.
#[test]
fn keyword_value_passwords_are_masked_in_every_error() {
    let home = tempfile::tempdir().unwrap();
    let conninfo = "host=127.0.0.1 port=1 password='Se cret9' dbname=x";
    let cases: Vec<Vec<&str>> = vec![
        vec!["--url", conninfo, "users"],
        vec!["--url", conninfo, "doctor", "--json"],
        vec!["diff", conninfo, "local"],
        vec![
            "copy",
            "--from",
            "host=h password=Se,cret9",
            "--to",
            "local",
        ],
        vec!["copy", "--from", "local", "--to", conninfo],
    ];
    for args in cases {
        let out = common::bin(home.path()).args(&args).output().unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(
            all.contains("password='****'") || all.contains("password=****"),
            "{args:?}: {all}"
        );
        assert!(!all.contains("cret9"), "{args:?}: {all}");
    }
    let out = common::bin(home.path())
        .env("CONNECTION_URL", conninfo)
        .arg("users")
        .output()
        .unwrap();
    assert!(stderr(&out).contains("password='****'"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("cret9"), "{}", stderr(&out));
}
