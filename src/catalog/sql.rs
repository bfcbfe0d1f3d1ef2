//! The model as SQL: every object's CREATE and DROP statements, in phases that load into an
//! empty database in dependency order. `dump` and `diff --sql` both build on [`objects`].

use std::collections::{BTreeMap, HashMap};

use super::model::*;
use super::object::{Object, Phase};
use crate::sql::quote;

/// The statements of a whole dump, in load order, deterministic.
pub fn dump(cat: &Catalog) -> String {
    let mut out = String::from(
        "-- The schema of a PostgreSQL database, written by cruddur-db dump.\n\
         -- Loads into an empty database: cruddur-db schema FILE, or psql -1 -f FILE.\n\n\
         SET check_function_bodies = false;\n\
         SET client_min_messages = warning;\n\
         SET standard_conforming_strings = on;\n\
         SELECT pg_catalog.set_config('search_path', '', false);\n",
    );
    for o in sorted(objects(cat)) {
        out.push('\n');
        out.push_str(&o.create);
        out.push('\n');
    }
    out
}

/// The objects sorted in load order.
pub fn sorted(mut objects: Vec<Object>) -> Vec<Object> {
    objects.sort_by(|a, b| {
        (a.phase, a.depth, &a.name, &a.create).cmp(&(b.phase, b.depth, &b.name, &b.create))
    });
    objects
}

/// Every object of the catalog as SQL.
pub fn objects(cat: &Catalog) -> Vec<Object> {
    let mut out = Vec::new();
    let obj = |phase, kind, name: String, create: String, drop: String| Object {
        phase,
        depth: 0,
        kind,
        name,
        create,
        drop,
        relation: None,
    };
    for s in &cat.schemas {
        // NOTE: public is in every new database (CREATE SCHEMA would fail on it).
        if s.name != "public" {
            let q = quote::ident(&s.name);
            out.push(obj(
                Phase::Schema,
                "schema",
                s.name.clone(),
                format!("CREATE SCHEMA {q};"),
                format!("DROP SCHEMA {q};"),
            ));
        }
    }
    for e in &cat.extensions {
        let q = quote::ident(&e.name);
        out.push(obj(
            Phase::Extension,
            "extension",
            e.name.clone(),
            format!(
                "CREATE EXTENSION IF NOT EXISTS {q} WITH SCHEMA {};",
                quote::ident(&e.schema)
            ),
            format!("DROP EXTENSION {q};"),
        ));
    }
    super::collations::objects(cat, &mut out);
    types(cat, &mut out);
    for s in cat.sequences.iter().filter(|s| !s.identity) {
        out.push(obj(
            Phase::Sequence,
            "sequence",
            s.name.to_string(),
            format!(
                "CREATE {}SEQUENCE {} AS {}{};",
                if s.unlogged { "UNLOGGED " } else { "" },
                s.name.sql(),
                s.data_type,
                sequence_options(s)
            ),
            format!("DROP SEQUENCE IF EXISTS {};", s.name.sql()),
        ));
        if let Some((table, column)) = &s.owned_by {
            out.push(Object {
                relation: Some(table.clone()),
                ..obj(
                    Phase::SequenceOwner,
                    "sequence owner",
                    s.name.to_string(),
                    format!(
                        "ALTER SEQUENCE {} OWNED BY {}.{};",
                        s.name.sql(),
                        table.sql(),
                        quote::ident(column)
                    ),
                    format!("ALTER SEQUENCE IF EXISTS {} OWNED BY NONE;", s.name.sql()),
                )
            });
        }
    }
    for f in &cat.functions {
        let word = if f.kind == "procedure" {
            "PROCEDURE"
        } else {
            "FUNCTION"
        };
        out.push(obj(
            if f.late {
                Phase::LateFunction
            } else {
                Phase::Function
            },
            "function",
            format!("{}({})", f.name, f.args),
            format!("{};", f.def),
            format!("DROP {word} IF EXISTS {};", f.signature()),
        ));
    }
    tables(cat, &mut out);
    indexes(cat, &mut out);
    views(cat, &mut out);
    super::settings::objects(cat, &mut out);
    super::events::objects(cat, &mut out);
    hanging(cat, &mut out);
    for c in &cat.comments {
        out.push(Object {
            relation: c.relation.clone(),
            ..obj(
                Phase::Comment,
                "comment",
                c.object.clone(),
                format!("COMMENT ON {} IS {};", c.object, quote::literal(&c.text)),
                format!("COMMENT ON {} IS NULL;", c.object),
            )
        });
    }
    out
}

