//! A statement's leading words, read from `sql::lex`'s tokens without allocating (this runs
//! on every statement of a file): which statements the reader and the runner treat specially
//! (COPY, settings that change how the text is parsed).

use super::conninfo;
use super::lex::token::{Kind, Str};
use super::lex::{self, Token};

/// The leading words of a statement, as written, skipping comments (no allocation: this
/// runs on every statement of a file).
fn leading_words(sql: &str) -> impl Iterator<Item = &str> {
    lex::code(sql).map_while(move |t| (t.kind == Kind::Word).then(|| t.text(sql)))
}

/// Whether the statement's words at depth 0 hold `first` followed by one of `then`.
fn has_pair(sql: &str, first: &str, then: &[&str]) -> bool {
    let mut prev: Option<Token> = None;
    for t in lex::code(sql) {
        if let Some(p) = prev {
            if p.depth == 0 && p.is(sql, first) && then.iter().any(|w| t.is(sql, w)) {
                return true;
            }
        }
        prev = Some(t);
    }
    false
}

/// A setting's value: the one token after `=` or `TO` (a quoted string unquoted), up to the
/// statement's end; `None` for anything else.
fn setting_value(sql: &str, mut rest: impl Iterator<Item = Token>) -> Option<&str> {
    let op = rest.next()?;
    if !(op.is(sql, "TO") || (op.kind == Kind::Op && op.text(sql) == "=")) {
        return None;
    }
    let v = rest.next()?;
    if rest.next().is_some_and(|t| t.kind != Kind::Punct(b';')) {
        return None;
    }
    let text = v.text(sql);
    match v.kind {
        Kind::Word | Kind::Number => Some(text),
        Kind::Str(Str::Plain) => Some(&text[1..text.len() - 1]),
        _ => None,
    }
}

/// Whether a statement is an INSERT (by its first word).
pub fn is_insert(sql: &str) -> bool {
    leading_words(sql)
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("INSERT"))
}

/// Whether a statement is `COPY ... FROM STDIN` (psql then reads data lines up to `\.`).
pub fn is_copy_from_stdin(sql: &str) -> bool {
    leading_words(sql)
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("COPY"))
        && has_pair(sql, "FROM", &["STDIN", "PSTDIN"])
}

/// Whether a statement is `COPY ... TO STDOUT` (psql prints the rows; the server answers it
/// with COPY data, not rows).
pub fn is_copy_to_stdout(sql: &str) -> bool {
    leading_words(sql)
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("COPY"))
        && has_pair(sql, "TO", &["STDOUT"])
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
    let mut toks = lex::code(sql);
    if !toks.next().is_some_and(|t| t.is(sql, "SET")) {
        return false;
    }
    let mut name = toks.next();
    if name.is_some_and(|n| n.is(sql, "SESSION")) {
        name = toks.next();
    }
    let Some(name) = name.filter(|n| n.kind == Kind::Word) else {
        return false;
    };
    let Some(value) = setting_value(sql, toks) else {
        return false;
    };
    if name.is(sql, "standard_conforming_strings") {
        return conninfo::parse_bool(value) == Some(true);
    }
    name.is(sql, "client_encoding")
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
    let name = "standard_conforming_strings";
    let mut toks = lex::code(sql);
    let first = toks.next()?;
    if first.is(sql, "RESET") {
        let what = toks.next()?;
        return (what.is(sql, name) || what.is(sql, "ALL")).then_some(Ok(true));
    }
    if !first.is(sql, "SET") {
        return None;
    }
    let mut setting = toks.next()?;
    let local = setting.is(sql, "LOCAL");
    if local || setting.is(sql, "SESSION") {
        setting = toks.next()?;
    }
    if !setting.is(sql, name) {
        return None;
    }
    if local {
        return Some(Err(()));
    }
    let Some(value) = setting_value(sql, toks) else {
        return Some(Err(()));
    };
    if value.eq_ignore_ascii_case("DEFAULT") {
        return Some(Ok(true));
    }
    Some(conninfo::parse_bool(value).ok_or(()))
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
