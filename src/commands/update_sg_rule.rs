//! `update-sg-rule`: allow this workstation's public IP on the RDS security group rule.
//!
//! The rule is either named (`--group-id`/DB_SG_ID, `--rule-id`/DB_SG_RULE_ID) or found in the
//! instance's security groups by its description (`--db-instance`/DB_INSTANCE_ID), and created
//! when missing. It always ends up as exactly tcp, the database port, `IP/32`; nothing is
//! written when it already is.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use crate::aws::{self, sg, Aws, Instance, Rule, RuleSpec, DEFAULT_DB_PORT};
use crate::cli::UpdateSgRuleArgs;
use crate::commands::context::Run;
use crate::error::usage;
use crate::ip::{self, Found};
use crate::target::{Target, TargetRequest};
use crate::ui;

/// Which rule, from the flags and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Selection {
    /// DB_SG_RULE_ID (with DB_SG_ID, or the group the rule is in).
    Rule {
        group_id: Option<String>,
        rule_id: String,
    },
    /// The rule tagged with the description in these groups (DB_SG_ID alone), or in the
    /// instance's groups.
    Tagged { group_id: Option<String> },
}

/// What will be (or was) done to the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Action {
    UpToDate,
    Modify,
    Create,
    /// No tagged rule, but another rule already allows exactly this address and port.
    AlreadyAllowed,
}

#[derive(Debug, Clone)]
struct Plan {
    group_id: String,
    /// `None` until a rule is created.
    rule_id: Option<String>,
    old: Option<Rule>,
    new: RuleSpec,
    action: Action,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    ip: Ipv4Addr,
    ip_source: &'a str,
    group_id: &'a str,
    rule_id: Option<&'a str>,
    old_cidr: Option<&'a str>,
    new_cidr: &'a str,
    port: u16,
    description: &'a str,
    action: Action,
    /// Whether a write call was made (never with --dry-run).
    changed: bool,
    dry_run: bool,
}

pub async fn run(ctx: &Run, args: UpdateSgRuleArgs) -> anyhow::Result<()> {
    // Everything that can be checked without a call is checked first.
    let nonempty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let group_id = nonempty(args.rule.group_id)
        .map(|g| aws::ids::check_group_id(&g))
        .transpose()?;
    let rule_id = nonempty(args.rule.rule_id)
        .map(|r| aws::ids::check_rule_id(&r))
        .transpose()?;
    let instance_id = nonempty(args.instance.db_instance)
        .map(|i| aws::ids::check_instance_id(&i))
        .transpose()?;
    let description = aws::ids::check_description(&args.description)?;
    let selection =
        match (group_id, rule_id) {
            (group_id, Some(rule_id)) => Selection::Rule { group_id, rule_id },
            (Some(g), None) => Selection::Tagged { group_id: Some(g) },
            (None, None) if instance_id.is_some() => Selection::Tagged { group_id: None },
            (None, None) => return Err(usage(
                "no rule to update: set DB_SG_ID and DB_SG_RULE_ID (--group-id, --rule-id) for \
                 a known rule, or DB_INSTANCE_ID (--db-instance) to find or create the rule in \
                 the instance's security groups",
            )),
        };
    // The production URL gives the port when no instance does, and the endpoint to wait for.
    let url_endpoint = url_endpoint(ctx);
    // NOTE: when nothing says where the database is, --wait-reachable warns and is skipped
    // rather than failing: in a startup task the rule matters more than the wait.
    let mut wait = args.wait_reachable;
    if wait.is_some() && instance_id.is_none() {
        let why = match &url_endpoint {
            Ok(Some(_)) => None,
            Ok(None) => Some(
                "nothing says where the database is (set DB_INSTANCE_ID or PROD_CONNECTION_URL)"
                    .to_string(),
            ),
            Err(e) => Some(format!("{e:#}")),
        };
        if let Some(why) = why {
            ui::warn(&format!("--wait-reachable: {why}; not waiting"));
            wait = None;
        }
    }

    // Loading the AWS configuration makes no call: a missing region or credentials is
    // reported at once, before the IP services are asked.
    let aws = Aws::load(&ctx.req.aws_settings()).await?;
    let found = ip::lookup(&args.ip.lookup()).await?;
    ui::status(&format!("public IP {} (from {})", found.ip, found.source));
    let instance = match &instance_id {
        Some(id) => Some(aws.describe_instance(id).await?),
        None => None,
    };
    let db_port = instance
        .as_ref()
        .and_then(|i| i.port)
        .or_else(|| {
            url_endpoint
                .as_ref()
                .ok()
                .and_then(|e| e.as_ref())
                .map(|e| e.1)
        })
        .unwrap_or(DEFAULT_DB_PORT);

    let mut plan = match &selection {
        Selection::Rule { group_id, rule_id } => {
            let pinned = instance.as_ref().and_then(|i| i.port);
            plan_rule(
                &aws,
                group_id.as_deref(),
                rule_id,
                pinned,
                db_port,
                &found,
                &description,
            )
            .await?
        }
        Selection::Tagged { group_id } => {
            let groups = match (group_id, &instance) {
                (Some(g), _) => vec![g.clone()],
                (None, Some(i)) => i.security_groups.clone(),
                (None, None) => unreachable!("BUG: a tagged selection has a group or an instance"),
            };
            if groups.is_empty() {
                return Err(crate::error::kinded(
                    crate::error::ErrorKind::Aws,
                    format!(
                        "RDS instance {} has no VPC security groups to add a rule to",
                        instance_id.as_deref().unwrap_or_default()
                    ),
                ));
            }
            plan_tagged(&aws, &groups, db_port, &found, &description).await?
        }
    };

    let changed = if args.dry.dry_run {
        false
    } else {
        apply(&aws, &mut plan).await?
    };
    print_result(&plan, &found, changed, args.dry.dry_run, args.output.json)?;

    if let Some(secs) = wait {
        if args.dry.dry_run {
            ui::status("--dry-run: not waiting for the database port");
            return Ok(());
        }
        let endpoint = instance
            .as_ref()
            .and_then(|i: &Instance| Some((i.address.clone()?, i.port?)))
            .or_else(|| url_endpoint.ok().flatten());
        let Some((host, port)) = endpoint else {
            ui::warn(&format!(
                "--wait-reachable: RDS instance {} has no endpoint yet (is it still being \
                 created?); not waiting",
                instance_id.as_deref().unwrap_or_default()
            ));
            return Ok(());
        };
        wait_reachable(&host, port, Duration::from_secs(secs)).await?;
    }
    Ok(())
}

