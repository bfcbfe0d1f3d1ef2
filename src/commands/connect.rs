//! `connect`: psql on the target. The URL and password never reach psql's argv: everything
//! goes through libpq's PG* environment variables. On a protected target psql starts
//! read-only with a red PROD prompt; `--write` lifts read-only after the typed confirmation.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, Context};

use crate::cli::ConnectArgs;
use crate::commands::context::Run;
use crate::creds::Credentials;
use crate::dburl::DbUrl;
use crate::target::Target;
use crate::tls::{RootCert, TlsSettings};

/// What makes a session read-only; a careful user can still `BEGIN READ WRITE`, so it guards
/// against slips, not against intent.
pub const READ_ONLY_OPTION: &str = "-c default_transaction_read_only=on";

/// Variables that would override ours or point libpq somewhere else; removed unless we set them.
const CLEARED: &[&str] = &[
    "PGSERVICE",
    "PGSERVICEFILE",
    "PGHOSTADDR",
    "PGOPTIONS",
    "PGSSLROOTCERT",
];

pub fn run(ctx: &Run, args: ConnectArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let tls = target.tls(crate::env::var)?;
    let program = psql_program();
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    if confirm.dry_run {
        return print_plan(&target, &tls, &args, &program);
    }
    if args.write {
        crate::protect::confirm(&target, &confirm, "open a WRITABLE psql session")?;
    }
    let program = find_program(&program)?;
    // NOTE: the tool's own client checks the connection first, so that a connection that
    // cannot work fails like every other command (explained, exit 1), not with libpq's text.
    let opts = args.conn.options();
    let mut login = None;
    super::runtime::block_on(async {
        crate::pg::Db::connect(&target, &opts).await?;
        // NOTE: the same login as the check's (a secret is read once); with --iam a token
        // signed now, for psql's first 15 minutes.
        let found = target.creds.login(&target.url).await?;
        let url = found.url_for(&target.url);
        let password = found.password(&url, crate::env::var).await?;
        login = Some((url, password));
        Ok(())
    })?;
    let (url, password) = login.expect("BUG: the block above sets the login or fails");
    let env = psql_env(&target, &url, password, &tls, args.write, crate::env::var)?;
    let mut cmd = Command::new(&program);
    cmd.args(&args.psql_args);
    for k in CLEARED {
        if !env.iter().any(|(e, _)| e == k) {
            cmd.env_remove(k);
        }
    }
    for (k, v) in &env {
        cmd.env(k, v);
    }
    if target.protected {
        crate::ui::status(&format!(
            "connecting to {} {}{}",
            kind(&target),
            target.url.short(),
            if args.write {
                " (WRITABLE)"
            } else {
                " read-only (--write to change data)"
            }
        ));
    }
    // NOTE: psql replaces this process, so a `connect --write` on a protected target writes
    // its audit line now, when the session starts.
    crate::audit::finish_with(crate::error::exit::OK)?;
    let err = cmd.exec();
    if err.kind() == std::io::ErrorKind::NotFound {
        return Err(not_installed(&program.display().to_string()));
    }
    Err(err).with_context(|| format!("failed to start {}", program.display()))
}

fn not_installed(program: &str) -> anyhow::Error {
    anyhow!(
        "{program} is not installed (or not on PATH); install the PostgreSQL client: \
         `sudo apt-get install postgresql-client` on Debian/Ubuntu, `brew install libpq` on macOS"
    )
}

/// The program as a path: a name is looked up on PATH now, before any connection is made.
fn find_program(program: &str) -> anyhow::Result<PathBuf> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    crate::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .ok_or_else(|| not_installed(program))
}

fn kind(target: &Target) -> &'static str {
    if target.prod || target.url.is_rds() {
        "PRODUCTION"
    } else {
        "PROTECTED"
    }
}

fn psql_program() -> String {
    crate::env::var("CRUDDUR_PSQL")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "psql".to_string())
}

/// `--dry-run`: the program, its arguments and its connection environment (password masked).
fn print_plan(
    target: &Target,
    tls: &TlsSettings,
    args: &ConnectArgs,
    program: &str,
) -> anyhow::Result<()> {
    let shown: Vec<String> = args
        .psql_args
        .iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_=./:,@%+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect();
    crate::ui::outln!(
        "would run {} on {} ({})",
        std::iter::once(program.to_string())
            .chain(shown)
            .collect::<Vec<_>>()
            .join(" "),
        target.url,
        if !target.protected {
            "unprotected"
        } else if args.write {
            "WRITABLE after the typed confirmation"
        } else {
            "read-only"
        }
    )?;
    let mut env = plan_env(target, tls, args.write);
    env.sort();
    for (k, v) in env {
        crate::ui::outln!("  {k}={v}")?;
    }
    Ok(())
}

/// The variables of [`psql_env`] without writing the psqlrc, with the password masked and
/// without asking AWS for a token or a secret.
fn plan_env(target: &Target, tls: &TlsSettings, write: bool) -> Vec<(String, String)> {
    let url = &target.url;
    let password = match &target.creds.credentials {
        Credentials::Password => {
            crate::creds::password(url, crate::env::var).map(|_| "****".to_string())
        }
        Credentials::Iam => Some("**** (an RDS IAM token signed when psql starts)".into()),
        Credentials::Secret(id) => Some(format!("**** (from secret {id})")),
    };
    let mut env = connection_env(url, tls, password);
    if let Credentials::Secret(id) = &target.creds.credentials {
        if !url.has_user() {
            for (k, v) in &mut env {
                if k == "PGUSER" {
                    *v = format!("(the \"username\" of secret {id}, else {v})");
                }
            }
        }
    }
    if let Some(o) = options(target, write, crate::env::var) {
        env.push(("PGOPTIONS".into(), o));
    }
    if target.protected {
        env.push((
            "PSQLRC".into(),
            "(a generated psqlrc with the PROD prompt)".into(),
        ));
    }
    env
}

