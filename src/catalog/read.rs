//! The catalog reader: a database's schema from `pg_catalog`, in one read-only repeatable-read
//! transaction and a fixed number of queries (one per kind of object, never one per table),
//! with the server's own deparsers for every piece of SQL.
//!
//! Works on PostgreSQL 12 to 17. NOTE: what differs between versions, and how it is read:
//! - `pg_proc.prosqlbody` (SQL-standard function bodies) exists from 14; before, no function
//!   has one (read as `false`).
//! - `pg_trigger.tgparentid` (a partition's clone of its parent's trigger) exists from 13; on
//!   12 such clones are `tgisinternal`, which is filtered anyway.
//! - `pg_attribute.attgenerated`, `pg_proc.prokind`, `pg_constraint.conparentid`,
//!   `pg_class.relispartition` and `pg_sequence` exist on every supported version (12+).
//! - 17 adds nothing the reader needs; NOT NULL as `pg_constraint` rows (contype 'n', 18) is
//!   left out by listing the kinds that are read.

use anyhow::Context;
use tokio_postgres::{Client, Row};

use super::model::*;

/// Schemas that belong to the server, never to the application.
const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname !~ '^pg_(toast|temp_)'";

/// `{alias}.oid` of catalog `class` is not a member of an extension.
fn not_extension_member(class: &str, alias: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
         WHERE e.classid = 'pg_catalog.{class}'::regclass AND e.objid = {alias}.oid \
         AND e.deptype = 'e')"
    )
}

/// The qualified, quoted name of collation `oid_expr`.
fn collation_name(oid_expr: &str) -> String {
    format!(
        "(SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) \
         FROM pg_catalog.pg_collation co JOIN pg_catalog.pg_namespace cn ON cn.oid = co.collnamespace \
         WHERE co.oid = {oid_expr})"
    )
}

fn access(row: &Row, owner: &str, acl: &str) -> Access {
    Access {
        owner: row.get(owner),
        acl: row.get(acl),
    }
}

fn qname(row: &Row, schema: &str, name: &str) -> QName {
    QName::new(row.get::<_, String>(schema), row.get::<_, String>(name))
}

/// Reads the schema of the database `client` is connected to. Changes nothing: the whole read
/// is one `REPEATABLE READ, READ ONLY` transaction, rolled back at the end.
pub async fn read(client: &Client) -> anyhow::Result<Catalog> {
    // NOTE: an empty search_path makes every deparser qualify every name, so that the SQL it
    // gives means the same wherever it is run (pg_dump does the same).
    client
        .batch_execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
             SELECT pg_catalog.set_config('search_path', '', true)",
        )
        .await
        .context("failed to start the read-only transaction for reading the catalog")?;
    let result = read_in_transaction(client).await;
    let _ = client.batch_execute("ROLLBACK").await;
    result
}

async fn read_in_transaction(client: &Client) -> anyhow::Result<Catalog> {
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await?
        .get(0);
    let mut cat = Catalog {
        server_version: version,
        ..Catalog::default()
    };
    schemas(client, &mut cat)
        .await
        .context("failed to read the schemas")?;
    types(client, &mut cat)
        .await
        .context("failed to read the types")?;
    sequences(client, &mut cat)
        .await
        .context("failed to read the sequences")?;
    tables(client, &mut cat)
        .await
        .context("failed to read the tables")?;
    indexes(client, &mut cat)
        .await
        .context("failed to read the indexes")?;
    views(client, &mut cat)
        .await
        .context("failed to read the views")?;
    functions(client, &mut cat)
        .await
        .context("failed to read the functions")?;
    table_objects(client, &mut cat)
        .await
        .context("failed to read the triggers, rules and policies")?;
    comments(client, &mut cat)
        .await
        .context("failed to read the comments")?;
    Ok(cat)
}

