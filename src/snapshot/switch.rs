//! `snapshot switch OLD NEW`, run by the git hook on a branch checkout: saves the database as
//! snapshot OLD, then restores snapshot NEW; without one, keeps the database and says what
//! `migrate status` finds. One line of output, and none when the server cannot be reached.

use std::path::Path;

use super::{admin, find, refuse_protected, restore, save};
use crate::migrate::plan::MigrationState;
use crate::pg::{ConnectOptions, Db};
use crate::target::Target;
use crate::ui;

pub async fn switch(
    target: &Target,
    opts: &ConnectOptions,
    old: &str,
    new: &str,
    force: bool,
    keep: usize,
    cwd: &Path,
) -> anyhow::Result<()> {
    refuse_protected(target)?;
    let of = target.url.database();
    // NOTE: a server that is down (the workspace has not started it yet) is no news for a
    // checkout: say nothing.
    let Ok((admin, exists)) = admin(target, opts).await else {
        return Ok(());
    };
    let client = admin.get().await?;
    let next = if super::check_name(new).is_ok() {
        find(&client, &of, new).await.ok()
    } else {
        None
    };
    drop(client);
    drop(admin);
    let _quiet = ui::hush();
    let mut said = Vec::new();
    if exists {
        match super::check_name(old) {
            Ok(()) => {
                // NOTE: git runs the hook after HEAD moved: the snapshot belongs to the
                // branch left and its tip, not to what HEAD says now.
                let origin = (Some(old.to_string()), super::git::commit_of(cwd, old));
                save(target, opts, old, origin, force, keep).await?;
                said.push(format!("saved {of} as snapshot {old}"));
            }
            Err(_) => said.push(format!(
                "did not save {of}: branch {old:?} is not a valid snapshot name"
            )),
        }
    }
    match next {
        Some(snapshot) => {
            restore(target, opts, new, force).await?;
            said.push(format!(
                "restored snapshot {new} (saved {})",
                snapshot.meta.created_at.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        None if exists => {
            said.push(format!(
                "no snapshot for {new}, kept the database{}",
                migrations_line(target, opts, cwd).await
            ));
        }
        None => said.push(format!("no database {of:?} and no snapshot for {new}")),
    }
    drop(_quiet);
    ui::status(&format!("cruddur-db snapshot: {}", said.join("; ")));
    Ok(())
}

/// `: migrate status: 2 pending, 1 changed` for the migrations this checkout has.
async fn migrations_line(target: &Target, opts: &ConnectOptions, cwd: &Path) -> String {
    let Some(dir) = crate::migrate::default_dir(cwd) else {
        return String::new();
    };
    let Ok(db) = Db::connect(target, opts).await else {
        return String::new();
    };
    let Ok(status) = crate::migrate::status(&db, &dir).await else {
        return String::new();
    };
    let count = |s: MigrationState| status.rows.iter().filter(|r| r.state == s).count();
    let parts: Vec<String> = [
        (MigrationState::Pending, "pending"),
        (MigrationState::Changed, "changed"),
        (
            MigrationState::Missing,
            "applied but not in this branch's files",
        ),
    ]
    .into_iter()
    .filter(|(s, _)| count(*s) > 0)
    .map(|(s, what)| format!("{} {what}", count(s)))
    .collect();
    if parts.is_empty() {
        ": migrate status: up to date".to_string()
    } else {
        format!(": migrate status: {}", parts.join(", "))
    }
}
