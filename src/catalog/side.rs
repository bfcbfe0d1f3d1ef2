//! The two sides of a `diff`: a database (`local`, `prod`, a URL), or a schema built in a
//! scratch database (a `.sql` file, or `setup`: what `cruddur-db setup` builds from the
//! current checkout, without the seed). Scratch databases are made on the local server (or
//! `--scratch-url`), named so they cannot collide, and always dropped afterwards. The catalog
//! names the scratch database; the command layer's [`Maker`] builds and drops it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use futures_util::future::BoxFuture;

use super::model::Catalog;
use crate::error::usage;
use crate::pg::{ConnectOptions, Db};
use crate::target::{Target, TargetRequest};

/// One side of a diff, as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    /// The local target: `--url`, CONNECTION_URL, DATABASE_URL or the built-in default.
    Local,
    /// PROD_CONNECTION_URL, with the credential flags (`--iam`, `--password-secret`).
    Prod,
    Url(String),
    /// A SQL file, loaded into a scratch database.
    File(PathBuf),
    /// What `setup` builds from the current checkout (schema, then migrations; no seed).
    Setup,
}

impl Side {
    /// `local`, `prod`, `setup`, a `postgres://` / `postgresql://` URL, or a `.sql` file.
    pub fn parse(s: &str) -> anyhow::Result<Side> {
        Ok(match s {
            "local" => Side::Local,
            "prod" => Side::Prod,
            "setup" => Side::Setup,
            _ if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                Side::Url(s.to_string())
            }
            _ if s.ends_with(".sql") || s == "-" => Side::File(PathBuf::from(s)),
            _ => {
                return Err(usage(format!(
                    "{:?} is not a side of a diff: use local, prod, setup, a postgresql:// URL \
                     or a .sql file",
                    crate::mask::mask_value(s)
                )))
            }
        })
    }

    /// How messages name the side.
    pub fn label(&self) -> String {
        match self {
            Side::Local => "local".into(),
            Side::Prod => "prod".into(),
            Side::Setup => "setup".into(),
            Side::Url(u) => crate::mask::mask_value(u),
            Side::File(p) => p.display().to_string(),
        }
    }
}

/// What goes into a scratch database.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A SQL file (or `-` for stdin), loaded in one transaction.
    File(&'a Path),
    /// What `setup` builds from the current checkout, without the seed.
    Setup,
}

/// How scratch databases are built and dropped. The command layer hands the catalog one, so
/// that the catalog never calls the loading or setup steps itself.
pub trait Maker: Send + Sync {
    /// Builds `source` in the database of `target`, which does not exist yet. The source is
    /// read and checked first; [`Scratches::add`] is called just before the database is
    /// created, so that a source refused before then leaves nothing to drop.
    fn build<'a>(
        &'a self,
        source: Source<'a>,
        target: &'a Target,
        conn: &'a ConnectOptions,
        made: &'a mut Scratches,
    ) -> BoxFuture<'a, anyhow::Result<()>>;

    /// Drops the database of `target`. `force`: terminate its sessions first; without it, a
    /// database someone uses is left alone (an error).
    fn drop_database<'a>(
        &'a self,
        target: &'a Target,
        conn: &'a ConnectOptions,
        force: bool,
    ) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// What reading the sides needs: plain values, and the maker of scratch databases.
#[derive(Clone)]
pub struct Sides {
    /// The command line's target request: its credential and AWS flags apply to `prod`.
    pub request: TargetRequest,
    /// The server for scratch databases; `None`: the local target's (`--url` included).
    pub scratch_url: Option<String>,
    pub conn: ConnectOptions,
    pub maker: Arc<dyn Maker>,
}

/// The scratch databases made so far, to drop at the end whatever happened.
#[derive(Default)]
pub struct Scratches {
    made: Vec<Target>,
}

impl Scratches {
    /// Remembers a scratch database about to be created, after dropping the stale ones on
    /// its server (see [`is_stale`]).
    pub async fn add(&mut self, target: &Target, maker: &dyn Maker, conn: &ConnectOptions) {
        sweep_stale(target, conn, maker).await;
        self.made.push(target.clone());
    }

