//! The walk over a pending set of migrations that decides which operations break which rule
//! (the rules themselves are in `catalog`).

use std::collections::{HashMap, HashSet};

pub use super::catalog::{rule, Level, Rule, RULES};
use super::live::Live;
use super::parse::{Action, Constraint, Default, Name, Op, OpKind};
use super::types::{maybe_safe_target, rewrites};

/// A rule broken by one operation: where (byte offset in the statement), on what table,
/// what exactly, and the level when it is not the rule's own.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule: &'static str,
    pub level: Level,
    pub at: usize,
    pub table: Option<Name>,
    pub what: String,
}

/// What the walk over a pending set knows so far.
#[derive(Debug, Default)]
pub struct Walk<'a> {
    pub live: Option<&'a Live>,
    /// Tables (keys) created earlier in the pending set.
    created: HashSet<String>,
    /// (table key, column) with a validated `CHECK (col IS NOT NULL)` from the pending set.
    not_null_ok: HashSet<(String, String)>,
    /// Check constraints `CHECK (col IS NOT NULL)` added NOT VALID: name -> (table, column).
    checks: HashMap<String, (String, String)>,
    /// The current migration set lock_timeout itself; a guard finding was already made.
    guarded: bool,
    /// Constraints (table key, name) added NOT VALID by the current migration.
    not_valid_here: HashSet<(String, String)>,
    /// The current migration runs in a transaction.
    in_tx: bool,
}

impl<'a> Walk<'a> {
    pub fn new(live: Option<&'a Live>) -> Walk<'a> {
        Walk {
            live,
            ..Walk::default()
        }
    }

    /// A new migration starts: its own lock_timeout guard is still to be seen.
    pub fn next_migration(&mut self) {
        self.guarded = false;
        self.not_valid_here.clear();
    }

    /// Created earlier in the pending set.
    fn created(&self, t: &Name) -> bool {
        self.created.contains(&t.key())
    }

    /// Known to hold no rows: created earlier, or empty in the live database.
    fn empty(&self, t: &Name) -> bool {
        self.created(t)
            || self
                .live
                .and_then(|l| l.find(t))
                .is_some_and(|t| t.is_empty())
    }

    /// The rules one operation breaks. `in_tx`: the section runs in a transaction.
    pub fn check(&mut self, op: &Op, in_tx: bool) -> Vec<Hit> {
        let mut hits = Vec::new();
        let mut hit = |rule: &'static str, table: Option<&Name>, what: String| {
            hits.push(Hit {
                rule,
                level: self::rule(rule).level,
                at: op.at,
                table: table.cloned(),
                what,
            });
        };
        // Lock-taking work on a table that holds (or may hold) rows: the guard rule applies.
        let mut locks_existing = false;
        match &op.kind {
            OpKind::CreateTable(t) => {
                self.created.insert(t.key());
            }
            OpKind::SetLockTimeout => self.guarded = true,
            OpKind::CreateIndex {
                table,
                concurrently,
            } => {
                if *concurrently && in_tx {
                    hit(
                        "concurrently-in-transaction",
                        Some(table),
                        format!("CREATE INDEX CONCURRENTLY on {table} in a transaction"),
                    );
                } else if !concurrently && !self.empty(table) {
                    locks_existing = true;
                    hit(
                        "create-index-non-concurrent",
                        Some(table),
                        format!("CREATE INDEX without CONCURRENTLY on {table}"),
                    );
                }
            }
            OpKind::Reindex {
                concurrently,
                table,
            } => {
                if *concurrently && in_tx {
                    hit(
                        "concurrently-in-transaction",
                        table.as_ref(),
                        "REINDEX CONCURRENTLY in a transaction".into(),
                    );
                } else if !concurrently && !table.as_ref().is_some_and(|t| self.empty(t)) {
                    locks_existing = true;
                    hit(
                        "reindex-non-concurrent",
                        table.as_ref(),
                        "REINDEX without CONCURRENTLY".into(),
                    );
                }
            }
            OpKind::DropIndex { concurrently } => {
                if *concurrently && in_tx {
                    hit(
                        "concurrently-in-transaction",
                        None,
                        "DROP INDEX CONCURRENTLY in a transaction".into(),
                    );
                } else if !concurrently {
                    locks_existing = true;
                    hit(
                        "drop-index-non-concurrent",
                        None,
                        "DROP INDEX without CONCURRENTLY".into(),
                    );
                }
            }
            OpKind::DropTable(tables) => {
                for t in tables {
                    if !self.created(t) {
                        locks_existing = true;
                        hit("drop-table", Some(t), format!("DROP TABLE {t}"));
                    }
                    self.created.remove(&t.key());
                }
            }
            OpKind::VacuumFull => {
                locks_existing = true;
                hit("vacuum-full", None, "VACUUM FULL".into());
            }
            OpKind::Cluster => {
                locks_existing = true;
                hit("cluster", None, "CLUSTER".into());
            }
            OpKind::LockTable(tables) => {
                for t in tables.iter().filter(|t| !self.created(t)) {
                    locks_existing = true;
                    hit("lock-table", Some(t), format!("LOCK TABLE {t}"));
                }
            }
            OpKind::Truncate(tables) => {
                for t in tables.iter().filter(|t| !self.empty(t)) {
                    locks_existing = true;
                    hit("truncate", Some(t), format!("TRUNCATE {t}"));
                }
            }
            OpKind::EnumAddValue => {
                let version = self.live.map(|l| l.version);
                if in_tx {
                    match version {
                        Some(v) if v >= 120_000 => {}
                        Some(_) => hit(
                            "enum-add-value-in-transaction",
                            None,
                            "ALTER TYPE ... ADD VALUE in a transaction".into(),
                        ),
                        None => hits.push(Hit {
                            rule: "enum-add-value-in-transaction",
                            level: Level::Info,
                            at: op.at,
                            table: None,
                            what: "ALTER TYPE ... ADD VALUE in a transaction (fails before \
                                   PostgreSQL 12; the server's version is unknown offline)"
                                .into(),
                        }),
                    }
                }
            }
            OpKind::UnlimitedWrite { delete, table } => {
                if !self.empty(table) {
                    let (rule, verb) = if *delete {
                        ("delete-without-where", "DELETE")
                    } else {
                        ("update-without-where", "UPDATE")
                    };
                    hit(rule, Some(table), format!("{verb} of every row of {table}"));
                }
            }
            OpKind::DropObject(what) => hit("drop-object", None, (*what).to_string()),
            OpKind::Alter { table, action } => {
                locks_existing = !self.empty(table);
                self.in_tx = in_tx;
                hits.extend(self.alter(op.at, table, action));
            }
        }
        if locks_existing && !hits.is_empty() && !self.guarded {
            self.guarded = true;
            hits.push(Hit {
                rule: "missing-lock-timeout",
                level: Level::Info,
                at: op.at,
                table: None,
                what: "no SET lock_timeout before the first statement that locks an existing \
                       table"
                    .into(),
            });
        }
        hits
    }

