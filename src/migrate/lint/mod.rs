//! `migrate lint`: the statements of pending migrations that lock a live table for long (or
//! break the running app), read through the same SQL reader as `migrate up`, with the live
//! database's table sizes when it can be reached. `parse` recognises statements, `rules` says
//! what breaks which rule, `live` reads the tables.

pub mod alter;
pub mod catalog;
pub mod live;
pub mod parse;
pub mod rules;
pub mod tokens;
pub mod types;

use std::fmt;

use serde::Serialize;

use super::file::{Migration, Section};
use crate::error::usage;
use crate::sql::{Input, Item, Reader, Vars};
pub use live::Live;
pub use rules::{Level, Rule, RULES};

/// Below this many rows (the planner's estimate) a table is small: the default of
/// `--small-table`. Measured on the 2-core test machine with a users-shaped table (five text
/// columns and a uuid key): at 10,000 rows a `CREATE INDEX` took 7 ms, a table rewrite
/// (`ALTER COLUMN ... TYPE varchar(200)`) 20 ms and a `CHECK` validation 1 ms; at 100,000 rows
/// the rewrite takes about 200 ms, long enough for queued requests to be felt. So a lock on a
/// table under 10,000 rows is held for tens of milliseconds at most.
pub const SMALL_TABLE_ROWS: u64 = 10_000;

/// The rules whose harm is the time a lock is held, which a small table makes short; the
/// others (renames, drops, TRUNCATE, a migration that fails) hurt whatever the size.
const LOCK_RULES: &[&str] = &[
    "create-index-non-concurrent",
    "reindex-non-concurrent",
    "alter-column-type-rewrite",
    "set-not-null",
    "add-foreign-key-validating",
    "add-check-validating",
    "add-unique-without-index",
    "vacuum-full",
    "cluster",
    "add-column-volatile-default",
];

/// A lock finding on a table the live database says is small (`rows` estimated, under
/// `small_table`) is info: the lock lasts milliseconds. The finding still says the size.
fn level_for(rule: &str, level: Level, rows: Option<i64>, small_table: u64) -> (Level, bool) {
    let small = rows.is_some_and(|r| r >= 0 && (r as u64) < small_table);
    if level == Level::Error && small && LOCK_RULES.contains(&rule) {
        (Level::Info, true)
    } else {
        (level, false)
    }
}

/// One finding: where, which rule, what exactly, the table's size when known, and whether
/// a `-- cruddur-db:allow` comment silenced it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub rule: &'static str,
    pub level: Level,
    pub message: String,
    pub statement: String,
    pub table: Option<String>,
    /// The planner's estimate (`reltuples`), when the live table was read and analysed.
    pub rows: Option<i64>,
    pub size_bytes: Option<i64>,
    pub lock: &'static str,
    pub why: &'static str,
    pub fix: &'static str,
    /// The reason of the `-- cruddur-db:allow RULE reason` comment that silenced it.
    pub allowed: Option<String>,
    #[serde(skip)]
    size: Option<String>,
}

impl Finding {
    /// Counts for the exit code: an error nobody allowed.
    pub fn is_blocking(&self) -> bool {
        self.level == Level::Error && self.allowed.is_none()
    }

    /// One line: `file:line:col: level[rule]: message (size)`.
    pub fn headline(&self) -> String {
        let size = self
            .size
            .as_ref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        match &self.allowed {
            Some(reason) => format!(
                "{}:{}:{}: allowed[{}]: {}{size}: {reason}",
                self.file, self.line, self.column, self.rule, self.message
            ),
            None => format!(
                "{}:{}:{}: {}[{}]: {}{size}",
                self.file, self.line, self.column, self.level, self.rule, self.message
            ),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.headline())?;
        if self.allowed.is_none() {
            writeln!(f, "    lock: {}", self.lock)?;
            writeln!(f, "    why:  {}", self.why)?;
            writeln!(f, "    fix:  {}", self.fix)?;
        }
        Ok(())
    }
}

