//! The EC2 calls cruddur-db makes, on EC2's Query protocol: a form-encoded POST signed with
//! SigV4 (the SDK's own signer), and an XML answer.
//!
//! NOTE: this replaces the SDK's EC2 crate, which was most of a cold release build (about 8
//! of 11 minutes on 2 cores) for the four security-group operations used here. The SDK's
//! behaviour that matters is kept: the endpoint settings (`AWS_ENDPOINT_URL_EC2`,
//! `AWS_ENDPOINT_URL`, the profile's `endpoint_url`, `AWS_USE_FIPS_ENDPOINT`), three attempts
//! with backoff on throttling, 5xx and network failures, and the SDK's timeouts.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use super::Aws;

/// The EC2 API version the calls are written against.
const API_VERSION: &str = "2016-11-15";
/// Attempts per call, as the SDK's standard retry mode makes.
const ATTEMPTS: u32 = 3;
/// The longest one call may take, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(90);

/// Why an EC2 call failed.
#[derive(Debug)]
pub(crate) enum Ec2Error {
    /// EC2 answered with an error: its code and message.
    Service { code: String, message: String },
    /// No usable answer came: the cause, as the transport or parser saw it.
    NoAnswer(String),
    /// The client could not be set up (an unusable `AWS_CA_BUNDLE`): a usage error.
    Setup(anyhow::Error),
}

/// The endpoint EC2 calls go to in `region`, as the SDK picks it: `AWS_ENDPOINT_URL_EC2`,
/// then `AWS_ENDPOINT_URL`, then the profile's `endpoint_url` (which the loaded configuration
/// holds), unless `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is true; else the regional one
/// (`-fips` with `AWS_USE_FIPS_ENDPOINT=true`). A configured endpoint that is not an http(s)
/// URL is a usage error, named by where it came from.
pub(crate) fn endpoint(region: &str, configured: Option<&str>) -> anyhow::Result<String> {
    endpoint_with(region, configured, crate::env::var)
}

fn endpoint_with(
    region: &str,
    configured: Option<&str>,
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<String> {
    let env = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let is_true = |name: &str| env(name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if !is_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
        let chosen = ["AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL"]
            .into_iter()
            .find_map(|name| env(name).map(|v| (name, v)))
            .or_else(|| configured.map(|v| ("the profile's endpoint_url", v.to_string())));
        if let Some((source, raw)) = chosen {
            let raw = raw.trim();
            let ok = url::Url::parse(raw)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(crate::error::usage(format!(
                    "{source} is not an http(s) URL: {}; for example \
                     AWS_ENDPOINT_URL=http://localhost:5000",
                    crate::mask::mask_secrets(raw)
                )));
            }
            return Ok(raw.to_string());
        }
    }
    let service = if is_true("AWS_USE_FIPS_ENDPOINT") {
        "ec2-fips"
    } else {
        "ec2"
    };
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!("https://{service}.{region}.{suffix}"))
}

/// The form body of a call: the action, the API version and the parameters, encoded.
fn form(action: &str, params: &[(String, String)]) -> String {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    body.append_pair("Action", action);
    body.append_pair("Version", API_VERSION);
    for (k, v) in params {
        body.append_pair(k, v);
    }
    body.finish()
}

/// The code and message of an EC2 error document (`<Response><Errors><Error>`), or `None`
/// when the text is not one.
fn error_of(xml: &str) -> Option<(String, String)> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let error = doc.descendants().find(|n| n.has_tag_name("Error"))?;
    let text = |name: &str| {
        error
            .children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .map(str::to_string)
    };
    Some((text("Code")?, text("Message").unwrap_or_default()))
}

/// Error codes worth another attempt (throttling and the service's own trouble).
fn retryable_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "Unavailable"
    )
}

