//! The process environment, read in one place. The binary captures it ([`capture`]) once,
//! right after `.env` is loaded and before a command runs; every module reads that snapshot
//! through [`var`] and [`var_os`], or takes a lookup function where it is unit-tested
//! (`Target::resolve`). `tests/layers.rs` fails on a `std::env` read anywhere else below the
//! command layer.
//!
//! NOTE: a snapshot, not a live view: nothing in this program changes its own environment,
//! and children (psql, pg_dump) are given theirs explicitly.

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::OnceLock;

static ENV: OnceLock<HashMap<OsString, OsString>> = OnceLock::new();

fn snapshot() -> &'static HashMap<OsString, OsString> {
    // NOTE: a library caller (the integration tests) that never called `capture` gets the
    // environment as it is at the first read.
    ENV.get_or_init(|| std::env::vars_os().collect())
}

/// Takes the snapshot now (the binary, after `.env`); later calls change nothing.
pub fn capture() {
    snapshot();
}

/// The variable `name` when it is set and valid Unicode (as `std::env::var(name).ok()`).
pub fn var(name: &str) -> Option<String> {
    var_os(name).and_then(|v| v.into_string().ok())
}

/// The variable `name` when it is set, whatever it holds.
pub fn var_os(name: &str) -> Option<OsString> {
    snapshot().get(std::ffi::OsStr::new(name)).cloned()
}

/// The variable `name` when it is set to something other than blanks.
pub fn nonempty(name: &str) -> Option<String> {
    var(name).filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_what_the_process_was_started_with() {
        // PATH is set for every test process; a name nobody sets is not.
        assert_eq!(super::var("PATH"), std::env::var("PATH").ok());
        assert_eq!(super::var("CRUDDUR_DB_NOBODY_SETS_THIS_VARIABLE"), None);
        assert_eq!(
            super::nonempty("CRUDDUR_DB_NOBODY_SETS_THIS_VARIABLE"),
            None
        );
    }
}
