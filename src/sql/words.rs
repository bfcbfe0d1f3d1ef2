//! A statement's leading words, read without allocating (this runs on every statement of a
//! file): which statements the reader and the runner treat specially (COPY, transaction
//! control, settings that change how the text is parsed).

use super::conninfo;
use super::lex::{self, is_ident_char, is_ident_start};

/// The leading words of a statement, as written, skipping comments (no allocation: this
/// runs on every statement of a file).
fn leading_words(sql: &str) -> impl Iterator<Item = &str> {
    let b = sql.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            let c = b[i];
            if c == b'-' && b.get(i + 1) == Some(&b'-') {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |p| i + p);
            } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
                i = block_comment_end(b, i);
            } else if is_ident_start(c) {
                let s = i;
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                return Some(&sql[s..i]);
            } else if c.is_ascii_whitespace() {
                i += 1;
            } else {
                return None;
            }
        }
        None
    })
}

/// Whether a statement is an INSERT (by its first word).
pub fn is_insert(sql: &str) -> bool {
    leading_words(sql)
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("INSERT"))
}

/// Whether a statement is `COPY ... FROM STDIN` (psql then reads data lines up to `\.`).
pub fn is_copy_from_stdin(sql: &str) -> bool {
    if !leading_words(sql)
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("COPY"))
    {
        return false;
    }
    let mut tokens = sql
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == ')')
        .filter(|t| !t.is_empty());
    let mut prev = "";
    for t in tokens.by_ref() {
        if prev.eq_ignore_ascii_case("FROM")
            && (t.eq_ignore_ascii_case("STDIN") || t.eq_ignore_ascii_case("PSTDIN"))
        {
            return true;
        }
        prev = t;
    }
    false
}

/// Whether a statement is `COPY ... TO STDOUT` (psql prints the rows; the server answers it
/// with COPY data, not rows).
pub fn is_copy_to_stdout(sql: &str) -> bool {
    if !leading_words(sql)
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("COPY"))
    {
        return false;
    }
    let mut prev = "";
    for t in sql
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == ')')
        .filter(|t| !t.is_empty())
    {
        if prev.eq_ignore_ascii_case("TO") && t.eq_ignore_ascii_case("STDOUT") {
            return true;
        }
        prev = t;
    }
    false
}

/// Whether a statement changes how the server reads the statements after it (the client
/// encoding, standard_conforming_strings, backslash_quote): the server converts and parses a
/// whole batch before it runs any of it, so the batch must end after it.
pub fn changes_parsing(sql: &str) -> bool {
    let mut w = leading_words(sql);
    let is = |w: Option<&str>, k: &[&str]| {
        w.is_some_and(|w| k.iter().any(|k| w.eq_ignore_ascii_case(k)))
    };
    const SETTINGS: &[&str] = &[
        "client_encoding",
        "standard_conforming_strings",
        "backslash_quote",
        "NAMES",
    ];
    let first = w.next();
    if is(first, &["RESET"]) {
        return is(
            w.next(),
            &[
                "ALL",
                "client_encoding",
                "standard_conforming_strings",
                "backslash_quote",
            ],
        );
    }
    if !is(first, &["SET"]) {
        return false;
    }
    let mut next = w.next();
    if is(next, &["SESSION", "LOCAL"]) {
        next = w.next();
    }
    is(next, SETTINGS)
}

/// Whether a statement leaves literals read as before in a UTF8 session with
/// standard_conforming_strings on: `SET [SESSION] standard_conforming_strings = on` (not
/// `DEFAULT`, not `RESET`: the default may be off) or `SET [SESSION] client_encoding = 'UTF8'`,
/// as pg_dump writes at the top of every file.
pub fn keeps_literal_reading(sql: &str) -> bool {
    let mut w = leading_words(sql);
    if !w.next().is_some_and(|f| f.eq_ignore_ascii_case("SET")) {
        return false;
    }
    let mut name = w.next();
    if name.is_some_and(|n| n.eq_ignore_ascii_case("SESSION")) {
        name = w.next();
    }
    let Some(name) = name else {
        return false;
    };
    // The value: after `=` or `TO`, unquoted, without the `;`.
    // `name` is a slice of `sql`: what follows it starts where it ends.
    let after = name.as_ptr() as usize - sql.as_ptr() as usize + name.len();
    let rest = sql[after..].trim_start();
    let value = match rest.strip_prefix('=') {
        Some(v) => v,
        None if rest.len() >= 2 && rest[..2].eq_ignore_ascii_case("TO") => &rest[2..],
        None => return false,
    };
    let value = value.trim().trim_end_matches(';').trim().trim_matches('\'');
    if name.eq_ignore_ascii_case("standard_conforming_strings") {
        return conninfo::parse_bool(value) == Some(true);
    }
    name.eq_ignore_ascii_case("client_encoding")
        && value
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .eq_ignore_ascii_case("utf8")
}

