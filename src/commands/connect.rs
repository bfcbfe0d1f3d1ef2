//! `connect`: psql on the target. The URL and password never reach psql's argv: everything
//! goes through libpq's PG* environment variables.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, Context};

use crate::cli::ConnectArgs;
use crate::target::{Target, TargetRequest};
use crate::tls::{RootCert, TlsSettings};

pub fn run(req: &TargetRequest, args: ConnectArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let tls = TlsSettings::for_target(&target, |k| std::env::var(k).ok())?;
    if target.protected && args.write {
        crate::protect::confirm(&target, &args.confirm, "open a WRITABLE psql session")?;
    }
    let env = psql_env(&target, &tls, args.write)?;
    let mut cmd = Command::new(psql_program());
    cmd.args(&args.psql_args);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    // Variables that would override ours or leak a different connection.
    for k in ["PGSERVICE", "PGSERVICEFILE", "PGHOSTADDR", "PGOPTIONS"] {
        if !env.iter().any(|(e, _)| e == k) {
            cmd.env_remove(k);
        }
    }
    if target.protected {
        crate::ui::status(&format!(
            "connecting to PRODUCTION {}{}",
            target.url.short(),
            if args.write {
                " (writable)"
            } else {
                " read-only (--write to change data)"
            }
        ));
    }
    let err = cmd.exec();
    if err.kind() == std::io::ErrorKind::NotFound {
        return Err(anyhow!(
            "psql is not installed (or not on PATH); install the PostgreSQL client: \
             `sudo apt-get install postgresql-client` on Debian/Ubuntu, `brew install libpq` on macOS"
        ));
    }
    Err(err).context("failed to start psql")
}

fn psql_program() -> String {
    std::env::var("CRUDDUR_PSQL")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "psql".to_string())
}

/// The environment psql gets: the connection, TLS, and for protected targets the read-only
/// session and the production prompt.
pub fn psql_env(
    target: &Target,
    tls: &TlsSettings,
    write: bool,
) -> anyhow::Result<Vec<(String, String)>> {
    let url = &target.url;
    let mut env = vec![
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
    if let Some(p) = url.password() {
        env.push(("PGPASSWORD".into(), p));
    }
    match &tls.root_cert {
        Some(RootCert::File(p)) => env.push(("PGSSLROOTCERT".into(), p.display().to_string())),
        Some(RootCert::System) => env.push(("PGSSLROOTCERT".into(), "system".into())),
        None => {}
    }
    let mut options = url.query_param("options").unwrap_or_default();
    if target.protected && !write {
        if !options.is_empty() {
            options.push(' ');
        }
        options.push_str("-c default_transaction_read_only=on");
    }
    if !options.is_empty() {
        env.push(("PGOPTIONS".into(), options));
    }
    if target.protected {
        env.push((
            "PSQLRC".into(),
            prod_psqlrc(target, write)?.display().to_string(),
        ));
    }
    Ok(env)
}

/// A psqlrc with a red PROD prompt that still sources the user's own psqlrc.
fn prod_psqlrc(target: &Target, write: bool) -> anyhow::Result<PathBuf> {
    let own = std::env::var_os("PSQLRC")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".psqlrc")))
        .filter(|p| p.is_file());
    let mode = if write { "PROD WRITE" } else { "PROD" };
    let mut rc = String::new();
    if let Some(own) = own {
        rc.push_str(&format!(
            "\\i '{}'\n",
            own.display().to_string().replace('\'', "\\'")
        ));
    }
    rc.push_str(&format!(
        "\\set PROMPT1 '%[%033[1;37;41m%] {mode} %[%033[0m%] %[%033[1;31m%]%/@%M%[%033[0m%]%R%# '\n\
         \\set PROMPT2 '%[%033[1;31m%]{mode}%[%033[0m%] %R%# '\n"
    ));
    let _ = target;
    let dir = crate::tls::cache_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let path = dir.join(if write {
        "psqlrc-prod-write"
    } else {
        "psqlrc-prod"
    });
    std::fs::write(&path, rc).with_context(|| format!("failed to write {}", path.display()))?;
    Ok(path)
}
