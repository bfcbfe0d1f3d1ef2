//! The life of a target database: create it, drop it, see who holds it open, load SQL into it
//! under a lock, and the compound workflows (`setup`, `reset`) that chain those steps on the
//! ONE target resolved at the start. The commands call this; it takes parsed scripts and plain
//! values, never clap types.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::error::usage;
use crate::load::{self, LoadOptions, Summary};
use crate::migrate::Checkout;
use crate::pg::{quote_ident, ConnectOptions, Db};
use crate::sql::{Kind, Script};
use crate::target::Target;
use crate::ui;

/// The built-in schema, from `sql/schema.sql`.
pub const SCHEMA_SQL: &str = include_str!("../sql/schema.sql");
/// The built-in seed data, from `sql/seed.sql`.
pub const SEED_SQL: &str = include_str!("../sql/seed.sql");

/// The tables of the built-in schema that the built-in seed and the app's commands use.
pub const SCHEMA_TABLES: &[&str] = &["public.users", "public.activities"];

/// The first key of the advisory lock that serialises compound commands (`setup`, `reset`)
/// on one database; the second is the hash of the database's name. "crud" in ASCII.
const COMPOUND_LOCK_CLASS: i32 = 0x6372_7564;

/// Reads and splits a SQL file: `file`, `-` for stdin (read once, here), or the built-in text.
pub fn read_script(
    file: Option<&Path>,
    builtin_name: &str,
    builtin: &str,
) -> anyhow::Result<Script> {
    let (name, text) = match file {
        None => (format!("{builtin_name} (built in)"), builtin.to_string()),
        Some(p) if p == Path::new("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("failed to read SQL from stdin")?;
            ("<stdin>".to_string(), text)
        }
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| usage(format!("cannot read SQL file {}: {e}", p.display())))?;
            (p.display().to_string(), text)
        }
    };
    Ok(Script::parse(name, text)?)
}

/// Refuses a script with no statement at all (an empty file, or only comments): loaded as the
/// schema it would leave an empty database, after a drop even. Checked before anything runs.
pub fn require_statements(script: &Script, what: &str) -> anyhow::Result<()> {
    if script.runnable() > 0 {
        return Ok(());
    }
    Err(usage(format!(
        "{} holds no SQL statement (it is empty or only comments); refusing to use it as the \
         {what}; nothing was changed",
        script.name
    )))
}

/// Warns about a script with no statement (a seed file may be empty on purpose).
pub fn warn_if_empty(script: &Script) {
    if script.runnable() == 0 {
        ui::warn(&format!(
            "{} holds no SQL statement (it is empty or only comments); nothing to load",
            script.name
        ));
    }
}

/// What a dry run of a load prints: the target, the file, its statements and the mode.
pub fn describe_load(target: &Target, script: &Script, opts: LoadOptions) -> String {
    let copies = script
        .statements
        .iter()
        .filter(|s| matches!(s.kind, Kind::Copy { .. }))
        .count();
    let skipped = script.statements.len() - script.runnable();
    format!(
        "would run {} on {}: {} statements ({} COPY blocks, {} psql meta-commands skipped), {}",
        script.name,
        target.url,
        script.runnable(),
        copies,
        skipped,
        if opts.transaction {
            "in one transaction"
        } else {
            "each in its own transaction (--no-transaction)"
        }
    )
}

/// Loads a script into the pool's database under the load lock, with a progress bar on a
/// terminal and a one-line summary on stderr.
pub async fn load(db: &Db, script: &Script, opts: LoadOptions) -> anyhow::Result<Summary> {
    let client = db.get().await?;
    load::lock(&client, &db.url.database())
        .await
        .context("failed to take the load lock")?;
    let bar = ui::bar(script.runnable() as u64, "statements");
    bar.set_message(script.name.clone());
    let result = load::run(&client, script, opts, &bar).await;
    bar.finish_and_clear();
    let _ = load::unlock(&client).await;
    let summary = result?;
    ui::status(&format!(
        "loaded {} into {}: {summary}",
        script.name,
        db.url.database()
    ));
    Ok(summary)
}

/// Which of the schema's tables are missing.
pub async fn missing_tables(db: &Db) -> anyhow::Result<Vec<String>> {
    let client = db.get().await?;
    let mut missing = Vec::new();
    for table in SCHEMA_TABLES {
        let found: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[table])
            .await?
            .get(0);
        if !found {
            missing.push(table.to_string());
        }
    }
    Ok(missing)
}

/// Fails with a clear message (exit 2) unless the schema's tables exist.
pub async fn require_schema(db: &Db) -> anyhow::Result<()> {
    let missing = missing_tables(db).await?;
    if missing.is_empty() {
        return Ok(());
    }
    Err(usage(format!(
        "the schema is not loaded in database {:?}: table(s) {} missing; run `cruddur-db schema` \
         (or `cruddur-db setup`) first; nothing was written",
        db.url.database(),
        missing.join(", ")
    )))
}

