//! `migrate [up]|down|status|new|lint`: turns the flags into plain values and calls
//! [`crate::migrate`]; only `new` (and `lint --offline`) run without a database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::cli::{
    MigrateArgs, MigrateCommand, MigrateDirArgs, MigrateLintArgs, MigrateMarkArgs, MigrateNewArgs,
    MigrateRunArgs, MigrateStatusArgs,
};
use crate::commands::context::Run;
use crate::migrate::guard::LockGuard;
use crate::migrate::lint::{self, Live};
use crate::migrate::{self, Direction, Migration, Options, Plan};
use crate::pg::Db;
use crate::target::{Target, TargetRequest};
use crate::ui;

pub fn run(ctx: &Run, args: MigrateArgs) -> anyhow::Result<()> {
    let d = &args.dir;
    match args.command {
        None => super::runtime::block_on(up_or_down(ctx, d, args.up.run, None)),
        Some(MigrateCommand::Up(a)) => super::runtime::block_on(up_or_down(ctx, d, a.run, None)),
        Some(MigrateCommand::Down(a)) => {
            super::runtime::block_on(up_or_down(ctx, d, a.run, Some(a.steps)))
        }
        Some(MigrateCommand::Status(a)) => super::runtime::block_on(status(ctx, d, a)),
        Some(MigrateCommand::New(a)) if a.from_diff => {
            super::runtime::block_on(new_from_diff(ctx, d, a))
        }
        Some(MigrateCommand::New(a)) => new(d, a),
        Some(MigrateCommand::Lint(a)) => super::runtime::block_on(lint_cmd(ctx, d, a)),
        Some(MigrateCommand::Mark(a)) => super::runtime::block_on(mark(ctx, d, a)),
    }
}

fn cwd() -> anyhow::Result<PathBuf> {
    std::env::current_dir().context("failed to read the current directory")
}

/// `--dir`, else the directory found from the current one.
fn dir(args: &MigrateDirArgs) -> anyhow::Result<PathBuf> {
    if let Some(d) = &args.dir {
        return Ok(d.clone());
    }
    let cwd = cwd()?;
    Ok(migrate::default_dir(&cwd).unwrap_or_else(|| cwd.join("db").join("migrations")))
}

fn new(d: &MigrateDirArgs, args: MigrateNewArgs) -> anyhow::Result<()> {
    let dir = match &d.dir {
        Some(d) => d.clone(),
        None => migrate::new_dir(&cwd()?),
    };
    let path = migrate::new_file(&dir, &args.name, chrono::Utc::now())?;
    crate::ui::outln!("{}", path.display())?;
    Ok(())
}

/// `new NAME --from-diff`: the migration from `setup` to the local database.
async fn new_from_diff(ctx: &Run, d: &MigrateDirArgs, args: MigrateNewArgs) -> anyhow::Result<()> {
    let sides = crate::catalog::Sides {
        request: ctx.req.clone(),
        scratch_url: None,
        conn: crate::pg::ConnectOptions::default(),
        maker: std::sync::Arc::new(super::scratch::Lifecycle),
    };
    // NOTE: the diff (and its refusals) comes first, so a refused migration writes no file.
    let sql = crate::catalog::migration_from_diff(&sides).await?;
    let dir = match &d.dir {
        Some(d) => d.clone(),
        None => migrate::new_dir(&cwd()?),
    };
    // The database the change was taken from: it has the change already.
    let local = Target::from_env(&TargetRequest {
        url: ctx.req.url.clone(),
        ..TargetRequest::default()
    })?;
    let db = Db::connect(&local, &sides.conn).await?;
    let live = {
        let client = db.get().await?;
        lint::live::read(&client).await?
    };
    let written = migrate::from_diff::write(
        &dir,
        &args.name,
        chrono::Utc::now(),
        &sql.up,
        &sql.down,
        Some(&live),
        lint::SMALL_TABLE_ROWS,
    )?;
    let files: Vec<&PathBuf> = std::iter::once(&written.main)
        .chain(written.outside.as_ref())
        .collect();
    for f in &files {
        crate::ui::outln!("{}", f.display())?;
    }
    if written.outside.is_some() {
        ui::status(
            "note: the index builds and constraint validations on tables with rows run \
             CONCURRENTLY / after NOT VALID in the second migration, outside a transaction, so \
             that writes go on meanwhile",
        );
    }
    let errors: Vec<&lint::Finding> = written
        .findings
        .iter()
        .filter(|f| f.is_blocking())
        .collect();
    for f in &errors {
        crate::ui::out!("{f}")?;
    }
    if !errors.is_empty() {
        ui::warn(&format!(
            "{} lint error(s) in the new migration that cruddur-db does not rewrite: review it \
             before it runs on production (`cruddur-db migrate lint` with the production target)",
            errors.len()
        ));
    }
    record_where_the_change_is(&local, &db, &dir, &files).await
}

