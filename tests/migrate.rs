//! `migrate` against the real server: both file formats on one time axis, the tracking table,
//! the bootcamp's pointer, failures, edited and missing files, down, dry runs, protected
//! targets, concurrent runs, `new` and `status`. Fixtures are in tests/fixtures/migrations/.

mod common;

use std::path::{Path, PathBuf};

use common::{write_file, TestDb};
use predicates::prelude::*;

/// A fixture directory, copied into the test's own directory so that a test may edit it.
fn fixture(db: &TestDb, name: &str) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/migrations")
        .join(name);
    let to = db.home.path().join(name);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

/// `cruddur-db migrate ARGS` with the migrations directory in CRUDDUR_MIGRATIONS_DIR.
fn migrate(db: &TestDb, dir: &Path, args: &[&str]) -> assert_cmd::Command {
    let mut c = db.cmd();
    c.env("CRUDDUR_MIGRATIONS_DIR", dir)
        .arg("migrate")
        .args(args);
    c
}

/// The tracking table's versions in the order they were applied.
fn recorded(db: &TestDb) -> Vec<String> {
    db.psql("SELECT version FROM public.cruddur_db_migrations ORDER BY applied_at, version")
        .lines()
        .map(str::to_string)
        .collect()
}

fn table_exists(db: &TestDb, name: &str) -> bool {
    db.scalar(&format!("SELECT to_regclass('public.{name}') IS NOT NULL")) == "t"
}

/// The bootcamp's schema.sql creates this table with the pointer at '0'.
fn bootcamp_pointer(db: &TestDb, value: &str) {
    db.psql(&format!(
        "CREATE TABLE public.schema_information (id integer UNIQUE, last_successful_run text); \
         INSERT INTO public.schema_information VALUES (1, '{value}')"
    ));
}

fn pointer(db: &TestDb) -> String {
    db.scalar("SELECT last_successful_run FROM public.schema_information WHERE id = 1")
}

#[test]
fn py_and_sql_migrations_run_in_time_order_not_integer_order() {
    // Regression: the bootcamp compared stamps as integers, so 17000000005 (2023-11) ran
    // before 16812294605993273 (2023-04) and failed on the missing table.
    let db = TestDb::new("mig_order");
    let dir = fixture(&db, "bootcamp");
    migrate(&db, &dir, &[])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "applied 16812294605993273_create_profiles.py",
        ))
        .stderr(predicate::str::contains("applied 3 migration(s)"));
    assert_eq!(
        recorded(&db),
        ["16812294605993273", "17000000005", "20240102030405"]
    );
    // `%%` is read as `%`; both statements of each string ran.
    assert_eq!(
        db.scalar("SELECT discount || ' ' || bio FROM public.profiles"),
        "100% likes 50% off"
    );
    assert!(table_exists(&db, "likes"));
    let row = db.scalar(
        "SELECT name, file, length(checksum), applied_by_db, execution_ms IS NOT NULL, adopted \
         FROM public.cruddur_db_migrations WHERE version = '17000000005'",
    );
    assert_eq!(
        row,
        "add_bio_column|17000000005_add_bio_column.py|64|postgres|t|f"
    );
    // A second run has nothing to do.
    migrate(&db, &dir, &["up"])
        .assert()
        .success()
        .stderr(predicate::str::contains("nothing to migrate"));
}

#[test]
fn a_failing_statement_names_file_line_column_and_keeps_nothing_of_its_migration() {
    let db = TestDb::new("mig_fail");
    let dir = fixture(&db, "failing");
    migrate(&db, &dir, &[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "20240201000000_broken.sql:7:1: division by zero",
        ))
        .stderr(predicate::str::contains(
            "statement: INSERT INTO public.things VALUES (1/0);",
        ))
        .stderr(predicate::str::contains(
            "nothing of 20240201000000_broken.sql was kept and it was not recorded; \
             the migration applied before it stays applied",
        ));
    assert_eq!(recorded(&db), ["20240101000000"]);
    assert!(table_exists(&db, "things"));
    assert!(!table_exists(&db, "half_done"));
    assert!(!table_exists(&db, "after_broken"));
    assert_eq!(db.scalar("SELECT count(*) FROM public.things"), "0");
}

