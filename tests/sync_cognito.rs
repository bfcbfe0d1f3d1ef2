//! `sync-cognito` against moto's Cognito (through the recording proxy) and the real
//! PostgreSQL: every page is read, conflicts are reported and never guessed, nothing is
//! half-written, and the AWS and protection failures have their exit codes.

mod aws_support;
mod common;

use assert_cmd::Command;
use aws_support::{aws_cmd, Moto, Recorder};
use common::TestDb;
use serde_json::json;

/// `sync-cognito` on the test database, with moto (or the recorder) as the AWS endpoint.
fn sync(db: &TestDb, endpoint: &str) -> Command {
    let mut c = aws_cmd(db.home.path(), endpoint);
    c.env("CONNECTION_URL", &db.url).arg("sync-cognito");
    c
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The Cognito id of the user with this handle.
fn cognito_id(db: &TestDb, handle: &str) -> String {
    db.scalar(&format!(
        "SELECT coalesce(cognito_user_id, '(null)') FROM public.users WHERE handle = '{handle}'"
    ))
}

/// Every user's handle and Cognito id, to prove that nothing was written.
fn ids(db: &TestDb) -> String {
    db.psql("SELECT handle, cognito_user_id FROM public.users ORDER BY handle")
}

// Regression test for the bootcamp's script, which made one ListUsers call and so never saw
// more than the first 60 users: the matching users here are the last ones added.
#[test]
fn every_page_of_more_than_60_users_is_read() {
    let moto = Moto::new();
    let pool = moto.user_pool();
    for i in 0..62 {
        moto.pool_user(
            &pool,
            &format!("other-{i:02}"),
            Some(&format!("other{i:02}")),
        );
    }
    moto.pool_user(&pool, "no-handle", None);
    let subs: Vec<String> = ["andrewbrown", "bayko", "londo"]
        .iter()
        .map(|h| moto.pool_user(&pool, &format!("u-{h}"), Some(h)))
        .collect();
    let db = TestDb::seeded("cog_pages");
    let rec = Recorder::new();

    let out = sync(&db, &rec.url)
        .args(["--user-pool-id", &pool, "--json"])
        .output()
        .unwrap();
    let v = json_of(&out);
    let list_calls = rec.actions().iter().filter(|a| *a == "ListUsers").count();
    assert_eq!(list_calls, 2, "{:?}", rec.actions());
    assert_eq!(v["list_users_calls"], 2);
    assert_eq!(v["pool_users"], 66);
    assert_eq!(v["updated"], 3);
    assert_eq!(v["unchanged"], 0);
    assert_eq!(v["only_in_database"], json!([]));
    let only_in_cognito = v["only_in_cognito"].as_array().unwrap();
    assert_eq!(only_in_cognito.len(), 63);
    // A pool user with no preferred_username is named by its username.
    assert!(only_in_cognito.contains(&json!("no-handle")), "{v}");
    assert!(only_in_cognito.contains(&json!("other61")), "{v}");
    for (handle, sub) in ["andrewbrown", "bayko", "londo"].iter().zip(&subs) {
        assert_eq!(cognito_id(&db, handle), *sub);
    }

    // A second run changes nothing and says so.
    let out = sync(&db, &rec.url)
        .args(["--user-pool-id", &pool])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("up to date: 3 unchanged"),
        "second run: {text}"
    );
    assert!(!text.contains("->"), "second run: {text}");
}

#[test]
fn json_has_the_documented_fields() {
    let moto = Moto::new();
    let pool = moto.user_pool();
    let sub = moto.pool_user(&pool, "u-andrew", Some("andrewbrown"));
    let newcomer = moto.pool_user(&pool, "u-new", Some("newcomer"));
    let db = TestDb::seeded("cog_json");

    let out = sync(&db, &moto_url())
        .args(["--json"])
        .env("AWS_COGNITO_USER_POOL_ID", &pool)
        .output()
        .unwrap();
    let v = json_of(&out);
    assert_eq!(v["updated"], 1);
    assert_eq!(v["unchanged"], 0);
    assert_eq!(v["only_in_database"], json!(["bayko", "londo"]));
    assert_eq!(v["only_in_cognito"], json!(["newcomer"]));
    assert_eq!(
        v["changes"],
        json!([{"handle": "andrewbrown", "from": "MOCK-andrewbrown", "to": sub}])
    );
    assert_eq!(v["dry_run"], false);
    assert_eq!(cognito_id(&db, "andrewbrown"), sub);
    assert!(
        !ids(&db).contains(&newcomer),
        "an unmatched sub was written"
    );
}

