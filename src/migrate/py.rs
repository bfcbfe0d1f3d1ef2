//! Reads the SQL out of the bootcamp's `.py` migrations without running Python: the string
//! literal that `migrate_sql()` or `rollback_sql()` returns, dedented, with `%%` read as `%`
//! (psycopg's escape, which the bootcamp's runner went through). Anything else is refused.

/// Text read from a `.py` file, with the file position (line, column; 1-based) of each char.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    pub pos: Vec<(usize, usize)>,
}

/// Why a file could not be read: the line and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyError {
    pub line: usize,
    pub message: String,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, PyError> {
    Err(PyError {
        line,
        message: message.into(),
    })
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str { prefix: String, text: Extracted },
    Op(char),
    Newline,
    Other,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    /// First token of its logical line.
    first: bool,
    /// Indentation (in characters) of the logical line the token is on.
    indent: usize,
    depth: usize,
}

/// The SQL returned by `def <func>(...)`, or `None` when the file has no such function.
pub fn extract(source: &str, func: &str) -> Result<Option<Extracted>, PyError> {
    let tokens = lex(source)?;
    let Some(def) = tokens.windows(2).position(|w| {
        w[0].first && w[0].tok == Tok::Name("def".into()) && w[1].tok == Tok::Name(func.into())
    }) else {
        return Ok(None);
    };
    let def_line = tokens[def].line;
    let def_indent = tokens[def].indent;
    let colon = tokens[def + 2..]
        .iter()
        .position(|t| t.tok == Tok::Op(':') && t.depth == tokens[def].depth)
        .map(|p| p + def + 2);
    let Some(colon) = colon else {
        return err(def_line, format!("def {func} has no ':'"));
    };
    let body_end = tokens[colon + 1..]
        .iter()
        .position(|t| t.first && t.indent <= def_indent && t.line > def_line)
        .map_or(tokens.len(), |p| p + colon + 1);
    let mut statements: Vec<Vec<&Token>> = vec![Vec::new()];
    for t in &tokens[colon + 1..body_end] {
        if matches!(t.tok, Tok::Newline | Tok::Op(';')) {
            statements.push(Vec::new());
        } else if let Some(last) = statements.last_mut() {
            last.push(t);
        }
    }
    let mut bound: Vec<(String, Extracted)> = Vec::new();
    for (i, st) in statements.iter().filter(|s| !s.is_empty()).enumerate() {
        let line = st[0].line;
        let toks: Vec<&Tok> = st.iter().map(|t| &t.tok).collect();
        let unreadable = || {
            err(
                line,
                format!(
                    "{func}() does something that cannot be read without running Python; \
                     it must return a string literal, directly or through one variable"
                ),
            )
        };
        match toks.as_slice() {
            [Tok::Str { .. }] if i == 0 => {} // a docstring
            [Tok::Name(r), Tok::Str { prefix, text }]
            | [Tok::Name(r), Tok::Op('('), Tok::Str { prefix, text }, Tok::Op(')')]
                if r == "return" =>
            {
                return literal(line, prefix, text).map(Some);
            }
            [Tok::Name(v), Tok::Op('='), Tok::Str { prefix, text }] => {
                let text = literal(line, prefix, text)?;
                bound.retain(|(name, _)| name != v);
                bound.push((v.clone(), text));
            }
            [Tok::Name(r), Tok::Name(v)] if r == "return" => {
                return match bound.iter().find(|(name, _)| name == v) {
                    Some((_, text)) => Ok(Some(text.clone())),
                    None => unreadable(),
                };
            }
            _ => return unreadable(),
        }
    }
    err(def_line, format!("{func}() returns no string"))
}

/// A string literal's value, refusing the kinds whose value needs Python to compute.
fn literal(line: usize, prefix: &str, text: &Extracted) -> Result<Extracted, PyError> {
    let p = prefix.to_ascii_lowercase();
    if p.contains('f') {
        return err(line, "an f-string needs Python to compute its value");
    }
    if p.contains('b') {
        return err(line, "a bytes literal is not SQL text");
    }
    Ok(text.clone())
}

fn is_string_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "f" | "b" | "br" | "rb" | "fr" | "rf"
    )
}

