//! Syncing Cognito ids: match a user pool's users to the database's users by handle =
//! `preferred_username`, and set `cognito_user_id` to the pool user's `sub` where it differs,
//! all in one transaction. What the bootcamp's `update_cognito_user_ids` did, without its
//! bugs: every page, conflicts reported instead of guessed, nothing left half-written.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Context;
use serde::Serialize;
use tokio_postgres::error::SqlState;

use crate::aws::{ids, Aws, PoolUser, PoolUsers};
use crate::pg::Db;

/// A database user, as far as the sync is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbUser {
    pub handle: String,
    pub cognito_user_id: Option<String>,
}

/// One `cognito_user_id` to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub handle: String,
    /// The id the row holds now (none for a user added without one).
    pub from: Option<String>,
    /// The pool user's `sub`.
    pub to: String,
}

/// Pool users sharing one `preferred_username`: reported and skipped, never guessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    pub handle: String,
    /// Their Cognito usernames, sorted.
    pub usernames: Vec<String>,
}

/// What matching the pool to the database found, before anything is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Sorted by handle.
    pub changes: Vec<Change>,
    /// Handles whose row already holds the pool user's `sub`.
    pub unchanged: Vec<String>,
    /// Handles no pool user has as `preferred_username`.
    pub only_in_database: Vec<String>,
    /// Pool users matching no handle: their `preferred_username`, or their username when
    /// they have none.
    pub only_in_cognito: Vec<String>,
    pub duplicates: Vec<Duplicate>,
    /// Usernames of matching pool users that have no `sub` (Cognito always sends one; a
    /// stand-in might not): skipped.
    pub without_sub: Vec<String>,
}

/// Matches pool users to database users by handle = `preferred_username` (exactly, as the
/// database compares text). Every list comes out sorted.
pub fn plan(pool: &[PoolUser], db: &[DbUser]) -> Plan {
    let mut out = Plan::default();
    let mut by_handle: BTreeMap<&str, Vec<&PoolUser>> = BTreeMap::new();
    for user in pool {
        match user.preferred_username.as_deref().filter(|h| !h.is_empty()) {
            Some(handle) => by_handle.entry(handle).or_default().push(user),
            None => out.only_in_cognito.push(user.username.clone()),
        }
    }
    let rows: HashMap<&str, &DbUser> = db.iter().map(|r| (r.handle.as_str(), r)).collect();
    for (handle, users) in &by_handle {
        if let [user] = users.as_slice() {
            let Some(row) = rows.get(handle) else {
                out.only_in_cognito.push(handle.to_string());
                continue;
            };
            let Some(sub) = user.sub.as_deref() else {
                out.without_sub.push(user.username.clone());
                continue;
            };
            if row.cognito_user_id.as_deref() == Some(sub) {
                out.unchanged.push(handle.to_string());
            } else {
                out.changes.push(Change {
                    handle: handle.to_string(),
                    from: row.cognito_user_id.clone(),
                    to: sub.to_string(),
                });
            }
        } else {
            let mut usernames: Vec<String> = users.iter().map(|u| u.username.clone()).collect();
            usernames.sort();
            out.duplicates.push(Duplicate {
                handle: handle.to_string(),
                usernames,
            });
        }
    }
    out.only_in_database = db
        .iter()
        .filter(|r| !by_handle.contains_key(r.handle.as_str()))
        .map(|r| r.handle.clone())
        .collect();
    out.only_in_database.sort();
    out.only_in_cognito.sort();
    out.without_sub.sort();
    out
}

/// A `sub` the sync would give a row while another row keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collision {
    /// The row the change is for.
    pub handle: String,
    pub sub: String,
    /// The row that holds (or would also get) the same `sub`.
    pub held_by: String,
}

/// The changes whose `sub` another row holds and keeps after the sync. NOTE: a row that gets
/// a new id in the same sync gives its old one up (subs swapped between two handles are no
/// conflict: [`write`] clears the changed rows first).
pub fn collisions(changes: &[Change], db: &[DbUser]) -> Vec<Collision> {
    let changing: HashSet<&str> = changes.iter().map(|c| c.handle.as_str()).collect();
    let holders: HashMap<&str, &str> = db
        .iter()
        .filter_map(|r| Some((r.cognito_user_id.as_deref()?, r.handle.as_str())))
        .collect();
    let mut given: HashMap<&str, &str> = HashMap::new();
    let mut found = Vec::new();
    for c in changes {
        let held = holders
            .get(c.to.as_str())
            .filter(|h| **h != c.handle && !changing.contains(**h));
        let twice = given.insert(c.to.as_str(), c.handle.as_str());
        if let Some(other) = held.copied().or(twice) {
            found.push(Collision {
                handle: c.handle.clone(),
                sub: c.to.clone(),
                held_by: other.to_string(),
            });
        }
    }
    found
}

