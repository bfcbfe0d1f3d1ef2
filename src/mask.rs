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
