//! Which database a command works on: the URL, where it came from, and its masked form.

use std::fmt;
use std::path::Path;

use url::Url;

use crate::aws::AwsSettings;
use crate::creds::{Credentials, Creds};
use crate::error::usage;

/// The docker-compose default of the Cruddur repository.
pub const DEFAULT_URL: &str = "postgresql://postgres:password@localhost:5432/cruddur";

/// A parsed PostgreSQL URL. `Display` and `Debug` mask the password: this is the only way a
/// URL is ever shown.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(Url);

impl DbUrl {
    /// Parses `postgres://` or `postgresql://` URLs. The error shows the masked input.
    pub fn parse(s: &str) -> anyhow::Result<DbUrl> {
        let url = Url::parse(s).map_err(|e| {
            usage(format!(
                "malformed database URL {}: {e}; expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
                mask_secrets(s)
            ))
        })?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            // NOTE: not shown through DbUrl: `u:secret@host/db` parses with the scheme `u`
            // and the secret in its path.
            return Err(usage(format!(
                "malformed database URL {}: the scheme is {:?}, expected postgresql://",
                mask_secrets(s),
                url.scheme()
            )));
        }
        let db = DbUrl(url);
        if db.host().is_empty() {
            // NOTE: the input, masked, not the parsed URL: `postgres:u:secret@h/db` parses
            // with no host and the secret in its path.
            return Err(usage(format!(
                "malformed database URL {}: it names no host; expected \
                 postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
                mask_secrets(s)
            )));
        }
        Ok(db)
    }

    /// The URL with its real password, for handing to a driver. Never print it.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// The host: the URL's host, or a `host=` query parameter (a Unix socket directory).
    pub fn host(&self) -> String {
        if let Some(h) = self.query_param("host") {
            return h;
        }
        match self.0.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => percent_decode(&h.to_string()),
            None => String::new(),
        }
    }

    pub fn port(&self) -> u16 {
        self.query_param("port")
            .and_then(|p| p.parse().ok())
            .or(self.0.port())
            .unwrap_or(5432)
    }

    /// The user name, percent-decoded; libpq defaults it to the login user.
    pub fn user(&self) -> String {
        match self.query_param("user") {
            Some(u) => u,
            None if !self.0.username().is_empty() => percent_decode(self.0.username()),
            None => std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "postgres".into()),
        }
    }

    /// Whether the URL names a user (else libpq's default, PGUSER or the login user, applies).
    pub fn has_user(&self) -> bool {
        self.query_param("user").is_some() || !self.0.username().is_empty()
    }

    /// The same URL as `user`, for a URL that names no user (a `user=` parameter would win).
    pub fn with_user(&self, user: &str) -> DbUrl {
        let mut url = self.0.clone();
        // NOTE: only fails for URLs without a host, which `parse` rejects.
        let _ = url.set_username(user);
        DbUrl(url)
    }

    pub fn password(&self) -> Option<String> {
        self.query_param("password")
            .or_else(|| self.0.password().map(percent_decode))
    }

    /// The database name, percent-decoded; libpq defaults it to the user name.
    pub fn database(&self) -> String {
        if let Some(d) = self.query_param("dbname") {
            return d;
        }
        let path = self.0.path().trim_start_matches('/');
        if path.is_empty() {
            self.user()
        } else {
            percent_decode(path)
        }
    }

    /// A query parameter such as `sslmode`, decoded.
    pub fn query_param(&self, key: &str) -> Option<String> {
        self.0
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// The same server, user, password and query with another database. The path is
    /// replaced as a whole (never edited as a string), so `cruddurroot` stays `cruddurroot`.
    pub fn with_database(&self, database: &str) -> DbUrl {
        let mut url = self.0.clone();
        url.path_segments_mut()
            .expect("BUG: postgres URLs always have a path")
            .clear()
            .push(database);
        if self.query_param("dbname").is_some() {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "dbname" {
                        database.to_string()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        DbUrl(url)
    }

    /// The maintenance database of the same server: `postgres`, or `template1` when the target
    /// itself is `postgres` (so it can be dropped or created).
    pub fn maintenance(&self) -> DbUrl {
        let db = if self.database() == "postgres" {
            "template1"
        } else {
            "postgres"
        };
        self.with_database(db)
    }

    /// Whether the host is an Amazon RDS endpoint.
    pub fn is_rds(&self) -> bool {
        let host = self.host().to_ascii_lowercase();
        host.trim_end_matches('.').ends_with(".rds.amazonaws.com")
            || host
                .trim_end_matches('.')
                .ends_with(".rds.amazonaws.com.cn")
    }

    /// `host:port/database as user`, for confirmations and status lines.
    pub fn short(&self) -> String {
        format!(
            "{}:{}/{} as {}",
            self.host(),
            self.port(),
            self.database(),
            self.user()
        )
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut url = self.0.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("****"));
        }
        if url.query_pairs().any(|(k, _)| k == "password") {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k == "password" {
                        "****".to_string()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        f.write_str(url.as_str())
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({self})")
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Masks every `user:secret@` in a text derived from a URL or an env file, whatever else is
/// wrong with it (a URL that did not parse, a `.env` line with an unclosed quote): in each
/// word holding an `@`, everything between the first `:` of the user part (after `://` when
/// there is one) and the last `@` becomes `****`. NOTE: it errs on the side of masking.
pub fn mask_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '(' | ')' | '<' | '>' | ',') {
            out.push_str(&mask_word(&word));
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.push_str(&mask_word(&word));
    out
}

fn mask_word(word: &str) -> String {
    let Some(at) = word.rfind('@') else {
        return word.to_string();
    };
    let start = word[..at].find("://").map_or(0, |i| i + 3);
    match word[start..at].find(':') {
        Some(colon) if start + colon + 1 < at => {
            format!("{}****{}", &word[..start + colon + 1], &word[at..])
        }
        _ => word.to_string(),
    }
}

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

    /// Resolves against the process environment.
    pub fn from_env(req: &TargetRequest) -> anyhow::Result<Target> {
        Target::resolve(req, |k| std::env::var(k).ok())
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

    #[test]
    fn cruddurroot_and_cruddur_round_trip() {
        // Regression: the old script's sed removed every "/cruddur", breaking this user.
        let u = DbUrl::parse(
            "postgresql://cruddurroot:s3cr%40t@host.example:5433/cruddur?sslmode=require",
        )
        .unwrap();
        assert_eq!(u.user(), "cruddurroot");
        assert_eq!(u.password().as_deref(), Some("s3cr@t"));
        assert_eq!(u.database(), "cruddur");
        let m = u.maintenance();
        assert_eq!(
            m.expose().as_str(),
            "postgresql://cruddurroot:s3cr%40t@host.example:5433/postgres?sslmode=require"
        );
        assert_eq!(m.user(), "cruddurroot");
        let back = m.with_database("cruddur");
        assert_eq!(back, u);
        let p = DbUrl::parse("postgresql://postgres@h/postgres").unwrap();
        assert_eq!(p.maintenance().database(), "template1");
    }

    #[test]
    fn encoded_database_names_survive() {
        let u = DbUrl::parse("postgresql://u@h/my%20db").unwrap();
        assert_eq!(u.database(), "my db");
        assert_eq!(u.maintenance().with_database("my db"), u);
    }

    #[test]
    fn display_masks_passwords() {
        let u = DbUrl::parse("postgresql://root:hunter2@h:5432/cruddur?password=hunter3").unwrap();
        let shown = format!("{u} {u:?}");
        assert!(!shown.contains("hunter"), "{shown}");
        assert!(
            shown.contains("postgresql://root:****@h:5432/cruddur"),
            "{shown}"
        );
    }

    #[test]
    fn malformed_url_error_is_masked() {
        let err = DbUrl::parse("postgresql://root:hunter2@host:notaport/db").unwrap_err();
        let msg = format!("{err:#}");
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(msg.contains("root:****@host"), "{msg}");
        let err = DbUrl::parse("mysql://root:hunter2@host/db").unwrap_err();
        assert!(!format!("{err:#}").contains("hunter2"));
        assert_eq!(
            mask_secrets("postgresql://a:b:c@d@e/f"),
            "postgresql://a:****@e/f"
        );
    }

    /// Regression: URLs without `//` were echoed whole, password included.
    #[test]
    fn urls_without_slashes_are_masked_too() {
        for bad in [
            "u:hunter2@localhost/db",
            "postgres:/u:hunter2@h/db",
            "postgres:u:hunter2@h/db",
            "postgresql://u:hunter2@h:port/db",
        ] {
            let msg = format!("{:#}", DbUrl::parse(bad).unwrap_err());
            assert!(msg.contains(":****@"), "{bad}: {msg}");
            assert!(!msg.contains("hunter2"), "{bad}: {msg}");
        }
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

    #[test]
    fn secrets_are_masked_in_any_text() {
        assert_eq!(
            mask_secrets("line 1: CONNECTION_URL=\"postgresql://u:pw@h/db"),
            "line 1: CONNECTION_URL=\"postgresql://u:****@h/db"
        );
        assert_eq!(mask_secrets("u:p/w@h"), "u:****@h");
        assert_eq!(mask_secrets("no secret: a@b, x:y"), "no secret: a@b, x:y");
        assert_eq!(mask_secrets("postgresql://u@h/db"), "postgresql://u@h/db");
    }
}
