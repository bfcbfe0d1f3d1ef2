//! What the catalog reader cannot write: one query that finds, in the database being read,
//! every object `pg_dump -s` would write and [`super::read`] leaves out, so that `dump` can
//! refuse and `diff` can say "not compared" instead of passing over them in silence.
//!
//! NOTE: objects that belong to an extension (pg_depend deptype 'e') are left out: CREATE
//! EXTENSION brings them. Objects of the server's own (oid below 16384, FirstNormalObjectId)
//! are left out too: every database has them.

use std::fmt;

use serde::Serialize;
use tokio_postgres::Client;

/// One object the reader left out: what kind (`aggregate`, `column statistics target`) and
/// its qualified name as `pg_identify_object` gives it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Missing {
    pub kind: String,
    pub name: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// Schemas that belong to the server (as in the reader), for namespace column `col`.
fn user_schema(col: &str) -> String {
    format!(
        "{col} NOT IN (SELECT oid FROM pg_catalog.pg_namespace \
         WHERE nspname IN ('pg_catalog', 'information_schema') OR nspname ~ '^pg_(toast|temp_)')"
    )
}

/// The detection query: rows of (kind, classid, objid, objsubid), named and filtered once at
/// the end. NOTE: every catalog it reads exists on every supported server (12+).
pub(crate) fn query() -> String {
    let ns = user_schema;
    let rel = "pg_catalog.pg_class'::regclass";
    let mut parts = vec![
        format!(
            "SELECT 'aggregate', 'pg_catalog.pg_proc'::regclass, p.oid, 0 \
             FROM pg_catalog.pg_proc p WHERE p.prokind = 'a' AND {}",
            ns("p.pronamespace")
        ),
        format!(
            "SELECT 'operator', 'pg_catalog.pg_operator'::regclass, o.oid, 0 \
             FROM pg_catalog.pg_operator o WHERE {}",
            ns("o.oprnamespace")
        ),
        format!(
            "SELECT 'operator class', 'pg_catalog.pg_opclass'::regclass, o.oid, 0 \
             FROM pg_catalog.pg_opclass o WHERE {}",
            ns("o.opcnamespace")
        ),
        format!(
            "SELECT 'operator family', 'pg_catalog.pg_opfamily'::regclass, o.oid, 0 \
             FROM pg_catalog.pg_opfamily o WHERE {}",
            ns("o.opfnamespace")
        ),
        "SELECT 'cast', 'pg_catalog.pg_cast'::regclass, c.oid, 0 \
         FROM pg_catalog.pg_cast c WHERE c.oid >= 16384"
            .into(),
        format!(
            "SELECT 'conversion', 'pg_catalog.pg_conversion'::regclass, c.oid, 0 \
             FROM pg_catalog.pg_conversion c WHERE {}",
            ns("c.connamespace")
        ),
        format!(
            "SELECT 'text search configuration', 'pg_catalog.pg_ts_config'::regclass, c.oid, 0 \
             FROM pg_catalog.pg_ts_config c WHERE {}",
            ns("c.cfgnamespace")
        ),
        format!(
            "SELECT 'text search dictionary', 'pg_catalog.pg_ts_dict'::regclass, c.oid, 0 \
             FROM pg_catalog.pg_ts_dict c WHERE {}",
            ns("c.dictnamespace")
        ),
        format!(
            "SELECT 'text search parser', 'pg_catalog.pg_ts_parser'::regclass, c.oid, 0 \
             FROM pg_catalog.pg_ts_parser c WHERE {}",
            ns("c.prsnamespace")
        ),
        format!(
            "SELECT 'text search template', 'pg_catalog.pg_ts_template'::regclass, c.oid, 0 \
             FROM pg_catalog.pg_ts_template c WHERE {}",
            ns("c.tmplnamespace")
        ),
        // NOTE: a multirange type comes with its range type; arrays come with their element.
        format!(
            "SELECT CASE WHEN NOT t.typisdefined THEN 'shell type' \
                         WHEN t.typtype = 'r' THEN 'range type' ELSE 'base type' END, \
                    'pg_catalog.pg_type'::regclass, t.oid, 0 \
             FROM pg_catalog.pg_type t \
             WHERE (t.typtype IN ('r', 'b') OR NOT t.typisdefined) AND {} \
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.typarray = t.oid)",
            ns("t.typnamespace")
        ),
        format!(
            "SELECT 'table inheritance', '{rel}, c.oid, 0 \
             FROM pg_catalog.pg_class c \
             WHERE NOT c.relispartition AND {} \
               AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid)",
            ns("c.relnamespace")
        ),
        format!(
            // NOTE: tables' and materialized views' storage is read (settings.rs); a foreign
            // table's is not (foreign tables are refused as a whole).
            "SELECT 'column storage', '{rel}, c.oid, a.attnum \
             FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             WHERE c.relkind = 'f' AND a.attnum > 0 AND NOT a.attisdropped \
               AND a.attstorage <> t.typstorage AND {}",
            ns("c.relnamespace")
        ),
        // NOTE: only the options ALTER COLUMN ... SET takes (n_distinct, n_distinct_inherited);
        // some servers keep other, internal entries in attoptions that pg_dump does not write.
        // NOTE: tables' and materialized views' n_distinct options and TOAST options are
        // read (settings.rs); a foreign table's are not (foreign tables are refused whole).
        format!(
            "SELECT 'column options', '{rel}, c.oid, a.attnum \
             FROM pg_catalog.pg_attribute a \
             JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             WHERE c.relkind = 'f' AND a.attnum > 0 AND NOT a.attisdropped \
               AND EXISTS (SELECT 1 FROM unnest(a.attoptions) o WHERE o ~ '^n_distinct') \
               AND {}",
            ns("c.relnamespace")
        ),
        format!(
            // NOTE: unlogged sequences are read (15+); an identity column's sequence is
            // made with its table, so one whose persistence is not its table's is not.
            "SELECT 'identity sequence persistence', '{rel}, c.oid, 0 \
             FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass \
                  AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass \
                  AND d.deptype = 'i' \
             JOIN pg_catalog.pg_class t ON t.oid = d.refobjid \
             WHERE c.relkind = 'S' AND c.relpersistence <> t.relpersistence \
               AND pg_catalog.current_setting('server_version_num')::int >= 150000 AND {}",
            ns("c.relnamespace")
        ),
        format!(
            "SELECT 'tablespace', '{rel}, c.oid, 0 \
             FROM pg_catalog.pg_class c \
             WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I') AND c.reltablespace <> 0 AND {}",
            ns("c.relnamespace")
        ),
        format!(
            "SELECT 'foreign table', '{rel}, c.oid, 0 \
             FROM pg_catalog.pg_class c WHERE c.relkind = 'f' AND {}",
            ns("c.relnamespace")
        ),
        "SELECT 'publication', 'pg_catalog.pg_publication'::regclass, p.oid, 0 \
         FROM pg_catalog.pg_publication p"
            .into(),
        "SELECT 'foreign-data wrapper', 'pg_catalog.pg_foreign_data_wrapper'::regclass, w.oid, 0 \
         FROM pg_catalog.pg_foreign_data_wrapper w"
            .into(),
        "SELECT 'server', 'pg_catalog.pg_foreign_server'::regclass, s.oid, 0 \
         FROM pg_catalog.pg_foreign_server s"
            .into(),
        // NOTE: the view, not pg_user_mapping (superuser only); its options are not read.
        "SELECT 'user mapping', 'pg_catalog.pg_user_mapping'::regclass, u.umid, 0 \
         FROM pg_catalog.pg_user_mappings u"
            .into(),
        "SELECT 'default privileges', 'pg_catalog.pg_default_acl'::regclass, d.oid, 0 \
         FROM pg_catalog.pg_default_acl d"
            .into(),
        "SELECT 'language', 'pg_catalog.pg_language'::regclass, l.oid, 0 \
         FROM pg_catalog.pg_language l WHERE l.oid >= 16384"
            .into(),
        "SELECT 'transform', 'pg_catalog.pg_transform'::regclass, t.oid, 0 \
         FROM pg_catalog.pg_transform t"
            .into(),
        "SELECT 'access method', 'pg_catalog.pg_am'::regclass, a.oid, 0 \
         FROM pg_catalog.pg_am a WHERE a.oid >= 16384"
            .into(),
        "SELECT 'security label', s.classoid, s.objoid, s.objsubid \
         FROM pg_catalog.pg_seclabel s"
            .into(),
    ];
    // NOTE: attcompression (lz4 or pglz per column) exists from PostgreSQL 14.
    // NOTE: a subscription's conninfo is not read (only superusers may, and it holds secrets).
    parts.push(
        "SELECT 'subscription', 'pg_catalog.pg_subscription'::regclass, s.oid, 0 \
         FROM pg_catalog.pg_subscription s \
         WHERE s.subdbid = (SELECT oid FROM pg_catalog.pg_database \
                            WHERE datname = current_database())"
            .into(),
    );
    let union = parts.join(" UNION ALL ");
    format!(
        "SELECT x.kind, o.identity FROM ({union}) AS x(kind, classid, objid, objsubid) \
         CROSS JOIN LATERAL pg_catalog.pg_identify_object(x.classid, x.objid, x.objsubid) o \
         WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
                           WHERE e.classid = x.classid AND e.objid = x.objid \
                             AND e.deptype = 'e') \
         ORDER BY 1, 2"
    )
}

/// Every object of the database `client` reads that the reader leaves out, in the caller's
/// transaction (so that it sees the same snapshot as the rest of the read).
pub async fn detect(client: &Client) -> Result<Vec<Missing>, tokio_postgres::Error> {
    let rows = client.query(&query(), &[]).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Missing {
            kind: r.try_get::<_, String>(0)?,
            // NOTE: NULL only if the object went away under a concurrent DROP.
            name: r.try_get::<_, Option<String>>(1)?.unwrap_or_default(),
        });
    }
    Ok(out)
}