async fn schemas(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let sql = format!(
        "SELECT n.nspname::text AS name, pg_get_userbyid(n.nspowner)::text AS owner, \
                n.nspacl::text AS acl \
         FROM pg_catalog.pg_namespace n WHERE {USER_SCHEMA} AND {} ORDER BY 1",
        not_extension_member("pg_namespace", "n")
    );
    for r in client.query(&sql, &[]).await? {
        cat.schemas.push(Schema {
            name: r.get("name"),
            access: access(&r, "owner", "acl"),
        });
    }
    // NOTE: plpgsql is in every database from template1; pg_dump leaves it out too.
    let sql = "SELECT e.extname::text, n.nspname::text, e.extversion \
               FROM pg_catalog.pg_extension e \
               JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
               WHERE e.extname <> 'plpgsql' ORDER BY 1";
    for r in client.query(sql, &[]).await? {
        cat.extensions.push(Extension {
            name: r.get(0),
            schema: r.get(1),
            version: r.get(2),
        });
    }
    Ok(())
}

async fn types(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let sql = format!(
        "SELECT n.nspname::text AS schema, t.typname::text AS name, t.typtype::text AS kind, \
                pg_get_userbyid(t.typowner)::text AS owner, t.typacl::text AS acl, \
                format_type(t.typbasetype, t.typtypmod) AS base, \
                CASE WHEN t.typtype = 'd' AND t.typcollation <> 0 \
                          AND t.typcollation <> bt.typcollation THEN {coll_d} END AS collation, \
                pg_get_expr(t.typdefaultbin, 0) AS dflt, t.typnotnull AS not_null, \
                ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e \
                      WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels, \
                ARRAY(SELECT c.conname::text FROM pg_catalog.pg_constraint c \
                      WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY c.conname) AS con_names, \
                ARRAY(SELECT pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c \
                      WHERE c.contypid = t.oid AND c.contype = 'c' ORDER BY c.conname) AS con_defs, \
                ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a \
                      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped \
                      ORDER BY a.attnum) AS att_names, \
                ARRAY(SELECT format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a \
                      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped \
                      ORDER BY a.attnum) AS att_types, \
                ARRAY(SELECT COALESCE(CASE WHEN a.attcollation <> at.typcollation THEN {coll_a} END, '') \
                      FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type at ON at.oid = a.atttypid \
                      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped \
                      ORDER BY a.attnum) AS att_colls \
         FROM pg_catalog.pg_type t \
         JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
         LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype \
         WHERE {USER_SCHEMA} AND {ext} \
           AND (t.typtype IN ('e', 'd', 'r') \
                OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c \
                                         WHERE c.oid = t.typrelid) = 'c')) \
         ORDER BY 1, 2",
        coll_d = collation_name("t.typcollation"),
        coll_a = collation_name("a.attcollation"),
        ext = not_extension_member("pg_type", "t"),
    );
    for r in client.query(&sql, &[]).await? {
        let name = qname(&r, "schema", "name");
        let kind = match r.get::<_, String>("kind").as_str() {
            "e" => TypeKind::Enum {
                labels: r.get("labels"),
            },
            "d" => {
                let names: Vec<String> = r.get("con_names");
                let defs: Vec<String> = r.get("con_defs");
                TypeKind::Domain {
                    base: r.get("base"),
                    collation: r.get("collation"),
                    default: r.get("dflt"),
                    not_null: r.get("not_null"),
                    constraints: names
                        .into_iter()
                        .zip(defs)
                        .map(|(name, def)| NamedDef { name, def })
                        .collect(),
                }
            }
            "c" => {
                let names: Vec<String> = r.get("att_names");
                let types: Vec<String> = r.get("att_types");
                let colls: Vec<String> = r.get("att_colls");
                TypeKind::Composite {
                    attributes: names
                        .into_iter()
                        .zip(types)
                        .zip(colls)
                        .map(|((name, data_type), c)| Attribute {
                            name,
                            data_type,
                            collation: (!c.is_empty()).then_some(c),
                        })
                        .collect(),
                }
            }
            _ => {
                cat.skipped.push(format!("range type {name} (not read)"));
                continue;
            }
        };
        cat.types.push(TypeDef {
            name,
            kind,
            access: access(&r, "owner", "acl"),
        });
    }
    Ok(())
}

