//! The app's validation rules and the errors a caller may want to tell apart, with their
//! texts for people.

use std::fmt;

use deadpool_postgres::PoolError;
use serde::{Deserialize, Serialize};

/// A validation rule, named by the app's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The message is empty.
    MessageBlank,
    /// The message is longer than [`super::MESSAGE_MAX_CHARS`] characters.
    MessageExceedMaxChars,
    /// No ttl was given.
    TtlBlank,
    /// The ttl is not one of the app's seven values. NOTE: the app reported this as
    /// `ttl_blank` too; a separate code says what is actually wrong.
    TtlInvalid,
    /// The handle is blank.
    UserHandleBlank,
    /// The user's display name (Cognito `name`) is blank.
    UserDisplayNameBlank,
    /// The user's email is blank.
    UserEmailBlank,
    /// The user's email is not of the form `local@domain`.
    UserEmailInvalid,
}

impl Rule {
    /// The app's error code, e.g. `message_exceed_max_chars`.
    pub fn code(self) -> &'static str {
        match self {
            Rule::MessageBlank => "message_blank",
            Rule::MessageExceedMaxChars => "message_exceed_max_chars",
            Rule::TtlBlank => "ttl_blank",
            Rule::TtlInvalid => "ttl_invalid",
            Rule::UserHandleBlank => "user_handle_blank",
            Rule::UserDisplayNameBlank => "user_display_name_blank",
            Rule::UserEmailBlank => "user_email_blank",
            Rule::UserEmailInvalid => "user_email_invalid",
        }
    }
}

/// One failed rule: the app's code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: Rule,
    pub message: String,
}

impl Violation {
    pub fn new(rule: Rule, message: impl Into<String>) -> Violation {
        Violation {
            rule,
            message: message.into(),
        }
    }

    /// The app's error code.
    pub fn code(&self) -> &'static str {
        self.rule.code()
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)
    }
}

/// The errors a caller may want to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input broke one or more rules; every broken rule is listed. Nothing was written.
    #[error("{}", validation_text(.0))]
    Validation(Vec<Violation>),

    /// No user has this handle. Nothing was written.
    #[error("{}", unknown_handle_text(handle, suggestions))]
    UnknownHandle {
        handle: String,
        /// The closest existing handles, best first (at most three).
        suggestions: Vec<String>,
    },

    /// The new user's handle, email or Cognito user id is already taken; each field that
    /// collides is `Some` (any combination). Nothing was written.
    #[error("{}", duplicate_text(handle, email, cognito_user_id))]
    Duplicate {
        handle: Option<String>,
        email: Option<String>,
        cognito_user_id: Option<String>,
    },

    /// A Cognito event that does not carry what a user needs.
    #[error("{0}")]
    InvalidEvent(String),

    /// Several cruds were being posted and one failed: `written` were written before the
    /// rest stopped.
    #[error("stopped after posting {written} of {requested} cruds")]
    Stopped {
        written: u64,
        requested: u64,
        #[source]
        source: Box<Error>,
    },

    /// The database refused or failed (the server's message, detail and hint).
    // NOTE: not a `#[source]`: the text already holds the whole cause, and `{:#}` would
    // print it twice.
    #[error("{}", crate::pg::describe(.0))]
    Db(tokio_postgres::Error),

    /// No connection could be had from the pool.
    #[error("could not get a database connection: {}", pool_text(.0))]
    Pool(PoolError),
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Error {
        Error::Db(e)
    }
}

impl From<PoolError> for Error {
    fn from(e: PoolError) -> Error {
        Error::Pool(e)
    }
}

impl Error {
    /// The kind of the error, for the exit code (README: 2 for input that breaks the app's
    /// rules, 1 for a database failure). NOTE: the command layer tags the app's errors with
    /// it; the error module does not know the app.
    pub fn kind(&self) -> crate::error::ErrorKind {
        match self {
            Error::Validation(_) | Error::InvalidEvent(_) => crate::error::ErrorKind::Usage,
            _ => crate::error::ErrorKind::Failed,
        }
    }

    /// The violated rules' codes, in order (empty unless [`Error::Validation`]).
    pub fn codes(&self) -> Vec<&'static str> {
        match self {
            Error::Validation(v) => v.iter().map(Violation::code).collect(),
            _ => Vec::new(),
        }
    }
}

/// The pool's error with the server's own message (deadpool's text alone says only "db
/// error"), and the fix when the server is out of connection slots.
fn pool_text(err: &PoolError) -> String {
    match err {
        PoolError::Backend(e) => crate::pg::describe(e) + &crate::pg::slots_hint(e),
        other => other.to_string(),
    }
}

fn validation_text(violations: &[Violation]) -> String {
    let mut s = match violations.len() {
        1 => "1 rule failed; nothing was written:".to_string(),
        n => format!("{n} rules failed; nothing was written:"),
    };
    for v in violations {
        s.push_str(&format!("\n  {v}"));
    }
    s
}

fn unknown_handle_text(handle: &str, suggestions: &[String]) -> String {
    let mut s = format!("no user has the handle {handle:?}; nothing was written");
    s.push_str(&suggestion_text(suggestions));
    s
}

/// `; did you mean "x"?` for a list of suggested handles (or how to find one).
pub fn suggestion_text(suggestions: &[String]) -> String {
    let mut s = String::new();
    match suggestions {
        [] => s.push_str(
            "; list the users with `cruddur-db users` or add one with `cruddur-db add-user`",
        ),
        [one] => s.push_str(&format!("; did you mean {one:?}?")),
        many => {
            let quoted: Vec<String> = many.iter().map(|h| format!("{h:?}")).collect();
            s.push_str(&format!("; did you mean one of {}?", quoted.join(", ")));
        }
    }
    s
}

fn duplicate_text(
    handle: &Option<String>,
    email: &Option<String>,
    cognito_user_id: &Option<String>,
) -> String {
    let mut parts = Vec::new();
    if let Some(h) = handle {
        parts.push(format!("the handle {h:?} is already taken"));
    }
    if let Some(e) = email {
        parts.push(format!("the email {e:?} is already used by another user"));
    }
    if let Some(c) = cognito_user_id {
        parts.push(format!(
            "the Cognito user id {c:?} already belongs to another user"
        ));
    }
    if parts.is_empty() {
        // BUG: a Duplicate always names at least one field; say something useful anyway.
        parts.push("the user already exists".to_string());
    }
    format!("{}; nothing was written", parts.join(", and "))
}
