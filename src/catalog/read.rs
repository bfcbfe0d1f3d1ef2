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

fn access(row: &Row, owner: &str, acl: &str) -> Result<Access, tokio_postgres::Error> {
    Ok(Access {
        owner: row.try_get(owner)?,
        acl: row.try_get(acl)?,
    })
}

fn qname(row: &Row, schema: &str, name: &str) -> Result<QName, tokio_postgres::Error> {
    Ok(QName::new(
        row.try_get::<_, String>(schema)?,
        row.try_get::<_, String>(name)?,
    ))
}

/// How many times the whole read is tried when another session's DDL breaks it.
const ATTEMPTS: u32 = 5;

/// Reads the schema of the database `client` is connected to. Changes nothing: the whole read
/// is one `REPEATABLE READ, READ ONLY` transaction, rolled back at the end.
///
/// NOTE: the deparsers (`pg_get_indexdef` ...) look objects up in the server's caches, not in
/// the transaction's snapshot, so an object another session drops while we read gives
/// `cache lookup failed` (XX000) or a NULL. As pg_dump does, the tables are locked (ACCESS
/// SHARE, see [`super::lock`]) first; what still breaks the read (an index, a function or a
/// type dropped meanwhile, a table dropped before its lock) makes the whole read be tried
/// again, a few times with a short pause, and then fail with one line.
pub async fn read(client: &Client) -> anyhow::Result<Catalog> {
    let mut attempt = 1;
    loop {
        match read_once(client).await {
            Ok(cat) => return Ok(cat),
            Err(e) if is_concurrent_change(&e) => {
                if attempt >= ATTEMPTS {
                    return Err(crate::error::kinded(
                        crate::error::ErrorKind::Failed,
                        format!(
                            "another session changed the schema while it was read \
                             ({ATTEMPTS} attempts); try again when its DDL is done"
                        ),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether `err` is what a concurrent DROP does to the read: a cache lookup of an object that
/// has gone (XX000), a NULL from a deparser given such an object, or a table gone before its
/// lock.
fn is_concurrent_change(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        if cause.downcast_ref::<super::lock::Dropped>().is_some() {
            return true;
        }
        let Some(pg) = cause.downcast_ref::<tokio_postgres::Error>() else {
            return false;
        };
        match pg.as_db_error() {
            Some(db) => {
                *db.code() == tokio_postgres::error::SqlState::INTERNAL_ERROR
                    || db.message().starts_with("cache lookup failed")
            }
            // NOTE: a NULL where a value is expected (WasNull), in a column a deparser filled.
            None => pg.to_string().contains("error deserializing column"),
        }
    })
}

async fn read_once(client: &Client) -> anyhow::Result<Catalog> {
    // NOTE: an empty search_path makes every deparser qualify every name, so that the SQL it
    // gives means the same wherever it is run (pg_dump does the same).
    client
        .batch_execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; \
             SELECT pg_catalog.set_config('search_path', '', true)",
        )
        .await
        .context("failed to start the read-only transaction for reading the catalog")?;
    let result = async {
        super::lock::tables(client).await?;
        read_in_transaction(client).await
    }
    .await;
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
    super::collations::read(client, &mut cat)
        .await
        .context("failed to read the collations")?;
    super::collations::check(&cat)?;
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
    super::comments::comments(client, &mut cat)
        .await
        .context("failed to read the comments")?;
    super::events::read(client, &mut cat)
        .await
        .context("failed to read the event triggers")?;
    super::settings::read(client, &mut cat)
        .await
        .context("failed to read the statistics settings and replica identities")?;
    cat.missing = super::detect::detect(client)
        .await
        .context("failed to look for objects the reader cannot write")?;
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
            name: r.try_get("name")?,
            access: access(&r, "owner", "acl")?,
        });
    }
    // NOTE: plpgsql is in every database from template1; pg_dump leaves it out too.
    let sql = "SELECT e.extname::text, n.nspname::text, e.extversion \
               FROM pg_catalog.pg_extension e \
               JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
               WHERE e.extname <> 'plpgsql' ORDER BY 1";
    for r in client.query(sql, &[]).await? {
        cat.extensions.push(Extension {
            name: r.try_get(0)?,
            schema: r.try_get(1)?,
            version: r.try_get(2)?,
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
           AND (t.typtype IN ('e', 'd') \
                OR (t.typtype = 'c' AND (SELECT c.relkind FROM pg_catalog.pg_class c \
                                         WHERE c.oid = t.typrelid) = 'c')) \
         ORDER BY 1, 2",
        coll_d = collation_name("t.typcollation"),
        coll_a = collation_name("a.attcollation"),
        ext = not_extension_member("pg_type", "t"),
    );
    for r in client.query(&sql, &[]).await? {
        let name = qname(&r, "schema", "name")?;
        let kind = match r.try_get::<_, String>("kind")?.as_str() {
            "e" => TypeKind::Enum {
                labels: r.try_get("labels")?,
            },
            "d" => {
                let names: Vec<String> = r.try_get("con_names")?;
                let defs: Vec<String> = r.try_get("con_defs")?;
                TypeKind::Domain {
                    base: r.try_get("base")?,
                    collation: r.try_get("collation")?,
                    default: r.try_get("dflt")?,
                    not_null: r.try_get("not_null")?,
                    constraints: names
                        .into_iter()
                        .zip(defs)
                        .map(|(name, def)| NamedDef { name, def })
                        .collect(),
                }
            }
            "c" => {
                let names: Vec<String> = r.try_get("att_names")?;
                let types: Vec<String> = r.try_get("att_types")?;
                let colls: Vec<String> = r.try_get("att_colls")?;
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
            // BUG: the query reads no other kind.
            _ => continue,
        };
        cat.types.push(TypeDef {
            name,
            kind,
            access: access(&r, "owner", "acl")?,
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
                pg_get_userbyid(c.relowner)::text AS owner, c.relacl::text AS acl, \
                c.relpersistence = 'u' AS unlogged \
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
            r.try_get::<_, Option<String>>("owner_schema")?,
            r.try_get::<_, Option<String>>("owner_table")?,
            r.try_get::<_, Option<String>>("owner_column")?,
        ) {
            (Some(s), Some(t), Some(c)) => Some((QName::new(s, t), c)),
            _ => None,
        };
        cat.sequences.push(Sequence {
            name: qname(&r, "schema", "name")?,
            data_type: r.try_get("data_type")?,
            start: r.try_get("seqstart")?,
            increment: r.try_get("seqincrement")?,
            min: r.try_get("seqmin")?,
            max: r.try_get("seqmax")?,
            cache: r.try_get("seqcache")?,
            cycle: r.try_get("seqcycle")?,
            owned_by,
            identity: r.try_get::<_, Option<String>>("deptype")?.as_deref() == Some("i"),
            unlogged: r.try_get("unlogged")?,
            access: access(&r, "owner", "acl")?,
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
        let name = qname(&r, "schema", "name")?;
        let partition_of = match (
            r.try_get::<_, Option<String>>("parent_schema")?,
            r.try_get::<_, Option<String>>("parent_name")?,
        ) {
            (Some(s), Some(t)) => Some((QName::new(s, t), r.try_get::<_, String>("bound")?)),
            _ => None,
        };
        cat.tables.push(Table {
            name,
            partition_key: r.try_get("partkey")?,
            partition_of,
            unlogged: r.try_get::<_, String>("persistence")? == "u",
            options: r.try_get("options")?,
            columns: Vec::new(),
            constraints: Vec::new(),
            row_security: r.try_get("relrowsecurity")?,
            force_row_security: r.try_get("relforcerowsecurity")?,
            row_estimate: r.try_get("reltuples")?,
            access: access(&r, "owner", "acl")?,
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
        let Some(&i) = index.get(&qname(&r, "schema", "name")?) else {
            continue;
        };
        let identity = match r.try_get::<_, String>("identity")?.as_str() {
            "a" => Some("ALWAYS".to_string()),
            "d" => Some("BY DEFAULT".to_string()),
            _ => None,
        };
        cat.tables[i].columns.push(Column {
            name: r.try_get("column")?,
            data_type: r.try_get("data_type")?,
            collation: r.try_get("collation")?,
            default: r.try_get("dflt")?,
            not_null: r.try_get("attnotnull")?,
            generated: r.try_get("generated")?,
            identity,
            local: r.try_get("attislocal")?,
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
        let Some(&i) = index.get(&qname(&r, "schema", "name")?) else {
            continue;
        };
        cat.tables[i].constraints.push(Constraint {
            name: r.try_get("con")?,
            kind: r
                .try_get::<_, String>("kind")?
                .chars()
                .next()
                .unwrap_or('?'),
            def: r.try_get("def")?,
            local: r.try_get("conislocal")?,
            cloned: r.try_get("cloned")?,
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
            r.try_get::<_, Option<String>>("parent_schema")?,
            r.try_get::<_, Option<String>>("parent_name")?,
        ) {
            (Some(s), Some(n)) => Some(QName::new(s, n)),
            _ => None,
        };
        cat.indexes.push(Index {
            name: qname(&r, "schema", "name")?,
            table: qname(&r, "table_schema", "table_name")?,
            def: r.try_get("def")?,
            constraint: r.try_get("is_constraint")?,
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
        let def: String = r.try_get("def")?;
        let schemas: Vec<String> = r.try_get("dep_schemas")?;
        let names: Vec<String> = r.try_get("dep_names")?;
        cat.views.push(View {
            name: qname(&r, "schema", "name")?,
            materialized: r.try_get("mat")?,
            def: def.trim_end().trim_end_matches(';').to_string(),
            options: r.try_get("options")?,
            depends_on: schemas
                .into_iter()
                .zip(names)
                .map(|(s, n)| QName::new(s, n))
                .collect(),
            access: access(&r, "owner", "acl")?,
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
         WHERE p.prokind <> 'a' AND {USER_SCHEMA} AND {ext} \
         ORDER BY 1, 2, 3",
        ext = not_extension_member("pg_proc", "p"),
    );
    for r in client.query(&sql, &[]).await? {
        let name = qname(&r, "schema", "name")?;
        let args: String = r.try_get("args")?;
        let kind = match r.try_get::<_, String>("kind")?.as_str() {
            "f" => "function",
            "p" => "procedure",
            "w" => "window function",
            // NOTE: aggregates are not read; detect names them.
            _ => continue,
        };
        let def: String = r.try_get::<_, Option<String>>("def")?.unwrap_or_default();
        cat.functions.push(Function {
            name,
            args,
            kind: kind.to_string(),
            result: r.try_get("result")?,
            def: def.trim_end().to_string(),
            late: r.try_get("late")?,
            access: access(&r, "owner", "acl")?,
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
            table: qname(&r, "schema", "name")?,
            name: r.try_get("trigger")?,
            def: r.try_get("def")?,
            enabled: r
                .try_get::<_, String>("enabled")?
                .chars()
                .next()
                .unwrap_or('O'),
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
        let def: String = r.try_get("def")?;
        cat.rules.push(Rule {
            table: qname(&r, "schema", "name")?,
            name: r.try_get("rule")?,
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
        let command = match r.try_get::<_, String>("cmd")?.as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        cat.policies.push(Policy {
            table: qname(&r, "schema", "name")?,
            name: r.try_get("policy")?,
            permissive: r.try_get("polpermissive")?,
            command: command.to_string(),
            roles: r.try_get("roles")?,
            using: r.try_get("qual")?,
            with_check: r.try_get("with_check")?,
        });
    }
    Ok(())
}
