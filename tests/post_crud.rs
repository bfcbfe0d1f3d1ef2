//! `post-crud` and the activity half of the library (`cruddur_db::app`) against the real
//! server: the app's rules all at once, ttl arithmetic in the database's clock, unknown
//! handles, the object query's shape, concurrent batches, and `examples/post_crud.rs`.

mod common;

use std::collections::BTreeSet;

use chrono::NaiveDateTime;
use common::TestDb;
use cruddur_db::app::{self, Ttl};
use cruddur_db::pg::{ConnectOptions, Db};
use cruddur_db::target::{Target, TargetRequest};
use predicates::prelude::*;
use serde_json::Value;

/// The number of activities in the database (the seed has 3).
fn activities(db: &TestDb) -> i64 {
    db.scalar("SELECT count(*) FROM public.activities")
        .parse()
        .unwrap()
}

/// The database's own clock, as the `timestamp` the schema stores.
fn db_now(db: &TestDb) -> NaiveDateTime {
    ts(&db.scalar("SELECT to_char(localtimestamp, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"))
}

fn ts(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .unwrap_or_else(|e| panic!("{s:?} is not an ISO timestamp: {e}"))
}

/// Runs post-crud and returns (exit code, stdout, stderr).
fn post(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = db.cmd().arg("post-crud").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The codes an error output names, in order of appearance among the app's codes.
fn codes_in(stderr: &str) -> BTreeSet<&'static str> {
    [
        "message_blank",
        "message_exceed_max_chars",
        "ttl_blank",
        "ttl_invalid",
        "user_handle_blank",
    ]
    .into_iter()
    .filter(|c| stderr.contains(&format!("{c}:")))
    .collect()
}

#[test]
fn each_rule_alone_is_exit_2_and_writes_nothing() {
    let db = TestDb::seeded("pc_rules");
    let long = "x".repeat(281);
    let cases: [(&[&str], &str); 5] = [
        (
            &["--handle", "andrewbrown", "--message", ""],
            "message_blank",
        ),
        (
            &["--handle", "andrewbrown", "--message", &long],
            "message_exceed_max_chars",
        ),
        (
            &["--handle", "andrewbrown", "--message", "hi", "--ttl", ""],
            "ttl_blank",
        ),
        (
            &[
                "--handle",
                "andrewbrown",
                "--message",
                "hi",
                "--ttl",
                "2-days",
            ],
            "ttl_invalid",
        ),
        (&["--handle", "  ", "--message", "hi"], "user_handle_blank"),
    ];
    for (args, code) in cases {
        let (rc, stdout, stderr) = post(&db, args);
        assert_eq!(rc, 2, "{code}: {stderr}");
        assert_eq!(codes_in(&stderr), BTreeSet::from([code]), "{stderr}");
        assert!(stderr.contains("nothing was written"), "{stderr}");
        assert_eq!(stdout, "");
    }
    assert!(post(
        &db,
        &[
            "--handle",
            "andrewbrown",
            "--message",
            "hi",
            "--ttl",
            "2-days"
        ]
    )
    .2
    .contains("not one of 30-days, 7-days, 3-days, 1-day, 12-hours, 3-hours, 1-hour"));
    assert_eq!(activities(&db), 3);
}

