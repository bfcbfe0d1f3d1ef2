//! The one place SQL text is quoted: identifiers, literals and text put inside comments.
//! Every other module builds SQL through these functions (tests/quote_only_here.rs checks it).
//!
//! NOTE: `literal` is right whatever `standard_conforming_strings` says: a string without a
//! backslash means the same in `'...'` under both settings, and one with a backslash is
//! written as an escape string `E'...'`, whose meaning does not depend on the setting.

/// An identifier, always double-quoted, any `"` doubled: `we"ird` -> `"we""ird"`.
pub fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A schema-qualified name: `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// A string literal: `'...'` with `'` doubled, or `E'...'` with `\` and `'` doubled when the
/// text holds a backslash.
pub fn literal(s: &str) -> String {
    let escape = s.contains('\\');
    let mut out = String::with_capacity(s.len() + 3);
    if escape {
        out.push('E');
    }
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A psql meta-command argument in single quotes (`\\i 'FILE'`): psql reads `\\` escapes
/// there, so a backslash, a quote, a newline and a carriage return are escaped.
pub fn psql_arg(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Text to put in a `--` line comment or a `/* */` block comment: it can never end the
/// comment or open another. A newline, a carriage return and every other control character
/// are written as visible escapes (`\n`, `\r`, `\u{7}`), a backslash as `\\`, and `*/` and
/// `/*` get a backslash between their two characters (`*\/`, `/\*`).
pub fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut prev: Option<char> = None;
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // NOTE: after an escape of `*` or `/` the pair is broken already; `prev` is the
            // character as written, so `*/` and `/*` both get their backslash.
            '/' if prev == Some('*') => out.push_str("\\/"),
            '*' if prev == Some('/') => out.push_str("\\*"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_always_quoted_with_quotes_doubled() {
        assert_eq!(ident("cruddur"), "\"cruddur\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        assert_eq!(ident(""), "\"\"");
        assert_eq!(qualified("s.x", "t\""), "\"s.x\".\"t\"\"\"");
    }

    #[test]
    fn literals_need_no_setting() {
        assert_eq!(literal("o'brien"), "'o''brien'");
        assert_eq!(literal("a\\b"), "E'a\\\\b'");
        assert_eq!(literal("o'k\\b"), "E'o''k\\\\b'");
        assert_eq!(literal(""), "''");
    }

    #[test]
    fn psql_arguments_escape_what_psql_reads() {
        assert_eq!(psql_arg("/h/o'k\\x\ny"), "'/h/o\\'k\\\\x\\ny'");
    }

    #[test]
    fn comment_text_never_ends_its_comment() {
        let hostile = "evil\nDROP TABLE keepme; --\r*/ /* \u{7}\\";
        let c = comment(hostile);
        assert!(!c.contains('\n') && !c.contains('\r'), "{c}");
        assert!(!c.contains("*/") && !c.contains("/*"), "{c}");
        assert!(!c.chars().any(char::is_control), "{c}");
        assert_eq!(c, "evil\\nDROP TABLE keepme; --\\r*\\/ /\\* \\u{7}\\\\");
        assert_eq!(comment("*/*/"), "*\\/\\*\\/");
        assert_eq!(comment("/*/"), "/\\*\\/");
        assert_eq!(
            comment("drops table public.users"),
            "drops table public.users"
        );
    }
}
