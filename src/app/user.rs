//! Users: what the Cognito post-confirmation Lambda inserted, its validation, and the list
//! of users with their number of activities.

use chrono::NaiveDateTime;
use deadpool_postgres::{GenericClient, Pool};
use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::rules::{Error, Rule, Violation};

/// A user to add: what the Cognito post-confirmation Lambda inserted (name→display_name,
/// email, preferred_username→handle, sub→cognito_user_id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub display_name: String,
    pub email: String,
    pub handle: String,
    pub cognito_user_id: Option<String>,
}

impl NewUser {
    /// Reads `request.userAttributes` of a Cognito post-confirmation event. Every missing
    /// attribute is named at once; `sub` may be missing (no Cognito id).
    pub fn from_cognito_event(event: &serde_json::Value) -> Result<NewUser, Error> {
        let Some(attrs) = event
            .pointer("/request/userAttributes")
            .and_then(|a| a.as_object())
        else {
            return Err(Error::InvalidEvent(
                "the event has no request.userAttributes object; is it a Cognito \
                 post-confirmation event?"
                    .to_string(),
            ));
        };
        let get = |k: &str| attrs.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let missing: Vec<String> = ["name", "email", "preferred_username"]
            .into_iter()
            .filter(|k| get(k).is_none())
            .map(|k| format!("request.userAttributes.{k}"))
            .collect();
        if !missing.is_empty() {
            return Err(Error::InvalidEvent(format!(
                "the Cognito event lacks {} (a string each)",
                missing.join(", ")
            )));
        }
        Ok(NewUser {
            display_name: get("name").unwrap_or_default(),
            email: get("email").unwrap_or_default(),
            handle: get("preferred_username").unwrap_or_default(),
            cognito_user_id: get("sub"),
        })
    }

    /// The user trimmed of surrounding spaces (an empty Cognito id becomes none), or every
    /// broken rule: display name, email and handle not blank, email of the form
    /// `local@domain`.
    pub fn validated(&self) -> Result<NewUser, Error> {
        let user = NewUser {
            display_name: self.display_name.trim().to_string(),
            email: self.email.trim().to_string(),
            handle: self.handle.trim().to_string(),
            cognito_user_id: self
                .cognito_user_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        };
        let mut violations = Vec::new();
        if user.display_name.is_empty() {
            violations.push(Violation::new(
                Rule::UserDisplayNameBlank,
                "display name is blank",
            ));
        }
        if user.email.is_empty() {
            violations.push(Violation::new(Rule::UserEmailBlank, "email is blank"));
        } else if !email_looks_valid(&user.email) {
            violations.push(Violation::new(
                Rule::UserEmailInvalid,
                format!("email {:?} is not of the form name@domain", user.email),
            ));
        }
        if user.handle.is_empty() {
            violations.push(Violation::new(Rule::UserHandleBlank, "handle is blank"));
        }
        if violations.is_empty() {
            Ok(user)
        } else {
            Err(Error::Validation(violations))
        }
    }
}

fn email_looks_valid(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// A row of `public.users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub uuid: Uuid,
    pub display_name: String,
    pub email: String,
    pub handle: String,
    pub cognito_user_id: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A user with the number of activities they posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub uuid: Uuid,
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub cognito_user_id: Option<String>,
    pub activities_count: i64,
    pub created_at: NaiveDateTime,
}

/// Adds a user (validated first). A taken handle, email or Cognito id is
/// [`Error::Duplicate`] naming every field that collides; nothing is written then.
pub async fn add_user(pool: &Pool, user: NewUser) -> Result<User, Error> {
    let user = user.validated()?;
    let client = pool.get().await?;
    let inserted = client
        .query_one(
            "INSERT INTO public.users (display_name, email, handle, cognito_user_id) \
             VALUES ($1, $2, $3, $4) \
             RETURNING uuid, display_name, email, handle, cognito_user_id, created_at",
            &[
                &user.display_name,
                &user.email,
                &user.handle,
                &user.cognito_user_id,
            ],
        )
        .await;
    match inserted {
        Ok(row) => Ok(User {
            uuid: row.get(0),
            display_name: row.get(1),
            email: row.get(2),
            handle: row.get(3),
            cognito_user_id: row.get(4),
            created_at: row.get(5),
        }),
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            Err(duplicate(&client, &user, &e).await)
        }
        Err(e) => Err(e.into()),
    }
}

