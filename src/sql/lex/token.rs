//! The token lexer: one statement's text as tokens (kind, byte span, parenthesis depth), by
//! PostgreSQL's and psql's lexical rules. It is the one place besides the statement splitter
//! in `lex` that knows quotes, dollar quotes, comments and psql's backslash rules; the
//! classifier, the shape finder, the lint and the leading-word checks all read its tokens.

use std::ops::Range;

use super::{is_ident_char, is_ident_start, is_var_char, skip_block_comment, skip_quoted};

/// A string constant's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Str {
    /// `'...'`.
    Plain,
    /// `E'...'`.
    Escape,
    /// `U&'...'`.
    Unicode,
    /// `$$...$$` or `$tag$...$tag$`.
    Dollar,
    /// `N'...'`.
    National,
    /// `B'...'`.
    Bit,
    /// `X'...'`.
    Hex,
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A keyword or an unquoted identifier.
    Word,
    /// A `"quoted"` or `U&"quoted"` identifier.
    Quoted,
    Str(Str),
    Number,
    /// `$1`: a parameter.
    Param,
    /// An operator (`=`, `<>`, `||`, `-`, ...).
    Op,
    /// `::`.
    Cast,
    /// One of `( ) [ ] , ; . :`.
    Punct(u8),
    /// A `--` or `/* */` comment.
    Comment,
    /// A psql variable: `:name`, `:'name'`, `:"name"`.
    PsqlVar,
    /// psql's `\;` or `\:`.
    PsqlEscape,
    /// Anything else (a lone backslash, a NUL byte).
    Other,
}

/// One token: its kind, its bytes in the text, how deep in parentheses it stands (a `(` and
/// its `)` at the depth outside them), and whether the text ends before it closes (a quote
/// or comment never closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    pub depth: u32,
    pub open: bool,
}

impl Token {
    pub fn span(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The token's text in `sql` (the text it was read from).
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        &sql[self.start..self.end]
    }

    /// Whether it is the keyword `kw` (case-insensitive; a quoted identifier never is).
    pub fn is(&self, sql: &str, kw: &str) -> bool {
        self.kind == Kind::Word && sql[self.start..self.end].eq_ignore_ascii_case(kw)
    }

    /// Whether it is a comment (which the server reads as whitespace).
    pub fn is_comment(&self) -> bool {
        self.kind == Kind::Comment
    }
}

/// The tokens of `sql`, comments included, whitespace left out. `std_strings`: the
/// session's standard_conforming_strings (off: a backslash escapes in every `'...'`).
pub fn tokens(sql: &str, std_strings: bool) -> Tokens<'_> {
    Tokens {
        b: sql.as_bytes(),
        i: 0,
        depth: 0,
        std_strings,
    }
}

/// The tokens of `sql` that the server reads (comments left out), with
/// standard_conforming_strings on.
pub fn code(sql: &str) -> impl Iterator<Item = Token> + '_ {
    tokens(sql, true).filter(|t| !t.is_comment())
}

/// An iterator over a text's tokens.
pub struct Tokens<'a> {
    b: &'a [u8],
    i: usize,
    depth: u32,
    std_strings: bool,
}

fn is_op_char(c: u8) -> bool {
    matches!(
        c,
        b'~' | b'!'
            | b'@'
            | b'#'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
            | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'<'
            | b'>'
            | b'='
    )
}

