//! psql meta-commands: which are honoured, skipped or refused, and their arguments read by
//! psql's rules (quotes, backslash escapes, variables).

use super::vars::{quote_ident, quote_literal, valid_name, Vars};

/// What a meta-command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meta {
    /// `\i FILE` (relative to the current directory) or `\ir FILE` (to the including file).
    Include {
        path: String,
        relative: bool,
    },
    Set {
        name: String,
        value: String,
    },
    Unset(String),
    /// `\echo` / `\warn`: a line for stderr.
    Echo(String),
    /// `\c DBNAME`.
    Connect(String),
    /// `\copy ... FROM ...` as the COPY statement to send and where its data comes from.
    Copy {
        sql: String,
        from: CopyFrom,
    },
    /// Safe to skip; the text says why.
    Skip(String),
}

/// Where `\copy` data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyFrom {
    /// `stdin`: the lines that follow in the file, up to `\.`.
    Inline,
    /// A client-side file, relative to the current directory.
    File(String),
}

/// Why a meta-command cannot be run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaError {
    /// The command (or this form of it) is not run by cruddur-db.
    Refused(String),
    /// A variable its arguments use is not set.
    Unset(String),
}

/// Variables psql reads to change how statements run; setting them would change the result.
const BEHAVIOUR_VARS: &[&str] = &["AUTOCOMMIT", "ON_ERROR_ROLLBACK", "SINGLE_STEP"];

/// Reads the meta-command `line` (from its backslash to the end of its line).
pub fn parse(line: &str, vars: &Vars) -> Result<Meta, MetaError> {
    let body = &line[1..];
    let name_len = body
        .find(|c: char| c.is_whitespace() || c == '\\')
        .unwrap_or(body.len());
    let name = &body[..name_len];
    let rest = &body[name_len..];
    let refuse = |why: &str| Err(MetaError::Refused(format!("\\{name}: {why}")));
    let mut args = Args {
        s: rest,
        at: 0,
        vars,
    };
    match name {
        "i" | "include" | "ir" | "include_relative" => {
            let Some(path) = args.next(Mode::Normal)? else {
                return refuse("needs a file name");
            };
            Ok(Meta::Include {
                path,
                relative: name.starts_with("ir") || name == "include_relative",
            })
        }
        "set" => {
            let Some(var) = args.next(Mode::Normal)? else {
                return refuse("without a name (listing the variables) is not supported");
            };
            if !valid_name(&var) {
                return refuse(&format!("invalid variable name {var:?}"));
            }
            if var == "ON_ERROR_STOP" {
                return Ok(Meta::Skip(
                    "cruddur-db always stops at the first error".into(),
                ));
            }
            if BEHAVIOUR_VARS.contains(&var.as_str()) {
                return refuse(&format!(
                    "{var} changes how statements run, which cruddur-db does not follow"
                ));
            }
            let mut value = String::new();
            while let Some(a) = args.next(Mode::Normal)? {
                value.push_str(&a);
            }
            Ok(Meta::Set { name: var, value })
        }
        "unset" => match args.next(Mode::Normal)? {
            Some(var) if valid_name(&var) => Ok(Meta::Unset(var)),
            _ => refuse("needs a variable name"),
        },
        "echo" | "warn" => {
            let mut words = Vec::new();
            while let Some(a) = args.next(Mode::Normal)? {
                words.push(a);
            }
            if words.first().map(String::as_str) == Some("-n") {
                words.remove(0);
            }
            Ok(Meta::Echo(words.join(" ")))
        }
        "c" | "connect" => connect(&mut args).map_err(|e| match e {
            MetaError::Refused(why) => MetaError::Refused(format!("\\{name}: {why}")),
            other => other,
        }),
        "copy" => copy(rest).map_err(|why| MetaError::Refused(format!("\\copy: {why}"))),
        "restrict" | "unrestrict" => Ok(Meta::Skip(
            "pg_dump's guard against meta-commands in data; cruddur-db runs none from data".into(),
        )),
        "timing" | "pset" => Ok(Meta::Skip("it only changes psql's output".into())),
        "encoding" => match args.next(Mode::Normal)? {
            Some(e) if matches!(e.to_ascii_uppercase().as_str(), "UTF8" | "UTF-8" | "UNICODE") => {
                Ok(Meta::Skip("cruddur-db always talks UTF8".into()))
            }
            _ => refuse("only UTF8 is supported"),
        },
        _ => Err(MetaError::Refused(format!(
            "\\{name} is not supported by cruddur-db (it honours \\i, \\ir, \\set, \\unset, \\copy ... FROM, \\c DBNAME and \\echo)"
        ))),
    }
}

