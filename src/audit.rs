//! The audit log: one JSON line for every write on a protected target, appended to
//! `audit.jsonl` in the state directory. A protected write whose line cannot be written is
//! refused before it starts: nothing unaudited reaches production.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::error::{exit, usage};
use crate::mask::mask_value;
use crate::target::Target;

/// The file name inside the state directory.
pub const FILE_NAME: &str = "audit.jsonl";

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// UTC, RFC 3339.
    pub time: String,
    /// The OS user.
    pub user: String,
    /// This machine's host name.
    pub host: String,
    /// The arguments, secrets masked.
    pub command: Vec<String>,
    pub target: EntryTarget,
    /// `ok`, `failed` or `refused`.
    pub outcome: String,
    pub exit_code: i32,
    pub duration_ms: u64,
    /// What the command says about the write beyond its arguments (`copy`: from where, to
    /// where, masked or not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The target of a line: the masked URL and its parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryTarget {
    pub url: String,
    pub host: String,
    pub database: String,
}

/// The state directory: CRUDDUR_STATE_DIR, else the user's state directory (XDG_STATE_HOME or
/// ~/.local/state) plus `cruddur-db`.
pub fn state_dir(env: impl Fn(&str) -> Option<String>) -> anyhow::Result<PathBuf> {
    if let Some(d) = env("CRUDDUR_STATE_DIR").filter(|d| !d.trim().is_empty()) {
        return Ok(PathBuf::from(d));
    }
    dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .map(|d| d.join("cruddur-db"))
        .ok_or_else(|| usage("no state directory for the audit log: set CRUDDUR_STATE_DIR"))
}

/// A write on a protected target that has started and whose line is not written yet.
struct Pending {
    file: std::fs::File,
    path: PathBuf,
    started: Instant,
    command: Vec<String>,
    target: EntryTarget,
    detail: Option<String>,
}

/// NOTE: one pending line per process, so that `connect --write` can write its line just
/// before psql replaces the process, and `run` writes it for every other command.
static PENDING: Mutex<Option<Pending>> = Mutex::new(None);

/// Opens the log before a protected write starts; an unwritable log refuses it (exit 2).
pub fn begin(dir: &Path, target: &Target, args: &[String]) -> anyhow::Result<()> {
    let path = dir.join(FILE_NAME);
    let file = std::fs::create_dir_all(dir)
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
        })
        .map_err(|e| {
            usage(format!(
                "cannot write the audit log {}: {e}; a write on a protected target is only made \
                 when it can be logged: fix the directory or set CRUDDUR_STATE_DIR; nothing was \
                 changed",
                path.display()
            ))
        })?;
    let pending = Pending {
        file,
        path,
        started: Instant::now(),
        command: audited_args(args),
        target: EntryTarget {
            url: target.url.to_string(),
            host: target.url.host(),
            database: target.url.database(),
        },
        detail: None,
    };
    *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = Some(pending);
    Ok(())
}

/// Flags whose value is a secret of its own: never written to the log.
const SECRET_FLAGS: &[&str] = &["--mask-salt"];

/// The arguments as the log keeps them: each masked as one value (a URL's password, a
/// `?password=`, a keyword/value password), and the value of a secret flag replaced.
fn audited_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut secret_next = false;
    for a in args {
        if secret_next {
            out.push("****".to_string());
            secret_next = false;
            continue;
        }
        match SECRET_FLAGS.iter().find(|f| a.starts_with(**f)) {
            Some(f) if a.len() == f.len() => {
                out.push(a.clone());
                secret_next = true;
            }
            Some(f) if a[f.len()..].starts_with('=') => out.push(format!("{f}=****")),
            _ => out.push(mask_value(a)),
        }
    }
    out
}

/// Adds a detail to the pending line (if any).
pub fn detail(text: String) {
    if let Some(p) = PENDING.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        p.detail = Some(text);
    }
}

