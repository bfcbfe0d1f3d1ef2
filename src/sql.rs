//! Splits a SQL file into statements by PostgreSQL's lexical rules, as psql reads a file:
//! quotes, dollar quotes, comments, `BEGIN ATOMIC` bodies, psql meta-commands and COPY data.

use std::fmt;
use std::ops::Range;

/// What a piece of the file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A SQL statement (with its `;`, if it had one).
    Sql,
    /// `COPY ... FROM stdin;` with the byte range of its data (the lines before `\.`).
    Copy { data: Range<usize> },
    /// A psql meta-command line such as `\restrict` or `\connect`, which is skipped.
    Meta,
}

/// One statement: a byte range of the file and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub range: Range<usize>,
    pub kind: Kind,
}

/// A file split into statements, able to say where a byte offset is.
#[derive(Debug, Clone)]
pub struct Script {
    pub name: String,
    pub text: String,
    pub statements: Vec<Statement>,
    line_starts: Vec<usize>,
}

/// A file that cannot be split (an unterminated quote or comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub name: String,
    pub line: usize,
    pub column: usize,
    pub what: String,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {} is never closed; nothing was run",
            self.name, self.line, self.column, self.what
        )
    }
}

impl std::error::Error for SplitError {}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == b'$'
}

impl Script {
    /// Splits `text`; `name` is used in messages (a path, or `sql/schema.sql`).
    pub fn parse(name: impl Into<String>, text: impl Into<String>) -> Result<Script, SplitError> {
        let name = name.into();
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i + 1),
            )
            .collect();
        let mut script = Script {
            name,
            text,
            statements: Vec::new(),
            line_starts,
        };
        script.statements = split(&script.text).map_err(|(at, what)| {
            let (line, column) = script.line_col(at);
            SplitError {
                name: script.name.clone(),
                line,
                column,
                what,
            }
        })?;
        Ok(script)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset.min(self.text.len())]
            .chars()
            .count()
            + 1;
        (line, column)
    }

    /// The text of a statement.
    pub fn sql(&self, stmt: &Statement) -> &str {
        &self.text[stmt.range.clone()]
    }

    /// The first line of a statement, shortened for messages.
    pub fn first_line(&self, stmt: &Statement) -> String {
        let line = self.sql(stmt).lines().next().unwrap_or("").trim_end();
        if line.chars().count() > 120 {
            format!("{}...", line.chars().take(117).collect::<String>())
        } else {
            line.to_string()
        }
    }

    /// Number of statements that run (SQL and COPY, not meta-commands).
    pub fn runnable(&self) -> usize {
        self.statements
            .iter()
            .filter(|s| s.kind != Kind::Meta)
            .count()
    }
}

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
            i = skip_block_comment(b, i).unwrap_or(b.len());
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

