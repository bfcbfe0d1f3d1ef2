//! Protected targets (production, RDS, `--protected`): destructive work needs the database
//! name typed at a terminal, or `--yes --confirm-db NAME` for automation.

use crate::target::Target;
use crate::ui;

/// How the user confirmed (or previewed) a destructive command, as plain values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confirm {
    /// `--yes`: no question, together with a matching `confirm_db`.
    pub yes: bool,
    /// `--confirm-db NAME`.
    pub confirm_db: Option<String>,
    /// `--dry-run`: nothing will be written.
    pub dry_run: bool,
}

/// Refusal with exit code 3.
fn refuse(msg: String) -> anyhow::Error {
    crate::error::kinded(
        crate::error::ErrorKind::Refused,
        format!("refused: protected target: {msg}"),
    )
}

/// Asks for (or checks) confirmation before `action` on a protected target.
///
/// - `--confirm-db NAME` must name the target's database on every target, protected or not:
///   a script that says which database it means is stopped when it points elsewhere.
/// - Unprotected targets pass; so does a dry run, which writes nothing (callers return
///   before writing).
/// - `--yes` skips the question only together with a matching `--confirm-db`.
/// - Without a terminal on stdin there is nobody to ask: refused (exit 3).
/// - Otherwise the database name must be typed.
pub fn confirm(target: &Target, args: &Confirm, action: &str) -> anyhow::Result<()> {
    check_confirm_db(target, args)?;
    let db = target.url.database();
    if !target.protected || args.dry_run {
        return Ok(());
    }
    if args.yes {
        return match &args.confirm_db {
            Some(_) => {
                ui::status(&format!(
                    "confirmed with --yes --confirm-db {db}: {action} on PROTECTED target {}",
                    target.url.short()
                ));
                Ok(())
            }
            None => Err(refuse(format!(
                "--yes also needs --confirm-db {db} to {action} on {}; nothing was changed",
                target.url.short()
            ))),
        };
    }
    if !ui::stdin_is_terminal() {
        return Err(refuse(format!(
            "{action} on {} needs confirmation, and stdin is not a terminal; pass --yes --confirm-db {db} \
             to confirm from a script; nothing was changed",
            target.url.short()
        )));
    }
    ui::status(&format!(
        "You are about to {action} on a PROTECTED target ({}):\n  host:     {}:{}\n  database: {db}\n  user:     {}\n  url:      {}",
        why(target),
        target.url.host(),
        target.url.port(),
        target.url.user(),
        target.url
    ));
    let answer = ui::ask(&format!("Type the database name ({db}) to continue: "))
        .map_err(|e| refuse(format!("could not read the answer: {e}")))?;
    match answer {
        Some(a) if a == db => Ok(()),
        Some(a) => Err(refuse(format!(
            "you typed {a:?}, not the database name {db:?}; nothing was changed"
        ))),
        None => Err(refuse("no answer; nothing was changed".to_string())),
    }
}

/// Refuses when `--confirm-db` names another database than the target's (on any target).
pub fn check_confirm_db(target: &Target, args: &Confirm) -> anyhow::Result<()> {
    let db = target.url.database();
    match &args.confirm_db {
        Some(name) if *name != db => Err(crate::error::kinded(
            crate::error::ErrorKind::Refused,
            format!(
                "refused: --confirm-db {name:?} does not match the target database {db:?} ({}); \
                 nothing was changed",
                target.url.short()
            ),
        )),
        _ => Ok(()),
    }
}

/// Why a target is protected, for the question.
pub fn why(target: &Target) -> &'static str {
    if target.prod {
        "--prod"
    } else if target.url.is_rds() {
        "an RDS host"
    } else {
        "--protected"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;
    use crate::target::TargetRequest;

    fn target(protected: bool) -> Target {
        Target::resolve(
            &TargetRequest {
                url: Some("postgresql://root:pw@db.example:5432/cruddur".into()),
                protected,
                ..TargetRequest::default()
            },
            |_| None,
        )
        .unwrap()
    }

    fn args(yes: bool, confirm_db: Option<&str>) -> Confirm {
        Confirm {
            yes,
            confirm_db: confirm_db.map(str::to_string),
            dry_run: false,
        }
    }

    #[test]
    fn yes_needs_the_matching_name() {
        let t = target(true);
        assert!(confirm(&t, &args(true, Some("cruddur")), "drop").is_ok());
        for a in [args(true, None), args(true, Some("cruddur_dev"))] {
            let err = confirm(&t, &a, "drop").unwrap_err();
            assert_eq!(exit_code(&err), 3, "{err:#}");
            assert!(!format!("{err:#}").contains("pw@"), "{err:#}");
        }
    }

    #[test]
    fn a_wrong_confirm_db_stops_even_unprotected_targets() {
        let t = target(false);
        assert!(confirm(&t, &args(false, None), "drop").is_ok());
        let err = confirm(&t, &args(true, Some("other")), "drop").unwrap_err();
        assert_eq!(exit_code(&err), 3);
    }
}
