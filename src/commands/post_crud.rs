//! `post-crud`.

use crate::cli::PostCrudArgs;
use crate::target::TargetRequest;

pub async fn run(_req: &TargetRequest, _args: PostCrudArgs) -> anyhow::Result<()> {
    anyhow::bail!("post-crud is not implemented yet")
}
