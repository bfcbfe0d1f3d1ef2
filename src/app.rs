//! The Cruddur app's own writes and reads as library functions that take a pool: post a crud
//! (an activity) with the app's validation, add a user as the Cognito post-confirmation Lambda
//! did, and list users with their number of activities.
//!
//! ```no_run
//! # async fn demo(pool: &deadpool_postgres::Pool) -> Result<(), cruddur_db::app::Error> {
//! use cruddur_db::app::{self, Ttl};
//! let activity = app::create_activity(pool, "andrewbrown", "Hello, Cruddur!", Ttl::Days7).await?;
//! println!("{} expires at {}", activity.uuid, activity.expires_at);
//! # Ok(()) }
//! ```

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::NaiveDateTime;
use deadpool_postgres::{GenericClient, Object, Pool, PoolError};
use serde::{Deserialize, Serialize};
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;
use uuid::Uuid;

/// The longest message the app accepts, in characters (Unicode scalar values, not bytes).
pub const MESSAGE_MAX_CHARS: usize = 280;

/// How long a crud lives: the app's seven choices. The default is seven days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Ttl {
    #[serde(rename = "30-days")]
    Days30,
    #[default]
    #[serde(rename = "7-days")]
    Days7,
    #[serde(rename = "3-days")]
    Days3,
    #[serde(rename = "1-day")]
    Day1,
    #[serde(rename = "12-hours")]
    Hours12,
    #[serde(rename = "3-hours")]
    Hours3,
    #[serde(rename = "1-hour")]
    Hour1,
}

impl Ttl {
    /// Every value, longest first, as the app's form lists them.
    pub const ALL: [Ttl; 7] = [
        Ttl::Days30,
        Ttl::Days7,
        Ttl::Days3,
        Ttl::Day1,
        Ttl::Hours12,
        Ttl::Hours3,
        Ttl::Hour1,
    ];

    /// The app's spelling: `7-days`, `1-hour`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Ttl::Days30 => "30-days",
            Ttl::Days7 => "7-days",
            Ttl::Days3 => "3-days",
            Ttl::Day1 => "1-day",
            Ttl::Hours12 => "12-hours",
            Ttl::Hours3 => "3-hours",
            Ttl::Hour1 => "1-hour",
        }
    }

    /// The PostgreSQL interval that is added to the database's clock.
    pub fn interval(self) -> &'static str {
        match self {
            Ttl::Days30 => "30 days",
            Ttl::Days7 => "7 days",
            Ttl::Days3 => "3 days",
            Ttl::Day1 => "1 day",
            Ttl::Hours12 => "12 hours",
            Ttl::Hours3 => "3 hours",
            Ttl::Hour1 => "1 hour",
        }
    }

    /// The same length as a duration.
    pub fn duration(self) -> chrono::TimeDelta {
        match self {
            Ttl::Days30 => chrono::TimeDelta::days(30),
            Ttl::Days7 => chrono::TimeDelta::days(7),
            Ttl::Days3 => chrono::TimeDelta::days(3),
            Ttl::Day1 => chrono::TimeDelta::days(1),
            Ttl::Hours12 => chrono::TimeDelta::hours(12),
            Ttl::Hours3 => chrono::TimeDelta::hours(3),
            Ttl::Hour1 => chrono::TimeDelta::hours(1),
        }
    }

    fn choices() -> String {
        Ttl::ALL.map(Ttl::as_str).join(", ")
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Ttl {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl FromStr for Ttl {
    type Err = Violation;

    /// Exactly the app's spellings. Blank is `ttl_blank`; anything else is `ttl_invalid`.
    fn from_str(s: &str) -> Result<Ttl, Violation> {
        if s.trim().is_empty() {
            return Err(Violation::new(
                Rule::TtlBlank,
                format!("ttl is blank; choose one of {}", Ttl::choices()),
            ));
        }
        Ttl::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                Violation::new(
                    Rule::TtlInvalid,
                    format!("ttl {s:?} is not one of {}", Ttl::choices()),
                )
            })
    }
}

