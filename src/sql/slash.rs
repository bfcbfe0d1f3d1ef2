//! psql's slash-command lexer (psqlscanslash.l): the command name, then each argument read in
//! one of psql's modes, with its quoting, backslash escapes, variables and trailing semicolons,
//! and where the command ends on its line (the next command or SQL may follow it).

use super::lex::is_var_char;
use super::vars::{quote_ident, quote_literal, Vars};

/// How an argument is read (psql's `enum slash_option_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `OT_NORMAL`: quotes, escapes and variables resolved; double quotes kept.
    Normal,
    /// `OT_SQLID`: as a SQL identifier: double quotes removed, unquoted letters lower-cased.
    SqlId,
    /// `OT_SQLIDHACK`: double quotes removed, letters kept as written (`\c`'s arguments).
    SqlIdHack,
    /// `OT_FILEPIPE`: as `Normal`, but a leading `|` takes the rest of the line.
    FilePipe,
    /// `OT_WHOLE_LINE`: the rest of the line verbatim, leading whitespace dropped.
    WholeLine,
    /// `OT_NO_EVAL`: as `Normal` without expanding variables or running backquotes (psql
    /// reads the arguments a command ignores this way).
    NoEval,
}

/// An argument and how it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub text: String,
    /// psql's `option_quote`: the last quoting seen (`'`, `"`, `` ` `` or `:` for a
    /// variable), `None` when the argument was written bare.
    pub quote: Option<char>,
}

/// Why an argument cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashError {
    /// A quote is never closed on the line.
    Unterminated,
    /// Backquotes would run a shell command.
    Backquote,
    /// Escapes made bytes that are not UTF-8.
    NotUtf8,
}

impl std::fmt::Display for SlashError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SlashError::Unterminated => "an argument's quote is never closed on its line",
            SlashError::Backquote => "backquotes (running a shell command) are not supported",
            SlashError::NotUtf8 => "an argument's escapes make bytes that are not UTF-8",
        })
    }
}

/// psql's `{space}`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'\x0b')
}

/// A meta-command line being read: from its backslash to the end of its line.
pub struct Slash<'a> {
    line: &'a str,
    at: usize,
    vars: &'a Vars,
}

