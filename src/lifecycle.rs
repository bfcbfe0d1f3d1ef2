//! The life of a target database: create it, drop it, see who holds it open, load SQL into it
//! under a lock, and the compound workflows (`setup`, `reset`) that chain those steps on the
//! ONE target resolved at the start. The commands call this; it takes parsed scripts and plain
//! values, never clap types.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use serde::Serialize;
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::dburl::DbUrl;
use crate::error::{coded, usage};
use crate::load::{self, DbConnector, LoadOptions, Shaping, Summary, Transaction};
use crate::migrate::Checkout;
use crate::pg::{quote_ident, ConnectOptions, Db};
use crate::sql::input::Problem;
use crate::sql::prepared::Prepared;
use crate::sql::{Input, ReadError, Reader, Server, Vars};
use crate::target::Target;
use crate::ui;

/// The built-in schema, from `sql/schema.sql`.
pub mod history;
pub use history::{forgets, load_schema, recorded_migrations};

pub const SCHEMA_SQL: &str = include_str!("../sql/schema.sql");
/// The built-in seed data, from `sql/seed.sql`.
pub const SEED_SQL: &str = include_str!("../sql/seed.sql");

/// The tables of the built-in schema that the built-in seed and the app's commands use.
pub const SCHEMA_TABLES: &[&str] = &["public.users", "public.activities"];

/// The first key of the advisory lock that serialises compound commands (`setup`, `reset`)
/// on one database; the second is the hash of the database's name. "crud" in ASCII.
const COMPOUND_LOCK_CLASS: i32 = 0x6372_7564;

/// What `file` names: a file, `-` for stdin, or (no file) the built-in text.
pub fn sql_input(file: Option<&Path>, builtin_name: &str, builtin: &'static str) -> Input {
    match file {
        None => Input::builtin(builtin_name, builtin),
        Some(p) if p == Path::new("-") => Input::Stdin,
        Some(p) => Input::File(p.to_path_buf()),
    }
}

/// A reader's error before anything ran, with its exit code: a refusal (a meta-command, a
/// missing include, an unset variable) or an unreadable file is 2, SQL that cannot be split 1.
pub fn read_error(e: ReadError) -> anyhow::Error {
    let msg = format!("{e}\n  nothing was run");
    match e.problem {
        Problem::Refused | Problem::Io => usage(msg),
        Problem::Lex => anyhow!(msg),
    }
}

fn vars(pairs: &[String]) -> anyhow::Result<Vars> {
    Vars::from_pairs(pairs.iter().map(String::as_str)).map_err(|e| usage(format!("-v/--set: {e}")))
}

/// Prepares a SQL input before anything is written: `file`, `-` for stdin, or the built-in
/// text, with the `-v NAME=VALUE` variables. A file (and every file it includes) is read
/// through once: refused meta-commands, missing files and unset variables fail here (exit 2).
/// Stdin is read only up to its first statement. `server`: where `\c` is checked against.
pub fn prepare(
    file: Option<&Path>,
    builtin_name: &str,
    builtin: &'static str,
    pairs: &[String],
    opts: LoadOptions,
    server: Option<&Server>,
) -> anyhow::Result<Prepared> {
    let input = sql_input(file, builtin_name, builtin);
    Prepared::new_on(&input, &vars(pairs)?, opts.allows_connect(), server).map_err(read_error)
}

/// Where a file runs on `url`, which its `\c` commands are checked against.
pub fn server_of(url: &DbUrl) -> Server {
    Server {
        host: url.host(),
        port: url.port(),
        user: url.user(),
        database: url.database(),
    }
}

/// Refuses an input with no statement at all (an empty file, or only comments): loaded as
/// the schema it would leave an empty database, after a drop even. Checked before anything
/// runs.
pub fn require_statements(input: &Prepared, what: &str) -> anyhow::Result<()> {
    if input.has_statements() {
        return Ok(());
    }
    Err(usage(format!(
        "{} holds no SQL statement (it is empty or only comments); refusing to use it as the \
         {what}; nothing was changed",
        input.name
    )))
}

