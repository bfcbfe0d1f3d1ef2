//! The Cognito call: every user of a user pool (ListUsers, page after page), with the two
//! attributes the database cares about.

use super::Aws;

/// The most users ListUsers returns in one page (Cognito's maximum).
const PAGE_SIZE: i32 = 60;

/// A user of the pool, as far as the database is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUser {
    /// The Cognito username (for a pool that signs in by email, often the `sub` itself).
    pub username: String,
    /// `preferred_username`, which the app stores as the handle.
    pub preferred_username: Option<String>,
    /// `sub`, the user's immutable id, which the app stores as `cognito_user_id`.
    pub sub: Option<String>,
}

/// Every user of a pool and how many ListUsers calls it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUsers {
    pub users: Vec<PoolUser>,
    /// ListUsers calls made (one per page).
    pub pages: usize,
}

impl Aws {
    /// ListUsers until Cognito sends no PaginationToken, asking only for `preferred_username`
    /// and `sub`. NOTE: the bootcamp's script made one call and so never saw more than the
    /// first page.
    pub async fn list_pool_users(&self, pool_id: &str) -> anyhow::Result<PoolUsers> {
        let pool_region = super::ids::pool_region(pool_id);
        if pool_region != self.region {
            crate::ui::warn(&format!(
                "the user pool {pool_id} is named after region {pool_region}, but the region is \
                 {} (--region, AWS_REGION); Cognito looks for the pool in {}",
                self.region, self.region
            ));
        }
        let mut users = Vec::new();
        let mut pages = 0;
        let mut token: Option<String> = None;
        loop {
            let out = self
                .cognito()
                .list_users()
                .user_pool_id(pool_id)
                .attributes_to_get("preferred_username")
                .attributes_to_get("sub")
                .limit(PAGE_SIZE)
                .set_pagination_token(token.clone())
                .send()
                .await
                .map_err(|e| self.failed(&format!("listing the users of pool {pool_id}"), e))?;
            pages += 1;
            users.extend(out.users().iter().map(PoolUser::from_sdk));
            match out.pagination_token().filter(|t| !t.is_empty()) {
                None => break,
                Some(next) if token.as_deref() == Some(next) => {
                    // A service that hands back the token it was given would loop forever.
                    return Err(crate::error::kinded(
                        crate::error::ErrorKind::Aws,
                        format!(
                            "listing the users of pool {pool_id} failed: Cognito returned the \
                             same PaginationToken twice (after {pages} pages)"
                        ),
                    ));
                }
                Some(next) => token = Some(next.to_string()),
            }
        }
        Ok(PoolUsers { users, pages })
    }
}

impl PoolUser {
    fn from_sdk(u: &aws_sdk_cognitoidentityprovider::types::UserType) -> PoolUser {
        let attr = |name: &str| {
            u.attributes()
                .iter()
                .find(|a| a.name() == name)
                .and_then(|a| a.value())
                .map(str::to_string)
        };
        PoolUser {
            username: u.username().unwrap_or_default().to_string(),
            preferred_username: attr("preferred_username"),
            sub: attr("sub"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cognitoidentityprovider::types::{AttributeType, UserType};

    fn attr(name: &str, value: &str) -> AttributeType {
        AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .unwrap()
    }

    #[test]
    fn pool_user_reads_the_two_attributes() {
        let u = UserType::builder()
            .username("u-1")
            .attributes(attr("sub", "s-1"))
            .attributes(attr("preferred_username", "alice"))
            .attributes(attr("email", "a@example.com"))
            .build();
        assert_eq!(
            PoolUser::from_sdk(&u),
            PoolUser {
                username: "u-1".into(),
                preferred_username: Some("alice".into()),
                sub: Some("s-1".into()),
            }
        );
        let bare = UserType::builder().username("u-2").build();
        assert_eq!(PoolUser::from_sdk(&bare).preferred_username, None);
        assert_eq!(PoolUser::from_sdk(&bare).sub, None);
    }
}
