//! Migrations: the bootcamp's week-5 workflow done right. Files in dbmate's `.sql` format and
//! the bootcamp's `.py` format on one time axis, one tracking row per applied migration, each
//! migration in one transaction with its row, the bootcamp's pointer adopted and kept in step.
//! Everything here takes plain values; `commands::migrate` turns flags into them.

pub mod file;
pub mod from_diff;
pub mod guard;
pub mod lint;
pub mod mark;
pub mod plan;
pub mod py;
pub mod store;
pub mod truth;
pub mod version;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use crate::error::usage;
use crate::load::{self, LoadError, LoadOptions};
use crate::load::{Connect, Transaction};
use crate::pg::Db;
use crate::sql::script::Script;
use crate::sql::{Input, Vars};
use crate::ui;
use indicatif::ProgressBar;

pub use file::{Migration, Section};
pub use plan::{Direction, MigrationState, Plan, StatusRow};
pub use version::Version;

/// How `up` and `down` run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The migrations directory.
    pub dir: PathBuf,
    /// How long to wait for another run's lock.
    pub lock_timeout: Duration,
    /// Print the plan and the SQL on stdout; change nothing.
    pub dry_run: bool,
    /// Run each migration under a lock timeout, retrying it (a protected target, --lock-guard).
    pub guard: Option<guard::LockGuard>,
    /// Lint the plan's migrations and show the findings in the plan (a protected target).
    pub lint: bool,
}

/// What `up` or `down` did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Files recorded as applied from the bootcamp's pointer, without running them.
    pub adopted: Vec<String>,
    /// Files applied (up) or undone (down), in the order they ran.
    pub done: Vec<String>,
}

/// `migrate status`: every migration in time order, and whether adoption is still to come.
#[derive(Debug, Clone)]
pub struct Status {
    pub rows: Vec<StatusRow>,
    /// The bootcamp's pointer will be adopted by the next `up`/`down` (rows it covers show
    /// as applied with no time).
    pub adoption_pending: bool,
    /// Where the history disagrees with the schema.
    pub lies: Vec<truth::Lie>,
}

/// A Cruddur checkout found above the current directory: the repository root that has
/// `backend-flask/db/`, and the files in it that exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub root: PathBuf,
    pub schema: Option<PathBuf>,
    pub seed: Option<PathBuf>,
    pub migrations: Option<PathBuf>,
}

/// The nearest directory at or above `cwd` with `backend-flask/db/` in it.
pub fn find_checkout(cwd: &Path) -> Option<Checkout> {
    let root = cwd
        .ancestors()
        .find(|d| d.join("backend-flask").join("db").is_dir())?;
    let db = root.join("backend-flask").join("db");
    let file = |name: &str| Some(db.join(name)).filter(|p| p.is_file());
    Some(Checkout {
        root: root.to_path_buf(),
        schema: file("schema.sql"),
        seed: file("seed.sql"),
        migrations: Some(db.join("migrations")).filter(|p| p.is_dir()),
    })
}

/// The migrations directory that exists for `cwd`: `db/migrations` under it, else a Cruddur
/// checkout's `backend-flask/db/migrations`. `None` when neither exists.
pub fn default_dir(cwd: &Path) -> Option<PathBuf> {
    let local = cwd.join("db").join("migrations");
    if local.is_dir() {
        return Some(local);
    }
    find_checkout(cwd).and_then(|c| c.migrations)
}

/// Where `migrate new` writes when no directory is given and none exists yet: a checkout's
/// `backend-flask/db/migrations` (as the bootcamp's generator), else `db/migrations`.
pub fn new_dir(cwd: &Path) -> PathBuf {
    default_dir(cwd).unwrap_or_else(|| match find_checkout(cwd) {
        Some(c) => c.root.join("backend-flask").join("db").join("migrations"),
        None => cwd.join("db").join("migrations"),
    })
}

