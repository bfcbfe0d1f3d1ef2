//! Every clap type of the command line, in one place; a `///` on each field is its help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The Cruddur database tool: local and production PostgreSQL, SQL files, RDS access.
#[derive(Debug, Parser)]
#[command(
    name = "cruddur-db",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetArgs,

    #[command(flatten)]
    pub aws: AwsArgs,

    #[command(subcommand)]
    pub command: Command,
}

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

/// The RDS instance a command is about.
#[derive(Debug, Clone, Default, Args)]
pub struct InstanceArgs {
    /// RDS instance identifier; `update-sg-rule` finds (or creates) the rule in its security
    /// groups, `doctor` checks them on production targets
    #[arg(
        long,
        value_name = "ID",
        env = "DB_INSTANCE_ID",
        hide_env_values = true
    )]
    pub db_instance: Option<String>,
}

/// The security group rule that lets this workstation reach the database.
#[derive(Debug, Clone, Default, Args)]
pub struct RuleArgs {
    /// Security group id (sg-...) holding the rule; for update-sg-rule alone, the rule tagged
    /// --description on the database port is found or created in it
    #[arg(long, value_name = "ID", env = "DB_SG_ID", hide_env_values = true)]
    pub group_id: Option<String>,

    /// Security group rule id (sgr-...) of the rule for this workstation
    #[arg(long, value_name = "ID", env = "DB_SG_RULE_ID", hide_env_values = true)]
    pub rule_id: Option<String>,
}

/// How a SQL file is run.
#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    /// Run statement by statement in autocommit instead of one transaction
    /// (for files with CREATE DATABASE, VACUUM or CREATE INDEX CONCURRENTLY)
    #[arg(long)]
    pub no_transaction: bool,
}

/// psql variables for SQL files.
#[derive(Debug, Clone, Default, Args)]
pub struct VarArgs {
    /// Set psql variable NAME to VALUE for the SQL files, as `psql -v` does (repeatable);
    /// the files use it as :NAME, :'NAME' (a literal) or :"NAME" (an identifier)
    #[arg(short = 'v', long = "set", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
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

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open psql on the target database (read-only on a protected target unless --write)
    Connect(ConnectArgs),
    /// Create the target database; succeeds with a note when it exists
    Create(CreateArgs),
    /// Drop the target database (IF EXISTS); --force ends other sessions first
    Drop(DropArgs),
    /// List the sessions connected to the target database
    Sessions(SessionsArgs),
    /// Load the schema (sql/schema.sql, built in) or FILE into the target database
    Schema(LoadArgs),
    /// Load the seed data (sql/seed.sql, built in) or FILE into the target database
    Seed(LoadArgs),
    /// Create the database if missing, then load schema and seed, all on the one target
    Setup(SetupArgs),
    /// Drop the database, then setup
    Reset(ResetArgs),
    /// Check every step from URL to schema and say which one fails
    Doctor(DoctorArgs),
    /// TLS helpers
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Allow this workstation's public IP on the RDS security group rule
    UpdateSgRule(UpdateSgRuleArgs),
    /// Status, start and stop of the RDS instance
    #[command(subcommand)]
    Rds(RdsCommand),
    /// Post an activity ("crud") as a user
    PostCrud(PostCrudArgs),
    /// Add a user, as the Cognito post-confirmation Lambda did
    AddUser(AddUserArgs),
    /// List users with their number of activities
    Users(UsersArgs),
    /// Database migrations: new, up (the default), down, status
    Migrate(MigrateArgs),
    /// Set users' Cognito ids from the user pool (handle = preferred_username, cognito_user_id = sub)
    SyncCognito(SyncCognitoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout
    Man,
    /// Print an RDS IAM authentication token for the target's host, port and user on stdout
    /// (as `aws rds generate-db-auth-token`); valid for 15 minutes
    IamToken,
    /// Show the audit log of writes on protected targets
    Audit(AuditArgs),
}

impl Command {
    /// Whether the command writes to the target database (a dry run does not): such a
    /// command on a protected target leaves a line in the audit log.
    pub fn writes(&self) -> bool {
        match self {
            Command::Drop(a) => !a.confirm.dry_run,
            Command::Schema(a) | Command::Seed(a) => !a.confirm.dry_run,
            Command::Setup(a) => !a.confirm.dry_run,
            Command::Reset(a) => !a.setup.confirm.dry_run,
            Command::PostCrud(a) => !a.confirm.dry_run,
            Command::AddUser(a) => !a.confirm.dry_run,
            Command::Connect(a) => a.write && !a.confirm.dry_run,
            Command::SyncCognito(a) => !a.confirm.dry_run,
            Command::Migrate(a) => match &a.command {
                None => !a.up.run.confirm.dry_run,
                Some(MigrateCommand::Up(u)) => !u.run.confirm.dry_run,
                Some(MigrateCommand::Down(d)) => !d.run.confirm.dry_run,
                Some(MigrateCommand::New(_) | MigrateCommand::Status(_)) => false,
            },
            Command::Create(_)
            | Command::Sessions(_)
            | Command::Doctor(_)
            | Command::Tls(_)
            | Command::UpdateSgRule(_)
            | Command::Rds(_)
            | Command::Users(_)
            | Command::Completions(_)
            | Command::Man
            | Command::Audit(_)
            | Command::IamToken => false,
        }
    }
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only the last N lines
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Allow writes on a protected target (asks for the typed confirmation)
    #[arg(long)]
    pub write: bool,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,

