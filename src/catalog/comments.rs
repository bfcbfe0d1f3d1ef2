//! Comments (`COMMENT ON`) as the catalog reader reads them: every comment on an object of
//! the user's schemas, named the way `COMMENT ON` takes it.

use tokio_postgres::Client;

use super::model::*;

/// Every comment on an object of the user's schemas, named the way `COMMENT ON` takes it.
pub(super) async fn comments(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let sql =         "SELECT o.type, o.identity, d.description, rn.nspname::text, rc.relname::text \
         FROM pg_catalog.pg_description d \
         CROSS JOIN LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o \
         LEFT JOIN pg_catalog.pg_class rc ON rc.oid = CASE d.classoid \
              WHEN 'pg_catalog.pg_class'::regclass THEN d.objoid \
              WHEN 'pg_catalog.pg_constraint'::regclass \
                   THEN (SELECT conrelid FROM pg_catalog.pg_constraint WHERE oid = d.objoid) \
              WHEN 'pg_catalog.pg_trigger'::regclass \
                   THEN (SELECT tgrelid FROM pg_catalog.pg_trigger WHERE oid = d.objoid) \
              WHEN 'pg_catalog.pg_rewrite'::regclass \
                   THEN (SELECT ev_class FROM pg_catalog.pg_rewrite WHERE oid = d.objoid) \
              WHEN 'pg_catalog.pg_policy'::regclass \
                   THEN (SELECT polrelid FROM pg_catalog.pg_policy WHERE oid = d.objoid) END \
         LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
         WHERE d.classoid IN ('pg_catalog.pg_class'::regclass, 'pg_catalog.pg_type'::regclass, \
                              'pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_constraint'::regclass, \
                              'pg_catalog.pg_trigger'::regclass, 'pg_catalog.pg_rewrite'::regclass, \
                              'pg_catalog.pg_policy'::regclass, 'pg_catalog.pg_namespace'::regclass, \
                              'pg_catalog.pg_extension'::regclass, \
                              'pg_catalog.pg_collation'::regclass) \
           AND COALESCE(o.schema, CASE WHEN o.type = 'schema' THEN o.identity END, '') \
               NOT IN ('pg_catalog', 'information_schema') \
           AND COALESCE(o.schema, CASE WHEN o.type = 'schema' THEN o.identity END, '') \
               !~ '^pg_(toast|temp_)' \
           AND NOT (o.type = 'extension' AND o.identity = 'plpgsql') \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
                           WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e')";
    for r in client.query(sql, &[]).await? {
        let kind: String = r.try_get(0)?;
        let identity: String = r.try_get(1)?;
        if let Some(object) = comment_target(&kind, &identity) {
            let relation = match (
                r.try_get::<_, Option<String>>(3)?,
                r.try_get::<_, Option<String>>(4)?,
            ) {
                (Some(s), Some(n)) => Some(QName::new(s, n)),
                _ => None,
            };
            cat.comments.push(Comment {
                object,
                text: r.try_get(2)?,
                relation,
            });
        }
    }
    cat.comments.sort();
    Ok(())
}

/// What `COMMENT ON` takes for an object `pg_identify_object` describes as `kind` and
/// `identity`; `None` for kinds the reader does not handle.
pub(crate) fn comment_target(kind: &str, identity: &str) -> Option<String> {
    let on = |word: &str, domain: bool| {
        identity.split_once(" on ").map(|(name, table)| {
            format!(
                "{word} {name} ON {}{table}",
                if domain { "DOMAIN " } else { "" }
            )
        })
    };
    let word = match kind {
        "schema" => "SCHEMA",
        "extension" => "EXTENSION",
        "table" => "TABLE",
        "view" => "VIEW",
        "materialized view" => "MATERIALIZED VIEW",
        "index" => "INDEX",
        "sequence" => "SEQUENCE",
        "table column" | "view column" | "materialized view column" | "composite type column" => {
            "COLUMN"
        }
        "type" | "composite type" => "TYPE",
        "domain" => "DOMAIN",
        "collation" => "COLLATION",
        "function" => "FUNCTION",
        "procedure" => "PROCEDURE",
        "table constraint" => return on("CONSTRAINT", false),
        "domain constraint" => return on("CONSTRAINT", true),
        "trigger" => return on("TRIGGER", false),
        "policy" => return on("POLICY", false),
        "rule" => return on("RULE", false),
        _ => return None,
    };
    Some(format!("{word} {identity}"))
}
