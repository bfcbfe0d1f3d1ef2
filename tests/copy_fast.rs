//! `copy`'s fast load against a real server: the target's indexes and foreign keys set aside
//! and built again exactly as they were; a failure while building them again, and a SIGKILL in
//! the middle of the load, each leave the target with its indexes, constraints and rows; large
//! tables read in ctid ranges by several sessions (binary and text) give the same rows.

mod common;
mod prod;

use std::time::{Duration, Instant};

use common::{rows_of, TestDb};
#[cfg(feature = "test-hooks")]
use prod::ProdDb;

/// The schema and rows of a database (pg_dump), waiting up to 30 s for locks a finished
/// copy's session may still hold while the server ends it.
fn dump(db: &TestDb) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = std::process::Command::new("pg_dump")
            .args(["--no-comments", "--lock-wait-timeout=1000", "-d", &db.url])
            .output()
            .expect("pg_dump runs");
        if out.status.success() {
            return String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
                .collect::<Vec<_>>()
                .join("\n");
        }
        assert!(
            Instant::now() < deadline,
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn schema(db: &TestDb) -> String {
    common::pg_dump_schema(&db.url)
}

/// Runs `cruddur-db copy ARGS` for `dst`'s home (the split threshold lowered to one block
/// when `split`, a test hook), and gives its exit code and stderr.
fn copy(dst: &TestDb, split: bool, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = dst.cmd();
    if split {
        cmd.env("CRUDDUR_TEST_COPY_SPLIT_PAGES", "1");
    }
    let out = cmd.arg("copy").args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// [`copy`] that must succeed; gives its stderr.
fn copy_ok(dst: &TestDb, split: bool, args: &[&str]) -> String {
    let (code, err) = copy(dst, split, args);
    assert_eq!(code, Some(0), "{err}");
    err
}

/// A table with every kind of index and constraint the load sets aside or keeps in place,
/// some under names that would break unquoted SQL.
const EVENTS: &str = "\
CREATE TABLE public.events (
  id bigint PRIMARY KEY,
  r int4range NOT NULL,
  kind text,
  at timestamptz NOT NULL DEFAULT now(),
  user_uuid uuid,
  CONSTRAINT \"no overlap; DROP TABLE users --\" EXCLUDE USING gist (r WITH &&)
);
CREATE INDEX \"x\"\"; DROP TABLE users; --\" ON public.events (lower(kind)) WHERE kind IS NOT NULL;
CREATE INDEX events_at_idx ON public.events (at DESC NULLS LAST) WITH (fillfactor = 70);
COMMENT ON INDEX public.events_at_idx IS 'kept in place: a comment';
CREATE INDEX events_kind_idx ON public.events (kind, (id + 1));
ALTER INDEX public.events_kind_idx ALTER COLUMN 2 SET STATISTICS 500;
CREATE UNIQUE INDEX events_kind_at ON public.events (kind, at) NULLS NOT DISTINCT;
ALTER TABLE public.events CLUSTER ON events_kind_at;
ALTER TABLE public.events ADD CONSTRAINT events_user FOREIGN KEY (user_uuid)
  REFERENCES public.users (uuid) ON DELETE SET NULL NOT VALID;
ALTER TABLE public.users ADD CONSTRAINT users_handle_email UNIQUE (handle, email)
  DEFERRABLE INITIALLY DEFERRED;
";

#[test]
fn indexes_and_keys_come_back_as_they_were() {
    let src = TestDb::seeded("cfast_keys");
    let dst = TestDb::seeded("cfast_keys_dst");
    for db in [&src, &dst] {
        db.psql(EVENTS);
    }
    src.psql(
        "INSERT INTO public.events (id, r, kind, at, user_uuid) \
         SELECT g, int4range(g * 10, g * 10 + 5), 'k' || (g % 7), \
                timestamptz '2026-01-01' + g * interval '1 minute', \
                (SELECT uuid FROM public.users ORDER BY handle LIMIT 1) \
         FROM generate_series(1, 3000) g",
    );
    let before = schema(&dst);
    let err = copy_ok(
        &dst,
        false,
        &["--from", &src.url, "--to", "local", "--no-mask", "-v"],
    );
    // Five keys of users, the key of activities and its two indexes, the events' key, exclusion
    // and the index with the hostile name; kept in place: the commented, the clustered and
    // the one with a statistics target. Foreign keys: the two of activities and events_user.
    assert!(
        err.contains("set aside for the load and built again: 11 index(es), 3 foreign key(s)"),
        "{err}"
    );
    assert_eq!(
        schema(&dst),
        before,
        "the target's schema changed:\n{}",
        common::first_difference(&before, &schema(&dst), ("before", "after"))
    );
    assert_eq!(rows_of(&dst.url), rows_of(&src.url));
    assert_eq!(dst.scalar("SELECT count(*) FROM public.users"), "3");
    // The NOT VALID key is still not validated; the others are.
    assert_eq!(
        dst.scalar(
            "SELECT string_agg(conname || '=' || convalidated, ',' ORDER BY conname) \
             FROM pg_constraint WHERE contype = 'f'"
        ),
        "activities_reply_to_activity_uuid_fkey=true,activities_user_uuid_fkey=true,\
         events_user=false"
    );
}

#[test]
fn a_failure_while_building_an_index_again_rolls_everything_back() {
    let src = TestDb::seeded("cfast_fail");
    src.psql(
        "INSERT INTO activities (user_uuid, message) \
         SELECT uuid, 'the same crud' FROM users",
    );
    let dst = TestDb::seeded("cfast_fail_dst");
    // Only the target holds this index, and the source's rows break it; its name sorts last,
    // so the indexes before it are built again before it fails.
    dst.psql("CREATE UNIQUE INDEX zz_one_message ON public.activities (message)");
    let before = dump(&dst);
    for jobs in ["1", "2"] {
        let (code, err) = copy(
            &dst,
            false,
            &["--from", &src.url, "--to", "local", "--jobs", jobs],
        );
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains("failed to build index zz_one_message of public.activities again"),
            "{err}"
        );
        assert!(err.contains("rolled back"), "{err}");
        assert_eq!(dump(&dst), before, "--jobs {jobs}");
    }
    // A foreign key only the target has, which the source's rows break, fails its one
    // validating query: rolled back too.
    dst.psql("DROP INDEX zz_one_message");
    dst.psql(
        "CREATE TABLE public.allowed (m text PRIMARY KEY); \
         INSERT INTO public.allowed SELECT DISTINCT message FROM public.activities; \
         ALTER TABLE public.activities ADD CONSTRAINT zz_allowed_message \
           FOREIGN KEY (message) REFERENCES public.allowed (m)",
    );
    let before = dump(&dst);
    let (code, err) = copy(&dst, false, &["--from", &src.url, "--to", "local"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("failed to build foreign key zz_allowed_message"),
        "{err}"
    );
    assert_eq!(dump(&dst), before);
}

/// SIGKILL once the first table is loaded (its indexes and keys dropped in the open
/// transaction): the server rolls it back, and the target has its indexes, constraints and
/// rows. (The pause is a test hook: `--features test-hooks`.)
#[cfg(feature = "test-hooks")]
#[test]
fn a_copy_killed_during_its_load_leaves_the_target_as_it_was() {
    let src = TestDb::seeded("cfast_kill");
    src.psql(
        "INSERT INTO activities (user_uuid, message) \
         SELECT u.uuid, 'crud ' || g FROM users u, generate_series(1, 2000) g",
    );
    let dst = TestDb::seeded("cfast_kill_dst");
    let before = dump(&dst);
    let pause = tempfile::tempdir().unwrap();
    let mut child = dst
        .std_cmd()
        .env("CRUDDUR_TEST_COPY_PAUSE", pause.path())
        .env("CRUDDUR_TEST_COPY_PAUSE_AT", "loaded")
        .args(["copy", "--from", &src.url, "--to", "local"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pause.path().join("paused").exists() {
        assert!(Instant::now() < deadline, "the copy never paused");
        assert!(child.try_wait().unwrap().is_none(), "the copy ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    // In the middle: the target's session has dropped the indexes, in its transaction.
    assert_eq!(
        dst.scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND state = 'idle in transaction'"
        ),
        "1"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(dump(&dst), before);
    assert_eq!(
        dst.scalar("SELECT count(*) FROM pg_indexes WHERE tablename IN ('users', 'activities')"),
        "7"
    );
}

/// With a low split threshold (a test hook), every table whose rules allow it is read in
/// ctid ranges, one per session, merged into the one COPY: binary for built-in types, text
/// for an enum; the users table's `fake:` rules number the rows, so it is never split (its
/// unique masked emails prove it). The source is another server (the production-like one):
/// on the target's own server the copy reads with one session (the ranges would take the
/// target's cores).
#[cfg(feature = "test-hooks")]
#[test]
fn tables_read_in_ranges_give_the_same_rows() {
    let src = ProdDb::seeded("cfast_split");
    src.psql(
        "CREATE TYPE public.mood AS ENUM ('calm', 'busy'); \
         CREATE TABLE public.notes (id bigint PRIMARY KEY, body text, tags text[], \
           at timestamptz, n numeric, raw bytea, mood public.mood); \
         INSERT INTO public.notes SELECT g, 'note ' || g || repeat('.', g % 50), \
           ARRAY['a' || g, NULL, 'c'], timestamptz '2026-01-01' + g * interval '1 s', \
           g / 7.0, decode(md5(g::text), 'hex'), \
           (ARRAY['calm', 'busy']::public.mood[])[1 + g % 2] \
         FROM generate_series(1, 20000) g; \
         INSERT INTO activities (user_uuid, message) \
         SELECT u.uuid, 'crud ' || g FROM users u, generate_series(1, 3000) g; \
         ANALYZE",
    );
    let src_url = src.verified_url();
    let mask = tempfile::tempdir().unwrap();
    let mask_file = common::write_file(
        mask.path(),
        "mask.toml",
        "[notes]\nbody = \"hash:n-\"\ntags = \"keep\"\nraw = \"null\"\n",
    );
    let mask_path = mask_file.to_str().unwrap();
    for jobs in ["1", "3"] {
        let dst = TestDb::new("cfast_split_dst");
        let err = copy_ok(
            &dst,
            true,
            &[
                "--from",
                &src_url,
                "--to",
                "local",
                "--schema",
                "--no-mask",
                "-v",
                "--jobs",
                jobs,
            ],
        );
        assert!(err.contains(&format!("{jobs} source session(s)")), "{err}");
        // notes has an enum column: text; users and activities: binary.
        assert!(err.contains("2 of 3 table(s) in binary"), "{err}");
        assert_eq!(rows_of(&dst.url), rows_of(&src_url), "--jobs {jobs}");
        // Masked, in ranges: every hash is the one the rule gives, and the fake emails of
        // the (unsplit) users are unique.
        let dst = TestDb::new("cfast_split_mdst");
        copy_ok(
            &dst,
            true,
            &[
                "--from",
                &src_url,
                "--to",
                "local",
                "--schema",
                "--jobs",
                jobs,
                "--mask",
                mask_path,
                "--mask-salt",
                "s1",
            ],
        );
        assert_eq!(
            dst.scalar(
                "SELECT count(*) FILTER (WHERE body = 'n-' || \
                 md5('s1' || 'note ' || id || repeat('.', (id % 50)::int))) || '/' || count(*) \
                 FROM public.notes"
            ),
            "20000/20000",
            "--jobs {jobs}"
        );
        assert_eq!(
            dst.scalar("SELECT count(DISTINCT email) || '/' || count(*) FROM public.users"),
            "3/3"
        );
        assert_eq!(
            dst.scalar("SELECT count(*) FROM public.activities"),
            src.scalar("SELECT count(*) FROM public.activities")
        );
    }
    // The same tables on the target's own server: one session, whatever --jobs says.
    let local = TestDb::seeded("cfast_split_local");
    let dst = TestDb::seeded("cfast_split_local_dst");
    let err = copy_ok(
        &dst,
        true,
        &[
            "--from",
            &local.url,
            "--to",
            "local",
            "--no-mask",
            "-v",
            "--jobs",
            "3",
        ],
    );
    assert!(err.contains("1 source session(s)"), "{err}");
}

/// A target column of another type than the source's (varchar for text) is loaded in text
/// format, and the copy says so.
#[test]
fn another_type_on_the_target_is_loaded_as_text() {
    let src = TestDb::seeded("cfast_types");
    let dst = TestDb::seeded("cfast_types_dst");
    dst.psql("ALTER TABLE public.activities ALTER COLUMN message TYPE varchar(280)");
    let err = copy_ok(&dst, false, &["--from", &src.url, "--to", "local", "-v"]);
    assert!(err.contains("1 of 2 table(s) in binary"), "{err}");
    assert_eq!(
        dst.scalar("SELECT string_agg(message, ',' ORDER BY message) FROM activities"),
        src.scalar("SELECT string_agg(message, ',' ORDER BY message) FROM activities")
    );
}
