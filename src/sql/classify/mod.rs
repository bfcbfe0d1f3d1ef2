//! The statement classifier: for one statement's tokens, what it is, which relations it
//! writes, whether its own top-level WHERE limits each DELETE and UPDATE in it (a WHERE in a
//! sub-select or in another CTE does not), and the lock PostgreSQL takes for it. The runner
//! (transaction control), `migrate lint` and the protected-target plan all ask it; a test
//! checks it against PostgreSQL's own parser (tests/classify_pglast.rs).

mod tx;

use std::fmt;

pub use tx::{tx_control, TxForm};

use super::lex::{self, token::Kind as T, Token};

/// What kind of object a DROP removes: PostgreSQL's name for it and the flag a plan shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Object {
    /// The words after DROP.
    pub words: &'static [&'static str],
    /// PostgreSQL's name (its `OBJECT_*` type, lower case).
    pub name: &'static str,
    /// Whether it is a relation (its names are relations the DROP writes).
    pub relation: bool,
}

/// The objects DROP knows, longest words first.
const OBJECTS: &[Object] = &[
    obj(&["MATERIALIZED", "VIEW"], "matview", true),
    obj(&["FOREIGN", "TABLE"], "foreign_table", true),
    obj(&["FOREIGN", "DATA", "WRAPPER"], "fdw", false),
    obj(&["EVENT", "TRIGGER"], "event_trigger", false),
    obj(&["ACCESS", "METHOD"], "access_method", false),
    obj(&["TEXT", "SEARCH"], "text_search", false),
    obj(&["OPERATOR", "CLASS"], "opclass", false),
    obj(&["OPERATOR", "FAMILY"], "opfamily", false),
    obj(&["USER", "MAPPING"], "user_mapping", false),
    obj(&["OWNED", "BY"], "owned", false),
    obj(&["TABLE"], "table", true),
    obj(&["VIEW"], "view", true),
    obj(&["INDEX"], "index", true),
    obj(&["SEQUENCE"], "sequence", true),
    obj(&["SCHEMA"], "schema", false),
    obj(&["FUNCTION"], "function", false),
    obj(&["PROCEDURE"], "procedure", false),
    obj(&["ROUTINE"], "routine", false),
    obj(&["AGGREGATE"], "aggregate", false),
    obj(&["OPERATOR"], "operator", false),
    obj(&["TYPE"], "type", false),
    obj(&["DOMAIN"], "domain", false),
    obj(&["EXTENSION"], "extension", false),
    obj(&["TRIGGER"], "trigger", false),
    obj(&["RULE"], "rule", false),
    obj(&["POLICY"], "policy", false),
    obj(&["PUBLICATION"], "publication", false),
    obj(&["SUBSCRIPTION"], "subscription", false),
    obj(&["STATISTICS"], "statistic_ext", false),
    obj(&["COLLATION"], "collation", false),
    obj(&["CONVERSION"], "conversion", false),
    obj(&["CAST"], "cast", false),
    obj(&["LANGUAGE"], "language", false),
    obj(&["SERVER"], "foreign_server", false),
    obj(&["TRANSFORM"], "transform", false),
    obj(&["TABLESPACE"], "tablespace", false),
    obj(&["DATABASE"], "database", false),
    obj(&["ROLE"], "role", false),
    obj(&["USER"], "role", false),
    obj(&["GROUP"], "role", false),
];

const fn obj(words: &'static [&'static str], name: &'static str, relation: bool) -> Object {
    Object {
        words,
        name,
        relation,
    }
}

/// What a statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SELECT, VALUES, TABLE (a data-modifying CTE in front is in [`Statement::modifies`]).
    Select,
    Insert,
    Update,
    Delete,
    Merge,
    Truncate,
    Drop(Object),
    AlterTable,
    Create,
    Tx(TxForm),
    Other,
}

