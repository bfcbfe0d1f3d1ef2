//! cruddur-db: the Cruddur project's database tool, as a library. The binary in `main.rs`
//! only parses the command line and calls [`run`].
//!
//! The public modules are the ones programs and tests build on: the app's writes and reads
//! ([`app`]), target resolution ([`target`]), where passwords come from ([`creds`]), the
//! connection pool ([`pg`]), the public-IP lookup ([`ip`]), the command line ([`cli`]) and
//! exit codes ([`error`]).

pub mod app;
pub mod catalog;
pub mod cli;
pub mod copy;
pub mod creds;
pub mod dburl;
pub mod env;
pub mod error;
pub mod ip;
pub mod load;
pub mod migrate;
pub mod pg;
pub mod sql;
pub mod target;

mod audit;
mod aws;
mod commands;
mod files;
mod lifecycle;
mod mask;
mod protect;
mod signals;
mod snapshot;
mod sync;
mod tls;
mod ui;

pub use commands::run;
pub use ui::set_colour;

/// Prints an error once, on stderr, with its whole cause chain.
pub fn print_error(err: &anyhow::Error) {
    ui::error(&format!("{err:#}"));
}
