//! `update-sg-rule` against moto's server (through a recording proxy that lists every AWS call)
//! and a local HTTP server playing the public-IP services.

mod aws_support;
mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use aws_support::{aws_cmd, venv_bin, IpServer, Moto, Recorder, RuleRow, GOOD_IP, NEW_IP};
use predicates::str::contains;
use tempfile::TempDir;

/// An empty HOME for one run of the binary.
fn home() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// A run's stdout as text.
fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A run's stderr as text.
fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `update-sg-rule --group-id SG --rule-id RULE` against `endpoint`; the caller adds the rest.
fn update(home: &Path, endpoint: &str, sg: &str, rule: &str) -> Command {
    let mut cmd = aws_cmd(home, endpoint);
    cmd.args(["update-sg-rule", "--group-id", sg, "--rule-id", rule]);
    cmd
}

/// Runs `cmd`, asserts that it succeeded (showing its stderr when not) and returns its output.
fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

/// What most tests start from: moto, a new group holding one inbound rule for GOOD_IP/32 on
/// tcp 5432 tagged GITPOD, a recorder in front of moto, and an empty HOME.
/// Returns `(moto, group id, rule id, recorder, home)`.
fn fixture() -> (Moto, String, String, Recorder, TempDir) {
    let moto = Moto::new();
    let sg = moto.group();
    let rule = moto.add_rule(&sg, "tcp", 5432, 5432, &format!("{GOOD_IP}/32"), "GITPOD");
    (moto, sg, rule, Recorder::new(), home())
}

/// The rules of a group without one of them.
fn without(rules: &[RuleRow], id: &str) -> Vec<RuleRow> {
    rules.iter().filter(|r| r.id != id).cloned().collect()
}

fn tcp_rule(id: &str, port: i32, ip: &str, desc: &str) -> RuleRow {
    RuleRow {
        id: id.to_string(),
        egress: false,
        protocol: "tcp".to_string(),
        from: port,
        to: port,
        cidr: Some(format!("{ip}/32")),
        description: Some(desc.to_string()),
    }
}

#[test]
fn explicit_ids_change_only_that_rule_to_ip_32_on_its_port() {
    let moto = Moto::new();
    let sg = moto.group();
    let rule = moto.add_rule(&sg, "tcp", 5432, 5432, "198.51.100.7/32", "GITPOD");
    moto.add_rule(&sg, "tcp", 22, 22, "52.95.110.77/32", "ssh from the office");
    moto.add_rule(&sg, "tcp", 5432, 5432, "52.95.0.0/16", "office");
    let before = moto.rules(&sg);
    let ips = IpServer::start();
    let rec = Recorder::new();
    let h = home();

    // The old script's variables keep working.
    let out = run_ok(
        aws_cmd(h.path(), &rec.url)
            .args(["update-sg-rule"])
            .env("DB_SG_ID", &sg)
            .env("DB_SG_RULE_ID", &rule)
            .env("CRUDDUR_IP_URL", ips.url(&format!("/ip/{NEW_IP}"))),
    );
    assert_eq!(
        stdout(&out),
        format!("{rule}: 198.51.100.7/32 -> {NEW_IP}/32 (tcp 5432 in {sg})\n")
    );
    assert_eq!(rec.writes(), ["ModifySecurityGroupRules"]);
    let after = moto.rules(&sg);
    assert_eq!(
        moto.rule(&sg, &rule),
        tcp_rule(&rule, 5432, NEW_IP, "GITPOD")
    );
    assert_eq!(without(&after, &rule), without(&before, &rule));
}

#[test]
fn unchanged_ip_makes_no_write_call() {
    let (moto, sg, rule, rec, h) = fixture();
    let before = moto.rules(&sg);

    let out = run_ok(update(h.path(), &rec.url, &sg, &rule).args(["--ip", GOOD_IP]));
    assert!(
        stdout(&out).contains("already up to date"),
        "{}",
        stdout(&out)
    );
    // The proof: the recording proxy saw the one read and nothing else.
    assert_eq!(rec.actions(), ["DescribeSecurityGroupRules"]);
    assert_eq!(moto.rules(&sg), before);
}

