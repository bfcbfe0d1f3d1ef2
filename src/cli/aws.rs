//! The flags of the AWS commands: TLS bundle, security-group rule, RDS instance, Cognito sync.

use clap::{Args, Subcommand};

use super::target::{ConfirmArgs, ConnArgs, DryRunArgs, OutputArgs};

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

    /// Public-IP services to ask, all at once; the first valid answer wins (repeatable or
    /// comma-separated)
    /// [default: https://checkip.amazonaws.com, https://ifconfig.me/ip, https://api.ipify.org]
    #[arg(
        long,
        value_name = "URL",
        env = "CRUDDUR_IP_URL",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub ip_url: Vec<String>,

    /// Seconds to wait for the public-IP services
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
            gitpod_ip: crate::env::var("GITPOD_IP"),
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
