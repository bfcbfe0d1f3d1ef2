//! Keeps the process environment out of the modules: `src/env.rs` reads it once (the binary
//! captures the snapshot after `.env` is loaded) and everything else reads that snapshot.
//! This test fails when `std::env::var`, `var_os` or `vars` appears anywhere else under
//! `src/`, and when the import rule of the lifecycle split is broken: the catalog never calls
//! lifecycle (the command layer hands it a scratch-database maker).

mod common;

use common::sources;

/// (file, why it may read the process environment itself).
const ALLOWED: &[(&str, &str)] = &[
    ("src/env.rs", "the one place that takes the snapshot"),
    (
        "src/main.rs",
        "NO_COLOR for an error in .env itself, before the snapshot is taken",
    ),
];

/// The lines of `text` that read the process environment (comments aside), by number.
fn env_reads(text: &str) -> Vec<(usize, String)> {
    let compact = |l: &str| l.split_whitespace().collect::<String>();
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter(|(_, l)| {
            let c = compact(l);
            ["env::var(", "env::var_os(", "env::vars(", "env::vars_os("]
                .iter()
                .any(|p| c.contains(&format!("std::{p}")) || c.starts_with(p))
                || c.contains("usestd::env")
        })
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .collect()
}

#[test]
fn only_the_env_module_reads_the_process_environment() {
    let mut found = Vec::new();
    for (file, text) in sources() {
        if ALLOWED.iter().any(|(f, _)| *f == file) {
            continue;
        }
        for (line, code) in env_reads(&text) {
            found.push(format!("{file}:{line}: {code}"));
        }
    }
    assert!(
        found.is_empty(),
        "the process environment is read outside src/env.rs; read crate::env::var (the \
         snapshot) instead, or take a lookup function:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_allowed_file_still_reads_it() {
    // NOTE: an entry for a file that no longer reads the environment is a stale exception.
    let sources = sources();
    for (file, why) in ALLOWED {
        let text = &sources.iter().find(|(f, _)| f == file).unwrap().1;
        assert!(
            !env_reads(text).is_empty(),
            "{file} is allowed to read the environment ({why}) but does not: drop its entry"
        );
    }
}

#[test]
fn the_detector_sees_every_form_of_a_read() {
    for code in [
        "let v = std::env::var(\"PGPORT\");",
        "std::env::var_os(\"HOME\")",
        "for (k, v) in std::env::vars() {}",
        "use std::env;",
        "    env::var(\"X\")",
        "std :: env :: var(\"X\")",
    ] {
        assert_eq!(env_reads(code).len(), 1, "{code}");
    }
    for code in [
        "crate::env::var(\"PGPORT\")",
        "// std::env::var(\"X\") in a comment",
        "std::env::current_dir()",
    ] {
        assert!(env_reads(code).is_empty(), "{code}");
    }
}

#[test]
fn the_catalog_never_calls_lifecycle() {
    let found: Vec<String> = sources()
        .into_iter()
        .filter(|(f, _)| f.starts_with("src/catalog/"))
        .flat_map(|(f, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains("lifecycle::") && !l.trim_start().starts_with("//"))
                .map(|(i, l)| format!("{f}:{}: {}", i + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        found.is_empty(),
        "the catalog calls lifecycle; take a catalog::Maker from the command layer instead:\n{}",
        found.join("\n")
    );
}