/// Writes `<YYYYMMDDHHMMSS>_<name>.sql` (UTC) with empty up and down sections into `dir`,
/// creating it; never overwrites, nor writes a second file with the same stamp.
pub fn new_file(dir: &Path, name: &str, now: DateTime<Utc>) -> anyhow::Result<PathBuf> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(usage(format!(
            "migration name {name:?} is not [a-z0-9_]+ (lower-case letters, digits and _, e.g. add_bio_column)"
        )));
    }
    let stamp = now.format("%Y%m%d%H%M%S").to_string();
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "failed to create the migrations directory {}",
            dir.display()
        )
    })?;
    let prefix = format!("{stamp}_");
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("failed to read the migrations directory {}", dir.display()))?
        .flatten()
    {
        let existing = entry.file_name().to_string_lossy().into_owned();
        if existing.starts_with(&prefix) {
            anyhow::bail!(
                "{} already has a migration with the version {stamp} ({existing}); nothing was \
                 written (wait a second and run again)",
                dir.display()
            );
        }
    }
    let path = dir.join(format!("{stamp}_{name}.sql"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| {
            format!(
                "failed to create {} (it is never overwritten)",
                path.display()
            )
        })?;
    std::io::Write::write_all(&mut f, b"-- migrate:up\n\n\n-- migrate:down\n\n")
        .with_context(|| format!("failed to write {}", path.display()))?;
    Ok(path)
}

/// Reads the files and the database for `migrate status`. Writes nothing.
pub async fn status(db: &Db, dir: &Path) -> anyhow::Result<Status> {
    let migrations = file::discover(dir)?;
    let client = db.get().await?;
    let state = store::read(&client, &migrations).await?;
    let rows = plan::status(&migrations, &state);
    let live = lint::live::read(&client).await?;
    Ok(Status {
        lies: truth::check(&rows, &migrations, &live),
        rows,
        adoption_pending: !state.tracking && state.pointer.is_some(),
    })
}

/// Applies every pending migration in time order. `confirm` sees the plan before anything
/// is written (only when there is something to apply); an error from it stops the run.
pub async fn up(
    db: &Db,
    opts: &Options,
    confirm: impl FnOnce(&Plan) -> anyhow::Result<()>,
) -> anyhow::Result<Report> {
    run(db, opts, Direction::Up, usize::MAX, confirm).await
}

/// Undoes the newest `steps` applied migrations, newest first.
pub async fn down(
    db: &Db,
    opts: &Options,
    steps: usize,
    confirm: impl FnOnce(&Plan) -> anyhow::Result<()>,
) -> anyhow::Result<Report> {
    run(db, opts, Direction::Down, steps, confirm).await
}

fn make_plan<'a>(
    migrations: &'a [Migration],
    state: &store::State,
    database: &str,
    direction: Direction,
    steps: usize,
) -> anyhow::Result<Plan<'a>> {
    match direction {
        Direction::Up => plan::up(migrations, state, database),
        Direction::Down => plan::down(migrations, state, database, steps),
    }
}

async fn run(
    db: &Db,
    opts: &Options,
    direction: Direction,
    steps: usize,
    confirm: impl FnOnce(&Plan) -> anyhow::Result<()>,
) -> anyhow::Result<Report> {
    let migrations = file::discover(&opts.dir)?;
    let database = db.url.database();
    let client = db.get().await?;
    let state = store::read(&client, &migrations).await?;
    plan::check_unchanged(&migrations, &state)?;
    let mut plan = make_plan(&migrations, &state, &database, direction, steps)?;
    if opts.lint && direction == Direction::Up && !plan.is_empty() {
        plan.lint = lint_plan(&client, &plan).await?;
    }
    if opts.dry_run {
        ui::status(&format!("dry run on {}", db.url));
        if !state.tracking {
            ui::status(&format!(
                "dry run: would create the tracking table {}{}",
                store::TABLE,
                adoption_note(state.to_adopt(), state.pointer.as_deref())
            ));
        }
        if plan.is_empty() {
            ui::status(&nothing_to_do(direction, &database));
        } else {
            crate::ui::out!("{}", plan.with_sql())?;
        }
        ui::status("dry run: nothing was changed");
        return Ok(Report::default());
    }
    if !plan.is_empty() {
        confirm(&plan)?;
    }
    let confirmed: Vec<String> = plan
        .steps
        .iter()
        .map(|s| s.migration.version.stamp.clone())
        .collect();
    let guard = match &opts.guard {
        Some(g) => Some(guard::Guard::new(db, &client, g.clone()).await?),
        None => None,
    };
    store::lock(&client, &database, opts.lock_timeout).await?;
    let result = locked(
        &client,
        guard.as_ref(),
        &migrations,
        &database,
        direction,
        steps,
        &confirmed,
    )
    .await;
    store::unlock(&client).await;
    result
}

