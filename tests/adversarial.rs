//! The adversary's list (issue 27's runner, plan and lint half), kept as regression tests
//! against the real server: transaction control that would break all or nothing, destructive
//! statements a plan must flag, and prepared shapes that must load what psql loads.

mod common;

use std::path::{Path, PathBuf};

use common::{write_file, TestDb};
use predicates::prelude::*;

fn precious(db: &TestDb) {
    db.psql("CREATE TABLE precious (id int); INSERT INTO precious VALUES (1)");
}

fn precious_is_there(db: &TestDb) -> bool {
    db.scalar("SELECT to_regclass('public.precious') IS NOT NULL") == "t"
}

/// `cruddur-db schema FILE` on a file holding `sql`.
fn schema(db: &TestDb, sql: &str) -> assert_cmd::assert::Assert {
    let file = write_file(db.home.path(), "evil.sql", sql);
    db.cmd().arg("schema").arg(&file).assert()
}

/// A migrations directory with one migration whose up section is `up`.
fn migrations(db: &TestDb, header: &str, up: &str) -> PathBuf {
    let dir = db.home.path().join("migrations");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "20240101000000_evil.sql",
        &format!("{header}\n{up}\n-- migrate:down\nSELECT 1;\n"),
    );
    dir
}

fn migrate(db: &TestDb, dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    db.cmd()
        .env("CRUDDUR_MIGRATIONS_DIR", dir)
        .arg("migrate")
        .args(args)
        .assert()
}

/// How many migrations are recorded (`none`: no tracking table).
fn recorded(db: &TestDb) -> String {
    if db.scalar("SELECT to_regclass('public.cruddur_db_migrations') IS NULL") == "t" {
        return "none".into();
    }
    db.scalar("SELECT count(*) FROM public.cruddur_db_migrations")
}

// Regression: COMMIT AND CHAIN really committed the DROP before it (issue 27).
#[test]
fn commit_and_chain_in_schema_or_seed_is_refused_before_anything_runs() {
    let db = TestDb::new("adv_chain");
    precious(&db);
    for cmd in ["schema", "seed"] {
        let file = write_file(
            db.home.path(),
            "evil.sql",
            "DROP TABLE precious;\nCOMMIT AND CHAIN;\nSELECT 1/0;\n",
        );
        db.cmd()
            .arg(cmd)
            .arg(&file)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "evil.sql:2:1: refused `COMMIT AND CHAIN;`",
            ))
            .stderr(predicate::str::contains("write a plain COMMIT"))
            .stderr(predicate::str::contains("nothing was run"));
        assert!(precious_is_there(&db), "{cmd}");
    }
    // From stdin, read as it runs: refused when reached, and nothing is kept.
    db.cmd()
        .args(["schema", "-"])
        .write_stdin("DROP TABLE precious;\nCOMMIT AND CHAIN;\nSELECT 1/0;\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("<stdin>:2:1: refused"))
        .stderr(predicate::str::contains("nothing from this file was kept"));
    assert!(precious_is_there(&db));
}

// Regression: the case, comment and whitespace variants of COMMIT AND CHAIN and END AND CHAIN.
#[test]
fn every_spelling_of_commit_and_chain_is_refused() {
    let db = TestDb::new("adv_chain_forms");
    precious(&db);
    for form in [
        "commit/*x*/and chain;",
        "COMMIT\nAND\nCHAIN;",
        "end and chain;",
        "END TRANSACTION AND CHAIN;",
        "commit work -- c\n and /* d */ chain;",
    ] {
        schema(&db, &format!("DROP TABLE precious;\n{form}\nSELECT 1/0;\n"))
            .code(2)
            .stderr(predicate::str::contains("evil.sql:2:1: refused"))
            .stderr(predicate::str::contains("would commit what ran before it"));
        assert!(precious_is_there(&db), "{form}");
    }
}

