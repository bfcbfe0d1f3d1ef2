//! `post-crud`: post activities ("cruds") as a user with the app's rules: one, or many at
//! once with `--count` to fill a feed.

use std::io::Read;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;

use crate::app::{self, Activity, Batch, NewActivity, Ttl};
use crate::cli::PostCrudArgs;
use crate::commands::context::Run;
use crate::pg::Db;
use crate::ui;

/// What `--count` prints (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub posted: u64,
    pub handle: String,
    pub ttl: Ttl,
    pub concurrency: usize,
    pub seconds: f64,
    pub rows_per_second: f64,
}

pub async fn run(ctx: &Run, args: PostCrudArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let message = if args.message == "-" {
        read_stdin()?
    } else {
        args.message.clone()
    };
    let mut opts = args.conn.options();
    let concurrency = args
        .concurrency
        .map_or(opts.pool_size, |c| usize::try_from(c).unwrap_or(usize::MAX));
    // NOTE: every worker holds one connection for the whole batch, so the pool must be at
    // least as large as the concurrency.
    opts.pool_size = opts.pool_size.max(concurrency);

    // The input is checked before anything is opened: bad input is exit 2 even when the
    // database cannot be reached.
    let Some(count) = args.count else {
        let new = NewActivity::new(&args.handle, &message, &args.ttl)?;
        crate::protect::confirm(
            &target,
            &args.confirm.plain(),
            &format!("post a crud as {:?}", new.handle()),
        )?;
        let db = Db::connect(&target, &opts).await?;
        crate::lifecycle::loading::require_schema(&db).await?;
        if args.confirm.dry_run {
            return dry_run(&db, new.handle(), 1, new.ttl()).await;
        }
        let activity = app::insert_activity(&db.pool, &new).await?;
        if args.output.json {
            crate::ui::outln!("{}", serde_json::to_string_pretty(&activity)?)?;
        } else {
            crate::ui::out!("{}", describe(&activity))?;
        }
        return Ok(());
    };

    let batch = Batch::new(&args.handle, &message, &args.ttl, count)?;
    crate::protect::confirm(
        &target,
        &args.confirm.plain(),
        &format!("post {count} crud(s) as {:?}", batch.handle()),
    )?;
    let db = Db::connect(&target, &opts).await?;
    crate::lifecycle::loading::require_schema(&db).await?;
    if args.confirm.dry_run {
        return dry_run(&db, batch.handle(), count, batch.ttl()).await;
    }
    let workers = concurrency.min(usize::try_from(count).unwrap_or(usize::MAX));
    let bar = ui::bar(count, "cruds");
    bar.set_message(format!("posting as @{}", batch.handle()));
    let started = Instant::now();
    let result = app::create_activities(&db.pool, &batch, workers, &|n| bar.inc(n)).await;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let posted = result?;
    let summary = Summary {
        posted,
        handle: batch.handle().to_string(),
        ttl: batch.ttl(),
        concurrency: workers,
        seconds,
        rows_per_second: posted as f64 / seconds.max(1e-9),
    };
    if args.output.json {
        crate::ui::outln!("{}", serde_json::to_string_pretty(&summary)?)?;
    } else {
        crate::ui::outln!(
            "posted {} cruds as @{} (ttl {}, {} at a time) in {:.2}s: {:.0} cruds/s",
            summary.posted,
            summary.handle,
            summary.ttl,
            summary.concurrency,
            summary.seconds,
            summary.rows_per_second
        )?;
    }
    Ok(())
}

/// Checks the handle and says what would be posted; writes nothing.
async fn dry_run(db: &Db, handle: &str, count: u64, ttl: Ttl) -> anyhow::Result<()> {
    app::require_handle(&db.pool, handle).await?;
    crate::ui::outln!(
        "would post {count} crud(s) as @{handle} with ttl {ttl} on {}",
        db.url.short()
    )?;
    ui::status("--dry-run: nothing was written");
    Ok(())
}

/// The message from stdin, without the one trailing newline that `echo` and editors add.
fn read_stdin() -> anyhow::Result<String> {
    if ui::stdin_is_terminal() {
        ui::status("reading the message from stdin; end it with Ctrl-D");
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("failed to read the message from stdin")?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// The crud as `field  value` lines, in the object query's order.
pub fn describe(a: &Activity) -> String {
    let fields = [
        ("uuid", a.uuid.to_string()),
        ("display_name", a.display_name.clone()),
        ("handle", a.handle.clone()),
        ("message", a.message.clone()),
        ("created_at", a.created_at.to_string()),
        ("expires_at", a.expires_at.to_string()),
    ];
    fields
        .iter()
        .map(|(k, v)| format!("{k:<12}  {v}\n"))
        .collect()
}
