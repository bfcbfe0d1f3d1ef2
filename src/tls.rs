//! TLS for PostgreSQL connections: every libpq `sslmode`, `sslrootcert` bundles, the RDS CA.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::error::usage;
use crate::target::Target;

/// Where Amazon publishes the global RDS CA bundle.
pub const RDS_CA_URL: &str = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem";

/// libpq's `sslmode` values, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<SslMode> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(usage(format!(
                    "unknown sslmode {other:?}; use one of disable, allow, prefer, require, verify-ca, verify-full"
                )))
            }
        })
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        })
    }
}

impl SslMode {
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// Where the root certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// A PEM file (every certificate in it is trusted).
    File(PathBuf),
    /// `sslrootcert=system`: the well-known public roots.
    System,
}

impl fmt::Display for RootCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootCert::File(p) => write!(f, "{}", p.display()),
            RootCert::System => f.write_str("the system's public roots"),
        }
    }
}

/// The TLS settings of a target, as libpq would understand them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    pub root_cert: Option<RootCert>,
    /// Why this mode: "the URL", "PGSSLMODE", "default for production targets", ...
    pub mode_source: &'static str,
}

/// The user's cache directory for cruddur-db (the RDS bundle lives there).
pub fn cache_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CRUDDUR_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let base = dirs::cache_dir().ok_or_else(|| {
        usage("cannot find a cache directory: set HOME, XDG_CACHE_HOME or CRUDDUR_CACHE_DIR")
    })?;
    Ok(base.join("cruddur-db"))
}

/// Where `tls fetch-rds-ca` stores the RDS bundle.
pub fn rds_bundle_path() -> anyhow::Result<PathBuf> {
    Ok(cache_dir()?.join("rds-global-bundle.pem"))
}

impl TlsSettings {
    /// Settings for a target: the URL's `sslmode`/`sslrootcert` win, then `PGSSLMODE` and
    /// `PGSSLROOTCERT`, then the defaults (`verify-full` with the RDS bundle for production
    /// and RDS targets, `prefer` for everything else).
    pub fn for_target(
        target: &Target,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let env = |k: &str| env(k).filter(|v| !v.is_empty());
        let (mode, mode_source) = match target.url.query_param("sslmode") {
            Some(m) => (m.parse::<SslMode>()?, "the URL"),
            None => match env("PGSSLMODE") {
                Some(m) => (m.parse::<SslMode>()?, "PGSSLMODE"),
                None if target.prod || target.url.is_rds() => (
                    SslMode::VerifyFull,
                    "the default for production and RDS targets",
                ),
                None => (SslMode::Prefer, "the default for local targets"),
            },
        };
        let root = target
            .url
            .query_param("sslrootcert")
            .or_else(|| env("PGSSLROOTCERT"));
        let root_cert = match root.as_deref() {
            Some("system") => Some(RootCert::System),
            Some(p) => Some(RootCert::File(expand_home(p))),
            None if mode.verifies() && (target.prod || target.url.is_rds()) => {
                Some(RootCert::File(rds_bundle_path()?))
            }
            // NOTE: libpq's default, so that the pool and psql agree: with
            // ~/.postgresql/root.crt present, `require` checks the chain like verify-ca.
            None if mode >= SslMode::Require => libpq_root_crt(env("HOME")).map(RootCert::File),
            None => None,
        };
        Ok(TlsSettings {
            mode,
            root_cert,
            mode_source,
        })
    }

    /// The mode tokio-postgres negotiates with; verification is ours.
    pub fn pg_mode(&self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as P;
        match self.mode {
            SslMode::Disable => P::Disable,
            // NOTE: tokio-postgres cannot try plain first and TLS second, so `allow` tries TLS
            // first like `prefer`; both accept either.
            SslMode::Allow | SslMode::Prefer => P::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => P::Require,
        }
    }

    /// The mode as it is enforced: libpq's `require` with a root certificate checks the chain
    /// like verify-ca.
    pub fn effective_mode(&self) -> SslMode {
        match (self.mode, &self.root_cert) {
            (SslMode::Require, Some(_)) => SslMode::VerifyCa,
            (m, _) => m,
        }
    }

