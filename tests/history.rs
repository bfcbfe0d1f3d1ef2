//! The migration history never lies: after `setup`, `reset`, `schema FILE`, a full or subset
//! `copy`, `migrate mark` and `migrate new --from-diff`, the tracking table describes what
//! the schema really has (`diff setup local` agrees), against the real server.

mod common;

use std::path::{Path, PathBuf};

use common::{write_file, TestDb};
use predicates::prelude::*;

const BIO: &str = "20240301123456_add_bio_column.sql";
const BIO_SQL: &str = "-- migrate:up\nALTER TABLE public.users ADD COLUMN bio text;\n\
                       -- migrate:down\nALTER TABLE public.users DROP COLUMN bio;\n";

/// The test's `db/migrations` (where `setup`, `migrate` and the `setup` side of a diff find
/// them from the test's working directory), with the bootcamp's `bio` migration in it.
fn migrations(db: &TestDb) -> PathBuf {
    let dir = db.home.path().join("db/migrations");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(&dir, BIO, BIO_SQL);
    dir
}

/// The versions the tracking table records (none when it does not exist yet).
fn recorded(db: &TestDb) -> Vec<String> {
    if db.scalar("SELECT to_regclass('public.cruddur_db_migrations') IS NULL") == "t" {
        return Vec::new();
    }
    db.psql("SELECT version FROM public.cruddur_db_migrations ORDER BY version")
        .lines()
        .map(str::to_string)
        .collect()
}

fn has_bio(db: &TestDb) -> bool {
    db.scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name = 'users' AND column_name = 'bio'",
    ) == "1"
}

/// Every command that builds a scratch database (diff, --from-diff, doctor) sweeps stale ones
/// on the server; the test of that sweep (and of doctor listing them) runs alone.
static SCRATCH: std::sync::RwLock<()> = std::sync::RwLock::new(());

fn scratch_builds() -> std::sync::RwLockReadGuard<'static, ()> {
    SCRATCH.read().unwrap_or_else(|e| e.into_inner())
}

/// `diff setup local --exit-code` succeeds: the database is what setup builds from the files.
fn agrees_with_setup(db: &TestDb) {
    let _scratch = scratch_builds();
    db.cmd()
        .args(["diff", "setup", "local", "--exit-code"])
        .assert()
        .success();
}

fn set_up_and_migrated(prefix: &str) -> TestDb {
    let db = TestDb::unmade(prefix);
    migrations(&db);
    db.cmd().arg("setup").assert().success();
    assert_eq!(recorded(&db), ["20240301123456"]);
    assert!(has_bio(&db));
    db
}

/// Regression: `setup` on a migrated database reloaded the schema (dropping `bio`), kept the
/// tracking table and said "nothing to migrate: database is up to date".
#[test]
fn setup_on_a_migrated_database_applies_its_migrations_again() {
    let db = set_up_and_migrated("hist_setup");
    db.cmd()
        .args(["setup", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "forgets 1 applied migration(s) (the schema file is the state before every \
             migration); they are applied again",
        ));
    db.cmd()
        .arg("setup")
        .assert()
        .success()
        .stderr(predicate::str::contains("forgot 1 applied migration(s)"))
        .stderr(predicate::str::contains(
            "applied 20240301123456_add_bio_column.sql",
        ))
        .stderr(predicate::str::contains("nothing to migrate").not());
    assert!(has_bio(&db));
    assert_eq!(recorded(&db), ["20240301123456"]);
    agrees_with_setup(&db);
}

/// The history's reset is part of the schema load's transaction: a schema file that fails
/// keeps the tables and the history as they were.
#[test]
fn a_failing_schema_load_keeps_the_history() {
    let db = set_up_and_migrated("hist_schema_fail");
    let bad = write_file(
        db.home.path(),
        "bad.sql",
        "DROP TABLE IF EXISTS public.activities;\nSELECT 1/0;\n",
    );
    db.cmd().arg("schema").arg(&bad).assert().code(1);
    assert_eq!(recorded(&db), ["20240301123456"]);
    assert!(has_bio(&db));
    agrees_with_setup(&db);
}

