//! Runs a prepared SQL input as it streams: batches of statements per round trip, COPY data
//! straight through, one transaction (or none, or the caller's), `\c` to other databases of
//! the same server, an advisory lock against concurrent loads, and errors that point at
//! `file:line:column` of the file as written, through includes and variables.

mod connect;
mod shaped;

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{pin_mut, SinkExt, StreamExt};
use indicatif::ProgressBar;
use tokio_postgres::{Client, SimpleQueryMessage, SimpleQueryStream, Statement};

pub use connect::{Connection, Connector, DbConnector, NoConnect};
pub use shaped::ENV as PREPARE_ENV;
use shaped::{Plan, Shapes};

use crate::sql::input::{first_line, Data, Problem};
use crate::sql::prepared::Prepared;
use crate::sql::shape::{self, Shape};
use crate::sql::{is_transaction_control, Input, Item, Loc, ReadError, Reader, Stmt, Vars};
use crate::ui;

/// Statements are sent together until a batch holds this many bytes. NOTE: small batches
/// measured faster than large ones (the server parses a whole batch before it runs any of it),
/// and with one batch always waiting behind the running one, round trips cost nothing.
const BATCH_BYTES: usize = 16 * 1024;
/// Statements run by shape (and batches) sent ahead of the one being read back.
const WINDOW: usize = 1024;
/// A client-side `\copy` file is read in chunks of this size.
const COPY_CHUNK: usize = 256 * 1024;
/// The advisory lock key that serialises schema and seed runs on one database.
pub const LOCK_KEY: i64 = 0x0063_7275_6464_7572; // "cruddur"

/// Who owns the transaction a file runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transaction {
    /// The runner: BEGIN before the first statement, COMMIT after the last (the default).
    #[default]
    Own,
    /// None: each statement commits on its own (`--no-transaction`); `\c` may run.
    None,
    /// The caller has begun one and commits or rolls it back (migrations).
    Caller,
}

/// How to run a file.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    pub transaction: Transaction,
}

impl LoadOptions {
    /// One transaction (`true`) or none (`false`, `--no-transaction`).
    pub fn one_transaction(yes: bool) -> LoadOptions {
        LoadOptions {
            transaction: if yes {
                Transaction::Own
            } else {
                Transaction::None
            },
        }
    }

    /// Whether `\c` may run: only when no transaction spans the file.
    pub fn allows_connect(self) -> bool {
        self.transaction == Transaction::None
    }

    fn batched(self) -> bool {
        self.transaction != Transaction::None
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub statements: usize,
    pub rows: u64,
    pub skipped: usize,
    /// Statements run by a prepared shape, and the shapes prepared.
    pub by_shape: usize,
    pub shapes: usize,
    /// The databases `\c` moved to, in order.
    pub databases: Vec<String>,
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
        if self.by_shape > 0 {
            write!(
                f,
                " ({} run by {} prepared shape{})",
                self.by_shape,
                self.shapes,
                if self.shapes == 1 { "" } else { "s" }
            )?;
        }
        if self.skipped > 0 {
            write!(f, " ({} psql meta-commands skipped)", self.skipped)?;
        }
        if !self.databases.is_empty() {
            write!(f, "; then on database(s) {}", self.databases.join(", "))?;
        }
        Ok(())
    }
}

