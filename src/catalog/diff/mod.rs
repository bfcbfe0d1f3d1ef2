//! What differs between two catalogs (FROM and TO), as lines a person reads and as the SQL
//! that turns FROM into TO: drops in the reverse of the load order, then creates and alters
//! in load order, then drops of what others depended on (functions, sequences, types,
//! extensions, schemas). Each destructive statement says so.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

mod access;
mod table;

pub use access::Options;

use super::model::*;
use super::object::{Object, Phase};
use super::sql::{self, sequence_options};
use crate::sql::quote;

/// One difference: the object and what differs about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// `table public.users`, `index public.users_pkey`.
    pub object: String,
    /// `only in FROM`, `only in TO`, `differs`, `column bio text only in TO` ...
    pub change: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let object_level = self.change.starts_with("only in") || self.change == "differs";
        if object_level {
            write!(f, "{} {}", self.object, self.change)?;
            if let (Some(a), Some(b)) = (&self.from, &self.to) {
                write!(f, ": {}", first_difference(a, b))?;
            }
            Ok(())
        } else {
            write!(f, "{}: {}", self.object, self.change)
        }
    }
}

/// The first line where two definitions differ, short: `FROM ... | TO ...`.
fn first_difference(a: &str, b: &str) -> String {
    let short = |s: &str| {
        let s = s.trim();
        if s.chars().count() > 100 {
            format!("{}...", s.chars().take(100).collect::<String>())
        } else {
            s.to_string()
        }
    };
    let (la, lb) = a
        .lines()
        .zip(b.lines())
        .find(|(x, y)| x != y)
        .unwrap_or_else(|| {
            (
                a.lines().last().unwrap_or(""),
                b.lines().last().unwrap_or(""),
            )
        });
    if la == lb {
        return format!(
            "FROM has {} lines, TO {}",
            a.lines().count(),
            b.lines().count()
        );
    }
    format!("FROM `{}` | TO `{}`", short(la), short(lb))
}

/// One statement of the SQL that turns FROM into TO.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub sql: String,
    /// Why the statement may lose data or fail on data, when it may.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destructive: Option<String>,
}

impl Statement {
    /// The statement as a script writes it: a destructive one preceded by
    /// `-- destructive: why`; ends with a newline.
    pub fn script(&self) -> String {
        let mut out = String::new();
        if let Some(why) = &self.destructive {
            // NOTE: `why` names objects, and a name may hold a newline or `*/`: as comment
            // text it can never end the comment and become a statement.
            out.push_str(&format!("-- destructive: {}\n", quote::comment(why)));
        }
        out.push_str(&self.sql);
        out.push('\n');
        out
    }
}

/// The differences and the statements.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Diff {
    pub differences: Vec<Difference>,
    pub statements: Vec<Statement>,
    /// Objects on either side the reader cannot read, so not compared (`aggregate public.f(text)`).
    pub not_compared: Vec<String>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }

    /// Whether the sides are equal: `None` when nothing that was compared differs but some
    /// objects were not compared, so it cannot be told.
    pub fn equal(&self) -> Option<bool> {
        if !self.differences.is_empty() {
            Some(false)
        } else if self.not_compared.is_empty() {
            Some(true)
        } else {
            None
        }
    }

    /// The statements as a SQL script; destructive ones preceded by `-- destructive: why`.
    pub fn sql(&self) -> String {
        self.statements.iter().map(Statement::script).collect()
    }

    /// The statements that may lose data.
    pub fn destructive(&self) -> impl Iterator<Item = &Statement> {
        self.statements.iter().filter(|s| s.destructive.is_some())
    }
}

/// Which pass a statement runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Pass {
    /// Drops of what changes or goes, in the reverse of the load order.
    Drop,
    /// Creates and alters, in load order.
    Create,
    /// Drops of what other objects used until now: functions, sequences, types, schemas.
    Last,
}

/// A statement of the diff with where it sorts: by pass, phase, depth, object name, and
/// then the order it was pushed in.
struct Entry {
    pass: Pass,
    /// The object's phase in the pass's order (negated in the drop passes).
    phase_rank: i64,
    /// The object's depth in the pass's order (reversed in the drop passes).
    depth_rank: u32,
    name: String,
    seq: usize,
    statement: Statement,
}

