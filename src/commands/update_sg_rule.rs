//! `update-sg-rule`: allow this workstation's public IP on the RDS security group rule.

use crate::cli::UpdateSgRuleArgs;
use crate::target::TargetRequest;

pub async fn run(_req: &TargetRequest, _args: UpdateSgRuleArgs) -> anyhow::Result<()> {
    anyhow::bail!("update-sg-rule is not implemented yet")
}
