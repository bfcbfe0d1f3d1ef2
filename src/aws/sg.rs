//! Security groups: the EC2 calls on rules, and the pure model of a rule (what it allows,
//! whether it already is what cruddur-db wants).

use std::net::Ipv4Addr;

use serde::Serialize;

use super::ec2::{child_text, items, parse};
use super::{Aws, AwsSettings, DEFAULT_DB_PORT};

/// `(name, value)` parameters of an EC2 call.
fn params<const N: usize>(pairs: [(&str, &str); N]) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Aws {
    /// One rule by id; `None` when AWS lists nothing for it.
    pub async fn rule(&self, rule_id: &str) -> anyhow::Result<Option<Rule>> {
        let what = || format!("describing security group rule {rule_id}");
        let xml = self
            .ec2_call(
                "DescribeSecurityGroupRules",
                &params([("SecurityGroupRuleId.1", rule_id)]),
            )
            .await
            .map_err(|e| self.ec2_failed(&what(), e))?;
        let doc = parse(&xml).map_err(|e| self.ec2_failed(&what(), e))?;
        Ok(Rule::list(&doc).into_iter().next())
    }

    /// Every rule (inbound and outbound) of the groups, sorted by id.
    pub async fn rules_of(&self, group_ids: &[String]) -> anyhow::Result<Vec<Rule>> {
        let what = || format!("listing the rules of {}", group_ids.join(", "));
        let mut rules = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut p = params([("Filter.1.Name", "group-id")]);
            for (i, g) in group_ids.iter().enumerate() {
                p.push((format!("Filter.1.Value.{}", i + 1), g.clone()));
            }
            if let Some(t) = token.take() {
                p.push(("NextToken".into(), t));
            }
            let xml = self
                .ec2_call("DescribeSecurityGroupRules", &p)
                .await
                .map_err(|e| self.ec2_failed(&what(), e))?;
            let doc = parse(&xml).map_err(|e| self.ec2_failed(&what(), e))?;
            rules.extend(Rule::list(&doc));
            match child_text(doc.root_element(), "nextToken") {
                Some(t) if !t.trim().is_empty() => token = Some(t.trim().to_string()),
                _ => break,
            }
        }
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rules)
    }

    /// DescribeSecurityGroups for one group: Ok when it exists, the AWS error
    /// (InvalidGroup.NotFound) when it does not.
    pub async fn check_group(&self, group_id: &str) -> anyhow::Result<()> {
        self.ec2_call("DescribeSecurityGroups", &params([("GroupId.1", group_id)]))
            .await
            .map_err(|e| self.ec2_failed(&format!("describing security group {group_id}"), e))?;
        Ok(())
    }

    /// ModifySecurityGroupRules: the rule becomes exactly `spec` (tcp, one port, one CIDR).
    pub async fn modify_rule(
        &self,
        group_id: &str,
        rule_id: &str,
        spec: &RuleSpec,
    ) -> anyhow::Result<()> {
        let port = spec.port.to_string();
        let rule = "SecurityGroupRule.1.SecurityGroupRule";
        let p = vec![
            ("GroupId".to_string(), group_id.to_string()),
            (
                "SecurityGroupRule.1.SecurityGroupRuleId".to_string(),
                rule_id.to_string(),
            ),
            (format!("{rule}.IpProtocol"), "tcp".to_string()),
            (format!("{rule}.FromPort"), port.clone()),
            (format!("{rule}.ToPort"), port),
            (format!("{rule}.CidrIpv4"), spec.cidr.clone()),
            (format!("{rule}.Description"), spec.description.clone()),
        ];
        self.ec2_call("ModifySecurityGroupRules", &p)
            .await
            .map_err(|e| {
                self.ec2_failed(
                    &format!("modifying rule {rule_id} of security group {group_id}"),
                    e,
                )
            })?;
        Ok(())
    }

    /// AuthorizeSecurityGroupIngress for `spec`; returns the new rule's id.
    pub async fn authorize(&self, group_id: &str, spec: &RuleSpec) -> anyhow::Result<String> {
        let what = format!("adding an inbound rule to security group {group_id}");
        let port = spec.port.to_string();
        let p = params([
            ("GroupId", group_id),
            ("IpPermissions.1.IpProtocol", "tcp"),
            ("IpPermissions.1.FromPort", &port),
            ("IpPermissions.1.ToPort", &port),
            ("IpPermissions.1.IpRanges.1.CidrIp", &spec.cidr),
            ("IpPermissions.1.IpRanges.1.Description", &spec.description),
        ]);
        let xml = self
            .ec2_call("AuthorizeSecurityGroupIngress", &p)
            .await
            .map_err(|e| self.ec2_failed(&what, e))?;
        let doc = parse(&xml).map_err(|e| self.ec2_failed(&what, e))?;
        Rule::list(&doc)
            .into_iter()
            .map(|r| r.id)
            .find(|id| !id.is_empty())
            .ok_or_else(|| {
                crate::error::kinded(
                    crate::error::ErrorKind::Aws,
                    format!("{what}: AWS did not return the new rule's id"),
                )
            })
    }

    /// Whether the security groups let `ip` reach the database port. Rules that name other
    /// security groups or prefix lists are not evaluated (they cannot be for an outside
    /// address). For a [`RuleLocator::Rule`] the port is the rule's own when it is a single
    /// tcp port, else [`DEFAULT_DB_PORT`], and the whole group is checked.
    pub async fn ip_allowed(&self, locator: &RuleLocator, ip: Ipv4Addr) -> anyhow::Result<Access> {
        let (groups, port) = match locator {
            RuleLocator::Instance(id) => {
                let inst = self.describe_instance(id).await?;
                let port = inst.port.unwrap_or(DEFAULT_DB_PORT);
                (inst.security_groups, port)
            }
            RuleLocator::Rule { group_id, rule_id } => {
                let port = match self.rule(rule_id).await? {
                    Some(r) => r.single_tcp_port().unwrap_or(DEFAULT_DB_PORT),
                    None => DEFAULT_DB_PORT,
                };
                (vec![group_id.clone()], port)
            }
        };
        self.access(groups, port, ip).await
    }

    /// Whether any inbound rule of the groups lets `ip` in on tcp `port`.
    pub async fn access(
        &self,
        groups: Vec<String>,
        port: u16,
        ip: Ipv4Addr,
    ) -> anyhow::Result<Access> {
        let rules = if groups.is_empty() {
            Vec::new()
        } else {
            self.rules_of(&groups).await?
        };
        let allowing_rules: Vec<String> = rules
            .iter()
            .filter(|r| r.allows(ip, port))
            .map(|r| r.id.clone())
            .collect();
        Ok(Access {
            ip,
            port,
            allowed: !allowing_rules.is_empty(),
            groups,
            allowing_rules,
        })
    }
}