fn adoption_note(adopt: &[store::Applied], pointer: Option<&str>) -> String {
    match pointer {
        Some(p) if !adopt.is_empty() => format!(
            " and adopt public.schema_information (last_successful_run = {p}): {} migration(s) \
             recorded as applied without running them: {}",
            adopt.len(),
            plan::adopted_names(adopt)
        ),
        _ => String::new(),
    }
}

fn nothing_to_do(direction: Direction, database: &str) -> String {
    match direction {
        Direction::Up => format!("nothing to migrate: database {database:?} is up to date"),
        Direction::Down => {
            format!("nothing to undo: no migration is applied on database {database:?}")
        }
    }
}

/// The part of a run under the lock: the state is read again, since another run may have
/// moved it while this one waited.
async fn locked(
    client: &Client,
    guard: Option<&guard::Guard>,
    migrations: &[Migration],
    database: &str,
    direction: Direction,
    steps: usize,
    confirmed: &[String],
) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let mut state = store::read(client, migrations).await?;
    if state.needs_init() {
        store::init(client, state.to_adopt()).await?;
        if !state.applied.is_empty() {
            ui::status(&format!(
                "created the tracking table {}{}",
                store::TABLE,
                adoption_note(state.to_adopt(), state.pointer.as_deref())
            ));
            report.adopted = state.applied.iter().map(|a| a.file.clone()).collect();
        }
        state = store::read(client, migrations).await?;
    }
    plan::check_unchanged(migrations, &state)?;
    let plan = make_plan(migrations, &state, database, direction, steps)?;
    let extra = plan::unconfirmed(&plan, confirmed);
    if !extra.is_empty() {
        anyhow::bail!(
            "the database's migrations changed while this run waited ({} not in the confirmed \
             plan); nothing was run: run again to see the new plan",
            extra.join(", ")
        );
    }
    if plan.is_empty() {
        ui::status(&nothing_to_do(direction, database));
        return Ok(report);
    }
    let keep_pointer = state.pointer.is_some();
    let mut applied: Vec<(Version, String)> = state
        .applied
        .iter()
        .map(|a| (a.version.clone(), a.file.clone()))
        .collect();
    let newest = applied.iter().map(|(v, _)| v).max().cloned();
    let started = Instant::now();
    for step in &plan.steps {
        let m = step.migration;
        if direction == Direction::Up {
            if let Some(newest) = newest.as_ref().filter(|n| m.version < **n) {
                ui::warn(&format!(
                    "{} is older than the newest applied migration ({newest}); applying it now",
                    m.file_name
                ));
            }
            applied.push((m.version.clone(), m.file_name.clone()));
        } else {
            applied.retain(|(v, _)| v.stamp != m.version.stamp);
        }
        let pointer = keep_pointer
            .then(|| store::pointer_value(applied.iter().map(|(v, f)| (v, f.as_str()))));
        let took = apply(
            client,
            guard,
            step,
            direction,
            pointer.as_deref(),
            report.done.len(),
        )
        .await?;
        ui::status(&format!(
            "{} {} ({} ms)",
            if direction == Direction::Up {
                "applied"
            } else {
                "undid"
            },
            m.file_name,
            took.as_millis()
        ));
        report.done.push(m.file_name.clone());
    }
    ui::status(&format!(
        "{} {} migration(s) on database {database:?} in {:.2}s",
        if direction == Direction::Up {
            "applied"
        } else {
            "undid"
        },
        report.done.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(report)
}

/// Runs one step with its bookkeeping: in one transaction unless the section says
/// `transaction:false`. Returns how long it took.
async fn apply(
    client: &Client,
    guard: Option<&guard::Guard>,
    step: &plan::Step<'_>,
    direction: Direction,
    pointer: Option<&str>,
    done_before: usize,
) -> anyhow::Result<Duration> {
    let m = step.migration;
    let file = m.path.display().to_string();
    let before = match (direction, done_before) {
        (Direction::Up, 0) => "no migration was applied before it in this run".to_string(),
        (Direction::Down, 0) => "no migration was undone before it in this run".to_string(),
        (Direction::Up, 1) => "the migration applied before it stays applied".to_string(),
        (Direction::Up, n) => format!("the {n} migrations applied before it stay applied"),
        (Direction::Down, 1) => "the migration undone before it stays undone".to_string(),
        (Direction::Down, n) => format!("the {n} migrations undone before it stay undone"),
    };
    let failed_books = |e: &dyn std::fmt::Display| {
        anyhow::anyhow!("{e}").context(format!(
            "failed to record {} as {}",
            m.file_name,
            if direction == Direction::Up {
                "applied"
            } else {
                "undone"
            }
        ))
    };
    let started = Instant::now();
    if step.section.transaction {
        // The bookkeeping runs after the migration's statements in its transaction; the
        // execution time is the transaction's, measured by the server.
        let books = store::bookkeeping_sql(
            m,
            direction,
            "(extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint",
            pointer,
        );
        return match guard::run(client, guard, &file, step.section, Some(&books)).await {
            Ok(_) => Ok(started.elapsed()),
            Err(SqlFailure::Migration(mut e)) => {
                e.outcome = format!(
                    "the migration's transaction was rolled back: nothing of {} was kept and it \
                     was not recorded; {before}",
                    m.file_name
                );
                Err(e.into())
            }
            Err(SqlFailure::Bookkeeping(e)) => Err(failed_books(&e.message)),
        };
    }
    if let Err(SqlFailure::Migration(mut e) | SqlFailure::Bookkeeping(mut e)) =
        guard::run(client, guard, &file, step.section, None).await
    {
        e.outcome = format!(
            "{} runs without a transaction (transaction:false): the statements before this \
             one stay committed, and it was not recorded; {before}",
            m.file_name
        );
        return Err(e.into());
    }
    let took = started.elapsed();
    // NOTE: one simple query with several statements runs as one transaction.
    let books = store::bookkeeping_sql(m, direction, &took.as_millis().to_string(), pointer);
    client
        .batch_execute(&books)
        .await
        .map_err(|e| failed_books(&crate::pg::describe(&e)))?;
    Ok(took)
}

pub(super) fn plain_error(file: &str, e: &tokio_postgres::Error) -> LoadError {
    LoadError {
        file: file.to_string(),
        line: 1,
        column: 1,
        chain: Vec::new(),
        statement: String::new(),
        message: crate::pg::describe(e),
        code: e.code().map(|c| c.code().to_string()),
        outcome: String::new(),
        kind: crate::error::ErrorKind::Failed,
        by_shape: false,
    }
}

/// The plan's migrations linted, with the live tables when they can be read.
async fn lint_plan(client: &Client, plan: &Plan<'_>) -> anyhow::Result<Vec<lint::Finding>> {
    let live = match lint::live::read(client).await {
        Ok(l) => Some(l),
        Err(e) => {
            ui::warn(&format!("lint without table sizes: {e:#}"));
            None
        }
    };
    let sections: Vec<(&Migration, &Section)> = plan
        .steps
        .iter()
        .map(|s| (s.migration, s.section))
        .collect();
    lint::lint(&sections, live.as_ref(), lint::SMALL_TABLE_ROWS)
}

/// Why [`run_sql`] failed: in the migration's SQL, or in the bookkeeping run after it.
#[derive(Debug)]
pub enum SqlFailure {
    Migration(LoadError),
    Bookkeeping(LoadError),
}

/// Runs one section's SQL on `client`. With `epilogue` (the bookkeeping), the section and the
/// epilogue run in one transaction, `settings` first in it; without, statement by statement
/// in autocommit.
/// NOTE: the one place that calls the SQL runner, so that a change of the runner's API is
/// adapted here only. Positions in its errors are mapped back to the file as written.
pub async fn run_sql(
    client: &Client,
    file: &str,
    section: &Section,
    epilogue: Option<&str>,
    settings: Option<&str>,
) -> Result<load::Summary, SqlFailure> {
    // A `.sql` section is counted from its own line of the file by the runner (its warnings
    // too); a `.py` section's positions are mapped back here.
    let first_line = section.first_line();
    let to_file = |mut e: LoadError| {
        if first_line.is_none() {
            let (line, column) = section.file_pos(e.line, e.column);
            e.line = line;
            e.column = column;
        }
        e.file = file.to_string();
        e
    };
    let vars = Vars::default();
    let Some(books) = epilogue else {
        let text = Input::section(file, section.sql.clone(), first_line.unwrap_or(1));
        let input = Script::outside_transaction(&text, &vars)
            .map_err(|e| SqlFailure::Migration(to_file(e.into())))?;
        let opts = LoadOptions {
            transaction: Transaction::None {
                connect: Connect::Refused,
            },
            epilogue: None,
        };
        return load::run(client, input, opts, &ProgressBar::hidden(), None)
            .await
            .map_err(|e| SqlFailure::Migration(to_file(e)));
    };
    let plain = |e: tokio_postgres::Error| plain_error(file, &e);
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| SqlFailure::Bookkeeping(plain(e)))?;
    if let Some(settings) = settings {
        if let Err(e) = client.batch_execute(settings).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(SqlFailure::Bookkeeping(plain(e)));
        }
    }
    let line = first_line.unwrap_or(1);
    let summary = match load::run_text(client, file, &section.sql, line, &vars).await {
        Ok(s) => s,
        Err(e) => {
            // The connection may be gone; the server rolls back then anyway.
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(SqlFailure::Migration(to_file(e)));
        }
    };
    if let Err(e) = client.batch_execute(books).await {
        let _ = client.batch_execute("ROLLBACK").await;
        return Err(SqlFailure::Bookkeeping(plain(e)));
    }
    client
        .batch_execute("COMMIT")
        .await
        .map_err(|e| SqlFailure::Bookkeeping(plain(e)))?;
    Ok(summary)
}

