//! `doctor --prod`'s check "security group allows my IP", against moto's server and the
//! production-like PostgreSQL: it passes when the rule allows this workstation's IP on the
//! database port, fails with the fix when it does not, and passes after `update-sg-rule`.

mod aws_support;
mod common;
mod prod;

use aws_support::{aws_cmd, moto_url, Moto, GOOD_IP, NEW_IP};
use prod::{prod_port, ProdDb};

/// Runs `doctor --prod` with the rule's ids and this workstation's IP given; exit code and
/// stdout lines.
fn doctor(db: &ProdDb, group: &str, rule: &str) -> (i32, Vec<String>) {
    let out = aws_cmd(db.home.path(), &moto_url())
        .env("PROD_CONNECTION_URL", db.verified_url())
        .env("DB_SG_ID", group)
        .env("DB_SG_RULE_ID", rule)
        .args([
            "--prod",
            "doctor",
            "--ip",
            GOOD_IP,
            "--connect-timeout",
            "3",
        ])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn doctor_checks_the_security_group_rule() {
    let db = ProdDb::seeded("doctorsg");
    let moto = Moto::new();
    let port = i32::from(prod_port());
    let group = moto.group();
    // The rule still holds yesterday's address.
    let rule = moto.add_rule(&group, "tcp", port, port, &format!("{NEW_IP}/32"), "GITPOD");

    let (code, lines) = doctor(&db, &group, &rule);
    assert_eq!(code, 1, "{lines:#?}");
    let sg = &lines[2];
    assert!(
        sg.starts_with("fail  security group allows my IP"),
        "{lines:#?}"
    );
    assert!(
        sg.contains(GOOD_IP) && sg.contains("update-sg-rule"),
        "{sg}"
    );
    assert!(lines[3].starts_with("skip"), "{lines:#?}");

    aws_cmd(db.home.path(), &moto_url())
        .env("DB_SG_ID", &group)
        .env("DB_SG_RULE_ID", &rule)
        .args(["update-sg-rule", "--ip", GOOD_IP])
        .assert()
        .success();

    let (code, lines) = doctor(&db, &group, &rule);
    assert_eq!(code, 0, "{lines:#?}");
    assert!(lines.iter().all(|l| l.starts_with("ok ")), "{lines:#?}");
    assert!(lines[2].contains(&rule), "{}", lines[2]);
}
