//! `snapshot` against the real server: save, change the data and the schema, restore; the git
//! hook across two real branches; pruning; and each refusal.

mod common;

use common::*;
use predicates::prelude::*;

/// The snapshot databases of `db` on the server: the reserved prefix, and `db` in the comment
/// (other tests make theirs on the same server at the same time).
fn snapshot_dbs(db: &TestDb) -> Vec<String> {
    psql(
        &db.admin,
        &format!(
            "SELECT datname FROM pg_database WHERE datname LIKE 'cruddur\\_snapshot\\_%' \
             AND shobj_description(oid, 'pg_database') LIKE '%\"of\":\"{}\"%' ORDER BY 1",
            db.name
        ),
    )
    .lines()
    .map(|l| l.trim().to_string())
    .filter(|l| !l.is_empty())
    .collect()
}

/// Drops every snapshot of `db` (the test's database goes with TestDb's Drop).
fn drop_snapshots(db: &TestDb) {
    let out = db
        .cmd()
        .args(["snapshot", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    for s in list.as_array().cloned().unwrap_or_default() {
        let name = s["database"].as_str().unwrap().to_string();
        psql(&db.admin, &format!("DROP DATABASE IF EXISTS \"{name}\""));
    }
}

fn migration(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("db/migrations")).unwrap();
    write_file(
        dir,
        "db/migrations/20240301000000_add_bio.sql",
        "-- migrate:up\nALTER TABLE public.users ADD COLUMN bio text;\n\n-- migrate:down\nALTER TABLE public.users DROP COLUMN bio;\n",
    );
}

#[test]
fn a_restore_brings_back_the_rows_the_schema_and_migrate_status() {
    let db = TestDb::seeded("snap_restore");
    migration(db.home.path());
    db.cmd()
        .args(["snapshot", "save", "before-bio"])
        .assert()
        .success()
        .stderr(predicate::str::contains("saved database"));
    let users = db.scalar("SELECT count(*) FROM users");
    db.cmd().args(["migrate", "up"]).assert().success();
    db.psql("UPDATE users SET bio = 'changed'; DELETE FROM activities;");
    assert_eq!(
        db.scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = 'bio'"),
        "1"
    );

    db.cmd()
        .args(["snapshot", "restore", "before-bio"])
        .assert()
        .success()
        .stderr(predicate::str::contains("restored database"));
    assert_eq!(
        db.scalar("SELECT count(*) FROM information_schema.columns WHERE column_name = 'bio'"),
        "0"
    );
    assert_eq!(db.scalar("SELECT count(*) FROM users"), users);
    assert_ne!(db.scalar("SELECT count(*) FROM activities"), "0");
    db.cmd()
        .args(["migrate", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("pending"));
    // The restored database is the target's, owned as before, and no temporary copy is left.
    assert_eq!(snapshot_dbs(&db).len(), 1, "{:?}", snapshot_dbs(&db));
    let list = db
        .cmd()
        .args(["snapshot", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["name"], "before-bio");
    assert_eq!(list[0]["of"], db.name.as_str());
    assert!(list[0]["size_bytes"].as_i64().unwrap() > 0);
    drop_snapshots(&db);
}

#[test]
fn saving_again_replaces_the_snapshot_and_keep_prunes_the_oldest() {
    let db = TestDb::seeded("snap_keep");
    for name in ["one", "two", "three"] {
        db.cmd()
            .args(["snapshot", "save", name, "--keep=2"])
            .assert()
            .success();
    }
    let out = db.cmd().args(["snapshot", "list"]).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("three") && table.contains("two"), "{table}");
    assert!(!table.contains("one "), "{table}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pruned by the save of three (--keep): one"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.psql("DELETE FROM activities");
    db.cmd()
        .args(["snapshot", "save", "two", "--keep", "2"])
        .assert()
        .success()
        .stderr(predicate::str::contains("replaced the older one"));
    assert_eq!(snapshot_dbs(&db).len(), 2);
    db.cmd()
        .args(["snapshot", "restore", "two"])
        .assert()
        .success();
    assert_eq!(db.scalar("SELECT count(*) FROM activities"), "0");
    db.cmd()
        .args(["snapshot", "drop", "two"])
        .assert()
        .success();
    db.cmd()
        .args(["snapshot", "restore", "two"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no snapshot named \"two\""));
    drop_snapshots(&db);
}

#[test]
fn a_snapshot_with_another_session_on_the_database_is_refused_unless_forced() {
    let db = TestDb::seeded("snap_busy");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = rt.block_on(db.client());
    db.cmd()
        .args(["snapshot", "save", "busy"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("other session(s) are connected"))
        .stderr(predicate::str::contains("--force"));
    assert!(snapshot_dbs(&db).is_empty());
    db.cmd()
        .args(["snapshot", "save", "busy", "--force"])
        .assert()
        .success();
    assert!(rt.block_on(client.simple_query("SELECT 1")).is_err());
    drop_snapshots(&db);
}

#[test]
fn snapshot_refuses_a_protected_target() {
    let db = TestDb::seeded("snap_protected");
    for args in [
        &["--protected", "snapshot", "save", "x"][..],
        &["--protected", "snapshot", "restore", "x"],
        &["--protected", "snapshot", "list"],
    ] {
        db.cmd()
            .args(args)
            .assert()
            .code(3)
            .stderr(predicate::str::contains(
                "snapshot works on local databases only",
            ));
    }
    assert!(snapshot_dbs(&db).is_empty());
}

#[test]
fn snapshot_refuses_unknown_and_invalid_names_and_a_default_name_outside_git() {
    let db = TestDb::seeded("snap_names");
    db.cmd()
        .args(["snapshot", "restore", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("there are none yet"));
    for bad in ["two words", "x\";DROP DATABASE postgres;--", "-dash", ""] {
        db.cmd()
            .args(["snapshot", "save", "--", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("is not a valid snapshot name"));
    }
    db.cmd()
        .args(["snapshot", "save"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a git checkout"));
    assert!(snapshot_dbs(&db).is_empty());
}

fn git(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_hook_saves_the_branch_left_and_restores_the_branch_checked_out() {
    let db = TestDb::seeded("snap_hook");
    let repo = db.home.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    // The hook finds the target as the user's shell would: the checkout's .env.
    write_file(&repo, ".env", &format!("CONNECTION_URL={}\n", db.url));
    write_file(&repo, "README", "week 4\n");
    git(&repo, &["add", "README"]);
    git(&repo, &["commit", "-q", "-m", "week 4"]);
    db.cmd()
        .current_dir(&repo)
        .args(["snapshot", "hook", "install"])
        .assert()
        .success();
    let hook = std::fs::read_to_string(repo.join(".git/hooks/post-checkout")).unwrap();
    assert!(hook.contains("cruddur-db snapshot hook"), "{hook}");

    let checkout = |branch: &[&str]| {
        let mut args = vec!["checkout", "-q"];
        args.extend_from_slice(branch);
        String::from_utf8(git(&repo, &args).stderr).unwrap()
    };
    let said = checkout(&["-b", "week-5"]);
    assert!(said.contains("saved"), "{said}");
    assert!(
        said.contains("no snapshot for week-5, kept the database"),
        "{said}"
    );
    assert_eq!(said.trim().lines().count(), 1, "one line: {said}");
    db.psql("CREATE TABLE week5_only (id int)");

    let said = checkout(&["main"]);
    assert!(said.contains("restored snapshot main"), "{said}");
    assert_eq!(db.scalar("SELECT to_regclass('week5_only') IS NULL"), "t");
    let said = checkout(&["week-5"]);
    assert!(said.contains("restored snapshot week-5"), "{said}");
    assert_eq!(
        db.scalar("SELECT to_regclass('week5_only') IS NOT NULL"),
        "t"
    );
    let out = db
        .cmd()
        .current_dir(&repo)
        .args(["snapshot", "list", "--json"])
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let main = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "main")
        .unwrap();
    // Saved by the hook after HEAD had moved on: still main's branch and commit.
    assert_eq!(main["branch"], "main", "{main}");
    let main_tip =
        String::from_utf8(git(&repo, &["rev-parse", "--short=12", "main"]).stdout).unwrap();
    assert_eq!(main["commit"], main_tip.trim(), "{main}");

    // A server that is down says nothing and never stops the checkout.
    write_file(
        &repo,
        ".env",
        "CONNECTION_URL=postgresql://postgres@127.0.0.1:1/none\n",
    );
    let said = checkout(&["main"]);
    assert_eq!(said.trim(), "", "{said}");

    db.cmd()
        .current_dir(&repo)
        .args(["snapshot", "hook", "uninstall"])
        .assert()
        .success();
    assert!(!repo.join(".git/hooks/post-checkout").exists());
    drop_snapshots(&db);
}

#[test]
fn hook_install_leaves_a_hook_that_is_not_ours_alone() {
    let home = tempfile::tempdir().unwrap();
    let repo = home.path();
    git(repo, &["init", "-q"]);
    write_file(repo, ".git/hooks/post-checkout", "#!/bin/sh\necho mine\n");
    bin(repo)
        .args(["snapshot", "hook", "install"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not cruddur-db's"));
    assert_eq!(
        std::fs::read_to_string(repo.join(".git/hooks/post-checkout")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
}