/// The counts a summary line gives.
pub fn summary(findings: &[Finding], migrations: usize) -> String {
    let count = |l: Level| {
        findings
            .iter()
            .filter(|f| f.allowed.is_none() && f.level == l)
            .count()
    };
    let allowed = findings.iter().filter(|f| f.allowed.is_some()).count();
    format!(
        "lint: {} error(s), {} warning(s), {} info, {allowed} allowed in {migrations} \
         migration(s)",
        count(Level::Error),
        count(Level::Warning),
        count(Level::Info)
    )
}

/// A `-- cruddur-db:allow RULE reason` comment line: the rule and the reason.
fn allow_comment(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim().strip_prefix("--")?.trim_start();
    let rest = rest.strip_prefix("cruddur-db:allow")?;
    let rest = rest.trim();
    let (rule, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    (!rule.is_empty()).then_some((rule, reason.trim()))
}

/// The allow comments in the run of comment lines just above a 1-based line of `text`.
fn allows_above(lines: &[&str], line: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut l = line.saturating_sub(1);
    while l >= 1 {
        let text = lines.get(l - 1).map_or("", |s| s.trim());
        if !text.starts_with("--") {
            break;
        }
        if let Some((rule, reason)) = allow_comment(text) {
            out.push((rule.to_string(), reason.to_string()));
        }
        l -= 1;
    }
    out
}

/// Lints the sections (each migration's up section, in order) of a pending set. `live` is
/// the database when it could be read.
/// `small_table`: see [`SMALL_TABLE_ROWS`] (it only matters with `live`).
pub fn lint(
    sections: &[(&Migration, &Section)],
    live: Option<&Live>,
    small_table: u64,
) -> anyhow::Result<Vec<Finding>> {
    let mut walk = rules::Walk::new(live);
    let mut out = Vec::new();
    for (m, section) in sections {
        walk.next_migration();
        let lines: Vec<&str> = section.sql.lines().collect();
        let input = Input::text(m.file_name.clone(), section.sql.clone());
        let at = |e: crate::sql::ReadError| {
            let (line, column) = section.file_pos(e.loc.line, e.loc.column);
            usage(format!(
                "{}:{line}:{column}: {}; nothing was linted",
                m.path.display(),
                e.message
            ))
        };
        let mut reader = Reader::open(&input, Vars::default(), false).map_err(at)?;
        // As the runner reads it: a `transaction:false` section's own BEGIN/COMMIT run.
        if !section.transaction {
            reader = reader.outside_transaction();
        }
        while let Some(item) = reader.next_item().map_err(at)? {
            let stmt = match item {
                Item::Sql(stmt) | Item::Copy { stmt, .. } => stmt,
                _ => continue,
            };
            let written = stmt.written();
            for (r, _) in allows_above(&lines, stmt.loc.line) {
                if !RULES.iter().any(|x| x.id == r) {
                    let (line, _) = section.file_pos(stmt.loc.line.saturating_sub(1), 1);
                    crate::ui::warn(&format!(
                        "{}:{line}: `-- cruddur-db:allow {r}` names no lint rule (see `migrate \
                         lint` in docs/migrations.md); it silences nothing",
                        m.path.display()
                    ));
                }
            }
            for op in parse::ops(written) {
                for hit in walk.check(&op, section.transaction) {
                    let loc = stmt.loc.advanced(written, hit.at);
                    let (line, column) = section.file_pos(loc.line, loc.column);
                    let mut allows = allows_above(&lines, loc.line);
                    allows.extend(allows_above(&lines, stmt.loc.line));
                    let allowed =
                        allows
                            .into_iter()
                            .find(|(r, _)| r == hit.rule)
                            .map(|(_, reason)| {
                                if reason.is_empty() {
                                    "(no reason given)".to_string()
                                } else {
                                    reason
                                }
                            });
                    let table = hit.table.as_ref().and_then(|t| live?.find(t));
                    let r = rules::rule(hit.rule);
                    let rows = table
                        .filter(|t| t.rows >= 0.0)
                        .map(|t| t.rows.round() as i64);
                    let (level, small) = level_for(hit.rule, hit.level, rows, small_table);
                    let message = if small {
                        format!(
                            "{} (a small table, under --small-table {small_table} rows: the \
                             lock is held for milliseconds)",
                            hit.what
                        )
                    } else {
                        hit.what
                    };
                    out.push(Finding {
                        file: m.path.display().to_string(),
                        line,
                        column,
                        rule: hit.rule,
                        level,
                        message,
                        statement: crate::sql::input::first_line(written),
                        table: hit.table.as_ref().map(ToString::to_string),
                        rows,
                        size_bytes: table.map(|t| t.total),
                        lock: r.lock,
                        why: r.why,
                        fix: r.fix,
                        allowed,
                        size: table.map(live::Table::describe),
                    });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_findings_on_small_tables_are_info() {
        let small = |rows| level_for("create-index-non-concurrent", Level::Error, rows, 10_000);
        assert_eq!(small(Some(3)), (Level::Info, true));
        assert_eq!(small(Some(9_999)), (Level::Info, true));
        assert_eq!(small(Some(10_000)), (Level::Error, false));
        // Never analysed: the size is unknown, so the finding stays an error.
        assert_eq!(small(None), (Level::Error, false));
        // A rename breaks the app whatever the size.
        assert_eq!(
            level_for("rename-column", Level::Error, Some(3), 10_000),
            (Level::Error, false)
        );
    }

    fn migration(dir: &std::path::Path, name: &str, text: &str) -> Migration {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        super::super::file::read(&p).unwrap()
    }

    #[test]
    fn positions_allows_and_the_pending_set() {
        let t = tempfile::tempdir().unwrap();
        let a = migration(
            t.path(),
            "20240101000000_a.sql",
            "-- migrate:up\nCREATE TABLE posts (id int);\nCREATE INDEX p ON posts (id);\n",
        );
        let b = migration(
            t.path(),
            "20240102000000_b.sql",
            "-- migrate:up\n-- a comment\n-- cruddur-db:allow create-index-non-concurrent tiny table\n\
             CREATE INDEX u ON users (handle);\n\
             ALTER TABLE users\n  ADD c int NOT NULL,\n  ALTER d TYPE bigint;\n\
             ALTER TABLE posts ADD e int NOT NULL;\n",
        );
        let f = lint(&[(&a, &a.up), (&b, &b.up)], None, SMALL_TABLE_ROWS).unwrap();
        let got: Vec<(usize, usize, &str, bool)> = f
            .iter()
            .map(|f| (f.line, f.column, f.rule, f.allowed.is_some()))
            .collect();
        assert_eq!(
            got,
            [
                (4, 1, "create-index-non-concurrent", true),
                (4, 1, "missing-lock-timeout", false),
                (6, 3, "add-column-not-null-no-default", false),
                (7, 3, "alter-column-type-rewrite", false),
            ]
        );
        assert_eq!(f[0].allowed.as_deref(), Some("tiny table"));
        assert!(f[0]
            .headline()
            .contains("20240102000000_b.sql:4:1: allowed["));
        assert!(f.iter().filter(|f| f.is_blocking()).count() == 2);
        assert!(summary(&f, 2).starts_with("lint: 2 error(s), 0 warning(s), 1 info, 1 allowed"));
    }

    #[test]
    fn a_py_migration_points_into_the_py_file() {
        let t = tempfile::tempdir().unwrap();
        let m = migration(
            t.path(),
            "16812294605993273_index.py",
            "class AddIndex:\n  def migrate_sql():\n    data = \"\"\"\n      CREATE INDEX i\n        ON users (handle);\n    \"\"\"\n    return data\n",
        );
        let f = lint(&[(&m, &m.up)], None, SMALL_TABLE_ROWS).unwrap();
        assert_eq!(f[0].rule, "create-index-non-concurrent");
        assert_eq!((f[0].line, f[0].column), (4, 7), "{f:?}");
    }

    #[test]
    fn allow_comments_are_read() {
        assert_eq!(
            allow_comment("  --  cruddur-db:allow drop-column  gone since v2"),
            Some(("drop-column", "gone since v2"))
        );
        assert_eq!(allow_comment("-- cruddur-db:allow"), None);
        assert_eq!(allow_comment("-- something else"), None);
    }

    #[test]
    fn every_rule_is_in_the_migrations_docs() {
        let readme = include_str!("../../../docs/migrations.md");
        for r in RULES {
            assert!(
                readme.contains(&format!("| `{}` |", r.id)),
                "{} not in docs/migrations.md",
                r.id
            );
        }
    }
}
