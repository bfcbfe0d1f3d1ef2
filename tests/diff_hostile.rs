//! `diff --sql` and `migrate new --from-diff` on schemas whose names hold newlines, quotes,
//! `*/`, `--`, backslashes and `$$`: the SQL written, applied by the real psql, turns FROM
//! into exactly TO, and nothing else runs (a table both sides have survives with its rows).

mod common;

use std::path::{Path, PathBuf};

use common::TestDb;

/// Objects whose names and texts break hand-made quoting: a schema, an enum, a composite
/// type, a domain, a table with such columns, an index, a constraint, a function, comments.
const HOSTILE_TO: &str = r#"
CREATE SCHEMA "s""q$$ */ --
x\";
CREATE TYPE "s""q$$ */ --
x\"."mo'od\
*/" AS ENUM ('a''b', 'c\d', 'new
line', '$$', '*/ --');
CREATE TYPE public."pair */ /* ""x""
-- y" AS ("f'1
" text, "f\2 $$" int);
CREATE DOMAIN public."dom ' */
DROP TABLE keepme; --" AS text CHECK (VALUE <> '*/');
CREATE TABLE "s""q$$ */ --
x\"."tab
DROP TABLE keepme; --" (
    "co""l" int PRIMARY KEY,
    "c2 */ -- \" text DEFAULT 'x''y\z $$',
    "c3
n" "s""q$$ */ --
x\"."mo'od\
*/",
    "c4 /*" public."pair */ /* ""x""
-- y",
    "c5 $$" public."dom ' */
DROP TABLE keepme; --",
    CONSTRAINT "ck ' */
x" CHECK ("co""l" > 0)
);
CREATE INDEX "ix $$ --
*/" ON "s""q$$ */ --
x\"."tab
DROP TABLE keepme; --" ("c2 */ -- \");
CREATE FUNCTION public."f$$n
*/"(a int) RETURNS int LANGUAGE sql IMMUTABLE AS $q$ SELECT a + 1 $q$;
COMMENT ON TABLE "s""q$$ */ --
x\"."tab
DROP TABLE keepme; --" IS 'comment */ --
DROP TABLE keepme; $$ \ '' done';
COMMENT ON COLUMN public.keepme.id IS '*/
DROP TABLE keepme; --';
"#;

/// What only FROM has: dropping each of these is a destructive statement whose comment
/// names them.
const HOSTILE_FROM: &str = r#"
CREATE TABLE public."evil
DROP TABLE keepme; --" (x int);
CREATE TABLE public."also */ evil
DROP TABLE keepme; /*" (x int);
CREATE TYPE public."gone
DROP TABLE keepme; --" AS ENUM ('x');
CREATE SEQUENCE public."seq
DROP TABLE keepme; --";
ALTER TABLE public.keepme ADD COLUMN "lost
DROP TABLE keepme; --" text;
"#;

const KEEP: &str = "CREATE TABLE public.keepme (id int PRIMARY KEY); \
                    INSERT INTO public.keepme VALUES (1), (2), (3);";

fn psql_apply(url: &str, file: &Path) {
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Regression: a FROM-side table named `evil<newline>DROP TABLE keepme; --` made `diff --sql`
/// print a bare `DROP TABLE keepme;` inside its `-- destructive:` comment.
#[test]
fn diff_sql_with_hostile_names_turns_from_into_exactly_to() {
    let from = TestDb::new("hostile_from");
    let to = TestDb::new("hostile_to");
    from.psql(&format!("{KEEP}{HOSTILE_FROM}"));
    to.psql(&format!("{KEEP}{HOSTILE_TO}"));
    let out = from
        .cmd()
        .args(["diff", "--sql", &from.url, &to.url])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let sql = String::from_utf8(out.stdout).unwrap();
    assert!(
        sql.contains("-- destructive: drops table public.evil\\nDROP TABLE keepme; --"),
        "{sql}"
    );
    // Each comment is one line: what follows it is the statement it describes.
    for (i, line) in sql.lines().enumerate() {
        if line.starts_with("-- destructive:") {
            let next = sql.lines().nth(i + 1).unwrap_or("");
            assert!(
                next.starts_with("DROP ") || next.starts_with("ALTER "),
                "{sql}"
            );
        }
    }
    let file = common::write_file(from.home.path(), "change.sql", &sql);
    psql_apply(&from.url, &file);
    assert_eq!(
        common::pg_dump_schema(&from.url),
        common::pg_dump_schema(&to.url),
        "FROM after the --sql differs from TO; the SQL was:\n{sql}"
    );
    assert_eq!(
        from.scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM public.keepme"),
        "1,2,3"
    );
    let out = from
        .cmd()
        .args(["diff", "--exit-code", &from.url, &to.url])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "still differs: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Regression: the same names went into `migrate new --from-diff` files; `migrate up` and
/// `migrate down` of them must do exactly the change, and nothing else.
#[test]
fn migrate_new_from_diff_with_hostile_names_applies_exactly() {
    let local = TestDb::seeded("hostile_mig_local");
    local.psql(&format!("{KEEP}{HOSTILE_TO}"));
    let out = local
        .cmd()
        .args(["migrate", "new", "hostile", "--from-diff"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let dir = local.home.path().join("db/migrations");
    let files = files_in(&dir);
    assert!(!files.is_empty());
    let text: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert!(text.contains("-- destructive: drops table"), "{text}");
    let tracking = "DROP TABLE IF EXISTS public.cruddur_db_migrations";
    local.psql(tracking);

    let fresh = TestDb::seeded("hostile_mig_fresh");
    let before = {
        let setup = TestDb::seeded("hostile_mig_setup");
        setup.psql(tracking);
        common::pg_dump_schema(&setup.url)
    };
    let users_before = fresh.scalar("SELECT count(*) FROM public.users");
    let up = fresh
        .cmd()
        .env("CRUDDUR_MIGRATIONS_DIR", &dir)
        .args(["migrate", "up"])
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let after_up = {
        let copy = TestDb::new("hostile_mig_copy");
        let dump = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "pg_dump -d '{}' | psql -X -q -v ON_ERROR_STOP=1 -d '{}'",
                fresh.url, copy.url
            ))
            .output()
            .unwrap();
        assert!(
            dump.status.success(),
            "{}",
            String::from_utf8_lossy(&dump.stderr)
        );
        copy.psql(tracking);
        common::pg_dump_schema(&copy.url)
    };
    assert_eq!(after_up, common::pg_dump_schema(&local.url), "{text}");
    let steps = files.len().to_string();
    let down = fresh
        .cmd()
        .env("CRUDDUR_MIGRATIONS_DIR", &dir)
        .args(["migrate", "down", "--steps", &steps])
        .output()
        .unwrap();
    assert!(
        down.status.success(),
        "{}",
        String::from_utf8_lossy(&down.stderr)
    );
    fresh.psql(tracking);
    assert_eq!(common::pg_dump_schema(&fresh.url), before, "{text}");
    assert_eq!(
        fresh.scalar("SELECT count(*) FROM public.users"),
        users_before
    );
}