impl Kind {
    /// A short name, as the differential test prints it.
    pub fn name(&self) -> String {
        match self {
            Kind::Select => "select".into(),
            Kind::Insert => "insert".into(),
            Kind::Update => "update".into(),
            Kind::Delete => "delete".into(),
            Kind::Merge => "merge".into(),
            Kind::Truncate => "truncate".into(),
            Kind::Drop(o) => format!("drop:{}", o.name),
            Kind::AlterTable => "alter_table".into(),
            Kind::Create => "create".into(),
            Kind::Tx(_) => "tx".into(),
            Kind::Other => "other".into(),
        }
    }
}

/// A relation a statement names: schema (when written), name, and `ONLY`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Relation {
    pub schema: Option<String>,
    pub name: String,
    pub only: bool,
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.only {
            f.write_str("only ")?;
        }
        write!(f, "{}.{}", self.schema.as_deref().unwrap_or(""), self.name)
    }
}

/// A data-modifying verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    Insert,
    Update,
    Delete,
    Merge,
}

/// One INSERT/UPDATE/DELETE/MERGE in a statement (its own, or a CTE's): its target and
/// whether its own WHERE limits it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Modify {
    pub verb: Verb,
    pub target: Relation,
    pub limited: bool,
}

/// What one action of an ALTER TABLE does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    DropColumn,
    AlterType,
    SetNotNull,
    Rename,
    Other,
}

/// The lock PostgreSQL takes on the relations a statement names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lock {
    None,
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl fmt::Display for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lock::None => "no lock",
            Lock::AccessShare => "ACCESS SHARE",
            Lock::RowShare => "ROW SHARE",
            Lock::RowExclusive => "ROW EXCLUSIVE",
            Lock::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            Lock::Share => "SHARE",
            Lock::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            Lock::Exclusive => "EXCLUSIVE",
            Lock::AccessExclusive => "ACCESS EXCLUSIVE",
        })
    }
}

/// What the classifier says of one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub kind: Kind,
    /// Every INSERT/UPDATE/DELETE/MERGE in it: its own and its CTEs'.
    pub modifies: Vec<Modify>,
    /// The relations it writes: the targets of `modifies`, TRUNCATE's tables, ALTER TABLE's
    /// table, the relations a DROP removes.
    pub writes: Vec<Relation>,
    /// ALTER TABLE's actions.
    pub actions: Vec<Action>,
    pub lock: Lock,
}

impl Statement {
    /// What is destructive in it, as a plan flags it.
    pub fn destructive(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for m in &self.modifies {
            match m.verb {
                Verb::Delete if !m.limited => out.push("DELETE without WHERE"),
                Verb::Update if !m.limited => out.push("UPDATE without WHERE"),
                _ => {}
            }
        }
        match self.kind {
            Kind::Truncate => out.push("TRUNCATE"),
            Kind::Drop(o) => out.push(drop_flag(o)),
            Kind::AlterTable => {
                for a in &self.actions {
                    out.push(match a {
                        Action::DropColumn => "DROP COLUMN",
                        Action::AlterType => "ALTER COLUMN ... TYPE",
                        Action::SetNotNull => "SET NOT NULL",
                        Action::Rename => "RENAME",
                        Action::Other => continue,
                    });
                }
            }
            _ => {}
        }
        out.dedup();
        out
    }
}

/// The flag of a DROP: `DROP TABLE`, `DROP SCHEMA`, ...
fn drop_flag(o: Object) -> &'static str {
    match o.name {
        "table" => "DROP TABLE",
        "schema" => "DROP SCHEMA",
        "view" => "DROP VIEW",
        "matview" => "DROP MATERIALIZED VIEW",
        "index" => "DROP INDEX",
        "sequence" => "DROP SEQUENCE",
        "foreign_table" => "DROP FOREIGN TABLE",
        "function" | "procedure" | "routine" | "aggregate" => "DROP FUNCTION",
        "type" | "domain" => "DROP TYPE",
        "extension" => "DROP EXTENSION",
        "trigger" => "DROP TRIGGER",
        "database" => "DROP DATABASE",
        "role" => "DROP ROLE",
        "owned" => "DROP OWNED",
        _ => "DROP",
    }
}

