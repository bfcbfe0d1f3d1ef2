//! `add-user`.

use crate::cli::AddUserArgs;
use crate::target::TargetRequest;

pub async fn run(_req: &TargetRequest, _args: AddUserArgs) -> anyhow::Result<()> {
    anyhow::bail!("add-user is not implemented yet")
}