/// `--exit-code` for status: exit 1 when something is pending or changed.
pub fn check_clean(rows: &[StatusRow]) -> anyhow::Result<()> {
    let count = |s: MigrationState| rows.iter().filter(|r| r.state == s).count();
    let (pending, changed) = (
        count(MigrationState::Pending),
        count(MigrationState::Changed),
    );
    if pending + changed > 0 {
        return Err(crate::error::kinded(
            crate::error::ErrorKind::Failed,
            format!("{pending} pending and {changed} changed migration(s) (--exit-code)"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mkdirs(root: &Path, dirs: &[&str]) {
        for d in dirs {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
    }

    #[test]
    fn find_checkout_walks_up_to_the_repository_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        mkdirs(
            root,
            &["backend-flask/db/migrations", "frontend-react-js/src"],
        );
        std::fs::write(root.join("backend-flask/db/schema.sql"), "").unwrap();
        let c = find_checkout(&root.join("frontend-react-js/src")).unwrap();
        assert_eq!(c.root, root);
        assert_eq!(c.schema, Some(root.join("backend-flask/db/schema.sql")));
        assert_eq!(c.seed, None);
        assert_eq!(c.migrations, Some(root.join("backend-flask/db/migrations")));
        assert_eq!(
            find_checkout(&root.join("backend-flask/db")).unwrap().root,
            root
        );
        let elsewhere = tempfile::tempdir().unwrap();
        assert_eq!(find_checkout(elsewhere.path()), None);
    }

    #[test]
    fn default_dir_prefers_the_local_db_migrations() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        assert_eq!(default_dir(root), None);
        assert_eq!(new_dir(root), root.join("db/migrations"));
        mkdirs(root, &["backend-flask/db", "bin"]);
        assert_eq!(default_dir(&root.join("bin")), None);
        assert_eq!(
            new_dir(&root.join("bin")),
            root.join("backend-flask/db/migrations")
        );
        mkdirs(root, &["backend-flask/db/migrations"]);
        assert_eq!(
            default_dir(&root.join("bin")),
            Some(root.join("backend-flask/db/migrations"))
        );
        mkdirs(root, &["bin/db/migrations"]);
        assert_eq!(
            default_dir(&root.join("bin")),
            Some(root.join("bin/db/migrations"))
        );
    }

    #[test]
    fn new_file_validates_and_never_overwrites() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("a/b");
        let now = DateTime::parse_from_rfc3339("2024-03-01T12:34:56Z")
            .unwrap()
            .to_utc();
        for bad in ["", "Add", "add-bio", "add bio", "../x"] {
            let e = new_file(&dir, bad, now).unwrap_err();
            assert_eq!(crate::error::exit_code(&e), 2, "{bad}");
        }
        let p = new_file(&dir, "add_bio", now).unwrap();
        assert_eq!(p, dir.join("20240301123456_add_bio.sql"));
        let m = file::read(&p).unwrap();
        assert!(m.up.is_empty() && m.down.is_none());
        std::fs::write(&p, "-- migrate:up\nSELECT 1;\n").unwrap();
        let e = new_file(&dir, "other", now).unwrap_err();
        assert!(
            format!("{e:#}").contains("20240301123456_add_bio.sql"),
            "{e:#}"
        );
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "-- migrate:up\nSELECT 1;\n"
        );
    }
}
