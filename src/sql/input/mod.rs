//! Streams a SQL input (a file, stdin or a text) and the files it includes as statements,
//! COPY data and the meta-commands that reach the runner, reading in chunks so that memory
//! stays bounded at any size. The same reader makes the first pass over a file (refusals,
//! missing files, unset variables) and then the run.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

pub use super::item::{first_line, Data, Input, Item, Loc, Problem, ReadError, Stmt};

mod commands;
mod frame;
mod tx;

pub use tx::is_folded;

use frame::{expand_home, Frame};

use super::conninfo::{self, Server};
use super::lex::{self, Carry, Piece, Scan, Span};
use super::meta::{self, CopyFrom, Meta, MetaError, Parsed};
use super::vars::{interpolate, Sub, Vars};

/// What a first pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Statements that run, COPY included.
    pub statements: usize,
    pub copies: usize,
    pub skipped: usize,
    /// Files read through `\i`/`\ir`.
    pub includes: usize,
    /// `\c` commands.
    pub connects: usize,
    /// Bytes of SQL read, includes counted.
    pub bytes: u64,
}

/// A statement a meta-command interrupted (psql runs the command and goes on with the
/// statement): what has been read of it.
struct Partial {
    loc: Loc,
    sql: String,
    written: String,
    subs: Vec<Sub>,
    carry: Carry,
}

impl Partial {
    /// Appends a part of the statement: `sql` as sent for `written`, with its `subs`.
    fn push(&mut self, sql: &str, written: &str, subs: Vec<Sub>) {
        let (s, w) = (self.sql.len(), self.written.len());
        self.subs.extend(subs.into_iter().map(|x| Sub {
            sent: x.sent.start + s..x.sent.end + s,
            written: x.written.start + w..x.written.end + w,
        }));
        self.sql.push_str(sql);
        self.written.push_str(written);
    }

    /// Appends text written in the statement but sent as `instead` (a meta-command).
    fn replace(&mut self, written: &str, instead: &str) {
        self.subs.push(Sub {
            sent: self.sql.len()..self.sql.len() + instead.len(),
            written: self.written.len()..self.written.len() + written.len(),
        });
        self.sql.push_str(instead);
        self.written.push_str(written);
    }
}

/// Streams an input as [`Item`]s.
pub struct Reader {
    frames: Vec<Frame>,
    vars: Vars,
    allow_connect: bool,
    /// One transaction spans the file: its own transaction control is folded or refused.
    one_transaction: bool,
    /// Where the file runs, to check `\c` against (`None`: only a database name is taken).
    server: Option<Server>,
    /// The database `\c` last moved to (the server's at first).
    current_db: String,
    /// A statement interrupted by a meta-command.
    partial: Option<Partial>,
    /// `\restrict`'s key while psql would refuse meta-commands.
    restricted: Option<String>,
    /// The session's standard_conforming_strings, as the file's SET statements leave it.
    std_strings: bool,
    /// What followed `COPY ... FROM stdin;` on its line, read after the data.
    after_copy: Option<Frame>,
    /// Inline COPY data is being read.
    in_copy: bool,
    consumed: u64,
    includes: usize,
}

fn refused(loc: Loc, message: impl Into<String>) -> ReadError {
    ReadError {
        loc,
        message: message.into(),
        problem: Problem::Refused,
    }
}

/// The text to send for `written` (a statement or a part of one that starts at `offset` of
/// the scanned window, where `spans` count from), checked for NUL bytes and unset variables.
fn sendable(
    written: &str,
    spans: &[Span],
    offset: usize,
    loc: &Loc,
    vars: &Vars,
) -> Result<(String, Vec<Sub>), ReadError> {
    if let Some(nul) = memchr::memchr(0, written.as_bytes()) {
        return Err(ReadError {
            loc: loc.advanced(written, nul),
            message: "a NUL byte (0x00) is not allowed in SQL text".into(),
            problem: Problem::Lex,
        });
    }
    let spans: Vec<Span> = spans
        .iter()
        .map(|s| Span {
            range: s.range.start - offset..s.range.end - offset,
            piece: match &s.piece {
                Piece::Var { quote, name } => Piece::Var {
                    quote: *quote,
                    name: name.start - offset..name.end - offset,
                },
                p => p.clone(),
            },
        })
        .collect();
    interpolate(written, &spans, vars).map_err(|u| {
        refused(
            loc.advanced(written, u.at),
            format!(
                "variable :{} is not set (set it with -v {}=VALUE or \\set)",
                u.name, u.name
            ),
        )
    })
}

