//! What a run would do: the status of every migration, the plan of `up` or `down`, the
//! checks made before anything runs, and the destructive statements flagged in a plan.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::file::{Migration, Section};
use super::store::{Applied, State};
use super::version::Version;
use crate::error::usage;

/// The state of one migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrationState {
    Applied,
    Pending,
    /// Applied, and its file changed since.
    Changed,
    /// Applied, and its file is gone.
    Missing,
}

impl fmt::Display for MigrationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MigrationState::Applied => "applied",
            MigrationState::Pending => "pending",
            MigrationState::Changed => "changed",
            MigrationState::Missing => "missing",
        })
    }
}

/// One line of `migrate status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    pub version: String,
    pub name: String,
    pub state: MigrationState,
    pub applied_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub time: Option<Version>,
}

/// Every migration, from the files and the database, in time order.
pub fn status(migrations: &[Migration], state: &State) -> Vec<StatusRow> {
    let mut rows: Vec<StatusRow> = migrations
        .iter()
        .map(|m| {
            let applied = state
                .applied
                .iter()
                .find(|a| a.version.stamp == m.version.stamp);
            StatusRow {
                version: m.version.stamp.clone(),
                name: m.name.clone(),
                state: match applied {
                    None => MigrationState::Pending,
                    Some(a) if a.checksum != m.checksum => MigrationState::Changed,
                    Some(_) => MigrationState::Applied,
                },
                applied_at: applied.and_then(|a| a.applied_at),
                time: Some(m.version.clone()),
            }
        })
        .collect();
    for a in &state.applied {
        if !migrations
            .iter()
            .any(|m| m.version.stamp == a.version.stamp)
        {
            rows.push(StatusRow {
                version: a.version.stamp.clone(),
                name: a.name.clone(),
                state: MigrationState::Missing,
                applied_at: a.applied_at,
                time: Some(a.version.clone()),
            });
        }
    }
    rows.sort_by(|a, b| a.time.cmp(&b.time));
    rows
}

/// Refuses (exit 1) when an applied migration's file changed: the file and both checksums.
pub fn check_unchanged(migrations: &[Migration], state: &State) -> anyhow::Result<()> {
    let changed: Vec<String> = migrations
        .iter()
        .filter_map(|m| {
            let a = state
                .applied
                .iter()
                .find(|a| a.version.stamp == m.version.stamp)?;
            (a.checksum != m.checksum).then(|| {
                format!(
                    "  {}: recorded sha256 {}, file now sha256 {}",
                    m.path.display(),
                    a.checksum,
                    m.checksum
                )
            })
        })
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    Err(anyhow::anyhow!(
        "{} applied migration{} changed since {} applied; nothing was run:\n{}\n  \
         an applied migration must not be edited: undo it first (`migrate down`), or write a new migration",
        changed.len(),
        if changed.len() == 1 { "" } else { "s" },
        if changed.len() == 1 { "it was" } else { "they were" },
        changed.join("\n")
    ))
}

/// Which way a plan goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// A destructive statement in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub what: &'static str,
    pub line: usize,
    pub statement: String,
}

/// One migration of a plan, with the section that runs.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub migration: &'a Migration,
    pub section: &'a Section,
    pub flags: Vec<Flag>,
}

/// What `up` or `down` is about to run.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub direction: Direction,
    pub database: String,
    pub steps: Vec<Step<'a>>,
    /// The lint's findings on the steps, shown before the confirmation (a protected target).
    pub lint: Vec<super::lint::Finding>,
}

