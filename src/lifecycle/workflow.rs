//! The compound workflows, `setup` and `reset`: they chain the admin and loading steps on the
//! ONE target resolved at the start, under one lock, after every input has been read and
//! checked.

use std::path::{Path, PathBuf};

use super::admin::{create_if_missing, drop_database, Created};
use super::history::{forgets, load_schema};
use super::loading::{
    describe_load, load, read_script, require_statements, sql_input, warn_if_empty,
};
use super::{SCHEMA_SQL, SEED_SQL};
use crate::error::usage;
use crate::load::LoadOptions;
use crate::migrate::Checkout;
use crate::pg::{ConnectOptions, Db};
use crate::sql::script::Script;
use crate::target::Target;
use crate::ui;

/// The first key of the advisory lock that serialises compound commands (`setup`, `reset`)
/// on one database; the second is the hash of the database's name. "crud" in ASCII.
const COMPOUND_LOCK_CLASS: i32 = 0x6372_7564;

/// The lock a compound command holds for the whole of its work on one database, taken on the
/// server's maintenance database (the target itself may be dropped meanwhile) and keyed by
/// the target database's name. Released by [`CompoundLock::release`], or by the server when
/// the process ends.
pub struct CompoundLock {
    client: deadpool_postgres::Object,
    name: String,
}

impl CompoundLock {
    /// Takes the lock, saying so when another run holds it and waiting for it.
    pub async fn take(target: &Target, opts: &ConnectOptions) -> anyhow::Result<CompoundLock> {
        let admin = Db::connect_maintenance(target, opts).await?;
        let client = admin.get().await?;
        let name = target.url.database();
        crate::pg::advisory_lock(
            &client,
            crate::pg::LockKey::Named(COMPOUND_LOCK_CLASS, &name),
            &format!("another cruddur-db setup or reset of database {name:?}"),
        )
        .await?;
        Ok(CompoundLock { client, name })
    }

    /// Releases the lock.
    pub async fn release(self) {
        let _ = self
            .client
            .execute(
                "SELECT pg_advisory_unlock($1, hashtext($2))",
                &[&COMPOUND_LOCK_CLASS, &self.name],
            )
            .await;
    }
}

/// The file a step loads when none is named: a Cruddur checkout's own
/// (`backend-flask/db/schema.sql` or `seed.sql` in the repository around the current
/// directory) wins over the built-in one. `None` means the built-in one.
pub fn checkout_file(
    explicit: Option<&Path>,
    pick: fn(&Checkout) -> Option<PathBuf>,
) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let cwd = std::env::current_dir().ok()?;
    crate::migrate::find_checkout(&cwd).and_then(|c| pick(&c))
}

/// What a setup asks for, as plain values.
#[derive(Debug, Clone, Default)]
pub struct SetupRequest {
    pub schema_file: Option<PathBuf>,
    pub seed_file: Option<PathBuf>,
    pub no_seed: bool,
    pub migrations_dir: Option<PathBuf>,
    pub no_migrate: bool,
    /// `-v NAME=VALUE` for both files.
    pub vars: Vec<String>,
    /// `--sync-cognito`: the AWS settings and the user pool id.
    pub sync_cognito: Option<(crate::aws::AwsSettings, String)>,
}

/// The files of a setup, read (stdin included) and checked before anything is written.
pub struct SetupFiles {
    pub schema: Script,
    /// `None` with `--no-seed`.
    pub seed: Option<Script>,
    /// The migrations to apply after the seed; `None` when there is no directory or
    /// `--no-migrate`.
    pub migrations: Option<PathBuf>,
    /// `--sync-cognito`: the loaded AWS configuration and the pool, made ready (and checked)
    /// before anything is written.
    pub cognito: Option<(crate::aws::Aws, String)>,
}

impl SetupRequest {
    /// The schema and seed files: the named ones, else a Cruddur checkout's, else `None`
    /// (the built-in ones); stdin named twice is refused.
    fn files(&self) -> anyhow::Result<(Option<PathBuf>, Option<PathBuf>)> {
        let schema = checkout_file(self.schema_file.as_deref(), |c| c.schema.clone());
        let seed = checkout_file(self.seed_file.as_deref(), |c| c.seed.clone());
        let stdin = |f: &Option<PathBuf>| f.as_deref() == Some(Path::new("-"));
        if stdin(&schema) && stdin(&seed) && !self.no_seed {
            return Err(usage(
                "--schema-file - and --seed-file - cannot both read stdin: give one of them a file",
            ));
        }
        Ok((schema, seed))
    }

    /// The migrations directory to apply after the seed, checked (every file read) now.
    fn migrations(&self) -> anyhow::Result<Option<PathBuf>> {
        let dir = if self.no_migrate {
            None
        } else if let Some(dir) = &self.migrations_dir {
            if !dir.is_dir() {
                return Err(usage(format!(
                    "--migrations-dir {} is not a directory; nothing was changed",
                    dir.display()
                )));
            }
            Some(dir.clone())
        } else {
            std::env::current_dir()
                .ok()
                .and_then(|cwd| crate::migrate::default_dir(&cwd))
        };
        if let Some(dir) = &dir {
            // Every migration file is read and checked now, not after the drop.
            crate::migrate::file::discover(dir)?;
        }
        Ok(dir)
    }

