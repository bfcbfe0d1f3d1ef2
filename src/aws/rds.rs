//! The RDS calls: describe, start and stop one instance.

use std::fmt;

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use serde::Serialize;

use super::Aws;

impl Aws {
    /// DescribeDBInstances for one instance.
    pub async fn describe_instance(&self, id: &str) -> anyhow::Result<Instance> {
        let out = self
            .rds()
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| self.failed(&format!("describing RDS instance {id}"), e))?;
        let db = out.db_instances().first().ok_or_else(|| {
            crate::error::kinded(
                crate::error::ErrorKind::Aws,
                format!("describing RDS instance {id} failed: AWS returned no instance"),
            )
        })?;
        Ok(Instance::from_sdk(db))
    }

    /// StartDBInstance; returns the status AWS reports afterwards.
    pub async fn start_instance(&self, id: &str) -> anyhow::Result<String> {
        let request = self.rds().start_db_instance().db_instance_identifier(id);
        let answer = request.send().await.map(|out| out.db_instance);
        self.status_after("starting", id, answer)
    }

    /// StopDBInstance; returns the status AWS reports afterwards.
    pub async fn stop_instance(&self, id: &str) -> anyhow::Result<String> {
        let request = self.rds().stop_db_instance().db_instance_identifier(id);
        let answer = request.send().await.map(|out| out.db_instance);
        self.status_after("stopping", id, answer)
    }

    /// The status after a start or stop call (`doing` is "starting" or "stopping"): the one AWS
    /// reports, else `doing` itself; a failed call is [`Aws::failed`].
    fn status_after<E, R>(
        &self,
        doing: &str,
        id: &str,
        answer: Result<Option<aws_sdk_rds::types::DbInstance>, SdkError<E, R>>,
    ) -> anyhow::Result<String>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let db = answer.map_err(|e| self.failed(&format!("{doing} RDS instance {id}"), e))?;
        Ok(db
            .and_then(|d| d.db_instance_status)
            .unwrap_or_else(|| doing.to_string()))
    }
}

/// An RDS instance, as `rds status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instance {
    pub id: String,
    pub status: String,
    pub engine: String,
    pub engine_version: String,
    /// The endpoint's host name (none while the instance is being created).
    pub address: Option<String>,
    pub port: Option<u16>,
    pub publicly_accessible: Option<bool>,
    /// The VPC security groups.
    pub security_groups: Vec<String>,
}

impl Instance {
    fn from_sdk(db: &aws_sdk_rds::types::DbInstance) -> Instance {
        let port = db
            .endpoint()
            .and_then(|e| e.port())
            .or(db.db_instance_port().filter(|p| *p > 0))
            .and_then(|p| u16::try_from(p).ok());
        Instance {
            id: db.db_instance_identifier().unwrap_or_default().to_string(),
            status: db.db_instance_status().unwrap_or("unknown").to_string(),
            engine: db.engine().unwrap_or_default().to_string(),
            engine_version: db.engine_version().unwrap_or_default().to_string(),
            address: db.endpoint().and_then(|e| e.address()).map(str::to_string),
            port,
            publicly_accessible: db.publicly_accessible(),
            security_groups: db
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id())
                .map(str::to_string)
                .collect(),
        }
    }
}
