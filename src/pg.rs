//! The connection pool and everything about reaching a server: configuration from a parsed
//! URL, TLS, waiting for a server that is starting, and errors that say what to check.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};

use tokio_postgres::error::{DbError, SqlState};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::creds::{Login, LoginConnect};
use crate::dburl::DbUrl;
use crate::error::error_chain;
use crate::target::Target;
use crate::tls::TlsSettings;

/// How to connect: timeouts, waiting, pool size.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// One connection attempt.
    pub connect_timeout: Duration,
    /// Keep retrying refused connections for this long (`--wait`).
    pub wait: Option<Duration>,
    pub pool_size: usize,
    /// Extra server options (`-c name=value ...`), e.g. for read-only sessions.
    pub options: Option<String>,
    /// How connections log in (the URL's password unless `--iam` or `--password-secret`);
    /// [`Db::connect`] sets it from the target.
    pub login: Login,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            wait: None,
            pool_size: 8,
            options: None,
            login: Login::Url,
        }
    }
}

/// A pool on one database of a target, with what is needed to explain failures.
#[derive(Clone)]
pub struct Db {
    pub pool: Pool,
    pub url: DbUrl,
    pub tls: TlsSettings,
    opts: ConnectOptions,
}

/// The tokio-postgres configuration for a URL. The URL is parsed, never passed as a string,
/// so libpq parameters tokio-postgres does not know (sslmode=verify-full, sslrootcert) work.
/// With `--iam` it has no password: each connection adds a fresh token ([`LoginConnect`]).
pub fn pg_config(url: &DbUrl, tls: &TlsSettings, opts: &ConnectOptions) -> tokio_postgres::Config {
    let url = &opts.login.url_for(url);
    let mut c = tokio_postgres::Config::new();
    c.host(url.host());
    c.port(url.port());
    c.user(url.user());
    if let Some(p) = opts.login.fixed_password(url, crate::env::var) {
        c.password(p);
    }
    c.dbname(url.database());
    c.application_name(
        url.query_param("application_name")
            .unwrap_or_else(|| "cruddur-db".to_string()),
    );
    c.connect_timeout(opts.connect_timeout);
    c.ssl_mode(tls.pg_mode());
    if let Some(o) = server_options(url, opts.options.as_deref(), crate::env::var) {
        c.options(&o);
    }
    c
}

/// Server options (`-c name=value ...`): the URL's `options`, else PGOPTIONS (as libpq), then
/// `extra` last so that it wins over anything before it.
pub(crate) fn server_options(
    url: &DbUrl,
    extra: Option<&str>,
    env: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let mut options = url
        .query_param("options")
        .or_else(|| env("PGOPTIONS"))
        .unwrap_or_default()
        .trim()
        .to_string();
    if let Some(extra) = extra.filter(|e| !e.is_empty()) {
        if !options.is_empty() {
            options.push(' ');
        }
        options.push_str(extra);
    }
    (!options.is_empty()).then_some(options)
}

impl Db {
    /// A pool on the target's own database. The first connection is made here, so a server
    /// that cannot be reached fails now, with an explanation.
    pub async fn connect(target: &Target, opts: &ConnectOptions) -> anyhow::Result<Db> {
        let tls = target.tls(crate::env::var)?;
        let opts = Db::options_for(target, opts).await?;
        Db::connect_url(&target.url, &tls, &opts).await
    }

    /// A pool on the maintenance database (`postgres`, or `template1`) of the target's server.
    pub async fn connect_maintenance(target: &Target, opts: &ConnectOptions) -> anyhow::Result<Db> {
        let tls = target.tls(crate::env::var)?;
        let opts = Db::options_for(target, opts).await?;
        Db::connect_url(&target.url.maintenance(), &tls, &opts).await
    }

    /// `opts` with the target's login (`--iam`, `--password-secret`, else the URL's).
    pub async fn options_for(
        target: &Target,
        opts: &ConnectOptions,
    ) -> anyhow::Result<ConnectOptions> {
        Ok(ConnectOptions {
            login: target.creds.login(&target.url).await?,
            ..opts.clone()
        })
    }

