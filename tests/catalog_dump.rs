//! `cruddur-db dump` against the real server: a pg_dump-sized schema survives a round trip
//! through the built-in catalog reader, and the dump is deterministic.

mod common;

use std::path::{Path, PathBuf};

use common::TestDb;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/catalog")
        .join(name)
}

fn dump(db: &TestDb) -> String {
    let out = db.cmd().arg("dump").output().unwrap();
    assert!(
        out.status.success(),
        "dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_rich_schema_survives_dump_and_load() {
    let source = TestDb::new("dump_src");
    common::psql_file(&source.url, &fixture("rich.sql"));
    let file = source.home.path().join("dump.sql");
    source
        .cmd()
        .args(["dump", "--out"])
        .arg(&file)
        .assert()
        .success();

    // Loaded with cruddur-db's own runner ...
    let copy = TestDb::new("dump_copy");
    copy.cmd().arg("schema").arg(&file).assert().success();
    // ... and with psql -1 -f.
    let copy_psql = TestDb::new("dump_copy_psql");
    common::psql_file(&copy_psql.url, &file);

    let expected = common::pg_dump_schema(&source.url);
    assert!(
        expected.contains("CREATE TABLE public.measurements_2025"),
        "{expected}"
    );
    for db in [&copy, &copy_psql] {
        let got = common::pg_dump_schema(&db.url);
        if got != expected {
            let first = expected
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "pg_dump of {} differs from the source's at line {first}:\nsource: {:?}\ncopy:   {:?}",
                db.name,
                expected.lines().nth(first),
                got.lines().nth(first)
            );
        }
    }
}

#[test]
fn dumps_are_deterministic() {
    let db = TestDb::new("dump_det");
    common::psql_file(&db.url, &fixture("rich.sql"));
    let a = dump(&db);
    let b = dump(&db);
    assert_eq!(a, b, "two dumps of one database differ");
    // The copy's dump is the same bytes too: nothing depends on oids or creation order.
    let copy = TestDb::new("dump_det_copy");
    copy.cmd()
        .arg("schema")
        .arg("-")
        .write_stdin(a.clone())
        .assert()
        .success();
    assert_eq!(dump(&copy), a);
}

#[test]
fn dump_skips_extension_members_and_system_schemas() {
    let db = TestDb::new("dump_ext");
    db.psql("CREATE EXTENSION IF NOT EXISTS pgcrypto; CREATE TABLE t (id int)");
    let text = dump(&db);
    assert!(
        text.contains("CREATE EXTENSION IF NOT EXISTS \"pgcrypto\""),
        "{text}"
    );
    assert!(!text.contains("FUNCTION public.digest"), "{text}");
    assert!(
        !text.contains("pg_toast") && !text.contains("information_schema"),
        "{text}"
    );
}

/// Reading is one READ ONLY transaction: a protected target needs no confirmation, and a
/// server that only allows reads is fine.
#[test]
fn dump_is_read_only_and_needs_no_confirmation() {
    let db = TestDb::new("dump_ro");
    db.psql("CREATE TABLE t (id int PRIMARY KEY)");
    db.psql(&format!(
        "ALTER DATABASE \"{}\" SET default_transaction_read_only = on",
        db.name
    ));
    let out = db.cmd().args(["--protected", "dump"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("CREATE TABLE \"public\".\"t\""));
}