#[test]
fn a_changed_description_is_a_change() {
    let moto = Moto::new();
    let sg = moto.group();
    let rule = moto.add_rule(&sg, "tcp", 5432, 5432, &format!("{GOOD_IP}/32"), "old tag");
    let rec = Recorder::new();
    let h = home();
    update(h.path(), &rec.url, &sg, &rule)
        .args(["--ip", GOOD_IP])
        .assert()
        .success();
    assert_eq!(rec.writes(), ["ModifySecurityGroupRules"]);
    assert_eq!(
        moto.rule(&sg, &rule),
        tcp_rule(&rule, 5432, GOOD_IP, "GITPOD")
    );
}

#[test]
fn a_rule_on_all_ports_is_narrowed_to_tcp_on_the_database_port() {
    let moto = Moto::new();
    let sg = moto.group();
    let wide = moto.add_rule(&sg, "-1", 0, 0, "0.0.0.0/0", "GITPOD");
    let range = moto.add_rule(&sg, "tcp", 1000, 6000, "52.95.0.0/16", "GITPOD2");
    let rec = Recorder::new();
    let h = home();

    let out = run_ok(update(h.path(), &rec.url, &sg, &wide).args(["--ip", NEW_IP]));
    assert!(
        stderr(&out).contains("narrowing it to tcp 5432"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        moto.rule(&sg, &wide),
        tcp_rule(&wide, 5432, NEW_IP, "GITPOD")
    );

    // The port of the production URL decides when the rule does not.
    update(h.path(), &rec.url, &sg, &range)
        .args(["--ip", NEW_IP])
        .args(["--description", "GITPOD2"])
        .env(
            "PROD_CONNECTION_URL",
            "postgresql://root:pw@db.example:6543/cruddur",
        )
        .assert()
        .success();
    assert_eq!(
        moto.rule(&sg, &range),
        tcp_rule(&range, 6543, NEW_IP, "GITPOD2")
    );
}

#[test]
fn discovery_creates_the_rule_when_missing_then_leaves_it() {
    let moto = Moto::new();
    let sg = moto.group();
    let other = moto.add_rule(&sg, "tcp", 5432, 5432, "52.95.0.0/16", "office");
    let db = moto.instance(&[&sg], 5432);
    let ips = IpServer::start();
    let rec = Recorder::new();
    let h = home();

    let out = run_ok(
        aws_cmd(h.path(), &rec.url)
            .args(["update-sg-rule", "--json"])
            .env("DB_INSTANCE_ID", &db)
            .env("CRUDDUR_IP_URL", ips.url(&format!("/ip/{GOOD_IP}"))),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["action"], "create");
    assert_eq!(report["changed"], true);
    assert_eq!(report["old_cidr"], serde_json::Value::Null);
    assert_eq!(report["new_cidr"], format!("{GOOD_IP}/32"));
    assert_eq!(report["ip_source"], ips.url(&format!("/ip/{GOOD_IP}")));
    let created = report["rule_id"].as_str().unwrap().to_string();
    assert_eq!(
        rec.actions(),
        [
            "DescribeDBInstances",
            "DescribeSecurityGroupRules",
            "AuthorizeSecurityGroupIngress"
        ]
    );
    let rules = moto.rules(&sg);
    let inbound: Vec<&RuleRow> = rules.iter().filter(|r| !r.egress).collect();
    assert_eq!(inbound.len(), 2, "{rules:?}");
    assert_eq!(
        moto.rule(&sg, &created),
        tcp_rule(&created, 5432, GOOD_IP, "GITPOD")
    );
    assert_eq!(moto.rule(&sg, &other).cidr.as_deref(), Some("52.95.0.0/16"));

    // Run again: found by its description, up to date, no write.
    let rec2 = Recorder::new();
    let out = run_ok(aws_cmd(h.path(), &rec2.url).args([
        "update-sg-rule",
        "--db-instance",
        &db,
        "--ip",
        GOOD_IP,
    ]));
    assert_eq!(
        stdout(&out),
        format!("{created}: {GOOD_IP}/32 already up to date (tcp 5432 in {sg})\n")
    );
    assert!(rec2.writes().is_empty(), "{:?}", rec2.actions());
    assert_eq!(moto.rules(&sg), rules);
}

#[test]
fn discovery_updates_the_tagged_rule_on_the_instance_port() {
    let moto = Moto::new();
    let sg1 = moto.group();
    let sg2 = moto.group();
    // Tagged, but on another port: not this database's rule.
    let elsewhere = moto.add_rule(&sg1, "tcp", 5432, 5432, "52.95.110.50/32", "GITPOD");
    let mine = moto.add_rule(&sg2, "tcp", 5433, 5433, "52.95.110.51/32", "GITPOD");
    let office = moto.add_rule(&sg2, "tcp", 5433, 5433, "52.95.110.52/32", "office");
    let db = moto.instance(&[&sg1, &sg2], 5433);
    let (before1, before2) = (moto.rules(&sg1), moto.rules(&sg2));
    let rec = Recorder::new();
    let h = home();

    let out = run_ok(aws_cmd(h.path(), &rec.url).args([
        "update-sg-rule",
        "--db-instance",
        &db,
        "--ip",
        NEW_IP,
    ]));
    assert_eq!(
        stdout(&out),
        format!("{mine}: 52.95.110.51/32 -> {NEW_IP}/32 (tcp 5433 in {sg2})\n")
    );
    assert!(stderr(&out).contains(&elsewhere), "{}", stderr(&out));
    assert_eq!(rec.writes(), ["ModifySecurityGroupRules"]);
    assert_eq!(moto.rules(&sg1), before1);
    assert_eq!(
        moto.rule(&sg2, &mine),
        tcp_rule(&mine, 5433, NEW_IP, "GITPOD")
    );
    assert_eq!(without(&moto.rules(&sg2), &mine), without(&before2, &mine));
    assert_eq!(
        moto.rule(&sg2, &office).cidr.as_deref(),
        Some("52.95.110.52/32")
    );
}

#[test]
fn a_group_alone_finds_or_creates_the_tagged_rule_in_it() {
    let moto = Moto::new();
    let sg = moto.group();
    let rec = Recorder::new();
    let h = home();
    let out = run_ok(aws_cmd(h.path(), &rec.url).args([
        "update-sg-rule",
        "--group-id",
        &sg,
        "--ip",
        GOOD_IP,
        "--json",
    ]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = report["rule_id"].as_str().unwrap();
    assert_eq!(moto.rule(&sg, id), tcp_rule(id, 5432, GOOD_IP, "GITPOD"));
}

#[test]
fn dry_run_writes_nothing() {
    let (moto, sg, rule, rec, h) = fixture();
    let empty = moto.group();
    let db = moto.instance(&[&empty], 5432);
    let (before, before_empty) = (moto.rules(&sg), moto.rules(&empty));

    let out = run_ok(
        update(h.path(), &rec.url, &sg, &rule)
            .args(["--ip", NEW_IP])
            .arg("--dry-run"),
    );
    assert_eq!(
        stdout(&out),
        format!("{rule}: {GOOD_IP}/32 -> {NEW_IP}/32 (tcp 5432 in {sg}) [dry run]\n")
    );
    assert!(stderr(&out).contains("nothing was written"));

    let out = run_ok(aws_cmd(h.path(), &rec.url).args([
        "update-sg-rule",
        "--db-instance",
        &db,
        "--ip",
        NEW_IP,
        "--dry-run",
        "--json",
    ]));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["action"], "create");
    assert_eq!(report["changed"], false);
    assert_eq!(report["dry_run"], true);

    assert!(rec.writes().is_empty(), "{:?}", rec.actions());
    assert_eq!(moto.rules(&sg), before);
    assert_eq!(moto.rules(&empty), before_empty);
}

#[test]
fn json_output_parses_and_says_what_changed() {
    let (_moto, sg, rule, rec, h) = fixture();
    let out = run_ok(
        update(h.path(), &rec.url, &sg, &rule)
            .args(["--json"])
            .env("GITPOD_IP", NEW_IP),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "ip": NEW_IP,
            "ip_source": "GITPOD_IP",
            "group_id": sg,
            "rule_id": rule,
            "old_cidr": format!("{GOOD_IP}/32"),
            "new_cidr": format!("{NEW_IP}/32"),
            "port": 5432,
            "description": "GITPOD",
            "action": "modify",
            "changed": true,
            "dry_run": false,
        })
    );
}