    /// Extra arguments for psql, after `--`
    #[arg(last = true, value_name = "PSQL_ARGS")]
    pub psql_args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub conn: ConnArgs,

    #[command(flatten)]
    pub dry: DryRunArgs,
}

#[derive(Debug, Args)]
pub struct DropArgs {
    /// Terminate the other sessions on the database, then drop it
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// Sessions on every database of the server, not only the target
    #[arg(long)]
    pub all: bool,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// SQL file to load instead of the built-in one (`-` reads stdin)
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Schema file instead of the built-in sql/schema.sql
    #[arg(long, value_name = "FILE")]
    pub schema_file: Option<PathBuf>,

    /// Seed file instead of the built-in sql/seed.sql
    #[arg(long, value_name = "FILE")]
    pub seed_file: Option<PathBuf>,

    /// Create and load the schema only, no seed data
    #[arg(long)]
    pub no_seed: bool,

    /// Apply the pending migrations of DIR after the seed [default: db/migrations here, or
    /// backend-flask/db/migrations of the Cruddur checkout around the current directory]
    #[arg(
        long,
        value_name = "DIR",
        env = "CRUDDUR_MIGRATIONS_DIR",
        hide_env_values = true
    )]
    pub migrations_dir: Option<PathBuf>,

    /// Apply no migrations, even when a migrations directory is found
    #[arg(long, conflicts_with = "migrations_dir")]
    pub no_migrate: bool,

    /// Afterwards set the users' Cognito ids from the user pool, as `sync-cognito` does
    #[arg(long)]
    pub sync_cognito: bool,

    #[command(flatten)]
    pub cognito: CognitoArgs,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

impl SetupArgs {
    /// The flags as plain values; the pool id is checked here (exit 2 when missing).
    pub(crate) fn request(
        &self,
        aws: crate::aws::AwsSettings,
    ) -> anyhow::Result<crate::lifecycle::SetupRequest> {
        Ok(crate::lifecycle::SetupRequest {
            schema_file: self.schema_file.clone(),
            seed_file: self.seed_file.clone(),
            no_seed: self.no_seed,
            migrations_dir: self.migrations_dir.clone(),
            no_migrate: self.no_migrate,
            vars: self.vars.vars.clone(),
            sync_cognito: if self.sync_cognito {
                Some((aws, self.cognito.pool_id()?))
            } else {
                None
            },
        })
    }
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// Terminate the other sessions on the database before dropping it
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub setup: SetupArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub output: OutputArgs,

    /// Seconds to wait for one connection attempt
    #[arg(
        long,
        value_name = "SECS",
        env = "CRUDDUR_CONNECT_TIMEOUT",
        hide_env_values = true,
        default_value_t = 5
    )]
    pub connect_timeout: u64,

    #[command(flatten)]
    pub instance: InstanceArgs,

    #[command(flatten)]
    pub rule: RuleArgs,

    #[command(flatten)]
    pub ip: IpArgs,
}

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Download the Amazon RDS CA bundle into the cache directory and print its path
    FetchRdsCa(FetchRdsCaArgs),
}

#[derive(Debug, Args)]
pub struct FetchRdsCaArgs {
    /// Where to download the bundle from (GovCloud and China regions have their own)
    #[arg(
        long,
        value_name = "URL",
        env = "CRUDDUR_RDS_CA_URL", hide_env_values = true,
        default_value = crate::tls::RDS_CA_URL
    )]
    pub ca_url: String,

    /// Download again even when the bundle is already cached
    #[arg(long)]
    pub force: bool,
}

