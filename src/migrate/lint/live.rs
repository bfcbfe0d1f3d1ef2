//! What the lint reads from the live database: every table's estimated rows and size, its
//! columns' types and its validated CHECK constraints, in one read-only query.

use std::collections::HashMap;

use anyhow::Context;
use serde::Deserialize;
use tokio_postgres::Client;

use super::parse::Name;

/// One table (or partitioned table, or materialized view) of the live database.
#[derive(Debug, Clone, Deserialize)]
pub struct Table {
    pub schema: String,
    pub name: String,
    /// `pg_class.relkind`.
    pub kind: String,
    /// `reltuples`: the planner's estimate; negative when never vacuumed or analysed.
    pub rows: f64,
    /// The main fork's size in bytes: 0 means no row was ever written.
    pub heap: i64,
    /// `pg_total_relation_size`: indexes and TOAST included.
    pub total: i64,
    /// Column name -> `format_type`.
    pub columns: HashMap<String, String>,
    /// `pg_get_constraintdef` of each validated CHECK.
    pub checks: Vec<String>,
}

impl Table {
    /// Holds no rows for sure: nothing was ever written to it. A partitioned table has no
    /// storage of its own, so it never counts as empty.
    pub fn is_empty(&self) -> bool {
        self.heap == 0 && self.kind != "p"
    }

    /// Has a validated `CHECK (column IS NOT NULL)`.
    pub fn has_not_null_check(&self, column: &str) -> bool {
        let want = format!("check {column} is not null");
        self.checks.iter().any(|c| {
            c.to_ascii_lowercase()
                .replace(['(', ')', '"'], "")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                == want
        })
    }

    /// "~12,345 rows, 1.2 MB", as the findings say it.
    pub fn describe(&self) -> String {
        let rows = if self.rows < 0.0 {
            "rows not estimated yet (never analysed)".to_string()
        } else {
            format!("~{} rows", self.rows.round() as i64)
        };
        format!("{rows}, {}", bytes(self.total))
    }
}

/// A size in bytes for people.
pub fn bytes(n: i64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// The live database as the lint sees it.
#[derive(Debug, Clone)]
pub struct Live {
    /// `server_version_num`.
    pub version: i32,
    pub tables: Vec<Table>,
}

impl Live {
    /// The table a name means: with a schema, that one; without, `public`'s, else the only
    /// table of that name in any schema (the lint does not know the search_path).
    pub fn find(&self, n: &Name) -> Option<&Table> {
        let same = |t: &&Table| t.name == n.name;
        match &n.schema {
            Some(s) => self.tables.iter().filter(same).find(|t| &t.schema == s),
            None => {
                let all: Vec<&Table> = self.tables.iter().filter(same).collect();
                all.iter()
                    .find(|t| t.schema == "public")
                    .or_else(|| (all.len() == 1).then(|| &all[0]))
                    .copied()
            }
        }
    }
}

/// NOTE: one query for every table, whatever the migrations touch: it runs once per lint,
/// and reading pg_class is cheaper than a round trip per table.
const QUERY: &str = "
SELECT current_setting('server_version_num')::int,
       coalesce((
         SELECT json_agg(json_build_object(
           'schema', n.nspname, 'name', c.relname, 'kind', c.relkind,
           'rows', c.reltuples, 'heap', pg_relation_size(c.oid),
           'total', pg_total_relation_size(c.oid),
           'columns', coalesce((SELECT json_object_agg(a.attname, format_type(a.atttypid, a.atttypmod))
                                FROM pg_attribute a
                                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
                               '{}'::json),
           'checks', coalesce((SELECT json_agg(pg_get_constraintdef(k.oid))
                               FROM pg_constraint k
                               WHERE k.conrelid = c.oid AND k.contype = 'c' AND k.convalidated),
                              '[]'::json)))
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'm')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
       ), '[]'::json)::text";

/// Reads the live tables in a read-only transaction.
/// NOTE: `pg_relation_size` takes ACCESS SHARE on each table, so a session holding ACCESS
/// EXCLUSIVE would make the lint wait; it waits one second at most and then fails (the
/// callers lint without the sizes).
pub async fn read(client: &Client) -> anyhow::Result<Live> {
    client
        .batch_execute("BEGIN READ ONLY; SET LOCAL lock_timeout = '1s'")
        .await
        .context("failed to start a read-only transaction for the lint")?;
    let row = client.query_one(QUERY, &[]).await;
    // NOTE: ended whatever the query did, so the connection goes back to the pool clean.
    let _ = client.batch_execute("COMMIT").await;
    let row = row.context("failed to read the tables' sizes from pg_class")?;
    let version: i32 = row.get(0);
    let json: String = row.get(1);
    let tables: Vec<Table> =
        serde_json::from_str(&json).context("failed to read the tables' sizes from pg_class")?;
    Ok(Live { version, tables })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_for_people() {
        assert_eq!(bytes(512), "512 bytes");
        assert_eq!(bytes(8192), "8.0 kB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MB");
    }
}
