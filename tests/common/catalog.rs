//! What the catalog tests share: `cruddur-db dump` of a test database, pg_dump -s as the
//! judge, the round trip on every supported major, and a diff applied to a copy.

use super::TestDb;

/// `cruddur-db dump` of `db`, which must succeed.
pub fn dump_of(db: &TestDb) -> String {
    let out = db.std_cmd().arg("dump").output().unwrap();
    assert!(
        out.status.success(),
        "dump of {}: {}",
        db.url,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The major of the system's pg_dump, which dumps servers of that major and older only.
pub fn pg_dump_major() -> Option<u32> {
    let out = std::process::Command::new("pg_dump")
        .arg("--version")
        .output()
        .ok()?;
    // "pg_dump (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace()
        .nth(2)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// pg_dump -s of `a` and `b` are equal (normalised as [`super::pg_dump_schema`] does).
pub fn assert_same_schema(a: &TestDb, b: &TestDb, what: &str) {
    let (x, y) = (super::pg_dump_schema(&a.url), super::pg_dump_schema(&b.url));
    assert!(
        x == y,
        "{what}: pg_dump -s differs; {}",
        super::first_difference(&x, &y, (&a.name, &b.name))
    );
}

/// On every supported major (the servers of CRUDDUR_TEST_PG_VERSIONS and the local 15):
/// `setup` fills a database, `check` looks at its dump, the dump is loaded with
/// `cruddur-db schema` and with `psql -1`, and each copy dumps the same again (and gives the
/// same pg_dump -s where the system's pg_dump can read the server); `after` then checks each
/// copy. Every server is tried and every failure reported together.
pub fn round_trip_on_every_major(
    prefix: &str,
    setup: &dyn Fn(u32, &TestDb),
    check: &dyn Fn(u32, &str),
    after: &dyn Fn(&TestDb),
) {
    let mut servers = super::pg_version_servers();
    servers.push((15, super::admin_url()));
    let mut failures = Vec::new();
    for (major, admin) in servers {
        let one = std::panic::AssertUnwindSafe(|| {
            let source = TestDb::new_on(&admin, &format!("{prefix}{major}_src"));
            setup(major, &source);
            let text = dump_of(&source);
            check(major, &text);
            let file = super::write_file(source.home.path(), "dump.sql", &text);
            let by_us = TestDb::new_on(&admin, &format!("{prefix}{major}_schema"));
            let out = by_us.std_cmd().arg("schema").arg(&file).output().unwrap();
            assert!(
                out.status.success(),
                "PostgreSQL {major}: schema: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let by_psql = TestDb::new_on(&admin, &format!("{prefix}{major}_psql"));
            super::psql_file(&by_psql.url, &file);
            for copy in [&by_us, &by_psql] {
                let again = dump_of(copy);
                assert!(
                    again == text,
                    "PostgreSQL {major}: the copy's dump differs; {}",
                    super::first_difference(&text, &again, ("source", "copy"))
                );
                if pg_dump_major().is_some_and(|m| m >= major) {
                    assert_same_schema(&source, copy, &format!("PostgreSQL {major}"));
                }
                after(copy);
            }
        });
        if let Err(e) = std::panic::catch_unwind(one) {
            failures.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| format!("PostgreSQL {major}: panicked")),
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// `diff --sql FROM TO`, applied to a database loaded from FROM's dump, gives TO's schema
/// (by pg_dump -s, and by `diff --exit-code`).
pub fn assert_diff_applies(from: &TestDb, to: &TestDb) {
    let out = from
        .std_cmd()
        .args(["diff", "--sql", &from.url, &to.url])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sql = String::from_utf8(out.stdout).unwrap();
    let target = TestDb::new("diff_apply");
    super::psql_file(
        &target.url,
        &super::write_file(target.home.path(), "from.sql", &dump_of(from)),
    );
    super::psql_file(
        &target.url,
        &super::write_file(target.home.path(), "up.sql", &sql),
    );
    assert_same_schema(to, &target, &format!("{} -> {}", from.name, to.name));
    let out = from
        .std_cmd()
        .args(["diff", "--exit-code", &target.url, &to.url])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
