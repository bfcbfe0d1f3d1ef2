//! `add-user`: insert a user as the Cognito post-confirmation Lambda did, from flags or from
//! a real post-confirmation event.

use std::io::Read;
use std::path::Path;

use crate::app::{self, NewUser, User};
use crate::cli::AddUserArgs;
use crate::commands::context::Run;
use crate::error::usage;
use crate::pg::Db;
use crate::ui;

pub async fn run(ctx: &Run, args: AddUserArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let new = match &args.from_event {
        Some(path) => read_event(path)?,
        None => NewUser {
            display_name: args.name.clone().unwrap_or_default(),
            email: args.email.clone().unwrap_or_default(),
            handle: args.handle.clone().unwrap_or_default(),
            cognito_user_id: args.cognito_user_id.clone(),
        },
    };
    let new = new.validated()?;
    crate::protect::confirm(
        &target,
        &args.confirm.plain(),
        &format!("add the user {:?}", new.handle),
    )?;
    let db = Db::connect(&target, &args.conn.options()).await?;
    crate::lifecycle::loading::require_schema(&db).await?;
    if args.confirm.dry_run {
        crate::ui::outln!(
            "would add @{} ({} <{}>) on {}",
            new.handle,
            new.display_name,
            new.email,
            db.url.short()
        )?;
        ui::status("--dry-run: nothing was written");
        return Ok(());
    }
    let user = app::add_user(&db.pool, new).await?;
    if args.output.json {
        crate::ui::outln!("{}", serde_json::to_string_pretty(&user)?)?;
    } else {
        crate::ui::out!("{}", describe(&user))?;
    }
    Ok(())
}

/// The user a Cognito post-confirmation event describes (`-` reads stdin).
fn read_event(path: &Path) -> anyhow::Result<NewUser> {
    let (name, text) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| usage(format!("cannot read the event from stdin: {e}")))?;
        ("<stdin>".to_string(), text)
    } else {
        let text = std::fs::read_to_string(path).map_err(|e| {
            usage(format!(
                "cannot read the event file {}: {e}",
                path.display()
            ))
        })?;
        (path.display().to_string(), text)
    };
    let event: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| usage(format!("the event in {name} is not JSON: {e}")))?;
    if let Some(trigger) = event.get("triggerSource").and_then(|t| t.as_str()) {
        // NOTE: the trigger also fires after a password reset, for a user that exists; the
        // insert then fails as a duplicate, which is the truth, so it is only a warning.
        if trigger != "PostConfirmation_ConfirmSignUp" {
            ui::warn(&format!(
                "the event's triggerSource is {trigger:?}, not PostConfirmation_ConfirmSignUp"
            ));
        }
    }
    NewUser::from_cognito_event(&event).map_err(|e| usage(format!("{e} (in {name})")))
}

/// The user as `field  value` lines.
pub fn describe(u: &User) -> String {
    let fields = [
        ("uuid", u.uuid.to_string()),
        ("display_name", u.display_name.clone()),
        ("email", u.email.clone()),
        ("handle", u.handle.clone()),
        (
            "cognito_user_id",
            u.cognito_user_id.clone().unwrap_or_else(|| "-".into()),
        ),
        ("created_at", u.created_at.to_string()),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("{k:<15}  {v}\n"))
        .collect()
}
