//! What a run reports: its summary, and the error that points at `file:line:column` with
//! what happened to the work before it.

use std::fmt;
use std::time::Duration;

use super::shaped;
use crate::sql::input::{first_line, Problem};
use crate::sql::{Loc, ReadError};

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub statements: usize,
    pub rows: u64,
    pub skipped: usize,
    /// Statements run by a prepared shape, and the shapes prepared.
    pub by_shape: usize,
    pub shapes: usize,
    /// The databases `\c` moved to, in order.
    pub databases: Vec<String>,
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} statements, {} rows in {:.2}s",
            self.statements,
            self.rows,
            self.elapsed.as_secs_f64()
        )?;
        if self.by_shape > 0 {
            write!(
                f,
                " ({} run by {} prepared shape{})",
                self.by_shape,
                self.shapes,
                if self.shapes == 1 { "" } else { "s" }
            )?;
        }
        if self.skipped > 0 {
            write!(f, " ({} psql meta-commands skipped)", self.skipped)?;
        }
        if !self.databases.is_empty() {
            write!(f, "; then on database(s) {}", self.databases.join(", "))?;
        }
        Ok(())
    }
}

/// A statement of the file failed, or the file could not be read on.
#[derive(Debug)]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The include chain, innermost first (`file:line` of each `\i`).
    pub chain: Vec<String>,
    pub statement: String,
    pub message: String,
    pub code: Option<String>,
    /// What happened to the work before the failure.
    pub outcome: String,
    /// Usage for a refusal (a meta-command, an unset variable: exit 2), else failed.
    pub kind: crate::error::ErrorKind,
    /// The statement ran by its prepared shape (said in the message, with the way out).
    pub by_shape: bool,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        for at in &self.chain {
            write!(f, "\n  included from {at}")?;
        }
        if !self.statement.is_empty() {
            write!(f, "\n  statement: {}", self.statement)?;
        }
        if self.by_shape {
            write!(
                f,
                "\n  note: it ran as EXECUTE of its prepared shape, with its literals as \
                 arguments ({}=off runs every statement as written)",
                shaped::ENV
            )?;
        }
        write!(f, "\n  {}", self.outcome)
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    pub(super) fn at(loc: &Loc, message: String) -> LoadError {
        LoadError {
            file: loc.file.to_string(),
            line: loc.line,
            column: loc.column,
            chain: loc.chain.to_vec(),
            statement: String::new(),
            message,
            code: None,
            outcome: String::new(),
            kind: crate::error::ErrorKind::Failed,
            by_shape: false,
        }
    }

    pub(super) fn db(loc: &Loc, statement: &str, e: &tokio_postgres::Error) -> LoadError {
        LoadError {
            statement: first_line(statement),
            code: e.as_db_error().map(|d| d.code().code().to_string()),
            ..LoadError::at(loc, message_with_hint(e))
        }
    }
}

impl From<ReadError> for LoadError {
    fn from(e: ReadError) -> LoadError {
        LoadError {
            kind: match e.problem {
                Problem::Refused => crate::error::ErrorKind::Usage,
                Problem::Lex | Problem::Io => crate::error::ErrorKind::Failed,
            },
            ..LoadError::at(&e.loc, e.message)
        }
    }
}

pub(super) fn message_with_hint(e: &tokio_postgres::Error) -> String {
    let mut msg = crate::pg::describe(e);
    if let Some(db) = e.as_db_error() {
        let extra = match db.code().code() {
            "25001" => Some(
                "this statement cannot run in a transaction: run the file with --no-transaction",
            ),
            // NOTE: not "run `cruddur-db schema` first": the file may be the schema itself.
            "42P01" => Some(
                "the table does not exist yet: create it earlier in this file, or, for data, \
                 load the schema before it (`cruddur-db schema`)",
            ),
            _ => None,
        };
        if let Some(extra) = extra {
            msg.push_str("\n  note: ");
            msg.push_str(extra);
        }
    }
    msg
}