fn connect(args: &mut Args<'_>) -> Result<Meta, MetaError> {
    let mut db = args.next(Mode::Ident)?;
    if db
        .as_deref()
        .is_some_and(|d| d.starts_with("-reuse-previous"))
    {
        db = args.next(Mode::Ident)?;
    }
    let refuse = |why: &str| Err(MetaError::Refused(why.to_string()));
    let db = match db {
        None => return refuse("without a database name (reconnecting) is not supported"),
        Some(d) if d == "-" => {
            return refuse("without a database name (reconnecting) is not supported")
        }
        Some(d)
            if d.contains('=')
                || d.starts_with("postgres://")
                || d.starts_with("postgresql://") =>
        {
            return refuse(
                "connection strings are not supported, only a database name on the same server",
            )
        }
        Some(d) => d,
    };
    while let Some(other) = args.next(Mode::Ident)? {
        if other != "-" {
            return refuse(&format!(
                "another user, host or port ({other:?}) is not supported, only a database name on the same server"
            ));
        }
    }
    Ok(Meta::Connect(db))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Double quotes are kept (psql's normal arguments).
    Normal,
    /// Double quotes are removed, as for a database name.
    Ident,
}

/// psql's argument reader over the rest of a meta-command line.
struct Args<'a> {
    s: &'a str,
    at: usize,
    vars: &'a Vars,
}

impl Args<'_> {
    /// The next argument; quoted parts, variables and plain text next to each other make one.
    fn next(&mut self, mode: Mode) -> Result<Option<String>, MetaError> {
        let b = self.s.as_bytes();
        while self.at < b.len() && b[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
        if self.at >= b.len() {
            return Ok(None);
        }
        let refuse = |why: &str| Err(MetaError::Refused(why.to_string()));
        let mut out = String::new();
        while self.at < b.len() && !b[self.at].is_ascii_whitespace() {
            let rest = &self.s[self.at..];
            let c = rest.chars().next().expect("BUG: not at the end");
            match c {
                '\'' => {
                    let (text, used) = match single_quoted(rest) {
                        Some(x) => x,
                        None => return refuse("an argument's quote is never closed"),
                    };
                    out.push_str(&text);
                    self.at += used;
                }
                '"' => {
                    let Some(end) = double_quoted_end(rest) else {
                        return refuse("an argument's double quote is never closed");
                    };
                    let inner = &rest[1..end - 1];
                    match mode {
                        Mode::Normal => out.push_str(&rest[..end]),
                        Mode::Ident => out.push_str(&inner.replace("\"\"", "\"")),
                    }
                    self.at += end;
                }
                '`' => return refuse("backquotes (running a shell command) are not supported"),
                '\\' => {
                    return refuse("several meta-commands on one line are not supported");
                }
                ':' => {
                    let (value, used) = self.variable(rest)?;
                    out.push_str(&value);
                    self.at += used;
                }
                _ => {
                    out.push(c);
                    self.at += c.len_utf8();
                }
            }
        }
        Ok(Some(out))
    }

    /// A `:name`, `:'name'` or `:"name"` at the start of `rest` (else a plain colon).
    fn variable(&self, rest: &str) -> Result<(String, usize), MetaError> {
        let b = rest.as_bytes();
        let quote = b.get(1).copied().filter(|q| *q == b'\'' || *q == b'"');
        let s = if quote.is_some() { 2 } else { 1 };
        let mut e = s;
        while e < b.len() && super::lex::is_var_char(b[e]) {
            e += 1;
        }
        if e == s || (quote.is_some() && b.get(e) != quote.as_ref()) {
            return Ok((":".into(), 1));
        }
        let name = &rest[s..e];
        let Some(v) = self.vars.get(name) else {
            return Err(MetaError::Unset(name.to_string()));
        };
        Ok(match quote {
            None => (v.to_string(), e),
            Some(b'\'') => (quote_literal(v).trim_start().to_string(), e + 1),
            Some(_) => (quote_ident(v), e + 1),
        })
    }
}

