//! The table part of a diff: tables that come, go or are made again, and column by column
//! changes (added, dropped, retyped, default, NOT NULL, identity, generated) as ALTER TABLE.

use std::collections::{BTreeMap, BTreeSet};

use super::{drop_loses, Builder, Pass};
use crate::catalog::model::*;
use crate::catalog::object::{Object, Phase};
use crate::catalog::sql::{self, column_sql, identity_sequence, sequence_options};
use crate::sql::quote;

/// What the table comparison found that the rest needs.
pub(super) struct TableChanges {
    /// Tables dropped (gone, or made again).
    pub dropped: BTreeSet<QName>,
    /// Tables whose columns change type or go, or that are made again: views reading them
    /// are made again.
    pub reshaped: BTreeSet<QName>,
}

pub(super) fn tables(b: &mut Builder, from: &Catalog, to: &Catalog) -> TableChanges {
    let mut changes = TableChanges {
        dropped: BTreeSet::new(),
        reshaped: BTreeSet::new(),
    };
    let f_objects: BTreeMap<String, Object> = sql::objects(from)
        .into_iter()
        .filter(|o| o.kind == "table")
        .map(|o| (o.name.clone(), o))
        .collect();
    let t_objects: BTreeMap<String, Object> = sql::objects(to)
        .into_iter()
        .filter(|o| o.kind == "table")
        .map(|o| (o.name.clone(), o))
        .collect();
    let names: BTreeSet<&QName> = from
        .tables
        .iter()
        .chain(&to.tables)
        .map(|t| &t.name)
        .collect();
    for name in names {
        let key = name.to_string();
        let label = format!("table {name}");
        let f = from.tables.iter().find(|t| &t.name == name);
        let t = to.tables.iter().find(|t| &t.name == name);
        let (fo, to_o) = (f_objects.get(&key), t_objects.get(&key));
        match (f, t) {
            (Some(_), None) => {
                b.differ(label, "only in FROM", None, None);
                let o = fo.expect("a table has its object");
                b.push(
                    Pass::Drop,
                    Phase::Table,
                    o.depth,
                    &key,
                    o.drop.clone(),
                    drop_loses("table", &key),
                );
                changes.dropped.insert(name.clone());
                changes.reshaped.insert(name.clone());
            }
            (None, Some(_)) => {
                b.differ(label, "only in TO", None, None);
                let o = to_o.expect("a table has its object");
                b.push(
                    Pass::Create,
                    Phase::Table,
                    o.depth,
                    &key,
                    o.create.clone(),
                    None,
                );
            }
            (Some(ft), Some(tt)) => {
                let (fo, to_o) = (fo.expect("object"), to_o.expect("object"));
                if ft.partition_key != tt.partition_key
                    || ft.partition_of != tt.partition_of
                    || ft.unlogged != tt.unlogged
                {
                    b.differ(label, "differs", Some(&fo.create), Some(&to_o.create));
                    b.push(
                        Pass::Drop,
                        Phase::Table,
                        fo.depth,
                        &key,
                        fo.drop.clone(),
                        drop_loses("table", &key),
                    );
                    b.push(
                        Pass::Create,
                        Phase::Table,
                        to_o.depth,
                        &key,
                        to_o.create.clone(),
                        None,
                    );
                    changes.dropped.insert(name.clone());
                    changes.reshaped.insert(name.clone());
                } else if columns(b, from, to, ft, tt, to_o.depth) {
                    changes.reshaped.insert(name.clone());
                }
            }
            (None, None) => {}
        }
    }
    changes
}