#[test]
fn all_rules_are_reported_in_one_call() {
    let db = TestDb::seeded("pc_all");
    let (rc, _, stderr) = post(&db, &["--handle", "", "--message", "", "--ttl", ""]);
    assert_eq!(rc, 2);
    assert_eq!(
        codes_in(&stderr),
        BTreeSet::from(["message_blank", "ttl_blank", "user_handle_blank"]),
        "{stderr}"
    );
    assert!(stderr.contains("3 rules failed"), "{stderr}");

    let long = "y".repeat(301);
    let (rc, _, stderr) = post(
        &db,
        &["--handle", "", "--message", &long, "--ttl", "1-week"],
    );
    assert_eq!(rc, 2);
    assert_eq!(
        codes_in(&stderr),
        BTreeSet::from([
            "message_exceed_max_chars",
            "ttl_invalid",
            "user_handle_blank"
        ]),
        "{stderr}"
    );
    assert!(
        stderr.contains("message is 301 characters; the limit is 280"),
        "{stderr}"
    );
    // The same through --count, and the database is never reached for bad input.
    let out = db
        .cmd()
        .env("CONNECTION_URL", "postgresql://nobody@127.0.0.1:1/none")
        .args(["post-crud", "--handle", "", "--message", "", "--count", "5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        codes_in(&stderr),
        BTreeSet::from(["message_blank", "user_handle_blank"])
    );
    assert_eq!(activities(&db), 3);
}

#[test]
fn length_is_counted_in_characters_not_bytes() {
    let db = TestDb::seeded("pc_chars");
    // 4-byte and 2-byte characters: 280 of them are 840 bytes, far over 280 bytes.
    let ok: String = "😀é".repeat(140);
    assert_eq!((ok.chars().count(), ok.len()), (280, 840));
    let (rc, stdout, stderr) = post(&db, &["--handle", "londo", "--message", &ok, "--json"]);
    assert_eq!(rc, 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["message"], ok.as_str());
    assert_eq!(
        db.scalar("SELECT char_length(message) FROM public.activities WHERE message LIKE '😀é%'"),
        "280"
    );

    let too_long = format!("{ok}é");
    let (rc, _, stderr) = post(&db, &["--handle", "londo", "--message", &too_long]);
    assert_eq!(rc, 2);
    assert!(
        stderr.contains("message_exceed_max_chars: message is 281 characters; the limit is 280"),
        "{stderr}"
    );
    assert_eq!(activities(&db), 4);
}

#[test]
fn every_ttl_sets_expires_at_from_the_database_clock() {
    let db = TestDb::seeded("pc_ttl");
    let cases = [
        ("30-days", "30 days", chrono::TimeDelta::days(30)),
        ("7-days", "7 days", chrono::TimeDelta::days(7)),
        ("3-days", "3 days", chrono::TimeDelta::days(3)),
        ("1-day", "1 day", chrono::TimeDelta::days(1)),
        ("12-hours", "12 hours", chrono::TimeDelta::hours(12)),
        ("3-hours", "3 hours", chrono::TimeDelta::hours(3)),
        ("1-hour", "1 hour", chrono::TimeDelta::hours(1)),
    ];
    for (ttl, interval, delta) in cases {
        let before = db_now(&db);
        let (rc, stdout, stderr) = post(
            &db,
            &[
                "--handle",
                "bayko",
                "--message",
                &format!("ttl {ttl}"),
                "--ttl",
                ttl,
                "--json",
            ],
        );
        let after = db_now(&db);
        assert_eq!(rc, 0, "{ttl}: {stderr}");
        let v: Value = serde_json::from_str(&stdout).unwrap();
        let created = ts(v["created_at"].as_str().unwrap());
        let expires = ts(v["expires_at"].as_str().unwrap());
        // now() + ttl, where now() is the database's clock during the command.
        assert!(
            before <= created && created <= after,
            "{ttl}: {before} {created} {after}"
        );
        assert!(
            before + delta <= expires && expires <= after + delta,
            "{ttl}: expires_at {expires} is not now() + {interval}"
        );
        assert_eq!(expires - created, delta, "{ttl}");
        // And the row says the same, to the microsecond.
        assert_eq!(
            db.scalar(&format!(
                "SELECT expires_at = created_at + interval '{interval}' FROM public.activities \
                 WHERE uuid = '{}'",
                v["uuid"].as_str().unwrap()
            )),
            "t",
            "{ttl}"
        );
    }
    // The default is 7 days.
    let (_, stdout, _) = post(
        &db,
        &["--handle", "bayko", "--message", "default", "--json"],
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        ts(v["expires_at"].as_str().unwrap()) - ts(v["created_at"].as_str().unwrap()),
        chrono::TimeDelta::days(7)
    );
}

#[test]
fn unknown_handle_suggests_and_writes_nothing() {
    let db = TestDb::seeded("pc_unknown");
    let (rc, stdout, stderr) = post(&db, &["--handle", "andrewbrwn", "--message", "hi"]);
    assert_eq!(rc, 1, "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("no user has the handle \"andrewbrwn\""),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean \"andrewbrown\"?"), "{stderr}");
    // Nothing close: say how to find or add a user.
    let (rc, _, stderr) = post(&db, &["--handle", "qqqqqq", "--message", "hi"]);
    assert_eq!(rc, 1);
    assert!(stderr.contains("cruddur-db users"), "{stderr}");
    // A batch fails before writing anything.
    let (rc, _, stderr) = post(
        &db,
        &["--handle", "Bayko", "--message", "x {n}", "--count", "50"],
    );
    assert_eq!(rc, 1);
    assert!(stderr.contains("did you mean \"bayko\"?"), "{stderr}");
    assert_eq!(activities(&db), 3);
}

