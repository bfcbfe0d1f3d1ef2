//! This workstation's public IPv4 address: from `--ip`, `GITPOD_IP`, or public-IP services.
//!
//! Every answer is trimmed and must be a public IPv4 address; anything else is rejected with
//! its source named and the next source is tried. The HTTP client is built only when a service
//! has to be asked.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};

use crate::ui;

/// The services asked (all at once) when neither `--ip` nor `GITPOD_IP` gives an address.
/// NOTE: ifconfig.me answers HTML to clients it takes for browsers; `/ip` is always plain text.
pub const DEFAULT_URLS: [&str; 3] = [
    "https://checkip.amazonaws.com",
    "https://ifconfig.me/ip",
    "https://api.ipify.org",
];

/// Longest answer read from a service: an address is at most 15 characters plus whitespace.
const MAX_ANSWER: usize = 1024;

/// Where to look for the address, as plain values (no clap types).
#[derive(Debug, Clone)]
pub struct Lookup {
    /// `--ip`.
    pub flag: Option<String>,
    /// The `GITPOD_IP` environment variable.
    pub gitpod_ip: Option<String>,
    /// The services to ask; empty means [`DEFAULT_URLS`].
    pub urls: Vec<String>,
    /// How long each service may take.
    pub timeout: Duration,
    /// Accept non-public addresses (with a warning).
    pub allow_private: bool,
}

/// An accepted address and the source that gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub ip: Ipv4Addr,
    /// `--ip`, `GITPOD_IP`, or the service's URL.
    pub source: String,
}

/// Why an address is not public, or `None` when it is.
pub fn non_public_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match () {
        _ if ip.is_unspecified() => "the unspecified address",
        _ if ip.is_broadcast() => "the broadcast address",
        _ if a == 0 => "a \"this network\" address (0.0.0.0/8)",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_private() => "a private address",
        _ if ip.is_link_local() => "a link-local address",
        _ if a == 100 && (b & 0xc0) == 64 => "a carrier-grade NAT address (100.64.0.0/10)",
        _ if ip.is_multicast() => "a multicast address",
        _ if ip.is_documentation() => "a documentation address",
        _ if a == 192 && b == 0 && c == 0 => "an IETF protocol address (192.0.0.0/24)",
        _ if a == 198 && (b & 0xfe) == 18 => "a benchmarking address (198.18.0.0/15)",
        _ if a >= 240 => "a reserved address (240.0.0.0/4)",
        _ => return None,
    })
}

/// Whether an address can never be a workstation's own, even with `--allow-private`.
fn never_a_source(ip: Ipv4Addr) -> bool {
    ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast()
}

/// A rejected answer: what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub source: String,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

/// Checks one answer: trimmed, IPv4, public (or allowed by `allow_private`).
/// The error says what the answer was, shortened and made printable.
pub fn check_answer(answer: &str, allow_private: bool) -> Result<Ipv4Addr, String> {
    let text = answer.trim();
    if text.is_empty() {
        return Err("the answer is empty".to_string());
    }
    let ip = match text.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip,
        Ok(IpAddr::V6(ip)) => {
            return Err(format!(
                "{ip} is an IPv6 address; the security group rule needs this workstation's IPv4 address"
            ))
        }
        Err(_) => return Err(format!("{} is not an IPv4 address", shown(text))),
    };
    match non_public_kind(ip) {
        None => Ok(ip),
        Some(_) if allow_private && !never_a_source(ip) => Ok(ip),
        Some(kind) => Err(format!(
            "{ip} is {kind}, not a public address{}",
            if never_a_source(ip) || allow_private {
                ""
            } else {
                " (--allow-private accepts it)"
            }
        )),
    }
}

/// An answer as it may be shown: quoted, at most 40 characters, control characters escaped.
fn shown(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        short.push('…');
    }
    format!("{short:?}")
}

/// Finds the address: `--ip`, then `GITPOD_IP`, then the services, all asked at once, the
/// first valid answer winning. Rejected sources are warned about when a later one succeeds;
/// when every source fails the error (exit 4) lists them all.
pub async fn lookup(l: &Lookup) -> anyhow::Result<Found> {
    let mut rejected: Vec<Rejection> = Vec::new();
    let local = [("--ip", &l.flag), ("GITPOD_IP", &l.gitpod_ip)];
    for (source, value) in local {
        let Some(value) = value else { continue };
        match check_answer(value, l.allow_private) {
            Ok(ip) => return Ok(accept(ip, source.to_string(), &rejected, l.allow_private)),
            Err(reason) => rejected.push(Rejection {
                source: source.to_string(),
                reason,
            }),
        }
    }

    let urls = service_urls(&l.urls);
    // NOTE: built here, not earlier: building loads the platform's root certificates.
    let client = crate::tls::http_client()
        .timeout(l.timeout)
        .connect_timeout(l.timeout)
        .build()
        .map_err(|e| {
            crate::error::kinded(
                crate::error::ErrorKind::NoPublicIp,
                format!("cannot start the HTTP client: {e}"),
            )
        })?;
    // NOTE: all services are asked at once and the first valid answer wins, so one that
    // hangs costs nothing while another answers; the ones still pending are dropped.
    let mut pending: FuturesUnordered<_> = urls
        .into_iter()
        .map(|url| {
            let client = &client;
            async move { (ask(client, &url, l).await, url) }
        })
        .collect();
    while let Some((answer, url)) = pending.next().await {
        match answer {
            Ok(ip) => return Ok(accept(ip, url, &rejected, l.allow_private)),
            Err(reason) => rejected.push(Rejection {
                source: url,
                reason,
            }),
        }
    }

    let list: Vec<String> = rejected.iter().map(|r| format!("  {r}")).collect();
    Err(crate::error::kinded(
        crate::error::ErrorKind::NoPublicIp,
        format!(
            "no valid public IPv4 address for this workstation; nothing was changed\n{}\n\
             pass --ip with this workstation's public address, or list working services in \
             --ip-url/CRUDDUR_IP_URL",
            list.join("\n")
        ),
    ))
}

