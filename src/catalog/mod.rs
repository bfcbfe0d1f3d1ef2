//! What a database is: the catalog reader ([`read`]) fills a plain model ([`model`]) from
//! `pg_catalog`; [`sql`] turns it into SQL that loads into an empty database (`dump`);
//! `diff` compares two of them. Later work (copy, migration lint) builds on the same reader.

mod collations;
mod comments;
pub mod detect;
pub mod diff;
mod events;
mod lock;
pub mod model;
pub mod object;
pub mod read;
pub mod sql;

pub use model::{Catalog, QName};
pub use read::read;
pub mod settings;
pub mod side;

pub use diff::Diff;
pub use side::{Maker, Side, Sides, Source};

/// Reads both sides and compares them. Scratch databases made on the way are dropped at the
/// end: after success, after a failure, and after SIGINT, SIGTERM or SIGHUP (which then fail
/// the command).
/// Owners and grants are compared as `opts` asks.
pub async fn compare(
    sides: &Sides,
    from: &Side,
    to: &Side,
    opts: diff::Options,
) -> anyhow::Result<Diff> {
    let (a, b) = read_both(sides, from, to).await?;
    Ok(diff::diff_with(&a, &b, opts))
}

/// Reads both sides' catalogs, dropping the scratch databases at the end whatever happens.
/// Scratch databases are built one after the other; the two catalogs are then read side by
/// side (each in its own read-only transaction, on its own connection).
async fn read_both(sides: &Sides, from: &Side, to: &Side) -> anyhow::Result<(Catalog, Catalog)> {
    let mut scratches = side::Scratches::default();
    let work = async {
        let a = sides.target_of(from, &mut scratches).await?;
        let b = sides.target_of(to, &mut scratches).await?;
        tokio::try_join!(sides.read_target(from, &a), sides.read_target(to, &b))
    };
    let result = tokio::select! {
        r = work => r,
        stop = crate::signals::stopped() => Err(stop.error("the scratch databases are dropped")),
    };
    scratches.drop_all(sides.maker.as_ref(), &sides.conn).await;
    result
}

/// A migration's two sections, statement by statement (each as [`diff::Statement::script`]
/// writes it).
#[derive(Debug, Clone)]
pub struct MigrationSql {
    pub up: Vec<String>,
    pub down: Vec<String>,
}

/// `migrate new --from-diff`: up is `diff setup local --sql`, down the reverse diff.
/// Refused (exit 2, as for a migration file that cannot be written) when there is nothing to do, or when an up statement cannot be reversed
/// (it drops or converts data); the refusal names them.
pub async fn migration_from_diff(sides: &Sides) -> anyhow::Result<MigrationSql> {
    let (setup, local) = read_both(sides, &Side::Setup, &Side::Local).await?;
    let up = diff::diff(&setup, &local);
    // NOTE: a migration made without the objects the reader cannot compare would leave them
    // out and look complete: refused, as `dump` refuses them.
    if !up.not_compared.is_empty() {
        return Err(crate::error::kinded(crate::error::ErrorKind::Usage,
            format!(
                "setup and local hold {} object(s) the catalog reader cannot compare, so a                  migration made from the difference could miss them:
{}
write this migration                  by hand; no migration was written",
                up.not_compared.len(),
                up.not_compared
                    .iter()
                    .map(|n| format!("  {n}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        ));
    }
    if up.is_empty() {
        return Err(crate::error::kinded(
            crate::error::ErrorKind::Usage,
            "nothing to do: the local database has the schema that setup builds from this \
             checkout; no migration was written",
        ));
    }
    let lossy: Vec<String> = up
        .destructive()
        .map(|s| {
            format!(
                "  {} ({})",
                s.sql.lines().next().unwrap_or(""),
                s.destructive.as_deref().unwrap_or("")
            )
        })
        .collect();
    if !lossy.is_empty() {
        return Err(crate::error::kinded(
            crate::error::ErrorKind::Usage,
            format!(
                "the change from setup to local has {} statement(s) that cannot be reversed \
                 (they drop or convert data):\n{}\nwrite this migration by hand \
                 (`cruddur-db diff setup local --sql` shows all of it); no migration was written",
                lossy.len(),
                lossy.join("\n")
            ),
        ));
    }
    let down = diff::diff(&local, &setup);
    let script = |d: &Diff| d.statements.iter().map(diff::Statement::script).collect();
    Ok(MigrationSql {
        up: script(&up),
        down: script(&down),
    })
}

/// The target's schema against what `setup` builds from the current checkout (built in a
/// scratch database, dropped afterwards): doctor's drift.
pub async fn drift(sides: &Sides, target: &crate::target::Target) -> anyhow::Result<Diff> {
    let mut scratches = side::Scratches::default();
    let result = async {
        let expected = sides.read(&Side::Setup, &mut scratches).await?;
        let db = crate::pg::Db::connect(target, &sides.conn).await?;
        let client = db.get().await?;
        let actual = read(&client).await?;
        Ok::<_, anyhow::Error>(diff::diff(&expected, &actual))
    }
    .await;
    scratches.drop_all(sides.maker.as_ref(), &sides.conn).await;
    result
}
