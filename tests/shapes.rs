//! INSERT files run by prepared shapes: a failure deep in a long file is the one the file gives
//! run as written, the shapes are gone when the run ends, and shapes are used only where their
//! meaning is certain (the runner's own transaction, standard_conforming_strings on).

mod common;

use common::{write_file, TestDb};
use indicatif::ProgressBar;
use predicates::prelude::*;

use cruddur_db::load::{self, LoadOptions};
use cruddur_db::sql::script::Script;
use cruddur_db::sql::{Input, Vars};

/// A file of `rows` INSERTs of one shape, each over two lines, the one at `bad` (1-based)
/// with a timestamp the server cannot read on its second line.
fn readings(rows: usize, bad: Option<usize>) -> String {
    let mut text =
        String::from("CREATE TABLE readings (id int PRIMARY KEY, at timestamp, note text);\n");
    for i in 1..=rows {
        let at = if Some(i) == bad {
            "2024-13-01"
        } else {
            "2024-01-01"
        };
        text.push_str(&format!(
            "INSERT INTO readings (id, at, note)\n  VALUES ({i}, '{at}', E'row\\t{i}');\n"
        ));
    }
    text
}

fn first_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_failure_by_shape_anywhere_in_a_long_file_is_the_one_it_gives_as_written() {
    let db = TestDb::new("shape_fail");
    let rows = 5000;
    for bad in [3, rows / 2, rows] {
        let file = write_file(db.home.path(), "readings.sql", &readings(rows, Some(bad)));
        let by_shape = db.cmd().arg("seed").arg(&file).output().unwrap();
        let written = db
            .cmd()
            .env("CRUDDUR_PREPARE", "off")
            .arg("seed")
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(by_shape.status.code(), Some(1));
        assert_eq!(written.status.code(), Some(1));
        // The statement starts on line 2 * bad; its literal is on the next line, after
        // `  VALUES (N, `.
        let column = "  VALUES (".len() + bad.to_string().len() + ", ".len() + 1;
        let expected = format!(
            "readings.sql:{}:{column}: date/time field value out of range",
            2 * bad + 1
        );
        assert!(
            first_line(&written.stderr).contains(&expected),
            "{}",
            String::from_utf8_lossy(&written.stderr)
        );
        assert_eq!(first_line(&by_shape.stderr), first_line(&written.stderr));
        let said = String::from_utf8_lossy(&by_shape.stderr);
        assert!(
            said.contains("it ran as EXECUTE of its prepared shape"),
            "{said}"
        );
        assert!(said.contains("nothing from this file was kept"), "{said}");
        assert_eq!(
            db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'readings'"),
            "0"
        );
    }
}

#[test]
fn a_long_file_runs_by_one_shape_and_says_so() {
    let db = TestDb::new("shape_ok");
    let file = write_file(db.home.path(), "readings.sql", &readings(3000, None));
    db.cmd()
        .arg("seed")
        .arg(&file)
        .assert()
        .success()
        .stderr(predicate::str::contains("3001 statements, 3000 rows in"))
        .stderr(predicate::str::contains("(2999 run by 1 prepared shape)"));
    assert_eq!(
        db.scalar(
            "SELECT count(*) || ' ' || count(DISTINCT note) || ' ' || min(note) FROM readings"
        ),
        "3000 3000 row\t1"
    );
}

#[test]
fn no_shapes_outside_the_runners_own_transaction_or_when_turned_off() {
    let db = TestDb::new("shape_none");
    let file = write_file(db.home.path(), "readings.sql", &readings(50, None));
    for (env, args) in [
        (None, vec!["seed", "--no-transaction"]),
        (Some("off"), vec!["seed"]),
        (Some("0"), vec!["seed"]),
    ] {
        db.psql("DROP TABLE IF EXISTS readings");
        let mut cmd = db.cmd();
        if let Some(v) = env {
            cmd.env("CRUDDUR_PREPARE", v);
        }
        cmd.args(&args)
            .arg(&file)
            .assert()
            .success()
            .stderr(predicate::str::contains("51 statements, 50 rows in"))
            .stderr(predicate::str::contains("prepared shape").not());
    }
}

#[test]
fn no_shapes_when_the_server_reads_backslashes_as_escapes() {
    // A database whose default turns standard_conforming_strings off: every statement runs as
    // written, and the backslashes mean what the server makes of them.
    let db = TestDb::new("shape_nonstd");
    db.psql(&format!(
        "ALTER DATABASE \"{}\" SET standard_conforming_strings = off",
        db.name
    ));
    let mut text = String::from("CREATE TABLE p (v text);\n");
    for _ in 0..5 {
        text.push_str("INSERT INTO p (v) VALUES ('a\\\\b');\n");
    }
    let file = write_file(db.home.path(), "paths.sql", &text);
    db.cmd()
        .arg("seed")
        .arg(&file)
        .assert()
        .success()
        .stderr(predicate::str::contains("prepared shape").not());
    assert_eq!(
        db.scalar("SELECT string_agg(DISTINCT v, ',') FROM p"),
        "a\\b"
    );
}

