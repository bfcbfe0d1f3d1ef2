//! Runs a prepared SQL input as it streams: batches of statements per round trip, COPY data
//! straight through, one transaction (or none, or the caller's), `\c` to other databases of
//! the same server, an advisory lock against concurrent loads, and errors that point at
//! `file:line:column` of the file as written, through includes and variables.

mod connect;
mod report;
mod shaped;

use std::io::Read;
use std::pin::Pin;
use std::time::Instant;

use bytes::Bytes;
use futures_util::{pin_mut, SinkExt, StreamExt};
use indicatif::ProgressBar;
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryStream};

use connect::NoConnect;
pub use connect::{Connection, Connector, DbConnector};
use report::message_with_hint;
pub use report::{LoadError, Summary};
pub use shaped::{
    allow as allow_shapes, allowed as shapes_allowed, wanted as shapes_wanted, ENV as PREPARE_ENV,
};
use shaped::{Execute, Plan, Shapes};

use crate::sql::input::is_folded;
use crate::sql::input::Data;
use crate::sql::script::Script;
use crate::sql::shape;
use crate::sql::{Input, Item, Loc, Reader, Stmt, Vars};
use crate::ui;

/// Statements are sent together until a batch holds this many bytes. NOTE: small batches
/// measured faster than large ones (the server parses a whole batch before it runs any of it),
/// and with one batch always waiting behind the running one, round trips cost nothing.
const BATCH_BYTES: usize = 16 * 1024;
/// A client-side `\copy` file is read in chunks of this size.
const COPY_CHUNK: usize = 256 * 1024;
/// The advisory lock key that serialises schema and seed runs on one database.
pub const LOCK_KEY: i64 = 0x0063_7275_6464_7572; // "cruddur"

/// Who owns the transaction a file runs in. Shapes are prepared in savepoints of the
/// runner's own transaction, and `\c` rolls back the transaction of the connection it
/// leaves: each choice lives in the one variant where it is safe, so the two never meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transaction {
    /// The runner: BEGIN before the first statement, COMMIT after the last (the default).
    Own { shapes: Shaping },
    /// None: each statement commits on its own (`--no-transaction`).
    None { connect: Connect },
    /// The caller has begun one and commits or rolls it back (migrations).
    Caller,
}

impl Default for Transaction {
    fn default() -> Transaction {
        Transaction::Own {
            shapes: Shaping::ByShape,
        }
    }
}

/// Whether repeated INSERTs of the runner's own transaction run by prepared shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shaping {
    /// By shape where it pays (see `shaped`).
    ByShape,
    /// Every statement as written (`CRUDDUR_PREPARE=off`).
    AsWritten,
}

/// Whether `\c` may run in a run without a transaction. Only a marker: the connector needs
/// the target's pool, which does not exist yet where options are built (a dry run never
/// has one), so [`run`] takes it beside the options, and a run that allows `\c` is the only
/// one given a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connect {
    Allowed,
    /// Refused all the same (a `transaction:false` migration).
    Refused,
}

/// How to run a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    pub transaction: Transaction,
    /// SQL of the caller's, run after the file's last statement in the same transaction
    /// (before the runner's COMMIT; after the last statement without a transaction), so
    /// that it is kept exactly when the file is (a schema load forgets the migration
    /// history this way).
    pub epilogue: Option<&'static str>,
}

impl LoadOptions {
    /// One transaction (`true`, by shape) or none (`false`, `--no-transaction`, `\c` allowed).
    pub fn one_transaction(yes: bool) -> LoadOptions {
        LoadOptions {
            transaction: if yes {
                Transaction::default()
            } else {
                Transaction::None {
                    connect: Connect::Allowed,
                }
            },
            epilogue: None,
        }
    }

    /// Whether `\c` may run: only when no transaction spans the file.
    pub fn allows_connect(self) -> bool {
        matches!(
            self.transaction,
            Transaction::None {
                connect: Connect::Allowed
            }
        )
    }

    fn batched(self) -> bool {
        !matches!(self.transaction, Transaction::None { .. })
    }

    fn own(self) -> bool {
        matches!(self.transaction, Transaction::Own { .. })
    }
}

