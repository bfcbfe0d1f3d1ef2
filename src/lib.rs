//! cruddur-db: the Cruddur project's database tool, as a library. The binary in `main.rs`
//! only parses the command line and calls [`commands::run`].

pub mod app;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod error;
pub mod ip;
pub mod load;
pub mod migrate;
pub mod pg;
pub mod protect;
pub mod sql;
pub mod target;
pub mod tls;
pub mod ui;