#[tokio::test]
async fn the_shapes_are_deallocated_when_the_run_ends() {
    let db = TestDb::new("shape_dealloc");
    let client = db.client().await;
    let ours = "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'cruddur_db_shape%'";
    for bad in [None, Some(40)] {
        let input = Input::text("readings.sql", readings(50, bad));
        let script = Script::new(&input, &Vars::default(), false).unwrap();
        let result = load::run(
            &client,
            script,
            LoadOptions::one_transaction(true),
            &ProgressBar::hidden(),
            None,
        )
        .await;
        match bad {
            None => assert_eq!(result.unwrap().by_shape, 49),
            Some(_) => assert!(result.unwrap_err().by_shape),
        }
        let left: i64 = client.query_one(ours, &[]).await.unwrap().get(0);
        assert_eq!(left, 0, "prepared shapes left behind (failure at {bad:?})");
        client
            .batch_execute("DROP TABLE IF EXISTS readings")
            .await
            .unwrap();
    }
}

/// Regression: the setting was read by the load itself, after the connection (and after the
/// confirmation of a protected target): a server that cannot be reached said so instead.
#[test]
fn a_bad_prepare_setting_is_refused_before_anything_connects() {
    let db = TestDb::new("shape_env_first");
    let file = write_file(db.home.path(), "readings.sql", &readings(5, None));
    // NOTE: port 1 on loopback refuses every connection: a connection attempt says so.
    let out = db
        .cmd()
        .env("CRUDDUR_PREPARE", "sometimes")
        .args(["--url", "postgresql://nobody@127.0.0.1:1/nowhere", "schema"])
        .arg(&file)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("CRUDDUR_PREPARE=\"sometimes\" is neither on nor off"),
        "{said}"
    );
    assert!(!said.contains("127.0.0.1:1"), "it tried to connect: {said}");
}

#[test]
fn a_prepare_setting_that_is_neither_on_nor_off_is_refused_before_anything_runs() {
    let db = TestDb::new("shape_env");
    let file = write_file(db.home.path(), "readings.sql", &readings(5, None));
    db.cmd()
        .env("CRUDDUR_PREPARE", "maybe")
        .arg("seed")
        .arg(&file)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "CRUDDUR_PREPARE=\"maybe\" is neither on nor off",
        ));
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'readings'"),
        "0"
    );
}

#[test]
fn shapes_load_the_same_rows_on_every_supported_server_version() {
    // The differential fixtures of every literal kind and of the bootcamp shape, by shape and
    // as written, on PostgreSQL 12, 13, 14, 16 and 17 (15 runs in tests/psql_diff.rs).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/psql_diff");
    for (major, admin) in common::pg_version_servers() {
        for fixture in [
            "sh01_shapes_literal_kinds.sql",
            "sh02_shapes_bootcamp.sql",
            "sh11_shapes_overloaded_calls.sql",
        ] {
            let mut rows = Vec::new();
            for prepare in ["on", "off"] {
                let db = TestDb::new_on(&admin, "shape_versions");
                let out = db
                    .cmd()
                    .env("CRUDDUR_PREPARE", prepare)
                    .current_dir(&dir)
                    .args(["seed", "-v", "who=andrew'brown", fixture])
                    .output()
                    .unwrap();
                let said = String::from_utf8_lossy(&out.stderr);
                assert!(
                    out.status.success(),
                    "PostgreSQL {major}, {fixture}: {said}"
                );
                assert_eq!(
                    said.contains(" prepared shape"),
                    prepare == "on",
                    "PostgreSQL {major}, {fixture}, CRUDDUR_PREPARE={prepare}: {said}"
                );
                rows.push(common::rows_of(&db.url));
            }
            assert!(
                !rows[0].is_empty() && !rows[0].contains(": 0 -"),
                "PostgreSQL {major}, {fixture}: an empty table: {}",
                rows[0]
            );
            assert_eq!(
                rows[0], rows[1],
                "PostgreSQL {major}, {fixture}: the rows by shape differ from the rows as written"
            );
        }
    }
}

/// A small deterministic generator (no test depends on chance: the seed is fixed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.next(xs.len())]
    }
}

/// A string value written in one of the server's literal forms.
fn string_literal(r: &mut Lcg, value: &str) -> String {
    match r.next(4) {
        0 => format!("'{}'", value.replace('\'', "''")),
        1 => format!(
            "E'{}'",
            value
                .replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace('\t', "\\t")
        ),
        2 => format!("$q${value}$q$"),
        _ => format!(
            "U&'{}'",
            value
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() {
                    c.to_string()
                } else {
                    format!("\\{:04X}", c as u32)
                })
                .collect::<String>()
        ),
    }
}

