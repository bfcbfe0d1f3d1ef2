//! The differential suite: every file in tests/fixtures/psql_diff is run by
//! `psql -X -q -v ON_ERROR_STOP=1 -f FILE` and by cruddur-db (`seed FILE`, which runs any file
//! and refuses none for being empty), each into a fresh database, from the fixture's directory.
//! The two must end alike: the same outcome (ok or failed), the same `pg_dump --schema-only`
//! (normalised) and the same rows in every table, of the fresh database and of every database
//! the file creates. A file cruddur-db refuses on purpose must change nothing at all.
//!
//! A fixture configures the run with header comments:
//!
//! ```text
//! -- diff: expect ok | expect failed | expect refused
//! -- diff: mode single        (psql -1; cruddur-db's one transaction; the default)
//! -- diff: mode autocommit    (psql without -1; cruddur-db --no-transaction)
//! -- diff: var NAME=VALUE     (repeatable: -v NAME=VALUE to both)
//! -- diff: creates DBNAME     (repeatable: a database the file creates, named pdiff_...)
//! -- diff: stdin              (the file on stdin: psql -f -, cruddur-db -)
//! ```
//!
//! Every difference is listed (fixture, what differs, both sides) before the test fails.
//! `PSQL_DIFF_FILTER=text` runs only the fixtures whose name holds `text` (and then does not
//! ask for the full corpus).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::TestDb;

/// The issue asks for at least this many fixtures.
const MIN_FIXTURES: usize = 60;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/psql_diff")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Ok,
    Failed,
    Refused,
}

/// What a fixture's header asks for.
#[derive(Debug)]
struct Fixture {
    path: PathBuf,
    expect: Class,
    single: bool,
    vars: Vec<String>,
    creates: Vec<String>,
    stdin: bool,
    /// cruddur-db must run statements of it by a prepared shape.
    shaped: bool,
}

impl Fixture {
    fn read(path: &Path) -> Result<Fixture, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
        let text = text.trim_start_matches('\u{feff}');
        let mut f = Fixture {
            path: path.to_path_buf(),
            expect: Class::Ok,
            single: true,
            vars: Vec::new(),
            creates: Vec::new(),
            stdin: false,
            shaped: false,
        };
        let mut expect = None;
        for line in text
            .lines()
            .take_while(|l| l.trim_start().starts_with("--"))
        {
            let Some(d) = line.trim_start().strip_prefix("-- diff:") else {
                continue;
            };
            let d = d.trim();
            let (word, rest) = d.split_once(char::is_whitespace).unwrap_or((d, ""));
            let rest = rest.trim();
            match (word, rest) {
                ("expect", "ok") => expect = Some(Class::Ok),
                ("expect", "failed") => expect = Some(Class::Failed),
                ("expect", "refused") => expect = Some(Class::Refused),
                ("mode", "single") => f.single = true,
                ("mode", "autocommit") => f.single = false,
                ("var", v) if v.contains('=') => f.vars.push(v.to_string()),
                ("creates", db) if db.starts_with("pdiff_") => f.creates.push(db.to_string()),
                ("stdin", "") => f.stdin = true,
                ("shaped", "") => f.shaped = true,
                _ => return Err(format!("unknown header line {line:?}")),
            }
        }
        f.expect = expect.ok_or("no `-- diff: expect ...` header line")?;
        Ok(f)
    }
}

/// What a run left behind.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    class: Class,
    /// Per database (`main` for the fresh one, else the created database's name): its schema
    /// and its rows.
    dbs: BTreeMap<String, (String, String)>,
}

fn db_exists(name: &str) -> bool {
    common::psql_admin(&format!(
        "SELECT count(*) FROM pg_database WHERE datname = '{}'",
        name.replace('\'', "''")
    ))
    .trim()
        == "1"
}

fn drop_db(name: &str) {
    common::psql_admin(&format!(
        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
        name.replace('"', "\"\"")
    ));
}

/// The state of the fresh database and of every database the fixture creates (then dropped).
fn observe(f: &Fixture, class: Class, main: &TestDb) -> Observed {
    let mut dbs = BTreeMap::new();
    dbs.insert(
        "main".to_string(),
        (
            common::pg_dump_schema(&main.url),
            common::rows_of(&main.url),
        ),
    );
    for db in &f.creates {
        let state = if db_exists(db) {
            let url = common::url_for(db);
            let s = (common::pg_dump_schema(&url), common::rows_of(&url));
            drop_db(db);
            s
        } else {
            ("(no such database)".into(), String::new())
        };
        dbs.insert(db.clone(), state);
    }
    Observed { class, dbs }
}