/// Splits Python source into the few tokens [`extract`] needs.
fn lex(source: &str) -> Result<Vec<Token>, PyError> {
    let chars: Vec<char> = source.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    let mut depth = 0usize;
    let mut line_has_tokens = false;
    let mut indent = 0usize;
    let mut at_line_start = true;
    macro_rules! advance {
        () => {{
            if chars[i] == '\n' {
                line += 1;
                col = 1;
            } else {
                col += 1;
            }
            i += 1;
        }};
    }
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            if depth == 0 && line_has_tokens {
                out.push(Token {
                    tok: Tok::Newline,
                    line,
                    first: false,
                    indent,
                    depth,
                });
                line_has_tokens = false;
            }
            if depth == 0 {
                at_line_start = true;
            }
            advance!();
            continue;
        }
        if c == '#' {
            while i < chars.len() && chars[i] != '\n' {
                advance!();
            }
            continue;
        }
        if c == '\\' && matches!(chars.get(i + 1), Some('\n') | Some('\r')) {
            while chars[i] != '\n' {
                advance!();
            }
            advance!();
            continue;
        }
        if c.is_whitespace() {
            advance!();
            continue;
        }
        let first = !line_has_tokens;
        if at_line_start {
            indent = col - 1;
            at_line_start = false;
        }
        let start_line = line;
        let tok = if c.is_alphabetic() || c == '_' {
            let mut word = String::new();
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                word.push(chars[i]);
                advance!();
            }
            if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') && is_string_prefix(&word) {
                let raw = word.to_ascii_lowercase().contains('r');
                let text = lex_string(&chars, &mut i, &mut line, &mut col, raw)?;
                Tok::Str { prefix: word, text }
            } else {
                Tok::Name(word)
            }
        } else if c == '"' || c == '\'' {
            let text = lex_string(&chars, &mut i, &mut line, &mut col, false)?;
            Tok::Str {
                prefix: String::new(),
                text,
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                advance!();
            }
            Tok::Other
        } else {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            advance!();
            Tok::Op(c)
        };
        let tok_depth = match tok {
            Tok::Op('(') | Tok::Op('[') | Tok::Op('{') => depth - 1,
            _ => depth,
        };
        out.push(Token {
            tok,
            line: start_line,
            first,
            indent,
            depth: tok_depth,
        });
        line_has_tokens = true;
    }
    Ok(out)
}

/// Reads a string literal starting at its opening quote; processes escapes unless `raw`.
fn lex_string(
    chars: &[char],
    i: &mut usize,
    line: &mut usize,
    col: &mut usize,
    raw: bool,
) -> Result<Extracted, PyError> {
    let q = chars[*i];
    let start_line = *line;
    let triple = chars.get(*i + 1) == Some(&q) && chars.get(*i + 2) == Some(&q);
    let step = |i: &mut usize, line: &mut usize, col: &mut usize| {
        if chars[*i] == '\n' {
            *line += 1;
            *col = 1;
        } else {
            *col += 1;
        }
        *i += 1;
    };
    for _ in 0..if triple { 3 } else { 1 } {
        step(i, line, col);
    }
    let mut out = Extracted::default();
    let mut push = |c: char, at: (usize, usize)| {
        out.text.push(c);
        out.pos.push(at);
    };
    loop {
        let Some(&c) = chars.get(*i) else {
            return err(start_line, "a string is never closed");
        };
        let at = (*line, *col);
        if c == q {
            if !triple {
                step(i, line, col);
                return Ok(out);
            }
            if chars.get(*i + 1) == Some(&q) && chars.get(*i + 2) == Some(&q) {
                for _ in 0..3 {
                    step(i, line, col);
                }
                return Ok(out);
            }
        }
        if c == '\n' && !triple {
            return err(start_line, "a one-line string is never closed");
        }
        if c == '\r' && chars.get(*i + 1) == Some(&'\n') {
            step(i, line, col);
            continue;
        }
        if c == '\\' {
            let Some(&next) = chars.get(*i + 1) else {
                return err(start_line, "a string is never closed");
            };
            if raw {
                push('\\', at);
                step(i, line, col);
                if next != '\n' && next != '\r' {
                    push(next, (*line, *col));
                    step(i, line, col);
                }
                continue;
            }
            step(i, line, col);
            match next {
                '\n' => {}
                '\r' => {
                    if chars.get(*i + 1) == Some(&'\n') {
                        step(i, line, col);
                    }
                }
                '\\' | '\'' | '"' => push(next, at),
                'n' => push('\n', at),
                't' => push('\t', at),
                'r' => push('\r', at),
                'a' | 'b' | 'f' | 'v' | 'x' | 'N' | 'u' | 'U' | '0'..='7' => {
                    return err(
                        at.0,
                        format!("the escape \\{next} is not read here; write the SQL in a raw string (r\"\"\"...\"\"\")"),
                    )
                }
                other => {
                    // Python keeps an unknown escape as written.
                    push('\\', at);
                    push(other, (*line, *col));
                }
            }
            step(i, line, col);
            continue;
        }
        push(c, at);
        step(i, line, col);
    }
}

