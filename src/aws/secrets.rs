//! AWS Secrets Manager: a database password (and user) read from a secret, once per run.

use std::fmt;

use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

use super::Aws;
use crate::error::usage;

/// What a secret holds: a password, and a user name when it names one.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretLogin {
    pub user: Option<String>,
    pub password: String,
}

impl fmt::Debug for SecretLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretLogin")
            .field("user", &self.user)
            .field("password", &"****")
            .finish()
    }
}

impl Aws {
    /// GetSecretValue for `id` (a name or an ARN), read as a login. Failures of the call are
    /// exit 5 with the AWS error code and the fix; a secret that holds no usable password is a
    /// configuration error (exit 2).
    pub async fn secret_login(&self, id: &str) -> anyhow::Result<SecretLogin> {
        let client = aws_sdk_secretsmanager::Client::new(&self.config);
        let out = client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| self.secret_failed(id, e))?;
        let Some(text) = out.secret_string() else {
            return Err(usage(format!(
                "secret {id} holds binary data, not a string; store the password as the \
                 secret's string (plain, or JSON with \"password\")"
            )));
        };
        parse(text).map_err(|e| usage(format!("secret {id} {e}")))
    }

    /// Like [`Aws::failed`], with the fixes that only make sense for a secret.
    fn secret_failed<E, R>(&self, id: &str, err: SdkError<E, R>) -> anyhow::Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let what = format!("reading secret {id} from AWS Secrets Manager");
        let Some(fix) = err.code().and_then(|c| secret_fix(c, id, &self.region)) else {
            return self.failed(&what, err);
        };
        crate::error::kinded(
            crate::error::ErrorKind::Aws,
            format!(
                "{what} failed: {}: {}\nhint: {fix}",
                err.code().unwrap_or_default(),
                err.message().unwrap_or("(AWS sent no message)")
            ),
        )
    }
}

/// The fix for a Secrets Manager error code; `None` leaves it to the shared hints.
fn secret_fix(code: &str, id: &str, region: &str) -> Option<String> {
    Some(match code {
        "ResourceNotFoundException" => format!(
            "no secret {id:?} in region {region}: check --password-secret/CRUDDUR_PASSWORD_SECRET \
             (the secret's name or ARN) and the region (--region, AWS_REGION); \
             `aws secretsmanager list-secrets --query 'SecretList[].Name'` lists them"
        ),
        "AccessDeniedException" => "the IAM user or role needs secretsmanager:GetSecretValue on \
             the secret (and kms:Decrypt when a customer-managed KMS key encrypts it)"
            .to_string(),
        "DecryptionFailure" => "Secrets Manager cannot decrypt the secret with its KMS key: the \
             IAM identity needs kms:Decrypt on that key"
            .to_string(),
        "InvalidRequestException" => "the secret cannot be read now (it may be scheduled for \
             deletion: `aws secretsmanager restore-secret --secret-id ID` brings it back)"
            .to_string(),
        "InvalidParameterException" => {
            "check --password-secret/CRUDDUR_PASSWORD_SECRET: a secret's name or ARN".to_string()
        }
        _ => return None,
    })
}

/// A secret's string as a login: the JSON of an RDS-managed secret (`username`, `password`,
/// ...) or, when it is not a JSON object, the password itself. The error never quotes the
/// secret.
fn parse(text: &str) -> Result<SecretLogin, String> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str::<serde_json::Value>(text)
    else {
        if text.is_empty() {
            return Err("is empty; store the password in it".into());
        }
        return Ok(SecretLogin {
            user: None,
            password: text.to_string(),
        });
    };
    let string = |key: &str| -> Result<Option<String>, String> {
        match fields.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("has a \"{key}\" that is not a string")),
        }
    };
    let password = string("password")?
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            "is a JSON object without a \"password\"; an RDS-managed secret has \"username\" and \
         \"password\", or store the password alone as the secret's string"
                .to_string()
        })?;
    let user = string("username")?.filter(|u| !u.is_empty());
    Ok(SecretLogin { user, password })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rds_managed_json_gives_user_and_password() {
        let got = parse(r#"{"username":"cruddurroot","password":"p{a}s\"s","engine":"postgres"}"#)
            .unwrap();
        assert_eq!(got.user.as_deref(), Some("cruddurroot"));
        assert_eq!(got.password, "p{a}s\"s");
        let no_user = parse(r#"{"password":"x"}"#).unwrap();
        assert_eq!(no_user.user, None);
    }

    #[test]
    fn anything_but_a_json_object_is_the_password() {
        for text in ["hunter2", "{not json", "\"quoted\"", "42", " spaced "] {
            let got = parse(text).unwrap();
            assert_eq!((got.user, got.password.as_str()), (None, text));
        }
    }

    #[test]
    fn unusable_secrets_say_why_without_quoting_them() {
        let err = parse(r#"{"username":"u","pass":"hunter2"}"#).unwrap_err();
        assert!(err.contains("without a \"password\""), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = parse(r#"{"password":12345}"#).unwrap_err();
        assert!(
            err.contains("not a string") && !err.contains("12345"),
            "{err}"
        );
        assert!(parse("").is_err());
    }

    #[test]
    fn debug_masks_the_password() {
        let login = SecretLogin {
            user: Some("u".into()),
            password: "hunter2".into(),
        };
        let shown = format!("{login:?}");
        assert!(shown.contains("****"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
