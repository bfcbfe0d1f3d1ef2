//! RDS IAM authentication tokens: the password of a connection, signed with the AWS
//! credentials, valid for 15 minutes, exactly as `aws rds generate-db-auth-token` makes them.

use std::time::SystemTime;

use anyhow::Context as _;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_rds::auth_token::{AuthTokenGenerator, Config};
use aws_smithy_async::time::StaticTimeSource;

use super::{Aws, AwsSettings};
use crate::error::usage;

/// How long a token is valid: the most RDS allows, as the AWS CLI does.
const TOKEN_LIFETIME_SECS: u64 = 900;

/// Signs RDS IAM tokens for one region with credentials loaded once. Cheap to call: signing
/// makes no network call, so every new connection gets a fresh token.
pub struct TokenSigner {
    credentials: SharedCredentialsProvider,
    region: String,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl TokenSigner {
    /// Loads region and credentials (see `Creds::login` for the order of regions).
    pub async fn load(settings: &AwsSettings) -> anyhow::Result<TokenSigner> {
        let aws = Aws::load(settings).await?;
        let credentials = aws.config.credentials_provider().ok_or_else(|| {
            usage("no AWS credentials to sign an RDS IAM token with (BUG: Aws::load checks them)")
        })?;
        Ok(TokenSigner {
            credentials,
            region: aws.region.clone(),
        })
    }

    /// A signer with made-up static credentials, for tests.
    #[cfg(test)]
    pub(crate) fn for_tests(region: &str) -> TokenSigner {
        TokenSigner {
            credentials: SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                None,
                None,
                "test",
            )),
            region: region.to_string(),
        }
    }

    /// The region tokens are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// A token for `user` on `host:port`, signed now.
    pub async fn token(&self, host: &str, port: u16, user: &str) -> anyhow::Result<String> {
        sign(
            self.credentials.clone(),
            &self.region,
            host,
            port,
            user,
            SystemTime::now(),
        )
        .await
    }
}

/// The token for `user` on `host:port`, signed for `region` at the second of `at`.
pub(crate) async fn sign(
    credentials: SharedCredentialsProvider,
    region: &str,
    host: &str,
    port: u16,
    user: &str,
    at: SystemTime,
) -> anyhow::Result<String> {
    let what = || format!("failed to sign an RDS IAM token for {user:?} on {host}:{port}");
    let config = Config::builder()
        .hostname(host)
        .port(u64::from(port))
        .username(user)
        .region(Region::new(region.to_string()))
        .expires_in(TOKEN_LIFETIME_SECS)
        .build()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(what)?;
    let sdk = SdkConfig::builder()
        .credentials_provider(credentials)
        .time_source(StaticTimeSource::new(at))
        .build();
    let token = AuthTokenGenerator::new(config)
        .auth_token(&sdk)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(what)?;
    Ok(signature_last(token.as_str()))
}

/// The token with `X-Amz-Signature` as its last parameter, where the AWS CLI puts it.
/// NOTE: with session credentials the SDK appends `X-Amz-Security-Token` after the signature
/// and the CLI before it; RDS accepts either, but the tool promises the CLI's exact token.
/// The parameters are moved as they are, never decoded and encoded again.
fn signature_last(token: &str) -> String {
    let Some((base, query)) = token.split_once('?') else {
        return token.to_string();
    };
    let (signature, mut rest): (Vec<&str>, Vec<&str>) = query
        .split('&')
        .partition(|p| p.starts_with("X-Amz-Signature="));
    rest.extend(signature);
    format!("{base}?{}", rest.join("&"))
}

/// The region of an RDS endpoint: `NAME.ID.REGION.rds.amazonaws.com` (also `.com.cn` and
/// proxies' `NAME.proxy-ID.REGION.rds.amazonaws.com`); `None` for any other host.
pub fn region_of_host(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let rest = host
        .strip_suffix(".rds.amazonaws.com")
        .or_else(|| host.strip_suffix(".rds.amazonaws.com.cn"))?;
    let labels: Vec<&str> = rest.split('.').collect();
    // At least the instance name, the account's id label and the region.
    if labels.len() < 3 {
        return None;
    }
    let region = *labels.last()?;
    let looks_like_region = region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && region.ends_with(|c: char| c.is_ascii_digit());
    looks_like_region.then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;

    #[test]
    fn region_comes_from_rds_host_names() {
        let cases = [
            (
                "cruddur-db-instance.c8abcdefgh.us-east-1.rds.amazonaws.com",
                Some("us-east-1"),
            ),
            (
                "CRUDDUR.C8ABCDEFGH.CA-CENTRAL-1.RDS.AMAZONAWS.COM.",
                Some("ca-central-1"),
            ),
            (
                "db.cluster-ro-c8abcdefgh.eu-west-3.rds.amazonaws.com",
                Some("eu-west-3"),
            ),
            (
                "proxy.proxy-c8abcdefgh.ap-southeast-2.rds.amazonaws.com",
                Some("ap-southeast-2"),
            ),
            ("db.abc.cn-north-1.rds.amazonaws.com.cn", Some("cn-north-1")),
            (
                "db.abc.us-gov-west-1.rds.amazonaws.com",
                Some("us-gov-west-1"),
            ),
            ("localhost", None),
            ("rds.amazonaws.com", None),
            ("abc.us-east-1.rds.amazonaws.com", None),
            ("db.abc.notaregion.rds.amazonaws.com", None),
            ("db.us-east-1.rds.amazonaws.com.example.org", None),
            ("127.0.0.1", None),
        ];
        for (host, want) in cases {
            assert_eq!(region_of_host(host).as_deref(), want, "{host}");
        }
    }

    #[tokio::test]
    async fn token_is_signed_at_the_given_second() {
        // The expected token is what `aws rds generate-db-auth-token` (AWS CLI 1.46, botocore)
        // printed for the same credentials, region, host, port and user with its clock set to
        // 2026-01-01T00:00:00Z; tests/creds.rs compares with the live CLI too.
        let creds = SharedCredentialsProvider::new(Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        ));
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600);
        let token = sign(
            creds,
            "us-east-1",
            "cruddur-db-instance.c8abcdefgh.us-east-1.rds.amazonaws.com",
            5432,
            "cruddurroot",
            at,
        )
        .await
        .unwrap();
        assert_eq!(token, EXPECTED_TOKEN);
    }

    #[test]
    fn the_signature_goes_last_as_the_cli_puts_it() {
        assert_eq!(
            signature_last("h:5432/?Action=connect&X-Amz-Signature=ab&X-Amz-Security-Token=t%3D"),
            "h:5432/?Action=connect&X-Amz-Security-Token=t%3D&X-Amz-Signature=ab"
        );
        assert_eq!(
            signature_last("h:5432/?a=1&X-Amz-Signature=ab"),
            "h:5432/?a=1&X-Amz-Signature=ab"
        );
    }

    const EXPECTED_TOKEN: &str = "cruddur-db-instance.c8abcdefgh.us-east-1.rds.amazonaws.com:5432/\
        ?Action=connect&DBUser=cruddurroot&X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIDEXAMPLE%2F20260101%2Fus-east-1%2Frds-db%2Faws4_request\
        &X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=0abdf71d6cc29fcae51a5b7d4cc4f484510aeea8c8e7165cee6eb5b35c262323";
}
