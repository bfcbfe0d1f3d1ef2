//! Statistics targets, extended statistics, replica identity, column storage and compression
//! and CLUSTER ON against the real server: `dump` writes them (pg_dump -s of the reloaded copy
//! is the source's, on every supported major) and `diff --sql` creates, changes and resets
//! them.

mod common;

use common::catalog::{assert_diff_applies, assert_same_schema, round_trip_on_every_major};
use common::TestDb;

const BASE: &str = "
CREATE TABLE public.notes (id int PRIMARY KEY, body text, n int NOT NULL);
CREATE UNIQUE INDEX notes_n ON public.notes (n);
CREATE INDEX notes_expr ON public.notes ((n + 1), lower(body));
CREATE TABLE public.tags (id int PRIMARY KEY, label text);
CREATE TABLE public.events (at date NOT NULL, body text) PARTITION BY RANGE (at);
CREATE TABLE public.events_2025 PARTITION OF public.events
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE MATERIALIZED VIEW public.note_bodies AS SELECT id, body FROM public.notes;
";

const SETTINGS: &str = "
ALTER TABLE public.notes ALTER COLUMN body SET STATISTICS 1000;
ALTER INDEX public.notes_expr ALTER COLUMN 2 SET STATISTICS 3000;
CREATE STATISTICS public.notes_stats (dependencies, ndistinct) ON body, n FROM public.notes;
ALTER TABLE public.notes REPLICA IDENTITY USING INDEX notes_n;
ALTER TABLE public.tags REPLICA IDENTITY FULL;
ALTER TABLE public.notes ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE public.tags ALTER COLUMN label SET STORAGE MAIN;
ALTER TABLE public.notes CLUSTER ON notes_n;
ALTER TABLE public.events ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE ONLY public.events_2025 ALTER COLUMN body SET STORAGE MAIN;
ALTER MATERIALIZED VIEW public.note_bodies ALTER COLUMN body SET STORAGE PLAIN;
ALTER TABLE public.notes ALTER COLUMN n SET (n_distinct = -0.5, n_distinct_inherited = 100);
ALTER TABLE public.notes SET (toast.autovacuum_enabled = false, toast.vacuum_truncate = off);
ALTER MATERIALIZED VIEW public.note_bodies SET (toast.autovacuum_vacuum_cost_delay = 5);
";

/// An extended statistics object's own target: PostgreSQL 13+.
const STATS_TARGET: &str = "
ALTER STATISTICS public.notes_stats SET STATISTICS 50;
";

/// An unlogged table's identity and serial sequences, and a sequence of its own: unlogged
/// sequences are PostgreSQL 15+ (before, the table's sequences stay logged).
const UNLOGGED: &str = "
CREATE UNLOGGED TABLE public.scratch (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n serial);
";
const UNLOGGED_SEQUENCE: &str = "
CREATE UNLOGGED SEQUENCE public.free_seq;
";

/// Column compression: PostgreSQL 14+.
const COMPRESSION: &str = "
ALTER TABLE public.tags ALTER COLUMN label SET COMPRESSION pglz;
";

fn db_with(prefix: &str, sql: &[&str]) -> TestDb {
    let db = TestDb::new(prefix);
    for s in sql {
        db.psql(s);
    }
    db
}

#[test]
fn settings_survive_dump_and_load() {
    let source = db_with(
        "settings_src",
        &[
            BASE,
            SETTINGS,
            STATS_TARGET,
            COMPRESSION,
            UNLOGGED,
            UNLOGGED_SEQUENCE,
        ],
    );
    let out = source.std_cmd().arg("dump").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = common::write_file(
        source.home.path(),
        "dump.sql",
        &String::from_utf8(out.stdout).unwrap(),
    );
    let copy = TestDb::new("settings_copy");
    common::psql_file(&copy.url, &file);
    let dumped = common::pg_dump_schema(&source.url);
    for line in [
        "SET STATISTICS 1000",
        "ALTER COLUMN 2 SET STATISTICS 3000",
        "CREATE STATISTICS public.notes_stats",
        "REPLICA IDENTITY USING INDEX notes_n",
        "REPLICA IDENTITY FULL",
        "SET STORAGE EXTERNAL",
        "SET STORAGE MAIN",
        "SET COMPRESSION pglz",
        "CLUSTER ON notes_n",
        "n_distinct=-0.5",
        "toast.autovacuum_enabled='false'",
        "CREATE UNLOGGED SEQUENCE public.free_seq",
        "CREATE UNLOGGED SEQUENCE public.scratch_n_seq",
    ] {
        assert!(dumped.contains(line), "the fixture lacks {line}: {dumped}");
    }
    assert_same_schema(&source, &copy, "dump and psql -f");
}

#[test]
fn diff_sql_adds_changes_and_resets_settings() {
    let plain = db_with("settings_plain", &[BASE]);
    let set = db_with(
        "settings_set",
        &[
            BASE,
            SETTINGS,
            STATS_TARGET,
            COMPRESSION,
            UNLOGGED,
            UNLOGGED_SEQUENCE,
        ],
    );
    let changed = db_with(
        "settings_changed",
        &[
            BASE,
            SETTINGS,
            STATS_TARGET,
            COMPRESSION,
            UNLOGGED,
            UNLOGGED_SEQUENCE,
            "ALTER SEQUENCE public.free_seq SET LOGGED; \
             ALTER TABLE public.notes ALTER COLUMN body SET STATISTICS 10; \
             ALTER TABLE public.notes ALTER COLUMN body SET STORAGE MAIN; \
             ALTER TABLE public.tags ALTER COLUMN label SET COMPRESSION DEFAULT; \
             ALTER TABLE public.notes SET WITHOUT CLUSTER; \
             ALTER TABLE public.tags CLUSTER ON tags_pkey; \
             ALTER TABLE public.notes ALTER COLUMN n RESET (n_distinct_inherited); \
             ALTER TABLE public.notes RESET (toast.vacuum_truncate); \
             ALTER TABLE public.notes REPLICA IDENTITY NOTHING; \
             DROP STATISTICS public.notes_stats; \
             CREATE STATISTICS public.notes_stats (mcv) ON body, n FROM public.notes;",
        ],
    );
    for (from, to) in [(&plain, &set), (&set, &changed), (&changed, &plain)] {
        assert_diff_applies(from, to);
    }
}

/// Every setting on every supported major: dumped, loaded with `cruddur-db schema` and with
/// `psql -1`, and the same again.
#[test]
fn settings_round_trip_on_every_supported_major() {
    let setup = |major: u32, source: &TestDb| {
        for s in [BASE, SETTINGS, UNLOGGED] {
            source.psql(s);
        }
        for (since, s) in [
            (13, STATS_TARGET),
            (14, COMPRESSION),
            (15, UNLOGGED_SEQUENCE),
        ] {
            if major >= since {
                source.psql(s);
            }
        }
    };
    let check = |major: u32, text: &str| {
        for line in [
            "SET STORAGE EXTERNAL",
            "CLUSTER ON",
            "SET STATISTICS 1000",
            "SET (n_distinct=-0.5",
            "SET (toast.",
        ] {
            assert!(
                text.contains(line),
                "PostgreSQL {major}: no {line}:\n{text}"
            );
        }
    };
    round_trip_on_every_major("set", &setup, &check, &|_| {});
}
