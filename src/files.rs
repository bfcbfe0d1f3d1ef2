//! Small file-system helpers shared by several commands: `~/` expansion and atomic writes.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};

/// `~/x` as `$HOME/x`, as a shell would; everything else as it is.
pub fn expand_home(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map_or_else(|| PathBuf::from(p), |h| h.join(rest)),
        None => PathBuf::from(p),
    }
}

/// Writes `body` to `dest` atomically: a temporary file in the same directory (made with the
/// directory when missing), synced, then renamed over `dest`. Two writers at once each leave a
/// whole file; on failure the temporary file is removed and `dest` is untouched.
pub fn write_atomic(dest: &Path, body: &[u8]) -> anyhow::Result<()> {
    let dir = dest
        .parent()
        .ok_or_else(|| anyhow!("BUG: {} has no directory", dest.display()))?;
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let tmp = temp_path(dest);
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(body)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("failed to write {}", dest.display()));
    }
    // Make the rename durable; not fatal where directories cannot be synced.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn temp_path(dest: &Path) -> PathBuf {
    let name = dest.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dest.with_file_name(format!(".{name}.{}.{nanos}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub").join("f.txt");
        write_atomic(&dest, b"one").unwrap();
        write_atomic(&dest, b"two").unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dest.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["f.txt"]);
    }

    #[test]
    fn only_a_leading_tilde_slash_is_home() {
        let home = dirs::home_dir().unwrap();
        assert_eq!(expand_home("~/ca.pem"), home.join("ca.pem"));
        assert_eq!(expand_home("/etc/~/x"), PathBuf::from("/etc/~/x"));
        assert_eq!(expand_home("~user/x"), PathBuf::from("~user/x"));
    }
}
