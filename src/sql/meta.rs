//! psql meta-commands: which are honoured, skipped or refused, with their arguments read by
//! psql's slash-command lexer (`slash`), as psql's command.c reads each command's.

use super::conninfo::{parse_bool, ConnectArgs};
use super::slash::{Arg, Mode, Slash, SlashError};
use super::vars::{valid_name, Vars};

/// What a meta-command asks for.
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
    /// `\c` / `\connect` with its arguments, checked against the server by the reader.
    Connect(ConnectArgs),
    /// `\copy ... FROM ...` as the COPY statement to send and where its data comes from.
    Copy {
        sql: String,
        from: CopyFrom,
    },
    /// `\restrict KEY`: psql refuses every meta-command but `\unrestrict KEY` until then.
    Restrict(String),
    /// `\unrestrict KEY`.
    Unrestrict(String),
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
}

/// A meta-command read from its line: what it asks for, and how many bytes of the line it
/// used (what follows is SQL or the next meta-command, as in psql).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub name: String,
    pub meta: Meta,
    pub used: usize,
}

/// Variables psql reads to change how statements run; setting them would change the result.
const BEHAVIOUR_VARS: &[&str] = &["AUTOCOMMIT", "ON_ERROR_ROLLBACK", "SINGLE_STEP"];

/// Whether setting a behaviour variable to `value` leaves psql running a file as it runs it by
/// default (`AUTOCOMMIT on`, `ON_ERROR_ROLLBACK off`, which `interactive` is for a file, and
/// `SINGLE_STEP off`); an empty value reads as "on", as psql's hooks read it.
fn is_default_behaviour(var: &str, value: &str) -> bool {
    let on = value.is_empty() || parse_bool(value) == Some(true);
    let off = parse_bool(value) == Some(false);
    match var {
        "AUTOCOMMIT" => on,
        "ON_ERROR_ROLLBACK" => off || value.eq_ignore_ascii_case("interactive"),
        _ => off,
    }
}

