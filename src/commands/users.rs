//! `users`.

use crate::cli::UsersArgs;
use crate::target::TargetRequest;

pub async fn run(_req: &TargetRequest, _args: UsersArgs) -> anyhow::Result<()> {
    anyhow::bail!("users is not implemented yet")
}
