//! Identifier checks made before any AWS call, so that a typo is a usage error (exit 2)
//! naming the flag and variable, not an AWS round trip.

use crate::error::usage;

/// Checks a security group id's shape (`sg-` and 8 or 17 hex digits) before any call.
pub fn check_group_id(id: &str) -> anyhow::Result<String> {
    check_id(id, "sg-", "--group-id/DB_SG_ID", "a security group id")
}

/// Checks a security group rule id's shape (`sgr-` and 8 or 17 hex digits) before any call.
pub fn check_rule_id(id: &str) -> anyhow::Result<String> {
    check_id(
        id,
        "sgr-",
        "--rule-id/DB_SG_RULE_ID",
        "a security group rule id",
    )
}

fn check_id(id: &str, prefix: &str, names: &str, what: &str) -> anyhow::Result<String> {
    let id = id.trim();
    let ok = id.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(id.to_string())
    } else {
        Err(usage(format!(
            "{names} {id:?} is not {what}: expected {prefix} followed by 8 or 17 lower-case hex \
             digits, e.g. {prefix}0123456789abcdef0"
        )))
    }
}

/// Checks an RDS instance identifier's shape before any call: 1 to 63 letters, digits and
/// hyphens, starting with a letter, no double or trailing hyphen.
pub fn check_instance_id(id: &str) -> anyhow::Result<String> {
    let id = id.trim();
    let ok = !id.is_empty()
        && id.len() <= 63
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !id.ends_with('-')
        && !id.contains("--");
    if ok {
        Ok(id.to_string())
    } else {
        Err(usage(format!(
            "--db-instance/DB_INSTANCE_ID {id:?} is not an RDS instance identifier: 1 to 63 \
             letters, digits and hyphens, starting with a letter"
        )))
    }
}

/// Checks a Cognito user pool id's shape before any call: REGION_ID, as Cognito's API
/// defines it (`[\w-]+_[0-9a-zA-Z]+`, at most 55 characters), e.g. `us-east-1_AbC123xyz`.
pub fn check_pool_id(id: &str) -> anyhow::Result<String> {
    let id = id.trim();
    let ok = id.len() <= 55
        && id.split_once('_').is_some_and(|(region, rest)| {
            !region.is_empty()
                && region
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !rest.is_empty()
                && rest.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if ok {
        Ok(id.to_string())
    } else {
        Err(usage(format!(
            "--user-pool-id/AWS_COGNITO_USER_POOL_ID {id:?} is not a Cognito user pool id: \
             expected the region, `_` and letters and digits, e.g. us-east-1_AbC123xyz"
        )))
    }
}

/// The region a user pool id starts with (`us-east-1` of `us-east-1_AbC123xyz`).
pub fn pool_region(id: &str) -> &str {
    id.split_once('_').map_or(id, |(region, _)| region)
}

/// Checks a rule description: what EC2 accepts (up to 255 of a-z A-Z 0-9, spaces and
/// `._-:/()#,@[]+=&;{}!$*`).
pub fn check_description(d: &str) -> anyhow::Result<String> {
    let ok = !d.is_empty()
        && d.len() <= 255
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c));
    if ok {
        Ok(d.to_string())
    } else {
        Err(usage(format!(
            "--description {d:?} is not a valid rule description: 1 to 255 of letters, digits, \
             spaces and ._-:/()#,@[]+=&;{{}}!$*"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_for_shape() {
        assert!(check_group_id("sg-0123456789abcdef0").is_ok());
        assert!(check_group_id(" sg-01234567\n").is_ok());
        assert!(check_rule_id("sgr-0123456789abcdef0").is_ok());
        for bad in [
            "",
            "sg-",
            "sg-xyz",
            "sgr-0123456789abcdef0",
            "sg-0123456789ABCDEF0",
            "sg-123",
        ] {
            let err = check_group_id(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
            assert!(format!("{err}").contains("DB_SG_ID"), "{err}");
        }
        for bad in ["sg-0123456789abcdef0", "sgr-", "sgr-zzzzzzzz", "<html>"] {
            assert!(check_rule_id(bad).is_err(), "{bad}");
        }
        assert!(check_instance_id("cruddur-db-instance").is_ok());
        for bad in ["", "1abc", "a--b", "a-", "a_b", &"a".repeat(64)] {
            assert!(check_instance_id(bad).is_err(), "{bad}");
        }
        assert!(check_description("GITPOD").is_ok());
        assert!(check_description("").is_err());
        assert!(check_description("é").is_err());
    }

    #[test]
    fn pool_ids_are_checked_for_shape() {
        assert_eq!(
            check_pool_id(" us-east-1_AbC123xyz\n").unwrap(),
            "us-east-1_AbC123xyz"
        );
        assert_eq!(pool_region("eu-west-2_x1"), "eu-west-2");
        for bad in [
            "",
            "us-east-1",
            "us-east-1_",
            "_abc",
            "us-east-1_a-b",
            "us east-1_abc",
            &format!("us-east-1_{}", "a".repeat(50)),
        ] {
            let err = check_pool_id(bad).unwrap_err();
            assert_eq!(crate::error::exit_code(&err), 2, "{bad}");
            assert!(
                format!("{err}").contains("--user-pool-id/AWS_COGNITO_USER_POOL_ID"),
                "{err}"
            );
        }
    }
}
