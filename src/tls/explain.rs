//! TLS failures explained: what is wrong with the certificate or the server, and the fix.

use std::fmt;

use rustls::CertificateError;

use super::TlsSettings;

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

    #[test]
    fn certificate_names_read_plainly() {
        assert_eq!(pretty_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(pretty_name("IpAddress(10.0.0.1)"), "10.0.0.1");
        assert_eq!(pretty_name("DirectoryName"), "DirectoryName");
    }
}