/// Where this workstation's public IPv4 address comes from: --ip, then GITPOD_IP, then the
/// public-IP services in order; the first valid public address wins.
#[derive(Debug, Clone, Default, Args)]
pub struct IpArgs {
    /// This workstation's public IPv4 address (else GITPOD_IP, else the IP services)
    #[arg(long, value_name = "IP")]
    pub ip: Option<String>,

    /// Public-IP services to ask, in order (repeatable or comma-separated)
    /// [default: https://checkip.amazonaws.com, https://ifconfig.me/ip, https://api.ipify.org]
    #[arg(
        long,
        value_name = "URL",
        env = "CRUDDUR_IP_URL",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub ip_url: Vec<String>,

    /// Seconds to wait for each public-IP service
    #[arg(
        long,
        value_name = "SECS",
        env = "CRUDDUR_IP_TIMEOUT", hide_env_values = true,
        default_value_t = 3,
        value_parser = clap::value_parser!(u64).range(1..=60)
    )]
    pub ip_timeout: u64,

    /// Accept a private or otherwise non-public address, with a warning (for tests and
    /// unusual networks only)
    #[arg(long)]
    pub allow_private: bool,
}

impl IpArgs {
    /// The public-IP lookup from the flags and GITPOD_IP.
    pub fn lookup(&self) -> crate::ip::Lookup {
        crate::ip::Lookup {
            flag: self.ip.clone(),
            gitpod_ip: std::env::var("GITPOD_IP").ok(),
            urls: self.ip_url.clone(),
            timeout: std::time::Duration::from_secs(self.ip_timeout.max(1)),
            allow_private: self.allow_private,
        }
    }
}

#[derive(Debug, Args)]
pub struct UpdateSgRuleArgs {
    #[command(flatten)]
    pub ip: IpArgs,

    #[command(flatten)]
    pub rule: RuleArgs,

    #[command(flatten)]
    pub instance: InstanceArgs,

    /// Description that tags the rule
    #[arg(long, value_name = "TEXT", default_value = "GITPOD")]
    pub description: String,

    #[command(flatten)]
    pub dry: DryRunArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    /// Afterwards wait up to SECS (default 60) until the database port answers
    #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "60")]
    pub wait_reachable: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum RdsCommand {
    /// Show the instance: status, engine, endpoint, security groups, whether my IP is allowed
    Status(RdsStatusArgs),
    /// Start the instance (nothing to do when it is available or starting)
    Start(RdsArgs),
    /// Stop the instance to save money (AWS starts it again after 7 days)
    Stop(RdsArgs),
}

#[derive(Debug, Args)]
pub struct RdsStatusArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub ip: IpArgs,
}

