//! Column types for the lint: spelled as `format_type` does, and whether a change from one to
//! another rewrites the table.

use super::tokens::Tok;

/// A type as `format_type` spells it: `int` is `integer`, `varchar(20)` is
/// `character varying(20)`; `public.` and `pg_catalog.` left out.
pub fn type_name(t: &[Tok]) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut args = String::new();
    let mut array = String::new();
    let mut k = 0;
    while k < t.len() {
        let x = &t[k];
        if x.punct("(") {
            let close = (k..t.len())
                .find(|&e| t[e].punct(")") && t[e].depth == x.depth)
                .unwrap_or(t.len() - 1);
            args = t[k + 1..close]
                .iter()
                .map(|a| a.text)
                .collect::<Vec<_>>()
                .join("");
            k = close + 1;
            continue;
        }
        if x.punct("[") || x.punct("]") {
            if x.punct("[") {
                array.push_str("[]");
            }
        } else if x.punct(".") {
            words.clear();
        } else if let Some(id) = x.ident() {
            words.push(id);
        }
        k += 1;
    }
    let base = words.join(" ");
    let base = match base.as_str() {
        "int" | "int4" | "integer" => "integer",
        "int8" | "bigint" => "bigint",
        "int2" | "smallint" => "smallint",
        "bool" | "boolean" => "boolean",
        "varchar" | "character varying" => "character varying",
        "char" | "character" | "bpchar" => "character",
        "decimal" | "numeric" => "numeric",
        "float8" | "double precision" | "float" => "double precision",
        "float4" | "real" => "real",
        "timestamptz" | "timestamp with time zone" => "timestamp with time zone",
        "timestamp" | "timestamp without time zone" => "timestamp without time zone",
        "timetz" | "time with time zone" => "time with time zone",
        "time" | "time without time zone" => "time without time zone",
        other => other,
    }
    .to_string();
    let with_args = if args.is_empty() {
        base.clone()
    } else if let Some(rest) = base.strip_prefix("timestamp") {
        // timestamp(3) with time zone
        format!("timestamp({args}){rest}")
    } else {
        format!("{base}({args})")
    };
    format!("{with_args}{array}")
}

/// A new type that some old types reach without a rewrite (varchar(n) to text, say).
pub fn maybe_safe_target(ty: &str) -> bool {
    ty == "text"
        || ty.starts_with("character varying")
        || ty.starts_with("numeric")
        || ty == "inet"
        || ty == "timestamp with time zone"
}

/// The `(n)` of `base(n)` (the first number of `numeric(p,s)`), and the rest after it.
fn modifier<'t>(ty: &'t str, base: &str) -> Option<(Option<u32>, &'t str)> {
    let rest = ty.strip_prefix(base)?;
    if rest.is_empty() {
        return Some((None, ""));
    }
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    let (n, tail) = inner.split_once(',').unwrap_or((inner, ""));
    Some((Some(n.trim().parse().ok()?), tail))
}

/// Whether changing a column from `old` to `new` (both `format_type` spellings) rewrites or
/// scans the table: `Some(false)` when binary-coercible, `None` when it depends (timestamp to
/// timestamptz depends on the session's time zone).
pub fn rewrites(old: &str, new: &str) -> Option<bool> {
    if old == new {
        return Some(false);
    }
    let varchar = "character varying";
    if let (Some((a, _)), Some((b, _))) = (modifier(old, varchar), modifier(new, varchar)) {
        return Some(match (a, b) {
            (_, None) => false,
            (Some(a), Some(b)) => b < a,
            (None, Some(_)) => true,
        });
    }
    if new == "text" && modifier(old, varchar).is_some() {
        return Some(false);
    }
    if old == "text" && new == varchar {
        return Some(false);
    }
    if let (Some((a, sa)), Some((b, sb))) = (modifier(old, "numeric"), modifier(new, "numeric")) {
        return Some(match (a, b) {
            (_, None) => false,
            (Some(a), Some(b)) => b < a || sa != sb,
            (None, Some(_)) => true,
        });
    }
    if old == "cidr" && new == "inet" {
        return Some(false);
    }
    if old == "timestamp without time zone" && new == "timestamp with time zone" {
        return None;
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::super::tokens::tokens;
    use super::*;

    #[test]
    fn types_are_spelled_as_format_type() {
        let ty = |s: &str| type_name(&tokens(s));
        assert_eq!(ty("int"), "integer");
        assert_eq!(ty("VARCHAR(20)"), "character varying(20)");
        assert_eq!(ty("character varying"), "character varying");
        assert_eq!(ty("pg_catalog.int8"), "bigint");
        assert_eq!(ty("numeric(10, 2)"), "numeric(10,2)");
        assert_eq!(ty("text[]"), "text[]");
        assert_eq!(ty("timestamptz"), "timestamp with time zone");
    }

    #[test]
    fn type_changes_that_rewrite() {
        assert_eq!(rewrites("integer", "bigint"), Some(true));
        assert_eq!(rewrites("integer", "uuid"), Some(true));
        assert_eq!(
            rewrites("character varying(20)", "character varying(10)"),
            Some(true)
        );
        assert_eq!(
            rewrites("character varying(20)", "character varying(40)"),
            Some(false)
        );
        assert_eq!(rewrites("character varying(20)", "text"), Some(false));
        assert_eq!(
            rewrites("character varying(20)", "character varying"),
            Some(false)
        );
        assert_eq!(rewrites("text", "character varying(20)"), Some(true));
        assert_eq!(rewrites("numeric(10,2)", "numeric(12,2)"), Some(false));
        assert_eq!(rewrites("numeric(10,2)", "numeric(12,3)"), Some(true));
        assert_eq!(
            rewrites("timestamp without time zone", "timestamp with time zone"),
            None
        );
        assert_eq!(rewrites("text", "text"), Some(false));
    }
}
