//! Statements run by shape: in the runner's own transaction, an INSERT whose shape
//! (`sql::shape`) has been seen before is prepared once (`PREPARE`) and then each statement of
//! that shape is sent, in the same batches as the statements around it, as
//! `EXECUTE shape(literal, ...)` with its literals as written. The server then parses and plans
//! each shape once instead of every statement, and reads each literal as it would in the
//! statement.
//!
//! A shape is prepared the second time it is seen (a statement seen once runs as written,
//! so files without repeats pay nothing), inside a savepoint: when the server cannot prepare
//! it (a parameter where it cannot type one), the savepoint is rolled back and every
//! statement of that shape runs as written. Any statement that is not an INSERT (DDL, SET)
//! retires the prepared shapes, since a parameter's type is fixed when its shape is prepared;
//! for the same reason no shape is prepared while the database holds routines of its own
//! (a trigger or a function called by an INSERT may run DDL between two statements).

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio_postgres::Client;

use crate::sql::shape::{Kind, Shape};
use crate::sql::Stmt;

/// Setting this to `off` (or `0`, `false`, `no`) runs every statement as written.
pub const ENV: &str = "CRUDDUR_PREPARE";
/// More shapes prepared in one run than this: the rest of the run goes as written.
const MAX_SHAPES: usize = 1_000;
/// More shapes remembered as seen once than this: the memory is cleared.
const MAX_SEEN: usize = 65_536;
/// The savepoint a shape is prepared in.
const SAVEPOINT: &str = "cruddur_db_shape";
/// Whether the database holds routines of its own (not built in, not an extension's): a
/// trigger, a default, a check or a call in the values may then run DDL between two
/// statements of a shape.
const USER_CODE: &str = "SELECT EXISTS (SELECT FROM pg_catalog.pg_proc p WHERE p.oid >= 16384 \
     AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = \
     'pg_catalog.pg_proc'::pg_catalog.regclass AND d.objid = p.oid AND d.deptype = 'e'))";
/// N of the next prepared statement's name, counting in this process.
static NEXT: AtomicUsize = AtomicUsize::new(1);

/// Whether repeated shapes may be prepared in this process (`CRUDDUR_PREPARE`); see
/// [`allow`].
static ALLOWED: AtomicBool = AtomicBool::new(true);

/// Sets, once per run from the command layer, whether repeated shapes may be prepared: a
/// load in its own transaction runs every statement as written when they may not.
pub fn allow(yes: bool) {
    ALLOWED.store(yes, Ordering::Relaxed);
}

/// What [`allow`] set (yes when nothing did).
pub fn allowed() -> bool {
    ALLOWED.load(Ordering::Relaxed)
}

/// The name of prepared shape N.
fn name(n: usize) -> String {
    format!("cruddur_db_shape_{n}")
}

/// Whether the value of `CRUDDUR_PREPARE` lets repeated shapes be prepared (unset: yes).
/// The command layer reads it once, before anything connects, and sets [`allow`].
pub fn wanted(value: Option<&str>) -> Result<bool, String> {
    let Some(v) = value else {
        return Ok(true);
    };
    match v.trim().to_ascii_lowercase().as_str() {
        "" | "on" | "1" | "true" | "yes" => Ok(true),
        "off" | "0" | "false" | "no" => Ok(false),
        _ => Err(format!(
            "{ENV}={v:?} is neither on nor off: set it to off (or 0, false, no) to run every \
             statement as written, or unset it"
        )),
    }
}

fn declared(kind: Kind) -> &'static str {
    match kind {
        Kind::Unknown => "unknown",
        Kind::Int4 => "int4",
        Kind::Int8 => "int8",
        Kind::Numeric => "numeric",
    }
}

type Key = (String, Vec<Kind>);

enum Entry {
    Ready(usize),
    /// The server could not prepare it: its statements run as written.
    AsWritten,
}

/// What to do with a statement that has a shape.
pub enum Plan {
    /// Run it as `EXECUTE` of prepared shape N.
    Run(usize),
    /// Prepare its shape first (second sight).
    Prepare,
    /// Run it as written.
    AsWritten,
}

/// The shapes of one run.
#[derive(Default)]
pub struct Shapes {
    on: bool,
    prepared: HashMap<Key, Entry>,
    seen: HashSet<u64>,
    /// Every shape prepared in this run (deallocated at its end).
    made: Vec<usize>,
    /// Statements run by a prepared shape.
    pub used: usize,
}