async fn sequences(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let sql = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, \
                format_type(s.seqtypid, NULL) AS data_type, s.seqstart, s.seqincrement, \
                s.seqmin, s.seqmax, s.seqcache, s.seqcycle, \
                dn.nspname::text AS owner_schema, dc.relname::text AS owner_table, \
                a.attname::text AS owner_column, d.deptype::text AS deptype, \
                pg_get_userbyid(c.relowner)::text AS owner, c.relacl::text AS acl \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_sequence s ON s.seqrelid = c.oid \
         LEFT JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::regclass \
              AND d.objid = c.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass \
              AND d.refobjsubid > 0 AND d.deptype IN ('a', 'i') \
         LEFT JOIN pg_catalog.pg_class dc ON dc.oid = d.refobjid \
         LEFT JOIN pg_catalog.pg_namespace dn ON dn.oid = dc.relnamespace \
         LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
         WHERE c.relkind = 'S' AND {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2",
        ext = not_extension_member("pg_class", "c"),
    );
    for r in client.query(&sql, &[]).await? {
        let owned_by = match (
            r.get::<_, Option<String>>("owner_schema"),
            r.get::<_, Option<String>>("owner_table"),
            r.get::<_, Option<String>>("owner_column"),
        ) {
            (Some(s), Some(t), Some(c)) => Some((QName::new(s, t), c)),
            _ => None,
        };
        cat.sequences.push(Sequence {
            name: qname(&r, "schema", "name"),
            data_type: r.get("data_type"),
            start: r.get("seqstart"),
            increment: r.get("seqincrement"),
            min: r.get("seqmin"),
            max: r.get("seqmax"),
            cache: r.get("seqcache"),
            cycle: r.get("seqcycle"),
            owned_by,
            identity: r.get::<_, Option<String>>("deptype").as_deref() == Some("i"),
            access: access(&r, "owner", "acl"),
        });
    }
    Ok(())
}

