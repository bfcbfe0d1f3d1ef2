//! The data path: source sessions sharing one snapshot, and each table streamed from the
//! source's `COPY ... TO STDOUT` into the target's `COPY ... FROM STDIN`, block by block, so
//! memory stays bounded whatever the size. A large table is read in ctid ranges, one per
//! source session, and the ranges are merged into the target's one `COPY` (the target has one
//! session: the whole load is one transaction).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use deadpool_postgres::Object;
use futures_util::{pin_mut, SinkExt, StreamExt};
use indicatif::ProgressBar;
use tokio_postgres::Client;

use crate::pg::Db;
use crate::sql::quote;
use crate::ui;

/// Rows are sent to the target in blocks of about this size.
/// NOTE: the source sends one message per row; sending each on (a `send` is a write and a
/// flush) cost one system call per row.
const BLOCK: usize = 256 * 1024;

/// The signature that starts a binary COPY stream; then 4 bytes of flags and 4 of the header
/// extension's length.
const BINARY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// The 2 bytes that end a binary COPY stream (a field count of -1).
const BINARY_TRAILER: [u8; 2] = [0xff, 0xff];

/// Source sessions in one `REPEATABLE READ, READ ONLY` snapshot.
pub struct Snapshot {
    pub clients: Vec<Object>,
    /// The exported snapshot's id (with more than one session).
    pub id: Option<String>,
}

impl Snapshot {
    /// Opens `jobs` sessions on the source: the first exports its snapshot
    /// (`pg_export_snapshot()`), the others import it (`SET TRANSACTION SNAPSHOT`), so that
    /// every one of them sees the same committed data.
    pub async fn open(db: &Db, jobs: usize) -> anyhow::Result<Snapshot> {
        let begin = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";
        let first = db.get().await?;
        first
            .batch_execute(begin)
            .await
            .context("failed to start the read-only snapshot on the source")?;
        let mut snapshot = Snapshot {
            clients: vec![first],
            id: None,
        };
        if jobs > 1 {
            let id: String = snapshot.clients[0]
                .query_one("SELECT pg_catalog.pg_export_snapshot()", &[])
                .await
                .context("failed to export the source's snapshot (pg_export_snapshot)")?
                .get(0);
            for _ in 1..jobs {
                let c = db.get().await?;
                c.batch_execute(&format!(
                    "{begin}; SET TRANSACTION SNAPSHOT {}",
                    quote::literal(&id)
                ))
                .await
                .context("failed to share the source's snapshot with another connection")?;
                snapshot.clients.push(c);
            }
            snapshot.id = Some(id);
        }
        Ok(snapshot)
    }

    /// Ends the read-only transactions (nothing to keep: they only read).
    pub async fn close(self) {
        for c in &self.clients {
            let _ = c.batch_execute("ROLLBACK").await;
        }
    }
}

/// One table's copy: its queries on both sides, and what to show.
pub struct Job {
    pub label: String,
    /// `COPY (SELECT ...) TO STDOUT` on the source: one, or one per ctid range of a table
    /// read by several sessions (each on its own session, merged into the one `copy_in`).
    pub copy_out: Vec<String>,
    /// `COPY t (cols) FROM STDIN` on the target.
    pub copy_in: String,
    /// Both sides speak COPY's binary format (see `copy::target`).
    pub binary: bool,
    pub row_estimate: i64,
}

/// What a table's copy moved.
#[derive(Debug, Clone, Copy, Default)]
pub struct Moved {
    pub rows: u64,
    pub bytes: u64,
}

/// Where the time went, for `-v`.
#[derive(Debug, Default)]
pub struct Phases(Mutex<Times>);

#[derive(Debug, Default, Clone, Copy)]
pub struct Times {
    /// Waiting for the source's rows (masking runs in the source's query, so it is in here).
    pub read: Duration,
    /// Sending rows to the target (its COPY parses and stores them meanwhile).
    pub send: Duration,
    pub truncate: Duration,
    pub set_aside: Duration,
    pub index_build: Duration,
    pub validation: Duration,
    pub sequences: Duration,
    pub commit: Duration,
}

impl Phases {
    fn with(&self, f: impl FnOnce(&mut Times)) {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
    }
    pub fn add_read(&self, d: Duration) {
        self.with(|t| t.read += d);
    }
    pub fn add_send(&self, d: Duration) {
        self.with(|t| t.send += d);
    }
    pub fn add_index_build(&self, d: Duration) {
        self.with(|t| t.index_build += d);
    }
    pub fn add_validation(&self, d: Duration) {
        self.with(|t| t.validation += d);
    }
    /// Times `f` into the field `pick` chooses.
    pub async fn time<T>(
        &self,
        pick: fn(&mut Times) -> &mut Duration,
        f: impl std::future::Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        let out = f.await;
        self.with(|t| *pick(t) += started.elapsed());
        out
    }
    pub fn times(&self) -> Times {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A bar over the rows expected, with bytes, rate and ETA, on a terminal; hidden otherwise.
fn row_bar(job: &Job) -> ProgressBar {
    ui::row_bar(u64::try_from(job.row_estimate).unwrap_or(0), &job.label)
}

/// A failure reading `job`'s table on the source, named.
fn on_source(job: &Job) -> impl Fn(tokio_postgres::Error) -> anyhow::Error + '_ {
    move |e| {
        anyhow::Error::new(crate::pg::Described(e))
            .context(format!("failed to read {} on the source", job.label))
    }
}

/// A failure loading `job`'s table into the target, named.
fn on_target(job: &Job) -> impl Fn(tokio_postgres::Error) -> anyhow::Error + '_ {
    move |e| {
        anyhow::Error::new(crate::pg::Described(e))
            .context(format!("failed to load {} into the target", job.label))
    }
}