/// `START WITH ... [NO] CYCLE`, every value spelled out so that nothing depends on defaults.
pub fn sequence_options(s: &Sequence) -> String {
    format!(
        " START WITH {} INCREMENT BY {} MINVALUE {} MAXVALUE {} CACHE {}{}",
        s.start,
        s.increment,
        s.min,
        s.max,
        s.cache,
        if s.cycle { " CYCLE" } else { " NO CYCLE" }
    )
}

fn types(cat: &Catalog, out: &mut Vec<Object>) {
    // Domains over domains come after their base: depth by the base's name.
    let domain_base: HashMap<String, String> = cat
        .types
        .iter()
        .filter_map(|t| match &t.kind {
            TypeKind::Domain { base, .. } => Some((t.name.to_string(), base.replace('"', ""))),
            _ => None,
        })
        .collect();
    let depth = |name: &str| {
        let mut d = 0;
        let mut cur = name.to_string();
        while let Some(b) = domain_base.get(&cur) {
            d += 1;
            cur = b.clone();
            if d > 50 {
                break;
            }
        }
        d
    };
    for t in &cat.types {
        let name = t.name.sql();
        let (phase, kind, create, drop) = match &t.kind {
            TypeKind::Enum { labels } => (
                Phase::Enum,
                "enum type",
                format!(
                    "CREATE TYPE {name} AS ENUM ({});",
                    labels
                        .iter()
                        .map(|l| quote::literal(l))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!("DROP TYPE {name};"),
            ),
            TypeKind::Domain {
                base,
                collation,
                default,
                not_null,
                constraints,
            } => {
                let mut s = format!("CREATE DOMAIN {name} AS {base}");
                if let Some(c) = collation {
                    s.push_str(&format!(" COLLATE {c}"));
                }
                if let Some(d) = default {
                    s.push_str(&format!(" DEFAULT {d}"));
                }
                if *not_null {
                    s.push_str(" NOT NULL");
                }
                s.push(';');
                for c in constraints {
                    s.push_str(&format!(
                        "\nALTER DOMAIN {name} ADD CONSTRAINT {} {};",
                        quote::ident(&c.name),
                        c.def
                    ));
                }
                (Phase::Domain, "domain", s, format!("DROP DOMAIN {name};"))
            }
            TypeKind::Composite { attributes } => (
                Phase::Composite,
                "composite type",
                format!(
                    "CREATE TYPE {name} AS (\n{}\n);",
                    attributes
                        .iter()
                        .map(|a| format!(
                            "    {} {}{}",
                            quote::ident(&a.name),
                            a.data_type,
                            a.collation
                                .as_ref()
                                .map(|c| format!(" COLLATE {c}"))
                                .unwrap_or_default()
                        ))
                        .collect::<Vec<_>>()
                        .join(",\n")
                ),
                format!("DROP TYPE {name};"),
            ),
        };
        out.push(Object {
            phase,
            depth: depth(&t.name.to_string()),
            kind,
            name: t.name.to_string(),
            create,
            drop,
            relation: None,
        });
    }
}

/// The definition of a column as `CREATE TABLE` and `ADD COLUMN` take it.
pub fn column_sql(cat: &Catalog, table: &QName, c: &Column) -> String {
    let mut s = format!("{} {}", quote::ident(&c.name), c.data_type);
    if let Some(coll) = &c.collation {
        s.push_str(&format!(" COLLATE {coll}"));
    }
    if let Some(g) = &c.generated {
        s.push_str(&format!(" GENERATED ALWAYS AS ({g}) STORED"));
    }
    if let Some(kind) = &c.identity {
        s.push_str(&format!(" GENERATED {kind} AS IDENTITY"));
        if let Some(seq) = identity_sequence(cat, table, &c.name) {
            s.push_str(&format!(
                " (SEQUENCE NAME {}{})",
                seq.name.sql(),
                sequence_options(seq)
            ));
        }
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT {d}"));
    }
    if c.not_null {
        s.push_str(" NOT NULL");
    }
    s
}

/// The sequence behind identity column `column` of `table`.
pub fn identity_sequence<'a>(
    cat: &'a Catalog,
    table: &QName,
    column: &str,
) -> Option<&'a Sequence> {
    cat.sequences.iter().find(|s| {
        s.identity
            && s.owned_by
                .as_ref()
                .is_some_and(|(t, c)| t == table && c == column)
    })
}