#[derive(Debug, Args)]
pub struct RdsArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,

    /// Wait until the instance is available (start) or stopped (stop), up to SECS (default 900)
    #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "900")]
    pub wait: Option<u64>,

    #[command(flatten)]
    pub dry: DryRunArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct PostCrudArgs {
    /// Handle of the user who posts
    #[arg(long, value_name = "HANDLE")]
    pub handle: String,

    /// The message, 1 to 280 characters; `-` reads it from stdin (one trailing newline is
    /// dropped); with --count, `{N}` becomes the crud's number (1 to N)
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub message: String,

    /// How long the crud lives: 30-days, 7-days, 3-days, 1-day, 12-hours, 3-hours, 1-hour
    #[arg(long, value_name = "TTL", default_value = "7-days")]
    pub ttl: String,

    /// Post N cruds concurrently and print a summary instead of the crud
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// How many cruds are posted at once with --count (default: the pool size, 8); the pool
    /// grows to match
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub concurrency: Option<u64>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct AddUserArgs {
    /// Display name (Cognito `name`)
    #[arg(long, value_name = "NAME", required_unless_present = "from_event")]
    pub name: Option<String>,

    /// Email address (Cognito `email`)
    #[arg(long, value_name = "EMAIL", required_unless_present = "from_event")]
    pub email: Option<String>,

    /// Handle (Cognito `preferred_username`)
    #[arg(long, value_name = "HANDLE", required_unless_present = "from_event")]
    pub handle: Option<String>,

    /// Cognito user id (`sub`)
    #[arg(long, value_name = "SUB")]
    pub cognito_user_id: Option<String>,

    /// Read the user from a Cognito post-confirmation event (JSON; `-` reads stdin)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "email", "handle", "cognito_user_id"])]
    pub from_event: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Only the user with this handle
    #[arg(long, value_name = "HANDLE")]
    pub handle: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// Flags whose value is optional, so it must be joined with `=`.
const OPTIONAL_VALUE_FLAGS: &[&str] = &["--wait", "--wait-reachable"];

/// `--wait 5` is read by clap as `--wait` and then a file named `5` (or an unexpected
/// argument). Says "use --wait=5" instead, before parsing. Arguments after `--` are psql's.
pub fn check_spaced_values<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<(), String> {
    let args: Vec<&str> = args
        .iter()
        .map(|a| a.as_ref().to_str().unwrap_or(""))
        .take_while(|a| *a != "--")
        .collect();
    for pair in args.windows(2) {
        if OPTIONAL_VALUE_FLAGS.contains(&pair[0]) && pair[1].parse::<u64>().is_ok() {
            return Err(format!(
                "{flag} takes its value after `=`: use {flag}={value} ({flag} alone waits the \
                 default time)",
                flag = pair[0],
                value = pair[1]
            ));
        }
    }
    Ok(())
}

/// `migrate`: bare `migrate` is `migrate up`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub command: Option<MigrateCommand>,

    #[command(flatten)]
    pub up: MigrateUpArgs,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Write <YYYYMMDDHHMMSS>_<NAME>.sql with empty up and down sections; print its path
    New(MigrateNewArgs),
    /// Apply every pending migration in time order (the default)
    Up(MigrateUpArgs),
    /// Undo the newest applied migration (--steps N: the newest N)
    Down(MigrateDownArgs),
    /// Show each migration: version, name, state (applied, pending, changed, missing), applied at
    Status(MigrateStatusArgs),
}

/// Where the migration files are.
#[derive(Debug, Clone, Default, Args)]
pub struct MigrateDirArgs {
    /// Migrations directory [default: db/migrations here, or backend-flask/db/migrations of the
    /// Cruddur checkout around the current directory]
    #[arg(
        long,
        value_name = "DIR",
        env = "CRUDDUR_MIGRATIONS_DIR",
        hide_env_values = true
    )]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateRunArgs {
    #[command(flatten)]
    pub dir: MigrateDirArgs,

    /// Seconds to wait for another migration run on the same database to finish
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub lock_timeout: u64,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

/// The Cognito user pool whose users' ids go into the database.
#[derive(Debug, Clone, Default, Args)]
pub struct CognitoArgs {
    /// Cognito user pool id (e.g. us-east-1_AbC123xyz)
    #[arg(
        long,
        value_name = "ID",
        env = "AWS_COGNITO_USER_POOL_ID",
        hide_env_values = true
    )]
    pub user_pool_id: Option<String>,
}

impl CognitoArgs {
    /// The pool id, checked for shape; missing is a usage error naming the flag and variable.
    pub(crate) fn pool_id(&self) -> anyhow::Result<String> {
        match self
            .user_pool_id
            .as_deref()
            .filter(|p| !p.trim().is_empty())
        {
            Some(id) => crate::aws::ids::check_pool_id(id),
            None => Err(crate::error::usage(
                "no Cognito user pool: pass --user-pool-id or set AWS_COGNITO_USER_POOL_ID",
            )),
        }
    }
}

#[derive(Debug, Args)]
pub struct SyncCognitoArgs {
    #[command(flatten)]
    pub cognito: CognitoArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateUpArgs {
    #[command(flatten)]
    pub run: MigrateRunArgs,
}

#[derive(Debug, Clone, Args)]
pub struct MigrateDownArgs {
    /// How many of the newest applied migrations to undo
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub steps: u64,

    #[command(flatten)]
    pub run: MigrateRunArgs,
}

#[derive(Debug, Args)]
pub struct MigrateStatusArgs {
    /// Print a JSON array on stdout (version, name, state, applied_at)
    #[arg(long)]
    pub json: bool,

    /// Exit 1 when a migration is pending or changed (for CI)
    #[arg(long)]
    pub exit_code: bool,