/// Runs `cmd` with the fixture as its file or on its stdin; returns the exit code and stderr.
fn run(mut cmd: Command, f: &Fixture) -> (i32, String) {
    cmd.current_dir(f.path.parent().expect("fixtures live in a directory"));
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    if f.stdin {
        cmd.stdin(std::fs::File::open(&f.path).expect("the fixture opens"));
    } else {
        cmd.stdin(Stdio::null());
    }
    let out = cmd.output().expect("the command runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn file_arg(f: &Fixture) -> String {
    if f.stdin {
        "-".into()
    } else {
        f.path.file_name().unwrap().to_string_lossy().into_owned()
    }
}

fn run_psql(f: &Fixture) -> (Observed, String) {
    let db = TestDb::new("pdiff_psql");
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"]);
    if f.single {
        cmd.arg("-1");
    }
    for v in &f.vars {
        cmd.arg("-v").arg(v);
    }
    cmd.args(["-d", &db.url, "-f", &file_arg(f)]);
    let (code, stderr) = run(cmd, f);
    let class = if code == 0 { Class::Ok } else { Class::Failed };
    (observe(f, class, &db), stderr)
}

fn run_ours(f: &Fixture, prepare: bool) -> (Observed, String) {
    let db = TestDb::new("pdiff_ours");
    let mut cmd = db.std_cmd();
    if !prepare {
        cmd.env("CRUDDUR_PREPARE", "off");
    }
    cmd.arg("seed");
    if !f.single {
        cmd.arg("--no-transaction");
    }
    for v in &f.vars {
        cmd.arg("-v").arg(v);
    }
    cmd.arg(file_arg(f));
    let (code, stderr) = run(cmd, f);
    let class = match code {
        0 => Class::Ok,
        2 => Class::Refused,
        _ => Class::Failed,
    };
    (observe(f, class, &db), stderr)
}

/// What differs for one fixture, empty when it passes.
fn check(f: &Fixture, empty: &(String, String)) -> Vec<String> {
    let mut problems = Vec::new();
    for db in &f.creates {
        drop_db(db);
    }
    let (ours, our_err) = run_ours(f, true);
    let our_err = our_err.trim();
    if f.shaped {
        problems.extend(check_shaped(f, &ours, our_err));
    }
    if f.expect == Class::Refused {
        if ours.class != Class::Refused {
            problems.push(format!(
                "expected cruddur-db to refuse it, but it {:?}: {our_err}",
                ours.class
            ));
        }
        for (db, state) in &ours.dbs {
            let unchanged = if db == "main" {
                state == empty
            } else {
                state.0 == "(no such database)"
            };
            if !unchanged {
                problems.push(format!(
                    "refused, but database {db} was changed: {}",
                    common::first_difference(&empty.0, &state.0, ("before", "after"))
                ));
            }
        }
        return problems;
    }
    let (theirs, their_err) = run_psql(f);
    let their_err = their_err.trim();
    if theirs.class != f.expect {
        problems.push(format!(
            "psql's outcome is {:?}, the header expects {:?} (psql said: {their_err})",
            theirs.class, f.expect
        ));
    }
    if ours.class != theirs.class {
        problems.push(format!(
            "outcome: psql {:?} / cruddur-db {:?} (psql said: {their_err}; cruddur-db said: {our_err})",
            theirs.class, ours.class
        ));
    }
    for (db, (schema, rows)) in &theirs.dbs {
        let (our_schema, our_rows) = &ours.dbs[db];
        if our_schema != schema {
            problems.push(format!(
                "schema of {db}: {}",
                common::first_difference(schema, our_schema, ("psql", "cruddur-db"))
            ));
        }
        if our_rows != rows {
            problems.push(format!(
                "rows of {db}: {}",
                common::first_difference(rows, our_rows, ("psql", "cruddur-db"))
            ));
        }
    }
    problems
}

/// A `shaped` fixture: cruddur-db ran statements by a prepared shape, and ends exactly as it
/// does running every statement as written (the same error, at the same place).
fn check_shaped(f: &Fixture, ours: &Observed, our_err: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let said = match ours.class {
        Class::Ok => our_err.contains(" prepared shape"),
        _ => our_err.contains("it ran as EXECUTE of its prepared shape"),
    };
    if !said {
        problems.push(format!(
            "no statement ran by a prepared shape (cruddur-db said: {our_err})"
        ));
    }
    for db in &f.creates {
        drop_db(db);
    }
    let (written, written_err) = run_ours(f, false);
    if written_err.contains("prepared shape") {
        problems.push(format!(
            "CRUDDUR_PREPARE=off still ran statements by shape: {}",
            written_err.trim()
        ));
    }
    if written != *ours {
        problems.push(format!(
            "with CRUDDUR_PREPARE=off the run ends otherwise: {:?} / {:?}",
            written.class, ours.class
        ));
    }
    if ours.class != Class::Ok {
        let first = |s: &str| s.trim().lines().next().unwrap_or("").to_string();
        if first(&written_err) != first(our_err) {
            problems.push(format!(
                "the error differs from the one run as written:\n    as written: {}\n    by shape:   {}",
                first(&written_err),
                first(our_err)
            ));
        }
    }
    problems
}

#[test]
fn every_fixture_ends_as_psql_ends_it() {
    let filter = std::env::var("PSQL_DIFF_FILTER").ok();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures/psql_diff exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    let all = paths.len();
    if let Some(filter) = &filter {
        paths.retain(|p| p.to_string_lossy().contains(filter.as_str()));
    }
    // What a fresh database looks like: a refused file must leave its own so.
    let pristine = TestDb::new("pdiff_empty");
    let empty = (
        common::pg_dump_schema(&pristine.url),
        common::rows_of(&pristine.url),
    );
    let mut report = String::new();
    let mut failed = 0;
    for path in &paths {
        let problems = match Fixture::read(path) {
            Ok(f) => check(&f, &empty),
            Err(e) => vec![e],
        };
        if !problems.is_empty() {
            failed += 1;
            let name = path.strip_prefix(fixtures_dir()).unwrap_or(path).display();
            let _ = writeln!(report, "{name}:");
            for p in problems {
                let _ = writeln!(report, "  {p}");
            }
        }
    }
    if filter.is_none() && all < MIN_FIXTURES {
        let _ = writeln!(
            report,
            "only {all} fixtures in tests/fixtures/psql_diff; the suite needs at least {MIN_FIXTURES}"
        );
        failed += 1;
    }
    assert!(
        failed == 0,
        "{failed} of {} fixtures differ from psql:\n{report}",
        paths.len()
    );
}
