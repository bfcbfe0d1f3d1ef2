//! User collations (`CREATE COLLATION`), read and written as pg_dump writes them: libc, ICU
//! (with `deterministic = false` and, 16+, `rules`) and, 17+, the builtin provider. Made
//! right after the schemas and extensions, before anything that can use one (a domain, a
//! column, an index).

use tokio_postgres::Client;

use super::model::{Catalog, Collation, QName};
use super::object::{Object, Phase};
use crate::sql::quote;

/// Reads the collations of the user's schemas (not an extension's) into `cat`.
pub(super) async fn read(client: &Client, cat: &mut Catalog) -> anyhow::Result<()> {
    let v = cat.server_version;
    // NOTE: an ICU collation's locale is in collcollate before 15, in colliculocale in 15
    // and 16, in colllocale from 17 (which also has the builtin provider); rules are 16+.
    let locale = if v >= 170000 {
        "c.colllocale"
    } else if v >= 150000 {
        "c.colliculocale"
    } else {
        "NULL::text"
    };
    let rules = if v >= 160000 {
        "c.collicurules"
    } else {
        "NULL::text"
    };
    let sql = format!(
        "SELECT n.nspname::text, c.collname::text, c.collprovider::text, \
                c.collisdeterministic, c.collcollate::text, c.collctype::text, \
                {locale}::text, {rules}::text \
         FROM pg_catalog.pg_collation c \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname !~ '^pg_(toast|temp_)' \
           AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
               WHERE e.classid = 'pg_catalog.pg_collation'::regclass AND e.objid = c.oid \
                 AND e.deptype = 'e') \
         ORDER BY 1, 2"
    );
    for r in client.query(&sql, &[]).await? {
        let name = QName::new(r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?);
        let provider: String = r.try_get(2)?;
        let collate: Option<String> = r.try_get(4)?;
        let ctype: Option<String> = r.try_get(5)?;
        // NOTE: before 15 an ICU collation keeps its locale in collcollate (and collctype).
        let locale = match r.try_get::<_, Option<String>>(6)? {
            Some(l) => Some(l),
            None if provider == "i" => collate.clone(),
            None => None,
        };
        cat.collations.push(Collation {
            name,
            provider,
            deterministic: r.try_get(3)?,
            lc_collate: collate,
            lc_ctype: ctype,
            locale,
            rules: r.try_get(7)?,
        });
    }
    Ok(())
}

/// `CREATE COLLATION` for `c`; an error for a provider it does not know.
pub(crate) fn create_sql(c: &Collation) -> anyhow::Result<String> {
    let mut options = Vec::new();
    let provider = match c.provider.as_str() {
        "c" => "libc",
        "i" => "icu",
        "b" => "builtin",
        other => anyhow::bail!("collation {}: unknown provider {other:?}", c.name),
    };
    options.push(format!("provider = {provider}"));
    if !c.deterministic {
        options.push("deterministic = false".to_string());
    }
    let lit = |s: &str| quote::literal(s);
    match (provider, &c.locale, &c.lc_collate, &c.lc_ctype) {
        ("libc", _, Some(collate), Some(ctype)) if collate == ctype => {
            options.push(format!("locale = {}", lit(collate)));
        }
        ("libc", _, Some(collate), Some(ctype)) => {
            options.push(format!("lc_collate = {}", lit(collate)));
            options.push(format!("lc_ctype = {}", lit(ctype)));
        }
        (_, Some(locale), _, _) => options.push(format!("locale = {}", lit(locale))),
        _ => anyhow::bail!("collation {}: no locale to write", c.name),
    }
    if let Some(rules) = &c.rules {
        options.push(format!("rules = {}", lit(rules)));
    }
    Ok(format!(
        "CREATE COLLATION {} ({});",
        c.name.sql(),
        options.join(", ")
    ))
}

/// The collations as dump objects. NOTE: one that cannot be written (an unknown provider)
/// never gets here: the read fails on it first (see [`check`]).
pub(super) fn objects(cat: &Catalog, out: &mut Vec<Object>) {
    for c in &cat.collations {
        let Ok(create) = create_sql(c) else {
            continue;
        };
        out.push(Object {
            phase: Phase::Collation,
            depth: 0,
            kind: "collation",
            name: c.name.to_string(),
            create,
            drop: format!("DROP COLLATION IF EXISTS {};", c.name.sql()),
            relation: None,
        });
    }
}

/// Fails the read on a collation [`create_sql`] cannot write, naming it.
pub(super) fn check(cat: &Catalog) -> anyhow::Result<()> {
    for c in &cat.collations {
        create_sql(c)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collation(provider: &str) -> Collation {
        Collation {
            name: QName::new("odd schema", "ci'x"),
            provider: provider.into(),
            deterministic: true,
            lc_collate: None,
            lc_ctype: None,
            locale: None,
            rules: None,
        }
    }

    #[test]
    fn written_as_pg_dump_writes_them_with_every_string_quoted() {
        let icu = Collation {
            deterministic: false,
            locale: Some("und-u-ks-level2".into()),
            rules: Some("&a < b'".into()),
            ..collation("i")
        };
        assert_eq!(
            create_sql(&icu).unwrap(),
            "CREATE COLLATION \"odd schema\".\"ci'x\" (provider = icu, deterministic = false, \
             locale = 'und-u-ks-level2', rules = '&a < b''');"
        );
        let libc = Collation {
            lc_collate: Some("C".into()),
            lc_ctype: Some("C".into()),
            ..collation("c")
        };
        assert!(create_sql(&libc)
            .unwrap()
            .ends_with("(provider = libc, locale = 'C');"));
        let split = Collation {
            lc_ctype: Some("POSIX".into()),
            ..libc
        };
        assert!(create_sql(&split)
            .unwrap()
            .ends_with("(provider = libc, lc_collate = 'C', lc_ctype = 'POSIX');"));
        assert!(create_sql(&collation("x")).is_err());
        assert!(create_sql(&collation("i")).is_err());
    }
}
