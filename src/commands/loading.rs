//! What the loading commands share: `schema` and `seed` load one SQL file (or the built-in
//! one); `setup` and `reset` print their plan or prepare every input. Every input is prepared
//! and checked before the confirmation and before anything is written.

use std::path::PathBuf;

use crate::cli::LoadArgs;
use crate::lifecycle::{self, SetupFiles, SetupRequest};
use crate::load::LoadOptions;
use crate::migrate::Checkout;
use crate::pg::Db;
use crate::protect::Confirm;
use crate::target::{Target, TargetRequest};

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
}

/// `schema` or `seed`: loads the command's file.
pub(super) async fn load_file(
    req: &TargetRequest,
    args: LoadArgs,
    kind: FileKind,
) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let confirm = args.confirm.plain();
    crate::protect::check_confirm_db(&target, &confirm)?;
    let file = lifecycle::checkout_file(args.file.as_deref(), kind.checkout);
    let opts = LoadOptions::one_transaction(!args.run.no_transaction);
    if confirm.dry_run {
        let input = lifecycle::sql_input(file.as_deref(), kind.name, kind.builtin);
        println!(
            "{}",
            lifecycle::describe_load(&target, &input, &args.vars.vars, opts)?
        );
        return Ok(());
    }
    let input = lifecycle::prepare(
        file.as_deref(),
        kind.name,
        kind.builtin,
        &args.vars.vars,
        opts,
        Some(&lifecycle::server_of(&target.url)),
    )?;
    match kind.refuse_empty {
        Some(what) => lifecycle::require_statements(&input, what)?,
        None => lifecycle::warn_if_empty(&input),
    }
    crate::protect::confirm(&target, &confirm, kind.action)?;
    let conn = args.conn.options();
    let db = Db::connect(&target, &conn).await?;
    if kind.needs_schema && file.is_none() {
        lifecycle::require_schema(&db).await?;
    }
    lifecycle::load(&db, input, opts, &conn).await?;
    Ok(())
}

/// `setup` or `reset`: on a dry run prints `first` (if any) and the plan and returns `None`;
/// else prepares every input (stdin read once) and asks the confirmation for `action`.
pub(super) async fn plan_or_prepare(
    target: &Target,
    request: &SetupRequest,
    confirm: &Confirm,
    first: Option<String>,
    action: &str,
) -> anyhow::Result<Option<SetupFiles>> {
    if confirm.dry_run {
        for line in first.into_iter().chain(request.plan(target)?) {
            println!("{line}");
        }
        return Ok(None);
    }
    let files = SetupFiles::prepare(request).await?;
    crate::protect::confirm(target, confirm, action)?;
    Ok(Some(files))
}
