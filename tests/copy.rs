//! `cruddur-db copy` against real servers: the production-like TLS server as source and the
//! local server as target; one snapshot, masking, strict refusal, subsets, sequences, the
//! target's transaction, and the protected target.

mod common;
mod prod;

#[cfg(feature = "test-hooks")]
use std::time::{Duration, Instant};

use common::TestDb;
use prod::ProdDb;

/// Row counts of the Cruddur tables, `users/activities`.
fn counts(psql: impl Fn(&str) -> String) -> String {
    psql("SELECT (SELECT count(*) FROM users) || '/' || (SELECT count(*) FROM activities)")
        .trim()
        .to_string()
}

/// pg_dump of a local database (schema and data), to compare before and after.
fn dump(db: &TestDb) -> String {
    let out = std::process::Command::new("pg_dump")
        .args(["--no-comments", "-d", &db.url])
        .output()
        .expect("pg_dump runs");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn prod_to_local_is_masked_audited_and_leaves_the_source_unchanged() {
    let src = ProdDb::seeded("copy_prod");
    let dst = TestDb::seeded("copy_prod_dst");
    dst.psql("DELETE FROM activities; DELETE FROM users WHERE handle <> 'bayko'");
    let before = src.snapshot();
    let state = dst.home.path().join("state");
    let out = dst
        .cmd()
        .env("PROD_CONNECTION_URL", src.verified_url())
        .env("CRUDDUR_STATE_DIR", &state)
        .args(["copy", "--from", "prod", "--to", "local"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("copied 2 table(s), 6 rows"), "{err}");
    assert!(err.contains("masked: 3 column(s)"), "{err}");
    assert_eq!(src.snapshot(), before, "the source changed");
    assert_eq!(counts(|s| dst.psql(s)), "3/3");
    // No real email, name or Cognito id; handles and messages kept.
    assert_eq!(
        dst.scalar(
            "SELECT count(*) FROM users WHERE email LIKE 'user%@example.invalid' \
             AND cognito_user_id LIKE 'MOCK-%' AND length(cognito_user_id) = 37 \
             AND display_name NOT IN ('Andrew Brown', 'Andrew Bayko', 'Londo Mollari')"
        ),
        "3"
    );
    assert_eq!(
        dst.scalar("SELECT string_agg(handle, ',' ORDER BY handle) FROM users"),
        src.scalar("SELECT string_agg(handle, ',' ORDER BY handle) FROM users")
    );
    assert_eq!(
        dst.scalar("SELECT string_agg(message, ',' ORDER BY message) FROM activities"),
        src.scalar("SELECT string_agg(message, ',' ORDER BY message) FROM activities")
    );
    // A copy from production is audited, masked or not, and the password is not there.
    let log = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert!(log.contains(":****@"), "{log}");
    assert!(!log.contains(&prod::prod_password()), "{log}");
    assert!(log.contains("\"detail\":\"copy from"), "{log}");
    assert!(log.contains("masked (built-in rules)"), "{log}");
    assert!(log.contains("\"outcome\":\"ok\""), "{log}");
    // A URL is shown masked: first the masked form, then no secret.
    let out = dst
        .cmd()
        .args([
            "copy",
            "--from",
            &src.verified_url(),
            "--to",
            "local",
            "--dry-run",
        ])
        .output()
        .unwrap();
    let plan = String::from_utf8_lossy(&out.stdout).to_string() + &stderr(&out);
    assert!(out.status.success(), "{plan}");
    assert!(plan.contains(":****@"), "{plan}");
    assert!(!plan.contains(&prod::prod_password()), "{plan}");
}

/// Rows committed on the source while a copy holds its snapshot are not copied, by any of
/// the `--jobs` connections. (The pause is a test hook: `--features test-hooks`.)
#[cfg(feature = "test-hooks")]
#[test]
fn every_job_reads_the_one_snapshot() {
    let src = TestDb::seeded("copy_snap");
    let dst = TestDb::new("copy_snap_dst");
    let pause = tempfile::tempdir().unwrap();
    let child = dst
        .std_cmd()
        .env("CRUDDUR_TEST_COPY_PAUSE", pause.path())
        .args([
            "copy", "--from", &src.url, "--to", "local", "--schema", "--jobs", "2",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pause.path().join("paused").exists() {
        assert!(Instant::now() < deadline, "the copy never paused");
        std::thread::sleep(Duration::from_millis(50));
    }
    src.psql(
        "INSERT INTO users (display_name, email, handle) VALUES ('Late', 'late@x.org', 'late'); \
         INSERT INTO activities (user_uuid, message) \
         SELECT uuid, 'late crud' FROM users WHERE handle = 'late'",
    );
    std::fs::write(pause.path().join("resume"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(counts(|s| src.psql(s)), "4/4");
    assert_eq!(counts(|s| dst.psql(s)), "3/3");
}

#[test]
fn a_subset_brings_the_rows_it_references() {
    let src = TestDb::seeded("copy_subset");
    let dst = TestDb::seeded("copy_subset_dst");
    // londo's crud replies to bayko's: selecting it must bring both cruds and both users.
    src.psql(
        "UPDATE activities SET reply_to_activity_uuid = (SELECT a.uuid FROM activities a \
         JOIN users u ON u.uuid = a.user_uuid WHERE u.handle = 'bayko') \
         WHERE user_uuid = (SELECT uuid FROM users WHERE handle = 'londo')",
    );
    let out = dst
        .cmd()
        .args([
            "copy",
            "--from",
            &src.url,
            "--to",
            "local",
            "--where",
            "activities: user_uuid = (SELECT uuid FROM users WHERE handle = 'londo')",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("public.users: 2 rows (0 selected, 2 referenced)"),
        "{err}"
    );
    assert!(
        err.contains("public.activities: 2 rows (1 selected, 1 referenced)"),
        "{err}"
    );
    assert_eq!(
        dst.scalar("SELECT string_agg(handle, ',' ORDER BY handle) FROM users"),
        "bayko,londo"
    );
    let limited = dst
        .cmd()
        .args(["copy", "--from", &src.url, "--to", "local", "--limit"])
        .arg("activities:1")
        .output()
        .unwrap();
    assert!(limited.status.success(), "{}", stderr(&limited));
    assert!(
        dst.scalar("SELECT count(*) FROM activities")
            .parse::<u32>()
            .unwrap()
            >= 1
    );
}

#[test]
fn an_unmasked_text_column_is_refused_with_a_block_to_paste() {
    let src = TestDb::seeded("copy_strict");
    // A serial column, and a default on a sequence no column owns.
    let notes = "CREATE SEQUENCE note_numbers; CREATE TABLE notes (id serial PRIMARY KEY, \
                 body text, owner_email text, n int DEFAULT nextval('note_numbers'))";
    src.psql(notes);
    src.psql("INSERT INTO notes (body, owner_email) SELECT 'n' || g, 'o@x.org' FROM generate_series(1, 5) g");
    let dst = TestDb::seeded("copy_strict_dst");
    dst.psql(notes);
    let before = dump(&dst);
    let out = dst
        .cmd()
        .args(["copy", "--from", &src.url, "--to", "local"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("[notes]\nbody = \"keep\""), "{err}");
    assert!(err.contains("owner_email = \"fake:email\""), "{err}");
    assert_eq!(dump(&dst), before, "a refused copy wrote");
    // The block, pasted into the default mask file, lets the copy through; the sequence
    // continues after the copied ids.
    let block = &err[err.find("[notes]").unwrap()..];
    std::fs::create_dir_all(dst.home.path().join("db")).unwrap();
    common::write_file(&dst.home.path().join("db"), "mask.toml", block);
    let out = dst
        .cmd()
        .args(["copy", "--from", &src.url, "--to", "local"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        dst.scalar("SELECT count(*) FROM notes WHERE owner_email LIKE 'user%@example.invalid'"),
        "5"
    );
    assert_eq!(
        dst.scalar("INSERT INTO notes (body) VALUES ('new') RETURNING id || '/' || n"),
        "6/6"
    );
    // A malformed rule names file, table and column.
    common::write_file(
        dst.home.path(),
        "bad.toml",
        "[notes]\nbody = \"fake:ssn\"\n",
    );
    let out = dst
        .cmd()
        .args([
            "copy", "--from", &src.url, "--to", "local", "--mask", "bad.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.toml: [notes] body"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn hashes_match_across_tables_and_runs_with_one_salt() {
    let src = TestDb::seeded("copy_hash");
    src.psql(
        "CREATE TABLE logins (cognito_user_id text NOT NULL, at timestamp DEFAULT now()); \
         INSERT INTO logins (cognito_user_id) SELECT cognito_user_id FROM users",
    );
    let dst = TestDb::seeded("copy_hash_dst");
    dst.psql("CREATE TABLE logins (cognito_user_id text NOT NULL, at timestamp DEFAULT now())");
    let mask = common::write_file(
        dst.home.path(),
        "mask.toml",
        "[users]\ncognito_user_id = \"hash\"\n[logins]\ncognito_user_id = \"hash\"\n",
    );
    let run = || {
        let out = dst
            .cmd()
            .args([
                "copy",
                "--from",
                &src.url,
                "--to",
                "local",
                "--mask-salt",
                "pepper",
            ])
            .arg("--mask")
            .arg(&mask)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        dst.scalar("SELECT string_agg(cognito_user_id, ',' ORDER BY cognito_user_id) FROM users")
    };
    let first = run();
    assert_eq!(
        dst.scalar("SELECT count(*) FROM users JOIN logins USING (cognito_user_id)"),
        "3"
    );
    assert_eq!(
        dst.scalar(
            "SELECT count(*) FROM users WHERE cognito_user_id IN \
             (md5('pepper' || 'MOCK-andrewbrown'), md5('pepper' || 'MOCK-bayko'), \
              md5('pepper' || 'MOCK-londo'))"
        ),
        "3"
    );
    assert_eq!(run(), first);
}

#[test]
fn a_failing_copy_leaves_the_target_as_it_was() {
    let src = TestDb::seeded("copy_fail");
    let dst = TestDb::seeded("copy_fail_dst");
    // The masked emails break a rule only the target has: the load fails after TRUNCATE.
    dst.psql("ALTER TABLE users ADD CONSTRAINT real_emails CHECK (email NOT LIKE '%.invalid')");
    let before = dump(&dst);
    // With one source session and with several sharing the snapshot.
    for jobs in ["1", "3"] {
        let out = dst
            .cmd()
            .args(["copy", "--from", &src.url, "--to", "local", "--jobs", jobs])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("real_emails"), "{err}");
        assert!(err.contains("rolled back"), "{err}");
        assert_eq!(dump(&dst), before);
    }
}

#[test]
fn a_protected_target_needs_confirmation() {
    let src = TestDb::seeded("copy_prot");
    let dst = TestDb::seeded("copy_prot_dst");
    dst.psql("DELETE FROM activities");
    let state = dst.home.path().join("state");
    let copy = |extra: &[&str]| {
        dst.cmd()
            .env("CRUDDUR_STATE_DIR", &state)
            .args(["--protected", "copy", "--from", &src.url, "--to", "local"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = copy(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--yes --confirm-db"),
        "{}",
        stderr(&out)
    );
    assert_eq!(dst.scalar("SELECT count(*) FROM activities"), "0");
    let out = copy(&["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(plan.contains("1. public.users"), "{plan}");
    assert!(plan.contains("email: fake:email (built-in)"), "{plan}");
    assert!(plan.contains("dry run: nothing was written"), "{plan}");
    assert_eq!(dst.scalar("SELECT count(*) FROM activities"), "0");
    let out = copy(&["--yes", "--confirm-db", &dst.name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(dst.scalar("SELECT count(*) FROM activities"), "3");
    let log = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    let outcomes: Vec<&str> = log
        .lines()
        .map(|l| {
            if l.contains("\"outcome\":\"refused\"") {
                "refused"
            } else {
                "ok"
            }
        })
        .collect();
    assert_eq!(outcomes, ["refused", "ok"], "{log}");
}

#[test]
fn copy_refuses_its_own_source_as_target() {
    let db = TestDb::seeded("copy_self");
    let out = db
        .cmd()
        .args(["copy", "--from", "local", "--to", &db.url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(counts(|s| db.psql(s)), "3/3");
}

/// Tables referencing each other load when one of the keys of the cycle is DEFERRABLE (it is
/// deferred to the commit), and are refused (exit 2, nothing written) when none is.
#[test]
fn a_foreign_key_cycle_is_deferred_or_refused() {
    let cycle = |deferrable: &str| {
        format!(
            "CREATE TABLE teams (id int PRIMARY KEY, captain int); \
             CREATE TABLE players (id int PRIMARY KEY, team int NOT NULL REFERENCES teams); \
             ALTER TABLE teams ADD CONSTRAINT teams_captain FOREIGN KEY (captain) \
               REFERENCES players {deferrable}"
        )
    };
    let src = TestDb::new("copy_cycle");
    src.psql(&cycle("DEFERRABLE"));
    src.psql(
        "BEGIN; SET CONSTRAINTS ALL DEFERRED; INSERT INTO teams VALUES (1, 10); \
         INSERT INTO players VALUES (10, 1); COMMIT",
    );
    let dst = TestDb::new("copy_cycle_dst");
    let out = dst
        .cmd()
        .args(["copy", "--from", &src.url, "--to", "local", "--schema"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        dst.scalar("SELECT captain || '/' || (SELECT team FROM players) FROM teams"),
        "10/1"
    );
    let fixed = TestDb::new("copy_cycle_fixed");
    fixed.psql(&cycle(""));
    let out = dst
        .cmd()
        .args(["copy", "--from", &fixed.url, "--to", "local", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("teams_captain"), "{}", stderr(&out));
}

/// With several jobs, a table larger than the read-ahead limit streams straight through the
/// first session while the others read the small tables ahead; the target gets every row of
/// each, masked, and the large table's rows arrive in full (regression guard for the path
/// that replaced spooling every table to a file).
#[test]
fn a_large_and_a_small_table_copy_alike_with_any_jobs() {
    let src = TestDb::seeded("copy_large");
    src.psql(
        "CREATE TABLE public.notes (id bigint PRIMARY KEY, body_len int); \
         INSERT INTO public.notes SELECT g, g % 97 FROM generate_series(1, 120000) g; \
         CREATE TABLE public.tags (id int PRIMARY KEY, n int); \
         INSERT INTO public.tags SELECT g, g FROM generate_series(1, 500) g; \
         ANALYZE",
    );
    for jobs in ["1", "2", "4"] {
        let dst = TestDb::new("copy_large_dst");
        dst.cmd()
            .args([
                "copy", "--from", &src.url, "--to", "local", "--schema", "--jobs", jobs,
            ])
            .assert()
            .success();
        let digest = |db: &TestDb| {
            db.scalar("SELECT count(*) || '/' || sum(id) || '/' || sum(body_len) FROM public.notes")
                + &db.scalar("SELECT '/' || count(*) || '/' || sum(n) FROM public.tags")
        };
        assert_eq!(digest(&dst), digest(&src), "--jobs {jobs}");
        assert_eq!(
            counts(|s| dst.psql(s)),
            counts(|s| src.psql(s)),
            "--jobs {jobs}"
        );
    }
}