fn skip_block_comment(b: &[u8], start: usize) -> Option<usize> {
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
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Tracks the words at the start of a statement to recognise CREATE FUNCTION/PROCEDURE,
/// whose `BEGIN ATOMIC ... END` bodies hold semicolons (as psql's lexer does).
#[derive(Default)]
struct Words {
    count: usize,
    create_routine: bool,
    saw_create: bool,
    saw_or_replace: u8,
    begin_depth: usize,
}

impl Words {
    fn word(&mut self, w: &str) {
        let upper = w.to_ascii_uppercase();
        match self.count {
            0 => self.saw_create = upper == "CREATE",
            _ if self.saw_create && !self.create_routine && self.count <= 3 => {
                if upper == "OR" && self.count == 1 {
                    self.saw_or_replace = 1;
                } else if upper == "REPLACE" && self.saw_or_replace == 1 && self.count == 2 {
                    self.saw_or_replace = 2;
                } else if upper == "FUNCTION" || upper == "PROCEDURE" {
                    let expected = if self.saw_or_replace == 2 { 3 } else { 1 };
                    self.create_routine = self.count == expected;
                }
            }
            _ => {}
        }
        if self.create_routine {
            match upper.as_str() {
                "BEGIN" => self.begin_depth += 1,
                "CASE" if self.begin_depth > 0 => self.begin_depth += 1,
                "END" if self.begin_depth > 0 => self.begin_depth -= 1,
                _ => {}
            }
        }
        self.count += 1;
    }
}

/// Splits a file; an error is the byte offset and what was left open.
fn split(text: &str) -> Result<Vec<Statement>, (usize, String)> {
    let b = text.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut i = 0;
    let mut start: Option<usize> = None;
    let mut line_start = true;
    let mut words = Words::default();

    while i < n {
        let c = b[i];
        match c {
            b'\n' => {
                line_start = true;
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i).ok_or((i, "a /* comment".to_string()))?;
                continue;
            }
            b'\\' if line_start && start.is_none() => {
                let end = find(b, b"\n", i).unwrap_or(n);
                let mut stop = end;
                while stop > i && b[stop - 1].is_ascii_whitespace() {
                    stop -= 1;
                }
                out.push(Statement {
                    range: i..stop,
                    kind: Kind::Meta,
                });
                i = end;
                continue;
            }
            _ => {}
        }
        line_start = false;
        if start.is_none() {
            start = Some(i);
            words = Words::default();
        }
        match c {
            b'\'' => i = skip_quoted(b, i, false)?,
            b'"' => {
                let mut j = i + 1;
                loop {
                    match find(b, b"\"", j) {
                        Some(q) if b.get(q + 1) == Some(&b'"') => j = q + 2,
                        Some(q) => {
                            i = q + 1;
                            break;
                        }
                        None => return Err((i, "a double-quoted identifier".to_string())),
                    }
                }
            }
            b'$' => {
                // A dollar quote: $$ or $tag$ where the tag is an identifier not starting
                // with a digit ($1 is a parameter).
                let mut j = i + 1;
                if j < n && is_ident_start(b[j]) {
                    while j < n && is_ident_char(b[j]) && b[j] != b'$' {
                        j += 1;
                    }
                }
                if j < n && b[j] == b'$' {
                    let tag = &b[i..=j];
                    let close = find(b, tag, j + 1).ok_or_else(|| {
                        (
                            i,
                            format!("a dollar-quoted string {}", String::from_utf8_lossy(tag)),
                        )
                    })?;
                    i = close + tag.len();
                } else {
                    i += 1;
                }
            }
            b';' if words.begin_depth == 0 => {
                let s = start
                    .take()
                    .expect("BUG: a statement is open at its semicolon");
                i += 1;
                let sql = &text[s..i];
                if is_copy_from_stdin(sql) {
                    // psql reads the data from the next line on, up to a line that is `\.`.
                    let data_start = find(b, b"\n", i).map_or(n, |p| p + 1);
                    let mut line = data_start;
                    let (data_end, resume) = loop {
                        if line >= n {
                            break (n, n);
                        }
                        let eol = find(b, b"\n", line).unwrap_or(n);
                        let content = text[line..eol].trim_end_matches('\r');
                        if content == "\\." {
                            break (line, (eol + 1).min(n));
                        }
                        line = eol + 1;
                    };
                    out.push(Statement {
                        range: s..i,
                        kind: Kind::Copy {
                            data: data_start..data_end,
                        },
                    });
                    i = resume;
                    line_start = true;
                } else {
                    out.push(Statement {
                        range: s..i,
                        kind: Kind::Sql,
                    });
                }
            }
            c if is_ident_start(c) => {
                let s = i;
                while i < n && is_ident_char(b[i]) {
                    i += 1;
                }
                let word = &text[s..i];
                if (word == "E" || word == "e") && b.get(i) == Some(&b'\'') {
                    i = skip_quoted(b, i, true)?;
                } else {
                    words.word(word);
                }
            }
            c if c.is_ascii_digit() => {
                while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    if let Some(s) = start {
        let mut end = n;
        while end > s && b[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        out.push(Statement {
            range: s..end,
            kind: if is_copy_from_stdin(&text[s..end]) {
                Kind::Copy { data: end..end }
            } else {
                Kind::Sql
            },
        });
    }
    Ok(out)
}

/// Skips a single-quoted string starting at `i`; `escapes` for E'' strings.
fn skip_quoted(b: &[u8], i: usize, escapes: bool) -> Result<usize, (usize, String)> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' if escapes => j += 2,
            b'\'' if b.get(j + 1) == Some(&b'\'') => j += 2,
            b'\'' => return Ok(j + 1),
            _ => j += 1,
        }
    }
    Err((i, "a quoted string".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(text: &str) -> Vec<String> {
        let s = Script::parse("t.sql", text).unwrap();
        s.statements
            .iter()
            .filter(|st| st.kind == Kind::Sql)
            .map(|st| s.sql(st).to_string())
            .collect()
    }

    #[test]
    fn plain_statements() {
        assert_eq!(
            sqls("select 1; select 2;\nselect 3"),
            ["select 1;", "select 2;", "select 3"]
        );
        assert_eq!(sqls("  \n-- only a comment\n  "), Vec::<String>::new());
    }

    #[test]
    fn semicolons_in_single_quotes_with_doubled_quotes() {
        assert_eq!(
            sqls("select 'a;''b;'; select 2;"),
            ["select 'a;''b;';", "select 2;"]
        );
    }

    #[test]
    fn escape_strings_with_backslashes() {
        assert_eq!(
            sqls(r"select E'it\'s; \\'; select 2;"),
            [r"select E'it\'s; \\';", "select 2;"]
        );
        // A backslash in a standard string is an ordinary character.
        assert_eq!(
            sqls(r"select 'C:\'; select 2;"),
            [r"select 'C:\';", "select 2;"]
        );
        // An identifier ending in e is not an E'' prefix.
        assert_eq!(
            sqls(r"select name'x\'; select 2;"),
            [r"select name'x\';", "select 2;"]
        );
    }

    #[test]
    fn double_quoted_identifiers() {
        assert_eq!(
            sqls(r#"create table "a;""b" (x int); select 1;"#),
            [r#"create table "a;""b" (x int);"#, "select 1;"]
        );
    }

    #[test]
    fn dollar_quotes_with_tags() {
        let f = "create function f() returns int as $fn$ begin return 1; end; $fn$ language plpgsql;\nselect $$;$$;";
        assert_eq!(
            sqls(f),
            [
                "create function f() returns int as $fn$ begin return 1; end; $fn$ language plpgsql;",
                "select $$;$$;"
            ]
        );
        // $1 is a parameter, not a quote; $a$ inside $b$ is text.
        assert_eq!(
            sqls("prepare p as select $1; select $b$ $a$ ; $b$;"),
            ["prepare p as select $1;", "select $b$ $a$ ; $b$;"]
        );
        // A $ inside an identifier is not a quote.
        assert_eq!(sqls("select a$b; select 1;"), ["select a$b;", "select 1;"]);
    }

    #[test]
    fn comments_line_and_nested_block() {
        assert_eq!(
            sqls("select 1 -- x;y\n; /* a /* b; */ c; */ select 2;"),
            ["select 1 -- x;y\n;", "select 2;"]
        );
    }

    #[test]
    fn begin_atomic_bodies() {
        let f = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT CASE WHEN true THEN 2 END;\nEND;\nselect 3;";
        let s = sqls(f);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].ends_with("END;"));
        // BEGIN as a transaction statement still ends at its semicolon.
        assert_eq!(
            sqls("begin; select 1; commit;"),
            ["begin;", "select 1;", "commit;"]
        );
    }

    #[test]
    fn meta_commands_on_their_own_line() {
        let s = Script::parse(
            "d.sql",
            "\\restrict abc\nselect 1;\n\\connect foo\n\\unrestrict abc\n",
        )
        .unwrap();
        let kinds: Vec<_> = s
            .statements
            .iter()
            .map(|st| (st.kind.clone(), s.sql(st).to_string()))
            .collect();
        assert_eq!(
            kinds,
            [
                (Kind::Meta, "\\restrict abc".to_string()),
                (Kind::Sql, "select 1;".to_string()),
                (Kind::Meta, "\\connect foo".to_string()),
                (Kind::Meta, "\\unrestrict abc".to_string()),
            ]
        );
    }

    #[test]
    fn copy_blocks_carry_their_data() {
        let f = "COPY public.t (a, b) FROM stdin;\n1\tx;y\n2\t'q\n\\.\nselect 1;\n";
        let s = Script::parse("c.sql", f).unwrap();
        assert_eq!(s.statements.len(), 2);
        let Kind::Copy { data } = &s.statements[0].kind else {
            panic!("{:?}", s.statements)
        };
        assert_eq!(&f[data.clone()], "1\tx;y\n2\t'q\n");
        assert_eq!(s.sql(&s.statements[1]), "select 1;");
        assert!(!is_copy_from_stdin("COPY t TO stdout;"));
        assert!(is_copy_from_stdin(
            "copy t(a) from STDIN with (format csv);"
        ));
    }

    #[test]
    fn unterminated_quotes_are_errors_with_position() {
        let err = Script::parse("u.sql", "select 1;\nselect 'abc;\n").unwrap_err();
        assert_eq!((err.line, err.column), (2, 8));
        assert!(Script::parse("u.sql", "select $x$ abc").is_err());
        assert!(Script::parse("u.sql", "/* /* */").is_err());
        assert!(Script::parse("u.sql", "select \"abc").is_err());
    }

    #[test]
    fn line_and_column_in_characters() {
        let s = Script::parse("l.sql", "select 'é';\n  select x;").unwrap();
        assert_eq!(s.line_col(s.statements[1].range.start), (2, 3));
        let t = "select 'éé', y;";
        let s = Script::parse("l.sql", t).unwrap();
        assert_eq!(s.line_col(t.find('y').unwrap()), (1, 14));
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
