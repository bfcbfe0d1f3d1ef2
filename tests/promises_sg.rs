//! Promises of `update-sg-rule` (README "update-sg-rule") against moto's server, through a
//! recording proxy: a rule whose source is not an IPv4 range is refused and left as it was; a
//! rule of another existing group is refused; an untagged rule already allowing the exact
//! address is not duplicated.

mod aws_support;
mod common;

use std::process::Output;

use aws_sdk_ec2::types::{IpPermission, Ipv6Range, PrefixListId, UserIdGroupPair};
use aws_support::{aws_cmd, Moto, Recorder, RuleRow, GOOD_IP};
use tempfile::TempDir;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `update-sg-rule --group-id GROUP --rule-id RULE --ip GOOD_IP` through `rec`.
fn update(home: &TempDir, rec: &Recorder, group: &str, rule: &str) -> Output {
    aws_cmd(home.path(), &rec.url)
        .args([
            "update-sg-rule",
            "--group-id",
            group,
            "--rule-id",
            rule,
            "--ip",
            GOOD_IP,
        ])
        .output()
        .unwrap()
}

/// A tcp 5432 permission tagged GITPOD, without a source yet.
fn tcp_5432() -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(5432)
        .to_port(5432)
}

#[test]
fn rules_from_a_group_a_prefix_list_or_an_ipv6_range_are_refused_and_left_unchanged() {
    let moto = Moto::new();
    let sg = moto.group();
    let peer = moto.group();
    let list = moto.prefix_list("52.95.0.0/16");
    let from_group = moto.add_permission(
        &sg,
        tcp_5432()
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(&peer)
                    .description("GITPOD")
                    .build(),
            )
            .build(),
    );
    let from_list = moto.add_permission(
        &sg,
        tcp_5432()
            .prefix_list_ids(
                PrefixListId::builder()
                    .prefix_list_id(&list)
                    .description("GITPOD")
                    .build(),
            )
            .build(),
    );
    let from_v6 = moto.add_permission(
        &sg,
        tcp_5432()
            .ipv6_ranges(
                Ipv6Range::builder()
                    .cidr_ipv6("2001:db8::/64")
                    .description("GITPOD")
                    .build(),
            )
            .build(),
    );
    let before = moto.raw_rules(&sg);
    let h = tempfile::tempdir().unwrap();

    let cases = [
        (&from_group, format!("security group {peer}")),
        (&from_list, format!("prefix list {list}")),
        (&from_v6, "IPv6 range 2001:db8::/64".to_string()),
    ];
    for (rule, source) in cases {
        let rec = Recorder::new();
        let out = update(&h, &rec, &sg, rule);
        assert_eq!(out.status.code(), Some(2), "{rule}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "rule {rule} allows {source}, not an IPv4 range; refusing to replace it"
            )),
            "{rule}: {err}"
        );
        assert_eq!(stdout(&out), "", "{rule}");
        assert!(rec.writes().is_empty(), "{rule}: {:?}", rec.actions());
    }
    assert_eq!(moto.raw_rules(&sg), before);
}

#[test]
fn a_rule_id_of_another_existing_group_is_refused() {
    let moto = Moto::new();
    let mine = moto.group();
    let other = moto.group();
    let theirs = moto.add_rule(&other, "tcp", 5432, 5432, "52.95.110.9/32", "GITPOD");
    let (before_mine, before_other) = (moto.raw_rules(&mine), moto.raw_rules(&other));
    let rec = Recorder::new();
    let h = tempfile::tempdir().unwrap();

    let out = update(&h, &rec, &mine, &theirs);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "rule {theirs} belongs to security group {other}, not {mine}; fix --group-id/DB_SG_ID"
        )),
        "{err}"
    );
    assert!(rec.writes().is_empty(), "{:?}", rec.actions());
    assert_eq!(moto.raw_rules(&mine), before_mine);
    assert_eq!(moto.raw_rules(&other), before_other);
}

#[test]
fn an_untagged_rule_already_allowing_the_address_gets_no_duplicate() {
    let moto = Moto::new();
    let sg = moto.group();
    let office = moto.add_rule(&sg, "tcp", 5432, 5432, &format!("{GOOD_IP}/32"), "office");
    let db = moto.instance(&[&sg], 5432);
    let before = moto.rules(&sg);
    let rec = Recorder::new();
    let h = tempfile::tempdir().unwrap();

    let out = aws_cmd(h.path(), &rec.url)
        .args(["update-sg-rule", "--db-instance", &db, "--ip", GOOD_IP])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "{office}: {GOOD_IP}/32 already allowed by this rule (description \"office\"); \
             no \"GITPOD\" rule added (tcp 5432 in {sg})\n"
        )
    );
    assert!(rec.writes().is_empty(), "{:?}", rec.actions());
    let after = moto.rules(&sg);
    assert_eq!(after, before);
    let allowing: Vec<&RuleRow> = after
        .iter()
        .filter(|r| !r.egress && r.cidr.as_deref() == Some(&format!("{GOOD_IP}/32")))
        .collect();
    assert_eq!(allowing.len(), 1, "{after:?}");
}
