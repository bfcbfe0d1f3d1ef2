//! The target side of a copy, in one transaction: schema (with `--schema`), emptying, the
//! indexes and foreign keys set aside ([`rebuild`](super::rebuild)), the data, the indexes and
//! keys built again, the sequences, the commit. A failure anywhere rolls all of it back.
//!
//! What makes the load fast, each where it is allowed:
//! - `COPY ... FREEZE`: every table loaded was truncated in this transaction, which is what
//!   FREEZE needs (the rows are written frozen, so the first VACUUM need not rewrite them).
//! - Binary COPY: when both servers are of one major version and every column has the same
//!   built-in type on both sides (a user-defined type's oid differs between databases, and
//!   binary arrays and records carry oids), so no value is printed and parsed again.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use tokio_postgres::Client;

use crate::catalog::QName;
use crate::pg::{ConnectOptions, Db};
use crate::sql::quote;
use crate::target::Target;

use super::mask::Rule;
use super::plan::{Source, Table};
use super::stream::{self, Job, Moved, Phases, Snapshot};
use super::Plan;

/// Built-in types have oids below this one (`FirstNormalObjectId`).
const FIRST_USER_OID: u32 = 16384;

/// How each table is loaded, from both sides' catalogs.
#[derive(Debug, Default)]
pub struct Fast {
    /// Tables copied in COPY's binary format.
    pub binary: BTreeSet<QName>,
    /// Tables loaded with `COPY ... FREEZE`.
    pub freeze: BTreeSet<QName>,
}

impl Fast {
    /// Reads the target's tables and column types (in the load's transaction) and decides.
    pub async fn decide(dst: &Client, plan: &Plan) -> anyhow::Result<Fast> {
        let names: Vec<String> = plan.order.tables.iter().map(|t| t.sql()).collect();
        let version: String = dst
            .query_one(
                "SELECT pg_catalog.current_setting('server_version_num')",
                &[],
            )
            .await?
            .try_get(0)?;
        let same_major = version.parse::<i32>().unwrap_or(0) / 100 == plan.source.version / 100;
        let rows = dst
            .query(
                "SELECT t.n, c.relkind::text, a.attname::text, a.atttypid \
                 FROM unnest($1::text[]) t(n) \
                 JOIN pg_catalog.pg_class c ON c.oid = to_regclass(t.n) \
                 LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 \
                      AND NOT a.attisdropped",
                &[&names],
            )
            .await
            .context("failed to read the target's column types")?;
        let mut kinds: BTreeMap<String, String> = BTreeMap::new();
        let mut types: BTreeMap<(String, String), u32> = BTreeMap::new();
        for r in rows {
            let table: String = r.try_get(0)?;
            kinds.insert(table.clone(), r.try_get(1)?);
            if let Some(col) = r.try_get::<_, Option<String>>(2)? {
                types.insert((table, col), r.try_get(3)?);
            }
        }
        let mut fast = Fast::default();
        for name in &plan.order.tables {
            let t = plan.source.table(name).expect("BUG: ordered tables exist");
            if kinds.get(&name.sql()).map(String::as_str) == Some("r") {
                fast.freeze.insert(name.clone());
            }
            let rules = &plan.masks.by_table[name];
            let binary = same_major
                && t.columns.iter().zip(rules).all(|(c, (rule, _))| {
                    let target = types.get(&(name.sql(), c.name.clone())).copied();
                    same_builtin(c.type_oid, target) && binary_safe(rule, c)
                });
            if binary {
                fast.binary.insert(name.clone());
            }
        }
        Ok(fast)
    }
}

fn same_builtin(source: u32, target: Option<u32>) -> bool {
    target == Some(source) && source < FIRST_USER_OID
}

/// Whether the column's value, under `rule`, has the column's own type: kept, or a masked
/// `text` column whose rule gives text (a `sql:` rule can give anything).
fn binary_safe(rule: &Rule, c: &super::plan::Column) -> bool {
    match rule {
        Rule::Keep => true,
        Rule::Sql(_) => false,
        _ => c.data_type == "text" && !c.json && !c.array,
    }
}

/// Source tables at least this large (in 8 KiB blocks, 64 MiB) are read in ctid ranges, one
/// per source session, when the source can scan a ctid range (PostgreSQL 14 and later).
pub const SPLIT_MIN_PAGES: i64 = 8192;

/// Whether `t` may be read in ctid ranges: large enough, on a source that scans ranges, with
/// no filter, and every rule of it looking at its own row only (the `fake:` rules number the
/// rows, and a `sql:` rule may too: a range would number from 1 again).
pub fn splittable(source: &Source, t: &Table, rules: &[(Rule, super::mask::Origin)]) -> bool {
    source.version >= 140_000
        && t.pages >= split_min_pages()
        && rules.iter().all(|(r, _)| {
            matches!(
                r,
                Rule::Keep | Rule::Null | Rule::Constant(_) | Rule::Hash { .. }
            )
        })
}