    pub async fn connect_url(
        url: &DbUrl,
        tls: &TlsSettings,
        opts: &ConnectOptions,
    ) -> anyhow::Result<Db> {
        let db = Db::pool_only(url, tls, opts)?;
        drop(db.get().await?);
        Ok(db)
    }

    /// The pool without a first connection.
    pub fn pool_only(url: &DbUrl, tls: &TlsSettings, opts: &ConnectOptions) -> anyhow::Result<Db> {
        let url = &opts.login.url_for(url);
        let config = pg_config(url, tls, opts);
        let connector = MakeRustlsConnect::new(tls.client_config()?);
        let tokens = match &opts.login {
            Login::Iam(tokens) => Some((tokens.clone(), url.clone())),
            _ => None,
        };
        let manager = Manager::from_connect(
            config,
            LoginConnect {
                tls: connector,
                tokens,
            },
            ManagerConfig {
                // NOTE: SQL files (pg_dump output) change session settings such as search_path;
                // Clean resets them before a connection is used again.
                recycling_method: RecyclingMethod::Clean,
            },
        );
        // NOTE: tokio-postgres's connect_timeout covers the TCP connect only; a port that
        // accepts and never answers would hang the startup forever. The pool's create
        // timeout boxes the whole attempt (TCP, TLS, authentication), as libpq's does.
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .create_timeout(Some(opts.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| anyhow!("failed to build the connection pool: {e}"))?;
        Ok(Db {
            pool,
            url: url.clone(),
            tls: tls.clone(),
            opts: opts.clone(),
        })
    }

    /// A connection from the pool; retries refused connections while `--wait` allows.
    pub async fn get(&self) -> anyhow::Result<Object> {
        let deadline = self.opts.wait.map(|w| Instant::now() + w);
        let mut said_waiting = false;
        loop {
            match self.pool.get().await {
                Ok(obj) => return Ok(obj),
                Err(err) => {
                    let retry = deadline.is_some_and(|d| Instant::now() < d) && is_transient(&err);
                    if !retry {
                        return Err(self.explain(err));
                    }
                    if !said_waiting {
                        crate::ui::status(&format!(
                            "waiting for {}:{} to accept connections ...",
                            self.url.host(),
                            self.url.port()
                        ));
                        said_waiting = true;
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }

    /// Turns a pool error into one that says what failed, where, and what to check.
    pub fn explain(&self, err: PoolError) -> anyhow::Error {
        let target = format!("{}:{}", self.url.host(), self.url.port());
        let pg = match &err {
            PoolError::Backend(e) => e,
            PoolError::Timeout(_) => {
                return anyhow!(
                    "timed out after {}s connecting to {target}: no answer from a PostgreSQL \
                     server there ({}); is the host and port right (for RDS: `cruddur-db \
                     update-sg-rule`)? --connect-timeout SECS allows longer",
                    self.opts.connect_timeout.as_secs(),
                    self.url
                );
            }
            other => return anyhow!("failed to connect to {}: {other}", self.url),
        };
        if let Some(problem) = crate::tls::explain::explain(pg, &self.tls, &self.url.host()) {
            return anyhow!("could not connect to {target}: {problem}");
        }
        if let Some(db) = pg.as_db_error() {
            let code = db.code();
            if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                && db.message().contains("pg_hba.conf")
            {
                return anyhow!(
                    "{target} does not accept this connection: {}; the server's pg_hba.conf must allow \
                     this client address, user and database",
                    db.message()
                );
            }
            if role_missing(db) {
                return anyhow!(
                    "{target} has no role {:?}: {}; fix the user in the URL, or create the role \
                     (CREATE ROLE ... LOGIN PASSWORD ...)",
                    self.url.user(),
                    db.message()
                );
            }
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                return anyhow!(
                    "authentication failed for user {:?} on {target}: {}; {}",
                    self.url.user(),
                    db.message(),
                    auth_fix(&self.opts.login, &self.url.user())
                );
            }
            if *code == SqlState::INVALID_CATALOG_NAME {
                return anyhow!(
                    "database {:?} does not exist on {target}; create it with `cruddur-db create` (or `cruddur-db setup`)",
                    self.url.database()
                );
            }
            return anyhow!(
                "{target} refused the connection: {}{}",
                format_db_error(db),
                slots_hint(pg)
            );
        }
        if error_chain(pg).contains("password missing") {
            return anyhow!(
                "authentication failed for user {:?} on {target}: the server asks for a password \
                 and none was given; put it in the URL or set PGPASSWORD",
                self.url.user()
            );
        }
        if not_postgres(pg) {
            return anyhow!(
                "{target} did not answer as PostgreSQL does ({}); is this port a PostgreSQL \
                 server? check the port in the URL",
                error_chain(pg)
            );
        }
        match io_kind(pg) {
            Some(std::io::ErrorKind::ConnectionRefused) => match self.opts.wait {
                Some(w) => anyhow!(
                    "could not connect to {target}: connection refused, still after waiting {} s \
                     (--wait={}); is PostgreSQL running on {} and listening on port {}? check \
                     the host and port of {}",
                    w.as_secs(),
                    w.as_secs(),
                    self.url.host(),
                    self.url.port(),
                    self.url
                ),
                None => anyhow!(
                    "could not connect to {target}: connection refused; is PostgreSQL running on \
                     {} and listening on port {}? check the host and port of {} or pass --wait \
                     to wait for it",
                    self.url.host(),
                    self.url.port(),
                    self.url
                ),
            },
            Some(std::io::ErrorKind::NotFound) if self.url.host().starts_with('/') => anyhow!(
                "could not connect to the Unix socket in {}: no server listens there; is PostgreSQL running?",
                self.url.host()
            ),
            _ => {
                let text = format!("{pg}");
                let chain = error_chain(pg);
                if chain.contains("failed to lookup address")
                    || chain.contains("Name or service not known")
                    || chain.contains("nodename nor servname")
                    || chain.contains("No address associated")
                {
                    return anyhow!(
                        "could not connect to {target}: the host name {:?} does not resolve \
                         (no such host); check the host in the URL of {} (a typo, or the RDS \
                         endpoint of an instance that is gone: `cruddur-db rds status`)",
                        self.url.host(),
                        self.url
                    );
                }
                if text.contains("timed out") || text.contains("timeout") {
                    anyhow!(
                        "timed out after {}s connecting to {target}; is the host reachable and the port open \
                         (for RDS: `cruddur-db update-sg-rule`)?",
                        self.opts.connect_timeout.as_secs()
                    )
                } else {
                    anyhow!("could not connect to {target}: {}", error_chain(pg))
                }
            }
        }
    }
}

/// For "too many clients" / "too many connections for role" (SQLSTATE 53300): how to fix it.
pub(crate) fn slots_hint(err: &tokio_postgres::Error) -> String {
    if err.code() == Some(&SqlState::TOO_MANY_CONNECTIONS) {
        "\n  fix: the server (or this role) has no connection slot left: use fewer workers \
         (post-crud --concurrency), close other sessions (`cruddur-db sessions`), or raise the \
         limit (max_connections, or the role's CONNECTION LIMIT)"
            .to_string()
    } else {
        String::new()
    }
}

/// The server says the login role does not exist (SQLSTATE 28000, `role "x" does not exist`).
pub(crate) fn role_missing(db: &DbError) -> bool {
    *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        && db.message().starts_with("role ")
        && db.message().ends_with("does not exist")
}

/// The other end spoke, but not PostgreSQL's protocol (an HTTP server, SSH, another database).
fn not_postgres(err: &tokio_postgres::Error) -> bool {
    let text = error_chain(err);
    text.contains("bytes remaining on stream")
        || text.contains("unexpected message from server")
        || text.contains("invalid message length")
}

/// What to check when the server refuses the login, by where the password came from.
pub(crate) fn auth_fix(login: &Login, user: &str) -> String {
    match login {
        Login::Url => "check the user and password in the URL".to_string(),
        Login::Secret { id, .. } => format!(
            "check the password in secret {id} (and the user: the URL's, else the secret's \
             \"username\")"
        ),
        Login::Iam(tokens) => format!(
            "for RDS IAM authentication the database user needs `GRANT rds_iam TO {}` (and \
             the instance IAM database authentication enabled), and the AWS identity needs \
             rds-db:connect on arn:aws:rds-db:{}:ACCOUNT:dbuser:DB_RESOURCE_ID/{user}; the \
             token was signed for region {}",
            crate::sql::quote::ident(user),
            tokens.region(),
            tokens.region()
        ),
    }
}

fn is_transient(err: &PoolError) -> bool {
    match err {
        PoolError::Backend(e) => {
            if let Some(db) = e.as_db_error() {
                return *db.code() == SqlState::CANNOT_CONNECT_NOW;
            }
            matches!(
                io_kind(e),
                Some(
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::NotFound
                        | std::io::ErrorKind::UnexpectedEof
                )
            )
        }
        PoolError::Timeout(_) => true,
        _ => false,
    }
}

fn io_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        cur = e.source();
    }
    None
}

/// The server's message with its detail and hint, each on its own line.
pub fn format_db_error(db: &DbError) -> String {
    let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
    if let Some(d) = db.detail() {
        s.push_str(&format!("\n  detail: {d}"));
    }
    if let Some(h) = db.hint() {
        s.push_str(&format!("\n  hint: {h}"));
    }
    s
}

/// A tokio-postgres error that prints as [`describe`] says it (the server's message, detail
/// and hint) and keeps the error itself, so that it can be matched on (its SQLSTATE) under
/// any context. Instead of `anyhow!("{}", describe(&e))`, which flattens it to text.
#[derive(Debug)]
pub struct Described(pub tokio_postgres::Error);

impl std::fmt::Display for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe(&self.0))
    }
}

