//! AWS failures as exit 5: the service's error code and message, and how to fix it.

use std::fmt;

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};

use super::ec2::Ec2Error;
use super::Aws;

impl Aws {
    /// An AWS call's failure (exit 5): the service's error code and message, or the whole
    /// cause chain when no answer came, and a line saying how to fix it.
    pub fn failed<E, R>(&self, what: &str, err: SdkError<E, R>) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        match err.code() {
            Some(code) => self.report(
                what,
                Some(code),
                err.message().unwrap_or("(AWS sent no message)"),
            ),
            // NOTE: the causes' messages, not `DisplayErrorContext`, which ends with the SDK's
            // Debug dump of the whole error (`DispatchFailure(DispatchFailure { source: ...`).
            None => self.report(what, None, &crate::error::error_chain(&err)),
        }
    }

    /// An EC2 call's failure, as [`Aws::failed`] reports it.
    pub(crate) fn ec2_failed(&self, what: &str, err: Ec2Error) -> anyhow::Error {
        match err {
            Ec2Error::Service { code, message } => {
                let message = if message.is_empty() {
                    "(AWS sent no message)"
                } else {
                    &message
                };
                self.report(what, Some(&code), message)
            }
            Ec2Error::NoAnswer(cause) => self.report(what, None, &cause),
            Ec2Error::Setup(e) => e,
        }
    }

    /// Exit 5: `what failed: CODE: message` (or the cause when AWS did not answer), and a fix.
    fn report(&self, what: &str, code: Option<&str>, detail: &str) -> anyhow::Error {
        let text = match code {
            Some(code) => format!("{what} failed: {code}: {detail}"),
            None => format!("{what} failed: {detail}"),
        };
        let hint = match code {
            Some(code) => fix_for(code, &self.region),
            None => Some(format!(
                "no answer from AWS: check the network, the region ({}), and AWS_ENDPOINT_URL \
                 if it is set",
                self.region
            )),
        };
        match hint {
            Some(h) => {
                crate::error::kinded(crate::error::ErrorKind::Aws, format!("{text}\nhint: {h}"))
            }
            None => crate::error::kinded(crate::error::ErrorKind::Aws, text),
        }
    }

    /// The error for a rule id that AWS lists nothing for. NOTE: EC2 answers
    /// DescribeSecurityGroupRules for an unknown id with InvalidSecurityGroupRuleId.NotFound,
    /// which [`Aws::failed`] shows; some implementations (moto) answer an empty list instead,
    /// which gets the same code and hint here.
    pub fn rule_not_found(&self, rule_id: &str, group_id: Option<&str>) -> anyhow::Error {
        let code = "InvalidSecurityGroupRuleId.NotFound";
        let place = group_id.map(|g| format!(" in {g}")).unwrap_or_default();
        crate::error::kinded(
            crate::error::ErrorKind::Aws,
            format!(
                "describing security group rule {rule_id} failed: {code}: the security group \
                 rule ID '{rule_id}' does not exist{place}\nhint: {}",
                fix_for(code, &self.region).unwrap_or_default()
            ),
        )
    }
}

/// The fix for an AWS error code, when there is a useful one.
fn fix_for(code: &str, region: &str) -> Option<String> {
    Some(match code {
        "InvalidGroup.NotFound" | "InvalidGroupId.Malformed" | "InvalidGroupId.NotFound" => {
            format!(
                "check --group-id/DB_SG_ID, and that the group is in region {region} (--region, \
                 AWS_REGION)"
            )
        }
        "InvalidSecurityGroupRuleId.NotFound" | "InvalidSecurityGroupRuleId.Malformed" => {
            "check --rule-id/DB_SG_RULE_ID; `aws ec2 describe-security-group-rules --filters \
             Name=group-id,Values=SG_ID` lists the group's rules, or use --db-instance to let \
             cruddur-db find or create the rule"
                .to_string()
        }
        "DBInstanceNotFound" | "DBInstanceNotFoundFault" => format!(
            "check --db-instance/DB_INSTANCE_ID, and that the instance is in region {region}; \
             `aws rds describe-db-instances --query 'DBInstances[].DBInstanceIdentifier'` lists them"
        ),
        "InvalidDBInstanceState" | "InvalidDBInstanceStateFault" => {
            "`cruddur-db rds status` shows the instance's state; wait until it is available or \
             stopped and try again"
                .to_string()
        }
        "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
            "the IAM user or role needs ec2:DescribeSecurityGroupRules, \
             ec2:DescribeSecurityGroups, ec2:ModifySecurityGroupRules, \
             ec2:AuthorizeSecurityGroupIngress, rds:DescribeDBInstances, rds:StartDBInstance \
             and rds:StopDBInstance; sync-cognito needs cognito-idp:ListUsers on the user pool"
                .to_string()
        }
        "ResourceNotFoundException" => format!(
            "check --user-pool-id/AWS_COGNITO_USER_POOL_ID, and that the user pool is in region \
             {region} (--region, AWS_REGION; a pool id starts with its region); `aws \
             cognito-idp list-user-pools --max-results 60` lists the pools"
        ),
        "TooManyRequestsException" | "LimitExceededException" => {
            "Cognito throttled the calls; wait a minute and run it again".to_string()
        }
        "AuthFailure" | "InvalidClientTokenId" | "UnrecognizedClientException"
        | "SignatureDoesNotMatch" | "InvalidAccessKeyId" | "IncompleteSignature" => {
            "AWS refused the credentials: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or \
             the profile); the key may be mistyped, inactive or deleted"
                .to_string()
        }
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            "the session credentials (or the request) expired: refresh them, and check the \
             clock of this machine"
                .to_string()
        }
        "InvalidPermission.Duplicate" => {
            "the group already has a rule for this address and port".to_string()
        }
        "RulesPerSecurityGroupLimitExceeded" => {
            "the group has no room for another rule: delete an unused inbound rule".to_string()
        }
        "OptInRequired" => format!("the account is not subscribed to this service in {region}"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_hints_name_the_fix() {
        assert!(fix_for("InvalidGroup.NotFound", "us-east-1")
            .unwrap()
            .contains("DB_SG_ID"));
        assert!(fix_for("InvalidSecurityGroupRuleId.NotFound", "us-east-1")
            .unwrap()
            .contains("DB_SG_RULE_ID"));
        assert!(fix_for("UnauthorizedOperation", "x")
            .unwrap()
            .contains("ec2:ModifySecurityGroupRules"));
        assert_eq!(fix_for("SomethingNew", "x"), None);
    }

    #[test]
    fn cognito_errors_name_the_fix() {
        let fix = fix_for("ResourceNotFoundException", "eu-west-1").unwrap();
        assert!(
            fix.contains("--user-pool-id/AWS_COGNITO_USER_POOL_ID"),
            "{fix}"
        );
        assert!(fix.contains("eu-west-1"), "{fix}");
        assert!(fix_for("AccessDeniedException", "x")
            .unwrap()
            .contains("cognito-idp:ListUsers"));
    }
}
