//! The adversary's list for masking, secrets and copy (issue 27), kept as regression tests
//! against the real servers: each test is named after the hole it keeps closed.

mod common;
mod prod;

use common::TestDb;
use prod::ProdDb;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Every row of the target's Cruddur tables, to see that nothing was written.
fn rows(db: &TestDb) -> String {
    db.psql(
        "SELECT (SELECT string_agg(email, ',' ORDER BY email) FROM users) || '/' || \
         (SELECT count(*) FROM activities)",
    )
}

/// Regression: `--where "users: false) UNION ALL SELECT ..."` broke out of its parentheses
/// and every real email reached the target.
#[test]
fn where_breaking_out_of_its_parentheses_is_refused_before_anything_runs() {
    let src = TestDb::seeded("adv_where_src");
    let dst = TestDb::seeded("adv_where_dst");
    dst.psql("DELETE FROM activities; DELETE FROM users WHERE handle <> 'bayko'");
    let before = rows(&dst);
    for condition in [
        "users: false) UNION ALL SELECT uuid, display_name, email, handle, cognito_user_id, \
         created_at FROM users WHERE (true",
        "users: true; DELETE FROM users",
        "users: true ORDER BY 1",
        "users: true -- the rest is a comment",
    ] {
        let out = dst
            .cmd()
            .args([
                "copy", "--from", &src.url, "--to", "local", "--where", condition,
            ])
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{condition}: {err}");
        assert!(err.contains("one boolean expression"), "{err}");
        assert!(err.contains("nothing was copied"), "{err}");
        assert_eq!(rows(&dst), before, "{condition}: the target changed");
    }
    // A condition the server cannot plan on its table is refused the same way.
    let out = dst
        .cmd()
        .args([
            "copy",
            "--from",
            &src.url,
            "--to",
            "local",
            "--where",
            "users: no_such = 1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no_such"), "{}", stderr(&out));
    assert_eq!(rows(&dst), before);
}

/// Regression: a subset copy exited 1 after committing (its counts were queried after the
/// commit) and the audit line said `failed`.
#[test]
fn a_subset_copy_from_production_is_audited_as_what_happened() {
    let src = ProdDb::seeded("adv_subset");
    let dst = TestDb::seeded("adv_subset_dst");
    let state = dst.home.path().join("state");
    let out = dst
        .cmd()
        .env("PROD_CONNECTION_URL", src.verified_url())
        .env("CRUDDUR_STATE_DIR", &state)
        .args([
            "copy",
            "--from",
            "prod",
            "--to",
            "local",
            "--where",
            "users: handle = 'bayko'",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("public.users: 1 rows (1 selected, 0 referenced)"),
        "{err}"
    );
    let log = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert!(log.contains("\"outcome\":\"ok\""), "{log}");
    assert!(
        log.contains("committed: 2 table(s), 1 rows, a subset (users: (handle = 'bayko'))"),
        "{log}"
    );
}

/// Regression: composite types, arrays of them, domains over them, tsvector and hstore
/// columns were copied without a rule and without a refusal.
#[test]
fn strict_masking_asks_for_every_type_that_can_carry_text() {
    let src = TestDb::new("adv_types_src");
    src.psql(
        "CREATE EXTENSION IF NOT EXISTS hstore; \
         CREATE TYPE person AS (name text, email text); \
         CREATE TYPE wrapper AS (inner_person person, n int); \
         CREATE TYPE point2 AS (x int, y int); \
         CREATE DOMAIN person_d AS person; \
         CREATE TABLE people (id int PRIMARY KEY, who person, many person[], nested wrapper, \
             dom person_d, words tsvector, attrs hstore, spot point2, spots point2[], \
             stamp timestamptz, flag bool); \
         INSERT INTO people VALUES (1, ('Real Person', 'secret.person@gmail.com'), \
             ARRAY[('A', 'a@gmail.com')::person], (('B', 'b@gmail.com'), 1), \
             ('C', 'c@gmail.com'), to_tsvector('secret.person@gmail.com'), \
             'email => \"d@gmail.com\"', (1, 2), ARRAY[(1, 2)::point2], now(), true);",
    );
    let dst = TestDb::new("adv_types_dst");
    let out = dst
        .cmd()
        .args(["copy", "--from", &src.url, "--to", "local", "--schema"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("[people]"), "{err}");
    for column in ["who", "many", "nested", "dom", "words", "attrs"] {
        assert!(
            err.contains(&format!("\n{column} = ")),
            "{column} not asked for: {err}"
        );
    }
    for column in ["id", "spot", "spots", "stamp", "flag"] {
        assert!(
            !err.contains(&format!("\n{column} = ")),
            "{column} asked for: {err}"
        );
    }
    assert!(err.contains("--no-mask"), "{err}");
    assert_eq!(
        dst.scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'people'"),
        "0",
        "something was written"
    );
}
