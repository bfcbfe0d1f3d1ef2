//! The tokens of one statement for the lint, as `sql::lex` reads them: words, quoted
//! identifiers, constants and punctuation with their byte offsets and parenthesis depth;
//! comments and whitespace left out.

use crate::sql::lex;

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

/// The tokens of a statement, comments and whitespace left out, as the SQL lexer reads them.
pub fn tokens(sql: &str) -> Vec<Tok<'_>> {
    use crate::sql::lex::token::Kind as T;
    lex::code(sql)
        .map(|t| Tok {
            kind: match t.kind {
                T::Word => Kind::Word,
                T::Quoted => Kind::Ident,
                T::Str(_) => Kind::Str,
                T::Number => Kind::Num,
                _ => Kind::Punct,
            },
            text: t.text(sql),
            at: t.start,
            depth: t.depth as usize,
        })
        .collect()
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
