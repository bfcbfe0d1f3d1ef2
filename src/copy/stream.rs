//! The data path: source sessions sharing one snapshot, and each table streamed from the
//! source's `COPY ... TO STDOUT` into the target's `COPY ... FROM STDIN`, chunk by chunk, so
//! memory stays bounded whatever the size.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use deadpool_postgres::Object;
use futures_util::{pin_mut, SinkExt, StreamExt};
use indicatif::ProgressBar;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio_postgres::Client;

use crate::pg::{describe, Db};
use crate::sql::quote;
use crate::ui;

/// A spooled table is read back in chunks of this size, and written in blocks of it.
/// NOTE: the source's COPY yields one message per row; writing each to the file would be one
/// blocking write per row (18 s of system time for 1,000,000 rows), so rows are gathered into
/// blocks first.
const CHUNK: usize = 1024 * 1024;

/// Rows streamed straight through are sent to the target in blocks of about this size.
const BLOCK: usize = 256 * 1024;

/// Tables the planner estimates at more rows than this are never read ahead into a file:
/// they stream straight from the source into the target, reading and loading side by side,
/// as with one job. Reading a large table ahead would only make the load wait for the whole
/// of it to be on disk first.
pub const READ_AHEAD_MAX_ROWS: i64 = 100_000;

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
    /// `COPY (SELECT ...) TO STDOUT` on the source.
    pub copy_out: String,
    /// `COPY t (cols) FROM STDIN` on the target.
    pub copy_in: String,
    pub row_estimate: i64,
}

/// What a table's copy moved.
#[derive(Debug, Clone, Copy, Default)]
pub struct Moved {
    pub rows: u64,
    pub bytes: u64,
}

/// A bar over the rows expected on a terminal (a spinner when the estimate is 0); hidden
/// otherwise.
fn row_bar(job: &Job) -> ProgressBar {
    let bar = if job.row_estimate > 0 {
        ui::bar(u64::try_from(job.row_estimate).unwrap_or(0), "rows")
    } else {
        ui::spinner(&job.label)
    };
    bar.set_message(job.label.clone());
    bar
}

fn newlines(chunk: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', chunk).count() as u64
}

/// Streams one table straight from the source into the target.
pub async fn direct(src: &Client, dst: &Client, job: &Job) -> anyhow::Result<Moved> {
    let bar = row_bar(job);
    let stream = src
        .copy_out(job.copy_out.as_str())
        .await
        .map_err(on_source(job))?;
    let sink = dst
        .copy_in::<_, Bytes>(job.copy_in.as_str())
        .await
        .map_err(on_target(job))?;
    pin_mut!(stream, sink);
    let mut moved = Moved::default();
    // NOTE: the source sends one message per row; sending each on (a `send` is a write and a
    // flush) cost one system call per row. Rows are gathered into blocks first, as the
    // target reads them the same either way.
    let mut block = BytesMut::with_capacity(BLOCK);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(on_source(job))?;
        moved.bytes += chunk.len() as u64;
        bar.inc(newlines(&chunk));
        block.extend_from_slice(&chunk);
        if block.len() >= BLOCK {
            sink.send(block.split().freeze())
                .await
                .map_err(on_target(job))?;
        }
    }
    if !block.is_empty() {
        sink.send(block.freeze()).await.map_err(on_target(job))?;
    }
    moved.rows = sink.as_mut().finish().await.map_err(on_target(job))?;
    bar.finish_and_clear();
    Ok(moved)
}

/// A table read from the source into an anonymous temporary file (deleted when closed).
struct Spooled {
    file: tokio::fs::File,
    bytes: u64,
}

/// Reads one table of the source into a temporary file.
async fn spool(src: &Client, job: &Job) -> anyhow::Result<Spooled> {
    let file = tempfile::tempfile().context("failed to create a temporary file for the copy")?;
    let mut file = tokio::fs::File::from_std(file);
    let stream = src
        .copy_out(job.copy_out.as_str())
        .await
        .map_err(on_source(job))?;
    pin_mut!(stream);
    let mut bytes = 0u64;
    let mut block: Vec<u8> = Vec::with_capacity(CHUNK);
    let write_err = "failed to write the temporary file of the copy";
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(on_source(job))?;
        bytes += chunk.len() as u64;
        block.extend_from_slice(&chunk);
        if block.len() >= CHUNK {
            file.write_all(&block).await.context(write_err)?;
            block.clear();
        }
    }
    file.write_all(&block).await.context(write_err)?;
    file.flush().await?;
    file.rewind().await?;
    Ok(Spooled { file, bytes })
}

/// A failure reading `job`'s table on the source, named.
fn on_source(job: &Job) -> impl Fn(tokio_postgres::Error) -> anyhow::Error + '_ {
    move |e| {
        anyhow::anyhow!(
            "failed to read {} on the source: {}",
            job.label,
            describe(&e)
        )
    }
}

/// A failure loading `job`'s table into the target, named.
fn on_target(job: &Job) -> impl Fn(tokio_postgres::Error) -> anyhow::Error + '_ {
    move |e| {
        anyhow::anyhow!(
            "failed to load {} into the target: {}",
            job.label,
            describe(&e)
        )
    }
}

