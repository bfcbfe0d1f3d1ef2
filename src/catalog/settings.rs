//! Per-relation settings that hang on tables and indexes, read and written: column and
//! index-column statistics targets (`SET STATISTICS`), extended statistics
//! (`CREATE STATISTICS`), replica identity, column storage and compression (`SET STORAGE`,
//! `SET COMPRESSION`) and the index a table is clustered on (`CLUSTER ON`). Each is its own
//! object in the dump, so `diff` compares, creates and resets it like any other.

use tokio_postgres::Client;

use super::model::*;
use super::object::{Object, Phase};
use crate::pg::quote_ident;

/// Schemas that belong to the server, never to the application (as in the reader).
const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname !~ '^pg_(toast|temp_)'";

/// `{alias}.oid` of `pg_class` is not a member of an extension.
const NOT_EXTENSION_TABLE: &str = "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
     WHERE e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')";

/// Reads the statistics targets, extended statistics, replica identities, column storage and
/// compression and clustered indexes into `cat`.
pub(super) async fn read(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    // NOTE: attstattarget is NULL by default from 17, -1 before; an index's column is named
    // by its number (ALTER INDEX ... ALTER COLUMN 2), a table's by its name.
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind IN ('i', 'I') AS is_index, \
                a.attname::text, a.attnum::int, a.attstattarget::int \
         FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I') AND a.attnum > 0 AND NOT a.attisdropped \
           AND COALESCE(a.attstattarget::int, -1) >= 0 AND {USER_SCHEMA} \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
                           JOIN pg_catalog.pg_index x ON x.indexrelid = c.oid \
                           WHERE e.classid = 'pg_catalog.pg_class'::regclass \
                             AND e.objid = x.indrelid AND e.deptype = 'e') \
           AND {NOT_EXTENSION_TABLE} \
         ORDER BY 1, 2, 5"
    );
    for r in client.query(&sql, &[]).await? {
        let is_index: bool = r.try_get(2)?;
        cat.statistics_targets.push(StatisticsTarget {
            relation: QName::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?),
            index: is_index,
            column: if is_index {
                r.try_get::<_, i32>(4)?.to_string()
            } else {
                r.try_get(3)?
            },
            target: r.try_get(5)?,
        });
    }
    // NOTE: stxstattarget (ALTER STATISTICS ... SET STATISTICS) exists from 13; NULL by
    // default from 17, -1 before.
    let target = if cat.server_version >= 130000 {
        "s.stxstattarget::int"
    } else {
        "NULL::int"
    };
    let sql = format!(
        "SELECT n.nspname::text, s.stxname::text, tn.nspname::text, c.relname::text, \
                pg_catalog.pg_get_statisticsobjdef(s.oid), {target} \
         FROM pg_catalog.pg_statistic_ext s \
         JOIN pg_catalog.pg_namespace n ON n.oid = s.stxnamespace \
         JOIN pg_catalog.pg_class c ON c.oid = s.stxrelid \
         JOIN pg_catalog.pg_namespace tn ON tn.oid = c.relnamespace \
         WHERE {USER_SCHEMA} AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
               WHERE e.classid = 'pg_catalog.pg_statistic_ext'::regclass AND e.objid = s.oid \
                 AND e.deptype = 'e') \
         ORDER BY 1, 2"
    );
    for r in client.query(&sql, &[]).await? {
        let target: Option<i32> = r.try_get(5)?;
        cat.extended_statistics.push(ExtendedStatistics {
            name: QName::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?),
            table: QName::new(r.try_get::<_, String>(2)?, r.try_get::<_, String>(3)?),
            def: r.try_get(4)?,
            target: target.filter(|t| *t >= 0),
        });
    }
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, c.relreplident::text, \
                (SELECT ic.relname::text FROM pg_catalog.pg_index i \
                 JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
                 WHERE i.indrelid = c.oid AND i.indisreplident) \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND c.relreplident <> 'd' AND {USER_SCHEMA} \
           AND {NOT_EXTENSION_TABLE} \
         ORDER BY 1, 2"
    );
    for r in client.query(&sql, &[]).await? {
        let identity = match (r.try_get::<_, String>(2)?.as_str(), r.try_get(3)?) {
            ("f", _) => "FULL".to_string(),
            ("n", _) => "NOTHING".to_string(),
            (_, Some(index)) => format!("USING INDEX {}", quote_ident(index)),
            // NOTE: 'i' whose index went under a concurrent DROP: the read is retried.
            (_, None) => anyhow::bail!("replica identity index not found"),
        };
        cat.replica_identities.push(ReplicaIdentity {
            table: QName::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?),
            identity,
        });
    }
    columns(client, cat).await?;
    column_options(client, cat).await?;
    toast_options(client, cat).await?;
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, ic.relname::text \
         FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE i.indisclustered AND c.relkind IN ('r', 'm') AND {USER_SCHEMA} \
           AND {NOT_EXTENSION_TABLE} \
         ORDER BY 1, 2"
    );
    for r in client.query(&sql, &[]).await? {
        cat.clustered.push(Clustered {
            table: QName::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?),
            index: r.try_get(2)?,
        });
    }
    Ok(())
}