/// A statement of the file failed, or the file could not be read on.
#[derive(Debug)]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// The include chain, innermost first (`file:line` of each `\i`).
    pub chain: Vec<String>,
    pub statement: String,
    pub message: String,
    pub code: Option<String>,
    /// What happened to the work before the failure.
    pub outcome: String,
    /// The exit code: 2 for a refusal (a meta-command, an unset variable), else 1.
    pub exit: i32,
    /// The statement ran by its prepared shape (said in the message, with the way out).
    pub by_shape: bool,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        for at in &self.chain {
            write!(f, "\n  included from {at}")?;
        }
        if !self.statement.is_empty() {
            write!(f, "\n  statement: {}", self.statement)?;
        }
        if self.by_shape {
            write!(
                f,
                "\n  note: it ran as a prepared statement with its literals as parameters \
                 ({}=off runs every statement as written)",
                shaped::ENV
            )?;
        }
        write!(f, "\n  {}", self.outcome)
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    fn at(loc: &Loc, message: String) -> LoadError {
        LoadError {
            file: loc.file.to_string(),
            line: loc.line,
            column: loc.column,
            chain: loc.chain.to_vec(),
            statement: String::new(),
            message,
            code: None,
            outcome: String::new(),
            exit: crate::error::exit::FAILED,
            by_shape: false,
        }
    }

    fn db(loc: &Loc, statement: &str, e: &tokio_postgres::Error) -> LoadError {
        LoadError {
            statement: first_line(statement),
            code: e.as_db_error().map(|d| d.code().code().to_string()),
            ..LoadError::at(loc, message_with_hint(e))
        }
    }
}

