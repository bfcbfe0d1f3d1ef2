//! `snapshot`: save, restore, list and drop local copies of the target database, and the git
//! hook that follows branches.

use anyhow::Context;

use super::runtime::block_on;
use crate::cli::{SnapshotCommand, SnapshotHookCommand};
use crate::commands::context::Run;
use crate::snapshot::{self, git};
use crate::target::Target;
use crate::ui;

pub fn run(ctx: &Run, command: SnapshotCommand) -> anyhow::Result<()> {
    let cwd = std::env::current_dir().context("failed to read the current directory")?;
    match command {
        SnapshotCommand::Hook(SnapshotHookCommand::Install) => {
            let path = git::install(&cwd)?;
            ui::status(&format!(
                "installed {}: every branch checkout saves the database under the branch left \
                 and restores the one saved for the branch checked out",
                path.display()
            ));
            Ok(())
        }
        SnapshotCommand::Hook(SnapshotHookCommand::Uninstall) => {
            match git::uninstall(&cwd)? {
                Some(path) => ui::status(&format!("removed {}", path.display())),
                None => ui::status("no cruddur-db post-checkout hook to remove"),
            }
            Ok(())
        }
        SnapshotCommand::Save(a) => {
            let (target, name) = local_target_and_name(ctx, a.name, &cwd)?;
            block_on(async {
                snapshot::save(
                    &target,
                    &a.conn.options(),
                    &name,
                    git::head(&cwd),
                    a.force,
                    a.keep.keep as usize,
                )
                .await
            })
        }
        SnapshotCommand::Restore(a) => {
            let (target, name) = local_target_and_name(ctx, a.name, &cwd)?;
            block_on(async { snapshot::restore(&target, &a.conn.options(), &name, a.force).await })
        }
        SnapshotCommand::Drop(a) => {
            let target = ctx.target()?;
            block_on(snapshot::drop(&target, &a.conn.options(), &a.name))
        }
        SnapshotCommand::Switch(a) => {
            let target = ctx.target()?;
            block_on(snapshot::switch(
                &target,
                &a.conn.options(),
                &a.old,
                &a.new,
                a.force,
                a.keep.keep as usize,
                &cwd,
            ))
        }
        SnapshotCommand::List(a) => {
            let target = ctx.target()?;
            snapshot::refuse_protected(&target)?;
            block_on(async {
                let of = target.url.database();
                let (admin, _) = snapshot::admin(&target, &a.conn.options()).await?;
                let client = admin.get().await?;
                let all = snapshot::list(&client, &of).await?;
                if a.output.json {
                    crate::ui::outln!("{}", serde_json::to_string_pretty(&all)?)?;
                    return Ok(());
                }
                if all.is_empty() {
                    ui::status(&format!(
                        "no snapshots of database {of:?} (cruddur-db snapshot save NAME)"
                    ));
                    return Ok(());
                }
                let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                let rows: Vec<[String; 6]> = all
                    .iter()
                    .map(|s| {
                        [
                            s.meta.name.clone(),
                            s.meta.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                            snapshot::human_size(s.size_bytes),
                            o(&s.meta.branch),
                            o(&s.meta.commit),
                            o(&s.meta.last_migration),
                        ]
                    })
                    .collect();
                crate::ui::out!(
                    "{}",
                    ui::table(
                        &[
                            "NAME",
                            "SAVED (UTC)",
                            "SIZE",
                            "BRANCH",
                            "COMMIT",
                            "LAST MIGRATION"
                        ],
                        &rows
                    )
                )?;
                // What the newest save pruned (`--keep`).
                if let Some(p) = all.iter().find(|s| !s.meta.pruned.is_empty()) {
                    ui::status(&format!(
                        "pruned by the save of {} (--keep): {}",
                        p.meta.name,
                        p.meta
                            .pruned
                            .iter()
                            .map(|x| format!(
                                "{} ({})",
                                x.name,
                                x.created_at.format("%Y-%m-%d %H:%M")
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                Ok(())
            })
        }
    }
}

/// The target (refused when protected, before anything else is asked) and the snapshot name:
/// the one given, else the checkout's branch.
fn local_target_and_name(
    ctx: &Run,
    name: Option<String>,
    cwd: &std::path::Path,
) -> anyhow::Result<(Target, String)> {
    let target = ctx.target()?;
    snapshot::refuse_protected(&target)?;
    let name = match name {
        Some(n) => n,
        None => git::default_name(cwd)?,
    };
    Ok((target, name))
}
