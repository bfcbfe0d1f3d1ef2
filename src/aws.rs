//! AWS: SDK configuration that fails fast, errors with the service's code and a fix, and the
//! few EC2 and RDS calls cruddur-db makes (security group rules, instance status, start/stop).
//!
//! NOTE: the region and credentials chains are those of the AWS CLI and the SDK's defaults,
//! less the EC2 instance metadata service (IMDS) when this machine is not an EC2 instance:
//! off EC2, IMDS never answers and the SDK would wait seconds for it before saying that
//! nothing was found. On EC2 (detected from the DMI vendor strings) it is asked with a short
//! timeout; `AWS_EC2_METADATA_DISABLED=true` turns it off everywhere.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::meta::region::ProvideRegion;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_config::provider_config::ProviderConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, SecurityGroupRule, SecurityGroupRuleRequest,
    SecurityGroupRuleUpdate,
};
use serde::Serialize;

use crate::error::{coded, exit, usage};

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
    ec2: OnceLock<aws_sdk_ec2::Client>,
    rds: OnceLock<aws_sdk_rds::Client>,
}

impl fmt::Debug for Aws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Aws").field("region", &self.region).finish()
    }
}

/// How long resolving credentials may take (an assume-role profile calls STS).
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(15);

const NO_REGION: &str = "no AWS region: pass --region, set AWS_REGION (or AWS_DEFAULT_REGION), \
     or give the profile a region (`aws configure set region us-east-1`)";
const NO_CREDENTIALS: &str = "no AWS credentials: set AWS_ACCESS_KEY_ID and \
     AWS_SECRET_ACCESS_KEY (in Gitpod: `gp env AWS_ACCESS_KEY_ID=...`), or name a profile of \
     ~/.aws/credentials with --profile or AWS_PROFILE (`aws configure` writes one)";

