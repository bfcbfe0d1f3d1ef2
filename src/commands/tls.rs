//! `tls fetch-rds-ca`: download the RDS CA bundle into the cache directory.

use crate::cli::FetchRdsCaArgs;

pub async fn fetch_rds_ca(_args: FetchRdsCaArgs) -> anyhow::Result<()> {
    anyhow::bail!("tls fetch-rds-ca is not implemented yet")
}
