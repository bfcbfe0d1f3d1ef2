//! A condition given on the command line (`copy --where`), checked to be one boolean
//! expression before it is put inside a query: it can never close the parentheses it is
//! written into, end the statement, or add a clause of its own (UNION, ORDER BY, LIMIT ...).
//!
//! NOTE: this is the lexical half; the caller also asks the server to plan the condition in
//! `WHERE (...)` (type and names checked, nothing run).

use super::lex::{skip_block_comment, skip_quoted};

/// Words that, at the condition's own level (outside every parenthesis), would end the
/// expression and start a clause or another query.
const ENDS_EXPRESSION: &[&str] = &[
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "GROUP",
    "HAVING",
    "WINDOW",
    "INTO",
    "WHERE",
    "RETURNING",
    "FOR",
    "SELECT",
    "WITH",
    "VALUES",
    "TABLE",
];

/// Why `text` is not one expression, or `Ok` when it is.
pub fn check(text: &str) -> Result<(), String> {
    let b = text.as_bytes();
    if text.trim().is_empty() {
        return Err("the condition is empty".into());
    }
    let mut depth = 0usize;
    let mut i = 0;
    let mut prev_word: Option<String> = None;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' => {
                let escapes = i > 0
                    && matches!(b[i - 1], b'e' | b'E')
                    && (i < 2 || !super::lex::is_ident_char(b[i - 2]));
                let end = skip_quoted(b, i, escapes, true)
                    .filter(|&e| e <= b.len() && b[e - 1] == b'\'' && e > i + 1)
                    .ok_or("a quoted string is not closed")?;
                if !escapes && b[i..end].contains(&b'\\') {
                    // NOTE: with standard_conforming_strings off the server reads a backslash
                    // in '...' as an escape and this check would not: refused, so both agree.
                    return Err(
                        "a backslash in a '...' string: write it as E'...' with the \
                                backslash doubled"
                            .into(),
                    );
                }
                i = end;
            }
            b'"' => {
                let end = skip_quoted(b, i, false, true)
                    .filter(|&e| e <= b.len() && b[e - 1] == b'"' && e > i + 1)
                    .ok_or("a quoted name is not closed")?;
                i = end;
            }
            b'$' if i + 1 < b.len()
                && (b[i + 1] == b'$' || super::lex::is_ident_start(b[i + 1])) =>
            {
                let tag_end = (i + 1..b.len())
                    .find(|&j| b[j] == b'$' || !super::lex::is_ident_char(b[j]))
                    .filter(|&j| b[j] == b'$');
                match tag_end {
                    Some(te) => {
                        let tag = &b[i..=te];
                        let close = memchr::memmem::find(&b[te + 1..], tag)
                            .ok_or("a dollar-quoted string is not closed")?;
                        i = te + 1 + close + tag.len();
                    }
                    // `$name` without a closing `$`: not a dollar quote; read as a word.
                    None => i += 1,
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                let nl = memchr::memchr2(b'\n', b'\r', &b[i..]).ok_or(
                    "a -- comment runs to the end of the condition (it would swallow \
                            what follows it in the query): use /* */",
                )?;
                i += nl + 1;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i).ok_or("a /* comment is not closed")?;
            }
            b'(' | b'[' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' => {
                if depth == 0 {
                    return Err(format!(
                        "a closing {:?} without its opening one: the condition would end the \
                         parentheses it is written in",
                        c as char
                    ));
                }
                depth -= 1;
                i += 1;
            }
            b';' => {
                return Err("a `;` would end the statement: give one condition".into());
            }
            c if super::lex::is_ident_start(c) => {
                let end = (i..b.len())
                    .find(|&j| !super::lex::is_ident_char(b[j]))
                    .unwrap_or(b.len());
                let word = text[i..end].to_ascii_uppercase();
                let fetch_first = prev_word.as_deref() == Some("FETCH")
                    && matches!(word.as_str(), "FIRST" | "NEXT");
                if depth == 0 && (ENDS_EXPRESSION.contains(&word.as_str()) || fetch_first) {
                    let word = if fetch_first { "FETCH" } else { word.as_str() };
                    return Err(format!(
                        "{word} outside parentheses would end the condition and start a clause \
                         of its own; a subquery goes in parentheses (x IN (SELECT ...), EXISTS \
                         (SELECT ...))"
                    ));
                }
                prev_word = Some(word);
                i = end;
                continue;
            }
            _ => i += 1,
        }
        if !c.is_ascii_whitespace() && !super::lex::is_ident_start(c) {
            prev_word = None;
        }
    }
    if depth > 0 {
        return Err("an opening parenthesis is not closed".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_that_are_one_expression_pass() {
        for ok in [
            "created_at > now() - interval '30 days'",
            "handle = 'it''s' AND (bio IS NULL OR bio <> '')",
            "uuid IN (SELECT user_uuid FROM activities ORDER BY 1 LIMIT 3)",
            "EXISTS (SELECT 1 FROM activities a WHERE a.user_uuid = users.uuid)",
            "a IS DISTINCT FROM b",
            "\"weird ) name\" = $$ ) ; UNION $$",
            "x = E'a\\'b)'",
            "x = $q$ ; $q$ /* ) */ AND y = 1 -- note\n",
            "tags[1] = 'x'",
            "\"fetch\" = 1 AND true",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
    }

    /// Regression: `--where "users: false) UNION ALL SELECT ... FROM users WHERE (true"`
    /// broke out of its parentheses and copied every real email.
    #[test]
    fn conditions_that_break_out_are_refused() {
        for bad in [
            "false) UNION ALL SELECT uuid, display_name, email FROM users WHERE (true",
            "true; DROP TABLE users",
            "true UNION SELECT 1",
            "true ORDER BY 1",
            "true LIMIT 1",
            "x FETCH FIRST 1 ROWS ONLY",
            "(true",
            "true)",
            "'unclosed",
            "\"unclosed",
            "$$unclosed",
            "true /* unclosed",
            "true -- eats the rest",
            "SELECT true",
            "x = 'a\\'",
            "",
            "true FOR UPDATE",
        ] {
            assert!(check(bad).is_err(), "{bad:?} passed");
        }
    }
}
