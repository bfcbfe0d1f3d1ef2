//! Streams a SQL input (a file, stdin or a text) and the files it includes as statements,
//! COPY data and the meta-commands that reach the runner, reading in chunks so that memory
//! stays bounded at any size. The same reader makes the first pass over a file (refusals,
//! missing files, unset variables) and then the run.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

pub use super::item::{first_line, Data, Input, Item, Loc, Problem, ReadError, Stmt};
pub use super::prepared::Prepared;

use super::conninfo::{self, Server};
use super::item::chars;
use super::lex::{self, Carry, Piece, Scan, Span};
use super::meta::{self, CopyFrom, Meta, MetaError, Parsed};
use super::vars::{interpolate, Sub, Vars};

/// Bytes read from a file at a time (more when one statement is longer).
const READ_CHUNK: usize = 256 * 1024;

/// One file being read.
struct Frame {
    name: Arc<str>,
    chain: Arc<[String]>,
    /// The canonical path, to find include cycles.
    canon: Option<PathBuf>,
    /// The directory `\ir` resolves from (the current directory when `None`).
    dir: Option<PathBuf>,
    input: Box<dyn Read + Send>,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    /// Line (1-based) and characters into the line at `pos`.
    line: usize,
    col: usize,
    /// Whether the start was checked for a byte order mark.
    bom_checked: bool,
}

impl Frame {
    fn new(
        name: String,
        chain: Arc<[String]>,
        path: Option<&Path>,
        input: Box<dyn Read + Send>,
    ) -> Frame {
        Frame {
            name: name.into(),
            chain,
            canon: path.and_then(|p| p.canonicalize().ok()),
            dir: path.map(|p| p.parent().unwrap_or(Path::new("")).to_path_buf()),
            input,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            line: 1,
            col: 0,
            bom_checked: false,
        }
    }

    fn loc(&self) -> Loc {
        Loc {
            file: self.name.clone(),
            line: self.line,
            column: self.col + 1,
            chain: self.chain.clone(),
        }
    }

    fn loc_at(&self, at: usize) -> Loc {
        let text = String::from_utf8_lossy(&self.buf[self.pos..at]);
        self.loc().advanced(&text, text.len())
    }

    /// Reads more: at least as much as the window holds, so rescanning stays linear.
    fn fill(&mut self) -> Result<(), ReadError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let want = READ_CHUNK.max(self.buf.len());
        let start = self.buf.len();
        self.buf.resize(start + want, 0);
        let mut got = 0;
        while got < want {
            match self.input.read(&mut self.buf[start + got..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(start + got);
                    return Err(ReadError {
                        loc: self.loc(),
                        message: format!("failed to read {}: {e}", self.name),
                        problem: Problem::Io,
                    });
                }
            }
        }
        self.buf.truncate(start + got);
        if !self.bom_checked && (self.buf.len() >= 3 || self.eof) {
            self.bom_checked = true;
            // NOTE: psql skips a UTF-8 byte order mark at the start of every file it reads.
            if self.buf[self.pos..].starts_with(b"\xEF\xBB\xBF") {
                self.pos += 3;
            }
        }
        Ok(())
    }

    /// Moves `pos` to `to`, keeping the line and column.
    fn advance(&mut self, to: usize) -> u64 {
        let seg = &self.buf[self.pos..to];
        match memchr::memrchr(b'\n', seg) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', seg).count();
                self.col = chars(&seg[last + 1..]);
            }
            None => self.col += chars(seg),
        }
        let n = (to - self.pos) as u64;
        self.pos = to;
        n
    }

    fn utf8(&self, range: std::ops::Range<usize>) -> Result<&str, ReadError> {
        std::str::from_utf8(&self.buf[range.clone()]).map_err(|e| ReadError {
            loc: self.loc_at(range.start + e.valid_up_to()),
            message: "invalid UTF-8 (cruddur-db reads SQL files as UTF-8; convert the file with \
                      `iconv -f LATIN1 -t UTF-8`)"
                .into(),
            // NOTE: a file that is not UTF-8 is unreadable input (exit 2), not bad SQL.
            problem: Problem::Io,
        })
    }
}

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

