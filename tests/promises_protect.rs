//! Protection promises of the README: `.rds.amazonaws.com.cn` hosts are protected; `post-crud`
//! and `add-user` ask on `--prod` and on RDS host names; `connect --write` takes the database
//! name typed at a terminal and refuses a wrong one.

mod common;
mod prod;

use prod::{in_pty, prod_password, ProdDb};

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

/// An RDS host name in the China regions, with a password that must never be shown.
const CN_URL: &str =
    "postgresql://cruddurroot:hunter2@cruddur-db.abc123.cn-north-1.rds.amazonaws.com.cn:5432/cruddur";
/// The same in a commercial region.
const RDS_URL: &str =
    "postgresql://cruddurroot:hunter2@cruddur-db.abc123.us-east-1.rds.amazonaws.com:5432/cruddur";

/// The app's writes as typed after the target flags.
fn app_writes() -> Vec<Vec<&'static str>> {
    vec![
        vec!["post-crud", "--handle", "andrewbrown", "--message", "hello"],
        vec![
            "post-crud",
            "--handle",
            "andrewbrown",
            "--message",
            "fill {n}",
            "--count",
            "3",
        ],
        vec![
            "add-user",
            "--name",
            "Promise Keeper",
            "--email",
            "promise@example.com",
            "--handle",
            "promisekeeper",
        ],
    ]
}

#[test]
fn rds_hosts_in_the_china_regions_are_protected() {
    let h = tempfile::tempdir().unwrap();
    for cmd in [&["schema"][..], &["drop"], &["reset"], &["seed"]] {
        let out = common::bin(h.path())
            .args(["--url", CN_URL])
            .args(cmd)
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(code(&out), 3, "{cmd:?}: {all}");
        assert!(all.contains("refused: protected target"), "{cmd:?}: {all}");
        assert!(
            all.contains("needs confirmation, and stdin is not a terminal"),
            "{cmd:?}: {all}"
        );
        assert!(
            all.contains("cruddur-db.abc123.cn-north-1.rds.amazonaws.com.cn:5432/cruddur"),
            "{cmd:?}: {all}"
        );
        assert!(!all.contains("hunter2"), "{all}");
    }
    // At a terminal the question says why: the host is an RDS host. A wrong answer stops it
    // before any connection is tried.
    let (status, out) = in_pty(
        &["--url", CN_URL, "schema"],
        &[("HOME", h.path().display().to_string())],
        "cruddur_typo\n",
    );
    assert_eq!(status, 3, "{out}");
    assert!(out.contains("PROTECTED target (an RDS host)"), "{out}");
    assert!(
        out.contains("url:      postgresql://cruddurroot:****@"),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");
    assert!(
        out.contains("you typed \"cruddur_typo\", not the database name \"cruddur\""),
        "{out}"
    );
}

#[test]
fn app_writes_ask_on_rds_hosts() {
    let h = tempfile::tempdir().unwrap();
    for url in [RDS_URL, CN_URL] {
        for cmd in app_writes() {
            // No confirmation at all, then --yes alone: both refused, with the reason.
            let out = common::bin(h.path())
                .args(["--url", url])
                .args(&cmd)
                .output()
                .unwrap();
            let all = text(&out);
            assert_eq!(code(&out), 3, "{cmd:?}: {all}");
            assert!(
                all.contains("refused: protected target: post")
                    || all.contains("refused: protected target: add the user"),
                "{cmd:?}: {all}"
            );
            assert!(
                all.contains("needs confirmation, and stdin is not a terminal; pass --yes --confirm-db cruddur"),
                "{cmd:?}: {all}"
            );
            // Refusals show the short form, which carries no credentials at all.
            assert!(all.contains(":5432/cruddur as cruddurroot"), "{all}");
            assert!(!all.contains('@') && !all.contains("hunter2"), "{all}");

            let out = common::bin(h.path())
                .args(["--url", url])
                .args(&cmd)
                .arg("--yes")
                .output()
                .unwrap();
            let all = text(&out);
            assert_eq!(code(&out), 3, "{cmd:?} --yes: {all}");
            assert!(
                all.contains("--yes also needs --confirm-db cruddur to "),
                "{cmd:?} --yes: {all}"
            );
        }
    }
}

#[test]
fn app_writes_ask_on_prod_and_write_once_confirmed() {
    let db = ProdDb::seeded("appwrites");
    let before = db.snapshot();
    let cruds: u32 = db
        .scalar("SELECT count(*) FROM activities")
        .parse()
        .unwrap();
    for cmd in app_writes() {
        let out = db.cmd().arg("--prod").args(&cmd).output().unwrap();
        let all = text(&out);
        assert_eq!(code(&out), 3, "{cmd:?}: {all}");
        assert!(
            all.contains(&format!(
                "needs confirmation, and stdin is not a terminal; pass --yes --confirm-db {}",
                db.name
            )),
            "{cmd:?}: {all}"
        );
        let out = db
            .cmd()
            .arg("--prod")
            .args(&cmd)
            .args(["--yes", "--confirm-db", "cruddur"])
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(code(&out), 3, "{cmd:?}: {all}");
        assert!(
            all.contains(&format!(
                "refused: --confirm-db \"cruddur\" does not match the target database {:?}",
                db.name
            )),
            "{cmd:?}: {all}"
        );
        assert!(
            !all.contains('@') && !all.contains(&prod_password()),
            "{all}"
        );
    }
    assert_eq!(
        db.snapshot(),
        before,
        "a refused write changed the database"
    );

    // Confirmed, each writes.
    for cmd in app_writes() {
        db.cmd()
            .arg("--prod")
            .args(&cmd)
            .args(["--yes", "--confirm-db", &db.name])
            .assert()
            .success();
    }
    assert_eq!(
        db.scalar("SELECT count(*) FROM activities"),
        (cruds + 4).to_string()
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM users WHERE handle = 'promisekeeper'"),
        "1"
    );
}

#[test]
fn connect_write_takes_the_typed_name_and_refuses_a_wrong_one() {
    let db = ProdDb::new("connectpty");
    let home = db.home.path();
    let env = [
        ("HOME", home.display().to_string()),
        ("XDG_CACHE_HOME", home.join(".cache").display().to_string()),
        ("PROD_CONNECTION_URL", db.verified_url()),
        ("PATH", common::fake_psql(home)),
    ];
    let ran = home.join("psql-seen");

    for typed in [
        "cruddur\n".to_string(),
        format!("{}x\n", db.name),
        "\n".into(),
    ] {
        let (status, out) = in_pty(&["--prod", "connect", "--write"], &env, &typed);
        assert_eq!(status, 3, "typed {typed:?}: {out}");
        assert!(out.contains("open a WRITABLE psql session"), "{out}");
        assert!(
            out.contains("refused: protected target: you typed")
                || out.contains("refused: protected target: no answer"),
            "typed {typed:?}: {out}"
        );
        assert!(!ran.exists(), "psql started after a wrong name: {out}");
        assert!(
            out.contains("url:      postgresql://cruddurroot:****@"),
            "{out}"
        );
        assert!(!out.contains(&prod_password()), "{out}");
    }

    let (status, out) = in_pty(
        &["--prod", "connect", "--write"],
        &env,
        &format!("{}\n", db.name),
    );
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains(&format!("Type the database name ({})", db.name)),
        "{out}"
    );
    // psql ran, writable: no read-only PGOPTIONS.
    let seen = common::psql_seen(home);
    assert!(!seen.env.contains_key("PGOPTIONS"), "{}", seen.raw);
}
