//! `migrate [up]|down|status|new|lint`: turns the flags into plain values and calls
//! [`crate::migrate`]; only `new` (and `lint --offline`) run without a database.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::cli::{
    MigrateArgs, MigrateCommand, MigrateDirArgs, MigrateLintArgs, MigrateNewArgs, MigrateRunArgs,
    MigrateStatusArgs,
};
use crate::error::{coded, exit};
use crate::migrate::guard::LockGuard;
use crate::migrate::lint::{self, Live};
use crate::migrate::{self, Direction, Migration, Options, Plan};
use crate::pg::Db;
use crate::target::{Target, TargetRequest};
use crate::ui;

pub fn run(req: &TargetRequest, args: MigrateArgs) -> anyhow::Result<()> {
    match args.command {
        None => super::runtime::block_on(up_or_down(req, args.up.run, None)),
        Some(MigrateCommand::Up(a)) => super::runtime::block_on(up_or_down(req, a.run, None)),
        Some(MigrateCommand::Down(a)) => {
            super::runtime::block_on(up_or_down(req, a.run, Some(a.steps)))
        }
        Some(MigrateCommand::Status(a)) => super::runtime::block_on(status(req, a)),
        Some(MigrateCommand::New(a)) if a.from_diff => {
            super::runtime::block_on(new_from_diff(req, a))
        }
        Some(MigrateCommand::New(a)) => new(a),
        Some(MigrateCommand::Lint(a)) => super::runtime::block_on(lint_cmd(req, a)),
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

fn new(args: MigrateNewArgs) -> anyhow::Result<()> {
    let dir = match args.dir.dir {
        Some(d) => d,
        None => migrate::new_dir(&cwd()?),
    };
    let path = migrate::new_file(&dir, &args.name, chrono::Utc::now())?;
    println!("{}", path.display());
    Ok(())
}

/// `new NAME --from-diff`: the migration from `setup` to the local database.
async fn new_from_diff(req: &TargetRequest, args: MigrateNewArgs) -> anyhow::Result<()> {
    let sides = crate::catalog::Sides {
        request: req.clone(),
        scratch_url: None,
        conn: crate::pg::ConnectOptions::default(),
    };
    // NOTE: the diff (and its refusals) comes first, so a refused migration writes no file.
    let sql = crate::catalog::migration_from_diff(&sides).await?;
    let dir = match &args.dir.dir {
        Some(d) => d.clone(),
        None => migrate::new_dir(&cwd()?),
    };
    let path = migrate::new_file(&dir, &args.name, chrono::Utc::now())?;
    std::fs::write(
        &path,
        format!("-- migrate:up\n{}\n-- migrate:down\n{}", sql.up, sql.down),
    )
    .with_context(|| format!("failed to write {}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}

/// `up` (steps `None`) or `down --steps N`.
async fn up_or_down(
    req: &TargetRequest,
    args: MigrateRunArgs,
    steps: Option<u64>,
) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let guarded = target.protected || args.lock_guard;
    let opts = Options {
        dir: dir(&args.dir)?,
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

async fn status(req: &TargetRequest, args: MigrateStatusArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let dir = dir(&args.dir)?;
    let db = Db::connect(&target, &args.conn.options()).await?;
    let status = migrate::status(&db, &dir).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status.rows).context("failed to write JSON")?
        );
    } else {
        print!("{}", table(&status.rows));
        summary(&status, &dir);
    }
    if args.exit_code {
        migrate::check_clean(&status.rows)?;
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
async fn lint_cmd(req: &TargetRequest, args: MigrateLintArgs) -> anyhow::Result<()> {
    let dir = dir(&args.dir)?;
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
        let target = Target::from_env(req)?;
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
                ui::warn(&format!(
                    "lint: {e:#}; linting without the database (every migration given, table \
                     sizes unknown)"
                ));
                (all, None)
            }
        }
    };
    let sections: Vec<(&Migration, &migrate::Section)> =
        migrations.iter().map(|m| (m, &m.up)).collect();
    let findings = lint::lint(&sections, live.as_ref())?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&findings).context("failed to write JSON")?
        );
    } else {
        for f in &findings {
            print!("{f}");
        }
    }
    ui::status(&lint::summary(&findings, migrations.len()));
    let errors = findings.iter().filter(|f| f.is_blocking()).count();
    if errors > 0 {
        return Err(coded(
            exit::FAILED,
            format!(
                "{errors} lint error(s); rewrite the statements as the fix lines say, or allow \
                 one with `-- cruddur-db:allow RULE reason` on the line before it"
            ),
        ));
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
