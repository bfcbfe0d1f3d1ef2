//! The two sides of a `diff`: a database (`local`, `prod`, a URL), or a schema built in a
//! scratch database (a `.sql` file, or `setup`: what `cruddur-db setup` builds from the
//! current checkout, without the seed). Scratch databases are made on the local server (or
//! `--scratch-url`), named so they cannot collide, and always dropped afterwards.

use std::path::PathBuf;

use anyhow::Context;

use super::model::Catalog;
use crate::error::usage;
use crate::lifecycle::{self, SetupFiles, SetupRequest};
use crate::load::LoadOptions;
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
                    crate::mask::mask_secrets(s)
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
            Side::Url(u) => crate::mask::mask_secrets(u),
            Side::File(p) => p.display().to_string(),
        }
    }
}

/// What reading the sides needs, as plain values.
#[derive(Debug, Clone)]
pub struct Sides {
    /// The command line's target request: its credential and AWS flags apply to `prod`.
    pub request: TargetRequest,
    /// The server for scratch databases; `None`: the local target's (`--url` included).
    pub scratch_url: Option<String>,
    pub conn: ConnectOptions,
}

/// The scratch databases made so far, to drop at the end whatever happened.
#[derive(Default)]
pub struct Scratches {
    made: Vec<Target>,
}

impl Scratches {
    /// Drops every scratch database (terminating its sessions), reporting but never
    /// failing on one that cannot be dropped.
    pub async fn drop_all(self, conn: &ConnectOptions) {
        for target in self.made {
            if let Err(e) = lifecycle::drop_database(&target, conn, true).await {
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
        let target = match side {
            Side::File(path) => {
                let target = self.scratch()?;
                let server = lifecycle::server_of(&target.url);
                let input = lifecycle::prepare(
                    Some(path),
                    "",
                    "",
                    &[],
                    LoadOptions::default(),
                    Some(&server),
                )?;
                lifecycle::require_statements(&input, "schema")?;
                scratches.made.push(target.clone());
                lifecycle::create_if_missing(&target, &self.conn).await?;
                let db = Db::connect(&target, &self.conn).await?;
                lifecycle::load(&db, input, LoadOptions::default(), &self.conn).await?;
                target
            }
            Side::Setup => {
                let target = self.scratch()?;
                let request = SetupRequest {
                    no_seed: true,
                    ..SetupRequest::default()
                };
                let files = SetupFiles::prepare(&request).await?;
                scratches.made.push(target.clone());
                lifecycle::setup(&target, files, &self.conn)
                    .await
                    .context("failed to build `setup` in a scratch database")?;
                target
            }
            _ => self.target(side)?,
        };
        let db = Db::connect(&target, &self.conn).await?;
        let client = db.get().await?;
        super::read(&client)
            .await
            .with_context(|| format!("failed to read the schema of {}", side.label()))
    }
}

/// `cruddur_db_scratch_<pid>_<random>`: unique across processes and runs.
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
    format!("cruddur_db_scratch_{}_{random}", std::process::id())
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
        assert!(a.starts_with(&format!("cruddur_db_scratch_{}_", std::process::id())));
        assert_ne!(a, b);
    }
}
