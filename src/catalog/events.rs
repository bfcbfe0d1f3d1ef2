//! Event triggers (`CREATE EVENT TRIGGER`), read and written. They come last in a dump, after
//! every other object, so that loading the dump does not fire them (pg_dump does the same),
//! and go first in a diff's drops, before the function they call.

use tokio_postgres::Client;

use super::model::{Catalog, EventTrigger};
use super::object::{Object, Phase};
use crate::sql::quote;

/// Reads the event triggers (not an extension's) into `cat`.
pub(super) async fn read(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let sql = "SELECT e.evtname::text, e.evtevent::text, COALESCE(e.evttags, '{}')::text[], \
                      n.nspname::text, p.proname::text, e.evtenabled::text, \
                      pg_catalog.obj_description(e.oid, 'pg_event_trigger') \
               FROM pg_catalog.pg_event_trigger e \
               JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid \
               JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
               WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                     WHERE d.classid = 'pg_catalog.pg_event_trigger'::regclass \
                       AND d.objid = e.oid AND d.deptype = 'e') \
               ORDER BY 1";
    for r in client.query(sql, &[]).await? {
        cat.event_triggers.push(EventTrigger {
            name: r.try_get(0)?,
            event: r.try_get(1)?,
            tags: r.try_get(2)?,
            function: (r.try_get(3)?, r.try_get(4)?),
            enabled: r.try_get(5)?,
            comment: r.try_get(6)?,
        });
    }
    Ok(())
}

/// The statements that make `e` as it is: CREATE, then its state and comment.
pub(crate) fn create_sql(e: &EventTrigger) -> String {
    let name = quote::ident(&e.name);
    let mut sql = format!("CREATE EVENT TRIGGER {name} ON {}", quote::ident(&e.event));
    if !e.tags.is_empty() {
        let tags: Vec<String> = e.tags.iter().map(|t| quote::literal(t)).collect();
        sql.push_str(&format!("\n    WHEN TAG IN ({})", tags.join(", ")));
    }
    sql.push_str(&format!(
        "\n    EXECUTE FUNCTION {}();",
        quote::qualified(&e.function.0, &e.function.1)
    ));
    let state = match e.enabled.as_str() {
        "D" => Some("DISABLE"),
        "R" => Some("ENABLE REPLICA"),
        "A" => Some("ENABLE ALWAYS"),
        _ => None,
    };
    if let Some(state) = state {
        sql.push_str(&format!("\nALTER EVENT TRIGGER {name} {state};"));
    }
    if let Some(c) = &e.comment {
        sql.push_str(&format!(
            "\nCOMMENT ON EVENT TRIGGER {name} IS {};",
            quote::literal(c)
        ));
    }
    sql
}

/// The event triggers as dump objects, in the last phase.
pub(super) fn objects(cat: &Catalog, out: &mut Vec<Object>) {
    for e in &cat.event_triggers {
        out.push(Object {
            phase: Phase::EventTrigger,
            depth: 0,
            kind: "event trigger",
            name: e.name.clone(),
            create: create_sql(e),
            drop: format!("DROP EVENT TRIGGER IF EXISTS {};", quote::ident(&e.name)),
            relation: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_tag_and_comment_is_quoted() {
        let e = EventTrigger {
            name: "no\"; DROP TABLE x; --".into(),
            event: "ddl_command_end".into(),
            tags: vec!["CREATE TABLE".into(), "it's".into()],
            function: ("audit schema".into(), "log_ddl".into()),
            enabled: "A".into(),
            comment: Some("who's there".into()),
        };
        assert_eq!(
            create_sql(&e),
            "CREATE EVENT TRIGGER \"no\"\"; DROP TABLE x; --\" ON \"ddl_command_end\"\n    \
             WHEN TAG IN ('CREATE TABLE', 'it''s')\n    \
             EXECUTE FUNCTION \"audit schema\".\"log_ddl\"();\n\
             ALTER EVENT TRIGGER \"no\"\"; DROP TABLE x; --\" ENABLE ALWAYS;\n\
             COMMENT ON EVENT TRIGGER \"no\"\"; DROP TABLE x; --\" IS 'who''s there';"
        );
        let plain = EventTrigger {
            tags: vec![],
            enabled: "O".into(),
            comment: None,
            ..e
        };
        assert!(!create_sql(&plain).contains("WHEN TAG"));
        assert!(!create_sql(&plain).contains("ALTER EVENT TRIGGER"));
    }
}