// NOTE: no `source`: the text already holds the whole cause, and `{:#}` would print it twice.
impl std::error::Error for Described {}

/// A tokio-postgres error as text: the server's message when there is one.
pub fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format_db_error(db),
        None => error_chain(err),
    }
}

/// NOTE: the older name of [`crate::sql::quote::ident`], kept for the callers not moved yet.
pub use crate::sql::quote::ident as quote_ident;

/// The key of a session-level advisory lock.
#[derive(Debug, Clone, Copy)]
pub enum LockKey<'a> {
    /// One bigint.
    One(i64),
    /// A class and a name, which the server hashes (`hashtext`).
    Named(i32, &'a str),
}

/// Takes the advisory lock `key` on `client`. When another session holds it, says that it is
/// `waiting for {what} to finish (server pid N) ...` and waits for it.
pub async fn advisory_lock(
    client: &tokio_postgres::Client,
    key: LockKey<'_>,
    what: &str,
) -> anyhow::Result<()> {
    match key {
        LockKey::One(k) => {
            let holder = "((classid::bigint << 32) | objid::bigint) = $1";
            lock_with(client, &[&k], "$1", holder, what).await
        }
        LockKey::Named(class, name) => {
            let holder = "classid::bigint = ($1::int4::bigint & 4294967295) \
                          AND objid::bigint = (hashtext($2)::bigint & 4294967295)";
            lock_with(client, &[&class, &name], "$1, hashtext($2)", holder, what).await
        }
    }
}

