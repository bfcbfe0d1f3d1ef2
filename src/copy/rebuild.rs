//! The target's indexes and foreign keys, set aside for the load and built again after it,
//! inside the one transaction: a bulk load into a table without indexes, then one sorted
//! build per index and one validating query per foreign key, is faster than keeping every
//! index and checking every row's keys on the way, as pg_restore does it.
//!
//! Only what can be put back exactly is set aside; everything else stays in place (slower,
//! never wrong). Before anything is dropped, every index, constraint and NOT NULL of the
//! tables is written down as the server prints it (`pg_get_indexdef`,
//! `pg_get_constraintdef`); after the rebuild the same list is read again and must be equal,
//! or the transaction is rolled back. A failure anywhere (a duplicate key found while
//! building a unique index, a row whose key is missing) rolls the whole copy back, indexes
//! and constraints included.

use std::time::Instant;

use anyhow::Context;
use tokio_postgres::Client;

use crate::catalog::QName;
use crate::sql::quote;

use super::stream::Phases;

/// One index or constraint set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Aside {
    table: QName,
    /// The index's or the constraint's name.
    name: String,
    what: Kind,
    /// What builds it again: `CREATE INDEX ...` or the constraint's definition.
    def: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A plain index (`DROP INDEX`, then its `CREATE INDEX`).
    Index,
    /// A primary key, unique or exclusion constraint (with its index).
    Keyed,
    ForeignKey,
}

/// What was set aside, and the tables' indexes and constraints as they were.
#[derive(Debug, Default)]
pub struct SetAside {
    items: Vec<Aside>,
    before: Vec<String>,
    tables: Vec<String>,
}

/// The tables whose indexes and foreign keys may be set aside: ordinary tables outside any
/// inheritance or partitioning (whose indexes and constraints are shared with other tables).
const ELIGIBLE: &str = "SELECT c.oid FROM unnest($1::text[]) n \
     JOIN pg_catalog.pg_class c ON c.oid = to_regclass(n) \
     WHERE c.relkind = 'r' AND NOT c.relispartition \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i \
                       WHERE i.inhrelid = c.oid OR i.inhparent = c.oid)";

/// Every index, constraint and NOT NULL of the tables, one line each, as the server prints
/// them: the rebuild must give the same lines back.
const FINGERPRINT: &str = "WITH t AS (SELECT to_regclass(n) AS oid FROM unnest($1::text[]) n) \
     SELECT 'index ' || i.indexrelid::regclass::text || ': ' || pg_catalog.pg_get_indexdef(i.indexrelid) \
       || CASE WHEN i.indisclustered THEN ' CLUSTER' ELSE '' END \
       || CASE WHEN i.indisreplident THEN ' REPLICA IDENTITY' ELSE '' END \
       || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END \
     FROM pg_catalog.pg_index i WHERE i.indrelid IN (SELECT oid FROM t) \
     UNION ALL \
     SELECT 'constraint ' || con.conrelid::regclass::text || '.' || con.conname || ': ' \
       || pg_catalog.pg_get_constraintdef(con.oid) \
       || CASE WHEN con.condeferred THEN ' (deferred)' ELSE '' END \
     FROM pg_catalog.pg_constraint con \
     WHERE con.conrelid IN (SELECT oid FROM t) OR con.confrelid IN (SELECT oid FROM t) \
     UNION ALL \
     SELECT 'not null ' || a.attrelid::regclass::text || '.' || a.attname \
     FROM pg_catalog.pg_attribute a \
     WHERE a.attrelid IN (SELECT oid FROM t) AND a.attnum > 0 AND NOT a.attisdropped \
       AND a.attnotnull \
     ORDER BY 1";

/// The foreign keys that can be set aside: on an eligible table, with no comment (a comment
/// would go with the drop). Columns: table schema, table, name, definition, the
/// constraint's oid.
const FOREIGN_KEYS: &str = "SELECT n.nspname::text, c.relname::text, con.conname::text, \
            pg_catalog.pg_get_constraintdef(con.oid), con.oid \
     FROM pg_catalog.pg_constraint con \
     JOIN pg_catalog.pg_class c ON c.oid = con.conrelid \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE con.contype = 'f' AND con.conrelid IN (ELIGIBLE) AND con.conparentid = 0 \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_description d \
                       WHERE d.classoid = 'pg_catalog.pg_constraint'::regclass AND d.objoid = con.oid) \
     ORDER BY 1, 2, 3";