    /// What setup would do, one line each; the files (stdin too) are read through.
    /// `recorded`: the migrations the target records now (see [`recorded_migrations`]).
    pub fn plan(&self, target: &Target, recorded: Option<usize>) -> anyhow::Result<Vec<String>> {
        let (schema, seed) = self.files()?;
        let opts = LoadOptions::default();
        let mut lines = vec![format!(
            "would create database {:?} on {} if it is missing",
            target.url.database(),
            target.url.maintenance()
        )];
        let schema = sql_input(schema.as_deref(), "sql/schema.sql", SCHEMA_SQL);
        lines.push(describe_load(target, &schema, &self.vars, opts)?);
        let migrations = self.migrations()?;
        lines.extend(forgets(recorded, migrations.is_some()).map(|l| format!("  {l}")));
        if !self.no_seed {
            let seed = sql_input(seed.as_deref(), "sql/seed.sql", SEED_SQL);
            lines.push(describe_load(target, &seed, &self.vars, opts)?);
        }
        if let Some(dir) = migrations {
            lines.push(format!(
                "would apply the migrations of {} on {}",
                dir.display(),
                target.url
            ));
        }
        if let Some((_, pool_id)) = &self.sync_cognito {
            lines.push(format!(
                "would set the users' Cognito ids from user pool {pool_id}"
            ));
        }
        Ok(lines)
    }
}

impl SetupFiles {
    /// Reads every input once (stdin read once); an empty schema, an unreadable migration
    /// or, with `--sync-cognito`, a missing region or credentials is refused here, before
    /// anything changes.
    pub async fn read(req: &SetupRequest) -> anyhow::Result<SetupFiles> {
        let (schema_file, seed_file) = req.files()?;
        let opts = LoadOptions::default();
        let schema = read_script(
            schema_file.as_deref(),
            "sql/schema.sql",
            SCHEMA_SQL,
            &req.vars,
            opts,
            None,
        )?;
        require_statements(&schema, "schema")?;
        let seed = if req.no_seed {
            None
        } else {
            let seed = read_script(
                seed_file.as_deref(),
                "sql/seed.sql",
                SEED_SQL,
                &req.vars,
                opts,
                None,
            )?;
            warn_if_empty(&seed);
            Some(seed)
        };
        let migrations = req.migrations()?;
        let cognito = match &req.sync_cognito {
            Some((settings, pool_id)) => {
                Some((crate::aws::Aws::load(settings).await?, pool_id.clone()))
            }
            None => None,
        };
        Ok(SetupFiles {
            schema,
            seed,
            migrations,
            cognito,
        })
    }
}

/// `setup`: create the database if missing, then schema and seed, every step on `target`,
/// under the compound lock.
pub async fn setup(
    target: &Target,
    files: SetupFiles,
    opts: &ConnectOptions,
) -> anyhow::Result<()> {
    let lock = CompoundLock::take(target, opts).await?;
    let result = setup_steps(target, files, opts).await;
    lock.release().await;
    result
}

/// `reset`: drop, then setup, under one compound lock for the whole.
pub async fn reset(
    target: &Target,
    files: SetupFiles,
    opts: &ConnectOptions,
    force: bool,
) -> anyhow::Result<()> {
    let lock = CompoundLock::take(target, opts).await?;
    let result = async {
        drop_database(target, opts, force).await?;
        setup_steps(target, files, opts).await
    }
    .await;
    lock.release().await;
    result
}

async fn setup_steps(
    target: &Target,
    files: SetupFiles,
    opts: &ConnectOptions,
) -> anyhow::Result<()> {
    if create_if_missing(target, opts).await? == Created::Existed {
        ui::status(&format!(
            "database {:?} already exists on {}:{}; loading {} into it replaces its tables{}",
            target.url.database(),
            target.url.host(),
            target.url.port(),
            files.schema.name,
            files
                .seed
                .as_ref()
                .map(|s| format!(", then {}", s.name))
                .unwrap_or_default()
        ));
    }
    let db = Db::connect(target, opts).await?;
    let again = files.migrations.is_some();
    load_schema(&db, files.schema, LoadOptions::default(), opts, again).await?;
    if let Some(seed) = files.seed {
        load(&db, seed, LoadOptions::default(), opts).await?;
    }
    if let Some(dir) = &files.migrations {
        let opts = crate::migrate::Options {
            dir: dir.clone(),
            lock_timeout: std::time::Duration::from_secs(10),
            guard: None,
            lint: false,
            dry_run: false,
        };
        // NOTE: already confirmed as a whole by the caller.
        crate::migrate::up(&db, &opts, |_| Ok(())).await?;
    }
    if let Some((aws, pool_id)) = &files.cognito {
        let report = crate::sync::sync_cognito(&db, aws, pool_id, false).await?;
        crate::ui::out!("{}", report.text())?;
    }
    Ok(())
}
