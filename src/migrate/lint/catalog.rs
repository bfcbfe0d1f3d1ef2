//! The lint's rules: a stable id for each, its usual level, the lock it is about and what
//! that lock blocks, why it matters, and the safe rewrite.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        })
    }
}

/// One rule: a stable id, its usual level, the lock it is about, why, and the rewrite.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub id: &'static str,
    pub level: Level,
    pub lock: &'static str,
    pub why: &'static str,
    pub fix: &'static str,
}

const AX: &str = "ACCESS EXCLUSIVE on the table: blocks every query on it, reads included";
const APP: &str = "the app is deployed apart from the migration: the running version still \
                   queries the old shape and fails until it is replaced";

/// Every rule, in the README's order.
pub const RULES: &[Rule] = &[
    Rule {
        id: "create-index-non-concurrent",
        level: Level::Error,
        lock: "SHARE on the table: blocks INSERT, UPDATE and DELETE for the whole build",
        why: "the index is built in one pass while every write to the table waits",
        fix: "CREATE INDEX CONCURRENTLY, alone in a migration marked \
              `-- migrate:up transaction:false`",
    },
    Rule {
        id: "reindex-non-concurrent",
        level: Level::Error,
        lock: "SHARE on the table and ACCESS EXCLUSIVE on the index: blocks writes, and reads \
               that would use the index",
        why: "the index is rebuilt in one pass under the lock",
        fix: "REINDEX ... CONCURRENTLY (PostgreSQL 12+) in a transaction:false migration",
    },
    Rule {
        id: "concurrently-in-transaction",
        level: Level::Error,
        lock: "none: the statement fails",
        why: "CONCURRENTLY cannot run inside a transaction block, and the migration runs in one",
        fix: "mark the section `-- migrate:up transaction:false` and keep the statement alone \
              in its migration",
    },
    Rule {
        id: "add-column-volatile-default",
        level: Level::Error,
        lock: AX,
        why: "a volatile default (or a serial, identity or stored generated column) gives each \
              row its own value: the whole table is rewritten under the lock",
        fix: "add the column with no default or a constant one, SET DEFAULT afterwards, and \
              backfill existing rows in batches",
    },
    Rule {
        id: "add-column-unknown-default",
        level: Level::Warning,
        lock: AX,
        why: "the default calls a function the lint does not know: if it is volatile, the \
              table is rewritten under the lock",
        fix: "use a constant default and backfill, or allow it when the function is stable or \
              immutable",
    },
    Rule {
        id: "add-column-not-null-no-default",
        level: Level::Error,
        lock: AX,
        why: "the existing rows would hold NULL: the statement fails on a table with rows",
        fix: "add it nullable (or with a constant DEFAULT), backfill, add CHECK (col IS NOT \
              NULL) NOT VALID, VALIDATE it, then SET NOT NULL",
    },
    Rule {
        id: "alter-column-type-rewrite",
        level: Level::Error,
        lock: AX,
        why: "the new type is not binary-coercible from the old one: every row is rewritten \
              (or checked) and every index rebuilt under the lock",
        fix: "add a column of the new type, write both, backfill in batches, switch reads, \
              drop the old one; varchar(n) to text or to a longer varchar is safe",
    },
    Rule {
        id: "set-not-null",
        level: Level::Error,
        lock: AX,
        why: "the whole table is scanned under the lock to prove there is no NULL",
        fix: "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c; then \
              SET NOT NULL uses the validated CHECK (PostgreSQL 12+) and c can be dropped",
    },
    Rule {
        id: "add-foreign-key-validating",
        level: Level::Error,
        lock: "SHARE ROW EXCLUSIVE on both tables: blocks INSERT, UPDATE and DELETE on both \
               while every row is checked",
        why: "the new key is checked against every existing row under the lock",
        fix: "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT (SHARE \
              UPDATE EXCLUSIVE: reads and writes go on), best in a later migration",
    },
    Rule {
        id: "add-check-validating",
        level: Level::Error,
        lock: AX,
        why: "every existing row is checked under the lock",
        fix: "ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT (SHARE UPDATE \
              EXCLUSIVE: reads and writes go on)",
    },
    Rule {
        id: "validate-in-same-transaction",
        level: Level::Error,
        lock: AX,
        why: "ADD CONSTRAINT ... NOT VALID took ACCESS EXCLUSIVE, held until the commit: \
              validating in the same transaction scans every row under it",
        fix: "VALIDATE CONSTRAINT in a later migration (or in a transaction:false one)",
    },
    Rule {
        id: "add-unique-without-index",
        level: Level::Error,
        lock: AX,
        why: "the unique index behind the constraint is built under the lock",
        fix: "CREATE UNIQUE INDEX CONCURRENTLY first (transaction:false), then ADD CONSTRAINT \
              c UNIQUE USING INDEX (or PRIMARY KEY USING INDEX)",
    },
    Rule {
        id: "rename-table",
        level: Level::Error,
        lock: "ACCESS EXCLUSIVE on the table, briefly",
        why: APP,
        fix: "expand and contract: deploy code that uses the new name first (a view under the \
              old name can bridge), rename in a later release",
    },
    Rule {
        id: "rename-column",
        level: Level::Error,
        lock: "ACCESS EXCLUSIVE on the table, briefly",
        why: APP,
        fix: "add the new column, write both, backfill, switch reads, drop the old column in \
              a later release",
    },
    Rule {
        id: "drop-column",
        level: Level::Error,
        lock: "ACCESS EXCLUSIVE on the table, briefly",
        why: APP,
        fix: "deploy code that no longer reads or writes the column first, then drop it in a \
              later migration",
    },
    Rule {
        id: "drop-table",
        level: Level::Error,
        lock: "ACCESS EXCLUSIVE on the table, briefly",
        why: APP,
        fix: "deploy code that no longer uses the table first, then drop it in a later \
              migration",
    },
    Rule {
        id: "delete-without-where",
        level: Level::Error,
        lock: "ROW EXCLUSIVE on the table, and a row lock on every row",
        why: "no WHERE of its own limits it (a WHERE in a sub-select or another CTE does not): \
              every row of the table is deleted",
        fix: "add the WHERE that limits it, or allow it when every row is meant to go",
    },
    Rule {
        id: "update-without-where",
        level: Level::Error,
        lock: "ROW EXCLUSIVE on the table, and a row lock on every row",
        why: "no WHERE of its own limits it (a WHERE in a sub-select or another CTE does not): \
              every row of the table is changed",
        fix: "add the WHERE that limits it, or allow it when every row is meant to change",
    },
    Rule {
        id: "drop-object",
        level: Level::Error,
        lock: "ACCESS EXCLUSIVE on what is dropped (and, with CASCADE, on what depends on it)",
        why: APP,
        fix: "deploy code that no longer uses it first, then drop it in a later migration",
    },
    Rule {
        id: "vacuum-full",
        level: Level::Error,
        lock: AX,
        why: "the whole table is rewritten under the lock",
        fix: "plain VACUUM (no lock on reads and writes), or pg_repack",
    },
    Rule {
        id: "cluster",
        level: Level::Error,
        lock: AX,
        why: "the whole table is rewritten in index order under the lock",
        fix: "pg_repack, or leave the order alone",
    },
    Rule {
        id: "lock-table",
        level: Level::Warning,
        lock: "the mode written (ACCESS EXCLUSIVE by default), held until the migration commits",
        why: "every query that needs a conflicting lock waits until the migration ends",
        fix: "take the weakest mode that is enough, as late in the migration as possible",
    },
    Rule {
        id: "truncate",
        level: Level::Error,
        lock: AX,
        why: "every row is gone, and every query on the table waits for the commit",
        fix: "DELETE in batches, or allow it when the table is meant to be emptied",
    },
    Rule {
        id: "enum-add-value-in-transaction",
        level: Level::Error,
        lock: "none: the statement fails",
        why: "before PostgreSQL 12, ALTER TYPE ... ADD VALUE cannot run inside a transaction \
              block",
        fix: "mark the section `-- migrate:up transaction:false`",
    },
    Rule {
        id: "drop-index-non-concurrent",
        level: Level::Warning,
        lock: "ACCESS EXCLUSIVE on the table, briefly: it queues behind every running query \
               and every query queues behind it",
        why: "a short lock that waits for the longest transaction on the table",
        fix: "DROP INDEX CONCURRENTLY, alone in a transaction:false migration",
    },
    Rule {
        id: "missing-lock-timeout",
        level: Level::Info,
        lock: "whatever the statement takes, waited for without a limit",
        why: "a statement waiting for its lock behind one long transaction stops every query \
              queued behind it; cruddur-db sets lock_timeout itself on a protected target and \
              with --lock-guard, and retries",
        fix: "SET LOCAL lock_timeout = '5s' first, or run with --lock-guard",
    },
];

/// The rule with this id. BUG: when the id is not in [`RULES`].
pub fn rule(id: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .unwrap_or_else(|| panic!("BUG: no lint rule {id}"))
}
