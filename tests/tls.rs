//! TLS against the production-like server (verify-full, verify-ca, wrong CA, wrong host name,
//! no TLS where TLS is required), and `tls fetch-rds-ca` against local HTTP and HTTPS servers.

mod common;
mod prod;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use prod::{make_ca, prod_ca, prod_password, prod_url, verify_full, with};

/// Runs `sessions` (a read-only command that needs a connection) on `url`.
fn sessions(home: &Path, url: &str) -> Output {
    common::bin(home)
        .args(["--url", url, "sessions"])
        .output()
        .unwrap()
}

/// Asserts that a run succeeded, showing its stderr when it did not.
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts a run's exit code (showing its stderr when it differs) and returns its stderr.
fn failed_with(out: &Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    stderr
}

/// Runs `--prod sessions` with PROD_CONNECTION_URL set to the production-like server.
fn prod_sessions(home: &Path) -> Output {
    common::bin(home)
        .env("PROD_CONNECTION_URL", prod_url().as_str())
        .args(["--prod", "sessions"])
        .output()
        .unwrap()
}

/// The error of a failed run: exactly one line on stderr, the password never in it.
fn one_line_error(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert!(!out.status.success(), "it connected: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    // These errors name the server by host and port, never by URL: no credentials of any
    // kind, the password least of all.
    assert!(
        !stderr.contains('@') && !stderr.contains(&prod_password()),
        "credentials shown: {stderr}"
    );
    stderr
}

#[test]
fn verify_full_connects_with_the_right_ca_and_host() {
    let home = tempfile::tempdir().unwrap();
    let url = with(&prod_url(), None, None, Some(&verify_full(&prod_ca())));
    let out = sessions(home.path(), &url);
    assert_ok(&out);
    // The same through libpq's environment variables instead of the URL.
    let out = common::bin(home.path())
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", prod_ca())
        .args(["--url", prod_url().as_str(), "sessions"])
        .output()
        .unwrap();
    assert_ok(&out);
}

#[test]
fn a_wrong_ca_is_refused_and_named() {
    let home = tempfile::tempdir().unwrap();
    let wrong = make_ca(home.path(), "wrong-ca");
    let url = with(&prod_url(), None, None, Some(&verify_full(&wrong)));
    let err = one_line_error(&sessions(home.path(), &url));
    assert!(err.contains("not signed by a CA in"), "{err}");
    assert!(err.contains(&wrong.display().to_string()), "{err}");
    assert!(err.contains("unknown CA"), "{err}");
    // libpq: `require` with a root certificate checks the chain as verify-ca does.
    let url = with(
        &prod_url(),
        None,
        None,
        Some(&format!("sslmode=require&sslrootcert={}", wrong.display())),
    );
    let err = one_line_error(&sessions(home.path(), &url));
    assert!(err.contains("unknown CA"), "{err}");
}

#[test]
fn a_host_name_not_in_the_certificate_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let url = with(
        &prod_url(),
        Some("127.0.0.1"),
        None,
        Some(&verify_full(&prod_ca())),
    );
    let err = one_line_error(&sessions(home.path(), &url));
    assert!(err.contains("host name mismatch"), "{err}");
    assert!(
        err.contains("connected to 127.0.0.1 but the certificate is for localhost"),
        "{err}"
    );
    // verify-ca checks the chain only, so the same address is accepted.
    let url = with(
        &prod_url(),
        Some("127.0.0.1"),
        None,
        Some(&format!(
            "sslmode=verify-ca&sslrootcert={}",
            prod_ca().display()
        )),
    );
    let out = sessions(home.path(), &url);
    assert_ok(&out);
}

#[test]
fn sslmode_disable_against_a_tls_only_server_is_explained() {
    let home = tempfile::tempdir().unwrap();
    let url = with(&prod_url(), None, None, Some("sslmode=disable"));
    let err = one_line_error(&sessions(home.path(), &url));
    assert!(err.contains("the server requires TLS"), "{err}");
    assert!(err.contains("use sslmode=require or stronger"), "{err}");
}

#[test]
fn prefer_and_require_connect_without_verification() {
    // The server is hostssl-only: connecting at all proves the connection is encrypted.
    let home = tempfile::tempdir().unwrap();
    for mode in ["prefer", "require", "allow"] {
        let url = with(
            &prod_url(),
            Some("127.0.0.1"),
            None,
            Some(&format!("sslmode={mode}")),
        );
        let out = sessions(home.path(), &url);
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_certificate_of_a_bundle_is_trusted() {
    let home = tempfile::tempdir().unwrap();
    let wrong = make_ca(home.path(), "other-ca");
    let bundle = home.path().join("bundle.pem");
    let text = format!(
        "{}{}",
        std::fs::read_to_string(&wrong).unwrap(),
        std::fs::read_to_string(prod_ca()).unwrap()
    );
    std::fs::write(&bundle, text).unwrap();
    let url = with(&prod_url(), None, None, Some(&verify_full(&bundle)));
    let out = sessions(home.path(), &url);
    assert_ok(&out);
}

#[test]
fn unusable_root_certificates_are_configuration_errors() {
    let home = tempfile::tempdir().unwrap();
    let junk = common::write_file(home.path(), "junk.pem", "not a certificate\n");
    let url = with(&prod_url(), None, None, Some(&verify_full(&junk)));
    let out = sessions(home.path(), &url);
    let err = one_line_error(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("holds no PEM certificate"), "{err}");
    // verify-full with no root certificate at all (a local target has no RDS default).
    let url = with(&prod_url(), None, None, Some("sslmode=verify-full"));
    let out = sessions(home.path(), &url);
    let err = one_line_error(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("needs a root certificate"), "{err}");
}

/// A TCP server that answers PostgreSQL's SSLRequest with "N", as a server with ssl=off does.
fn server_without_tls() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let mut req = [0u8; 8];
            if s.read_exact(&mut req).is_ok() && req == [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f] {
                let _ = s.write_all(b"N");
            }
        }
    });
    port
}

