//! `rds status|start|stop`.

use crate::cli::RdsArgs;
use crate::target::TargetRequest;

pub async fn status(_req: &TargetRequest, _args: RdsArgs) -> anyhow::Result<()> {
    anyhow::bail!("rds status is not implemented yet")
}

pub async fn start(_args: RdsArgs) -> anyhow::Result<()> {
    anyhow::bail!("rds start is not implemented yet")
}

pub async fn stop(_args: RdsArgs) -> anyhow::Result<()> {
    anyhow::bail!("rds stop is not implemented yet")
}
