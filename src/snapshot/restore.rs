//! `snapshot restore`: puts the target database back to a snapshot, atomically as the user
//! sees it. The copy is made under a temporary name first; then the current database is
//! renamed aside, the copy renamed in, and the old one dropped. A failure at any step leaves a
//! working database under the target's name: the old one, or the restored one.

use anyhow::anyhow;

use super::{admin, clear_sessions, copy_database, drop_own, find, refuse_protected};
use crate::pg::ConnectOptions;
use crate::sql::quote::ident as quote_ident;
use crate::target::Target;
use crate::ui;

/// A failure injected before `step` ("copy", "aside", "swap" or "cleanup") for the tests (`--features test-hooks` and
/// CRUDDUR_TEST_SNAPSHOT_FAIL_AT=STEP); nothing in a normal build.
fn injected(step: &str) -> anyhow::Result<()> {
    #[cfg(feature = "test-hooks")]
    if crate::env::var("CRUDDUR_TEST_SNAPSHOT_FAIL_AT").as_deref() == Some(step) {
        return Err(anyhow!("failure injected at step {step:?} (test hook)"));
    }
    let _ = step;
    Ok(())
}

pub async fn restore(
    target: &Target,
    opts: &ConnectOptions,
    name: &str,
    force: bool,
) -> anyhow::Result<()> {
    refuse_protected(target)?;
    super::check_name(name)?;
    let of = target.url.database();
    let (admin, exists) = admin(target, opts).await?;
    let client = admin.get().await?;
    let snapshot = find(&client, &of, name).await?;
    let doing = format!("restore snapshot {name:?} into database {of:?}");
    let owner: Option<String> = if exists {
        clear_sessions(&client, &of, force, &doing).await?;
        client
            .query_one(
                "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = $1",
                &[&of],
            )
            .await?
            .try_get(0)?
    } else {
        None
    };
    let bar = ui::spinner(&format!("restoring snapshot {name} into {of}"));
    let started = std::time::Instant::now();
    let new = format!("{}_restore", snapshot.database);
    let aside = format!("{}_aside", snapshot.database);
    let rename = |from: &str, to: &str| {
        format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(from),
            quote_ident(to)
        )
    };

    // 1. The copy, under a temporary name. A failure: drop what was made; nothing changed.
    let _ = drop_own(&client, &new).await;
    let copied = async {
        injected("copy")?;
        copy_database(&client, &snapshot.database, &new, owner.as_deref(), &doing).await
    }
    .await;
    if let Err(e) = copied {
        bar.finish_and_clear();
        let _ = drop_own(&client, &new).await;
        return Err(e.context(format!(
            "failed to restore snapshot {name:?}; database {of:?} is as it was"
        )));
    }

    // 2. The current database aside (a session that came in meanwhile stops this, unless
    //    --force ends it again).
    if exists {
        let moved = async {
            injected("aside")?;
            if force {
                clear_sessions(&client, &of, true, &doing).await?;
            }
            client
                .batch_execute(&rename(&of, &aside))
                .await
                .map_err(|e| anyhow::Error::new(crate::pg::Described(e)))
        }
        .await;
        if let Err(e) = moved {
            bar.finish_and_clear();
            let _ = drop_own(&client, &new).await;
            return Err(e.context(format!(
                "failed to move database {of:?} aside to restore snapshot {name:?}; it is as it \
                 was"
            )));
        }
    }

    // 3. The copy in. A failure: the old database back under its name.
    let swapped = async {
        injected("swap")?;
        client
            .batch_execute(&rename(&new, &of))
            .await
            .map_err(|e| anyhow::Error::new(crate::pg::Described(e)))
    }
    .await;
    if let Err(e) = swapped {
        bar.finish_and_clear();
        if exists {
            client
                .batch_execute(&rename(&aside, &of))
                .await
                .map_err(|back| {
                    anyhow!(
                        "failed to restore snapshot {name:?} ({e:#}), and then to rename database \
                     {aside:?} back to {of:?} ({}): rename it by hand: ALTER DATABASE {} \
                     RENAME TO {}",
                        crate::pg::describe(&back),
                        quote_ident(&aside),
                        quote_ident(&of)
                    )
                })?;
        }
        let _ = drop_own(&client, &new).await;
        return Err(e.context(format!(
            "failed to restore snapshot {name:?}; database {of:?} is as it was"
        )));
    }

    // 4. The old database goes. A failure here leaves the restored one in place.
    if exists {
        let cleaned = async {
            injected("cleanup")?;
            drop_own(&client, &aside).await
        }
        .await;
        if let Err(e) = cleaned {
            ui::warn(&format!(
                "restored, but the old database could not be dropped ({e:#}); it is kept as \
                 {aside:?}: drop it with: cruddur-db --url <the same server>/{aside} drop"
            ));
        }
    }
    bar.finish_and_clear();
    ui::status(&format!(
        "restored database {of:?} from snapshot {name:?} (saved {}{}, {:.2}s)",
        snapshot.meta.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
        snapshot
            .meta
            .branch
            .as_deref()
            .map(|b| format!(" on branch {b}"))
            .unwrap_or_default(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}
