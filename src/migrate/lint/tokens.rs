//! The tokens of one statement for the lint: words, quoted identifiers, constants and
//! punctuation with their byte offsets and parenthesis depth; comments and whitespace left out.

use crate::sql::lex::{is_ident_char, is_ident_start};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An unquoted word: a keyword or an identifier.
    Word,
    /// A `"quoted"` identifier.
    Ident,
    /// A string constant (any quoting, dollar quotes included).
    Str,
    Num,
    Punct,
}

/// One token: its kind, its text as written, its byte offset in the statement, and how deep
/// in parentheses it is.
#[derive(Debug, Clone)]
pub struct Tok<'a> {
    pub kind: Kind,
    pub text: &'a str,
    pub at: usize,
    pub depth: usize,
}

impl Tok<'_> {
    /// Whether this is the keyword `kw` (case-insensitive, never a quoted identifier).
    pub fn is(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(kw)
    }

    pub fn punct(&self, p: &str) -> bool {
        self.kind == Kind::Punct && self.text == p
    }

    /// The identifier this token names: unquoted words fold to lower case.
    pub fn ident(&self) -> Option<String> {
        match self.kind {
            Kind::Word => Some(self.text.to_ascii_lowercase()),
            Kind::Ident => {
                let inner = self.text.strip_prefix('"').unwrap_or(self.text);
                let inner = inner.strip_suffix('"').unwrap_or(inner);
                Some(inner.replace("\"\"", "\""))
            }
            _ => None,
        }
    }
}

/// The tokens of a statement, comments and whitespace left out.
pub fn tokens(sql: &str) -> Vec<Tok<'_>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if b[i..].starts_with(b"--") {
            i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |p| i + p);
            continue;
        } else if b[i..].starts_with(b"/*") {
            i = block_comment_end(b, i);
            continue;
        } else if c == b'\'' {
            // E'...' strings keep backslash escapes; the E was the previous word.
            let escapes = out.last().is_some_and(|t: &Tok| t.is("E") && t.at + 1 == i);
            i = quoted_end(b, i, b'\'', escapes);
            kind = Kind::Str;
        } else if c == b'"' {
            i = quoted_end(b, i, b'"', false);
            kind = Kind::Ident;
        } else if c == b'$' && dollar_tag(b, i).is_some() {
            let tag_end = dollar_tag(b, i).unwrap_or(i + 1);
            let tag = &b[i..tag_end];
            i = memchr::memmem::find(&b[tag_end..], tag)
                .map_or(b.len(), |p| tag_end + p + tag.len());
            kind = Kind::Str;
        } else if is_ident_start(c) {
            while i < b.len() && is_ident_char(b[i]) {
                i += 1;
            }
            kind = Kind::Word;
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            kind = Kind::Num;
        } else {
            i += if b[i..].starts_with(b"::") { 2 } else { 1 };
            // Keep multi-byte characters whole.
            while i < b.len() && !sql.is_char_boundary(i) {
                i += 1;
            }
            kind = Kind::Punct;
        }
        let text = &sql[start..i.min(b.len())];
        if kind == Kind::Punct && text == ")" {
            depth = depth.saturating_sub(1);
        }
        out.push(Tok {
            kind,
            text,
            at: start,
            depth,
        });
        if kind == Kind::Punct && text == "(" {
            depth += 1;
        }
    }
    out
}

fn block_comment_end(b: &[u8], start: usize) -> usize {
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
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

fn quoted_end(b: &[u8], start: usize, q: u8, escapes: bool) -> usize {
    let mut j = start + 1;
    while j < b.len() {
        if escapes && b[j] == b'\\' {
            j += 2;
        } else if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2;
            } else {
                return j + 1;
            }
        } else {
            j += 1;
        }
    }
    b.len()
}

/// The end of a `$tag$` opening at `i` (one past its second `$`).
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if b.get(j).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
        j += 1;
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1)
}

/// Skips the keywords `kws` in order when they are all there.
pub(super) fn skip(toks: &[Tok], i: usize, kws: &[&str]) -> usize {
    let all = kws
        .iter()
        .enumerate()
        .all(|(k, kw)| toks.get(i + k).is_some_and(|t| t.is(kw)));
    if all {
        i + kws.len()
    } else {
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_skip_comments_and_quotes() {
        let t = tokens("ALTER /* x; */ TABLE \"My \"\"T\"\"\" -- y\n ADD c text DEFAULT 'a''b;'");
        let texts: Vec<&str> = t.iter().map(|x| x.text).collect();
        assert_eq!(
            texts,
            [
                "ALTER",
                "TABLE",
                "\"My \"\"T\"\"\"",
                "ADD",
                "c",
                "text",
                "DEFAULT",
                "'a''b;'"
            ]
        );
        assert_eq!(t[2].ident().unwrap(), "My \"T\"");
        let t = tokens("SELECT $f$ ( $f$, E'\\'(' , (1)");
        assert_eq!(t.iter().filter(|x| x.depth > 0).count(), 1);
    }
}