impl Aws {
    /// Loads the configuration: region from `--region`, AWS_REGION, AWS_DEFAULT_REGION, the
    /// profile; credentials from the environment, the profile (or `--profile` first), web
    /// identity, the ECS container; IMDS for both only on EC2. A missing region or missing
    /// credentials is a configuration error (exit 2) that names what is missing, found without
    /// any network call. The endpoint honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_EC2/_RDS).
    pub async fn load(settings: &AwsSettings) -> anyhow::Result<Aws> {
        let profile = settings
            .profile
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let imds = imds_allowed();
        // NOTE: like the AWS CLI, a named profile that does not exist is an error, not a
        // silent fall-back to other credentials (the SDK's providers just skip it).
        let named = profile.map(str::to_string).or_else(|| {
            std::env::var("AWS_PROFILE")
                .ok()
                .filter(|p| !p.trim().is_empty())
        });
        if let Some(name) = named.filter(|n| n != "default") {
            if !profile_defined(&name) {
                return Err(usage(format!(
                    "the AWS profile {name:?} (--profile/AWS_PROFILE) is not defined in \
                     ~/.aws/config or ~/.aws/credentials; `aws configure --profile {name}` \
                     makes it"
                )));
            }
        }

        let region = resolve_region(settings.region.as_deref(), profile, imds).await;
        let credentials = resolve_credentials(profile, region.clone(), imds).await;
        let (region, credentials) = match (region, credentials) {
            (Some(r), Ok(Some(c))) => (r, c),
            (None, Ok(None)) => {
                return Err(usage(format!(
                    "no AWS region and no AWS credentials\n  {NO_REGION}\n  {NO_CREDENTIALS}"
                )))
            }
            (None, _) => return Err(usage(NO_REGION)),
            (Some(_), Ok(None)) => return Err(usage(NO_CREDENTIALS)),
            (Some(_), Err(e)) => return Err(e),
        };

        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(region.clone())
            // NOTE: resolved once above; handing the SDK the result avoids a second
            // resolution (a second STS call for assume-role profiles).
            .credentials_provider(credentials)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .read_timeout(Duration::from_secs(30))
                    .operation_timeout(Duration::from_secs(90))
                    .build(),
            );
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        let config = loader.load().await;
        Ok(Aws {
            config,
            region: region.to_string(),
            ec2: OnceLock::new(),
            rds: OnceLock::new(),
        })
    }

    /// The region in use.
    pub fn region(&self) -> &str {
        &self.region
    }

    fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.ec2
            .get_or_init(|| aws_sdk_ec2::Client::new(&self.config))
    }

    fn rds(&self) -> &aws_sdk_rds::Client {
        self.rds
            .get_or_init(|| aws_sdk_rds::Client::new(&self.config))
    }

    /// An AWS call's failure (exit 5): the service's error code and message, or the whole
    /// cause chain when no answer came, and a line saying how to fix it.
    pub fn failed<E, R>(&self, what: &str, err: SdkError<E, R>) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_string);
        let text = match &code {
            Some(code) => format!(
                "{what} failed: {code}: {}",
                err.message().unwrap_or("(AWS sent no message)")
            ),
            None => format!("{what} failed: {}", DisplayErrorContext(&err)),
        };
        let hint = match &code {
            Some(code) => fix_for(code, &self.region),
            None => Some(format!(
                "no answer from AWS: check the network, the region ({}), and AWS_ENDPOINT_URL \
                 if it is set",
                self.region
            )),
        };
        match hint {
            Some(h) => coded(exit::AWS, format!("{text}\nhint: {h}")),
            None => coded(exit::AWS, text),
        }
    }

    /// The error for a rule id that AWS lists nothing for. NOTE: EC2 answers
    /// DescribeSecurityGroupRules for an unknown id with InvalidSecurityGroupRuleId.NotFound,
    /// which [`Aws::failed`] shows; some implementations (moto) answer an empty list instead,
    /// which gets the same code and hint here.
    pub fn rule_not_found(&self, rule_id: &str, group_id: Option<&str>) -> anyhow::Error {
        let code = "InvalidSecurityGroupRuleId.NotFound";
        let place = group_id.map(|g| format!(" in {g}")).unwrap_or_default();
        coded(
            exit::AWS,
            format!(
                "describing security group rule {rule_id} failed: {code}: the security group \
                 rule ID '{rule_id}' does not exist{place}\nhint: {}",
                fix_for(code, &self.region).unwrap_or_default()
            ),
        )
    }

    /// DescribeDBInstances for one instance.
    pub async fn describe_instance(&self, id: &str) -> anyhow::Result<Instance> {
        let out = self
            .rds()
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| self.failed(&format!("describing RDS instance {id}"), e))?;
        let db = out.db_instances().first().ok_or_else(|| {
            coded(
                exit::AWS,
                format!("describing RDS instance {id} failed: AWS returned no instance"),
            )
        })?;
        Ok(Instance::from_sdk(db))
    }

    /// StartDBInstance; returns the status AWS reports afterwards.
    pub async fn start_instance(&self, id: &str) -> anyhow::Result<String> {
        let request = self.rds().start_db_instance().db_instance_identifier(id);
        let answer = request.send().await.map(|out| out.db_instance);
        self.status_after("starting", id, answer)
    }

    /// StopDBInstance; returns the status AWS reports afterwards.
    pub async fn stop_instance(&self, id: &str) -> anyhow::Result<String> {
        let request = self.rds().stop_db_instance().db_instance_identifier(id);
        let answer = request.send().await.map(|out| out.db_instance);
        self.status_after("stopping", id, answer)
    }

    /// The status after a start or stop call (`doing` is "starting" or "stopping"): the one AWS
    /// reports, else `doing` itself; a failed call is [`Aws::failed`].
    fn status_after<E, R>(
        &self,
        doing: &str,
        id: &str,
        answer: Result<Option<aws_sdk_rds::types::DbInstance>, SdkError<E, R>>,
    ) -> anyhow::Result<String>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let db = answer.map_err(|e| self.failed(&format!("{doing} RDS instance {id}"), e))?;
        Ok(db
            .and_then(|d| d.db_instance_status)
            .unwrap_or_else(|| doing.to_string()))
    }

    /// One rule by id; `None` when AWS lists nothing for it.
    pub async fn rule(&self, rule_id: &str) -> anyhow::Result<Option<Rule>> {
        let out = self
            .ec2()
            .describe_security_group_rules()
            .security_group_rule_ids(rule_id)
            .send()
            .await
            .map_err(|e| self.failed(&format!("describing security group rule {rule_id}"), e))?;
        Ok(out.security_group_rules().first().map(Rule::from_sdk))
    }

    /// Every rule (inbound and outbound) of the groups, sorted by id.
    pub async fn rules_of(&self, group_ids: &[String]) -> anyhow::Result<Vec<Rule>> {
        let mut rules = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .ec2()
                .describe_security_group_rules()
                .filters(
                    Filter::builder()
                        .name("group-id")
                        .set_values(Some(group_ids.to_vec()))
                        .build(),
                )
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    self.failed(&format!("listing the rules of {}", group_ids.join(", ")), e)
                })?;
            rules.extend(out.security_group_rules().iter().map(Rule::from_sdk));
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(rules)
    }

    /// DescribeSecurityGroups for one group: Ok when it exists, the AWS error
    /// (InvalidGroup.NotFound) when it does not.
    pub async fn check_group(&self, group_id: &str) -> anyhow::Result<()> {
        self.ec2()
            .describe_security_groups()
            .group_ids(group_id)
            .send()
            .await
            .map_err(|e| self.failed(&format!("describing security group {group_id}"), e))?;
        Ok(())
    }

    /// ModifySecurityGroupRules: the rule becomes exactly `spec` (tcp, one port, one CIDR).
    pub async fn modify_rule(
        &self,
        group_id: &str,
        rule_id: &str,
        spec: &RuleSpec,
    ) -> anyhow::Result<()> {
        let port = i32::from(spec.port);
        self.ec2()
            .modify_security_group_rules()
            .group_id(group_id)
            .security_group_rules(
                SecurityGroupRuleUpdate::builder()
                    .security_group_rule_id(rule_id)
                    .security_group_rule(
                        SecurityGroupRuleRequest::builder()
                            .ip_protocol("tcp")
                            .from_port(port)
                            .to_port(port)
                            .cidr_ipv4(&spec.cidr)
                            .description(&spec.description)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                self.failed(
                    &format!("modifying rule {rule_id} of security group {group_id}"),
                    e,
                )
            })?;
        Ok(())
    }

    /// AuthorizeSecurityGroupIngress for `spec`; returns the new rule's id.
    pub async fn authorize(&self, group_id: &str, spec: &RuleSpec) -> anyhow::Result<String> {
        let port = i32::from(spec.port);
        let out = self
            .ec2()
            .authorize_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(port)
                    .to_port(port)
                    .ip_ranges(
                        IpRange::builder()
                            .cidr_ip(&spec.cidr)
                            .description(&spec.description)
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                self.failed(
                    &format!("adding an inbound rule to security group {group_id}"),
                    e,
                )
            })?;
        out.security_group_rules()
            .iter()
            .find_map(|r| r.security_group_rule_id())
            .map(str::to_string)
            .ok_or_else(|| {
                coded(
                    exit::AWS,
                    format!(
                        "adding an inbound rule to security group {group_id}: AWS did not \
                         return the new rule's id"
                    ),
                )
            })
    }

    /// Whether the security groups let `ip` reach the database port. Rules that name other
    /// security groups or prefix lists are not evaluated (they cannot be for an outside
    /// address). For a [`RuleLocator::Rule`] the port is the rule's own when it is a single
    /// tcp port, else [`DEFAULT_DB_PORT`], and the whole group is checked.
    pub async fn ip_allowed(&self, locator: &RuleLocator, ip: Ipv4Addr) -> anyhow::Result<Access> {
        let (groups, port) = match locator {
            RuleLocator::Instance(id) => {
                let inst = self.describe_instance(id).await?;
                let port = inst.port.unwrap_or(DEFAULT_DB_PORT);
                (inst.security_groups, port)
            }
            RuleLocator::Rule { group_id, rule_id } => {
                let port = match self.rule(rule_id).await? {
                    Some(r) => r.single_tcp_port().unwrap_or(DEFAULT_DB_PORT),
                    None => DEFAULT_DB_PORT,
                };
                (vec![group_id.clone()], port)
            }
        };
        self.access(groups, port, ip).await
    }

    /// Whether any inbound rule of the groups lets `ip` in on tcp `port`.
    pub async fn access(
        &self,
        groups: Vec<String>,
        port: u16,
        ip: Ipv4Addr,
    ) -> anyhow::Result<Access> {
        let rules = if groups.is_empty() {
            Vec::new()
        } else {
            self.rules_of(&groups).await?
        };
        let allowing_rules: Vec<String> = rules
            .iter()
            .filter(|r| r.allows(ip, port))
            .map(|r| r.id.clone())
            .collect();
        Ok(Access {
            ip,
            port,
            allowed: !allowing_rules.is_empty(),
            groups,
            allowing_rules,
        })
    }
}