#[test]
fn every_bad_ip_answer_writes_nothing_and_exits_4() {
    let (moto, sg, rule, rec, h) = fixture();
    let before = moto.rules(&sg);
    let ips = IpServer::start();

    let cases = [
        ("/html", "is not an IPv4 address"),
        ("/empty", "the answer is empty"),
        ("/ipv6", "is an IPv6 address"),
        ("/private", "10.1.2.3 is a private address"),
        ("/slow", "no answer within 1 s"),
        ("/500", "answered HTTP 500"),
    ];
    for (path, reason) in cases {
        let url = ips.url(path);
        let out = update(h.path(), &rec.url, &sg, &rule)
            .env("CRUDDUR_IP_URL", &url)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{path}: {}", stderr(&out));
        let err = stderr(&out);
        let line = err.lines().find(|l| l.contains(&url)).unwrap_or_default();
        assert!(line.contains(reason), "{path}: {err}");
        assert!(err.contains("nothing was changed"), "{err}");
        assert_eq!(ips.hits(path), 1, "{path}");
    }
    // A bad --ip and GITPOD_IP are named too, and a private one is not taken.
    let out = update(h.path(), &rec.url, &sg, &rule)
        .args(["--ip", "203.0.113.5"])
        .env("GITPOD_IP", "100.64.1.1")
        .env("CRUDDUR_IP_URL", ips.url("/private"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--ip: 203.0.113.5 is a documentation address"),
        "{err}"
    );
    assert!(
        err.contains("GITPOD_IP: 100.64.1.1 is a carrier-grade NAT address"),
        "{err}"
    );

    // Not one AWS call, let alone a write.
    assert!(rec.actions().is_empty(), "{:?}", rec.actions());
    assert_eq!(moto.rules(&sg), before);
}

#[test]
fn the_services_are_asked_at_once_and_the_first_valid_answer_wins() {
    let (moto, sg, rule, rec, h) = fixture();
    let ips = IpServer::start();
    let good = format!("/after/1500/ip/{NEW_IP}");
    // `/slow` would answer a valid address after 4 s, inside the 10 s timeout: asked one after
    // the other it would win, listed first; asked at once, the answer at 1.5 s wins.
    let urls = [
        ips.url("/slow"),
        ips.url("/html"),
        ips.url("/500"),
        ips.url(&good),
    ];

    let out = run_ok(
        update(h.path(), &rec.url, &sg, &rule)
            .args(["--ip", "not-an-ip", "--ip-timeout=10"])
            .env("CRUDDUR_IP_URL", urls.join(",")),
    );
    let err = stderr(&out);
    assert!(
        err.contains("ignored --ip: \"not-an-ip\" is not an IPv4 address"),
        "{err}"
    );
    assert!(err.contains(&format!("ignored {}: ", urls[1])), "{err}");
    assert!(
        err.contains(&format!("ignored {}: answered HTTP 500", urls[2])),
        "{err}"
    );
    assert!(err.contains(&format!("from {}", urls[3])), "{err}");
    assert!(
        !err.contains(&urls[0]),
        "the pending service is dropped: {err}"
    );
    assert_eq!(
        (
            ips.hits("/slow"),
            ips.hits("/html"),
            ips.hits("/500"),
            ips.hits(&good)
        ),
        (1, 1, 1, 1),
        "every service is asked"
    );
    assert_eq!(moto.rule(&sg, &rule).cidr, Some(format!("{NEW_IP}/32")));

    let urls = [ips.url("/html"), ips.url(&good)];
    // GITPOD_IP wins over the services, which are then not asked at all.
    let before = ips.total();
    update(h.path(), &rec.url, &sg, &rule)
        .env("GITPOD_IP", GOOD_IP)
        .env("CRUDDUR_IP_URL", urls.join(","))
        .assert()
        .success()
        .stderr(contains("from GITPOD_IP"));
    assert_eq!(ips.total(), before);
    assert_eq!(moto.rule(&sg, &rule).cidr, Some(format!("{GOOD_IP}/32")));
}

#[test]
fn allow_private_takes_a_private_address_with_a_warning() {
    let (moto, sg, rule, rec, h) = fixture();
    let ips = IpServer::start();
    update(h.path(), &rec.url, &sg, &rule)
        .args(["--allow-private"])
        .env("CRUDDUR_IP_URL", ips.url("/private"))
        .assert()
        .success()
        .stderr(contains("--allow-private: using 10.1.2.3"));
    assert_eq!(
        moto.rule(&sg, &rule),
        tcp_rule(&rule, 5432, "10.1.2.3", "GITPOD")
    );
}

#[test]
fn bad_ids_are_rejected_before_any_call() {
    let ips = IpServer::start();
    let rec = Recorder::new();
    let h = home();
    let cases: [(&[&str], &str); 5] = [
        (
            &["--group-id", "sg-xyz", "--rule-id", "sgr-0123456789abcdef0"],
            "--group-id/DB_SG_ID \"sg-xyz\"",
        ),
        (
            &[
                "--group-id",
                "sg-0123456789abcdef0",
                "--rule-id",
                "sg-0123456789abcdef0",
            ],
            "--rule-id/DB_SG_RULE_ID",
        ),
        (
            &["--group-id", "<html>", "--rule-id", "sgr-01234567"],
            "is not a security group id",
        ),
        (
            &["--db-instance", "bad_name!"],
            "is not an RDS instance identifier",
        ),
        (&[], "no rule to update: set DB_SG_ID and DB_SG_RULE_ID"),
    ];
    for (args, message) in cases {
        let out = aws_cmd(h.path(), &rec.url)
            .arg("update-sg-rule")
            .args(args)
            .env("CRUDDUR_IP_URL", ips.url(&format!("/ip/{GOOD_IP}")))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    // Neither AWS nor the IP services were asked.
    assert!(rec.actions().is_empty(), "{:?}", rec.actions());
    assert_eq!(ips.total(), 0);
}

#[test]
fn a_missing_rule_or_group_fails_with_the_aws_code() {
    let (moto, sg, rule, rec, h) = fixture();

    let out = update(h.path(), &rec.url, &sg, "sgr-0123456789abcdef0")
        .args(["--ip", NEW_IP])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("InvalidSecurityGroupRuleId.NotFound"), "{err}");
    assert!(err.contains("hint: check --rule-id/DB_SG_RULE_ID"), "{err}");

    let out = update(h.path(), &rec.url, "sg-0123456789abcdef0", &rule)
        .args(["--ip", NEW_IP])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("InvalidGroup.NotFound"), "{err}");
    assert!(err.contains("hint: check --group-id/DB_SG_ID"), "{err}");

    aws_cmd(h.path(), &rec.url)
        .args([
            "update-sg-rule",
            "--db-instance",
            "no-such-instance",
            "--ip",
            NEW_IP,
        ])
        .assert()
        .code(5)
        .stderr(contains("DBInstanceNotFound"));

    assert!(rec.writes().is_empty(), "{:?}", rec.actions());
    assert_eq!(moto.rule(&sg, &rule).cidr, Some(format!("{GOOD_IP}/32")));
}