/// The database the diff was taken from has the change: the new migrations are recorded as
/// applied there, so that it does not show them pending (and `migrate up` does not fail on
/// objects that exist). A protected target is left alone: the command to run is printed.
async fn record_where_the_change_is(
    local: &Target,
    db: &Db,
    dir: &Path,
    files: &[&PathBuf],
) -> anyhow::Result<()> {
    let names: Vec<String> = files
        .iter()
        .filter_map(|f| f.file_name())
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    if local.protected {
        ui::status(&format!(
            "the change is already in {} (protected): record it there with `cruddur-db \
             migrate mark {}` once you have checked it",
            local.url.short(),
            names.join(" ")
        ));
        return Ok(());
    }
    let report = migrate::mark::mark(db, dir, &names, false, Duration::from_secs(10), |_| Ok(()))
        .await
        .context("the migration was written, but recording it as applied failed")?;
    ui::status(&format!(
        "recorded {} as applied on database {:?} (it has the change: the diff was taken from \
         it); other databases, and setup, show it pending",
        report.changed.join(", "),
        db.url.database()
    ));
    Ok(())
}

/// `up` (steps `None`) or `down --steps N`.
async fn up_or_down(
    ctx: &Run,
    d: &MigrateDirArgs,
    args: MigrateRunArgs,
    steps: Option<u64>,
) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let guarded = target.protected || args.lock_guard;
    let opts = Options {
        dir: dir(d)?,
        lock_timeout: Duration::from_secs(args.lock_timeout),
        dry_run: args.confirm.dry_run,
        guard: guarded.then_some(LockGuard {
            lock_timeout: args.ddl_lock_timeout,
            statement_timeout: args.statement_timeout,
            retries: args.retries,
        }),
        lint: target.protected,
    };
    let db = Db::connect(&target, &args.conn.options()).await?;
    let confirm = |plan: &Plan| {
        if target.protected {
            ui::status(&plan.to_string());
        }
        let n = plan.steps.len();
        let action = match plan.direction {
            Direction::Up => format!("apply {n} migration(s)"),
            Direction::Down => format!("undo {n} migration(s)"),
        };
        crate::protect::confirm(&target, &args.confirm.plain(), &action)
    };
    match steps {
        None => migrate::up(&db, &opts, confirm).await?,
        Some(n) => migrate::down(&db, &opts, n as usize, confirm).await?,
    };
    Ok(())
}

async fn status(ctx: &Run, d: &MigrateDirArgs, args: MigrateStatusArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let dir = dir(d)?;
    let db = Db::connect(&target, &args.conn.options()).await?;
    let status = migrate::status(&db, &dir).await?;
    if args.json {
        crate::ui::outln!(
            "{}",
            serde_json::to_string_pretty(&status.rows).context("failed to write JSON")?
        )?;
    } else {
        crate::ui::out!("{}", table(&status.rows))?;
        summary(&status, &dir);
    }
    for lie in &status.lies {
        ui::warn(&format!("the history does not match the schema: {lie}"));
    }
    if args.exit_code {
        migrate::check_clean(&status.rows)?;
        if !status.lies.is_empty() {
            return Err(crate::error::kinded(
                crate::error::ErrorKind::Failed,
                format!(
                    "{} migration(s) whose record does not match the schema (see the warnings)",
                    status.lies.len()
                ),
            ));
        }
    }
    Ok(())
}

fn table(rows: &[migrate::StatusRow]) -> String {
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|r| {
            [
                r.version.clone(),
                r.name.clone(),
                r.state.to_string(),
                r.applied_at.map_or_else(
                    || "-".to_string(),
                    |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                ),
            ]
        })
        .collect();
    ui::table(&["VERSION", "NAME", "STATE", "APPLIED AT"], &cells)
}

fn summary(status: &migrate::Status, dir: &Path) {
    let count = |s: migrate::MigrationState| status.rows.iter().filter(|r| r.state == s).count();
    ui::status(&format!(
        "{}: {} applied, {} pending, {} changed, {} missing",
        dir.display(),
        count(migrate::MigrationState::Applied),
        count(migrate::MigrationState::Pending),
        count(migrate::MigrationState::Changed),
        count(migrate::MigrationState::Missing)
    ));
    if status.adoption_pending {
        ui::status(
            "note: public.schema_information's pointer is not adopted yet: the .py migrations \
             it covers show as applied and are recorded by the next `migrate`",
        );
    }
}

