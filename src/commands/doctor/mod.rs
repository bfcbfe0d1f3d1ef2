//! `doctor`: every step from the URL to the schema, in order, one line each. The first
//! failure says what is wrong and how to fix it; the steps after it are reported as skipped.
//! This file is the checklist and its report; `probes` holds the checks themselves.

mod drift;
mod history;
mod probes;
mod step;

use std::time::Duration;

use serde::Serialize;

use crate::cli::DoctorArgs;
use crate::commands::context::Run;

use step::Step;

use probes::{
    auth_step, dns_step, locator, schema_step, security_group, tcp_step, tls_step, url_step,
    version_step,
};

/// The checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    Url,
    Dns,
    /// "security group allows my IP" for `--prod`/RDS targets; see [`probes::security_group`].
    SecurityGroup,
    Tcp,
    Tls,
    Auth,
    Database,
    Schema,
    Version,
}

impl Check {
    pub fn title(self) -> &'static str {
        match self {
            Check::Url => "URL parses",
            Check::Dns => "DNS resolves",
            Check::SecurityGroup => "security group allows my IP",
            Check::Tcp => "TCP port reachable",
            Check::Tls => "TLS handshake and certificate",
            Check::Auth => "authentication",
            Check::Database => "database exists",
            Check::Schema => "schema loaded",
            Check::Version => "server version",
        }
    }
}

/// The checks, in order. `SecurityGroup` runs for production and RDS targets only.
pub const PLAN: &[Check] = &[
    Check::Url,
    Check::Dns,
    Check::SecurityGroup,
    Check::Tcp,
    Check::Tls,
    Check::Auth,
    Check::Database,
    Check::Schema,
    Check::Version,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    Skip,
}

/// The result of one check.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub check: Check,
    pub title: &'static str,
    pub status: Status,
    pub detail: String,
    pub fix: Option<String>,
}

impl Outcome {
    /// The one line of the text report.
    pub fn line(&self) -> String {
        let status = match self.status {
            Status::Ok => "ok",
            Status::Fail => "fail",
            Status::Skip => "skip",
        };
        let mut line = format!("{status:<4}  {:<29}  {}", self.title, self.detail);
        if let Some(fix) = &self.fix {
            line.push_str(&format!(" -- fix: {fix}"));
        }
        line
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    target: Option<String>,
    ok: bool,
    checks: &'a [Outcome],
}

pub async fn run(ctx: &Run, args: DoctorArgs) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(args.connect_timeout.max(1));
    let mut report = Report {
        print: !args.output.json,
        outcomes: Vec::new(),
        target: None,
        write_error: None,
    };
    // Stops at the first failure; the rest is filled in as skipped.
    let _ = diagnose(ctx, &args, timeout, &mut report).await;
    for check in PLAN {
        if !report.outcomes.iter().any(|o| o.check == *check) {
            report.push(Outcome {
                check: *check,
                title: check.title(),
                status: Status::Skip,
                detail: "not checked: an earlier check failed".into(),
                fix: None,
            });
        }
    }
    let failed = report
        .outcomes
        .iter()
        .find(|o| o.status == Status::Fail)
        .map(|o| o.title);
    if args.output.json {
        let json = JsonReport {
            target: report.target.clone(),
            ok: failed.is_none(),
            checks: &report.outcomes,
        };
        crate::ui::outln!("{}", serde_json::to_string_pretty(&json)?)?;
    }
    // NOTE: before the drift, whose scratch build drops the stale scratch databases listed.
    if failed.is_none() && !args.output.json {
        for line in history::lines(ctx, timeout).await {
            crate::ui::status(&line);
        }
    }
    drift::print(ctx, timeout, failed.is_none() && !args.output.json).await;
    if let Some(e) = report.write_error.take() {
        return Err(e);
    }
    match failed {
        None => Ok(()),
        Some(title) => Err(crate::error::kinded(
            crate::error::ErrorKind::Failed,
            format!("doctor: the check \"{title}\" failed"),
        )),
    }
}

struct Report {
    print: bool,
    outcomes: Vec<Outcome>,
    target: Option<String>,
    /// The first failed write to stdout: printing stops there, and doctor fails with it.
    write_error: Option<anyhow::Error>,
}

impl Report {
    fn push(&mut self, outcome: Outcome) {
        if self.print && self.write_error.is_none() {
            if let Err(e) = crate::ui::outln!("{}", outcome.line()) {
                self.write_error = Some(e);
            }
        }
        self.outcomes.push(outcome);
    }

    /// Records a check that does not apply to this target.
    fn skip(&mut self, check: Check, detail: &str) {
        self.push(Outcome {
            check,
            title: check.title(),
            status: Status::Skip,
            detail: detail.to_string(),
            fix: None,
        });
    }

    /// Records a check; its value when it passed, `None` (stop) when it failed.
    fn record<T>(&mut self, check: Check, step: Step<T>) -> Option<T> {
        let (status, detail, fix, value) = match step {
            Ok((value, detail)) => (Status::Ok, detail, None, Some(value)),
            Err(f) => (Status::Fail, f.reason, Some(f.fix), None),
        };
        self.push(Outcome {
            check,
            title: check.title(),
            status,
            detail,
            fix,
        });
        value
    }
}

/// Runs the checks in order; `None` at the first failure.
async fn diagnose(
    ctx: &Run,
    args: &DoctorArgs,
    timeout: Duration,
    report: &mut Report,
) -> Option<()> {
    let (target, tls) = report.record(Check::Url, url_step(ctx))?;
    report.target = Some(target.url.to_string());
    let addrs = report.record(Check::Dns, dns_step(&target, timeout).await)?;
    if !(target.prod || target.url.is_rds()) {
        report.skip(Check::SecurityGroup, "not a production or RDS target");
    } else if let Some(locator) = locator(args) {
        report.record(
            Check::SecurityGroup,
            security_group(&locator, args, ctx).await,
        )?;
    } else {
        report.skip(
            Check::SecurityGroup,
            "not checked: set DB_INSTANCE_ID (or DB_SG_ID and DB_SG_RULE_ID) to check the rule",
        );
    }
    let addr = report.record(Check::Tcp, tcp_step(&target, &addrs, timeout).await)?;
    report.record(Check::Tls, tls_step(&target, &tls, addr, timeout).await)?;
    let logged_in = report.record(Check::Auth, auth_step(&target, &tls, timeout).await)?;
    let db = report.record(Check::Database, logged_in.database(&target))?;
    report.record(Check::Schema, schema_step(&db, ctx, timeout).await)?;
    report.record(Check::Version, version_step(&db, timeout).await)?;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_as_one_line_per_check() {
        let o = Outcome {
            check: Check::Tcp,
            title: Check::Tcp.title(),
            status: Status::Fail,
            detail: "cannot connect".into(),
            fix: Some("start it".into()),
        };
        assert_eq!(
            o.line(),
            "fail  TCP port reachable             cannot connect -- fix: start it"
        );
        assert!(!o.line().contains('\n'));
    }

    #[test]
    fn plan_is_in_the_documented_order() {
        let titles: Vec<_> = PLAN.iter().map(|c| c.title()).collect();
        assert_eq!(
            titles,
            [
                "URL parses",
                "DNS resolves",
                "security group allows my IP",
                "TCP port reachable",
                "TLS handshake and certificate",
                "authentication",
                "database exists",
                "schema loaded",
                "server version"
            ]
        );
    }
}