impl From<ReadError> for LoadError {
    fn from(e: ReadError) -> LoadError {
        LoadError {
            exit: match e.problem {
                Problem::Refused => crate::error::exit::USAGE,
                Problem::Lex | Problem::Io => crate::error::exit::FAILED,
            },
            ..LoadError::at(&e.loc, e.message)
        }
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
/// `connector` opens the databases `\c` names.
pub async fn run(
    client: &Client,
    input: Prepared,
    opts: LoadOptions,
    bar: &ProgressBar,
    connector: &dyn Connector,
) -> Result<Summary, LoadError> {
    let started = Instant::now();
    let name = input.name.clone();
    let start_loc = Loc {
        file: name.clone().into(),
        line: 1,
        column: 1,
        chain: std::sync::Arc::from([]),
    };
    let kept = "the transaction was rolled back; nothing from this file was kept";
    let mut shapes = Shapes::default();
    if opts.transaction == Transaction::Own {
        let nothing = |e| LoadError {
            outcome: "nothing was run".into(),
            ..LoadError::db(&start_loc, "", &e)
        };
        client.batch_execute("BEGIN").await.map_err(nothing)?;
        shapes = match Shapes::for_run(client).await {
            Ok(shapes) => shapes,
            Err(e) => {
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
        connector,
        batch: Batch::default(),
        queue: VecDeque::new(),
        queued_batches: 0,
        shapes,
        summary: Summary::default(),
        warned_tx: false,
    };
    match runner.run_all().await {
        Ok(()) => {
            if opts.transaction == Transaction::Own {
                client
                    .batch_execute("COMMIT")
                    .await
                    .map_err(|e| LoadError {
                        outcome: kept.into(),
                        ..LoadError::db(&start_loc, "", &e)
                    })?;
            }
            let mut summary = std::mem::take(&mut runner.summary);
            summary.by_shape = runner.shapes.used;
            summary.shapes = runner.shapes.made;
            summary.elapsed = started.elapsed();
            Ok(summary)
        }
        Err(mut err) => {
            err.outcome = match opts.transaction {
                Transaction::Own => {
                    // The connection may be gone; the server rolls back then anyway.
                    let _ = client.batch_execute("ROLLBACK").await;
                    kept.into()
                }
                Transaction::Caller => {
                    "the caller's transaction is aborted; nothing from this file is kept".into()
                }
                Transaction::None => format!(
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
    let input = Prepared::new(&Input::section(name, text, line), vars, false)?;
    run(
        client,
        input,
        LoadOptions {
            transaction: Transaction::Caller,
        },
        &ProgressBar::hidden(),
        &NoConnect,
    )
    .await
}

/// A batch being built: the SQL text and, for each statement in it, where it starts.
#[derive(Default)]
struct Batch {
    text: String,
    parts: Vec<(usize, Stmt)>,
}

/// A batch sent whose results are not read yet.
struct InFlight {
    batch: Batch,
    results: Pin<Box<SimpleQueryStream>>,
}

/// A statement sent by its shape whose result is not read yet.
struct ByShape<'a> {
    stmt: Stmt,
    /// Where each parameter's literal starts in the statement.
    at: Vec<usize>,
    result: Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + 'a>>,
}

/// Something sent whose results are not read yet.
enum Unit<'a> {
    Batch(InFlight),
    Shape(Box<ByShape<'a>>),
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
    /// and splits the file on; statements run by shape are sent ahead the same way, up to
    /// [`WINDOW`]. A failure aborts the transaction, so what was sent behind it does nothing
    /// (and the whole run is rolled back); results are read back in order, so the first
    /// failure is the one reported.
    queue: VecDeque<Unit<'a>>,
    queued_batches: usize,
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
        if self.opts.batched() && is_transaction_control(&stmt.sql) {
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
        let stmt = match self.by_shape(stmt).await? {
            Some(stmt) => stmt,
            None => return Ok(()),
        };
        let offset = self.batch.text.len();
        self.batch.text.push_str(&stmt.sql);
        if !self.opts.batched() {
            self.batch.parts.push((offset, stmt));
            return self.flush(client).await;
        }
        if !stmt.sql.ends_with(';') {
            self.batch.text.push(';');
        }
        self.batch.text.push('\n');
        // The server reads a whole batch with the settings it had when the batch arrived.
        let ends_batch = crate::sql::changes_parsing(&stmt.sql);
        self.batch.parts.push((offset, stmt));
        if ends_batch {
            return self.flush(client).await;
        }
        if self.batch.text.len() >= BATCH_BYTES {
            if self.opts.transaction == Transaction::Own {
                self.send(client).await?;
            } else {
                self.flush(client).await?;
            }
        }
        Ok(())
    }

    /// Runs `stmt` by its shape when it has one the server has prepared (`None`), or hands
    /// it back to run as written.
    async fn by_shape(&mut self, stmt: Stmt) -> Result<Option<Stmt>, LoadError> {
        if !self.shapes.on() {
            return Ok(Some(stmt));
        }
        if crate::sql::changes_parsing(&stmt.sql)
            || memchr::memmem::find(stmt.sql.as_bytes(), b"standard_conforming_strings").is_some()
        {
            self.shapes.stop();
            return Ok(Some(stmt));
        }
        let Some(shape) = shape::of(&stmt.sql) else {
            if !crate::sql::is_insert(&stmt.sql) {
                // DDL or a setting may change what a prepared shape's parameters mean.
                self.shapes.forget();
            }
            return Ok(Some(stmt));
        };
        let prepared = match self.shapes.plan(&shape) {
            Plan::Run(st) => st,
            Plan::AsWritten => return Ok(Some(stmt)),
            Plan::Prepare => {
                // Everything before it must have run (a failure there is the one to report).
                self.flush(self.first).await?;
                match self.shapes.prepare(self.first, &shape).await {
                    Ok(Some(st)) => st,
                    Ok(None) => return Ok(Some(stmt)),
                    Err(e) => return Err(LoadError::db(&stmt.loc, stmt.written(), &e)),
                }
            }
        };
        self.send_batch(self.first).await?;
        self.send_by_shape(prepared, shape, stmt).await?;
        Ok(None)
    }

    /// Sends one statement by its prepared shape, with its literals as parameters.
    async fn send_by_shape(
        &mut self,
        prepared: Statement,
        shape: Shape,
        stmt: Stmt,
    ) -> Result<(), LoadError> {
        let client = self.first;
        let params: Vec<shaped::Text> = shape.values.into_iter().map(shaped::Text).collect();
        let mut result: Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + 'a>> =
            Box::pin(async move { client.execute_raw(&prepared, params).await });
        // One poll sends it; its result is read back in turn.
        if let Poll::Ready(done) = result
            .as_mut()
            .poll(&mut Context::from_waker(std::task::Waker::noop()))
        {
            result = Box::pin(std::future::ready(done));
        }
        self.queue.push_back(Unit::Shape(Box::new(ByShape {
            stmt,
            at: shape.at,
            result,
        })));
        while self.queue.len() > WINDOW {
            self.settle_next().await?;
        }
        Ok(())
    }

    /// Sends the batch and reads back every result, of everything in flight too.
    async fn flush(&mut self, client: &Client) -> Result<(), LoadError> {
        self.send_batch(client).await?;
        while !self.queue.is_empty() {
            self.settle_next().await?;
        }
        Ok(())
    }

    /// Sends the batch as one simple query, then reads back what was sent before it, up to
    /// the batch ahead of it; the new batch stays in flight.
    async fn send(&mut self, client: &Client) -> Result<(), LoadError> {
        self.send_batch(client).await?;
        while self.queued_batches > 1 || self.queue.len() > WINDOW {
            self.settle_next().await?;
        }
        Ok(())
    }

    /// Sends the batch as one simple query; its results are read back in turn.
    async fn send_batch(&mut self, client: &Client) -> Result<(), LoadError> {
        if self.batch.parts.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        match client.simple_query_raw(&batch.text).await {
            Ok(results) => {
                self.queue.push_back(Unit::Batch(InFlight {
                    batch,
                    results: Box::pin(results),
                }));
                self.queued_batches += 1;
                Ok(())
            }
            Err(e) => {
                // What was sent ahead ran first: its failure, if any, is the one to report.
                while !self.queue.is_empty() {
                    self.settle_next().await?;
                }
                Err(locate(&batch, 0, &e))
            }
        }
    }

    /// Reads back the results of the oldest thing sent.
    async fn settle_next(&mut self) -> Result<(), LoadError> {
        match self.queue.pop_front() {
            Some(Unit::Batch(sent)) => {
                self.queued_batches -= 1;
                self.settle(sent).await
            }
            Some(Unit::Shape(sent)) => {
                let ByShape { stmt, at, result } = *sent;
                match result.await {
                    Ok(rows) => {
                        self.summary.statements += 1;
                        self.summary.rows += rows;
                        Ok(())
                    }
                    Err(e) => {
                        // A value the server could not read: point at its literal.
                        let loc = shaped::parameter_named(&e)
                            .and_then(|n| at.get(n.checked_sub(1)?))
                            .map_or_else(|| stmt.loc.clone(), |&offset| stmt.loc_of(offset));
                        Err(LoadError {
                            by_shape: true,
                            ..LoadError::db(&loc, stmt.written(), &e)
                        })
                    }
                }
            }
            None => Ok(()),
        }
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
                .partition_point(|(off, _)| *off <= byte)
                .checked_sub(1)?;
            let (off, stmt) = &batch.parts[idx];
            Some((stmt, stmt.loc_of(byte - off)))
        }
        _ => None,
    });
    let (stmt, loc) = at_position.unwrap_or_else(|| {
        let stmt = &batch.parts[done.min(batch.parts.len() - 1)].1;
        (stmt, stmt.loc.clone())
    });
    LoadError::db(&loc, stmt.written(), e)
}

fn message_with_hint(e: &tokio_postgres::Error) -> String {
    let mut msg = crate::pg::describe(e);
    if let Some(db) = e.as_db_error() {
        let extra = match db.code().code() {
            "25001" => Some(
                "this statement cannot run in a transaction: run the file with --no-transaction",
            ),
            // NOTE: not "run `cruddur-db schema` first": the file may be the schema itself.
            "42P01" => Some(
                "the table does not exist yet: create it earlier in this file, or, for data, \
                 load the schema before it (`cruddur-db schema`)",
            ),
            _ => None,
        };
        if let Some(extra) = extra {
            msg.push_str("\n  note: ");
            msg.push_str(extra);
        }
    }
    msg
}
