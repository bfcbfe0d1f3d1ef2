//! The lexer: finds the next statement or meta-command in a buffer by PostgreSQL's and psql's
//! lexical rules (quotes, dollar quotes, comments, parentheses, `BEGIN ATOMIC` bodies), and the
//! psql variable references (`:name`, `:'name'`, `:"name"`) a statement holds. It works on a
//! window of the input: when the window ends before it can decide, it asks for more. Its
//! `token` module reads one statement as tokens for everything else that needs its words.

use std::ops::Range;

pub mod token;

pub use token::{code, tokens, Token, Tokens};

/// How a psql variable is interpolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// `:name`: the value as it is.
    Plain,
    /// `:'name'`: the value as a quoted literal.
    Literal,
    /// `:"name"`: the value as a quoted identifier.
    Ident,
}

/// Something in a statement's text that is sent differently from how it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A variable reference; `name` is the byte range of its name.
    Var { quote: Quote, name: Range<usize> },
    /// psql's `\;` or `\:`: the character without its backslash.
    Escape(u8),
}

/// A piece with the byte range it covers in the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub range: Range<usize>,
    pub piece: Piece,
}

/// What the lexer found from the start of its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// The window ends before anything could be decided: read more and scan again.
    More,
    /// Only whitespace and comments up to the end of the input.
    End,
    /// A statement: `text` runs from its first token through its `;` (or its last token at the
    /// end of the input); scanning resumes at `next`.
    Sql {
        text: Range<usize>,
        next: usize,
        spans: Vec<Span>,
    },
    /// A meta-command: `text` is the backslash through the end of its line (trailing space and
    /// the newline left out); `open` is the start of an unfinished statement before it, if any,
    /// with its `spans` and the lexer's state there (`carry`, to go on after the command).
    Meta {
        text: Range<usize>,
        next: usize,
        open: Option<usize>,
        spans: Vec<Span>,
        carry: Carry,
    },
}

/// The input cannot be lexed: `at` is the byte offset, `what` says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub at: usize,
    pub what: String,
    /// A quote or comment open at the end of the input (psql would send the unfinished
    /// statement to the server, which fails there).
    pub unclosed: bool,
}

impl LexError {
    fn never_closed(at: usize, what: impl Into<String>) -> LexError {
        LexError {
            at,
            what: format!("{} is never closed", what.into()),
            unclosed: true,
        }
    }
}

/// Byte classes, looked up rather than computed: the lexer asks for every byte of a file.
const IDENT_START: u8 = 1;
const IDENT_CHAR: u8 = 2;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            t[c] = IDENT_START | IDENT_CHAR;
        } else if b.is_ascii_digit() || b == b'$' {
            t[c] = IDENT_CHAR;
        }
        c += 1;
    }
    t
};

pub fn is_ident_start(c: u8) -> bool {
    CLASS[c as usize] & IDENT_START != 0
}

pub fn is_ident_char(c: u8) -> bool {
    CLASS[c as usize] & IDENT_CHAR != 0
}

/// A character of a psql variable name.
pub fn is_var_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// The lexer's state inside an unfinished statement, kept across a meta-command in its middle
/// (psql runs the command and goes on with the statement).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carry {
    parens: usize,
    words: Words,
}

/// Tracks the words at the start of a statement to recognise CREATE FUNCTION/PROCEDURE,
/// whose `BEGIN ATOMIC ... END` bodies hold semicolons (as psql's lexer does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Words {
    count: usize,
    create_routine: bool,
    saw_create: bool,
    saw_or_replace: u8,
    begin_depth: usize,
}

impl Words {
    fn word(&mut self, w: &[u8]) {
        let is = |k: &str| w.eq_ignore_ascii_case(k.as_bytes());
        match self.count {
            0 => self.saw_create = is("CREATE"),
            _ if self.saw_create && !self.create_routine && self.count <= 3 => {
                if is("OR") && self.count == 1 {
                    self.saw_or_replace = 1;
                } else if is("REPLACE") && self.saw_or_replace == 1 && self.count == 2 {
                    self.saw_or_replace = 2;
                } else if is("FUNCTION") || is("PROCEDURE") {
                    let expected = if self.saw_or_replace == 2 { 3 } else { 1 };
                    self.create_routine = self.count == expected;
                }
            }
            _ => {}
        }
        if self.create_routine {
            if is("BEGIN") || (is("CASE") && self.begin_depth > 0) {
                self.begin_depth += 1;
            } else if is("END") && self.begin_depth > 0 {
                self.begin_depth -= 1;
            }
        }
        self.count += 1;
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|p| p + from)
}

