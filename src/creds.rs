//! Where a connection's password comes from: the URL (else PGPASSWORD), a fresh RDS IAM
//! token for every new connection (`--iam`), or an AWS Secrets Manager secret read once per
//! run (`--password-secret`). A token or a secret is a password: never shown.

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::aws::iam::{self, TokenSigner};
use crate::aws::{Aws, AwsSettings};
use crate::dburl::DbUrl;

/// How the password is found, as the command line asks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// The URL's password, else PGPASSWORD (as libpq).
    #[default]
    Password,
    /// An RDS IAM authentication token (`--iam`).
    Iam,
    /// The secret with this name or ARN (`--password-secret`).
    Secret(String),
}

impl Credentials {
    /// What the password is, for status lines and `doctor`.
    pub fn describe(&self) -> String {
        match self {
            Credentials::Password => "the URL's password (else PGPASSWORD)".into(),
            Credentials::Iam => "an RDS IAM token (--iam)".into(),
            Credentials::Secret(id) => format!("AWS Secrets Manager secret {id}"),
        }
    }
}

/// A target's credentials: what was asked for, the AWS settings to get them with, and the
/// login once found. Clones share the login, so a run reads a secret (or loads the AWS
/// configuration for tokens) once however many pools it opens.
#[derive(Clone, Default)]
pub struct Creds {
    pub credentials: Credentials,
    pub(crate) aws: AwsSettings,
    found: Arc<OnceCell<Login>>,
}

impl fmt::Debug for Creds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Creds")
            .field("credentials", &self.credentials)
            .field("aws", &self.aws)
            .finish_non_exhaustive()
    }
}

impl Creds {
    pub(crate) fn new(credentials: Credentials, aws: AwsSettings) -> Creds {
        Creds {
            credentials,
            aws,
            found: Arc::default(),
        }
    }

    /// The login for connections to `url`: found on the first call (AWS is loaded only for
    /// `--iam` and `--password-secret`), then the same one.
    pub async fn login(&self, url: &DbUrl) -> anyhow::Result<Login> {
        let login = self
            .found
            .get_or_try_init(|| async {
                match &self.credentials {
                    Credentials::Password => Ok(Login::Url),
                    Credentials::Iam => {
                        let settings = self.with_region_of(&url.host(), None);
                        let tokens = IamTokens(Arc::new(TokenSigner::load(&settings).await?));
                        // One token now, so that a host or user that cannot be signed for
                        // fails here, explained, and not in the pool.
                        tokens.token(url).await?;
                        Ok(Login::Iam(tokens))
                    }
                    Credentials::Secret(id) => {
                        let settings = self.with_region_of(&url.host(), Some(id));
                        let found = Aws::load(&settings).await?.secret_login(id).await?;
                        Ok::<_, anyhow::Error>(Login::Secret {
                            id: id.clone(),
                            user: found.user,
                            password: found.password,
                        })
                    }
                }
            })
            .await?;
        Ok(login.clone())
    }

    /// The AWS settings with the region `--region` names, else the one in the secret's ARN,
    /// else the one in an RDS host name; AWS_REGION and the profile's come after.
    /// NOTE: an RDS instance checks a token against its own region, and RDS-managed secrets
    /// live in the instance's region: the names say where things are better than a default
    /// region set for other work.
    fn with_region_of(&self, host: &str, secret: Option<&str>) -> AwsSettings {
        let flag = self.aws.region.clone().filter(|r| !r.trim().is_empty());
        AwsSettings {
            region: flag
                .or_else(|| secret.and_then(region_of_arn))
                .or_else(|| iam::region_of_host(host)),
            profile: self.aws.profile.clone(),
        }
    }
}

/// The region of a Secrets Manager ARN (`arn:PARTITION:secretsmanager:REGION:ACCOUNT:...`).
fn region_of_arn(id: &str) -> Option<String> {
    let mut parts = id.split(':');
    (parts.next()? == "arn").then_some(())?;
    let _partition = parts.next()?;
    (parts.next()? == "secretsmanager").then_some(())?;
    Some(parts.next()?.to_string()).filter(|r| !r.is_empty())
}

/// How connections log in, once the credentials are found.
#[derive(Clone, Default)]
pub enum Login {
    /// The URL's password, else PGPASSWORD (as libpq).
    #[default]
    Url,
    /// A password read from a secret, and its user name when it has one.
    Secret {
        id: String,
        user: Option<String>,
        password: String,
    },
    /// A fresh RDS IAM token for every new connection.
    Iam(IamTokens),
}

/// Signs RDS IAM tokens; cloning shares the loaded credentials.
#[derive(Clone)]
pub struct IamTokens(Arc<TokenSigner>);

impl IamTokens {
    /// Tokens signed with fixed test credentials, for tests that look at what is sent.
    #[cfg(test)]
    pub(crate) fn for_tests(region: &str) -> IamTokens {
        IamTokens(Arc::new(TokenSigner::for_tests(region)))
    }

    /// The region tokens are signed for.
    pub fn region(&self) -> &str {
        self.0.region()
    }