/// `schema FILE` replaces the tables, so the migrations it undid are pending again; `migrate
/// up` applies them and the database agrees with setup.
#[test]
fn schema_forgets_the_history_and_migrate_up_applies_it_again() {
    let db = set_up_and_migrated("hist_schema");
    db.cmd()
        .args(["schema", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "forgets 1 applied migration(s) (the schema file is the state before every \
             migration); `cruddur-db migrate up` applies them again",
        ));
    // The schema file named on the command line (the same text as the built-in one, which the
    // `setup` side of the diff loads).
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/schema.sql");
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "run `cruddur-db migrate up` to apply them again",
        ));
    assert!(!has_bio(&db));
    assert!(recorded(&db).is_empty());
    db.cmd()
        .args(["migrate", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("pending"));
    db.cmd().arg("migrate").assert().success();
    assert!(has_bio(&db));
    agrees_with_setup(&db);
}

/// The bootcamp's pointer is reset with the tracking table, in the same transaction.
#[test]
fn schema_resets_the_bootcamp_pointer_too() {
    let db = set_up_and_migrated("hist_pointer");
    db.psql(
        "CREATE TABLE public.schema_information (id integer UNIQUE, last_successful_run text); \
         INSERT INTO public.schema_information VALUES (1, '17000000005')",
    );
    db.cmd().arg("schema").assert().success();
    assert_eq!(
        db.scalar("SELECT last_successful_run FROM public.schema_information WHERE id = 1"),
        "0"
    );
}

#[test]
fn reset_says_the_history_goes_with_the_database_and_comes_back() {
    let db = set_up_and_migrated("hist_reset");
    db.cmd()
        .args(["reset", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "its 1 applied migration(s) go with it and are applied again",
        ));
    db.cmd().arg("reset").assert().success();
    assert_eq!(recorded(&db), ["20240301123456"]);
    assert!(has_bio(&db));
    agrees_with_setup(&db);
}

/// On a protected target what is confirmed includes the history that is forgotten.
#[test]
fn a_protected_setup_confirms_the_forgotten_history() {
    let db = set_up_and_migrated("hist_protected");
    db.cmd()
        .args(["--protected", "setup"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("forgets 1 applied migration(s)"));
    db.cmd()
        .args(["--protected", "setup", "--yes", "--confirm-db", &db.name])
        .env("CRUDDUR_STATE_DIR", db.home.path().join("state"))
        .assert()
        .success()
        .stderr(predicate::str::contains("forgets 1 applied migration(s)"));
    assert!(has_bio(&db));
}

fn copy(from: &TestDb, to: &TestDb, extra: &[&str]) -> assert_cmd::Command {
    let mut c = from.cmd();
    c.args(["copy", "--from", &from.url, "--to", &to.url])
        .args(extra);
    c
}

/// Regression: strict masking asked for rules on `cruddur_db_migrations`, a full copy
/// overwrote the target's history with the source's, and a subset emptied it.
#[test]
fn copy_leaves_the_targets_history_alone_and_says_what_the_data_expects() {
    let source = set_up_and_migrated("hist_copy_src");
    source.psql(
        "INSERT INTO public.users (display_name, email, handle) VALUES ('A', 'a@x.org', 'a'); \
         CREATE TABLE public.schema_information (id integer UNIQUE, last_successful_run text); \
         INSERT INTO public.schema_information VALUES (1, '0')",
    );
    // The target: the same schema, but no migration recorded (the bio column made by hand).
    let target = TestDb::unmade("hist_copy_dst");
    target
        .cmd()
        .args(["setup", "--no-migrate"])
        .assert()
        .success();
    target.psql("ALTER TABLE public.users ADD COLUMN bio text");
    target.psql(
        "CREATE TABLE public.cruddur_db_migrations (version text PRIMARY KEY, name text NOT NULL, \
         file text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), \
         execution_ms bigint, applied_by_db text NOT NULL DEFAULT current_user, applied_by_os text, \
         adopted boolean NOT NULL DEFAULT false); \
         INSERT INTO public.cruddur_db_migrations (version, name, file, checksum) \
         VALUES ('20230101000000', 'older', '20230101000000_older.sql', 'x')",
    );
    copy(&source, &target, &["--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "left alone: public.cruddur_db_migrations, public.schema_information",
        ));
    copy(&source, &target, &[])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "left alone: public.cruddur_db_migrations",
        ))
        .stderr(predicate::str::contains(
            "1 migration(s) the target has not applied: 20240301123456_add_bio_column",
        ))
        .stderr(predicate::str::contains(
            "the target has 1 applied migration(s) the source has not: 20230101000000_older",
        ));
    assert_eq!(recorded(&target), ["20230101000000"]);
    assert_eq!(
        target.scalar("SELECT count(*) FROM public.users"),
        source.scalar("SELECT count(*) FROM public.users")
    );
    assert_eq!(
        target.scalar("SELECT to_regclass('public.schema_information') IS NULL"),
        "t",
        "the source's schema_information is not created or filled on the target"
    );
    // A subset leaves it alone too.
    copy(&source, &target, &["--where", "users: handle = 'a'"])
        .assert()
        .success();
    assert_eq!(recorded(&target), ["20230101000000"]);
}

