//! AWS: SDK configuration that fails fast, errors with the service's code and a fix, and the
//! few calls cruddur-db makes. One file per concern: [`config`] loads region and credentials,
//! [`error`] turns failures into exit 5 with a fix, [`rds`] and [`sg`] make the RDS and EC2
//! calls ([`ec2`] speaks EC2's protocol), [`cognito`] lists a user pool's users, [`ids`] checks
//! identifiers before any call.

use std::fmt;
use std::sync::OnceLock;

use aws_config::SdkConfig;

mod cognito;
mod config;
mod ec2;
mod error;
pub(crate) mod iam;
pub(crate) mod ids;
mod rds;
pub(crate) mod secrets;
pub(crate) mod sg;

pub use cognito::{PoolUser, PoolUsers};
pub use rds::Instance;
pub use sg::{Access, Rule, RuleLocator, RuleSpec};

/// The database port when nothing else says which: PostgreSQL's.
pub const DEFAULT_DB_PORT: u16 = 5432;

/// Region and profile as the user gave them (`--region`, `--profile`); everything else comes
/// from the usual AWS environment variables and files.
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// A loaded SDK configuration and the clients made from it (each made on first use).
pub struct Aws {
    config: SdkConfig,
    region: String,
    /// Where EC2 calls go ([`ec2::endpoint`]).
    ec2_endpoint: String,
    /// The HTTP client of the EC2 calls, made by the first one (`ec2::http_client`).
    ec2_http: OnceLock<reqwest::Client>,
    rds: OnceLock<aws_sdk_rds::Client>,
    cognito: OnceLock<aws_sdk_cognitoidentityprovider::Client>,
}

impl fmt::Debug for Aws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aws").field("region", &self.region).finish()
    }
}

impl Aws {
    pub(crate) fn rds(&self) -> &aws_sdk_rds::Client {
        self.rds
            .get_or_init(|| aws_sdk_rds::Client::new(&self.config))
    }

    pub(crate) fn cognito(&self) -> &aws_sdk_cognitoidentityprovider::Client {
        self.cognito
            .get_or_init(|| aws_sdk_cognitoidentityprovider::Client::new(&self.config))
    }
}
