//! The quoting module against the real server: hostile names and strings go through
//! `sql::quote` and come back as they were, whatever `standard_conforming_strings` says.

mod common;

use common::TestDb;
use cruddur_db::sql::quote;

/// Names and strings that break hand-made quoting.
const HOSTILE: &[&str] = &[
    "plain",
    "we\"ird",
    "o'brien",
    "back\\slash",
    "o'k\\b",
    "\\'",
    "line\nbreak",
    "cr\rhere",
    "evil\nDROP TABLE keepme; --",
    "*/ end /* open",
    "$$ dollar $$",
    "$tag$",
    "--",
    "Mixed Case",
    "trailing\\",
    "\"\"",
    "semi;colon",
    "ünïcødé ✓",
];

async fn client(db: &TestDb) -> tokio_postgres::Client {
    db.client().await
}

/// Regression: a name that is not doubled or not quoted breaks out of its identifier.
#[tokio::test]
async fn hostile_identifiers_name_exactly_themselves() {
    let db = TestDb::new("quote_ident");
    let c = client(&db).await;
    for name in HOSTILE {
        let row = c
            .query_one(&format!("SELECT 1 AS {}", quote::ident(name)), &[])
            .await
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert_eq!(row.columns()[0].name(), *name);
        // The server's own quote_ident reads back as the same name as ours.
        let theirs: String = c
            .query_one("SELECT quote_ident($1)", &[name])
            .await
            .unwrap()
            .get(0);
        let back: String = c
            .query_one(
                &format!(
                    "SELECT parse_ident({})::text[] = parse_ident($1)::text[]",
                    { quote::literal(&quote::ident(name)) }
                ),
                &[&theirs],
            )
            .await
            .map(|r| r.get::<_, bool>(0).to_string())
            .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        assert_eq!(back, "true", "{name:?}");
    }
    // Objects made and found by qualified names.
    for (i, name) in HOSTILE.iter().enumerate() {
        let schema = format!("s{i} {name}");
        c.batch_execute(&format!(
            "CREATE SCHEMA {}; CREATE TABLE {} (x int)",
            quote::ident(&schema),
            quote::qualified(&schema, name)
        ))
        .await
        .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        let n: i64 = c
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename = $2",
                &[&schema, name],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "{name:?}");
    }
}

/// Regression: copy's literal quoter assumed standard_conforming_strings = on, so `o'k\b`
/// arrived as `o'k<backspace>` on a server with it off.
#[tokio::test]
async fn literals_mean_themselves_with_standard_conforming_strings_on_and_off() {
    let db = TestDb::new("quote_literal");
    let c = client(&db).await;
    for setting in ["on", "off"] {
        c.batch_execute(&format!(
            "SET standard_conforming_strings = {setting}; SET escape_string_warning = off"
        ))
        .await
        .unwrap();
        for s in HOSTILE {
            let got: String = c
                .query_one(&format!("SELECT {}::text", quote::literal(s)), &[])
                .await
                .unwrap_or_else(|e| panic!("{setting} {s:?}: {e}"))
                .get(0);
            assert_eq!(&got, s, "standard_conforming_strings = {setting}");
        }
    }
}

/// Regression: a name holding a newline ended the `-- destructive:` comment and ran as SQL.
#[tokio::test]
async fn comment_text_never_ends_its_comment_on_the_server() {
    let db = TestDb::new("quote_comment");
    let c = client(&db).await;
    for s in HOSTILE
        .iter()
        .chain(&["x\n SELECT 2 AS leaked; --", "a */ , 3 /* b"])
    {
        let sql = format!(
            "SELECT 1 AS one -- {}\n/* {} */ ;",
            quote::comment(s),
            quote::comment(s)
        );
        let msgs = c
            .simple_query(&sql)
            .await
            .unwrap_or_else(|e| panic!("{s:?}: {e}\n{sql}"));
        let rows: Vec<_> = msgs
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(rows.len(), 1, "{sql}");
        assert_eq!(rows[0].columns().len(), 1, "{sql}");
        assert_eq!(rows[0].get(0), Some("1"), "{sql}");
    }
}

/// psql reads a quoted meta-command argument back as the text given.
#[test]
fn psql_arguments_read_back_as_given() {
    let dir = tempfile::tempdir().unwrap();
    for s in [
        "/h/plain",
        "/h/o'k",
        "/h/back\\slash",
        "/h/a b\\'c",
        "/h/new\nline",
    ] {
        let file = common::write_file(
            dir.path(),
            "echo.sql",
            &format!("\\echo {}\n", quote::psql_arg(s)),
        );
        let out = std::process::Command::new("psql")
            .args(["-X", "-q", "-d", &common::admin_url(), "-f"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{s}\n"));
    }
}