/// `rows` INSERTs made of a few templates with values in random literal forms; `bad` puts a
/// value the server refuses into some of them.
fn generated(seed: u64, rows: usize, bad: bool) -> String {
    let mut r = Lcg(seed);
    let mut text = String::from(
        "CREATE TABLE gen (id serial PRIMARY KEY, t text, n numeric, i int, b bigint, d date, \
         j jsonb, flag boolean, v varchar(8));\n",
    );
    let words = [
        "plain",
        "it's",
        "tab\there",
        "back\\slash",
        "é ✓",
        "",
        "$dollar$",
    ];
    let ints = ["0", "7", "-7", "2147483647", "-2147483648", "007"];
    let bigs = ["2147483648", "-9223372036854775808", "42", "-1"];
    let nums = [
        "1.5",
        "-.25",
        "1e3",
        "5.",
        "0.000",
        "-1e-3",
        "123456789012345678901234567890",
    ];
    let dates = ["2020-01-01", "1999-12-31", "epoch", "2024-02-29"];
    let flags = ["t", "false", "yes", "0"];
    for k in 0..rows {
        let w = r.pick(&words);
        let t = string_literal(&mut r, w);
        let v = string_literal(&mut r, &w.chars().take(8).collect::<String>());
        let date = if bad && k % 97 == 96 {
            "2024-13-01"
        } else {
            r.pick(&dates)
        };
        let d = string_literal(&mut r, date);
        let flag = r.pick(&flags);
        let f = string_literal(&mut r, flag);
        let (i, b, n) = (r.pick(&ints), r.pick(&bigs), r.pick(&nums));
        let json = format!("{{\"k\": {}}}", r.next(100));
        let j = string_literal(&mut r, &json);
        let stmt = match r.next(4) {
            0 => format!(
                "INSERT INTO gen (t, n, i, b, d, j, flag, v) VALUES ({t}, {n}, {i}, {b}, {d}, {j}, {f}, {v});"
            ),
            1 => format!(
                "INSERT INTO gen (t, n, i) VALUES ({t} || {v}, ({n}) * -2, {i});"
            ),
            2 => format!(
                "INSERT INTO gen (t, d, b) VALUES (replace({t}, 'a', {v}), {d}::date + {i} % 5, {b});"
            ),
            _ => format!(
                "INSERT INTO gen (t, n, flag) VALUES ({t}, (SELECT count(*) FROM gen WHERE t = {v}) + {n}, {f}::boolean);"
            ),
        };
        text.push_str(&stmt);
        text.push('\n');
    }
    text
}

#[test]
fn generated_files_load_the_same_by_shape_and_as_written() {
    // Files of a few INSERT templates with values in every literal form: by shape and as
    // written they must leave the same rows, or fail with the same first error line.
    let db = TestDb::new("shape_gen");
    let mut failed_by_shape = 0;
    for (seed, bad) in [(1, false), (2, false), (3, true), (4, true), (5, true)] {
        let file = write_file(db.home.path(), "gen.sql", &generated(seed, 400, bad));
        let mut runs = Vec::new();
        for prepare in ["on", "off"] {
            db.psql("DROP TABLE IF EXISTS gen");
            let out = db
                .cmd()
                .env("CRUDDUR_PREPARE", prepare)
                .arg("seed")
                .arg(&file)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&out.stderr).into_owned();
            if prepare == "on" && said.contains("it ran as EXECUTE of its prepared shape") {
                failed_by_shape += 1;
            }
            if prepare == "on" && !bad {
                assert!(
                    said.contains("prepared shape"),
                    "seed {seed}: nothing ran by shape: {said}"
                );
            }
            // The summary line differs (it counts the shapes); an error line must not.
            let error = if out.status.success() {
                String::new()
            } else {
                first_line(&out.stderr)
            };
            runs.push((out.status.code(), error, common::rows_of(&db.url)));
        }
        assert_eq!(
            runs[0].0,
            Some(if bad { 1 } else { 0 }),
            "seed {seed}: {}",
            runs[0].1
        );
        assert_eq!(runs[0], runs[1], "seed {seed}: by shape / as written");
    }
    assert!(
        failed_by_shape > 0,
        "no generated failure came from a statement run by its shape"
    );
}

#[tokio::test]
async fn no_shapes_in_a_section_run_in_the_callers_transaction() {
    // Migrations run their sections in a transaction of their own: statements there run as
    // written, whatever repeats.
    let db = TestDb::new("shape_caller");
    let client = db.client().await;
    client.batch_execute("BEGIN").await.unwrap();
    let summary = load::run_text(
        &client,
        "migrations/001.sql",
        &readings(20, None),
        1,
        &Vars::default(),
    )
    .await
    .unwrap();
    client.batch_execute("COMMIT").await.unwrap();
    assert_eq!((summary.statements, summary.by_shape), (21, 0));
    assert_eq!(db.scalar("SELECT count(*) FROM readings"), "20");
}