/// Takes the advisory lock for loads on this database, saying so when it has to wait.
pub async fn lock(client: &Client, database: &str) -> anyhow::Result<()> {
    crate::pg::advisory_lock(
        client,
        crate::pg::LockKey::One(LOCK_KEY),
        &format!("another cruddur-db load on database {database:?}"),
    )
    .await
}

/// Releases the advisory lock.
pub async fn unlock(client: &Client) -> anyhow::Result<()> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await?;
    Ok(())
}

/// Runs a prepared input on `client`. In a transaction of its own, the first failure rolls
/// everything back. `bar` is moved to the bytes read (a hidden bar or spinner is fine);
/// `connector` opens the databases `\c` names: given only when `opts` allow `\c`
/// ([`LoadOptions::allows_connect`]; elsewhere the reader refuses it before it is reached).
pub async fn run(
    client: &Client,
    input: Script,
    opts: LoadOptions,
    bar: &ProgressBar,
    connector: Option<&dyn Connector>,
) -> Result<Summary, LoadError> {
    let started = Instant::now();
    let name = input.name.clone();
    let start_loc = Loc {
        file: name.clone().into(),
        line: 1,
        column: 1,
        chain: std::sync::Arc::from([]),
    };
    let mut shapes = Shapes::default();
    if let Transaction::Own { shapes: shaping } = opts.transaction {
        let nothing = |e| LoadError {
            outcome: "nothing was run".into(),
            ..LoadError::db(&start_loc, "", &e)
        };
        shapes = match Shapes::begin(client, shaping == Shaping::ByShape).await {
            Ok(shapes) => shapes,
            Err(e) => {
                // The BEGIN may have run: leave no transaction open behind.
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(nothing(e));
            }
        };
    }
    let mut runner = Runner {
        first: client,
        reader: input.into_reader(),
        opts,
        bar,
        connector: connector.unwrap_or(&NoConnect),
        batch: Batch::default(),
        in_flight: None,
        shapes,
        summary: Summary::default(),
        warned_tx: false,
    };
    let mut result = runner.run_all().await;
    if let (Ok(()), Some(sql)) = (&result, opts.epilogue) {
        if let Err(e) = client.batch_execute(sql).await {
            result = Err(LoadError {
                message: format!("after the file's last statement: {}", message_with_hint(&e)),
                ..LoadError::db(&start_loc, "", &e)
            });
        }
    }
    let outcome = finish(client, opts, result, &mut runner, &start_loc).await;
    // Outside the transaction: prepared statements outlive it.
    runner.shapes.deallocate(client).await;
    let mut summary = outcome?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Commits (or rolls back) the runner's own transaction and says what was kept.
async fn finish(
    client: &Client,
    opts: LoadOptions,
    result: Result<(), LoadError>,
    runner: &mut Runner<'_>,
    start_loc: &Loc,
) -> Result<Summary, LoadError> {
    let kept = "the transaction was rolled back; nothing from this file was kept";
    match result {
        Ok(()) => {
            if opts.own() {
                client
                    .batch_execute("COMMIT")
                    .await
                    .map_err(|e| LoadError {
                        outcome: kept.into(),
                        ..LoadError::db(start_loc, "", &e)
                    })?;
            }
            let mut summary = std::mem::take(&mut runner.summary);
            summary.by_shape = runner.shapes.used;
            summary.shapes = runner.shapes.made();
            Ok(summary)
        }
        Err(mut err) => {
            err.outcome = match opts.transaction {
                Transaction::Own { .. } => {
                    // The connection may be gone; the server rolls back then anyway.
                    let _ = client.batch_execute("ROLLBACK").await;
                    kept.into()
                }
                Transaction::Caller => {
                    "the caller's transaction is aborted; nothing from this file is kept".into()
                }
                Transaction::None { .. } => format!(
                    "run without a transaction: the {} statements before it stay committed",
                    runner.summary.statements
                ),
            };
            Err(err)
        }
    }
}

/// Runs a small SQL text (a section of a file starting at `line`, as migrations have) inside
/// the caller's transaction: the runner neither begins nor commits, and `\c` is refused.
/// Positions in errors count from `line` of `name`.
pub async fn run_text(
    client: &Client,
    name: &str,
    text: &str,
    line: usize,
    vars: &Vars,
) -> Result<Summary, LoadError> {
    let input = Script::new(&Input::section(name, text, line), vars, false)?;
    run(
        client,
        input,
        LoadOptions {
            transaction: Transaction::Caller,
            epilogue: None,
        },
        &ProgressBar::hidden(),
        None,
    )
    .await
}

/// A batch being built: the SQL text and, for each statement in it, where it starts.
#[derive(Default)]
struct Batch {
    text: String,
    parts: Vec<Part>,
}

/// A statement in a batch: where it starts in the batch text, and, when it is sent as the
/// `EXECUTE` of its shape, where its literals are in that.
struct Part {
    offset: usize,
    stmt: Stmt,
    execute: Option<Box<Execute>>,
}

impl Part {
    /// The place in the file of an offset of this part's text in the batch.
    fn loc_of(&self, sent: usize) -> Loc {
        match &self.execute {
            Some(ex) => self.stmt.loc_of(ex.statement_offset(sent)),
            None => self.stmt.loc_of(sent),
        }
    }
}

/// A batch sent whose results are not read yet.
struct InFlight {
    batch: Batch,
    results: Pin<Box<SimpleQueryStream>>,
}

struct Runner<'a> {
    /// The target's connection (the only one in a transaction of the runner's own).
    first: &'a Client,
    reader: Reader,
    opts: LoadOptions,
    bar: &'a ProgressBar,
    connector: &'a dyn Connector,
    batch: Batch,
    /// In one transaction of its own, a full batch is sent before the one ahead of it is
    /// read back, so that the server always has the next batch waiting while this side reads
    /// and splits the file on. A failure aborts the transaction, so the batch behind it does
    /// nothing (and the whole run is rolled back).
    in_flight: Option<InFlight>,
    shapes: Shapes,
    summary: Summary,
    warned_tx: bool,
}