/// `migrate lint`: the files given, else the pending migrations (every one with `--all`, or
/// when the database cannot be read), with the live tables when it can.
async fn lint_cmd(ctx: &Run, d: &MigrateDirArgs, args: MigrateLintArgs) -> anyhow::Result<()> {
    let dir = dir(d)?;
    let given: Vec<Migration> = args
        .files
        .iter()
        .map(|p| migrate::file::read(p))
        .collect::<anyhow::Result<_>>()?;
    let all = if given.is_empty() {
        migrate::file::discover(&dir)?
    } else {
        given
    };
    let (migrations, live) = if args.offline {
        ui::status("lint: offline: every migration given is linted, table sizes unknown");
        (all, None)
    } else {
        let target = ctx.target()?;
        match read_live(&target, &args, &all).await {
            Ok((applied, live)) => {
                let pick = args.all || !args.files.is_empty();
                let m = all
                    .into_iter()
                    .filter(|m| pick || !applied.contains(&m.version.stamp))
                    .collect();
                (m, Some(live))
            }
            Err(e) => {
                // NOTE: never a silent offline lint: a CI job with a typo in its URL must fail.
                return Err(crate::error::kinded(
                    crate::error::ErrorKind::Failed,
                    format!(
                        "{:#}",
                        e.context(
                            "lint: the target cannot be read (pass --offline to lint the files \
                             without a database, table sizes unknown)"
                        )
                    ),
                ));
            }
        }
    };
    let sections: Vec<(&Migration, &migrate::Section)> =
        migrations.iter().map(|m| (m, &m.up)).collect();
    let findings = lint::lint(&sections, live.as_ref(), args.small_table)?;
    if args.json {
        crate::ui::outln!(
            "{}",
            serde_json::to_string_pretty(&findings).context("failed to write JSON")?
        )?;
    } else {
        for f in &findings {
            crate::ui::out!("{f}")?;
        }
    }
    ui::status(&lint::summary(&findings, migrations.len()));
    let errors = findings.iter().filter(|f| f.is_blocking()).count();
    if errors > 0 {
        return Err(crate::error::kinded(
            crate::error::ErrorKind::Failed,
            format!(
                "{errors} lint error(s); rewrite the statements as the fix lines say, or allow \
                 one with `-- cruddur-db:allow RULE reason` on the line before it"
            ),
        ));
    }
    Ok(())
}

/// `mark VERSION... [--unapply]`: records migrations as applied (or not) without running
/// them; on a protected target after the typed confirmation (and audited, as every write).
async fn mark(ctx: &Run, d: &MigrateDirArgs, args: MigrateMarkArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let dir = dir(d)?;
    let db = Db::connect(&target, &args.conn.options()).await?;
    let (what, state) = if args.unapply {
        ("as not applied", "not applied")
    } else {
        ("as applied", "applied")
    };
    if confirm.dry_run {
        let migrations = migrate::file::discover(&dir)?;
        let client = db.get().await?;
        let recorded = migrate::store::recorded(&client).await?.unwrap_or_default();
        for n in migrate::mark::resolve(&migrations, &recorded, &args.versions, args.unapply)? {
            crate::ui::outln!(
                "would record {}_{} {what} on {} (without running it)",
                n.version,
                n.name,
                db.url
            )?;
        }
        ui::status("dry run: nothing was changed");
        return Ok(());
    }
    let report = migrate::mark::mark(
        &db,
        &dir,
        &args.versions,
        args.unapply,
        Duration::from_secs(args.lock_timeout),
        |names| {
            crate::protect::confirm(
                &target,
                &confirm,
                &format!(
                    "record {} migration(s) {what} without running them ({})",
                    names.len(),
                    names.join(", ")
                ),
            )
        },
    )
    .await?;
    for name in &report.changed {
        ui::status(&format!(
            "recorded {name} {what} on database {:?} (not run)",
            db.url.database()
        ));
    }
    for name in &report.unchanged {
        ui::status(&format!("{name}: already {state}; nothing to do"));
    }
    Ok(())
}

/// The applied versions and the live tables.
async fn read_live(
    target: &Target,
    args: &MigrateLintArgs,
    all: &[Migration],
) -> anyhow::Result<(Vec<String>, Live)> {
    let db = Db::connect(target, &args.conn.options()).await?;
    let client = db.get().await?;
    let state = migrate::store::read(&client, all).await?;
    let live = lint::live::read(&client).await?;
    ui::status(&format!(
        "lint: {} table(s) read from {}",
        live.tables.len(),
        db.url
    ));
    Ok((
        state
            .applied
            .iter()
            .map(|a| a.version.stamp.clone())
            .collect(),
        live,
    ))
}