/// Column by column; true when a column changes type or goes.
fn columns(
    b: &mut Builder,
    from: &Catalog,
    to: &Catalog,
    ft: &Table,
    tt: &Table,
    depth: u32,
) -> bool {
    let name = tt.name.sql();
    let key = tt.name.to_string();
    let label = format!("table {}", tt.name);
    let mut reshaped = false;
    let alter = |s: String| format!("ALTER TABLE {name} {s};");
    if ft.options != tt.options {
        b.differ(
            label.clone(),
            &format!(
                "options ({}) -> ({})",
                ft.options.join(", "),
                tt.options.join(", ")
            ),
            None,
            None,
        );
        let removed: Vec<String> = ft
            .options
            .iter()
            .map(|o| o.split('=').next().unwrap_or(o).to_string())
            .filter(|k| !tt.options.iter().any(|o| o.split('=').next() == Some(k)))
            .collect();
        if !removed.is_empty() {
            b.push(
                Pass::Create,
                Phase::Table,
                depth,
                &key,
                alter(format!("RESET ({})", removed.join(", "))),
                None,
            );
        }
        if !tt.options.is_empty() {
            b.push(
                Pass::Create,
                Phase::Table,
                depth,
                &key,
                alter(format!("SET ({})", tt.options.join(", "))),
                None,
            );
        }
    }
    // NOTE: a partition's columns come from its parent; only the parent's are compared.
    let own = |t: &Table| -> Vec<Column> {
        if t.partition_of.is_some() {
            Vec::new()
        } else {
            t.columns.clone()
        }
    };
    let (fcols, tcols) = (own(ft), own(tt));
    for fc in &fcols {
        if !tcols.iter().any(|c| c.name == fc.name) {
            b.differ(
                label.clone(),
                &format!("column {} {} only in FROM", fc.name, fc.data_type),
                None,
                None,
            );
            b.push(
                Pass::Drop,
                Phase::Table,
                depth,
                &key,
                alter(format!("DROP COLUMN {}", quote::ident(&fc.name))),
                Some(format!("drops column {}.{} and its data", tt.name, fc.name)),
            );
            reshaped = true;
        }
    }
    for tc in &tcols {
        let col = quote::ident(&tc.name);
        let Some(fc) = fcols.iter().find(|c| c.name == tc.name) else {
            b.differ(
                label.clone(),
                &format!("column {} {} only in TO", tc.name, tc.data_type),
                None,
                None,
            );
            b.push(
                Pass::Create,
                Phase::Table,
                depth,
                &key,
                alter(format!("ADD COLUMN {}", column_sql(to, &tt.name, tc))),
                None,
            );
            continue;
        };
        let seq = |c: &Catalog| identity_sequence(c, &tt.name, &tc.name).map(sequence_options);
        if fc.generated != tc.generated {
            b.differ(
                label.clone(),
                &format!("column {} generation differs", tc.name),
                fc.generated.as_deref(),
                tc.generated.as_deref(),
            );
            b.push(
                Pass::Drop,
                Phase::Table,
                depth,
                &key,
                alter(format!("DROP COLUMN {col}")),
                Some(format!(
                    "drops column {}.{} to make it again",
                    tt.name, tc.name
                )),
            );
            b.push(
                Pass::Create,
                Phase::Table,
                depth,
                &key,
                alter(format!("ADD COLUMN {}", column_sql(to, &tt.name, tc))),
                None,
            );
            reshaped = true;
            continue;
        }
        if fc.data_type != tc.data_type || fc.collation != tc.collation {
            b.differ(
                label.clone(),
                &format!(
                    "column {} type {} -> {}",
                    tc.name, fc.data_type, tc.data_type
                ),
                None,
                None,
            );
            let coll = tc
                .collation
                .as_ref()
                .map(|c| format!(" COLLATE {c}"))
                .unwrap_or_default();
            b.push(
                Pass::Create,
                Phase::Table,
                depth,
                &key,
                alter(format!(
                    "ALTER COLUMN {col} TYPE {}{coll} USING {col}::{}",
                    tc.data_type, tc.data_type
                )),
                Some(format!(
                    "retypes column {}.{}: fails or loses data where values do not convert",
                    tt.name, tc.name
                )),
            );
            reshaped = true;
        }
        if fc.identity != tc.identity || seq(from) != seq(to) {
            b.differ(
                label.clone(),
                &format!("column {} identity differs", tc.name),
                fc.identity.as_deref(),
                tc.identity.as_deref(),
            );
            let in_place = match (&fc.identity, &tc.identity) {
                (Some(_), Some(kind)) => Some(identity_in_place(
                    fc.identity.as_deref() != Some(kind.as_str()),
                    kind,
                    identity_sequence(from, &tt.name, &fc.name),
                    identity_sequence(to, &tt.name, &tc.name),
                )),
                _ => None,
            };
            match in_place {
                // NOTE: altered in place: DROP IDENTITY + ADD GENERATED would make a new
                // sequence that starts again at START WITH, and the next insert into a table
                // with rows would fail on its primary key.
                Some(changes) => {
                    if !changes.is_empty() {
                        b.push(
                            Pass::Create,
                            Phase::Table,
                            depth,
                            &key,
                            alter(format!("ALTER COLUMN {col} {}", changes.join(" "))),
                            None,
                        );
                    }
                }
                None => {
                    if fc.identity.is_some() {
                        b.push(
                            Pass::Create,
                            Phase::Table,
                            depth,
                            &key,
                            alter(format!("ALTER COLUMN {col} DROP IDENTITY")),
                            None,
                        );
                    }
                    if let Some(kind) = &tc.identity {
                        let opts = identity_sequence(to, &tt.name, &tc.name)
                            .map(|s| {
                                format!(" (SEQUENCE NAME {}{})", s.name.sql(), sequence_options(s))
                            })
                            .unwrap_or_default();
                        b.push(
                            Pass::Create,
                            Phase::Table,
                            depth,
                            &key,
                            alter(format!(
                                "ALTER COLUMN {col} ADD GENERATED {kind} AS IDENTITY{opts}"
                            )),
                            None,
                        );
                    }
                }
            }
        }
        if fc.default != tc.default {
            b.differ(
                label.clone(),
                &format!(
                    "column {} default {} -> {}",
                    tc.name,
                    fc.default.as_deref().unwrap_or("none"),
                    tc.default.as_deref().unwrap_or("none")
                ),
                None,
                None,
            );
            let s = match &tc.default {
                Some(d) => format!("ALTER COLUMN {col} SET DEFAULT {d}"),
                None => format!("ALTER COLUMN {col} DROP DEFAULT"),
            };
            b.push(Pass::Create, Phase::Table, depth, &key, alter(s), None);
        }
        if fc.not_null != tc.not_null && !(tc.identity.is_some() && fc.identity.is_none()) {
            let (word, change) = if tc.not_null {
                ("SET", "NULL -> NOT NULL")
            } else {
                ("DROP", "NOT NULL -> NULL")
            };
            b.differ(
                label.clone(),
                &format!("column {} {change}", tc.name),
                None,
                None,
            );
            b.push(
                Pass::Create,
                Phase::Table,
                depth,
                &key,
                alter(format!("ALTER COLUMN {col} {word} NOT NULL")),
                // NOTE: SET NOT NULL fails on NULLs but loses nothing, so it is not flagged.
                None,
            );
        }
    }
    reshaped
}

