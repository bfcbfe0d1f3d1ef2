//! The lock the statement classifier names, against the lock PostgreSQL takes: each
//! statement runs in a transaction on a real table and the strongest mode it holds on that
//! table (pg_locks) must be the classifier's.

mod common;

use common::TestDb;
use cruddur_db::sql::classify::{classify, Lock};

/// pg_locks' mode names, weakest first, as the classifier's levels.
fn level(mode: &str) -> Lock {
    match mode {
        "AccessShareLock" => Lock::AccessShare,
        "RowShareLock" => Lock::RowShare,
        "RowExclusiveLock" => Lock::RowExclusive,
        "ShareUpdateExclusiveLock" => Lock::ShareUpdateExclusive,
        "ShareLock" => Lock::Share,
        "ShareRowExclusiveLock" => Lock::ShareRowExclusive,
        "ExclusiveLock" => Lock::Exclusive,
        "AccessExclusiveLock" => Lock::AccessExclusive,
        other => panic!("unknown lock mode {other}"),
    }
}

#[tokio::test]
async fn the_classifier_names_the_lock_postgresql_takes() {
    let db = TestDb::new("classify_locks");
    db.psql(
        "CREATE TABLE u (a int PRIMARY KEY); INSERT INTO u VALUES (1); \
         CREATE TABLE t (a int, b text); INSERT INTO t VALUES (1, 'x'); \
         CREATE INDEX ti ON t (b); \
         ALTER TABLE t ADD CONSTRAINT k CHECK (a > 0) NOT VALID",
    );
    let client = db.client().await;
    let statements = [
        "SELECT * FROM t",
        "SELECT * FROM t WHERE a = 1 FOR UPDATE",
        "INSERT INTO t VALUES (2, 'y')",
        "UPDATE t SET a = 2",
        "DELETE FROM t WHERE a = 1",
        "WITH g AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM g",
        "MERGE INTO t USING u ON t.a = u.a WHEN MATCHED THEN DELETE",
        "TRUNCATE t",
        "DROP TABLE t",
        "ALTER TABLE t ADD COLUMN c int",
        "ALTER TABLE t ALTER a SET NOT NULL",
        "ALTER TABLE t ALTER COLUMN b TYPE varchar(10)",
        "ALTER TABLE t DROP COLUMN b",
        "ALTER TABLE t ALTER a SET STATISTICS 100",
        "ALTER TABLE t VALIDATE CONSTRAINT k",
        "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (a) NOT VALID",
        "CREATE INDEX i ON t (a)",
        "CREATE TRIGGER tr BEFORE UPDATE ON t FOR EACH ROW \
         EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        "DROP INDEX ti",
        "REINDEX TABLE t",
        "ANALYZE t",
        "LOCK TABLE t",
        "LOCK t IN SHARE ROW EXCLUSIVE MODE",
        "LOCK TABLE t IN ACCESS SHARE MODE",
        "CLUSTER t USING ti",
    ];
    let oid: u32 = client
        .query_one("SELECT 't'::regclass::oid", &[])
        .await
        .unwrap()
        .get(0);
    let mut wrong = Vec::new();
    for sql in statements {
        client.batch_execute("BEGIN").await.unwrap();
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let modes: Vec<String> = client
            .query(
                "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() \
                 AND locktype = 'relation' AND relation = $1",
                &[&oid],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        client.batch_execute("ROLLBACK").await.unwrap();
        let taken = modes.iter().map(|m| level(m)).max().unwrap_or(Lock::None);
        let named = classify(sql).lock;
        if taken != named {
            wrong.push(format!(
                "{sql}: PostgreSQL takes {taken}, the classifier says {named}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
