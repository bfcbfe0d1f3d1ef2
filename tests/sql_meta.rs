//! psql meta-commands in SQL files against the real server: every refusal (exit 2, before
//! anything runs, with `file:line` and the command named), every error position (inside
//! includes with the chain, after variable interpolation), `\c`, `\echo`, `-v`, NUL bytes.

mod common;

use common::{write_file, TestDb};
use predicates::prelude::*;

fn tables(db: &TestDb) -> String {
    db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
}

#[test]
fn every_refused_meta_command_stops_the_file_before_anything_runs() {
    let db = TestDb::new("refusals");
    for (line, named) in [
        ("SELECT 'CREATE TABLE x ()' \\gexec", "\\gexec"),
        ("SELECT 1 AS n \\gset", "\\gset"),
        ("\\if true", "\\if"),
        ("\\elif true", "\\elif"),
        ("\\else", "\\else"),
        ("\\endif", "\\endif"),
        ("SELECT 1 \\g", "\\g"),
        ("SELECT 1 \\watch 1", "\\watch"),
        ("\\! touch pwned", "\\!"),
        ("\\o out.txt", "\\o"),
        ("\\w out.sql", "\\w"),
        ("\\lo_import /etc/hostname", "\\lo_import"),
        ("\\copy refusal_t to 'out.csv'", "\\copy: \\copy ... TO"),
        ("\\copy refusal_t from program 'cat x'", "PROGRAM"),
        ("\\c other_db", "--no-transaction"),
        ("\\set AUTOCOMMIT off", "AUTOCOMMIT"),
        ("\\echo `id`", "backquotes"),
        ("\\qecho hi", "\\qecho"),
    ] {
        let file = write_file(
            db.home.path(),
            "refused.sql",
            &format!("CREATE TABLE before_it (id int);\n-- a comment\n{line}\nCREATE TABLE after_it (id int);\n"),
        );
        db.cmd()
            .arg("schema")
            .arg(&file)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("refused.sql:3:"))
            .stderr(predicate::str::contains(named))
            .stderr(predicate::str::contains("nothing was run"));
        assert_eq!(tables(&db), "0", "{line}");
    }
    assert!(!db.home.path().join("pwned").exists());
    assert!(!db.home.path().join("out.txt").exists());
}

#[test]
fn connect_to_another_host_or_user_is_refused_even_without_a_transaction() {
    let db = TestDb::new("c_other");
    let file = write_file(
        db.home.path(),
        "c.sql",
        "CREATE TABLE t (id int);\n\\c postgres someone_else\n",
    );
    db.cmd()
        .args(["schema", "--no-transaction"])
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("c.sql:2:"))
        .stderr(predicate::str::contains("another user (someone_else)"));
    assert_eq!(tables(&db), "0");
}