async fn tables(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let ext = not_extension_member("pg_class", "c");
    let sql = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind::text AS kind, \
                c.relpersistence::text AS persistence, \
                COALESCE(c.reloptions::text[], '{{}}') AS options, \
                CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partkey, \
                pn.nspname::text AS parent_schema, pc.relname::text AS parent_name, \
                pg_get_expr(c.relpartbound, c.oid) AS bound, \
                (NOT c.relispartition AND EXISTS (SELECT 1 FROM pg_catalog.pg_inherits x \
                                                  WHERE x.inhrelid = c.oid)) AS inherits, \
                c.relrowsecurity, c.relforcerowsecurity, c.reltuples::float8 AS reltuples, \
                pg_get_userbyid(c.relowner)::text AS owner, c.relacl::text AS acl \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid AND c.relispartition \
         LEFT JOIN pg_catalog.pg_class pc ON pc.oid = i.inhparent \
         LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2"
    );
    for r in client.query(&sql, &[]).await? {
        let name = qname(&r, "schema", "name");
        if r.get("inherits") {
            cat.skipped
                .push(format!("table {name} inherits (INHERITS is not read)"));
        }
        let partition_of = match (
            r.get::<_, Option<String>>("parent_schema"),
            r.get::<_, Option<String>>("parent_name"),
        ) {
            (Some(s), Some(t)) => Some((QName::new(s, t), r.get::<_, String>("bound"))),
            _ => None,
        };
        cat.tables.push(Table {
            name,
            partition_key: r.get("partkey"),
            partition_of,
            unlogged: r.get::<_, String>("persistence") == "u",
            options: r.get("options"),
            columns: Vec::new(),
            constraints: Vec::new(),
            row_security: r.get("relrowsecurity"),
            force_row_security: r.get("relforcerowsecurity"),
            row_estimate: r.get("reltuples"),
            access: access(&r, "owner", "acl"),
        });
    }
    let index: std::collections::HashMap<QName, usize> = cat
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();

    let sql = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, a.attname::text AS column, \
                format_type(a.atttypid, a.atttypmod) AS data_type, \
                CASE WHEN a.attcollation <> t.typcollation THEN {coll} END AS collation, \
                CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS dflt, \
                CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated, \
                a.attnotnull, a.attidentity::text AS identity, a.attislocal \
         FROM pg_catalog.pg_attribute a \
         JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
         LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped \
           AND {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2, a.attnum",
        coll = collation_name("a.attcollation"),
    );
    for r in client.query(&sql, &[]).await? {
        let Some(&i) = index.get(&qname(&r, "schema", "name")) else {
            continue;
        };
        let identity = match r.get::<_, String>("identity").as_str() {
            "a" => Some("ALWAYS".to_string()),
            "d" => Some("BY DEFAULT".to_string()),
            _ => None,
        };
        cat.tables[i].columns.push(Column {
            name: r.get("column"),
            data_type: r.get("data_type"),
            collation: r.get("collation"),
            default: r.get("dflt"),
            not_null: r.get("attnotnull"),
            generated: r.get("generated"),
            identity,
            local: r.get("attislocal"),
        });
    }

    let sql = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, co.conname::text AS con, \
                co.contype::text AS kind, pg_get_constraintdef(co.oid) AS def, co.conislocal, \
                co.conparentid <> 0 AS cloned \
         FROM pg_catalog.pg_constraint co \
         JOIN pg_catalog.pg_class c ON c.oid = co.conrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND co.contype IN ('p', 'u', 'c', 'f', 'x') \
           AND {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2, 3"
    );
    for r in client.query(&sql, &[]).await? {
        let Some(&i) = index.get(&qname(&r, "schema", "name")) else {
            continue;
        };
        cat.tables[i].constraints.push(Constraint {
            name: r.get("con"),
            kind: r.get::<_, String>("kind").chars().next().unwrap_or('?'),
            def: r.get("def"),
            local: r.get("conislocal"),
            cloned: r.get("cloned"),
        });
    }
    Ok(())
}

async fn indexes(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let sql = format!(
        "SELECT n.nspname::text AS schema, ic.relname::text AS name, \
                tn.nspname::text AS table_schema, tc.relname::text AS table_name, \
                pg_get_indexdef(i.indexrelid) AS def, \
                EXISTS (SELECT 1 FROM pg_catalog.pg_constraint co \
                        WHERE co.conindid = i.indexrelid AND co.conrelid = i.indrelid \
                          AND co.contype IN ('p', 'u', 'x')) AS is_constraint, \
                pn.nspname::text AS parent_schema, pic.relname::text AS parent_name \
         FROM pg_catalog.pg_index i \
         JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace \
         JOIN pg_catalog.pg_class tc ON tc.oid = i.indrelid \
         JOIN pg_catalog.pg_namespace tn ON tn.oid = tc.relnamespace \
         LEFT JOIN pg_catalog.pg_inherits x ON x.inhrelid = i.indexrelid \
         LEFT JOIN pg_catalog.pg_class pic ON pic.oid = x.inhparent \
         LEFT JOIN pg_catalog.pg_namespace pn ON pn.oid = pic.relnamespace \
         WHERE tc.relkind IN ('r', 'p', 'm') AND {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2",
        ext = not_extension_member("pg_class", "tc"),
    );
    for r in client.query(&sql, &[]).await? {
        let parent = match (
            r.get::<_, Option<String>>("parent_schema"),
            r.get::<_, Option<String>>("parent_name"),
        ) {
            (Some(s), Some(n)) => Some(QName::new(s, n)),
            _ => None,
        };
        cat.indexes.push(Index {
            name: qname(&r, "schema", "name"),
            table: qname(&r, "table_schema", "table_name"),
            def: r.get("def"),
            constraint: r.get("is_constraint"),
            parent,
        });
    }
    Ok(())
}

