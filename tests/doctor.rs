//! `doctor` against the production-like server: all checks pass on a set-up database, and the
//! failing check is named (the steps after it skipped) when the port is closed, the CA is
//! wrong, the password is wrong, the database or its schema is missing.

mod common;
mod prod;

use prod::{closed_port, make_ca, prod_ca, prod_password, prod_url, verify_full, with, ProdDb};

const TITLES: [&str; 9] = [
    "URL parses",
    "DNS resolves",
    "security group allows my IP",
    "TCP port reachable",
    "TLS handshake and certificate",
    "authentication",
    "database exists",
    "schema loaded",
    "server version",
];

/// The index of the security-group check.
const SG: usize = 2;

/// Runs `doctor` on `url` (as PROD_CONNECTION_URL with `--prod`); exit code and stdout lines.
fn doctor(db: &ProdDb, url: &str, extra: &[&str]) -> (i32, Vec<String>, String) {
    let out = db
        .cmd()
        .env("PROD_CONNECTION_URL", url)
        .args(["--prod", "doctor", "--connect-timeout", "3"])
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // Where the URL parsed, its line shows it masked: the check below then means something.
    if let Some(line) = stdout.lines().find(|l| l.starts_with("ok    URL parses")) {
        assert!(line.contains(":****@"), "{line}");
    }
    assert!(
        !stdout.contains(&prod_password()) && !stderr.contains(&prod_password()),
        "password shown: {stdout}{stderr}"
    );
    (
        out.status.code().unwrap_or(-1),
        stdout.lines().map(str::to_string).collect(),
        stderr,
    )
}

/// Checks the report: one line per check in order, `ok` up to `failing`, `fail` there (with a
/// fix), `skip` after it. Returns the failing line.
fn assert_fails_at(lines: &[String], failing: &str) -> String {
    assert_eq!(lines.len(), TITLES.len(), "{lines:#?}");
    let at = TITLES.iter().position(|t| *t == failing).unwrap();
    for (i, (line, title)) in lines.iter().zip(TITLES).enumerate() {
        let status = match i.cmp(&at) {
            // No DB_INSTANCE_ID or DB_SG_ID here: tests/doctor_sg.rs covers that check.
            std::cmp::Ordering::Less if i == SG => "skip",
            std::cmp::Ordering::Less => "ok",
            std::cmp::Ordering::Equal => "fail",
            std::cmp::Ordering::Greater => "skip",
        };
        assert!(
            line.starts_with(&format!("{status:<4}  {title}")),
            "line {i} should be {status} {title}: {lines:#?}"
        );
    }
    assert!(lines[at].contains(" -- fix: "), "no fix: {}", lines[at]);
    lines[at].clone()
}

#[test]
fn doctor_passes_on_a_set_up_production_like_server() {
    let db = ProdDb::unmade("doctorok");
    // Load the schema there with the binary itself.
    db.cmd()
        .args([
            "--url",
            &db.verified_url(),
            "setup",
            "--yes",
            "--confirm-db",
            &db.name,
        ])
        .assert()
        .success();
    let (code, lines, stderr) = doctor(&db, &db.verified_url(), &[]);
    assert_eq!(code, 0, "{lines:#?}{stderr}");
    assert_eq!(lines.len(), TITLES.len(), "{lines:#?}");
    for (i, (line, title)) in lines.iter().zip(TITLES).enumerate() {
        let status = if i == SG { "skip" } else { "ok" };
        assert!(
            line.starts_with(&format!("{status:<4}  {title}")),
            "{lines:#?}"
        );
    }
    assert!(lines[SG].contains("DB_INSTANCE_ID"), "{}", lines[SG]);
    assert!(
        lines[4].contains("certificate verified for localhost"),
        "{}",
        lines[4]
    );
    assert!(lines[8].contains("PostgreSQL 15"), "{}", lines[8]);

    let (code, lines, _) = doctor(&db, &db.verified_url(), &["--json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&lines.join("\n")).unwrap();
    assert_eq!(json["ok"], true);
    let checks = json["checks"].as_array().unwrap();
    let names: Vec<&str> = checks
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "url",
            "dns",
            "security-group",
            "tcp",
            "tls",
            "auth",
            "database",
            "schema",
            "version"
        ]
    );
    assert!(
        checks
            .iter()
            .all(|c| c["status"] == "ok" || c["check"] == "security-group"),
        "{json:#}"
    );
    assert!(
        json["target"].as_str().unwrap().contains(":****@"),
        "{json:#}"
    );
}