    /// The rustls client configuration for these settings.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("failed to set up TLS")?;
        let mode = self.effective_mode();
        let config = match mode {
            SslMode::VerifyCa | SslMode::VerifyFull => {
                let roots = Arc::new(self.roots()?);
                let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .context("failed to set up certificate verification")?;
                let verifier: Arc<dyn ServerCertVerifier> = if mode == SslMode::VerifyCa {
                    Arc::new(CaOnly(inner))
                } else {
                    inner
                };
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth()
            }
            _ => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
                .with_no_client_auth(),
        };
        Ok(config)
    }

    fn roots(&self) -> anyhow::Result<RootCertStore> {
        let mut store = RootCertStore::empty();
        match &self.root_cert {
            None => {
                return Err(usage(format!(
                "sslmode={} (from {}) needs a root certificate: add sslrootcert=/path/to/ca.pem \
                     to the URL, set PGSSLROOTCERT or create ~/.postgresql/root.crt \
                     (for RDS run `cruddur-db tls fetch-rds-ca`)",
                self.mode, self.mode_source
            )))
            }
            Some(RootCert::System) => {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            Some(RootCert::File(path)) => {
                for cert in load_bundle(path)? {
                    store.add(cert).with_context(|| {
                        format!(
                            "a certificate in {} is not a valid CA certificate",
                            path.display()
                        )
                    })?;
                }
            }
        }
        Ok(store)
    }
}

/// Every certificate of a PEM bundle.
pub fn load_bundle(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    if !path.exists() {
        let hint = match rds_bundle_path() {
            Ok(p) if p == path => " (run `cruddur-db tls fetch-rds-ca` to download it)",
            _ => "",
        };
        return Err(usage(format!(
            "root certificate file {} does not exist{hint}",
            path.display()
        )));
    }
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("failed to read root certificates from {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} is not a PEM certificate bundle", path.display()))?;
    if certs.is_empty() {
        return Err(usage(format!(
            "{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

/// `~/.postgresql/root.crt` when it exists: libpq's default root certificate file.
fn libpq_root_crt(home: Option<String>) -> Option<PathBuf> {
    let home = home.map(PathBuf::from).or_else(dirs::home_dir)?;
    Some(home.join(".postgresql").join("root.crt")).filter(|p| p.is_file())
}

fn expand_home(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map_or_else(|| PathBuf::from(p), |h| h.join(rest)),
        None => PathBuf::from(p),
    }
}

/// verify-ca: the chain must lead to a trusted root; the host name is not checked.
#[derive(Debug)]
struct CaOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// prefer/require without a root certificate: encrypted, not authenticated (as libpq).
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS failure explained: what is wrong, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsProblem {
    pub reason: String,
    pub fix: String,
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.reason, self.fix)
    }
}

/// Explains a TLS failure in one line, from the error chain of a failed connection (a
/// rustls certificate error, tokio-postgres's "server does not support TLS", or the server's
/// "no pg_hba.conf entry ... no encryption"). `None` when the error is not about TLS.
pub fn explain(
    err: &(dyn std::error::Error + 'static),
    settings: &TlsSettings,
    host: &str,
) -> Option<TlsProblem> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(rustls::Error::InvalidCertificate(ce)) = e.downcast_ref::<rustls::Error>() {
            return Some(explain_cert(ce, settings, host));
        }
        // NOTE: io::Error's `source()` skips the error it wraps, so look inside explicitly.
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(rustls::Error::InvalidCertificate(ce)) =
                io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
            {
                return Some(explain_cert(ce, settings, host));
            }
        }
        let text = e.to_string();
        if text.contains("server does not support TLS") {
            return Some(no_tls(settings));
        }
        if text.contains("no encryption") && text.contains("pg_hba.conf") {
            return Some(TlsProblem {
                reason: format!(
                    "the server requires TLS (its pg_hba.conf has no entry for \
                     unencrypted connections) but sslmode={} (from {}) does not use it",
                    settings.mode, settings.mode_source
                ),
                fix: "use sslmode=require or stronger (verify-full with the server's CA)".into(),
            });
        }
        cur = e.source();
    }
    None
}