/// A `U&"..."` name's text with its escapes read: `\XXXX`, `\+XXXXXX`, `\\`. NOTE: a
/// `UESCAPE` clause after the name is not followed (the default escape is read).
fn unescape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (digits, skip) = if let Some(more) = after.strip_prefix('\\') {
            out.push('\\');
            rest = more;
            continue;
        } else if let Some(six) = after.strip_prefix('+') {
            (six.get(..6), 7)
        } else {
            (after.get(..4), 4)
        };
        match digits
            .and_then(|d| u32::from_str_radix(d, 16).ok())
            .and_then(char::from_u32)
        {
            Some(c) => {
                out.push(c);
                rest = &after[skip..];
            }
            None => {
                out.push('\\');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Classifies one statement (its `;` may be there or not).
pub fn classify(sql: &str) -> Statement {
    let toks: Vec<Token> = lex::code(sql).collect();
    Parser { sql, toks: &toks }.statement()
}

/// Reads one statement's tokens (a CTE's body is read by a parser of its own tokens).
struct Parser<'a> {
    sql: &'a str,
    toks: &'a [Token],
}

impl<'a> Parser<'a> {
    fn is(&self, i: usize, kw: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.is(self.sql, kw))
    }

    fn punct(&self, i: usize, p: u8) -> bool {
        self.toks.get(i).is_some_and(|t| t.kind == T::Punct(p))
    }

    /// Skips the keyword `kw` at `i` when it is there.
    fn opt(&self, i: usize, kw: &str) -> usize {
        if self.is(i, kw) {
            i + 1
        } else {
            i
        }
    }

    /// The index of the `)` that closes the `(` at `i` (the end when it is never closed).
    fn close(&self, i: usize) -> usize {
        let d = self.toks[i].depth;
        (i + 1..self.toks.len())
            .find(|&j| self.toks[j].kind == T::Punct(b')') && self.toks[j].depth == d)
            .unwrap_or(self.toks.len())
    }

    /// A name's part: an unquoted word folded to lower case, or a quoted identifier.
    fn ident(&self, i: usize) -> Option<String> {
        let t = self.toks.get(i)?;
        let text = t.text(self.sql);
        match t.kind {
            T::Word => Some(text.to_ascii_lowercase()),
            T::Quoted => {
                let unicode = text.starts_with(['U', 'u']);
                let inner = text.trim_start_matches(['U', 'u']).trim_start_matches('&');
                let inner = inner.strip_prefix('"').unwrap_or(inner);
                let inner = inner.strip_suffix('"').unwrap_or(inner);
                let name = inner.replace("\"\"", "\"");
                Some(if unicode { unescape(&name) } else { name })
            }
            _ => None,
        }
    }

    /// A relation name at `i` (`[ONLY] [catalog.][schema.]name [*]`), and where it ends.
    fn relation(&self, mut i: usize, only_allowed: bool) -> Option<(Relation, usize)> {
        let mut only = false;
        if only_allowed && self.is(i, "ONLY") && !self.punct(i + 1, b'.') {
            only = true;
            i += 1;
            // `ONLY (name)`.
            if self.punct(i, b'(') {
                let (r, _) = self.relation(i + 1, false)?;
                return Some((Relation { only, ..r }, self.close(i) + 1));
            }
        }
        let mut parts = vec![self.ident(i)?];
        i += 1;
        while parts.len() < 3 && self.punct(i, b'.') {
            parts.push(self.ident(i + 1)?);
            i += 2;
        }
        if self.toks.get(i).is_some_and(|t| t.kind == T::Op) && self.toks[i].text(self.sql) == "*" {
            i += 1;
        }
        let name = parts.pop()?;
        let schema = parts.pop();
        Some((Relation { schema, name, only }, i))
    }

    /// Whether a WHERE stands at the statement's own depth from `i` on.
    fn own_where(&self, from: usize) -> bool {
        let d = self.toks.first().map_or(0, |t| t.depth);
        self.toks[from.min(self.toks.len())..]
            .iter()
            .any(|t| t.depth == d && t.is(self.sql, "WHERE"))
    }

    fn statement(&self) -> Statement {
        let mut s = Statement {
            kind: Kind::Other,
            modifies: Vec::new(),
            writes: Vec::new(),
            actions: Vec::new(),
            lock: Lock::None,
        };
        if self.toks.is_empty() {
            return s;
        }
        // `(SELECT ...)`: what is inside.
        if self.punct(0, b'(') {
            let end = self.close(0);
            let mut inner = Parser {
                sql: self.sql,
                toks: &self.toks[1..end],
            }
            .statement();
            if inner.kind == Kind::Other {
                inner.kind = Kind::Select;
            }
            return inner;
        }
        let mut i = 0;
        if self.is(0, "WITH") {
            i = self.ctes(&mut s);
        }
        // `WITH ... (SELECT ...)`.
        if i > 0 && self.punct(i, b'(') {
            s.kind = Kind::Select;
            s.lock = s.lock.max(Lock::AccessShare);
            return s;
        }
        if let Some(form) = tx::form(self.sql, &self.toks[i..]) {
            s.kind = Kind::Tx(form);
            return s;
        }
        let Some(first) = self.toks.get(i) else {
            return s;
        };
        let word = if first.kind == T::Word {
            first.text(self.sql).to_ascii_uppercase()
        } else {
            String::new()
        };
        match word.as_str() {
            "SELECT" | "VALUES" | "TABLE" => {
                s.kind = Kind::Select;
                // A data-modifying CTE in front keeps its stronger lock.
                s.lock = s
                    .lock
                    .max(if (i..self.toks.len()).any(|k| self.is(k, "FOR")) {
                        Lock::RowShare
                    } else {
                        Lock::AccessShare
                    });
            }
            "INSERT" => self.modify(&mut s, Verb::Insert, self.opt(i + 1, "INTO"), false),
            "UPDATE" => self.modify(&mut s, Verb::Update, i + 1, true),
            "DELETE" => self.modify(&mut s, Verb::Delete, self.opt(i + 1, "FROM"), true),
            "MERGE" => self.modify(&mut s, Verb::Merge, self.opt(i + 1, "INTO"), true),
            "TRUNCATE" => {
                s.kind = Kind::Truncate;
                s.lock = Lock::AccessExclusive;
                let mut k = self.opt(i + 1, "TABLE");
                while let Some((r, next)) = self.relation(k, true) {
                    s.writes.push(r);
                    if !self.punct(next, b',') {
                        break;
                    }
                    k = next + 1;
                }
            }
            "DROP" => self.drop(&mut s, i + 1),
            "ALTER" if self.is(i + 1, "TABLE") => self.alter_table(&mut s, i + 2),
            "CREATE" => {
                s.kind = Kind::Create;
                let words: Vec<String> = (i + 1..self.toks.len().min(i + 5))
                    .filter_map(|k| self.ident(k))
                    .collect();
                let has = |w: &str| words.iter().any(|x| x == w);
                s.lock = if has("index") && has("concurrently") {
                    Lock::ShareUpdateExclusive
                } else if has("index") {
                    Lock::Share
                } else if has("trigger") {
                    Lock::ShareRowExclusive
                } else {
                    Lock::None
                };
            }
            "VACUUM" | "ANALYZE" => s.lock = Lock::ShareUpdateExclusive,
            // REINDEX keeps reads of the table going (ACCESS EXCLUSIVE is on the index).
            "REINDEX" => s.lock = Lock::Share,
            "CLUSTER" => s.lock = Lock::AccessExclusive,
            "REFRESH" if (i..self.toks.len()).any(|k| self.is(k, "CONCURRENTLY")) => {
                s.lock = Lock::Exclusive;
            }
            "REFRESH" => s.lock = Lock::AccessExclusive,
            "LOCK" => s.lock = self.lock_mode(i + 1),
            _ => {}
        }
        s
    }

    /// Reads `WITH [RECURSIVE] name [(cols)] AS [[NOT] MATERIALIZED] (body), ...`, adding what
    /// each body modifies; returns where the statement's own verb is.
    fn ctes(&self, s: &mut Statement) -> usize {
        // At each CTE's name.
        let mut i = self.opt(1, "RECURSIVE");
        loop {
            i += 1;
            if self.punct(i, b'(') {
                i = self.close(i) + 1;
            }
            i = self.opt(i, "AS");
            i = self.opt(i, "NOT");
            i = self.opt(i, "MATERIALIZED");
            if !self.punct(i, b'(') {
                return i;
            }
            let end = self.close(i);
            let body = Parser {
                sql: self.sql,
                toks: &self.toks[i + 1..end.min(self.toks.len())],
            }
            .statement();
            s.modifies.extend(body.modifies);
            s.writes.extend(body.writes);
            s.lock = s.lock.max(body.lock);
            i = end + 1;
            // SEARCH ... SET col / CYCLE ... SET ... USING col: up to the `,` or the verb.
            let d = self.toks.first().map_or(0, |t| t.depth);
            if self.is(i, "SEARCH") || self.is(i, "CYCLE") {
                while i < self.toks.len() {
                    let t = &self.toks[i];
                    if t.depth == d
                        && (t.kind == T::Punct(b',')
                            || ["SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "VALUES"]
                                .iter()
                                .any(|v| t.is(self.sql, v)))
                    {
                        break;
                    }
                    i += 1;
                }
            }
            if !self.punct(i, b',') {
                return i;
            }
            i += 1;
        }
    }

    /// INSERT/UPDATE/DELETE/MERGE whose target starts at `i`.
    fn modify(&self, s: &mut Statement, verb: Verb, i: usize, only_allowed: bool) {
        s.kind = match verb {
            Verb::Insert => Kind::Insert,
            Verb::Update => Kind::Update,
            Verb::Delete => Kind::Delete,
            Verb::Merge => Kind::Merge,
        };
        s.lock = s.lock.max(Lock::RowExclusive);
        let Some((target, next)) = self.relation(i, only_allowed) else {
            return;
        };
        let limited = match verb {
            Verb::Update | Verb::Delete => self.own_where(next),
            Verb::Insert | Verb::Merge => true,
        };
        s.writes.push(target.clone());
        s.modifies.push(Modify {
            verb,
            target,
            limited,
        });
    }

    /// `DROP object [CONCURRENTLY] [IF EXISTS] name, ... [CASCADE | RESTRICT]`.
    fn drop(&self, s: &mut Statement, i: usize) {
        let Some(o) = OBJECTS
            .iter()
            .find(|o| o.words.iter().enumerate().all(|(k, w)| self.is(i + k, w)))
        else {
            return;
        };
        s.kind = Kind::Drop(*o);
        let mut k = i + o.words.len();
        let concurrently = self.is(k, "CONCURRENTLY");
        k = self.opt(k, "CONCURRENTLY");
        s.lock = if concurrently {
            Lock::ShareUpdateExclusive
        } else if o.relation || o.name == "trigger" || o.name == "rule" || o.name == "policy" {
            Lock::AccessExclusive
        } else {
            Lock::None
        };
        if !o.relation {
            return;
        }
        if self.is(k, "IF") && self.is(k + 1, "EXISTS") {
            k += 2;
        }
        while let Some((r, next)) = self.relation(k, false) {
            s.writes.push(r);
            if !self.punct(next, b',') {
                break;
            }
            k = next + 1;
        }
    }

    /// The mode of `LOCK [TABLE] name, ... [IN mode MODE] [NOWAIT]`.
    fn lock_mode(&self, from: usize) -> Lock {
        let Some(at) = (from..self.toks.len()).find(|&k| self.is(k, "IN")) else {
            return Lock::AccessExclusive;
        };
        let words: Vec<String> = (at + 1..self.toks.len())
            .take_while(|&k| !self.is(k, "MODE"))
            .filter_map(|k| self.ident(k))
            .collect();
        match words.join(" ").as_str() {
            "access share" => Lock::AccessShare,
            "row share" => Lock::RowShare,
            "row exclusive" => Lock::RowExclusive,
            "share update exclusive" => Lock::ShareUpdateExclusive,
            "share" => Lock::Share,
            "share row exclusive" => Lock::ShareRowExclusive,
            "exclusive" => Lock::Exclusive,
            _ => Lock::AccessExclusive,
        }
    }

    /// `ALTER TABLE [IF EXISTS] [ONLY] name [*] action, ...`.
    fn alter_table(&self, s: &mut Statement, mut i: usize) {
        if self.is(i, "ALL") && self.is(i + 1, "IN") {
            return;
        }
        s.kind = Kind::AlterTable;
        if self.is(i, "IF") && self.is(i + 1, "EXISTS") {
            i += 2;
        }
        let Some((r, mut k)) = self.relation(i, true) else {
            return;
        };
        s.writes.push(r);
        let d = self.toks.first().map_or(0, |t| t.depth);
        let mut lock = Lock::None;
        while k < self.toks.len() {
            let end = (k..self.toks.len())
                .find(|&j| self.toks[j].depth == d && self.toks[j].kind == T::Punct(b','))
                .unwrap_or(self.toks.len());
            let (action, action_lock) = self.action(k, end);
            s.actions.push(action);
            lock = lock.max(action_lock);
            k = end + 1;
        }
        s.lock = if lock == Lock::None {
            Lock::AccessExclusive
        } else {
            lock
        };
    }

    /// One ALTER TABLE action, tokens `k..end`, and its lock.
    fn action(&self, k: usize, end: usize) -> (Action, Lock) {
        let has = |w: &str| (k..end).any(|j| self.is(j, w));
        if self.is(k, "DROP") {
            if self.is(k + 1, "CONSTRAINT") {
                return (Action::Other, Lock::AccessExclusive);
            }
            return (Action::DropColumn, Lock::AccessExclusive);
        }
        if self.is(k, "RENAME") {
            // A constraint's name is nothing the app queries by.
            if self.is(k + 1, "CONSTRAINT") {
                return (Action::Other, Lock::AccessExclusive);
            }
            return (Action::Rename, Lock::AccessExclusive);
        }
        if self.is(k, "ALTER") && !self.is(k + 1, "CONSTRAINT") {
            let c = self.opt(k + 1, "COLUMN") + 1;
            if self.is(c, "TYPE") || (self.is(c, "SET") && self.is(c + 1, "DATA")) {
                return (Action::AlterType, Lock::AccessExclusive);
            }
            if self.is(c, "SET") && self.is(c + 1, "NOT") && self.is(c + 2, "NULL") {
                return (Action::SetNotNull, Lock::AccessExclusive);
            }
            if self.is(c, "SET") && self.is(c + 1, "STATISTICS") {
                return (Action::Other, Lock::ShareUpdateExclusive);
            }
        }
        if self.is(k, "VALIDATE") {
            return (Action::Other, Lock::ShareUpdateExclusive);
        }
        if self.is(k, "ADD") && has("FOREIGN") && !has("PRIMARY") && !has("UNIQUE") {
            return (Action::Other, Lock::ShareRowExclusive);
        }
        (Action::Other, Lock::AccessExclusive)
    }
}

#[cfg(test)]
mod tests;