/// For `doctor` and the like: loads the AWS configuration and says whether the security
/// group lets `ip` reach the database port (see [`Aws::ip_allowed`]).
pub async fn security_group_allows(
    settings: &AwsSettings,
    locator: &RuleLocator,
    ip: Ipv4Addr,
) -> anyhow::Result<Access> {
    Aws::load(settings).await?.ip_allowed(locator, ip).await
}

/// What decides which security groups and port are meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleLocator {
    /// An RDS instance: its VPC security groups and its port.
    Instance(String),
    /// A security group and one of its rules (DB_SG_ID, DB_SG_RULE_ID).
    Rule { group_id: String, rule_id: String },
}

/// The answer of [`Aws::ip_allowed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub allowed: bool,
    pub groups: Vec<String>,
    /// The inbound rules that let the address in.
    pub allowing_rules: Vec<String>,
}

/// The fix for an AWS error code, when there is a useful one.
fn fix_for(code: &str, region: &str) -> Option<String> {
    Some(match code {
        "InvalidGroup.NotFound" | "InvalidGroupId.Malformed" | "InvalidGroupId.NotFound" => {
            format!(
                "check --group-id/DB_SG_ID, and that the group is in region {region} (--region, \
                 AWS_REGION)"
            )
        }
        "InvalidSecurityGroupRuleId.NotFound" | "InvalidSecurityGroupRuleId.Malformed" => {
            "check --rule-id/DB_SG_RULE_ID; `aws ec2 describe-security-group-rules --filters \
             Name=group-id,Values=SG_ID` lists the group's rules, or use --db-instance to let \
             cruddur-db find or create the rule"
                .to_string()
        }
        "DBInstanceNotFound" | "DBInstanceNotFoundFault" => format!(
            "check --db-instance/DB_INSTANCE_ID, and that the instance is in region {region}; \
             `aws rds describe-db-instances --query 'DBInstances[].DBInstanceIdentifier'` lists them"
        ),
        "InvalidDBInstanceState" | "InvalidDBInstanceStateFault" => {
            "`cruddur-db rds status` shows the instance's state; wait until it is available or \
             stopped and try again"
                .to_string()
        }
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
            "the IAM user or role needs ec2:DescribeSecurityGroupRules, \
             ec2:DescribeSecurityGroups, ec2:ModifySecurityGroupRules, \
             ec2:AuthorizeSecurityGroupIngress, rds:DescribeDBInstances, rds:StartDBInstance \
             and rds:StopDBInstance"
                .to_string()
        }
        "AuthFailure" | "InvalidClientTokenId" | "UnrecognizedClientException"
        | "SignatureDoesNotMatch" | "InvalidAccessKeyId" | "IncompleteSignature" => {
            "AWS refused the credentials: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or \
             the profile); the key may be mistyped, inactive or deleted"
                .to_string()
        }
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            "the session credentials (or the request) expired: refresh them, and check the \
             clock of this machine"
                .to_string()
        }
        "InvalidPermission.Duplicate" => {
            "the group already has a rule for this address and port".to_string()
        }
        "RulesPerSecurityGroupLimitExceeded" => {
            "the group has no room for another rule: delete an unused inbound rule".to_string()
        }
        "OptInRequired" => format!("the account is not subscribed to this service in {region}"),
        _ => return None,
    })
}

