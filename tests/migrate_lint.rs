//! `migrate lint` against the real server: the fixtures' findings against a checked-in list,
//! the live tables (row estimates, empty tables, old column types), only pending migrations,
//! the static fallback, allow comments, exit codes, and the lint in a protected target's plan.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{write_file, TestDb};
use predicates::prelude::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint")
}

/// `cruddur-db migrate lint ARGS --dir DIR`.
fn lint(db: &TestDb, dir: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut c = db.cmd();
    c.arg("migrate")
        .arg("lint")
        .arg("--dir")
        .arg(dir)
        .args(args);
    c
}

fn findings(out: &[u8]) -> Vec<serde_json::Value> {
    serde_json::from_slice(out).expect("--json prints a JSON array")
}

/// `level:rule` (or `allowed:rule`) of each finding, by file name.
fn by_file(found: &[serde_json::Value]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in found {
        let file = Path::new(f["file"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let level = if f["allowed"].is_null() {
            f["level"].as_str().unwrap()
        } else {
            "allowed"
        };
        out.entry(file)
            .or_default()
            .push(format!("{level}:{}", f["rule"].as_str().unwrap()));
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// The fixtures give exactly the findings of tests/fixtures/lint/expected.txt (written by
/// hand; scripts/compare-squawk sets squawk's findings on the same files beside them).
#[test]
fn fixtures_give_the_checked_in_findings_offline() {
    let db = TestDb::unmade("lintfix");
    let out = lint(&db, &fixtures(), &["--offline", "--json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("lint: offline"))
        .get_output()
        .stdout
        .clone();
    let got = by_file(&findings(&out));
    let expected = std::fs::read_to_string(fixtures().join("expected.txt")).unwrap();
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let (file, ids) = line.split_once(':').unwrap();
        let mut ids: Vec<String> = ids.split_whitespace().map(str::to_string).collect();
        ids.sort();
        if !ids.is_empty() {
            want.insert(file.trim().to_string(), ids);
        }
    }
    assert_eq!(got, want);
}

/// A database shaped like Cruddur's users table, with rows and statistics (more than the
/// default --small-table, so lock findings on it are errors), and an empty table.
fn live_db() -> TestDb {
    let db = TestDb::new("lintlive");
    db.psql(
        "CREATE TABLE public.users (id integer, handle text, bio varchar(20), email text, \
           uuid uuid); \
         INSERT INTO public.users (id, handle, email) \
           SELECT g, 'h' || g, 'e' || g FROM generate_series(1, 20000) g; \
         ANALYZE public.users; \
         CREATE TABLE public.empty_t (a integer);",
    );
    db
}

#[test]
fn the_live_tables_decide_what_is_flagged_and_how_big_it_is() {
    let db = live_db();
    let dir = db.home.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "20240101000000_a.sql",
        "-- migrate:up\nCREATE INDEX users_handle ON users (handle);\n\
         CREATE INDEX empty_a ON empty_t (a);\n\
         ALTER TABLE users ALTER bio TYPE text;\n\
         ALTER TABLE users ALTER id TYPE bigint;\n",
    );
    let out = lint(&db, &dir, &["--json"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("table(s) read from"))
        .get_output()
        .stdout
        .clone();
    let found = findings(&out);
    let rules: Vec<&str> = found.iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(
        rules,
        [
            "create-index-non-concurrent",
            "missing-lock-timeout",
            "alter-column-type-rewrite"
        ],
        "{found:#?}"
    );
    assert_eq!(found[0]["rows"], 20000);
    assert!(found[0]["size_bytes"].as_i64().unwrap() > 0);
    assert_eq!(found[0]["line"], 2);
    assert!(found[2]["message"]
        .as_str()
        .unwrap()
        .contains("TYPE bigint (from integer)"));
    // The text output says the size.
    lint(&db, &dir, &[])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "20240101000000_a.sql:2:1: error[create-index-non-concurrent]: CREATE INDEX without \
             CONCURRENTLY on users (~20000 rows,",
        ))
        .stderr(predicate::str::contains(
            "lint: 2 error(s), 0 warning(s), 1 info",
        ));
}

#[test]
fn only_pending_migrations_unless_all_and_allowed_findings_pass() {
    let db = live_db();
    let dir = db.home.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "20240101000000_a.sql",
        "-- migrate:up\nCREATE INDEX users_handle ON users (handle);\n",
    );
    db.cmd()
        .env("CRUDDUR_MIGRATIONS_DIR", &dir)
        .args(["migrate", "up"])
        .assert()
        .success();
    write_file(
        &dir,
        "20240102000000_b.sql",
        "-- migrate:up\n-- cruddur-db:allow drop-column the app stopped using it\n\
         ALTER TABLE users DROP COLUMN bio;\n",
    );
    let out = lint(&db, &dir, &["--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let got = by_file(&findings(&out));
    assert_eq!(
        got.into_iter().collect::<Vec<_>>(),
        [(
            "20240102000000_b.sql".to_string(),
            vec![
                "allowed:drop-column".to_string(),
                "info:missing-lock-timeout".to_string()
            ]
        )]
    );
    lint(&db, &dir, &[])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "allowed[drop-column]: DROP COLUMN users.bio (~20000 rows,",
        ))
        .stdout(predicate::str::contains("the app stopped using it"));
    let out = lint(&db, &dir, &["--all", "--json"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert!(by_file(&findings(&out)).contains_key("20240101000000_a.sql"));
}

#[test]
fn an_unreachable_database_is_an_error_and_offline_a_static_lint() {
    let db = TestDb::unmade("lintoff");
    lint(
        &db,
        &fixtures(),
        &[
            "--url",
            "postgresql://postgres@127.0.0.1:1/nothing",
            "--connect-timeout",
            "2",
        ],
    )
    .assert()
    .code(1)
    .stderr(predicate::str::contains("the target cannot be read"))
    .stderr(predicate::str::contains("pass --offline"))
    .stdout(predicate::str::is_empty());
    // --offline lints the files alone.
    lint(&db, &fixtures(), &["--offline"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "error[create-index-non-concurrent]",
        ));
    // Only the files given, in the order given.
    lint(
        &db,
        &fixtures(),
        &[
            "--offline",
            fixtures()
                .join("20240113000000_email_not_null_split.sql")
                .to_str()
                .unwrap(),
        ],
    )
    .assert()
    .success()
    .stderr(predicate::str::contains(
        "lint: 0 error(s), 0 warning(s), 0 info, 0 allowed in 1 migration(s)",
    ));
}

#[test]
fn a_protected_targets_plan_shows_the_lint_before_the_confirmation() {
    let db = live_db();
    let dir = db.home.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "20240101000000_a.sql",
        "-- migrate:up\nCREATE INDEX users_handle ON users (handle);\n",
    );
    db.cmd()
        .env("CRUDDUR_MIGRATIONS_DIR", &dir)
        .args(["migrate", "up", "--protected"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("lock lint (lint: 1 error(s)"))
        .stderr(predicate::str::contains(
            "error[create-index-non-concurrent]: CREATE INDEX without CONCURRENTLY on users \
             (~20000 rows,",
        ))
        .stderr(predicate::str::contains("fix: CREATE INDEX CONCURRENTLY"));
    assert_eq!(
        db.scalar("SELECT to_regclass('public.users_handle') IS NULL"),
        "t"
    );
}

/// The lint step of examples/ci/github-actions.yml, on the files a pull request would add.
#[test]
fn the_ci_examples_lint_step_fails_on_an_error_and_passes_a_safe_migration() {
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/github-actions.yml"),
    )
    .unwrap();
    assert!(
        example.contains("cruddur-db migrate lint --offline $files\n"),
        "{example}"
    );
    let home = tempfile::tempdir().unwrap();
    let step = |file: &str| {
        let mut c = common::bin(home.path());
        c.args(["migrate", "lint", "--offline"])
            .arg(fixtures().join(file));
        c
    };
    step("20240102000000_users_handle_index.sql")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error: 1 lint error(s)"));
    step("20240113000000_email_not_null_split.sql")
        .assert()
        .success();
}

/// A misspelt rule id in an allow comment silences nothing, and says so.
#[test]
fn an_allow_comment_naming_no_rule_is_reported() {
    let db = TestDb::unmade("lintallow");
    let dir = db.home.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "20240101000000_a.sql",
        "-- migrate:up\n-- cruddur-db:allow drop-colum typo\nALTER TABLE users DROP COLUMN a;\n",
    );
    lint(&db, &dir, &["--offline"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "20240101000000_a.sql:2: `-- cruddur-db:allow drop-colum` names no lint rule",
        ))
        .stdout(predicate::str::contains("error[drop-column]"));
}