impl<'a> Slash<'a> {
    /// Starts at the backslash that opens `line`.
    pub fn new(line: &'a str, vars: &'a Vars) -> Slash<'a> {
        debug_assert!(line.starts_with('\\'));
        Slash { line, at: 1, vars }
    }

    /// The command name: everything up to whitespace or the next backslash.
    pub fn command(&mut self) -> &'a str {
        let rest = &self.line[self.at..];
        let len = rest
            .bytes()
            .position(|c| is_space(c) || c == b'\\')
            .unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    /// Bytes of the line read so far.
    pub fn used(&self) -> usize {
        self.at
    }

    /// The next argument in `mode`; `None` at the end of the command (the end of the line or
    /// an unquoted backslash). `semicolon`: strip unquoted trailing semicolons, as psql does
    /// for `\c` and `\i`.
    pub fn arg(&mut self, mode: Mode, semicolon: bool) -> Result<Option<Arg>, SlashError> {
        let b = self.line.as_bytes();
        while self.at < b.len() && is_space(b[self.at]) {
            self.at += 1;
        }
        if mode == Mode::WholeLine || (mode == Mode::FilePipe && b.get(self.at) == Some(&b'|')) {
            let text = self.line[self.at..].to_string();
            self.at = b.len();
            return Ok((!text.is_empty()).then_some(Arg { text, quote: None }));
        }
        let mut out: Vec<u8> = Vec::new();
        let mut quote = None;
        // Bytes at the end of `out` that no quoting produced (psql's unquoted_option_chars).
        let mut unquoted = 0usize;
        while self.at < b.len() {
            let c = b[self.at];
            match c {
                _ if is_space(c) || c == b'\\' => break,
                b'\'' => {
                    quote = Some('\'');
                    unquoted = 0;
                    self.at = single_quoted(b, self.at + 1, &mut out)?;
                }
                b'"' => {
                    quote = Some('"');
                    unquoted = 0;
                    let Some(close) = memchr::memchr(b'"', &b[self.at + 1..]) else {
                        return Err(SlashError::Unterminated);
                    };
                    let end = self.at + 1 + close + 1;
                    out.extend_from_slice(&b[self.at..end]);
                    self.at = end;
                }
                b'`' => {
                    if mode != Mode::NoEval {
                        return Err(SlashError::Backquote);
                    }
                    let Some(close) = memchr::memchr(b'`', &b[self.at + 1..]) else {
                        return Err(SlashError::Unterminated);
                    };
                    quote = Some('`');
                    unquoted = 0;
                    out.extend_from_slice(&b[self.at + 1..self.at + 1 + close]);
                    self.at += close + 2;
                }
                b':' if mode != Mode::NoEval => match self.variable(&mut out) {
                    true => {
                        quote = Some(':');
                        unquoted = 0;
                    }
                    false => {
                        out.push(b':');
                        unquoted += 1;
                        self.at += 1;
                    }
                },
                _ => {
                    out.push(c);
                    unquoted += 1;
                    self.at += 1;
                }
            }
        }
        if semicolon {
            while unquoted > 0 && out.last() == Some(&b';') {
                out.pop();
                unquoted -= 1;
            }
        }
        if matches!(mode, Mode::SqlId | Mode::SqlIdHack) {
            out = strip_double_quotes(&out, mode == Mode::SqlId);
        }
        if out.is_empty() && quote.is_none() {
            return Ok(None);
        }
        // NOTE: psql hands the argument on as a C string: an escaped NUL ends it.
        if let Some(nul) = memchr::memchr(0, &out) {
            out.truncate(nul);
        }
        let text = String::from_utf8(out).map_err(|_| SlashError::NotUtf8)?;
        Ok(Some(Arg { text, quote }))
    }

    /// The arguments a command leaves unread, which psql ignores (with a warning), read
    /// without evaluation as psql reads them.
    pub fn ignored(&mut self) -> Result<Vec<String>, SlashError> {
        let mut out = Vec::new();
        while let Some(a) = self.arg(Mode::NoEval, false)? {
            out.push(a.text);
        }
        Ok(out)
    }

    /// Ends the command: a `\\` right here is eaten (psql's separator); what follows on the
    /// line (`used()` onwards) is read as SQL or as the next meta-command.
    pub fn end(&mut self) {
        if self.line[self.at..].starts_with("\\\\") {
            self.at += 2;
        }
    }

    /// A `:name`, `:'name'` or `:"name"` at `at`: appends its value (or, when the variable
    /// is not set, the text as written, as psql does) and returns true; false for a plain
    /// colon.
    fn variable(&mut self, out: &mut Vec<u8>) -> bool {
        let b = self.line.as_bytes();
        let q = b
            .get(self.at + 1)
            .copied()
            .filter(|q| *q == b'\'' || *q == b'"');
        let s = self.at + 1 + usize::from(q.is_some());
        let mut e = s;
        while e < b.len() && is_var_char(b[e]) {
            e += 1;
        }
        if e == s || (q.is_some() && b.get(e) != q.as_ref()) {
            return false;
        }
        let end = e + usize::from(q.is_some());
        let name = &self.line[s..e];
        match (self.vars.get(name), q) {
            (None, _) => out.extend_from_slice(&b[self.at..end]),
            (Some(v), None) => out.extend_from_slice(v.as_bytes()),
            (Some(v), Some(b'\'')) => out.extend_from_slice(quote_literal(v).as_bytes()),
            (Some(v), Some(_)) => out.extend_from_slice(quote_ident(v).as_bytes()),
        }
        self.at = end;
        true
    }
}