async fn resolve_region(flag: Option<&str>, profile: Option<&str>, imds: bool) -> Option<Region> {
    let usable = |r: Option<Region>| r.filter(|r| !r.as_ref().trim().is_empty());
    if let Some(r) = flag.map(str::trim).filter(|r| !r.is_empty()) {
        return Some(Region::new(r.to_string()));
    }
    if let Some(r) = usable(EnvironmentVariableRegionProvider::new().region().await) {
        return Some(r);
    }
    let mut from_profile = ProfileFileRegionProvider::builder();
    if let Some(p) = profile {
        from_profile = from_profile.profile_name(p);
    }
    if let Some(r) = usable(from_profile.build().region().await) {
        return Some(r);
    }
    if imds {
        let provider = aws_config::imds::region::ImdsRegionProvider::builder()
            .imds_client(imds_client())
            .build();
        return usable(provider.region().await);
    }
    None
}

/// `Ok(None)` when no source has credentials; `Err` when a source has them but failed.
async fn resolve_credentials(
    profile: Option<&str>,
    region: Option<Region>,
    imds: bool,
) -> anyhow::Result<Option<Credentials>> {
    let conf = ProviderConfig::default()
        .with_region(region)
        .with_behavior_version(Some(BehaviorVersion::latest()));
    let mut from_profile = ProfileFileCredentialsProvider::builder().configure(&conf);
    if let Some(p) = profile {
        from_profile = from_profile.profile_name(p);
    }
    let from_profile = from_profile.build();
    let from_env = EnvironmentVariableCredentialsProvider::new();
    // NOTE: like the AWS CLI, an explicit --profile wins over credentials in the environment.
    let mut chain = if profile.is_some() {
        CredentialsProviderChain::first_try("Profile", from_profile)
            .or_else("Environment", from_env)
    } else {
        CredentialsProviderChain::first_try("Environment", from_env)
            .or_else("Profile", from_profile)
    };
    chain = chain
        .or_else(
            "WebIdentityToken",
            aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder()
                .configure(&conf)
                .build(),
        )
        .or_else(
            "EcsContainer",
            aws_config::ecs::EcsCredentialsProvider::builder()
                .configure(&conf)
                .build(),
        );
    if imds {
        chain = chain.or_else(
            "Ec2InstanceMetadata",
            aws_config::imds::credentials::ImdsCredentialsProvider::builder()
                .configure(&conf)
                .imds_client(imds_client())
                .build(),
        );
    }
    let result = tokio::time::timeout(CREDENTIALS_TIMEOUT, chain.provide_credentials()).await;
    match result {
        Err(_) => Err(coded(
            exit::AWS,
            format!(
                "loading AWS credentials took more than {} s; check the profile's \
                 credential_process or role settings",
                CREDENTIALS_TIMEOUT.as_secs()
            ),
        )),
        Ok(Ok(c)) => Ok(Some(c)),
        Ok(Err(CredentialsError::CredentialsNotLoaded(_))) => Ok(None),
        Ok(Err(e @ CredentialsError::InvalidConfiguration(_))) => Err(usage(format!(
            "the AWS configuration is invalid: {}",
            DisplayErrorContext(&e)
        ))),
        Ok(Err(e)) => Err(coded(
            exit::AWS,
            format!(
                "loading AWS credentials failed: {}",
                DisplayErrorContext(&e)
            ),
        )),
    }
}