#[test]
fn created_crud_is_the_app_object_query() {
    let db = TestDb::seeded("pc_shape");
    let (rc, stdout, stderr) = post(
        &db,
        &[
            "--handle",
            "andrewbrown",
            "--message",
            "It's a crud: \"quoted\" & multi\nline",
            "--json",
        ],
    );
    assert_eq!(rc, 0, "{stderr}");
    let ours: Value = serde_json::from_str(&stdout).unwrap();
    let keys: Vec<&str> = ours
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            "uuid",
            "display_name",
            "handle",
            "message",
            "created_at",
            "expires_at"
        ])
    );
    // The app's object query (activities/object.sql through query_object_json) on that row.
    let app_json = db.scalar(&format!(
        "SELECT COALESCE(row_to_json(object_row), '{{}}'::json) FROM (
           SELECT activities.uuid, users.display_name, users.handle, activities.message,
                  activities.created_at, activities.expires_at
           FROM public.activities
           INNER JOIN public.users ON users.uuid = activities.user_uuid
           WHERE activities.uuid = '{}'
         ) object_row",
        ours["uuid"].as_str().unwrap()
    ));
    let app: Value = serde_json::from_str(&app_json).unwrap();
    for k in ["uuid", "display_name", "handle", "message"] {
        assert_eq!(ours[k], app[k], "{k}");
    }
    for k in ["created_at", "expires_at"] {
        assert_eq!(
            ts(ours[k].as_str().unwrap()),
            ts(app[k].as_str().unwrap()),
            "{k}"
        );
    }
    assert_eq!(ours["display_name"], "Andrew Brown");
    // Without --json: the same fields, one per line.
    let (rc, stdout, _) = post(&db, &["--handle", "londo", "--message", "plain"]);
    assert_eq!(rc, 0);
    for line in [
        "display_name  Londo Mollari",
        "handle        londo",
        "message       plain",
    ] {
        assert!(stdout.contains(line), "{stdout}");
    }
    assert!(stdout.starts_with("uuid "), "{stdout}");
    assert!(stdout.contains("expires_at "), "{stdout}");
}

#[test]
fn message_dash_reads_stdin() {
    let db = TestDb::seeded("pc_stdin");
    db.cmd()
        .args(["post-crud", "--handle", "bayko", "--message", "-", "--json"])
        .write_stdin("Ünïcode from stdin\n")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "\"message\": \"Ünïcode from stdin\"",
        ));
    assert_eq!(
        db.scalar("SELECT count(*) FROM public.activities WHERE message = 'Ünïcode from stdin'"),
        "1"
    );
    // An empty stdin is a blank message.
    db.cmd()
        .args(["post-crud", "--handle", "bayko", "--message", "-"])
        .write_stdin("\n")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("message_blank"));
}

