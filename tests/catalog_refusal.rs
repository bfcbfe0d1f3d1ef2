//! `dump` refuses a database with objects the catalog reader cannot write, and `diff` says it
//! did not compare them, against the real server: never a silently incomplete schema.

mod common;

use common::TestDb;

/// One object of each kind the issue found dropped in silence (statistics settings, replica
/// identity and collations are read now, and must not be named), with the names the refusal
/// gives.
const UNREAD: &str = "
CREATE TABLE public.notes (id int PRIMARY KEY, body text, n int);
CREATE AGGREGATE public.group_concat(text) (SFUNC = textcat, STYPE = text, INITCOND = '');
CREATE VIEW public.all_notes AS SELECT public.group_concat(body) AS bodies FROM public.notes;
CREATE FUNCTION public.int_eq(int, int) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS 'SELECT $1 = $2';
CREATE OPERATOR public.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = public.int_eq);
CREATE COLLATION public.bytewise FROM \"C\";
CREATE TEXT SEARCH CONFIGURATION public.notes_english (COPY = pg_catalog.english);
CREATE STATISTICS public.notes_stats (dependencies) ON body, n FROM public.notes;
ALTER TABLE public.notes ALTER COLUMN body SET STATISTICS 1000;
ALTER TABLE public.notes REPLICA IDENTITY FULL;
SET client_min_messages = error;
CREATE PUBLICATION notes_pub FOR TABLE public.notes;
";

const NAMED: &[&str] = &[
    "aggregate public.group_concat(pg_catalog.text)",
    "operator public.===(integer,integer)",
    "text search configuration public.notes_english",
    "publication notes_pub",
];

fn unread_db(prefix: &str) -> TestDb {
    let db = TestDb::new(prefix);
    db.psql(UNREAD);
    db
}

#[test]
fn dump_refuses_objects_it_cannot_write_and_names_each() {
    let db = unread_db("refuse_dump");
    let out_file = db.home.path().join("dump.sql");
    let out = db
        .std_cmd()
        .args(["dump", "--out"])
        .arg(&out_file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for name in NAMED {
        assert!(err.contains(name), "refusal does not name {name}: {err}");
    }
    for read in ["statistics", "replica identity", "collation"] {
        assert!(
            !err.contains(read),
            "names {read}, which dump writes: {err}"
        );
    }
    assert!(err.contains("--allow-incomplete"), "{err}");
    assert!(
        !out_file.exists(),
        "a refused dump wrote {}",
        out_file.display()
    );
    let out = db.std_cmd().arg("dump").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "a refused dump wrote to stdout");
}

#[test]
fn dump_allow_incomplete_writes_the_rest_and_lists_what_is_missing() {
    let db = unread_db("refuse_allow");
    let out = db
        .std_cmd()
        .args(["dump", "--allow-incomplete"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(text.starts_with("-- not dumped:"), "{text}");
    let header: String = text.lines().take_while(|l| l.starts_with("--")).collect();
    for name in NAMED {
        assert!(err.contains(name), "stderr does not list {name}: {err}");
        assert!(
            header.contains(name),
            "the comment block does not list {name}"
        );
    }
    assert!(text.contains(r#"CREATE TABLE "public"."notes""#), "{text}");
}

#[test]
fn dump_of_a_database_the_reader_covers_is_not_refused() {
    // Regression: an extension's own objects (its operators, types, casts) come with
    // CREATE EXTENSION and are not "missing".
    let db = TestDb::new("refuse_ext");
    db.psql("CREATE EXTENSION IF NOT EXISTS pg_trgm; CREATE TABLE t (a int);");
    let out = db.std_cmd().arg("dump").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("not dumped"));
}

#[test]
fn diff_says_not_compared_instead_of_same_schema() {
    let a = unread_db("refuse_diff_a");
    // The same schema on both sides: what was compared is equal, the rest cannot be told.
    let b = unread_db("refuse_diff_b");

    let out = a.std_cmd().args(["diff", &a.url, &b.url]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        text.contains("not compared: aggregate public.group_concat(pg_catalog.text)"),
        "{text}"
    );
    assert!(!err.contains("have the same schema"), "{err}");
    assert!(err.contains("cannot tell"), "{err}");

    let out = a
        .std_cmd()
        .args(["diff", "--exit-code", &a.url, &b.url])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = a
        .std_cmd()
        .args(["diff", "--json", &a.url, &b.url])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["equal"].is_null(), "{v}");
    let listed: Vec<&str> = v["not_compared"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    for name in NAMED {
        assert!(
            listed.contains(name),
            "not_compared lacks {name}: {listed:?}"
        );
    }
}

/// Regression: `migrate new --from-diff` on a local database with objects the reader cannot
/// compare wrote a migration without them; it is refused, naming them, and writes no file.
#[test]
fn from_diff_refuses_a_database_with_objects_it_cannot_compare() {
    let db = TestDb::seeded("refuse_from_diff");
    db.psql(
        "CREATE AGGREGATE public.group_concat(text) (SFUNC = textcat, STYPE = text, INITCOND = '');
         ALTER TABLE public.users ADD COLUMN bio text;",
    );
    let out = db
        .std_cmd()
        .args(["migrate", "new", "add_bio", "--from-diff"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot compare"), "{err}");
    assert!(
        err.contains("aggregate public.group_concat(pg_catalog.text)"),
        "{err}"
    );
    assert!(err.contains("no migration was written"), "{err}");
    let written = std::fs::read_dir(db.home.path().join("db/migrations"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(written, 0, "a migration file was written");
}
