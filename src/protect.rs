//! Protected targets (production, RDS, `--protected`): destructive work needs the database
//! name typed at a terminal, or `--yes --confirm-db NAME` for automation.

use crate::cli::ConfirmArgs;
use crate::error::{coded, exit};
use crate::target::Target;
use crate::ui;

/// Refusal with exit code 3.
fn refuse(msg: String) -> anyhow::Error {
    coded(exit::REFUSED, format!("refused: protected target: {msg}"))
}

/// Asks for (or checks) confirmation before `action` on a protected target. Unprotected
/// targets pass at once; nothing is asked for a dry run.
pub fn confirm(target: &Target, args: &ConfirmArgs, action: &str) -> anyhow::Result<()> {
    if !target.protected || args.dry_run {
        return Ok(());
    }
    let db = target.url.database();
    if args.yes {
        return match &args.confirm_db {
            Some(name) if *name == db => Ok(()),
            Some(name) => Err(refuse(format!(
                "--confirm-db {name:?} does not match the target database {db:?}; nothing was changed"
            ))),
            None => Err(refuse(format!(
                "--yes also needs --confirm-db {db} to {action} {}; nothing was changed",
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

fn why(target: &Target) -> &'static str {
    if target.prod {
        "--prod"
    } else if target.url.is_rds() {
        "an RDS host"
    } else {
        "--protected"
    }
}
