//! Masking: a rule per column (built in for the Cruddur tables, or from the mask file), the
//! strict check that every text-like column has one, and each rule as the SQL expression the
//! source computes, so the real value never leaves the source.
//!
//! NOTE: every rule runs on the source, in the `COPY (SELECT ...) TO STDOUT` query: a masked
//! column's real value is never sent to cruddur-db, let alone to the target. `hash` is
//! `md5(salt || value)` (built into PostgreSQL; pgcrypto's HMAC may not be installed on the
//! source): deterministic for one salt, so a hashed key still joins across tables. The salt
//! is never in the query text (a server error quotes the text after a syntax error): each
//! source session is given it as a bind parameter, in the transaction's setting
//! [`SALT_SETTING`], which the query reads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::catalog::QName;
use crate::error::usage;
use crate::sql::quote;

use super::plan::{Column, Source};

/// A generator of made-up values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fake {
    Email,
    Name,
    Phone,
    Text,
    Ip,
}

/// What happens to one column's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// The real value.
    Keep,
    Null,
    /// `PREFIX` and the hex md5 of the salt and the value (NULL stays NULL).
    Hash {
        prefix: String,
    },
    /// A made-up value numbered by the row (NULL stays NULL).
    Fake(Fake),
    Constant(String),
    /// An expression the source computes, as it is.
    Sql(String),
}

/// The source transaction's setting that holds the salt (set with `set_config`).
pub const SALT_SETTING: &str = "cruddur_db.mask_salt";

pub const RULES_HELP: &str =
    "keep, null, hash, hash:PREFIX, fake:email|name|phone|text|ip, constant:VALUE, sql:EXPR";

impl Rule {
    pub fn parse(s: &str) -> Result<Rule, String> {
        let s = s.trim();
        let (head, arg) = match s.split_once(':') {
            Some((h, a)) => (h, Some(a)),
            None => (s, None),
        };
        Ok(match (head, arg) {
            ("keep", None) => Rule::Keep,
            ("null", None) => Rule::Null,
            ("hash", None) => Rule::Hash {
                prefix: String::new(),
            },
            ("hash", Some(p)) => Rule::Hash {
                prefix: p.to_string(),
            },
            ("fake", Some("email")) => Rule::Fake(Fake::Email),
            ("fake", Some("name")) => Rule::Fake(Fake::Name),
            ("fake", Some("phone")) => Rule::Fake(Fake::Phone),
            ("fake", Some("text")) => Rule::Fake(Fake::Text),
            ("fake", Some("ip")) => Rule::Fake(Fake::Ip),
            ("constant", Some(v)) => Rule::Constant(v.to_string()),
            ("sql", Some(e)) if !e.trim().is_empty() => Rule::Sql(e.to_string()),
            _ => return Err(format!("unknown rule {s:?} (rules: {RULES_HELP})")),
        })
    }

    /// The expression selecting column `c` under this rule (`hash` reads the salt from
    /// [`SALT_SETTING`]).
    pub fn expr(&self, c: &Column) -> String {
        let col = quote::ident(&c.name);
        let n = "(row_number() OVER ())";
        let generated = |text: String| {
            let text = if c.json {
                format!("to_json({text})")
            } else {
                text
            };
            let value = if c.array {
                format!("ARRAY[{text}]")
            } else {
                text
            };
            format!("CASE WHEN {col} IS NULL THEN NULL ELSE {value} END")
        };
        match self {
            Rule::Keep => col,
            Rule::Null => "NULL".to_string(),
            Rule::Constant(v) => quote::literal(v),
            Rule::Sql(e) => format!("({e})"),
            Rule::Hash { prefix } => generated(format!(
                "{} || md5(pg_catalog.current_setting({}) || {col}::text)",
                quote::literal(prefix),
                quote::literal(SALT_SETTING)
            )),
            Rule::Fake(Fake::Email) => generated(format!("'user' || {n} || '@example.invalid'")),
            Rule::Fake(Fake::Name) => generated(format!(
                "(ARRAY['Ada','Alan','Barbara','Claude','Edsger','Frances','Grace','Hedy',\
                 'Ken','Margaret'])[1 + ({n} % 10)::int] || ' ' || \
                 (ARRAY['Lovelace','Turing','Liskov','Shannon','Dijkstra','Allen','Hopper',\
                 'Lamarr','Thompson','Hamilton'])[1 + ({n} / 10 % 10)::int] || ' ' || {n}"
            )),
            Rule::Fake(Fake::Phone) => {
                generated(format!("'+1 555 ' || lpad(({n} % 10000000)::text, 7, '0')"))
            }
            Rule::Fake(Fake::Text) => generated(format!("'Masked text ' || {n}")),
            // NOTE: TEST-NET-1 (RFC 5737), an address range that is never anyone's.
            Rule::Fake(Fake::Ip) => generated(format!("'192.0.2.' || (1 + {n} % 254)")),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Keep => f.write_str("keep"),
            Rule::Null => f.write_str("null"),
            Rule::Hash { prefix } if prefix.is_empty() => f.write_str("hash"),
            Rule::Hash { prefix } => write!(f, "hash:{prefix}"),
            Rule::Fake(k) => write!(
                f,
                "fake:{}",
                match k {
                    Fake::Email => "email",
                    Fake::Name => "name",
                    Fake::Phone => "phone",
                    Fake::Text => "text",
                    Fake::Ip => "ip",
                }
            ),
            Rule::Constant(v) => write!(f, "constant:{v}"),
            Rule::Sql(e) => write!(f, "sql:{e}"),
        }
    }
}

