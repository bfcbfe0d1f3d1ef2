//! The public-IP lookup (`cruddur_db::ip`) against a local HTTP server playing the services.

mod aws_support;
mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use aws_support::{IpServer, GOOD_IP};
use cruddur_db::error::{exit, exit_code};
use cruddur_db::ip::{lookup, Found, Lookup};

fn run(l: &Lookup) -> anyhow::Result<Found> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(lookup(l))
}

fn services(urls: Vec<String>) -> Lookup {
    Lookup {
        flag: None,
        gitpod_ip: None,
        urls,
        timeout: Duration::from_secs(1),
        allow_private: false,
    }
}

#[test]
fn a_good_answer_is_trimmed_and_taken() {
    let s = IpServer::start();
    let url = s.url(&format!("/ip/{GOOD_IP}"));
    let found = run(&services(vec![url.clone()])).unwrap();
    assert_eq!(found.ip, GOOD_IP.parse::<Ipv4Addr>().unwrap());
    assert_eq!(found.source, url);
}

#[test]
fn each_bad_answer_is_rejected_with_its_source_and_exit_4() {
    let s = IpServer::start();
    for (path, reason) in [
        ("/html", "is not an IPv4 address"),
        ("/empty", "the answer is empty"),
        ("/ipv6", "is an IPv6 address"),
        ("/private", "10.1.2.3 is a private address"),
        ("/slow", "no answer within 1 s"),
        ("/500", "answered HTTP 500"),
        ("/ip/203.0.113.1", "documentation address"),
        ("/ip/100.64.0.1", "carrier-grade NAT"),
        ("/ip/127.0.0.1", "loopback"),
        ("/ip/169.254.169.254", "link-local"),
        ("/ip/0.0.0.0", "unspecified"),
        ("/ip/255.255.255.255", "broadcast"),
        ("/ip/224.0.0.1", "multicast"),
    ] {
        let url = s.url(path);
        let err = run(&services(vec![url.clone()])).unwrap_err();
        assert_eq!(exit_code(&err), exit::NO_PUBLIC_IP, "{path}");
        let msg = format!("{err:#}");
        let line = msg.lines().find(|l| l.contains(&url)).unwrap_or_default();
        assert!(line.contains(reason), "{path}: {msg}");
    }
}

#[test]
fn the_services_are_asked_at_once_and_the_first_valid_answer_wins() {
    let s = IpServer::start();
    // `/slow` answers a valid address after 4 s, past this lookup's 1 s timeout, so it can
    // only lose; the answer at 400 ms wins over the one listed before it that comes at 900 ms.
    let urls = vec![
        s.url("/slow"),
        s.url("/500"),
        s.url("/ipv6"),
        s.url("/after/900/ip/52.95.110.7"),
        s.url("/after/400/ip/52.95.110.8"),
    ];
    let found = run(&services(urls.clone())).unwrap();
    assert_eq!(found.ip, Ipv4Addr::new(52, 95, 110, 8));
    assert_eq!(found.source, urls[4]);
    assert_eq!(
        (
            s.hits("/slow"),
            s.hits("/500"),
            s.hits("/ipv6"),
            s.hits("/after/900/ip/52.95.110.7")
        ),
        (1, 1, 1, 1),
        "every service is asked at once"
    );

    // --ip, then GITPOD_IP; the services are not asked when either is good.
    let mut l = services(urls.clone());
    l.gitpod_ip = Some(" 52.95.110.20\n".into());
    assert_eq!(run(&l).unwrap().source, "GITPOD_IP");
    l.flag = Some("52.95.110.30".into());
    let found = run(&l).unwrap();
    assert_eq!(
        (found.ip, found.source.as_str()),
        (Ipv4Addr::new(52, 95, 110, 30), "--ip")
    );
    assert_eq!(s.total(), 5, "no request beyond the first run's");

    // A bad --ip falls through to GITPOD_IP.
    l.flag = Some("10.0.0.1".into());
    assert_eq!(run(&l).unwrap().source, "GITPOD_IP");
}

#[test]
fn all_failing_lists_every_source() {
    let s = IpServer::start();
    let mut l = services(vec![s.url("/empty"), s.url("/private")]);
    l.flag = Some("<html>".into());
    l.gitpod_ip = Some("".into());
    let msg = format!("{:#}", run(&l).unwrap_err());
    for needle in [
        "--ip: \"<html>\"",
        "GITPOD_IP: the answer is empty",
        "/empty: the answer",
        "/private: 10.1.2.3",
    ] {
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
}

#[test]
fn allow_private_accepts_a_private_answer() {
    let s = IpServer::start();
    let mut l = services(vec![s.url("/private")]);
    l.allow_private = true;
    assert_eq!(run(&l).unwrap().ip, Ipv4Addr::new(10, 1, 2, 3));
}
