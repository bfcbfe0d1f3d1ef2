//! psql variables: the set of them (`-v NAME=VALUE`, `\set`, `\unset`), their quoting as
//! literals and identifiers, and interpolation into a statement with a map back to the file.

use std::collections::BTreeMap;

use super::lex::{Piece, Quote, Span};

/// psql variables by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars(BTreeMap<String, String>);

/// Whether `name` is a valid psql variable name (letters, digits, underscores).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(super::lex::is_var_char)
}

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }

    /// Variables from `NAME=VALUE` pairs, as `psql -v` takes them.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Result<Vars, String> {
        let mut vars = Vars::new();
        for pair in pairs {
            let (name, value) = parse_pair(pair)?;
            vars.set(name, value);
        }
        Ok(vars)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    pub fn unset(&mut self, name: &str) {
        self.0.remove(name);
    }

    /// The value of a reference as psql writes it into the text.
    pub fn render(&self, name: &str, quote: Quote) -> Option<String> {
        let v = self.get(name)?;
        Some(match quote {
            Quote::Plain => v.to_string(),
            Quote::Literal => quote_literal(v),
            Quote::Ident => quote_ident(v),
        })
    }
}

/// Splits `NAME=VALUE` (for `-v`/`--set`); the name must be a valid variable name.
pub fn parse_pair(pair: &str) -> Result<(String, String), String> {
    let Some((name, value)) = pair.split_once('=') else {
        return Err(format!("expected NAME=VALUE, got {pair:?}"));
    };
    if !valid_name(name) {
        return Err(format!(
            "invalid variable name {name:?} (letters, digits and underscores)"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// A string literal as libpq's PQescapeLiteral writes it: `E'...'` (after a space) when the
/// value holds a backslash.
pub fn quote_literal(v: &str) -> String {
    let quoted = super::quote::literal(v);
    if quoted.starts_with('E') {
        format!(" {quoted}")
    } else {
        quoted
    }
}

/// A quoted identifier as libpq's PQescapeIdentifier writes it.
pub fn quote_ident(v: &str) -> String {
    super::quote::ident(v)
}

/// A part of the text sent that differs from the text written: `sent` and `written` are byte
/// ranges relative to the statement's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sub {
    pub sent: std::ops::Range<usize>,
    pub written: std::ops::Range<usize>,
}

/// A reference to a variable that is not set: its name and byte offset in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unset {
    pub name: String,
    pub at: usize,
}

/// The text to send for a statement written as `text` (spans relative to `text`), and where
/// the sent text differs. A name starting with a digit that is not set stays as written
/// (`a[1:2]` is an array slice), as psql leaves every unknown name.
pub fn interpolate(text: &str, spans: &[Span], vars: &Vars) -> Result<(String, Vec<Sub>), Unset> {
    let mut out = String::with_capacity(text.len() + 16);
    let mut subs = Vec::with_capacity(spans.len());
    let mut last = 0;
    for span in spans {
        let value = match &span.piece {
            Piece::Escape(c) => (*c as char).to_string(),
            Piece::Var { quote, name } => {
                let name = &text[name.clone()];
                match vars.render(name, *quote) {
                    Some(v) => v,
                    None if name.as_bytes()[0].is_ascii_digit() => continue,
                    None => {
                        return Err(Unset {
                            name: name.to_string(),
                            at: span.range.start,
                        })
                    }
                }
            }
        };
        out.push_str(&text[last..span.range.start]);
        let s = out.len();
        out.push_str(&value);
        subs.push(Sub {
            sent: s..out.len(),
            written: span.range.clone(),
        });
        last = span.range.end;
    }
    out.push_str(&text[last..]);
    Ok((out, subs))
}

/// Maps a byte offset of the sent text back to the text as written: inside a substituted
/// value, the start of what was written there.
pub fn written_offset(subs: &[Sub], sent: usize) -> usize {
    let mut shift: isize = 0;
    for s in subs {
        if sent < s.sent.start {
            break;
        }
        if sent < s.sent.end {
            return s.written.start;
        }
        shift = s.written.end as isize - s.sent.end as isize;
    }
    (sent as isize + shift).max(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lex::{scan, Scan};

    fn run(text: &str, vars: &Vars) -> Result<(String, Vec<Sub>), Unset> {
        let Scan::Sql { text: t, spans, .. } = scan(text.as_bytes(), true).unwrap() else {
            panic!()
        };
        assert_eq!(t.start, 0);
        interpolate(&text[t], &spans, vars)
    }

    fn vars() -> Vars {
        Vars::from_pairs(["tbl=my table", "n=5", "q=it's", "bs=a\\b"]).unwrap()
    }

    #[test]
    fn the_three_forms_as_psql_writes_them() {
        let (sent, _) = run("select :n, :'q', :\"tbl\", :'bs', x::int, ':n';", &vars()).unwrap();
        assert_eq!(
            sent,
            "select 5, 'it''s', \"my table\",  E'a\\\\b', x::int, ':n';"
        );
    }

    #[test]
    fn an_unset_name_is_an_error_with_its_offset_but_digits_stay() {
        let err = run("select 1,\n :missing;", &vars()).unwrap_err();
        assert_eq!(
            err,
            Unset {
                name: "missing".into(),
                at: 11
            }
        );
        assert_eq!(run("select a[1:2];", &vars()).unwrap().0, "select a[1:2];");
    }

    #[test]
    fn positions_map_back_to_the_text_as_written() {
        let text = "select :'q', :n, bad;";
        let (sent, subs) = run(text, &vars()).unwrap();
        assert_eq!(sent, "select 'it''s', 5, bad;");
        let bad = sent.find("bad").unwrap();
        assert_eq!(written_offset(&subs, bad), text.find("bad").unwrap());
        assert_eq!(written_offset(&subs, 8), 7, "inside a value: the reference");
        assert_eq!(written_offset(&subs, 2), 2);
    }

    #[test]
    fn pairs_need_a_valid_name() {
        assert!(Vars::from_pairs(["a-b=1"]).is_err());
        assert!(Vars::from_pairs(["novalue"]).is_err());
        assert_eq!(Vars::from_pairs(["x=a=b"]).unwrap().get("x"), Some("a=b"));
    }
}