#[test]
fn a_refusal_deep_in_an_include_names_the_chain_and_runs_nothing() {
    let db = TestDb::new("deep_refusal");
    let dir = db.home.path();
    std::fs::create_dir(dir.join("sub")).unwrap();
    write_file(
        dir,
        "main.sql",
        "CREATE TABLE m (id int);\n\\ir sub/a.sql\n",
    );
    write_file(dir, "sub/a.sql", "CREATE TABLE a (id int);\n\n\\ir b.sql\n");
    write_file(dir, "sub/b.sql", "SELECT 1;\n\\gexec\n");
    db.cmd()
        .args(["schema", "main.sql"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("sub/b.sql:2:1: \\gexec"))
        .stderr(predicate::str::contains("included from sub/a.sql:3"))
        .stderr(predicate::str::contains("included from main.sql:2"));
    assert_eq!(tables(&db), "0");
}

#[test]
fn a_missing_include_is_exit_2_naming_it_and_the_including_line() {
    let db = TestDb::new("missing_inc");
    let dir = db.home.path();
    write_file(
        dir,
        "main.sql",
        "CREATE TABLE m (id int);\n\\i parts/nope.sql\n",
    );
    db.cmd()
        .args(["schema", "main.sql"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "main.sql:2:1: cannot open included file parts/nope.sql",
        ));
    assert_eq!(tables(&db), "0");
}

#[test]
fn an_include_cycle_is_an_error() {
    let db = TestDb::new("cycle");
    let dir = db.home.path();
    write_file(dir, "a.sql", "CREATE TABLE a (id int);\n\\ir b.sql\n");
    write_file(dir, "b.sql", "\\ir a.sql\n");
    db.cmd()
        .args(["schema", "a.sql"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("include cycle: a.sql -> "))
        .stderr(predicate::str::contains("b.sql:1:1:"));
    assert_eq!(tables(&db), "0");
}

#[test]
fn a_missing_copy_file_is_exit_2_before_anything_runs() {
    let db = TestDb::new("copy_missing");
    let file = write_file(
        db.home.path(),
        "c.sql",
        "CREATE TABLE t (id int);\n\\copy t from 'nope.csv' csv\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "c.sql:2:1: \\copy: cannot open nope.csv",
        ));
    assert_eq!(tables(&db), "0");
}

#[test]
fn an_unset_variable_is_exit_2_at_its_line_and_column() {
    let db = TestDb::new("unset");
    let file = write_file(
        db.home.path(),
        "v.sql",
        "CREATE TABLE t (id int);\n\\set a 1\n\\unset a\nINSERT INTO t VALUES (:a);\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "v.sql:4:23: variable :a is not set",
        ))
        .stderr(predicate::str::contains("-v a=VALUE"));
    assert_eq!(tables(&db), "0");
    // \unset removes a -v value too.
    db.cmd()
        .args(["schema", "--set=a=5"])
        .arg(&file)
        .assert()
        .code(2);
    let file = write_file(
        db.home.path(),
        "w.sql",
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (:a), (:'b'::int);\n",
    );
    db.cmd()
        .args(["schema", "-v", "a=5", "--set=b=6"])
        .arg(&file)
        .assert()
        .success();
    assert_eq!(db.scalar("SELECT sum(id) FROM t"), "11");
}

#[test]
fn errors_inside_includes_point_at_the_included_file_with_the_chain() {
    let db = TestDb::new("inc_err");
    let dir = db.home.path();
    std::fs::create_dir(dir.join("parts")).unwrap();
    write_file(
        dir,
        "main.sql",
        "CREATE TABLE m (id int);\n\\i parts/one.sql\nCREATE TABLE never (id int);\n",
    );
    write_file(
        dir,
        "parts/one.sql",
        "INSERT INTO m VALUES (1);\n\n  INSERT INTO m VALUES (1/0);\n",
    );
    db.cmd()
        .args(["schema", "main.sql"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "parts/one.sql:3:3: division by zero",
        ))
        .stderr(predicate::str::contains("included from main.sql:2"))
        .stderr(predicate::str::contains("rolled back"));
    assert_eq!(tables(&db), "0");
}