/// With --schema the target gets the source's schema, so its history is the source's.
#[test]
fn copy_with_schema_brings_the_history_of_the_schema() {
    let source = set_up_and_migrated("hist_copy_schema_src");
    let target = TestDb::new("hist_copy_schema_dst");
    copy(&source, &target, &["--schema"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "copied as they are with the schema",
        ));
    assert_eq!(recorded(&target), ["20240301123456"]);
    migrations(&target);
    agrees_with_setup(&target);
}

#[test]
fn mark_records_without_running_and_unapply_forgets() {
    let db = TestDb::unmade("hist_mark");
    migrations(&db);
    db.cmd().args(["setup", "--no-migrate"]).assert().success();
    db.psql("ALTER TABLE public.users ADD COLUMN bio text");
    // The history lies: pending, but its column is there.
    db.cmd()
        .args(["migrate", "status"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "pending, but what it creates is already there (column public.users.bio)",
        ))
        .stderr(predicate::str::contains(
            "`cruddur-db migrate mark 20240301123456`",
        ));
    db.cmd()
        .args(["migrate", "status", "--exit-code"])
        .assert()
        .code(1);
    db.cmd()
        .args(["migrate", "mark", "20240301123456", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "would record 20240301123456_add_bio_column as applied",
        ));
    assert!(recorded(&db).is_empty());
    db.cmd()
        .args(["migrate", "mark", BIO])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "recorded 20240301123456_add_bio_column as applied",
        ));
    assert_eq!(recorded(&db), ["20240301123456"]);
    // With the file's checksum, as `migrate up` records it, and as not run by the tool.
    let sum = std::process::Command::new("sha256sum")
        .arg(db.home.path().join("db/migrations").join(BIO))
        .output()
        .unwrap();
    let sum = String::from_utf8(sum.stdout).unwrap();
    assert_eq!(
        db.scalar("SELECT checksum || ' ' || adopted || ' ' || (execution_ms IS NULL) FROM public.cruddur_db_migrations"),
        format!("{} true true", sum.split_whitespace().next().unwrap())
    );
    db.cmd()
        .arg("migrate")
        .assert()
        .success()
        .stderr(predicate::str::contains("nothing to migrate"));
    // Marking again changes nothing.
    db.cmd()
        .args(["migrate", "mark", "20240301123456"])
        .assert()
        .success()
        .stderr(predicate::str::contains("already applied; nothing to do"));
    // The column goes by hand: now the applied record lies, and says how to fix it.
    db.psql("ALTER TABLE public.users DROP COLUMN bio");
    db.cmd()
        .args(["migrate", "status"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "applied, but its change is not in the schema (column public.users.bio missing)",
        ))
        .stderr(predicate::str::contains(
            "`cruddur-db migrate mark 20240301123456 --unapply`, then `cruddur-db migrate up`",
        ));
    db.cmd()
        .args(["migrate", "mark", "--unapply", "20240301123456"])
        .assert()
        .success();
    assert!(recorded(&db).is_empty());
    db.cmd().arg("migrate").assert().success();
    assert!(has_bio(&db));
    agrees_with_setup(&db);
}