// Regression: every form that would end or change the one transaction is refused up front.
#[test]
fn transaction_control_that_ends_the_transaction_is_refused() {
    let db = TestDb::new("adv_tx_forms");
    precious(&db);
    for (form, says) in [
        (
            "ROLLBACK AND CHAIN;",
            "ROLLBACK would end the one transaction",
        ),
        ("ABORT;", "ROLLBACK would end the one transaction"),
        ("PREPARE TRANSACTION 'x';", "PREPARE TRANSACTION would end"),
        ("COMMIT PREPARED 'x';", "COMMIT PREPARED cannot run inside"),
        (
            "ROLLBACK PREPARED 'x';",
            "ROLLBACK PREPARED cannot run inside",
        ),
        (
            "BEGIN ISOLATION LEVEL SERIALIZABLE;",
            "with transaction modes cannot be folded",
        ),
        ("START TRANSACTION READ ONLY;", "with transaction modes"),
        (
            "SELECT 1 \\; COMMIT;",
            "sent together with other statements",
        ),
        (
            "SELECT 1 \\; COMMIT AND CHAIN;",
            "sent together with other statements",
        ),
    ] {
        schema(&db, &format!("DROP TABLE precious;\n{form}\nSELECT 1/0;\n"))
            .code(2)
            .stderr(predicate::str::contains("evil.sql:2:1: refused"))
            .stderr(predicate::str::contains(says));
        assert!(precious_is_there(&db), "{form}");
    }
}

// Regression: a psql variable holding `; COMMIT` is checked as sent, not as written.
#[test]
fn a_commit_inside_a_variable_is_refused() {
    let db = TestDb::new("adv_tx_var");
    precious(&db);
    let file = write_file(
        db.home.path(),
        "evil.sql",
        "DROP TABLE precious;\nSELECT :x;\nSELECT 1/0;\n",
    );
    db.cmd()
        .args(["schema", "-v", "x=1; COMMIT"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("evil.sql:2:1: refused"));
    assert!(precious_is_there(&db));
}

// Plain BEGIN/COMMIT fold and savepoints run inside the one transaction: all or nothing holds.
#[test]
fn plain_commit_folds_and_savepoints_stay_inside_the_transaction() {
    let db = TestDb::new("adv_tx_fold");
    precious(&db);
    schema(
        &db,
        "BEGIN;\nDROP TABLE precious;\nCOMMIT AND NO CHAIN;\nSTART TRANSACTION;\n\
         SAVEPOINT a;\nCREATE TABLE gone (id int);\nROLLBACK TO SAVEPOINT a;\nRELEASE a;\n\
         END;\nSELECT 1/0;\n",
    )
    .code(1)
    .stderr(predicate::str::contains("division by zero"))
    .stderr(predicate::str::contains("nothing from this file was kept"));
    assert!(precious_is_there(&db));
    // Without the failure the savepoint's work is undone and the rest kept.
    schema(
        &db,
        "SAVEPOINT a;\nCREATE TABLE gone (id int);\nROLLBACK TO a;\nCREATE TABLE kept (id int);\nCOMMIT;\n",
    )
    .success();
    assert_eq!(
        db.scalar("SELECT to_regclass('gone') IS NULL AND to_regclass('kept') IS NOT NULL"),
        "t"
    );
}

// Regression: a migration with COMMIT AND CHAIN was "not recorded" but partly applied.
#[test]
fn commit_and_chain_in_a_migration_is_refused_before_any_migration_runs() {
    let db = TestDb::new("adv_mig_chain");
    precious(&db);
    let dir = migrations(
        &db,
        "-- migrate:up",
        "DROP TABLE precious;\nCOMMIT AND CHAIN;\nSELECT 1/0;",
    );
    // A harmless migration before it: not run either.
    write_file(
        &dir,
        "20230101000000_first.sql",
        "-- migrate:up\nCREATE TABLE first_one (id int);\n",
    );
    migrate(&db, &dir, &["up"])
        .code(2)
        .stderr(predicate::str::contains(
            "20240101000000_evil.sql:3:1: refused `COMMIT AND CHAIN;`",
        ));
    assert!(precious_is_there(&db));
    assert_eq!(db.scalar("SELECT to_regclass('first_one') IS NULL"), "t");
    assert_eq!(recorded(&db), "none");
}

// A `transaction:false` migration runs its statements as written, its own COMMIT too.
#[test]
fn a_transaction_false_migration_keeps_its_own_transaction_control() {
    let db = TestDb::new("adv_mig_notx");
    let dir = migrations(
        &db,
        "-- migrate:up transaction:false",
        "BEGIN ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE made (id int);\nCOMMIT AND NO CHAIN;",
    );
    migrate(&db, &dir, &["up"]).success();
    assert_eq!(db.scalar("SELECT to_regclass('made') IS NOT NULL"), "t");
    assert_eq!(recorded(&db), "1");
}

/// The statements a plan must flag, one per line of the up section (line 2 on), with the
/// flag each gets.
const HIDDEN: &[(&str, &str)] = &[
    (
        "WITH x AS (SELECT 1 WHERE true) DELETE FROM users;",
        "DELETE without WHERE",
    ),
    (
        "UPDATE activities SET message = (SELECT 'x' WHERE true);",
        "UPDATE without WHERE",
    ),
    (
        "WITH gone AS (DELETE FROM activities RETURNING 1) SELECT count(*) FROM gone;",
        "DELETE without WHERE",
    ),
    (
        "UPDATE users SET handle = a.message FROM activities a;",
        "UPDATE without WHERE",
    ),
    ("DROP SCHEMA scratch CASCADE;", "DROP SCHEMA"),
    ("DROP VIEW IF EXISTS v;", "DROP VIEW"),
    (
        "ALTER TABLE users ALTER COLUMN handle SET NOT NULL;",
        "SET NOT NULL",
    ),
    (
        "ALTER TABLE ONLY \"users\" ALTER handle TYPE varchar(40);",
        "ALTER COLUMN ... TYPE",
    ),
    ("TRUNCATE ONLY activities;", "TRUNCATE"),
];

fn hidden_dir(db: &TestDb) -> PathBuf {
    let up: Vec<&str> = HIDDEN.iter().map(|(sql, _)| *sql).collect();
    migrations(db, "-- migrate:up", &up.join("\n"))
}

// Regression: a WHERE inside a sub-select or CTE hid a DELETE/UPDATE of every row from the plan.
#[test]
fn the_protected_plan_flags_deletes_and_updates_whose_where_is_not_their_own() {
    let db = TestDb::new("adv_plan");
    db.psql(
        "CREATE TABLE users (handle text); CREATE TABLE activities (message text); \
         INSERT INTO users VALUES ('a'); INSERT INTO activities VALUES ('m')",
    );
    let dir = hidden_dir(&db);
    let mut out = migrate(&db, &dir, &["up", "--protected"]).code(3);
    for (k, (sql, flag)) in HIDDEN.iter().enumerate() {
        out = out.stderr(predicate::str::contains(format!(
            "DESTRUCTIVE {flag} at 20240101000000_evil.sql:{}: {sql}",
            k + 2
        )));
    }
    out.stderr(predicate::str::contains(format!(
        "{} destructive statement(s) flagged",
        HIDDEN.len()
    )));
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "1");
}