#[test]
fn a_failing_statement_in_a_py_file_points_into_the_py_file() {
    // Line 5 of the .py file; column 55 is "DEFALT" as written there, before dedenting.
    let db = TestDb::new("mig_failpy");
    let dir = fixture(&db, "failing_py");
    migrate(&db, &dir, &[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "17000000005_typo.py:5:55: syntax error at or near \"DEFALT\"",
        ));
    assert!(!table_exists(&db, "typo_ok"));
    assert!(recorded(&db).is_empty());
}

#[test]
fn an_edited_applied_file_is_refused_with_both_checksums_and_shown_as_changed() {
    let db = TestDb::new("mig_changed");
    let dir = fixture(&db, "bootcamp");
    migrate(&db, &dir, &[]).assert().success();
    let file = dir.join("17000000005_add_bio_column.py");
    let before = db
        .scalar("SELECT checksum FROM public.cruddur_db_migrations WHERE version = '17000000005'");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("bio text", "bio varchar(200)")).unwrap();
    let after = cruddur_db::migrate::file::sha256_hex(&std::fs::read(&file).unwrap());
    write_file(
        &dir,
        "20250101000000_later.sql",
        "-- migrate:up\nCREATE TABLE public.later (id int);\n",
    );
    migrate(&db, &dir, &[])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("17000000005_add_bio_column.py"))
        .stderr(predicate::str::contains(format!(
            "recorded sha256 {before}"
        )))
        .stderr(predicate::str::contains(format!("file now sha256 {after}")))
        .stderr(predicate::str::contains("nothing was run"));
    assert!(!table_exists(&db, "later"));
    migrate(&db, &dir, &["status"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"17000000005\s+add_bio_column\s+changed").unwrap())
        .stdout(predicate::str::is_match(r"20250101000000\s+later\s+pending\s+-").unwrap());
    // Down is refused too: the file that would run is not the one that was applied.
    migrate(&db, &dir, &["down"]).assert().code(1);
    assert!(table_exists(&db, "likes"));
}

#[test]
fn an_applied_migration_whose_file_is_gone_shows_as_missing() {
    let db = TestDb::new("mig_missing");
    let dir = fixture(&db, "bootcamp");
    migrate(&db, &dir, &[]).assert().success();
    std::fs::remove_file(dir.join("20240102030405_create_likes.sql")).unwrap();
    migrate(&db, &dir, &["status", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "\"version\": \"20240102030405\",\n    \"name\": \"create_likes\",\n    \"state\": \"missing\"",
        ));
    // Missing is not pending or changed: --exit-code passes.
    migrate(&db, &dir, &["status", "--exit-code"])
        .assert()
        .success();
    migrate(&db, &dir, &["down"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "cannot undo 20240102030405_create_likes.sql: it is applied but its file is gone",
        ));
}

#[test]
fn the_bootcamp_pointer_is_adopted_comparing_times() {
    // The pointer 17000000005 is after 16812294605993273 as a time, though smaller as an
    // integer: both .py files are recorded as applied without running (their tables exist
    // already, so running them would fail).
    let db = TestDb::new("mig_adopt");
    let dir = fixture(&db, "bootcamp");
    bootcamp_pointer(&db, "17000000005");
    db.psql(
        "CREATE TABLE public.profiles (handle text PRIMARY KEY, discount text, bio text); \
         INSERT INTO public.profiles VALUES ('andrewbrown', 'old', 'old')",
    );
    migrate(&db, &dir, &["status"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"17000000005\s+add_bio_column\s+applied\s+-").unwrap())
        .stderr(predicate::str::contains("not adopted yet"));
    assert!(!table_exists(&db, "cruddur_db_migrations"));
    migrate(&db, &dir, &[])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "adopt public.schema_information (last_successful_run = 17000000005): 2 migration(s) \
             recorded as applied without running them: 16812294605993273_create_profiles.py, \
             17000000005_add_bio_column.py",
        ))
        .stderr(predicate::str::contains(
            "applied 20240102030405_create_likes.sql",
        ));
    assert_eq!(
        db.psql("SELECT version, adopted FROM public.cruddur_db_migrations ORDER BY version"),
        "16812294605993273|t\n17000000005|t\n20240102030405|f\n"
    );
    assert_eq!(db.scalar("SELECT discount FROM public.profiles"), "old");
    assert_eq!(pointer(&db), "17000000005");
}

