//! The statement generator of tests/classify_pglast.rs: deterministic, and every statement
//! valid SQL (the test checks that PostgreSQL's parser accepts each).

/// A small deterministic generator (xorshift), so that a failure is the same on every run.
pub struct Gen(pub u64);

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
            "U&\"d\\0061t\"",
            "s.U&\"\\+01F600\\\\x\"",
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

    pub fn statement(&mut self) -> String {
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