/// For `doctor` and the like: loads the AWS configuration and says whether the security
/// group lets `ip` reach the database port (see [`Aws::ip_allowed`]).
pub async fn security_group_allows(
    settings: &AwsSettings,
    locator: &RuleLocator,
    ip: Ipv4Addr,
) -> anyhow::Result<Access> {
    Aws::load(settings).await?.ip_allowed(locator, ip).await
}

/// What decides which security groups and port are meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleLocator {
    /// An RDS instance: its VPC security groups and its port.
    Instance(String),
    /// A security group and one of its rules (DB_SG_ID, DB_SG_RULE_ID).
    Rule { group_id: String, rule_id: String },
}

/// The answer of [`Aws::ip_allowed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub allowed: bool,
    pub groups: Vec<String>,
    /// The inbound rules that let the address in.
    pub allowing_rules: Vec<String>,
}

/// One security group rule, reduced to what cruddur-db looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub group_id: String,
    pub inbound: bool,
    /// `tcp`, `udp`, `icmp`, `-1` (all), or a protocol number.
    pub protocol: String,
    /// `-1` for all ports.
    pub from_port: i32,
    pub to_port: i32,
    pub cidr_ipv4: Option<String>,
    /// The source when it is not an IPv4 range: an IPv6 range, a security group, a prefix list.
    pub other_source: Option<String>,
    pub description: Option<String>,
}