fn tables(cat: &Catalog, out: &mut Vec<Object>) {
    let by_name: HashMap<&QName, &Table> = cat.tables.iter().map(|t| (&t.name, t)).collect();
    let depth = |t: &Table| {
        let mut d = 0;
        let mut cur = t;
        while let Some((p, _)) = &cur.partition_of {
            d += 1;
            match by_name.get(p) {
                Some(next) if d < 50 => cur = next,
                _ => break,
            }
        }
        d
    };
    for t in &cat.tables {
        let name = t.name.sql();
        let mut s = format!(
            "CREATE {}TABLE {name}",
            if t.unlogged { "UNLOGGED " } else { "" }
        );
        match &t.partition_of {
            Some((parent, bound)) => {
                s.push_str(&format!(" PARTITION OF {}", parent.sql()));
                let parent_cols = by_name.get(parent).map(|p| p.columns.as_slice());
                let own: Vec<String> = t
                    .columns
                    .iter()
                    .filter_map(|c| partition_column(c, parent_cols.unwrap_or(&[])))
                    .collect();
                if !own.is_empty() {
                    s.push_str(&format!(" (\n{}\n)", own.join(",\n")));
                }
                s.push_str(&format!("\n{bound}"));
            }
            None => {
                let cols: Vec<String> = t
                    .columns
                    .iter()
                    .map(|c| format!("    {}", column_sql(cat, &t.name, c)))
                    .collect();
                s.push_str(&format!(" (\n{}\n)", cols.join(",\n")));
            }
        }
        if let Some(key) = &t.partition_key {
            s.push_str(&format!("\nPARTITION BY {key}"));
        }
        if !t.options.is_empty() {
            s.push_str(&format!("\nWITH ({})", t.options.join(", ")));
        }
        s.push(';');
        out.push(Object {
            phase: Phase::Table,
            depth: depth(t),
            kind: "table",
            name: t.name.to_string(),
            create: s,
            drop: format!("DROP TABLE {name};"),
            relation: Some(t.name.clone()),
        });
        for c in &t.constraints {
            let (phase, only) = match c.kind {
                'f' if c.cloned => continue,
                'f' => (Phase::ForeignKey, t.partition_key.is_none()),
                'c' if !c.local => continue,
                'c' => (Phase::Constraint, false),
                _ => (Phase::Constraint, true),
            };
            out.push(Object {
                phase,
                depth: 0,
                kind: if c.kind == 'f' {
                    "foreign key"
                } else {
                    "constraint"
                },
                name: format!("{} on {}", c.name, t.name),
                create: format!(
                    "ALTER TABLE {}{name} ADD CONSTRAINT {} {};",
                    if only { "ONLY " } else { "" },
                    quote::ident(&c.name),
                    c.def
                ),
                drop: format!(
                    "ALTER TABLE {name} DROP CONSTRAINT IF EXISTS {};",
                    quote::ident(&c.name)
                ),
                relation: Some(t.name.clone()),
            });
        }
        if t.row_security || t.force_row_security {
            let mut s = String::new();
            if t.row_security {
                s.push_str(&format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;"));
            }
            if t.force_row_security {
                if !s.is_empty() {
                    s.push('\n');
                }
                s.push_str(&format!("ALTER TABLE {name} FORCE ROW LEVEL SECURITY;"));
            }
            out.push(Object {
                phase: Phase::RowSecurity,
                depth: 0,
                kind: "row security",
                name: t.name.to_string(),
                create: s,
                drop: format!(
                    "ALTER TABLE {name} DISABLE ROW LEVEL SECURITY;\nALTER TABLE {name} NO FORCE ROW LEVEL SECURITY;"
                ),
                relation: Some(t.name.clone()),
            });
        }
    }
}

/// A partition's column options where they differ from the parent's (`WITH OPTIONS`).
fn partition_column(c: &Column, parent: &[Column]) -> Option<String> {
    let p = parent.iter().find(|p| p.name == c.name);
    let mut opts = String::new();
    if c.default.is_some() && c.default != p.and_then(|p| p.default.clone()) {
        opts.push_str(&format!(" DEFAULT {}", c.default.as_deref().unwrap_or("")));
    }
    if c.not_null && !p.is_some_and(|p| p.not_null) {
        opts.push_str(" NOT NULL");
    }
    (!opts.is_empty()).then(|| format!("    {} WITH OPTIONS{opts}", quote::ident(&c.name)))
}

fn indexes(cat: &Catalog, out: &mut Vec<Object>) {
    let matviews: Vec<&QName> = cat
        .views
        .iter()
        .filter(|v| v.materialized)
        .map(|v| &v.name)
        .collect();
    for i in &cat.indexes {
        if !i.constraint {
            out.push(Object {
                phase: if matviews.contains(&&i.table) {
                    Phase::MatviewIndex
                } else {
                    Phase::Index
                },
                depth: 0,
                kind: "index",
                name: i.name.to_string(),
                create: format!("{};", i.def),
                drop: format!("DROP INDEX IF EXISTS {};", i.name.sql()),
                relation: Some(i.table.clone()),
            });
        }
        if let Some(parent) = &i.parent {
            out.push(Object {
                phase: Phase::IndexAttach,
                depth: 0,
                kind: "index partition",
                name: i.name.to_string(),
                create: format!(
                    "ALTER INDEX {} ATTACH PARTITION {};",
                    parent.sql(),
                    i.name.sql()
                ),
                // NOTE: an attached index cannot be detached; it goes with its table or index.
                drop: String::new(),
                relation: Some(i.name.clone()),
            });
        }
    }
}

/// Each view's depth: 0 when it reads no other view of the set, else one more than the
/// deepest it reads.
pub fn view_depths(views: &[View]) -> BTreeMap<QName, u32> {
    let deps: HashMap<&QName, &Vec<QName>> =
        views.iter().map(|v| (&v.name, &v.depends_on)).collect();
    fn depth(
        name: &QName,
        deps: &HashMap<&QName, &Vec<QName>>,
        memo: &mut BTreeMap<QName, u32>,
        guard: u32,
    ) -> u32 {
        if let Some(d) = memo.get(name) {
            return *d;
        }
        let d = match deps.get(name) {
            Some(ds) if guard < 100 => ds
                .iter()
                .filter(|d| deps.contains_key(d))
                .map(|d| depth(d, deps, memo, guard + 1) + 1)
                .max()
                .unwrap_or(0),
            _ => 0,
        };
        memo.insert(name.clone(), d);
        d
    }
    let mut memo = BTreeMap::new();
    for v in views {
        depth(&v.name, &deps, &mut memo, 0);
    }
    memo
}

fn views(cat: &Catalog, out: &mut Vec<Object>) {
    let depths = view_depths(&cat.views);
    for v in &cat.views {
        let name = v.name.sql();
        let with = if v.options.is_empty() {
            String::new()
        } else {
            format!(" WITH ({})", v.options.join(", "))
        };
        let (kind, create, drop) = if v.materialized {
            (
                "materialized view",
                format!(
                    "CREATE MATERIALIZED VIEW {name}{with} AS\n{}\n  WITH NO DATA;",
                    v.def
                ),
                format!("DROP MATERIALIZED VIEW IF EXISTS {name};"),
            )
        } else {
            (
                "view",
                format!("CREATE VIEW {name}{with} AS\n{};", v.def),
                format!("DROP VIEW IF EXISTS {name};"),
            )
        };
        out.push(Object {
            phase: Phase::View,
            depth: depths.get(&v.name).copied().unwrap_or(0),
            kind,
            name: v.name.to_string(),
            create,
            drop,
            relation: Some(v.name.clone()),
        });
    }
}

/// Triggers, rules and policies.
fn hanging(cat: &Catalog, out: &mut Vec<Object>) {
    for t in &cat.triggers {
        let mut create = format!("{};", t.def);
        let table = t.table.sql();
        let name = quote::ident(&t.name);
        match t.enabled {
            'D' => create.push_str(&format!("\nALTER TABLE {table} DISABLE TRIGGER {name};")),
            'R' => create.push_str(&format!(
                "\nALTER TABLE {table} ENABLE REPLICA TRIGGER {name};"
            )),
            'A' => create.push_str(&format!(
                "\nALTER TABLE {table} ENABLE ALWAYS TRIGGER {name};"
            )),
            _ => {}
        }
        out.push(Object {
            phase: Phase::Trigger,
            depth: 0,
            kind: "trigger",
            name: format!("{} on {}", t.name, t.table),
            create,
            drop: format!("DROP TRIGGER IF EXISTS {name} ON {table};"),
            relation: Some(t.table.clone()),
        });
    }
    for r in &cat.rules {
        out.push(Object {
            phase: Phase::Rule,
            depth: 0,
            kind: "rule",
            name: format!("{} on {}", r.name, r.table),
            create: format!("{};", r.def),
            drop: format!(
                "DROP RULE IF EXISTS {} ON {};",
                quote::ident(&r.name),
                r.table.sql()
            ),
            relation: Some(r.table.clone()),
        });
    }
    for p in &cat.policies {
        let mut s = format!(
            "CREATE POLICY {} ON {}",
            quote::ident(&p.name),
            p.table.sql()
        );
        if !p.permissive {
            s.push_str(" AS RESTRICTIVE");
        }
        s.push_str(&format!(" FOR {} TO {}", p.command, p.roles.join(", ")));
        if let Some(u) = &p.using {
            s.push_str(&format!(" USING ({u})"));
        }
        if let Some(c) = &p.with_check {
            s.push_str(&format!(" WITH CHECK ({c})"));
        }
        s.push(';');
        out.push(Object {
            phase: Phase::Policy,
            depth: 0,
            kind: "policy",
            name: format!("{} on {}", p.name, p.table),
            create: s,
            drop: format!(
                "DROP POLICY IF EXISTS {} ON {};",
                quote::ident(&p.name),
                p.table.sql()
            ),
            relation: Some(p.table.clone()),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_on_views_come_later() {
        let v = |n: &str, deps: &[&str]| View {
            name: QName::new("public", n),
            materialized: false,
            def: String::new(),
            options: vec![],
            depends_on: deps.iter().map(|d| QName::new("public", *d)).collect(),
            access: Access::default(),
        };
        let d = view_depths(&[v("c", &["b", "t"]), v("b", &["a"]), v("a", &["t"])]);
        assert_eq!(d[&QName::new("public", "a")], 0);
        assert_eq!(d[&QName::new("public", "b")], 1);
        assert_eq!(d[&QName::new("public", "c")], 2);
    }
}
