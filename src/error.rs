//! Errors that decide the exit code, and the exit codes themselves.

use std::fmt;

/// The documented exit codes (README, "Exit codes").
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// The operation failed (SQL error, refused connection, ...).
    pub const FAILED: i32 = 1;
    /// Usage or configuration error (bad flag, missing variable, malformed URL).
    pub const USAGE: i32 = 2;
    /// Refused: a protected target without confirmation.
    pub const REFUSED: i32 = 3;
    /// No valid public IP address could be found.
    pub const NO_PUBLIC_IP: i32 = 4;
    /// An AWS call failed.
    pub const AWS: i32 = 5;
}

/// An error that carries its own exit code. Put it anywhere in an `anyhow` chain;
/// `main` finds it with [`exit_code`].
#[derive(Debug)]
pub struct Coded {
    pub code: i32,
    pub message: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// A usage or configuration error (exit 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    coded(exit::USAGE, message)
}

/// An error with the given exit code.
pub fn coded(code: i32, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        message: message.into(),
    })
}

/// The exit code for an error, decided here and nowhere else: the first [`Coded`] in its
/// chain; else, for the app's errors, 2 when the input broke the app's rules (nothing was
/// written) and 1 for everything else; else 1.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
        // NOTE: the one arrow from the ground floor up: exit codes are decided here and
        // nowhere else, and the app's errors are a library API whose variants callers match
        // on, so they carry no code of their own; this place has to know them.
        if let Some(app) = cause.downcast_ref::<crate::app::Error>() {
            return match app {
                crate::app::Error::Validation(_) | crate::app::Error::InvalidEvent(_) => {
                    exit::USAGE
                }
                _ => exit::FAILED,
            };
        }
    }
    exit::FAILED
}

/// The error and its causes on one line.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn code_is_found_under_context() {
        let err = Err::<(), _>(usage("bad flag"))
            .context("while parsing")
            .unwrap_err();
        assert_eq!(exit_code(&err), 2);
        assert_eq!(exit_code(&anyhow::anyhow!("plain")), 1);
    }

    #[test]
    fn exit_codes_are_the_readme_table() {
        assert_eq!(
            [
                exit::OK,
                exit::FAILED,
                exit::USAGE,
                exit::REFUSED,
                exit::NO_PUBLIC_IP,
                exit::AWS
            ],
            [0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn app_errors_map_to_the_documented_codes() {
        // README: 2 for input that breaks the app's rules, 1 for a database failure.
        let invalid = anyhow::Error::new(crate::app::Error::InvalidEvent("no attributes".into()));
        assert_eq!(exit_code(&invalid), 2);
        let unknown = anyhow::Error::new(crate::app::Error::UnknownHandle {
            handle: "x".into(),
            suggestions: vec![],
        });
        assert_eq!(exit_code(&unknown), 1);
        let bad = crate::app::NewActivity::new("", "", "").unwrap_err();
        assert_eq!(exit_code(&anyhow::Error::new(bad).context("posting")), 2);
    }
}
