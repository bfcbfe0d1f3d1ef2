//! Runs a split SQL file: batches of statements per round trip, COPY data, one transaction,
//! an advisory lock against concurrent loads, and errors that point at `file:line:column`.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{pin_mut, SinkExt, StreamExt};
use indicatif::ProgressBar;
use tokio_postgres::{Client, SimpleQueryMessage};

use crate::sql::{is_transaction_control, Kind, Script, Statement};
use crate::ui;

/// Statements are sent together until a batch holds this many bytes.
const BATCH_BYTES: usize = 512 * 1024;
/// COPY data is sent in chunks of this size.
const COPY_CHUNK: usize = 256 * 1024;
/// The advisory lock key that serialises schema and seed runs on one database.
pub const LOCK_KEY: i64 = 0x0063_7275_6464_7572; // "cruddur"

/// How to run a file.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    /// All statements in one transaction (the default).
    pub transaction: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { transaction: true }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub statements: usize,
    pub rows: u64,
    pub skipped: usize,
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} statements, {} rows in {:.2}s",
            self.statements,
            self.rows,
            self.elapsed.as_secs_f64()
        )?;
        if self.skipped > 0 {
            write!(f, " ({} psql meta-commands skipped)", self.skipped)?;
        }
        Ok(())
    }
}

/// A statement of the file failed.
#[derive(Debug)]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub statement: String,
    pub message: String,
    /// What happened to the work before the failure.
    pub outcome: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}\n  statement: {}\n  {}",
            self.file, self.line, self.column, self.message, self.statement, self.outcome
        )
    }
}

impl std::error::Error for LoadError {}

/// Takes the advisory lock for loads on this database, saying so when it has to wait.
pub async fn lock(client: &Client, database: &str) -> anyhow::Result<()> {
    let got: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
        .await?
        .get(0);
    if !got {
        let holder: Option<i32> = client
            .query_opt(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND ((classid::bigint << 32) | objid::bigint) = $1 LIMIT 1",
                &[&LOCK_KEY],
            )
            .await?
            .map(|r| r.get(0));
        let who = holder.map_or_else(String::new, |p| format!(" (server pid {p})"));
        ui::status(&format!(
            "waiting for another cruddur-db load on database {database:?} to finish{who} ..."
        ));
        client
            .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
            .await?;
    }
    Ok(())
}

/// Releases the advisory lock.
pub async fn unlock(client: &Client) -> anyhow::Result<()> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await?;
    Ok(())
}

/// Runs a script. In a transaction, the first failure rolls everything back.
pub async fn run(
    client: &Client,
    script: &Script,
    opts: LoadOptions,
    bar: &ProgressBar,
) -> Result<Summary, LoadError> {
    let started = Instant::now();
    let mut summary = Summary::default();
    if opts.transaction {
        client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| plain_error(script, &e, "nothing was run"))?;
    }
    let result = run_statements(client, script, opts, bar, &mut summary).await;
    match result {
        Ok(()) => {
            if opts.transaction {
                client.batch_execute("COMMIT").await.map_err(|e| {
                    plain_error(
                        script,
                        &e,
                        "the transaction was rolled back; nothing from this file was kept",
                    )
                })?;
            }
            summary.elapsed = started.elapsed();
            Ok(summary)
        }
        Err(mut err) => {
            if opts.transaction {
                // The connection may be gone; the server rolls back then anyway.
                let _ = client.batch_execute("ROLLBACK").await;
                err.outcome =
                    "the transaction was rolled back; nothing from this file was kept".into();
            } else {
                err.outcome = format!(
                    "run without a transaction: the {} statements before it stay committed",
                    summary.statements
                );
            }
            Err(err)
        }
    }
}

/// A batch being built: the SQL text and, for each statement in it, where it starts.
struct Batch<'a> {
    text: String,
    parts: Vec<(usize, &'a Statement)>,
}

async fn run_statements(
    client: &Client,
    script: &Script,
    opts: LoadOptions,
    bar: &ProgressBar,
    summary: &mut Summary,
) -> Result<(), LoadError> {
    let mut batch = Batch {
        text: String::new(),
        parts: Vec::new(),
    };
    let mut warned_tx = false;
    for stmt in &script.statements {
        match &stmt.kind {
            Kind::Meta => {
                let (line, _) = script.line_col(stmt.range.start);
                let cmd = script.sql(stmt).split_whitespace().next().unwrap_or("\\");
                ui::warn(&format!(
                    "{}:{line}: skipped psql meta-command {cmd} (only psql runs those)",
                    script.name
                ));
                summary.skipped += 1;
            }
            Kind::Sql => {
                let sql = script.sql(stmt);
                if opts.transaction && is_transaction_control(sql) {
                    if !warned_tx {
                        let (line, _) = script.line_col(stmt.range.start);
                        ui::warn(&format!(
                            "{}:{line}: the file's own {} is folded into the one transaction the whole file runs in \
                             (use --no-transaction to run it as written)",
                            script.name,
                            sql.trim_end_matches(';').trim()
                        ));
                        warned_tx = true;
                    }
                    summary.statements += 1;
                    continue;
                }
                if !opts.transaction {
                    batch.parts.push((0, stmt));
                    batch.text.push_str(sql);
                    flush(client, script, &mut batch, bar, summary).await?;
                    continue;
                }
                batch.parts.push((batch.text.len(), stmt));
                batch.text.push_str(sql);
                if !sql.ends_with(';') {
                    batch.text.push(';');
                }
                batch.text.push('\n');
                if batch.text.len() >= BATCH_BYTES {
                    flush(client, script, &mut batch, bar, summary).await?;
                }
            }
            Kind::Copy { data } => {
                flush(client, script, &mut batch, bar, summary).await?;
                let rows = copy(client, script, stmt, data.clone()).await?;
                summary.rows += rows;
                summary.statements += 1;
                bar.inc(1);
            }
        }
    }
    flush(client, script, &mut batch, bar, summary).await
}