#[test]
fn error_positions_refer_to_the_file_as_written_after_interpolation() {
    let db = TestDb::new("interp_pos");
    // The value is longer than the reference: the server's position is in the text sent.
    let file = write_file(
        db.home.path(),
        "p.sql",
        "\\set long 'a rather long value that shifts every column after it'\n\
         SELECT :'long', :'long',\n  nosuchcolumn;\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("p.sql:3:3:"))
        .stderr(predicate::str::contains("nosuchcolumn"));
    // A syntax error inside a value points at the reference.
    let file = write_file(
        db.home.path(),
        "q.sql",
        "\\set bad 'FROM FROM'\nSELECT 1 :bad;\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("q.sql:2:10:"));
}

#[test]
fn copy_file_errors_point_at_the_data_file_line() {
    let db = TestDb::new("copyfile_err");
    write_file(db.home.path(), "d.csv", "1,a\n2,b\nx,c\n");
    let file = write_file(
        db.home.path(),
        "c.sql",
        "CREATE TABLE t (id int, v text);\n\\copy t from 'd.csv' csv\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("d.csv:3:1:"))
        .stderr(predicate::str::contains("c.sql:2 (\\copy)"));
    assert_eq!(tables(&db), "0");
}

#[test]
fn a_refusal_on_stdin_rolls_back_what_ran() {
    let db = TestDb::new("stdin_refusal");
    db.cmd()
        .args(["schema", "-"])
        .write_stdin("CREATE TABLE s (id int);\nINSERT INTO s VALUES (1);\n\\gexec\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("<stdin>:3:1: \\gexec"))
        .stderr(predicate::str::contains("rolled back"));
    assert_eq!(tables(&db), "0");
}

#[test]
fn connect_in_no_transaction_mode_continues_on_that_database() {
    let db = TestDb::new("connect");
    let other = format!("{}_other", db.name);
    let file = write_file(
        db.home.path(),
        "c.sql",
        &format!(
            "CREATE TABLE here (id int);\nCREATE DATABASE \"{other}\";\n\\connect {other}\nCREATE TABLE there (id int);\nINSERT INTO there VALUES (1);\n"
        ),
    );
    db.cmd()
        .args(["schema", "--no-transaction"])
        .arg(&file)
        .assert()
        .success()
        .stderr(predicate::str::contains(format!(
            "then on database(s) {other}"
        )));
    assert_eq!(tables(&db), "1");
    assert_eq!(
        common::psql(&common::url_for(&other), "SELECT count(*) FROM there").trim(),
        "1"
    );
    common::psql_admin(&format!("DROP DATABASE \"{other}\" WITH (FORCE)"));
}

/// Regression: a sample database's script ends `\c dbname;`, and cruddur-db looked for a
/// database named `dbname;` after committing the first statements. psql strips the `;`.
#[test]
fn connect_with_a_trailing_semicolon_and_psql_forms() {
    let db = TestDb::new("connect_semi");
    let other = format!("{}_other", db.name);
    let file = write_file(
        db.home.path(),
        "c.sql",
        &format!(
            "CREATE DATABASE \"{other}\";\n\\c {other};\nCREATE TABLE there (id int);\n\
             \\c - postgres \\echo back\n\\connect -reuse-previous=on \"dbname={other}\"\n\
             INSERT INTO there VALUES (1); \\set n 2 \\set m 3\nINSERT INTO there VALUES (:n), (:m);\n"
        ),
    );
    db.cmd()
        .args(["schema", "--no-transaction"])
        .arg(&file)
        .assert()
        .success();
    assert_eq!(
        common::psql(
            &common::url_for(&other),
            "SELECT string_agg(id::text, ',' ORDER BY id) FROM there"
        )
        .trim(),
        "1,2,3"
    );
    common::psql_admin(&format!("DROP DATABASE \"{other}\" WITH (FORCE)"));
}

#[test]
fn psql_argument_rules_refuse_before_anything_runs() {
    let db = TestDb::new("slash_refusals");
    for (text, named) in [
        ("\\set ON_ERROR_STOP off\n", "ON_ERROR_STOP"),
        ("\\unset ON_ERROR_STOP\n", "ON_ERROR_STOP"),
        (
            "\\restrict k\n\\echo hi\n\\unrestrict k\n",
            "after \\restrict",
        ),
        ("\\unrestrict k\n", "\\unrestrict"),
        (
            "\\c postgresql://bob:s3cret@127.0.0.1:5432/postgres\n",
            "another user (bob)",
        ),
        ("\\c \"dbname=postgres\"\n", "default host"),
        ("\\c postgres postgres otherhost\n", "another host"),
        ("\\c postgres - - 1\n", "another port"),
        ("select 1\n\\i x.sql\n;\n", "unfinished statement"),
        ("\\set x 'open\n", "never closed"),
        (
            "SET LOCAL standard_conforming_strings = off;\n",
            "standard_conforming_strings",
        ),
    ] {
        let file = write_file(
            db.home.path(),
            "refused.sql",
            &format!("CREATE TABLE before_it (id int);\n{text}CREATE TABLE after_it (id int);\n"),
        );
        let out = db
            .cmd()
            .args(["schema", "--no-transaction"])
            .arg(&file)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("refused.sql:"))
            .stderr(predicate::str::contains(named))
            .stderr(predicate::str::contains("nothing was run"));
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        if text.contains("s3cret") {
            assert!(stderr.contains("bob:****@127.0.0.1"), "{stderr}");
        }
        assert!(!stderr.contains("s3cret"), "{stderr}");
        assert_eq!(tables(&db), "0", "{text}");
    }
}

#[test]
fn echo_goes_to_stderr_and_skipped_commands_get_a_note() {
    let db = TestDb::new("echo");
    let file = write_file(
        db.home.path(),
        "e.sql",
        "\\set who world\n\\echo hello :who\n\\timing on\n\\set ON_ERROR_STOP on\n\\encoding UTF8\nSELECT 1;\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .success()
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("hello world\n"))
        .stderr(predicate::str::contains("e.sql:3:1: skipped \\timing"))
        .stderr(predicate::str::contains("e.sql:4:1: skipped \\set"))
        .stderr(predicate::str::contains("e.sql:5:1: skipped \\encoding"));
}

#[test]
fn nul_byte_is_reported_at_the_statement_that_holds_it() {
    // Regression (issue 14): a NUL on line 3 was reported at 1:1, the first statement of its
    // batch; on line 100,001 at 52,430.
    let db = TestDb::new("nul");
    let file = write_file(
        db.home.path(),
        "n.sql",
        "CREATE TABLE t (v text);\nINSERT INTO t VALUES ('a');\nINSERT INTO t VALUES ('b\0');\n",
    );
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("n.sql:3:25: a NUL byte"));
    let mut text = String::from("CREATE TABLE t (v int);\n");
    for i in 0..100_000 {
        text.push_str(&format!("INSERT INTO t VALUES ({i});\n"));
    }
    text.push_str("INSERT INTO t VALUES (\0);\n");
    let file = write_file(db.home.path(), "big.sql", &text);
    db.cmd()
        .arg("schema")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("big.sql:100002:23: a NUL byte"));
    // From stdin there is no first pass: the statements before it roll back.
    db.cmd()
        .args(["schema", "-"])
        .write_stdin(text)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("<stdin>:100002:23: a NUL byte"))
        .stderr(predicate::str::contains("rolled back"));
    assert_eq!(tables(&db), "0");
}

