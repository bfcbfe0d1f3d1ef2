//! What a copy works on: the source's tables, columns and foreign keys, read with a few
//! queries of our own inside the copy's snapshot, and the order the tables load in.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use tokio_postgres::Client;

use crate::catalog::QName;
use crate::error::usage;

/// Schemas that belong to the server, never to the application.
const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname !~ '^pg_(toast|temp_)'";

/// The server's own base types whose values may hold personal data as text. Any type of
/// the string category is one too, and so is any base type outside `pg_catalog` (an
/// extension's: hstore, citext, ...) that is not a number, date, time, boolean or bit string:
/// when in doubt, a rule is asked for.
const TEXT_LIKE: &[&str] = &[
    "text", "varchar", "bpchar", "char", "name", "json", "jsonb", "inet", "cidr", "bytea", "xml",
    "tsvector", "tsquery",
];

/// The column types (by oid) whose values can carry text: a text-like base type itself, or
/// reached from the type through domains, array elements, composite attributes and range
/// subtypes, recursively.
const TEXT_BEARING_SQL: &str = "\
    WITH RECURSIVE edges(parent, child) AS ( \
        SELECT t.oid, t.typbasetype FROM pg_catalog.pg_type t WHERE t.typtype = 'd' \
        UNION ALL SELECT t.oid, t.typelem FROM pg_catalog.pg_type t \
            WHERE t.typcategory = 'A' AND t.typelem <> 0 \
        UNION ALL SELECT t.oid, a.atttypid FROM pg_catalog.pg_type t \
            JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid \
            WHERE t.typtype = 'c' AND a.attnum > 0 AND NOT a.attisdropped \
        UNION ALL SELECT r.rngtypid, r.rngsubtype FROM pg_catalog.pg_range r \
    ), walk(root, oid, depth) AS ( \
        SELECT o, o, 0 FROM unnest($1::oid[]) o \
        UNION SELECT w.root, e.child, w.depth + 1 FROM walk w JOIN edges e ON e.parent = w.oid \
            WHERE w.depth < 32 \
    ) \
    SELECT DISTINCT w.root FROM walk w \
    JOIN pg_catalog.pg_type t ON t.oid = w.oid \
    JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
    WHERE t.typtype NOT IN ('d', 'c', 'e', 'r', 'p') \
      AND NOT (t.typcategory = 'A' AND t.typelem <> 0) \
      AND (t.typcategory = 'S' OR t.typname::text = ANY($2::text[]) \
           OR (n.nspname <> 'pg_catalog' AND t.typcategory NOT IN ('N', 'D', 'B', 'T', 'V')))";

/// A column the copy reads and writes (generated columns are left to the target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// `format_type`, e.g. `character varying(80)`.
    pub data_type: String,
    /// The column type's oid (built-in types have the same oid on every server).
    pub type_oid: u32,
    /// Can carry text (see [`TEXT_BEARING_SQL`]): it needs a mask rule.
    pub text_like: bool,
    /// json or jsonb (generated values are wrapped as JSON strings).
    pub json: bool,
    pub array: bool,
}

#[derive(Debug, Clone)]
pub struct Table {
    pub name: QName,
    pub columns: Vec<Column>,
    /// The planner's estimate (`reltuples`), 0 when never analysed.
    pub row_estimate: i64,
    /// The table's size in blocks, as the planner last counted it.
    pub pages: i64,
}

/// A foreign key between two copied tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    pub name: String,
    pub from: QName,
    pub columns: Vec<String>,
    pub to: QName,
    pub ref_columns: Vec<String>,
    pub deferrable: bool,
}

/// The source's tables and foreign keys.
#[derive(Debug, Clone, Default)]
pub struct Source {
    pub tables: Vec<Table>,
    pub fks: Vec<ForeignKey>,
    /// The tool's own tables the source has (its migration history): never among `tables`,
    /// so never copied, masked or emptied as data.
    pub own: Vec<QName>,
    /// The source server's `server_version_num`.
    pub version: i32,
}

impl Source {
    pub fn table(&self, name: &QName) -> Option<&Table> {
        self.tables.iter().find(|t| &t.name == name)
    }

