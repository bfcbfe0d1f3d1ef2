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
    /// The reader of stdout went away: the status of a process killed by SIGPIPE, as other
    /// command-line tools end then (and nothing is printed).
    pub const BROKEN_PIPE: i32 = 141;
}

/// What went wrong, as far as the caller of the program goes: each kind is one documented
/// exit code, and [`ErrorKind::exit_code`] is the only place that knows the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The operation failed (SQL error, refused connection, ...): the default.
    Failed,
    /// The input broke a rule before anything was written (bad flag, missing variable,
    /// malformed URL, a file refused).
    Usage,
    /// A protected target without confirmation.
    Refused,
    /// No valid public IP address could be found.
    NoPublicIp,
    /// An AWS call failed.
    Aws,
    /// The reader of stdout went away (`| head -1`): silent, as for other tools.
    BrokenPipe,
    /// Stopped by the signal with this number (SIGTERM, SIGHUP): 128 + the number, as a
    /// shell reports a process killed by it.
    Signal(i32),
}

impl ErrorKind {
    /// The documented exit code of the kind (README, "Exit codes").
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Failed => exit::FAILED,
            ErrorKind::Usage => exit::USAGE,
            ErrorKind::Refused => exit::REFUSED,
            ErrorKind::NoPublicIp => exit::NO_PUBLIC_IP,
            ErrorKind::Aws => exit::AWS,
            ErrorKind::BrokenPipe => exit::BROKEN_PIPE,
            ErrorKind::Signal(n) => 128 + n,
        }
    }
}

/// An error tagged with its [`ErrorKind`]. It prints as the error it wraps and keeps that
/// error's causes, so tagging never flattens a chain. Put it anywhere in an `anyhow` chain;
/// `main` finds it with [`exit_code`].
pub struct Kinded {
    pub kind: ErrorKind,
    inner: anyhow::Error,
}

impl fmt::Display for Kinded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl fmt::Debug for Kinded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:?}", self.kind, self.inner)
    }
}

impl std::error::Error for Kinded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

/// Tags `err` with `kind`. NOTE: [`ErrorKind::Failed`] is what an untagged error is, so it
/// is not wrapped: the error stays what it was (and `downcast_ref` finds it).
pub fn tag(kind: ErrorKind, err: impl Into<anyhow::Error>) -> anyhow::Error {
    let inner = err.into();
    if kind == ErrorKind::Failed {
        return inner;
    }
    anyhow::Error::new(Kinded { kind, inner })
}

/// An error of `kind` with the message `message`.
pub fn kinded(kind: ErrorKind, message: impl Into<String>) -> anyhow::Error {
    let message: String = message.into();
    anyhow::Error::new(Kinded {
        kind,
        inner: anyhow::Error::msg(message),
    })
}

/// A usage or configuration error (exit 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    kinded(ErrorKind::Usage, message)
}

/// Tags the error of a result with its kind.
pub trait ResultExt<T> {
    fn kind(self, kind: ErrorKind) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn kind(self, kind: ErrorKind) -> anyhow::Result<T> {
        self.map_err(|e| tag(kind, e))
    }
}

/// The kind of an error: the first [`Kinded`] in its chain, else [`ErrorKind::Failed`].
pub fn kind(err: &anyhow::Error) -> ErrorKind {
    err.chain()
        .find_map(|c| c.downcast_ref::<Kinded>().map(|k| k.kind))
        .unwrap_or(ErrorKind::Failed)
}

/// The exit code for an error, decided here and nowhere else: its [`kind`]'s.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    kind(err).exit_code()
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
    fn a_kind_keeps_the_message_and_the_causes_it_tags() {
        let cause = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = tag(
            ErrorKind::Usage,
            anyhow::Error::new(cause).context("failed to read x.sql"),
        )
        .context("while loading");
        assert_eq!(exit_code(&err), 2);
        assert_eq!(
            format!("{err:#}"),
            "while loading: failed to read x.sql: no such file"
        );
        // Failed is the default: not wrapped, so the error is still found by its type.
        let plain = tag(ErrorKind::Failed, std::io::Error::other("disk"));
        assert!(plain.downcast_ref::<std::io::Error>().is_some());
        assert_eq!(exit_code(&plain), 1);
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("x"));
        assert_eq!(kind(&r.kind(ErrorKind::Aws).unwrap_err()), ErrorKind::Aws);
    }

    #[test]
    fn every_kind_is_its_readme_code() {
        let kinds = [
            ErrorKind::Failed,
            ErrorKind::Usage,
            ErrorKind::Refused,
            ErrorKind::NoPublicIp,
            ErrorKind::Aws,
            ErrorKind::BrokenPipe,
            ErrorKind::Signal(15),
        ];
        let codes: Vec<i32> = kinds.iter().map(|k| k.exit_code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 5, 141, 143]);
        for k in kinds {
            assert_eq!(exit_code(&kinded(k, "x")), k.exit_code());
        }
    }
}