#[test]
fn the_pointer_stays_in_step_after_up_and_down() {
    let db = TestDb::new("mig_pointer");
    let dir = fixture(&db, "bootcamp");
    bootcamp_pointer(&db, "0");
    migrate(&db, &dir, &[]).assert().success();
    assert_eq!(pointer(&db), "17000000005");
    // Down undoes the newest: the .sql file; the newest applied .py stamp is unchanged.
    migrate(&db, &dir, &["down"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "undid 20240102030405_create_likes.sql",
        ));
    assert!(!table_exists(&db, "likes"));
    assert_eq!(pointer(&db), "17000000005");
    migrate(&db, &dir, &["down", "--steps", "2"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "undid 17000000005_add_bio_column.py",
        ))
        .stderr(predicate::str::contains(
            "undid 16812294605993273_create_profiles.py",
        ));
    assert_eq!(pointer(&db), "0");
    assert!(!table_exists(&db, "profiles"));
    assert!(recorded(&db).is_empty());
    migrate(&db, &dir, &["down"])
        .assert()
        .success()
        .stderr(predicate::str::contains("nothing to undo"));
    migrate(&db, &dir, &["up"]).assert().success();
    assert_eq!(recorded(&db).len(), 3);
}

#[test]
fn down_refuses_a_migration_without_a_down_section() {
    let db = TestDb::new("mig_nodown");
    let dir = fixture(&db, "no_down");
    migrate(&db, &dir, &[]).assert().success();
    // The newest has an empty down section, the one before it none at all.
    migrate(&db, &dir, &["down"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "20240101000000_empty_down.sql has no down section (nothing was undone)",
        ));
    std::fs::remove_file(dir.join("20240101000000_empty_down.sql")).unwrap();
    db.psql("DELETE FROM public.cruddur_db_migrations WHERE version = '20240101000000'");
    migrate(&db, &dir, &["down"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "16812294605993273_create_profiles.py has no down section",
        ))
        .stderr(predicate::str::contains("def rollback_sql()"));
    assert!(table_exists(&db, "profiles"));
    assert_eq!(recorded(&db), ["16812294605993273"]);
}