/// The server answered the TLS request with "no" while the mode requires TLS.
pub fn no_tls(settings: &TlsSettings) -> TlsProblem {
    TlsProblem {
        reason: format!(
            "the server does not support TLS but sslmode={} (from {}) requires it",
            settings.mode, settings.mode_source
        ),
        fix: "enable ssl on the server, or use sslmode=prefer to connect unencrypted".into(),
    }
}

fn explain_cert(ce: &CertificateError, settings: &TlsSettings, host: &str) -> TlsProblem {
    let roots = settings
        .root_cert
        .as_ref()
        .map_or_else(|| "no root certificate".to_string(), |r| r.to_string());
    let mode = format!("sslmode={}", settings.mode);
    match ce {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => TlsProblem {
            reason: format!(
                "the server's certificate is not signed by a CA in {roots} ({mode}): unknown CA"
            ),
            fix: "put the CA that signed it in sslrootcert or PGSSLROOTCERT \
                  (for RDS: `cruddur-db tls fetch-rds-ca`)"
                .into(),
        },
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => TlsProblem {
            reason: format!(
                "host name mismatch: connected to {} but the certificate is for {} ({mode})",
                expected.to_str(),
                presented
                    .iter()
                    .map(|n| pretty_name(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            fix: "connect by a name the certificate lists, or use sslmode=verify-ca \
                  (checks the CA, not the name)"
                .into(),
        },
        CertificateError::NotValidForName => TlsProblem {
            reason: format!("host name mismatch: the certificate is not valid for {host} ({mode})"),
            fix: "connect by a name the certificate lists, or use sslmode=verify-ca \
                  (checks the CA, not the name)"
                .into(),
        },
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => TlsProblem {
            reason: format!("the server's certificate is expired or not yet valid ({mode})"),
            fix: "renew the server's certificate, and check this machine's clock".into(),
        },
        other => TlsProblem {
            reason: format!(
                "the server's certificate was rejected: {other:?} ({mode}, roots: {roots})"
            ),
            fix: "check the server's certificate and the CA in sslrootcert".into(),
        },
    }
}

/// `DnsName("localhost")` (webpki's form) as `localhost`, `IpAddress(10.0.0.1)` as `10.0.0.1`.
fn pretty_name(presented: &str) -> String {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        })
        .unwrap_or(presented)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    fn target(url: &str, prod: bool) -> Target {
        Target::from_url(url, prod)
    }

    #[test]
    fn every_libpq_mode_parses() {
        for m in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            assert_eq!(m.parse::<SslMode>().unwrap().to_string(), m);
        }
        assert!("verify".parse::<SslMode>().is_err());
    }

    #[test]
    fn certificate_names_read_plainly() {
        assert_eq!(pretty_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(pretty_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(pretty_name("DirectoryName"), "DirectoryName");
    }

    #[test]
    fn defaults_by_target() {
        let local =
            TlsSettings::for_target(&target("postgresql://u@localhost/db", false), |_| None)
                .unwrap();
        assert_eq!(local.mode, SslMode::Prefer);
        assert_eq!(local.root_cert, None);
        let rds = TlsSettings::for_target(
            &target("postgresql://u@x.abc.us-east-1.rds.amazonaws.com/db", false),
            |_| None,
        )
        .unwrap();
        assert_eq!(rds.mode, SslMode::VerifyFull);
        assert!(
            matches!(rds.root_cert, Some(RootCert::File(p)) if p.ends_with("rds-global-bundle.pem"))
        );
        let url_wins = TlsSettings::for_target(
            &target(
                "postgresql://u@h/db?sslmode=require&sslrootcert=/ca.pem",
                true,
            ),
            |k| (k == "PGSSLMODE").then(|| "disable".to_string()),
        )
        .unwrap();
        assert_eq!(url_wins.mode, SslMode::Require);
        assert_eq!(url_wins.root_cert, Some(RootCert::File("/ca.pem".into())));
        let env = TlsSettings::for_target(&target("postgresql://u@h/db", false), |k| {
            (k == "PGSSLMODE").then(|| "verify-ca".to_string())
        })
        .unwrap();
        assert_eq!(
            (env.mode, env.mode_source),
            (SslMode::VerifyCa, "PGSSLMODE")
        );
    }
}