/// Reads the meta-command at the start of `line` (from its backslash to the end of its line).
pub fn parse(line: &str, vars: &Vars) -> Result<Parsed, MetaError> {
    let mut s = Slash::new(line, vars);
    let name = s.command();
    let why = |e: SlashError| MetaError::Refused(format!("\\{name}: {e}"));
    let refuse = |why: &str| Err(MetaError::Refused(format!("\\{name}: {why}")));
    let text = |a: Option<Arg>| a.map(|a| a.text);
    let meta = match name {
        "i" | "include" | "ir" | "include_relative" => {
            let Some(path) = text(s.arg(Mode::Normal, true).map_err(why)?) else {
                return refuse("needs a file name");
            };
            Meta::Include {
                path,
                relative: name.starts_with("ir") || name == "include_relative",
            }
        }
        "set" => {
            let Some(var) = text(s.arg(Mode::Normal, false).map_err(why)?) else {
                s.end();
                return Ok(Parsed {
                    name: name.to_string(),
                    meta: Meta::Skip("it only lists the variables".into()),
                    used: s.used(),
                });
            };
            if !valid_name(&var) {
                return refuse(&format!("invalid variable name {var:?}"));
            }
            let mut value = String::new();
            while let Some(a) = s.arg(Mode::Normal, false).map_err(why)? {
                value.push_str(&a.text);
            }
            if var == "ON_ERROR_STOP" {
                // NOTE: psql's hook reads an empty value as "on".
                match value.is_empty() || parse_bool(&value) == Some(true) {
                    true => Meta::Skip("cruddur-db always stops at the first error".into()),
                    false => {
                        return refuse(&format!(
                            "ON_ERROR_STOP {value:?}: cruddur-db always stops at the first error \
                             (psql would go on past errors, or fail on a value that is not a boolean)"
                        ))
                    }
                }
            } else if BEHAVIOUR_VARS.contains(&var.as_str()) {
                if !is_default_behaviour(&var, &value) {
                    return refuse(&format!(
                        "{var} changes how statements run, which cruddur-db does not follow"
                    ));
                }
                Meta::Skip(format!("{var} {value:?} is how psql runs a file anyway"))
            } else {
                Meta::Set { name: var, value }
            }
        }
        "unset" => match text(s.arg(Mode::Normal, false).map_err(why)?) {
            Some(var) if var == "ON_ERROR_STOP" => {
                return refuse("ON_ERROR_STOP: psql would go on past errors; cruddur-db always stops")
            }
            Some(var) if valid_name(&var) => Meta::Unset(var),
            _ => return refuse("needs a variable name"),
        },
        "echo" | "warn" => {
            let mut words = Vec::new();
            let mut first = true;
            while let Some(a) = s.arg(Mode::Normal, false).map_err(why)? {
                // psql: an unquoted first `-n` drops the newline.
                if !(first && a.quote.is_none() && a.text == "-n") {
                    words.push(a.text);
                }
                first = false;
            }
            Meta::Echo(words.join(" "))
        }
        "c" | "connect" => Meta::Connect(connect(&mut s).map_err(why)?.map_err(|e| {
            MetaError::Refused(format!("\\{name}: {e}"))
        })?),
        "copy" => {
            // NOTE: psql reads \copy's line whole, without variables.
            let rest = text(s.arg(Mode::WholeLine, false).map_err(why)?).unwrap_or_default();
            copy(&rest).map_err(|why| MetaError::Refused(format!("\\copy: {why}")))?
        }
        "restrict" | "unrestrict" => {
            let Some(key) = text(s.arg(Mode::Normal, false).map_err(why)?) else {
                return refuse("needs a key");
            };
            if name == "restrict" {
                Meta::Restrict(key)
            } else {
                Meta::Unrestrict(key)
            }
        }
        "timing" | "pset" => {
            for _ in 0..2 {
                s.arg(Mode::Normal, false).map_err(why)?;
            }
            Meta::Skip("it only changes psql's output".into())
        }
        "encoding" => match text(s.arg(Mode::Normal, false).map_err(why)?) {
            Some(e) if matches!(e.to_ascii_uppercase().as_str(), "UTF8" | "UTF-8" | "UNICODE") => {
                Meta::Skip("cruddur-db always talks UTF8".into())
            }
            None => Meta::Skip("it only shows the client encoding".into()),
            _ => return refuse("only UTF8 is supported"),
        },
        _ => {
            return Err(MetaError::Refused(format!(
                "\\{name} is not supported by cruddur-db (it honours \\i, \\ir, \\set, \\unset, \\copy ... FROM, \\c and \\echo)"
            )))
        }
    };
    // psql reads what the command left (ignoring it, with a warning) up to the next backslash.
    s.ignored().map_err(why)?;
    s.end();
    Ok(Parsed {
        name: name.to_string(),
        meta,
        used: s.used(),
    })
}