/// `name=value` of a stored option (`attoptions`, `reloptions`), its name checked to be a
/// plain option name. `what` names the object in the error.
fn option(stored: &str, what: &str) -> anyhow::Result<(String, String)> {
    let (name, value) = stored
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("{what}: option {stored:?} has no value"))?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        anyhow::bail!("{what}: option name {name:?} is not a plain name");
    }
    Ok((name.to_string(), value.to_string()))
}

/// A column's `n_distinct` options (tables and materialized views): `ALTER COLUMN ... SET`.
async fn column_options(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, a.attname::text, \
                ARRAY(SELECT o FROM unnest(a.attoptions) o WHERE o ~ '^n_distinct' ORDER BY o) \
         FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped \
           AND EXISTS (SELECT 1 FROM unnest(a.attoptions) o WHERE o ~ '^n_distinct') \
           AND {USER_SCHEMA} AND {NOT_EXTENSION_TABLE} \
         ORDER BY 1, 2, a.attnum"
    );
    for r in client.query(&sql, &[]).await? {
        let table = QName::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?);
        let column: String = r.try_get(2)?;
        let what = format!("column {table}.{column}");
        let mut set = Vec::new();
        let mut names = Vec::new();
        for stored in r.try_get::<_, Vec<String>>(3)? {
            let (name, value) = option(&stored, &what)?;
            // NOTE: the server keeps n_distinct as a number; anything else is refused rather
            // than written into SQL.
            if value.parse::<f64>().is_err() {
                anyhow::bail!("{what}: option {name} is not a number: {value:?}");
            }
            set.push(format!("{name}={value}"));
            names.push(name);
        }
        cat.column_settings.push(ColumnSetting {
            table,
            column,
            what: "OPTIONS",
            value: set.join(", "),
            reset: names.join(", "),
        });
    }
    Ok(())
}

/// The TOAST table options of tables and materialized views.
async fn toast_options(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, tc.reloptions::text[] \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_class tc ON tc.oid = c.reltoastrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE tc.reloptions IS NOT NULL AND c.relkind IN ('r', 'm') \
           AND {USER_SCHEMA} AND {NOT_EXTENSION_TABLE} \
         ORDER BY 1, 2"
    );
    for r in client.query(&sql, &[]).await? {
        let table = QName::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?);
        let what = format!("the TOAST table of {table}");
        let mut set = Vec::new();
        let mut names = Vec::new();
        for stored in r.try_get::<_, Vec<String>>(2)? {
            let (name, value) = option(&stored, &what)?;
            set.push(format!(
                "toast.{name}={}",
                crate::sql::quote::literal(&value)
            ));
            names.push(format!("toast.{name}"));
        }
        cat.toast_options.push(ToastOptions {
            table,
            set: set.join(", "),
            reset: names.join(", "),
        });
    }
    Ok(())
}

/// The words of `attstorage`.
fn storage_word(code: &str) -> anyhow::Result<&'static str> {
    Ok(match code {
        "p" => "PLAIN",
        "e" => "EXTERNAL",
        "x" => "EXTENDED",
        "m" => "MAIN",
        other => anyhow::bail!("unknown column storage {other:?}"),
    })
}

/// The words of `attcompression`.
fn compression_word(code: &str) -> anyhow::Result<&'static str> {
    Ok(match code {
        "p" => "pglz",
        "l" => "lz4",
        other => anyhow::bail!("unknown column compression {other:?}"),
    })
}

/// Column storage other than the type's, and (14+) compression set on a column.
async fn columns(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    // NOTE: attcompression exists from 14 ('' for the default).
    let compression = if cat.server_version >= 140000 {
        "a.attcompression::text"
    } else {
        "''"
    };
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, a.attname::text, \
                CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END, \
                t.typstorage::text, NULLIF({compression}, '') \
         FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         WHERE c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped \
           AND (a.attstorage <> t.typstorage OR {compression} <> '') \
           AND {USER_SCHEMA} AND {NOT_EXTENSION_TABLE} \
         ORDER BY 1, 2, a.attnum"
    );
    for r in client.query(&sql, &[]).await? {
        let table = QName::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?);
        let column: String = r.try_get(2)?;
        if let Some(storage) = r.try_get::<_, Option<String>>(3)? {
            cat.column_settings.push(ColumnSetting {
                table: table.clone(),
                column: column.clone(),
                what: "STORAGE",
                value: storage_word(&storage)?.to_string(),
                reset: storage_word(&r.try_get::<_, String>(4)?)?.to_string(),
            });
        }
        if let Some(method) = r.try_get::<_, Option<String>>(5)? {
            cat.column_settings.push(ColumnSetting {
                table,
                column,
                what: "COMPRESSION",
                value: compression_word(&method)?.to_string(),
                reset: "DEFAULT".to_string(),
            });
        }
    }
    Ok(())
}