#[test]
fn dry_run_prints_the_plan_and_sql_and_writes_nothing() {
    let db = TestDb::new("mig_dry");
    let dir = fixture(&db, "bootcamp");
    bootcamp_pointer(&db, "16812294605993273");
    let mut c = migrate(&db, &dir, &["--dry-run"]);
    // A password in the URL is shown masked (the test server trusts local connections).
    c.env(
        "CONNECTION_URL",
        db.url.replace("postgres@", "postgres:hunter2@"),
    );
    let out = c.assert().success().get_output().clone();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(stderr.contains(":****@"), "{stderr}");
    assert!(!stderr.contains("hunter2") && !stdout.contains("hunter2"));
    assert!(
        stdout.starts_with("plan: apply 2 migrations on database"),
        "{stdout}"
    );
    assert!(stdout.contains("-- 17000000005_add_bio_column.py (up)\nALTER TABLE public.profiles ADD COLUMN bio text;\nUPDATE public.profiles SET bio = 'likes 50% off'"), "{stdout}");
    assert!(stdout.contains("CREATE TABLE public.likes ("), "{stdout}");
    assert!(
        stderr.contains("would create the tracking table"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was changed"), "{stderr}");
    assert!(!table_exists(&db, "cruddur_db_migrations"));
    assert!(!table_exists(&db, "likes"));
    assert_eq!(pointer(&db), "16812294605993273");
}

#[test]
fn a_protected_target_needs_yes_and_confirm_db_and_sees_the_destructive_statements() {
    let db = TestDb::new("mig_protect");
    let dir = fixture(&db, "bootcamp");
    migrate(&db, &dir, &[]).assert().success();
    migrate(&db, &dir, &["down", "--steps", "2", "--protected"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("plan: undo 2 migrations"))
        .stderr(predicate::str::contains(
            "DESTRUCTIVE DROP TABLE at 20240102030405_create_likes.sql:9: DROP TABLE public.likes;",
        ))
        .stderr(predicate::str::contains(
            "DESTRUCTIVE DROP COLUMN at 17000000005_add_bio_column.py:14: ALTER TABLE public.profiles DROP COLUMN bio;",
        ))
        .stderr(predicate::str::contains(
            "refused: protected target: undo 2 migration(s)",
        ))
        .stderr(predicate::str::contains("stdin is not a terminal"));
    migrate(&db, &dir, &["down", "--protected", "--yes"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(format!(
            "--yes also needs --confirm-db {}",
            db.name
        )));
    assert_eq!(recorded(&db).len(), 3);
    migrate(
        &db,
        &dir,
        &[
            "down",
            "--steps",
            "2",
            "--protected",
            "--yes",
            "--confirm-db",
            &db.name,
        ],
    )
    .assert()
    .success();
    assert_eq!(recorded(&db), ["16812294605993273"]);
}

#[test]
fn two_concurrent_runs_apply_each_migration_once() {
    let db = TestDb::new("mig_concurrent");
    let dir = db.home.path().join("slow");
    std::fs::create_dir_all(&dir).unwrap();
    db.psql("CREATE TABLE public.runs (migration text)");
    for (n, stamp) in ["20240101000000", "20240102000000", "20240103000000"]
        .iter()
        .enumerate()
    {
        write_file(
            &dir,
            &format!("{stamp}_slow_{n}.sql"),
            &format!(
                "-- migrate:up\nINSERT INTO public.runs VALUES ('{stamp}');\nSELECT pg_sleep(0.5);\n"
            ),
        );
    }
    let spawn = || {
        let mut c = db.std_cmd();
        c.env("CRUDDUR_MIGRATIONS_DIR", &dir)
            .args(["migrate", "--lock-timeout", "60"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        db.psql("SELECT migration, count(*) FROM public.runs GROUP BY 1 ORDER BY 1"),
        "20240101000000|1\n20240102000000|1\n20240103000000|1\n"
    );
    assert_eq!(recorded(&db).len(), 3);
}

#[test]
fn a_held_lock_times_out_with_what_it_waited_for() {
    let db = TestDb::new("mig_lock");
    let dir = fixture(&db, "bootcamp");
    // Another session holds the migration lock for a while.
    let mut holder = std::process::Command::new("psql")
        .args(["-X", "-q", "-d", &db.url, "-c"])
        .arg(format!(
            "SELECT pg_advisory_lock({}); SELECT pg_sleep(30);",
            cruddur_db::migrate::store::LOCK_KEY
        ))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while db.scalar(&format!(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid = {}",
        cruddur_db::migrate::store::LOCK_KEY & 0xffff_ffff
    )) != "1"
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let result = migrate(&db, &dir, &["--lock-timeout", "1"]).assert();
    let _ = holder.kill();
    let _ = holder.wait();
    result
        .code(1)
        .stderr(predicate::str::contains(
            "waiting up to 1s for another cruddur-db migrate",
        ))
        .stderr(predicate::str::contains(
            "timed out after 1s waiting for the migration lock",
        ))
        .stderr(predicate::str::contains("nothing was run"));
    assert!(!table_exists(&db, "profiles"));
}

#[test]
fn a_py_file_whose_sql_cannot_be_read_is_refused_naming_it() {
    let db = TestDb::new("mig_badpy");
    let dir = db.home.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "16812294605993273_computed.py",
        "class M:\n  def migrate_sql():\n    table = 'x'\n    return f\"CREATE TABLE {table} (id int)\"\n",
    );
    migrate(&db, &dir, &[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "16812294605993273_computed.py:4: an f-string needs Python",
        ));
    migrate(&db, &dir, &["status"]).assert().code(2);
}

#[test]
fn transaction_false_sections_run_outside_a_transaction() {
    let db = TestDb::new("mig_notx");
    let dir = db.home.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "20240101000000_index.sql",
        "-- migrate:up\nCREATE TABLE public.t (id int);\n\n-- migrate:up transaction:false\n",
    );
    migrate(&db, &dir, &[])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "20240101000000_index.sql:4: a second -- migrate:up section",
        ));
    write_file(
        &dir,
        "20240101000000_index.sql",
        "-- migrate:up transaction:false\nCREATE TABLE public.t (id int);\nCREATE INDEX CONCURRENTLY t_id ON public.t (id);\n\n-- migrate:down\nDROP TABLE public.t;\n",
    );
    migrate(&db, &dir, &[]).assert().success();
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 't_id'"),
        "1"
    );
}

#[test]
fn status_json_and_exit_code() {
    let db = TestDb::new("mig_status");
    let dir = fixture(&db, "bootcamp");
    let out = migrate(&db, &dir, &["status", "--json", "--exit-code"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);
    assert_eq!(rows[0]["version"], "16812294605993273");
    assert_eq!(rows[1]["name"], "add_bio_column");
    assert_eq!(rows[2]["state"], "pending");
    assert!(rows[2]["applied_at"].is_null());
    migrate(&db, &dir, &[]).assert().success();
    let out = migrate(&db, &dir, &["status", "--json", "--exit-code"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    for row in rows.as_array().unwrap() {
        assert_eq!(row["state"], "applied");
        assert!(
            row["applied_at"].as_str().unwrap().starts_with("20"),
            "{row}"
        );
    }
}

#[test]
fn new_writes_a_dbmate_file_and_validates_the_name() {
    let db = TestDb::unmade("mig_new");
    let dir = db.home.path().join("deep/migrations");
    db.cmd()
        .args(["migrate", "new", "Add-Bio"])
        .arg("--dir")
        .arg(&dir)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not [a-z0-9_]+"));
    assert!(!dir.exists());
    let out = db
        .cmd()
        .args(["migrate", "new", "add_bio"])
        .arg("--dir")
        .arg(&dir)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let path = PathBuf::from(String::from_utf8(out).unwrap().trim());
    assert_eq!(path.parent().unwrap(), dir);
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(
        name.len() == "20240101000000_add_bio.sql".len() && name.ends_with("_add_bio.sql"),
        "{name}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "-- migrate:up\n\n\n-- migrate:down\n\n"
    );
    // No database was needed (none exists).
    assert!(!db.exists());
}

#[test]
fn a_cruddur_checkout_s_migrations_are_found_from_anywhere_in_it_as_in_the_ci_example() {
    let db = TestDb::new("mig_checkout");
    let migrations = db.home.path().join("backend-flask/db/migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::create_dir_all(db.home.path().join("bin/db")).unwrap();
    let from = fixture(&db, "bootcamp");
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), migrations.join(entry.file_name())).unwrap();
    }
    db.cmd()
        .current_dir(db.home.path().join("bin/db"))
        .args(["migrate", "status"])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "{}: 0 applied, 3 pending",
            migrations.display()
        )));
    // The commands examples/ci/github-actions.yml runs at the root of a checkout.
    let example = std::fs::read_to_string("examples/ci/github-actions.yml").unwrap();
    for line in [
        "run: cruddur-db migrate\n",
        "run: cruddur-db migrate status --exit-code\n",
    ] {
        assert!(example.contains(line), "{example}");
    }
    let ci = |args: &[&str]| {
        let mut c = common::bin(db.home.path());
        c.env("DATABASE_URL", &db.url).args(args);
        c
    };
    ci(&["migrate", "status", "--exit-code"]).assert().code(1);
    ci(&["migrate"]).assert().success();
    ci(&["migrate", "status", "--exit-code"]).assert().success();
}

