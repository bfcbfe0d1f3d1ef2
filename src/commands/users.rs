//! `users`: the users of the target database with their number of activities.

use crate::app::{self, UserSummary};
use crate::cli::UsersArgs;
use crate::commands::context::Run;
use crate::pg::Db;
use crate::ui;

pub async fn run(ctx: &Run, args: UsersArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let db = Db::connect(&target, &args.conn.options()).await?;
    crate::lifecycle::loading::require_schema(&db).await?;
    let users = app::list_users(&db.pool, args.handle.as_deref()).await?;
    if let (Some(handle), true) = (&args.handle, users.is_empty()) {
        // NOTE: asking for one user that does not exist is an error (exit 1), like post-crud.
        let suggestions = app::suggest_handles(&db.get().await?, handle).await?;
        anyhow::bail!(
            "no user has the handle {handle:?}{}",
            app::suggestion_text(&suggestions)
        );
    }
    if args.output.json {
        crate::ui::outln!("{}", serde_json::to_string_pretty(&users)?)?;
    } else if users.is_empty() {
        ui::status(&format!(
            "no users in database {:?}; add one with `cruddur-db add-user`",
            db.url.database()
        ));
    } else {
        crate::ui::out!("{}", table(&users))?;
    }
    Ok(())
}

/// The users as an aligned table with a header.
pub fn table(users: &[UserSummary]) -> String {
    let rows: Vec<[String; 5]> = users
        .iter()
        .map(|u| {
            [
                u.handle.clone(),
                u.display_name.clone(),
                u.email.clone(),
                u.cognito_user_id.clone().unwrap_or_else(|| "-".into()),
                u.activities_count.to_string(),
            ]
        })
        .collect();
    ui::table(
        &[
            "HANDLE",
            "DISPLAY NAME",
            "EMAIL",
            "COGNITO USER ID",
            "CRUDS",
        ],
        &rows,
    )
}
