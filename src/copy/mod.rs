//! `copy`: one database's data into another in one consistent snapshot of the source, masked
//! on the source side, loaded into the target in one transaction in foreign-key order.
//!
//! [`plan`] reads the source's tables and orders them, [`mask`] decides each column's rule,
//! [`subset`] turns `--where`/`--limit` into each table's rows, [`stream`] moves the data.

pub mod mask;
pub mod plan;
pub mod rebuild;
pub mod same;
pub mod stream;
pub mod subset;
pub mod target;

use std::time::{Duration, Instant};

use anyhow::Context;
use tokio_postgres::Client;

use crate::catalog;
use crate::pg::{ConnectOptions, Db};
use crate::protect::Confirm;
use crate::sql::quote;
use crate::target::Target;
use crate::ui;

use mask::{MaskFile, Masks, Origin, Rule};
use plan::{Order, Source};
use stream::{Job, Moved, Phases, Snapshot};
use subset::{Filters, Selection};

/// A copy, as plain values.
#[derive(Debug, Clone)]
pub struct Request {
    pub from: Target,
    pub to: Target,
    /// Create the source's schema on the target first.
    pub schema: bool,
    pub mask: Option<MaskFile>,
    pub no_mask: bool,
    pub salt: String,
    pub filters: Filters,
    pub jobs: usize,
    pub confirm: Confirm,
    pub conn: ConnectOptions,
}

/// Everything decided before a row moves.
pub struct Plan {
    pub source: Source,
    pub order: Order,
    pub masks: Masks,
    pub selection: Selection,
}

impl Plan {
    /// Reads the source inside the snapshot and decides order, rules and rows; every refusal
    /// (an unmasked text column, a bad filter, a cycle) comes here, before anything is written.
    pub async fn make(client: &Client, req: &Request) -> anyhow::Result<Plan> {
        let source = plan::read_source(client).await?;
        let order = plan::order(&source)?;
        let masks = mask::resolve(&source, req.mask.as_ref(), req.no_mask, req.salt.clone())?;
        let selection = subset::select(&source, &order, &req.filters)?;
        check_conditions(client, &source, &req.filters).await?;
        Ok(Plan {
            source,
            order,
            masks,
            selection,
        })
    }

