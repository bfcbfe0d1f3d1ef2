//! The actions of `ALTER TABLE` as the lint reads them: added columns (their defaults and
//! constraints), type changes, `SET NOT NULL`, added and validated constraints, drops and
//! renames. What is not recognised is `Action::Other`, which breaks no rule.

use super::tokens::{skip, Kind, Tok};
use super::types::type_name;

/// What a column's DEFAULT is, as far as the lint can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Default {
    /// Constants, casts and the stable `now()` family: PostgreSQL 11+ stores it once.
    Cheap,
    /// A volatile function: every row gets its own value, so the table is rewritten.
    Volatile(String),
    /// A function the lint does not know.
    Unknown(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    ForeignKey,
    Check,
    Unique,
    PrimaryKey,
    Exclude,
}

/// One action of `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    AddColumn {
        column: String,
        default: Option<Default>,
        not_null: bool,
        /// serial, identity or a stored generated column: the table is rewritten.
        rewrite: Option<&'static str>,
        /// An inline UNIQUE or PRIMARY KEY: an index is built under the lock.
        unique: bool,
        /// An inline REFERENCES.
        references: bool,
    },
    AlterType {
        column: String,
        /// The new type, in `format_type` spelling.
        ty: String,
    },
    SetNotNull {
        column: String,
    },
    AddConstraint {
        name: Option<String>,
        kind: Constraint,
        not_valid: bool,
        using_index: bool,
        /// `CHECK (col IS NOT NULL)`: the column.
        not_null_of: Option<String>,
    },
    ValidateConstraint {
        name: String,
    },
    DropColumn {
        column: String,
    },
    RenameColumn {
        column: String,
    },
    RenameTable {
        to: String,
    },
    Other,
}

const CONSTRAINT_WORDS: &[&str] = &[
    "CONSTRAINT",
    "CHECK",
    "UNIQUE",
    "PRIMARY",
    "FOREIGN",
    "EXCLUDE",
];
const COLUMN_CONSTRAINT_WORDS: &[&str] = &[
    "DEFAULT",
    "NOT",
    "NULL",
    "CONSTRAINT",
    "CHECK",
    "UNIQUE",
    "PRIMARY",
    "REFERENCES",
    "GENERATED",
    "COLLATE",
    "COMPRESSION",
    "STORAGE",
];

pub fn action(t: &[Tok]) -> Action {
    let w = |k: usize, kw: &str| t.get(k).is_some_and(|x| x.is(kw));
    let base = t.first().map_or(0, |x| x.depth);
    let top = |x: &Tok| x.depth == base;
    if w(0, "ADD") {
        if t.get(1)
            .is_some_and(|x| CONSTRAINT_WORDS.iter().any(|k| x.is(k)))
        {
            return add_constraint(&t[1..]);
        }
        let mut i = skip(t, 1, &["COLUMN"]);
        i = skip(t, i, &["IF", "NOT", "EXISTS"]);
        let Some(column) = t.get(i).and_then(Tok::ident) else {
            return Action::Other;
        };
        i += 1;
        let ty_end = (i..t.len())
            .find(|&k| top(&t[k]) && COLUMN_CONSTRAINT_WORDS.iter().any(|c| t[k].is(c)))
            .unwrap_or(t.len());
        let ty = type_name(&t[i..ty_end]);
        let rest = &t[ty_end..];
        let has = |kw: &str| rest.iter().any(|x| top(x) && x.is(kw));
        let mut rewrite = None;
        if ty.ends_with("serial") {
            rewrite = Some("a serial column (its default is nextval())");
        }
        let mut default = None;
        let mut not_null = false;
        for (k, x) in rest.iter().enumerate() {
            if !top(x) {
                continue;
            }
            if x.is("DEFAULT") {
                let end = (k + 1..rest.len())
                    .find(|&e| {
                        top(&rest[e]) && COLUMN_CONSTRAINT_WORDS.iter().any(|c| rest[e].is(c))
                    })
                    .unwrap_or(rest.len());
                default = Some(default_kind(&rest[k + 1..end]));
            }
            if x.is("NOT") && rest.get(k + 1).is_some_and(|n| n.is("NULL")) {
                not_null = true;
            }
            if x.is("GENERATED") {
                if rest.iter().any(|y| y.is("IDENTITY")) {
                    rewrite = Some("an identity column");
                } else if rest.iter().any(|y| y.is("STORED")) {
                    rewrite = Some("a stored generated column");
                }
            }
        }
        return Action::AddColumn {
            column,
            default,
            not_null,
            rewrite,
            unique: has("UNIQUE") || has("PRIMARY"),
            references: has("REFERENCES"),
        };
    }
    if w(0, "ALTER") {
        let i = skip(t, 1, &["COLUMN"]);
        let Some(column) = t.get(i).and_then(Tok::ident) else {
            return Action::Other;
        };
        let mut j = i + 1;
        if w(j, "SET") && w(j + 1, "DATA") && w(j + 2, "TYPE") {
            j += 2;
        }
        if w(j, "TYPE") {
            let end = (j + 1..t.len())
                .find(|&k| top(&t[k]) && (t[k].is("USING") || t[k].is("COLLATE")))
                .unwrap_or(t.len());
            return Action::AlterType {
                column,
                ty: type_name(&t[j + 1..end]),
            };
        }
        if w(j, "SET") && w(j + 1, "NOT") && w(j + 2, "NULL") {
            return Action::SetNotNull { column };
        }
        return Action::Other;
    }
    if w(0, "DROP") {
        if w(1, "CONSTRAINT") {
            return Action::Other;
        }
        let mut i = skip(t, 1, &["COLUMN"]);
        i = skip(t, i, &["IF", "EXISTS"]);
        return match t.get(i).and_then(Tok::ident) {
            Some(column) => Action::DropColumn { column },
            None => Action::Other,
        };
    }
    if w(0, "VALIDATE") && w(1, "CONSTRAINT") {
        return match t.get(2).and_then(Tok::ident) {
            Some(name) => Action::ValidateConstraint { name },
            None => Action::Other,
        };
    }
    if w(0, "RENAME") {
        if w(1, "TO") {
            return match t.get(2).and_then(Tok::ident) {
                Some(to) => Action::RenameTable { to },
                None => Action::Other,
            };
        }
        if w(1, "CONSTRAINT") {
            return Action::Other;
        }
        let i = skip(t, 1, &["COLUMN"]);
        return match t.get(i).and_then(Tok::ident) {
            Some(column) => Action::RenameColumn { column },
            None => Action::Other,
        };
    }
    Action::Other
}