/// Where a `/* */` comment starting at `start` ends; `None` if not in the window.
pub(super) fn skip_block_comment(b: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < b.len() {
        if b[i] == b'/' && b[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Where a string quoted with the quote at `i` (`'`, or `"` for an identifier) ends, a doubled
/// quote staying inside; `escapes` for E'' strings.
pub(super) fn skip_quoted(b: &[u8], i: usize, escapes: bool, eof: bool) -> Option<usize> {
    let q = b[i];
    let mut j = i + 1;
    loop {
        let found = if escapes {
            memchr::memchr2(b'\\', q, &b[j..])
        } else {
            memchr::memchr(q, &b[j..])
        };
        j += found?;
        match b[j] {
            b'\\' => j += 2,
            // A quote at the end of the window may be the first of a doubled one.
            _ if j + 1 == b.len() => return eof.then_some(j + 1),
            _ if b[j + 1] == q => j += 2,
            _ => return Some(j + 1),
        }
        if j >= b.len() {
            return None;
        }
    }
}

/// Scans `b` from its start. `eof` says the window holds the rest of the input.
pub fn scan(b: &[u8], eof: bool) -> Result<Scan, LexError> {
    scan_from(b, eof, None, true)
}

/// Scans `b` from its start; with `carry`, `b` continues a statement that a meta-command
/// interrupted (its text then starts at 0, whitespace included). `std_strings`: the
/// session's standard_conforming_strings (off: a backslash escapes in every `'...'`, as psql
/// reads it then).
pub fn scan_from(
    b: &[u8],
    eof: bool,
    carry: Option<&Carry>,
    std_strings: bool,
) -> Result<Scan, LexError> {
    let n = b.len();
    let mut i = 0;
    let mut start: Option<usize> = carry.map(|_| 0);
    let Carry {
        mut words,
        mut parens,
    } = carry.cloned().unwrap_or_default();
    let mut spans = Vec::new();
    // Something open at the end of the window: at `eof` an error, else ask for more.
    macro_rules! open {
        ($at:expr, $what:expr) => {{
            if eof {
                return Err(LexError::never_closed($at, $what));
            }
            return Ok(Scan::More);
        }};
    }
    while i < n {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' => {
                i += 1;
                continue;
            }
            b'-' if i + 1 == n && !eof => return Ok(Scan::More),
            b'-' if b.get(i + 1) == Some(&b'-') => {
                match memchr::memchr(b'\n', &b[i..]) {
                    Some(p) => i += p,
                    None if eof => i = n,
                    None => return Ok(Scan::More),
                }
                continue;
            }
            b'/' if i + 1 == n && !eof => return Ok(Scan::More),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                match skip_block_comment(b, i) {
                    Some(e) => i = e,
                    None => open!(i, "a /* comment"),
                }
                continue;
            }
            b'\\' if i + 1 == n && !eof => return Ok(Scan::More),
            // psql's `\;` and `\:`, at a statement's start too.
            b'\\' if matches!(b.get(i + 1), Some(b';') | Some(b':')) => {
                start.get_or_insert(i);
                spans.push(Span {
                    range: i..i + 2,
                    piece: Piece::Escape(b[i + 1]),
                });
                i += 2;
                continue;
            }
            b'\\' => {
                let eol = match memchr::memchr(b'\n', &b[i..]) {
                    Some(p) => i + p,
                    None if eof => n,
                    None => return Ok(Scan::More),
                };
                let mut end = eol;
                while end > i && b[end - 1].is_ascii_whitespace() {
                    end -= 1;
                }
                return Ok(Scan::Meta {
                    text: i..end,
                    next: (eol + 1).min(n),
                    open: start,
                    spans,
                    carry: Carry { parens, words },
                });
            }
            0 => {
                return Err(LexError {
                    at: i,
                    what: "a NUL byte (0x00) is not allowed in SQL text".into(),
                    unclosed: false,
                })
            }
            _ => {}
        }
        if start.is_none() {
            start = Some(i);
        }
        match c {
            b'\'' => match skip_quoted(b, i, !std_strings, eof) {
                Some(e) => i = e,
                None => open!(i, "a quoted string"),
            },
            b'"' => {
                let mut j = i + 1;
                loop {
                    match find(b, b"\"", j) {
                        Some(q) if q + 1 == n && !eof => return Ok(Scan::More),
                        Some(q) if b.get(q + 1) == Some(&b'"') => j = q + 2,
                        Some(q) => {
                            i = q + 1;
                            break;
                        }
                        None => open!(i, "a double-quoted identifier"),
                    }
                }
            }
            b'$' => {
                // A dollar quote: $$ or $tag$ where the tag is an identifier not starting
                // with a digit ($1 is a parameter).
                let mut j = i + 1;
                if j < n && is_ident_start(b[j]) {
                    while j < n && is_ident_char(b[j]) && b[j] != b'$' {
                        j += 1;
                    }
                }
                if j == n && !eof {
                    return Ok(Scan::More);
                }
                if j < n && b[j] == b'$' {
                    let tag = &b[i..=j];
                    match find(b, tag, j + 1) {
                        Some(close) => i = close + tag.len(),
                        None => open!(
                            i,
                            format!("a dollar-quoted string {}", String::from_utf8_lossy(tag))
                        ),
                    }
                } else {
                    i += 1;
                }
            }
            b':' => {
                // `::` is a cast; `:name`, `:'name'` and `:"name"` are psql variables.
                if i + 2 >= n && !eof {
                    return Ok(Scan::More);
                }
                match b.get(i + 1) {
                    Some(b':') => i += 2,
                    Some(&q @ (b'\'' | b'"')) => {
                        let s = i + 2;
                        let mut j = s;
                        while j < n && is_var_char(b[j]) {
                            j += 1;
                        }
                        if j == n && !eof {
                            return Ok(Scan::More);
                        }
                        if j > s && b.get(j) == Some(&q) {
                            let quote = if q == b'\'' {
                                Quote::Literal
                            } else {
                                Quote::Ident
                            };
                            spans.push(Span {
                                range: i..j + 1,
                                piece: Piece::Var { quote, name: s..j },
                            });
                            i = j + 1;
                        } else {
                            i += 1;
                        }
                    }
                    Some(&v) if is_var_char(v) => {
                        let s = i + 1;
                        let mut j = s;
                        while j < n && is_var_char(b[j]) {
                            j += 1;
                        }
                        if j == n && !eof {
                            return Ok(Scan::More);
                        }
                        spans.push(Span {
                            range: i..j,
                            piece: Piece::Var {
                                quote: Quote::Plain,
                                name: s..j,
                            },
                        });
                        i = j;
                    }
                    _ => i += 1,
                }
            }
            b'(' => {
                parens += 1;
                i += 1;
            }
            b')' => {
                parens = parens.saturating_sub(1);
                i += 1;
            }
            b';' if words.begin_depth == 0 && parens == 0 => {
                let s = start.expect("BUG: a statement is open at its semicolon");
                return Ok(Scan::Sql {
                    text: s..i + 1,
                    next: i + 1,
                    spans,
                });
            }
            c if is_ident_start(c) => {
                let s = i;
                while i < n && is_ident_char(b[i]) {
                    i += 1;
                }
                if i == n && !eof {
                    return Ok(Scan::More);
                }
                let word = &b[s..i];
                if (word == b"E" || word == b"e") && b.get(i) == Some(&b'\'') {
                    match skip_quoted(b, i, true, eof) {
                        Some(e) => i = e,
                        None => open!(i, "a quoted string"),
                    }
                } else {
                    words.word(word);
                }
            }
            c if c.is_ascii_digit() => {
                while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                    i += 1;
                }
                if i == n && !eof {
                    return Ok(Scan::More);
                }
            }
            _ => i += 1,
        }
    }
    if !eof {
        return Ok(Scan::More);
    }
    Ok(match start {
        None => Scan::End,
        Some(s) => {
            let mut end = n;
            while end > s && b[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            Scan::Sql {
                text: s..end,
                next: n,
                spans,
            }
        }
    })
}

/// Where the COPY data starting at `from` (a line start) ends in the window: `Some((end, next))`
/// when a `\.` line is found (the data is `from..end`, the input resumes at `next`), `None`
/// otherwise; then the data up to the last complete line can be sent and the rest read.
pub fn copy_end(b: &[u8], from: usize) -> Option<(usize, usize)> {
    let is_end = |at: usize| -> Option<usize> {
        let rest = &b[at..];
        if !rest.starts_with(b"\\.") {
            return None;
        }
        match &rest[2..] {
            [b'\n', ..] => Some(at + 3),
            [b'\r', b'\n', ..] => Some(at + 4),
            _ => None,
        }
    };
    if let Some(next) = is_end(from) {
        return Some((from, next));
    }
    for nl in memchr::memmem::find_iter(&b[from..], b"\n\\.") {
        let at = from + nl + 1;
        if let Some(next) = is_end(at) {
            return Some((at, next));
        }
    }
    None
}

#[cfg(test)]
mod tests;