/// A validation rule, named by the app's error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The message is empty.
    MessageBlank,
    /// The message is longer than [`MESSAGE_MAX_CHARS`] characters.
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
    #[error("could not get a database connection: {0}")]
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
    /// The violated rules' codes, in order (empty unless [`Error::Validation`]).
    pub fn codes(&self) -> Vec<&'static str> {
        match self {
            Error::Validation(v) => v.iter().map(Violation::code).collect(),
            _ => Vec::new(),
        }
    }

    /// The command line's exit code for this error: 2 (usage) for input that breaks the
    /// rules, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Validation(_) | Error::InvalidEvent(_) => crate::error::exit::USAGE,
            _ => crate::error::exit::FAILED,
        }
    }

    /// This error for `main`, carrying its exit code.
    pub fn into_cli(self) -> anyhow::Error {
        match self.exit_code() {
            crate::error::exit::FAILED => anyhow::Error::new(self),
            code => crate::error::coded(code, self.to_string()),
        }
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

// ---------------------------------------------------------------------------------------
// Activities ("cruds")
// ---------------------------------------------------------------------------------------

/// A crud as the app's object query returns it (`activities/object.sql`): the activity
/// joined with its user's display name and handle. Timestamps are `timestamp` (no time
/// zone) like the schema's columns; serialized as ISO 8601 like `row_to_json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub uuid: Uuid,
    pub display_name: String,
    pub handle: String,
    pub message: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// A crud that passed validation and can be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    handle: String,
    message: String,
    ttl: Ttl,
}

impl NewActivity {
    /// Checks the app's rules and reports every broken one at once: handle not blank, ttl
    /// one of [`Ttl::ALL`], message 1 to 280 characters (Unicode scalar values, not bytes).
    pub fn new(handle: &str, message: &str, ttl: &str) -> Result<NewActivity, Error> {
        let ttl = validate(handle, message, ttl, None)?;
        Ok(NewActivity {
            handle: handle.trim().to_string(),
            message: message.to_string(),
            ttl,
        })
    }

    pub fn handle(&self) -> &str {
        &self.handle
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn ttl(&self) -> Ttl {
        self.ttl
    }
}

/// Many cruds by one user: `{n}` in the message becomes 1, 2, ... `count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    handle: String,
    template: String,
    ttl: Ttl,
    count: u64,
}

/// What a batch's message says for number `n`.
pub fn render_message(template: &str, n: u64) -> String {
    if template.contains("{n}") {
        template.replace("{n}", &n.to_string())
    } else {
        template.to_string()
    }
}

impl Batch {
    /// Validates like [`NewActivity::new`]; the length rule is checked on the longest message
    /// (the one numbered `count`), so every message of the batch passes.
    pub fn new(handle: &str, template: &str, ttl: &str, count: u64) -> Result<Batch, Error> {
        let longest = render_message(template, count);
        let note = (longest != template).then(|| format!("with {{n}} = {count}"));
        let ttl = validate(handle, &longest, ttl, note.as_deref())?;
        Ok(Batch {
            handle: handle.trim().to_string(),
            template: template.to_string(),
            ttl,
            count,
        })
    }

    pub fn handle(&self) -> &str {
        &self.handle
    }