/// [`SPLIT_MIN_PAGES`]; a build with `--features test-hooks` takes another from
/// CRUDDUR_TEST_COPY_SPLIT_PAGES, so that tests split small tables.
#[cfg(not(feature = "test-hooks"))]
fn split_min_pages() -> i64 {
    SPLIT_MIN_PAGES
}

#[cfg(feature = "test-hooks")]
fn split_min_pages() -> i64 {
    crate::env::var("CRUDDUR_TEST_COPY_SPLIT_PAGES")
        .and_then(|v| v.parse().ok())
        .unwrap_or(SPLIT_MIN_PAGES)
}

/// The `WHERE` of each of `parts` ctid ranges over `pages` blocks: the first has no lower
/// bound and the last no upper one, so every row is in exactly one range, however the table
/// grew since `pages` was counted.
pub fn ctid_ranges(pages: i64, parts: usize) -> Vec<String> {
    let parts = parts.max(1) as i64;
    let bound = |k: i64| format!("'({},0)'::tid", pages * k / parts);
    (0..parts)
        .map(|k| match (k, k + 1 == parts) {
            (0, true) => String::new(),
            (0, false) => format!(" WHERE ctid < {}", bound(1)),
            (_, true) => format!(" WHERE ctid >= {}", bound(k)),
            (_, false) => format!(" WHERE ctid >= {} AND ctid < {}", bound(k), bound(k + 1)),
        })
        .collect()
}

/// The migrations a database records (version, name); `None`: no tracking table.
pub type History = Option<Vec<(String, String)>>;

/// The target side, in one transaction: schema, emptying, data, sequences.
pub async fn load(
    to: &Target,
    conn: &ConnectOptions,
    plan: &Plan,
    snapshot: &Snapshot,
    schema_sql: Option<String>,
    phases: &Phases,
) -> anyhow::Result<(Vec<Moved>, History)> {
    let db = match Db::connect(to, conn).await {
        Ok(db) => db,
        // NOTE: with --schema the target must exist and be empty: `setup` (the usual hint
        // for a missing database) would fill it with tables that --schema then collides with.
        Err(e) if schema_sql.is_some() && format!("{e:#}").contains("does not exist on") => {
            return Err(crate::error::usage(format!(
                "the target database {:?} does not exist on {}:{}; with --schema it must exist \
                 and be empty: create it with `cruddur-db --url URL create` (not `setup`, whose \
                 tables the source's schema would collide with); nothing was copied",
                to.url.database(),
                to.url.host(),
                to.url.port()
            )));
        }
        Err(e) => return Err(e.context("failed to connect to the target")),
    };
    let dst = db.get().await?;
    crate::load::lock(&dst, &to.url.database())
        .await
        .context("failed to take the load lock on the target")?;
    // NOTE: READ COMMITTED whatever the server's default: COPY FREEZE refuses a transaction
    // that holds a snapshot of its own (REPEATABLE READ and SERIALIZABLE do).
    dst.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await
        .context("failed to begin the target's transaction")?;
    let result = in_transaction(&dst, plan, snapshot, schema_sql, phases).await;
    let result = match result {
        Ok(moved) => phases
            .time(|t| &mut t.commit, dst.batch_execute("COMMIT"))
            .await
            .context("failed to commit the copy on the target")
            .map(|()| moved),
        Err(e) => {
            let _ = dst.batch_execute("ROLLBACK").await;
            Err(e.context(format!(
                "the copy into {} was rolled back; the target is as it was",
                to.url.short()
            )))
        }
    };
    let _ = crate::load::unlock(&dst).await;
    result
}