impl<'a> Runner<'a> {
    async fn run_all(&mut self) -> Result<(), LoadError> {
        let first = self.first;
        // The connection `\c` moved to, if any.
        let mut other: Option<Connection> = None;
        loop {
            let item = match self.reader.next_item() {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    // What is batched ran before the problem in the file: send it first.
                    let client = other.as_ref().map_or(first, Connection::client);
                    self.flush(client).await?;
                    return Err(e.into());
                }
            };
            let client: &Client = other.as_ref().map_or(first, Connection::client);
            match item {
                Item::Sql(stmt) if crate::sql::is_copy_to_stdout(&stmt.sql) => {
                    self.flush(client).await?;
                    self.summary.rows += copy_out(client, &stmt).await?;
                    self.summary.statements += 1;
                }
                Item::Sql(stmt) => self.statement(client, stmt).await?,
                Item::Copy { stmt, data } => {
                    self.flush(client).await?;
                    self.summary.rows += self.copy(client, &stmt, data).await?;
                    self.summary.statements += 1;
                }
                Item::Echo(text) => {
                    self.flush(client).await?;
                    ui::status(&text);
                }
                Item::Skipped { loc, command, why } => {
                    ui::status(&format!("note: {loc}: skipped {command} ({why})"));
                    self.summary.skipped += 1;
                }
                Item::Connect { database, loc } => {
                    self.flush(client).await?;
                    // NOTE: psql closes the connection it leaves, which rolls back a transaction
                    // the file left open there (and frees its locks); the target's connection
                    // stays open for the load lock, so its transaction is rolled back instead.
                    // Without one, the server only warns (a notice nobody reads).
                    let _ = client.batch_execute("ROLLBACK").await;
                    let conn = self
                        .connector
                        .connect(&database)
                        .await
                        .map_err(|e| LoadError::at(&loc, format!("\\c {database}: {e:#}")))?;
                    ui::status(&format!("{loc}: now on database {database:?}"));
                    other = Some(conn);
                    self.summary.databases.push(database);
                }
            }
            self.bar.set_position(self.reader.consumed());
        }
        let client = other.as_ref().map_or(first, Connection::client);
        self.flush(client).await?;
        self.bar.set_position(self.reader.consumed());
        Ok(())
    }

    async fn statement(&mut self, client: &Client, stmt: Stmt) -> Result<(), LoadError> {
        if self.opts.batched() && is_folded(&stmt.sql) {
            if !self.warned_tx {
                ui::warn(&format!(
                    "{}: the file's own {} is folded into the one transaction the whole file runs in \
                     (use --no-transaction to run it as written)",
                    stmt.loc,
                    stmt.sql.trim_end_matches(';').trim()
                ));
                self.warned_tx = true;
            }
            self.summary.statements += 1;
            return Ok(());
        }
        let execute = self.by_shape(&stmt).await?;
        let offset = self.batch.text.len();
        self.batch
            .text
            .push_str(execute.as_ref().map_or(&stmt.sql, |ex| &ex.sql));
        if !self.opts.batched() {
            self.batch.parts.push(Part {
                offset,
                stmt,
                execute,
            });
            return self.flush(client).await;
        }
        if !self.batch.text.ends_with(';') {
            self.batch.text.push(';');
        }
        self.batch.text.push('\n');
        // The server reads a whole batch with the settings it had when the batch arrived.
        let ends_batch = crate::sql::changes_parsing(&stmt.sql);
        self.batch.parts.push(Part {
            offset,
            stmt,
            execute,
        });
        if ends_batch {
            return self.flush(client).await;
        }
        if self.batch.text.len() >= BATCH_BYTES {
            if self.opts.own() {
                self.send(client).await?;
            } else {
                self.flush(client).await?;
            }
        }
        Ok(())
    }

    /// The `EXECUTE` to send for `stmt` when it has a shape the server has prepared (`None`:
    /// it runs as written).
    async fn by_shape(&mut self, stmt: &Stmt) -> Result<Option<Box<Execute>>, LoadError> {
        if !self.shapes.on() {
            return Ok(None);
        }
        if (crate::sql::changes_parsing(&stmt.sql)
            || memchr::memmem::find(stmt.sql.as_bytes(), b"standard_conforming_strings").is_some())
            && !crate::sql::keeps_literal_reading(&stmt.sql)
        {
            self.shapes.stop();
            return Ok(None);
        }
        if !crate::sql::is_insert(&stmt.sql) {
            // DDL or a setting may change what a prepared shape's parameters mean.
            self.shapes.retire();
            return Ok(None);
        }
        let Some(shape) = shape::of(&stmt.sql) else {
            return Ok(None);
        };
        let n = match self.shapes.plan(&shape) {
            Plan::Run(n) => n,
            Plan::AsWritten => return Ok(None),
            Plan::Prepare => {
                // Everything before it must have run (a failure there is the one to report).
                self.flush(self.first).await?;
                match self.shapes.prepare(self.first, &shape).await {
                    Ok(Some(n)) => n,
                    Ok(None) => return Ok(None),
                    Err(e) => return Err(LoadError::db(&stmt.loc, stmt.written(), &e)),
                }
            }
        };
        Ok(Some(Box::new(Execute::new(n, &shape, stmt))))
    }

    /// Sends the batch and reads back every result, of the batch in flight too.
    async fn flush(&mut self, client: &Client) -> Result<(), LoadError> {
        self.send(client).await?;
        match self.in_flight.take() {
            Some(sent) => self.settle(sent).await,
            None => Ok(()),
        }
    }

    /// Sends the batch as one simple query, then reads back the results of the batch sent
    /// before it (if any); the new batch stays in flight.
    async fn send(&mut self, client: &Client) -> Result<(), LoadError> {
        if self.batch.parts.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let sent = match client.simple_query_raw(&batch.text).await {
            Ok(results) => InFlight {
                batch,
                results: Box::pin(results),
            },
            Err(e) => {
                // The batch ahead ran first: its failure, if any, is the one to report.
                if let Some(ahead) = self.in_flight.take() {
                    self.settle(ahead).await?;
                }
                return Err(locate(&batch, 0, &e));
            }
        };
        if let Some(ahead) = self.in_flight.replace(sent) {
            self.settle(ahead).await?;
        }
        Ok(())
    }

    /// Reads a sent batch's results and counts completions, so that a failure can be pinned
    /// to its statement (and, with the server's position, to its column).
    async fn settle(&mut self, mut sent: InFlight) -> Result<(), LoadError> {
        let mut done = 0usize;
        let mut rows = 0u64;
        let outcome: Result<(), tokio_postgres::Error> = async {
            while let Some(msg) = sent.results.next().await {
                if let SimpleQueryMessage::CommandComplete(n) = msg? {
                    done += 1;
                    rows += n;
                }
            }
            Ok(())
        }
        .await;
        self.summary.statements += done.min(sent.batch.parts.len());
        self.summary.rows += rows;
        match outcome {
            Ok(()) => {
                // Keep the allocation for the next batch (still empty here: it was just sent).
                if self.batch.text.is_empty() {
                    self.batch.text = sent.batch.text;
                    self.batch.text.clear();
                }
                Ok(())
            }
            Err(e) => Err(locate(&sent.batch, done, &e)),
        }
    }

    async fn copy(&mut self, client: &Client, stmt: &Stmt, data: Data) -> Result<u64, LoadError> {
        let mut source_err: Option<LoadError> = None;
        let (data_line, data_name) = match &data {
            Data::Inline { line } => (Some(*line), None),
            Data::File { name, .. } => (None, Some(name.clone())),
        };
        let result: Result<u64, tokio_postgres::Error> = async {
            let sink = client.copy_in(stmt.sql.as_str()).await?;
            pin_mut!(sink);
            match data {
                Data::Inline { .. } => loop {
                    match self.reader.copy_chunk() {
                        Ok(Some(chunk)) => {
                            sink.feed(chunk).await?;
                            self.bar.set_position(self.reader.consumed());
                        }
                        Ok(None) => break,
                        Err(e) => {
                            // Dropping the sink unfinished aborts the COPY.
                            source_err = Some(e.into());
                            return Ok(0);
                        }
                    }
                },
                Data::File { name, mut file } => loop {
                    let mut chunk = vec![0; COPY_CHUNK];
                    match file.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            chunk.truncate(n);
                            sink.feed(Bytes::from(chunk)).await?;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            source_err = Some(LoadError::at(
                                &stmt.loc,
                                format!("failed to read {name}: {e}"),
                            ));
                            return Ok(0);
                        }
                    }
                },
            }
            sink.as_mut().finish().await
        }
        .await;
        if let Some(e) = source_err {
            return Err(e);
        }
        result.map_err(|e| {
            // The server says which data line failed ("COPY activities, line 3"): point there.
            let n = e
                .as_db_error()
                .and_then(|d| d.where_())
                .and_then(|w| w.split("line ").nth(1))
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse::<usize>().ok());
            let mut err = LoadError::db(&stmt.loc, stmt.written(), &e);
            match (n, data_line, data_name) {
                (Some(n), Some(first), _) => {
                    err.line = first + n - 1;
                    err.column = 1;
                }
                (Some(n), None, Some(name)) => {
                    // The data file's line; the \copy's place joins the chain.
                    err.chain
                        .insert(0, format!("{}:{} (\\copy)", err.file, err.line));
                    err.file = name;
                    err.line = n;
                    err.column = 1;
                }
                _ => {}
            }
            err
        })
    }
}