    fn alter(&mut self, at: usize, table: &Name, action: &Action) -> Vec<Hit> {
        let empty = self.empty(table);
        let created = self.created(table);
        let mut out = Vec::new();
        let mut hit = |rule: &'static str, level: Option<Level>, what: String| {
            out.push(Hit {
                rule,
                level: level.unwrap_or(self::rule(rule).level),
                at,
                table: Some(table.clone()),
                what,
            })
        };
        match action {
            Action::AddColumn {
                column,
                default,
                not_null,
                rewrite,
                unique,
                references,
            } if !empty => {
                if let Some(r) = rewrite {
                    hit(
                        "add-column-volatile-default",
                        None,
                        format!("ADD COLUMN {column} as {r} on {table}"),
                    );
                }
                match default {
                    Some(Default::Volatile(f)) => hit(
                        "add-column-volatile-default",
                        None,
                        format!("ADD COLUMN {column} with DEFAULT {f}() on {table}"),
                    ),
                    Some(Default::Unknown(f)) => hit(
                        "add-column-unknown-default",
                        None,
                        format!("ADD COLUMN {column} with DEFAULT {f}() on {table}"),
                    ),
                    None if *not_null && rewrite.is_none() => hit(
                        "add-column-not-null-no-default",
                        None,
                        format!("ADD COLUMN {column} NOT NULL without a DEFAULT on {table}"),
                    ),
                    _ => {}
                }
                if *unique {
                    hit(
                        "add-unique-without-index",
                        None,
                        format!("ADD COLUMN {column} with an inline UNIQUE/PRIMARY KEY on {table}"),
                    );
                }
                if *references {
                    hit(
                        "add-foreign-key-validating",
                        Some(Level::Warning),
                        format!(
                            "ADD COLUMN {column} with an inline REFERENCES on {table} (the \
                             referenced table is locked too)"
                        ),
                    );
                }
            }
            Action::AlterType { column, ty } if !empty => {
                let old = self
                    .live
                    .and_then(|l| l.find(table))
                    .and_then(|t| t.columns.get(column));
                match old.map(|old| (old, rewrites(old, ty))) {
                    Some((_, Some(false))) => {}
                    Some((old, Some(true))) => hit(
                        "alter-column-type-rewrite",
                        None,
                        format!("ALTER COLUMN {column} TYPE {ty} (from {old}) on {table}"),
                    ),
                    Some((old, None)) => hit(
                        "alter-column-type-rewrite",
                        Some(Level::Warning),
                        format!(
                            "ALTER COLUMN {column} TYPE {ty} (from {old}: may rewrite) on {table}"
                        ),
                    ),
                    None => {
                        let level = maybe_safe_target(ty).then_some(Level::Warning);
                        hit(
                            "alter-column-type-rewrite",
                            level,
                            format!(
                                "ALTER COLUMN {column} TYPE {ty} on {table} (the old type is \
                                 unknown without the database{})",
                                if level.is_some() {
                                    ": safe only from a shorter varchar or text"
                                } else {
                                    ""
                                }
                            ),
                        );
                    }
                }
            }
            Action::SetNotNull { column } if !empty => {
                let key = (table.key(), column.clone());
                let live_ok = self
                    .live
                    .and_then(|l| l.find(table))
                    .is_some_and(|t| t.has_not_null_check(column));
                if !self.not_null_ok.contains(&key) && !live_ok {
                    hit(
                        "set-not-null",
                        None,
                        format!("SET NOT NULL on {table}.{column} without a validated CHECK"),
                    );
                }
            }
            Action::AddConstraint {
                name,
                kind,
                not_valid,
                using_index,
                not_null_of,
            } => {
                if let (Some(n), Some(c)) = (name, not_null_of) {
                    if *not_valid {
                        self.checks.insert(n.clone(), (table.key(), c.clone()));
                    }
                }
                if let (Some(c), false) = (not_null_of, not_valid) {
                    self.not_null_ok.insert((table.key(), c.clone()));
                }
                if let (Some(n), true) = (name, not_valid) {
                    self.not_valid_here.insert((table.key(), n.clone()));
                }
                let label = name.as_deref().unwrap_or("(unnamed)");
                match kind {
                    Constraint::ForeignKey if !not_valid && !empty => hit(
                        "add-foreign-key-validating",
                        None,
                        format!("ADD FOREIGN KEY {label} without NOT VALID on {table}"),
                    ),
                    Constraint::Check if !not_valid && !empty => hit(
                        "add-check-validating",
                        None,
                        format!("ADD CHECK {label} without NOT VALID on {table}"),
                    ),
                    Constraint::Unique | Constraint::PrimaryKey | Constraint::Exclude
                        if !using_index && !empty =>
                    {
                        hit(
                            "add-unique-without-index",
                            None,
                            format!(
                                "ADD {} {label} without USING INDEX on {table}",
                                match kind {
                                    Constraint::PrimaryKey => "PRIMARY KEY",
                                    Constraint::Exclude => "EXCLUDE",
                                    _ => "UNIQUE",
                                }
                            ),
                        )
                    }
                    _ => {}
                }
            }
            Action::ValidateConstraint { name } => {
                if let Some(v) = self.checks.remove(name) {
                    self.not_null_ok.insert(v);
                }
                // NOTE: ADD ... NOT VALID took ACCESS EXCLUSIVE, held to the commit: validating
                // in the same transaction scans the table under it, which NOT VALID was for
                // avoiding.
                if self.in_tx
                    && !empty
                    && self.not_valid_here.contains(&(table.key(), name.clone()))
                {
                    hit(
                        "validate-in-same-transaction",
                        None,
                        format!(
                            "VALIDATE CONSTRAINT {name} on {table} in the transaction that \
                             added it NOT VALID"
                        ),
                    );
                }
            }
            // NOTE: renames and drops break the running app whatever the table holds, so an
            // empty table is no excuse; a table created earlier in the pending set is.
            Action::RenameTable { to } => {
                if created {
                    self.created.insert(
                        Name {
                            schema: table.schema.clone(),
                            name: to.clone(),
                        }
                        .key(),
                    );
                } else {
                    hit("rename-table", None, format!("RENAME {table} TO {to}"));
                }
            }
            Action::RenameColumn { column } if !created => hit(
                "rename-column",
                None,
                format!("RENAME COLUMN {table}.{column}"),
            ),
            Action::DropColumn { column } if !created => {
                hit("drop-column", None, format!("DROP COLUMN {table}.{column}"))
            }
            _ => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::ops;
    use super::*;

    /// The rule ids one SQL text (statements split on `;`) breaks, in a transaction.
    fn ids_with(live: Option<&Live>, in_tx: bool, sql: &str) -> Vec<&'static str> {
        let mut walk = Walk::new(live);
        let mut out = Vec::new();
        for stmt in sql.split(';') {
            for op in ops(stmt) {
                out.extend(
                    walk.check(&op, in_tx)
                        .into_iter()
                        .filter(|h| h.rule != "missing-lock-timeout")
                        .map(|h| h.rule),
                );
            }
        }
        out
    }