/// Whether the shared config file has `[profile NAME]` or the credentials file has `[NAME]`
/// (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE move them, as for the AWS CLI).
fn profile_defined(name: &str) -> bool {
    let path = |var: &str, default: &str| -> Option<std::path::PathBuf> {
        match std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
            Some(v) => match v.strip_prefix("~/") {
                Some(rest) => dirs::home_dir().map(|h| h.join(rest)),
                None => Some(v.into()),
            },
            None => dirs::home_dir().map(|h| h.join(".aws").join(default)),
        }
    };
    let sections = |p: Option<std::path::PathBuf>| -> Vec<String> {
        let text = p
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let l = l.trim();
                let inner = l.strip_prefix('[')?.split(']').next()?;
                Some(inner.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .collect()
    };
    let in_config = sections(path("AWS_CONFIG_FILE", "config"))
        .iter()
        .any(|s| s == &format!("profile {name}"));
    in_config
        || sections(path("AWS_SHARED_CREDENTIALS_FILE", "credentials"))
            .iter()
            .any(|s| s == name)
}

/// An IMDS client that gives up quickly: it is only asked on EC2, where it answers at once.
fn imds_client() -> aws_config::imds::Client {
    aws_config::imds::Client::builder()
        .connect_timeout(Duration::from_millis(500))
        .read_timeout(Duration::from_secs(1))
        .max_attempts(1)
        .build()
}

/// Whether IMDS may be asked: not disabled, and this machine says it is an EC2 instance.
fn imds_allowed() -> bool {
    let disabled = std::env::var("AWS_EC2_METADATA_DISABLED")
        .is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"));
    !disabled && on_ec2()
}

/// EC2 instances say so in their DMI vendor strings (Nitro) or hypervisor UUID (Xen).
fn on_ec2() -> bool {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    ["sys_vendor", "board_vendor", "bios_vendor"]
        .iter()
        .any(|f| read(&format!("/sys/devices/virtual/dmi/id/{f}")).contains("Amazon EC2"))
        || read("/sys/devices/virtual/dmi/id/bios_version")
            .to_ascii_lowercase()
            .contains("amazon")
        || read("/sys/hypervisor/uuid").starts_with("ec2")
}