#[test]
fn seed_setup_and_reset_take_variables() {
    let db = TestDb::unmade("vars_setup");
    let dir = db.home.path();
    write_file(dir, "schema.sql", "CREATE TABLE :\"tbl\" (n int);\n");
    write_file(dir, "seed.sql", "INSERT INTO :\"tbl\" VALUES (:n);\n");
    db.cmd()
        .args([
            "setup",
            "--schema-file",
            "schema.sql",
            "--seed-file",
            "seed.sql",
        ])
        .args(["-v", "tbl=numbers", "-v", "n=7"])
        .assert()
        .success();
    assert_eq!(db.scalar("SELECT n FROM numbers"), "7");
    db.cmd()
        .args([
            "reset",
            "--schema-file",
            "schema.sql",
            "--seed-file",
            "seed.sql",
        ])
        .args(["--set", "tbl=numbers", "--set=n=8"])
        .assert()
        .success();
    assert_eq!(db.scalar("SELECT n FROM numbers"), "8");
    db.cmd()
        .args(["seed", "seed.sql", "-v", "tbl=numbers", "-v", "n=9"])
        .assert()
        .success();
    assert_eq!(db.scalar("SELECT sum(n) FROM numbers"), "17");
    // Without the variable, reset refuses before dropping anything.
    db.cmd()
        .args([
            "reset",
            "--schema-file",
            "schema.sql",
            "--seed-file",
            "seed.sql",
        ])
        .args(["-v", "tbl=numbers"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "seed.sql:1:28: variable :n is not set",
        ));
    assert_eq!(db.scalar("SELECT sum(n) FROM numbers"), "17");
    db.cmd()
        .args(["setup", "--schema-file", "-", "--seed-file", "-"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot both read stdin"));
}
