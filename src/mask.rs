//! Masking of secrets in any text. The ground floor: it needs nothing else of the crate, so
//! every layer (messages, URLs, errors) can mask before it shows.

/// Masks every `user:secret@` in a text derived from a URL or an env file, whatever else is
/// wrong with it (a URL that did not parse, a `.env` line with an unclosed quote): in each
/// word holding an `@`, everything between the first `:` of the user part (after `://` when
/// there is one) and the last `@` becomes `****`. NOTE: it errs on the side of masking.
pub fn mask_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '(' | ')' | '<' | '>' | ',') {
            out.push_str(&mask_word(&word));
            word.clear();
            out.push(c);
        } else {
            word.push(c);
        }
    }
    out.push_str(&mask_word(&word));
    out
}

fn mask_word(word: &str) -> String {
    mask_password_params(&mask_userinfo(word))
}

/// `password=VALUE` as a keyword/value conninfo word (`password=x`, `sslpassword=x`) or a URL
/// parameter (`?password=x&...`): the value up to the next `&` becomes `****`.
fn mask_password_params(word: &str) -> String {
    let lower = word.to_ascii_lowercase();
    let mut out = String::with_capacity(word.len());
    let mut i = 0;
    while let Some(found) = lower[i..].find("password=") {
        let key = i + found;
        let value = key + "password=".len();
        let before = lower[..key].chars().last();
        let starts = matches!(before, None | Some('?' | '&'))
            || lower[..key].ends_with("ssl")
                && matches!(
                    lower[..key.saturating_sub(3)].chars().last(),
                    None | Some('?' | '&')
                );
        let end = word[value..].find('&').map_or(word.len(), |e| value + e);
        out.push_str(&word[i..value]);
        if starts && end > value {
            out.push_str("****");
        } else {
            out.push_str(&word[value..end]);
        }
        i = end;
    }
    out.push_str(&word[i..]);
    out
}

fn mask_userinfo(word: &str) -> String {
    let Some(at) = word.rfind('@') else {
        return word.to_string();
    };
    let start = word[..at].find("://").map_or(0, |i| i + 3);
    match word[start..at].find(':') {
        Some(colon) if start + colon + 1 < at => {
            format!("{}****{}", &word[..start + colon + 1], &word[at..])
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
}