/// An RDS instance, as `rds status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    pub id: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    /// The endpoint's host name (none while the instance is being created).
    pub address: Option<String>,
    pub port: Option<u16>,
    pub publicly_accessible: Option<bool>,
    /// The VPC security groups.
    pub security_groups: Vec<String>,
}

impl Instance {
    fn from_sdk(db: &aws_sdk_rds::types::DbInstance) -> Instance {
        let port = db
            .endpoint()
            .and_then(|e| e.port())
            .or(db.db_instance_port().filter(|p| *p > 0))
            .and_then(|p| u16::try_from(p).ok());
        Instance {
            id: db.db_instance_identifier().unwrap_or_default().to_string(),
            status: db.db_instance_status().unwrap_or("unknown").to_string(),
            engine: db.engine().unwrap_or_default().to_string(),
            engine_version: db.engine_version().unwrap_or_default().to_string(),
            address: db.endpoint().and_then(|e| e.address()).map(str::to_string),
            port,
            publicly_accessible: db.publicly_accessible(),
            security_groups: db
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id())
                .map(str::to_string)
                .collect(),
        }
    }
}

/// One security group rule, reduced to what cruddur-db looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: String,
    pub group_id: String,
    pub inbound: bool,
    /// `tcp`, `udp`, `icmp`, `-1` (all), or a protocol number.
    pub protocol: String,
    /// `-1` for all ports.
    pub from_port: i32,
    pub to_port: i32,
    pub cidr_ipv4: Option<String>,
    /// The source when it is not an IPv4 range: an IPv6 range, a security group, a prefix list.
    pub other_source: Option<String>,
    pub description: Option<String>,
}

impl Rule {
    fn from_sdk(r: &SecurityGroupRule) -> Rule {
        let other_source = if let Some(c) = r.cidr_ipv6() {
            Some(format!("IPv6 range {c}"))
        } else if let Some(g) = r.referenced_group_info().and_then(|g| g.group_id()) {
            Some(format!("security group {g}"))
        } else {
            r.prefix_list_id().map(|p| format!("prefix list {p}"))
        };
        Rule {
            id: r.security_group_rule_id().unwrap_or_default().to_string(),
            group_id: r.group_id().unwrap_or_default().to_string(),
            inbound: !r.is_egress().unwrap_or(false),
            protocol: r.ip_protocol().unwrap_or("-1").to_ascii_lowercase(),
            from_port: r.from_port().unwrap_or(-1),
            to_port: r.to_port().unwrap_or(-1),
            cidr_ipv4: r.cidr_ipv4().map(str::to_string),
            other_source,
            description: r.description().map(str::to_string),
        }
    }

    pub fn is_tcp(&self) -> bool {
        self.protocol == "tcp" || self.protocol == "6"
    }

    fn all_traffic(&self) -> bool {
        self.protocol == "-1" || self.protocol == "all"
    }

    /// The port when the rule is tcp on exactly one port.
    pub fn single_tcp_port(&self) -> Option<u16> {
        (self.is_tcp() && self.from_port == self.to_port)
            .then(|| u16::try_from(self.from_port).ok())
            .flatten()
            .filter(|p| *p > 0)
    }

    /// Whether tcp traffic to `port` matches the rule's protocol and ports.
    pub fn covers_port(&self, port: u16) -> bool {
        let port = i32::from(port);
        self.all_traffic()
            || (self.is_tcp()
                && (self.from_port == -1 || (self.from_port <= port && port <= self.to_port)))
    }

    /// Whether the rule lets `ip` in on tcp `port`.
    pub fn allows(&self, ip: Ipv4Addr, port: u16) -> bool {
        self.inbound
            && self.covers_port(port)
            && self
                .cidr_ipv4
                .as_deref()
                .is_some_and(|c| cidr_contains(c, ip))
    }

    /// Whether the rule already is exactly `spec`.
    pub fn is(&self, spec: &RuleSpec) -> bool {
        self.inbound
            && self.other_source.is_none()
            && self.single_tcp_port() == Some(spec.port)
            && self.cidr_ipv4.as_deref() == Some(spec.cidr.as_str())
            && self.description.as_deref().unwrap_or("") == spec.description
    }