#[test]
fn missing_credentials_or_region_fail_with_what_is_missing() {
    let rec = Recorder::new();
    let h = home();
    let args = [
        "update-sg-rule",
        "--group-id",
        "sg-0123456789abcdef0",
        "--rule-id",
        "sgr-0123456789abcdef0",
        "--ip",
        GOOD_IP,
    ];
    // (variables removed, extra arguments, what stderr says)
    let cases: [(&[&str], &[&str], &str); 4] = [
        (
            &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
            &[],
            "no AWS credentials: set AWS_ACCESS_KEY_ID",
        ),
        (
            &["AWS_REGION"],
            &[],
            "no AWS region: pass --region, set AWS_REGION",
        ),
        (
            &["AWS_REGION", "AWS_ACCESS_KEY_ID"],
            &[],
            "no AWS region and no AWS credentials",
        ),
        // A named profile that does not exist is a configuration error too.
        (
            &[],
            &["--profile", "nosuchprofile"],
            "the AWS profile \"nosuchprofile\" (--profile/AWS_PROFILE) is not defined",
        ),
    ];
    for (removed, extra, message) in cases {
        let mut cmd = aws_cmd(h.path(), &rec.url);
        cmd.args(args).args(extra);
        for var in removed {
            cmd.env_remove(var);
        }
        cmd.assert().code(2).stderr(contains(message));
    }
    assert!(rec.actions().is_empty(), "{:?}", rec.actions());
}

