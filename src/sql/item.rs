//! What the reader reads and hands on: the input, places in it, statements with the map back
//! to the text as written, COPY data sources, and the reader's errors.

use std::fmt;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use super::vars::{written_offset, Sub};

/// What to read.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file (its includes are resolved from the current directory, or from it for `\ir`).
    File(PathBuf),
    /// Standard input, read once.
    Stdin,
    /// A text in memory: a built-in file or a section of one starting at `line` of `name`.
    Text {
        name: String,
        text: Bytes,
        line: usize,
    },
}

impl Input {
    /// A built-in text such as `sql/schema.sql`.
    pub fn builtin(name: &str, text: &'static str) -> Input {
        Input::Text {
            name: format!("{name} (built in)"),
            text: Bytes::from_static(text.as_bytes()),
            line: 1,
        }
    }

    /// A text in memory, named `name` in messages.
    pub fn text(name: impl Into<String>, text: impl Into<String>) -> Input {
        Input::section(name, text, 1)
    }

    /// A section of file `name` that starts at line `line`: positions count from there.
    pub fn section(name: impl Into<String>, text: impl Into<String>, line: usize) -> Input {
        Input::Text {
            name: name.into(),
            text: Bytes::from(text.into()),
            line: line.max(1),
        }
    }

    /// The name used in messages.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".into(),
            Input::Text { name, .. } => name.clone(),
        }
    }
}

/// A place in the input: file, 1-based line and column (in characters), and the include chain
/// that led there (innermost first, each `file:line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<str>,
    pub line: usize,
    pub column: usize,
    pub chain: Arc<[String]>,
}

impl Loc {
    /// The place `offset` bytes into `text`, which starts here.
    pub fn advanced(&self, text: &str, offset: usize) -> Loc {
        let before = &text.as_bytes()[..offset.min(text.len())];
        let (line, column) = match memchr::memrchr(b'\n', before) {
            Some(nl) => (
                self.line + memchr::memchr_iter(b'\n', before).count(),
                chars(&before[nl + 1..]) + 1,
            ),
            None => (self.line, self.column + chars(before)),
        };
        Loc {
            line,
            column,
            ..self.clone()
        }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Characters (not bytes) in UTF-8 text.
pub(crate) fn chars(b: &[u8]) -> usize {
    if b.is_ascii() {
        return b.len();
    }
    b.iter().filter(|&&c| (c & 0xC0) != 0x80).count()
}

/// A statement to send, with what is needed to point back into the file as written.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// The text sent (variables interpolated).
    pub sql: String,
    /// The text as written, when it differs from `sql`.
    pub written: Option<String>,
    /// Where `sql` differs from the text as written.
    pub subs: Vec<Sub>,
    /// Where the statement starts.
    pub loc: Loc,
}

impl Stmt {
    /// The text as written.
    pub fn written(&self) -> &str {
        self.written.as_deref().unwrap_or(&self.sql)
    }

    /// The place in the file of a byte offset of the text sent.
    pub fn loc_of(&self, sent: usize) -> Loc {
        self.loc
            .advanced(self.written(), written_offset(&self.subs, sent))
    }
}

/// The first line of a statement, shortened for messages.
pub fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim_end();
    if line.chars().count() > 120 {
        format!("{}...", line.chars().take(117).collect::<String>())
    } else {
        line.to_string()
    }
}

/// Where COPY data comes from.
#[derive(Debug)]
pub enum Data {
    /// The lines that follow in the input: read them with [`Reader::copy_chunk`]; the first is
    /// at `line` of the statement's file.
    Inline { line: usize },
    /// A client-side file (`\copy ... FROM 'file'`), opened.
    File { name: String, file: File },
}

/// What the reader hands to the runner.
#[derive(Debug)]
pub enum Item {
    Sql(Stmt),
    Copy {
        stmt: Stmt,
        data: Data,
    },
    /// `\echo`: a line for stderr.
    Echo(String),
    /// `\c DBNAME`.
    Connect {
        database: String,
        loc: Loc,
    },
    /// A meta-command skipped with a note.
    Skipped {
        loc: Loc,
        command: String,
        why: String,
    },
}

/// What kind of problem stops the reader, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A meta-command that is not run, a missing file, an unset variable, a quote left open at
    /// the end of the input (exit 2).
    Refused,
    /// Text that cannot be lexed: a NUL byte, invalid UTF-8 (exit 1).
    Lex,
    /// Reading failed (exit 1).
    Io,
}

/// The reader cannot go on: where, what, and what kind of problem it is.
#[derive(Debug, Clone)]
pub struct ReadError {
    pub loc: Loc,
    pub message: String,
    pub problem: Problem,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.loc, self.message)?;
        for at in self.loc.chain.iter() {
            write!(f, "\n  included from {at}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ReadError {}
