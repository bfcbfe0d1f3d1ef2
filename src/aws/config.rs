//! Loading the SDK configuration: region and credentials as the AWS CLI finds them, without
//! waiting on the instance metadata service off EC2.
//!
//! NOTE: the region and credentials chains are those of the AWS CLI and the SDK's defaults,
//! less the EC2 instance metadata service (IMDS) when this machine is not an EC2 instance:
//! off EC2, IMDS never answers and the SDK would wait seconds for it before saying that
//! nothing was found. On EC2 (detected from the DMI vendor strings) it is asked with a short
//! timeout; `AWS_EC2_METADATA_DISABLED=true` turns it off everywhere.

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
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use aws_sdk_rds::error::DisplayErrorContext;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::Builder as HttpClientBuilder;
use aws_smithy_runtime_api::client::http::SharedHttpClient;

use super::{Aws, AwsSettings};
use crate::error::usage;

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
    /// any network call. The endpoint honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_EC2, _RDS,
    /// _COGNITO_IDENTITY_PROVIDER).
    pub async fn load(settings: &AwsSettings) -> anyhow::Result<Aws> {
        let profile = settings
            .profile
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let imds = imds_allowed();
        // NOTE: like the AWS CLI, a named profile that does not exist is an error, not a
        // silent fall-back to other credentials (the SDK's providers just skip it).
        let named = profile
            .map(str::to_string)
            .or_else(|| crate::env::var("AWS_PROFILE").filter(|p| !p.trim().is_empty()));
        if let Some(name) = named.filter(|n| n != "default") {
            if !profile_defined(&name) {
                return Err(usage(format!(
                    "the AWS profile {name:?} (--profile/AWS_PROFILE) is not defined in \
                     ~/.aws/config or ~/.aws/credentials; `aws configure --profile {name}` \
                     makes it"
                )));
            }
        }

        let http = https_client();
        let region = resolve_region(settings.region.as_deref(), profile, imds, &http).await;
        let credentials = resolve_credentials(profile, region.clone(), imds, &http).await;
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
            .http_client(http)
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
            ec2_endpoint: super::ec2::endpoint(region.as_ref(), config.endpoint_url())?,
            config,
            region: region.to_string(),
            ec2_http: OnceLock::new(),
            rds: OnceLock::new(),
            cognito: OnceLock::new(),
        })
    }
}

/// The one HTTPS client of the SDK, its credential providers and IMDS: rustls on ring, with
/// the platform's root certificates (what the SDK's default client does on aws-lc-rs).
fn https_client() -> SharedHttpClient {
    HttpClientBuilder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

fn provider_config(region: Option<Region>, http: &SharedHttpClient) -> ProviderConfig {
    ProviderConfig::default()
        .with_http_client(http.clone())
        .with_region(region)
        .with_behavior_version(Some(BehaviorVersion::latest()))
}

async fn resolve_region(
    flag: Option<&str>,
    profile: Option<&str>,
    imds: bool,
    http: &SharedHttpClient,
) -> Option<Region> {
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
            .imds_client(imds_client(&provider_config(None, http)))
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
    http: &SharedHttpClient,
) -> anyhow::Result<Option<Credentials>> {
    let conf = provider_config(region, http);
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
    // NOTE: only when its variable is set: building it makes an STS client, and with it the
    // HTTPS client's TLS setup (milliseconds, on every run of every AWS command).
    if crate::env::var_os("AWS_WEB_IDENTITY_TOKEN_FILE").is_some_and(|v| !v.is_empty()) {
        chain = chain.or_else(
            "WebIdentityToken",
            aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder()
                .configure(&conf)
                .build(),
        );
    }
    chain = chain.or_else(
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
                .imds_client(imds_client(&conf))
                .build(),
        );
    }
    let result = tokio::time::timeout(CREDENTIALS_TIMEOUT, chain.provide_credentials()).await;
    match result {
        Err(_) => Err(crate::error::kinded(
            crate::error::ErrorKind::Aws,
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
        Ok(Err(e)) => Err(crate::error::kinded(
            crate::error::ErrorKind::Aws,
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
        match crate::env::nonempty(var) {
            Some(v) => Some(crate::files::expand_home(&v)),
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
fn imds_client(conf: &ProviderConfig) -> aws_config::imds::Client {
    aws_config::imds::Client::builder()
        .configure(conf)
        .connect_timeout(Duration::from_millis(500))
        .read_timeout(Duration::from_secs(1))
        .max_attempts(1)
        .build()
}

/// Whether IMDS may be asked: not disabled, and this machine says it is an EC2 instance.
fn imds_allowed() -> bool {
    let disabled = crate::env::var("AWS_EC2_METADATA_DISABLED")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
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