/// Sends the batch as one simple query and counts completions, so that a failure can be
/// pinned to its statement (and, with the server's position, to its column).
async fn flush(
    client: &Client,
    script: &Script,
    batch: &mut Batch<'_>,
    bar: &ProgressBar,
    summary: &mut Summary,
) -> Result<(), LoadError> {
    if batch.parts.is_empty() {
        return Ok(());
    }
    let mut done = 0usize;
    let outcome: Result<(), tokio_postgres::Error> = async {
        let stream = client.simple_query_raw(&batch.text).await?;
        pin_mut!(stream);
        while let Some(msg) = stream.next().await {
            if let SimpleQueryMessage::CommandComplete(n) = msg? {
                done += 1;
                summary.rows += n;
            }
        }
        Ok(())
    }
    .await;
    summary.statements += done.min(batch.parts.len());
    bar.inc(done as u64);
    if let Err(e) = outcome {
        let err = locate(script, batch, done, &e);
        batch.text.clear();
        batch.parts.clear();
        return Err(err);
    }
    batch.text.clear();
    batch.parts.clear();
    Ok(())
}

fn locate(script: &Script, batch: &Batch<'_>, done: usize, e: &tokio_postgres::Error) -> LoadError {
    let db = e.as_db_error();
    // The server's position is a 1-based character index into the batch text.
    let at_position = db.and_then(|d| match d.position() {
        Some(tokio_postgres::error::ErrorPosition::Original(p)) => {
            let byte = batch
                .text
                .char_indices()
                .nth((*p as usize).saturating_sub(1))
                .map(|(b, _)| b)?;
            let idx = batch
                .parts
                .partition_point(|(off, _)| *off <= byte)
                .checked_sub(1)?;
            let (off, stmt) = batch.parts[idx];
            Some((stmt, stmt.range.start + (byte - off)))
        }
        _ => None,
    });
    let (stmt, offset) = at_position.unwrap_or_else(|| {
        let stmt = batch.parts[done.min(batch.parts.len() - 1)].1;
        (stmt, stmt.range.start)
    });
    let (line, column) = script.line_col(offset);
    LoadError {
        file: script.name.clone(),
        line,
        column,
        statement: script.first_line(stmt),
        message: message_with_hint(e),
        outcome: String::new(),
    }
}

fn message_with_hint(e: &tokio_postgres::Error) -> String {
    let mut msg = crate::pg::describe(e);
    if let Some(db) = e.as_db_error() {
        let extra = match db.code().code() {
            "25001" => Some(
                "this statement cannot run in a transaction: run the file with --no-transaction",
            ),
            "42P01" => {
                Some("a table is missing: is the schema loaded? run `cruddur-db schema` first")
            }
            _ => None,
        };
        if let Some(extra) = extra {
            msg.push_str("\n  note: ");
            msg.push_str(extra);
        }
    }
    msg
}

fn plain_error(script: &Script, e: &tokio_postgres::Error, outcome: &str) -> LoadError {
    LoadError {
        file: script.name.clone(),
        line: 1,
        column: 1,
        statement: String::new(),
        message: message_with_hint(e),
        outcome: outcome.to_string(),
    }
}

async fn copy(
    client: &Client,
    script: &Script,
    stmt: &Statement,
    data: std::ops::Range<usize>,
) -> Result<u64, LoadError> {
    let sql = script.sql(stmt);
    let result: Result<u64, tokio_postgres::Error> = async {
        let sink = client.copy_in(sql).await?;
        pin_mut!(sink);
        let bytes = script.text.as_bytes();
        let mut at = data.start;
        while at < data.end {
            let end = (at + COPY_CHUNK).min(data.end);
            sink.feed(Bytes::copy_from_slice(&bytes[at..end])).await?;
            at = end;
        }
        sink.as_mut().finish().await
    }
    .await;
    result.map_err(|e| {
        // The server says which data line failed ("COPY activities, line 3"): point there.
        let data_line = e
            .as_db_error()
            .and_then(|d| d.where_())
            .and_then(|w| w.split("line ").nth(1))
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok());
        let (stmt_line, stmt_col) = script.line_col(stmt.range.start);
        let (line, column) = match data_line {
            Some(n) if data.start < data.end => (script.line_col(data.start).0 + n - 1, 1),
            _ => (stmt_line, stmt_col),
        };
        LoadError {
            file: script.name.clone(),
            line,
            column,
            statement: script.first_line(stmt),
            message: message_with_hint(&e),
            outcome: String::new(),
        }
    })
}
