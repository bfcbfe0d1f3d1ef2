//! What one check of `doctor` gives: its value for the next checks and its detail line, or
//! why it failed and the fix.

/// Why a check failed and what to do.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) reason: String,
    pub(super) fix: String,
}

pub(super) fn fail(reason: impl Into<String>, fix: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        fix: fix.into(),
    }
}

/// A check's value for the next checks and its detail line, or why it failed.
pub(super) type Step<T> = Result<(T, String), Failure>;
