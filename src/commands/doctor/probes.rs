//! The checks of `doctor`, one function each: what it probes, what it found, and the fix when
//! it failed. Each returns a [`Step`]: its value for the next checks and its detail line.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

use crate::aws::{self, RuleLocator};
use crate::cli::DoctorArgs;
use crate::creds::{Credentials, Login};
use crate::pg::{ConnectOptions, Db};
use crate::target::Target;
use crate::tls::{SslMode, TlsSettings};

use super::step::{fail, Failure, Step};
use crate::commands::context::Run;

/// What a login found: the credentials were accepted, and the target's database is there or
/// not (the server checks the password before it looks for the database).
pub(super) enum LoggedIn {
    Database(Box<Db>),
    NoDatabase(Failure),
}

impl LoggedIn {
    /// The "database exists" check.
    pub(super) fn database(self, target: &Target) -> Step<Db> {
        match self {
            LoggedIn::Database(db) => {
                let name = target.url.database();
                Ok((*db, format!("{name:?} accepts connections")))
            }
            LoggedIn::NoDatabase(failure) => Err(failure),
        }
    }
}

fn cmd_hint(ctx: &Run, sub: &str) -> String {
    if ctx.req.prod {
        format!("`cruddur-db --prod {sub}`")
    } else {
        format!("`cruddur-db {sub}`")
    }
}

pub(super) fn url_step(ctx: &Run) -> Step<(Target, TlsSettings)> {
    let fix =
        "set --url, or PROD_CONNECTION_URL with --prod, or CONNECTION_URL / DATABASE_URL, to \
               postgresql://USER:PASSWORD@HOST:PORT/DATABASE";
    let target = ctx.target().map_err(|e| fail(format!("{e:#}"), fix))?;
    let tls = target.tls(crate::env::var).map_err(|e| {
        fail(
            format!("{e:#}"),
            "use a libpq sslmode: disable, allow, prefer, require, verify-ca or verify-full",
        )
    })?;
    let mut detail = format!(
        "{} from {}{}; sslmode={} (from {})",
        target.url,
        target.source,
        if target.protected { ", protected" } else { "" },
        tls.mode,
        tls.mode_source
    );
    if target.creds.credentials != Credentials::Password {
        detail.push_str(&format!(
            "; password: {}, used by the authentication check",
            target.creds.credentials.describe()
        ));
    }
    Ok(((target, tls), detail))
}

/// Where to connect: the resolved addresses, or `None` for a Unix socket directory.
pub(super) async fn dns_step(target: &Target, timeout: Duration) -> Step<Option<Vec<SocketAddr>>> {
    let host = target.url.host();
    let port = target.url.port();
    if host.starts_with('/') {
        return Ok((None, format!("{host} is a Unix socket directory (no DNS)")));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((
            Some(vec![SocketAddr::new(ip, port)]),
            format!("{host} is an IP address (no DNS)"),
        ));
    }
    let fix = "check the host name in the URL; for RDS copy the endpoint from the console or \
               `cruddur-db rds status`";
    let addrs =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), port))).await {
            Err(_) => {
                return Err(fail(
                    format!("no DNS answer for {host} within {}s", timeout.as_secs()),
                    "check this machine's DNS settings and network",
                ))
            }
            Ok(Err(e)) => return Err(fail(format!("cannot resolve {host}: {e}"), fix)),
            Ok(Ok(a)) => a,
        };
    let mut unique: Vec<SocketAddr> = Vec::new();
    for a in addrs {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if unique.is_empty() {
        return Err(fail(format!("{host} resolves to no address"), fix));
    }
    let shown: Vec<String> = unique.iter().map(|a| a.ip().to_string()).collect();
    Ok((Some(unique), format!("{host} -> {}", shown.join(", "))))
}

/// Which security groups to read: the instance, else the named rule; `None` when neither is
/// configured.
pub(super) fn locator(args: &DoctorArgs) -> Option<RuleLocator> {
    let set = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    if let Some(id) = set(&args.instance.db_instance) {
        return Some(RuleLocator::Instance(id));
    }
    match (set(&args.rule.group_id), set(&args.rule.rule_id)) {
        (Some(group_id), Some(rule_id)) => Some(RuleLocator::Rule { group_id, rule_id }),
        _ => None,
    }
}

/// The "security group allows my IP" check of production and RDS targets. It runs before
/// the TCP check, so that a dropped connection is explained by the rule that drops it.
pub(super) async fn security_group(
    locator: &RuleLocator,
    args: &DoctorArgs,
    ctx: &Run,
) -> Step<()> {
    let fix_ip = "pass --ip, or check the network (--ip-url/CRUDDUR_IP_URL names the services)";
    let found = crate::ip::lookup(&args.ip.lookup()).await.map_err(|e| {
        fail(
            format!("cannot find this workstation's public IP: {e:#}"),
            fix_ip,
        )
    })?;
    let settings = ctx.req.aws_settings();
    let access = aws::sg::security_group_allows(&settings, locator, found.ip)
        .await
        .map_err(|e| {
            fail(
                format!("cannot read the security group: {e:#}"),
                "check the AWS region and credentials (--region, --profile, AWS_*), and the ids",
            )
        })?;
    if access.allowed {
        Ok((
            (),
            format!(
                "{} may reach tcp {} (rule {} in {})",
                access.ip,
                access.port,
                access.allowing_rules.join(", "),
                access.groups.join(", ")
            ),
        ))
    } else {
        Err(fail(
            format!(
                "{} (from {}) is not allowed on tcp {} by {}",
                access.ip,
                found.source,
                access.port,
                access.groups.join(", ")
            ),
            "run `cruddur-db update-sg-rule`",
        ))
    }
}