    fn ids(sql: &str) -> Vec<&'static str> {
        ids_with(None, true, sql)
    }

    #[test]
    fn each_rule_has_positive_and_negative_cases() {
        let cases: &[(&str, &[&str])] = &[
            (
                "CREATE INDEX i ON users (a)",
                &["create-index-non-concurrent"],
            ),
            ("CREATE TABLE t (a int); CREATE INDEX i ON t (a)", &[]),
            (
                "CREATE INDEX CONCURRENTLY i ON users (a)",
                &["concurrently-in-transaction"],
            ),
            ("REINDEX TABLE users", &["reindex-non-concurrent"]),
            (
                "ALTER TABLE users ADD c uuid DEFAULT gen_random_uuid()",
                &["add-column-volatile-default"],
            ),
            (
                "ALTER TABLE users ADD c timestamptz NOT NULL DEFAULT now()",
                &[],
            ),
            (
                "ALTER TABLE users ADD c bigserial",
                &["add-column-volatile-default"],
            ),
            (
                "ALTER TABLE users ADD c int DEFAULT f()",
                &["add-column-unknown-default"],
            ),
            (
                "ALTER TABLE users ADD c int NOT NULL",
                &["add-column-not-null-no-default"],
            ),
            ("ALTER TABLE users ADD c int NOT NULL DEFAULT 0", &[]),
            ("ALTER TABLE users ADD c int", &[]),
            (
                "ALTER TABLE users ALTER id TYPE bigint",
                &["alter-column-type-rewrite"],
            ),
            ("ALTER TABLE users ALTER c SET NOT NULL", &["set-not-null"]),
            (
                "ALTER TABLE users ADD CONSTRAINT c CHECK (c IS NOT NULL) NOT VALID; \
                 ALTER TABLE users VALIDATE CONSTRAINT c; ALTER TABLE users ALTER c SET NOT NULL",
                &["validate-in-same-transaction"],
            ),
            ("ALTER TABLE users VALIDATE CONSTRAINT c", &[]),
            (
                "ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES b (id)",
                &["add-foreign-key-validating"],
            ),
            (
                "ALTER TABLE a ADD CONSTRAINT f FOREIGN KEY (b) REFERENCES b (id) NOT VALID",
                &[],
            ),
            (
                "ALTER TABLE a ADD CONSTRAINT c CHECK (n > 0)",
                &["add-check-validating"],
            ),
            (
                "ALTER TABLE a ADD CONSTRAINT c CHECK (n > 0) NOT VALID",
                &[],
            ),
            (
                "ALTER TABLE a ADD UNIQUE (n)",
                &["add-unique-without-index"],
            ),
            (
                "ALTER TABLE a ADD PRIMARY KEY (id)",
                &["add-unique-without-index"],
            ),
            ("ALTER TABLE a ADD CONSTRAINT u UNIQUE USING INDEX i", &[]),
            ("ALTER TABLE a RENAME TO b", &["rename-table"]),
            (
                "CREATE TABLE a (id int); ALTER TABLE a RENAME TO b; CREATE INDEX i ON b (id)",
                &[],
            ),
            ("ALTER TABLE a RENAME COLUMN x TO y", &["rename-column"]),
            ("ALTER TABLE a DROP COLUMN x", &["drop-column"]),
            ("ALTER TABLE a DROP CONSTRAINT x", &[]),
            ("DROP TABLE a", &["drop-table"]),
            ("CREATE TABLE a (id int); DROP TABLE a", &[]),
            ("VACUUM FULL a", &["vacuum-full"]),
            ("VACUUM a", &[]),
            ("CLUSTER a USING i", &["cluster"]),
            ("LOCK TABLE a IN SHARE MODE", &["lock-table"]),
            ("TRUNCATE a", &["truncate"]),
            ("DROP INDEX i", &["drop-index-non-concurrent"]),
            (
                "DROP INDEX CONCURRENTLY i",
                &["concurrently-in-transaction"],
            ),
            ("SELECT 1", &[]),
        ];
        for (sql, want) in cases {
            assert_eq!(ids(sql), *want, "{sql}");
        }
        // Outside a transaction, NOT VALID then VALIDATE then SET NOT NULL is the fix.
        assert!(ids_with(
            None,
            false,
            "ALTER TABLE users ADD CONSTRAINT c CHECK (c IS NOT NULL) NOT VALID; \
             ALTER TABLE users VALIDATE CONSTRAINT c; ALTER TABLE users ALTER c SET NOT NULL"
        )
        .is_empty());
        // Outside a transaction, CONCURRENTLY is the fix.
        assert!(ids_with(None, false, "CREATE INDEX CONCURRENTLY i ON users (a)").is_empty());
        assert!(ids_with(None, false, "DROP INDEX CONCURRENTLY i").is_empty());
        // ADD VALUE in a transaction: info offline, nothing on 12+, an error before.
        let mut walk = Walk::new(None);
        let hits = walk.check(&ops("ALTER TYPE m ADD VALUE 'x'")[0], true);
        assert_eq!(hits[0].level, Level::Info);
        for (version, want) in [(150_000, 0), (110_000, 1)] {
            let live = Live {
                version,
                tables: Vec::new(),
            };
            assert_eq!(
                ids_with(Some(&live), true, "ALTER TYPE m ADD VALUE 'x'").len(),
                want
            );
        }
    }

    #[test]
    fn several_actions_give_several_findings() {
        assert_eq!(
            ids("ALTER TABLE users ADD c int NOT NULL, ALTER id TYPE uuid"),
            [
                "add-column-not-null-no-default",
                "alter-column-type-rewrite"
            ]
        );
        assert_eq!(
            ids("ALTER TABLE users ADD c int NOT NULL, ALTER d TYPE text"),
            [
                "add-column-not-null-no-default",
                "alter-column-type-rewrite"
            ]
        );
    }

    #[test]
    fn the_live_database_decides_type_changes_and_empty_tables() {
        let table = |name: &str, heap: i64, cols: &[(&str, &str)]| super::super::live::Table {
            schema: "public".into(),
            name: name.into(),
            kind: "r".into(),
            rows: if heap == 0 { 0.0 } else { 1000.0 },
            heap,
            total: heap,
            columns: cols
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            checks: vec!["CHECK ((handle IS NOT NULL))".into()],
        };
        let live = Live {
            version: 150_000,
            tables: vec![
                table(
                    "users",
                    8192,
                    &[("bio", "character varying(20)"), ("id", "integer")],
                ),
                table("empty", 0, &[]),
            ],
        };
        let l = Some(&live);
        assert!(ids_with(l, true, "ALTER TABLE users ALTER bio TYPE text").is_empty());
        assert_eq!(
            ids_with(l, true, "ALTER TABLE users ALTER id TYPE bigint"),
            ["alter-column-type-rewrite"]
        );
        assert!(ids_with(l, true, "ALTER TABLE users ALTER handle SET NOT NULL").is_empty());
        assert!(ids_with(l, true, "CREATE INDEX i ON empty (a)").is_empty());
        assert_eq!(
            ids_with(l, true, "ALTER TABLE empty DROP COLUMN a"),
            ["drop-column"]
        );
    }

    #[test]
    fn the_guard_rule_is_info_once_per_migration() {
        let mut walk = Walk::new(None);
        let a = walk.check(&ops("CREATE INDEX i ON a (x)")[0], true);
        let b = walk.check(&ops("CREATE INDEX j ON a (y)")[0], true);
        assert_eq!(a.last().unwrap().rule, "missing-lock-timeout");
        assert_eq!(a.last().unwrap().level, Level::Info);
        assert_eq!(b.len(), 1);
        walk.next_migration();
        walk.check(&ops("SET lock_timeout = '1s'")[0], true);
        assert_eq!(
            walk.check(&ops("CREATE INDEX k ON a (z)")[0], true).len(),
            1
        );
    }
}
