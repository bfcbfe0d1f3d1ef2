//! Event triggers against the real server: `dump` writes them last (pg_dump -s of the
//! reloaded copy is the source's, on every supported major, loaded with `cruddur-db schema`
//! and with `psql -1`) and `diff --sql` creates, changes and drops them.

mod common;

use common::TestDb;

const BASE: &str = "
CREATE SCHEMA audit;
CREATE TABLE audit.ddl_log (at timestamptz NOT NULL DEFAULT now(), tag text);
CREATE FUNCTION audit.log_ddl() RETURNS event_trigger LANGUAGE plpgsql
    AS $$ BEGIN INSERT INTO audit.ddl_log (tag) VALUES (tg_tag); END $$;
";

const TRIGGERS: &str = "
CREATE EVENT TRIGGER log_creates ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE') EXECUTE FUNCTION audit.log_ddl();
CREATE EVENT TRIGGER \"log every drop\" ON sql_drop EXECUTE FUNCTION audit.log_ddl();
ALTER EVENT TRIGGER \"log every drop\" DISABLE;
COMMENT ON EVENT TRIGGER log_creates IS 'who''s changing tables';
";

fn dump_of(db: &TestDb) -> String {
    let out = db.std_cmd().arg("dump").output().unwrap();
    assert!(
        out.status.success(),
        "dump of {}: {}",
        db.url,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The major of the system's pg_dump, which dumps servers of that major and older only.
fn pg_dump_major() -> Option<u32> {
    let out = std::process::Command::new("pg_dump")
        .arg("--version")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace()
        .nth(2)?
        .split('.')
        .next()?
        .parse()
        .ok()
}

fn assert_same_schema(a: &TestDb, b: &TestDb, what: &str) {
    let (x, y) = (
        common::pg_dump_schema(&a.url),
        common::pg_dump_schema(&b.url),
    );
    assert!(
        x == y,
        "{what}: pg_dump -s differs; {}",
        common::first_difference(&x, &y, (&a.name, &b.name))
    );
}

#[test]
fn event_triggers_round_trip_on_every_supported_major() {
    let mut servers = common::pg_version_servers();
    servers.push((15, common::admin_url()));
    let mut failures = Vec::new();
    for (major, admin) in servers {
        let result = std::panic::catch_unwind(|| {
            let source = TestDb::new_on(&admin, &format!("evt{major}_src"));
            common::psql(&source.url, BASE);
            common::psql(&source.url, TRIGGERS);
            let text = dump_of(&source);
            let created = text.find("CREATE EVENT TRIGGER").expect("no event trigger");
            assert!(
                text.rfind("CREATE TABLE \"").unwrap() < created,
                "PostgreSQL {major}: event triggers must come after everything else:\n{text}"
            );
            for line in [
                "ALTER EVENT TRIGGER \"log every drop\" DISABLE;",
                "WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')",
                "COMMENT ON EVENT TRIGGER \"log_creates\" IS 'who''s changing tables';",
            ] {
                assert!(
                    text.contains(line),
                    "PostgreSQL {major}: no {line}:\n{text}"
                );
            }
            let file = common::write_file(source.home.path(), "dump.sql", &text);
            let by_us = TestDb::new_on(&admin, &format!("evt{major}_schema"));
            let out = by_us.std_cmd().arg("schema").arg(&file).output().unwrap();
            assert!(
                out.status.success(),
                "PostgreSQL {major}: schema: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let by_psql = TestDb::new_on(&admin, &format!("evt{major}_psql"));
            common::psql_file(&by_psql.url, &file);
            for copy in [&by_us, &by_psql] {
                // NOTE: made last, the triggers did not fire while the dump loaded.
                assert_eq!(copy.scalar("SELECT count(*) FROM audit.ddl_log"), "0");
                let again = dump_of(copy);
                assert!(
                    again == text,
                    "PostgreSQL {major}: the copy's dump differs; {}",
                    common::first_difference(&text, &again, ("source", "copy"))
                );
                if pg_dump_major().is_some_and(|m| m >= major) {
                    assert_same_schema(&source, copy, &format!("PostgreSQL {major}"));
                }
            }
        });
        if let Err(e) = result {
            failures.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| format!("PostgreSQL {major}: panicked")),
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn diff_sql_creates_changes_and_drops_event_triggers() {
    let plain = TestDb::new("evt_plain");
    plain.psql(BASE);
    let set = TestDb::new("evt_set");
    set.psql(BASE);
    set.psql(TRIGGERS);
    let changed = TestDb::new("evt_changed");
    changed.psql(BASE);
    changed.psql(TRIGGERS);
    changed.psql(
        "ALTER EVENT TRIGGER \"log every drop\" ENABLE ALWAYS; \
         DROP EVENT TRIGGER log_creates; \
         CREATE EVENT TRIGGER log_creates ON ddl_command_start \
             WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION audit.log_ddl();",
    );
    for (from, to) in [(&plain, &set), (&set, &changed), (&changed, &plain)] {
        let out = from
            .std_cmd()
            .args(["diff", "--sql", &from.url, &to.url])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sql = String::from_utf8(out.stdout).unwrap();
        let target = TestDb::new("evt_apply");
        let from_sql = dump_of(from);
        common::psql_file(
            &target.url,
            &common::write_file(target.home.path(), "from.sql", &from_sql),
        );
        common::psql_file(
            &target.url,
            &common::write_file(target.home.path(), "up.sql", &sql),
        );
        assert_same_schema(to, &target, &format!("{} -> {}", from.name, to.name));
        let out = from
            .std_cmd()
            .args(["diff", "--exit-code", &target.url, &to.url])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
