//! User collations against the real server: `dump` writes them before anything that uses
//! them (pg_dump -s of the reloaded copy is the source's, on every supported major, loaded
//! with `cruddur-db schema` and with `psql -1`) and `diff --sql` creates, changes and drops
//! them.

mod common;

use common::catalog::{assert_diff_applies, round_trip_on_every_major};
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

#[test]
fn collations_round_trip_on_every_supported_major() {
    let setup = |major: u32, source: &TestDb| {
        source.psql(BASE);
        source.psql(COLLATIONS);
        for (since, s) in [(16, RULES), (17, BUILTIN)] {
            if major >= since {
                source.psql(s);
            }
        }
    };
    let check = |major: u32, text: &str| {
        let made = text.find("CREATE COLLATION").expect("no collation");
        assert!(
            made < text.find("CREATE DOMAIN").unwrap() && made < text.find("CREATE TABLE").unwrap(),
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
    };
    // The collation works in the copy: equal under ICU level 2.
    let after = |copy: &TestDb| {
        assert_eq!(copy.psql("SELECT 'Ab' = 'ab' COLLATE app.ci").trim(), "t");
    };
    round_trip_on_every_major("coll", &setup, &check, &after);
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
        assert_diff_applies(from, to);
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