/// A connection to the maintenance database of the target's server, and whether the target's
/// database exists.
async fn maintenance_client(
    target: &Target,
    opts: &ConnectOptions,
) -> anyhow::Result<(deadpool_postgres::Object, bool)> {
    let admin = Db::connect_maintenance(target, opts).await?;
    let client = admin.get().await?;
    let exists = database_exists(&client, &target.url.database()).await?;
    Ok((client, exists))
}

async fn database_exists(client: &Client, name: &str) -> anyhow::Result<bool> {
    Ok(client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some())
}

/// What [`create_if_missing`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    /// The database was there already (or another run created it at the same moment).
    Existed,
}

/// Creates the target's database unless it exists. Says what it did only when it created
/// one: what "exists" means depends on the caller.
pub async fn create_if_missing(target: &Target, opts: &ConnectOptions) -> anyhow::Result<Created> {
    let name = target.url.database();
    let (client, exists) = maintenance_client(target, opts).await?;
    if exists {
        return Ok(Created::Existed);
    }
    match client
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
        .await
    {
        Ok(()) => {
            ui::status(&format!(
                "created database {name:?} on {}:{}",
                target.url.host(),
                target.url.port()
            ));
            Ok(Created::Created)
        }
        // Someone else created it between our check and our CREATE. NOTE: PostgreSQL reports
        // that race as 42P04 or, when both CREATEs reach the catalog together, as a unique
        // violation (23505) on pg_database's name index.
        Err(e) if is_create_race(&e) && database_exists(&client, &name).await? => {
            Ok(Created::Existed)
        }
        Err(e) => Err(anyhow!(
            "failed to create database {name:?} on {}: {}",
            target.url,
            crate::pg::describe(&e)
        )),
    }
}

fn is_create_race(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::DUPLICATE_DATABASE || *c == SqlState::UNIQUE_VIOLATION
    )
}

/// What [`drop_database`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    Dropped,
    Missing,
}

/// Drops the target's database if it exists. Without `force`, other sessions make it fail at
/// once with a table of who they are (PostgreSQL itself would wait 5 s in silence first);
/// with `force` they are terminated.
pub async fn drop_database(
    target: &Target,
    opts: &ConnectOptions,
    force: bool,
) -> anyhow::Result<Dropped> {
    let name = target.url.database();
    let (client, exists) = maintenance_client(target, opts).await?;
    if !exists {
        ui::status(&format!(
            "database {name:?} does not exist; nothing to drop"
        ));
        return Ok(Dropped::Missing);
    }
    if !force {
        let others = sessions(&client, Some(&name)).await?;
        if !others.is_empty() {
            return Err(in_use(&name, &others));
        }
    }
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await?
        .get(0);
    let mut sql = format!("DROP DATABASE IF EXISTS {}", quote_ident(&name));
    if force {
        if version >= 130000 {
            sql.push_str(" WITH (FORCE)");
        } else {
            client
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                    &[&name],
                )
                .await?;
        }
    }
    match client.batch_execute(&sql).await {
        Ok(()) => {
            ui::status(&format!("dropped database {name:?}"));
            Ok(Dropped::Dropped)
        }
        Err(e) if e.code() == Some(&SqlState::OBJECT_IN_USE) => {
            Err(in_use(&name, &sessions(&client, Some(&name)).await?))
        }
        Err(e) => Err(anyhow!(
            "failed to drop database {name:?}: {}",
            crate::pg::describe(&e)
        )),
    }
}

fn in_use(name: &str, sessions: &[Session]) -> anyhow::Error {
    anyhow!(
        "cannot drop database {name:?}: {} other session(s) are connected to it:\n{}\nclose them \
         (stop the app, quit psql), or run `cruddur-db drop --force` to terminate them; nothing \
         was dropped",
        sessions.len(),
        sessions_table(sessions)
    )
}

/// One client session of the server.
#[derive(Debug, Clone, Serialize)]
pub struct Session {
    pub pid: i32,
    pub user: Option<String>,
    pub database: Option<String>,
    pub client: Option<String>,
    pub application: Option<String>,
    pub state: Option<String>,
}

/// Client sessions (no background workers), on one database or all, without our own.
pub async fn sessions(client: &Client, database: Option<&str>) -> anyhow::Result<Vec<Session>> {
    let rows = client
        .query(
            "SELECT pid, usename::text, datname::text, \
                    COALESCE(host(client_addr) || ':' || client_port, 'local'), \
                    application_name, state \
             FROM pg_stat_activity \
             WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() \
               AND ($1::text IS NULL OR datname = $1) \
             ORDER BY datname, pid",
            &[&database],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Session {
            pid: r.get(0),
            user: r.get(1),
            database: r.get(2),
            client: r.get(3),
            application: r.get::<_, Option<String>>(4).filter(|a| !a.is_empty()),
            state: r.get(5),
        })
        .collect())
}

