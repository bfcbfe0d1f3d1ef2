//! Which database a command works on: the URL, where it came from, and its masked form.

use std::fmt;
use std::path::Path;

use crate::aws::AwsSettings;
use crate::creds::{Credentials, Creds};
use crate::dburl::DbUrl;
use crate::error::usage;
use crate::mask::mask_secrets;
use crate::tls::TlsSettings;

/// The docker-compose default of the Cruddur repository.
pub const DEFAULT_URL: &str = "postgresql://postgres:password@localhost:5432/cruddur";

/// Where the target URL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Prod,
    ConnectionUrl,
    DatabaseUrl,
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Flag => "--url",
            Source::Prod => "PROD_CONNECTION_URL (--prod)",
            Source::ConnectionUrl => "CONNECTION_URL",
            Source::DatabaseUrl => "DATABASE_URL",
            Source::Default => "the built-in local default",
        })
    }
}

/// The resolved target of a command.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: DbUrl,
    pub source: Source,
    /// `--prod`, an RDS host, or `--protected`: destructive work needs confirmation.
    pub protected: bool,
    /// Chosen with `--prod`.
    pub prod: bool,
    /// Where the password comes from (`--iam`, `--password-secret`, else the URL).
    pub(crate) creds: Creds,
}

/// What the command line says about the target.
#[derive(Debug, Clone, Default)]
pub struct TargetRequest {
    pub url: Option<String>,
    pub prod: bool,
    pub protected: bool,
    /// `--iam`: every connection's password is a fresh RDS IAM token.
    pub iam: bool,
    /// `--password-secret`: the password (and user) come from this AWS Secrets Manager secret.
    pub password_secret: Option<String>,
    /// `--region` for the AWS calls the credentials need.
    pub aws_region: Option<String>,
    /// `--profile` for the AWS calls the credentials need.
    pub aws_profile: Option<String>,
}

impl TargetRequest {
    /// `--region` and `--profile` for the AWS SDK.
    pub(crate) fn aws_settings(&self) -> AwsSettings {
        AwsSettings {
            region: self.aws_region.clone(),
            profile: self.aws_profile.clone(),
        }
    }

    /// Where the password comes from; `--iam` and `--password-secret` exclude each other.
    pub(crate) fn creds(&self) -> anyhow::Result<Creds> {
        let secret = self
            .password_secret
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let credentials =
            match (self.iam, secret) {
                (true, Some(_)) => return Err(usage(
                    "--iam and --password-secret (CRUDDUR_IAM, CRUDDUR_PASSWORD_SECRET) both say \
                     where the password comes from; use one",
                )),
                (true, None) => Credentials::Iam,
                (false, Some(id)) => Credentials::Secret(id.to_string()),
                (false, None) => Credentials::Password,
            };
        Ok(Creds::new(credentials, self.aws_settings()))
    }
}