    /// `users` (in public first, else the one schema that has it) or `schema.table`.
    pub fn find(&self, name: &str) -> anyhow::Result<QName> {
        let name = name.trim();
        let found: Vec<&QName> = match name.split_once('.') {
            Some((s, t)) => self
                .tables
                .iter()
                .map(|t| &t.name)
                .filter(|q| q.schema == s && q.name == t)
                .collect(),
            None => {
                let all: Vec<&QName> = self
                    .tables
                    .iter()
                    .map(|t| &t.name)
                    .filter(|q| q.name == name)
                    .collect();
                match all.iter().find(|q| q.schema == "public") {
                    Some(q) => vec![*q],
                    None => all,
                }
            }
        };
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(usage(format!("the source has no table {name:?}"))),
            many => Err(usage(format!(
                "{name:?} names several tables of the source ({}); say schema.table",
                many.iter()
                    .map(|q| q.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// Reads the source's tables, columns and foreign keys on `client`, inside the caller's
/// transaction (the snapshot). Reads only.
pub async fn read_source(client: &Client) -> anyhow::Result<Source> {
    let not_extension = "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
        WHERE e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')";
    let tables_sql = format!(
        "SELECT n.nspname::text, c.relname::text, greatest(c.reltuples, 0)::int8, \
                greatest(c.relpages, 0)::int8 \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND {USER_SCHEMA} AND {not_extension} ORDER BY 1, 2"
    );
    let mut tables: BTreeMap<QName, Table> = BTreeMap::new();
    let mut own = Vec::new();
    for r in client
        .query(&tables_sql, &[])
        .await
        .context("failed to list the source's tables")?
    {
        let name = QName::new(r.get::<_, String>(0), r.get::<_, String>(1));
        if crate::migrate::store::OWN_TABLES
            .iter()
            .any(|(s, t)| name.schema == *s && name.name == *t)
        {
            own.push(name);
            continue;
        }
        tables.insert(
            name.clone(),
            Table {
                name,
                columns: Vec::new(),
                row_estimate: r.get(2),
                pages: r.get(3),
            },
        );
    }
    let columns_sql = format!(
        "SELECT n.nspname::text, c.relname::text, a.attname::text, \
                pg_catalog.format_type(a.atttypid, a.atttypmod), \
                coalesce(e.typname, b.typname)::text, coalesce(e.typcategory, b.typcategory)::text, \
                e.oid IS NOT NULL, a.atttypid \
         FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         JOIN pg_catalog.pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
         LEFT JOIN pg_catalog.pg_type e ON b.typcategory = 'A' AND e.oid = b.typelem \
         WHERE c.relkind = 'r' AND {USER_SCHEMA} AND a.attnum > 0 AND NOT a.attisdropped \
           AND a.attgenerated = '' \
         ORDER BY n.nspname, c.relname, a.attnum"
    );
    let rows = client
        .query(&columns_sql, &[])
        .await
        .context("failed to read the source's columns")?;
    let type_oids: Vec<u32> = rows.iter().map(|r| r.get::<_, u32>(7)).collect();
    let bearing: BTreeSet<u32> = client
        .query(TEXT_BEARING_SQL, &[&type_oids, &TEXT_LIKE])
        .await
        .context("failed to find the source's column types that can carry text")?
        .iter()
        .map(|r| r.get::<_, u32>(0))
        .collect();
    for r in rows {
        let name = QName::new(r.get::<_, String>(0), r.get::<_, String>(1));
        let Some(table) = tables.get_mut(&name) else {
            continue;
        };
        let base: String = r.get(4);
        table.columns.push(Column {
            name: r.get(2),
            data_type: r.get(3),
            type_oid: r.get(7),
            text_like: bearing.contains(&r.get::<_, u32>(7)),
            json: base == "json" || base == "jsonb",
            array: r.get(6),
        });
    }
    let cols = |key: &str, rel: &str| {
        format!(
            "ARRAY(SELECT a.attname::text FROM unnest(con.{key}) WITH ORDINALITY k(num, i) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = con.{rel} AND a.attnum = k.num \
             ORDER BY k.i)"
        )
    };
    let fks_sql = format!(
        "SELECT con.conname::text, fn.nspname::text, fc.relname::text, {}, \
                tn.nspname::text, tc.relname::text, {}, con.condeferrable \
         FROM pg_catalog.pg_constraint con \
         JOIN pg_catalog.pg_class fc ON fc.oid = con.conrelid \
         JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace \
         JOIN pg_catalog.pg_class tc ON tc.oid = con.confrelid \
         JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace \
         WHERE con.contype = 'f' ORDER BY 2, 3, 1",
        cols("conkey", "conrelid"),
        cols("confkey", "confrelid")
    );
    let mut fks = Vec::new();
    for r in client
        .query(&fks_sql, &[])
        .await
        .context("failed to read the source's foreign keys")?
    {
        let fk = ForeignKey {
            name: r.get(0),
            from: QName::new(r.get::<_, String>(1), r.get::<_, String>(2)),
            columns: r.get(3),
            to: QName::new(r.get::<_, String>(4), r.get::<_, String>(5)),
            ref_columns: r.get(6),
            deferrable: r.get(7),
        };
        if tables.contains_key(&fk.from) && tables.contains_key(&fk.to) {
            fks.push(fk);
        }
    }
    let version: String = client
        .query_one(
            "SELECT pg_catalog.current_setting('server_version_num')",
            &[],
        )
        .await
        .context("failed to read the source's server version")?
        .get(0);
    Ok(Source {
        tables: tables.into_values().collect(),
        fks,
        own,
        version: version.parse().unwrap_or(0),
    })
}

/// The load order: referenced tables before the tables referencing them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub tables: Vec<QName>,
    /// DEFERRABLE foreign keys of a cycle between tables, deferred to the commit.
    pub deferred: Vec<ForeignKey>,
}

/// Orders the tables by their foreign keys (a table's references to itself need no order: one
/// COPY checks them at its end). A cycle between tables is broken at its DEFERRABLE foreign
/// keys, which are then deferred to the commit; a cycle without one is refused (exit 2).
/// NOTE: no `session_replication_role` or disabled triggers: those need a superuser, which a
/// local target may have but RDS never gives, and they would let broken rows in.
pub fn order(source: &Source) -> anyhow::Result<Order> {
    let mut edges: Vec<&ForeignKey> = source.fks.iter().filter(|f| f.from != f.to).collect();
    let mut left: BTreeSet<QName> = source.tables.iter().map(|t| t.name.clone()).collect();
    let mut out = Order {
        tables: Vec::new(),
        deferred: Vec::new(),
    };
    while !left.is_empty() {
        // The first table (by name) whose referenced tables are all placed.
        let ready = left
            .iter()
            .find(|t| !edges.iter().any(|f| &f.from == *t && left.contains(&f.to)))
            .cloned();
        if let Some(t) = ready {
            left.remove(&t);
            out.tables.push(t);
            continue;
        }
        let (deferrable, fixed): (Vec<&ForeignKey>, Vec<&ForeignKey>) = edges
            .iter()
            .filter(|f| left.contains(&f.from) && left.contains(&f.to))
            .partition(|f| f.deferrable);
        if deferrable.is_empty() {
            return Err(usage(format!(
                "the foreign keys of tables {} form a cycle and none of them is DEFERRABLE ({}): \
                 no load order satisfies them; make one DEFERRABLE (ALTER TABLE ... ALTER \
                 CONSTRAINT ... DEFERRABLE); nothing was written",
                left.iter()
                    .map(|q| q.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                fixed
                    .iter()
                    .map(|f| format!("{} on {}", f.name, f.from))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for f in &deferrable {
            out.deferred.push((*f).clone());
        }
        edges.retain(|e| !deferrable.contains(e));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Table {
        Table {
            name: QName::new("public", name),
            columns: Vec::new(),
            row_estimate: 0,
            pages: 0,
        }
    }

    fn fk(name: &str, from: &str, to: &str, deferrable: bool) -> ForeignKey {
        ForeignKey {
            name: name.into(),
            from: QName::new("public", from),
            columns: vec!["x".into()],
            to: QName::new("public", to),
            ref_columns: vec!["id".into()],
            deferrable,
        }
    }

    fn names(o: &Order) -> Vec<String> {
        o.tables.iter().map(|q| q.name.clone()).collect()
    }

    #[test]
    fn referenced_tables_come_first_and_self_references_are_ignored() {
        let s = Source {
            tables: vec![table("activities"), table("likes"), table("users")],
            fks: vec![
                fk("a_user", "activities", "users", false),
                fk("a_reply", "activities", "activities", false),
                fk("l_act", "likes", "activities", false),
                fk("l_user", "likes", "users", false),
            ],
            own: vec![],
            version: 150000,
        };
        let o = order(&s).unwrap();
        assert_eq!(names(&o), ["users", "activities", "likes"]);
        assert!(o.deferred.is_empty());
    }

    #[test]
    fn a_cycle_is_broken_at_its_deferrable_key_or_refused() {
        let mut s = Source {
            tables: vec![table("a"), table("b")],
            fks: vec![fk("a_b", "a", "b", false), fk("b_a", "b", "a", true)],
            own: vec![],
            version: 150000,
        };
        let o = order(&s).unwrap();
        assert_eq!(names(&o), ["b", "a"]);
        assert_eq!(o.deferred.len(), 1);
        assert_eq!(o.deferred[0].name, "b_a");
        s.fks[1].deferrable = false;
        let err = order(&s).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        assert!(format!("{err}").contains("DEFERRABLE"), "{err}");
    }

    #[test]
    fn tables_are_found_by_name_public_first() {
        let s = Source {
            tables: vec![
                table("users"),
                Table {
                    name: QName::new("audit", "users"),
                    ..table("x")
                },
            ],
            fks: Vec::new(),
            own: Vec::new(),
            version: 150000,
        };
        assert_eq!(s.find("users").unwrap(), QName::new("public", "users"));
        assert_eq!(s.find("audit.users").unwrap(), QName::new("audit", "users"));
        assert!(s.find("nope").is_err());
    }
}
