//! Shared helpers for the AWS tests: moto's server (found at CRUDDUR_TEST_MOTO_URL, started by
//! scripts/start-moto), fixtures made with the AWS SDK, a recording proxy in front of moto that
//! lists every AWS action the binary calls, and a local HTTP server playing the public-IP
//! services.
//!
//! NOTE: moto is never reset here: the tests of a binary run in parallel against one server,
//! so each test makes its own security groups and instances with unique names instead.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assert_cmd::Command;
use aws_sdk_ec2::types::{IpPermission, IpRange};

/// moto's URL, from CRUDDUR_TEST_MOTO_URL. The first use in a test binary resets moto, so
/// each group of tests (a binary; cargo runs them one after the other) starts from an empty
/// AWS and never sees what an earlier group left.
pub fn moto_url() -> String {
    let url = match std::env::var("CRUDDUR_TEST_MOTO_URL") {
        Ok(u) if !u.trim().is_empty() => u.trim().trim_end_matches('/').to_string(),
        _ => panic!("set CRUDDUR_TEST_MOTO_URL (scripts/test starts moto)"),
    };
    static RESET: std::sync::Once = std::sync::Once::new();
    RESET.call_once(|| reset_moto(&url));
    url
}

/// POST /moto-api/reset: moto forgets every resource of every service.
fn reset_moto(url: &str) {
    let addr = url.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).expect("moto answers");
    write!(
        conn,
        "POST /moto-api/reset HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "moto did not reset: {answer}"
    );
}

/// An address of the public-IP services: public, and not in a documentation range.
pub const GOOD_IP: &str = "52.95.110.1";
/// Another public address, for "the workstation's IP changed".
pub const NEW_IP: &str = "52.95.110.2";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique name, usable as a security group name and an RDS instance identifier.
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// The binary with a cleared environment (see `common::bin`), test credentials, a region, a
/// short IP-service timeout, and the AWS endpoint given (moto, or a recorder in front of it).
pub fn aws_cmd(home: &Path, endpoint: &str) -> Command {
    let mut c = crate::common::bin(home);
    c.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("CRUDDUR_IP_TIMEOUT", "1")
        .timeout(Duration::from_secs(60));
    c
}

/// One security group rule, as compared before and after a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    pub id: String,
    pub egress: bool,
    pub protocol: String,
    pub from: i32,
    pub to: i32,
    pub cidr: Option<String>,
    pub description: Option<String>,
}

/// AWS SDK clients pointed at moto, and a runtime to drive them from synchronous tests.
pub struct Moto {
    rt: tokio::runtime::Runtime,
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
}

/// A program of the test virtualenv (scripts/start-moto makes it and installs moto, the AWS
/// CLI and botocore there): `CRUDDUR_VENV`, default `~/.cache/cruddur-db/venv`.
pub fn venv_bin(name: &str) -> std::path::PathBuf {
    let venv = std::env::var_os("CRUDDUR_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&std::env::var_os("HOME").expect("HOME is set"))
                .join(".cache/cruddur-db/venv")
        });
    let bin = venv.join("bin").join(name);
    assert!(
        bin.is_file(),
        "{} is missing: run scripts/start-moto, which makes the test virtualenv",
        bin.display()
    );
    bin
}

/// An SDK configuration for moto at `url`: test credentials, us-east-1, and an HTTP client on
/// ring (the crypto provider the tool builds; the SDK's default client would add aws-lc-rs).
pub async fn moto_config(url: &str) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::Ring))
                .build_https(),
        )
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .endpoint_url(url)
        .load()
        .await
}

impl Moto {
    pub fn new() -> Moto {
        let url = moto_url();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = rt.block_on(moto_config(&url));
        Moto {
            ec2: aws_sdk_ec2::Client::new(&config),
            rds: aws_sdk_rds::Client::new(&config),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(&config),
            rt,
        }
    }

    /// A new Cognito user pool with a unique name; returns its id.
    pub fn user_pool(&self) -> String {
        let out = self
            .rt
            .block_on(
                self.cognito
                    .create_user_pool()
                    .pool_name(unique("cdb-pool"))
                    .send(),
            )
            .expect("moto creates a user pool");
        out.user_pool().unwrap().id().unwrap().to_string()
    }