impl Entry {
    fn order(&self) -> (Pass, i64, u32, &str, usize) {
        (
            self.pass,
            self.phase_rank,
            self.depth_rank,
            &self.name,
            self.seq,
        )
    }
}

pub(super) struct Builder {
    diffs: Vec<Difference>,
    stmts: Vec<Entry>,
}

impl Builder {
    pub(super) fn differ(
        &mut self,
        object: String,
        change: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) {
        self.diffs.push(Difference {
            object,
            change: change.to_string(),
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        });
    }

    /// Drops an object of FROM, flagged when that loses data.
    fn drop_object(&mut self, f: &Object) {
        let loses = drop_loses(f.kind, &f.name);
        self.push(Pass::Drop, f.phase, f.depth, &f.name, f.drop.clone(), loses);
    }

    /// Creates an object as TO has it.
    fn create_object(&mut self, t: &Object) {
        self.push(
            Pass::Create,
            t.phase,
            t.depth,
            &t.name,
            t.create.clone(),
            None,
        );
    }

    pub(super) fn push(
        &mut self,
        pass: Pass,
        phase: Phase,
        depth: u32,
        name: &str,
        sql: String,
        destructive: Option<String>,
    ) {
        if sql.is_empty() {
            return;
        }
        // NOTE: the drop pass runs the load order backwards: deepest views first.
        let (phase_rank, depth_rank) = match pass {
            Pass::Drop | Pass::Last => (-(phase as i64), u32::MAX - depth),
            Pass::Create => (phase as i64, depth),
        };
        let seq = self.stmts.len();
        self.stmts.push(Entry {
            pass,
            phase_rank,
            depth_rank,
            name: name.to_string(),
            seq,
            statement: Statement { sql, destructive },
        });
    }
}

/// Why dropping an object of `kind` may lose data; `None` when it can be made again from its
/// definition alone.
pub(super) fn drop_loses(kind: &str, name: &str) -> Option<String> {
    match kind {
        "table" => Some(format!("drops table {name} and its rows")),
        "materialized view" => Some(format!("drops materialized view {name} and its rows")),
        "schema" => Some(format!("drops schema {name}")),
        "sequence" => Some(format!("drops sequence {name} and its current value")),
        "extension" => Some(format!("drops extension {name}")),
        "enum type" | "domain" | "composite type" => {
            Some(format!("drops type {name} (fails while a column uses it)"))
        }
        "collation" => Some(format!(
            "drops collation {name} (fails while a column or an index uses it)"
        )),
        _ => None,
    }
}

/// Kinds dropped after everything else, once nothing uses them.
fn dropped_last(kind: &str) -> bool {
    matches!(
        kind,
        "function"
            | "sequence"
            | "enum type"
            | "domain"
            | "composite type"
            | "collation"
            | "extension"
            | "schema"
    )
}

/// The differences between `from` and `to`, and the SQL that turns `from` into `to`.
pub fn diff(from: &Catalog, to: &Catalog) -> Diff {
    diff_with(from, to, Options::default())
}

