//! The plain model of a database's schema, as the catalog reader fills it: no connection, no
//! SQL generation, only what the server said (its own deparsed SQL where it has a deparser).

use std::fmt;

use serde::Serialize;

use crate::sql::quote;

/// A schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct QName {
    pub schema: String,
    pub name: String,
}

impl QName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> QName {
        QName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    /// The name as SQL: both parts double-quoted.
    pub fn sql(&self) -> String {
        quote::qualified(&self.schema, &self.name)
    }
}

/// `schema.name`, unquoted, as messages show it.
impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// Who owns an object and its access privileges (`aclitem[]` as text); read always, compared
/// only when asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Access {
    pub owner: String,
    pub acl: Option<String>,
}

/// A database's schema.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalog {
    /// `server_version_num`, e.g. 150004.
    pub server_version: i32,
    pub schemas: Vec<Schema>,
    pub extensions: Vec<Extension>,
    pub types: Vec<TypeDef>,
    pub sequences: Vec<Sequence>,
    pub tables: Vec<Table>,
    pub indexes: Vec<Index>,
    pub views: Vec<View>,
    pub functions: Vec<Function>,
    pub triggers: Vec<Trigger>,
    pub rules: Vec<Rule>,
    pub policies: Vec<Policy>,
    pub comments: Vec<Comment>,
    pub statistics_targets: Vec<StatisticsTarget>,
    pub extended_statistics: Vec<ExtendedStatistics>,
    pub replica_identities: Vec<ReplicaIdentity>,
    pub column_settings: Vec<ColumnSetting>,
    pub clustered: Vec<Clustered>,
    pub toast_options: Vec<ToastOptions>,
    pub event_triggers: Vec<EventTrigger>,
    pub collations: Vec<Collation>,
    /// What the reader cannot write (aggregates, operators ...), as [`super::detect`] found.
    pub missing: Vec<super::detect::Missing>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    pub name: String,
    pub access: Access,
}