    /// `tcp 5432`, `tcp 5000-6000`, `all traffic`, `udp 53`.
    pub fn ports(&self) -> String {
        if self.all_traffic() {
            return "all traffic".to_string();
        }
        let proto = if self.is_tcp() { "tcp" } else { &self.protocol };
        match (self.from_port, self.to_port) {
            (-1, _) => format!("{proto}, all ports"),
            (a, b) if a == b => format!("{proto} {a}"),
            (a, b) => format!("{proto} {a}-{b}"),
        }
    }

    /// The source: the IPv4 range or whatever else the rule names.
    pub fn source(&self) -> String {
        self.cidr_ipv4
            .clone()
            .or_else(|| self.other_source.clone())
            .unwrap_or_else(|| "(no source)".to_string())
    }
}

/// What the cruddur-db rule must be: always tcp, one port, one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSpec {
    pub port: u16,
    /// `IP/32`.
    pub cidr: String,
    pub description: String,
}

impl RuleSpec {
    pub fn for_ip(ip: Ipv4Addr, port: u16, description: &str) -> RuleSpec {
        RuleSpec {
            port,
            cidr: format!("{ip}/32"),
            description: description.to_string(),
        }
    }
}

/// Whether an IPv4 CIDR (`a.b.c.d/n`, or a bare address) contains `ip`.
pub fn cidr_contains(cidr: &str, ip: Ipv4Addr) -> bool {
    let (net, len) = match cidr.split_once('/') {
        Some((n, l)) => (n, l.parse::<u32>().ok()),
        None => (cidr, Some(32)),
    };
    let (Ok(net), Some(len)) = (net.parse::<Ipv4Addr>(), len) else {
        return false;
    };
    if len > 32 {
        return false;
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(net) & mask == u32::from(ip) & mask
}

/// Checks a security group id's shape (`sg-` and 8 or 17 hex digits) before any call.
pub fn check_group_id(id: &str) -> anyhow::Result<String> {
    check_id(id, "sg-", "--group-id/DB_SG_ID", "a security group id")
}

/// Checks a security group rule id's shape (`sgr-` and 8 or 17 hex digits) before any call.
pub fn check_rule_id(id: &str) -> anyhow::Result<String> {
    check_id(
        id,
        "sgr-",
        "--rule-id/DB_SG_RULE_ID",
        "a security group rule id",
    )
}

fn check_id(id: &str, prefix: &str, names: &str, what: &str) -> anyhow::Result<String> {
    let id = id.trim();
    let ok = id.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(id.to_string())
    } else {
        Err(usage(format!(
            "{names} {id:?} is not {what}: expected {prefix} followed by 8 or 17 lower-case hex \
             digits, e.g. {prefix}0123456789abcdef0"
        )))
    }
}

/// Checks an RDS instance identifier's shape before any call: 1 to 63 letters, digits and
/// hyphens, starting with a letter, no double or trailing hyphen.
pub fn check_instance_id(id: &str) -> anyhow::Result<String> {
    let id = id.trim();
    let ok = !id.is_empty()
        && id.len() <= 63
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.ends_with('-')
        && !id.contains("--");
    if ok {
        Ok(id.to_string())
    } else {
        Err(usage(format!(
            "--db-instance/DB_INSTANCE_ID {id:?} is not an RDS instance identifier: 1 to 63 \
             letters, digits and hyphens, starting with a letter"
        )))
    }
}