impl Plan<'_> {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The plan followed by each step's SQL, for `--dry-run`.
    pub fn with_sql(&self) -> String {
        let mut out = self.to_string();
        for s in &self.steps {
            out.push_str(&format!(
                "\n-- {} ({}{})\n{}",
                s.migration.file_name,
                match self.direction {
                    Direction::Up => "up",
                    Direction::Down => "down",
                },
                if s.section.transaction {
                    ""
                } else {
                    ", transaction:false"
                },
                s.section.sql.trim_matches('\n')
            ));
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Plan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.steps.len();
        let (verb, way) = match self.direction {
            Direction::Up => ("apply", "up"),
            Direction::Down => ("undo", "down"),
        };
        writeln!(
            f,
            "plan: {verb} {n} migration{} on database {:?} ({way}):",
            if n == 1 { "" } else { "s" },
            self.database
        )?;
        for s in &self.steps {
            writeln!(f, "  {} {}", way, s.migration.file_name)?;
            for flag in &s.flags {
                writeln!(
                    f,
                    "    DESTRUCTIVE {} at {}:{}: {}",
                    flag.what, s.migration.file_name, flag.line, flag.statement
                )?;
            }
        }
        let flagged: usize = self.steps.iter().map(|s| s.flags.len()).sum();
        if flagged > 0 {
            writeln!(f, "  {flagged} destructive statement(s) flagged")?;
        }
        if !self.lint.is_empty() {
            writeln!(
                f,
                "  lock lint ({}):",
                super::lint::summary(&self.lint, self.steps.len())
            )?;
            for finding in &self.lint {
                writeln!(f, "    {}", finding.headline())?;
                if finding.allowed.is_none() {
                    writeln!(f, "      fix: {}", finding.fix)?;
                }
            }
        }
        Ok(())
    }
}

/// The pending migrations in time order. Refuses (exit 2) an empty up section.
pub fn up<'a>(
    migrations: &'a [Migration],
    state: &State,
    database: &str,
) -> anyhow::Result<Plan<'a>> {
    let mut steps = Vec::new();
    for m in migrations {
        if state
            .applied
            .iter()
            .any(|a| a.version.stamp == m.version.stamp)
        {
            continue;
        }
        if m.up.is_empty() {
            return Err(usage(format!(
                "{}: the up section is empty; write the migration's SQL first (nothing was run)",
                m.path.display()
            )));
        }
        steps.push(step(m, &m.up)?);
    }
    Ok(Plan {
        direction: Direction::Up,
        database: database.to_string(),
        steps,
        lint: Vec::new(),
    })
}

/// The newest `n` applied migrations, newest first. Refuses (exit 2) one whose file is gone
/// or that has no down section.
pub fn down<'a>(
    migrations: &'a [Migration],
    state: &State,
    database: &str,
    n: usize,
) -> anyhow::Result<Plan<'a>> {
    let mut steps = Vec::new();
    for a in state.applied.iter().rev().take(n) {
        let Some(m) = migrations
            .iter()
            .find(|m| m.version.stamp == a.version.stamp)
        else {
            return Err(usage(format!(
                "cannot undo {}: it is applied but its file is gone (nothing was undone)",
                a.file
            )));
        };
        let Some(down) = &m.down else {
            return Err(usage(format!(
                "refused: {} has no down section (nothing was undone); {}",
                m.path.display(),
                match m.format {
                    super::version::Format::Sql =>
                        "add `-- migrate:down` and the SQL that undoes it",
                    super::version::Format::Py =>
                        "add `def rollback_sql():` returning the SQL that undoes it",
                }
            )));
        };
        steps.push(step(m, down)?);
    }
    Ok(Plan {
        direction: Direction::Down,
        database: database.to_string(),
        steps,
        lint: Vec::new(),
    })
}

/// The steps of `plan` that are not in the `confirmed` versions: a plan made again under the
/// lock must not grow past the one that was confirmed.
pub fn unconfirmed<'a>(plan: &Plan<'a>, confirmed: &[String]) -> Vec<&'a str> {
    plan.steps
        .iter()
        .filter(|s| !confirmed.contains(&s.migration.version.stamp))
        .map(|s| s.migration.file_name.as_str())
        .collect()
}

fn step<'a>(m: &'a Migration, section: &'a Section) -> anyhow::Result<Step<'a>> {
    let flags = destructive(section).map_err(|(line, column, what)| {
        usage(format!(
            "{}:{line}:{column}: {what}; nothing was run",
            m.path.display()
        ))
    })?;
    Ok(Step {
        migration: m,
        section,
        flags,
    })
}

