//! The statement classifier against PostgreSQL's own parser: thousands of generated
//! statements (CTEs, sub-selects, comments and quotes in every position, ONLY, USING, FROM,
//! quoted and schema-qualified names, transaction control, DROP/TRUNCATE/ALTER forms) are
//! classified by `cruddur_db::sql::classify` and by pglast (libpg_query) through
//! tests/classify/pglast_classify.py; any disagreement fails with the statement.
//! CRUDDUR_TEST_PGLAST_PYTHON names the Python that has pglast (scripts/test sets it).

use std::io::Write;
use std::process::{Command, Stdio};

use cruddur_db::sql::classify::{classify, Action, Kind, Statement, Verb};

#[path = "classify/generator.rs"]
mod generator;

use generator::Gen;

const SCRIPT: &str = include_str!("classify/pglast_classify.py");
const STATEMENTS: usize = 2_500;

fn ours(s: &Statement) -> String {
    let verb = |v: Verb| match v {
        Verb::Insert => "insert",
        Verb::Update => "update",
        Verb::Delete => "delete",
        Verb::Merge => "merge",
    };
    let mut mods: Vec<String> = s
        .modifies
        .iter()
        .map(|m| {
            let limited = match m.verb {
                Verb::Update | Verb::Delete if m.limited => "where",
                Verb::Update | Verb::Delete => "all",
                _ => "-",
            };
            format!("{}:{}:{limited}", verb(m.verb), m.target)
        })
        .collect();
    mods.sort();
    let mut writes: Vec<String> = s.writes.iter().map(ToString::to_string).collect();
    writes.sort();
    let mut actions: Vec<&str> = s
        .actions
        .iter()
        .map(|a| match a {
            Action::DropColumn => "drop_column",
            Action::AlterType => "alter_type",
            Action::SetNotNull => "set_not_null",
            Action::Rename => "rename",
            Action::Other => "other",
        })
        .collect();
    actions.sort();
    let tx = match s.kind {
        Kind::Tx(f) => f.name(),
        _ => "-",
    };
    format!(
        "kind={}|tx={tx}|mods={}|writes={}|actions={}",
        s.kind.name(),
        mods.join(","),
        writes.join(","),
        actions.join(",")
    )
}

/// The corpus: the issue's own cases first, then the generated statements.
fn corpus() -> Vec<String> {
    let mut out: Vec<String> = [
        "WITH x AS (SELECT 1 WHERE true) DELETE FROM users;",
        "UPDATE activities SET message = (SELECT 'x' WHERE true);",
        "WITH gone AS (DELETE FROM activities RETURNING 1) SELECT count(*) FROM gone;",
        "commit/*x*/and chain",
        "COMMIT\nAND\nCHAIN",
        "end and chain",
        "DELETE FROM t WHERE CURRENT OF c",
        "UPDATE ONLY t SET (a, b) = (SELECT 1, 2 WHERE true)",
        "UPDATE t SET a = 1 FROM (SELECT * FROM u WHERE x) s",
        "UPDATE t SET a = 1 FROM (SELECT * FROM u WHERE x) s WHERE s.a = t.a",
        "DELETE FROM t AS \"where\" USING (SELECT 1 WHERE true) u",
        "UPDATE t SET \"where\" = 1",
        "WITH a AS (WITH b AS (DELETE FROM t RETURNING 1) SELECT * FROM b) SELECT 1",
        "WITH a AS (SELECT 1) UPDATE t SET x = (WITH b AS (SELECT 1 WHERE true) SELECT 1)",
        "DELETE FROM t WHERE a = ANY (ARRAY(SELECT 1 WHERE true))",
        "UPDATE t SET a = x.y FROM u x JOIN v ON (x.a = v.a) LEFT JOIN LATERAL (SELECT 1 WHERE true) l ON true",
        "INSERT INTO t SELECT 1 ON CONFLICT (a) DO UPDATE SET b = 1 WHERE t.c",
        "ALTER TABLE ONLY t ALTER COLUMN a SET DATA TYPE bigint, ALTER b SET NOT NULL, DROP c",
        "DROP TABLE IF EXISTS a, s.b, \"C\".\"d\" CASCADE",
        "TRUNCATE ONLY a, b *, ONLY c RESTART IDENTITY CASCADE",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let mut g = Gen(0x2700_2700_c0ff_ee11);
    while out.len() < STATEMENTS {
        out.push(g.statement());
    }
    out
}

#[test]
fn the_classifier_agrees_with_postgresqls_parser() {
    let python = std::env::var("CRUDDUR_TEST_PGLAST_PYTHON").expect(
        "CRUDDUR_TEST_PGLAST_PYTHON must name a Python with pglast installed (scripts/test \
         installs it into the test virtualenv and sets it)",
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pglast_classify.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let statements = corpus();
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let mut input = Vec::new();
    for s in &statements {
        input.extend_from_slice(s.as_bytes());
        input.push(0);
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "the pglast script failed");
    let theirs: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(theirs.len(), statements.len(), "one line per statement");
    // The generator must write valid SQL: a statement PostgreSQL rejects checks nothing.
    let rejected: Vec<String> = statements
        .iter()
        .zip(&theirs)
        .filter(|(_, t)| t.starts_with("ERROR"))
        .map(|(sql, t)| format!("{sql}\n  {t}"))
        .collect();
    assert!(
        rejected.is_empty(),
        "the generator wrote {} statements PostgreSQL's parser rejects:\n{}",
        rejected.len(),
        rejected[..rejected.len().min(10)].join("\n")
    );
    let mut wrong = Vec::new();
    for (sql, theirs) in statements.iter().zip(&theirs) {
        let ours = ours(&classify(sql));
        if ours != *theirs {
            wrong.push(format!(
                "statement: {sql}\n  pglast:     {theirs}\n  classifier: {ours}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} statements classified differently from PostgreSQL's parser:\n{}",
        wrong.len(),
        statements.len(),
        wrong
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