fn add_constraint(t: &[Tok]) -> Action {
    let mut i = 0;
    let mut name = None;
    if t.first().is_some_and(|x| x.is("CONSTRAINT")) {
        name = t.get(1).and_then(Tok::ident);
        i = 2;
    }
    let Some(first) = t.get(i) else {
        return Action::Other;
    };
    let kind = if first.is("FOREIGN") {
        Constraint::ForeignKey
    } else if first.is("CHECK") {
        Constraint::Check
    } else if first.is("UNIQUE") {
        Constraint::Unique
    } else if first.is("PRIMARY") {
        Constraint::PrimaryKey
    } else if first.is("EXCLUDE") {
        Constraint::Exclude
    } else {
        return Action::Other;
    };
    let base = first.depth;
    let top: Vec<&Tok> = t.iter().filter(|x| x.depth == base).collect();
    let not_valid = top.windows(2).any(|p| p[0].is("NOT") && p[1].is("VALID"));
    let using_index = top.windows(2).any(|p| p[0].is("USING") && p[1].is("INDEX"));
    // CHECK ( col IS NOT NULL ), with any number of parentheses around.
    let not_null_of = (kind == Constraint::Check)
        .then(|| {
            let inner: Vec<&Tok> = t[i + 1..]
                .iter()
                .filter(|x| !x.punct("(") && !x.punct(")"))
                .collect();
            match inner.as_slice() {
                [col, is, not, null, rest @ ..]
                    if is.is("IS")
                        && not.is("NOT")
                        && null.is("NULL")
                        && rest.iter().all(|x| {
                            x.is("NOT") || x.is("VALID") || x.is("NO") || x.is("INHERIT")
                        }) =>
                {
                    col.ident()
                }
                _ => None,
            }
        })
        .flatten();
    Action::AddConstraint {
        name,
        kind,
        not_valid,
        using_index,
        not_null_of,
    }
}

/// Functions whose value differs per row: a DEFAULT calling them rewrites the table.
const VOLATILE: &[&str] = &[
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "setseed",
    "random_normal",
    "txid_current",
];
/// Functions that are immutable or stable: a DEFAULT calling them is stored once.
const CHEAP: &[&str] = &[
    "now",
    "transaction_timestamp",
    "statement_timestamp",
    "current_setting",
    "lower",
    "upper",
    "coalesce",
    "nullif",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "json_build_array",
    "array",
    "row",
    "make_interval",
    "to_jsonb",
    "interval",
    "date",
];