/// Runs `COPY ... TO STDOUT`, reading the rows through. NOTE: cruddur-db prints no query
/// results (psql would print these rows), so they are dropped; the server's work is the same.
async fn copy_out(client: &Client, stmt: &Stmt) -> Result<u64, LoadError> {
    let run = async {
        let stream = client.copy_out(stmt.sql.as_str()).await?;
        pin_mut!(stream);
        let mut rows = 0u64;
        while let Some(chunk) = stream.next().await {
            rows += memchr::memchr_iter(b'\n', &chunk?).count() as u64;
        }
        Ok::<u64, tokio_postgres::Error>(rows)
    };
    run.await
        .map_err(|e| LoadError::db(&stmt.loc, stmt.written(), &e))
}

/// The statement a failure of the batch belongs to, and its place in the file as written.
fn locate(batch: &Batch, done: usize, e: &tokio_postgres::Error) -> LoadError {
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
                .partition_point(|p| p.offset <= byte)
                .checked_sub(1)?;
            let part = &batch.parts[idx];
            Some((part, part.loc_of(byte - part.offset)))
        }
        _ => None,
    });
    let (part, loc) = at_position.unwrap_or_else(|| {
        let part = &batch.parts[done.min(batch.parts.len() - 1)];
        (part, part.stmt.loc.clone())
    });
    LoadError {
        by_shape: part.execute.is_some(),
        ..LoadError::db(&loc, part.stmt.written(), e)
    }
}
