//! The flags several subcommands share: the target, how to reach it, confirmation, dry runs,
//! `--json`, and the AWS settings.

use clap::Args;

/// Which database a command works on. Global, so they work on either side of the subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct TargetArgs {
    /// PostgreSQL URL of the target database; wins over --prod and every environment variable.
    /// Prefer CONNECTION_URL in the environment: a password on the command line shows in `ps`
    #[arg(long, global = true, value_name = "URL")]
    pub url: Option<String>,

    /// Use the production database named by PROD_CONNECTION_URL (never falls back to local)
    #[arg(long, global = true)]
    pub prod: bool,

    /// Treat the target as protected (like production) whatever its host
    #[arg(long, global = true)]
    pub protected: bool,

    /// Do not read a .env file from the current directory
    #[arg(long, global = true)]
    pub no_dotenv: bool,

    /// Log in with a fresh RDS IAM authentication token for every connection instead of a
    /// password (needs TLS, AWS credentials and `GRANT rds_iam` for the database user)
    #[arg(
        long,
        global = true,
        env = "CRUDDUR_IAM",
        hide_env_values = true,
        value_parser = clap::builder::FalseyValueParser::new(),
        conflicts_with = "password_secret"
    )]
    pub iam: bool,

    /// Read the password (and the user, when the URL has none) from this AWS Secrets Manager
    /// secret, a name or ARN: an RDS-managed secret's JSON or a plain string
    #[arg(
        long,
        global = true,
        value_name = "ID",
        env = "CRUDDUR_PASSWORD_SECRET",
        hide_env_values = true
    )]
    pub password_secret: Option<String>,
}

/// How to reach the server: timeouts and waiting for it to come up.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Retry until the server accepts connections, for up to SECS seconds (default 30)
    #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "30")]
    pub wait: Option<u64>,

    /// Seconds to wait for one connection attempt
    #[arg(
        long,
        value_name = "SECS",
        env = "CRUDDUR_CONNECT_TIMEOUT",
        hide_env_values = true,
        default_value_t = 10
    )]
    pub connect_timeout: u64,
}

impl ConnArgs {
    /// The flags as connection options.
    pub fn options(&self) -> crate::pg::ConnectOptions {
        crate::pg::ConnectOptions {
            connect_timeout: std::time::Duration::from_secs(self.connect_timeout.max(1)),
            wait: self.wait.map(std::time::Duration::from_secs),
            ..crate::pg::ConnectOptions::default()
        }
    }
}

/// Confirmation for destructive work on a protected (production) target.
#[derive(Debug, Clone, Default, Args)]
pub struct ConfirmArgs {
    /// Skip the typed confirmation on a protected target; needs --confirm-db with the database name
    #[arg(long)]
    pub yes: bool,

    /// The target's database name, repeated for automation together with --yes
    #[arg(long, value_name = "NAME")]
    pub confirm_db: Option<String>,

    /// Print what would run and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

impl ConfirmArgs {
    /// The flags as plain values for the layers below the commands.
    pub fn plain(&self) -> crate::protect::Confirm {
        crate::protect::Confirm {
            yes: self.yes,
            confirm_db: self.confirm_db.clone(),
            dry_run: self.dry_run,
        }
    }
}

/// `--dry-run` for commands that are not destructive enough to ask for a confirmation.
#[derive(Debug, Clone, Default, Args)]
pub struct DryRunArgs {
    /// Print what would be done and change nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `--json` for commands whose result a script may read.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Print JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// Where the AWS SDK finds its region and credentials. Global, like the target flags: the
/// RDS and EC2 commands use them, and so do `--iam` and `--password-secret` in every command.
#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// AWS region (else AWS_REGION, AWS_DEFAULT_REGION or the profile's region; for --iam and
    /// --password-secret the region in an RDS host name or secret ARN comes before those)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// AWS profile from the shared config and credentials files (else AWS_PROFILE)
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
}