/// [`diff`], with owners and grants compared as `opts` asks.
pub fn diff_with(from: &Catalog, to: &Catalog, opts: Options) -> Diff {
    let mut b = Builder {
        diffs: Vec::new(),
        stmts: Vec::new(),
    };
    let tables = table::tables(&mut b, from, to);
    access::compare(&mut b, from, to, opts);
    let f_objects = sql::objects(from);
    let t_objects = sql::objects(to);
    let key_map = |objs: &[Object]| -> BTreeMap<_, usize> {
        objs.iter()
            .enumerate()
            .filter(|(_, o)| o.kind != "table")
            .map(|(i, o)| (o.key(), i))
            .collect()
    };
    let fk = key_map(&f_objects);
    let tk = key_map(&t_objects);

    // Views that change or go, and every view that reads one of them or a table whose
    // columns change: they are dropped and made again.
    let mut views_out: BTreeSet<QName> = BTreeSet::new();
    for v in &from.views {
        let other = to.views.iter().find(|w| w.name == v.name);
        if other.is_none_or(|w| {
            w.def != v.def || w.options != v.options || w.materialized != v.materialized
        }) {
            views_out.insert(v.name.clone());
        }
    }
    loop {
        let before = views_out.len();
        for v in &from.views {
            if v.depends_on
                .iter()
                .any(|d| views_out.contains(d) || tables.reshaped.contains(d))
            {
                views_out.insert(v.name.clone());
            }
        }
        if views_out.len() == before {
            break;
        }
    }
    // Relations whose dependent objects (indexes, triggers, comments ...) go with them.
    let mut gone: BTreeSet<QName> = tables.dropped.clone();
    gone.extend(views_out.iter().cloned());
    for (key, &i) in &fk {
        let o = &f_objects[i];
        if o.kind == "index" && tk.get(key).is_none_or(|&j| t_objects[j].create != o.create) {
            gone.insert(QName::new(split_schema(&o.name).0, split_schema(&o.name).1));
        }
    }

    let keys: BTreeSet<_> = fk.keys().chain(tk.keys()).cloned().collect();
    for key in keys {
        let f = fk.get(&key).map(|&i| &f_objects[i]);
        let t = tk.get(&key).map(|&i| &t_objects[i]);
        let label = format!("{} {}", key.1, key.2);
        let hangs_on_gone = |o: &Object| {
            !matches!(o.kind, "view" | "materialized view")
                && o.relation.as_ref().is_some_and(|r| gone.contains(r))
        };
        let forced_view = |o: &Object| {
            matches!(o.kind, "view" | "materialized view")
                && o.relation.as_ref().is_some_and(|r| views_out.contains(r))
        };
        match (f, t) {
            (Some(f), None) => {
                b.differ(label, "only in FROM", None, None);
                if !hangs_on_gone(f) {
                    let pass = if dropped_last(f.kind) {
                        Pass::Last
                    } else {
                        Pass::Drop
                    };
                    b.push(
                        pass,
                        f.phase,
                        f.depth,
                        &f.name,
                        f.drop.clone(),
                        drop_loses(f.kind, &f.name),
                    );
                }
            }
            (None, Some(t)) => {
                b.differ(label, "only in TO", None, None);
                b.create_object(t);
            }
            (Some(f), Some(t)) if f.create != t.create => {
                b.differ(label, "differs", Some(&f.create), Some(&t.create));
                changed(&mut b, from, to, f, t, hangs_on_gone(f));
            }
            (Some(f), Some(t)) => {
                // The same, but dropped with what it hangs on (or a view made again because
                // what it reads changes): made again.
                if forced_view(f) {
                    b.drop_object(f);
                    b.create_object(t);
                } else if hangs_on_gone(f) && !f.create.is_empty() {
                    b.create_object(t);
                }
            }
            (None, None) => {}
        }
    }
    let mut stmts = b.stmts;
    stmts.sort_by(|a, b| a.order().cmp(&b.order()));
    let not_compared: BTreeSet<String> = from
        .missing
        .iter()
        .chain(&to.missing)
        .map(|m| m.to_string())
        .collect();
    Diff {
        differences: b.diffs,
        statements: stmts.into_iter().map(|s| s.statement).collect(),
        not_compared: not_compared.into_iter().collect(),
    }
}

fn split_schema(name: &str) -> (&str, &str) {
    name.split_once('.').unwrap_or(("", name))
}