    /// Each table's queries, in load order: `sessions` source sessions, and how the target
    /// takes each table (see [`target::Fast`]).
    pub fn jobs(&self, sessions: usize, fast: &target::Fast) -> Vec<Job> {
        self.order
            .tables
            .iter()
            .map(|name| {
                let t = self.source.table(name).expect("BUG: ordered tables exist");
                let columns = t
                    .columns
                    .iter()
                    .map(|c| quote::ident(&c.name))
                    .collect::<Vec<_>>()
                    .join(", ");
                let rules = &self.masks.by_table[name];
                let binary = fast.binary.contains(name);
                let format = if binary { " (FORMAT binary)" } else { "" };
                let filter = self.selection.where_clause(name);
                let kept = rules.iter().all(|(r, _)| *r == Rule::Keep);
                let copy_out = if filter.is_empty() && sessions > 1 && self.split(name) {
                    target::ctid_ranges(t.pages, sessions)
                        .iter()
                        .map(|range| {
                            format!(
                                "COPY (SELECT {} FROM {}{range}) TO STDOUT{format}",
                                self.masks.select_list(&self.source, name),
                                name.sql()
                            )
                        })
                        .collect()
                } else if filter.is_empty() && kept {
                    // NOTE: a whole table, as it is: the server's COPY reads it without
                    // planning and running a query.
                    vec![format!("COPY {} ({columns}) TO STDOUT{format}", name.sql())]
                } else {
                    vec![format!(
                        "COPY (SELECT {} FROM {}{filter}) TO STDOUT{format}",
                        self.masks.select_list(&self.source, name),
                        name.sql()
                    )]
                };
                let mut options = Vec::new();
                if binary {
                    options.push("FORMAT binary");
                }
                if fast.freeze.contains(name) {
                    options.push("FREEZE");
                }
                let options = if options.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", options.join(", "))
                };
                Job {
                    label: name.to_string(),
                    copy_out,
                    copy_in: format!("COPY {} ({columns}) FROM STDIN{options}", name.sql()),
                    binary,
                    row_estimate: t.row_estimate,
                }
            })
            .collect()
    }

    /// Whether table `name` is read in ctid ranges (see [`target::splittable`]).
    fn split(&self, name: &catalog::QName) -> bool {
        self.source
            .table(name)
            .is_some_and(|t| target::splittable(&self.source, t, &self.masks.by_table[name]))
    }

    /// How many source sessions the copy uses: one per ctid range of its large tables, and
    /// one when no table is read in ranges (more would only cost their connections), or for
    /// a subset (see [`run`]).
    pub fn sessions(&self, jobs: usize, filters: &Filters) -> usize {
        if !filters.is_empty() || !self.order.tables.iter().any(|t| self.split(t)) {
            1
        } else {
            jobs
        }
    }

    /// The plan as `--dry-run` prints it.
    pub fn describe(&self, req: &Request, sessions: usize) -> String {
        let mut out = format!(
            "copy from {} to {}\n  source: read in one REPEATABLE READ, READ ONLY snapshot over \
             {} connection(s); nothing is written there\n",
            req.from.url, req.to.url, sessions
        );
        if req.schema {
            out.push_str("  target: first gets the source's schema (catalog dump)\n");
        }
        out.push_str(&format!(
            "  target: in one transaction: TRUNCATE the {} table(s), set aside their indexes and \
             foreign keys, COPY them in this order (FREEZE, and binary where both sides have \
             the same built-in types), build the indexes and keys again (one validating query \
             per foreign key), set their sequences past the copied values\n",
            self.order.tables.len()
        ));
        if !self.source.own.is_empty() {
            out.push_str(&format!(
                "  {}\n",
                own_tables_line(&self.source.own, req.schema)
            ));
        }
        if !self.order.deferred.is_empty() {
            out.push_str(&format!(
                "  deferred to the commit (a foreign-key cycle): {}\n",
                self.order
                    .deferred
                    .iter()
                    .map(|f| format!("{} on {}", f.name, f.from))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if req.no_mask {
            out.push_str("  masking: NONE (--no-mask): every value is copied as it is\n");
        }
        for (i, name) in self.order.tables.iter().enumerate() {
            let t = self.source.table(name).expect("BUG: ordered tables exist");
            let rows = match (
                self.selection.own.get(name),
                self.selection.rows.contains_key(name),
            ) {
                (_, false) => "all rows".to_string(),
                (Some(own), true) => format!("rows where {own}, and the rows referenced"),
                (None, true) => "only the rows referenced by the rows selected".to_string(),
            };
            out.push_str(&format!(
                "{:>3}. {name} (~{} rows): {rows}\n",
                i + 1,
                t.row_estimate
            ));
            for (c, (rule, origin)) in t.columns.iter().zip(&self.masks.by_table[name]) {
                let from = match origin {
                    Origin::File => "mask file",
                    Origin::BuiltIn => "built-in",
                    Origin::NotText | Origin::NoMask => continue,
                };
                out.push_str(&format!("       {}: {rule} ({from})\n", c.name));
            }
        }
        out.push_str("dry run: nothing was written");
        out
    }

    /// How many columns get another value than their own.
    fn masked_columns(&self) -> usize {
        self.masks
            .by_table
            .values()
            .flatten()
            .filter(|(r, _)| *r != Rule::Keep)
            .count()
    }
}

/// Each `--where` condition is tried on its own table first (planned, no row read), so a
/// mistake in it is reported against that table and flag, not against the table whose copy
/// query reaches it through a foreign key.
async fn check_conditions(
    client: &Client,
    source: &Source,
    filters: &Filters,
) -> anyhow::Result<()> {
    for (table, filter) in &filters.0 {
        let Some(condition) = &filter.condition else {
            continue;
        };
        let q = source.find(table)?;
        // NOTE: EXPLAIN plans the query and runs nothing; the condition is already known to
        // be one expression (sql::cond), and here the server checks its names and type.
        let sql = format!("EXPLAIN SELECT 1 FROM {} WHERE {condition}", q.sql());
        if let Err(e) = client.query(&sql, &[]).await {
            return Err(crate::error::usage(format!(
                "--where {table:?}: the condition {condition} is not valid on {q}: {}; nothing \
                 was copied",
                crate::pg::describe(&e)
            )));
        }
    }
    Ok(())
}

/// Gives every source session the salt, as a bind parameter: it is never in a query's text.
async fn give_salt(snapshot: &Snapshot, salt: &str) -> anyhow::Result<()> {
    for c in &snapshot.clients {
        c.query_one(
            "SELECT pg_catalog.set_config($1, $2, true)",
            &[&mask::SALT_SETTING, &salt],
        )
        .await
        .context("failed to give the source sessions the mask salt")?;
    }
    Ok(())
}

/// Runs a copy: plan inside the source snapshot, confirmation, then the load.
pub async fn run(req: Request) -> anyhow::Result<()> {
    let started = Instant::now();
    crate::protect::check_confirm_db(&req.to, &req.confirm)?;
    // NOTE: every session on the source is read-only twice over: the server refuses writes in
    // these sessions (default_transaction_read_only) and in the snapshot's transactions.
    let src_opts = ConnectOptions {
        options: Some("-c default_transaction_read_only=on".to_string()),
        pool_size: req.jobs + 1,
        ..req.conn.clone()
    };
    let src = Db::connect(&req.from, &src_opts)
        .await
        .context("failed to connect to the source")?;
    let one_server = refuse_own_source(&src, &req).await?;
    // NOTE: the plan is made first in a short read-only transaction of its own, so that every
    // refusal and the confirmation prompt come before the snapshot opens: production never
    // holds an idle REPEATABLE READ transaction while a person decides.
    let first = {
        let client = src.get().await?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .context("failed to start a read-only transaction on the source")?;
        let plan = Plan::make(&client, &req).await;
        let _ = client.batch_execute("ROLLBACK").await;
        plan?
    };
    // NOTE: ranges read side by side only pay when the source has cores of its own: on the
    // target's own server they take the cores the target's COPY needs (measured on 2 cores,
    // 1,000,000 rows: 1.03x to 1.11x slower than one session; BENCHMARKS.md).
    let sessions = if one_server {
        1
    } else {
        first.sessions(req.jobs, &req.filters)
    };
    if req.confirm.dry_run {
        crate::ui::outln!("{}", first.describe(&req, sessions))?;
        return Ok(());
    }
    crate::protect::confirm(
        &req.to,
        &req.confirm,
        &format!(
            "replace the rows of {} table(s) with a copy of {}",
            first.order.tables.len(),
            req.from.url.short()
        ),
    )?;
    // NOTE: the catalog reader runs its own read-only transaction, so the schema is read just
    // before the snapshot opens, not inside it; the copy itself reads columns and keys again
    // inside the snapshot, and a schema changed in between fails the load (rolled back).
    let schema_sql = if req.schema {
        let client = src.get().await?;
        let cat = catalog::read(&client)
            .await
            .with_context(|| format!("failed to read the schema of {}", req.from.url))?;
        for s in &cat.missing {
            ui::warn(&format!("not in the copied schema: {s}"));
        }
        Some(catalog::sql::dump(&cat))
    } else {
        None
    };
    // NOTE: a subset's conditions may call now(), which is each transaction's own start time;
    // one session evaluates every table's condition at the same instant, so the closure holds.
    let snapshot = Snapshot::open(&src, sessions).await?;
    let result = match give_salt(&snapshot, &req.salt).await {
        Ok(()) => copy_in_snapshot(&req, &snapshot, schema_sql, started).await,
        Err(e) => Err(e),
    };
    snapshot.close().await;
    result
}

/// Refuses (exit 2) a target that is the source itself, as the servers say (see [`same`]);
/// otherwise tells whether the two databases are on one server. A target that cannot be
/// reached yet is left to the load to report.
async fn refuse_own_source(src: &Db, req: &Request) -> anyhow::Result<bool> {
    let Ok(dst) = Db::connect(&req.to, &req.conn).await else {
        return Ok(false);
    };
    let (a, b) = (
        same::identity(&*src.get().await?).await?,
        same::identity(&*dst.get().await?).await?,
    );
    if a == b {
        return Err(crate::error::usage(format!(
            "--from and --to are the same database ({} and {} are one server, system \
             identifier {}, and one database, oid {}): a copy would empty its own source; \
             nothing was copied",
            req.from.url.short(),
            req.to.url.short(),
            a.cluster,
            a.oid
        )));
    }
    Ok(a.cluster == b.cluster)
}

async fn copy_in_snapshot(
    req: &Request,
    snapshot: &Snapshot,
    schema_sql: Option<String>,
    started: Instant,
) -> anyhow::Result<()> {
    // The plan again, inside the snapshot: what is copied is what the snapshot holds.
    let plan = Plan::make(&snapshot.clients[0], req).await?;
    test_pause("snapshot").await?;
    let source_history = crate::migrate::store::recorded(&snapshot.clients[0]).await?;
    // NOTE: counted in the snapshot before the load commits: a failure after the commit
    // would report a copy that happened as failed.
    let selected = if req.filters.is_empty() {
        Vec::new()
    } else {
        count_selected(&snapshot.clients[0], &plan).await?
    };
    let phases = Phases::default();
    let (moved, target_history) =
        target::load(&req.to, &req.conn, &plan, snapshot, schema_sql, &phases).await?;
    let rows: u64 = moved.iter().map(|m| m.rows).sum();
    crate::audit::add_detail(&format!(
        "committed: {} table(s), {rows} rows{}",
        moved.len(),
        if req.filters.is_empty() {
            String::new()
        } else {
            format!(
                ", a subset ({})",
                req.filters
                    .0
                    .iter()
                    .map(|(t, f)| match (&f.condition, f.limit) {
                        (Some(c), Some(n)) => format!("{t}: {c}, limit {n}"),
                        (Some(c), None) => format!("{t}: {c}"),
                        (None, Some(n)) => format!("{t}: limit {n}"),
                        (None, None) => t.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        }
    ));
    summary(req, &plan, &moved, &selected, started.elapsed());
    if ui::is_verbose() {
        ui::status(&phase_line(&phases, snapshot.clients.len()));
    }
    if !plan.source.own.is_empty() {
        ui::status(&format!(
            "  {}",
            own_tables_line(&plan.source.own, req.schema)
        ));
    }
    if !req.schema {
        for line in history_notes(source_history.as_deref(), target_history.as_deref()) {
            ui::status(&line);
        }
    }
    Ok(())
}

/// What the copy does with the tool's own tables: left alone, or (with `--schema`, which
/// gives the target the source's schema) copied as they are, so the target's history
/// describes the schema it now has.
fn own_tables_line(own: &[catalog::QName], schema: bool) -> String {
    let names = own
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if schema {
        format!(
            "history: {names} copied as they are with the schema, so the target's migration \
             history describes the schema it gets"
        )
    } else {
        format!(
            "left alone: {names} (the tool's own: the target keeps its migration history; not \
             copied, masked or emptied)"
        )
    }
}

/// When the two histories differ: which migrations the copied data expects, and which the
/// target has that the source had not.
fn history_notes(
    source: Option<&[(String, String)]>,
    target: Option<&[(String, String)]>,
) -> Vec<String> {
    let (source, target) = (source.unwrap_or_default(), target.unwrap_or_default());
    let missing = |of: &[(String, String)], from: &[(String, String)]| -> Vec<String> {
        of.iter()
            .filter(|m| !from.iter().any(|t| t.0 == m.0))
            .map(|(v, n)| format!("{v}_{n}"))
            .collect()
    };
    let expected = missing(source, target);
    let extra = missing(target, source);
    let mut lines = Vec::new();
    if !expected.is_empty() {
        lines.push(format!(
            "note: the copied data comes from a database with {} migration(s) the target has not \
             applied: {}; `cruddur-db migrate status` on the target tells what to run",
            expected.len(),
            expected.join(", ")
        ));
    }
    if !extra.is_empty() {
        lines.push(format!(
            "note: the target has {} applied migration(s) the source has not: {}; the copied \
             rows were written without them",
            extra.len(),
            extra.join(", ")
        ));
    }
    lines
}

/// For a subset: how many of each table's copied rows its own filter selected (the others
/// came because selected rows reference them).
async fn count_selected(client: &Client, plan: &Plan) -> anyhow::Result<Vec<Option<u64>>> {
    let mut out = Vec::new();
    for name in &plan.order.tables {
        let n = match plan.selection.own.get(name) {
            Some(own) => {
                let sql = format!(
                    "SELECT count(*) FILTER (WHERE {own}) FROM {}{}",
                    name.sql(),
                    plan.selection.where_clause(name)
                );
                let n: i64 = client.query_one(&sql, &[]).await?.get(0);
                Some(u64::try_from(n).unwrap_or(0))
            }
            None => Some(0),
        };
        out.push(n);
    }
    Ok(out)
}

fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

/// The summary on stderr: one line, and a line per table for a subset.
fn summary(req: &Request, plan: &Plan, moved: &[Moved], selected: &[Option<u64>], took: Duration) {
    let rows: u64 = moved.iter().map(|m| m.rows).sum();
    let bytes: u64 = moved.iter().map(|m| m.bytes).sum();
    let masked = if req.no_mask {
        "NOT masked (--no-mask)".to_string()
    } else {
        format!("masked: {} column(s)", plan.masked_columns())
    };
    ui::status(&format!(
        "copied {} table(s), {rows} rows, {} from {} to {} in {:.2}s ({masked})",
        moved.len(),
        human_bytes(bytes),
        req.from.url.short(),
        req.to.url.short(),
        took.as_secs_f64()
    ));
    for ((name, m), sel) in plan.order.tables.iter().zip(moved).zip(selected) {
        let why = match sel {
            Some(s) => format!("{s} selected, {} referenced", m.rows.saturating_sub(*s)),
            None => "all".to_string(),
        };
        ui::status(&format!("  {name}: {} rows ({why})", m.rows));
    }
}

/// The `-v` line: where the time went.
fn phase_line(phases: &Phases, sessions: usize) -> String {
    let t = phases.times();
    let s = |d: Duration| format!("{:.2}s", d.as_secs_f64());
    format!(
        "  phases: truncate {}, set aside indexes and keys {}, read {} (masking included: it \
         runs in the source's query; {sessions} source session(s)), send {}, index build {}, \
         constraint validation {}, sequences {}, commit {}",
        s(t.truncate),
        s(t.set_aside),
        s(t.read),
        s(t.send),
        s(t.index_build),
        s(t.validation),
        s(t.sequences),
        s(t.commit)
    )
}

/// NOTE: a test-only hook, so that a test can change the source while a copy holds its
/// snapshot, or stop a copy in the middle of its load: with CRUDDUR_TEST_COPY_PAUSE=DIR the
/// copy creates DIR/paused at the stage CRUDDUR_TEST_COPY_PAUSE_AT names (`snapshot`, the
/// default: once its snapshot is taken, before it reads a row; `loaded`: once the first
/// table is loaded, its indexes and keys set aside) and waits (up to a minute) for
/// DIR/resume. Only in a build with `--features test-hooks` (scripts/test); releases and
/// `cargo install` leave it out.
#[cfg(not(feature = "test-hooks"))]
pub(crate) async fn test_pause(_stage: &str) -> anyhow::Result<()> {
    Ok(())
}

#[cfg(feature = "test-hooks")]
pub(crate) async fn test_pause(stage: &str) -> anyhow::Result<()> {
    let Some(dir) = crate::env::var_os("CRUDDUR_TEST_COPY_PAUSE") else {
        return Ok(());
    };
    let at = crate::env::var("CRUDDUR_TEST_COPY_PAUSE_AT").unwrap_or_else(|| "snapshot".into());
    let dir = std::path::PathBuf::from(dir);
    if at != stage || dir.join("paused").exists() {
        return Ok(());
    }
    std::fs::write(dir.join("paused"), "")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("resume").exists() {
        if Instant::now() > deadline {
            anyhow::bail!("CRUDDUR_TEST_COPY_PAUSE: no resume file after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