/// The indexes that can be set aside: valid, on an eligible table, in the default
/// tablespace, not the replica identity or the clustered index, without comments or
/// statistics targets, and needed by no other object than the foreign keys in `$2`.
/// Columns: table schema, table, index (or constraint) name, constraint type ('' for a plain
/// index), definition.
const INDEXES: &str = "SELECT n.nspname::text, c.relname::text, \
            coalesce(con.conname, ic.relname)::text, coalesce(con.contype::text, ''), \
            CASE WHEN con.oid IS NULL THEN pg_catalog.pg_get_indexdef(i.indexrelid) \
                 ELSE pg_catalog.pg_get_constraintdef(con.oid) END \
     FROM pg_catalog.pg_index i \
     JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
     JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     LEFT JOIN pg_catalog.pg_constraint con ON con.conindid = i.indexrelid \
          AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x') \
     WHERE i.indrelid IN (ELIGIBLE) AND i.indisvalid AND i.indisready AND i.indislive \
       AND NOT i.indisreplident AND NOT i.indisclustered AND ic.reltablespace = 0 \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_description d \
                       WHERE (d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid = i.indexrelid) \
                          OR (d.classoid = 'pg_catalog.pg_constraint'::regclass AND d.objoid = con.oid)) \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute a \
                       WHERE a.attrelid = i.indexrelid AND coalesce(a.attstattarget::int, -1) >= 0) \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                       WHERE d.refclassid = 'pg_catalog.pg_class'::regclass AND d.refobjid = i.indexrelid \
                         AND NOT (d.classid = 'pg_catalog.pg_constraint'::regclass \
                                  AND (d.objid = con.oid OR d.objid = ANY($2::oid[])))) \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint f \
                       WHERE f.conindid = i.indexrelid AND f.contype = 'f' \
                         AND NOT f.oid = ANY($2::oid[])) \
     ORDER BY 1, 2, 3";

/// Reads, then drops, what can be set aside on `tables` (after their TRUNCATE, in the load's
/// transaction): foreign keys first, then the indexes they need.
pub async fn set_aside(dst: &Client, tables: &[QName]) -> anyhow::Result<SetAside> {
    let names: Vec<String> = tables.iter().map(|t| t.sql()).collect();
    let path = clear_path(dst).await?;
    let before = fingerprint(dst, &names).await?;
    let fk_sql = FOREIGN_KEYS.replace("ELIGIBLE", ELIGIBLE);
    let fk_rows = dst
        .query(&fk_sql, &[&names])
        .await
        .context("failed to read the target's foreign keys")?;
    let mut items = Vec::new();
    let mut fk_oids: Vec<u32> = Vec::new();
    for r in &fk_rows {
        let table = QName::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?);
        let name: String = r.try_get(2)?;
        let Some(def) = r.try_get::<_, Option<String>>(3)? else {
            continue;
        };
        fk_oids.push(r.try_get(4)?);
        items.push(Aside {
            table,
            name,
            what: Kind::ForeignKey,
            def,
        });
    }
    let ix_sql = INDEXES.replace("ELIGIBLE", ELIGIBLE);
    for r in dst
        .query(&ix_sql, &[&names, &fk_oids])
        .await
        .context("failed to read the target's indexes")?
    {
        let Some(def) = r.try_get::<_, Option<String>>(4)? else {
            continue;
        };
        let kind: String = r.try_get(3)?;
        items.push(Aside {
            table: QName::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?),
            name: r.try_get(2)?,
            what: if kind.is_empty() {
                Kind::Index
            } else {
                Kind::Keyed
            },
            def,
        });
    }
    // NOTE: foreign keys are dropped before the keys they reference (the order of `items`).
    for a in &items {
        let sql = match a.what {
            Kind::Index => format!("DROP INDEX {}", quote::qualified(&a.table.schema, &a.name)),
            Kind::Keyed | Kind::ForeignKey => format!(
                "ALTER TABLE ONLY {} DROP CONSTRAINT {}",
                a.table.sql(),
                quote::ident(&a.name)
            ),
        };
        dst.batch_execute(&sql).await.map_err(|e| {
            anyhow::Error::new(crate::pg::Described(e)).context(format!(
                "failed to set aside {} of {} for the load",
                a.label(),
                a.table
            ))
        })?;
    }
    restore_path(dst, &path).await?;
    Ok(SetAside {
        items,
        before,
        tables: names,
    })
}