/// The environment psql gets: the connection as `url` (the target's, with a secret's user)
/// and `password`, TLS, and for protected targets the read-only session and the production
/// prompt. `env` looks up the caller's environment.
pub fn psql_env(
    target: &Target,
    url: &DbUrl,
    password: Option<String>,
    tls: &TlsSettings,
    write: bool,
    env: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut vars = connection_env(url, tls, password);
    if let Some(o) = options(target, write, &env) {
        vars.push(("PGOPTIONS".into(), o));
    }
    if target.protected {
        let rc = prod_psqlrc(write, &env)?;
        vars.push(("PSQLRC".into(), rc.display().to_string()));
    }
    Ok(vars)
}

fn connection_env(
    url: &DbUrl,
    tls: &TlsSettings,
    password: Option<String>,
) -> Vec<(String, String)> {
    let mut vars = vec![
        ("PGHOST".to_string(), url.host()),
        ("PGPORT".to_string(), url.port().to_string()),
        ("PGUSER".to_string(), url.user()),
        ("PGDATABASE".to_string(), url.database()),
        ("PGSSLMODE".to_string(), tls.mode.to_string()),
        (
            "PGAPPNAME".to_string(),
            url.query_param("application_name")
                .unwrap_or_else(|| "cruddur-db".into()),
        ),
    ];
    // NOTE: without a password in the URL, an inherited PGPASSWORD (or ~/.pgpass) still works.
    if let Some(p) = password {
        vars.push(("PGPASSWORD".into(), p));
    }
    match &tls.root_cert {
        Some(RootCert::File(p)) => vars.push(("PGSSLROOTCERT".into(), p.display().to_string())),
        Some(RootCert::System) => vars.push(("PGSSLROOTCERT".into(), "system".into())),
        None => {}
    }
    vars
}

/// Server options for psql: the URL's `options` (else the caller's PGOPTIONS, as libpq), and
/// read-only last on a protected target so that it wins over anything before it.
fn options(target: &Target, write: bool, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    let read_only = (target.protected && !write).then_some(READ_ONLY_OPTION);
    crate::pg::server_options(&target.url, read_only, env)
}

/// The psqlrc of a protected session: the user's own psqlrc first (PSQLRC, else ~/.psqlrc),
/// then a red PROD prompt over it.
pub fn psqlrc_text(own: Option<&Path>, write: bool) -> String {
    let mode = if write { "PROD WRITE" } else { "PROD" };
    let mut rc = String::from("-- Written by cruddur-db connect for a protected target.\n");
    if let Some(own) = own {
        let quoted = crate::sql::quote::psql_arg(&own.display().to_string());
        rc.push_str(&format!("\\i {quoted}\n"));
    }
    rc.push_str(&format!(
        "\\set PROMPT1 '%[%033[1;37;41m%] {mode} %[%033[0m%] %[%033[1;31m%]%/@%M%[%033[0m%]%R%# '\n\
         \\set PROMPT2 '%[%033[1;31m%]{mode}%[%033[0m%] %R%# '\n"
    ));
    rc
}

/// Writes the psqlrc into the cache directory (atomically: two sessions may start at once).
fn prod_psqlrc(write: bool, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<PathBuf> {
    let dir = crate::tls::cache_dir()?;
    let path = dir.join(if write {
        "psqlrc-prod-write"
    } else {
        "psqlrc-prod"
    });
    let own = env("PSQLRC")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .map(PathBuf::from)
                .or_else(dirs::home_dir)
                .map(|h| h.join(".psqlrc"))
        })
        // Never source ourselves (cruddur-db run from a psql started by cruddur-db).
        .filter(|p| p.is_file() && !p.starts_with(&dir));
    crate::files::write_atomic(&path, psqlrc_text(own.as_deref(), write).as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str, prod: bool) -> Target {
        Target::from_url(url, prod)
    }

    #[test]
    fn read_only_comes_last_and_only_when_protected() {
        let prod = target("postgresql://u:pw@h/db?options=-c%20search_path%3Dx", true);
        let o = options(&prod, false, |_| None).unwrap();
        assert_eq!(o, format!("-c search_path=x {READ_ONLY_OPTION}"));
        assert_eq!(options(&prod, true, |_| None).unwrap(), "-c search_path=x");
        let local = target("postgresql://u:pw@h/db", false);
        assert_eq!(options(&local, false, |_| None), None);
        let from_env = options(&local, false, |k| {
            (k == "PGOPTIONS").then(|| "-c work_mem=64MB".to_string())
        });
        assert_eq!(from_env.as_deref(), Some("-c work_mem=64MB"));
    }

    #[test]
    fn psqlrc_quotes_the_users_file() {
        let rc = psqlrc_text(Some(Path::new("/home/o'neil/.psqlrc")), false);
        assert!(rc.contains("\\i '/home/o\\'neil/.psqlrc'\n"), "{rc}");
        assert!(rc.contains(" PROD "), "{rc}");
        assert!(psqlrc_text(None, true).contains("PROD WRITE"));
    }
}
