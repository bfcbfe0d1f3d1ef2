//! What the loading commands share: `schema` and `seed` load one SQL file (or the built-in
//! one); `setup` and `reset` print their plan or read every input. Every input is read
//! and checked before the confirmation and before anything is written.

use std::path::PathBuf;

use crate::cli::LoadArgs;
use crate::commands::context::Run;
use crate::lifecycle::{
    self,
    workflow::{SetupFiles, SetupRequest},
};
use crate::load::LoadOptions;
use crate::migrate::Checkout;
use crate::pg::{ConnectOptions, Db};
use crate::protect::Confirm;
use crate::target::Target;

/// Which file a command loads, and how it treats an empty one.
pub(super) struct FileKind {
    /// The built-in file's name, as messages show it.
    pub name: &'static str,
    /// The built-in file's text.
    pub builtin: &'static str,
    /// The Cruddur checkout's own file, which wins over the built-in one.
    pub checkout: fn(&Checkout) -> Option<PathBuf>,
    /// What the confirmation asks for.
    pub action: &'static str,
    /// `Some(what)`: a file without statements is refused (a schema); `None`: a warning.
    pub refuse_empty: Option<&'static str>,
    /// The built-in file needs the schema's tables first (the seed).
    pub needs_schema: bool,
    /// Loading it forgets the migration history (a schema: the state before every migration).
    pub forgets_history: bool,
}

/// `schema` or `seed`: loads the command's file.
pub(super) async fn load_file(ctx: &Run, args: LoadArgs, kind: FileKind) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let file = lifecycle::workflow::checkout_file(args.file.as_deref(), kind.checkout);
    let opts = LoadOptions::one_transaction(!args.run.no_transaction);
    let conn = args.conn.options();
    let forgets = if kind.forgets_history {
        lifecycle::history::forgets(
            lifecycle::history::recorded_migrations(&target, &conn).await,
            false,
        )
    } else {
        None
    };
    if confirm.dry_run {
        let input = lifecycle::loading::sql_input(file.as_deref(), kind.name, kind.builtin);
        crate::ui::outln!(
            "{}",
            lifecycle::loading::describe_load(&target, &input, &args.vars.vars, opts)?
        )?;
        if let Some(f) = &forgets {
            crate::ui::outln!("  {f}")?;
        }
        return Ok(());
    }
    let input = lifecycle::loading::read_script(
        file.as_deref(),
        kind.name,
        kind.builtin,
        &args.vars.vars,
        opts,
        Some(&lifecycle::loading::server_of(&target.url)),
    )?;
    match kind.refuse_empty {
        Some(what) => lifecycle::loading::require_statements(&input, what)?,
        None => lifecycle::loading::warn_if_empty(&input),
    }
    let action = match &forgets {
        Some(f) => format!("{}; {f}", kind.action),
        None => kind.action.to_string(),
    };
    crate::protect::confirm(&target, &confirm, &action)?;
    let db = Db::connect(&target, &conn).await?;
    if kind.needs_schema && file.is_none() {
        lifecycle::loading::require_schema(&db).await?;
    }
    if kind.forgets_history {
        lifecycle::history::load_schema(&db, input, opts, &conn, false).await?;
    } else {
        lifecycle::loading::load(&db, input, opts, &conn)
            .await
            .map_err(|e| duplicate_hint(e, kind.needs_schema))?;
    }
    Ok(())
}

/// `setup` or `reset`: on a dry run prints `first` (if any) and the plan and returns `None`;
/// else reads every input (stdin read once) and asks the confirmation for `action`.
/// `first` (reset's drop line): the database is dropped first, so its history goes with it.
pub(super) async fn plan_or_read(
    target: &Target,
    request: &SetupRequest,
    confirm: &Confirm,
    first: Option<String>,
    action: &str,
    conn: &ConnectOptions,
) -> anyhow::Result<Option<SetupFiles>> {
    let recorded = lifecycle::history::recorded_migrations(target, conn).await;
    let again = !request.no_migrate;
    // NOTE: reset drops the database first, so the history goes with it; setup forgets it
    // in the schema load's transaction.
    let history = match (&first, recorded.filter(|n| *n > 0)) {
        (Some(_), Some(n)) => Some(format!(
            "its {n} applied migration(s) go with it{}",
            if again { " and are applied again" } else { "" }
        )),
        (Some(_), None) => None,
        (None, _) => lifecycle::history::forgets(recorded, again),
    };
    if confirm.dry_run {
        let plan = match &first {
            // reset: the history is gone with the drop; the plan's schema load forgets nothing.
            Some(_) => request.plan(target, None)?,
            None => request.plan(target, recorded)?,
        };
        let first = first.map(|f| match (&history, f) {
            (Some(h), f) => format!("{f}; {h}"),
            (None, f) => f,
        });
        for line in first.into_iter().chain(plan) {
            crate::ui::outln!("{line}")?;
        }
        return Ok(None);
    }
    let files = SetupFiles::read(request).await?;
    let action = match &history {
        Some(h) => format!("{action}; {h}"),
        None => action.to_string(),
    };
    crate::protect::confirm(target, confirm, &action)?;
    Ok(Some(files))
}

/// A seed that fails on a duplicate key ran on a database that holds its rows already: says
/// how to load it anew.
fn duplicate_hint(e: anyhow::Error, seed: bool) -> anyhow::Error {
    let duplicate = e
        .downcast_ref::<crate::load::LoadError>()
        .and_then(|l| l.code.as_deref())
        == Some("23505");
    if seed && duplicate {
        e.context(
            "the database already holds rows the seed adds (a duplicate key): `cruddur-db reset` \
             drops it and loads schema and seed anew; `cruddur-db schema` then `seed` keeps the \
             database but replaces its tables",
        )
    } else {
        e
    }
}
