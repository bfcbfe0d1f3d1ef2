//! Statistics targets, extended statistics and replica identity against the real server:
//! `dump` writes them (pg_dump -s of the reloaded copy is the source's) and `diff --sql`
//! creates, changes and resets them.

mod common;

use common::TestDb;

const BASE: &str = "
CREATE TABLE public.notes (id int PRIMARY KEY, body text, n int NOT NULL);
CREATE UNIQUE INDEX notes_n ON public.notes (n);
CREATE INDEX notes_expr ON public.notes ((n + 1), lower(body));
CREATE TABLE public.tags (id int PRIMARY KEY, label text);
";

const SETTINGS: &str = "
ALTER TABLE public.notes ALTER COLUMN body SET STATISTICS 1000;
ALTER INDEX public.notes_expr ALTER COLUMN 2 SET STATISTICS 3000;
CREATE STATISTICS public.notes_stats (dependencies, ndistinct) ON body, n FROM public.notes;
ALTER STATISTICS public.notes_stats SET STATISTICS 50;
ALTER TABLE public.notes REPLICA IDENTITY USING INDEX notes_n;
ALTER TABLE public.tags REPLICA IDENTITY FULL;
";

fn db_with(prefix: &str, sql: &[&str]) -> TestDb {
    let db = TestDb::new(prefix);
    for s in sql {
        db.psql(s);
    }
    db
}

fn assert_same_schema(a: &TestDb, b: &TestDb) {
    let (x, y) = (
        common::pg_dump_schema(&a.url),
        common::pg_dump_schema(&b.url),
    );
    assert!(
        x == y,
        "pg_dump -s differs: {}",
        common::first_difference(&x, &y, (&a.name, &b.name))
    );
}

#[test]
fn settings_survive_dump_and_load() {
    let source = db_with("settings_src", &[BASE, SETTINGS]);
    let out = source.std_cmd().arg("dump").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = common::write_file(
        source.home.path(),
        "dump.sql",
        &String::from_utf8(out.stdout).unwrap(),
    );
    let copy = TestDb::new("settings_copy");
    common::psql_file(&copy.url, &file);
    let dumped = common::pg_dump_schema(&source.url);
    for line in [
        "SET STATISTICS 1000",
        "ALTER COLUMN 2 SET STATISTICS 3000",
        "CREATE STATISTICS public.notes_stats",
        "REPLICA IDENTITY USING INDEX notes_n",
        "REPLICA IDENTITY FULL",
    ] {
        assert!(dumped.contains(line), "the fixture lacks {line}: {dumped}");
    }
    assert_same_schema(&source, &copy);
}

#[test]
fn diff_sql_adds_changes_and_resets_settings() {
    let plain = db_with("settings_plain", &[BASE]);
    let set = db_with("settings_set", &[BASE, SETTINGS]);
    let changed = db_with(
        "settings_changed",
        &[
            BASE,
            SETTINGS,
            "ALTER TABLE public.notes ALTER COLUMN body SET STATISTICS 10; \
             ALTER TABLE public.notes REPLICA IDENTITY NOTHING; \
             DROP STATISTICS public.notes_stats; \
             CREATE STATISTICS public.notes_stats (mcv) ON body, n FROM public.notes;",
        ],
    );
    for (from, to) in [(&plain, &set), (&set, &changed), (&changed, &plain)] {
        let out = from
            .std_cmd()
            .args(["diff", "--sql", &from.url, &to.url])
            .output()
            .unwrap();
        let sql = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let target = db_with("settings_apply", &[]);
        common::psql_file(
            &target.url,
            &common::write_file(target.home.path(), "from.sql", &{
                let o = from.std_cmd().arg("dump").output().unwrap();
                String::from_utf8(o.stdout).unwrap()
            }),
        );
        common::psql_file(
            &target.url,
            &common::write_file(target.home.path(), "up.sql", &sql),
        );
        assert_same_schema(to, &target);
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
}
