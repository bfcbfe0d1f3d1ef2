//! What snapshots know of git: the checkout's branch and commit (the default snapshot name,
//! and what `list` shows), and the `post-checkout` hook that runs `snapshot switch`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, Context};

use crate::error::usage;

/// The line that marks a hook as ours: `hook uninstall` removes only such a hook, and `hook
/// install` replaces only such a hook.
pub const MARK: &str = "# cruddur-db snapshot hook";

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The branch checked out in `dir` (None outside git or on a detached HEAD) and the commit.
pub fn head(dir: &Path) -> (Option<String>, Option<String>) {
    let branch = git(dir, &["symbolic-ref", "--quiet", "--short", "HEAD"]);
    let commit = git(dir, &["rev-parse", "--short=12", "HEAD"]);
    (branch, commit)
}

/// The commit `rev` (a branch) points at in `dir`.
pub fn commit_of(dir: &Path, rev: &str) -> Option<String> {
    git(
        dir,
        &[
            "rev-parse",
            "--short=12",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
}

/// The default snapshot name: the branch checked out in `dir`.
pub fn default_name(dir: &Path) -> anyhow::Result<String> {
    if git(dir, &["rev-parse", "--git-dir"]).is_none() {
        return Err(usage(
            "no snapshot name given, and this is not a git checkout (the name defaults to the \
             current branch): pass a NAME, e.g. cruddur-db snapshot save before-week-5",
        ));
    }
    head(dir).0.ok_or_else(|| {
        usage(
            "no snapshot name given, and HEAD is detached (the name defaults to the current \
             branch): pass a NAME",
        )
    })
}

/// Where this checkout's hooks live (`core.hooksPath` honoured).
fn hooks_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = git(dir, &["rev-parse", "--git-path", "hooks"]).ok_or_else(|| {
        usage("this is not a git checkout: run `snapshot hook install` inside the repository")
    })?;
    Ok(dir.join(path))
}

/// `s` as one word for sh, whatever it holds: in single quotes, each `'` as `'\''`.
fn sh_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The hook: on a branch checkout, `snapshot switch OLD NEW` with this very binary (or the
/// one on PATH when it moved). It never fails the checkout, and says at most one line.
pub fn hook_text(exe: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         {MARK} (installed by `cruddur-db snapshot hook install`; `hook uninstall` removes it).\n\
         # On a branch checkout, saves the database as a snapshot named after the branch being\n\
         # left and restores the one saved for the branch checked out.\n\
         [ \"$3\" = 1 ] || exit 0\n\
         old=$(git rev-parse --abbrev-ref '@{{-1}}' 2>/dev/null) || exit 0\n\
         new=$(git rev-parse --abbrev-ref HEAD 2>/dev/null) || exit 0\n\
         [ -n \"$old\" ] && [ \"$old\" != \"$new\" ] && [ \"$new\" != HEAD ] || exit 0\n\
         exe={}\n\
         [ -x \"$exe\" ] || exe=cruddur-db\n\
         \"$exe\" snapshot switch \"$old\" \"$new\" </dev/null || true\n\
         exit 0\n",
        sh_word(&exe.to_string_lossy())
    )
}

/// Writes the post-checkout hook; an existing hook that is not ours is left alone (exit 2).
pub fn install(dir: &Path) -> anyhow::Result<PathBuf> {
    let hooks = hooks_dir(dir)?;
    let path = hooks.join("post-checkout");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        if !existing.contains(MARK) {
            return Err(usage(format!(
                "{} exists and is not cruddur-db's; it was left as it is: add this line to it \
                 instead:\n  cruddur-db snapshot switch \"$(git rev-parse --abbrev-ref @{{-1}})\" \
                 \"$(git rev-parse --abbrev-ref HEAD)\" || true",
                path.display()
            )));
        }
    }
    let exe = std::env::current_exe().context("failed to find this program's own path")?;
    std::fs::create_dir_all(&hooks)
        .with_context(|| format!("failed to create {}", hooks.display()))?;
    let tmp = hooks.join(".post-checkout.cruddur-db.tmp");
    std::fs::write(&tmp, hook_text(&exe))
        .with_context(|| format!("failed to write {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::rename(&tmp, &path).with_context(|| format!("failed to write {}", path.display()))?;
    Ok(path)
}

/// Removes the hook if it is ours. `Ok(None)`: there was none of ours.
pub fn uninstall(dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    let path = hooks_dir(dir)?.join("post-checkout");
    match std::fs::read_to_string(&path) {
        Ok(text) if text.contains(MARK) => {
            std::fs::remove_file(&path)
                .map_err(|e| anyhow!("failed to remove {}: {e}", path.display()))?;
            Ok(Some(path))
        }
        Ok(_) => Err(usage(format!(
            "{} is not cruddur-db's hook; it was left as it is",
            path.display()
        ))),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_quotes_the_binary_path_for_sh() {
        let text = hook_text(Path::new("/opt/it's here/cruddur-db"));
        assert!(
            text.contains(r"exe='/opt/it'\''s here/cruddur-db'"),
            "{text}"
        );
        assert!(text.contains(MARK));
    }
}
