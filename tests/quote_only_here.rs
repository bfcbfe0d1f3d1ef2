//! Keeps hand-made SQL quoting out of the code: every identifier, literal and comment text is
//! quoted by `src/sql/quote.rs`, and this test fails when a quoting pattern appears anywhere
//! else under `src/`.

mod common;

/// Code that quotes by hand: doubling quotes, pasting quotes around a value, or a quoting
/// function of its own.
const PATTERNS: &[&str] = &[
    r#"replace('"', "\"\"")"#,
    r#"replace('\'', "''")"#,
    r#"replace("'", "''")"#,
    r#"format!("'{}'""#,
    r#"format!("E'"#,
    r#"format!("\"{}\"""#,
    "fn quote_ident",
    "fn quote_literal",
    "pub fn literal(",
];

/// (file, pattern, why it may stay).
const ALLOWED: &[(&str, &str, &str)] = &[
    // psql's `:'var'` and `:"var"` forms, as libpq writes them; both call sql::quote.
    (
        "src/sql/vars.rs",
        "fn quote_ident",
        "psql's :\"var\", calls quote::ident",
    ),
    (
        "src/sql/vars.rs",
        "fn quote_literal",
        "psql's :'var', calls quote::literal",
    ),
    // Shell quoting of psql's argv for `connect --dry-run`: shown to a person, never SQL.
    (
        "src/commands/connect.rs",
        r#"format!("'{}'""#,
        "shell words, not SQL",
    ),
    // The binary's path as one sh word in the git hook `snapshot hook install` writes.
    (
        "src/snapshot/git.rs",
        r#"format!("'{}'""#,
        "a shell word in the hook, not SQL",
    ),
    // A JSON string in a unit test's expected output.
    ("src/app/ttl.rs", r#"format!("\"{}\"""#, "JSON in a test"),
];

/// Regression: three literal quoters disagreed, and copy's assumed standard_conforming_strings.
#[test]
fn sql_quoting_lives_only_in_sql_quote() {
    let files = common::sources();
    assert!(files.len() > 50, "the scan found the sources");
    let mut found = Vec::new();
    for (rel, text) in &files {
        if rel == "src/sql/quote.rs" {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            for p in PATTERNS {
                if line.contains(p)
                    && !ALLOWED
                        .iter()
                        .any(|(af, ap, _)| *af == rel.as_str() && ap == p)
                {
                    found.push(format!("{rel}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "hand-made SQL quoting outside src/sql/quote.rs (use quote::ident, quote::qualified, \
         quote::literal or quote::comment):\n{}",
        found.join("\n")
    );
}

/// The scan sees a pattern when one is there (so the test above can fail).
#[test]
fn the_scan_recognises_hand_made_quoting() {
    let sample = r#"let q = format!("'{}'", s.replace('\'', "''"));"#;
    assert!(PATTERNS.iter().filter(|p| sample.contains(**p)).count() >= 2);
}
