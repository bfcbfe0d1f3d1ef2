//! Whether the history tells the truth: an applied migration whose change is not in the
//! schema, or a pending one whose objects are all there already, is a history that lies
//! (a schema reloaded behind its back, a change made by hand). Checked against the live
//! tables and columns; only what the statements say plainly (CREATE TABLE, ADD COLUMN,
//! DROP TABLE, DROP COLUMN) is checked.

use std::collections::BTreeMap;

use super::file::Migration;
use super::lint::alter::Action;
use super::lint::live::Live;
use super::lint::parse::{self, Name, OpKind};
use super::plan::{MigrationState, StatusRow};
use crate::sql::{Input, Item, Reader, Vars};

/// One object a migration's up section leaves present (or absent).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Object {
    Table(String),
    Column(String, String),
}

impl std::fmt::Display for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Object::Table(t) => write!(f, "table {t}"),
            Object::Column(t, c) => write!(f, "column {t}.{c}"),
        }
    }
}

/// A migration the history is wrong about, and the command that fixes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lie {
    pub version: String,
    pub name: String,
    pub what: String,
    pub fix: String,
}

impl std::fmt::Display for Lie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}_{}: {}; fix: {}",
            self.version, self.name, self.what, self.fix
        )
    }
}

/// What a section's statements leave behind: each object and whether it exists after.
fn effects(m: &Migration) -> Vec<(Object, bool)> {
    let input = Input::text(m.file_name.clone(), m.up.sql.clone());
    let Ok(mut reader) = Reader::open(&input, Vars::default(), false) else {
        return Vec::new();
    };
    let mut out: Vec<(Object, bool)> = Vec::new();
    let key = |n: &Name| n.key();
    while let Ok(Some(item)) = reader.next_item() {
        let stmt = match item {
            Item::Sql(stmt) | Item::Copy { stmt, .. } => stmt,
            _ => continue,
        };
        for op in parse::ops(stmt.written()) {
            match op.kind {
                OpKind::CreateTable(n) => out.push((Object::Table(key(&n)), true)),
                OpKind::DropTable(names) => {
                    out.extend(names.iter().map(|n| (Object::Table(key(n)), false)));
                }
                OpKind::Alter { table, action } => match action {
                    Action::AddColumn { column, .. } => {
                        out.push((Object::Column(key(&table), column), true));
                    }
                    Action::DropColumn { column } => {
                        out.push((Object::Column(key(&table), column), false));
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    out
}

fn exists(live: &Live, o: &Object) -> bool {
    let find = |t: &str| {
        let (schema, name) = t.split_once('.').unwrap_or(("public", t));
        live.tables
            .iter()
            .find(|x| x.schema == schema && x.name == name)
    };
    match o {
        Object::Table(t) => find(t).is_some(),
        Object::Column(t, c) => find(t).is_some_and(|x| x.columns.contains_key(c)),
    }
}

/// The lies of a history: `rows` is `migrate status`, `migrations` the files, `live` the
/// database's tables. Applied migrations are replayed in order, so a later migration that
/// drops what an earlier one added is no lie; each object is judged by the last applied
/// migration that touched it. A pending migration lies when everything it creates exists.
pub fn check(rows: &[StatusRow], migrations: &[Migration], live: &Live) -> Vec<Lie> {
    let file = |v: &str| migrations.iter().find(|m| m.version.stamp == v);
    let mut last: BTreeMap<Object, (bool, &StatusRow)> = BTreeMap::new();
    let mut lies = Vec::new();
    for row in rows {
        let Some(m) = file(&row.version) else {
            continue;
        };
        match row.state {
            MigrationState::Applied => {
                for (o, present) in effects(m) {
                    last.insert(o, (present, row));
                }
            }
            MigrationState::Pending => {
                let creates: Vec<Object> = effects(m)
                    .into_iter()
                    .filter(|(_, present)| *present)
                    .map(|(o, _)| o)
                    .collect();
                if !creates.is_empty() && creates.iter().all(|o| exists(live, o)) {
                    lies.push(Lie {
                        version: row.version.clone(),
                        name: row.name.clone(),
                        what: format!(
                            "pending, but what it creates is already there ({})",
                            list(&creates)
                        ),
                        fix: format!(
                            "if the change was made by hand, `cruddur-db migrate mark {}`",
                            row.version
                        ),
                    });
                }
            }
            _ => {}
        }
    }
    let mut missing: BTreeMap<&str, (&StatusRow, Vec<Object>)> = BTreeMap::new();
    for (o, (present, row)) in last {
        if present && !exists(live, &o) {
            missing
                .entry(row.version.as_str())
                .or_insert_with(|| (row, Vec::new()))
                .1
                .push(o);
        }
    }
    for (_, (row, objects)) in missing {
        lies.push(Lie {
            version: row.version.clone(),
            name: row.name.clone(),
            what: format!(
                "applied, but its change is not in the schema ({} missing)",
                list(&objects)
            ),
            fix: format!(
                "`cruddur-db migrate mark {} --unapply`, then `cruddur-db migrate up`",
                row.version
            ),
        });
    }
    lies.sort_by(|a, b| a.version.cmp(&b.version));
    lies
}

fn list(objects: &[Object]) -> String {
    objects
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
