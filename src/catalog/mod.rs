//! What a database is: the catalog reader ([`read`]) fills a plain model ([`model`]) from
//! `pg_catalog`; [`sql`] turns it into SQL that loads into an empty database (`dump`);
//! `diff` compares two of them. Later work (copy, migration lint) builds on the same reader.

pub mod model;
pub mod read;
pub mod sql;

pub use model::{Catalog, QName};
pub use read::read;