impl Shapes {
    /// Begins the runner's transaction on `client` and makes the run's shapes: only when the
    /// server reads literals as the shapes are found (standard_conforming_strings on) and
    /// `CRUDDUR_PREPARE` is not off. One round trip.
    pub async fn begin(client: &Client, wanted: bool) -> Result<Shapes, tokio_postgres::Error> {
        if !wanted {
            client.batch_execute("BEGIN").await?;
            return Ok(Shapes::default());
        }
        let rows = client
            .simple_query("BEGIN; SHOW standard_conforming_strings")
            .await?;
        let on = rows.iter().any(
            |m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("on")),
        );
        Ok(Shapes {
            on,
            ..Shapes::default()
        })
    }

    pub fn on(&self) -> bool {
        self.on
    }

    /// Shapes prepared in this run.
    pub fn made(&self) -> usize {
        self.made.len()
    }

    /// No more shapes in this run (the file changed how literals are read).
    pub fn stop(&mut self) {
        self.on = false;
        self.retire();
    }

    /// Prepares no statement by the shapes prepared so far (they are made anew when seen).
    pub fn retire(&mut self) {
        self.prepared.clear();
    }

    pub fn plan(&mut self, shape: &Shape) -> Plan {
        // NOTE: a lookup by a borrowed pair would need a key type of its own; the clone is
        // the size of one statement.
        let key = (shape.text.clone(), shape.kinds.clone());
        match self.prepared.get(&key) {
            Some(Entry::Ready(n)) => {
                self.used += 1;
                Plan::Run(*n)
            }
            Some(Entry::AsWritten) => Plan::AsWritten,
            None if self.made.len() >= MAX_SHAPES => Plan::AsWritten,
            None => {
                let mut h = std::hash::DefaultHasher::new();
                key.hash(&mut h);
                let first_sight = self.seen.insert(h.finish());
                if self.seen.len() > MAX_SEEN {
                    self.seen.clear();
                }
                if first_sight {
                    Plan::AsWritten
                } else {
                    Plan::Prepare
                }
            }
        }
    }

    /// Prepares `shape` in a savepoint; `Ok(None)` when the server refuses it (its
    /// statements then run as written). Everything sent before must have been read back.
    pub async fn prepare(
        &mut self,
        client: &Client,
        shape: &Shape,
    ) -> Result<Option<usize>, tokio_postgres::Error> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let types = if shape.kinds.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = shape.kinds.iter().map(|k| declared(*k)).collect();
            format!(" ({})", names.join(", "))
        };
        let key = (shape.text.clone(), shape.kinds.clone());
        // NOTE: the server keeps the text of the query that prepared a statement and copies it
        // for every EXECUTE, so the PREPARE goes alone, not in a batch of the file. When it
        // fails, the RELEASE after it is skipped.
        let prepared = client
            .simple_query(&format!(
                "SAVEPOINT {SAVEPOINT}; PREPARE {}{types} AS {}; \
                 RELEASE SAVEPOINT {SAVEPOINT}; {USER_CODE}",
                name(n),
                shape.text
            ))
            .await;
        let user_code = |rows: &[tokio_postgres::SimpleQueryMessage]| {
            rows.iter().any(|m| {
                matches!(m, tokio_postgres::SimpleQueryMessage::Row(r) if r.get(0) == Some("t"))
            })
        };
        match prepared {
            Ok(rows) if user_code(&rows) => {
                // NOTE: a parameter's type is fixed when its shape is prepared, and code of the
                // database's own (a trigger, a default, a check, a function in the values) may
                // change a column's type between two statements (psql would read the next
                // literal by the new type): with such code, statements run as written.
                client
                    .batch_execute(&format!("DEALLOCATE {}", name(n)))
                    .await?;
                self.prepared.insert(key, Entry::AsWritten);
                Ok(None)
            }
            Ok(_) => {
                self.prepared.insert(key, Entry::Ready(n));
                self.made.push(n);
                self.used += 1;
                Ok(Some(n))
            }
            Err(e) if e.as_db_error().is_some() => {
                client
                    .batch_execute(&format!(
                        "ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"
                    ))
                    .await?;
                self.prepared.insert(key, Entry::AsWritten);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Deallocates the shapes this run prepared, in one round trip (or one each when the
    /// file deallocated some itself).
    pub async fn deallocate(&self, client: &Client) {
        if self.made.is_empty() {
            return;
        }
        let all: Vec<String> = self
            .made
            .iter()
            .map(|n| format!("DEALLOCATE {}", name(*n)))
            .collect();
        if client.batch_execute(&all.join("; ")).await.is_err() {
            for one in &all {
                let _ = client.batch_execute(one).await;
            }
        }
    }
}

/// A statement as sent by its shape: `EXECUTE cruddur_db_shape_N(literal, ...)`.
pub struct Execute {
    pub sql: String,
    /// Where each literal is in `sql` and where it is in the statement.
    pub literals: Vec<LiteralSpan>,
}

/// One literal, copied as written from the statement into its `EXECUTE`: a server position
/// inside it maps back to the same character of the statement.
pub struct LiteralSpan {
    /// Its byte offset in the `EXECUTE`.
    pub sent: usize,
    /// Its byte offset in the statement.
    pub written: usize,
    /// Its length in bytes (the same in both).
    pub len: usize,
}

impl Execute {
    pub fn new(n: usize, shape: &Shape, stmt: &Stmt) -> Execute {
        let mut sql = format!("EXECUTE {}", name(n));
        let mut literals = Vec::with_capacity(shape.literals.len());
        for (k, r) in shape.literals.iter().enumerate() {
            sql.push_str(if k == 0 { "(" } else { ", " });
            literals.push(LiteralSpan {
                sent: sql.len(),
                written: r.start,
                len: r.len(),
            });
            sql.push_str(&stmt.sql[r.clone()]);
        }
        if !shape.literals.is_empty() {
            sql.push(')');
        }
        sql.push(';');
        Execute { sql, literals }
    }

    /// The offset in the statement of offset `at` of the `EXECUTE` (a literal's own place; the
    /// statement's start for anything else).
    pub fn statement_offset(&self, at: usize) -> usize {
        self.literals
            .iter()
            .find(|l| (l.sent..l.sent + l.len).contains(&at))
            .map_or(0, |l| l.written + (at - l.sent))
    }
}