#[test]
fn mark_refuses_unknown_versions_and_unconfirmed_protected_targets() {
    let db = TestDb::unmade("hist_mark_refuse");
    migrations(&db);
    db.cmd().args(["setup", "--no-migrate"]).assert().success();
    db.cmd()
        .args(["migrate", "mark", "20990101000000"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no migration \"20990101000000\""));
    db.cmd()
        .args(["--protected", "migrate", "mark", "20240301123456"])
        .assert()
        .code(3);
    assert!(
        recorded(&db).is_empty(),
        "nothing recorded without the confirmation"
    );
    let state = db.home.path().join("state");
    db.cmd()
        .env("CRUDDUR_STATE_DIR", &state)
        .args(["--protected", "migrate", "mark", "20240301123456"])
        .args(["--yes", "--confirm-db", &db.name])
        .assert()
        .success();
    assert_eq!(recorded(&db), ["20240301123456"]);
    let audit = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert!(audit.contains("\"mark\""), "{audit}");
}

/// Regression: the `--from-diff` file showed as pending on the database the change was made
/// in, `migrate up` then failed on the existing column, and the file failed `migrate lint`.
#[test]
fn from_diff_records_itself_where_the_change_is_and_passes_lint() {
    let db = TestDb::unmade("hist_from_diff");
    let dir = db.home.path().join("db/migrations");
    std::fs::create_dir_all(&dir).unwrap();
    db.cmd().arg("setup").assert().success();
    db.psql(
        "ALTER TABLE public.users ADD COLUMN bio text; \
         CREATE INDEX users_bio_idx ON public.users (bio); ANALYZE public.users",
    );
    let scratch = scratch_builds();
    let out = db
        .cmd()
        .args(["migrate", "new", "add_bio_column", "--from-diff"])
        .assert()
        .success()
        .stderr(predicate::str::contains("as applied on database"))
        .get_output()
        .stdout
        .clone();
    drop(scratch);
    let file = PathBuf::from(String::from_utf8(out).unwrap().lines().next().unwrap());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("ADD COLUMN \"bio\" text"), "{text}");
    assert_eq!(recorded(&db).len(), 1);
    db.cmd()
        .arg("migrate")
        .assert()
        .success()
        .stderr(predicate::str::contains("nothing to migrate"));
    db.cmd()
        .args(["migrate", "lint", "--all"])
        .assert()
        .success();
    // The other side: a database set up from the files gets it from `migrate up`... by setup.
    let other = TestDb::unmade("hist_from_diff_other");
    std::fs::create_dir_all(other.home.path().join("db")).unwrap();
    copy_dir(&dir, &other.home.path().join("db/migrations"));
    other
        .cmd()
        .args(["setup", "--no-migrate"])
        .assert()
        .success();
    other
        .cmd()
        .args(["migrate", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("pending"));
    other.cmd().arg("migrate").assert().success();
    agrees_with_setup(&other);
    agrees_with_setup(&db);
}

/// On a table with rows the index is built CONCURRENTLY in a second migration outside a
/// transaction, so the file passes lint against the database that has the rows.
#[test]
fn from_diff_builds_indexes_on_large_tables_concurrently() {
    let db = TestDb::unmade("hist_from_diff_big");
    let dir = db.home.path().join("db/migrations");
    std::fs::create_dir_all(&dir).unwrap();
    db.cmd().arg("setup").assert().success();
    db.psql(
        "INSERT INTO public.users (display_name, email, handle) \
         SELECT 'U' || g, 'u' || g || '@x.org', 'u' || g FROM generate_series(1, 12000) g; \
         CREATE INDEX users_created_idx ON public.users (created_at); ANALYZE public.users",
    );
    let files = new_from_diff(&db, "index_created");
    // The index was the whole change, so the one migration runs outside a transaction.
    assert_eq!(files.len(), 1, "{files:?}");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        text.starts_with("-- migrate:up transaction:false"),
        "{text}"
    );
    assert!(
        text.contains("CREATE INDEX CONCURRENTLY users_created_idx"),
        "{text}"
    );
    assert!(text.contains("DROP INDEX CONCURRENTLY IF EXISTS public.users_created_idx"));
    assert_eq!(recorded(&db).len(), 1);
    db.cmd()
        .args(["migrate", "lint", "--all"])
        .assert()
        .success();
    // Undone and done again on the database that has the rows.
    db.cmd().args(["migrate", "down"]).assert().success();
    assert_eq!(
        db.scalar("SELECT to_regclass('public.users_created_idx') IS NULL"),
        "t"
    );
    db.cmd().arg("migrate").assert().success();
    agrees_with_setup(&db);
}