impl Target {
    /// Resolves in the documented order: `--url`, `--prod` (PROD_CONNECTION_URL),
    /// CONNECTION_URL, DATABASE_URL, the built-in default. `env` looks a variable up.
    pub fn resolve(
        req: &TargetRequest,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Target> {
        let nonempty = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let (raw, source) = if let Some(u) = &req.url {
            (u.clone(), Source::Flag)
        } else if req.prod {
            let u = nonempty("PROD_CONNECTION_URL").ok_or_else(|| {
                usage(
                    "--prod needs PROD_CONNECTION_URL, which is not set; set it to the RDS URL \
                     (postgresql://USER:PASSWORD@ENDPOINT:5432/cruddur) in the environment or .env, \
                     or pass --url",
                )
            })?;
            (u, Source::Prod)
        } else if let Some(u) = nonempty("CONNECTION_URL") {
            (u, Source::ConnectionUrl)
        } else if let Some(u) = nonempty("DATABASE_URL") {
            (u, Source::DatabaseUrl)
        } else {
            (DEFAULT_URL.to_string(), Source::Default)
        };
        let url = DbUrl::parse(raw.trim()).map_err(|e| e.context(format!("from {source}")))?;
        let protected = req.protected || req.prod || url.is_rds();
        Ok(Target {
            url,
            source,
            protected,
            prod: req.prod,
            creds: req.creds()?,
        })
    }

    /// A target from `--url` (with `--prod` when `prod`) and no environment, for unit tests.
    #[cfg(test)]
    pub(crate) fn from_url(url: &str, prod: bool) -> Target {
        let req = TargetRequest {
            url: Some(url.into()),
            prod,
            ..TargetRequest::default()
        };
        Target::resolve(&req, |_| None).unwrap()
    }

    /// The TLS settings of connections to the target: the URL's, the environment's, or the
    /// defaults for production and RDS targets (see [`TlsSettings::for_url`]).
    pub fn tls(&self, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<TlsSettings> {
        TlsSettings::for_url(
            &self.url,
            self.prod,
            self.creds.credentials == Credentials::Iam,
            env,
        )
    }

    /// Resolves against the process environment.
    pub fn from_env(req: &TargetRequest) -> anyhow::Result<Target> {
        Target::resolve(req, crate::env::var)
    }
}

/// Reads `.env` from the current directory into the environment; variables already set win.
pub fn load_dotenv() -> anyhow::Result<()> {
    load_dotenv_from(Path::new(".env"))
}

pub fn load_dotenv_from(path: &Path) -> anyhow::Result<()> {
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // NOTE: never the line itself: it may hold a password (an unclosed quote is the
        // usual cause, and the line is then a whole URL).
        Err(dotenvy::Error::LineParse(line, at)) => {
            let number = std::fs::read_to_string(path)
                .ok()
                .and_then(|text| text.lines().position(|l| l.trim_end() == line.trim_end()))
                .map_or_else(String::new, |i| format!(" {}", i + 1));
            Err(usage(format!(
                "could not read {}: line{number} cannot be parsed at character {} (an unclosed \
                 quote?); fix the file or pass --no-dotenv",
                path.display(),
                at + 1
            )))
        }
        Err(e) => Err(usage(format!(
            "could not read {}: {}; fix the file or pass --no-dotenv",
            path.display(),
            mask_secrets(&e.to_string())
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(req: TargetRequest, vars: &[(&str, &str)]) -> anyhow::Result<Target> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Target::resolve(&req, |k| map.get(k).cloned())
    }

    const ALL: &[(&str, &str)] = &[
        (
            "PROD_CONNECTION_URL",
            "postgresql://p:pw@prod.example:5432/cruddur",
        ),
        (
            "CONNECTION_URL",
            "postgresql://c:pw@conn.example:5432/cruddur",
        ),
        ("DATABASE_URL", "postgresql://d:pw@db.example:5432/cruddur"),
    ];

    #[test]
    fn resolution_order() {
        let flag = TargetRequest {
            url: Some("postgresql://f@flag.example/x".into()),
            prod: true,
            ..Default::default()
        };
        assert_eq!(resolve(flag, ALL).unwrap().source, Source::Flag);
        let prod = TargetRequest {
            prod: true,
            ..Default::default()
        };
        let t = resolve(prod, ALL).unwrap();
        assert_eq!(
            (t.source, t.url.host().as_str()),
            (Source::Prod, "prod.example")
        );
        assert!(t.protected);
        let t = resolve(TargetRequest::default(), ALL).unwrap();
        assert_eq!(t.source, Source::ConnectionUrl);
        assert!(!t.protected);
        let t = resolve(TargetRequest::default(), &ALL[2..]).unwrap();
        assert_eq!(t.source, Source::DatabaseUrl);
        let t = resolve(TargetRequest::default(), &[]).unwrap();
        assert_eq!(t.source, Source::Default);
        // README: the docker-compose default.
        assert_eq!(
            t.url.expose().as_str(),
            "postgresql://postgres:password@localhost:5432/cruddur"
        );
    }

    #[test]
    fn prod_without_variable_never_falls_back() {
        let prod = TargetRequest {
            prod: true,
            ..Default::default()
        };
        let err = resolve(prod, &ALL[1..]).unwrap_err();
        assert!(format!("{err:#}").contains("PROD_CONNECTION_URL"));
        assert_eq!(crate::error::exit_code(&err), 2);
    }

    #[test]
    fn rds_hosts_are_protected() {
        let t = resolve(
            TargetRequest::default(),
            &[(
                "CONNECTION_URL",
                "postgresql://root:pw@cruddur-db-instance.abc.us-east-1.rds.amazonaws.com:5432/cruddur",
            )],
        )
        .unwrap();
        assert!(t.protected);
    }

    /// Regression: a `.env` line with an unclosed quote was printed whole, password included.
    #[test]
    fn a_broken_env_line_is_not_printed() {
        let dir = tempfile::tempdir().unwrap();
        let env = dir.path().join(".env");
        std::fs::write(
            &env,
            "A=1\nCONNECTION_URL=\"postgresql://u:hunter2@h/db\nB=2\n",
        )
        .unwrap();
        let err = load_dotenv_from(&env).unwrap_err();
        let msg = format!("{err:#}");
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(msg.contains("--no-dotenv"), "{msg}");
        assert_eq!(crate::error::exit_code(&err), 2);
    }
}
