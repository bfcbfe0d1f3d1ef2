//! A TLS probe as libpq starts one: SSLRequest, then a rustls handshake with the target's
//! settings. `doctor` uses it to say whether TLS works before it tries to log in.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

use super::explain::{explain, no_tls, TlsProblem};
use super::{SslMode, TlsSettings};

/// What a failed step says.
fn fail(reason: impl Into<String>, fix: impl Into<String>) -> TlsProblem {
    TlsProblem {
        reason: reason.into(),
        fix: fix.into(),
    }
}

/// Asks the server for TLS as libpq does (SSLRequest) and shakes hands with our settings.
pub fn handshake(
    addr: SocketAddr,
    host: &str,
    tls: &TlsSettings,
    timeout: Duration,
) -> Result<String, TlsProblem> {
    let config = tls.client_config().map_err(|e| {
        fail(
            format!("{e:#}"),
            "point sslrootcert (URL) or PGSSLROOTCERT at the server's CA bundle; for RDS run \
             `cruddur-db tls fetch-rds-ca`",
        )
    })?;
    let io_fail = |e: std::io::Error| {
        fail(
            format!("no TLS answer from {addr}: {e}"),
            "is this port a PostgreSQL server? check the port in the URL",
        )
    };
    let mut sock = TcpStream::connect_timeout(&addr, timeout).map_err(io_fail)?;
    sock.set_read_timeout(Some(timeout)).map_err(io_fail)?;
    sock.set_write_timeout(Some(timeout)).map_err(io_fail)?;
    // SSLRequest: length 8, code 1234.5679.
    sock.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        .map_err(io_fail)?;
    let mut answer = [0u8; 1];
    sock.read_exact(&mut answer).map_err(io_fail)?;
    match answer[0] {
        b'S' => {}
        b'N' if tls.mode <= SslMode::Prefer => {
            return Ok(format!(
                "the server offers no TLS; sslmode={} goes on unencrypted",
                tls.mode
            ))
        }
        b'N' => {
            return Err(no_tls(tls));
        }
        other => {
            return Err(fail(
                format!(
                "{addr} did not answer the TLS request as PostgreSQL does (got byte {other:#04x})"
            ),
                "is this port a PostgreSQL server? check the port in the URL",
            ))
        }
    }
    let name = ServerName::try_from(host.to_string()).map_err(|e| {
        fail(
            format!("{host} cannot be checked against a certificate: {e}"),
            "use the server's DNS name in the URL",
        )
    })?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name)
        .map_err(|e| fail(format!("failed to start TLS: {e}"), "report this as a bug"))?;
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            if let Some(p) = explain(&e, tls, host) {
                return Err(p);
            }
            return Err(fail(
                format!("the TLS handshake with {addr} failed: {e}"),
                "check the server's ssl settings and certificate",
            ));
        }
    }
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "TLS".to_string(),
    };
    conn.send_close_notify();
    let _ = conn.complete_io(&mut sock);
    let roots = tls
        .root_cert
        .as_ref()
        .map_or_else(String::new, |r| r.to_string());
    let detail = match tls.effective_mode() {
        SslMode::VerifyFull => format!(
            "{version}; certificate verified for {host} against {roots} (sslmode=verify-full)"
        ),
        SslMode::VerifyCa => format!(
            "{version}; certificate chain verified against {roots}, host name not checked \
             (sslmode={})",
            tls.mode
        ),
        mode => format!(
            "{version}; certificate NOT verified (sslmode={mode}); verify-full with the server's CA \
             would detect an impostor"
        ),
    };
    Ok(detail)
}
