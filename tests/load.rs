//! The SQL file runner against the real server: real files (hand-written bootcamp SQL and
//! pg_dump output), all-or-nothing transactions, error locations, COPY, the load lock.

mod common;

use std::process::Stdio;

use common::{write_file, TestDb};
use predicates::prelude::*;

#[test]
fn failing_statement_rolls_back_everything_and_names_its_line() {
    let db = TestDb::new("rollback");
    let file = write_file(
        db.home.path(),
        "broken.sql",
        "CREATE TABLE kept_nothing (id int);\n\
         INSERT INTO kept_nothing VALUES (1);\n\
         \n\
         -- a comment\n\
         CREATE TABLE also_nothing (id int);\n\
         INSERT INTO also_nothing VALUES (2);\n\
         INSERT INTO also_nothing VALUES (1/0);\n\
         CREATE TABLE never_reached (id int);\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("broken.sql:7:"))
        .stderr(predicate::str::contains("division by zero"))
        .stderr(predicate::str::contains(
            "INSERT INTO also_nothing VALUES (1/0);",
        ))
        .stderr(predicate::str::contains("rolled back"));
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        "0"
    );
}

#[test]
fn a_failure_in_any_batch_of_a_long_file_names_its_line_and_keeps_nothing() {
    // About 300 KB of statements: many batches, the next one always sent before the one ahead
    // of it is read back. A failure in the first, a middle or the last batch must name its own
    // line, and the batches sent behind it must leave nothing.
    let db = TestDb::new("batches");
    let rows = 4000;
    for bad in [3, rows / 2, rows - 1] {
        let mut text = String::from("CREATE TABLE many (id int PRIMARY KEY, note text);\n");
        for i in 1..=rows {
            let value = if i == bad {
                "1/0".to_string()
            } else {
                i.to_string()
            };
            text.push_str(&format!(
                "INSERT INTO many VALUES ({value}, 'a row of about seventy bytes, number {i}');\n"
            ));
        }
        let file = write_file(db.home.path(), "many.sql", &text);
        db.cmd()
            .arg("seed")
            .arg(&file)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!("many.sql:{}:", bad + 1)))
            .stderr(predicate::str::contains("division by zero"))
            .stderr(predicate::str::contains("rolled back"));
        assert_eq!(
            db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'many'"),
            "0",
            "a failure at row {bad} kept the table"
        );
    }
    // The same file without the failure loads every row.
    let mut text = String::from("CREATE TABLE many (id int PRIMARY KEY, note text);\n");
    for i in 1..=rows {
        text.push_str(&format!("INSERT INTO many VALUES ({i}, 'row {i}');\n"));
    }
    let file = write_file(db.home.path(), "many.sql", &text);
    db.cmd().arg("seed").arg(&file).assert().success();
    assert_eq!(db.scalar("SELECT count(*) FROM many"), rows.to_string());
}

#[test]
fn syntax_errors_point_at_line_and_column() {
    let db = TestDb::new("syntax");
    let mut text = String::new();
    for i in 0..50 {
        text.push_str(&format!("CREATE TABLE t{i} (id int);\n"));
    }
    // Line 51, column 13: the misspelt keyword.
    text.push_str("SELECT 1 AS FORM t0;\n");
    text.push_str("CREATE TABLE after_error (id int);\n");
    let file = write_file(db.home.path(), "syntax.sql", &text);
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("syntax.sql:51:18:"))
        .stderr(predicate::str::contains("syntax error"));
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        "0"
    );
}

#[test]
fn server_detail_and_hint_are_shown() {
    let db = TestDb::seeded("detail");
    let file = write_file(
        db.home.path(),
        "dup.sql",
        "SELECT 1;\nINSERT INTO users (display_name, email, handle)\n  VALUES ('A', 'a@example.com', 'andrewbrown');\n",
    );
    db.cmd()
        .arg("seed")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("dup.sql:2:1:"))
        .stderr(predicate::str::contains(
            "detail: Key (handle)=(andrewbrown) already exists.",
        ));
    let hint = write_file(db.home.path(), "hint.sql", "SELECT lenght('x');\n");
    db.cmd()
        .arg("seed")
        .arg(&hint)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("hint: No function matches"));
}