async fn views(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let deps = "FROM pg_catalog.pg_rewrite rw \
                JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass \
                     AND d.objid = rw.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass \
                JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid \
                JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace \
                WHERE rw.ev_class = c.oid AND rc.oid <> c.oid AND rc.relkind IN ('r', 'p', 'v', 'm')";
    let sql = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, c.relkind = 'm' AS mat, \
                pg_get_viewdef(c.oid) AS def, COALESCE(c.reloptions::text[], '{{}}') AS options, \
                ARRAY(SELECT rn.nspname::text {deps} GROUP BY rn.nspname, rc.relname ORDER BY rn.nspname, rc.relname) AS dep_schemas, \
                ARRAY(SELECT rc.relname::text {deps} GROUP BY rn.nspname, rc.relname ORDER BY rn.nspname, rc.relname) AS dep_names, \
                pg_get_userbyid(c.relowner)::text AS owner, c.relacl::text AS acl \
         FROM pg_catalog.pg_class c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2",
        ext = not_extension_member("pg_class", "c"),
    );
    for r in client.query(&sql, &[]).await? {
        let def: String = r.get("def");
        let schemas: Vec<String> = r.get("dep_schemas");
        let names: Vec<String> = r.get("dep_names");
        cat.views.push(View {
            name: qname(&r, "schema", "name"),
            materialized: r.get("mat"),
            def: def.trim_end().trim_end_matches(';').to_string(),
            options: r.get("options"),
            depends_on: schemas
                .into_iter()
                .zip(names)
                .map(|(s, n)| QName::new(s, n))
                .collect(),
            access: access(&r, "owner", "acl"),
        });
    }
    Ok(())
}