/// The production database's host and port, when a URL says: `--url`/`--prod` as given, else
/// PROD_CONNECTION_URL, else CONNECTION_URL/DATABASE_URL when they name an RDS endpoint.
/// NOTE: not the local default: update-sg-rule is about the production database.
fn url_endpoint(ctx: &Run) -> anyhow::Result<Option<(String, u16)>> {
    let endpoint = |t: Target| {
        let host = t.url.host();
        // A Unix socket directory is no TCP endpoint.
        (!host.starts_with('/')).then(|| (host, t.url.port()))
    };
    if ctx.req.url.is_some() || ctx.req.prod {
        return Ok(endpoint(ctx.target()?));
    }
    if crate::env::var("PROD_CONNECTION_URL").is_some_and(|v| !v.trim().is_empty()) {
        let prod = TargetRequest {
            prod: true,
            ..ctx.req.clone()
        };
        return Ok(endpoint(Target::from_env(&prod)?));
    }
    match ctx.target() {
        Ok(t) if t.url.is_rds() => Ok(endpoint(t)),
        _ => Ok(None),
    }
}

/// A named rule. Its port is kept when it is a single tcp port, unless the instance pins
/// another; a rule on all traffic, another protocol or a port range is narrowed to tcp on the
/// database port.
async fn plan_rule(
    aws: &Aws,
    group_id: Option<&str>,
    rule_id: &str,
    pinned_port: Option<u16>,
    db_port: u16,
    found: &Found,
    description: &str,
) -> anyhow::Result<Plan> {
    let rule = aws.rule(rule_id).await?;
    let rule = match (rule, group_id) {
        (Some(r), None) => r,
        (Some(r), Some(g)) if r.group_id == g => r,
        (rule, group) => {
            // Say what is wrong with AWS's own error when the group is missing.
            if let Some(g) = group {
                aws.check_group(g).await?;
            }
            return Err(match rule {
                Some(r) => usage(format!(
                    "rule {rule_id} belongs to security group {}, not {}; fix --group-id/DB_SG_ID",
                    r.group_id,
                    group.unwrap_or_default()
                )),
                None => aws.rule_not_found(rule_id, group),
            });
        }
    };
    if !rule.inbound {
        return Err(usage(format!(
            "rule {rule_id} is an outbound rule; DB_SG_RULE_ID must name the inbound rule for \
             this workstation"
        )));
    }
    if let Some(other) = &rule.other_source {
        return Err(usage(format!(
            "rule {rule_id} allows {other}, not an IPv4 range; refusing to replace it with an \
             address: DB_SG_RULE_ID must name the rule meant for this workstation"
        )));
    }
    let port = pinned_port
        .or_else(|| rule.single_tcp_port())
        .unwrap_or(db_port);
    if rule.single_tcp_port() != Some(port) {
        ui::warn(&format!(
            "rule {rule_id} allows {} from {}; narrowing it to tcp {port}",
            rule.ports(),
            rule.source()
        ));
    }
    let new = RuleSpec::for_ip(found.ip, port, description);
    let action = if rule.is(&new) {
        Action::UpToDate
    } else {
        Action::Modify
    };
    Ok(Plan {
        group_id: rule.group_id.clone(),
        rule_id: Some(rule.id.clone()),
        old: Some(rule),
        new,
        action,
    })
}

