//! `migrate new NAME --from-diff`: writes the diff's statements as a migration that passes
//! `migrate lint` on the database the change was taken from. A `CREATE INDEX` on a table with
//! rows becomes `CREATE INDEX CONCURRENTLY` and a foreign key or CHECK on one is added
//! `NOT VALID`; those indexes and the `VALIDATE CONSTRAINT`s go into a second migration marked
//! `transaction:false`, one second later.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::file::{self, Migration};
use super::lint::{self, Live};

/// The files written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The migration in one transaction.
    pub main: PathBuf,
    /// The `transaction:false` one, when a statement had to move there.
    pub outside: Option<PathBuf>,
    /// The lint's findings on what was written (errors left are ones no rewrite makes safe).
    pub findings: Vec<lint::Finding>,
}

/// One up statement and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placed {
    /// Stays in the transactional migration as written.
    Keep(String),
    /// `CREATE INDEX ... ON` a table with rows: CONCURRENTLY, outside a transaction; the
    /// index's qualified name for the down section.
    Concurrently { create: String, index: String },
    /// `ADD CONSTRAINT` of a foreign key or CHECK on a table with rows: NOT VALID here,
    /// validated in the second migration.
    NotValid {
        add: String,
        table: String,
        constraint: String,
    },
}

/// Writes the migration (and, when needed, its `transaction:false` companion) into `dir`.
/// `live`: the tables of the database the diff was taken from (it has the change).
pub fn write(
    dir: &Path,
    name: &str,
    now: DateTime<Utc>,
    up: &[String],
    down: &[String],
    live: Option<&Live>,
    small_table: u64,
) -> anyhow::Result<Written> {
    // First as written, to let the lint say which statements lock a table with rows.
    let first = section_text(up);
    let blocking = match live {
        Some(live) => blocking_lines(&first, live, small_table)?,
        None => Vec::new(),
    };
    let placed = place(up, &blocking);
    let moved: Vec<&Placed> = placed
        .iter()
        .filter(|p| !matches!(p, Placed::Keep(_)))
        .collect();
    let main_up: Vec<String> = placed
        .iter()
        .map(|p| match p {
            Placed::Keep(s) => s.clone(),
            Placed::Concurrently { .. } => String::new(),
            Placed::NotValid { add, .. } => not_valid(add),
        })
        .filter(|s| !s.is_empty())
        .collect();
    // The index moves to the second migration, so its DROP moves to that one's down.
    let main_down: Vec<String> = down
        .iter()
        .filter(|d| {
            !moved.iter().any(|p| match p {
                Placed::Concurrently { index, .. } => is_drop_of(d, index),
                _ => false,
            })
        })
        .cloned()
        .collect();
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).with_context(|| format!("failed to write {}", path.display()))
    };
    // NOTE: when everything moved (an index was the whole change), the one migration is the
    // one outside a transaction, under the name asked for.
    if main_up.is_empty() && !moved.is_empty() {
        let main = super::new_file(dir, name, now)?;
        write(&main, outside_text(&moved))?;
        let m = file::read(&main)?;
        let findings = lint::lint(&[(&m, &m.up)], live, small_table)?;
        return Ok(Written {
            main,
            outside: None,
            findings,
        });
    }
    let mut main_down = section_text(&main_down);
    if main_down.trim().is_empty() {
        // NOTE: a statement, so that `down` undoes the pair (a section without one is refused).
        main_down =
            "-- what this migration did is undone by the next one's down\nSELECT 1;\n".into();
    }
    let main = super::new_file(dir, name, now)?;
    write(
        &main,
        format!(
            "-- migrate:up\n{}\n-- migrate:down\n{main_down}",
            section_text(&main_up)
        ),
    )?;
    let outside = if moved.is_empty() {
        None
    } else {
        let path = super::new_file(
            dir,
            &format!("{name}_outside_transaction"),
            now + chrono::Duration::seconds(1),
        )?;
        write(&path, outside_text(&moved))?;
        Some(path)
    };
    let mut files = vec![file::read(&main)?];
    if let Some(p) = &outside {
        files.push(file::read(p)?);
    }
    let sections: Vec<(&Migration, &super::Section)> = files.iter().map(|m| (m, &m.up)).collect();
    let findings = lint::lint(&sections, live, small_table)?;
    Ok(Written {
        main,
        outside,
        findings,
    })
}