impl Reader {
    /// A reader over `input`. `allow_connect`: whether `\c` may run (not inside one
    /// transaction). A file that cannot be opened is a refusal (exit 2).
    pub fn open(input: &Input, vars: Vars, allow_connect: bool) -> Result<Reader, ReadError> {
        let name = input.name();
        let (source, path): (Box<dyn Read + Send>, Option<&Path>) = match input {
            Input::File(p) => {
                let f = File::open(p).map_err(|e| ReadError {
                    loc: Loc {
                        file: name.clone().into(),
                        line: 1,
                        column: 1,
                        chain: Arc::from([]),
                    },
                    message: format!("cannot read SQL file {}: {e}", p.display()),
                    problem: Problem::Refused,
                })?;
                (Box::new(f), Some(p.as_path()))
            }
            Input::Stdin => (Box::new(io::stdin()), None),
            Input::Text { text, .. } => (Box::new(io::Cursor::new(text.clone())), None),
        };
        let mut frame = Frame::new(name, Arc::from([]), path, source);
        if let Input::Text { line, .. } = input {
            frame.line = *line;
        }
        let mut vars = vars;
        // NOTE: cruddur-db runs files as `psql -v ON_ERROR_STOP=1` does, variable included.
        if vars.get("ON_ERROR_STOP").is_none() {
            vars.set("ON_ERROR_STOP", "1");
        }
        Ok(Reader {
            frames: vec![frame],
            vars,
            allow_connect,
            // NOTE: `\c` may run exactly when no transaction spans the file, but for a
            // `transaction:false` migration (see `outside_transaction`).
            one_transaction: !allow_connect,
            server: None,
            current_db: String::new(),
            partial: None,
            restricted: None,
            std_strings: true,
            after_copy: None,
            in_copy: false,
            consumed: 0,
            includes: 0,
        })
    }

    /// The reader for a run without a transaction that still refuses `\c` (a
    /// `transaction:false` migration): its transaction control runs as written.
    pub fn outside_transaction(mut self) -> Reader {
        self.one_transaction = false;
        self
    }

    /// The reader for a run on `server`, which `\c` is checked against.
    pub fn on_server(mut self, server: Option<Server>) -> Reader {
        self.current_db = server
            .as_ref()
            .map(|s| s.database.clone())
            .unwrap_or_default();
        self.server = server;
        self
    }

