//! Protected targets against the production-like server: destructive commands refuse without
//! a confirmation (exit 3, nothing written), accept the typed database name at a real
//! terminal, `--dry-run` changes nothing, and compound commands stay on the one target.

mod common;
mod prod;

use prod::{prod_password, ProdDb};

/// Every destructive command, as typed after `--prod`.
const DESTRUCTIVE: &[&[&str]] = &[&["drop"], &["reset"], &["setup"], &["schema"], &["seed"]];

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn every_destructive_command_refuses_without_confirmation() {
    let db = ProdDb::seeded("refuse");
    let before = db.snapshot();
    let wrong = format!("{}_typo", db.name);
    let no_terminal = "needs confirmation, and stdin is not a terminal".to_string();
    let yes_alone = format!("--yes also needs --confirm-db {}", db.name);
    let mismatch = |name: &str| {
        format!(
            "refused: --confirm-db {name:?} does not match the target database {:?}",
            db.name
        )
    };
    // Each way to fall short, with the reason it is refused for.
    let variants: Vec<(Vec<&str>, String)> = vec![
        (vec![], no_terminal),
        (vec!["--yes"], yes_alone),
        (vec!["--yes", "--confirm-db", &wrong], mismatch(&wrong)),
        (vec!["--confirm-db", &wrong], mismatch(&wrong)),
        (
            vec!["--yes", "--confirm-db", "cruddur"],
            mismatch("cruddur"),
        ),
    ];
    // Refusals name the target in its short form, which carries no credentials at all.
    let short = format!("localhost:{}/{} as cruddurroot", prod::prod_port(), db.name);
    for cmd in DESTRUCTIVE {
        for (extra, reason) in &variants {
            // The right name on a pipe is no confirmation: stdin is not a terminal.
            let out = db
                .cmd()
                .arg("--prod")
                .args(*cmd)
                .args(extra)
                .write_stdin(format!("{}\n", db.name))
                .output()
                .unwrap();
            let all = text(&out);
            assert_eq!(code(&out), 3, "{cmd:?} {extra:?} was not refused: {all}");
            assert!(all.contains(reason.as_str()), "{cmd:?} {extra:?}: {all}");
            assert!(
                all.contains("nothing was changed"),
                "{cmd:?} {extra:?}: {all}"
            );
            assert!(all.contains(&short), "{cmd:?} {extra:?}: {all}");
            assert!(
                !all.contains('@') && !all.contains(&prod_password()),
                "credentials shown: {all}"
            );
        }
    }
    assert!(db.exists(), "a refused command dropped the database");
    assert_eq!(
        db.snapshot(),
        before,
        "a refused command changed the database"
    );
}

#[test]
fn refusal_names_the_target_and_the_way_to_confirm() {
    let db = ProdDb::seeded("refusemsg");
    let out = db.cmd().args(["--prod", "schema"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 3, "{err}");
    assert!(err.contains("refused: protected target"), "{err}");
    assert!(err.contains("stdin is not a terminal"), "{err}");
    assert!(
        err.contains(&format!("--yes --confirm-db {}", db.name)),
        "{err}"
    );
    assert!(
        err.contains(&format!("localhost:{}/{}", prod::prod_port(), db.name)),
        "{err}"
    );
}

#[test]
fn refused_setup_creates_no_database() {
    let db = ProdDb::unmade("refusecreate");
    for cmd in [&["setup"][..], &["reset"]] {
        let out = db.cmd().arg("--prod").args(cmd).output().unwrap();
        let all = text(&out);
        assert_eq!(code(&out), 3, "{all}");
        assert!(
            all.contains("refused: protected target: ")
                && all.contains("needs confirmation, and stdin is not a terminal"),
            "{cmd:?}: {all}"
        );
    }
    assert!(!db.exists(), "a refused setup created the database");
}

#[test]
fn protected_flag_and_rds_hosts_refuse_too() {
    let local = common::TestDb::seeded("protectedflag");
    let out = local.cmd().args(["--protected", "drop"]).output().unwrap();
    let all = text(&out);
    assert_eq!(code(&out), 3, "{all}");
    assert!(
        all.contains("refused: protected target: ")
            && all.contains("needs confirmation, and stdin is not a terminal"),
        "{all}"
    );
    assert!(local.exists());
    assert_eq!(local.scalar("SELECT count(*) FROM users"), "3");
    // An RDS host is protected by its name: refused before any connection is tried.
    let out = common::bin(local.home.path())
        .args([
            "--url",
            "postgresql://cruddurroot:hunter2@cruddur-db-instance.abc123.us-east-1.rds.amazonaws.com:5432/cruddur",
            "schema",
        ])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(code(&out), 3, "{all}");
    assert!(all.contains("refused: protected target"), "{all}");
    assert!(all.contains("stdin is not a terminal"), "{all}");
    // The refusal shows the short form, which carries no credentials at all.
    assert!(
        all.contains(
            "cruddur-db-instance.abc123.us-east-1.rds.amazonaws.com:5432/cruddur as cruddurroot"
        ),
        "{all}"
    );
    assert!(!all.contains('@') && !all.contains("hunter2"), "{all}");
}

#[test]
fn a_wrong_confirm_db_stops_even_an_unprotected_target() {
    let local = common::TestDb::seeded("confirmlocal");
    let out = local
        .cmd()
        .args(["drop", "--yes", "--confirm-db", "cruddur"])
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(code(&out), 3, "{all}");
    assert!(
        all.contains(&format!(
            "refused: --confirm-db \"cruddur\" does not match the target database {:?}",
            local.name
        )),
        "{all}"
    );
    assert!(local.exists());
}

#[test]
fn typed_confirmation_is_accepted_at_a_terminal() {
    let db = ProdDb::seeded("typedok");
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
    // schema replaces the tables: the seed rows go.
    let (status, out) = db.pty(&["--prod", "schema"], &format!("{}\n", db.name));
    assert_eq!(status, 0, "{out}");
    assert!(out.contains("PROTECTED target"), "{out}");
    assert!(
        out.contains(&format!("Type the database name ({})", db.name)),
        "{out}"
    );
    // The question shows the URL, masked.
    assert!(
        out.contains("url:      postgresql://cruddurroot:****@"),
        "{out}"
    );
    assert!(!out.contains(&prod_password()), "password shown: {out}");
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "0");
    // seed, then reset (drop + setup), then drop.
    let (status, out) = db.pty(&["--prod", "seed"], &format!("{}\n", db.name));
    assert_eq!(status, 0, "{out}");
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
    db.psql("INSERT INTO users (display_name, email, handle) VALUES ('X', 'x@example.com', 'x')");
    let (status, out) = db.pty(&["--prod", "reset"], &format!("{}\n", db.name));
    assert_eq!(status, 0, "{out}");
    assert_eq!(db.scalar("SELECT count(*) FROM users"), "3");
    let (status, out) = db.pty(&["--prod", "drop"], &format!("{}\n", db.name));
    assert_eq!(status, 0, "{out}");
    assert!(!db.exists());
}