/// A CHECK added to a table with rows is written NOT VALID, and validated in a second
/// migration outside the first one's transaction.
#[test]
fn from_diff_adds_constraints_on_large_tables_not_valid() {
    let db = TestDb::unmade("hist_from_diff_check");
    let dir = db.home.path().join("db/migrations");
    std::fs::create_dir_all(&dir).unwrap();
    db.cmd().arg("setup").assert().success();
    db.psql(
        "INSERT INTO public.users (display_name, email, handle) \
         SELECT 'U' || g, 'u' || g || '@x.org', 'u' || g FROM generate_series(1, 12000) g; \
         ALTER TABLE public.users ADD COLUMN bio text; \
         ALTER TABLE public.users ADD CONSTRAINT users_handle_short CHECK (length(handle) < 64); \
         ANALYZE public.users",
    );
    let files = new_from_diff(&db, "short_handles");
    assert_eq!(files.len(), 2, "{files:?}");
    let first = std::fs::read_to_string(&files[0]).unwrap();
    assert!(first.contains("ADD COLUMN \"bio\" text"), "{first}");
    assert!(first.contains("< 64)) NOT VALID;"), "{first}");
    let second = std::fs::read_to_string(&files[1]).unwrap();
    assert!(second.contains("VALIDATE CONSTRAINT"), "{second}");
    assert!(
        files[1]
            .to_string_lossy()
            .ends_with("_short_handles_outside_transaction.sql"),
        "{files:?}"
    );
    assert_eq!(recorded(&db).len(), 2);
    db.cmd()
        .args(["migrate", "lint", "--all"])
        .assert()
        .success();
    // Undone and done again where the rows are: the constraint ends validated.
    db.cmd()
        .args(["migrate", "down", "--steps=2"])
        .assert()
        .success();
    assert!(!has_bio(&db));
    db.cmd().arg("migrate").assert().success();
    assert_eq!(
        db.scalar("SELECT convalidated FROM pg_constraint WHERE conname = 'users_handle_short'"),
        "t"
    );
    agrees_with_setup(&db);
}