// Regression: `migrate lint` said nothing of the same statements.
#[test]
fn lint_flags_deletes_and_updates_whose_where_is_not_their_own() {
    let db = TestDb::unmade("adv_lint");
    let dir = hidden_dir(&db);
    let out = db
        .cmd()
        .args(["migrate", "lint", "--offline", "--dir"])
        .arg(&dir)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    for (line, rule) in [
        (2, "delete-without-where"),
        (3, "update-without-where"),
        (4, "delete-without-where"),
        (5, "update-without-where"),
        (6, "drop-object"),
        (7, "drop-object"),
        (8, "set-not-null"),
        (9, "alter-column-type-rewrite"),
        (10, "truncate"),
    ] {
        let at = format!("20240101000000_evil.sql:{line}:");
        assert!(
            out.lines()
                .any(|l| l.contains(&at) && l.contains(&format!("[{rule}]"))),
            "line {line} {rule}:\n{out}"
        );
    }
}

/// Loads `setup` then `file` into two new databases, one with psql and one with
/// `cruddur-db seed` (by shapes, the default); returns (psql's rows, cruddur-db's rows,
/// cruddur-db's stderr).
fn psql_and_seed(prefix: &str, setup: &str, file: &str) -> (String, String, String) {
    let by_psql = TestDb::new(&format!("{prefix}_psql"));
    let by_us = TestDb::new(&format!("{prefix}_us"));
    let path = write_file(by_us.home.path(), "data.sql", file);
    for db in [&by_psql, &by_us] {
        db.psql(setup);
    }
    common::psql_file(&by_psql.url, &path);
    let out = by_us.cmd().arg("seed").arg(&path).assert().success();
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    (
        common::rows_of(&by_psql.url),
        common::rows_of(&by_us.url),
        stderr,
    )
}

