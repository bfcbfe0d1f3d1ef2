//! `add-user` and `users`, and the user half of the library, against the real server: the
//! post-confirmation Lambda's insert from flags and from a real-shaped Cognito event,
//! duplicates named and refused with nothing written, listings with activity counts.

mod common;

use common::{write_file, TestDb};
use cruddur_db::app::{self, NewUser};
use cruddur_db::pg::{ConnectOptions, Db};
use cruddur_db::target::{Target, TargetRequest};
use predicates::prelude::*;
use serde_json::Value;

fn users(db: &TestDb) -> i64 {
    db.scalar("SELECT count(*) FROM public.users")
        .parse()
        .unwrap()
}

/// A post-confirmation event as Cognito sends it to the Lambda (ConfirmSignUp).
const EVENT: &str = r#"{
  "version": "1",
  "region": "us-east-1",
  "userPoolId": "us-east-1_N7WWGl3KC",
  "userName": "c4e8a4d8-e0a1-70b7-6bd5-7f3a2b1c9d10",
  "callerContext": {
    "awsSdkVersion": "aws-sdk-unknown-unknown",
    "clientId": "5b6ro31g97urk767adrbrdj1g5"
  },
  "triggerSource": "PostConfirmation_ConfirmSignUp",
  "request": {
    "userAttributes": {
      "sub": "c4e8a4d8-e0a1-70b7-6bd5-7f3a2b1c9d10",
      "email_verified": "true",
      "cognito:user_status": "CONFIRMED",
      "cognito:email_alias": "garibaldi@babylon5.example",
      "name": "Michael Garibaldi",
      "preferred_username": "garibaldi",
      "email": "garibaldi@babylon5.example"
    }
  },
  "response": {}
}"#;

