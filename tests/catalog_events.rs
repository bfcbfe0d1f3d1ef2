//! Event triggers against the real server: `dump` writes them last (pg_dump -s of the
//! reloaded copy is the source's, on every supported major, loaded with `cruddur-db schema`
//! and with `psql -1`) and `diff --sql` creates, changes and drops them.

mod common;

use common::catalog::{assert_diff_applies, round_trip_on_every_major};
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

#[test]
fn event_triggers_round_trip_on_every_supported_major() {
    let setup = |_: u32, source: &TestDb| {
        source.psql(BASE);
        source.psql(TRIGGERS);
    };
    let check = |major: u32, text: &str| {
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
    };
    // NOTE: made last, the triggers did not fire while the dump loaded.
    let after = |copy: &TestDb| assert_eq!(copy.scalar("SELECT count(*) FROM audit.ddl_log"), "0");
    round_trip_on_every_major("evt", &setup, &check, &after);
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
        assert_diff_applies(from, to);
    }
}
