//! A failure injected at each step of `snapshot restore` (the `test-hooks` feature) leaves a
//! working database under the target's name: the old one before the swap, the restored one
//! after it, and no half-made copy behind.

mod common;

use common::*;
use predicates::prelude::*;

fn leftovers(db: &TestDb) -> String {
    psql(
        &db.admin,
        "SELECT string_agg(datname, ',') FROM pg_database \
         WHERE datname LIKE 'cruddur\\_snapshot\\_%\\_restore' OR datname LIKE 'cruddur\\_snapshot\\_%\\_aside'",
    )
    .trim()
    .to_string()
}

#[test]
fn a_failure_at_any_step_of_a_restore_leaves_a_working_database() {
    for step in ["copy", "aside", "swap"] {
        let db = TestDb::seeded(&format!("snap_fail_{step}"));
        db.cmd().args(["snapshot", "save", "s"]).assert().success();
        db.psql("CREATE TABLE after_the_save (id int)");
        db.cmd()
            .env("CRUDDUR_TEST_SNAPSHOT_FAIL_AT", step)
            .args(["snapshot", "restore", "s"])
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "failure injected at step \"{step}\""
            )))
            .stderr(predicate::str::contains("is as it was"));
        // The old database, whole, under its name.
        assert_eq!(
            db.scalar("SELECT to_regclass('after_the_save') IS NOT NULL"),
            "t",
            "{step}"
        );
        assert_ne!(db.scalar("SELECT count(*) FROM users"), "0", "{step}");
        assert_eq!(leftovers(&db), "", "{step}");
        // And the snapshot still restores.
        db.cmd()
            .args(["snapshot", "restore", "s"])
            .assert()
            .success();
        assert_eq!(
            db.scalar("SELECT to_regclass('after_the_save') IS NULL"),
            "t"
        );
        db.cmd().args(["snapshot", "drop", "s"]).assert().success();
    }

    // After the swap: the restored database is in place; the old one is kept aside, named.
    let db = TestDb::seeded("snap_fail_cleanup");
    db.cmd().args(["snapshot", "save", "s"]).assert().success();
    db.psql("CREATE TABLE after_the_save (id int)");
    db.cmd()
        .env("CRUDDUR_TEST_SNAPSHOT_FAIL_AT", "cleanup")
        .args(["snapshot", "restore", "s"])
        .assert()
        .success()
        .stderr(predicate::str::contains("could not be dropped"));
    assert_eq!(
        db.scalar("SELECT to_regclass('after_the_save') IS NULL"),
        "t"
    );
    let aside = leftovers(&db);
    assert!(aside.ends_with("_aside"), "{aside}");
    psql(&db.admin, &format!("DROP DATABASE \"{aside}\""));
    db.cmd().args(["snapshot", "drop", "s"]).assert().success();
}