async fn in_transaction(
    dst: &Client,
    plan: &Plan,
    snapshot: &Snapshot,
    schema_sql: Option<String>,
    phases: &Phases,
) -> anyhow::Result<(Vec<Moved>, History)> {
    let with_schema = schema_sql.is_some();
    if let Some(sql) = schema_sql {
        crate::load::run_text(dst, "the source's schema", &sql, 1, &Default::default())
            .await
            .map_err(|e| {
                anyhow::Error::new(e).context(
                    "failed to create the source's schema on the target (--schema needs a \
                     target without these tables; without --schema it must have them)",
                )
            })?;
    }
    let names: Vec<String> = plan.order.tables.iter().map(|t| t.sql()).collect();
    let missing: Vec<String> = dst
        .query(
            "SELECT t FROM unnest($1::text[]) t WHERE to_regclass(t) IS NULL",
            &[&names],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !missing.is_empty() {
        return Err(crate::error::usage(format!(
            "the target has no table(s) {}: run `cruddur-db setup` on it, or pass --schema to \
             create the source's schema there",
            missing.join(", ")
        )));
    }
    if !names.is_empty() {
        phases
            .time(
                |t| &mut t.truncate,
                dst.batch_execute(&format!("TRUNCATE {} RESTART IDENTITY", names.join(", "))),
            )
            .await
            .map_err(|e| {
                anyhow::Error::new(crate::pg::Described(e))
                    .context("failed to empty the target's tables")
            })?;
    }
    if !plan.order.deferred.is_empty() {
        let constraints = plan
            .order
            .deferred
            .iter()
            .map(|f| quote::qualified(&f.from.schema, &f.name))
            .collect::<Vec<_>>()
            .join(", ");
        dst.batch_execute(&format!("SET CONSTRAINTS {constraints} DEFERRED"))
            .await
            .context("failed to defer the foreign keys of a cycle")?;
    }
    let history = crate::migrate::store::recorded(dst).await?;
    let aside = phases
        .time(
            |t| &mut t.set_aside,
            super::rebuild::set_aside(dst, &plan.order.tables),
        )
        .await?;
    let fast = Fast::decide(dst, plan).await?;
    let jobs = plan.jobs(snapshot.clients.len(), &fast);
    let srcs: Vec<&Client> = snapshot.clients.iter().map(|c| &***c).collect();
    let mut moved = Vec::with_capacity(jobs.len());
    for job in &jobs {
        moved.push(stream::direct(&srcs, dst, job, phases).await?);
        super::test_pause("loaded").await?;
    }
    aside.rebuild(dst, phases).await?;
    phases
        .time(|t| &mut t.sequences, set_sequences(dst, &plan.order.tables))
        .await?;
    if with_schema {
        // The target's schema is the source's now, so its history is too.
        for name in &plan.source.own {
            let job = Job {
                label: name.to_string(),
                copy_out: vec![format!("COPY {} TO STDOUT", name.sql())],
                copy_in: format!("COPY {} FROM STDIN", name.sql()),
                binary: false,
                row_estimate: 0,
            };
            stream::direct(&srcs, dst, &job, phases).await?;
        }
    }
    crate::ui::verbose_status(&format!(
        "  set aside for the load and built again: {} index(es), {} foreign key(s); {} of {} \
         table(s) in binary, {} with FREEZE",
        aside.counts().0,
        aside.counts().1,
        fast.binary.len(),
        jobs.len(),
        fast.freeze.len()
    ));
    Ok((moved, history))
}

/// Moves the sequences of the copied tables' columns (serial and identity columns, and
/// defaults calling `nextval`) past the largest copied value, so the next insert does not
/// collide. Only forwards: a sequence two columns share ends past both.
async fn set_sequences(dst: &Client, tables: &[QName]) -> anyhow::Result<()> {
    let names: Vec<String> = tables.iter().map(|t| t.sql()).collect();
    let rows = dst
        .query(
            "WITH t AS (SELECT to_regclass(n) AS oid FROM unnest($1::text[]) n) \
             SELECT s.oid::regclass::text, d.refobjid::regclass::text, a.attname::text \
             FROM pg_catalog.pg_depend d \
             JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
             WHERE d.classid = 'pg_catalog.pg_class'::regclass \
               AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i') \
               AND d.refobjid IN (SELECT oid FROM t) \
             UNION \
             SELECT s.oid::regclass::text, ad.adrelid::regclass::text, a.attname::text \
             FROM pg_catalog.pg_attrdef ad \
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_attrdef'::regclass \
               AND d.objid = ad.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass \
             JOIN pg_catalog.pg_class s ON s.oid = d.refobjid AND s.relkind = 'S' \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum \
             WHERE ad.adrelid IN (SELECT oid FROM t) ORDER BY 1, 2, 3",
            &[&names],
        )
        .await
        .context("failed to find the sequences of the copied tables")?;
    for r in rows {
        let (seq, table, column): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        dst.query(
            &format!(
                "SELECT pg_catalog.setval($1::text::regclass, x.m) \
                 FROM (SELECT max({}) AS m FROM {table}) x, {seq} s \
                 WHERE x.m IS NOT NULL AND (x.m > s.last_value OR NOT s.is_called)",
                quote::ident(&column)
            ),
            &[&seq],
        )
        .await
        .map_err(|e| {
            anyhow::Error::new(crate::pg::Described(e))
                .context(format!("failed to set sequence {seq}"))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctid_ranges_cover_every_block_once() {
        assert_eq!(ctid_ranges(100, 1), [""]);
        assert_eq!(
            ctid_ranges(100, 2),
            [
                " WHERE ctid < '(50,0)'::tid",
                " WHERE ctid >= '(50,0)'::tid"
            ]
        );
        let three = ctid_ranges(10, 3);
        assert_eq!(
            three,
            [
                " WHERE ctid < '(3,0)'::tid",
                " WHERE ctid >= '(3,0)'::tid AND ctid < '(6,0)'::tid",
                " WHERE ctid >= '(6,0)'::tid",
            ]
        );
    }
}