/// An object in both catalogs with different SQL.
fn changed(b: &mut Builder, from: &Catalog, to: &Catalog, f: &Object, t: &Object, gone: bool) {
    match f.kind {
        "function" => {
            let ff = from
                .functions
                .iter()
                .find(|x| format!("{}({})", x.name, x.args) == f.name);
            let tf = to
                .functions
                .iter()
                .find(|x| format!("{}({})", x.name, x.args) == t.name);
            let replaceable =
                matches!((ff, tf), (Some(a), Some(b)) if a.kind == b.kind && a.result == b.result);
            if !replaceable {
                b.push(Pass::Drop, f.phase, f.depth, &f.name, f.drop.clone(), None);
            }
            // NOTE: pg_get_functiondef writes CREATE OR REPLACE.
            b.create_object(t);
            return;
        }
        "enum type" => {
            let labels = |c: &Catalog| {
                c.types
                    .iter()
                    .find(|x| x.name.to_string() == f.name)
                    .and_then(|x| match &x.kind {
                        TypeKind::Enum { labels } => Some((x.name.clone(), labels.clone())),
                        _ => None,
                    })
            };
            if let (Some((name, a)), Some((_, z))) = (labels(from), labels(to)) {
                if let Some(adds) = enum_additions(&name, &a, &z) {
                    for s in adds {
                        b.push(Pass::Create, t.phase, t.depth, &t.name, s, None);
                    }
                    return;
                }
            }
        }
        "sequence" => {
            if let Some(s) = to.sequences.iter().find(|s| s.name.to_string() == t.name) {
                let mut sql = format!(
                    "ALTER SEQUENCE {} AS {}{};",
                    s.name.sql(),
                    s.data_type,
                    sequence_options(s)
                );
                let was = from.sequences.iter().find(|x| x.name == s.name);
                if was.is_some_and(|w| w.unlogged != s.unlogged) {
                    sql.push_str(&format!(
                        "\nALTER SEQUENCE {} SET {};",
                        s.name.sql(),
                        if s.unlogged { "UNLOGGED" } else { "LOGGED" }
                    ));
                }
                b.push(Pass::Create, t.phase, t.depth, &t.name, sql, None);
                return;
            }
        }
        "comment" | "sequence owner" => {
            b.create_object(t);
            return;
        }
        _ => {}
    }
    if !gone {
        b.drop_object(f);
    }
    b.create_object(t);
}

/// `ALTER TYPE ... ADD VALUE` for each new label, when every old label stays in its order;
/// `None` when labels go or move (the type must be made again).
fn enum_additions(name: &QName, from: &[String], to: &[String]) -> Option<Vec<String>> {
    let kept: Vec<&String> = to.iter().filter(|l| from.contains(l)).collect();
    if kept.len() != from.len() || kept.iter().zip(from).any(|(a, b)| *a != b) {
        return None;
    }
    let q = name.sql();
    let mut out = Vec::new();
    let mut present: Vec<&String> = from.iter().collect();
    for (i, label) in to.iter().enumerate() {
        if present.contains(&label) {
            continue;
        }
        let place = match i.checked_sub(1).map(|p| &to[p]) {
            Some(prev) => format!(" AFTER {}", quote::literal(prev)),
            None => format!(" BEFORE {}", quote::literal(&to[1])),
        };
        out.push(format!(
            "ALTER TYPE {q} ADD VALUE {}{place};",
            quote::literal(label)
        ));
        present.push(label);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn enum_values_are_added_in_place() {
        let adds = enum_additions(
            &QName::new("public", "mood"),
            &s(&["sad", "happy"]),
            &s(&["meh", "sad", "ok", "happy"]),
        )
        .unwrap();
        assert_eq!(
            adds,
            [
                "ALTER TYPE \"public\".\"mood\" ADD VALUE 'meh' BEFORE 'sad';",
                "ALTER TYPE \"public\".\"mood\" ADD VALUE 'ok' AFTER 'sad';"
            ]
        );
        assert!(enum_additions(
            &QName::new("public", "mood"),
            &s(&["a", "b"]),
            &s(&["b", "a"])
        )
        .is_none());
        assert!(
            enum_additions(&QName::new("public", "mood"), &s(&["a", "b"]), &s(&["a"])).is_none()
        );
    }

    #[test]
    fn a_difference_reads_as_a_line() {
        let d = Difference {
            object: "table public.users".into(),
            change: "column bio text only in TO".into(),
            from: None,
            to: None,
        };
        assert_eq!(
            d.to_string(),
            "table public.users: column bio text only in TO"
        );
        let d = Difference {
            object: "index public.x".into(),
            change: "differs".into(),
            from: Some("CREATE INDEX x ON t (a)".into()),
            to: Some("CREATE INDEX x ON t (b)".into()),
        };
        assert_eq!(
            d.to_string(),
            "index public.x differs: FROM `CREATE INDEX x ON t (a)` | TO `CREATE INDEX x ON t (b)`"
        );
    }
}
