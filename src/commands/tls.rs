//! `tls fetch-rds-ca`: download the RDS CA bundle into the cache directory, once, atomically,
//! and only after checking that it is a bundle of PEM certificates.

use std::time::Duration;

use anyhow::{anyhow, Context};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::cli::FetchRdsCaArgs;
use crate::error::usage;
use crate::tls::{load_bundle, rds_bundle_path};
use crate::ui;

/// Far above the real bundle (about 160 KB); stops a wrong URL from filling the disk.
const MAX_BYTES: usize = 8 * 1024 * 1024;

pub async fn fetch_rds_ca(args: FetchRdsCaArgs) -> anyhow::Result<()> {
    let dest = rds_bundle_path()?;
    if !args.force && dest.exists() {
        match load_bundle(&dest) {
            Ok(certs) => {
                ui::status(&format!(
                    "the RDS CA bundle is already in the cache ({} certificates); --force downloads it again",
                    certs.len()
                ));
                crate::ui::outln!("{}", dest.display())?;
                return Ok(());
            }
            Err(err) => ui::warn(&format!("{err:#}; downloading it again")),
        }
    }
    let url = check_url(&args.ca_url)?;
    let spinner = ui::spinner(&format!("downloading {url}"));
    let body = download(&url).await;
    spinner.finish_and_clear();
    let body = body?;
    let count = validate(&body).with_context(|| format!("{url} did not return a CA bundle"))?;
    crate::files::write_atomic(&dest, &body)?;
    ui::status(&format!(
        "downloaded {count} certificates from {url} to {}",
        dest.display()
    ));
    crate::ui::outln!("{}", dest.display())?;
    Ok(())
}

/// The URL, if it can be trusted to deliver a CA: https, or http on this machine only (tests,
/// a local mirror). A CA fetched over plain http from elsewhere could be anyone's.
fn check_url(raw: &str) -> anyhow::Result<reqwest::Url> {
    let url = reqwest::Url::parse(raw)
        .map_err(|e| usage(format!("--ca-url {raw:?} is not a URL: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(usage(format!(
            "refusing to download a CA bundle over plain http from {}: anyone on the way could \
             replace it; use an https URL",
            url.host_str().unwrap_or("?")
        ))),
        other => Err(usage(format!(
            "--ca-url must be an https URL, not {other}:"
        ))),
    }
}

/// The whole body, or an error; nothing touches the disk here.
async fn download(url: &reqwest::Url) -> anyhow::Result<Vec<u8>> {
    // NOTE: built here only: no other command pays for an HTTP client.
    let client = crate::tls::http_client()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .build()
        .context("failed to set up the HTTP client")?;
    let mut resp = client.get(url.clone()).send().await.map_err(|e| {
        anyhow!(
            "failed to download {url}: {}",
            crate::error::error_chain(&e)
        )
    })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(anyhow!(
            "failed to download {url}: the server answered HTTP {status}; check --ca-url (or CRUDDUR_RDS_CA_URL)"
        ));
    }
    if resp.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
        return Err(anyhow!(
            "{url} is larger than {MAX_BYTES} bytes: not a CA bundle"
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        anyhow!(
            "the download of {url} broke off: {}",
            crate::error::error_chain(&e)
        )
    })? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_BYTES {
            return Err(anyhow!(
                "{url} is larger than {MAX_BYTES} bytes: not a CA bundle"
            ));
        }
    }
    Ok(body)
}

/// Checks that `body` is PEM certificates, each usable as a trust anchor; their number.
pub fn validate(body: &[u8]) -> anyhow::Result<usize> {
    let certs = CertificateDer::pem_slice_iter(body)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("the PEM is broken: {e}"))?;
    if certs.is_empty() {
        return Err(anyhow!(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in {} bytes",
            body.len()
        ));
    }
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.into_iter().enumerate() {
        store
            .add(cert)
            .map_err(|e| anyhow!("certificate {} is not a valid CA certificate: {e}", i + 1))?;
    }
    Ok(store.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_local_http() {
        assert!(
            check_url("https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem").is_ok()
        );
        assert!(check_url("http://127.0.0.1:8080/b.pem").is_ok());
        assert!(check_url("http://localhost:8080/b.pem").is_ok());
        assert!(check_url("http://[::1]:8080/b.pem").is_ok());
        for bad in [
            "http://example.com/b.pem",
            "ftp://example.com/b.pem",
            "not a url",
        ] {
            let err = check_url(bad).unwrap_err();
            assert_eq!(
                crate::error::exit_code(&err),
                crate::error::exit::USAGE,
                "{bad}"
            );
        }
    }

    #[test]
    fn garbage_is_not_a_bundle() {
        assert!(validate(b"<html>502 Bad Gateway</html>").is_err());
        assert!(
            validate(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
        );
    }
}