/// The statements as a section, one after another.
fn section_text(statements: &[String]) -> String {
    statements
        .iter()
        .map(|s| {
            let mut s = s.trim_end().to_string();
            s.push('\n');
            s
        })
        .collect()
}

/// The lines (of `section`, counted from 1) where a blocking lint finding starts, linted
/// against `live` as one migration.
fn blocking_lines(section: &str, live: &Live, small_table: u64) -> anyhow::Result<Vec<usize>> {
    let scratch = tempfile::tempdir().context("failed to make a temporary directory")?;
    let path = scratch.path().join("19700101000000_from_diff.sql");
    std::fs::write(&path, format!("-- migrate:up\n{section}"))
        .context("failed to write a temporary migration")?;
    let m = file::read(&path)?;
    let findings = lint::lint(&[(&m, &m.up)], Some(live), small_table)?;
    Ok(findings
        .iter()
        .filter(|f| f.is_blocking())
        .filter(|f| {
            matches!(
                f.rule,
                "create-index-non-concurrent"
                    | "add-foreign-key-validating"
                    | "add-check-validating"
            )
        })
        // The file's line 1 is the `-- migrate:up` marker.
        .map(|f| f.line.saturating_sub(1))
        .collect())
}

/// Decides where each statement goes: the ones a blocking finding points into are moved or
/// rewritten, when they have the shape the catalog diff writes.
fn place(up: &[String], blocking: &[usize]) -> Vec<Placed> {
    let mut line = 1;
    up.iter()
        .map(|s| {
            let text = s.trim_end();
            let lines = text.lines().count().max(1);
            let hit = blocking.iter().any(|l| *l >= line && *l < line + lines);
            line += lines;
            if !hit {
                return Placed::Keep(s.clone());
            }
            let sql = statement_of(text);
            if let Some(index) = created_index(sql) {
                return Placed::Concurrently {
                    create: concurrently(sql),
                    index,
                };
            }
            if let Some((table, constraint)) = added_constraint(sql) {
                return Placed::NotValid {
                    add: sql.to_string(),
                    table,
                    constraint,
                };
            }
            Placed::Keep(s.clone())
        })
        .collect()
}

/// The statement without the comment lines the diff puts above it.
fn statement_of(text: &str) -> &str {
    let mut rest = text;
    while rest.starts_with("--") {
        rest = rest.split_once('\n').map_or("", |(_, r)| r);
    }
    rest.trim()
}

/// The words of a statement the catalog diff wrote: names are plain or double-quoted
/// (quotes doubled inside), so splitting on spaces outside double quotes is exact for the
/// head of the statement read here.
fn words(sql: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (None, false);
    for (i, c) in sql.char_indices() {
        match c {
            '"' => {
                quoted = !quoted;
                start.get_or_insert(i);
            }
            c if c.is_whitespace() && !quoted => {
                if let Some(s) = start.take() {
                    out.push(&sql[s..i]);
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
        if out.len() >= 8 {
            return out;
        }
    }
    if let Some(s) = start {
        out.push(&sql[s..]);
    }
    out
}

/// `CREATE [UNIQUE] INDEX name ON [ONLY] schema.table ...`: the index's qualified name.
fn created_index(sql: &str) -> Option<String> {
    let w = words(sql);
    let at = match w.as_slice() {
        ["CREATE", "INDEX", ..] => 2,
        ["CREATE", "UNIQUE", "INDEX", ..] => 3,
        _ => return None,
    };
    let (name, on) = (w.get(at)?, w.get(at + 1)?);
    if *on != "ON" {
        return None;
    }
    let table = match w.get(at + 2)? {
        &"ONLY" => w.get(at + 3)?,
        t => t,
    };
    let schema = split_qualified(table)?.0;
    Some(format!("{schema}.{name}"))
}

/// `schema.table` as written (each part possibly quoted) into its two parts.
fn split_qualified(name: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (i, c) in name.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => return Some((&name[..i], &name[i + 1..])),
            _ => {}
        }
    }
    None
}

/// `CREATE INDEX` → `CREATE INDEX CONCURRENTLY` (also UNIQUE).
fn concurrently(sql: &str) -> String {
    let at = sql.find(" INDEX ").map(|i| i + " INDEX".len());
    match at {
        Some(i) => format!("{} CONCURRENTLY{}", &sql[..i], &sql[i..]),
        None => sql.to_string(),
    }
}

/// `ALTER TABLE [ONLY] t ADD CONSTRAINT c FOREIGN KEY|CHECK ...`: the table and constraint.
fn added_constraint(sql: &str) -> Option<(String, String)> {
    let w = words(sql);
    let (table, rest) = match w.as_slice() {
        ["ALTER", "TABLE", "ONLY", t, rest @ ..] => (t, rest),
        ["ALTER", "TABLE", t, rest @ ..] => (t, rest),
        _ => return None,
    };
    match rest {
        ["ADD", "CONSTRAINT", c, kind, ..]
            if kind.starts_with("FOREIGN") || kind.starts_with("CHECK") =>
        {
            Some((table.to_string(), c.to_string()))
        }
        _ => None,
    }
}

/// The `ADD CONSTRAINT` statement with `NOT VALID` (before its `;`).
fn not_valid(sql: &str) -> String {
    let body = sql.trim_end().trim_end_matches(';').trim_end();
    format!("{body} NOT VALID;")
}

/// `DROP INDEX [IF EXISTS] <index>` as the diff writes it.
fn is_drop_of(down: &str, index: &str) -> bool {
    let sql = statement_of(down.trim_end());
    let w = words(sql);
    match w.as_slice() {
        ["DROP", "INDEX", "IF", "EXISTS", n, ..] | ["DROP", "INDEX", n, ..] => {
            unquoted(n.trim_end_matches(';')) == unquoted(index)
        }
        _ => false,
    }
}

/// A (qualified) name as the server reads it: each part unquoted (`""` inside a quoted part
/// is one `"`), an unquoted part folded to lower case.
fn unquoted(name: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = name.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            c if quoted => cur.push(c),
            c => cur.extend(c.to_lowercase()),
        }
    }
    parts.push(cur);
    parts
}