    pub fn ttl(&self) -> Ttl {
        self.ttl
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The message of crud number `n` (1-based).
    pub fn message(&self, n: u64) -> String {
        render_message(&self.template, n)
    }
}

/// The rules of the app's CreateActivity service, all checked, in the order the issue lists
/// their codes. `note` qualifies the length sentence (for batches).
fn validate(handle: &str, message: &str, ttl: &str, note: Option<&str>) -> Result<Ttl, Error> {
    let mut violations = Vec::new();
    // NOTE: like the app (`len(message) < 1`) and the schema's CHECK, a message of spaces is
    // not blank; only an empty one is.
    let chars = message.chars().count();
    if chars == 0 {
        violations.push(Violation::new(
            Rule::MessageBlank,
            format!("message is blank; it needs 1 to {MESSAGE_MAX_CHARS} characters"),
        ));
    } else if chars > MESSAGE_MAX_CHARS {
        let with = note.map(|n| format!(" ({n})")).unwrap_or_default();
        violations.push(Violation::new(
            Rule::MessageExceedMaxChars,
            format!("message is {chars} characters{with}; the limit is {MESSAGE_MAX_CHARS}"),
        ));
    }
    let ttl = match ttl.parse::<Ttl>() {
        Ok(t) => Some(t),
        Err(v) => {
            violations.push(v);
            None
        }
    };
    // NOTE: the schema refuses a handle of only spaces, so no user can have one: blank.
    if handle.trim().is_empty() {
        violations.push(Violation::new(Rule::UserHandleBlank, "handle is blank"));
    }
    match ttl {
        Some(t) if violations.is_empty() => Ok(t),
        _ => Err(Error::Validation(violations)),
    }
}

/// The app's create (insert, returning the new uuid) and object query (join users) in one
/// statement, so a crud is one round trip. `expires_at` is computed from the database's
/// clock in the same statement as `created_at`'s default, both as `timestamp` in the
/// session's time zone, so `expires_at - created_at` is exactly the ttl. When no user has
/// the handle nothing is inserted and no row comes back.
const CREATE_SQL: &str = "\
WITH author AS (
  SELECT users.uuid FROM public.users WHERE users.handle = $1 LIMIT 1
), activity AS (
  INSERT INTO public.activities (user_uuid, message, expires_at)
  SELECT author.uuid, $2, localtimestamp + CAST($3::text AS interval) FROM author
  RETURNING uuid, user_uuid, message, created_at, expires_at
)
SELECT activity.uuid, users.display_name, users.handle, activity.message,
       activity.created_at, activity.expires_at
FROM activity
INNER JOIN public.users ON users.uuid = activity.user_uuid";

fn activity_from_row(row: &Row) -> Activity {
    Activity {
        uuid: row.get(0),
        display_name: row.get(1),
        handle: row.get(2),
        message: row.get(3),
        created_at: row.get(4),
        expires_at: row.get(5),
    }
}

/// Inserts one crud on a connection (statement prepared once per connection); `None` when
/// no user has the handle.
async fn insert_on(
    client: &Object,
    handle: &str,
    message: &str,
    ttl: Ttl,
) -> Result<Option<Activity>, Error> {
    let stmt = client.prepare_cached(CREATE_SQL).await?;
    let row = client
        .query_opt(&stmt, &[&handle, &message, &ttl.interval()])
        .await?;
    Ok(row.as_ref().map(activity_from_row))
}

/// Validates and posts one crud as `handle`, returning it as the app's object query does.
/// `ttl` is the app's spelling (`"7-days"`) or a [`Ttl`].
pub async fn create_activity(
    pool: &Pool,
    handle: &str,
    message: &str,
    ttl: impl AsRef<str>,
) -> Result<Activity, Error> {
    let new = NewActivity::new(handle, message, ttl.as_ref())?;
    insert_activity(pool, &new).await
}

/// Posts a crud that already passed validation.
pub async fn insert_activity(pool: &Pool, new: &NewActivity) -> Result<Activity, Error> {
    let client = pool.get().await?;
    match insert_on(&client, &new.handle, &new.message, new.ttl).await? {
        Some(a) => Ok(a),
        None => Err(unknown_handle(&client, &new.handle).await),
    }
}