impl Rule {
    /// The rules of an answer's `securityGroupRuleSet` (DescribeSecurityGroupRules,
    /// AuthorizeSecurityGroupIngress).
    fn list(doc: &roxmltree::Document<'_>) -> Vec<Rule> {
        items(doc, "securityGroupRuleSet")
            .map(Rule::from_item)
            .collect()
    }

    fn from_item(r: roxmltree::Node<'_, '_>) -> Rule {
        let text = |name: &str| child_text(r, name).map(str::trim).filter(|t| !t.is_empty());
        let port = |name: &str| text(name).and_then(|p| p.parse().ok()).unwrap_or(-1);
        let referenced = r
            .children()
            .find(|n| n.has_tag_name("referencedGroupInfo"))
            .and_then(|g| child_text(g, "groupId"));
        let other_source = if let Some(c) = text("cidrIpv6") {
            Some(format!("IPv6 range {c}"))
        } else if let Some(g) = referenced {
            Some(format!("security group {g}"))
        } else {
            text("prefixListId").map(|p| format!("prefix list {p}"))
        };
        Rule {
            id: text("securityGroupRuleId").unwrap_or_default().to_string(),
            group_id: text("groupId").unwrap_or_default().to_string(),
            inbound: text("isEgress") != Some("true"),
            protocol: text("ipProtocol").unwrap_or("-1").to_ascii_lowercase(),
            from_port: port("fromPort"),
            to_port: port("toPort"),
            cidr_ipv4: text("cidrIpv4").map(str::to_string),
            other_source,
            // NOTE: not trimmed: a rule is ours only when its description is exactly ours.
            description: child_text(r, "description").map(str::to_string),
        }
    }

    pub fn is_tcp(&self) -> bool {
        self.protocol == "tcp" || self.protocol == "6"
    }

    fn all_traffic(&self) -> bool {
        self.protocol == "-1" || self.protocol == "all"
    }

    /// The port when the rule is tcp on exactly one port.
    pub fn single_tcp_port(&self) -> Option<u16> {
        (self.is_tcp() && self.from_port == self.to_port)
            .then(|| u16::try_from(self.from_port).ok())
            .flatten()
            .filter(|p| *p > 0)
    }

    /// Whether tcp traffic to `port` matches the rule's protocol and ports.
    pub fn covers_port(&self, port: u16) -> bool {
        let port = i32::from(port);
        self.all_traffic()
            || (self.is_tcp()
                && (self.from_port == -1 || (self.from_port <= port && port <= self.to_port)))
    }

    /// Whether the rule lets `ip` in on tcp `port`.
    pub fn allows(&self, ip: Ipv4Addr, port: u16) -> bool {
        self.inbound
            && self.covers_port(port)
            && self
                .cidr_ipv4
                .as_deref()
                .is_some_and(|c| cidr_contains(c, ip))
    }

    /// Whether the rule already is exactly `spec`.
    pub fn is(&self, spec: &RuleSpec) -> bool {
        self.inbound
            && self.other_source.is_none()
            && self.single_tcp_port() == Some(spec.port)
            && self.cidr_ipv4.as_deref() == Some(spec.cidr.as_str())
            && self.description.as_deref().unwrap_or("") == spec.description
    }

    /// `tcp 5432`, `tcp 5000-6000`, `all traffic`, `udp 53`.
    pub fn ports(&self) -> String {
        if self.all_traffic() {
            return "all traffic".to_string();
        }
        let proto = if self.is_tcp() { "tcp" } else { &self.protocol };
        match (self.from_port, self.to_port) {
            (-1, _) => format!("{proto}, all ports"),
            (a, b) if a == b => format!("{proto} {a}"),
            (a, b) => format!("{proto} {a}-{b}"),
        }
    }

    /// The source: the IPv4 range or whatever else the rule names.
    pub fn source(&self) -> String {
        self.cidr_ipv4
            .clone()
            .or_else(|| self.other_source.clone())
            .unwrap_or_else(|| "(no source)".to_string())
    }
}

/// What the cruddur-db rule must be: always tcp, one port, one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSpec {
    pub port: u16,
    /// `IP/32`.
    pub cidr: String,
    pub description: String,
}