/// Removes the whitespace common to the start of every non-blank line (Python's
/// `textwrap.dedent`); blank lines become empty.
pub fn dedent(x: &Extracted) -> Extracted {
    let chars: Vec<char> = x.text.chars().collect();
    let mut lines: Vec<std::ops::Range<usize>> = Vec::new();
    let mut start = 0;
    for (k, c) in chars.iter().enumerate() {
        if *c == '\n' {
            lines.push(start..k);
            start = k + 1;
        }
    }
    lines.push(start..chars.len());
    let blank =
        |r: &std::ops::Range<usize>| chars[r.clone()].iter().all(|c| *c == ' ' || *c == '\t');
    let mut common: Option<&[char]> = None;
    for r in lines.iter().filter(|r| !blank(r)) {
        let l = &chars[r.clone()];
        let ws = l.iter().take_while(|c| **c == ' ' || **c == '\t').count();
        let prefix = &l[..ws];
        common = Some(match common {
            None => prefix,
            Some(c) => {
                let n = c.iter().zip(prefix).take_while(|(a, b)| a == b).count();
                &c[..n]
            }
        });
    }
    let cut = common.map_or(0, <[char]>::len);
    let mut out = Extracted::default();
    for (n, r) in lines.iter().enumerate() {
        let skip = if blank(r) { r.len() } else { cut };
        for (c, at) in chars[r.start + skip..r.end]
            .iter()
            .zip(&x.pos[r.start + skip..r.end])
        {
            out.text.push(*c);
            out.pos.push(*at);
        }
        if n + 1 < lines.len() {
            out.text.push('\n');
            out.pos.push(x.pos[r.end]);
        }
    }
    out
}

/// Reads `%%` as `%`; a lone `%` is refused, as psycopg refused it in the bootcamp's runner.
pub fn unescape_percent(x: &Extracted) -> Result<Extracted, PyError> {
    let chars: Vec<char> = x.text.chars().collect();
    let mut out = Extracted::default();
    let mut k = 0;
    while k < chars.len() {
        if chars[k] == '%' {
            if chars.get(k + 1) != Some(&'%') {
                return err(
                    x.pos[k].0,
                    "a single % (the bootcamp's runner passed the SQL through psycopg, which \
                     reads %% as a literal %; write %%)",
                );
            }
            k += 1;
        }
        out.text.push(chars[k]);
        out.pos.push(x.pos[k]);
        k += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GENERATED: &str = r#"from lib.db import db
class AddBioColumnMigration:
  def migrate_sql():
    data = """
      ALTER TABLE public.users ADD COLUMN bio text;
      UPDATE public.users SET bio = '100%% real' WHERE bio IS NULL;
    """
    return data
  def rollback_sql():
    data = '''
    ALTER TABLE public.users DROP COLUMN bio;
    '''
    return data

migration = AddBioColumnMigration
"#;

    fn read(src: &str, func: &str) -> Result<Option<String>, PyError> {
        Ok(match extract(src, func)? {
            Some(x) => Some(unescape_percent(&dedent(&x))?.text),
            None => None,
        })
    }

    #[test]
    fn generated_file_reads_with_both_quote_styles() {
        assert_eq!(
            read(GENERATED, "migrate_sql").unwrap().unwrap(),
            "\nALTER TABLE public.users ADD COLUMN bio text;\nUPDATE public.users SET bio = '100% real' WHERE bio IS NULL;\n"
        );
        assert_eq!(
            read(GENERATED, "rollback_sql").unwrap().unwrap(),
            "\nALTER TABLE public.users DROP COLUMN bio;\n"
        );
        assert_eq!(read(GENERATED, "other_sql").unwrap(), None);
    }

    #[test]
    fn positions_point_into_the_file() {
        let x = extract(GENERATED, "migrate_sql").unwrap().unwrap();
        let d = unescape_percent(&dedent(&x)).unwrap();
        let at = d.text.find("UPDATE").unwrap();
        let idx = d.text[..at].chars().count();
        assert_eq!(d.pos[idx], (6, 7));
        let real = d.text.find("real").unwrap();
        assert_eq!(d.pos[d.text[..real].chars().count()], (6, 44));
    }

    #[test]
    fn direct_returns_raw_strings_and_statics_read() {
        let src = "class M:\n    @staticmethod\n    def migrate_sql(self) -> str:\n        \"\"\"Docstring.\"\"\"\n        return (r'''SELECT '\\d';''')\n";
        assert_eq!(read(src, "migrate_sql").unwrap().unwrap(), "SELECT '\\d';");
        let one_line = "def migrate_sql(): return \"SELECT 1;\"\n";
        assert_eq!(read(one_line, "migrate_sql").unwrap().unwrap(), "SELECT 1;");
    }

    #[test]
    fn what_needs_python_is_refused_with_its_line() {
        let cases = [
            ("def migrate_sql():\n    x = 'a'\n    return x + 'b'\n", 3),
            ("def migrate_sql():\n    return f\"SELECT {n}\"\n", 2),
            ("def migrate_sql():\n    return build()\n", 2),
            ("def migrate_sql():\n    pass\n", 2),
            ("def migrate_sql():\n    return '50% off'\n", 2),
            ("def migrate_sql():\n    return \"\"\"SELECT 1;\n", 2),
            ("def migrate_sql():\n    return 'SELECT \\x41'\n", 2),
        ];
        for (src, line) in cases {
            let e = read(src, "migrate_sql").unwrap_err();
            assert_eq!(e.line, line, "{src}: {e:?}");
        }
    }

    #[test]
    fn the_body_ends_at_the_next_def() {
        let src =
            "def migrate_sql():\n    data = 'SELECT 1;'\n\ndef rollback_sql():\n    return data\n";
        let e = read(src, "migrate_sql").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("returns no string"), "{e:?}");
    }
}