#[test]
fn region_and_credentials_come_from_the_profile_files() {
    let (moto, sg, rule, rec, h) = fixture();
    let aws_dir = h.path().join(".aws");
    std::fs::create_dir_all(&aws_dir).unwrap();
    common::write_file(
        &aws_dir,
        "config",
        "[profile cruddur]\nregion = us-east-1\n",
    );
    common::write_file(
        &aws_dir,
        "credentials",
        "[cruddur]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    );
    update(h.path(), &rec.url, &sg, &rule)
        .args(["--ip", NEW_IP])
        .args(["--profile", "cruddur"])
        .env_remove("AWS_REGION")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .assert()
        .success();
    assert_eq!(moto.rule(&sg, &rule).cidr, Some(format!("{NEW_IP}/32")));
}

#[test]
fn wait_reachable_waits_for_the_production_port() {
    let (moto, sg, rule, rec, h) = fixture();
    let listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listening.local_addr().unwrap().port();
    update(h.path(), &rec.url, &sg, &rule)
        .args(["--ip", GOOD_IP])
        .arg("--wait-reachable=5")
        .env(
            "PROD_CONNECTION_URL",
            format!("postgresql://root:secret@127.0.0.1:{port}/cruddur"),
        )
        .assert()
        .success()
        .stderr(contains(format!("127.0.0.1:{port} answers")));

    // A closed port: the rule is written, then the wait fails (exit 1) and says so. NOTE:
    // port 1, never an ephemeral port just closed, which a parallel test's server could take.
    let closed = 1;
    let out = update(h.path(), &rec.url, &sg, &rule)
        .args(["--ip", NEW_IP])
        .arg("--wait-reachable=1")
        .env(
            "PROD_CONNECTION_URL",
            format!("postgresql://root:secret@127.0.0.1:{closed}/cruddur"),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the rule is in place, but"),
        "{}",
        stderr(&out)
    );
    // The wait names the endpoint by host and port only: no credentials of any kind.
    assert!(
        stderr(&out).contains(&format!("127.0.0.1:{closed}")),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains('@') && !stderr(&out).contains("secret"),
        "{}",
        stderr(&out)
    );
    assert_eq!(moto.rule(&sg, &rule).cidr, Some(format!("{NEW_IP}/32")));

    // Nothing says where the database is: the rule is still updated, the wait skipped.
    update(h.path(), &rec.url, &sg, &rule)
        .args(["--ip", GOOD_IP])
        .arg("--wait-reachable")
        .assert()
        .success()
        .stderr(contains(
            "--wait-reachable: nothing says where the database is",
        ));
    assert_eq!(moto.rule(&sg, &rule).cidr, Some(format!("{GOOD_IP}/32")));
    drop(listening);
}

/// The SigV4 signature the AWS CLI's signer (botocore) gives a request at its X-Amz-Date.
const BOTOCORE_SIGNATURE: &str = r#"
import json, sys
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
r = json.load(sys.stdin)
req = AWSRequest(method="POST", url=r["url"], data=r["body"].encode(),
                 headers={"Content-Type": r["content_type"]})
auth = SigV4Auth(Credentials(r["key"], r["secret"], r["token"]), "ec2", r["region"])
req.context["timestamp"] = r["date"]
auth._modify_request_before_signing(req)
canonical = auth.canonical_request(req)
print(auth.signature(auth.string_to_sign(req, canonical), req))
"#;

#[test]
fn ec2_requests_are_signed_as_the_aws_cli_signs_them() {
    let moto = Moto::new();
    let sg = moto.group();
    let rule = moto.add_rule(&sg, "tcp", 5432, 5432, "10.9.8.7/32", "GITPOD");
    let rec = Recorder::new();
    let home = home();
    let (key, secret) = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    let token = "IQoJb3JpZ2luX2VjEXAMPLE/session+token==";
    let out = aws_cmd(home.path(), &rec.url)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_SESSION_TOKEN", token)
        .args(["update-sg-rule", "--group-id", &sg, "--rule-id", &rule])
        .args(["--ip", GOOD_IP])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = rec.requests();
    assert!(requests.len() >= 2, "{requests:?}");
    for r in &requests {
        let auth = r.header("authorization").expect("signed");
        let ours = auth.rsplit("Signature=").next().unwrap();
        assert_eq!(r.header("x-amz-security-token"), Some(token));
        let input = serde_json::json!({
            "url": format!("{}/", rec.url),
            "body": String::from_utf8(r.body.clone()).unwrap(),
            "content_type": r.header("content-type").unwrap(),
            "date": r.header("x-amz-date").unwrap(),
            "key": key, "secret": secret, "token": token, "region": "us-east-1",
        });
        let mut py = std::process::Command::new(venv_bin("python"))
            .args(["-c", BOTOCORE_SIGNATURE])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        py.stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        let answer = py.wait_with_output().unwrap();
        assert!(answer.status.success(), "botocore failed on {input}");
        let theirs = String::from_utf8(answer.stdout).unwrap();
        assert_eq!(ours, theirs.trim(), "{}\n{input}", r.head.join("\n"));
    }
    assert_eq!(rec.writes(), ["ModifySecurityGroupRules"]);
}

#[test]
fn throttled_ec2_calls_are_tried_three_times_in_all() {
    let moto = Moto::new();
    let sg = moto.group();
    let rule = moto.add_rule(&sg, "tcp", 5432, 5432, "10.9.8.6/32", "GITPOD");
    let home = home();
    let run = |rec: &Recorder| {
        aws_cmd(home.path(), &rec.url)
            .args(["update-sg-rule", "--group-id", &sg, "--rule-id", &rule])
            .args(["--ip", GOOD_IP])
            .output()
            .unwrap()
    };

    // Two throttled answers, then moto's: the third attempt of the first call goes through.
    let rec = Recorder::new();
    rec.throttle(2);
    let out = run(&rec);
    assert!(out.status.success(), "{}", stderr(&out));
    let actions = rec.actions();
    assert_eq!(
        actions[..3],
        ["DescribeSecurityGroupRules"; 3],
        "{actions:?}"
    );
    assert_eq!(
        moto.rule(&sg, &rule).cidr.as_deref(),
        Some("52.95.110.1/32")
    );

    // Three throttled answers: the call fails after its third attempt, and nothing is written.
    let rec = Recorder::new();
    rec.throttle(3);
    let out = run(&rec);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("failed: RequestLimitExceeded: Request limit exceeded."),
        "{err}"
    );
    assert_eq!(rec.actions(), ["DescribeSecurityGroupRules"; 3]);
    assert!(rec.writes().is_empty());
}