#[derive(Debug, Clone, Serialize)]
pub struct Extension {
    pub name: String,
    pub schema: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TypeDef {
    pub name: QName,
    pub kind: TypeKind,
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TypeKind {
    Enum {
        labels: Vec<String>,
    },
    Domain {
        /// `format_type` of the base type.
        base: String,
        collation: Option<String>,
        default: Option<String>,
        not_null: bool,
        constraints: Vec<NamedDef>,
    },
    Composite {
        attributes: Vec<Attribute>,
    },
}

/// A constraint's name and its `pg_get_constraintdef`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedDef {
    pub name: String,
    pub def: String,
}

/// A composite type's attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribute {
    pub name: String,
    pub data_type: String,
    pub collation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sequence {
    pub name: QName,
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
    /// `OWNED BY` (a serial column, or an identity column's sequence): table and column.
    pub owned_by: Option<(QName, String)>,
    /// The sequence of an identity column (created with the column, not on its own).
    pub identity: bool,
    /// `UNLOGGED` (PostgreSQL 15+). An identity column's sequence is as its table is.
    pub unlogged: bool,
    #[serde(skip)]
    pub access: Access,
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub name: QName,
    /// `PARTITION BY` clause (`pg_get_partkeydef`) of a partitioned table.
    pub partition_key: Option<String>,
    /// The parent and the bound (`FOR VALUES ...`) of a partition.
    pub partition_of: Option<(QName, String)>,
    pub unlogged: bool,
    /// `reloptions`, e.g. `fillfactor=70`.
    pub options: Vec<String>,
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub row_security: bool,
    pub force_row_security: bool,
    /// `reltuples`: the planner's row estimate (-1 or 0 when never analysed).
    pub row_estimate: f64,
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    pub name: String,
    pub data_type: String,
    /// Only when it is not the type's default collation.
    pub collation: Option<String>,
    /// `pg_get_expr` of the default (not of a generated column).
    pub default: Option<String>,
    pub not_null: bool,
    /// The expression of a `GENERATED ALWAYS AS (...) STORED` column.
    pub generated: Option<String>,
    /// `ALWAYS` or `BY DEFAULT` for an identity column.
    pub identity: Option<String>,
    /// Whether the column is the table's own (not only inherited from a partitioned parent).
    pub local: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Constraint {
    pub name: String,
    /// `p`, `u`, `c`, `f`, `x` (pg_constraint.contype).
    pub kind: char,
    /// `pg_get_constraintdef`: `FOREIGN KEY (a) REFERENCES ... ON DELETE CASCADE NOT VALID`.
    pub def: String,
    /// Defined on this table, not only inherited from a partitioned parent.
    pub local: bool,
    /// A copy the server made on a partition of a parent's foreign key.
    pub cloned: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    pub name: QName,
    pub table: QName,
    /// `pg_get_indexdef`.
    pub def: String,
    /// The index of a PRIMARY KEY, UNIQUE or EXCLUDE constraint (made by the constraint).
    pub constraint: bool,
    /// The partitioned index this one is attached to.
    pub parent: Option<QName>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    pub name: QName,
    pub materialized: bool,
    /// `pg_get_viewdef`, without the final semicolon.
    pub def: String,
    pub options: Vec<String>,
    /// The tables, views and materialized views this one reads (pg_depend), for the order.
    pub depends_on: Vec<QName>,
    #[serde(skip)]
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function {
    pub name: QName,
    /// `pg_get_function_identity_arguments`.
    pub args: String,
    /// `function`, `procedure` or `window function`.
    pub kind: String,
    /// `pg_get_function_result`; empty for a procedure.
    pub result: String,
    /// `pg_get_functiondef`.
    pub def: String,
    /// Needs the tables first: a table's row type in its signature, or a SQL-standard body.
    pub late: bool,
    #[serde(skip)]
    pub access: Access,
}

impl Function {
    /// `public.f(integer, text)`, as SQL.
    pub fn signature(&self) -> String {
        format!("{}({})", self.name.sql(), self.args)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trigger {
    pub table: QName,
    pub name: String,
    /// `pg_get_triggerdef`.
    pub def: String,
    /// `O` enabled, `D` disabled, `R` replica, `A` always.
    pub enabled: char,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub table: QName,
    pub name: String,
    /// `pg_get_ruledef`.
    pub def: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub table: QName,
    pub name: String,
    pub permissive: bool,
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE` or `DELETE`.
    pub command: String,
    /// Role names; `PUBLIC` for everyone.
    pub roles: Vec<String>,
    pub using: Option<String>,
    pub with_check: Option<String>,
}

/// A `COMMENT ON` an object: what it names (`COLUMN public.users.bio`) and the text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Comment {
    pub object: String,
    pub text: String,
    /// The table, view, index or sequence the comment hangs on (itself, or its column,
    /// constraint, trigger, rule or policy).
    pub relation: Option<QName>,
}

/// A column's or an index column's statistics target (`SET STATISTICS`), where set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatisticsTarget {
    /// The table, materialized view or index.
    pub relation: QName,
    pub index: bool,
    /// The column's name; for an index, its number (`ALTER INDEX ... ALTER COLUMN 2`).
    pub column: String,
    pub target: i32,
}

/// A `CREATE STATISTICS` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtendedStatistics {
    pub name: QName,
    pub table: QName,
    /// `pg_get_statisticsobjdef`.
    pub def: String,
    /// `ALTER STATISTICS ... SET STATISTICS`, where set.
    pub target: Option<i32>,
}

/// A column's storage or compression where it is not the default: `SET STORAGE` (other than
/// its type's) or `SET COMPRESSION` (14+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnSetting {
    /// The table or materialized view.
    pub table: QName,
    pub column: String,
    /// `STORAGE`, `COMPRESSION` or `OPTIONS` (`n_distinct`, `n_distinct_inherited`).
    pub what: &'static str,
    /// `EXTERNAL`, `MAIN` ...; `pglz`, `lz4`; `n_distinct=100, ...` (checked, SQL as written).
    pub value: String,
    /// What resets it: the type's storage, `DEFAULT`, or the options' names.
    pub reset: String,
}

/// One event trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventTrigger {
    pub name: String,
    /// `ddl_command_start`, `ddl_command_end`, `sql_drop`, `table_rewrite` (or a newer one).
    pub event: String,
    /// `WHEN TAG IN (...)`: the command tags, when limited.
    pub tags: Vec<String>,
    /// The function's schema and name.
    pub function: (String, String),
    /// `O` (enabled), `D` (disabled), `R` (replica), `A` (always).
    pub enabled: String,
    pub comment: Option<String>,
}

/// A user collation (`CREATE COLLATION`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collation {
    pub name: QName,
    /// `c` (libc), `i` (ICU), `b` (builtin, 17+).
    pub provider: String,
    pub deterministic: bool,
    pub lc_collate: Option<String>,
    pub lc_ctype: Option<String>,
    /// The ICU or builtin locale.
    pub locale: Option<String>,
    /// ICU tailoring rules (16+).
    pub rules: Option<String>,
}

/// A table's TOAST table options (`ALTER TABLE ... SET (toast.NAME = 'VALUE')`), as SQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToastOptions {
    pub table: QName,
    /// `toast.name='value', ...` (names checked, values quoted).
    pub set: String,
    /// `toast.name, ...`.
    pub reset: String,
}

/// The index a table is marked to be clustered on (`ALTER TABLE ... CLUSTER ON`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Clustered {
    pub table: QName,
    pub index: String,
}

/// A table's replica identity other than the default: `FULL`, `NOTHING` or
/// `USING INDEX name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaIdentity {
    pub table: QName,
    pub identity: String,
}