#[test]
fn a_server_without_tls_is_explained_when_tls_is_required() {
    let home = tempfile::tempdir().unwrap();
    let port = server_without_tls();
    let url = format!("postgresql://cruddurroot:pw@127.0.0.1:{port}/cruddur?sslmode=require");
    let err = one_line_error(&sessions(home.path(), &url));
    assert!(err.contains("does not support TLS"), "{err}");
    assert!(err.contains("sslmode=require (from the URL)"), "{err}");
}

// --- tls fetch-rds-ca ------------------------------------------------------------------------

/// What the local HTTP server answers.
#[derive(Clone)]
enum Reply {
    Body(Vec<u8>),
    Status(u16),
    /// Claims `claimed` bytes, sends `body`, closes.
    Truncated {
        body: Vec<u8>,
        claimed: usize,
    },
}

struct Server {
    base: String,
    hits: Arc<AtomicUsize>,
}

impl Server {
    fn url(&self) -> String {
        format!("{}/global/global-bundle.pem", self.base)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn answer(s: &mut dyn ReadWrite, reply: &Reply) {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let _ = match reply {
        Reply::Body(b) => s
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    b.len()
                )
                .as_bytes(),
            )
            .and_then(|()| s.write_all(b)),
        Reply::Status(code) => s.write_all(
            format!("HTTP/1.1 {code} Oops\r\nContent-Length: 5\r\nConnection: close\r\n\r\noops!")
                .as_bytes(),
        ),
        Reply::Truncated { body, claimed } => s
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {claimed}\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            )
            .and_then(|()| s.write_all(body)),
    };
    let _ = s.flush();
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A local HTTP server (std TcpListener in a thread) answering every request with `reply`.
fn serve(reply: Reply) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            answer(&mut s, &reply);
        }
    });
    Server { base, hits }
}

/// The same over TLS, with a certificate for `localhost` signed by `ca` (made by make_ca).
fn serve_https(reply: Reply, dir: &Path, ca: &Path) -> Server {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert, key) = prod::make_server_cert(dir, ca);
    let certs = vec![CertificateDer::from_pem_file(&cert).unwrap()];
    let key = PrivateKeyDer::from_pem_file(&key).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, s);
            counter.fetch_add(1, Ordering::SeqCst);
            answer(&mut tls, &reply);
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    Server { base, hits }
}

fn bundle_path(home: &Path) -> PathBuf {
    home.join(".cache/cruddur-db/rds-global-bundle.pem")
}

