//! A token-level recogniser for the statements the lint knows: not a SQL parser, a careful
//! reading of the words of one statement (as the SQL reader yields it) into the operations
//! that take locks. What it does not recognise it leaves alone: no finding beats a false one.

pub use super::alter::{Action, Constraint, Default};
use super::tokens::{skip, tokens, Tok};

/// A relation name: the schema when written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    pub schema: Option<String>,
    pub name: String,
}

impl Name {
    /// The key the lint compares names by: `schema.name`, `public` when no schema is written.
    pub fn key(&self) -> String {
        format!(
            "{}.{}",
            self.schema.as_deref().unwrap_or("public"),
            self.name
        )
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// What a statement does, as far as the lint is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    CreateTable(Name),
    CreateIndex {
        table: Name,
        concurrently: bool,
    },
    Reindex {
        concurrently: bool,
        table: Option<Name>,
    },
    DropIndex {
        concurrently: bool,
    },
    DropTable(Vec<Name>),
    Alter {
        table: Name,
        action: Action,
    },
    VacuumFull,
    Cluster,
    LockTable(Vec<Name>),
    Truncate(Vec<Name>),
    EnumAddValue,
    SetLockTimeout,
    /// A DELETE (`delete`) or UPDATE without a WHERE of its own, in a CTE too.
    UnlimitedWrite {
        delete: bool,
        table: Name,
    },
    /// A DROP of anything but a table or an index (those have rules of their own): the
    /// classifier's `DROP ...` flag.
    DropObject(&'static str),
}

/// An operation and the byte offset in the statement it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub at: usize,
    pub kind: OpKind,
}

/// A relation name at `toks[i..]`: `ident ( . ident )*`, the last two parts kept.
fn name_at(toks: &[Tok], mut i: usize) -> Option<(Name, usize)> {
    let mut parts = vec![toks.get(i)?.ident()?];
    i += 1;
    while toks.get(i).is_some_and(|t| t.punct(".")) {
        parts.push(toks.get(i + 1)?.ident()?);
        i += 2;
    }
    let name = parts.pop()?;
    Some((
        Name {
            schema: parts.pop(),
            name,
        },
        i,
    ))
}

/// A comma-separated list of names (TRUNCATE, LOCK, DROP TABLE), stopping at anything else.
fn names_at(toks: &[Tok], mut i: usize) -> Vec<Name> {
    let mut out = Vec::new();
    while let Some((n, next)) = name_at(toks, i) {
        out.push(n);
        i = next;
        if toks.get(i).is_some_and(|t| t.punct("*")) {
            i += 1;
        }
        if !toks.get(i).is_some_and(|t| t.punct(",")) {
            break;
        }
        i += 1;
        i = skip(toks, i, &["ONLY"]);
    }
    out
}

/// The operations of one statement: what the classifier says destroys data, then what
/// takes locks.
pub fn ops(sql: &str) -> Vec<Op> {
    use crate::sql::classify::{self, Kind, Verb};
    let c = classify::classify(sql);
    let at = crate::sql::lex::code(sql).next().map_or(0, |t| t.start);
    let mut out: Vec<Op> = c
        .modifies
        .iter()
        .filter(|m| !m.limited && matches!(m.verb, Verb::Delete | Verb::Update))
        .map(|m| Op {
            at,
            kind: OpKind::UnlimitedWrite {
                delete: m.verb == Verb::Delete,
                table: Name {
                    schema: m.target.schema.clone(),
                    name: m.target.name.clone(),
                },
            },
        })
        .collect();
    if let Kind::Drop(o) = c.kind {
        if o.name != "table" && o.name != "index" {
            out.push(Op {
                at,
                kind: OpKind::DropObject(c.destructive().first().copied().unwrap_or("DROP")),
            });
        }
    }
    out.extend(lock_ops(sql));
    out
}

/// The lock-taking operations of one statement.
fn lock_ops(sql: &str) -> Vec<Op> {
    let toks = tokens(sql);
    let at = toks.first().map_or(0, |t| t.at);
    let op = |kind| vec![Op { at, kind }];
    let w = |k: usize, kw: &str| toks.get(k).is_some_and(|t| t.is(kw));
    if toks.is_empty() {
        return Vec::new();
    }
    if w(0, "CREATE") {
        return create(&toks).map_or_else(Vec::new, op);
    }
    if w(0, "ALTER") && w(1, "TABLE") {
        return alter_table(&toks);
    }
    if w(0, "ALTER") && w(1, "TYPE") && toks.iter().any(|t| t.is("ADD")) && w_any(&toks, "VALUE") {
        return op(OpKind::EnumAddValue);
    }
    if w(0, "DROP") && w(1, "INDEX") {
        return op(OpKind::DropIndex {
            concurrently: w(2, "CONCURRENTLY"),
        });
    }
    if w(0, "DROP") && w(1, "TABLE") {
        let i = skip(&toks, 2, &["IF", "EXISTS"]);
        return op(OpKind::DropTable(names_at(&toks, i)));
    }
    if w(0, "REINDEX") {
        let mut i = 1;
        let mut concurrently = false;
        if toks.get(1).is_some_and(|t| t.punct("(")) {
            while toks.get(i).is_some_and(|t| !(t.punct(")") && t.depth == 0)) {
                concurrently |= toks[i].is("CONCURRENTLY");
                i += 1;
            }
            i += 1;
        }
        let what = toks.get(i).map(|t| t.text.to_ascii_uppercase());
        i += 1;
        if w(i, "CONCURRENTLY") {
            concurrently = true;
            i += 1;
        }
        let table = (what.as_deref() == Some("TABLE"))
            .then(|| name_at(&toks, i).map(|(n, _)| n))
            .flatten();
        return op(OpKind::Reindex {
            concurrently,
            table,
        });
    }
    if w(0, "VACUUM") {
        let full = w(1, "FULL")
            || (toks.get(1).is_some_and(|t| t.punct("("))
                && toks[2..]
                    .iter()
                    .take_while(|t| t.depth > 0)
                    .enumerate()
                    .any(|(k, t)| {
                        t.is("FULL")
                            && !toks
                                .get(k + 3)
                                .is_some_and(|n| n.is("FALSE") || n.is("OFF") || n.text == "0")
                    }));
        return if full {
            op(OpKind::VacuumFull)
        } else {
            Vec::new()
        };
    }
    if w(0, "CLUSTER") {
        return op(OpKind::Cluster);
    }
    if w(0, "LOCK") {
        let i = skip(&toks, 1, &["TABLE"]);
        let i = skip(&toks, i, &["ONLY"]);
        return op(OpKind::LockTable(names_at(&toks, i)));
    }
    if w(0, "TRUNCATE") {
        let i = skip(&toks, 1, &["TABLE"]);
        let i = skip(&toks, i, &["ONLY"]);
        return op(OpKind::Truncate(names_at(&toks, i)));
    }
    if w(0, "SET") {
        let i = if w(1, "LOCAL") || w(1, "SESSION") {
            2
        } else {
            1
        };
        if w(i, "lock_timeout") {
            return op(OpKind::SetLockTimeout);
        }
    }
    Vec::new()
}

fn w_any(toks: &[Tok], kw: &str) -> bool {
    toks.iter().any(|t| t.is(kw))
}

fn create(toks: &[Tok]) -> Option<OpKind> {
    let mut i = 1;
    i = skip(toks, i, &["OR", "REPLACE"]);
    while toks.get(i).is_some_and(|t| {
        [
            "UNLOGGED",
            "TEMP",
            "TEMPORARY",
            "GLOBAL",
            "LOCAL",
            "UNIQUE",
            "MATERIALIZED",
        ]
        .iter()
        .any(|k| t.is(k))
    }) {
        i += 1;
    }
    let what = toks.get(i)?;
    if what.is("TABLE") || what.is("VIEW") && toks[i - 1].is("MATERIALIZED") {
        let i = skip(toks, i + 1, &["IF", "NOT", "EXISTS"]);
        return Some(OpKind::CreateTable(name_at(toks, i)?.0));
    }
    if what.is("INDEX") {
        let concurrently = toks.get(i + 1).is_some_and(|t| t.is("CONCURRENTLY"));
        let on = toks.iter().position(|t| t.depth == 0 && t.is("ON"))?;
        let j = skip(toks, on + 1, &["ONLY"]);
        return Some(OpKind::CreateIndex {
            table: name_at(toks, j)?.0,
            concurrently,
        });
    }
    None
}

/// `ALTER TABLE [IF EXISTS] [ONLY] name [*] action [, ...]`: one op per action.
fn alter_table(toks: &[Tok]) -> Vec<Op> {
    let mut i = skip(toks, 2, &["IF", "EXISTS"]);
    i = skip(toks, i, &["ONLY"]);
    let Some((table, mut i)) = name_at(toks, i) else {
        return Vec::new();
    };
    if toks.get(i).is_some_and(|t| t.punct("*")) {
        i += 1;
    }
    let mut out = Vec::new();
    let mut start = i;
    for k in i..=toks.len() {
        let end =
            k == toks.len() || (toks[k].depth == 0 && (toks[k].punct(",") || toks[k].punct(";")));
        if end {
            if start < k {
                out.push(Op {
                    at: toks[start].at,
                    kind: OpKind::Alter {
                        table: table.clone(),
                        action: super::alter::action(&toks[start..k]),
                    },
                });
            }
            start = k + 1;
        }
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The one operation of a statement (shared with the ALTER TABLE tests).
    pub(in crate::migrate::lint) fn one(sql: &str) -> OpKind {
        let mut o = ops(sql);
        assert_eq!(o.len(), 1, "{sql}: {o:?}");
        o.remove(0).kind
    }

    /// A name, `schema.name` or bare.
    pub(in crate::migrate::lint) fn n(s: &str) -> Name {
        match s.split_once('.') {
            Some((a, b)) => Name {
                schema: Some(a.into()),
                name: b.into(),
            },
            None => Name {
                schema: None,
                name: s.into(),
            },
        }
    }

    #[test]
    fn create_index_and_table() {
        assert_eq!(
            one("CREATE UNIQUE INDEX IF NOT EXISTS i ON ONLY app.\"Users\" USING btree (a)"),
            OpKind::CreateIndex {
                table: n("app.Users"),
                concurrently: false
            }
        );
        assert_eq!(
            one("create index concurrently on users ((lower(handle)))"),
            OpKind::CreateIndex {
                table: n("users"),
                concurrently: true
            }
        );
        assert_eq!(
            one("CREATE UNLOGGED TABLE IF NOT EXISTS public.x (id int)"),
            OpKind::CreateTable(n("public.x"))
        );
        assert!(ops("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql").is_empty());
    }

    #[test]
    fn other_statements() {
        assert_eq!(
            one("REINDEX TABLE CONCURRENTLY users"),
            OpKind::Reindex {
                concurrently: true,
                table: Some(n("users"))
            }
        );
        assert_eq!(
            one("REINDEX (VERBOSE) INDEX i"),
            OpKind::Reindex {
                concurrently: false,
                table: None
            }
        );
        assert_eq!(one("VACUUM (FULL, ANALYZE) t"), OpKind::VacuumFull);
        assert!(ops("VACUUM (ANALYZE) t").is_empty());
        assert!(ops("VACUUM (FULL false) t").is_empty());
        assert_eq!(
            one("TRUNCATE TABLE ONLY a, b.c CASCADE"),
            OpKind::Truncate(vec![n("a"), n("b.c")])
        );
        assert_eq!(
            one("LOCK TABLE a IN ACCESS EXCLUSIVE MODE"),
            OpKind::LockTable(vec![n("a")])
        );
        assert_eq!(one("ALTER TYPE mood ADD VALUE 'meh'"), OpKind::EnumAddValue);
        assert_eq!(one("SET LOCAL lock_timeout = '2s'"), OpKind::SetLockTimeout);
        assert_eq!(
            one("DROP TABLE IF EXISTS a, b"),
            OpKind::DropTable(vec![n("a"), n("b")])
        );
        assert_eq!(
            one("ALTER TABLE a RENAME TO b"),
            OpKind::Alter {
                table: n("a"),
                action: Action::RenameTable { to: "b".into() }
            }
        );
        assert_eq!(
            one("ALTER TABLE a RENAME COLUMN x TO y"),
            OpKind::Alter {
                table: n("a"),
                action: Action::RenameColumn { column: "x".into() }
            }
        );
        assert!(ops("SELECT 'CREATE INDEX i ON t (a)'").is_empty());
        assert!(ops("ALTER INDEX i RENAME TO j").is_empty());
    }
}