    /// Adds a user to the pool, with `preferred_username` when given; returns its `sub`.
    pub fn pool_user(
        &self,
        pool: &str,
        username: &str,
        preferred_username: Option<&str>,
    ) -> String {
        use aws_sdk_cognitoidentityprovider::types::AttributeType;
        let mut req = self
            .cognito
            .admin_create_user()
            .user_pool_id(pool)
            .username(username);
        if let Some(p) = preferred_username {
            req = req.user_attributes(
                AttributeType::builder()
                    .name("preferred_username")
                    .value(p)
                    .build()
                    .unwrap(),
            );
        }
        let out = self.rt.block_on(req.send()).expect("moto adds a pool user");
        out.user()
            .unwrap()
            .attributes()
            .iter()
            .find(|a| a.name() == "sub")
            .and_then(|a| a.value())
            .expect("moto gives every user a sub")
            .to_string()
    }

    /// A new security group (in moto's default VPC); returns its id.
    pub fn group(&self) -> String {
        let name = unique("cdb-test");
        let out = self
            .rt
            .block_on(
                self.ec2
                    .create_security_group()
                    .group_name(&name)
                    .description("cruddur-db test group")
                    .send(),
            )
            .expect("moto creates a security group");
        out.group_id().unwrap().to_string()
    }

    /// Adds an inbound rule; returns its id. `protocol` "-1" means all traffic.
    pub fn add_rule(
        &self,
        group: &str,
        protocol: &str,
        from: i32,
        to: i32,
        cidr: &str,
        description: &str,
    ) -> String {
        let mut perm = IpPermission::builder().ip_protocol(protocol).ip_ranges(
            IpRange::builder()
                .cidr_ip(cidr)
                .description(description)
                .build(),
        );
        if protocol != "-1" {
            perm = perm.from_port(from).to_port(to);
        }
        let out = self
            .rt
            .block_on(
                self.ec2
                    .authorize_security_group_ingress()
                    .group_id(group)
                    .ip_permissions(perm.build())
                    .send(),
            )
            .expect("moto adds a rule");
        out.security_group_rules()[0]
            .security_group_rule_id()
            .unwrap()
            .to_string()
    }

    /// Adds an inbound rule given as a whole permission (any source: a security group, a
    /// prefix list, an IPv6 range); returns its id.
    pub fn add_permission(&self, group: &str, perm: IpPermission) -> String {
        let out = self
            .rt
            .block_on(
                self.ec2
                    .authorize_security_group_ingress()
                    .group_id(group)
                    .ip_permissions(perm)
                    .send(),
            )
            .expect("moto adds a rule");
        out.security_group_rules()[0]
            .security_group_rule_id()
            .unwrap()
            .to_string()
    }

    /// A new managed prefix list holding one IPv4 range; returns its id.
    pub fn prefix_list(&self, cidr: &str) -> String {
        let out = self
            .rt
            .block_on(
                self.ec2
                    .create_managed_prefix_list()
                    .prefix_list_name(unique("cdb-pl"))
                    .address_family("IPv4")
                    .max_entries(5)
                    .entries(
                        aws_sdk_ec2::types::AddPrefixListEntry::builder()
                            .cidr(cidr)
                            .build(),
                    )
                    .send(),
            )
            .expect("moto creates a prefix list");
        out.prefix_list()
            .and_then(|p| p.prefix_list_id())
            .unwrap()
            .to_string()
    }

    /// Every rule of the group, sorted by id.
    pub fn rules(&self, group: &str) -> Vec<RuleRow> {
        let out = self
            .rt
            .block_on(
                self.ec2
                    .describe_security_group_rules()
                    .filters(
                        aws_sdk_ec2::types::Filter::builder()
                            .name("group-id")
                            .values(group)
                            .build(),
                    )
                    .send(),
            )
            .expect("moto lists the rules");
        let mut rows: Vec<RuleRow> = out
            .security_group_rules()
            .iter()
            .map(|r| RuleRow {
                id: r.security_group_rule_id().unwrap().to_string(),
                egress: r.is_egress().unwrap(),
                protocol: r.ip_protocol().unwrap().to_string(),
                from: r.from_port().unwrap_or(-1),
                to: r.to_port().unwrap_or(-1),
                cidr: r.cidr_ipv4().map(str::to_string),
                description: r.description().map(str::to_string),
            })
            .collect();
        rows.sort_by(|a, b| a.id.cmp(&b.id));
        rows
    }