#[test]
fn own_begin_commit_a_missing_final_semicolon_and_quotes_in_names_are_handled() {
    let db = TestDb::new("mig_edges");
    let dir = db.home.path().join("m");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "20240101000000_o'brien.sql",
        "-- migrate:up\nBEGIN;\nCREATE TABLE public.q (id int);\nCOMMIT;\nINSERT INTO public.q VALUES (1) -- no semicolon",
    );
    migrate(&db, &dir, &[])
        .assert()
        .success()
        .stderr(predicate::str::contains(
        "20240101000000_o'brien.sql:2:1: the file's own BEGIN is folded into the one transaction",
    ));
    assert_eq!(db.scalar("SELECT count(*) FROM public.q"), "1");
    assert_eq!(
        db.scalar("SELECT name FROM public.cruddur_db_migrations"),
        "o'brien"
    );
}

#[test]
fn help_shows_no_value_from_the_environment() {
    let home = tempfile::tempdir().unwrap();
    for args in [&["migrate", "--help"][..], &["migrate", "status", "--help"]] {
        common::bin(home.path())
            .env("CRUDDUR_MIGRATIONS_DIR", "/srv/very-private-dir")
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("CRUDDUR_MIGRATIONS_DIR"))
            .stdout(predicate::str::contains("very-private-dir").not());
    }
}