/// The destructive statements of a section, with their line in the file. What cannot run
/// is an error at its file position (line, column, what): an unclosed quote or comment, or
/// transaction control that would end the migration's one transaction (refused here,
/// before any migration of the plan runs).
pub fn destructive(section: &Section) -> Result<Vec<Flag>, (usize, usize, String)> {
    let input = crate::sql::Input::text("migration", section.sql.clone());
    let at = |e: crate::sql::ReadError| {
        let (line, column) = section.file_pos(e.loc.line, e.loc.column);
        (line, column, e.message)
    };
    let mut reader =
        crate::sql::Reader::open(&input, crate::sql::Vars::default(), false).map_err(at)?;
    if !section.transaction {
        reader = reader.outside_transaction();
    }
    let mut out = Vec::new();
    while let Some(item) = reader.next_item().map_err(at)? {
        let stmt = match item {
            crate::sql::Item::Sql(stmt) | crate::sql::Item::Copy { stmt, .. } => stmt,
            _ => continue,
        };
        for what in classify(&stmt.sql) {
            out.push(Flag {
                what,
                line: section.file_pos(stmt.loc.line, stmt.loc.column).0,
                statement: crate::sql::input::first_line(stmt.written()),
            });
        }
    }
    Ok(out)
}

/// What is destructive in one statement (as the classifier says): DELETE or UPDATE without
/// its own WHERE (in a CTE too), TRUNCATE, DROP of any object, ALTER TABLE ... DROP COLUMN,
/// ALTER COLUMN ... TYPE, SET NOT NULL, RENAME.
pub fn classify(sql: &str) -> Vec<&'static str> {
    crate::sql::classify::classify(sql).destructive()
}

/// The adopted migrations, for the message that says so.
pub fn adopted_names(adopt: &[Applied]) -> String {
    adopt
        .iter()
        .map(|a| a.file.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destructive_statements_are_flagged() {
        let cases: &[(&str, &[&str])] = &[
            ("DROP TABLE public.likes;", &["DROP TABLE"]),
            ("drop schema x cascade", &["DROP SCHEMA"]),
            ("DROP INDEX i;", &["DROP INDEX"]),
            ("DROP VIEW v CASCADE;", &["DROP VIEW"]),
            (
                "ALTER TABLE users ALTER bio SET NOT NULL;",
                &["SET NOT NULL"],
            ),
            ("TRUNCATE activities;", &["TRUNCATE"]),
            ("ALTER TABLE users DROP COLUMN bio;", &["DROP COLUMN"]),
            ("ALTER TABLE users DROP bio;", &["DROP COLUMN"]),
            ("ALTER TABLE users DROP CONSTRAINT c;", &[]),
            ("ALTER TABLE users ALTER COLUMN bio DROP NOT NULL;", &[]),
            (
                "ALTER TABLE users ALTER COLUMN bio TYPE varchar(80);",
                &["ALTER COLUMN ... TYPE"],
            ),
            (
                "ALTER TABLE users ALTER bio SET DATA TYPE text;",
                &["ALTER COLUMN ... TYPE"],
            ),
            ("ALTER TABLE users RENAME COLUMN bio TO about;", &["RENAME"]),
            ("ALTER TABLE users ADD COLUMN type text;", &[]),
            ("DELETE FROM users;", &["DELETE without WHERE"]),
            ("DELETE FROM users WHERE handle = 'x';", &[]),
            ("UPDATE users SET bio = 'where';", &["UPDATE without WHERE"]),
            (
                "UPDATE users SET bio = '' -- where\n;",
                &["UPDATE without WHERE"],
            ),
            ("UPDATE users SET bio = NULL WHERE true;", &[]),
            (
                "WITH x AS (SELECT 1) DELETE FROM users;",
                &["DELETE without WHERE"],
            ),
            (
                "CREATE FUNCTION f() RETURNS void AS $$ DELETE FROM t; $$ LANGUAGE sql;",
                &[],
            ),
            ("INSERT INTO users (handle) VALUES ('drop table');", &[]),
            // Regression: a WHERE in a CTE or a sub-select is not the statement's own.
            (
                "WITH x AS (SELECT 1 WHERE true) DELETE FROM users;",
                &["DELETE without WHERE"],
            ),
            (
                "UPDATE activities SET message = (SELECT 'x' WHERE true);",
                &["UPDATE without WHERE"],
            ),
            (
                "WITH gone AS (DELETE FROM activities RETURNING 1) SELECT count(*) FROM gone;",
                &["DELETE without WHERE"],
            ),
        ];
        for (sql, want) in cases {
            assert_eq!(classify(sql), *want, "{sql}");
        }
    }
}
