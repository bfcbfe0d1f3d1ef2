//! The flags of `snapshot`: save, restore, list, drop, switch, hook.

use clap::{Args, Subcommand};

use super::target::{ConnArgs, OutputArgs};

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Keep a copy of the target database on its server (NAME defaults to the git branch)
    Save(SnapshotSaveArgs),
    /// Put the target database back to a snapshot (NAME defaults to the git branch)
    Restore(SnapshotRestoreArgs),
    /// The target database's snapshots: name, time, size, git branch and commit, last migration
    List(SnapshotListArgs),
    /// Drop a snapshot
    Drop(SnapshotDropArgs),
    /// Save the database as snapshot OLD, then restore snapshot NEW (the git hook runs this)
    Switch(SnapshotSwitchArgs),
    /// The git post-checkout hook that runs `snapshot switch` on every branch checkout
    #[command(subcommand)]
    Hook(SnapshotHookCommand),
}

#[derive(Debug, Args)]
pub struct SnapshotSaveArgs {
    /// The snapshot's name (default: the current git branch); one of that name is replaced
    pub name: Option<String>,

    /// Terminate the other sessions on the database first (a copy needs it to itself)
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub keep: KeepArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct KeepArgs {
    /// Keep at most N snapshots of the database; the oldest go first
    #[arg(long, value_name = "N", env = "CRUDDUR_SNAPSHOT_KEEP", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub keep: u32,
}

#[derive(Debug, Args)]
pub struct SnapshotRestoreArgs {
    /// The snapshot (default: the current git branch)
    pub name: Option<String>,

    /// Terminate the other sessions on the database first
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotListArgs {
    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotDropArgs {
    /// The snapshot to drop
    pub name: String,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct SnapshotSwitchArgs {
    /// The branch being left: the database is saved under its name
    pub old: String,

    /// The branch checked out: its snapshot, if there is one, is restored
    pub new: String,

    /// Terminate the other sessions on the database first
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    pub keep: KeepArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotHookCommand {
    /// Write .git/hooks/post-checkout (an existing hook that is not cruddur-db's is left alone)
    Install,
    /// Remove the hook, if it is cruddur-db's
    Uninstall,
}