#[test]
fn a_bad_aws_ca_bundle_is_refused_before_any_call() {
    let moto = Moto::new();
    let sg = moto.group();
    let rule = moto.add_rule(&sg, "tcp", 5432, 5432, "10.9.8.5/32", "GITPOD");
    let home = home();
    let empty = home.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    for (bundle, says) in [
        (home.path().join("missing.pem"), "does not exist"),
        (empty, "holds no PEM certificate"),
    ] {
        let rec = Recorder::new();
        let out = aws_cmd(home.path(), &rec.url)
            .env("AWS_CA_BUNDLE", &bundle)
            .args(["update-sg-rule", "--group-id", &sg, "--rule-id", &rule])
            .args(["--ip", GOOD_IP])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("AWS_CA_BUNDLE") && err.contains(says), "{err}");
        assert!(rec.actions().is_empty(), "{:?}", rec.actions());
    }
    // A readable bundle is taken (the endpoint here is plain http: it is not used).
    let rec = Recorder::new();
    let out = aws_cmd(home.path(), &rec.url)
        .env("AWS_CA_BUNDLE", test_ca())
        .args(["update-sg-rule", "--group-id", &sg, "--rule-id", &rule])
        .args(["--ip", GOOD_IP])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// A PEM bundle with one certificate: the production-like server's CA (scripts/test makes it).
