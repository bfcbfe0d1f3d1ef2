//! TLS for PostgreSQL connections: every libpq `sslmode`, `sslrootcert` bundles, the RDS CA.
//! [`verify`] builds the rustls configuration a mode asks for, [`explain`] turns a failed
//! handshake into a reason and a fix, [`probe`] shakes hands the way libpq starts one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::dburl::DbUrl;
use crate::error::usage;
use crate::files::expand_home;

pub(crate) mod explain;
pub(crate) mod probe;
mod verify;

/// An HTTP client builder for the tool's own requests (public-IP services, the RDS CA
/// download, EC2): rustls on ring, the one crypto provider the tool builds, and its user agent.
pub(crate) fn http_client() -> reqwest::ClientBuilder {
    // NOTE: reqwest is built without a provider of its own (aws-lc-rs would be a second one);
    // it takes the process default. Installing fails only when one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().user_agent(concat!("cruddur-db/", env!("CARGO_PKG_VERSION")))
}

/// Where Amazon publishes the global RDS CA bundle.
pub const RDS_CA_URL: &str = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem";

/// libpq's `sslmode` values, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<SslMode> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(usage(format!(
                    "unknown sslmode {other:?}; use one of disable, allow, prefer, require, verify-ca, verify-full"
                )))
            }
        })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        })
    }
}

impl SslMode {
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// Where the root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file (every certificate in it is trusted).
    File(PathBuf),
    /// `sslrootcert=system`: the well-known public roots.
    System,
}

impl fmt::Display for RootCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootCert::File(p) => write!(f, "{}", p.display()),
            RootCert::System => f.write_str("the system's public roots"),
        }
    }
}

/// The TLS settings of a target, as libpq would understand them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    pub root_cert: Option<RootCert>,
    /// Why this mode: "the URL", "PGSSLMODE", "default for production targets", ...
    pub mode_source: &'static str,
}

/// The user's cache directory for cruddur-db (the RDS bundle lives there).
pub fn cache_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = crate::env::var_os("CRUDDUR_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let base = dirs::cache_dir().ok_or_else(|| {
        usage("cannot find a cache directory: set HOME, XDG_CACHE_HOME or CRUDDUR_CACHE_DIR")
    })?;
    Ok(base.join("cruddur-db"))
}

/// Where `tls fetch-rds-ca` stores the RDS bundle.
pub fn rds_bundle_path() -> anyhow::Result<PathBuf> {
    Ok(cache_dir()?.join("rds-global-bundle.pem"))
}

impl TlsSettings {
    /// Settings for a target URL: the URL's `sslmode`/`sslrootcert` win, then `PGSSLMODE` and
    /// `PGSSLROOTCERT`, then the defaults (`verify-full` with the RDS bundle for production
    /// and RDS targets, `prefer` for everything else).
    /// `prod` is `--prod`; `iam` says that the password is an RDS IAM token, which needs TLS.
    pub fn for_url(
        url: &DbUrl,
        prod: bool,
        iam: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        let (mode, mode_source) = match url.query_param("sslmode") {
            Some(m) => (m.parse::<SslMode>()?, "the URL"),
            None => match env("PGSSLMODE") {
                Some(m) => (m.parse::<SslMode>()?, "PGSSLMODE"),
                None if prod || url.is_rds() => (
                    SslMode::VerifyFull,
                    "the default for production and RDS targets",
                ),
                None => (SslMode::Prefer, "the default for local targets"),
            },
        };
        if iam && mode < SslMode::Require {
            return Err(usage(format!(
                "--iam needs TLS, but sslmode is {mode} (from {mode_source}): RDS accepts an IAM \
                 token only over an encrypted connection, and sslmode {mode} may send it in the \
                 clear; use sslmode=verify-full (the default for RDS hosts) or require"
            )));
        }
        let root = url
            .query_param("sslrootcert")
            .or_else(|| env("PGSSLROOTCERT"));
        let root_cert = match root.as_deref() {
            Some("system") => Some(RootCert::System),
            Some(p) => Some(RootCert::File(expand_home(p))),
            None if mode.verifies() && (prod || url.is_rds()) => {
                Some(RootCert::File(rds_bundle_path()?))
            }
            // NOTE: libpq's default, so that the pool and psql agree: with
            // ~/.postgresql/root.crt present, `require` checks the chain like verify-ca.
            None if mode >= SslMode::Require => libpq_root_crt(env("HOME")).map(RootCert::File),
            None => None,
        };
        Ok(TlsSettings {
            mode,
            root_cert,
            mode_source,
        })
    }