/// Expands a leading `~/` as psql does.
fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().unwrap_or_default().join(rest),
        None => PathBuf::from(path),
    }
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
                    match super::std_strings_setting(&stmt.sql) {
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
                    // NOTE: `allow_connect` is false exactly when one transaction spans the file.
                    if !self.allow_connect && super::is_rollback(&stmt.sql) {
                        return Err(refused(
                            stmt.loc,
                            "ROLLBACK would end the one transaction the file runs in (psql -1 \
                             would discard what ran and go on without one); run it with \
                             --no-transaction",
                        ));
                    }
                    if super::is_copy_from_stdin(&stmt.sql) {
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

    fn meta(&mut self, parsed: Parsed, line: &str, loc: Loc) -> Result<Option<Item>, ReadError> {
        let command = format!("\\{}", parsed.name);
        if let Some(key) = &self.restricted {
            return match parsed.meta {
                Meta::Unrestrict(k) if &k == key => {
                    self.restricted = None;
                    Ok(Some(Item::Skipped {
                        loc,
                        command,
                        why: "the end of pg_dump's guard against meta-commands in data".into(),
                    }))
                }
                Meta::Unrestrict(_) => Err(refused(loc, "\\unrestrict: wrong key (psql fails here)")),
                _ => Err(refused(
                    loc,
                    format!(
                        "{command} after \\restrict: psql refuses every meta-command but \\unrestrict \
                         until then"
                    ),
                )),
            };
        }
        if self.partial.is_some()
            && matches!(
                parsed.meta,
                Meta::Include { .. } | Meta::Connect(_) | Meta::Copy { .. }
            )
        {
            return Err(refused(
                loc,
                format!(
                    "{command} inside an unfinished statement (before its ';') is not supported"
                ),
            ));
        }
        Ok(match parsed.meta {
            Meta::Set { name, value } => {
                self.vars.set(name, value);
                None
            }
            Meta::Unset(name) => {
                self.vars.unset(&name);
                None
            }
            Meta::Echo(text) => Some(Item::Echo(text)),
            Meta::Skip(why) => Some(Item::Skipped { loc, command, why }),
            Meta::Restrict(key) => {
                self.restricted = Some(key);
                Some(Item::Skipped {
                    loc,
                    command,
                    why: "pg_dump's guard against meta-commands in data; cruddur-db refuses any \
                          until \\unrestrict, as psql does"
                        .into(),
                })
            }
            Meta::Unrestrict(_) => {
                return Err(refused(
                    loc,
                    "\\unrestrict: not after a \\restrict (psql fails here)",
                ))
            }
            Meta::Include { path, relative } => {
                self.include(&path, relative, loc)?;
                None
            }
            Meta::Connect(args) => {
                let database = conninfo::resolve(&args, self.server.as_ref(), &self.current_db)
                    .map_err(|why| {
                        refused(loc.clone(), format!("{command} {}: {why}", args.shown()))
                    })?;
                if !self.allow_connect {
                    return Err(refused(
                        loc,
                        format!(
                            "{command} {database}: connecting to another database cannot happen inside the \
                             one transaction the file runs in; run it with --no-transaction"
                        ),
                    ));
                }
                self.current_db = database.clone();
                // A new session starts with the server's default.
                self.std_strings = true;
                Some(Item::Connect { database, loc })
            }
            Meta::Copy { sql, from } => {
                let stmt = Stmt {
                    sql,
                    written: Some(line.to_string()),
                    subs: Vec::new(),
                    loc: loc.clone(),
                };
                match from {
                    CopyFrom::Inline => {
                        self.in_copy = true;
                        let line = self.frames.last().map_or(loc.line + 1, |f| f.line);
                        Some(Item::Copy {
                            stmt,
                            data: Data::Inline { line },
                        })
                    }
                    CopyFrom::File(name) => {
                        let file = File::open(expand_home(&name)).map_err(|e| {
                            refused(loc.clone(), format!("\\copy: cannot open {name}: {e}"))
                        })?;
                        Some(Item::Copy {
                            stmt,
                            data: Data::File { name, file },
                        })
                    }
                }
            }
        })
    }

    fn include(&mut self, path: &str, relative: bool, loc: Loc) -> Result<(), ReadError> {
        let parent = self.frames.last().expect("BUG: no frame");
        let resolved = match (&parent.dir, relative) {
            (Some(dir), true) if !Path::new(path).is_absolute() => dir.join(path),
            _ => expand_home(path),
        };
        let file = File::open(&resolved).map_err(|e| {
            refused(
                loc.clone(),
                format!("cannot open included file {}: {e}", resolved.display()),
            )
        })?;
        let canon = resolved.canonicalize().ok();
        if canon.is_some() && self.frames.iter().any(|f| f.canon == canon) {
            let mut cycle: Vec<String> = self.frames.iter().map(|f| f.name.to_string()).collect();
            cycle.push(resolved.display().to_string());
            return Err(refused(
                loc,
                format!("include cycle: {}", cycle.join(" -> ")),
            ));
        }
        let mut chain = vec![format!("{}:{}", loc.file, loc.line)];
        chain.extend(parent.chain.iter().cloned());
        self.frames.push(Frame::new(
            resolved.display().to_string(),
            chain.into(),
            Some(&resolved),
            Box::new(file),
        ));
        self.includes += 1;
        Ok(())
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
mod tests {
    use super::*;

    fn items(text: &str, vars: &Vars) -> Result<Vec<String>, ReadError> {
        let mut r = Reader::open(&Input::text("t.sql", text), vars.clone(), true)?;
        let mut out = Vec::new();
        while let Some(item) = r.next_item()? {
            out.push(match item {
                Item::Sql(s) => format!("{}: {}", s.loc, s.sql),
                Item::Copy { stmt, .. } => {
                    let mut data = Vec::new();
                    while let Some(c) = r.copy_chunk()? {
                        data.extend_from_slice(&c);
                    }
                    format!(
                        "{}: {} <{}>",
                        stmt.loc,
                        stmt.sql,
                        String::from_utf8(data).unwrap()
                    )
                }
                Item::Echo(t) => format!("echo {t}"),
                Item::Connect { database, .. } => format!("connect {database}"),
                Item::Skipped { command, .. } => format!("skip {command}"),
            });
        }
        Ok(out)
    }

    #[test]
    fn statements_copy_and_meta_with_positions() {
        let text = "\\restrict x\nselect 1;\n  COPY t (a) FROM stdin;\n1\n2\n\\.\n\\unrestrict x\n\\set n 5\nselect :n, 'é', :'n';\n\\echo done\n\\c other\nselect 3";
        assert_eq!(
            items(text, &Vars::new()).unwrap(),
            [
                "skip \\restrict",
                "t.sql:2:1: select 1;",
                "t.sql:3:3: COPY t (a) FROM stdin; <1\n2\n>",
                "skip \\unrestrict",
                "t.sql:9:1: select 5, 'é', '5';",
                "echo done",
                "connect other",
                "t.sql:12:1: select 3",
            ]
        );
    }

    #[test]
    fn a_meta_command_inside_a_statement_runs_as_psql_runs_it() {
        let text = "select :x,\n\\set x 2\n:x\n\\echo mid\n;\nselect 3";
        let vars = Vars::from_pairs(["x=1"]).unwrap();
        assert_eq!(
            items(text, &vars).unwrap(),
            [
                "echo mid",
                "t.sql:1:1: select 1,\n2\n;",
                "t.sql:6:1: select 3"
            ]
        );
        let mut r = Reader::open(&Input::text("t.sql", text), vars, true).unwrap();
        let Some(Item::Echo(_)) = r.next_item().unwrap() else {
            panic!()
        };
        let Some(Item::Sql(stmt)) = r.next_item().unwrap() else {
            panic!()
        };
        // Positions in the text sent map back to the file as written.
        assert_eq!(stmt.written(), "select :x,\n\\set x 2\n:x\n\\echo mid\n;");
        let two = stmt.sql.find('2').unwrap();
        assert_eq!((stmt.loc_of(two).line, stmt.loc_of(two).column), (3, 1));
        let err = items("select 1\n\\c other\n;", &Vars::new()).unwrap_err();
        assert!(
            err.message.contains("unfinished statement"),
            "{}",
            err.message
        );
    }

    #[test]
    fn several_commands_and_sql_on_one_line() {
        assert_eq!(
            items(
                "\\set a 1 \\set b 2\nselect :a, :b; \\echo x :a \\\\ select 3;\n\\echo y\\\\select 4;",
                &Vars::new()
            )
            .unwrap(),
            [
                "t.sql:2:1: select 1, 2;",
                "echo x 1",
                "t.sql:2:30: select 3;",
                "echo y",
                "t.sql:3:10: select 4;",
            ]
        );
        assert_eq!(
            items("\\echo :nope 'a;' b;\n\\; select 5;", &Vars::new()).unwrap(),
            ["echo :nope a; b;", "t.sql:2:1: ; select 5;"]
        );
    }

    #[test]
    fn what_follows_copy_on_its_line_runs_after_the_data() {
        assert_eq!(
            items(
                "COPY t FROM stdin; insert into t values (9); \\echo after\n1\n\\.\nselect 2;",
                &Vars::new()
            )
            .unwrap(),
            [
                "t.sql:1:1: COPY t FROM stdin; <1\n>",
                "t.sql:1:20: insert into t values (9);",
                "echo after",
                "t.sql:4:1: select 2;",
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_starts_no_statement() {
        assert_eq!(
            items("\u{feff}select 1;\n", &Vars::new()).unwrap(),
            ["t.sql:1:1: select 1;"]
        );
    }

    #[test]
    fn standard_conforming_strings_off_changes_how_quotes_are_read() {
        let text = "set standard_conforming_strings = off;\nselect 'a\\'; b';\nreset standard_conforming_strings;\nselect 'c\\';";
        assert_eq!(
            items(text, &Vars::new()).unwrap(),
            [
                "t.sql:1:1: set standard_conforming_strings = off;",
                "t.sql:2:1: select 'a\\'; b';",
                "t.sql:3:1: reset standard_conforming_strings;",
                "t.sql:4:1: select 'c\\';",
            ]
        );
    }

    #[test]
    fn connect_is_checked_against_the_server_and_remembers_the_database() {
        let server = Server {
            host: "db.example".into(),
            port: 5432,
            user: "app".into(),
            database: "first".into(),
        };
        let run = |text: &str| -> Result<Vec<String>, ReadError> {
            let mut r = Reader::open(&Input::text("t.sql", text), Vars::new(), true)?
                .on_server(Some(server.clone()));
            let mut out = Vec::new();
            while let Some(item) = r.next_item()? {
                if let Item::Connect { database, .. } = item {
                    out.push(database);
                }
            }
            Ok(out)
        };
        assert_eq!(
            run("\\c second;\n\\c - app\n\\c postgresql://app@db.example/third\n\\c\n").unwrap(),
            ["second", "second", "third", "third"]
        );
        let err = run("\\c x bob\n").unwrap_err();
        assert!(
            err.message.contains("another user (bob)"),
            "{}",
            err.message
        );
        let err = run("\\c x - db2.example\n").unwrap_err();
        assert!(err.message.contains("another host"), "{}", err.message);
    }

    #[test]
    fn restrict_refuses_other_meta_commands_until_unrestrict() {
        assert!(items(
            "\\restrict k\nselect 1;\n\\unrestrict k\n\\echo ok\n",
            &Vars::new()
        )
        .is_ok());
        let err = items("\\restrict k\n\\echo no\n", &Vars::new()).unwrap_err();
        assert!(err.message.contains("after \\restrict"), "{}", err.message);
        let err = items("\\restrict k\n\\unrestrict j\n", &Vars::new()).unwrap_err();
        assert!(err.message.contains("wrong key"), "{}", err.message);
    }

    #[test]
    fn long_inputs_cross_many_reads() {
        let mut text = String::new();
        for i in 0..40_000 {
            text.push_str(&format!(
                "insert into t values ({i}, 'row {i}; with semicolon');\n"
            ));
        }
        text.push_str("COPY t FROM stdin;\n");
        for i in 0..40_000 {
            text.push_str(&format!("{i}\tx\n"));
        }
        text.push_str("\\.\nselect 'end';\n");
        let got = items(&text, &Vars::new()).unwrap();
        assert_eq!(got.len(), 40_002);
        assert_eq!(
            got[39_999],
            "t.sql:40000:1: insert into t values (39999, 'row 39999; with semicolon');"
        );
        assert!(got[40_000].ends_with("39999\tx\n>"));
        assert_eq!(got[40_001], "t.sql:80003:1: select 'end';");
    }

    #[test]
    fn unset_variables_and_refusals_have_places() {
        let err = items("select 1;\nselect\n  :missing;", &Vars::new()).unwrap_err();
        assert_eq!(
            (err.loc.line, err.loc.column, err.problem),
            (3, 3, Problem::Refused)
        );
        assert!(
            err.message.contains(":missing is not set"),
            "{}",
            err.message
        );
        let err = items("select 1;\n\\gexec\n", &Vars::new()).unwrap_err();
        assert_eq!(err.loc.line, 2);
        assert!(err.message.contains("\\gexec is not supported"));
        let err = items("select 1\n\\i x.sql\n", &Vars::new()).unwrap_err();
        assert!(err.message.contains("inside an unfinished statement"));
    }

    #[test]
    fn nul_bytes_are_reported_at_their_own_line() {
        let mut text = String::new();
        for i in 0..10 {
            text.push_str(&format!("select {i};\n"));
        }
        text.push_str("select 'a\0b';\n");
        let err = items(&text, &Vars::new()).unwrap_err();
        assert_eq!((err.loc.line, err.loc.column), (11, 10));
        assert!(err.message.contains("NUL"));
    }

    #[test]
    fn connect_is_refused_inside_one_transaction() {
        let mut r = Reader::open(&Input::text("t.sql", "\\c other\n"), Vars::new(), false).unwrap();
        let err = r.next_item().unwrap_err();
        assert!(err.message.contains("--no-transaction"), "{}", err.message);
    }

    #[test]
    fn peeking_finds_the_first_statement_only() {
        let mut r = Reader::open(
            &Input::text("t.sql", "-- c\n\\set x 1\n;\n/* */"),
            Vars::new(),
            true,
        )
        .unwrap();
        assert!(!r.peek_statement().unwrap());
        let mut r = Reader::open(
            &Input::text("t.sql", "\\echo a\nselect 1;"),
            Vars::new(),
            true,
        )
        .unwrap();
        assert!(r.peek_statement().unwrap());
        assert!(matches!(r.next_item().unwrap(), Some(Item::Echo(_))));
        // SQL after a meta-command on its line counts.
        let mut r = Reader::open(
            &Input::text("t.sql", "\\echo a \\\\ select 1;\n"),
            Vars::new(),
            true,
        )
        .unwrap();
        assert!(r.peek_statement().unwrap());
    }
}
