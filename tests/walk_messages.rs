//! The messages a new user met on the walk that found a history that lies: each says what was
//! wrong and how to fix it, against the real server. Each test is a regression test of one
//! message that misled.

mod common;

use common::{write_file, TestDb};
use predicates::prelude::*;

/// Regression: `seed` on a seeded database showed a duplicate key without the way out.
#[test]
fn seed_on_a_seeded_database_says_how_to_load_it_anew() {
    let db = TestDb::seeded("walk_seed_twice");
    db.cmd()
        .arg("seed")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("duplicate key"))
        .stderr(predicate::str::contains("`cruddur-db reset`"));
}

/// Regression: `copy --schema` into a missing database suggested `setup`, whose tables the
/// source's schema then collides with.
#[test]
fn copy_schema_into_a_missing_database_says_create_not_setup() {
    let src = TestDb::seeded("walk_copy_src");
    let dst = TestDb::unmade("walk_copy_missing");
    src.cmd()
        .args(["copy", "--from", &src.url, "--to", &dst.url, "--schema"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "create it with `cruddur-db --url URL create`",
        ))
        .stderr(predicate::str::contains("or `cruddur-db setup`").not());
    assert!(!dst.exists());
}

/// Regression: a rule for a column the source lacks said "(generated columns are not
/// copied)".
#[test]
fn a_mask_rule_for_a_missing_column_lists_the_columns() {
    let src = TestDb::seeded("walk_mask_src");
    let dst = TestDb::seeded("walk_mask_dst");
    let mask = write_file(
        src.home.path(),
        "mask.toml",
        "[users]\nemial = \"fake:email\"\n",
    );
    src.cmd()
        .args(["copy", "--from", &src.url, "--to", &dst.url, "--mask"])
        .arg(&mask)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has no column \"emial\""))
        .stderr(predicate::str::contains(
            "its columns: uuid, display_name, email",
        ))
        .stderr(predicate::str::contains("generated").not());
}

/// Regression: `--where "activities: mesage = 'x'"` blamed public.users (whose copy query
/// reached the condition through the foreign key).
#[test]
fn a_bad_where_is_reported_against_its_own_table() {
    let src = TestDb::seeded("walk_where_src");
    let dst = TestDb::seeded("walk_where_dst");
    let before = dst.scalar("SELECT count(*) FROM public.activities");
    src.cmd()
        .args(["copy", "--from", &src.url, "--to", &dst.url])
        .args(["--where", "activities: mesage = 'x'"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--where \"activities\": the condition (mesage = 'x') is not valid on public.activities",
        ))
        .stderr(predicate::str::contains("column \"mesage\" does not exist"))
        .stderr(predicate::str::contains("public.users").not());
    assert_eq!(dst.scalar("SELECT count(*) FROM public.activities"), before);
}

/// Regression: an unknown host said "failed to lookup address information" without naming
/// the host or the fix.
#[test]
fn an_unknown_host_is_named_with_the_fix() {
    let home = tempfile::tempdir().unwrap();
    common::bin(home.path())
        .args([
            "--url",
            "postgresql://cruddur:pa55word@no-such-host.invalid:5432/cruddur",
            "sessions",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the host name \"no-such-host.invalid\" does not resolve",
        ))
        .stderr(predicate::str::contains("check the host in the URL"))
        .stderr(predicate::str::contains("cruddur:****@"))
        .stderr(predicate::str::contains("pa55word").not());
}

/// Regression: `migrate lint nosuch.sql` said it "is not named <stamp>_<name>.sql".
#[test]
fn lint_of_a_missing_file_says_there_is_no_such_file() {
    let home = tempfile::tempdir().unwrap();
    for name in ["nosuch.sql", "20240101000000_nosuch.sql"] {
        common::bin(home.path())
            .args(["migrate", "lint", "--offline", name])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "no such migration file: {name}"
            )))
            .stderr(predicate::str::contains("is not named").not());
    }
}

/// Regression: `copy --help` listed `--url` and `--prod`, which copy refuses; they are still
/// refused when given.
#[test]
fn copy_help_does_not_offer_url_or_prod() {
    let home = tempfile::tempdir().unwrap();
    let help = common::bin(home.path())
        .args(["copy", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(help).unwrap();
    assert!(help.contains("--from <SOURCE>"), "{help}");
    assert!(!help.contains("--url"), "{help}");
    assert!(!help.contains("--prod "), "{help}");
    for args in [
        &[
            "copy",
            "--from",
            "local",
            "--to",
            "local",
            "--url",
            "postgresql://x@h/d",
        ][..],
        &["--prod", "copy", "--from", "local", "--to", "local"],
    ] {
        common::bin(home.path())
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("--url and --prod do not apply"));
    }
}