fn default_kind(t: &[Tok]) -> Default {
    for (k, x) in t.iter().enumerate() {
        let call = x.kind == Kind::Word && t.get(k + 1).is_some_and(|n| n.punct("("));
        let cast = k > 0 && t[k - 1].punct("::");
        if !call || cast {
            continue;
        }
        let f = x.text.to_ascii_lowercase();
        if VOLATILE.contains(&f.as_str()) {
            return Default::Volatile(f);
        }
        if !CHEAP.contains(&f.as_str()) {
            return Default::Unknown(f);
        }
    }
    Default::Cheap
}

#[cfg(test)]
mod tests {
    use super::super::parse::tests::{n, one};
    use super::super::parse::{ops, OpKind};
    use super::*;

    #[test]
    fn alter_table_with_several_actions() {
        let o = ops("ALTER TABLE IF EXISTS ONLY public.users \
             ADD COLUMN IF NOT EXISTS bio text DEFAULT ''::text NOT NULL, \
             ALTER COLUMN id TYPE bigint USING id::bigint, \
             ALTER handle SET NOT NULL, \
             ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES b (id) NOT VALID, \
             ADD CHECK ((bio IS NOT NULL)) NOT VALID, \
             ADD UNIQUE USING INDEX u, \
             DROP COLUMN IF EXISTS old CASCADE, DROP CONSTRAINT c, \
             VALIDATE CONSTRAINT fk");
        let actions: Vec<Action> = o
            .into_iter()
            .map(|o| match o.kind {
                OpKind::Alter { table, action } => {
                    assert_eq!(table, n("public.users"));
                    action
                }
                k => panic!("{k:?}"),
            })
            .collect();
        assert_eq!(
            actions,
            [
                Action::AddColumn {
                    column: "bio".into(),
                    default: Some(Default::Cheap),
                    not_null: true,
                    rewrite: None,
                    unique: false,
                    references: false
                },
                Action::AlterType {
                    column: "id".into(),
                    ty: "bigint".into()
                },
                Action::SetNotNull {
                    column: "handle".into()
                },
                Action::AddConstraint {
                    name: Some("fk".into()),
                    kind: Constraint::ForeignKey,
                    not_valid: true,
                    using_index: false,
                    not_null_of: None
                },
                Action::AddConstraint {
                    name: None,
                    kind: Constraint::Check,
                    not_valid: true,
                    using_index: false,
                    not_null_of: Some("bio".into())
                },
                Action::AddConstraint {
                    name: None,
                    kind: Constraint::Unique,
                    not_valid: false,
                    using_index: true,
                    not_null_of: None
                },
                Action::DropColumn {
                    column: "old".into()
                },
                Action::Other,
                Action::ValidateConstraint { name: "fk".into() },
            ]
        );
    }

    #[test]
    fn defaults_are_told_apart() {
        let add = |sql: &str| match one(sql) {
            OpKind::Alter {
                action:
                    Action::AddColumn {
                        default, rewrite, ..
                    },
                ..
            } => (default, rewrite),
            k => panic!("{k:?}"),
        };
        assert_eq!(
            add("ALTER TABLE t ADD c timestamptz DEFAULT now()").0,
            Some(Default::Cheap)
        );
        assert_eq!(
            add("ALTER TABLE t ADD c timestamptz DEFAULT current_timestamp NOT NULL").0,
            Some(Default::Cheap)
        );
        assert_eq!(
            add("ALTER TABLE t ADD c uuid DEFAULT gen_random_uuid()").0,
            Some(Default::Volatile("gen_random_uuid".into()))
        );
        assert_eq!(
            add("ALTER TABLE t ADD c numeric(10,2) DEFAULT 0::numeric(10,2)").0,
            Some(Default::Cheap)
        );
        assert_eq!(
            add("ALTER TABLE t ADD c int DEFAULT my_fn()").0,
            Some(Default::Unknown("my_fn".into()))
        );
        assert!(add("ALTER TABLE t ADD id bigserial").1.is_some());
        assert!(add("ALTER TABLE t ADD id int GENERATED ALWAYS AS IDENTITY")
            .1
            .is_some());
        assert!(
            add("ALTER TABLE t ADD c int GENERATED ALWAYS AS (a + 1) STORED")
                .1
                .is_some()
        );
        assert_eq!(add("ALTER TABLE t ADD c int").0, None);
    }
}