/// What a sync did (or, with `dry_run`, would do). `--json` prints it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub pool_id: String,
    /// Users in the pool.
    pub pool_users: usize,
    /// ListUsers calls made (one per page of up to 60 users).
    pub list_users_calls: usize,
    /// Rows written (0 with `dry_run`; `changes` then says what would be).
    pub updated: usize,
    pub unchanged: usize,
    pub only_in_database: Vec<String>,
    pub only_in_cognito: Vec<String>,
    pub duplicates: Vec<Duplicate>,
    pub without_sub: Vec<String>,
    pub changes: Vec<Change>,
    pub dry_run: bool,
}

impl Report {
    /// The report as text for stdout: one `handle: old -> new` line per change, the skipped
    /// and unmatched users, and a closing summary ("up to date" when nothing changes).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let from = c.from.as_deref().unwrap_or("(none)");
            out.push_str(&format!("{}: {from} -> {}\n", c.handle, c.to));
        }
        for d in &self.duplicates {
            out.push_str(&format!(
                "skipped {:?}: {} pool users have this preferred_username ({})\n",
                d.handle,
                d.usernames.len(),
                d.usernames.join(", ")
            ));
        }
        if !self.without_sub.is_empty() {
            out.push_str(&format!(
                "skipped (no sub in Cognito's answer): {}\n",
                self.without_sub.join(", ")
            ));
        }
        if !self.only_in_database.is_empty() {
            out.push_str(&format!(
                "only in the database ({}): {}\n",
                self.only_in_database.len(),
                self.only_in_database.join(", ")
            ));
        }
        if !self.only_in_cognito.is_empty() {
            out.push_str(&format!(
                "only in Cognito ({}): {}\n",
                self.only_in_cognito.len(),
                self.only_in_cognito.join(", ")
            ));
        }
        let pool = format!(
            "pool {}: {} users, {} ListUsers calls",
            self.pool_id, self.pool_users, self.list_users_calls
        );
        let summary = if self.changes.is_empty() {
            format!("up to date: {} unchanged ({pool})", self.unchanged)
        } else if self.dry_run {
            format!(
                "dry run: would update {}, unchanged {} ({pool}); nothing was written",
                self.changes.len(),
                self.unchanged
            )
        } else {
            format!(
                "updated {}, unchanged {} ({pool})",
                self.updated, self.unchanged
            )
        };
        out.push_str(&summary);
        out.push('\n');
        out
    }
}

/// The whole sync: lists every user of the pool (`pool_id` checked for shape) and runs
/// [`write`]. For `sync-cognito`, and for `setup --sync-cognito` / `reset --sync-cognito` after
/// the seed. NOTE: it takes a loaded [`Aws`], not settings: callers load it with
/// [`Aws::load`] before doing anything else, so a missing region or credentials (exit 2)
/// stops `reset` before it drops the database, not after.
pub async fn sync_cognito(
    db: &Db,
    aws: &Aws,
    pool_id: &str,
    dry_run: bool,
) -> anyhow::Result<Report> {
    let pool_id = ids::check_pool_id(pool_id)?;
    let pool = aws.list_pool_users(&pool_id).await?;
    write(db, &pool_id, &pool, dry_run).await
}