/// The second migration: the concurrent index builds and the validations, outside a
/// transaction; its down drops the indexes concurrently (a validation has nothing to undo).
fn outside_text(moved: &[&Placed]) -> String {
    let mut up = String::new();
    let mut down = String::new();
    for p in moved {
        match p {
            Placed::Concurrently { create, index } => {
                up.push_str(&format!("{}\n", create.trim_end()));
                down.push_str(&format!("DROP INDEX CONCURRENTLY IF EXISTS {index};\n"));
            }
            Placed::NotValid {
                table, constraint, ..
            } => {
                up.push_str(&format!(
                    "ALTER TABLE {table} VALIDATE CONSTRAINT {constraint};\n"
                ));
            }
            Placed::Keep(_) => {}
        }
    }
    if down.is_empty() {
        // NOTE: a statement, so that `down` undoes the pair (a section without one is refused).
        down.push_str("-- validating a constraint has nothing to undo\nSELECT 1;\n");
    }
    format!(
        "-- migrate:up transaction:false\n-- CONCURRENTLY and VALIDATE hold no lock that stops \
         writes; they cannot run in a transaction\n{up}\n-- migrate:down transaction:false\n{down}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_constraint_shapes_are_read() {
        assert_eq!(
            created_index("CREATE INDEX users_handle ON public.users USING btree (handle);"),
            Some("public.users_handle".into())
        );
        assert_eq!(
            created_index("CREATE UNIQUE INDEX \"a b\" ON ONLY \"my.s\".t USING btree (x);"),
            Some("\"my.s\".\"a b\"".into())
        );
        assert_eq!(created_index("CREATE TABLE x (a int);"), None);
        assert_eq!(
            concurrently("CREATE UNIQUE INDEX i ON public.t USING btree (a);"),
            "CREATE UNIQUE INDEX CONCURRENTLY i ON public.t USING btree (a);"
        );
        assert_eq!(
            added_constraint(
                "ALTER TABLE public.activities ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES public.users(uuid);"
            ),
            Some(("public.activities".into(), "fk".into()))
        );
        assert_eq!(
            added_constraint("ALTER TABLE public.t ADD CONSTRAINT u UNIQUE (a);"),
            None
        );
        assert_eq!(
            not_valid("ALTER TABLE t ADD CONSTRAINT c CHECK ((a > 0));"),
            "ALTER TABLE t ADD CONSTRAINT c CHECK ((a > 0)) NOT VALID;"
        );
        assert!(is_drop_of(
            "DROP INDEX public.users_handle;\n",
            "public.users_handle"
        ));
        assert!(!is_drop_of(
            "DROP INDEX public.other;\n",
            "public.users_handle"
        ));
    }
}