/// Checks a rule description: what EC2 accepts (up to 255 of a-z A-Z 0-9, spaces and
/// `._-:/()#,@[]+=&;{}!$*`).
pub fn check_description(d: &str) -> anyhow::Result<String> {
    let ok = !d.is_empty()
        && d.len() <= 255
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c));
    if ok {
        Ok(d.to_string())
    } else {
        Err(usage(format!(
            "--description {d:?} is not a valid rule description: 1 to 255 of letters, digits, \
             spaces and ._-:/()#,@[]+=&;{{}}!$*"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: &str, from: i32, to: i32, cidr: &str, desc: &str) -> Rule {
        Rule {
            id: "sgr-0123456789abcdef0".into(),
            group_id: "sg-0123456789abcdef0".into(),
            inbound: true,
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            cidr_ipv4: Some(cidr.into()),
            other_source: None,
            description: Some(desc.into()),
        }
    }

    #[test]
    fn ids_are_checked_for_shape() {
        assert!(check_group_id("sg-0123456789abcdef0").is_ok());
        assert!(check_group_id(" sg-01234567\n").is_ok());
        assert!(check_rule_id("sgr-0123456789abcdef0").is_ok());
        for bad in [
            "",
            "sg-",
            "sg-xyz",
            "sgr-0123456789abcdef0",
            "sg-0123456789ABCDEF0",
            "sg-123",
        ] {
            let err = check_group_id(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), exit::USAGE, "{bad}");
            assert!(format!("{err}").contains("DB_SG_ID"), "{err}");
        }
        for bad in ["sg-0123456789abcdef0", "sgr-", "sgr-zzzzzzzz", "<html>"] {
            assert!(check_rule_id(bad).is_err(), "{bad}");
        }
        assert!(check_instance_id("cruddur-db-instance").is_ok());
        for bad in ["", "1abc", "a--b", "a-", "a_b", &"a".repeat(64)] {
            assert!(check_instance_id(bad).is_err(), "{bad}");
        }
        assert!(check_description("GITPOD").is_ok());
        assert!(check_description("").is_err());
        assert!(check_description("é").is_err());
    }

    #[test]
    fn cidrs_contain_addresses() {
        let ip = Ipv4Addr::new(52, 95, 110, 1);
        assert!(cidr_contains("52.95.110.1/32", ip));
        assert!(cidr_contains("52.95.110.1", ip));
        assert!(cidr_contains("52.95.0.0/16", ip));
        assert!(cidr_contains("0.0.0.0/0", ip));
        assert!(!cidr_contains("52.95.110.2/32", ip));
        assert!(!cidr_contains("52.95.110.1/33", ip));
        assert!(!cidr_contains("garbage", ip));
    }

    #[test]
    fn rules_allow_by_protocol_port_and_range() {
        let ip = Ipv4Addr::new(52, 95, 110, 1);
        assert!(rule("tcp", 5432, 5432, "52.95.110.1/32", "").allows(ip, 5432));
        assert!(!rule("tcp", 5432, 5432, "52.95.110.1/32", "").allows(ip, 5433));
        assert!(rule("tcp", 5000, 6000, "52.95.0.0/16", "").allows(ip, 5432));
        assert!(rule("-1", -1, -1, "0.0.0.0/0", "").allows(ip, 5432));
        assert!(!rule("udp", 5432, 5432, "0.0.0.0/0", "").allows(ip, 5432));
        let mut out = rule("tcp", 5432, 5432, "0.0.0.0/0", "");
        out.inbound = false;
        assert!(!out.allows(ip, 5432));
    }

    #[test]
    fn a_rule_is_the_spec_only_when_exact() {
        let spec = RuleSpec::for_ip(Ipv4Addr::new(52, 95, 110, 1), 5432, "GITPOD");
        assert_eq!(spec.cidr, "52.95.110.1/32");
        assert!(rule("tcp", 5432, 5432, "52.95.110.1/32", "GITPOD").is(&spec));
        assert!(!rule("tcp", 5432, 5432, "52.95.110.1/32", "other").is(&spec));
        assert!(!rule("tcp", 5432, 5433, "52.95.110.1/32", "GITPOD").is(&spec));
        assert!(!rule("-1", -1, -1, "52.95.110.1/32", "GITPOD").is(&spec));
        assert!(!rule("tcp", 5432, 5432, "52.95.110.0/24", "GITPOD").is(&spec));
        assert_eq!(rule("-1", -1, -1, "x", "").ports(), "all traffic");
        assert_eq!(rule("tcp", 1, 65535, "x", "").ports(), "tcp 1-65535");
        assert_eq!(rule("6", 5432, 5432, "x", "").ports(), "tcp 5432");
    }

    #[test]
    fn error_hints_name_the_fix() {
        assert!(fix_for("InvalidGroup.NotFound", "us-east-1")
            .unwrap()
            .contains("DB_SG_ID"));
        assert!(fix_for("InvalidSecurityGroupRuleId.NotFound", "us-east-1")
            .unwrap()
            .contains("DB_SG_RULE_ID"));
        assert!(fix_for("UnauthorizedOperation", "x")
            .unwrap()
            .contains("ec2:ModifySecurityGroupRules"));
        assert_eq!(fix_for("SomethingNew", "x"), None);
    }
}
