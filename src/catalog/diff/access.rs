//! Owners and grants, compared only when asked (`diff --owners`, `--grants`): an owner that
//! differs becomes `ALTER ... OWNER TO`; grants that differ are reported, and written as a
//! comment in the SQL (NOTE: turning two ACLs into GRANT/REVOKE is left to the reader).

use super::{Builder, Pass};
use crate::catalog::model::*;
use crate::catalog::object::Phase;
use crate::sql::quote;

/// What to compare besides the schema itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub owners: bool,
    pub grants: bool,
}

/// Every object with an owner: its label, its ALTER word and name as SQL, and its access.
fn owned(cat: &Catalog) -> Vec<(String, String, Access)> {
    let mut out = Vec::new();
    for s in &cat.schemas {
        out.push((
            format!("schema {}", s.name),
            format!("SCHEMA {}", quote::ident(&s.name)),
            s.access.clone(),
        ));
    }
    for t in &cat.types {
        let word = match t.kind {
            TypeKind::Domain { .. } => "DOMAIN",
            _ => "TYPE",
        };
        out.push((
            format!("type {}", t.name),
            format!("{word} {}", t.name.sql()),
            t.access.clone(),
        ));
    }
    for s in cat.sequences.iter().filter(|s| !s.identity) {
        out.push((
            format!("sequence {}", s.name),
            format!("SEQUENCE {}", s.name.sql()),
            s.access.clone(),
        ));
    }
    for t in &cat.tables {
        out.push((
            format!("table {}", t.name),
            format!("TABLE {}", t.name.sql()),
            t.access.clone(),
        ));
    }
    for v in &cat.views {
        let (label, word) = if v.materialized {
            ("materialized view", "MATERIALIZED VIEW")
        } else {
            ("view", "VIEW")
        };
        out.push((
            format!("{label} {}", v.name),
            format!("{word} {}", v.name.sql()),
            v.access.clone(),
        ));
    }
    for f in &cat.functions {
        let word = if f.kind == "procedure" {
            "PROCEDURE"
        } else {
            "FUNCTION"
        };
        out.push((
            format!("function {}({})", f.name, f.args),
            format!("{word} {}", f.signature()),
            f.access.clone(),
        ));
    }
    out
}

/// Owners and grants of the objects in both catalogs.
pub(super) fn compare(b: &mut Builder, from: &Catalog, to: &Catalog, opts: Options) {
    if !opts.owners && !opts.grants {
        return;
    }
    let theirs = owned(to);
    for (label, object, fa) in owned(from) {
        let Some((_, _, ta)) = theirs.iter().find(|(l, _, _)| *l == label) else {
            continue;
        };
        if opts.owners && fa.owner != ta.owner {
            b.differ(
                label.clone(),
                &format!("owner {} -> {}", fa.owner, ta.owner),
                None,
                None,
            );
            let sql = format!("ALTER {object} OWNER TO {};", quote::ident(&ta.owner));
            b.push(Pass::Create, Phase::Comment, 1, &label, sql, None);
        }
        if opts.grants && fa.acl != ta.acl {
            let show = |a: &Option<String>| a.clone().unwrap_or_else(|| "default".into());
            b.differ(
                label.clone(),
                &format!("grants {} -> {}", show(&fa.acl), show(&ta.acl)),
                None,
                None,
            );
            let sql = format!(
                "-- {}",
                quote::comment(&format!(
                    "grants on {label} differ (FROM {}, TO {}): not written as SQL",
                    show(&fa.acl),
                    show(&ta.acl)
                ))
            );
            b.push(Pass::Create, Phase::Comment, 1, &label, sql, None);
        }
    }
}
