//! `rds status|start|stop`: the RDS instance's state, and starting or stopping it (the
//! bootcamp stops it to save money while nobody works).

use std::time::Duration;

use serde::Serialize;

use crate::aws::{self, Access, Aws, Instance};
use crate::cli::{RdsArgs, RdsStatusArgs};
use crate::commands::context::Run;
use crate::error::usage;
use crate::ip;
use crate::ui;

/// How often the instance is asked while waiting.
const POLL: Duration = Duration::from_secs(5);

/// States from which an instance does not get to available or stopped by itself.
const STUCK: &[&str] = &[
    "failed",
    "incompatible-network",
    "incompatible-option-group",
    "incompatible-parameters",
    "incompatible-restore",
    "inaccessible-encryption-credentials",
    "storage-full",
];

fn instance_id(v: Option<String>) -> anyhow::Result<String> {
    match v.filter(|s| !s.trim().is_empty()) {
        Some(id) => aws::ids::check_instance_id(&id),
        None => Err(usage(
            "which RDS instance? pass --db-instance or set DB_INSTANCE_ID (e.g. \
             cruddur-db-instance)",
        )),
    }
}

#[derive(Debug, Serialize)]
struct Status<'a> {
    #[serde(flatten)]
    instance: &'a Instance,
    my_ip: Option<String>,
    my_ip_source: Option<String>,
    /// Whether the security groups let my IP in on the instance's port; null when unknown.
    my_ip_allowed: Option<bool>,
    allowing_rules: Vec<String>,
    /// Why my IP or its access is unknown.
    my_ip_error: Option<String>,
}

pub async fn status(ctx: &Run, args: RdsStatusArgs) -> anyhow::Result<()> {
    let id = instance_id(args.instance.db_instance)?;
    let aws = Aws::load(&ctx.req.aws_settings()).await?;
    // The IP lookup and the AWS call do not depend on each other.
    let lookup = args.ip.lookup();
    let (found, instance) = tokio::join!(ip::lookup(&lookup), aws.describe_instance(&id));
    let instance = instance?;

    let (mut access, mut ip_error): (Option<Access>, Option<String>) = (None, None);
    match &found {
        Ok(f) => match aws
            .access(
                instance.security_groups.clone(),
                instance.port.unwrap_or(aws::DEFAULT_DB_PORT),
                f.ip,
            )
            .await
        {
            Ok(a) => access = Some(a),
            Err(e) => ip_error = Some(format!("{e:#}")),
        },
        Err(e) => ip_error = Some(format!("{e:#}")),
    }
    let found = found.ok();

    if args.output.json {
        let s = Status {
            instance: &instance,
            my_ip: found.as_ref().map(|f| f.ip.to_string()),
            my_ip_source: found.as_ref().map(|f| f.source.clone()),
            my_ip_allowed: access.as_ref().map(|a| a.allowed),
            allowing_rules: access
                .as_ref()
                .map(|a| a.allowing_rules.clone())
                .unwrap_or_default(),
            my_ip_error: ip_error,
        };
        crate::ui::outln!("{}", serde_json::to_string_pretty(&s)?)?;
        return Ok(());
    }

    let yes_no = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let endpoint = match (&instance.address, instance.port) {
        (Some(a), Some(p)) => format!("{a}:{p}"),
        (Some(a), None) => a.clone(),
        _ => "(none yet)".to_string(),
    };
    let my_ip = match &found {
        Some(f) => format!("{} (from {})", f.ip, f.source),
        None => "unknown".to_string(),
    };
    let allowed = match (&access, &ip_error) {
        (Some(a), _) if a.allowed => {
            format!("yes, on tcp {} by {}", a.port, a.allowing_rules.join(", "))
        }
        (Some(a), _) => format!(
            "no: nothing lets it in on tcp {}; run `cruddur-db update-sg-rule`",
            a.port
        ),
        (None, Some(e)) => format!("unknown: {}", e.lines().next().unwrap_or_default()),
        (None, None) => "unknown".to_string(),
    };
    let groups = if instance.security_groups.is_empty() {
        "(none)".to_string()
    } else {
        instance.security_groups.join(", ")
    };
    let rows = [
        ("instance", instance.id.clone()),
        ("status", instance.status.clone()),
        (
            "engine",
            format!("{} {}", instance.engine, instance.engine_version)
                .trim()
                .to_string(),
        ),
        ("endpoint", endpoint),
        (
            "publicly accessible",
            yes_no(instance.publicly_accessible).to_string(),
        ),
        ("security groups", groups),
        ("my IP", my_ip),
        ("my IP allowed", allowed),
    ];
    for (k, v) in rows {
        crate::ui::outln!("{k:<20} {v}")?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Goal {
    Start,
    Stop,
}

impl Goal {
    fn verb(self) -> &'static str {
        match self {
            Goal::Start => "start",
            Goal::Stop => "stop",
        }
    }
    /// The state the instance ends in.
    fn target(self) -> &'static str {
        match self {
            Goal::Start => "available",
            Goal::Stop => "stopped",
        }
    }
    /// The state on the way there.
    fn transition(self) -> &'static str {
        match self {
            Goal::Start => "starting",
            Goal::Stop => "stopping",
        }
    }
}

