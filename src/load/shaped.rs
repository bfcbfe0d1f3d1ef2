//! Statements run by shape: in the runner's own transaction, an INSERT whose shape
//! (`sql::shape`) has been seen before is prepared once and then run with only its values,
//! in the extended protocol, pipelined like the batches around it. The server then parses
//! and plans each shape once instead of every statement.
//!
//! A shape is prepared the second time it is seen (a statement seen once runs as written,
//! so files without repeats pay nothing), inside a savepoint: when the server cannot prepare
//! it (a parameter where it cannot type one), the savepoint is rolled back and every
//! statement of that shape runs as written. Any statement that is not an INSERT (DDL, SET)
//! drops the prepared shapes, since a parameter's type is fixed when its shape is prepared.

use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::hash::{Hash, Hasher};

use bytes::BytesMut;
use tokio_postgres::types::{to_sql_checked, Format, IsNull, ToSql, Type};
use tokio_postgres::{Client, Statement};

use crate::sql::shape::{Kind, Shape};

/// Setting this to `off` (or `0`, `false`, `no`) runs every statement as written.
pub const ENV: &str = "CRUDDUR_PREPARE";
/// More prepared shapes than this on one connection: they are all dropped and made anew.
const MAX_SHAPES: usize = 256;
/// More shapes remembered as seen once than this: the memory is cleared.
const MAX_SEEN: usize = 65_536;
const SAVEPOINT: &str = "cruddur_db_shape";

/// A parameter's value, sent in text format for the server to read as it reads the literal.
#[derive(Debug)]
pub struct Text(pub String);

impl ToSql for Text {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

fn declared(kind: Kind) -> Type {
    match kind {
        Kind::Unknown => Type::UNKNOWN,
        Kind::Int4 => Type::INT4,
        Kind::Int8 => Type::INT8,
        Kind::Numeric => Type::NUMERIC,
    }
}

type Key = (String, Vec<Kind>);

enum Entry {
    Ready(Statement),
    /// The server could not prepare it: its statements run as written.
    AsWritten,
}

/// What to do with a statement that has a shape.
pub enum Plan {
    /// Run it by its prepared shape.
    Run(Statement),
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
    /// Statements run by a prepared shape, and shapes prepared.
    pub used: usize,
    pub made: usize,
}

impl Shapes {
    /// Shapes for a run on `client`: only when the server reads literals as this side
    /// decodes them (standard_conforming_strings on, UTF8) and `CRUDDUR_PREPARE` is not off.
    pub async fn for_run(client: &Client) -> Result<Shapes, tokio_postgres::Error> {
        let wanted = std::env::var(ENV).map_or(true, |v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "off" | "0" | "false" | "no"
            )
        });
        if !wanted {
            return Ok(Shapes::default());
        }
        let row = client
            .query_one(
                "SELECT current_setting('standard_conforming_strings') = 'on' \
                 AND current_setting('server_encoding') = 'UTF8'",
                &[],
            )
            .await?;
        Ok(Shapes {
            on: row.get(0),
            ..Shapes::default()
        })
    }

    pub fn on(&self) -> bool {
        self.on
    }

    /// No more shapes in this run (the file changed how literals are read).
    pub fn stop(&mut self) {
        self.on = false;
        self.forget();
    }

    /// Drops the prepared shapes (the server is told to close them).
    pub fn forget(&mut self) {
        self.prepared.clear();
    }

    pub fn plan(&mut self, shape: &Shape) -> Plan {
        // NOTE: looked up by a borrowed pair would need a second key type; the clone is the
        // size of one statement.
        let key = (shape.text.clone(), shape.kinds.clone());
        match self.prepared.get(&key) {
            Some(Entry::Ready(st)) => {
                self.used += 1;
                Plan::Run(st.clone())
            }
            Some(Entry::AsWritten) => Plan::AsWritten,
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
    ) -> Result<Option<Statement>, tokio_postgres::Error> {
        if self.prepared.len() >= MAX_SHAPES {
            self.forget();
        }
        let types: Vec<Type> = shape.kinds.iter().map(|k| declared(*k)).collect();
        client
            .batch_execute(&format!("SAVEPOINT {SAVEPOINT}"))
            .await?;
        let key = (shape.text.clone(), shape.kinds.clone());
        match client.prepare_typed(&shape.text, &types).await {
            Ok(st) => {
                client
                    .batch_execute(&format!("RELEASE SAVEPOINT {SAVEPOINT}"))
                    .await?;
                self.prepared.insert(key, Entry::Ready(st.clone()));
                self.made += 1;
                self.used += 1;
                Ok(Some(st))
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
}

/// The parameter a server error names (`unnamed portal parameter $2 = '...'`), 1-based.
pub fn parameter_named(e: &tokio_postgres::Error) -> Option<usize> {
    let context = e.as_db_error()?.where_()?;
    let rest = &context[context.find("parameter $")? + "parameter $".len()..];
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .map_or(rest, |n| &rest[..n]);
    digits.parse().ok()
}
