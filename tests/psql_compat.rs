//! Differential tests: each file of the corpus in tests/fixtures/psql (the shapes people bring:
//! pg_dump output of two eras with `\restrict`, include trees, variables, COPY and `\copy`,
//! functions and rules, CREATE DATABASE + `\c`) is loaded by `psql -X -v ON_ERROR_STOP=1 -f`
//! and by cruddur-db into separate fresh databases; the two must agree on
//! `pg_dump --schema-only` (normalised) and on every table's rows.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::TestDb;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/psql")
}

/// Loads `file` with psql into one database and with cruddur-db (`args` before the file) into
/// another, both from the fixtures directory, and compares them. `vars` go to both as `-v`.
fn same_as_psql(file: &str, args: &[&str], vars: &[(&str, &str)]) {
    let theirs = TestDb::new("compat_psql");
    let ours = TestDb::new("compat_ours");
    let mut psql = Command::new("psql");
    psql.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        &theirs.url,
        "-f",
        file,
    ])
    .current_dir(fixtures());
    for (k, v) in vars {
        psql.arg("-v").arg(format!("{k}={v}"));
    }
    let out = psql.output().expect("psql runs");
    assert!(
        out.status.success(),
        "psql failed on {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = ours.cmd();
    cmd.current_dir(fixtures()).arg("schema").args(args);
    for (k, v) in vars {
        cmd.arg("-v").arg(format!("{k}={v}"));
    }
    cmd.arg(file).assert().success();
    let (a, b) = (
        common::pg_dump_schema(&theirs.url),
        common::pg_dump_schema(&ours.url),
    );
    assert!(a.lines().count() > 3, "psql loaded nothing from {file}");
    assert_eq!(b, a, "schema of {file}");
    assert_eq!(
        common::rows_of(&ours.url),
        common::rows_of(&theirs.url),
        "rows of {file}"
    );
}

#[test]
fn pg_dump_15_output_with_restrict_and_copy() {
    same_as_psql("pgdump_v15.sql", &[], &[]);
}

#[test]
fn pg_dump_11_output_with_enum_view_rule() {
    same_as_psql("pgdump_v11.sql", &[], &[]);
}

#[test]
fn include_tree_with_i_and_ir() {
    same_as_psql("includes/main.sql", &[], &[]);
}

#[test]
fn variables_from_set_and_the_command_line() {
    same_as_psql(
        "variables.sql",
        &[],
        &[
            ("schema_name", "My \"Odd\" Schema"),
            ("owner_note", "o'ne\\x"),
        ],
    );
}

#[test]
fn copy_meta_command_from_files_and_inline() {
    same_as_psql("copy_meta.sql", &[], &[]);
}

#[test]
fn functions_do_blocks_rules_and_quoting() {
    same_as_psql("functions.sql", &[], &[]);
}

#[test]
fn the_same_dump_from_stdin_streams_alike() {
    let theirs = TestDb::new("compat_stdin_psql");
    let ours = TestDb::new("compat_stdin_ours");
    let file = fixtures().join("pgdump_v15.sql");
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &theirs.url, "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    ours.cmd()
        .args(["schema", "-"])
        .write_stdin(std::fs::read(&file).unwrap())
        .assert()
        .success();
    assert_eq!(
        common::pg_dump_schema(&ours.url),
        common::pg_dump_schema(&theirs.url)
    );
    assert_eq!(common::rows_of(&ours.url), common::rows_of(&theirs.url));
}

#[test]
fn create_database_and_connect_to_it() {
    let theirs = TestDb::new("compat_cdb_psql");
    let ours = TestDb::new("compat_cdb_ours");
    let (their_new, our_new) = (
        format!("{}_made", theirs.name),
        format!("{}_made", ours.name),
    );
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v"])
        .arg(format!("newdb={their_new}"))
        .args(["-d", &theirs.url, "-f", "createdb.sql"])
        .current_dir(fixtures())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ours.cmd()
        .current_dir(fixtures())
        .args(["schema", "--no-transaction", "-v"])
        .arg(format!("newdb={our_new}"))
        .arg("createdb.sql")
        .assert()
        .success()
        .stderr(predicates::str::contains(format!(
            "then on database(s) {our_new}"
        )));
    for (a, b) in [
        (theirs.url.clone(), ours.url.clone()),
        (common::url_for(&their_new), common::url_for(&our_new)),
    ] {
        assert_eq!(common::pg_dump_schema(&b), common::pg_dump_schema(&a));
        assert_eq!(common::rows_of(&b), common::rows_of(&a));
    }
    // The album table went to the new database, not to the target.
    assert_eq!(
        ours.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'album'"),
        "0"
    );
    for db in [their_new, our_new] {
        common::psql_admin(&format!("DROP DATABASE \"{db}\" WITH (FORCE)"));
    }
}