impl RuleSpec {
    pub fn for_ip(ip: Ipv4Addr, port: u16, description: &str) -> RuleSpec {
        RuleSpec {
            port,
            cidr: format!("{ip}/32"),
            description: description.to_string(),
        }
    }
}

/// Which rule `update-sg-rule` takes among the rules of the groups, for a rule found by its
/// description (the tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick<'a> {
    /// The inbound tcp rule on the port with the tag: rewritten (or already right).
    Tagged(&'a Rule),
    /// No tagged rule, but another inbound rule allows exactly this address on the port:
    /// adding a tagged twin would fail (InvalidPermission.Duplicate), so nothing is done.
    AlreadyAllowed(&'a Rule),
    /// Nothing fits: a rule is created.
    Create,
}

/// [`choose_tagged`]'s answer: the pick and the rules worth a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice<'a> {
    pub pick: Pick<'a>,
    /// More tagged rules on the port, after the one picked (the user should delete them).
    pub extra: Vec<&'a Rule>,
    /// Rules with the tag that are not a single-port tcp rule from an IPv4 range (another
    /// port, all traffic, a security group, a prefix list, an IPv6 range): never touched.
    pub misfits: Vec<&'a Rule>,
}

/// Chooses the rule for `spec` (tagged by its description) among `rules`; pure, so every
/// case is unit-tested without AWS. Rules are taken in the order given (sorted by id).
pub fn choose_tagged<'a>(rules: &'a [Rule], spec: &RuleSpec) -> Choice<'a> {
    let (mine, misfits): (Vec<&Rule>, Vec<&Rule>) = rules
        .iter()
        .filter(|r| r.inbound && r.description.as_deref() == Some(spec.description.as_str()))
        .partition(|r| r.single_tcp_port() == Some(spec.port) && r.other_source.is_none());
    let pick = if let Some(first) = mine.first() {
        Pick::Tagged(first)
    } else if let Some(r) = rules.iter().find(|r| {
        r.inbound
            && r.single_tcp_port() == Some(spec.port)
            && r.cidr_ipv4.as_deref() == Some(spec.cidr.as_str())
    }) {
        Pick::AlreadyAllowed(r)
    } else {
        Pick::Create
    };
    Choice {
        pick,
        extra: mine.into_iter().skip(1).collect(),
        misfits,
    }
}

