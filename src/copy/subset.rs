//! Subsets: `--where TABLE: CONDITION` and `--limit TABLE:N` select rows, and every row those
//! reference through foreign keys (transitively) comes with them, so the target's constraints
//! hold. The closure is SQL the source runs inside the snapshot: nested `IN (SELECT ...)`
//! subqueries composed from the referencing tables down, and `WITH RECURSIVE` for a table's
//! references to itself. NOTE: no temporary tables: they are writes, and the source
//! transaction is READ ONLY.
//!
//! NOTE: once a subset is asked, a table without a filter of its own gets only the rows that
//! the selected rows reference; a table nothing selected references gets no rows (say
//! `--where 'TABLE: true'` to copy it whole).

use std::collections::BTreeMap;

use crate::catalog::QName;
use crate::error::usage;
use crate::sql::quote;

use super::plan::{ForeignKey, Order, Source};

/// A table's own filter, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub condition: Option<String>,
    pub limit: Option<u64>,
}

/// The filters of the command line, by table name as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(pub Vec<(String, Filter)>);

impl Filters {
    /// Parses `--where TABLE: CONDITION` and `--limit TABLE:N` (exit 2 when malformed).
    pub fn parse(wheres: &[String], limits: &[String]) -> anyhow::Result<Filters> {
        let mut out: Vec<(String, Filter)> = Vec::new();
        let mut entry = |table: &str| -> usize {
            match out.iter().position(|(t, _)| t == table) {
                Some(i) => i,
                None => {
                    out.push((table.to_string(), Filter::default()));
                    out.len() - 1
                }
            }
        };
        let mut conditions: Vec<(usize, String)> = Vec::new();
        for w in wheres {
            let Some((table, cond)) = w.split_once(':').filter(|(t, c)| {
                !t.trim().is_empty() && !c.trim().is_empty() && !c.starts_with(':')
            }) else {
                return Err(usage(format!(
                    "--where {w:?}: expected TABLE: CONDITION, e.g. --where 'activities: \
                     created_at > now() - interval ''30 days'''"
                )));
            };
            let cond = cond.trim();
            if let Err(why) = crate::sql::cond::check(cond) {
                return Err(usage(format!(
                    "--where {:?}: the condition must be one boolean expression over the \
                     table's rows: {why}; nothing was copied",
                    table.trim()
                )));
            }
            conditions.push((entry(table.trim()), cond.to_string()));
        }
        let mut limits_at: Vec<(usize, u64)> = Vec::new();
        for l in limits {
            let parsed = l
                .rsplit_once(':')
                .and_then(|(t, n)| Some((t.trim(), n.trim().parse::<u64>().ok()?)))
                .filter(|(t, _)| !t.is_empty());
            let Some((table, n)) = parsed else {
                return Err(usage(format!(
                    "--limit {l:?}: expected TABLE:N, e.g. --limit activities:100"
                )));
            };
            limits_at.push((entry(table), n));
        }
        for (i, c) in conditions {
            let f = &mut out[i].1;
            f.condition = Some(match f.condition.take() {
                Some(prev) => format!("{prev} AND ({c})"),
                None => format!("({c})"),
            });
        }
        for (i, n) in limits_at {
            let f = &mut out[i].1;
            f.limit = Some(f.limit.map_or(n, |p| p.min(n)));
        }
        Ok(Filters(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Which rows of each table are copied.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// `None`: the whole table (no subset asked). Else a condition on the table's rows.
    pub rows: BTreeMap<QName, String>,
    /// The table's own filter as a condition, for "selected" in the summary.
    pub own: BTreeMap<QName, String>,
}

impl Selection {
    /// The `WHERE` clause of a table's copy query (empty for a whole table).
    pub fn where_clause(&self, table: &QName) -> String {
        self.rows
            .get(table)
            .map_or_else(String::new, |c| format!(" WHERE {c}"))
    }
}

/// Resolves the filters against the source and builds each table's condition, referencing
/// tables first.
pub fn select(source: &Source, order: &Order, filters: &Filters) -> anyhow::Result<Selection> {
    let mut sel = Selection::default();
    if filters.is_empty() {
        return Ok(sel);
    }
    if !order.deferred.is_empty() {
        return Err(usage(format!(
            "--where/--limit: the foreign keys between tables form a cycle ({}); a subset of \
             them is not supported: copy them whole",
            order
                .deferred
                .iter()
                .map(|f| format!("{} on {}", f.name, f.from))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    for (name, f) in &filters.0 {
        let table = source
            .find(name)
            .map_err(|e| usage(format!("--where/--limit {name}: {e:#}")))?;
        let own = match (&f.condition, f.limit) {
            (Some(c), None) => c.clone(),
            (cond, Some(n)) => format!(
                "ctid = ANY(ARRAY(SELECT ctid FROM {} WHERE {} ORDER BY ctid LIMIT {n}))",
                table.sql(),
                cond.as_deref().unwrap_or("true")
            ),
            (None, None) => continue,
        };
        sel.own.insert(table, own);
    }
    // Referencing tables come after the tables they reference: walk the order backwards.
    for table in order.tables.iter().rev() {
        let mut parts: Vec<String> = sel.own.get(table).into_iter().cloned().collect();
        for fk in source
            .fks
            .iter()
            .filter(|f| &f.to == table && f.from != f.to)
        {
            if let Some(from_rows) = sel.rows.get(&fk.from) {
                parts.push(format!(
                    "({}) IN (SELECT {} FROM {} WHERE {from_rows})",
                    idents(&fk.ref_columns, None),
                    idents(&fk.columns, None),
                    fk.from.sql()
                ));
            }
        }
        let base = if parts.is_empty() {
            "false".to_string()
        } else {
            parts.join(" OR ")
        };
        let selfs: Vec<&ForeignKey> = source
            .fks
            .iter()
            .filter(|f| &f.from == table && f.to == *table)
            .collect();
        let rows = if selfs.is_empty() || base == "false" {
            base
        } else {
            closure(table, &selfs, &base)
        };
        sel.rows.insert(table.clone(), rows);
    }
    Ok(sel)
}

/// The rows matching `base` and every row of the same table they reference through `selfs`,
/// transitively (a reply's parent, its parent, ...).
fn closure(table: &QName, selfs: &[&ForeignKey], base: &str) -> String {
    let key = &selfs[0].ref_columns;
    let mut carried: Vec<String> = Vec::new();
    for f in selfs {
        for c in f.ref_columns.iter().chain(&f.columns) {
            if !carried.contains(c) {
                carried.push(c.clone());
            }
        }
    }
    let join = selfs
        .iter()
        .map(|f| {
            format!(
                "({}) = ({})",
                idents(&f.ref_columns, Some("t")),
                idents(&f.columns, Some("r"))
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    format!(
        "({key}) IN (WITH RECURSIVE r AS (SELECT {cols} FROM {t} WHERE {base} \
         UNION SELECT {tcols} FROM {t} t JOIN r ON {join}) SELECT {key} FROM r)",
        key = idents(key, None),
        cols = idents(&carried, None),
        tcols = idents(&carried, Some("t")),
        t = table.sql(),
    )
}

fn idents(cols: &[String], alias: Option<&str>) -> String {
    cols.iter()
        .map(|c| match alias {
            Some(a) => format!("{a}.{}", quote::ident(c)),
            None => quote::ident(c),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_combine() {
        let f = Filters::parse(
            &[
                "activities: created_at > now() - interval '30 days'".into(),
                "activities: message <> ''".into(),
                "users: handle::text = 'x'".into(),
            ],
            &["activities:10".into(), "public.users:5".into()],
        )
        .unwrap();
        assert_eq!(f.0[0].0, "activities");
        assert_eq!(
            f.0[0].1,
            Filter {
                condition: Some(
                    "(created_at > now() - interval '30 days') AND (message <> '')".into()
                ),
                limit: Some(10)
            }
        );
        assert_eq!(f.0[1].1.condition.as_deref(), Some("(handle::text = 'x')"));
        assert_eq!(f.0[2].0, "public.users");
        for bad in ["activities", ": x", "t:"] {
            let err = Filters::parse(&[bad.into()], &[]).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
        }
        assert!(Filters::parse(&[], &["users:x".into()]).is_err());
    }
}