/// What a statement does to standard_conforming_strings, which decides how psql's lexer
/// (and cruddur-db's) reads `'...'` after it: `Some(Ok(on))` for `SET [SESSION]
/// standard_conforming_strings = | TO value`, `RESET` (of it or all) and `SET ... DEFAULT`;
/// `Some(Err(()))` for a form whose effect cannot be followed (`SET LOCAL`, a value that is not
/// a boolean); `None` when it does not touch it.
pub fn std_strings_setting(sql: &str) -> Option<Result<bool, ()>> {
    let mut w = leading_words(sql);
    let first = w.next()?;
    let name = "standard_conforming_strings";
    if first.eq_ignore_ascii_case("RESET") {
        let what = w.next()?;
        return (what.eq_ignore_ascii_case(name) || what.eq_ignore_ascii_case("ALL"))
            .then_some(Ok(true));
    }
    if !first.eq_ignore_ascii_case("SET") {
        return None;
    }
    let rest = sql.trim_start()[3..].trim_start();
    let (scope, rest) = match rest.split_once(|c: char| c.is_whitespace()) {
        Some((s, r)) if s.eq_ignore_ascii_case("SESSION") || s.eq_ignore_ascii_case("LOCAL") => {
            (Some(s), r.trim_start())
        }
        _ => (None, rest),
    };
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if !rest[..end].eq_ignore_ascii_case(name) {
        return None;
    }
    if scope.is_some_and(|s| s.eq_ignore_ascii_case("LOCAL")) {
        return Some(Err(()));
    }
    let value = rest[end..].trim_start();
    let value = match value.strip_prefix('=') {
        Some(v) => v,
        None if value.len() >= 2 && value[..2].eq_ignore_ascii_case("TO") => &value[2..],
        None => return Some(Err(())),
    };
    let value = value.trim().trim_end_matches(';').trim().trim_matches('\'');
    if value.eq_ignore_ascii_case("DEFAULT") {
        return Some(Ok(true));
    }
    Some(conninfo::parse_bool(value).ok_or(()))
}

/// Where a `/* */` comment starting at `i` ends (the end of `b` if it never does).
fn block_comment_end(b: &[u8], start: usize) -> usize {
    lex::skip_block_comment(b, start).unwrap_or(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_from_stdin_is_recognised() {
        assert!(!is_copy_from_stdin("COPY t TO stdout;"));
        assert!(is_copy_to_stdout("COPY t TO stdout;"));
        assert!(is_copy_to_stdout(
            "copy (select 1) to STDOUT with (format csv);"
        ));
        assert!(!is_copy_to_stdout("COPY t FROM stdin;"));
        assert!(is_copy_from_stdin(
            "copy t(a) from STDIN with (format csv);"
        ));
    }

    #[test]
    fn statements_that_change_parsing_are_recognised() {
        for t in [
            "SET client_encoding = 'LATIN1';",
            "set session standard_conforming_strings to off",
            "SET NAMES 'UTF8';",
            "RESET ALL;",
        ] {
            assert!(changes_parsing(t), "{t}");
        }
        for t in ["SET search_path = x;", "select 1;", "RESET search_path;"] {
            assert!(!changes_parsing(t), "{t}");
        }
    }

    #[test]
    fn standard_conforming_strings_settings_are_recognised() {
        for (sql, want) in [
            ("SET standard_conforming_strings = off;", Some(Ok(false))),
            (
                "set SESSION standard_conforming_strings to 'on'",
                Some(Ok(true)),
            ),
            (
                "SET standard_conforming_strings TO DEFAULT;",
                Some(Ok(true)),
            ),
            ("RESET standard_conforming_strings;", Some(Ok(true))),
            ("RESET ALL;", Some(Ok(true))),
            (
                "SET LOCAL standard_conforming_strings = off;",
                Some(Err(())),
            ),
            ("SET standard_conforming_strings_x = off;", None),
            ("SET client_encoding = 'UTF8';", None),
            ("select 1;", None),
        ] {
            assert_eq!(std_strings_setting(sql), want, "{sql}");
        }
    }

    #[test]
    fn settings_that_keep_literals_read_as_before() {
        for t in [
            "SET standard_conforming_strings = on;",
            "SET SESSION standard_conforming_strings TO 'true';",
            "SET client_encoding = 'UTF8';",
            "set client_encoding to 'utf-8'",
        ] {
            assert!(keeps_literal_reading(t), "{t}");
        }
        for t in [
            "SET standard_conforming_strings = off;",
            "SET standard_conforming_strings = DEFAULT;",
            "RESET standard_conforming_strings;",
            "SET LOCAL standard_conforming_strings = on;",
            "SET client_encoding = 'SJIS';",
            "SET NAMES 'UTF8';",
            "SET backslash_quote = on;",
            "SELECT set_config('standard_conforming_strings', 'on', false);",
        ] {
            assert!(!keeps_literal_reading(t), "{t}");
        }
    }
}