    #[command(flatten)]
    pub dir: MigrateDirArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct MigrateNewArgs {
    /// The migration's name: lower-case letters, digits and _ (e.g. add_bio_column)
    #[arg(value_name = "NAME")]
    pub name: String,

    #[command(flatten)]
    pub dir: MigrateDirArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn target_flags_work_on_either_side() {
        let a = Cli::try_parse_from(["cruddur-db", "--prod", "connect"]).unwrap();
        let b = Cli::try_parse_from(["cruddur-db", "connect", "--prod"]).unwrap();
        assert!(a.target.prod && b.target.prod);
    }

    #[test]
    fn credential_and_aws_flags_are_global() {
        for args in [
            &["cruddur-db", "--iam", "--region", "eu-west-1", "users"][..],
            &["cruddur-db", "users", "--iam", "--region=eu-west-1"][..],
            &[
                "cruddur-db",
                "--region",
                "eu-west-1",
                "rds",
                "status",
                "--iam",
            ][..],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert!(cli.target.iam, "{args:?}");
            assert_eq!(cli.aws.region.as_deref(), Some("eu-west-1"), "{args:?}");
        }
        let cli = Cli::try_parse_from([
            "cruddur-db",
            "seed",
            "--password-secret",
            "rds!db-1",
            "--profile=bootcamp",
        ])
        .unwrap();
        assert_eq!(cli.target.password_secret.as_deref(), Some("rds!db-1"));
        assert_eq!(cli.aws.profile.as_deref(), Some("bootcamp"));
        let both = Cli::try_parse_from(["cruddur-db", "--iam", "--password-secret", "x", "users"]);
        assert!(both.is_err());
    }

    #[test]
    fn psql_args_after_double_dash() {
        let cli = Cli::try_parse_from(["cruddur-db", "connect", "--", "-c", "select 1"]).unwrap();
        match cli.command {
            Command::Connect(c) => assert_eq!(c.psql_args, ["-c", "select 1"]),
            other => panic!("parsed as {other:?}"),
        }
    }

    /// Regression: `--wait 5` was read as a SQL file named 5.
    #[test]
    fn a_spaced_wait_value_gets_a_hint() {
        let err = check_spaced_values(&["cruddur-db", "schema", "--wait", "5"]).unwrap_err();
        assert!(err.contains("use --wait=5"), "{err}");
        assert!(check_spaced_values(&["cruddur-db", "schema", "--wait=5"]).is_ok());
        assert!(check_spaced_values(&["cruddur-db", "schema", "--wait", "f.sql"]).is_ok());
        assert!(check_spaced_values(&["cruddur-db", "connect", "--", "--wait", "5"]).is_ok());
    }

    #[test]
    fn bare_migrate_is_up_and_takes_the_flags() {
        let cli = Cli::try_parse_from(["cruddur-db", "migrate", "--dry-run", "--lock-timeout=3"])
            .unwrap();
        let Command::Migrate(m) = cli.command else {
            panic!()
        };
        assert!(m.command.is_none() && m.up.run.confirm.dry_run);
        assert_eq!(m.up.run.lock_timeout, 3);
        let cli = Cli::try_parse_from(["cruddur-db", "migrate", "down", "--steps", "2"]).unwrap();
        let Command::Migrate(m) = cli.command else {
            panic!()
        };
        assert!(matches!(m.command, Some(MigrateCommand::Down(d)) if d.steps == 2));
        assert!(Cli::try_parse_from(["cruddur-db", "migrate", "down", "--steps", "0"]).is_err());
    }

    #[test]
    fn wait_takes_an_optional_value() {
        let cli = Cli::try_parse_from(["cruddur-db", "create", "--wait"]).unwrap();
        let Command::Create(c) = cli.command else {
            panic!()
        };
        assert_eq!(c.conn.wait, Some(30));
        let cli = Cli::try_parse_from(["cruddur-db", "create", "--wait=5"]).unwrap();
        let Command::Create(c) = cli.command else {
            panic!()
        };
        assert_eq!(c.conn.wait, Some(5));
    }

    #[test]
    fn sync_cognito_takes_the_pool_id_either_way() {
        for args in [
            &[
                "cruddur-db",
                "sync-cognito",
                "--user-pool-id",
                "us-east-1_abc",
            ][..],
            &["cruddur-db", "sync-cognito", "--user-pool-id=us-east-1_abc"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            let Command::SyncCognito(s) = cli.command else {
                panic!()
            };
            assert_eq!(s.cognito.pool_id().unwrap(), "us-east-1_abc");
        }
        let err = CognitoArgs::default().pool_id().unwrap_err();
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::USAGE);
        assert!(format!("{err}").contains("--user-pool-id"), "{err}");
        assert!(
            format!("{err}").contains("AWS_COGNITO_USER_POOL_ID"),
            "{err}"
        );
    }
}