impl Aws {
    /// Calls an EC2 action with `params` and returns the answer's XML.
    pub(crate) async fn ec2_call(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, Ec2Error> {
        match tokio::time::timeout(OPERATION_TIMEOUT, self.ec2_attempts(action, params)).await {
            Ok(answer) => answer,
            Err(_) => Err(Ec2Error::NoAnswer(format!(
                "no answer within {} s",
                OPERATION_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn ec2_attempts(
        &self,
        action: &str,
        params: &[(String, String)],
    ) -> Result<String, Ec2Error> {
        let body = form(action, params);
        let mut attempt = 1;
        loop {
            let (result, retry) = match self.ec2_once(&body).await {
                Ok((status, text)) if (200..300).contains(&status) => return Ok(text),
                Ok((status, text)) => match error_of(&text) {
                    Some((code, message)) => {
                        let retry = status >= 500 || retryable_code(&code);
                        (Ec2Error::Service { code, message }, retry)
                    }
                    None => (
                        Ec2Error::NoAnswer(format!(
                            "HTTP {status} with no EC2 error in the answer: {}",
                            text.chars().take(200).collect::<String>()
                        )),
                        status >= 500,
                    ),
                },
                Err(e @ Ec2Error::Setup(_)) => return Err(e),
                Err(e) => (e, true),
            };
            if !retry || attempt >= ATTEMPTS {
                return Err(result);
            }
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// The EC2 calls' HTTP client, made on first use.
    fn ec2_http(&self) -> Result<&reqwest::Client, Ec2Error> {
        if let Some(client) = self.ec2_http.get() {
            return Ok(client);
        }
        let client = http_client().map_err(Ec2Error::Setup)?;
        Ok(self.ec2_http.get_or_init(|| client))
    }

    /// One signed POST: the status and the body, or a transport failure.
    async fn ec2_once(&self, body: &str) -> Result<(u16, String), Ec2Error> {
        let no_answer = |e: &(dyn std::error::Error + 'static)| {
            Ec2Error::NoAnswer(crate::error::error_chain(e))
        };
        let credentials = self
            .config
            .credentials_provider()
            .ok_or_else(|| Ec2Error::NoAnswer("no AWS credentials were loaded".into()))?
            .provide_credentials()
            .await
            .map_err(|e| no_answer(&e))?;
        let identity = Identity::from(credentials);
        let settings = SigningSettings::default();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| no_answer(&e))?
            .into();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let headers = [("content-type", content_type)];
        let signable = SignableRequest::new(
            "POST",
            self.ec2_endpoint.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| no_answer(&e))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| no_answer(&e))?
            .into_parts();
        let mut request = self
            .ec2_http()?
            .post(self.ec2_endpoint.as_str())
            .header("content-type", content_type)
            .body(body.to_string());
        for (name, value) in instructions.headers() {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| no_answer(&e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| no_answer(&e))?;
        Ok((status, text))
    }
}

/// The HTTP client of the EC2 calls, with the SDK's timeouts. It trusts the Mozilla roots built
/// into the binary, as the AWS CLI trusts its bundled ones, plus `AWS_CA_BUNDLE` when set.
/// NOTE: not the platform's store: parsing it costs milliseconds on every run, for nothing
/// when the endpoint is plain http (moto, LocalStack). Made by the first EC2 call only, so
/// that commands that make none (rds, sync-cognito) do not read `AWS_CA_BUNDLE`.
fn http_client() -> anyhow::Result<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(bundle) = crate::env::var_os("AWS_CA_BUNDLE").filter(|v| !v.is_empty()) {
        let path = std::path::Path::new(&bundle);
        let certs = crate::tls::load_bundle(path)
            .map_err(|e| crate::error::usage(format!("AWS_CA_BUNDLE: {e:#}")))?;
        for cert in certs {
            roots.add(cert).map_err(|e| {
                crate::error::usage(format!(
                    "AWS_CA_BUNDLE: {} holds a certificate that cannot be a root: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(crate::tls::http_client()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .build()?)
}

/// The wait before attempt `attempt + 1`: exponential from 100 ms, with jitter, as the SDK's
/// standard retry mode waits.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 100u64 << attempt.min(8);
    let jitter = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    Duration::from_millis(ceiling / 2 + jitter % (ceiling / 2 + 1))
}

/// The text of `node`'s child element `name`.
pub(crate) fn child_text<'a>(node: roxmltree::Node<'a, 'a>, name: &str) -> Option<&'a str> {
    node.children()
        .find(|n| n.has_tag_name(name))
        .and_then(|n| n.text())
}

/// The `item` elements of the list element `list` anywhere in `doc`.
pub(crate) fn items<'a>(
    doc: &'a roxmltree::Document<'a>,
    list: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'a>> + 'a {
    doc.descendants()
        .filter(move |n| n.has_tag_name(list))
        .flat_map(|l| l.children().filter(|n| n.has_tag_name("item")))
}

/// Parses an answer's XML, or says it could not.
pub(crate) fn parse(xml: &str) -> Result<roxmltree::Document<'_>, Ec2Error> {
    roxmltree::Document::parse(xml)
        .map_err(|e| Ec2Error::NoAnswer(format!("EC2's answer is not XML: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_encode_the_action_and_parameters() {
        let body = form(
            "ModifySecurityGroupRules",
            &[
                ("GroupId".into(), "sg-1".into()),
                (
                    "SecurityGroupRule.1.SecurityGroupRule.Description".into(),
                    "Gitpod: a & b/c".into(),
                ),
            ],
        );
        assert_eq!(
            body,
            "Action=ModifySecurityGroupRules&Version=2016-11-15&GroupId=sg-1&\
             SecurityGroupRule.1.SecurityGroupRule.Description=Gitpod%3A+a+%26+b%2Fc"
        );
    }

    #[test]
    fn endpoints_are_picked_as_the_sdk_picks_them() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let general = Some("http://127.0.0.1:5000");
        let endpoint_with = |r: &str, c: Option<&str>, e| endpoint_with(r, c, e).unwrap();
        assert_eq!(
            endpoint_with("eu-west-1", None, env(&[])),
            "https://ec2.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint_with("cn-north-1", None, env(&[])),
            "https://ec2.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            endpoint_with("us-east-1", None, env(&[("AWS_USE_FIPS_ENDPOINT", "TRUE")])),
            "https://ec2-fips.us-east-1.amazonaws.com"
        );
        assert_eq!(
            endpoint_with("us-east-1", general, env(&[])),
            "http://127.0.0.1:5000"
        );
        assert_eq!(
            endpoint_with(
                "us-east-1",
                general,
                env(&[("AWS_ENDPOINT_URL_EC2", " http://127.0.0.1:6000 ")])
            ),
            "http://127.0.0.1:6000"
        );
        assert_eq!(
            endpoint_with(
                "us-east-1",
                general,
                env(&[
                    ("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:6000"),
                    ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
                ])
            ),
            "https://ec2.us-east-1.amazonaws.com"
        );
    }

    #[test]
    fn endpoints_that_are_not_urls_are_refused_by_name_and_masked() {
        let env =
            |v: &'static str| move |name: &str| (name == "AWS_ENDPOINT_URL").then(|| v.to_string());
        for bad in [
            "not a url",
            "localhost:5000",
            "ftp://h/",
            "http://u:Secret9@",
        ] {
            let err = endpoint_with("us-east-1", None, env(bad))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("AWS_ENDPOINT_URL is not an http(s) URL"),
                "{err}"
            );
            assert!(!err.contains("Secret9"), "{err}");
        }
        let err = endpoint_with("us-east-1", Some("nope"), |_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("the profile's endpoint_url"), "{err}");
    }

    #[test]
    fn error_documents_give_code_and_message() {
        let xml = "<?xml version=\"1.0\"?>\n<Response><Errors><Error><Code>InvalidGroup.NotFound\
                   </Code><Message>The security group 'sg-9' does not exist</Message></Error>\
                   </Errors><RequestID>r-1</RequestID></Response>";
        assert_eq!(
            error_of(xml),
            Some((
                "InvalidGroup.NotFound".into(),
                "The security group 'sg-9' does not exist".into()
            ))
        );
        assert_eq!(error_of("<html>bad gateway</html>"), None);
        assert_eq!(error_of("not xml"), None);
    }

    #[test]
    fn throttling_and_service_trouble_are_retried_others_not() {
        assert!(retryable_code("RequestLimitExceeded"));
        assert!(retryable_code("InternalError"));
        assert!(!retryable_code("InvalidGroup.NotFound"));
        assert!(!retryable_code("UnauthorizedOperation"));
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        for attempt in 1..=5 {
            let ceiling = Duration::from_millis(100 << attempt);
            let wait = backoff(attempt);
            assert!(
                wait >= ceiling / 2 && wait <= ceiling,
                "{attempt}: {wait:?}"
            );
        }
    }

    #[test]
    fn list_items_and_their_fields_are_found() {
        let xml = "<DescribeSecurityGroupRulesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
                   <securityGroupRuleSet><item><securityGroupRuleId>sgr-1</securityGroupRuleId>\
                   <fromPort>5432</fromPort></item><item><securityGroupRuleId>sgr-2</securityGroupRuleId>\
                   </item></securityGroupRuleSet><nextToken>t</nextToken></DescribeSecurityGroupRulesResponse>";
        let doc = parse(xml).unwrap();
        let ids: Vec<_> = items(&doc, "securityGroupRuleSet")
            .filter_map(|n| child_text(n, "securityGroupRuleId"))
            .collect();
        assert_eq!(ids, ["sgr-1", "sgr-2"]);
        assert_eq!(child_text(doc.root_element(), "nextToken"), Some("t"));
    }
}