#[test]
fn doctor_names_a_closed_port() {
    let db = ProdDb::unmade("doctorport");
    let mut url = prod_url();
    let closed = closed_port();
    url.set_port(Some(closed.port)).unwrap();
    let url = with(&url, None, None, Some(&verify_full(&prod_ca())));
    let (code, lines, stderr) = doctor(&db, &url, &[]);
    assert_eq!(code, 1, "{stderr}");
    let line = assert_fails_at(&lines, "TCP port reachable");
    assert!(line.contains("refused"), "{line}");
    assert!(stderr.contains("TCP port reachable"), "{stderr}");
}

#[test]
fn doctor_names_a_wrong_ca() {
    let db = ProdDb::unmade("doctorca");
    let wrong = make_ca(db.home.path(), "wrong-ca");
    let url = with(&prod_url(), None, None, Some(&verify_full(&wrong)));
    let (code, lines, _) = doctor(&db, &url, &[]);
    assert_eq!(code, 1);
    let line = assert_fails_at(&lines, "TLS handshake and certificate");
    assert!(line.contains("unknown CA"), "{line}");
    assert!(line.contains(&wrong.display().to_string()), "{line}");
}

#[test]
fn doctor_names_a_host_name_mismatch() {
    let db = ProdDb::unmade("doctorhost");
    let url = with(
        &prod_url(),
        Some("127.0.0.1"),
        None,
        Some(&verify_full(&prod_ca())),
    );
    let (code, lines, _) = doctor(&db, &url, &[]);
    assert_eq!(code, 1);
    let line = assert_fails_at(&lines, "TLS handshake and certificate");
    assert!(line.contains("host name mismatch"), "{line}");
}

#[test]
fn doctor_names_a_wrong_password() {
    let db = ProdDb::unmade("doctorpw");
    let mut url = prod_url();
    url.set_password(Some("not-the-password")).unwrap();
    let url = with(&url, None, None, Some(&verify_full(&prod_ca())));
    let (code, lines, _) = doctor(&db, &url, &[]);
    assert_eq!(code, 1);
    let line = assert_fails_at(&lines, "authentication");
    assert!(line.contains("password authentication failed"), "{line}");
    assert!(!line.contains("not-the-password"), "{line}");
}

#[test]
fn doctor_names_a_missing_database_and_a_missing_schema() {
    let db = ProdDb::unmade("doctordb");
    let (code, lines, _) = doctor(&db, &db.verified_url(), &[]);
    assert_eq!(code, 1);
    let line = assert_fails_at(&lines, "database exists");
    assert!(line.contains("does not exist"), "{line}");
    let db = ProdDb::new("doctorschema");
    let (code, lines, _) = doctor(&db, &db.verified_url(), &[]);
    assert_eq!(code, 1);
    let line = assert_fails_at(&lines, "schema loaded");
    assert!(line.contains("public.users"), "{line}");
    assert!(line.contains("cruddur-db --prod schema"), "{line}");
}

#[test]
fn doctor_explains_tls_required_and_bad_urls() {
    let db = ProdDb::unmade("doctortls");
    let url = with(&prod_url(), None, None, Some("sslmode=disable"));
    let (code, lines, _) = doctor(&db, &url, &[]);
    assert_eq!(code, 1);
    let line = assert_fails_at(&lines, "authentication");
    assert!(line.contains("requires TLS"), "{line}");
    assert!(line.contains("sslmode=require or stronger"), "{line}");

    let bad = format!(
        "postgresql://cruddurroot:{}@localhost:notaport/cruddur",
        prod_password()
    );
    let (code, lines, _) = doctor(&db, &bad, &["--json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&lines.join("\n")).unwrap();
    assert_eq!(json["ok"], false);
    let statuses: Vec<&str> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["fail", "skip", "skip", "skip", "skip", "skip", "skip", "skip", "skip"]
    );
    assert!(
        json["checks"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("****"),
        "{json:#}"
    );
}