impl Aside {
    fn label(&self) -> String {
        match self.what {
            Kind::Index => format!("index {}", self.name),
            Kind::Keyed => format!("key {}", self.name),
            Kind::ForeignKey => format!("foreign key {}", self.name),
        }
    }

    fn build_sql(&self) -> String {
        match self.what {
            Kind::Index => self.def.clone(),
            Kind::Keyed | Kind::ForeignKey => format!(
                "ALTER TABLE ONLY {} ADD CONSTRAINT {} {}",
                self.table.sql(),
                quote::ident(&self.name),
                self.def
            ),
        }
    }
}

impl SetAside {
    /// How many indexes (with keys) and foreign keys were set aside.
    pub fn counts(&self) -> (usize, usize) {
        let fks = self
            .items
            .iter()
            .filter(|a| a.what == Kind::ForeignKey)
            .count();
        (self.items.len() - fks, fks)
    }

    /// Builds every index again, then every foreign key (each validated by one query over
    /// the loaded rows), and checks that the tables have exactly what they had.
    pub async fn rebuild(&self, dst: &Client, phases: &Phases) -> anyhow::Result<()> {
        let path = clear_path(dst).await?;
        let (keys, fks): (Vec<&Aside>, Vec<&Aside>) =
            self.items.iter().partition(|a| a.what != Kind::ForeignKey);
        let bar = crate::ui::bar(self.items.len() as u64, "indexes and keys built again");
        let started = Instant::now();
        for a in keys {
            bar.set_message(a.name.clone());
            build(dst, a).await?;
            bar.inc(1);
        }
        phases.add_index_build(started.elapsed());
        let started = Instant::now();
        for a in fks {
            bar.set_message(a.name.clone());
            build(dst, a).await?;
            bar.inc(1);
        }
        bar.finish_and_clear();
        phases.add_validation(started.elapsed());
        let after = fingerprint(dst, &self.tables).await?;
        if after != self.before {
            let lost: Vec<&String> = self.before.iter().filter(|l| !after.contains(l)).collect();
            let new: Vec<&String> = after.iter().filter(|l| !self.before.contains(l)).collect();
            anyhow::bail!(
                "BUG: the indexes and constraints built again after the load differ from the \
                 target's (missing: {lost:?}; new: {new:?}); the copy was rolled back"
            );
        }
        restore_path(dst, &path).await
    }
}

async fn build(dst: &Client, a: &Aside) -> anyhow::Result<()> {
    dst.batch_execute(&a.build_sql()).await.map_err(|e| {
        anyhow::Error::new(crate::pg::Described(e)).context(format!(
            "failed to build {} of {} again after loading the rows",
            a.label(),
            a.table
        ))
    })
}

async fn fingerprint(dst: &Client, names: &[String]) -> anyhow::Result<Vec<String>> {
    let rows = dst
        .query(FINGERPRINT, &[&names])
        .await
        .context("failed to read the target's indexes and constraints")?;
    rows.iter()
        .map(|r| {
            r.try_get::<_, Option<String>>(0)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "an index or constraint of the target vanished while it was read (another \
                     session changed the schema); nothing was copied"
                )
            })
        })
        .collect()
}

/// Empties the transaction's search_path, so that every name the server prints in a
/// definition is schema-qualified and means the same thing whatever the path is later; gives
/// the path it had, for [`restore_path`].
async fn clear_path(dst: &Client) -> anyhow::Result<String> {
    Ok(dst
        .query_one(
            "SELECT pg_catalog.current_setting('search_path'), \
                    pg_catalog.set_config('search_path', '', true)",
            &[],
        )
        .await
        .context("failed to clear the target's search_path")?
        .try_get(0)?)
}

/// Gives the transaction its search_path back (triggers fired by the load may need it).
async fn restore_path(dst: &Client, old: &str) -> anyhow::Result<()> {
    dst.query_one(
        "SELECT pg_catalog.set_config('search_path', $1, true)",
        &[&old],
    )
    .await
    .context("failed to restore the target's search_path")?;
    Ok(())
}