/// Where a column's rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    File,
    BuiltIn,
    /// Not text-like: copied as it is.
    NotText,
    /// `--no-mask`.
    NoMask,
}

/// The rules of a mask file, by table and column.
#[derive(Debug, Clone, Default)]
pub struct MaskFile {
    pub path: Option<PathBuf>,
    /// Table as written (`users`, `schema.table`) and column -> rule.
    pub rules: BTreeMap<String, BTreeMap<String, Rule>>,
}

impl MaskFile {
    /// Reads and checks a mask file; anything malformed is exit 2 naming file, table, column.
    pub fn read(path: &Path) -> anyhow::Result<MaskFile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| usage(format!("cannot read the mask file {}: {e}", path.display())))?;
        MaskFile::parse(&path.display().to_string(), &text).map(|mut m| {
            m.path = Some(path.to_path_buf());
            m
        })
    }

    pub fn parse(name: &str, text: &str) -> anyhow::Result<MaskFile> {
        let doc: toml::Table = toml::from_str(text)
            .map_err(|e| usage(format!("the mask file {name} is not valid TOML: {e}")))?;
        let mut rules = BTreeMap::new();
        for (table, value) in doc {
            let Some(columns) = value.as_table() else {
                return Err(usage(format!(
                    "{name}: {table:?} must be a table of column rules ([{table}] then \
                     `column = \"rule\"`)"
                )));
            };
            // `[public.users]` is TOML for a table `users` inside a table `public`.
            let nested = !columns.is_empty() && columns.values().all(|v| v.is_table());
            let entries: Vec<(String, &toml::Table)> = if nested {
                columns
                    .iter()
                    .map(|(t, v)| (format!("{table}.{t}"), v.as_table().expect("checked")))
                    .collect()
            } else {
                vec![(table.clone(), columns)]
            };
            for (table, columns) in entries {
                let mut map = BTreeMap::new();
                for (column, rule) in columns {
                    let Some(rule) = rule.as_str() else {
                        return Err(usage(format!(
                            "{name}: [{table}] {column}: the rule must be a string (rules: \
                             {RULES_HELP})"
                        )));
                    };
                    let rule = Rule::parse(rule)
                        .map_err(|e| usage(format!("{name}: [{table}] {column}: {e}")))?;
                    map.insert(column.clone(), rule);
                }
                rules.insert(table, map);
            }
        }
        Ok(MaskFile { path: None, rules })
    }

    /// Where the mask file is looked for without `--mask`: `db/mask.toml` under `cwd`, else
    /// `backend-flask/db/mask.toml` in the Cruddur checkout; `None` when neither exists.
    pub fn default_path(cwd: &Path) -> Option<PathBuf> {
        let local = cwd.join("db").join("mask.toml");
        if local.is_file() {
            return Some(local);
        }
        crate::migrate::find_checkout(cwd)
            .map(|c| c.root.join("backend-flask").join("db").join("mask.toml"))
            .filter(|p| p.is_file())
    }
}

/// The built-in rules of the Cruddur tables (see sql/schema.sql): personal data is made up,
/// handles and messages are kept (they are public in the app).
pub fn builtin(table: &QName, column: &str) -> Option<Rule> {
    let rule = match (table.schema.as_str(), table.name.as_str(), column) {
        ("public", "users", "email") => Rule::Fake(Fake::Email),
        ("public", "users", "display_name") => Rule::Fake(Fake::Name),
        ("public", "users", "cognito_user_id") => Rule::Hash {
            prefix: "MOCK-".to_string(),
        },
        ("public", "users", "bio") => Rule::Fake(Fake::Text),
        ("public", "users", "handle") | ("public", "activities", "message") => Rule::Keep,
        _ => return None,
    };
    Some(rule)
}

