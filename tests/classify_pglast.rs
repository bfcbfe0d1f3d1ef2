//! The statement classifier against PostgreSQL's own parser: thousands of generated
//! statements (CTEs, sub-selects, comments and quotes in every position, ONLY, USING, FROM,
//! quoted and schema-qualified names, transaction control, DROP/TRUNCATE/ALTER forms) are
//! classified by `cruddur_db::sql::classify` and by pglast (libpg_query) through
//! tests/classify/pglast_classify.py; any disagreement fails with the statement.
//! CRUDDUR_TEST_PGLAST_PYTHON names the Python that has pglast (scripts/test sets it).

use std::io::Write;
use std::process::{Command, Stdio};

use cruddur_db::sql::classify::{classify, Action, Kind, Statement, Verb};

const SCRIPT: &str = include_str!("classify/pglast_classify.py");
const STATEMENTS: usize = 2_500;

/// A small deterministic generator (xorshift), so that a failure is the same on every run.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }

    /// What separates two tokens: whitespace, or comments that hold SQL words.
    fn sp(&mut self) -> &'static str {
        const SEPARATORS: &[&str] = &[
            " ",
            " ",
            " ",
            "\n",
            "\t",
            " /* where */ ",
            " -- WHERE x = 1; COMMIT\n",
            "/* nested /* WHERE */ ; */",
            "\n  ",
            " /* ) ( */ ",
        ];
        if self.chance(70) {
            " "
        } else {
            self.pick(SEPARATORS)
        }
    }

    /// A keyword in a random case.
    fn kw(&mut self, word: &str) -> String {
        match self.below(3) {
            0 => word.to_ascii_uppercase(),
            1 => word.to_ascii_lowercase(),
            _ => word
                .chars()
                .enumerate()
                .map(|(k, c)| {
                    if k % 2 == 0 {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect(),
        }
    }

    /// Keywords separated as `sp` separates them.
    fn kws(&mut self, words: &str) -> String {
        let mut out = String::new();
        for (k, w) in words.split(' ').enumerate() {
            if k > 0 {
                out.push_str(self.sp());
            }
            out.push_str(&self.kw(w));
        }
        out
    }

    /// A relation name: plain, folded, quoted, with quotes inside, schema-qualified.
    fn name(&mut self) -> String {
        const NAMES: &[&str] = &[
            "users",
            "Activities",
            "\"Users\"",
            "\"we\"\"ird\"",
            "public.users",
            "\"My Schema\".\"T\"",
            "s.t",
            "app.\"where\"",
            "\"select\"",
            "x1",
            "db.s.t",
            "\"a.b\"",
            "\"délai\"",
            "t_$1",
        ];
        let n = self.pick(NAMES);
        if n.contains('.') && !n.starts_with('"') && self.chance(20) {
            let around = self.pick(&[" ", "\n", " /* . */ ", "/**/"]);
            n.replace('.', &format!("{around}.{around}"))
        } else {
            n.to_string()
        }
    }

    /// A literal or expression that holds SQL words in quotes.
    fn value(&mut self) -> String {
        const VALUES: &[&str] = &[
            "1",
            "'where'",
            "'a '' WHERE b'",
            "$$ WHERE ; $$",
            "$q$ ) ; WHERE $q$",
            "E'\\' WHERE'",
            "NULL",
            "(SELECT 'x' WHERE true)",
            "(SELECT max(a) FROM t WHERE b = 'WHERE')",
            "CASE WHEN a > 1 THEN 'x' ELSE 'y' END",
            "coalesce(a, (SELECT 1 WHERE false))",
            "ARRAY[1, 2]",
            "'x'::text",
            "-1",
        ];
        self.pick(VALUES).to_string()
    }

    fn condition(&mut self) -> String {
        const CONDITIONS: &[&str] = &[
            "a = 1",
            "EXISTS (SELECT 1 WHERE true)",
            "a IN (SELECT b FROM t WHERE c)",
            "b = 'WHERE'",
            "true",
            "a = $$ ; $$",
            "(a) = (1)",
        ];
        let c = self.pick(CONDITIONS).to_string();
        format!("{}{}{c}", self.kw("WHERE"), self.sp())
    }

    fn alias(&mut self) -> String {
        match self.below(3) {
            0 => String::new(),
            1 => format!("{}{}{}x", self.sp(), self.kw("AS"), self.sp()),
            _ => format!("{}x", self.sp()),
        }
    }

    /// `ONLY name`, `name *` or `name` (ONLY and `*` do not go together).
    fn target(&mut self) -> String {
        match self.below(8) {
            0 | 1 => format!("{}{}{}", self.kw("ONLY"), self.sp(), self.name()),
            2 => format!("{} *", self.name()),
            _ => self.name(),
        }
    }

    fn returning(&mut self) -> String {
        if self.chance(30) {
            format!("{}{}{}1", self.sp(), self.kw("RETURNING"), self.sp())
        } else {
            String::new()
        }
    }

    fn delete(&mut self, limited: Option<bool>) -> String {
        let mut s = format!(
            "{}{}{}{}",
            self.kws("DELETE FROM"),
            self.sp(),
            self.target(),
            self.alias()
        );
        if self.chance(30) {
            s += &format!(
                "{}{}{}{}",
                self.sp(),
                self.kw("USING"),
                self.sp(),
                self.name()
            );
            if self.chance(30) {
                s += &format!(", {}", self.name());
            }
        }
        if limited.unwrap_or_else(|| self.chance(50)) {
            s += &format!("{}{}", self.sp(), self.condition());
        }
        s + &self.returning()
    }

    fn update(&mut self, limited: Option<bool>) -> String {
        let mut s = format!(
            "{}{}{}{}{}{}",
            self.kw("UPDATE"),
            self.sp(),
            self.target(),
            self.alias(),
            self.sp(),
            self.kw("SET"),
        );
        s += &format!("{}a = {}", self.sp(), self.value());
        if self.chance(30) {
            s += &format!(", \"Col\" = {}", self.value());
        }
        if self.chance(30) {
            s += &format!(
                "{}{}{}{}",
                self.sp(),
                self.kw("FROM"),
                self.sp(),
                self.name()
            );
        }
        if limited.unwrap_or_else(|| self.chance(50)) {
            s += &format!("{}{}", self.sp(), self.condition());
        }
        s + &self.returning()
    }

    fn insert(&mut self) -> String {
        let mut s = format!("{}{}{}", self.kws("INSERT INTO"), self.sp(), self.name());
        if self.chance(20) {
            s += &format!("{}{}{}y", self.sp(), self.kw("AS"), self.sp());
        }
        if self.chance(40) {
            s += " (a, \"Col\")";
        }
        if self.chance(60) {
            s += &format!(
                "{}{}{}({}, {})",
                self.sp(),
                self.kw("VALUES"),
                self.sp(),
                self.value(),
                self.value()
            );
        } else {
            s += &format!(
                "{}{}{}a, b {}{}t {}",
                self.sp(),
                self.kw("SELECT"),
                self.sp(),
                self.kw("FROM"),
                self.sp(),
                self.condition()
            );
        }
        if self.chance(20) {
            s += &format!("{}{}", self.sp(), self.kws("ON CONFLICT DO NOTHING"));
        }
        s + &self.returning()
    }

    fn merge(&mut self) -> String {
        format!(
            "{}{}{}{} {} s {} t.a = s.a {} {} {}",
            self.kws("MERGE INTO"),
            self.sp(),
            self.target(),
            self.alias(),
            self.kw("USING"),
            self.kw("ON"),
            self.kws("WHEN MATCHED THEN"),
            self.kw("DELETE"),
            self.kws("WHEN NOT MATCHED THEN INSERT VALUES (1)")
        )
    }

    fn select(&mut self) -> String {
        match self.below(5) {
            0 => format!(
                "{}{}a, {}{}{}{}{}{}",
                self.kw("SELECT"),
                self.sp(),
                self.value(),
                self.sp(),
                self.kw("FROM"),
                self.sp(),
                self.name(),
                if self.chance(50) {
                    format!(" {}", self.condition())
                } else {
                    String::new()
                }
            ),
            1 => format!("{} (1, 'where')", self.kw("VALUES")),
            2 => format!("{} {}", self.kw("TABLE"), self.name()),
            3 => format!("({} 1 {})", self.kw("SELECT"), self.condition()),
            _ if self.chance(50) => format!(
                "{} a {} x {}",
                self.kw("SELECT"),
                self.kw("FROM"),
                self.kws("FOR UPDATE"),
            ),
            _ => format!(
                "{} count(*) {} x {} {} 1",
                self.kw("SELECT"),
                self.kw("FROM"),
                self.kws("UNION ALL"),
                self.kw("SELECT")
            ),
        }
    }

    /// A CTE's body: a query, or a data-modifying statement with RETURNING.
    fn cte_body(&mut self) -> String {
        let body = match self.below(5) {
            0 => return format!("{} 1 {}", self.kw("SELECT"), self.condition()),
            1 => self.delete(None),
            2 => self.update(None),
            3 => self.insert(),
            _ => return format!("{} a {} t", self.kw("SELECT"), self.kw("FROM")),
        };
        if body.to_ascii_uppercase().contains("RETURNING") {
            body
        } else {
            format!("{body} {}", self.kws("RETURNING 1"))
        }
    }

    fn with(&mut self) -> String {
        let mut s = self.kw("WITH");
        if self.chance(15) {
            s += &format!(" {}", self.kw("RECURSIVE"));
        }
        let n = 1 + self.below(3);
        for k in 0..n {
            if k > 0 {
                s.push(',');
            }
            s += &format!("{}c{k}", self.sp());
            if self.chance(20) {
                s += " (a)";
            }
            s += &format!("{}{}", self.sp(), self.kw("AS"));
            match self.below(4) {
                0 => s += &format!(" {}", self.kw("MATERIALIZED")),
                1 => s += &format!(" {}", self.kws("NOT MATERIALIZED")),
                _ => {}
            }
            let body = self.cte_body();
            s += &format!("{}({body}){}", self.sp(), self.sp());
        }
        let main = match self.below(5) {
            0 => format!("{} count(*) {} c0", self.kw("SELECT"), self.kw("FROM")),
            1 => self.delete(None),
            2 => self.update(None),
            3 => self.insert(),
            _ => self.select(),
        };
        s + &main
    }

    fn truncate(&mut self) -> String {
        let mut s = self.kw("TRUNCATE");
        if self.chance(50) {
            s += &format!(" {}", self.kw("TABLE"));
        }
        let n = 1 + self.below(3);
        for k in 0..n {
            if k > 0 {
                s.push(',');
            }
            s += &format!("{}{}", self.sp(), self.target());
        }
        if self.chance(30) {
            s += &format!(" {}", self.kws("RESTART IDENTITY"));
        }
        if self.chance(30) {
            s += &format!(" {}", self.kw("CASCADE"));
        }
        s
    }

    fn drop(&mut self) -> String {
        const WHAT: &[&str] = &[
            "TABLE",
            "TABLE IF EXISTS",
            "VIEW",
            "MATERIALIZED VIEW",
            "INDEX",
            "INDEX CONCURRENTLY",
            "SEQUENCE",
            "FOREIGN TABLE",
        ];
        match self.below(4) {
            0 | 1 => {
                let what = self.pick(WHAT);
                let mut s = format!("{}{}{}", self.kw("DROP"), self.sp(), self.kws(what));
                let n = if what.contains("CONCURRENTLY") {
                    1
                } else {
                    1 + self.below(2)
                };
                for k in 0..n {
                    if k > 0 {
                        s.push(',');
                    }
                    s += &format!("{}{}", self.sp(), self.name());
                }
                if self.chance(40) {
                    s += &format!(" {}", self.kw("CASCADE"));
                }
                s
            }
            2 => format!(
                "{} {} {}",
                self.kws("DROP SCHEMA"),
                self.pick(&["s", "\"My Schema\"", "IF EXISTS app"]),
                self.pick(&["CASCADE", "", "RESTRICT"])
            ),
            _ => {
                let obj = self.pick(&[
                    "FUNCTION f(int)",
                    "TYPE mood",
                    "DOMAIN d",
                    "EXTENSION hstore",
                    "TRIGGER tr ON users",
                    "POLICY p ON users",
                    "RULE r ON users",
                    "PROCEDURE p()",
                    "DATABASE d",
                    "ROLE r",
                    "OWNED BY r",
                    "SERVER srv",
                    "COLLATION c",
                ]);
                format!("{} {}", self.kw("DROP"), obj)
            }
        }
    }

    fn alter(&mut self) -> String {
        let mut s = format!("{}{}{}", self.kw("ALTER"), self.sp(), self.kw("TABLE"));
        if self.chance(20) {
            s += &format!(" {}", self.kws("IF EXISTS"));
        }
        s += &format!("{}{}", self.sp(), self.target());
        if self.chance(15) {
            let rename = self.pick(&[
                "RENAME TO u",
                "RENAME COLUMN a TO b",
                "RENAME a TO b",
                "RENAME CONSTRAINT k TO l",
            ]);
            return format!("{s} {}", self.kws(rename));
        }
        const ACTIONS: &[&str] = &[
            "DROP COLUMN a",
            "DROP COLUMN IF EXISTS a CASCADE",
            "DROP a",
            "DROP CONSTRAINT k",
            "ALTER COLUMN a TYPE int",
            "ALTER a SET DATA TYPE text USING a::text",
            "ALTER COLUMN \"Col\" SET NOT NULL",
            "ALTER a DROP NOT NULL",
            "ADD COLUMN d int DEFAULT 0",
            "ADD CONSTRAINT k CHECK (a > 0) NOT VALID",
            "VALIDATE CONSTRAINT k",
            "ALTER a SET DEFAULT 'where'",
            "ALTER COLUMN a SET STATISTICS 100",
            "ADD d text",
            "ALTER CONSTRAINT k DEFERRABLE",
        ];
        let n = 1 + self.below(3);
        for k in 0..n {
            if k > 0 {
                s.push(',');
            }
            let action = self.pick(ACTIONS);
            s += &format!("{}{}", self.sp(), action);
        }
        s
    }

    fn tx(&mut self) -> String {
        const FORMS: &[&str] = &[
            "BEGIN",
            "BEGIN WORK",
            "BEGIN TRANSACTION",
            "BEGIN ISOLATION LEVEL SERIALIZABLE",
            "BEGIN READ ONLY",
            "START TRANSACTION",
            "START TRANSACTION READ WRITE",
            "START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            "COMMIT",
            "COMMIT WORK",
            "COMMIT AND CHAIN",
            "COMMIT AND NO CHAIN",
            "COMMIT TRANSACTION AND CHAIN",
            "END",
            "END AND CHAIN",
            "END WORK AND NO CHAIN",
            "ROLLBACK",
            "ROLLBACK AND CHAIN",
            "ROLLBACK WORK AND NO CHAIN",
            "ABORT",
            "ABORT AND CHAIN",
            "SAVEPOINT s",
            "RELEASE s",
            "RELEASE SAVEPOINT s",
            "ROLLBACK TO s",
            "ROLLBACK TO SAVEPOINT s",
            "ROLLBACK WORK TO SAVEPOINT s",
            "PREPARE TRANSACTION 'x'",
            "COMMIT PREPARED 'x'",
            "ROLLBACK PREPARED 'x'",
        ];
        let form = self.pick(FORMS);
        let mut s = String::new();
        for (k, w) in form.split(' ').enumerate() {
            if k > 0 {
                s.push_str(self.sp());
            }
            if w.starts_with('\'') || w == "s" {
                s.push_str(w);
            } else {
                s += &self.kw(w.trim_end_matches(','));
                if w.ends_with(',') {
                    s.push(',');
                }
            }
        }
        s
    }

    fn other(&mut self) -> String {
        let s = self.pick(&[
            "CREATE TABLE t (a int, b text DEFAULT 'where')",
            "CREATE INDEX CONCURRENTLY i ON users (a)",
            "CREATE VIEW v AS SELECT 1 WHERE true",
            "CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ DELETE FROM t; SELECT 1 $$ LANGUAGE sql",
            "CREATE SCHEMA s",
            "SET search_path = app",
            "LOCK TABLE users",
            "COMMENT ON TABLE users IS 'DELETE FROM users'",
            "GRANT SELECT ON users TO r",
            "ANALYZE users",
            "VACUUM users",
            "PREPARE p AS SELECT 1",
            "EXPLAIN DELETE FROM users",
            "DO $$ BEGIN DELETE FROM users; END $$",
            "ALTER INDEX i RENAME TO j",
            "ALTER SEQUENCE q RESTART",
            "SELECT 1 INTO TEMP x",
        ]);
        s.to_string()
    }

    fn statement(&mut self) -> String {
        let body = match self.below(12) {
            0 | 1 => self.delete(None),
            2 | 3 => self.update(None),
            4 => self.insert(),
            5 | 6 => self.with(),
            7 => self.truncate(),
            8 => self.drop(),
            9 => self.alter(),
            10 => {
                if self.chance(70) {
                    self.tx()
                } else {
                    self.merge()
                }
            }
            _ => {
                if self.chance(50) {
                    self.select()
                } else {
                    self.other()
                }
            }
        };
        let lead = if self.chance(15) {
            "-- a leading comment; DELETE\n"
        } else if self.chance(10) {
            "/* lead */ "
        } else {
            ""
        };
        let end = self.pick(&["", ";", " ;", ";\n", "; -- trailing WHERE"]);
        format!("{lead}{body}{end}")
    }
}

fn ours(s: &Statement) -> String {
    let verb = |v: Verb| match v {
        Verb::Insert => "insert",
        Verb::Update => "update",
        Verb::Delete => "delete",
        Verb::Merge => "merge",
    };
    let mut mods: Vec<String> = s
        .modifies
        .iter()
        .map(|m| {
            let limited = match m.verb {
                Verb::Update | Verb::Delete if m.limited => "where",
                Verb::Update | Verb::Delete => "all",
                _ => "-",
            };
            format!("{}:{}:{limited}", verb(m.verb), m.target)
        })
        .collect();
    mods.sort();
    let mut writes: Vec<String> = s.writes.iter().map(ToString::to_string).collect();
    writes.sort();
    let mut actions: Vec<&str> = s
        .actions
        .iter()
        .map(|a| match a {
            Action::DropColumn => "drop_column",
            Action::AlterType => "alter_type",
            Action::SetNotNull => "set_not_null",
            Action::Rename => "rename",
            Action::Other => "other",
        })
        .collect();
    actions.sort();
    let tx = match s.kind {
        Kind::Tx(f) => f.name(),
        _ => "-",
    };
    format!(
        "kind={}|tx={tx}|mods={}|writes={}|actions={}",
        s.kind.name(),
        mods.join(","),
        writes.join(","),
        actions.join(",")
    )
}

/// The corpus: the issue's own cases first, then the generated statements.
fn corpus() -> Vec<String> {
    let mut out: Vec<String> = [
        "WITH x AS (SELECT 1 WHERE true) DELETE FROM users;",
        "UPDATE activities SET message = (SELECT 'x' WHERE true);",
        "WITH gone AS (DELETE FROM activities RETURNING 1) SELECT count(*) FROM gone;",
        "commit/*x*/and chain",
        "COMMIT\nAND\nCHAIN",
        "end and chain",
        "DELETE FROM t WHERE CURRENT OF c",
        "UPDATE ONLY t SET (a, b) = (SELECT 1, 2 WHERE true)",
        "UPDATE t SET a = 1 FROM (SELECT * FROM u WHERE x) s",
        "UPDATE t SET a = 1 FROM (SELECT * FROM u WHERE x) s WHERE s.a = t.a",
        "DELETE FROM t AS \"where\" USING (SELECT 1 WHERE true) u",
        "UPDATE t SET \"where\" = 1",
        "WITH a AS (WITH b AS (DELETE FROM t RETURNING 1) SELECT * FROM b) SELECT 1",
        "WITH a AS (SELECT 1) UPDATE t SET x = (WITH b AS (SELECT 1 WHERE true) SELECT 1)",
        "DELETE FROM t WHERE a = ANY (ARRAY(SELECT 1 WHERE true))",
        "UPDATE t SET a = x.y FROM u x JOIN v ON (x.a = v.a) LEFT JOIN LATERAL (SELECT 1 WHERE true) l ON true",
        "INSERT INTO t SELECT 1 ON CONFLICT (a) DO UPDATE SET b = 1 WHERE t.c",
        "ALTER TABLE ONLY t ALTER COLUMN a SET DATA TYPE bigint, ALTER b SET NOT NULL, DROP c",
        "DROP TABLE IF EXISTS a, s.b, \"C\".\"d\" CASCADE",
        "TRUNCATE ONLY a, b *, ONLY c RESTART IDENTITY CASCADE",
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    let mut g = Gen(0x2700_2700_c0ff_ee11);
    while out.len() < STATEMENTS {
        out.push(g.statement());
    }
    out
}

#[test]
fn the_classifier_agrees_with_postgresqls_parser() {
    let python = std::env::var("CRUDDUR_TEST_PGLAST_PYTHON").expect(
        "CRUDDUR_TEST_PGLAST_PYTHON must name a Python with pglast installed (scripts/test \
         installs it into the test virtualenv and sets it)",
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pglast_classify.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let statements = corpus();
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let mut input = Vec::new();
    for s in &statements {
        input.extend_from_slice(s.as_bytes());
        input.push(0);
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "the pglast script failed");
    let theirs: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(theirs.len(), statements.len(), "one line per statement");
    // The generator must write valid SQL: a statement PostgreSQL rejects checks nothing.
    let rejected: Vec<String> = statements
        .iter()
        .zip(&theirs)
        .filter(|(_, t)| t.starts_with("ERROR"))
        .map(|(sql, t)| format!("{sql}\n  {t}"))
        .collect();
    assert!(
        rejected.is_empty(),
        "the generator wrote {} statements PostgreSQL's parser rejects:\n{}",
        rejected.len(),
        rejected[..rejected.len().min(10)].join("\n")
    );
    let mut wrong = Vec::new();
    for (sql, theirs) in statements.iter().zip(&theirs) {
        let ours = ours(&classify(sql));
        if ours != *theirs {
            wrong.push(format!(
                "statement: {sql}\n  pglast:     {theirs}\n  classifier: {ours}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} statements classified differently from PostgreSQL's parser:\n{}",
        wrong.len(),
        statements.len(),
        wrong
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