#[test]
fn add_user_inserts_what_the_lambda_did() {
    let db = TestDb::seeded("us_add");
    let out = db
        .cmd()
        .args([
            "add-user",
            "--name",
            "Andrew Brown Jr",
            "--email",
            "junior@exampro.co",
            "--handle",
            "andrewjunior",
            "--cognito-user-id",
            "0b5c9e1a-sub",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["display_name"], "Andrew Brown Jr");
    assert_eq!(v["email"], "junior@exampro.co");
    assert_eq!(v["handle"], "andrewjunior");
    assert_eq!(v["cognito_user_id"], "0b5c9e1a-sub");
    assert_eq!(
        db.scalar(&format!(
            "SELECT display_name || '|' || email || '|' || handle || '|' || cognito_user_id \
             FROM public.users WHERE uuid = '{}'",
            v["uuid"].as_str().unwrap()
        )),
        "Andrew Brown Jr|junior@exampro.co|andrewjunior|0b5c9e1a-sub"
    );
    // Without a Cognito id (a local user), human output.
    db.cmd()
        .args([
            "add-user",
            "--name",
            "Local Dev",
            "--email",
            "dev@localhost.localdomain",
        ])
        .args(["--handle", "localdev"])
        .assert()
        .success()
        .stdout(predicate::str::contains("handle           localdev"))
        .stdout(predicate::str::contains("cognito_user_id  -"));
    assert_eq!(
        db.scalar("SELECT cognito_user_id IS NULL FROM public.users WHERE handle = 'localdev'"),
        "t"
    );
    assert_eq!(users(&db), 5);
}

#[test]
fn duplicate_handle_is_refused_by_name() {
    let db = TestDb::seeded("us_duphandle");
    db.cmd()
        .args([
            "add-user",
            "--name",
            "Another Andrew",
            "--email",
            "another@exampro.co",
        ])
        .args(["--handle", "andrewbrown"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the handle \"andrewbrown\" is already taken",
        ))
        .stderr(predicate::str::contains("email").not())
        .stderr(predicate::str::contains("nothing was written"));
    assert_eq!(users(&db), 3);
    assert_eq!(
        db.scalar("SELECT count(*) FROM public.users WHERE email = 'another@exampro.co'"),
        "0"
    );
}

#[test]
fn duplicate_email_is_refused_by_name() {
    let db = TestDb::seeded("us_dupemail");
    db.cmd()
        .args([
            "add-user",
            "--name",
            "Bayko Again",
            "--email",
            "bayko@exampro.co",
        ])
        .args(["--handle", "bayko2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the email \"bayko@exampro.co\" is already used",
        ))
        .stderr(predicate::str::contains("handle").not());
    assert_eq!(users(&db), 3);
    // Both taken: both named in one error.
    db.cmd()
        .args([
            "add-user",
            "--name",
            "Londo",
            "--email",
            "lmollari@centari.com",
        ])
        .args(["--handle", "londo", "--cognito-user-id", "MOCK-londo"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("handle \"londo\""))
        .stderr(predicate::str::contains("email \"lmollari@centari.com\""))
        .stderr(predicate::str::contains("Cognito user id \"MOCK-londo\""));
    assert_eq!(users(&db), 3);
}

#[test]
fn from_event_replays_a_cognito_post_confirmation() {
    let db = TestDb::seeded("us_event");
    let file = write_file(db.home.path(), "event.json", EVENT);
    let out = db
        .cmd()
        .args(["add-user", "--json", "--from-event"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["handle"], "garibaldi");
    assert_eq!(
        db.scalar(
            "SELECT display_name || '|' || email || '|' || cognito_user_id FROM public.users \
             WHERE handle = 'garibaldi'"
        ),
        "Michael Garibaldi|garibaldi@babylon5.example|c4e8a4d8-e0a1-70b7-6bd5-7f3a2b1c9d10"
    );
    // Replaying the same event again is a duplicate, naming all three, from stdin.
    db.cmd()
        .args(["add-user", "--from-event", "-"])
        .write_stdin(EVENT)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("handle \"garibaldi\""))
        .stderr(predicate::str::contains("Cognito user id"));
    assert_eq!(users(&db), 4);
}

#[test]
fn bad_events_and_bad_input_are_usage_errors() {
    let db = TestDb::seeded("us_badevent");
    let partial = EVENT.replace("\"preferred_username\": \"garibaldi\",", "");
    db.cmd()
        .args(["add-user", "--from-event", "-"])
        .write_stdin(partial)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "request.userAttributes.preferred_username",
        ));
    db.cmd()
        .args(["add-user", "--from-event", "-"])
        .write_stdin("{ not json")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not JSON"));
    db.cmd()
        .args(["add-user", "--from-event", "missing.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("missing.json"));
    // Every rule at once, before the database is reached.
    db.cmd()
        .env("CONNECTION_URL", "postgresql://nobody@127.0.0.1:1/none")
        .args(["add-user", "--name", " ", "--email", "nope", "--handle", ""])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("user_display_name_blank"))
        .stderr(predicate::str::contains("user_email_invalid"))
        .stderr(predicate::str::contains("user_handle_blank"));
    // --from-event and the flags exclude each other.
    db.cmd()
        .args(["add-user", "--from-event", "-", "--handle", "x"])
        .assert()
        .code(2);
    assert_eq!(users(&db), 3);
}

#[test]
fn add_user_on_a_protected_target_needs_confirmation() {
    let db = TestDb::seeded("us_protected");
    db.cmd()
        .args([
            "--protected",
            "add-user",
            "--name",
            "P",
            "--email",
            "p@x.io",
            "--handle",
            "p",
        ])
        .assert()
        .code(3);
    assert_eq!(users(&db), 3);
}

#[test]
fn users_lists_handles_with_activity_counts() {
    let db = TestDb::seeded("us_list");
    db.cmd()
        .args([
            "post-crud",
            "--handle",
            "bayko",
            "--message",
            "b{n}",
            "--count",
            "4",
        ])
        .assert()
        .success();
    db.cmd()
        .args([
            "add-user",
            "--name",
            "No Cruds",
            "--email",
            "quiet@example.com",
        ])
        .args(["--handle", "quiet"])
        .assert()
        .success();

    let out = db.cmd().args(["users"]).output().unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    assert!(lines[0].starts_with("HANDLE"), "{table}");
    let row = |h: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("{h} ")))
            .unwrap_or_else(|| panic!("no row for {h} in\n{table}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        (row("andrewbrown"), row("bayko"), row("londo"), row("quiet")),
        ("1".into(), "5".into(), "1".into(), "0".into())
    );
    assert!(table.contains("MOCK-bayko"), "{table}");

    let out = db.cmd().args(["users", "--json"]).output().unwrap();
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let counts: Vec<(String, i64)> = v
        .iter()
        .map(|u| {
            (
                u["handle"].as_str().unwrap().to_string(),
                u["activities_count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("andrewbrown".to_string(), 1),
            ("bayko".to_string(), 5),
            ("londo".to_string(), 1),
            ("quiet".to_string(), 0)
        ]
    );
    assert_eq!(v[3]["cognito_user_id"], Value::Null);
    assert_eq!(v[0]["display_name"], "Andrew Brown");
    assert_eq!(v[0]["email"], "andrew@exampro.co");
}

#[test]
fn users_handle_filter() {
    let db = TestDb::seeded("us_filter");
    let out = db
        .cmd()
        .args(["users", "--handle", "londo", "--json"])
        .output()
        .unwrap();
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["handle"], "londo");
    assert_eq!(v[0]["activities_count"], 1);
    db.cmd()
        .args(["users", "--handle", "lond"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("did you mean \"londo\"?"));
    // An empty database lists nothing, and says how to add a user.
    db.psql("DELETE FROM public.users");
    db.cmd()
        .args(["users", "--json"])
        .assert()
        .success()
        .stdout("[]\n");
    db.cmd()
        .args(["users"])
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("cruddur-db add-user"));
}

#[tokio::test]
async fn library_add_user_and_list_users() {
    let db = TestDb::seeded("us_lib");
    let target = Target::resolve(
        &TargetRequest {
            url: Some(db.url.clone()),
            ..TargetRequest::default()
        },
        |_| None,
    )
    .unwrap();
    let pool = Db::connect(&target, &ConnectOptions::default())
        .await
        .unwrap();
    let event: Value = serde_json::from_str(EVENT).unwrap();
    let new = NewUser::from_cognito_event(&event).unwrap();
    let user = app::add_user(&pool.pool, new.clone()).await.unwrap();
    assert_eq!(user.handle, "garibaldi");
    assert_eq!(
        user.cognito_user_id.as_deref(),
        Some("c4e8a4d8-e0a1-70b7-6bd5-7f3a2b1c9d10")
    );
    match app::add_user(&pool.pool, new).await {
        Err(app::Error::Duplicate {
            handle: Some(h),
            email: Some(e),
            cognito_user_id: Some(_),
        }) => assert_eq!(
            (h.as_str(), e.as_str()),
            ("garibaldi", "garibaldi@babylon5.example")
        ),
        other => panic!("expected a duplicate of all three, got {other:?}"),
    }
    let dup_email = NewUser {
        display_name: "G2".into(),
        email: "garibaldi@babylon5.example".into(),
        handle: "g2".into(),
        cognito_user_id: None,
    };
    assert!(matches!(
        app::add_user(&pool.pool, dup_email).await,
        Err(app::Error::Duplicate {
            handle: None,
            email: Some(_),
            cognito_user_id: None
        })
    ));
    let all = app::list_users(&pool.pool, None).await.unwrap();
    assert_eq!(all.len(), 4);
    let one = app::list_users(&pool.pool, Some("andrewbrown"))
        .await
        .unwrap();
    assert_eq!((one.len(), one[0].activities_count), (1, 1));
    assert!(app::list_users(&pool.pool, Some("nobody"))
        .await
        .unwrap()
        .is_empty());
}