/// The rule of every copied column, by table.
#[derive(Debug, Clone, Default)]
pub struct Masks {
    pub by_table: BTreeMap<QName, Vec<(Rule, Origin)>>,
    pub salt: String,
    pub masked: bool,
}

impl Masks {
    /// The select list of `table` (the columns' expressions, named as the columns).
    pub fn select_list(&self, source: &Source, table: &QName) -> String {
        let t = source
            .table(table)
            .expect("BUG: a planned table is in the source");
        let rules = &self.by_table[table];
        t.columns
            .iter()
            .zip(rules)
            .map(|(c, (rule, _))| match rule {
                Rule::Keep => quote::ident(&c.name),
                r => format!("{} AS {}", r.expr(c), quote::ident(&c.name)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Resolves every column's rule (file, then built-in); refuses (exit 2) when the file names a
/// table or column the source lacks, or when a text-like column has no rule, listing them as
/// a block ready to paste into the mask file.
pub fn resolve(
    source: &Source,
    file: Option<&MaskFile>,
    no_mask: bool,
    salt: String,
) -> anyhow::Result<Masks> {
    let mut from_file: BTreeMap<QName, &BTreeMap<String, Rule>> = BTreeMap::new();
    let file_name = file
        .and_then(|f| f.path.as_ref())
        .map_or_else(|| "the mask file".to_string(), |p| p.display().to_string());
    if let Some(f) = file.filter(|_| !no_mask) {
        for (table, columns) in &f.rules {
            let q = source
                .find(table)
                .map_err(|e| usage(format!("{file_name}: [{table}]: {e}")))?;
            let t = source.table(&q).expect("found");
            for column in columns.keys() {
                if !t.columns.iter().any(|c| &c.name == column) {
                    return Err(usage(format!(
                        "{file_name}: [{table}] {column}: the source's table {q} has no column \
                         {column:?} that is copied (its columns: {}); remove the rule or fix \
                         its name",
                        t.columns
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
            from_file.insert(q, columns);
        }
    }
    let mut masks = Masks {
        salt,
        masked: !no_mask,
        ..Masks::default()
    };
    let mut missing: BTreeMap<QName, Vec<&Column>> = BTreeMap::new();
    for t in &source.tables {
        let mut rules = Vec::new();
        for c in &t.columns {
            let rule = if no_mask {
                (Rule::Keep, Origin::NoMask)
            } else if let Some(r) = from_file.get(&t.name).and_then(|m| m.get(&c.name)) {
                (r.clone(), Origin::File)
            } else if let Some(r) = builtin(&t.name, &c.name) {
                (r, Origin::BuiltIn)
            } else if !c.text_like {
                (Rule::Keep, Origin::NotText)
            } else {
                missing.entry(t.name.clone()).or_default().push(c);
                (Rule::Keep, Origin::NotText)
            };
            rules.push(rule);
        }
        masks.by_table.insert(t.name.clone(), rules);
    }
    if missing.is_empty() {
        return Ok(masks);
    }
    let count: usize = missing.values().map(Vec::len).sum();
    Err(usage(format!(
        "refused: {count} text-like column(s) have no mask rule, and copying them as they are \
         could put real personal data on this machine; nothing was written. Add rules to \
         {where_} (`keep` copies the real value), or pass --no-mask:\n\n{}",
        paste_block(&missing),
        where_ = file.and_then(|f| f.path.as_ref()).map_or_else(
            || "db/mask.toml (or --mask FILE)".to_string(),
            |p| p.display().to_string()
        ),
    )))
}

/// The rules missing, as TOML to paste into the mask file, with a guess per column.
fn paste_block(missing: &BTreeMap<QName, Vec<&Column>>) -> String {
    let mut out = String::new();
    for (table, columns) in missing {
        if table.schema == "public" {
            out.push_str(&format!("[{}]\n", toml_key(&table.name)));
        } else {
            out.push_str(&format!("[{}]\n", toml_key(&table.to_string())));
        }
        for c in columns {
            let (rule, note) = guess(&c.name);
            out.push_str(&format!(
                "{} = \"{rule}\"  # {}{note}\n",
                toml_key(&c.name),
                c.data_type
            ));
        }
        out.push('\n');
    }
    out.trim_end().to_string()
}

fn toml_key(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        s.to_string()
    } else {
        // NOTE: a JSON string is a TOML basic string (the same escapes), and one is a key.
        serde_json::to_string(s).expect("a string serialises")
    }
}

/// A rule that fits a column's name, and a note when it is only `keep`.
fn guess(column: &str) -> (&'static str, &'static str) {
    let c = column.to_ascii_lowercase();
    if c.contains("email") {
        ("fake:email", "")
    } else if c.contains("phone") {
        ("fake:phone", "")
    } else if c.contains("name") {
        ("fake:name", "")
    } else if c.ends_with("ip") || c.contains("address") {
        ("fake:ip", "")
    } else if c.ends_with("_id") || c.contains("token") {
        ("hash", "")
    } else {
        ("keep", "; review: keep copies the real value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::plan::Table;

    fn col(name: &str, text: bool) -> Column {
        Column {
            name: name.into(),
            data_type: if text { "text" } else { "integer" }.into(),
            type_oid: if text { 25 } else { 23 },
            text_like: text,
            json: false,
            array: false,
        }
    }

    fn source() -> Source {
        Source {
            tables: vec![
                Table {
                    name: QName::new("public", "users"),
                    columns: vec![col("email", true), col("handle", true)],
                    row_estimate: 0,
                    pages: 0,
                },
                Table {
                    name: QName::new("public", "notes"),
                    columns: vec![
                        col("id", false),
                        col("body", true),
                        col("owner_email", true),
                    ],
                    row_estimate: 0,
                    pages: 0,
                },
            ],
            fks: vec![],
            own: vec![],
            version: 150000,
        }
    }

    #[test]
    fn rules_parse_and_print_back() {
        for s in [
            "keep",
            "null",
            "hash",
            "hash:MOCK-",
            "fake:email",
            "fake:ip",
            "constant:x:y",
            "sql:left(body, 3)",
        ] {
            assert_eq!(Rule::parse(s).unwrap().to_string(), s);
        }
        for bad in ["fake:ssn", "keepit", "sql:", "constant"] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_malformed_mask_file_names_file_table_and_column() {
        let err = MaskFile::parse("m.toml", "[users]\nemail = \"fake:ssn\"\n").unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        let msg = format!("{err}");
        assert!(msg.contains("m.toml: [users] email"), "{msg}");
        let err = MaskFile::parse("m.toml", "[users]\nemail = 3\n").unwrap_err();
        assert!(format!("{err}").contains("[users] email"), "{err}");
        assert!(MaskFile::parse("m.toml", "[users\n").is_err());
        let m = MaskFile::parse("m.toml", "[public.notes]\nbody = \"null\"\n").unwrap();
        assert_eq!(m.rules["public.notes"]["body"], Rule::Null);
    }

    #[test]
    fn strict_refusal_lists_a_block_ready_to_paste() {
        let err = resolve(&source(), None, false, "s".into()).unwrap_err();
        assert_eq!(crate::error::exit_code(&err), 2);
        let msg = format!("{err}");
        assert!(
            msg.contains("[notes]\nbody = \"keep\"  # text; review"),
            "{msg}"
        );
        assert!(msg.contains("owner_email = \"fake:email\""), "{msg}");
        assert!(!msg.contains("[users]"), "{msg}");
        // The block parses as a mask file and then satisfies the check.
        let block = &msg[msg.find("[notes]").unwrap()..];
        let file = MaskFile::parse("pasted", block).unwrap();
        let masks = resolve(&source(), Some(&file), false, "s".into()).unwrap();
        assert!(masks.masked);
        assert!(resolve(&source(), None, true, "s".into()).is_ok());
    }

    #[test]
    fn unknown_columns_in_the_file_are_refused() {
        let file = MaskFile::parse("m.toml", "[users]\nmail = \"null\"\n").unwrap();
        let err = resolve(&source(), Some(&file), false, "s".into()).unwrap_err();
        assert!(format!("{err}").contains("[users] mail"), "{err}");
    }

    #[test]
    fn hashing_keeps_nulls_and_reads_the_salt_from_the_session() {
        let e = Rule::parse("hash:MOCK-")
            .unwrap()
            .expr(&col("cognito_user_id", true));
        assert_eq!(
            e,
            "CASE WHEN \"cognito_user_id\" IS NULL THEN NULL ELSE 'MOCK-' || \
             md5(pg_catalog.current_setting('cruddur_db.mask_salt') || \
             \"cognito_user_id\"::text) END"
        );
    }
}