/// The inbound tcp rule on the database port tagged with the description, in the groups;
/// created in the first group when there is none.
async fn plan_tagged(
    aws: &Aws,
    groups: &[String],
    port: u16,
    found: &Found,
    description: &str,
) -> anyhow::Result<Plan> {
    let rules = aws.rules_of(groups).await?;
    let new = RuleSpec::for_ip(found.ip, port, description);
    let choice = sg::choose_tagged(&rules, &new);
    for r in &choice.misfits {
        ui::warn(&format!(
            "rule {} in {} is also tagged {description:?} but allows {} from {}; left alone",
            r.id,
            r.group_id,
            r.ports(),
            r.source()
        ));
    }
    if !choice.extra.is_empty() {
        let ids: Vec<&str> = choice.extra.iter().map(|r| r.id.as_str()).collect();
        ui::warn(&format!(
            "several rules on tcp {port} are tagged {description:?}; updating the first, delete              the others ({})",
            ids.join(", ")
        ));
    }
    let (rule, action) = match choice.pick {
        sg::Pick::Tagged(rule) if rule.is(&new) => (Some(rule), Action::UpToDate),
        sg::Pick::Tagged(rule) => (Some(rule), Action::Modify),
        sg::Pick::AlreadyAllowed(rule) => (Some(rule), Action::AlreadyAllowed),
        sg::Pick::Create => (None, Action::Create),
    };
    Ok(Plan {
        group_id: rule.map_or_else(|| groups[0].clone(), |r| r.group_id.clone()),
        rule_id: rule.map(|r| r.id.clone()),
        old: rule.cloned(),
        new,
        action,
    })
}

/// Makes the write call the plan needs; returns whether one was made.
async fn apply(aws: &Aws, plan: &mut Plan) -> anyhow::Result<bool> {
    match plan.action {
        Action::UpToDate | Action::AlreadyAllowed => Ok(false),
        Action::Modify => {
            let rule_id = plan
                .rule_id
                .as_deref()
                .context("BUG: a rule to modify has an id")?;
            aws.modify_rule(&plan.group_id, rule_id, &plan.new).await?;
            Ok(true)
        }
        Action::Create => {
            let id = aws.authorize(&plan.group_id, &plan.new).await?;
            plan.rule_id = Some(id);
            Ok(true)
        }
    }
}

fn print_result(
    plan: &Plan,
    found: &Found,
    changed: bool,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    let old_cidr = plan.old.as_ref().and_then(|r| r.cidr_ipv4.as_deref());
    if json {
        let report = Report {
            ip: found.ip,
            ip_source: &found.source,
            group_id: &plan.group_id,
            rule_id: plan.rule_id.as_deref(),
            old_cidr,
            new_cidr: &plan.new.cidr,
            port: plan.new.port,
            description: &plan.new.description,
            action: plan.action,
            changed,
            dry_run,
        };
        crate::ui::outln!("{}", serde_json::to_string_pretty(&report)?)?;
        return Ok(());
    }
    let rule = plan.rule_id.as_deref().unwrap_or("new rule");
    let place = format!("tcp {} in {}", plan.new.port, plan.group_id);
    let would = if dry_run { "would be " } else { "" };
    let line = match plan.action {
        Action::UpToDate => format!("{rule}: {} already up to date ({place})", plan.new.cidr),
        Action::AlreadyAllowed => format!(
            "{rule}: {} already allowed by this rule (description {:?}); no {:?} rule {would}added ({place})",
            plan.new.cidr,
            plan.old.as_ref().and_then(|r| r.description.as_deref()).unwrap_or(""),
            plan.new.description
        ),
        Action::Modify => format!(
            "{rule}: {} -> {} ({place}){}",
            plan.old.as_ref().map(Rule::source).unwrap_or_default(),
            plan.new.cidr,
            if dry_run { " [dry run]" } else { "" }
        ),
        Action::Create => format!(
            "{rule}: none -> {} ({place}, description {:?}, {would}created){}",
            plan.new.cidr,
            plan.new.description,
            if dry_run { " [dry run]" } else { "" }
        ),
    };
    crate::ui::outln!("{line}")?;
    if dry_run && matches!(plan.action, Action::Modify | Action::Create) {
        ui::status("--dry-run: nothing was written");
    }
    Ok(())
}

/// Waits until a TCP connection to the endpoint succeeds (exit 1 when it never does).
async fn wait_reachable(host: &str, port: u16, limit: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    let attempt_limit = Duration::from_secs(3).min(limit.max(Duration::from_secs(1)));
    ui::poll(
        &format!("waiting for {host}:{port} to answer"),
        limit,
        Duration::from_secs(1),
        || async move {
            let attempt =
                tokio::time::timeout(attempt_limit, tokio::net::TcpStream::connect((host, port)))
                    .await;
            Ok(match attempt {
                Ok(Ok(_)) => ui::Poll::Done(()),
                Ok(Err(e)) => ui::Poll::Pending(format!("last: {e}")),
                Err(_) => ui::Poll::Pending("last: connection attempt timed out".to_string()),
            })
        },
        |seen| {
            anyhow::anyhow!(
                "the rule is in place, but {host}:{port} did not answer within {} s ({seen}); \
                 is the instance available and publicly accessible? (`cruddur-db rds status`)",
                limit.as_secs()
            )
        },
    )
    .await?;
    ui::status(&format!(
        "{host}:{port} answers (after {:.1} s)",
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}