/// Which of the new user's unique fields are taken. The violated constraint names one; a
/// query finds the others, so the error names them all.
async fn duplicate(
    client: &impl GenericClient,
    user: &NewUser,
    err: &tokio_postgres::Error,
) -> Error {
    let found = client
        .query_one(
            "SELECT coalesce(bool_or(handle = $1), false), coalesce(bool_or(email = $2), false), \
                    coalesce(bool_or(cognito_user_id = $3), false) \
             FROM public.users WHERE handle = $1 OR email = $2 OR cognito_user_id = $3",
            &[&user.handle, &user.email, &user.cognito_user_id],
        )
        .await;
    let (mut handle, mut email, mut cognito) = match found {
        Ok(row) => (row.get(0), row.get(1), row.get(2)),
        Err(_) => (false, false, false),
    };
    if !(handle || email || cognito) {
        // The other row went away meanwhile: the constraint is all we know.
        let constraint = err
            .as_db_error()
            .and_then(|d| d.constraint())
            .unwrap_or_default();
        handle = constraint.contains("handle");
        email = constraint.contains("email");
        cognito = constraint.contains("cognito");
    }
    Error::Duplicate {
        handle: handle.then(|| user.handle.clone()),
        email: email.then(|| user.email.clone()),
        cognito_user_id: if cognito {
            user.cognito_user_id.clone()
        } else {
            None
        },
    }
}

/// Every user (or the one with `handle`), by handle, with their number of activities.
pub async fn list_users(pool: &Pool, handle: Option<&str>) -> Result<Vec<UserSummary>, Error> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT users.uuid, users.handle, users.display_name, users.email, \
                    users.cognito_user_id, count(activities.uuid), users.created_at \
             FROM public.users \
             LEFT JOIN public.activities ON activities.user_uuid = users.uuid \
             WHERE $1::text IS NULL OR users.handle = $1 \
             GROUP BY users.uuid \
             ORDER BY users.handle",
            &[&handle],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| UserSummary {
            uuid: r.get(0),
            handle: r.get(1),
            display_name: r.get(2),
            email: r.get(3),
            cognito_user_id: r.get(4),
            activities_count: r.get(5),
            created_at: r.get(6),
        })
        .collect())
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cognito_event_maps_attributes() {
        let event = serde_json::json!({
            "triggerSource": "PostConfirmation_ConfirmSignUp",
            "request": {"userAttributes": {
                "sub": "0b5c...", "email_verified": "true", "name": "Andrew Brown",
                "preferred_username": "andrewbrown", "email": "andrew@example.com"
            }},
            "response": {}
        });
        let u = NewUser::from_cognito_event(&event).unwrap();
        assert_eq!(
            u,
            NewUser {
                display_name: "Andrew Brown".into(),
                email: "andrew@example.com".into(),
                handle: "andrewbrown".into(),
                cognito_user_id: Some("0b5c...".into()),
            }
        );
        let err = NewUser::from_cognito_event(
            &serde_json::json!({"request": {"userAttributes": {"name": "x"}}}),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(
                "request.userAttributes.email, request.userAttributes.preferred_username"
            ),
            "{text}"
        );
        assert!(matches!(
            NewUser::from_cognito_event(&serde_json::json!({"detail": {}})),
            Err(Error::InvalidEvent(_))
        ));
    }

    #[test]
    fn new_user_rules_all_at_once() {
        let err = NewUser {
            display_name: " ".into(),
            email: "nobody".into(),
            handle: "".into(),
            cognito_user_id: None,
        }
        .validated()
        .unwrap_err();
        assert_eq!(
            err.codes(),
            [
                "user_display_name_blank",
                "user_email_invalid",
                "user_handle_blank"
            ]
        );
        let ok = NewUser {
            display_name: " Andrew ".into(),
            email: "a@b.c".into(),
            handle: "andrew ".into(),
            cognito_user_id: Some(" ".into()),
        }
        .validated()
        .unwrap();
        assert_eq!(
            (
                ok.display_name.as_str(),
                ok.handle.as_str(),
                ok.cognito_user_id
            ),
            ("Andrew", "andrew", None)
        );
        for bad in ["@b.c", "a@", "a@@b", "a b@c"] {
            assert!(!email_looks_valid(bad), "{bad}");
        }
        assert!(NewUser::default()
            .validated()
            .unwrap_err()
            .codes()
            .contains(&"user_email_blank"));
    }

    #[test]
    fn duplicate_names_every_field() {
        let e = Error::Duplicate {
            handle: Some("bayko".into()),
            email: Some("bayko@exampro.co".into()),
            cognito_user_id: None,
        };
        let text = e.to_string();
        assert!(text.contains("handle \"bayko\" is already taken"), "{text}");
        assert!(text.contains("email \"bayko@exampro.co\""), "{text}");
        assert!(text.ends_with("nothing was written"), "{text}");
    }
}