fn test_ca() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var("CRUDDUR_TEST_PROD_CA")
            .expect("set CRUDDUR_TEST_PROD_CA (scripts/test starts the production-like server)"),
    )
}

#[test]
fn web_identity_credentials_come_from_sts_when_its_token_file_is_set() {
    // Gitpod and CI runners with an OIDC role have no access key: a token file and a role.
    let moto = Moto::new();
    let sg = moto.group();
    let rule = moto.add_rule(&sg, "tcp", 5432, 5432, "10.9.8.4/32", "GITPOD");
    let home = home();
    let token = home.path().join("token");
    std::fs::write(&token, "an-oidc-token").unwrap();
    let rec = Recorder::new();
    let out = aws_cmd(home.path(), &rec.url)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
        .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/gitpod")
        .env("AWS_ROLE_SESSION_NAME", "cruddur-db-test")
        .args(["update-sg-rule", "--group-id", &sg, "--rule-id", &rule])
        .args(["--ip", GOOD_IP, "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let actions = rec.actions();
    assert_eq!(
        actions[..2],
        ["AssumeRoleWithWebIdentity", "DescribeSecurityGroupRules"],
        "{actions:?}"
    );
    let signed = &rec.requests()[1];
    assert!(
        signed.header("x-amz-security-token").is_some(),
        "the role's session token signs the EC2 call: {:?}",
        signed.head
    );
    assert!(rec.writes().is_empty());
}
