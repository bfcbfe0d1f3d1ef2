//! Activities ("cruds"): validation, the one-round-trip insert and the concurrent batch
//! writer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::NaiveDateTime;
use deadpool_postgres::{Object, Pool};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use uuid::Uuid;

use super::rules::{Error, Rule, Violation};
use super::suggest::{require_handle, unknown_handle};
use super::ttl::{Ttl, MESSAGE_MAX_CHARS};

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

/// Many cruds by one user: `{n}` (or `{N}`) in the message becomes 1, 2, ... `count`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    handle: String,
    template: String,
    ttl: Ttl,
    count: u64,
}

/// What a batch's message says for number `n`.
/// NOTE: `{N}` too, because clap turns `{n}` into a line break in `--help`, so the help text
/// can only show the upper-case spelling.
pub fn render_message(template: &str, n: u64) -> String {
    if template.contains("{n}") || template.contains("{N}") {
        let n = n.to_string();
        template.replace("{n}", &n).replace("{N}", &n)
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
#[cfg(test)]
mod tests {
    use super::*;

    fn codes(r: Result<NewActivity, Error>) -> Vec<&'static str> {
        r.unwrap_err().codes()
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
}