/// A single-quoted argument at the start of `s`: its text (with `''` and psql's backslash
/// escapes resolved) and the bytes it used.
fn single_quoted(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut it = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = it.next() {
        match c {
            '\'' if it.peek().map(|x| x.1) == Some('\'') => {
                it.next();
                out.push('\'');
            }
            '\'' => return Some((out, i + 1)),
            '\\' => {
                let (_, e) = it.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'b' => out.push('\x08'),
                    'r' => out.push('\r'),
                    'f' => out.push('\x0c'),
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        for _ in 0..2 {
                            match it.peek().and_then(|x| x.1.to_digit(8)) {
                                Some(d) => {
                                    v = v * 8 + d;
                                    it.next();
                                }
                                None => break,
                            }
                        }
                        out.push(char::from_u32(v)?);
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// The end (exclusive) of a double-quoted part at the start of `s`.
fn double_quoted_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'"' {
            if b.get(i + 1) == Some(&b'"') {
                i += 2;
                continue;
            }
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// A token of a `\copy` line: its byte range.
fn copy_tokens(s: &str) -> Result<Vec<std::ops::Range<usize>>, String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match b[i] {
            b'\'' => {
                let (_, used) = single_quoted(&s[i..]).ok_or("a quote is never closed")?;
                i += used;
            }
            b'"' => i += double_quoted_end(&s[i..]).ok_or("a double quote is never closed")?,
            b'(' => {
                let mut depth = 0;
                while i < b.len() {
                    match b[i] {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        b'\'' => {
                            i += single_quoted(&s[i..]).ok_or("a quote is never closed")?.1;
                            continue;
                        }
                        b'"' => {
                            i += double_quoted_end(&s[i..])
                                .ok_or("a double quote is never closed")?;
                            continue;
                        }
                        _ => {}
                    }
                    i += 1;
                }
                if depth != 0 {
                    return Err("a parenthesis is never closed".into());
                }
            }
            _ => {
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'(' {
                    if b[i] == b'"' {
                        i += double_quoted_end(&s[i..]).ok_or("a double quote is never closed")?;
                    } else {
                        i += 1;
                    }
                }
            }
        }
        out.push(start..i);
    }
    Ok(out)
}

/// `\copy TABLE [(COLUMNS)] FROM {'FILE' | FILE | stdin} [options]`, taken verbatim (psql does
/// not interpolate variables in `\copy`).
fn copy(rest: &str) -> Result<Meta, String> {
    let rest = rest.trim();
    let tokens = copy_tokens(rest)?;
    let word = |i: usize| rest[tokens[i].clone()].to_ascii_lowercase();
    if tokens.is_empty() {
        return Err("needs a table and FROM".into());
    }
    if rest.starts_with('(') {
        return Err(
            "copying a query's result (TO) writes a client file; only FROM is supported".into(),
        );
    }
    if word(0) == "binary" {
        return Err("the old BINARY form is not supported".into());
    }
    let Some(dir) = (1..tokens.len()).find(|&i| matches!(word(i).as_str(), "from" | "to")) else {
        return Err("expected FROM after the table".into());
    };
    if word(dir) == "to" {
        return Err("\\copy ... TO writes a client file; only FROM is supported".into());
    }
    let Some(src) = tokens.get(dir + 1) else {
        return Err("expected a file name after FROM".into());
    };
    let src_text = &rest[src.clone()];
    let from = if src_text.starts_with('\'') {
        CopyFrom::File(single_quoted(src_text).ok_or("a quote is never closed")?.0)
    } else {
        match src_text.to_ascii_lowercase().as_str() {
            "stdin" => CopyFrom::Inline,
            "pstdin" => return Err("pstdin (psql's own standard input) is not supported".into()),
            "program" => return Err("PROGRAM (running a shell command) is not supported".into()),
            "stdout" | "pstdout" => return Err("only FROM a file or stdin is supported".into()),
            _ => CopyFrom::File(src_text.to_string()),
        }
    };
    let table = rest[..tokens[dir].start].trim_end();
    let options = rest[src.end..].trim().trim_end_matches(';').trim_end();
    let sql = if options.is_empty() {
        format!("COPY {table} FROM STDIN")
    } else {
        format!("COPY {table} FROM STDIN {options}")
    };
    Ok(Meta::Copy { sql, from })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars::from_pairs(["dir=parts", "db=chi nook", "q=it's"]).unwrap()
    }

    fn ok(line: &str) -> Meta {
        parse(line, &vars()).unwrap()
    }

    fn refused(line: &str) -> String {
        match parse(line, &vars()) {
            Err(MetaError::Refused(why)) => why,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn set_concatenates_words_with_psql_quoting() {
        assert_eq!(
            ok(r"\set x 'a b' c 'it''s\n'"),
            Meta::Set {
                name: "x".into(),
                value: "a bcit's\n".into()
            }
        );
        assert_eq!(
            ok(r#"\set y "Quoted" :q :'q'"#),
            Meta::Set {
                name: "y".into(),
                value: "\"Quoted\"it's'it''s'".into()
            }
        );
        assert_eq!(
            ok(r"\set empty"),
            Meta::Set {
                name: "empty".into(),
                value: String::new()
            }
        );
        assert_eq!(ok(r"\unset x"), Meta::Unset("x".into()));
        assert_eq!(
            parse(r"\set z :nope", &vars()),
            Err(MetaError::Unset("nope".into()))
        );
    }

    #[test]
    fn includes_take_variables_and_quotes() {
        assert_eq!(
            ok(r"\i :dir/a.sql"),
            Meta::Include {
                path: "parts/a.sql".into(),
                relative: false
            }
        );
        assert_eq!(
            ok(r"\include_relative 'with space.sql'"),
            Meta::Include {
                path: "with space.sql".into(),
                relative: true
            }
        );
        assert!(matches!(
            ok(r"\ir x.sql"),
            Meta::Include { relative: true, .. }
        ));
    }

    #[test]
    fn connect_takes_only_a_database_name() {
        assert_eq!(ok(r"\c chinook"), Meta::Connect("chinook".into()));
        assert_eq!(
            ok(r#"\connect "Odd ""Db""""#),
            Meta::Connect("Odd \"Db\"".into())
        );
        assert_eq!(ok(r"\c :db"), Meta::Connect("chi nook".into()));
        assert_eq!(
            ok(r"\c -reuse-previous=on x - -"),
            Meta::Connect("x".into())
        );
        assert!(refused(r"\c x otheruser").contains("another user"));
        assert!(refused(r"\c").contains("without a database name"));
        assert!(refused(r"\c host=a dbname=b").contains("connection strings"));
    }

    #[test]
    fn copy_from_a_file_or_stdin() {
        assert_eq!(
            ok(r"\copy public.t (a, b) from 'data file.csv' with (format csv, header)"),
            Meta::Copy {
                sql: "COPY public.t (a, b) FROM STDIN with (format csv, header)".into(),
                from: CopyFrom::File("data file.csv".into())
            }
        );
        assert_eq!(
            ok(r"\copy t FROM data.tsv"),
            Meta::Copy {
                sql: "COPY t FROM STDIN".into(),
                from: CopyFrom::File("data.tsv".into())
            }
        );
        assert_eq!(
            ok(r#"\copy "From"(x) from stdin csv header;"#),
            Meta::Copy {
                sql: "COPY \"From\"(x) FROM STDIN csv header".into(),
                from: CopyFrom::Inline
            }
        );
        assert!(refused(r"\copy t to 'out.csv'").contains("TO"));
        assert!(refused(r"\copy (select 1) to 'out.csv'").contains("TO"));
        assert!(refused(r"\copy t from program 'ls'").contains("PROGRAM"));
        assert!(refused(r"\copy t from pstdin").contains("pstdin"));
    }

    #[test]
    fn skipped_and_refused_commands() {
        for line in [
            r"\restrict abc",
            r"\unrestrict abc",
            r"\timing on",
            r"\pset pager off",
            r"\set ON_ERROR_STOP 1",
            r"\encoding UTF8",
        ] {
            assert!(matches!(ok(line), Meta::Skip(_)), "{line}");
        }
        for (line, named) in [
            (r"\gexec", r"\gexec"),
            (r"\if :x", r"\if"),
            (r"\g out.txt", r"\g"),
            (r"\! ls", r"\!"),
            (r"\o file", r"\o"),
            (r"\lo_import x", r"\lo_import"),
            (r"\set AUTOCOMMIT off", "AUTOCOMMIT"),
            (r"\encoding LATIN1", r"\encoding"),
            (r"\echo `date`", "backquotes"),
            (r"\echo a \\ \echo b", "several"),
        ] {
            assert!(refused(line).contains(named), "{line}: {}", refused(line));
        }
    }

    #[test]
    fn echo_joins_its_words() {
        assert_eq!(
            ok(r"\echo 'hello  world' :q"),
            Meta::Echo("hello  world it's".into())
        );
    }
}
