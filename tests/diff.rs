//! `cruddur-db diff` against the real server: differences as lines and JSON, `--exit-code`,
//! scratch databases for .sql and setup sides (always dropped), and `--sql`, whose
//! statements turn FROM into TO exactly (pg_dump -s of both then agree).

mod common;

use std::path::{Path, PathBuf};

use common::TestDb;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/catalog")
        .join(name)
}

/// Two databases: FROM with the base schema, TO with the base schema and then `change`.
fn pair(prefix: &str, change: &str) -> (TestDb, TestDb) {
    let from = TestDb::new(&format!("{prefix}_from"));
    let to = TestDb::new(&format!("{prefix}_to"));
    common::psql_file(&from.url, &fixture("base.sql"));
    common::psql_file(&to.url, &fixture("base.sql"));
    to.psql(change);
    (from, to)
}

fn diff(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = db.cmd().arg("diff").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The changes `--sql` must carry over, each on its own: applying the SQL to FROM makes
/// pg_dump -s of FROM equal TO's.
const CHANGES: &[(&str, &str)] = &[
    ("col_add", "ALTER TABLE users ADD COLUMN website text DEFAULT 'none' NOT NULL"),
    ("col_drop", "ALTER TABLE users DROP COLUMN bio"),
    (
        "col_type",
        "DROP VIEW adults; DROP VIEW user_handles; ALTER TABLE users ALTER COLUMN age TYPE bigint; \
         CREATE VIEW user_handles AS SELECT uuid, handle, age FROM users; \
         COMMENT ON VIEW user_handles IS 'who is who'; \
         CREATE VIEW adults AS SELECT uuid, handle FROM user_handles WHERE age >= 18",
    ),
    ("col_default", "ALTER TABLE users ALTER COLUMN score SET DEFAULT 10"),
    (
        "col_not_null",
        "ALTER TABLE users ALTER COLUMN score SET NOT NULL; ALTER TABLE users ALTER COLUMN handle DROP NOT NULL",
    ),
    ("index_add", "CREATE INDEX users_handle_idx ON users (lower(handle))"),
    (
        "index_change",
        "DROP INDEX activities_user_idx; \
         CREATE INDEX activities_user_idx ON activities (user_uuid) WHERE user_uuid IS NOT NULL",
    ),
    (
        "fk_add",
        "ALTER TABLE activities ADD CONSTRAINT activities_user_fk FOREIGN KEY (user_uuid) \
         REFERENCES users (uuid) ON DELETE CASCADE",
    ),
    (
        "check_change",
        "ALTER TABLE activities DROP CONSTRAINT message_len; \
         ALTER TABLE activities ADD CONSTRAINT message_len CHECK (length(message) < 500)",
    ),
    (
        "view_change",
        "CREATE OR REPLACE VIEW user_handles AS SELECT uuid, handle, age, mood FROM users",
    ),
    (
        "function_body",
        "CREATE OR REPLACE FUNCTION shout(t text) RETURNS text LANGUAGE sql IMMUTABLE \
         AS $$ SELECT upper(t) || '!' $$",
    ),
    ("enum_value", "ALTER TYPE mood ADD VALUE 'ok' BEFORE 'happy'"),
    ("table_rename", "ALTER TABLE old_name RENAME TO new_name"),
];

fn check_sql_carries_over(prefix: &str, change: &str) {
    let (from, to) = pair(prefix, change);
    let (code, sql, err) = diff(&from, &["--sql", &from.url, &to.url]);
    assert_eq!(code, 0, "{prefix}: {err}");
    assert!(!sql.trim().is_empty(), "{prefix}: no SQL for a change");
    let file = from.home.path().join("change.sql");
    std::fs::write(&file, &sql).unwrap();
    common::psql_file(&from.url, &file);
    assert_eq!(
        common::pg_dump_schema(&from.url),
        common::pg_dump_schema(&to.url),
        "{prefix}: FROM after the --sql differs from TO; the SQL was:\n{sql}"
    );
    // And nothing is left to do.
    let (code, out, err) = diff(&from, &["--exit-code", &from.url, &to.url]);
    assert_eq!(
        code, 0,
        "{prefix}: still differs after --sql:\n{out}\n{err}"
    );
}

#[test]
fn sql_turns_from_into_to_for_each_kind_of_change() {
    for (prefix, change) in CHANGES {
        check_sql_carries_over(prefix, change);
    }
}

#[test]
fn sql_turns_from_into_to_for_every_change_at_once() {
    let all: Vec<&str> = CHANGES
        .iter()
        .filter(|(p, _)| *p != "view_change")
        .map(|(_, c)| *c)
        .collect();
    check_sql_carries_over("all", &all.join(";\n"));
}

#[test]
fn differences_read_as_lines_grouped_by_object() {
    let (from, to) = pair(
        "lines",
        "ALTER TABLE users ADD COLUMN website text; \
         DROP INDEX activities_user_idx; CREATE INDEX activities_user_idx ON activities (message); \
         ALTER TABLE old_name RENAME TO new_name",
    );
    let (code, out, err) = diff(&from, &[&from.url, &to.url]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("table public.users: column website text only in TO\n"),
        "{out}"
    );
    assert!(
        out.contains("index public.activities_user_idx differs: FROM `CREATE INDEX"),
        "{out}"
    );
    assert!(
        out.contains("table public.old_name only in FROM\n"),
        "{out}"
    );
    assert!(out.contains("table public.new_name only in TO\n"), "{out}");
    assert!(err.contains("difference(s) from"), "{err}");

    // A rename is a drop and a create; the drop is flagged.
    let (_, sql, _) = diff(&from, &["--sql", &from.url, &to.url]);
    assert!(
        sql.contains("-- destructive: drops table public.old_name and its rows\nDROP TABLE \"public\".\"old_name\";"),
        "{sql}"
    );

    let (code, json, _) = diff(&from, &["--json", &from.url, &to.url]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["equal"], false);
    let diffs = v["differences"].as_array().unwrap();
    assert!(diffs
        .iter()
        .any(|d| d["object"] == "table public.users"
            && d["change"] == "column website text only in TO"));
}

#[test]
fn exit_code_says_whether_the_sides_differ() {
    let (from, to) = pair("exit", "ALTER TABLE users ADD COLUMN website text");
    let (code, _, err) = diff(&from, &["--exit-code", &from.url, &to.url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1 difference(s)"), "{err}");
    let (code, _, err) = diff(&from, &["--exit-code", &from.url, &from.url]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("have the same schema"), "{err}");
}

/// The scratch database named in the tool's messages.
fn scratch_names(stderr: &str) -> Vec<String> {
    stderr
        .split('"')
        .filter(|s| s.starts_with("cruddur_db_scratch_"))
        .map(str::to_string)
        .collect()
}

fn database_exists(name: &str) -> bool {
    common::psql_admin(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
    ))
    .trim()
        == "1"
}

#[test]
fn a_sql_file_side_is_loaded_into_a_scratch_database_that_is_dropped() {
    let db = TestDb::new("file_side");
    common::psql_file(&db.url, &fixture("rich.sql"));
    let rich = fixture("rich.sql");
    let (code, out, err) = diff(&db, &["--exit-code", rich.to_str().unwrap(), &db.url]);
    assert_eq!(code, 0, "{out}\n{err}");
    let names = scratch_names(&err);
    assert!(!names.is_empty(), "no scratch database named: {err}");
    for n in &names {
        assert!(!database_exists(n), "scratch database {n} was left behind");
    }

    // Also when loading fails.
    let bad = common::write_file(
        db.home.path(),
        "bad.sql",
        "CREATE TABLE t (id int);\nSELEC 1;\n",
    );
    let (code, _, err) = diff(&db, &[bad.to_str().unwrap(), &db.url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad.sql:2"), "{err}");
    for n in scratch_names(&err) {
        assert!(
            !database_exists(&n),
            "scratch database {n} was left behind after a failure"
        );
    }
}

#[test]
fn setup_side_matches_a_database_made_by_setup() {
    let db = TestDb::seeded("setup_side");
    let (code, out, err) = diff(&db, &["--exit-code", "setup", "local"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        err.contains("setup and local have the same schema"),
        "{err}"
    );
    for n in scratch_names(&err) {
        assert!(!database_exists(&n), "scratch database {n} was left behind");
    }
    db.psql("ALTER TABLE public.users ADD COLUMN bio text");
    let (code, out, _) = diff(&db, &["--exit-code", "setup", "local"]);
    assert_eq!(code, 1);
    assert_eq!(out, "table public.users: column bio text only in TO\n");
    // `--url` names the local target too.
    let out = common::bin(db.home.path())
        .args(["--url", &db.url, "diff", "setup", "local"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "table public.users: column bio text only in TO\n"
    );
}

/// Ctrl-C while a scratch database is being loaded: the command stops and the scratch
/// database is dropped.
#[test]
fn ctrl_c_drops_the_scratch_database() {
    let db = TestDb::new("ctrl_c");
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
    // Wait until the scratch database exists.
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
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(
        !database_exists(&name),
        "scratch database {name} was left behind"
    );
}

#[test]
fn a_side_that_is_neither_is_a_usage_error() {
    let db = TestDb::unmade("bad_side");
    let (code, _, err) = diff(&db, &["local", "nowhere"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not a side of a diff"), "{err}");
}

fn migration_files(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn migrate_new_from_diff_writes_up_and_down_from_the_diff() {
    let local = TestDb::seeded("mig_local");
    local.psql(
        "ALTER TABLE public.users ADD COLUMN bio text; \
         CREATE INDEX users_bio_idx ON public.users (bio)",
    );
    let out = local
        .cmd()
        .args(["migrate", "new", "add_bio", "--from-diff"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    let path = local.home.path().join(path);
    let text = std::fs::read_to_string(&path).unwrap();
    let (up, down) = text.split_once("-- migrate:down\n").unwrap();
    assert!(up.starts_with("-- migrate:up\n"), "{text}");
    assert!(up.contains("ADD COLUMN \"bio\" text;"), "{text}");
    assert!(up.contains("CREATE INDEX users_bio_idx"), "{text}");
    assert!(
        down.contains("DROP INDEX IF EXISTS \"public\".\"users_bio_idx\";"),
        "{text}"
    );
    assert!(
        down.contains("-- destructive: drops column public.users.bio and its data\n"),
        "{text}"
    );

    // The local database has the change, so the migration is recorded as applied there.
    assert_eq!(
        local.scalar("SELECT count(*) FROM public.cruddur_db_migrations"),
        "1"
    );
    // The app's schema is compared: the tracking table is the tool's own.
    local.psql("DROP TABLE public.cruddur_db_migrations");
    // Up on a database setup made gives the local schema; down gives setup's again.
    let fresh = TestDb::seeded("mig_fresh");
    let before = common::pg_dump_schema(&fresh.url);
    let up_file = common::write_file(fresh.home.path(), "up.sql", up);
    common::psql_file(&fresh.url, &up_file);
    assert_eq!(
        common::pg_dump_schema(&fresh.url),
        common::pg_dump_schema(&local.url)
    );
    let down_file = common::write_file(fresh.home.path(), "down.sql", down);
    common::psql_file(&fresh.url, &down_file);
    assert_eq!(common::pg_dump_schema(&fresh.url), before);
}

#[test]
fn migrate_new_from_diff_refuses_nothing_to_do_and_irreversible_changes() {
    let local = TestDb::seeded("mig_refuse");
    let dir = local.home.path().join("db/migrations");
    let out = local
        .cmd()
        .args(["migrate", "new", "nothing", "--from-diff"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("nothing to do"), "{err}");
    assert!(migration_files(&dir).is_empty());

    local.psql("ALTER TABLE public.activities DROP COLUMN expires_at");
    let out = local
        .cmd()
        .args(["migrate", "new", "lossy", "--from-diff"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("DROP COLUMN \"expires_at\"") && err.contains("cannot be reversed"),
        "{err}"
    );
    assert!(migration_files(&dir).is_empty());
}

#[test]
fn doctor_shows_drift_from_setup_without_failing() {
    let db = TestDb::seeded("drift");
    let out = db.cmd().arg("doctor").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("schema drift: none"), "{err}");

    db.psql("ALTER TABLE public.users ADD COLUMN bio text");
    let out = db.cmd().arg("doctor").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("schema drift: 1 difference(s)")
            && err.contains("    table public.users: column bio text only in TO"),
        "{err}"
    );
}

#[test]
fn owners_and_grants_are_compared_only_when_asked() {
    let (from, to) = pair(
        "owners",
        "ALTER TABLE users OWNER TO root; GRANT SELECT ON activities TO root",
    );
    let (code, out, err) = diff(&from, &["--exit-code", &from.url, &to.url]);
    assert_eq!(code, 0, "owners and grants compared unasked: {out}{err}");

    let (code, out, _) = diff(&from, &["--owners", &from.url, &to.url]);
    assert_eq!(code, 0);
    assert_eq!(out, "table public.users: owner postgres -> root\n");
    let (_, sql, _) = diff(&from, &["--owners", "--sql", &from.url, &to.url]);
    assert_eq!(sql, "ALTER TABLE \"public\".\"users\" OWNER TO \"root\";\n");

    let (_, out, _) = diff(&from, &["--grants", &from.url, &to.url]);
    assert!(
        out.starts_with("table public.activities: grants default -> {")
            && out.contains("root=r/postgres"),
        "{out}"
    );
}

#[test]
fn identity_changes_keep_the_sequence_value() {
    // Regression: an identity change was DROP IDENTITY + ADD GENERATED, which made a new
    // sequence starting at 1, so the next insert into a table with rows hit a duplicate key.
    let from = TestDb::new("ident_from");
    let to = TestDb::new("ident_to");
    from.psql(
        "CREATE TABLE items (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v text); \
         INSERT INTO items (v) SELECT 'x' FROM generate_series(1, 100)",
    );
    to.psql(
        "CREATE TABLE items (id int GENERATED ALWAYS AS IDENTITY \
         (INCREMENT BY 5 MINVALUE 1 MAXVALUE 1000000 CACHE 2 CYCLE) PRIMARY KEY, v text)",
    );
    let (code, sql, err) = diff(&from, &["--sql", &from.url, &to.url]);
    assert_eq!(code, 0, "{err}");
    assert!(sql.contains("SET GENERATED ALWAYS"), "{sql}");
    assert!(sql.contains("SET INCREMENT BY 5"), "{sql}");
    assert!(!sql.contains("DROP IDENTITY"), "{sql}");
    assert!(!sql.contains("ADD GENERATED"), "{sql}");
    let file = common::write_file(from.home.path(), "up.sql", &sql);
    common::psql_file(&from.url, &file);

    let id = from.scalar("INSERT INTO items (v) VALUES ('y') RETURNING id");
    assert_eq!(id, "105", "the sequence restarted");
    assert_eq!(from.scalar("SELECT count(*) FROM items"), "101");
    let (code, _, err) = diff(&from, &["--exit-code", &from.url, &to.url]);
    assert_eq!(code, 0, "{err}");
}