/// Warns about an input with no statement (a seed file may be empty on purpose).
pub fn warn_if_empty(input: &Prepared) {
    if !input.has_statements() {
        ui::warn(&format!(
            "{} holds no SQL statement (it is empty or only comments); nothing to load",
            input.name
        ));
    }
}

/// What a dry run prints for one input: the target, the file, its statements and the
/// transaction mode. The input (stdin too) is read through, and its refusals reported, as a
/// real run would.
pub fn describe_load(
    target: &Target,
    input: &Input,
    pairs: &[String],
    opts: LoadOptions,
) -> anyhow::Result<String> {
    let stats = Reader::open(input, vars(pairs)?, opts.allows_connect())
        .map(|r| r.on_server(Some(server_of(&target.url))))
        .and_then(Reader::survey)
        .map_err(read_error)?;
    Ok(format!(
        "would run {} on {}: {} statements ({} COPY blocks, {} files included, {} psql \
         meta-commands skipped), {}",
        input.name(),
        target.url,
        stats.statements,
        stats.copies,
        stats.includes,
        stats.skipped,
        if opts.allows_connect() {
            "each in its own transaction (--no-transaction)"
        } else {
            "in one transaction"
        }
    ))
}

/// Loads a prepared input into the pool's database under the load lock, with a progress bar
/// on a terminal (bytes when the size is known) and a one-line summary on stderr. `conn`
/// opens the databases a `\c` in the file names.
pub async fn load(
    db: &Db,
    input: Prepared,
    opts: LoadOptions,
    conn: &ConnectOptions,
) -> anyhow::Result<Summary> {
    let mut opts = opts;
    let wanted = load::prepare_wanted().map_err(usage)?;
    if let Transaction::Own { shapes } = &mut opts.transaction {
        if !wanted {
            *shapes = Shaping::AsWritten;
        }
    }
    let client = db.get().await?;
    load::lock(&client, &db.url.database())
        .await
        .context("failed to take the load lock")?;
    let name = input.name.clone();
    let bar = match input.size() {
        Some(n) => ui::byte_bar(n),
        None => ui::spinner(""),
    };
    bar.set_message(name.clone());
    let connector = DbConnector::new(db, conn);
    let connector = opts
        .allows_connect()
        .then_some(&connector as &dyn load::Connector);
    let result = load::run(&client, input, opts, &bar, connector).await;
    bar.finish_and_clear();
    let _ = load::unlock(&client).await;
    let summary = result.map_err(|e| {
        if e.exit == crate::error::exit::FAILED {
            anyhow::Error::new(e)
        } else {
            coded(e.exit, e.to_string())
        }
    })?;
    ui::status(&format!(
        "loaded {name} into {}: {summary}",
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
        let others = lingering_sessions(&client, &name).await?;
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

/// The other sessions on `database` that are still there after a moment. NOTE: a session that
/// just ended (psql quit a moment ago, a pooled connection of a run that just finished) stays
/// listed until its backend has exited; such sessions get two seconds before they are named,
/// as DROP and CREATE DATABASE themselves wait a little for them.
pub async fn lingering_sessions(client: &Client, database: &str) -> anyhow::Result<Vec<Session>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut others = sessions(client, Some(database)).await?;
    while !others.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        others = sessions(client, Some(database)).await?;
    }
    Ok(others)
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

/// The files of a setup, prepared (stdin included) and checked before anything is written.
pub struct SetupFiles {
    pub schema: Prepared,
    /// `None` with `--no-seed`.
    pub seed: Option<Prepared>,
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
    /// Prepares every input once (stdin read once); an empty schema, an unreadable migration
    /// or, with `--sync-cognito`, a missing region or credentials is refused here, before
    /// anything changes.
    pub async fn prepare(req: &SetupRequest) -> anyhow::Result<SetupFiles> {
        let (schema_file, seed_file) = req.files()?;
        let opts = LoadOptions::default();
        let schema = prepare(
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
            let seed = prepare(
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