    /// Every rule of the group as AWS describes it (every field, whatever the source),
    /// sorted; for "left exactly as it was".
    pub fn raw_rules(&self, group: &str) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.ec2
                    .describe_security_group_rules()
                    .filters(
                        aws_sdk_ec2::types::Filter::builder()
                            .name("group-id")
                            .values(group)
                            .build(),
                    )
                    .send(),
            )
            .expect("moto lists the rules");
        let mut rows: Vec<String> = out
            .security_group_rules()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect();
        rows.sort();
        rows
    }

    /// One rule by id.
    pub fn rule(&self, group: &str, id: &str) -> RuleRow {
        self.rules(group)
            .into_iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("rule {id} is in {group}"))
    }

    /// A new PostgreSQL instance in the groups on `port`; returns its identifier.
    pub fn instance(&self, groups: &[&str], port: i32) -> String {
        let id = unique("cdb");
        let mut req = self
            .rds
            .create_db_instance()
            .db_instance_identifier(&id)
            .db_instance_class("db.t3.micro")
            .engine("postgres")
            .engine_version("15.3")
            .master_username("root")
            .master_user_password("not-a-real-password")
            .allocated_storage(20)
            .publicly_accessible(true)
            .port(port);
        for g in groups {
            req = req.vpc_security_group_ids(*g);
        }
        self.rt
            .block_on(req.send())
            .expect("moto creates an instance");
        id
    }

    /// The instance's status.
    pub fn instance_status(&self, id: &str) -> String {
        let out = self
            .rt
            .block_on(
                self.rds
                    .describe_db_instances()
                    .db_instance_identifier(id)
                    .send(),
            )
            .expect("moto describes the instance");
        out.db_instances()[0]
            .db_instance_status()
            .unwrap()
            .to_string()
    }
}

/// A recording HTTP proxy in front of moto: every request is forwarded unchanged and its AWS
/// action (`Action=` of the query protocol, or the operation of the JSON protocol's
/// `X-Amz-Target` header) is recorded, so a test can prove which calls the
/// binary made — and that it made no write call, or no call at all.
pub struct Recorder {
    pub url: String,
    seen: Arc<Seen>,
}

/// What the recorder saw, and the throttling it still has to answer.
#[derive(Default)]
struct Seen {
    actions: Mutex<Vec<String>>,
    requests: Mutex<Vec<Recorded>>,
    /// The next this many requests get EC2's throttling error instead of moto's answer.
    throttle: AtomicUsize,
}

/// One request as it reached the recorder: its head lines and its body.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub head: Vec<String>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.head, name)
    }
}

/// The AWS actions that change something.
const WRITES: &[&str] = &[
    "ModifySecurityGroupRules",
    "AuthorizeSecurityGroupIngress",
    "RevokeSecurityGroupIngress",
    "UpdateSecurityGroupRuleDescriptionsIngress",
    "StartDBInstance",
    "StopDBInstance",
];

impl Recorder {
    /// A recorder in front of moto.
    pub fn new() -> Recorder {
        Recorder::to(&moto_url())
    }

    /// A recorder in front of any HTTP server.
    pub fn to(upstream: &str) -> Recorder {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Seen::default());
        let shared = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (shared, upstream) = (shared.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = proxy(conn, &upstream, &shared);
                });
            }
        });
        Recorder { url, seen }
    }

    /// Every request forwarded so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.requests.lock().unwrap().clone()
    }

    /// Answers the next `n` requests with EC2's throttling error (HTTP 503,
    /// RequestLimitExceeded) instead of forwarding them.
    pub fn throttle(&self, n: usize) {
        self.seen.throttle.store(n, Ordering::SeqCst);
    }

    /// Every action called so far, in order.
    pub fn actions(&self) -> Vec<String> {
        self.seen.actions.lock().unwrap().clone()
    }

    /// The write actions called so far.
    pub fn writes(&self) -> Vec<String> {
        self.actions()
            .into_iter()
            .filter(|a| WRITES.contains(&a.as_str()))
            .collect()
    }
}