/// Whether an IPv4 CIDR (`a.b.c.d/n`, or a bare address) contains `ip`.
pub fn cidr_contains(cidr: &str, ip: Ipv4Addr) -> bool {
    let (net, len) = match cidr.split_once('/') {
        Some((n, l)) => (n, l.parse::<u32>().ok()),
        None => (cidr, Some(32)),
    };
    let (Ok(net), Some(len)) = (net.parse::<Ipv4Addr>(), len) else {
        return false;
    };
    if len > 32 {
        return false;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(net) & mask == u32::from(ip) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: &str, from: i32, to: i32, cidr: &str, desc: &str) -> Rule {
        Rule {
            id: "sgr-0123456789abcdef0".into(),
            group_id: "sg-0123456789abcdef0".into(),
            inbound: true,
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            cidr_ipv4: Some(cidr.into()),
            other_source: None,
            description: Some(desc.into()),
        }
    }

    #[test]
    fn cidrs_contain_addresses() {
        let ip = Ipv4Addr::new(52, 95, 110, 1);
        assert!(cidr_contains("52.95.110.1/32", ip));
        assert!(cidr_contains("52.95.110.1", ip));
        assert!(cidr_contains("52.95.0.0/16", ip));
        assert!(cidr_contains("0.0.0.0/0", ip));
        assert!(!cidr_contains("52.95.110.2/32", ip));
        assert!(!cidr_contains("52.95.110.1/33", ip));
        assert!(!cidr_contains("garbage", ip));
    }

    #[test]
    fn rules_allow_by_protocol_port_and_range() {
        let ip = Ipv4Addr::new(52, 95, 110, 1);
        assert!(rule("tcp", 5432, 5432, "52.95.110.1/32", "").allows(ip, 5432));
        assert!(!rule("tcp", 5432, 5432, "52.95.110.1/32", "").allows(ip, 5433));
        assert!(rule("tcp", 5000, 6000, "52.95.0.0/16", "").allows(ip, 5432));
        assert!(rule("-1", -1, -1, "0.0.0.0/0", "").allows(ip, 5432));
        assert!(!rule("udp", 5432, 5432, "0.0.0.0/0", "").allows(ip, 5432));
        let mut out = rule("tcp", 5432, 5432, "0.0.0.0/0", "");
        out.inbound = false;
        assert!(!out.allows(ip, 5432));
    }

    #[test]
    fn a_rule_is_the_spec_only_when_exact() {
        let spec = RuleSpec::for_ip(Ipv4Addr::new(52, 95, 110, 1), 5432, "GITPOD");
        assert_eq!(spec.cidr, "52.95.110.1/32");
        assert!(rule("tcp", 5432, 5432, "52.95.110.1/32", "GITPOD").is(&spec));
        assert!(!rule("tcp", 5432, 5432, "52.95.110.1/32", "other").is(&spec));
        assert!(!rule("tcp", 5432, 5433, "52.95.110.1/32", "GITPOD").is(&spec));
        assert!(!rule("-1", -1, -1, "52.95.110.1/32", "GITPOD").is(&spec));
        assert!(!rule("tcp", 5432, 5432, "52.95.110.0/24", "GITPOD").is(&spec));
        assert_eq!(rule("-1", -1, -1, "x", "").ports(), "all traffic");
        assert_eq!(rule("tcp", 1, 65535, "x", "").ports(), "tcp 1-65535");
        assert_eq!(rule("6", 5432, 5432, "x", "").ports(), "tcp 5432");
    }

    fn with_id(mut r: Rule, id: &str) -> Rule {
        r.id = id.into();
        r
    }

    #[test]
    fn the_tagged_rule_on_the_port_is_picked() {
        let spec = RuleSpec::for_ip(Ipv4Addr::new(52, 95, 110, 1), 5432, "GITPOD");
        let rules = [
            with_id(rule("tcp", 22, 22, "1.2.3.4/32", "GITPOD"), "sgr-1"),
            with_id(rule("tcp", 5432, 5432, "9.9.9.9/32", "GITPOD"), "sgr-2"),
            with_id(rule("tcp", 5432, 5432, "8.8.8.8/32", "GITPOD"), "sgr-3"),
        ];
        let c = choose_tagged(&rules, &spec);
        assert_eq!(c.pick, Pick::Tagged(&rules[1]));
        assert_eq!(c.extra, [&rules[2]]);
        assert_eq!(c.misfits, [&rules[0]]);
    }

    #[test]
    fn tagged_rules_from_other_sources_are_never_picked() {
        let spec = RuleSpec::for_ip(Ipv4Addr::new(52, 95, 110, 1), 5432, "GITPOD");
        let mut from_group = with_id(rule("tcp", 5432, 5432, "x", "GITPOD"), "sgr-1");
        from_group.cidr_ipv4 = None;
        from_group.other_source = Some("security group sg-0123456789abcdef0".into());
        let mut outbound = with_id(rule("tcp", 5432, 5432, "1.1.1.1/32", "GITPOD"), "sgr-2");
        outbound.inbound = false;
        let rules = [from_group, outbound];
        let c = choose_tagged(&rules, &spec);
        assert_eq!(c.pick, Pick::Create);
        assert_eq!(c.misfits, [&rules[0]]);
    }

    #[test]
    fn an_untagged_rule_for_the_same_address_means_already_allowed() {
        let spec = RuleSpec::for_ip(Ipv4Addr::new(52, 95, 110, 1), 5432, "GITPOD");
        let rules = [
            with_id(rule("tcp", 5432, 5432, "52.95.110.1/32", "office"), "sgr-1"),
            with_id(rule("tcp", 5433, 5433, "52.95.110.1/32", "GITPOD"), "sgr-2"),
        ];
        let c = choose_tagged(&rules, &spec);
        assert_eq!(c.pick, Pick::AlreadyAllowed(&rules[0]));
        assert_eq!(c.misfits, [&rules[1]]);
        assert_eq!(choose_tagged(&rules[1..], &spec).pick, Pick::Create);
    }
}