/// The `ALTER COLUMN` actions that change an identity column in place, from sequence `from`
/// to `to` (`SET GENERATED ALWAYS`, `SET INCREMENT BY 5` ...); empty when nothing differs.
/// NOTE: never RESTART: the sequence keeps its current value.
pub(crate) fn identity_in_place(
    kind_differs: bool,
    kind: &str,
    from: Option<&Sequence>,
    to: Option<&Sequence>,
) -> Vec<String> {
    let mut out = Vec::new();
    if kind_differs {
        out.push(format!("SET GENERATED {kind}"));
    }
    let (Some(f), Some(t)) = (from, to) else {
        return out;
    };
    // NOTE: the sequence's type follows the column's (ALTER COLUMN ... TYPE changes both).
    if f.increment != t.increment {
        out.push(format!("SET INCREMENT BY {}", t.increment));
    }
    if f.min != t.min {
        out.push(format!("SET MINVALUE {}", t.min));
    }
    if f.max != t.max {
        out.push(format!("SET MAXVALUE {}", t.max));
    }
    if f.start != t.start {
        out.push(format!("SET START WITH {}", t.start));
    }
    if f.cache != t.cache {
        out.push(format!("SET CACHE {}", t.cache));
    }
    if f.cycle != t.cycle {
        out.push(if t.cycle { "SET CYCLE" } else { "SET NO CYCLE" }.to_string());
    }
    out
}