/// Loads a spooled table into the target.
async fn unspool(dst: &Client, job: &Job, mut spooled: Spooled) -> anyhow::Result<Moved> {
    let bar = ui::byte_bar(spooled.bytes);
    bar.set_message(job.label.clone());
    let sink = dst
        .copy_in::<_, Bytes>(job.copy_in.as_str())
        .await
        .map_err(on_target(job))?;
    pin_mut!(sink);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = spooled
            .file
            .read(&mut buf)
            .await
            .context("failed to read the temporary file of the copy")?;
        if n == 0 {
            break;
        }
        bar.inc(n as u64);
        sink.send(Bytes::copy_from_slice(&buf[..n]))
            .await
            .map_err(on_target(job))?;
    }
    let rows = sink.as_mut().finish().await.map_err(on_target(job))?;
    bar.finish_and_clear();
    Ok(Moved {
        rows,
        bytes: spooled.bytes,
    })
}

type Spooling = Mutex<Vec<Option<tokio::sync::oneshot::Sender<anyhow::Result<Spooled>>>>>;

/// Whether a table is read ahead into a file (small), or streamed (large).
fn read_ahead(job: &Job) -> bool {
    job.row_estimate <= READ_AHEAD_MAX_ROWS
}

/// One source session's share of the reading: the next small table no one reads yet, once
/// fewer than `ahead`'s permits are read and not loaded, until none is left or the load
/// stopped (`ahead` closed). `ahead_jobs` are the indexes of the tables read ahead.
async fn spool_ahead(
    src: &Client,
    jobs: &[Job],
    ahead_jobs: &[usize],
    next: &AtomicUsize,
    ahead: &Semaphore,
    senders: &Spooling,
) {
    loop {
        // NOTE: the permit is taken before the table is claimed, so the tables read ahead are
        // always the next ones to load: the loader never waits for a table no one may read.
        match ahead.acquire().await {
            Ok(permit) => permit.forget(),
            Err(_) => break,
        }
        let Some(&i) = ahead_jobs.get(next.fetch_add(1, Ordering::SeqCst)) else {
            break;
        };
        let result = spool(src, &jobs[i]).await;
        let tx = senders.lock().unwrap_or_else(|e| e.into_inner())[i].take();
        if let Some(tx) = tx {
            let _ = tx.send(result);
        }
    }
}

/// Copies every job, in order, into `dst` (one session, the caller's transaction).
///
/// With one source session each table streams straight through. With more, the first session
/// streams the large tables straight through (reading and loading side by side, so they go
/// as fast as with one job) while the others read the small tables ahead, side by side (each
/// into a temporary file, so memory stays bounded; at most one table per session is read and
/// not yet loaded, so the disk used is bounded too); the target loads every table one by one
/// in dependency order. NOTE: the target has one session on purpose: the whole load is one
/// transaction, so a failed copy leaves it as it was; the parallel part is the source side,
/// usually the remote and slow one.
pub async fn copy_all(srcs: &[Object], dst: &Client, jobs: &[Job]) -> anyhow::Result<Vec<Moved>> {
    if srcs.len() <= 1 {
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            out.push(direct(&srcs[0], dst, job).await?);
        }
        return Ok(out);
    }
    let next = AtomicUsize::new(0);
    let (streamer, readers) = srcs
        .split_first()
        .expect("BUG: at least one source session");
    let ahead = Semaphore::new(readers.len());
    let ahead_jobs: Vec<usize> = (0..jobs.len()).filter(|i| read_ahead(&jobs[*i])).collect();
    let mut senders = Vec::with_capacity(jobs.len());
    let mut receivers = Vec::with_capacity(jobs.len());
    for _ in jobs {
        let (tx, rx) = tokio::sync::oneshot::channel::<anyhow::Result<Spooled>>();
        senders.push(Some(tx));
        receivers.push(rx);
    }
    let senders = Mutex::new(senders);
    let workers = futures_util::future::join_all(
        readers
            .iter()
            .map(|src| spool_ahead(src, jobs, &ahead_jobs, &next, &ahead, &senders)),
    );
    let loader = async {
        let mut out = Vec::with_capacity(jobs.len());
        for (job, rx) in jobs.iter().zip(receivers) {
            let spooled = read_ahead(job);
            let result = if spooled {
                match rx.await {
                    Ok(Ok(spooled)) => unspool(dst, job, spooled).await,
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(anyhow::anyhow!("BUG: {} was never read", job.label)),
                }
            } else {
                direct(streamer, dst, job).await
            };
            match result {
                Ok(m) => {
                    out.push(m);
                    if spooled {
                        ahead.add_permits(1);
                    }
                }
                Err(e) => {
                    ahead.close();
                    return Err(e);
                }
            }
        }
        ahead.close();
        Ok(out)
    };
    let ((), result) = futures_util::future::join(
        async {
            workers.await;
        },
        loader,
    )
    .await;
    result
}
