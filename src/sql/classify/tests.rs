//! The classifier's unit tests (tests/classify_pglast.rs checks it against PostgreSQL's
//! parser on thousands of generated statements).

use super::*;

fn flags(sql: &str) -> Vec<&'static str> {
    classify(sql).destructive()
}

// Regression: a WHERE inside a CTE or a sub-select was taken for the statement's own.
#[test]
fn a_where_in_a_sub_select_or_cte_does_not_limit_the_statement() {
    assert_eq!(
        flags("WITH x AS (SELECT 1 WHERE true) DELETE FROM users;"),
        ["DELETE without WHERE"]
    );
    assert_eq!(
        flags("UPDATE activities SET message = (SELECT 'x' WHERE true);"),
        ["UPDATE without WHERE"]
    );
    assert_eq!(
        flags("WITH gone AS (DELETE FROM activities RETURNING 1) SELECT count(*) FROM gone;"),
        ["DELETE without WHERE"]
    );
    assert!(flags("DELETE FROM users u USING activities a WHERE a.user_uuid = u.uuid").is_empty());
    assert_eq!(
        flags("UPDATE users SET bio = a.message FROM activities a"),
        ["UPDATE without WHERE"]
    );
}

#[test]
fn relations_are_read_with_their_schema_quotes_and_only() {
    let s = classify("DELETE FROM ONLY \"My \"\"S\"\"\".Users AS u WHERE true");
    assert_eq!(s.kind, Kind::Delete);
    assert_eq!(s.writes[0].to_string(), "only My \"S\".users");
    assert!(s.modifies[0].limited);
    let s = classify("DELETE FROM s.U&\"d\\0061t\\\\\\+01F600\" WHERE true");
    assert_eq!(s.writes[0].to_string(), "s.dat\\\u{1F600}");
    let s = classify("TRUNCATE TABLE a, ONLY b.c * RESTART IDENTITY CASCADE");
    let w: Vec<String> = s.writes.iter().map(ToString::to_string).collect();
    assert_eq!(w, [".a", "only b.c"]);
    assert_eq!(s.lock, Lock::AccessExclusive);
}

#[test]
fn drops_and_alters_are_told_apart() {
    assert_eq!(flags("DROP INDEX CONCURRENTLY IF EXISTS i"), ["DROP INDEX"]);
    assert_eq!(flags("drop schema x cascade"), ["DROP SCHEMA"]);
    assert_eq!(
        flags("ALTER TABLE t ADD c int, ALTER c SET NOT NULL, ALTER COLUMN d TYPE text"),
        ["SET NOT NULL", "ALTER COLUMN ... TYPE"]
    );
    assert!(flags("ALTER TABLE t DROP CONSTRAINT c, ALTER c DROP NOT NULL").is_empty());
    assert_eq!(
        classify("ALTER TABLE t VALIDATE CONSTRAINT c").lock,
        Lock::ShareUpdateExclusive
    );
}

#[test]
fn every_transaction_control_form_is_recognised() {
    for (sql, want) in [
        ("BEGIN", Some("begin")),
        ("begin work;", Some("begin")),
        ("BEGIN ISOLATION LEVEL SERIALIZABLE", Some("begin+modes")),
        ("START TRANSACTION READ ONLY", Some("begin+modes")),
        ("start transaction;", Some("begin")),
        ("COMMIT AND NO CHAIN", Some("commit")),
        ("commit/*x*/and chain", Some("commit+chain")),
        ("COMMIT\nAND\nCHAIN;", Some("commit+chain")),
        ("end and chain", Some("commit+chain")),
        ("END TRANSACTION", Some("commit")),
        ("ROLLBACK AND CHAIN", Some("rollback+chain")),
        ("abort", Some("rollback")),
        ("ROLLBACK TO SAVEPOINT a", Some("rollback_to")),
        ("rollback work to a", Some("rollback_to")),
        ("SAVEPOINT a", Some("savepoint")),
        ("RELEASE a", Some("release")),
        ("PREPARE TRANSACTION 'x'", Some("prepare")),
        ("COMMIT PREPARED 'x'", Some("commit_prepared")),
        ("ROLLBACK PREPARED 'x'", Some("rollback_prepared")),
        ("PREPARE p AS SELECT 1", None),
        ("ENDX", None),
        ("select 1", None),
    ] {
        assert_eq!(tx_control(sql).map(|f| f.name()), want, "{sql}");
        assert_eq!(
            classify(sql).kind == Kind::Tx(tx_control(sql).unwrap_or(TxForm::Savepoint)),
            want.is_some(),
            "{sql}"
        );
    }
}