impl Tokens<'_> {
    /// The end of a quoted string or identifier opening at `at`, or the text's end (open).
    fn quoted(&self, at: usize, escapes: bool) -> (usize, bool) {
        match skip_quoted(self.b, at, escapes, true) {
            Some(e) => (e, false),
            None => (self.b.len(), true),
        }
    }

    /// The end of a number starting at `i`: digits, a fraction, an exponent.
    fn number_end(&self, mut i: usize) -> usize {
        let b = self.b;
        let digits = |i: &mut usize| {
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
        };
        digits(&mut i);
        if b.get(i) == Some(&b'.') && b.get(i + 1) != Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            if matches!(b.get(j), Some(b'+' | b'-')) {
                j += 1;
            }
            if b.get(j).is_some_and(u8::is_ascii_digit) {
                i = j;
                digits(&mut i);
            }
        }
        i
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let b = self.b;
        let n = b.len();
        let mut i = self.i;
        while i < n && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0c') {
            i += 1;
        }
        if i >= n {
            self.i = n;
            return None;
        }
        let s = i;
        let c = b[i];
        let mut open = false;
        let next = |i: usize| b.get(i).copied();
        let kind = match c {
            b'-' if next(i + 1) == Some(b'-') => {
                i = memchr::memchr(b'\n', &b[i..]).map_or(n, |p| i + p);
                Kind::Comment
            }
            b'/' if next(i + 1) == Some(b'*') => {
                match skip_block_comment(b, i) {
                    Some(e) => i = e,
                    None => (i, open) = (n, true),
                }
                Kind::Comment
            }
            b'\'' => {
                (i, open) = self.quoted(i, !self.std_strings);
                Kind::Str(Str::Plain)
            }
            b'"' => {
                (i, open) = self.quoted(i, false);
                Kind::Quoted
            }
            b'$' => {
                let mut j = i + 1;
                if next(j).is_some_and(|c| c.is_ascii_digit()) {
                    while j < n && b[j].is_ascii_digit() {
                        j += 1;
                    }
                    i = j;
                    Kind::Param
                } else {
                    if next(j).is_some_and(is_ident_start) {
                        while j < n && is_ident_char(b[j]) && b[j] != b'$' {
                            j += 1;
                        }
                    }
                    if next(j) == Some(b'$') {
                        let tag = &b[i..=j];
                        match memchr::memmem::find(&b[j + 1..], tag) {
                            Some(p) => i = j + 1 + p + tag.len(),
                            None => (i, open) = (n, true),
                        }
                        Kind::Str(Str::Dollar)
                    } else {
                        i += 1;
                        Kind::Other
                    }
                }
            }
            b'0'..=b'9' => {
                i = self.number_end(i);
                Kind::Number
            }
            b'.' if next(i + 1).is_some_and(|c| c.is_ascii_digit()) => {
                i = self.number_end(i);
                Kind::Number
            }
            b':' if next(i + 1) == Some(b':') => {
                i += 2;
                Kind::Cast
            }
            b':' => {
                // psql's `:name`, `:'name'` and `:"name"`.
                let var_end = match next(i + 1) {
                    Some(q @ (b'\'' | b'"')) => {
                        let mut j = i + 2;
                        while j < n && is_var_char(b[j]) {
                            j += 1;
                        }
                        (j > i + 2 && next(j) == Some(q)).then_some(j + 1)
                    }
                    Some(v) if is_var_char(v) => {
                        let mut j = i + 1;
                        while j < n && is_var_char(b[j]) {
                            j += 1;
                        }
                        Some(j)
                    }
                    _ => None,
                };
                match var_end {
                    Some(e) => {
                        i = e;
                        Kind::PsqlVar
                    }
                    None => {
                        i += 1;
                        Kind::Punct(b':')
                    }
                }
            }
            b'\\' if matches!(next(i + 1), Some(b';' | b':')) => {
                i += 2;
                Kind::PsqlEscape
            }
            b'(' | b')' | b'[' | b']' | b',' | b';' | b'.' => {
                i += 1;
                Kind::Punct(c)
            }
            _ if is_ident_start(c) => {
                while i < n && is_ident_char(b[i]) {
                    i += 1;
                }
                let prefixed = |form: Str, at: usize, escapes: bool, this: &Self| {
                    let (e, o) = this.quoted(at, escapes);
                    (Kind::Str(form), e, o)
                };
                let special = match (&b[s..i], next(i)) {
                    ([b'e' | b'E'], Some(b'\'')) => Some(prefixed(Str::Escape, i, true, self)),
                    ([b'n' | b'N'], Some(b'\'')) => {
                        Some(prefixed(Str::National, i, !self.std_strings, self))
                    }
                    ([b'b' | b'B'], Some(b'\'')) => Some(prefixed(Str::Bit, i, false, self)),
                    ([b'x' | b'X'], Some(b'\'')) => Some(prefixed(Str::Hex, i, false, self)),
                    ([b'u' | b'U'], Some(b'&')) if next(i + 1) == Some(b'\'') => {
                        Some(prefixed(Str::Unicode, i + 1, false, self))
                    }
                    ([b'u' | b'U'], Some(b'&')) if next(i + 1) == Some(b'"') => {
                        let (e, o) = self.quoted(i + 1, false);
                        Some((Kind::Quoted, e, o))
                    }
                    _ => None,
                };
                match special {
                    Some((k, e, o)) => {
                        (i, open) = (e, o);
                        k
                    }
                    None => Kind::Word,
                }
            }
            _ if is_op_char(c) => {
                let mut e = i;
                while e < n && is_op_char(b[e]) {
                    if e > i && (b[e..].starts_with(b"--") || b[e..].starts_with(b"/*")) {
                        break;
                    }
                    e += 1;
                }
                // As the server reads operators: one of more than one character cannot end
                // in + or - unless it holds one of ~ ! @ # % ^ & | ` ?.
                if e - i > 1 && !b[i..e].iter().any(|c| b"~!@#%^&|`?".contains(c)) {
                    while e - i > 1 && matches!(b[e - 1], b'+' | b'-') {
                        e -= 1;
                    }
                }
                i = e;
                Kind::Op
            }
            _ => {
                // Keep a multi-byte character whole.
                i += 1;
                while i < n && (b[i] & 0xC0) == 0x80 {
                    i += 1;
                }
                Kind::Other
            }
        };
        self.i = i;
        if kind == Kind::Punct(b')') {
            self.depth = self.depth.saturating_sub(1);
        }
        let tok = Token {
            kind,
            start: s,
            end: i,
            depth: self.depth,
            open,
        };
        if kind == Kind::Punct(b'(') {
            self.depth += 1;
        }
        Some(tok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Kind, &str, u32)> {
        tokens(sql, true)
            .map(|t| (t.kind, t.text(sql), t.depth))
            .collect()
    }

    #[test]
    fn tokens_know_quotes_comments_and_depth() {
        let sql = "SELECT /* a /* b */ c */ E'x\\'y', U&\"d\", $q$ ) $q$, (1.5e3) -- z\n::int";
        assert_eq!(
            kinds(sql),
            [
                (Kind::Word, "SELECT", 0),
                (Kind::Comment, "/* a /* b */ c */", 0),
                (Kind::Str(Str::Escape), "E'x\\'y'", 0),
                (Kind::Punct(b','), ",", 0),
                (Kind::Quoted, "U&\"d\"", 0),
                (Kind::Punct(b','), ",", 0),
                (Kind::Str(Str::Dollar), "$q$ ) $q$", 0),
                (Kind::Punct(b','), ",", 0),
                (Kind::Punct(b'('), "(", 0),
                (Kind::Number, "1.5e3", 1),
                (Kind::Punct(b')'), ")", 0),
                (Kind::Comment, "-- z", 0),
                (Kind::Cast, "::", 0),
                (Kind::Word, "int", 0),
            ]
        );
    }

    #[test]
    fn tokens_know_psql_variables_parameters_and_operators() {
        let sql = "x = :v || :'l' || :\"i\" \\; $1 <>-1";
        let k: Vec<_> = kinds(sql).into_iter().map(|(k, t, _)| (k, t)).collect();
        assert_eq!(
            k,
            [
                (Kind::Word, "x"),
                (Kind::Op, "="),
                (Kind::PsqlVar, ":v"),
                (Kind::Op, "||"),
                (Kind::PsqlVar, ":'l'"),
                (Kind::Op, "||"),
                (Kind::PsqlVar, ":\"i\""),
                (Kind::PsqlEscape, "\\;"),
                (Kind::Param, "$1"),
                (Kind::Op, "<>"),
                (Kind::Op, "-"),
                (Kind::Number, "1"),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_runs_to_the_end_and_says_so() {
        let t: Vec<_> = tokens("select 'abc", true).collect();
        assert!(t[1].open && t[1].end == 11);
        let t: Vec<_> = tokens("select 'a\\' b'", false).collect();
        assert_eq!(
            t.len(),
            2,
            "a backslash escapes with standard_conforming_strings off"
        );
    }
}