#[test]
fn every_quoting_case_of_the_splitter() {
    let db = TestDb::new("quoting");
    let text = r#"
CREATE TABLE q (id int PRIMARY KEY, v text);
INSERT INTO q VALUES (1, 'semi;colon and ''quotes''');
INSERT INTO q VALUES (2, E'escaped \' quote; and \\ backslash');
INSERT INTO q VALUES (3, 'C:\path\'); -- standard string: the backslash is a character
INSERT INTO q VALUES (4, $$dollar; 'quoted'$$);
INSERT INTO q VALUES (5, $tag$ nested $$ ; $tag$);
/* a block comment; /* nested; */ still comment; */
INSERT INTO q VALUES (6, 'after comment'); -- trailing; comment
CREATE TABLE "we;ird ""name""" (x int);
INSERT INTO "we;ird ""name""" VALUES (7);
CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN i + 1; -- a semicolon inside the body
END;
$fn$;
CREATE FUNCTION times_two(i int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT i * 2;
END;
INSERT INTO q VALUES (add_one(7), 'function ' || times_two(4))
"#;
    let file = write_file(db.home.path(), "quoting.sql", text);
    db.cmd().arg("schema").arg(&file).assert().success();
    assert_eq!(
        db.psql("SELECT id || '|' || v FROM q ORDER BY id"),
        "1|semi;colon and 'quotes'\n\
         2|escaped ' quote; and \\ backslash\n\
         3|C:\\path\\\n\
         4|dollar; 'quoted'\n\
         5| nested $$ ; \n\
         6|after comment\n\
         8|function 8\n"
    );
    assert_eq!(db.scalar("SELECT x FROM \"we;ird \"\"name\"\"\""), "7");
}

#[test]
fn pg_dump_output_with_copy_blocks_and_meta_commands_loads() {
    let source = TestDb::seeded("dump_src");
    source.psql(
        "INSERT INTO activities (user_uuid, message) SELECT uuid, E'tab\\there, newline\\nthere; \\\\ and ''quote''' FROM users",
    );
    let dump = std::process::Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges", "-d", &source.url])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let mut text = String::from_utf8(dump.stdout).unwrap();
    assert!(text.contains("FROM stdin;"), "pg_dump writes COPY blocks");
    // Newer pg_dump versions wrap their output in \restrict ... \unrestrict; older ones get
    // the wrapping here. NOTE: not twice: psql refuses a \restrict inside another.
    if !text.contains("\n\\restrict ") {
        text = format!("\\restrict AbCdEf123\n{text}\n\\unrestrict AbCdEf123\n");
    }
    let file = write_file(source.home.path(), "dump.sql", &text);
    let target = TestDb::new("dump_dst");
    target
        .cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .success()
        .stderr(predicate::str::contains(": skipped \\restrict ("))
        .stderr(predicate::str::contains("skipped \\unrestrict ("));
    for q in [
        "SELECT count(*) FROM public.users",
        "SELECT count(*) FROM public.activities",
        "SELECT md5(string_agg(message, '|' ORDER BY message)) FROM public.activities",
        "SELECT md5(string_agg(handle || email, '|' ORDER BY handle)) FROM public.users",
    ] {
        assert_eq!(target.scalar(q), source.scalar(q), "{q}");
    }
    // The dump's constraints came along.
    assert_eq!(
        target.scalar("SELECT count(*) FROM pg_constraint WHERE conname = 'users_handle_key'"),
        "1"
    );
}

#[test]
fn copy_data_errors_point_at_the_data_line_and_roll_back() {
    let db = TestDb::new("copyerr");
    let file = write_file(
        db.home.path(),
        "copy.sql",
        "CREATE TABLE c (id int, v text);\n\
         COPY c (id, v) FROM stdin;\n\
         1\tone\n\
         2\ttwo\n\
         x\tthree\n\
         \\.\n\
         INSERT INTO c VALUES (9, 'nine');\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("copy.sql:5:"))
        .stderr(predicate::str::contains(
            "invalid input syntax for type integer",
        ));
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'c'"),
        "0"
    );
}

#[test]
fn a_files_own_begin_commit_folds_into_the_one_transaction() {
    let db = TestDb::new("fold");
    let file = write_file(
        db.home.path(),
        "tx.sql",
        "BEGIN;\nCREATE TABLE f (id int);\nCOMMIT;\nINSERT INTO f VALUES (1/0);\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("folded into the one transaction"));
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'f'"),
        "0"
    );
}

#[test]
fn no_transaction_runs_statements_that_cannot_run_in_one() {
    let db = TestDb::new("notx");
    let extra = format!("{}_extra", db.name);
    let file = write_file(
        db.home.path(),
        "createdb.sql",
        &format!("CREATE TABLE n (id int);\nCREATE DATABASE \"{extra}\";\n"),
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("createdb.sql:2:1:"))
        .stderr(predicate::str::contains("--no-transaction"));
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'n'"),
        "0"
    );
    db.cmd()
        .args(["schema", "--no-transaction"])
        .arg(&file)
        .assert()
        .success();
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'n'"),
        "1"
    );
    common::psql_admin(&format!("DROP DATABASE \"{extra}\""));
}

#[test]
fn sql_from_stdin() {
    let db = TestDb::new("stdin");
    db.cmd()
        .args(["schema", "-"])
        .write_stdin("CREATE TABLE s (id int); INSERT INTO s VALUES (1), (2);")
        .assert()
        .success()
        .stderr(predicate::str::contains("2 statements, 2 rows"));
    assert_eq!(db.scalar("SELECT sum(id) FROM s"), "3");
}

