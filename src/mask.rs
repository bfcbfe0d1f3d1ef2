//! Masking of secrets in any text. The ground floor: it needs nothing else of the crate, so
//! every layer (messages, URLs, errors) can mask before it shows.

/// Masks every secret of a connection string in any text: a URL's `user:secret@` (the
/// secret may hold spaces and commas), a `?password=` / `&password=` parameter, and a
/// keyword/value `password=...` (`sslpassword`, `PGPASSWORD` too), quoted (`password='a b'`)
/// or bare. The secret becomes `****`. NOTE: it errs on the side of masking: text that only
/// looks like a secret is masked too.
pub fn mask_secrets(text: &str) -> String {
    mask(text, false)
}

/// [`mask_secrets`] for one value as it was typed (a command-line argument, a `diff` side):
/// the whole text is the value, so a `?password=` secret runs to the next `&` even across a
/// space, and a URL's userinfo ends only at its `/`, `?` or `#`.
pub fn mask_value(text: &str) -> String {
    mask(text, true)
}

fn mask(text: &str, whole: bool) -> String {
    let text = mask_url_userinfo(text, whole);
    let text = mask_password_keys(&text, whole);
    mask_words(&text)
}

const MASK: &str = "****";

/// `scheme://user:secret@host`: the userinfo is everything up to the last `@` before the
/// authority ends (at `/`, `?`, `#`, a line end, or in free text a quote or bracket).
fn mask_url_userinfo(text: &str, whole: bool) -> String {
    let ends: &[char] = if whole {
        &['/', '?', '#', '\n', '\r']
    } else {
        &['/', '?', '#', '\n', '\r', '"', '\'', '`', '<', '>']
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(p) = rest.find("://") {
        let s = p + 3;
        out.push_str(&rest[..s]);
        let after = &rest[s..];
        let mut end = after.find(ends).unwrap_or(after.len());
        if let Some(next) = after[..end].find("://") {
            end = next;
        }
        let authority = &after[..end];
        match authority
            .rfind('@')
            .and_then(|at| Some((authority[..at].find(':')?, at)))
        {
            Some((colon, at)) if colon + 1 < at => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// `password=VALUE` (and `sslpassword`, `pgpassword`, `pgsslpassword`), as a keyword/value
/// conninfo word or a URL parameter: the value becomes `****`.
fn mask_password_keys(text: &str, whole: bool) -> String {
    let lower = text.to_ascii_lowercase();
    let b = text.as_bytes();
    let boundary = |i: usize| i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find("password") {
        let key = from + found;
        from = key + "password".len();
        let prefix_start = ["pgssl", "ssl", "pg", ""]
            .iter()
            .find(|p| lower[..key].ends_with(**p) && boundary(key - p.len()))
            .map(|p| key - p.len());
        let Some(prefix_start) = prefix_start else {
            continue;
        };
        let mut j = from;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if b.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        let url_param = prefix_start > 0 && matches!(b[prefix_start - 1], b'?' | b'&');
        let (value, end) = match b.get(j) {
            Some(&q) if (q == b'\'' || q == b'"') && !url_param => {
                // A quoted conninfo value: backslash escapes, up to the closing quote.
                let mut k = j + 1;
                while k < b.len() && b[k] != q {
                    k += if b[k] == b'\\' { 2 } else { 1 };
                }
                (j + 1..k.min(b.len()), k.min(b.len()))
            }
            _ => {
                let stop = |c: u8| {
                    if url_param {
                        c == b'&'
                            || c == b'#'
                            || (!whole && (c.is_ascii_whitespace() || c == b'"' || c == b'\''))
                    } else {
                        c.is_ascii_whitespace() || (!whole && (c == b'"' || c == b'\''))
                    }
                };
                let e = (j..b.len()).find(|&k| stop(b[k])).unwrap_or(b.len());
                (j..e, e)
            }
        };
        if value.is_empty() || &text[value.clone()] == MASK {
            continue;
        }
        out.push_str(&text[i..value.start]);
        out.push_str(MASK);
        i = value.end;
        from = end.max(from);
    }
    out.push_str(&text[i..]);
    out
}

/// `user:secret@host` without a scheme (or with a `/` in the secret): in each word holding an
/// `@`, everything between the first `:` of the user part and the last `@`.
fn mask_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '(' | ')' | '<' | '>' | ',') {
            out.push_str(&mask_userinfo(&word));
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.push_str(&mask_userinfo(&word));
    out
}

fn mask_userinfo(word: &str) -> String {
    let Some(at) = word.rfind('@') else {
        return word.to_string();
    };
    let start = word[..at].find("://").map_or(0, |i| i + 3);
    match word[start..at].find(':') {
        Some(colon) if start + colon + 1 < at => {
            format!("{}{MASK}{}", &word[..start + colon + 1], &word[at..])
        }
        _ => word.to_string(),
    }
}

#[cfg(test)]
mod tests {
    /// Regression: a keyword/value CONNECTION_URL showed its password in doctor's output.
    #[test]
    fn keyword_value_and_parameter_passwords_are_masked() {
        let m = mask_secrets;
        assert_eq!(
            m("host=127.0.0.1 user=u password=Hook5ecret dbname=db"),
            "host=127.0.0.1 user=u password=**** dbname=db"
        );
        assert_eq!(
            m("postgresql://h/db?sslmode=require&password=s3cr3t&x=1"),
            "postgresql://h/db?sslmode=require&password=****&x=1"
        );
        assert_eq!(m("sslpassword=k3y"), "sslpassword=****");
        assert_eq!(m("PASSWORD=Up"), "PASSWORD=****");
        assert_eq!(m("nopassword=keep"), "nopassword=keep");
    }

    use super::*;

    #[test]
    fn secrets_are_masked_in_any_text() {
        assert_eq!(
            mask_secrets("line 1: CONNECTION_URL=\"postgresql://u:pw@h/db"),
            "line 1: CONNECTION_URL=\"postgresql://u:****@h/db"
        );
        assert_eq!(mask_secrets("u:p/w@h"), "u:****@h");
        assert_eq!(mask_secrets("no secret: a@b, x:y"), "no secret: a@b, x:y");
        assert_eq!(mask_secrets("postgresql://u@h/db"), "postgresql://u@h/db");
    }

    /// Regression: passwords holding a space or a comma, quoted keyword/value passwords and
    /// `?password=` values reached diff's output and the audit log.
    #[test]
    fn passwords_with_spaces_commas_and_quotes_are_masked() {
        let m = mask_secrets;
        assert_eq!(m("postgresql://u:pa ss@h/db"), "postgresql://u:****@h/db");
        assert_eq!(
            m("postgresql://u:pa,ss@h/db x"),
            "postgresql://u:****@h/db x"
        );
        assert_eq!(
            m("host=h password='a b\\' c' dbname=d"),
            "host=h password='****' dbname=d"
        );
        assert_eq!(
            m("host=h password = s3cr3t dbname=d"),
            "host=h password = **** dbname=d"
        );
        assert_eq!(m("PGPASSWORD=x1"), "PGPASSWORD=****");
        assert_eq!(
            mask_value("postgresql://h/db?password=a b&sslmode=require"),
            "postgresql://h/db?password=****&sslmode=require"
        );
        assert_eq!(
            mask_value("--from=postgresql://u:a b,c@h:5432/db"),
            "--from=postgresql://u:****@h:5432/db"
        );
        // Masked text stays as it is.
        for done in [
            "postgresql://u:****@h/db: connection refused",
            "host=h password=**** x",
            "postgresql://h/db?password=****&x=1 failed",
        ] {
            assert_eq!(m(done), done);
        }
    }
}
