//! SQL files as psql reads them: the lexer (`lex`), psql variables (`vars`), meta-commands
//! (`meta`) with psql's argument lexer (`slash`) and `\c`'s forms (`conninfo`), and the
//! reader that streams a file and its includes as statements (`input`).

pub mod conninfo;
pub mod input;
pub mod item;
pub mod lex;
pub mod meta;
pub mod prepared;
pub mod slash;
pub mod vars;

pub use conninfo::Server;
pub use input::{Input, Item, Loc, ReadError, Reader, Stats, Stmt};
pub use vars::Vars;

use lex::{is_ident_char, is_ident_start};

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

/// Whether a statement opens or ends a transaction (folded into the file's one transaction).
pub fn is_transaction_control(sql: &str) -> bool {
    let mut w = leading_words(sql);
    let is = |w: Option<&str>, k: &[&str]| {
        w.is_some_and(|w| k.iter().any(|k| w.eq_ignore_ascii_case(k)))
    };
    let first = w.next();
    if is(first, &["BEGIN", "COMMIT", "END"]) {
        let second = w.next();
        second.is_none() || is(second, &["WORK", "TRANSACTION", "ISOLATION", "READ"])
    } else if is(first, &["START"]) {
        is(w.next(), &["TRANSACTION"])
    } else {
        false
    }
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
        assert!(is_copy_from_stdin(
            "copy t(a) from STDIN with (format csv);"
        ));
    }

    #[test]
    fn transaction_control_is_recognised() {
        for t in [
            "BEGIN;",
            "begin transaction;",
            "COMMIT;",
            "end;",
            "START TRANSACTION;",
        ] {
            assert!(is_transaction_control(t), "{t}");
        }
        for t in ["BEGIN ATOMIC", "select 1;", "ENDX;", "commit_x;"] {
            assert!(!is_transaction_control(t), "{t}");
        }
    }
}
