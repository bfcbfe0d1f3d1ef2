//! The flags of the app's writes and reads: post-crud, add-user, users.

use std::path::PathBuf;

use clap::Args;

use super::target::{ConfirmArgs, ConnArgs, OutputArgs};

#[derive(Debug, Args)]
pub struct PostCrudArgs {
    /// Handle of the user who posts
    #[arg(long, value_name = "HANDLE")]
    pub handle: String,

    /// The message, 1 to 280 characters; `-` reads it from stdin (one trailing newline is
    /// dropped); with --count, `{N}` becomes the crud's number (1 to N)
    #[arg(long, value_name = "TEXT", allow_hyphen_values = true)]
    pub message: String,

    /// How long the crud lives: 30-days, 7-days, 3-days, 1-day, 12-hours, 3-hours, 1-hour
    #[arg(long, value_name = "TTL", default_value = "7-days")]
    pub ttl: String,

    /// Post N cruds concurrently and print a summary instead of the crud
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// How many cruds are posted at once with --count (default: the pool size, 8); the pool
    /// grows to match
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub concurrency: Option<u64>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct AddUserArgs {
    /// Display name (Cognito `name`)
    #[arg(long, value_name = "NAME", required_unless_present = "from_event")]
    pub name: Option<String>,

    /// Email address (Cognito `email`)
    #[arg(long, value_name = "EMAIL", required_unless_present = "from_event")]
    pub email: Option<String>,

    /// Handle (Cognito `preferred_username`)
    #[arg(long, value_name = "HANDLE", required_unless_present = "from_event")]
    pub handle: Option<String>,

    /// Cognito user id (`sub`)
    #[arg(long, value_name = "SUB")]
    pub cognito_user_id: Option<String>,

    /// Read the user from a Cognito post-confirmation event (JSON; `-` reads stdin)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "email", "handle", "cognito_user_id"])]
    pub from_event: Option<PathBuf>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}

#[derive(Debug, Args)]
pub struct UsersArgs {
    /// Only the user with this handle
    #[arg(long, value_name = "HANDLE")]
    pub handle: Option<String>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub conn: ConnArgs,
}
