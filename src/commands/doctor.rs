//! `doctor`: every step from URL to schema, one line each.

use crate::cli::DoctorArgs;
use crate::target::TargetRequest;

pub async fn run(_req: &TargetRequest, _args: DoctorArgs) -> anyhow::Result<()> {
    anyhow::bail!("doctor is not implemented yet")
}
