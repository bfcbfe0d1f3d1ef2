//! `cruddur-db dump` against every PostgreSQL major the catalog reader supports besides the
//! system's 15: the rich fixture survives dump, `schema` and dump again byte for byte on each.
//!
//! The servers are named by CRUDDUR_TEST_PG_VERSIONS, `MAJOR=ADMIN_URL` pairs separated by
//! spaces, which scripts/test sets from scripts/start-pg-versions. NOTE: unset or empty is a
//! failure, not a skip: a suite that silently tested only 15 would hide what this is for.

mod common;

use std::path::{Path, PathBuf};

use common::TestDb;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/catalog")
        .join(name)
}

/// rich.sql as this major can load it.
fn rich_sql(major: u32) -> String {
    let text = std::fs::read_to_string(fixture("rich.sql")).unwrap();
    if major >= 14 {
        return text;
    }
    // NOTE: a SQL-standard function body (BEGIN ATOMIC, pg_proc.prosqlbody) is PostgreSQL 14+;
    // before it the same function has a string body, which the reader takes another way.
    let atomic = "BEGIN ATOMIC SELECT u.display_name || ' (' || u.handle || ')'; END;";
    assert!(text.contains(atomic), "rich.sql changed: update rich_sql()");
    text.replace(
        atomic,
        "AS $$ SELECT u.display_name || ' (' || u.handle || ')' $$;",
    )
}

fn dump(db: &TestDb) -> String {
    let out = db.std_cmd().arg("dump").output().unwrap();
    assert!(
        out.status.success(),
        "cruddur-db dump of {} failed: {}",
        db.url,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Names the dump of rich.sql must show: one of each kind of object.
const EXPECTED: &[&str] = &[
    "pgcrypto",
    "app",
    "mood",
    "handle",
    "positive",
    "address",
    "ticket_seq",
    "touch_updated_at",
    "slugify",
    "noop",
    "users",
    "activities",
    "activities_user_fk",
    "activities_open_idx",
    "notes",
    "cache",
    "measurements_2025_a",
    "measurements_old",
    "user_label",
    "users_touch",
    "activities_touch",
    "active_users",
    "active_user_activity",
    "a_latest",
    "activity_counts",
    "activity_counts_user_idx",
    "activities_no_delete",
    "activities_own",
    "activities_insert",
];

/// One server: load, dump, load the dump into a copy, dump the copy, compare.
fn round_trip(major: u32, admin: &str) {
    let version: u32 = common::psql(admin, "SHOW server_version_num")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        version / 10000,
        major,
        "CRUDDUR_TEST_PG_VERSIONS names {admin} as {major}, but it runs {version}"
    );

    let source = TestDb::new_on(admin, &format!("ver{major}_src"));
    let sql = common::write_file(source.home.path(), "rich.sql", &rich_sql(major));
    common::psql_file(&source.url, &sql);
    let text = dump(&source);
    for name in EXPECTED {
        assert!(
            text.contains(name),
            "PostgreSQL {major}: the dump has no {name}:\n{text}"
        );
    }

    let file = common::write_file(source.home.path(), "dump.sql", &text);
    let copy = TestDb::new_on(admin, &format!("ver{major}_copy"));
    let out = copy.std_cmd().arg("schema").arg(&file).output().unwrap();
    assert!(
        out.status.success(),
        "PostgreSQL {major}: cruddur-db schema of the dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = dump(&copy);
    assert!(
        again == text,
        "PostgreSQL {major}: the copy's dump differs from the source's; {}",
        common::first_difference(&text, &again, ("source", "copy"))
    );

    // NOTE: the npm package ships no pg_dump, so the system's is the independent judge, on
    // the servers it can dump (its own major and older).
    if common::catalog::pg_dump_major().is_some_and(|m| m >= major) {
        let expected = common::pg_dump_schema(&source.url);
        let got = common::pg_dump_schema(&copy.url);
        assert!(
            got == expected,
            "PostgreSQL {major}: pg_dump of the copy differs from the source's; {}",
            common::first_difference(&expected, &got, ("source", "copy"))
        );
    } else {
        eprintln!("PostgreSQL {major}: no pg_dump of {major} or newer here; compared dumps only");
    }
}

#[test]
fn rich_schema_round_trips_on_every_supported_major() {
    let servers = common::pg_version_servers();
    // NOTE: all servers are tried and every failure reported, not only the first.
    let failures: Vec<String> = servers
        .iter()
        .filter_map(|(major, admin)| {
            std::panic::catch_unwind(|| round_trip(*major, admin))
                .err()
                .map(|e| {
                    e.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| format!("PostgreSQL {major}: panicked"))
                })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} servers failed:\n\n{}",
        failures.len(),
        servers.len(),
        failures.join("\n\n")
    );
}
