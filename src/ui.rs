//! Messages on stderr, progress bars and prompts. Results go to stdout elsewhere.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Writes a result to stdout, at once (flushed). A write that fails is an error, never a
/// panic: a closed pipe (`| head -1`) is exit 141 without a message, any other failure
/// (a full disk, `> /dev/full`) is exit 1 with one line.
pub fn write_out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(crate::error::kinded(
            crate::error::ErrorKind::BrokenPipe,
            "stdout was closed before everything was written",
        )),
        Err(e) => Err(crate::error::kinded(
            crate::error::ErrorKind::Failed,
            format!("failed to write to stdout: {e}"),
        )),
    }
}

/// `print!` to stdout through [`write_out`]: evaluates to its `anyhow::Result<()>`.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::ui::write_out(&format!($($t)*))
    };
}

/// `println!` to stdout through [`write_out`]: evaluates to its `anyhow::Result<()>`.
macro_rules! outln {
    () => {
        $crate::ui::write_out("\n")
    };
    ($($t:tt)*) => {
        $crate::ui::write_out(&format!("{}\n", format_args!($($t)*)))
    };
}

pub(crate) use {out, outln};

/// Whether stderr is a terminal (bars, colour and prompts only then).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Whether colour is wanted at all (`NO_COLOR` unset or empty); see [`set_colour`].
static COLOUR: AtomicBool = AtomicBool::new(true);

/// Sets, once per run from the command layer, whether colour is wanted (`NO_COLOR`).
pub fn set_colour(wanted: bool) {
    COLOUR.store(wanted, Ordering::Relaxed);
}

fn colour() -> bool {
    COLOUR.load(Ordering::Relaxed) && stderr_is_terminal()
}

fn label(name: &str, ansi: &str) -> String {
    if colour() {
        format!("\x1b[{ansi}m{name}\x1b[0m")
    } else {
        name.to_string()
    }
}

/// `error: ...` on stderr.
/// NOTE: the text is masked once more here, whatever produced it: a `user:secret@` that
/// slipped through a message never reaches the terminal.
pub fn error(msg: &str) {
    let msg = crate::mask::mask_secrets(msg);
    eprintln!("{}: {msg}", label("error", "1;31"));
}

/// `warning: ...` on stderr.
pub fn warn(msg: &str) {
    eprintln!("{}: {msg}", label("warning", "1;33"));
}

static VERBOSE: AtomicBool = AtomicBool::new(false);
static HUSHED: AtomicUsize = AtomicUsize::new(0);

/// `--verbose`: status lines are never hushed (set once, by the command layer).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// While one lives, status lines are details shown only with `--verbose` (a scratch
/// database's own steps, which would read as if they ran on the user's database).
/// Warnings and errors always show.
#[must_use = "the status lines are hushed only while the guard lives"]
pub struct Hush(());

impl Drop for Hush {
    fn drop(&mut self) {
        HUSHED.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Hushes status lines until the guard is dropped; see [`Hush`].
pub fn hush() -> Hush {
    HUSHED.fetch_add(1, Ordering::Relaxed);
    Hush(())
}

/// A status line on stderr (a detail while [`hush`]ed, unless `--verbose`).
pub fn status(msg: &str) {
    if HUSHED.load(Ordering::Relaxed) > 0 && !VERBOSE.load(Ordering::Relaxed) {
        return;
    }
    eprintln!("{msg}");
}

/// A progress bar over `len` units on a terminal; hidden otherwise.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {{msg}} [{{bar:30}}] {{pos}}/{{len}} {what} ({{elapsed}})"
        ))
        .expect("BUG: progress template is valid")
        .progress_chars("=> "),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A bar over `len` rows expected (a spinner when 0) with the bytes so far as its message,
