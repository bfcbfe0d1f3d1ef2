//! One run's context: what the command line says about the target, and the target it names,
//! resolved once and shared by the audit and the command.

use std::sync::OnceLock;

use crate::target::{Target, TargetRequest};

/// The context every command runs in.
pub struct Run {
    /// What the command line says about the target (flags, and the AWS settings).
    pub req: TargetRequest,
    target: OnceLock<Target>,
}

impl Run {
    pub fn new(req: TargetRequest) -> Run {
        Run {
            req,
            target: OnceLock::new(),
        }
    }

    /// The target the command line names, resolved on first use and the same afterwards:
    /// the audit and the command work on one target. A request that does not resolve fails
    /// each time it is asked (with the same error: the environment is a snapshot).
    pub fn target(&self) -> anyhow::Result<Target> {
        if let Some(t) = self.target.get() {
            return Ok(t.clone());
        }
        let t = Target::from_env(&self.req)?;
        Ok(self.target.get_or_init(|| t).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_resolved_once_and_a_bad_request_fails_every_time() {
        let run = Run::new(TargetRequest {
            url: Some("postgresql://u:secret@db.example:6543/app".into()),
            ..TargetRequest::default()
        });
        let a = run.target().unwrap();
        let b = run.target().unwrap();
        assert_eq!(a.url.expose(), b.url.expose());
        assert!(std::ptr::eq(
            run.target.get().unwrap(),
            run.target.get().unwrap()
        ));
        let bad = Run::new(TargetRequest {
            url: Some("mysql://nope".into()),
            ..TargetRequest::default()
        });
        let first = format!("{:#}", bad.target().unwrap_err());
        let second = format!("{:#}", bad.target().unwrap_err());
        assert_eq!(first, second);
        assert!(bad.target.get().is_none());
    }
}