#[test]
fn count_200_writes_exactly_200_rows_concurrently() {
    let db = TestDb::seeded("pc_count");
    let (rc, stdout, stderr) = post(
        &db,
        &[
            "--handle",
            "bayko",
            "--message",
            "crud number {n}",
            "--ttl",
            "1-hour",
            "--count",
            "200",
            "--concurrency",
            "6",
            "--json",
        ],
    );
    assert_eq!(rc, 0, "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["posted"], 200);
    assert_eq!(summary["concurrency"], 6);
    assert_eq!(summary["handle"], "bayko");
    assert_eq!(summary["ttl"], "1-hour");
    assert!(summary["rows_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(activities(&db), 203);
    // Every number from 1 to 200 exactly once, all bayko's, all 1 hour.
    assert_eq!(
        db.scalar(
            "SELECT count(DISTINCT message) || ' ' || min(substr(message, 13)::int) || ' ' || \
                    max(substr(message, 13)::int) || ' ' || bool_and(u.handle = 'bayko') || ' ' || \
                    bool_and(expires_at - a.created_at = interval '1 hour') \
             FROM public.activities a JOIN public.users u ON u.uuid = a.user_uuid \
             WHERE message LIKE 'crud number %'"
        ),
        "200 1 200 true true"
    );
    // Without --json, one summary line.
    let (rc, stdout, _) = post(
        &db,
        &["--handle", "londo", "--message", "m{n}", "--count", "20"],
    );
    assert_eq!(rc, 0);
    assert!(
        stdout.starts_with("posted 20 cruds as @londo (ttl 7-days, 8 at a time)"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1);
    assert_eq!(activities(&db), 223);
}

#[test]
fn a_failure_stops_the_batch_and_reports_what_was_written() {
    let db = TestDb::seeded("pc_fail");
    // A real failure in the middle: the server refuses crud number 60.
    db.psql(
        "CREATE FUNCTION refuse_60() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.message = 'batch 60' THEN RAISE EXCEPTION 'crud 60 refused by a test trigger'; END IF; \
           RETURN NEW; END $$; \
         CREATE TRIGGER refuse_60 BEFORE INSERT ON public.activities \
           FOR EACH ROW EXECUTE FUNCTION refuse_60();",
    );
    let (rc, stdout, stderr) = post(
        &db,
        &[
            "--handle",
            "andrewbrown",
            "--message",
            "batch {n}",
            "--count",
            "5000",
            "--concurrency",
            "4",
        ],
    );
    assert_eq!(rc, 1, "{stderr}");
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("crud 60 refused by a test trigger"),
        "{stderr}"
    );
    let written: i64 = stderr
        .split("stopped after posting ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {stderr}"));
    assert!(stderr.contains(&format!("stopped after posting {written} of 5000 cruds")));
    // The count is the truth, and new work stopped long before the end.
    assert_eq!(activities(&db) - 3, written);
    // Cruds 1 to 59 were taken before 60 and finish; the other workers stop soon after 60
    // fails (how many they finish in between depends on scheduling, so the bound is loose).
    assert!((59..200).contains(&written), "{written}");
    assert_eq!(
        db.scalar("SELECT count(*) FROM public.activities WHERE message = 'batch 60'"),
        "0"
    );
}

#[test]
fn protected_target_needs_confirmation() {
    let db = TestDb::seeded("pc_protected");
    db.cmd()
        .args([
            "--protected",
            "post-crud",
            "--handle",
            "bayko",
            "--message",
            "hi",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("--yes --confirm-db"));
    assert_eq!(activities(&db), 3);
    db.cmd()
        .args([
            "--protected",
            "post-crud",
            "--handle",
            "bayko",
            "--message",
            "hi",
            "--yes",
        ])
        .args(["--confirm-db", &db.name])
        .assert()
        .success();
    assert_eq!(activities(&db), 4);
}

#[test]
fn dry_run_checks_the_handle_and_writes_nothing() {
    let db = TestDb::seeded("pc_dry");
    db.cmd()
        .args([
            "post-crud",
            "--handle",
            "bayko",
            "--message",
            "x {n}",
            "--count",
            "9",
            "--dry-run",
        ])
        .assert()
        .success()
        // The plan is the result (stdout); the note that nothing was written is status.
        .stdout(predicate::str::contains("would post 9 crud(s) as @bayko"))
        .stderr(predicate::str::contains("--dry-run: nothing was written"));
    db.cmd()
        .args([
            "post-crud",
            "--handle",
            "baykoo",
            "--message",
            "x",
            "--dry-run",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("did you mean \"bayko\"?"));
    assert_eq!(activities(&db), 3);
}

#[test]
fn missing_schema_is_a_clear_error() {
    let db = TestDb::new("pc_noschema");
    db.cmd()
        .args(["post-crud", "--handle", "bayko", "--message", "x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cruddur-db setup"));
}

async fn pool_for(db: &TestDb) -> Db {
    let target = Target::resolve(
        &TargetRequest {
            url: Some(db.url.clone()),
            ..TargetRequest::default()
        },
        |_| None,
    )
    .unwrap();
    Db::connect(&target, &ConnectOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn library_creates_activities_and_types_its_errors() {
    let db = TestDb::seeded("pc_lib");
    let pool = pool_for(&db).await;

    let a = app::create_activity(&pool.pool, "londo", "from the library", Ttl::Hours3)
        .await
        .unwrap();
    assert_eq!(
        (a.handle.as_str(), a.display_name.as_str()),
        ("londo", "Londo Mollari")
    );
    assert_eq!(a.expires_at - a.created_at, Ttl::Hours3.duration());
    let b = app::create_activity(&pool.pool, "londo", "by spelling", "12-hours")
        .await
        .unwrap();
    assert_eq!(b.expires_at - b.created_at, chrono::TimeDelta::hours(12));

    match app::create_activity(&pool.pool, "", "", "never").await {
        Err(app::Error::Validation(v)) => assert_eq!(
            v.iter().map(|v| v.code()).collect::<Vec<_>>(),
            ["message_blank", "ttl_invalid", "user_handle_blank"]
        ),
        other => panic!("expected Validation, got {other:?}"),
    }
    match app::create_activity(&pool.pool, "londoo", "hi", Ttl::Day1).await {
        Err(app::Error::UnknownHandle {
            handle,
            suggestions,
        }) => {
            assert_eq!(handle, "londoo");
            assert_eq!(suggestions, ["londo"]);
        }
        other => panic!("expected UnknownHandle, got {other:?}"),
    }

    let batch = app::Batch::new("bayko", "lib {n}", "1-hour", 30).unwrap();
    let seen = std::sync::atomic::AtomicU64::new(0);
    let n = app::create_activities(&pool.pool, &batch, 4, &|k| {
        seen.fetch_add(k, std::sync::atomic::Ordering::SeqCst);
    })
    .await
    .unwrap();
    assert_eq!((n, seen.into_inner()), (30, 30));
    assert_eq!(activities(&db), 3 + 2 + 30);
}

/// The path of `examples/post_crud.rs` as `cargo test` built it.
fn example_exe() -> std::path::PathBuf {
    // NOTE: `cargo test` builds the examples as plain programs next to the test binaries
    // (target/debug/examples); a nested `cargo build` from inside a test would run with
    // cargo's test-time environment and make build scripts rebuild half the tree.
    let deps = std::env::current_exe().unwrap();
    let exe = deps
        .parent()
        .and_then(|d| d.parent())
        .unwrap()
        .join("examples")
        .join(format!("post_crud{}", std::env::consts::EXE_SUFFIX));
    assert!(
        exe.is_file(),
        "{} is missing: run the tests with `cargo test` (it builds the examples), as scripts/test does",
        exe.display()
    );
    exe
}

#[test]
fn the_example_posts_a_crud() {
    let db = TestDb::seeded("pc_example");
    let exe = example_exe();
    let out = std::process::Command::new(&exe)
        .env_clear()
        .env("CONNECTION_URL", &db.url)
        .current_dir(db.home.path())
        .args(["bayko", "posted by the example", "3-hours"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the example failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["handle"], "bayko");
    assert_eq!(v["message"], "posted by the example");
    assert_eq!(
        db.scalar(&format!(
            "SELECT expires_at - created_at FROM public.activities WHERE uuid = '{}'",
            v["uuid"].as_str().unwrap()
        )),
        "03:00:00"
    );
    // Its typed-error branch: bad input is exit 2 with the app's codes.
    let out = std::process::Command::new(&exe)
        .env_clear()
        .env("CONNECTION_URL", &db.url)
        .args(["bayko", "", "5-days"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("message_blank") && stderr.contains("ttl_invalid"),
        "{stderr}"
    );
    assert_eq!(activities(&db), 4);
}