/// One source stream's bytes on their way into the merged COPY: in binary, each part's own
/// header and trailer are cut, and the merged stream gets one of each.
#[derive(Debug, Default)]
struct Part {
    /// Bytes read of the part's header so far (binary), until the header is whole.
    header: Vec<u8>,
    header_done: bool,
    /// The part's last message, held back: in binary its last 2 bytes are the trailer.
    held: Option<Bytes>,
}

impl Part {
    /// The bytes of `msg` that belong to rows (binary header cut off).
    fn rows_of(&mut self, msg: Bytes) -> anyhow::Result<Bytes> {
        if self.header_done {
            return Ok(msg);
        }
        let need = |h: &[u8]| {
            if h.len() < 19 {
                19
            } else {
                19 + u32::from_be_bytes([h[15], h[16], h[17], h[18]]) as usize
            }
        };
        let mut at = 0;
        while self.header.len() < need(&self.header) && at < msg.len() {
            self.header.push(msg[at]);
            at += 1;
        }
        if self.header.len() >= 11 && &self.header[..11] != BINARY_SIGNATURE {
            anyhow::bail!("the source sent a binary COPY stream without its signature");
        }
        if self.header.len() >= need(&self.header) {
            self.header_done = true;
        }
        Ok(msg.slice(at..))
    }
}

/// Streams one table from the source into the target: straight through with one source
/// query, merged message by message (one message is one row) with several.
pub async fn direct(
    srcs: &[&Client],
    dst: &Client,
    job: &Job,
    phases: &Phases,
) -> anyhow::Result<Moved> {
    let bar = row_bar(job);
    let mut streams = Vec::with_capacity(job.copy_out.len());
    for (i, (src, q)) in srcs.iter().zip(&job.copy_out).enumerate() {
        let s = src.copy_out(q.as_str()).await.map_err(on_source(job))?;
        // NOTE: each part ends with a marker, so the merge knows which part ended.
        streams.push(
            s.map(move |m| (i, Some(m)))
                .chain(futures_util::stream::once(async move { (i, None) }))
                .boxed(),
        );
    }
    let sink = dst
        .copy_in::<_, Bytes>(job.copy_in.as_str())
        .await
        .map_err(on_target(job))?;
    pin_mut!(sink);
    let merging = streams.len() > 1;
    let mut parts: Vec<Part> = (0..streams.len()).map(|_| Part::default()).collect();
    let mut merged = futures_util::stream::select_all(streams);
    let mut moved = Moved::default();
    let mut block = BytesMut::with_capacity(BLOCK);
    if merging && job.binary {
        block.extend_from_slice(BINARY_SIGNATURE);
        block.extend_from_slice(&[0; 8]);
    }
    let (mut read, mut send) = (Duration::ZERO, Duration::ZERO);
    let mut since_tick = 0u64;
    loop {
        let waited = Instant::now();
        let Some((i, msg)) = merged.next().await else {
            break;
        };
        read += waited.elapsed();
        let rows = match msg {
            Some(m) => m.map_err(on_source(job))?,
            None => {
                // A part ended: in binary, its held message ends with its trailer.
                if merging && job.binary {
                    let last = parts[i].held.take().unwrap_or_default();
                    if !last.ends_with(&BINARY_TRAILER) {
                        anyhow::bail!(
                            "a binary COPY stream of {} ended without its trailer",
                            job.label
                        );
                    }
                    block.extend_from_slice(&last[..last.len() - 2]);
                }
                continue;
            }
        };
        moved.bytes += rows.len() as u64;
        since_tick += 1;
        if merging && job.binary {
            let rows = parts[i].rows_of(rows)?;
            if let Some(prev) = parts[i].held.replace(rows) {
                block.extend_from_slice(&prev);
            }
        } else {
            block.extend_from_slice(&rows);
        }
        if block.len() >= BLOCK {
            bar.inc(since_tick);
            bar.set_message(indicatif::HumanBytes(moved.bytes).to_string());
            since_tick = 0;
            let started = Instant::now();
            sink.send(block.split().freeze())
                .await
                .map_err(on_target(job))?;
            send += started.elapsed();
        }
    }
    if merging && job.binary {
        block.extend_from_slice(&BINARY_TRAILER);
    }
    let started = Instant::now();
    if !block.is_empty() {
        sink.send(block.freeze()).await.map_err(on_target(job))?;
    }
    moved.rows = sink.as_mut().finish().await.map_err(on_target(job))?;
    send += started.elapsed();
    phases.add_read(read);
    phases.add_send(send);
    bar.finish_and_clear();
    Ok(moved)
}