/// Every file in the cache directory (none when it does not exist).
fn cache_files(home: &Path) -> Vec<String> {
    match std::fs::read_dir(home.join(".cache/cruddur-db")) {
        Ok(rd) => {
            let mut v: Vec<String> = rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
        Err(_) => Vec::new(),
    }
}

/// A two-certificate bundle: the production-like server's CA and another one.
fn test_bundle(dir: &Path) -> Vec<u8> {
    let other = make_ca(dir, "rds-other-region");
    let mut b = std::fs::read(prod_ca()).unwrap();
    b.extend(std::fs::read(other).unwrap());
    b
}

fn fetch(home: &Path, url: &str, extra: &[&str]) -> Output {
    common::bin(home)
        .args(["tls", "fetch-rds-ca", "--ca-url", url])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn fetch_rds_ca_installs_the_bundle_once_and_prints_its_path() {
    let home = tempfile::tempdir().unwrap();
    let bundle = test_bundle(home.path());
    let server = serve(Reply::Body(bundle.clone()));
    // Before: --prod defaults to verify-full with the bundle, which is missing.
    let out = prod_sessions(home.path());
    let err = one_line_error(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("run `cruddur-db tls fetch-rds-ca`"), "{err}");

    let out = fetch(home.path(), &server.url(), &[]);
    assert_ok(&out);
    let path = bundle_path(home.path());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", path.display())
    );
    assert_eq!(std::fs::read(&path).unwrap(), bundle);
    assert_eq!(cache_files(home.path()), ["rds-global-bundle.pem"]);
    assert_eq!(server.hits(), 1);

    // Once: a second run uses the cached file; --force (and the env variable) download again.
    let out = fetch(home.path(), &server.url(), &[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{}\n", path.display())
    );
    assert_eq!(server.hits(), 1);
    let out = common::bin(home.path())
        .env("CRUDDUR_RDS_CA_URL", server.url())
        .args(["tls", "fetch-rds-ca", "--force"])
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(server.hits(), 2);

    // After: --prod verifies the server against the downloaded bundle by default.
    let out = prod_sessions(home.path());
    assert_ok(&out);
}

#[test]
fn failed_downloads_leave_no_partial_file() {
    let home = tempfile::tempdir().unwrap();
    let bundle = test_bundle(home.path());
    let failures = [
        (Reply::Status(500), "HTTP 500"),
        (
            Reply::Body(b"<html><body>captive portal</body></html>".to_vec()),
            "did not return a CA bundle",
        ),
        (
            Reply::Body(bundle[..bundle.len() / 2].to_vec()),
            "did not return a CA bundle",
        ),
        (
            Reply::Truncated {
                body: bundle[..200].to_vec(),
                claimed: bundle.len(),
            },
            "broke off",
        ),
    ];
    for (reply, expected) in &failures {
        let server = serve(reply.clone());
        let out = fetch(home.path(), &server.url(), &[]);
        let stderr = failed_with(&out, 1);
        assert!(stderr.contains(expected), "expected {expected:?}: {stderr}");
        assert!(out.stdout.is_empty());
        assert!(server.hits() >= 1);
        assert_eq!(cache_files(home.path()), Vec::<String>::new(), "{expected}");
    }
    // With a good bundle installed, a failed --force download keeps it intact.
    let good = serve(Reply::Body(bundle.clone()));
    assert!(fetch(home.path(), &good.url(), &[]).status.success());
    for (reply, _) in failures {
        let server = serve(reply);
        let out = fetch(home.path(), &server.url(), &["--force"]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(std::fs::read(bundle_path(home.path())).unwrap(), bundle);
        assert_eq!(cache_files(home.path()), ["rds-global-bundle.pem"]);
    }
}

#[test]
fn fetch_rds_ca_over_https_verifies_the_server() {
    let home = tempfile::tempdir().unwrap();
    let bundle = test_bundle(home.path());
    let web_ca = make_ca(home.path(), "web-ca");
    let server = serve_https(Reply::Body(bundle.clone()), home.path(), &web_ca);
    // The web server's CA is not among the system's roots: refused, nothing written.
    let out = fetch(home.path(), &server.url(), &[]);
    let stderr = failed_with(&out, 1);
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");
    assert_eq!(cache_files(home.path()), Vec::<String>::new());
    // Trusted through SSL_CERT_FILE (as a corporate CA would be): downloaded.
    let out = common::bin(home.path())
        .env("SSL_CERT_FILE", &web_ca)
        .args(["tls", "fetch-rds-ca", "--ca-url", &server.url()])
        .output()
        .unwrap();
    assert_ok(&out);
    assert_eq!(std::fs::read(bundle_path(home.path())).unwrap(), bundle);
}

#[test]
fn fetch_rds_ca_refuses_plain_http_from_elsewhere() {
    let home = tempfile::tempdir().unwrap();
    let out = fetch(
        home.path(),
        "http://truststore.example.com/global-bundle.pem",
        &[],
    );
    let stderr = failed_with(&out, 2);
    assert!(stderr.contains("plain http"), "{stderr}");
    assert_eq!(cache_files(home.path()), Vec::<String>::new());
}

#[test]
fn closed_port_download_fails_cleanly() {
    let home = tempfile::tempdir().unwrap();
    let closed = prod::closed_port();
    let port = closed.port;
    let out = fetch(home.path(), &format!("http://127.0.0.1:{port}/b.pem"), &[]);
    let stderr = failed_with(&out, 1);
    assert!(stderr.contains("failed to download"), "{stderr}");
    assert_eq!(cache_files(home.path()), Vec::<String>::new());
}

#[test]
fn pgpassword_supplies_the_password_a_url_lacks() {
    let home = tempfile::tempdir().unwrap();
    let mut url = prod_url();
    url.set_password(None).unwrap();
    let url = with(&url, None, None, Some(&verify_full(&prod_ca())));
    let out = common::bin(home.path())
        .env("PGPASSWORD", prod_password())
        .args(["--url", &url, "sessions"])
        .output()
        .unwrap();
    assert_ok(&out);
    // Without it the server refuses, and the message says what to check.
    let stderr = failed_with(&sessions(home.path(), &url), 1);
    assert!(stderr.contains("authentication failed"), "{stderr}");
    // A wrong PGPASSWORD is refused and never shown.
    let out = common::bin(home.path())
        .env("PGPASSWORD", "wrong-pw-4711")
        .args(["--url", &url, "sessions"])
        .output()
        .unwrap();
    let stderr = failed_with(&out, 1);
    assert!(stderr.contains("authentication failed"), "{stderr}");
    assert!(!stderr.contains("wrong-pw-4711"), "{stderr}");
}