#[test]
fn dry_run_prints_every_change_and_writes_nothing() {
    let moto = Moto::new();
    let pool = moto.user_pool();
    let andrew = moto.pool_user(&pool, "u-andrew", Some("andrewbrown"));
    let bayko = moto.pool_user(&pool, "u-bayko", Some("bayko"));
    let db = TestDb::seeded("cog_dry");
    let before = ids(&db);

    let out = sync(&db, &moto_url())
        .args(["--user-pool-id", &pool, "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("andrewbrown: MOCK-andrewbrown -> {andrew}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("bayko: MOCK-bayko -> {bayko}\n")),
        "{text}"
    );
    assert!(text.contains("nothing was written"), "{text}");
    assert_eq!(ids(&db), before);
}

#[test]
fn duplicate_preferred_usernames_are_reported_and_skipped() {
    let moto = Moto::new();
    let pool = moto.user_pool();
    moto.pool_user(&pool, "londo-1", Some("londo"));
    moto.pool_user(&pool, "londo-2", Some("londo"));
    let bayko = moto.pool_user(&pool, "u-bayko", Some("bayko"));
    let db = TestDb::seeded("cog_dup");

    let out = sync(&db, &moto_url())
        .args(["--user-pool-id", &pool, "--json"])
        .output()
        .unwrap();
    let v = json_of(&out);
    assert_eq!(
        v["duplicates"],
        json!([{"handle": "londo", "usernames": ["londo-1", "londo-2"]}])
    );
    assert_eq!(v["updated"], 1);
    assert_eq!(v["only_in_database"], json!(["andrewbrown"]));
    assert_eq!(cognito_id(&db, "londo"), "MOCK-londo");
    assert_eq!(cognito_id(&db, "bayko"), bayko);

    let out = sync(&db, &moto_url())
        .args(["--user-pool-id", &pool])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "skipped \"londo\": 2 pool users have this preferred_username (londo-1, londo-2)"
        ),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_sub_held_by_another_row_is_an_error_naming_both_and_nothing_is_written() {
    let moto = Moto::new();
    let pool = moto.user_pool();
    let andrew = moto.pool_user(&pool, "u-andrew", Some("andrewbrown"));
    moto.pool_user(&pool, "u-bayko", Some("bayko"));
    let db = TestDb::seeded("cog_collide");
    // londo's row holds andrewbrown's Cognito id, and no pool user gives londo another one.
    db.psql(&format!(
        "UPDATE public.users SET cognito_user_id = '{andrew}' WHERE handle = 'londo'"
    ));
    let before = ids(&db);

    let out = sync(&db, &moto_url())
        .args(["--user-pool-id", &pool])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "the sub {andrew} of pool user \"andrewbrown\" is already the cognito_user_id of \"londo\""
        )),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    // Not even bayko's change, which collides with nothing, was written.
    assert_eq!(ids(&db), before);
    assert_eq!(cognito_id(&db, "bayko"), "MOCK-bayko");
}

#[test]
fn subs_swapped_between_two_rows_are_both_fixed() {
    // Guards the write order: the changed rows are cleared first, so two rows trading ids
    // never trip the UNIQUE constraint half-way.
    let moto = Moto::new();
    let pool = moto.user_pool();
    let andrew = moto.pool_user(&pool, "u-andrew", Some("andrewbrown"));
    let bayko = moto.pool_user(&pool, "u-bayko", Some("bayko"));
    let db = TestDb::seeded("cog_swap");
    db.psql(&format!(
        "UPDATE public.users SET cognito_user_id = NULL WHERE handle IN ('andrewbrown', 'bayko');
         UPDATE public.users SET cognito_user_id = '{bayko}' WHERE handle = 'andrewbrown';
         UPDATE public.users SET cognito_user_id = '{andrew}' WHERE handle = 'bayko';"
    ));

    let out = sync(&db, &moto_url())
        .args(["--user-pool-id", &pool, "--json"])
        .output()
        .unwrap();
    assert_eq!(json_of(&out)["updated"], 2);
    assert_eq!(cognito_id(&db, "andrewbrown"), andrew);
    assert_eq!(cognito_id(&db, "bayko"), bayko);
}