/// Matches the pool's users to the database's and, unless `dry_run`, writes every change in
/// ONE transaction. A `sub` another row holds is an error naming both rows, with nothing
/// written.
pub async fn write(
    db: &Db,
    pool_id: &str,
    pool: &PoolUsers,
    dry_run: bool,
) -> anyhow::Result<Report> {
    let on = db.url.short();
    let mut client = db.get().await?;
    let tx = client
        .transaction()
        .await
        .with_context(|| format!("failed to start a transaction on {on}"))?;
    // NOTE: the rows are locked until the commit, so nothing changes between the match and
    // the write; a dry run writes nothing and locks nothing.
    let select = if dry_run {
        "SELECT handle, cognito_user_id FROM public.users"
    } else {
        "SELECT handle, cognito_user_id FROM public.users FOR UPDATE"
    };
    let rows: Vec<DbUser> = tx
        .query(select, &[])
        .await
        .with_context(|| format!("failed to read the users of {on}"))?
        .iter()
        .map(|r| DbUser {
            handle: r.get(0),
            cognito_user_id: r.get(1),
        })
        .collect();
    let plan = plan(&pool.users, &rows);
    let found = collisions(&plan.changes, &rows);
    if !found.is_empty() {
        let lines: Vec<String> = found
            .iter()
            .map(|c| {
                format!(
                    "  the sub {} of pool user {:?} is already the cognito_user_id of {:?}",
                    c.sub, c.handle, c.held_by
                )
            })
            .collect();
        anyhow::bail!(
            "cannot sync Cognito ids on {on}: {} conflict(s); nothing was written\n{}\n\
             hint: a Cognito id belongs to one user; fix the row that holds it (another \
             user's id, or an old copy of the user under another handle) and run it again",
            found.len(),
            lines.join("\n")
        );
    }
    let mut updated = 0;
    if !dry_run && !plan.changes.is_empty() {
        let handles: Vec<&str> = plan.changes.iter().map(|c| c.handle.as_str()).collect();
        let subs: Vec<&str> = plan.changes.iter().map(|c| c.to.as_str()).collect();
        // Cleared first, so that ids moving between the changed rows never meet the UNIQUE
        // constraint half-way.
        tx.execute(
            "UPDATE public.users SET cognito_user_id = NULL WHERE handle = ANY($1)",
            &[&handles],
        )
        .await
        .with_context(|| format!("failed to clear the changed Cognito ids on {on}"))?;
        let written = tx
            .execute(
                "UPDATE public.users AS u SET cognito_user_id = c.sub \
                 FROM unnest($1::text[], $2::text[]) AS c(handle, sub) \
                 WHERE u.handle = c.handle",
                &[&handles, &subs],
            )
            .await
            .map_err(|e| {
                let taken = e.code() == Some(&SqlState::UNIQUE_VIOLATION);
                anyhow::Error::new(e).context(if taken {
                    format!(
                        "failed to set the Cognito ids on {on}: a row added meanwhile holds one \
                         of them; nothing was written"
                    )
                } else {
                    format!("failed to set the Cognito ids on {on}; nothing was written")
                })
            })?;
        if written != plan.changes.len() as u64 {
            // The rows are locked, so this cannot happen; if it does, nothing is committed.
            anyhow::bail!(
                "BUG: {written} rows updated for {} changes on {on}; nothing was written",
                plan.changes.len()
            );
        }
        tx.commit()
            .await
            .with_context(|| format!("failed to commit the Cognito ids on {on}"))?;
        updated = plan.changes.len();
    }
    Ok(Report {
        pool_id: pool_id.to_string(),
        pool_users: pool.users.len(),
        list_users_calls: pool.pages,
        updated,
        unchanged: plan.unchanged.len(),
        only_in_database: plan.only_in_database,
        only_in_cognito: plan.only_in_cognito,
        duplicates: plan.duplicates,
        without_sub: plan.without_sub,
        changes: plan.changes,
        dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool_user(username: &str, handle: Option<&str>, sub: &str) -> PoolUser {
        PoolUser {
            username: username.into(),
            preferred_username: handle.map(str::to_string),
            sub: Some(sub.into()),
        }
    }

    fn row(handle: &str, id: Option<&str>) -> DbUser {
        DbUser {
            handle: handle.into(),
            cognito_user_id: id.map(str::to_string),
        }
    }

    fn change(handle: &str, from: Option<&str>, to: &str) -> Change {
        Change {
            handle: handle.into(),
            from: from.map(str::to_string),
            to: to.into(),
        }
    }

    #[test]
    fn plan_sorts_users_into_changed_unchanged_and_unmatched() {
        let pool = [
            pool_user("u-bayko", Some("bayko"), "s-bayko"),
            pool_user("u-andrew", Some("andrewbrown"), "s-andrew"),
            pool_user("u-new", Some("newcomer"), "s-new"),
            pool_user("u-bare", None, "s-bare"),
            pool_user("u-empty", Some(""), "s-empty"),
            pool_user("u-kept", Some("kept"), "s-kept"),
        ];
        let db = [
            row("andrewbrown", Some("MOCK-andrewbrown")),
            row("bayko", None),
            row("londo", Some("MOCK-londo")),
            row("kept", Some("s-kept")),
        ];
        let p = plan(&pool, &db);
        assert_eq!(
            p.changes,
            [
                change("andrewbrown", Some("MOCK-andrewbrown"), "s-andrew"),
                change("bayko", None, "s-bayko"),
            ]
        );
        assert_eq!(p.unchanged, ["kept"]);
        assert_eq!(p.only_in_database, ["londo"]);
        // No preferred_username (or an empty one): the username stands for the user.
        assert_eq!(p.only_in_cognito, ["newcomer", "u-bare", "u-empty"]);
        assert!(p.duplicates.is_empty() && p.without_sub.is_empty());
    }

    #[test]
    fn duplicate_preferred_usernames_are_reported_and_skipped() {
        let pool = [
            pool_user("u-2", Some("londo"), "s-2"),
            pool_user("u-1", Some("londo"), "s-1"),
            pool_user("u-3", Some("ghost"), "s-3"),
            pool_user("u-4", Some("ghost"), "s-4"),
        ];
        let db = [row("londo", Some("MOCK-londo"))];
        let p = plan(&pool, &db);
        assert!(p.changes.is_empty() && p.unchanged.is_empty());
        assert_eq!(
            p.duplicates,
            [
                Duplicate {
                    handle: "ghost".into(),
                    usernames: vec!["u-3".into(), "u-4".into()],
                },
                Duplicate {
                    handle: "londo".into(),
                    usernames: vec!["u-1".into(), "u-2".into()],
                },
            ]
        );
        // A skipped handle is neither "only in the database" nor "only in Cognito".
        assert!(p.only_in_database.is_empty() && p.only_in_cognito.is_empty());
    }

    #[test]
    fn handles_match_exactly() {
        let pool = [pool_user("u", Some("Londo"), "s")];
        let p = plan(&pool, &[row("londo", None)]);
        assert!(p.changes.is_empty());
        assert_eq!(p.only_in_cognito, ["Londo"]);
        assert_eq!(p.only_in_database, ["londo"]);
    }

    #[test]
    fn a_matching_user_without_sub_is_skipped() {
        let pool = [PoolUser {
            username: "u".into(),
            preferred_username: Some("londo".into()),
            sub: None,
        }];
        let p = plan(&pool, &[row("londo", Some("MOCK"))]);
        assert!(p.changes.is_empty() && p.unchanged.is_empty());
        assert_eq!(p.without_sub, ["u"]);
        assert!(p.only_in_database.is_empty());
    }

    #[test]
    fn a_sub_held_by_a_row_that_keeps_it_collides() {
        let db = [
            row("alice", Some("MOCK-alice")),
            row("bob", Some("s-alice")),
        ];
        let changes = [change("alice", Some("MOCK-alice"), "s-alice")];
        assert_eq!(
            collisions(&changes, &db),
            [Collision {
                handle: "alice".into(),
                sub: "s-alice".into(),
                held_by: "bob".into(),
            }]
        );
    }

    #[test]
    fn swapped_subs_do_not_collide() {
        let db = [row("alice", Some("s-bob")), row("bob", Some("s-alice"))];
        let changes = [
            change("alice", Some("s-bob"), "s-alice"),
            change("bob", Some("s-alice"), "s-bob"),
        ];
        assert!(collisions(&changes, &db).is_empty());
    }

    #[test]
    fn one_sub_given_to_two_rows_collides() {
        let db = [row("alice", None), row("bob", None)];
        let changes = [change("alice", None, "s"), change("bob", None, "s")];
        let found = collisions(&changes, &db);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].handle.as_str(), found[0].held_by.as_str()),
            ("bob", "alice")
        );
    }

    fn report(changes: Vec<Change>, dry_run: bool) -> Report {
        Report {
            pool_id: "us-east-1_abc".into(),
            pool_users: 3,
            list_users_calls: 1,
            updated: if dry_run { 0 } else { changes.len() },
            unchanged: 2,
            only_in_database: vec!["londo".into()],
            only_in_cognito: vec![],
            duplicates: vec![],
            without_sub: vec![],
            changes,
            dry_run,
        }
    }

    #[test]
    fn text_shows_each_change_and_the_summary() {
        let r = report(vec![change("bayko", None, "s-b")], false);
        let text = r.text();
        assert!(text.starts_with("bayko: (none) -> s-b\n"), "{text}");
        assert!(text.contains("only in the database (1): londo\n"), "{text}");
        assert!(
            text.ends_with(
                "updated 1, unchanged 2 (pool us-east-1_abc: 3 users, 1 ListUsers calls)\n"
            ),
            "{text}"
        );
        let dry = report(vec![change("bayko", Some("MOCK"), "s-b")], true).text();
        assert!(dry.contains("bayko: MOCK -> s-b\n"), "{dry}");
        assert!(dry.contains("dry run: would update 1"), "{dry}");
        let same = report(vec![], false).text();
        assert!(same.contains("up to date: 2 unchanged"), "{same}");
    }
}
