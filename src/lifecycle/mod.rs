//! The life of a target database, along its seams: [`admin`] creates and drops it and lists
//! who holds it open; [`loading`] reads SQL scripts and loads them under a lock; [`workflow`]
//! chains those steps (`setup`, `reset`) on the ONE target resolved at the start; [`history`]
//! says what a schema load does to the migration history. The commands call this; it takes
//! parsed scripts and plain values, never clap types.

pub mod admin;
pub mod history;
pub mod loading;
pub mod workflow;

/// The built-in schema, from `sql/schema.sql`.
pub const SCHEMA_SQL: &str = include_str!("../../sql/schema.sql");
/// The built-in seed data, from `sql/seed.sql`.
pub const SEED_SQL: &str = include_str!("../../sql/seed.sql");

/// The tables of the built-in schema that the built-in seed and the app's commands use.
pub const SCHEMA_TABLES: &[&str] = &["public.users", "public.activities"];
