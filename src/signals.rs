//! The signals that stop a command: SIGINT (Ctrl-C), SIGTERM (a service manager, `kill`) and
//! SIGHUP (a closed terminal). Work that leaves something behind (a scratch database) waits
//! for one of them beside itself, and cleans up as after an error.

use tokio::signal::unix::{signal, SignalKind};

/// A signal that stopped the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stop {
    pub name: &'static str,
    pub number: i32,
}

impl Stop {
    /// The kind of the error it ends with: 128 + the signal's number as the exit code, as a
    /// shell reports a process killed by it. NOTE: Ctrl-C stays exit 1 (failed), as it was
    /// before SIGTERM and SIGHUP were handled.
    pub fn kind(&self) -> crate::error::ErrorKind {
        if self.number == 2 {
            crate::error::ErrorKind::Failed
        } else {
            crate::error::ErrorKind::Signal(self.number)
        }
    }

    /// The error a stopped command ends with, saying what was cleaned up.
    pub fn error(&self, cleaned: &str) -> anyhow::Error {
        let what = if self.number == 2 {
            "interrupted (Ctrl-C)".to_string()
        } else {
            format!("stopped by {}", self.name)
        };
        crate::error::kinded(self.kind(), format!("{what}; {cleaned}"))
    }
}

const INT: Stop = Stop {
    name: "SIGINT",
    number: 2,
};
const TERM: Stop = Stop {
    name: "SIGTERM",
    number: 15,
};
const HUP: Stop = Stop {
    name: "SIGHUP",
    number: 1,
};

/// Waits for SIGINT, SIGTERM or SIGHUP. NOTE: once this has been called, those signals no
/// longer end the process on their own: call it only around work whose caller cleans up.
pub async fn stopped() -> Stop {
    async fn one(kind: SignalKind, stop: Stop) -> Stop {
        match signal(kind) {
            Ok(mut s) => {
                s.recv().await;
                stop
            }
            // Not installable: this signal keeps its default action.
            Err(_) => std::future::pending().await,
        }
    }
    tokio::select! {
        s = one(SignalKind::interrupt(), INT) => s,
        s = one(SignalKind::terminate(), TERM) => s,
        s = one(SignalKind::hangup(), HUP) => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal_and_ctrl_c_stays_1() {
        assert_eq!(TERM.kind().exit_code(), 143);
        assert_eq!(HUP.kind().exit_code(), 129);
        assert_eq!(INT.kind().exit_code(), 1);
        let e = TERM.error("the scratch databases are dropped");
        assert_eq!(crate::error::exit_code(&e), 143);
        assert_eq!(
            e.to_string(),
            "stopped by SIGTERM; the scratch databases are dropped"
        );
    }
}