#[test]
fn an_unterminated_quote_runs_nothing() {
    let db = TestDb::new("unterminated");
    let file = write_file(
        db.home.path(),
        "open.sql",
        "CREATE TABLE u (id int);\nINSERT INTO u VALUES ('open);\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "open.sql:2:23: a quoted string is never closed",
        ));
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'u'"),
        "0"
    );
}

#[test]
fn two_concurrent_seeds_are_serialised() {
    let db = TestDb::new("lock");
    db.psql("CREATE TABLE log (n int, at timestamptz DEFAULT clock_timestamp())");
    // Each run appends two numbers with a pause between: interleaved runs would read the
    // same count twice.
    let file = write_file(
        db.home.path(),
        "append.sql",
        "INSERT INTO log (n) SELECT count(*) FROM log;\n\
         SELECT pg_sleep(2);\n\
         INSERT INTO log (n) SELECT count(*) FROM log;\n",
    );
    let spawn = || {
        db.std_cmd()
            .arg("seed")
            .arg(&file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn();
    let b = spawn();
    let a = a.wait_with_output().unwrap();
    let b = b.wait_with_output().unwrap();
    assert!(a.status.success() && b.status.success());
    let stderr = format!(
        "{}{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    assert!(
        stderr.contains("waiting for another cruddur-db load"),
        "{stderr}"
    );
    assert_eq!(db.psql("SELECT n FROM log ORDER BY at"), "0\n1\n2\n3\n");
}

#[test]
fn summary_line_when_not_a_terminal() {
    let db = TestDb::new("summary");
    let mut text = String::from("CREATE TABLE many (id int);\n");
    for i in 0..2000 {
        text.push_str(&format!("INSERT INTO many VALUES ({i});\n"));
    }
    let file = write_file(db.home.path(), "many.sql", &text);
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .success()
        .stderr(predicate::str::contains("2001 statements, 2000 rows"));
    assert_eq!(db.scalar("SELECT count(*) FROM many"), "2000");
}

#[test]
fn dry_run_changes_nothing() {
    let db = TestDb::new("dryrun");
    db.cmd()
        .args(["schema", "--dry-run"])
        .assert()
        .success()
        .stdout(predicate::str::contains("would run sql/schema.sql"))
        .stdout(predicate::str::contains("in one transaction"));
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"),
        "0"
    );
}

#[test]
fn a_progress_bar_on_a_terminal() {
    let db = TestDb::new("bar");
    // The pause lets the bar's ticker draw before the load ends.
    let file = write_file(
        db.home.path(),
        "slow.sql",
        "CREATE TABLE b (id int);\nSELECT pg_sleep(0.8);\nINSERT INTO b VALUES (1);\n",
    );
    let bin = assert_cmd::cargo::cargo_bin("cruddur-db");
    // util-linux `script` runs the command on a pseudo-terminal and copies what it shows.
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} schema {}", bin.display(), file.display()),
            "/dev/null",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", db.home.path())
        .env("TERM", "xterm")
        .env("CONNECTION_URL", &db.url)
        .current_dir(db.home.path())
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    // The file's size is known: the bar counts bytes.
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(
        screen.contains(&format!(" B/{size} B (")),
        "no bar drawn: {screen:?}"
    );
    assert!(screen.contains("loaded "), "{screen:?}");
    assert_eq!(db.scalar("SELECT count(*) FROM b"), "1");
}

#[tokio::test]
async fn a_section_runs_inside_the_callers_transaction() {
    // Migrations run sections of a file in a transaction they own: the runner must neither
    // commit nor roll back, and positions count from the section's first line.
    let db = TestDb::new("caller_tx");
    let client = db.client().await;
    let vars = cruddur_db::sql::Vars::from_pairs(["n=3"]).unwrap();
    client.batch_execute("BEGIN").await.unwrap();
    let summary = cruddur_db::load::run_text(
        &client,
        "migrations/001.sql",
        "CREATE TABLE m (id int);\nINSERT INTO m VALUES (:n);\n",
        10,
        &vars,
    )
    .await
    .unwrap();
    assert_eq!((summary.statements, summary.rows), (2, 1));
    client.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'm'"),
        "0",
        "the caller's ROLLBACK undid the section: the runner did not commit"
    );
    client.batch_execute("BEGIN").await.unwrap();
    let err = cruddur_db::load::run_text(
        &client,
        "migrations/002.sql",
        "SELECT 1;\n  SELECT 1/0;\n",
        20,
        &vars,
    )
    .await
    .unwrap_err();
    assert_eq!(
        (err.file.as_str(), err.line, err.column),
        ("migrations/002.sql", 21, 3)
    );
    client.batch_execute("ROLLBACK").await.unwrap();
}