    /// Drops every scratch database (terminating its sessions), reporting but never
    /// failing on one that cannot be dropped.
    pub async fn drop_all(self, maker: &dyn Maker, conn: &ConnectOptions) {
        let _hush = crate::ui::hush();
        for target in self.made {
            if let Err(e) = maker.drop_database(&target, conn, true).await {
                crate::ui::warn(&format!(
                    "failed to drop scratch database {:?}: {e:#}; drop it by hand",
                    target.url.database()
                ));
            }
        }
    }
}

impl Sides {
    fn target(&self, side: &Side) -> anyhow::Result<Target> {
        let plain = TargetRequest::default();
        let req = match side {
            // NOTE: `--url` names the local target here too; only `prod` takes --prod's URL.
            Side::Local => TargetRequest {
                url: self.request.url.clone(),
                ..plain
            },
            Side::Prod => TargetRequest {
                prod: true,
                ..self.request.clone()
            },
            Side::Url(u) => TargetRequest {
                url: Some(u.clone()),
                ..plain
            },
            Side::File(_) | Side::Setup => {
                return Err(anyhow::anyhow!("BUG: no target for a scratch side"));
            }
        };
        Target::from_env(&req)
    }

    /// A new scratch database's target (not created yet; remembered in [`Scratches`] just
    /// before it is, so that an input refused before that leaves nothing to drop).
    fn scratch(&self) -> anyhow::Result<Target> {
        let server = Target::from_env(&TargetRequest {
            url: self
                .scratch_url
                .clone()
                .or_else(|| self.request.url.clone()),
            ..TargetRequest::default()
        })
        .context("failed to choose the server for the scratch database (--scratch-url)")?;
        // NOTE: a scratch database is created and dropped without a question, so never on a
        // protected server (an RDS host, or the local target marked --protected).
        if server.protected || (self.scratch_url.is_none() && self.request.protected) {
            return Err(usage(format!(
                "a scratch database would be created and dropped on the protected server {}:{}; \
                 nothing was created: pass --scratch-url URL (or set CRUDDUR_SCRATCH_URL) \
                 naming a server that is not protected, e.g. a local PostgreSQL",
                server.url.host(),
                server.url.port()
            )));
        }
        let name = scratch_name();
        let url = server.url.with_database(&name);
        let target = Target::from_env(&TargetRequest {
            url: Some(url.expose().to_string()),
            ..TargetRequest::default()
        })?;
        Ok(target)
    }

    /// Reads one side's catalog; a scratch database it makes is added to `scratches`.
    pub async fn read(&self, side: &Side, scratches: &mut Scratches) -> anyhow::Result<Catalog> {
        let target = self.target_of(side, scratches).await?;
        self.read_target(side, &target).await
    }

    /// The database one side's catalog is read from: the side's own, or a scratch database
    /// built from its file (added to `scratches`).
    pub async fn target_of(
        &self,
        side: &Side,
        scratches: &mut Scratches,
    ) -> anyhow::Result<Target> {
        let source = match side {
            Side::File(path) => Source::File(path),
            Side::Setup => Source::Setup,
            _ => return self.target(side),
        };
        let target = self.scratch()?;
        self.maker
            .build(source, &target, &self.conn, scratches)
            .await?;
        built(side, &target);
        Ok(target)
    }

    /// Reads the catalog of `target`, which [`Sides::target_of`] gave for `side`.
    pub async fn read_target(&self, side: &Side, target: &Target) -> anyhow::Result<Catalog> {
        let db = Db::connect(target, &self.conn).await?;
        let client = db.get().await?;
        super::read(&client)
            .await
            .with_context(|| format!("failed to read the schema of {}", side.label()))
    }
}

/// The one line a scratch build prints (its steps show with `--verbose`).
fn built(side: &Side, target: &Target) {
    crate::ui::status(&format!(
        "built {} in scratch database {:?} on {}:{} (a scratch copy, dropped afterwards; \
         --verbose shows its steps)",
        side.label(),
        target.url.database(),
        target.url.host(),
        target.url.port()
    ));
}

/// The prefix of every scratch database's name.
pub const SCRATCH_PREFIX: &str = "cruddur_db_scratch_";