/// `\c [-reuse-previous=on|off] [DBNAME [USER [HOST [PORT]]]] | [CONNINFO]`, read as psql's
/// `exec_command_connect` reads it.
fn connect(s: &mut Slash<'_>) -> Result<Result<ConnectArgs, String>, SlashError> {
    // psql's read_connect_arg: an unquoted `-` or empty argument means "keep".
    let mut next = || -> Result<Option<String>, SlashError> {
        Ok(s.arg(Mode::SqlIdHack, true)?.and_then(|a| {
            (a.quote.is_some() || !(a.text.is_empty() || a.text == "-")).then_some(a.text)
        }))
    };
    let mut args = ConnectArgs {
        dbname: next()?,
        ..ConnectArgs::default()
    };
    if let Some(v) = args
        .dbname
        .as_deref()
        .and_then(|d| d.strip_prefix("-reuse-previous="))
    {
        match parse_bool(v) {
            Some(b) => args.reuse_previous = Some(b),
            None => return Ok(Err(format!("-reuse-previous: invalid value {v:?}"))),
        }
        args.dbname = next()?;
    }
    args.user = next()?;
    args.host = next()?;
    args.port = next()?;
    Ok(Ok(args))
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
        parse(line, &vars()).unwrap().meta
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
        // psql keeps a reference to a variable that is not set as written.
        assert_eq!(
            ok(r"\set z :nope;"),
            Meta::Set {
                name: "z".into(),
                value: ":nope;".into()
            }
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
    fn connect_reads_its_arguments_as_psql() {
        let c = |line: &str| match ok(line) {
            Meta::Connect(a) => a,
            other => panic!("{line}: {other:?}"),
        };
        let db = |d: &str| ConnectArgs {
            dbname: Some(d.into()),
            ..ConnectArgs::default()
        };
        assert_eq!(c(r"\c chinook"), db("chinook"));
        // Regression: a sample database's script ends `\c dbname;`.
        assert_eq!(c(r"\c dbname;"), db("dbname"));
        assert_eq!(c(r#"\connect "Odd ""Db""""#), db("Odd \"Db\""));
        assert_eq!(c(r"\c :db"), db("chi nook"));
        assert_eq!(c(r"\c"), ConnectArgs::default());
        assert_eq!(c(r"\c - -"), ConnectArgs::default());
        assert_eq!(
            c(r"\c -reuse-previous=on x u h 5433 extra"),
            ConnectArgs {
                reuse_previous: Some(true),
                dbname: Some("x".into()),
                user: Some("u".into()),
                host: Some("h".into()),
                port: Some("5433".into()),
            }
        );
        assert_eq!(c(r#"\c "-""#), db("-"));
        assert!(refused(r"\c -reuse-previous=maybe x").contains("-reuse-previous"));
    }

    #[test]
    fn several_commands_on_one_line() {
        let p = parse(r"\set a 1 \set b 2", &vars()).unwrap();
        assert_eq!(&r"\set a 1 \set b 2"[p.used..], r"\set b 2");
        let p = parse(r"\echo hi \\ select 1;", &vars()).unwrap();
        assert_eq!(&r"\echo hi \\ select 1;"[p.used..], " select 1;");
        let p = parse(r"\copy t from stdin \\ x", &vars()).unwrap();
        assert_eq!(p.used, r"\copy t from stdin \\ x".len());
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
            r"\timing on",
            r"\pset pager off",
            r"\set ON_ERROR_STOP 1",
            r"\set ON_ERROR_STOP",
            r"\set ON_ERROR_STOP true",
            r"\set AUTOCOMMIT on",
            r"\set ON_ERROR_ROLLBACK interactive",
            r"\set SINGLE_STEP off",
            r"\set",
            r"\encoding",
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
            (r"\set ON_ERROR_ROLLBACK on", "ON_ERROR_ROLLBACK"),
            (r"\set SINGLE_STEP", "SINGLE_STEP"),
            (r"\encoding LATIN1", r"\encoding"),
            (r"\echo `date`", "backquotes"),
            (r"\set ON_ERROR_STOP off", "ON_ERROR_STOP"),
            (r"\unset ON_ERROR_STOP", "ON_ERROR_STOP"),
            (r"\set x 'open", "never closed"),
        ] {
            assert!(refused(line).contains(named), "{line}: {}", refused(line));
        }
    }

    #[test]
    fn restrict_keeps_its_key() {
        assert_eq!(ok(r"\restrict abc"), Meta::Restrict("abc".into()));
        assert_eq!(ok(r"\unrestrict abc"), Meta::Unrestrict("abc".into()));
        assert!(refused(r"\restrict").contains("key"));
    }

    #[test]
    fn echo_joins_its_words() {
        assert_eq!(
            ok(r"\echo 'hello  world' :q"),
            Meta::Echo("hello  world it's".into())
        );
    }
}
