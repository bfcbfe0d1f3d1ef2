//! `migrate [up]|down|status|new`: turns the flags into plain values and calls
//! [`crate::migrate`]; only `new` runs without a database (and without a runtime).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::cli::{
    MigrateArgs, MigrateCommand, MigrateDirArgs, MigrateNewArgs, MigrateRunArgs, MigrateStatusArgs,
};
use crate::migrate::{self, Direction, Options, Plan};
use crate::pg::Db;
use crate::target::{Target, TargetRequest};
use crate::ui;

pub fn run(req: &TargetRequest, args: MigrateArgs) -> anyhow::Result<()> {
    match args.command {
        None => super::block_on(up_or_down(req, args.up.run, None)),
        Some(MigrateCommand::Up(a)) => super::block_on(up_or_down(req, a.run, None)),
        Some(MigrateCommand::Down(a)) => super::block_on(up_or_down(req, a.run, Some(a.steps))),
        Some(MigrateCommand::Status(a)) => super::block_on(status(req, a)),
        Some(MigrateCommand::New(a)) if a.from_diff => super::block_on(new_from_diff(req, a)),
        Some(MigrateCommand::New(a)) => new(a),
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
    let opts = Options {
        dir: dir(&args.dir)?,
        lock_timeout: Duration::from_secs(args.lock_timeout),
        dry_run: args.confirm.dry_run,
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