/// The address that answered, or `None` for a Unix socket.
pub(super) async fn tcp_step(
    target: &Target,
    addrs: &Option<Vec<SocketAddr>>,
    timeout: Duration,
) -> Step<Option<SocketAddr>> {
    let port = target.url.port();
    let Some(addrs) = addrs else {
        let path = format!("{}/.s.PGSQL.{port}", target.url.host());
        return match tokio::net::UnixStream::connect(&path).await {
            Ok(_) => Ok((None, format!("{path} accepts connections"))),
            Err(e) => Err(fail(
                format!("cannot connect to {path}: {e}"),
                "is PostgreSQL running, with its socket in that directory and on that port?",
            )),
        };
    };
    let deadline = Instant::now() + timeout;
    let mut errors = Vec::new();
    let mut timed_out = false;
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok((Some(*addr), format!("{addr} accepts connections"))),
            Ok(Err(e)) => errors.push(format!("{addr}: {e}")),
            Err(_) => {
                timed_out = true;
                errors.push(format!("{addr}: no answer"));
                break;
            }
        }
    }
    let reason = if timed_out {
        format!(
            "port {port} of {} does not answer within {}s ({})",
            target.url.host(),
            timeout.as_secs(),
            errors.join("; ")
        )
    } else {
        format!(
            "cannot connect to port {port} of {} ({})",
            target.url.host(),
            errors.join("; ")
        )
    };
    let fix = if timed_out {
        "something drops the packets: a firewall or security group; for RDS allow this machine's \
         IP with `cruddur-db update-sg-rule` and check the instance is publicly accessible"
            .to_string()
    } else {
        format!(
            "is PostgreSQL running on {} and listening on port {port}? check the port in the URL",
            target.url.host()
        )
    };
    Err(fail(reason, fix))
}

pub(super) async fn tls_step(
    target: &Target,
    tls: &TlsSettings,
    addr: Option<SocketAddr>,
    timeout: Duration,
) -> Step<()> {
    let Some(addr) = addr else {
        return Ok(((), "not used over a Unix socket".into()));
    };
    if tls.mode == SslMode::Disable {
        return Ok((
            (),
            format!(
                "not used: sslmode=disable ({}); the connection is unencrypted",
                tls.mode_source
            ),
        ));
    }
    let host = target.url.host();
    let tls2 = tls.clone();
    let host2 = host.clone();
    match tokio::task::spawn_blocking(move || {
        crate::tls::probe::handshake(addr, &host2, &tls2, timeout)
    })
    .await
    {
        Ok(Ok(detail)) => Ok(((), detail)),
        Ok(Err(p)) => Err(fail(p.reason, p.fix)),
        Err(e) => Err(fail(
            format!("the TLS check crashed: {e}"),
            "report this as a bug",
        )),
    }
}