/// Reads an HTTP/1.1 head (up to the blank line) and returns its lines.
fn read_head(r: &mut impl BufRead) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(lines);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            return Ok(lines);
        }
        lines.push(line);
    }
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Serves one client connection: one request at a time, each forwarded on its own upstream
/// connection; the answer says `Connection: close` so the client never reuses a connection.
fn proxy(conn: TcpStream, upstream: &str, seen: &Seen) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut client = conn;
    let head = read_head(&mut reader)?;
    if head.is_empty() {
        return Ok(());
    }
    let len: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    // Query-protocol services (EC2, RDS) name the action in the body; JSON-protocol ones
    // (Secrets Manager) in X-Amz-Target, `secretsmanager.GetSecretValue`.
    let action = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.into_owned())
        .or_else(|| {
            // JSON protocol (Cognito): `X-Amz-Target: AWSCognitoIdentityProviderService.ListUsers`.
            header(&head, "x-amz-target").map(|t| t.rsplit('.').next().unwrap_or(t).to_string())
        })
        .unwrap_or_else(|| format!("(no action: {})", head[0]));
    seen.actions.lock().unwrap().push(action);
    seen.requests.lock().unwrap().push(Recorded {
        head: head.clone(),
        body: body.clone(),
    });
    let throttled = seen
        .throttle
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if throttled {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
                   <Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>\
                   </Error></Errors><RequestID>throttled</RequestID></Response>";
        write!(
            client,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{xml}",
            xml.len()
        )?;
        client.flush()?;
        let _ = client.shutdown(std::net::Shutdown::Both);
        return Ok(());
    }

    let mut up = TcpStream::connect(upstream)?;
    let mut out = String::new();
    for line in &head {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    up.write_all(out.as_bytes())?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;

    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("moto answers with an HTTP head");
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let mut reply = String::new();
    for line in head.split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            reply.push_str(line);
            reply.push_str("\r\n");
        }
    }
    reply.push_str("Connection: close\r\n\r\n");
    client.write_all(reply.as_bytes())?;
    client.write_all(&answer[split + 4..])?;
    client.flush()?;
    let _ = client.shutdown(std::net::Shutdown::Both);
    Ok(())
}

/// A local HTTP server playing the public-IP services, counting requests per path:
/// `/ip/ADDR` answers ADDR; `/html`, `/empty`, `/ipv6`, `/private` answer what they say;
/// `/slow` answers a good address after 4 s (past the 1 s timeout the tests set); `/500` fails;
/// `/after/MS/ip/ADDR` answers ADDR after MS milliseconds.
pub struct IpServer {
    base: String,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl IpServer {
    pub fn start() -> IpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counted = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let counted = counted.clone();
                std::thread::spawn(move || {
                    let _ = answer_ip(conn, &counted);
                });
            }
        });
        IpServer { base, hits }
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// How many requests a path got.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// How many requests the server got.
    pub fn total(&self) -> usize {
        self.hits.lock().unwrap().values().sum()
    }
}

fn answer_ip(conn: TcpStream, hits: &Mutex<HashMap<String, usize>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut client = conn;
    let head = read_head(&mut reader)?;
    let Some(path) = head.first().and_then(|l| l.split_whitespace().nth(1)) else {
        return Ok(());
    };
    let path = path.to_string();
    *hits.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
    let (status, body) = match path.as_str() {
        p if p.starts_with("/ip/") => ("200 OK", format!("{}\n", &p[4..])),
        p if p.starts_with("/after/") => {
            let (ms, ip) = p["/after/".len()..]
                .split_once("/ip/")
                .expect("BUG: /after/MS/ip/ADDR");
            std::thread::sleep(Duration::from_millis(
                ms.parse().expect("BUG: MS is a number"),
            ));
            ("200 OK", format!("{ip}\n"))
        }
        "/html" => (
            "200 OK",
            "<!DOCTYPE html>\n<html><head><title>What is my IP</title></head>\
             <body>Your IP is 52.95.110.1</body></html>\n"
                .to_string(),
        ),
        "/empty" => ("200 OK", String::new()),
        "/ipv6" => ("200 OK", "2600:1f18:4a3:6902::1\n".to_string()),
        "/private" => ("200 OK", "10.1.2.3\n".to_string()),
        "/slow" => {
            std::thread::sleep(Duration::from_secs(4));
            ("200 OK", "52.95.110.9\n".to_string())
        }
        "/500" => ("500 Internal Server Error", "internal error\n".to_string()),
        _ => ("404 Not Found", "not found\n".to_string()),
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(reply.as_bytes())?;
    client.flush()?;
    Ok(())
}