    /// Bytes consumed so far (includes counted).
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Whether a statement comes before the end, reading only as far as the first one (a
    /// meta-command that reads SQL, `\i` or `\copy`, counts). Nothing is consumed.
    pub fn peek_statement(&mut self) -> Result<bool, ReadError> {
        let Some(f) = self.frames.last_mut() else {
            return Ok(false);
        };
        let mut rel = 0;
        loop {
            match lex::scan(&f.buf[f.pos + rel..], f.eof) {
                Ok(Scan::More) => f.fill()?,
                Ok(Scan::End) => return Ok(false),
                Ok(Scan::Sql { text, .. }) => {
                    let s = &f.buf[f.pos + rel + text.start..f.pos + rel + text.end];
                    if s != b";" {
                        return Ok(true);
                    }
                    rel += text.end;
                }
                Ok(Scan::Meta { open: Some(_), .. }) => return Ok(true),
                Ok(Scan::Meta { text, next, .. }) => {
                    let line = &f.buf[f.pos + rel + text.start..f.pos + rel + text.end];
                    let word = line
                        .split(|c| c.is_ascii_whitespace() || *c == b'\\')
                        .nth(1)
                        .unwrap_or(b"");
                    if matches!(
                        word,
                        b"i" | b"include" | b"ir" | b"include_relative" | b"copy"
                    ) {
                        return Ok(true);
                    }
                    // What follows the command on its line (SQL or another command) is next.
                    let used = std::str::from_utf8(line)
                        .ok()
                        .and_then(|l| meta::parse(l, &self.vars).ok())
                        .map_or(line.len(), |p| p.used);
                    rel += if used < line.len() {
                        text.start + used
                    } else {
                        next
                    };
                }
                // The run reports it at its place.
                Err(_) => return Ok(true),
            }
        }
    }

    /// The next item; `None` at the end of the input. After an inline COPY, read its data
    /// with [`Reader::copy_chunk`] first.
    pub fn next_item(&mut self) -> Result<Option<Item>, ReadError> {
        assert!(!self.in_copy, "BUG: COPY data left unread");
        loop {
            let Some(f) = self.frames.last_mut() else {
                return Ok(None);
            };
            let carry = self.partial.as_ref().map(|p| &p.carry);
            let scanned =
                lex::scan_from(&f.buf[f.pos..], f.eof, carry, self.std_strings).map_err(|e| {
                    ReadError {
                        loc: f.loc_at(f.pos + e.at),
                        // NOTE: psql would send the unfinished statement at the end of the file and
                        // fail there, after running what came before (without one transaction):
                        // refused instead, before anything runs.
                        message: match e.unclosed {
                            true => format!(
                            "{} (psql would send the unfinished statement at the end of the file)",
                            e.what
                        ),
                            false => e.what,
                        },
                        problem: match e.unclosed {
                            true => Problem::Refused,
                            false => Problem::Lex,
                        },
                    }
                })?;
            let base = f.pos;
            match scanned {
                Scan::More => f.fill()?,
                Scan::End => {
                    self.consumed += f.advance(f.buf.len());
                    self.frames.pop();
                }
                Scan::Sql { text, next, spans } => {
                    self.consumed += f.advance(base + text.start);
                    let loc = f.loc();
                    let range = base + text.start..base + text.end;
                    let written = f.utf8(range.clone())?;
                    let (sql, subs) = sendable(written, &spans, text.start, &loc, &self.vars)?;
                    let mut stmt = Stmt {
                        written: (!subs.is_empty()).then(|| written.to_string()),
                        sql,
                        subs,
                        loc,
                    };
                    if let Some(mut p) = self.partial.take() {
                        p.push(&stmt.sql, written, stmt.subs);
                        stmt = Stmt {
                            sql: p.sql,
                            written: Some(p.written),
                            subs: p.subs,
                            loc: p.loc,
                        };
                    }
                    self.consumed += f.advance(base + next);
                    if stmt.sql.trim() == ";" {
                        continue;
                    }
                    // psql's lexer reads '...' by the session's standard_conforming_strings.
                    match super::words::std_strings_setting(&stmt.sql) {
                        Some(Ok(on)) => self.std_strings = on,
                        Some(Err(())) => {
                            return Err(refused(
                                stmt.loc,
                                "this change of standard_conforming_strings cannot be followed by \
                                 the reader (only SET/RESET of it in the session, to a boolean)",
                            ))
                        }
                        None => {}
                    }
                    if self.one_transaction {
                        if let Some(why) = tx::refusal(&stmt, self.std_strings) {
                            return Err(refused(stmt.loc, why));
                        }
                    }
                    if super::words::is_copy_from_stdin(&stmt.sql) {
                        // The data starts on the next line.
                        let line = self.skip_line()?;
                        self.in_copy = true;
                        return Ok(Some(Item::Copy {
                            stmt,
                            data: Data::Inline { line },
                        }));
                    }
                    return Ok(Some(Item::Sql(stmt)));
                }
                Scan::Meta {
                    text,
                    next,
                    open,
                    spans,
                    carry,
                } => {
                    if let Some(o) = open {
                        // psql runs the command with the statement unfinished, then goes on.
                        if self.partial.is_none() {
                            self.consumed += f.advance(base + o);
                            self.partial = Some(Partial {
                                loc: f.loc(),
                                sql: String::new(),
                                written: String::new(),
                                subs: Vec::new(),
                                carry: Carry::default(),
                            });
                        }
                        let partial = self.partial.as_mut().expect("BUG: just set");
                        let piece = f.utf8(base + o..base + text.start)?;
                        let (sql, subs) = sendable(piece, &spans, o, &f.loc(), &self.vars)?;
                        partial.push(&sql, piece, subs);
                        partial.carry = carry;
                    }
                    self.consumed += f.advance(base + text.start);
                    let loc = f.loc();
                    let line = f.utf8(base + text.start..base + text.end)?.to_string();
                    let parsed = meta::parse(&line, &self.vars).map_err(|e| match e {
                        MetaError::Refused(why) => refused(loc.clone(), why),
                    })?;
                    // What follows the command on its line is read next, as psql does.
                    let end = if parsed.used < line.len() {
                        base + text.start + parsed.used
                    } else {
                        base + next
                    };
                    if let Some(p) = self.partial.as_mut() {
                        // As psql's buffer: a command alone on its line leaves no trace; one
                        // after text on its line ends that line.
                        let written = f.utf8(base + text.start..end)?;
                        let line_end = written.ends_with('\n') && !p.sql.ends_with('\n');
                        p.replace(written, if line_end { "\n" } else { "" });
                    }
                    self.consumed += f.advance(end);
                    if let Some(item) = self.meta(parsed, &line, loc)? {
                        return Ok(Some(item));
                    }
                }
            }
        }
    }

    /// Moves past the rest of the current line, keeping what it holds (besides whitespace)
    /// to read after the COPY data that follows, as psql does; returns the next line's number.
    fn skip_line(&mut self) -> Result<usize, ReadError> {
        let f = self.frames.last_mut().expect("BUG: no frame");
        let loc = f.loc();
        let end = loop {
            if let Some(nl) = memchr::memchr(b'\n', &f.buf[f.pos..]) {
                break f.pos + nl + 1;
            }
            if f.eof {
                break f.buf.len();
            }
            f.fill()?;
        };
        let rest = f.buf[f.pos..end].to_vec();
        self.consumed += f.advance(end);
        if !rest.iter().all(u8::is_ascii_whitespace) {
            let mut frame = Frame::new(
                loc.file.to_string(),
                loc.chain.clone(),
                None,
                Box::new(io::Cursor::new(rest)),
            );
            (frame.line, frame.col, frame.dir) = (loc.line, loc.column - 1, f.dir.clone());
            frame.bom_checked = true;
            self.after_copy = Some(frame);
        }
        Ok(f.line)
    }

    /// The COPY data is over: what followed the COPY on its line is read next.
    fn end_copy(&mut self) -> Option<Bytes> {
        self.in_copy = false;
        if let Some(frame) = self.after_copy.take() {
            self.frames.push(frame);
        }
        None
    }

    /// The next chunk of inline COPY data (whole lines); `None` once its `\.` line (or the end
    /// of its file) is passed.
    pub fn copy_chunk(&mut self) -> Result<Option<Bytes>, ReadError> {
        if !self.in_copy {
            return Ok(None);
        }
        let f = self.frames.last_mut().expect("BUG: no frame");
        loop {
            let window = &f.buf[f.pos..];
            if let Some((end, next)) = lex::copy_end(window, 0) {
                if end > 0 {
                    let data = Bytes::copy_from_slice(&window[..end]);
                    self.consumed += f.advance(f.pos + end);
                    return Ok(Some(data));
                }
                self.consumed += f.advance(f.pos + next);
                return Ok(self.end_copy());
            }
            if f.eof {
                // NOTE: as psql 15, only a whole `\.` line (with its newline) ends the data: a
                // last `\.` without one is sent as data (and the server rejects it).
                if window.is_empty() {
                    return Ok(self.end_copy());
                }
                let data = Bytes::copy_from_slice(window);
                self.consumed += f.advance(f.buf.len());
                return Ok(Some(data));
            }
            match memchr::memrchr(b'\n', window) {
                Some(nl) => {
                    let data = Bytes::copy_from_slice(&window[..nl + 1]);
                    self.consumed += f.advance(f.pos + nl + 1);
                    return Ok(Some(data));
                }
                _ => f.fill()?,
            }
        }
    }

    /// Reads everything, keeping nothing: the first pass.
    pub fn survey(mut self) -> Result<Stats, ReadError> {
        let mut stats = Stats::default();
        while let Some(item) = self.next_item()? {
            match item {
                Item::Sql(_) => stats.statements += 1,
                Item::Copy { data, .. } => {
                    stats.statements += 1;
                    stats.copies += 1;
                    if let Data::Inline { .. } = data {
                        while self.copy_chunk()?.is_some() {}
                    }
                }
                Item::Skipped { .. } => stats.skipped += 1,
                Item::Connect { .. } => stats.connects += 1,
                Item::Echo(_) => {}
            }
        }
        stats.includes = self.includes;
        stats.bytes = self.consumed;
        Ok(stats)
    }
}

#[cfg(test)]
mod tests;
