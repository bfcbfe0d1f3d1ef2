//! User collations against the real server: `dump` writes them before anything that uses
//! them (pg_dump -s of the reloaded copy is the source's, on every supported major, loaded
//! with `cruddur-db schema` and with `psql -1`) and `diff --sql` creates, changes and drops
//! them.

mod common;

use common::TestDb;

const BASE: &str = "
CREATE SCHEMA app;
CREATE TABLE app.users (id int PRIMARY KEY);
";

const COLLATIONS: &str = "
CREATE COLLATION app.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE COLLATION public.c_posix (provider = libc, lc_collate = 'C', lc_ctype = 'POSIX');
CREATE COLLATION public.\"plain C\" (locale = 'C');
CREATE DOMAIN app.handle AS text COLLATE app.ci;
ALTER TABLE app.users ADD COLUMN email text COLLATE app.ci, ADD COLUMN name text COLLATE public.c_posix,
    ADD COLUMN handle app.handle;
CREATE INDEX users_name ON app.users (name COLLATE public.\"plain C\");
COMMENT ON COLLATION app.ci IS 'case-insensitive: Ab = ab';
CREATE COLLATION public.spare (locale = 'C');
";

/// ICU tailoring rules: PostgreSQL 16+.
const RULES: &str = "
CREATE COLLATION app.ruled (provider = icu, locale = 'und', rules = '&a < g');
";

/// The builtin provider: PostgreSQL 17+.
const BUILTIN: &str = "
CREATE COLLATION public.builtin_c (provider = builtin, locale = 'C');
";

fn dump_of(db: &TestDb) -> String {
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
fn pg_dump_major() -> Option<u32> {
    let out = std::process::Command::new("pg_dump")
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace()
        .nth(2)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

fn assert_same_schema(a: &TestDb, b: &TestDb, what: &str) {
    let (x, y) = (
        common::pg_dump_schema(&a.url),
        common::pg_dump_schema(&b.url),
    );
    assert!(
        x == y,
        "{what}: pg_dump -s differs; {}",
        common::first_difference(&x, &y, (&a.name, &b.name))
    );
}

#[test]
fn collations_round_trip_on_every_supported_major() {
    let mut servers = common::pg_version_servers();
    servers.push((15, common::admin_url()));
    let mut failures = Vec::new();
    for (major, admin) in servers {
        let result = std::panic::catch_unwind(|| {
            let source = TestDb::new_on(&admin, &format!("coll{major}_src"));
            common::psql(&source.url, BASE);
            common::psql(&source.url, COLLATIONS);
            if major >= 16 {
                common::psql(&source.url, RULES);
            }
            if major >= 17 {
                common::psql(&source.url, BUILTIN);
            }
            let text = dump_of(&source);
            let made = text.find("CREATE COLLATION").expect("no collation");
            assert!(
                made < text.find("CREATE DOMAIN").unwrap()
                    && made < text.find("CREATE TABLE").unwrap(),
                "PostgreSQL {major}: collations must come before what uses them:\n{text}"
            );
            for line in [
                "provider = icu, deterministic = false, locale = 'und-u-ks-level2'",
                "lc_collate = 'C', lc_ctype = 'POSIX'",
                "COMMENT ON COLLATION",
            ] {
                assert!(
                    text.contains(line),
                    "PostgreSQL {major}: no {line}:\n{text}"
                );
            }
            let file = common::write_file(source.home.path(), "dump.sql", &text);
            let by_us = TestDb::new_on(&admin, &format!("coll{major}_schema"));
            let out = by_us.std_cmd().arg("schema").arg(&file).output().unwrap();
            assert!(
                out.status.success(),
                "PostgreSQL {major}: schema: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let by_psql = TestDb::new_on(&admin, &format!("coll{major}_psql"));
            common::psql_file(&by_psql.url, &file);
            for copy in [&by_us, &by_psql] {
                let again = dump_of(copy);
                assert!(
                    again == text,
                    "PostgreSQL {major}: the copy's dump differs; {}",
                    common::first_difference(&text, &again, ("source", "copy"))
                );
                if pg_dump_major().is_some_and(|m| m >= major) {
                    assert_same_schema(&source, copy, &format!("PostgreSQL {major}"));
                }
                // The collation works in the copy: equal under ICU level 2.
                assert_eq!(
                    common::psql(&copy.url, "SELECT 'Ab' = 'ab' COLLATE app.ci").trim(),
                    "t"
                );
            }
        });
        if let Err(e) = result {
            failures.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| format!("PostgreSQL {major}: panicked")),
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn diff_sql_creates_changes_and_drops_collations() {
    let plain = TestDb::new("coll_plain");
    plain.psql(BASE);
    let set = TestDb::new("coll_set");
    set.psql(BASE);
    set.psql(COLLATIONS);
    let changed = TestDb::new("coll_changed");
    changed.psql(BASE);
    changed.psql(COLLATIONS);
    changed.psql(
        "DROP COLLATION public.spare; \
         CREATE COLLATION public.spare (provider = libc, locale = 'POSIX');",
    );
    for (from, to) in [(&plain, &set), (&set, &changed), (&changed, &plain)] {
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
        let target = TestDb::new("coll_apply");
        common::psql_file(
            &target.url,
            &common::write_file(target.home.path(), "from.sql", &dump_of(from)),
        );
        common::psql_file(
            &target.url,
            &common::write_file(target.home.path(), "up.sql", &sql),
        );
        assert_same_schema(to, &target, &format!("{} -> {}", from.name, to.name));
    }
}

/// A collation cannot be altered in place: one that changes is dropped and made again, which
/// fails while an index or a column uses it. The diff says so, as it says for a type.
#[test]
fn a_changed_collation_in_use_is_marked_destructive() {
    let set = TestDb::new("coll_used");
    set.psql(BASE);
    set.psql(COLLATIONS);
    let changed = TestDb::new("coll_used_changed");
    changed.psql(BASE);
    changed.psql(COLLATIONS);
    changed.psql(
        "DROP INDEX app.users_name; DROP COLLATION public.\"plain C\"; \
         CREATE COLLATION public.\"plain C\" (provider = libc, locale = 'POSIX'); \
         CREATE INDEX users_name ON app.users (name COLLATE public.\"plain C\");",
    );
    let out = set
        .std_cmd()
        .args(["diff", "--sql", &set.url, &changed.url])
        .output()
        .unwrap();
    let sql = String::from_utf8(out.stdout).unwrap();
    assert!(
        sql.contains("-- destructive: drops collation public.plain C (fails while a column or an index uses it)"),
        "{sql}"
    );
}