#[test]
fn a_wrong_pool_id_is_exit_5_with_the_aws_code_and_the_fix() {
    let db = TestDb::seeded("cog_wrong");
    let before = ids(&db);
    let out = sync(&db, &moto_url())
        .args(["--user-pool-id", "us-east-1_doesnotexist0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("ResourceNotFoundException"), "{err}");
    assert!(
        err.contains("hint: check --user-pool-id/AWS_COGNITO_USER_POOL_ID"),
        "{err}"
    );
    assert_eq!(ids(&db), before);

    // A pool id of another region is warned about before Cognito says it is not there.
    let out = sync(&db, &moto_url())
        .args(["--user-pool-id", "eu-west-1_doesnotexist0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("named after region eu-west-1, but the region is us-east-1"),
        "{err}"
    );
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}

#[test]
fn a_missing_pool_id_is_exit_2_naming_the_flag_and_the_variable() {
    let db = TestDb::seeded("cog_nopool");
    let rec = Recorder::new();
    let out = sync(&db, &rec.url).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--user-pool-id"), "{err}");
    assert!(err.contains("AWS_COGNITO_USER_POOL_ID"), "{err}");
    assert!(rec.actions().is_empty(), "{:?}", rec.actions());
}

#[test]
fn no_credentials_or_no_region_is_exit_2_before_any_call() {
    let db = TestDb::seeded("cog_noaws");
    let rec = Recorder::new();
    for (missing, vars) in [
        (
            "no AWS credentials",
            &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"][..],
        ),
        ("no AWS region", &["AWS_REGION"]),
    ] {
        let mut c = sync(&db, &rec.url);
        for v in vars {
            c.env_remove(v);
        }
        let out = c
            .args(["--user-pool-id", "us-east-1_abc123"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains(missing), "{}", stderr(&out));
    }
    assert!(rec.actions().is_empty(), "{:?}", rec.actions());
}

#[test]
fn a_protected_target_needs_yes_and_confirm_db() {
    let moto = Moto::new();
    let pool = moto.user_pool();
    let andrew = moto.pool_user(&pool, "u-andrew", Some("andrewbrown"));
    let db = TestDb::seeded("cog_protect");
    let before = ids(&db);
    let rec = Recorder::new();

    for extra in [&[][..], &["--yes"]] {
        let out = sync(&db, &rec.url)
            .args(["--protected", "--user-pool-id", &pool])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{extra:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("refused: protected target"), "{err}");
        assert!(
            err.contains(&format!("--confirm-db {}", db.name)),
            "{extra:?}: {err}"
        );
        assert!(err.contains("nothing was changed"), "{err}");
    }
    assert!(rec.actions().is_empty(), "{:?}", rec.actions());
    assert_eq!(ids(&db), before);

    let out = sync(&db, &rec.url)
        .args(["--protected", "--user-pool-id", &pool])
        .args(["--yes", "--confirm-db", &db.name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(cognito_id(&db, "andrewbrown"), andrew);
}

fn moto_url() -> String {
    aws_support::moto_url()
}

#[test]
fn setup_and_reset_sync_cognito_after_the_seed() {
    let moto = Moto::new();
    let pool = moto.user_pool();
    let sub = moto.pool_user(&pool, "u-bayko", Some("bayko"));
    let db = TestDb::unmade("cog_setup");
    let run = |args: &[&str]| {
        let mut c = aws_cmd(db.home.path(), &aws_support::moto_url());
        c.env("CONNECTION_URL", &db.url).args(args);
        c
    };
    // A missing pool id stops setup before anything is created.
    run(&["setup", "--sync-cognito"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("AWS_COGNITO_USER_POOL_ID"));
    assert!(!db.exists());
    run(&["setup", "--sync-cognito", "--user-pool-id", &pool])
        .assert()
        .success()
        .stdout(predicates::str::contains("bayko: MOCK"));
    assert_eq!(cognito_id(&db, "bayko"), sub);
    // reset reloads the seed's MOCK ids, then syncs them again.
    run(&["reset", "--sync-cognito", "--user-pool-id", &pool])
        .assert()
        .success();
    assert_eq!(cognito_id(&db, "bayko"), sub);
    run(&["reset"]).assert().success();
    assert!(cognito_id(&db, "bayko").starts_with("MOCK"));
}