/// The sessions as an aligned table with a header.
pub fn sessions_table(sessions: &[Session]) -> String {
    let rows: Vec<[String; 6]> = sessions
        .iter()
        .map(|s| {
            let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            [
                s.pid.to_string(),
                o(&s.user),
                o(&s.database),
                o(&s.client),
                o(&s.application),
                o(&s.state),
            ]
        })
        .collect();
    ui::table(
        &["PID", "USER", "DATABASE", "CLIENT", "APPLICATION", "STATE"],
        &rows,
    )
}

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
        let got: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock($1, hashtext($2))",
                &[&COMPOUND_LOCK_CLASS, &name],
            )
            .await?
            .get(0);
        if !got {
            let holder: Option<i32> = client
                .query_opt(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                     AND classid::bigint = ($1::int4::bigint & 4294967295) \
                     AND objid::bigint = (hashtext($2)::bigint & 4294967295) LIMIT 1",
                    &[&COMPOUND_LOCK_CLASS, &name],
                )
                .await?
                .map(|r| r.get(0));
            let who = holder.map_or_else(String::new, |p| format!(" (server pid {p})"));
            ui::status(&format!(
                "waiting for another cruddur-db setup or reset of database {name:?} to finish{who} ..."
            ));
            client
                .execute(
                    "SELECT pg_advisory_lock($1, hashtext($2))",
                    &[&COMPOUND_LOCK_CLASS, &name],
                )
                .await
                .context("failed to wait for the setup/reset lock")?;
        }
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
}

/// The files of a setup, read (stdin included) and checked before anything is written.
#[derive(Debug, Clone)]
pub struct SetupFiles {
    pub schema: Script,
    /// `None` with `--no-seed`.
    pub seed: Option<Script>,
    /// The migrations to apply after the seed; `None` when there is no directory or
    /// `--no-migrate`.
    pub migrations: Option<PathBuf>,
}

impl SetupFiles {
    /// Reads every input once; an empty schema or an unreadable migration is refused here,
    /// before anything changes.
    pub fn read(req: &SetupRequest) -> anyhow::Result<SetupFiles> {
        let schema_file = checkout_file(req.schema_file.as_deref(), |c| c.schema.clone());
        let seed_file = checkout_file(req.seed_file.as_deref(), |c| c.seed.clone());
        let (schema_file, seed_file, no_seed) =
            (schema_file.as_deref(), seed_file.as_deref(), req.no_seed);
        if schema_file == Some(Path::new("-")) && seed_file == Some(Path::new("-")) && !no_seed {
            return Err(usage(
                "--schema-file - and --seed-file - cannot both read stdin: give one of them a file",
            ));
        }
        let schema = read_script(schema_file, "sql/schema.sql", SCHEMA_SQL)?;
        require_statements(&schema, "schema")?;
        let seed = if no_seed {
            None
        } else {
            let seed = read_script(seed_file, "sql/seed.sql", SEED_SQL)?;
            warn_if_empty(&seed);
            Some(seed)
        };
        let migrations = if req.no_migrate {
            None
        } else if let Some(dir) = &req.migrations_dir {
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
        if let Some(dir) = &migrations {
            // Every migration file is read and checked now, not after the drop.
            crate::migrate::file::discover(dir)?;
        }
        Ok(SetupFiles {
            schema,
            seed,
            migrations,
        })
    }

    /// What setup would do, one line each.
    pub fn plan(&self, target: &Target) -> Vec<String> {
        let mut lines = vec![format!(
            "would create database {:?} on {} if it is missing",
            target.url.database(),
            target.url.maintenance()
        )];
        lines.push(describe_load(target, &self.schema, LoadOptions::default()));
        if let Some(seed) = &self.seed {
            lines.push(describe_load(target, seed, LoadOptions::default()));
        }
        if let Some(dir) = &self.migrations {
            lines.push(format!(
                "would apply the pending migrations of {} on {}",
                dir.display(),
                target.url
            ));
        }
        lines
    }
}

/// `setup`: create the database if missing, then schema and seed, every step on `target`,
/// under the compound lock.
pub async fn setup(
    target: &Target,
    files: &SetupFiles,
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
    files: &SetupFiles,
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
    files: &SetupFiles,
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
    load(&db, &files.schema, LoadOptions::default()).await?;
    if let Some(seed) = &files.seed {
        load(&db, seed, LoadOptions::default()).await?;
    }
    if let Some(dir) = &files.migrations {
        let opts = crate::migrate::Options {
            dir: dir.clone(),
            lock_timeout: std::time::Duration::from_secs(10),
            dry_run: false,
        };
        // NOTE: already confirmed as a whole by the caller.
        crate::migrate::up(&db, &opts, |_| Ok(())).await?;
    }
    Ok(())
}