/// A scratch database no session uses and whose name says it was made over a minute ago:
/// left by a run that was killed (SIGKILL, power loss) before it could drop it. A build
/// holds a session from its first moment, so a minute without one is never a live build.
/// Names without a time (an older version's) count as stale once nobody uses them.
pub fn is_stale(name: &str, in_use: bool, now_secs: u64) -> bool {
    let Some(rest) = name.strip_prefix(SCRATCH_PREFIX) else {
        return false;
    };
    if in_use {
        return false;
    }
    let made = rest
        .strip_prefix('t')
        .and_then(|r| r.split('_').next())
        .and_then(|t| t.parse::<u64>().ok());
    match made {
        Some(t) => now_secs.saturating_sub(t) > 60,
        None => true,
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The stale scratch databases on the server of `target` (see [`is_stale`]).
pub async fn stale_scratches(
    target: &Target,
    conn: &ConnectOptions,
) -> anyhow::Result<Vec<String>> {
    let admin = Db::connect_maintenance(target, conn).await?;
    let client = admin.get().await?;
    let rows = client
        .query(
            "SELECT d.datname::text, EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a \
                    WHERE a.datname = d.datname) \
             FROM pg_catalog.pg_database d WHERE starts_with(d.datname::text, $1) ORDER BY 1",
            &[&SCRATCH_PREFIX],
        )
        .await
        .context("failed to list the scratch databases")?;
    let now = now_secs();
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, bool>(1)))
        .filter(|(name, used)| is_stale(name, *used, now))
        .map(|(name, _)| name)
        .collect())
}

/// Drops the stale scratch databases on the server of `target` before another is made
/// there; one that cannot be dropped (another owner's, just taken into use) is left alone.
async fn sweep_stale(target: &Target, conn: &ConnectOptions, maker: &dyn Maker) {
    let Ok(stale) = stale_scratches(target, conn).await else {
        return;
    };
    for name in stale {
        let Ok(t) = Target::from_env(&TargetRequest {
            url: Some(target.url.with_database(&name).expose().to_string()),
            ..TargetRequest::default()
        }) else {
            continue;
        };
        let _hush = crate::ui::hush();
        // NOTE: no --force: a session that appeared meanwhile keeps it.
        if maker.drop_database(&t, conn, false).await.is_ok() {
            drop(_hush);
            crate::ui::status(&format!(
                "dropped scratch database {name:?}, left by a run that was killed"
            ));
        }
    }
}

/// `cruddur_db_scratch_t<unix secs>_<pid>_<random>`: unique across processes and runs, and
/// telling when it was made (see [`is_stale`]).
fn scratch_name() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 6];
    let random = ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map(|()| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .unwrap_or_else(|_| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            format!("{nanos:x}")
        });
    format!(
        "{SCRATCH_PREFIX}t{}_{}_{random}",
        now_secs(),
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_parse() {
        assert_eq!(Side::parse("local").unwrap(), Side::Local);
        assert_eq!(Side::parse("prod").unwrap(), Side::Prod);
        assert_eq!(Side::parse("setup").unwrap(), Side::Setup);
        assert_eq!(
            Side::parse("postgresql://u@h/db").unwrap(),
            Side::Url("postgresql://u@h/db".into())
        );
        assert_eq!(
            Side::parse("db/schema.sql").unwrap(),
            Side::File("db/schema.sql".into())
        );
        let err = Side::parse("postgres:secret@nowhere").unwrap_err();
        assert_eq!(crate::error::exit_code(&err), crate::error::exit::USAGE);
    }

    #[test]
    fn scratch_names_do_not_repeat() {
        let (a, b) = (scratch_name(), scratch_name());
        assert!(a.starts_with("cruddur_db_scratch_t"), "{a}");
        assert!(a.contains(&format!("_{}_", std::process::id())), "{a}");
        assert!(a.len() <= 63, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_scratch_database_is_stale_when_unused_and_old() {
        let now = 1_800_000_000;
        let name = |t: u64| format!("cruddur_db_scratch_t{t}_42_abcdef");
        assert!(is_stale(&name(now - 61), false, now));
        // Just made: its builder may not have connected yet.
        assert!(!is_stale(&name(now - 5), false, now));
        // In use: a build that runs long.
        assert!(!is_stale(&name(now - 3600), true, now));
        // An older version's name, without a time.
        assert!(is_stale("cruddur_db_scratch_42_abcdef", false, now));
        assert!(!is_stale("cruddur", false, now));
    }
}