    /// The mode tokio-postgres negotiates with; verification is ours.
    pub fn pg_mode(&self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as P;
        match self.mode {
            SslMode::Disable => P::Disable,
            // NOTE: tokio-postgres cannot try plain first and TLS second, so `allow` tries TLS
            // first like `prefer`; both accept either.
            SslMode::Allow | SslMode::Prefer => P::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => P::Require,
        }
    }

    /// The mode as it is enforced: libpq's `require` with a root certificate checks the chain
    /// like verify-ca.
    pub fn effective_mode(&self) -> SslMode {
        match (self.mode, &self.root_cert) {
            (SslMode::Require, Some(_)) => SslMode::VerifyCa,
            (m, _) => m,
        }
    }
}

/// Every certificate of a PEM bundle.
pub fn load_bundle(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    if !path.exists() {
        let hint = match rds_bundle_path() {
            Ok(p) if p == path => " (run `cruddur-db tls fetch-rds-ca` to download it)",
            _ => "",
        };
        return Err(usage(format!(
            "root certificate file {} does not exist{hint}",
            path.display()
        )));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("failed to read root certificates from {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate bundle", path.display()))?;
    if certs.is_empty() {
        return Err(usage(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// `~/.postgresql/root.crt` when it exists: libpq's default root certificate file.
fn libpq_root_crt(home: Option<String>) -> Option<PathBuf> {
    let home = home.map(PathBuf::from).or_else(dirs::home_dir)?;
    Some(home.join(".postgresql").join("root.crt")).filter(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings for a URL (`prod` as with `--prod`, `iam` as with `--iam`).
    fn settings(
        url: &str,
        prod: bool,
        iam: bool,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<TlsSettings> {
        TlsSettings::for_url(&DbUrl::parse(url).unwrap(), prod, iam, env)
    }

    #[test]
    fn every_libpq_mode_parses() {
        for m in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert_eq!(m.parse::<SslMode>().unwrap().to_string(), m);
        }
        assert!("verify".parse::<SslMode>().is_err());
    }

    #[test]
    fn defaults_by_target() {
        let local = settings("postgresql://u@localhost/db", false, false, |_| None).unwrap();
        assert_eq!(local.mode, SslMode::Prefer);
        assert_eq!(local.root_cert, None);
        let rds = settings(
            "postgresql://u@x.abc.us-east-1.rds.amazonaws.com/db",
            false,
            false,
            |_| None,
        )
        .unwrap();
        assert_eq!(rds.mode, SslMode::VerifyFull);
        assert!(
            matches!(rds.root_cert, Some(RootCert::File(p)) if p.ends_with("rds-global-bundle.pem"))
        );
        let url_wins = settings(
            "postgresql://u@h/db?sslmode=require&sslrootcert=/ca.pem",
            true,
            false,
            |k| (k == "PGSSLMODE").then(|| "disable".to_string()),
        )
        .unwrap();
        assert_eq!(url_wins.mode, SslMode::Require);
        assert_eq!(url_wins.root_cert, Some(RootCert::File("/ca.pem".into())));
        let env = settings("postgresql://u@h/db", false, false, |k| {
            (k == "PGSSLMODE").then(|| "verify-ca".to_string())
        })
        .unwrap();
        assert_eq!(
            (env.mode, env.mode_source),
            (SslMode::VerifyCa, "PGSSLMODE")
        );
    }

    #[test]
    fn iam_refuses_modes_that_may_not_encrypt() {
        for mode in ["disable", "allow", "prefer"] {
            let t = format!("postgresql://u@h/db?sslmode={mode}");
            let err = settings(&t, false, true, |_| None).unwrap_err();
            let msg = format!("{err:#}");
            assert!(
                msg.contains("--iam needs TLS") && msg.contains(mode),
                "{msg}"
            );
            assert_eq!(crate::error::exit_code(&err), crate::error::exit::USAGE);
        }
        // A local host defaults to prefer, so --iam there is refused too; PGSSLMODE counts.
        let local = "postgresql://u@localhost/db";
        assert!(settings(local, false, true, |_| None).is_err());
        let env = settings(local, false, true, |k| {
            (k == "PGSSLMODE").then(|| "require".to_string())
        });
        assert_eq!(env.unwrap().mode, SslMode::Require);
        for mode in ["require", "verify-ca", "verify-full"] {
            let t = format!("postgresql://u@h/db?sslmode={mode}&sslrootcert=/ca.pem");
            assert!(settings(&t, false, true, |_| None).is_ok(), "{mode}");
        }
        let rds = "postgresql://u@x.abc.us-east-1.rds.amazonaws.com/db";
        assert_eq!(
            settings(rds, false, true, |_| None).unwrap().mode,
            SslMode::VerifyFull
        );
    }
}