/// the rate and the time left, on a terminal; hidden otherwise. The prefix names the work.
pub fn row_bar(len: u64, prefix: &str) -> ProgressBar {
    if !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let (pb, template) = if len > 0 {
        (
            ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr()),
            "{spinner} {prefix} [{bar:30}] {human_pos}/{human_len} rows, {msg} \
             ({rate}, ETA {eta})",
        )
    } else {
        (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} {prefix} {human_pos} rows, {msg} ({rate})",
        )
    };
    pb.set_style(
        ProgressStyle::with_template(template)
            .expect("BUG: progress template is valid")
            .with_key(
                "rate",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{} rows/s", indicatif::HumanCount(s.per_sec() as u64));
                },
            )
            .progress_chars("=> "),
    );
    pb.set_prefix(prefix.to_string());
    pb.set_message("0 B");
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A status line shown only with `--verbose`.
pub fn verbose_status(msg: &str) {
    if is_verbose() {
        eprintln!("{msg}");
    }
}

/// Whether `--verbose` was given.
pub fn is_verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// A progress bar over `len` bytes on a terminal; hidden otherwise.
pub fn byte_bar(len: u64) -> ProgressBar {
    if !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({elapsed})",
        )
        .expect("BUG: progress template is valid")
        .progress_chars("=> "),
    );
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// A spinner with a message on a terminal; hidden otherwise.
pub fn spinner(msg: &str) -> ProgressBar {
    if !stderr_is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_draw_target(ProgressDrawTarget::stderr());
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Asks on stderr and reads one line from stdin (trimmed). `None` at end of input.
pub fn ask(prompt: &str) -> std::io::Result<Option<String>> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim().to_string()))
}

/// Whether stdin is a terminal, so a question can be asked.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// An aligned text table with a header row, each line ending in a newline.
pub fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == N {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// One look of [`poll`]: done with a value, or not yet, with what it saw (for the spinner and
/// the timeout message).
pub enum Poll<T> {
    Done(T),
    Pending(String),
}

/// Looks every `every` until `step` is done, for at most `limit`, with a spinner saying `what`
/// on a terminal. An error from `step` stops at once; running out of time is `on_timeout`
/// with the last thing seen.
pub async fn poll<T, Fut>(
    what: &str,
    limit: Duration,
    every: Duration,
    mut step: impl FnMut() -> Fut,
    on_timeout: impl FnOnce(&str) -> anyhow::Error,
) -> anyhow::Result<T>
where
    Fut: std::future::Future<Output = anyhow::Result<Poll<T>>>,
{
    let start = Instant::now();
    let spinner = spinner(what);
    let result = loop {
        match step().await {
            Err(e) => break Err(e),
            Ok(Poll::Done(v)) => break Ok(v),
            Ok(Poll::Pending(seen)) => {
                if start.elapsed() >= limit {
                    break Err(on_timeout(&seen));
                }
                spinner.set_message(format!("{what} ({seen}, {} s)", start.elapsed().as_secs()));
                tokio::time::sleep(every.min(limit.saturating_sub(start.elapsed()))).await;
            }
        }
    };
    spinner.finish_and_clear();
    result
}

#[cfg(test)]
mod poll_tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn poll_runs_out_with_the_last_thing_seen() {
        // An instance that stays "stopping": `--wait` runs out and says what it saw last.
        let mut looks = 0;
        let err = rt()
            .block_on(poll::<(), _>(
                "waiting",
                Duration::from_millis(50),
                Duration::from_millis(10),
                || {
                    looks += 1;
                    async { Ok(Poll::Pending("stopping".to_string())) }
                },
                |seen| anyhow::anyhow!("still {seen}"),
            ))
            .unwrap_err();
        assert_eq!(err.to_string(), "still stopping");
        assert!(looks >= 2, "looked {looks} times");
    }

    #[test]
    fn poll_stops_at_the_first_error_or_success() {
        let mut states = vec![
            Ok(Poll::Done("available")),
            Ok(Poll::Pending("starting".to_string())),
        ];
        let got = rt().block_on(poll(
            "waiting",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                let next = states.pop().unwrap();
                async move { next }
            },
            |_| anyhow::anyhow!("timed out"),
        ));
        assert_eq!(got.unwrap(), "available");
        let err = rt()
            .block_on(poll::<(), _>(
                "waiting",
                Duration::from_secs(5),
                Duration::from_millis(1),
                || async { Err(anyhow::anyhow!("failed: will not become available")) },
                |_| anyhow::anyhow!("timed out"),
            ))
            .unwrap_err();
        assert!(err.to_string().contains("will not become available"));
    }
}