async fn functions(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    // NOTE: prosqlbody (SQL-standard bodies, parsed at creation) exists from PostgreSQL 14.
    let sql_body = if cat.server_version >= 140000 {
        "p.prosqlbody IS NOT NULL"
    } else {
        "false"
    };
    let sql = format!(
        "SELECT n.nspname::text AS schema, p.proname::text AS name, \
                pg_get_function_identity_arguments(p.oid) AS args, p.prokind::text AS kind, \
                CASE WHEN p.prokind <> 'p' THEN pg_get_function_result(p.oid) ELSE '' END AS result, \
                CASE WHEN p.prokind IN ('f', 'p', 'w') THEN pg_get_functiondef(p.oid) END AS def, \
                ({sql_body} OR EXISTS ( \
                    SELECT 1 FROM pg_catalog.pg_depend d \
                    JOIN pg_catalog.pg_type t ON t.oid = d.refobjid \
                    JOIN pg_catalog.pg_class rc ON rc.oid = t.typrelid \
                    WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid \
                      AND d.refclassid = 'pg_catalog.pg_type'::regclass \
                      AND rc.relkind IN ('r', 'p', 'v', 'm'))) AS late, \
                pg_get_userbyid(p.proowner)::text AS owner, p.proacl::text AS acl \
         FROM pg_catalog.pg_proc p \
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
         WHERE {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2, 3",
        ext = not_extension_member("pg_proc", "p"),
    );
    for r in client.query(&sql, &[]).await? {
        let name = qname(&r, "schema", "name");
        let args: String = r.get("args");
        let kind = match r.get::<_, String>("kind").as_str() {
            "f" => "function",
            "p" => "procedure",
            "w" => "window function",
            _ => {
                cat.skipped
                    .push(format!("aggregate {name}({args}) (not read)"));
                continue;
            }
        };
        let def: String = r.get::<_, Option<String>>("def").unwrap_or_default();
        cat.functions.push(Function {
            name,
            args,
            kind: kind.to_string(),
            result: r.get("result"),
            def: def.trim_end().to_string(),
            late: r.get("late"),
            access: access(&r, "owner", "acl"),
        });
    }
    Ok(())
}

/// Triggers, rules and policies: what hangs on a table or view.
async fn table_objects(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let ext = not_extension_member("pg_class", "c");
    // NOTE: tgparentid (a partition's clone of its parent's trigger) exists from 13; on 12
    // those clones are tgisinternal.
    let clone = if cat.server_version >= 130000 {
        "t.tgparentid = 0"
    } else {
        "true"
    };
    let sql = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, t.tgname::text AS trigger, \
                pg_get_triggerdef(t.oid) AS def, t.tgenabled::text AS enabled \
         FROM pg_catalog.pg_trigger t \
         JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT t.tgisinternal AND {clone} AND {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2, 3"
    );
    for r in client.query(&sql, &[]).await? {
        cat.triggers.push(Trigger {
            table: qname(&r, "schema", "name"),
            name: r.get("trigger"),
            def: r.get("def"),
            enabled: r.get::<_, String>("enabled").chars().next().unwrap_or('O'),
        });
    }
    let sql = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, r.rulename::text AS rule, \
                pg_get_ruledef(r.oid) AS def \
         FROM pg_catalog.pg_rewrite r \
         JOIN pg_catalog.pg_class c ON c.oid = r.ev_class \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE r.rulename <> '_RETURN' AND {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2, 3"
    );
    for r in client.query(&sql, &[]).await? {
        let def: String = r.get("def");
        cat.rules.push(Rule {
            table: qname(&r, "schema", "name"),
            name: r.get("rule"),
            def: def.trim_end().trim_end_matches(';').to_string(),
        });
    }
    let sql = format!(
        "SELECT n.nspname::text AS schema, c.relname::text AS name, p.polname::text AS policy, \
                p.polpermissive, p.polcmd::text AS cmd, \
                CASE WHEN p.polroles = '{{0}}' THEN ARRAY['PUBLIC'] \
                     ELSE ARRAY(SELECT quote_ident(ro.rolname) FROM pg_catalog.pg_roles ro \
                                WHERE ro.oid = ANY (p.polroles) ORDER BY ro.rolname) END AS roles, \
                pg_get_expr(p.polqual, p.polrelid) AS qual, \
                pg_get_expr(p.polwithcheck, p.polrelid) AS with_check \
         FROM pg_catalog.pg_policy p \
         JOIN pg_catalog.pg_class c ON c.oid = p.polrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2, 3"
    );
    for r in client.query(&sql, &[]).await? {
        let command = match r.get::<_, String>("cmd").as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        cat.policies.push(Policy {
            table: qname(&r, "schema", "name"),
            name: r.get("policy"),
            permissive: r.get("polpermissive"),
            command: command.to_string(),
            roles: r.get("roles"),
            using: r.get("qual"),
            with_check: r.get("with_check"),
        });
    }
    Ok(())
}

/// Every comment on an object of the user's schemas, named the way `COMMENT ON` takes it.
async fn comments(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
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
                              'pg_catalog.pg_extension'::regclass) \
           AND COALESCE(o.schema, CASE WHEN o.type = 'schema' THEN o.identity END, '') \
               NOT IN ('pg_catalog', 'information_schema') \
           AND COALESCE(o.schema, CASE WHEN o.type = 'schema' THEN o.identity END, '') \
               !~ '^pg_(toast|temp_)' \
           AND NOT (o.type = 'extension' AND o.identity = 'plpgsql') \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
                           WHERE e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e')";
    for r in client.query(sql, &[]).await? {
        let kind: String = r.get(0);
        let identity: String = r.get(1);
        if let Some(object) = comment_target(&kind, &identity) {
            let relation = match (r.get::<_, Option<String>>(3), r.get::<_, Option<String>>(4)) {
                (Some(s), Some(n)) => Some(QName::new(s, n)),
                _ => None,
            };
            cat.comments.push(Comment {
                object,
                text: r.get(2),
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