/// `migrate new NAME --from-diff` on `db`: the files it wrote, as it printed them.
fn new_from_diff(db: &TestDb, name: &str) -> Vec<PathBuf> {
    let _scratch = scratch_builds();
    let out = db
        .cmd()
        .args(["migrate", "new", name, "--from-diff"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A lock finding on a small table is info (the size is still said); `--small-table`
/// moves the line.
#[test]
fn lint_uses_the_sizes_it_reads() {
    let db = TestDb::seeded("hist_lint_small");
    let dir = db.home.path().join("db/migrations");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(
        &dir,
        "20240301123456_handle_index.sql",
        "-- migrate:up\nCREATE INDEX users_created_idx ON public.users (created_at);\n",
    );
    db.psql("ANALYZE public.users");
    db.cmd()
        .args(["migrate", "lint"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "info[create-index-non-concurrent]",
        ))
        .stdout(predicate::str::contains(
            "a small table, under --small-table 10000 rows",
        ))
        .stdout(predicate::str::contains(" rows, "));
    db.cmd()
        .args(["migrate", "lint", "--small-table", "1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "error[create-index-non-concurrent]",
        ));
    db.cmd()
        .args(["migrate", "lint", "--small-table=1"])
        .assert()
        .code(1);
}

/// Regression: a CI job with a typo in its URL linted offline and passed.
#[test]
fn lint_against_an_unreachable_target_fails_and_offers_offline() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("db/migrations");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(&dir, BIO, BIO_SQL);
    common::bin(home.path())
        .args([
            "--url",
            "postgresql://ci:s3cr3t@127.0.0.1:1/cruddur",
            "migrate",
            "lint",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pass --offline"))
        .stderr(predicate::str::contains("ci:****@"))
        .stderr(predicate::str::contains("s3cr3t").not());
    common::bin(home.path())
        .args(["migrate", "lint", "--offline"])
        .assert()
        .success();
}

/// Regression: `migrate --dir DIR up` was refused though `--help` lists `--dir` there.
#[test]
fn migrate_flags_work_before_the_subcommand() {
    let db = TestDb::unmade("hist_dir_flag");
    db.cmd().args(["setup", "--no-migrate"]).assert().success();
    let dir = db.home.path().join("elsewhere");
    std::fs::create_dir_all(&dir).unwrap();
    write_file(&dir, BIO, BIO_SQL);
    db.cmd()
        .arg("migrate")
        .arg("--dir")
        .arg(&dir)
        .arg("up")
        .assert()
        .success();
    assert!(has_bio(&db));
    db.cmd()
        .arg("migrate")
        .arg(format!("--dir={}", dir.display()))
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains("applied"));
}

/// Scratch builds print one line each, saying they were a scratch copy; details with
/// --verbose.
#[test]
fn a_scratch_build_prints_one_line() {
    let db = set_up_and_migrated("hist_scratch_line");
    let _scratch = scratch_builds();
    let out = db
        .cmd()
        .args(["diff", "setup", "local"])
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains("built setup in scratch database"), "{err}");
    assert!(err.contains("a scratch copy, dropped afterwards"), "{err}");
    assert!(!err.contains("applied 20240301123456"), "{err}");
    assert!(!err.contains("created database"), "{err}");
    let out = db
        .cmd()
        .args(["--verbose", "diff", "setup", "local"])
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    assert!(err.contains("applied 20240301123456"), "{err}");
}

/// A scratch database a killed run left behind (no session, made over a minute ago) is
/// dropped by the next scratch build on that server; doctor lists it until then.
#[test]
fn a_stale_scratch_database_is_dropped_by_the_next_build() {
    let db = set_up_and_migrated("hist_stale");
    let old = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    let gone = |name: &str| {
        common::psql_admin(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
        ))
        .trim()
            == "0"
    };
    let _alone = SCRATCH.write().unwrap_or_else(|e| e.into_inner());
    // Doctor lists it, then its drift check (a scratch build) drops it.
    let stale = format!("cruddur_db_scratch_t{old}_1_{}", std::process::id());
    common::psql_admin(&format!("CREATE DATABASE {stale}"));
    db.cmd()
        .arg("doctor")
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "scratch databases left by killed runs: {stale}"
        )))
        .stderr(predicate::str::contains(format!(
            "dropped scratch database \"{stale}\""
        )));
    assert!(gone(&stale));
    // One in use is no leftover; a new one (its builder about to connect) neither.
    let used = format!("cruddur_db_scratch_t{old}_2_{}", std::process::id());
    let young = format!(
        "cruddur_db_scratch_t{}_3_{}",
        old + 3600,
        std::process::id()
    );
    let stale = format!("cruddur_db_scratch_t{old}_4_{}", std::process::id());
    for name in [&used, &young, &stale] {
        common::psql_admin(&format!("CREATE DATABASE {name}"));
    }
    let mut holder = std::process::Command::new("psql")
        .args([
            "-X",
            "-q",
            "-d",
            &common::url_for(&used),
            "-c",
            "SELECT pg_sleep(60)",
        ])
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while common::psql_admin(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{used}'"
    ))
    .trim()
        == "0"
    {
        assert!(std::time::Instant::now() < deadline, "psql did not connect");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    db.cmd()
        .args(["diff", "setup", "local"])
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "dropped scratch database \"{stale}\""
        )));
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(gone(&stale));
    assert!(!gone(&used) && !gone(&young));
    for name in [&used, &young] {
        common::psql_admin(&format!("DROP DATABASE {name} WITH (FORCE)"));
    }
}

#[test]
fn doctor_reports_a_false_history() {
    let db = set_up_and_migrated("hist_doctor");
    let _scratch = scratch_builds();
    db.cmd()
        .arg("doctor")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "migration history: matches the schema",
        ));
    db.psql("ALTER TABLE public.users DROP COLUMN bio");
    db.cmd()
        .arg("doctor")
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "migration history: 1 migration(s) whose record does not match the schema",
        ))
        .stderr(predicate::str::contains(
            "migrate mark 20240301123456 --unapply",
        ));
}