/// A setting as a dump object: made after the indexes (a replica identity or an index
/// column's target needs its index), reset by `drop`, gone with `relation`.
fn setting(
    depth: u32,
    kind: &'static str,
    name: String,
    [create, drop]: [String; 2],
    relation: QName,
) -> Object {
    Object {
        phase: Phase::Setting,
        depth,
        kind,
        name,
        create,
        drop,
        relation: Some(relation),
    }
}

/// The settings as dump objects, each reset by its `drop`.
pub(super) fn objects(cat: &Catalog, out: &mut Vec<Object>) {
    for s in &cat.statistics_targets {
        let (word, column) = if s.index {
            ("INDEX", s.column.clone())
        } else {
            ("TABLE ONLY", quote_ident(&s.column))
        };
        let alter = format!("ALTER {word} {} ALTER COLUMN {column}", s.relation.sql());
        out.push(setting(
            0,
            "statistics target",
            format!("{}.{}", s.relation, s.column),
            [
                format!("{alter} SET STATISTICS {};", s.target),
                format!("{alter} SET STATISTICS -1;"),
            ],
            s.relation.clone(),
        ));
    }
    for s in &cat.extended_statistics {
        let mut create = format!("{};", s.def.trim_end_matches(';'));
        if let Some(t) = s.target {
            create.push_str(&format!(
                "\nALTER STATISTICS {} SET STATISTICS {t};",
                s.name.sql()
            ));
        }
        let drop = format!("DROP STATISTICS IF EXISTS {};", s.name.sql());
        out.push(setting(
            0,
            "statistics",
            s.name.to_string(),
            [create, drop],
            s.table.clone(),
        ));
    }
    for s in &cat.column_settings {
        let column = format!(
            "ALTER TABLE ONLY {} ALTER COLUMN {}",
            s.table.sql(),
            quote_ident(&s.column)
        );
        let (kind, sql) = match s.what {
            "OPTIONS" => (
                "column options",
                [
                    format!("{column} SET ({});", s.value),
                    format!("{column} RESET ({});", s.reset),
                ],
            ),
            what => (
                if what == "STORAGE" {
                    "column storage"
                } else {
                    "column compression"
                },
                [
                    format!("{column} SET {what} {};", s.value),
                    format!("{column} SET {what} {};", s.reset),
                ],
            ),
        };
        let name = format!("{}.{}", s.table, s.column);
        out.push(setting(0, kind, name, sql, s.table.clone()));
    }
    for t in &cat.toast_options {
        let alter = format!("ALTER TABLE ONLY {}", t.table.sql());
        out.push(setting(
            0,
            "toast table options",
            t.table.to_string(),
            [
                format!("{alter} SET ({});", t.set),
                format!("{alter} RESET ({});", t.reset),
            ],
            t.table.clone(),
        ));
    }
    for c in &cat.clustered {
        // NOTE: hangs on the index: an index made again has lost the mark, so it is set again.
        let table = c.table.sql();
        out.push(setting(
            1,
            "index clustered on",
            c.table.to_string(),
            [
                format!("ALTER TABLE {table} CLUSTER ON {};", quote_ident(&c.index)),
                format!("ALTER TABLE {table} SET WITHOUT CLUSTER;"),
            ],
            QName::new(c.table.schema.clone(), c.index.clone()),
        ));
    }
    for r in &cat.replica_identities {
        let alter = format!("ALTER TABLE ONLY {} REPLICA IDENTITY", r.table.sql());
        out.push(setting(
            1,
            "replica identity",
            r.table.to_string(),
            [
                format!("{alter} {};", r.identity),
                format!("{alter} DEFAULT;"),
            ],
            r.table.clone(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::option;

    #[test]
    fn an_option_is_a_plain_name_and_its_value() {
        assert_eq!(
            option("n_distinct=-0.5", "x").unwrap(),
            ("n_distinct".to_string(), "-0.5".to_string())
        );
        // A value is split at the first `=` and kept whole (then quoted or checked).
        assert_eq!(
            option("autovacuum_enabled=a=b", "x").unwrap().1,
            "a=b".to_string()
        );
        for bad in [
            "novalue",
            "=1",
            "Bad=1",
            "a b=1",
            "a)=1",
            "a;--=1",
            "toast.x=1",
        ] {
            assert!(option(bad, "column t.c").is_err(), "{bad}");
        }
        let err = option("a;--=1", "column public.t.c")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("column public.t.c: "), "{err}");
    }
}