/// Posts a batch with up to `concurrency` connections at once (each prepares the statement
/// once and posts one crud per round trip). `on_written` is called after every crud. The
/// first failure stops new work; crud already in flight finish, and the error says how many
/// were written. Returns the number written (`batch.count()`).
pub async fn create_activities(
    pool: &Pool,
    batch: &Batch,
    concurrency: usize,
    on_written: &(dyn Fn(u64) + Sync),
) -> Result<u64, Error> {
    // One look-up for the whole batch, so an unknown handle fails before any work.
    require_handle(pool, &batch.handle).await?;
    let next = AtomicU64::new(1);
    let written = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let workers = concurrency
        .max(1)
        .min(pool.status().max_size.max(1))
        .min(usize::try_from(batch.count).unwrap_or(usize::MAX));
    let worker = || async {
        let client = match pool.get().await {
            Ok(c) => c,
            Err(e) => {
                stop.store(true, Ordering::SeqCst);
                return Err(Error::from(e));
            }
        };
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            let n = next.fetch_add(1, Ordering::SeqCst);
            if n > batch.count {
                return Ok(());
            }
            let message = batch.message(n);
            match insert_on(&client, &batch.handle, &message, batch.ttl).await {
                Ok(Some(_)) => {
                    written.fetch_add(1, Ordering::SeqCst);
                    on_written(1);
                }
                Ok(None) => {
                    stop.store(true, Ordering::SeqCst);
                    return Err(unknown_handle(&client, &batch.handle).await);
                }
                Err(e) => {
                    stop.store(true, Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
    };
    let results = futures_util::future::join_all((0..workers).map(|_| worker())).await;
    let written = written.load(Ordering::SeqCst);
    match results.into_iter().find_map(Result::err) {
        None => Ok(written),
        Some(err) => Err(Error::Stopped {
            written,
            requested: batch.count,
            source: Box::new(err),
        }),
    }
}

/// Succeeds when a user has `handle`; else [`Error::UnknownHandle`] with suggestions.
pub async fn require_handle(pool: &Pool, handle: &str) -> Result<(), Error> {
    let client = pool.get().await?;
    let found = client
        .query_opt(
            "SELECT 1 FROM public.users WHERE handle = $1 LIMIT 1",
            &[&handle],
        )
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(unknown_handle(&client, handle).await),
    }
}

/// The error for a handle no user has, with the closest existing handles.
async fn unknown_handle(client: &impl GenericClient, handle: &str) -> Error {
    // NOTE: a failure to find suggestions must not hide the real error.
    let suggestions = suggest_handles(client, handle).await.unwrap_or_default();
    Error::UnknownHandle {
        handle: handle.to_string(),
        suggestions,
    }
}

/// The existing handles closest to `handle`, best first.
pub async fn suggest_handles(
    client: &impl GenericClient,
    handle: &str,
) -> Result<Vec<String>, Error> {
    let rows = client.query("SELECT handle FROM public.users", &[]).await?;
    let known: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    Ok(closest_handles(handle, known.iter().map(String::as_str)))
}

/// At most three of `known` that look like `handle` (case-insensitive Jaro-Winkler, with a
/// boost when one contains the other), best first.
pub fn closest_handles<'a>(handle: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let wanted = handle.trim().to_lowercase();
    if wanted.is_empty() {
        return Vec::new();
    }
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .filter_map(|k| {
            let lower = k.to_lowercase();
            let mut score = strsim::jaro_winkler(&wanted, &lower);
            if lower.contains(&wanted) || wanted.contains(&lower) {
                score = score.max(0.85);
            }
            (score >= 0.75).then_some((score, k))
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, k)| k.to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

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

    fn codes(r: Result<NewActivity, Error>) -> Vec<&'static str> {
        r.unwrap_err().codes()
    }

    #[test]
    fn ttl_spellings_round_trip() {
        for t in Ttl::ALL {
            assert_eq!(t.as_str().parse::<Ttl>().unwrap(), t);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
        assert_eq!(Ttl::default(), Ttl::Days7);
        assert_eq!(Ttl::Hours12.duration(), chrono::TimeDelta::hours(12));
        assert_eq!("".parse::<Ttl>().unwrap_err().rule, Rule::TtlBlank);
        assert_eq!("  ".parse::<Ttl>().unwrap_err().rule, Rule::TtlBlank);
        let v = "2-days".parse::<Ttl>().unwrap_err();
        assert_eq!(v.rule, Rule::TtlInvalid);
        assert!(v
            .message
            .contains("30-days, 7-days, 3-days, 1-day, 12-hours, 3-hours, 1-hour"));
        assert_eq!("7-Days".parse::<Ttl>().unwrap_err().rule, Rule::TtlInvalid);
    }

    #[test]
    fn each_rule_alone() {
        assert_eq!(
            codes(NewActivity::new("a", "", "7-days")),
            ["message_blank"]
        );
        assert_eq!(
            codes(NewActivity::new("a", &"x".repeat(281), "7-days")),
            ["message_exceed_max_chars"]
        );
        assert_eq!(codes(NewActivity::new("a", "hi", "")), ["ttl_blank"]);
        assert_eq!(
            codes(NewActivity::new("a", "hi", "forever")),
            ["ttl_invalid"]
        );
        assert_eq!(
            codes(NewActivity::new(" ", "hi", "1-hour")),
            ["user_handle_blank"]
        );
    }

    #[test]
    fn all_rules_at_once() {
        let err = NewActivity::new("", &"é".repeat(301), "").unwrap_err();
        assert_eq!(
            err.codes(),
            ["message_exceed_max_chars", "ttl_blank", "user_handle_blank"]
        );
        let text = err.to_string();
        assert!(text.contains("3 rules failed"), "{text}");
        assert!(
            text.contains("message_exceed_max_chars: message is 301 characters; the limit is 280"),
            "{text}"
        );
        assert_eq!(
            codes(NewActivity::new("", "", "9-days")),
            ["message_blank", "ttl_invalid", "user_handle_blank"]
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let ok = "😀".repeat(280);
        assert_eq!(ok.len(), 1120);
        let new = NewActivity::new("andrewbrown", &ok, "1-day").unwrap();
        assert_eq!(new.message(), ok);
        assert_eq!(new.ttl(), Ttl::Day1);
        assert_eq!(
            codes(NewActivity::new("andrewbrown", &"😀".repeat(281), "1-day")),
            ["message_exceed_max_chars"]
        );
        // Spaces are characters, as in the app.
        assert!(NewActivity::new("andrewbrown", " ", "1-day").is_ok());
    }

    #[test]
    fn batch_checks_the_longest_message() {
        let b = Batch::new("andrewbrown", "crud {n} of many", "3-hours", 200).unwrap();
        assert_eq!(b.message(1), "crud 1 of many");
        assert_eq!(b.message(200), "crud 200 of many");
        // 278 characters plus "{n}" fits for n = 9 but not for n = 10.
        let t = format!("{}{{n}}", "x".repeat(279));
        assert!(Batch::new("a", &t, "1-hour", 9).is_ok());
        let err = Batch::new("a", &t, "1-hour", 10).unwrap_err();
        assert!(
            err.to_string()
                .contains("message is 281 characters (with {n} = 10); the limit is 280"),
            "{err}"
        );
        assert_eq!(render_message("no placeholder", 5), "no placeholder");
    }

    #[test]
    fn suggestions_are_close_handles() {
        let known = ["andrewbrown", "bayko", "londo"];
        assert_eq!(closest_handles("andrewbrwn", known), ["andrewbrown"]);
        assert_eq!(closest_handles("AndrewBrown", known), ["andrewbrown"]);
        assert_eq!(closest_handles("andrew", known), ["andrewbrown"]);
        assert_eq!(closest_handles("bayco", known), ["bayko"]);
        assert!(closest_handles("zzzzqq", known).is_empty());
        assert!(closest_handles("", known).is_empty());
    }

    #[test]
    fn unknown_handle_message_names_suggestions() {
        let e = Error::UnknownHandle {
            handle: "andrw".into(),
            suggestions: vec!["andrewbrown".into()],
        };
        assert!(
            e.to_string().contains("did you mean \"andrewbrown\"?"),
            "{e}"
        );
        let e = Error::UnknownHandle {
            handle: "q".into(),
            suggestions: vec![],
        };
        assert!(e.to_string().contains("cruddur-db users"), "{e}");
    }

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