/// The services to ask: the given ones (trimmed, blanks dropped), or [`DEFAULT_URLS`] when
/// none are left (so an empty CRUDDUR_IP_URL does not mean "ask nobody").
fn service_urls(given: &[String]) -> Vec<String> {
    let urls: Vec<String> = given
        .iter()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        DEFAULT_URLS.iter().map(|u| u.to_string()).collect()
    } else {
        urls
    }
}

/// Accepts an address: earlier rejections and a non-public address become warnings.
fn accept(ip: Ipv4Addr, source: String, rejected: &[Rejection], allow_private: bool) -> Found {
    for r in rejected {
        ui::warn(&format!("ignored {r}"));
    }
    if let (true, Some(kind)) = (allow_private, non_public_kind(ip)) {
        ui::warn(&format!(
            "--allow-private: using {ip} from {source}, which is {kind}; traffic from the \
             internet will not match it (meant for tests and unusual networks only)"
        ));
    }
    Found { ip, source }
}

/// Asks one service, reading at most [`MAX_ANSWER`] bytes.
async fn ask(client: &reqwest::Client, url: &str, l: &Lookup) -> Result<Ipv4Addr, String> {
    let secs = l.timeout.as_secs_f64();
    let describe = |e: reqwest::Error| {
        if e.is_timeout() {
            format!("no answer within {secs} s")
        } else if e.is_builder() {
            format!("not a usable URL ({e})")
        } else {
            format!(
                "request failed: {}",
                crate::error::error_chain(&e.without_url())
            )
        }
    };
    let mut resp = client.get(url).send().await.map_err(describe)?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("answered HTTP {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(describe)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ANSWER {
            return Err(format!(
                "the answer is longer than {MAX_ANSWER} bytes, not an address"
            ));
        }
    }
    let text = String::from_utf8_lossy(&body);
    check_answer(&text, l.allow_private)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "52.95.110.1",
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
        ] {
            assert_eq!(check_answer(ip, false), Ok(ip.parse().unwrap()), "{ip}");
        }
        assert_eq!(
            check_answer("  52.95.110.1\r\n", false),
            Ok(Ipv4Addr::new(52, 95, 110, 1))
        );
    }

    #[test]
    fn non_public_addresses_are_rejected_with_their_kind() {
        let table = [
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("127.0.0.1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.254", "carrier-grade NAT"),
            ("224.0.0.1", "multicast"),
            ("192.0.2.1", "documentation"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.9", "documentation"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this network"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("198.18.0.1", "benchmarking"),
            ("192.0.0.8", "IETF"),
        ];
        for (ip, kind) in table {
            let err = check_answer(ip, false).unwrap_err();
            assert!(err.contains(kind), "{ip}: {err}");
        }
    }

    #[test]
    fn garbage_is_rejected_and_shown_short() {
        let html = format!("<html><body>{}</body></html>", "x".repeat(200));
        let err = check_answer(&html, false).unwrap_err();
        assert!(
            err.contains("not an IPv4 address") && err.len() < 120,
            "{err}"
        );
        assert!(check_answer("", false).unwrap_err().contains("empty"));
        assert!(check_answer(" \n", false).unwrap_err().contains("empty"));
        assert!(check_answer("2600:1f18::1", false)
            .unwrap_err()
            .contains("IPv6"));
        assert!(check_answer("52.95.110.1/32", false).is_err());
        assert!(check_answer("052.95.110.1", false).is_err());
    }

    #[test]
    fn blank_service_lists_mean_the_defaults() {
        // README: the services, in order.
        let readme = [
            "https://checkip.amazonaws.com",
            "https://ifconfig.me/ip",
            "https://api.ipify.org",
        ];
        assert_eq!(service_urls(&[]), readme);
        assert_eq!(service_urls(&[" ".into(), String::new()]), readme);
        assert_eq!(
            service_urls(&[" http://a/ ".into(), "".into(), "http://b".into()]),
            ["http://a/", "http://b"]
        );
    }

    #[test]
    fn allow_private_accepts_unicast_only() {
        assert_eq!(
            check_answer("10.1.2.3", true),
            Ok(Ipv4Addr::new(10, 1, 2, 3))
        );
        assert!(check_answer("127.0.0.1", true).is_ok());
        for ip in ["0.0.0.0", "255.255.255.255", "224.0.0.1"] {
            assert!(check_answer(ip, true).is_err(), "{ip}");
        }
    }
}