#[test]
fn typed_confirmation_with_the_wrong_name_is_rejected() {
    let db = ProdDb::seeded("typedno");
    let before = db.snapshot();
    for cmd in DESTRUCTIVE {
        let args: Vec<&str> = std::iter::once("--prod")
            .chain(cmd.iter().copied())
            .collect();
        let typed_wrong = [
            "cruddur\n".to_string(),
            "\n".to_string(),
            format!("{}x\n", db.name),
            format!("{}\n", db.name.to_uppercase()),
        ];
        for typed in &typed_wrong {
            let (status, out) = db.pty(&args, typed);
            assert_eq!(status, 3, "{cmd:?} typed {typed:?}: {out}");
            let reason = if typed.trim().is_empty() {
                "refused: protected target: ".to_string()
            } else {
                format!(
                    "refused: protected target: you typed {:?}, not the database name {:?}",
                    typed.trim(),
                    db.name
                )
            };
            assert!(out.contains(&reason), "{cmd:?} typed {typed:?}: {out}");
        }
    }
    assert_eq!(db.snapshot(), before);
}

#[test]
fn dry_run_leaves_the_database_byte_for_byte_unchanged() {
    let db = ProdDb::seeded("dryrun");
    let before = db.snapshot();
    let runs: &[&[&str]] = &[
        &["drop", "--dry-run"],
        &["drop", "--force", "--dry-run"],
        &["reset", "--dry-run"],
        &["setup", "--dry-run"],
        &["schema", "--dry-run"],
        &["seed", "--dry-run"],
        &["create", "--dry-run"],
        &["connect", "--write", "--dry-run"],
    ];
    for args in runs {
        let out = db.cmd().arg("--prod").args(*args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(code(&out), 0, "{args:?}: {}", text(&out));
        assert!(
            stdout.contains("would"),
            "{args:?} printed no plan: {stdout}"
        );
        assert!(
            text(&out).contains("postgresql://cruddurroot:****@"),
            "{args:?} showed no masked URL: {}",
            text(&out)
        );
        assert!(
            !text(&out).contains(&prod_password()),
            "password shown: {}",
            text(&out)
        );
    }
    let out = db
        .cmd()
        .args(["--prod", "schema", "--dry-run"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("statements"), "{stdout}");
    assert!(stdout.contains("in one transaction"), "{stdout}");
    assert!(stdout.contains(&db.name), "{stdout}");
    assert!(db.exists());
    assert_eq!(db.snapshot(), before, "a dry run changed the database");
}

#[test]
fn compound_commands_stay_on_the_one_resolved_target() {
    // Regression: the old `setup prod` dropped the LOCAL database, then loaded prod.
    let local = common::TestDb::seeded("onetarget_local");
    local.psql(
        "INSERT INTO users (display_name, email, handle) VALUES ('Local', 'local@example.com', 'local_marker')",
    );
    let prod = ProdDb::unmade("onetarget");
    let run = |args: &[&str]| {
        let out = prod
            .cmd()
            .env("CONNECTION_URL", &local.url)
            .env("DATABASE_URL", &local.url)
            .arg("--prod")
            .args(args)
            .args(["--yes", "--confirm-db", &prod.name])
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{args:?}: {}", text(&out));
    };
    run(&["setup"]);
    assert_eq!(prod.scalar("SELECT count(*) FROM users"), "3");
    run(&["reset", "--force"]);
    assert_eq!(prod.scalar("SELECT count(*) FROM users"), "3");
    assert!(local.exists(), "the local database was dropped");
    assert_eq!(local.scalar("SELECT count(*) FROM users"), "4");
    assert_eq!(
        local.scalar("SELECT count(*) FROM users WHERE handle = 'local_marker'"),
        "1"
    );
}