/// A Cruddur checkout: `backend-flask/db/{schema.sql,seed.sql,migrations/}` under the test's
/// home, the migrations copied from a fixture.
fn checkout(db: &TestDb, fixture_name: &str) -> PathBuf {
    let root = db.home.path().join("repo");
    let dbdir = root.join("backend-flask/db");
    let migrations = dbdir.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    let from = fixture(db, fixture_name);
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), migrations.join(entry.file_name())).unwrap();
    }
    let schema =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/schema.sql"))
            .unwrap();
    std::fs::write(
        dbdir.join("schema.sql"),
        format!(
            "{schema}\nCREATE TABLE public.schema_information (id integer UNIQUE, \
             last_successful_run text);\nINSERT INTO public.schema_information VALUES (1, '0');\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dbdir.join("seed.sql"),
        "INSERT INTO public.users (display_name, email, handle, cognito_user_id) \
         VALUES ('Only One', 'one@example.com', 'onlyone', 'MOCK-onlyone');\n",
    )
    .unwrap();
    root
}

#[test]
fn setup_and_reset_use_the_checkout_s_files_and_apply_its_migrations() {
    let db = TestDb::unmade("mig_setup");
    let root = checkout(&db, "bootcamp");
    let bin_db = root.join("bin/db");
    std::fs::create_dir_all(&bin_db).unwrap();
    db.cmd()
        .current_dir(&bin_db)
        .arg("setup")
        .assert()
        .success()
        .stderr(predicate::str::contains("backend-flask/db/schema.sql"))
        .stderr(predicate::str::contains("backend-flask/db/seed.sql"));
    assert_eq!(db.scalar("SELECT handle FROM users"), "onlyone");
    assert_eq!(recorded(&db).len(), 3);
    assert!(table_exists(&db, "likes"));
    // The bootcamp's pointer is kept in step: the newest applied .py stamp.
    assert_eq!(pointer(&db), "17000000005");
    // reset --no-migrate: schema and seed only.
    db.cmd()
        .current_dir(&bin_db)
        .args(["reset", "--no-migrate"])
        .assert()
        .success();
    assert!(!table_exists(&db, "likes"));
    // An explicit file still wins over the checkout's.
    db.cmd()
        .current_dir(&bin_db)
        .args(["seed", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("backend-flask/db/seed.sql"));
    let builtin = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/seed.sql");
    db.cmd()
        .current_dir(&bin_db)
        .args(["seed", "--dry-run"])
        .arg(&builtin)
        .assert()
        .success()
        .stdout(predicate::str::contains("sql/seed.sql"))
        .stdout(predicate::str::contains("backend-flask").not());
}

#[test]
fn a_broken_migration_stops_reset_before_the_drop() {
    let db = TestDb::unmade("mig_broken");
    let root = checkout(&db, "bootcamp");
    db.cmd().current_dir(&root).arg("setup").assert().success();
    let oid = db.scalar(&format!(
        "SELECT oid FROM pg_database WHERE datname = '{}'",
        db.name
    ));
    write_file(
        &root.join("backend-flask/db/migrations"),
        "17100000000_typo.py",
        "class M:\n  def migrate_sql():\n    t = 'x'\n    return f\"CREATE TABLE {t} (id int)\"\n",
    );
    db.cmd()
        .current_dir(&root)
        .arg("reset")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("17100000000_typo.py"));
    assert_eq!(
        db.scalar(&format!(
            "SELECT oid FROM pg_database WHERE datname = '{}'",
            db.name
        )),
        oid,
        "the database was dropped although a migration could not be read"
    );
}