/// [`advisory_lock`] with the lock functions' arguments `args` over `params`, and `holder`,
/// the `pg_locks` condition that finds the session holding it.
async fn lock_with(
    client: &tokio_postgres::Client,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    args: &str,
    holder: &str,
    what: &str,
) -> anyhow::Result<()> {
    let got: bool = client
        .query_one(&format!("SELECT pg_try_advisory_lock({args})"), params)
        .await?
        .get(0);
    if got {
        return Ok(());
    }
    let sql = format!(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND {holder} LIMIT 1"
    );
    let pid: Option<i32> = client.query_opt(&sql, params).await?.map(|r| r.get(0));
    let who = pid.map_or_else(String::new, |p| format!(" (server pid {p})"));
    crate::ui::status(&format!("waiting for {what} to finish{who} ..."));
    client
        .execute(&format!("SELECT pg_advisory_lock({args})"), params)
        .await
        .map_err(|e| anyhow!("failed to wait for {what}: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::creds::IamTokens;
    use crate::tls::SslMode;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("cruddur"), "\"cruddur\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn config_comes_from_the_parsed_url() {
        let url = DbUrl::parse("postgresql://cruddurroot:p%40ss@db.example:6543/cruddur?sslmode=verify-full&application_name=x")
            .unwrap();
        let tls = TlsSettings {
            mode: SslMode::Disable,
            root_cert: None,
            mode_source: "test",
        };
        let c = pg_config(&url, &tls, &ConnectOptions::default());
        assert_eq!(c.get_user(), Some("cruddurroot"));
        assert_eq!(c.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(c.get_dbname(), Some("cruddur"));
        assert_eq!(c.get_ports(), [6543]);
        assert_eq!(c.get_application_name(), Some("x"));
    }

    /// A stand-in server that asks for a cleartext password, records it and refuses the
    /// login. NOTE: no real server can check an RDS IAM token; this one shows what the pool
    /// sends. Returns its port and the passwords seen.
    async fn password_recorder() -> (u16, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let record = record.clone();
                tokio::spawn(async move {
                    let len = s.read_i32().await.unwrap();
                    let mut startup = vec![0; len as usize - 4];
                    s.read_exact(&mut startup).await.unwrap();
                    // AuthenticationCleartextPassword
                    s.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await.unwrap();
                    assert_eq!(s.read_u8().await.unwrap(), b'p');
                    let len = s.read_i32().await.unwrap();
                    let mut password = vec![0; len as usize - 4];
                    s.read_exact(&mut password).await.unwrap();
                    password.pop();
                    record
                        .lock()
                        .unwrap()
                        .push(String::from_utf8(password).unwrap());
                    let fields = b"SFATAL\0C28P01\0Mpassword authentication failed\0\0";
                    let mut error = vec![b'E'];
                    error.extend(((fields.len() + 4) as i32).to_be_bytes());
                    error.extend(fields);
                    s.write_all(&error).await.unwrap();
                });
            }
        });
        (port, seen)
    }

    #[tokio::test]
    async fn every_new_pooled_connection_signs_its_own_token() {
        // Regression guard for long runs: a pool must not reuse the token it started with.
        let (port, seen) = password_recorder().await;
        let url = DbUrl::parse(&format!(
            "postgresql://cruddur_iam@127.0.0.1:{port}/cruddur"
        ))
        .unwrap();
        let tls = TlsSettings {
            mode: SslMode::Disable,
            root_cert: None,
            mode_source: "test",
        };
        let opts = ConnectOptions {
            login: Login::Iam(IamTokens::for_tests("us-east-1")),
            ..ConnectOptions::default()
        };
        let db = Db::pool_only(&url, &tls, &opts).unwrap();
        let err = db.get().await.unwrap_err();
        assert!(
            format!("{err:#}").contains("GRANT rds_iam TO \"cruddur_iam\""),
            "{err:#}"
        );
        // The next second, so that a token signed now differs from the first.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert!(db.pool.get().await.is_err());
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let date = |t: &str| {
            t.split('&')
                .find(|p| p.starts_with("X-Amz-Date="))
                .map(str::to_string)
        };
        for token in &seen {
            assert!(
                token.starts_with(&format!(
                    "127.0.0.1:{port}/?Action=connect&DBUser=cruddur_iam&X-Amz-Algorithm="
                )),
                "{token}"
            );
            assert!(date(token).is_some(), "{token}");
        }
        assert_ne!(date(&seen[0]), date(&seen[1]));
    }
}