// Regression: `- -2147483648` and `- (-2147483648)` were folded into an int4 parameter and
// overflowed from the second statement of a shape on; psql loads them (the int8 2147483648).
#[test]
fn a_doubly_negated_int4_minimum_loads_by_shape_as_psql_loads_it() {
    let mut file = String::new();
    for _ in 0..4 {
        file.push_str("INSERT INTO n VALUES (- -2147483648, 'a');\n");
        file.push_str("INSERT INTO n VALUES (- (-2147483648), 'b');\n");
        file.push_str("INSERT INTO n VALUES (-((-2147483648)), 'c');\n");
        file.push_str("INSERT INTO n VALUES (-2147483648, 'd');\n");
    }
    let (psql, ours, stderr) = psql_and_seed("adv_neg", "CREATE TABLE n (v bigint, k text)", &file);
    assert_eq!(psql, ours, "{stderr}");
    assert!(stderr.contains("prepared shape"), "{stderr}");
}

// Regression: a shape prepared before a trigger changed a column's type stored '007' as 7
// (its parameter kept the old type); psql stores '007'.
#[test]
fn a_shape_does_not_outlive_ddl_done_by_a_trigger_or_a_function() {
    let setup = "CREATE TABLE t (v int); CREATE TABLE log (x int); \
        CREATE FUNCTION retype() RETURNS trigger LANGUAGE plpgsql AS \
        $$ BEGIN ALTER TABLE t ALTER v TYPE text; RETURN NULL; END $$; \
        CREATE TRIGGER retype AFTER INSERT ON log FOR EACH STATEMENT EXECUTE FUNCTION retype(); \
        CREATE TABLE u (v int); CREATE TABLE calls (x int); \
        CREATE FUNCTION retype_u() RETURNS int LANGUAGE plpgsql AS \
        $$ BEGIN ALTER TABLE u ALTER v TYPE text; RETURN 1; END $$";
    let file = "INSERT INTO t VALUES ('1');\nINSERT INTO t VALUES ('2');\n\
        INSERT INTO u VALUES ('1');\nINSERT INTO u VALUES ('2');\n\
        INSERT INTO log VALUES (1);\nINSERT INTO calls VALUES (retype_u());\n\
        INSERT INTO t VALUES ('007');\nINSERT INTO t VALUES ('008');\n\
        INSERT INTO u VALUES ('007');\nINSERT INTO u VALUES ('008');\n";
    let (psql, ours, stderr) = psql_and_seed("adv_ddl", setup, file);
    assert_eq!(psql, ours, "{stderr}");
    let db = TestDb::new("adv_ddl_check");
    db.psql(setup);
    let path = write_file(db.home.path(), "data.sql", file);
    db.cmd().arg("seed").arg(&path).assert().success();
    assert_eq!(
        db.psql("SELECT v FROM t ORDER BY v").trim(),
        "007\n008\n1\n2"
    );
    assert_eq!(
        db.psql("SELECT v FROM u ORDER BY v").trim(),
        "007\n008\n1\n2"
    );
}

// `migrate lint` reads sections as the runner runs them: COMMIT AND CHAIN in a migration
// that runs in a transaction is refused (exit 2), a transaction:false section's own
// transaction control is not.
#[test]
fn lint_refuses_commit_and_chain_but_not_in_a_transaction_false_section() {
    let db = TestDb::unmade("adv_lint_tx");
    let dir = migrations(
        &db,
        "-- migrate:up",
        "CREATE TABLE a (id int);\nCOMMIT AND CHAIN;",
    );
    db.cmd()
        .args(["migrate", "lint", "--offline", "--dir"])
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "20240101000000_evil.sql:3:1: refused `COMMIT AND CHAIN;`",
        ))
        .stderr(predicate::str::contains("nothing was linted"));
    let dir = migrations(
        &db,
        "-- migrate:up transaction:false",
        "BEGIN ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE a (id int);\nCOMMIT AND CHAIN;\nCOMMIT;",
    );
    db.cmd()
        .args(["migrate", "lint", "--offline", "--dir"])
        .arg(&dir)
        .assert()
        .success();
}