#[derive(Debug, Serialize)]
struct Outcome<'a> {
    id: &'a str,
    action: &'static str,
    previous_status: &'a str,
    status: &'a str,
    /// Whether StartDBInstance/StopDBInstance was called.
    changed: bool,
    waited: bool,
}

pub async fn start(ctx: &Run, args: RdsArgs) -> anyhow::Result<()> {
    start_or_stop(ctx, args, Goal::Start).await
}

pub async fn stop(ctx: &Run, args: RdsArgs) -> anyhow::Result<()> {
    start_or_stop(ctx, args, Goal::Stop).await
}

/// NOTE: idempotent, unlike the AWS CLI: an instance already in (or on its way to) the wanted
/// state is left alone and that is success; AWS would answer InvalidDBInstanceState.
async fn start_or_stop(ctx: &Run, args: RdsArgs, goal: Goal) -> anyhow::Result<()> {
    let id = instance_id(args.instance.db_instance)?;
    let aws = Aws::load(&ctx.req.aws_settings()).await?;
    let before = aws.describe_instance(&id).await?;
    let previous = before.status.clone();
    let changed = previous != goal.target() && previous != goal.transition();
    if args.dry.dry_run {
        let plan = if changed {
            format!("would {} {id} (now {previous})", goal.verb())
        } else {
            format!("{id} is already {previous}; nothing to {}", goal.verb())
        };
        if args.output.json {
            let o = serde_json::json!({
                "id": id,
                "action": goal.verb(),
                "previous_status": previous,
                "would_change": changed,
                "dry_run": true,
            });
            crate::ui::outln!("{}", serde_json::to_string_pretty(&o)?)?;
        } else {
            crate::ui::outln!("{plan}")?;
        }
        return Ok(());
    }
    let mut status = if changed {
        let s = match goal {
            Goal::Start => aws.start_instance(&id).await?,
            Goal::Stop => aws.stop_instance(&id).await?,
        };
        ui::status(&format!("asked AWS to {} {id}", goal.verb()));
        s
    } else {
        ui::status(&format!(
            "{id} is already {previous}; nothing to {}",
            goal.verb()
        ));
        previous.clone()
    };
    if matches!(goal, Goal::Stop) && changed {
        ui::status("note: AWS starts a stopped instance again by itself after 7 days");
    }
    let waited = args.wait.is_some() && status != goal.target();
    if let Some(secs) = args.wait {
        status = wait_for(&aws, &id, goal, Duration::from_secs(secs), status).await?;
    }
    if args.output.json {
        let o = Outcome {
            id: &id,
            action: goal.verb(),
            previous_status: &previous,
            status: &status,
            changed,
            waited,
        };
        crate::ui::outln!("{}", serde_json::to_string_pretty(&o)?)?;
    } else {
        crate::ui::outln!("{id}: {status}")?;
    }
    Ok(())
}

/// Polls until the instance reaches the goal's state; exit 1 when it does not within `limit`
/// or gets stuck on the way.
async fn wait_for(
    aws: &Aws,
    id: &str,
    goal: Goal,
    limit: Duration,
    status: String,
) -> anyhow::Result<String> {
    let mut known = Some(status);
    ui::poll(
        &format!("waiting for {id} to be {}", goal.target()),
        limit,
        POLL,
        || {
            let known = known.take();
            async move {
                let status = match known {
                    Some(s) => s,
                    None => aws.describe_instance(id).await?.status,
                };
                if status == goal.target() {
                    return Ok(ui::Poll::Done(status));
                }
                if STUCK.contains(&status.as_str()) {
                    anyhow::bail!(
                        "{id} is {status} and will not become {} by itself; see the RDS console's events",
                        goal.target()
                    );
                }
                Ok(ui::Poll::Pending(status))
            }
        },
        |status| {
            anyhow::anyhow!(
                "{id} is still {status} after {} s; `cruddur-db rds {} --wait` waits again",
                limit.as_secs(),
                goal.verb()
            )
        },
    )
    .await
}
