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

mod activity;
mod rules;
mod suggest;
mod ttl;
mod user;

pub use activity::{
    create_activities, create_activity, insert_activity, render_message, Activity, Batch,
    NewActivity,
};
pub use rules::{suggestion_text, Error, Rule, Violation};
pub use suggest::{closest_handles, require_handle, suggest_handles};
pub use ttl::{Ttl, MESSAGE_MAX_CHARS};
pub use user::{add_user, list_users, NewUser, User, UserSummary};
