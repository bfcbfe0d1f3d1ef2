//! SQL files as psql reads them: the lexer (`lex`), psql variables (`vars`), meta-commands
//! (`meta`), and the reader that streams a file and its includes as statements (`input`).

pub mod input;
pub mod item;
pub mod lex;
pub mod meta;
pub mod prepared;
pub mod vars;

pub use input::{Input, Item, Loc, ReadError, Reader, Stats, Stmt};
pub use vars::Vars;

use lex::{is_ident_char, is_ident_start};

/// The first `n` words of a statement, upper-cased, skipping comments.
pub fn leading_words(sql: &str, n: usize) -> Vec<String> {
    let b = sql.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() && words.len() < n {
        let c = b[i];
        if c == b'-' && b.get(i + 1) == Some(&b'-') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i = block_comment_end(b, i);
        } else if is_ident_start(c) {
            let s = i;
            while i < b.len() && is_ident_char(b[i]) {
                i += 1;
            }
            words.push(sql[s..i].to_ascii_uppercase());
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else {
            break;
        }
    }
    words
}

/// Whether a statement is `COPY ... FROM STDIN` (psql then reads data lines up to `\.`).
pub fn is_copy_from_stdin(sql: &str) -> bool {
    let words = leading_words(sql, 1);
    if words.first().map(String::as_str) != Some("COPY") {
        return false;
    }
    let upper = sql.to_ascii_uppercase();
    let mut tokens = upper
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(' || c == ')')
        .filter(|t| !t.is_empty());
    let mut prev = "";
    for t in tokens.by_ref() {
        if prev == "FROM" && (t == "STDIN" || t == "PSTDIN") {
            return true;
        }
        prev = t;
    }
    false
}

/// Whether a statement opens or ends a transaction (folded into the file's one transaction).
pub fn is_transaction_control(sql: &str) -> bool {
    let w = leading_words(sql, 2);
    match w.first().map(String::as_str) {
        Some("BEGIN") | Some("COMMIT") | Some("END") => {
            w.len() == 1 || matches!(w[1].as_str(), "WORK" | "TRANSACTION" | "ISOLATION" | "READ")
        }
        Some("START") => w.get(1).map(String::as_str) == Some("TRANSACTION"),
        _ => false,
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