/// Logs in; the value is the next check's step: the database exists, or not.
pub(super) async fn auth_step(
    target: &Target,
    tls: &TlsSettings,
    timeout: Duration,
) -> Step<LoggedIn> {
    let login = target.creds.login(&target.url).await.map_err(|e| {
        fail(
            // NOTE: one line per check; AWS errors carry their hint on a line of its own.
            format!(
                "cannot get {}: {}",
                target.creds.credentials.describe(),
                format!("{e:#}").replace('\n', "; ")
            ),
            "check the AWS region and credentials (--region, --profile, AWS_*) and the hint",
        )
    })?;
    let user = login.url_for(&target.url).user();
    let with = match &login {
        Login::Url => String::new(),
        Login::Iam(tokens) => format!(" with an RDS IAM token (signed for {})", tokens.region()),
        Login::Secret { id, .. } => format!(" with the password of secret {id}"),
    };
    let opts = ConnectOptions {
        connect_timeout: timeout,
        wait: None,
        pool_size: 2,
        options: None,
        login: login.clone(),
    };
    let db = Db::pool_only(&target.url, tls, &opts)
        .map_err(|e| fail(format!("{e:#}"), "check the TLS settings of the URL"))?;
    let got = tokio::time::timeout(timeout * 2, db.pool.get()).await;
    let err = match got {
        Ok(Ok(client)) => {
            drop(client);
            return Ok((
                LoggedIn::Database(Box::new(db)),
                format!("logged in as {user:?}{with}"),
            ));
        }
        Ok(Err(err)) => err,
        Err(_) => {
            return Err(fail(
                format!(
                    "the server did not finish the login within {}s",
                    (timeout * 2).as_secs()
                ),
                "the server may be overloaded or stuck; try again, and check its log",
            ))
        }
    };
    let code = match &err {
        PoolError::Backend(e) => e.code().cloned(),
        _ => None,
    };
    if code == Some(SqlState::INVALID_CATALOG_NAME) {
        let name = target.url.database();
        // The server checks the password before it looks for the database.
        return Ok((
            LoggedIn::NoDatabase(fail(
                format!(
                    "database {name:?} does not exist on {}:{}",
                    target.url.host(),
                    target.url.port()
                ),
                "create it with `cruddur-db create` (or `cruddur-db setup` for schema and seed too), \
                 or fix the database name in the URL",
            )),
            format!("credentials accepted for {user:?}{with}"),
        ));
    }
    if let PoolError::Backend(e) = &err {
        if let Some(p) = crate::tls::explain::explain(e, tls, &target.url.host()) {
            return Err(fail(p.reason, p.fix));
        }
    }
    let role_missing = match &err {
        PoolError::Backend(e) => e.as_db_error().is_some_and(crate::pg::role_missing),
        _ => false,
    };
    let auth_fix = crate::pg::auth_fix(&login, &user);
    let fix = match code {
        _ if role_missing => {
            "the role does not exist on this server: fix the user in the URL, or create the role \
             (CREATE ROLE name LOGIN PASSWORD '...'); pg_hba.conf is not the problem"
        }
        Some(c)
            if !matches!(login, Login::Url)
                && (c == SqlState::INVALID_PASSWORD
                    || c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION) =>
        {
            auth_fix.as_str()
        }
        Some(c) if c == SqlState::INVALID_PASSWORD => {
            "check the user name and password in the URL (for RDS: the master user and password)"
        }
        Some(c) if c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
            "the server's pg_hba.conf (RDS: its parameter group) must allow this user from this \
             address with this TLS setting"
        }
        _ => "see the reason; the server's log says more",
    };
    Err(fail(format!("{:#}", db.explain(err)), fix))
}

pub(super) async fn schema_step(db: &Db, ctx: &Run, timeout: Duration) -> Step<()> {
    let missing = match tokio::time::timeout(
        timeout * 2,
        crate::lifecycle::loading::missing_tables(db),
    )
    .await
    {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => {
            return Err(fail(
                format!("cannot look for the tables: {e:#}"),
                "check that the user may read the catalog",
            ))
        }
        Err(_) => {
            return Err(fail(
                "the catalog query did not answer in time",
                "try again; check the server's load",
            ))
        }
    };
    let tables = crate::lifecycle::SCHEMA_TABLES.join(", ");
    if missing.is_empty() {
        return Ok(((), format!("{tables} present")));
    }
    Err(fail(
        format!("table(s) {} missing", missing.join(", ")),
        format!(
            "load the schema with {} (or {} for schema and seed)",
            cmd_hint(ctx, "schema"),
            cmd_hint(ctx, "setup")
        ),
    ))
}

/// The oldest server the schema runs on (`gen_random_uuid()` is built in from 13).
const MIN_SERVER_VERSION: i32 = 130000;

pub(super) async fn version_step(db: &Db, timeout: Duration) -> Step<()> {
    let query = async {
        let client = db.get().await?;
        let row = client
            .query_one(
                "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
                &[],
            )
            .await?;
        anyhow::Ok((row.get::<_, String>(0), row.get::<_, i32>(1)))
    };
    let (version, num) = match tokio::time::timeout(timeout * 2, query).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            return Err(fail(
                format!("cannot read the server version: {e:#}"),
                "check the connection",
            ))
        }
        Err(_) => {
            return Err(fail(
                "the version query did not answer in time",
                "try again; check the server's load",
            ))
        }
    };
    judge_version(&version, num)
}

/// Whether the server is new enough: the schema's `gen_random_uuid()` is built in from 13.
fn judge_version(version: &str, num: i32) -> Step<()> {
    if num < MIN_SERVER_VERSION {
        return Err(fail(
            format!("PostgreSQL {version} is older than 13, which the Cruddur schema needs"),
            "upgrade the server (RDS: modify the instance's engine version)",
        ));
    }
    Ok(((), format!("PostgreSQL {version}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_servers_are_refused_and_new_ones_named() {
        let old = judge_version("12.11", 120011).unwrap_err();
        assert!(
            old.reason.contains("PostgreSQL 12.11 is older than 13"),
            "{}",
            old.reason
        );
        assert!(old.fix.contains("upgrade"), "{}", old.fix);
        assert!(judge_version("9.6.24", 90624).is_err());
        let ((), detail) = judge_version("13.0", 130000).unwrap();
        assert_eq!(detail, "PostgreSQL 13.0");
        assert!(judge_version("15.19 (Debian 15.19-0+deb12u1)", 150019).is_ok());
    }
}