    /// A token for the URL's host, port and user, signed now.
    pub async fn token(&self, url: &DbUrl) -> anyhow::Result<String> {
        self.0.token(&url.host(), url.port(), &url.user()).await
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Login::Url => f.write_str("Login::Url"),
            Login::Secret { id, user, .. } => f
                .debug_struct("Login::Secret")
                .field("id", id)
                .field("user", user)
                .field("password", &"****")
                .finish(),
            Login::Iam(t) => f
                .debug_struct("Login::Iam")
                .field("region", &t.region())
                .finish(),
        }
    }
}

impl Login {
    /// The URL connections use: a secret's user replaces a URL that names none.
    pub fn url_for(&self, url: &DbUrl) -> DbUrl {
        match self {
            Login::Secret {
                user: Some(user), ..
            } if !url.has_user() => url.with_user(user),
            _ => url.clone(),
        }
    }

    /// The password for a new connection to `url` (already through [`Login::url_for`]); for
    /// `--iam` a token signed now. `env` looks PGPASSWORD up.
    pub async fn password(
        &self,
        url: &DbUrl,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<String>> {
        Ok(match self {
            Login::Iam(tokens) => Some(tokens.token(url).await?),
            _ => self.fixed_password(url, env),
        })
    }

    /// The password that is the same for every connection: `None` for `--iam` (each
    /// connection signs its own) and when neither the URL nor PGPASSWORD has one.
    pub fn fixed_password(
        &self,
        url: &DbUrl,
        env: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        match self {
            Login::Url => password(url, env),
            Login::Secret { password, .. } => Some(password.clone()),
            Login::Iam(_) => None,
        }
    }

    /// Whether the password is an RDS IAM token.
    pub fn is_iam(&self) -> bool {
        matches!(self, Login::Iam(_))
    }
}

/// The password of a connection, as libpq finds it: the URL's, else PGPASSWORD. NOTE: the
/// pool and psql (`connect`) both take it from here, so they never disagree.
pub(crate) fn password(url: &DbUrl, env: impl Fn(&str) -> Option<String>) -> Option<String> {
    url.password()
        .or_else(|| env("PGPASSWORD").filter(|p| !p.is_empty()))
}

/// Opens the pool's connections. NOTE: deadpool-postgres hands every new connection the same
/// configuration; with `--iam` this puts a token signed at that moment into it, so a pool
/// that outlives a token's 15 minutes still opens connections.
pub(crate) struct LoginConnect {
    pub tls: MakeRustlsConnect,
    pub tokens: Option<(IamTokens, DbUrl)>,
}

impl deadpool_postgres::Connect for LoginConnect {
    fn connect(
        &self,
        pg_config: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>>
    {
        let tls = self.tls.clone();
        let mut config = pg_config.clone();
        Box::pin(async move {
            if let Some((tokens, url)) = &self.tokens {
                // NOTE: signing needs no network and `Creds::login` signed once before any
                // pool existed; should it fail now, the connection goes without a token and
                // the server's refusal is explained as usual (a pool's connect can only
                // return PostgreSQL errors).
                match tokens.token(url).await {
                    Ok(token) => {
                        config.password(token);
                    }
                    Err(e) => crate::ui::warn(&format!("{e:#}")),
                }
            }
            let (client, connection) = config.connect(tls).await?;
            let task = tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok((client, task))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_name_their_region() {
        assert_eq!(
            region_of_arn("arn:aws:secretsmanager:ca-central-1:123456789012:secret:rds!db-1-AbC")
                .as_deref(),
            Some("ca-central-1")
        );
        assert_eq!(region_of_arn("cruddur/prod"), None);
        assert_eq!(region_of_arn("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn region_order_is_flag_arn_host() {
        let host = "db.abc.eu-west-1.rds.amazonaws.com";
        let arn = "arn:aws:secretsmanager:us-west-2:1:secret:x";
        let none = Creds::new(Credentials::Iam, AwsSettings::default());
        assert_eq!(
            none.with_region_of(host, Some(arn)).region.as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            none.with_region_of(host, None).region.as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(none.with_region_of("localhost", None).region, None);
        let flag = Creds::new(
            Credentials::Iam,
            AwsSettings {
                region: Some("ap-south-1".into()),
                profile: None,
            },
        );
        assert_eq!(
            flag.with_region_of(host, Some(arn)).region.as_deref(),
            Some("ap-south-1")
        );
    }

    #[test]
    fn a_secrets_user_fills_a_url_without_one() {
        let login = Login::Secret {
            id: "s".into(),
            user: Some("cruddurroot".into()),
            password: "hunter2".into(),
        };
        let bare = DbUrl::parse("postgresql://db.example:5432/cruddur").unwrap();
        assert_eq!(login.url_for(&bare).user(), "cruddurroot");
        let named = DbUrl::parse("postgresql://app@db.example:5432/cruddur").unwrap();
        assert_eq!(login.url_for(&named).user(), "app");
        let shown = format!("{login:?}");
        assert!(
            shown.contains("****") && !shown.contains("hunter2"),
            "{shown}"
        );
    }
}