/// Reads a single-quoted part whose text starts at `i` into `out` with psql's escapes (`''`,
/// `\n \t \b \r \f`, octal `\ooo`, hex `\xhh`, `\c` for any other c); returns where it ends.
fn single_quoted(b: &[u8], mut i: usize, out: &mut Vec<u8>) -> Result<usize, SlashError> {
    loop {
        let Some(&c) = b.get(i) else {
            return Err(SlashError::Unterminated);
        };
        match c {
            b'\'' if b.get(i + 1) == Some(&b'\'') => {
                out.push(b'\'');
                i += 2;
            }
            b'\'' => return Ok(i + 1),
            b'\\' if i + 1 < b.len() => {
                let e = b[i + 1];
                i += 2;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(b'\x08'),
                    b'r' => out.push(b'\r'),
                    b'f' => out.push(b'\x0c'),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match b.get(i) {
                                Some(d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        // NOTE: psql keeps the low byte (`(char) strtol(...)`).
                        out.push(v as u8);
                    }
                    b'x' if b.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                        let mut v = 0u32;
                        for _ in 0..2 {
                            match b.get(i).and_then(|d| (*d as char).to_digit(16)) {
                                Some(d) => {
                                    v = v * 16 + d;
                                    i += 1;
                                }
                                None => break,
                            }
                        }
                        out.push(v as u8);
                    }
                    _ => {
                        // The escaped character itself (all its bytes).
                        out.push(e);
                        while i < b.len() && (b[i] & 0xC0) == 0x80 {
                            out.push(b[i]);
                            i += 1;
                        }
                    }
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// psql's SQL-identifier processing of an argument: double quotes removed (`""` inside them
/// is one quote), and with `lower` the letters outside them lower-cased.
fn strip_double_quotes(b: &[u8], lower: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut inquotes = false;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            if inquotes && b.get(i + 1) == Some(&b'"') {
                out.push(b'"');
                i += 2;
                continue;
            }
            inquotes = !inquotes;
        } else if !inquotes && lower {
            out.push(b[i].to_ascii_lowercase());
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars::from_pairs(["v=val", "q=it's", "bs=a\\b", "db=My Db"]).unwrap()
    }

    /// The arguments of `line` read in `mode` until the command ends, and the rest of the
    /// line after it.
    fn args(line: &str, mode: Mode, semicolon: bool) -> (Vec<String>, String) {
        let vars = vars();
        let mut s = Slash::new(line, &vars);
        s.command();
        let mut out = Vec::new();
        while let Some(a) = s.arg(mode, semicolon).unwrap() {
            out.push(a.text);
        }
        s.end();
        (out, line[s.used()..].to_string())
    }

    #[test]
    fn arguments_as_psql_reads_them() {
        use Mode::*;
        let table: &[(&str, Mode, bool, &[&str], &str)] = &[
            (r"\c dbname;", SqlIdHack, true, &["dbname"], ""),
            (r"\c dbname;;", SqlIdHack, true, &["dbname"], ""),
            (r"\c 'db;'", SqlIdHack, true, &["db;"], ""),
            (r"\c db';'", SqlIdHack, true, &["db;"], ""),
            (r"\c db;x;", SqlIdHack, true, &["db;x"], ""),
            (r"\set x 1;", Normal, false, &["x", "1;"], ""),
            (
                r#"\c "My""Db" MixedCase"#,
                SqlIdHack,
                true,
                &["My\"Db", "MixedCase"],
                "",
            ),
            (r#"\d "My"Tab"#, SqlId, false, &["Mytab"], ""),
            (r#"\set x "a b""#, Normal, false, &["x", "\"a b\""], ""),
            (r#"\set x 'a'b"c"d"#, Normal, false, &["x", "ab\"c\"d"], ""),
            (r"\set x 'it''s'", Normal, false, &["x", "it's"], ""),
            (
                r"\set x '\n\t\b\r\f\101\x41\x4g\z\\'",
                Normal,
                false,
                &["x", "\n\t\x08\r\x0cAA\x04gz\\"],
                "",
            ),
            (r"\set x ''", Normal, false, &["x", ""], ""),
            (
                r"\echo :v :'q' :'bs' :v:v",
                Normal,
                false,
                &["val", "'it''s'", " E'a\\\\b'", "valval"],
                "",
            ),
            (r#"\c :"db""#, SqlIdHack, true, &["My Db"], ""),
            (
                r"\echo :nope :'nope' a:b :",
                Normal,
                false,
                &[":nope", ":'nope'", "a:b", ":"],
                "",
            ),
            (r"\echo :v", NoEval, false, &[":v"], ""),
            (r"\echo a \echo b", Normal, false, &["a"], r"\echo b"),
            (r"\echo a \\ select 1;", Normal, false, &["a"], " select 1;"),
            (r"\echo a\\b", Normal, false, &["a"], "b"),
            (r"\i file.sql   ", Normal, true, &["file.sql"], ""),
            (r"\i ;", Normal, true, &[], ""),
            (
                r"\copy t from 'x' \\ with csv",
                WholeLine,
                false,
                &[r"t from 'x' \\ with csv"],
                "",
            ),
            (r"\g |cat x", FilePipe, false, &["|cat x"], ""),
        ];
        for (line, mode, semi, want, rest) in table {
            let (got, got_rest) = args(line, *mode, *semi);
            assert_eq!(got, *want, "{line}");
            assert_eq!(got_rest, *rest, "{line}");
        }
    }

    #[test]
    fn quoting_is_reported_for_echo_and_connect() {
        let vars = vars();
        let mut s = Slash::new(r#"\echo -n '-n' "x" :v"#, &vars);
        assert_eq!(s.command(), "echo");
        let quotes: Vec<Option<char>> = std::iter::from_fn(|| s.arg(Mode::Normal, false).unwrap())
            .map(|a| a.quote)
            .collect();
        assert_eq!(quotes, [None, Some('\''), Some('"'), Some(':')]);
    }

    #[test]
    fn what_cannot_be_read() {
        let vars = vars();
        for (line, err) in [
            (r"\set x 'abc", SlashError::Unterminated),
            (r#"\set x "abc"#, SlashError::Unterminated),
            (r"\set x `date`", SlashError::Backquote),
            (r"\set x '\377'", SlashError::NotUtf8),
        ] {
            let mut s = Slash::new(line, &vars);
            s.command();
            s.arg(Mode::Normal, false).unwrap();
            assert_eq!(s.arg(Mode::Normal, false), Err(err), "{line}");
        }
        let mut s = Slash::new(r"\i a `date`", &vars);
        s.command();
        s.arg(Mode::Normal, true).unwrap();
        assert_eq!(s.ignored().unwrap(), ["date"], "not run when ignored");
    }

    #[test]
    fn command_names_end_at_space_or_backslash() {
        let vars = vars();
        for (line, name) in [
            (r"\c db", "c"),
            (r"\echo\\", "echo"),
            (r"\\", ""),
            (r"\ifoo.sql", "ifoo.sql"),
        ] {
            assert_eq!(Slash::new(line, &vars).command(), name, "{line}");
        }
    }
}
