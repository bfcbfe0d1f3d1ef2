//! The locks a catalog read holds, as pg_dump takes them: `ACCESS SHARE` on every table it
//! reads, so that no other session can drop or alter one (that takes `ACCESS EXCLUSIVE`)
//! until the read-only transaction ends. DDL on a table that started before the lock makes
//! the read wait for it; DDL after the lock waits for the read.

use std::fmt;

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::sql::quote;

/// A table that was dropped between the snapshot and its lock: the read is tried again.
#[derive(Debug)]
pub(crate) struct Dropped(pub String);

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "table {} was dropped while the catalog was read", self.0)
    }
}

impl std::error::Error for Dropped {}

/// The tables a read covers (ordinary and partitioned, as pg_dump locks them; not the
/// server's own schemas, not an extension's members), quoted and qualified.
const TABLES: &str = "SELECT n.nspname::text, c.relname::text \
     FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.relkind IN ('r', 'p') \
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
       AND n.nspname !~ '^pg_(toast|temp_)' \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
           WHERE e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = c.oid \
             AND e.deptype = 'e') \
     ORDER BY 1, 2";

/// The one `LOCK TABLE` statement for `tables` (schema, name); `None` when there are none.
pub(crate) fn statement(tables: &[(String, String)]) -> Option<String> {
    if tables.is_empty() {
        return None;
    }
    let names: Vec<String> = tables
        .iter()
        .map(|(schema, name)| quote::qualified(schema, name))
        .collect();
    Some(format!(
        "LOCK TABLE {} IN ACCESS SHARE MODE",
        names.join(", ")
    ))
}

/// Takes the locks, in the read-only transaction of the read (after its snapshot).
pub(crate) async fn tables(client: &Client) -> anyhow::Result<()> {
    let rows = client.query(TABLES, &[]).await?;
    let tables: Vec<(String, String)> = rows
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()?;
    let Some(sql) = statement(&tables) else {
        return Ok(());
    };
    match client.batch_execute(&sql).await {
        Ok(()) => Ok(()),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
            let what = e
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_default();
            Err(anyhow::Error::new(Dropped(what)))
        }
        Err(e) => Err(anyhow::Error::new(crate::pg::Described(e))
            .context("failed to lock the tables for reading (ACCESS SHARE)")),
    }
}

#[cfg(test)]
mod tests {
    use super::statement;

    #[test]
    fn one_statement_with_every_name_quoted() {
        assert_eq!(statement(&[]), None);
        let tables = vec![
            ("public".to_string(), "users".to_string()),
            (
                "Odd Schema".to_string(),
                "t\"; DROP TABLE x; --".to_string(),
            ),
        ];
        assert_eq!(
            statement(&tables).unwrap(),
            "LOCK TABLE \"public\".\"users\", \"Odd Schema\".\"t\"\"; DROP TABLE x; --\" \
             IN ACCESS SHARE MODE"
        );
    }
}