/// Appends to the pending line's detail (if any): what the command did, once it is done.
pub fn add_detail(text: &str) {
    if let Some(p) = PENDING.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        p.detail = Some(match p.detail.take() {
            Some(d) => format!("{d}; {text}"),
            None => text.to_string(),
        });
    }
}

/// Writes the pending line (if any) with the outcome of `result`.
pub fn finish(result: &anyhow::Result<()>) -> anyhow::Result<()> {
    let code = match result {
        Ok(()) => exit::OK,
        Err(e) => crate::error::exit_code(e),
    };
    finish_with(code)
}

/// Writes the pending line (if any) for an exit code.
pub fn finish_with(code: i32) -> anyhow::Result<()> {
    let Some(mut p) = PENDING.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return Ok(());
    };
    let entry = Entry {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        user: os_user(),
        host: host_name(),
        command: p.command,
        target: p.target,
        outcome: match code {
            exit::OK => "ok",
            exit::REFUSED => "refused",
            _ => "failed",
        }
        .to_string(),
        exit_code: code,
        duration_ms: u64::try_from(p.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        detail: p.detail,
    };
    let mut line = serde_json::to_vec(&entry)?;
    line.push(b'\n');
    // NOTE: one write of the whole line to a file opened for appending: concurrent runs each
    // land whole lines, never interleaved.
    p.file
        .write_all(&line)
        .with_context(|| format!("failed to append to the audit log {}", p.path.display()))
}

/// Every line of the log, oldest first; a missing log is empty.
pub fn read(dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let path = dir.join(FILE_NAME);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("failed to read the audit log {}", path.display()))
        }
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not an audit line", path.display(), i + 1))
        })
        .collect()
}

fn os_user() -> String {
    crate::env::var("USER")
        .or_else(|| crate::env::var("LOGNAME"))
        .filter(|u| !u.is_empty())
        .or_else(|| {
            // NOTE: cron, CI and `env -i` may set no USER: ask the system for the uid's name.
            std::process::Command::new("id")
                .arg("-un")
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| crate::env::var("HOSTNAME"))
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_directory_variable_wins() {
        let d = state_dir(|k| (k == "CRUDDUR_STATE_DIR").then(|| "/x/y".to_string())).unwrap();
        assert_eq!(d, PathBuf::from("/x/y"));
        let d = state_dir(|_| None).unwrap();
        assert!(d.ends_with("cruddur-db"), "{}", d.display());
    }

    #[test]
    fn a_line_is_written_with_the_outcome_and_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::from_url("postgresql://u:hunter2@db.example/cruddur", true);
        let args = vec![
            "cruddur-db".to_string(),
            "--url".to_string(),
            "postgresql://u:hunter2@db.example/cruddur".to_string(),
            "drop".to_string(),
        ];
        begin(dir.path(), &target, &args).unwrap();
        finish_with(exit::REFUSED).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(text.contains(":****@"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        let entries = read(dir.path()).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].outcome, "refused");
        assert_eq!(entries[0].exit_code, 3);
        assert_eq!(entries[0].target.database, "cruddur");
        assert_eq!(entries[0].command[3], "drop");
        // The salt and every form of password stay out of the log.
        let args: Vec<String> = [
            "cruddur-db",
            "copy",
            "--from",
            "postgresql://u@h/db?password=a b,c&sslmode=require",
            "--to",
            "host=h password='sp ace' dbname=d",
            "--mask-salt",
            "pepper1",
            "--mask-salt=pepper2",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            audited_args(&args)[3..],
            [
                "postgresql://u@h/db?password=****&sslmode=require",
                "--to",
                "host=h password='****' dbname=d",
                "--mask-salt",
                "****",
                "--mask-salt=****"
            ]
        );
        // Nothing pending: a second finish writes nothing.
        finish_with(exit::OK).unwrap();
        assert_eq!(read(dir.path()).unwrap().len(), 1);
    }
}
