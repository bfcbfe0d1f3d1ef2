//! The reader's unit tests.

use super::*;

fn items(text: &str, vars: &Vars) -> Result<Vec<String>, ReadError> {
    let mut r = Reader::open(&Input::text("t.sql", text), vars.clone(), true)?;
    let mut out = Vec::new();
    while let Some(item) = r.next_item()? {
        out.push(match item {
            Item::Sql(s) => format!("{}: {}", s.loc, s.sql),
            Item::Copy { stmt, .. } => {
                let mut data = Vec::new();
                while let Some(c) = r.copy_chunk()? {
                    data.extend_from_slice(&c);
                }
                format!(
                    "{}: {} <{}>",
                    stmt.loc,
                    stmt.sql,
                    String::from_utf8(data).unwrap()
                )
            }
            Item::Echo(t) => format!("echo {t}"),
            Item::Connect { database, .. } => format!("connect {database}"),
            Item::Skipped { command, .. } => format!("skip {command}"),
        });
    }
    Ok(out)
}

#[test]
fn statements_copy_and_meta_with_positions() {
    let text = "\\restrict x\nselect 1;\n  COPY t (a) FROM stdin;\n1\n2\n\\.\n\\unrestrict x\n\\set n 5\nselect :n, 'é', :'n';\n\\echo done\n\\c other\nselect 3";
    assert_eq!(
        items(text, &Vars::new()).unwrap(),
        [
            "skip \\restrict",
            "t.sql:2:1: select 1;",
            "t.sql:3:3: COPY t (a) FROM stdin; <1\n2\n>",
            "skip \\unrestrict",
            "t.sql:9:1: select 5, 'é', '5';",
            "echo done",
            "connect other",
            "t.sql:12:1: select 3",
        ]
    );
}

#[test]
fn a_meta_command_inside_a_statement_runs_as_psql_runs_it() {
    let text = "select :x,\n\\set x 2\n:x\n\\echo mid\n;\nselect 3";
    let vars = Vars::from_pairs(["x=1"]).unwrap();
    assert_eq!(
        items(text, &vars).unwrap(),
        [
            "echo mid",
            "t.sql:1:1: select 1,\n2\n;",
            "t.sql:6:1: select 3"
        ]
    );
    let mut r = Reader::open(&Input::text("t.sql", text), vars, true).unwrap();
    let Some(Item::Echo(_)) = r.next_item().unwrap() else {
        panic!()
    };
    let Some(Item::Sql(stmt)) = r.next_item().unwrap() else {
        panic!()
    };
    // Positions in the text sent map back to the file as written.
    assert_eq!(stmt.written(), "select :x,\n\\set x 2\n:x\n\\echo mid\n;");
    let two = stmt.sql.find('2').unwrap();
    assert_eq!((stmt.loc_of(two).line, stmt.loc_of(two).column), (3, 1));
    let err = items("select 1\n\\c other\n;", &Vars::new()).unwrap_err();
    assert!(
        err.message.contains("unfinished statement"),
        "{}",
        err.message
    );
}

#[test]
fn several_commands_and_sql_on_one_line() {
    assert_eq!(
        items(
            "\\set a 1 \\set b 2\nselect :a, :b; \\echo x :a \\\\ select 3;\n\\echo y\\\\select 4;",
            &Vars::new()
        )
        .unwrap(),
        [
            "t.sql:2:1: select 1, 2;",
            "echo x 1",
            "t.sql:2:30: select 3;",
            "echo y",
            "t.sql:3:10: select 4;",
        ]
    );
    assert_eq!(
        items("\\echo :nope 'a;' b;\n\\; select 5;", &Vars::new()).unwrap(),
        ["echo :nope a; b;", "t.sql:2:1: ; select 5;"]
    );
}

#[test]
fn what_follows_copy_on_its_line_runs_after_the_data() {
    assert_eq!(
        items(
            "COPY t FROM stdin; insert into t values (9); \\echo after\n1\n\\.\nselect 2;",
            &Vars::new()
        )
        .unwrap(),
        [
            "t.sql:1:1: COPY t FROM stdin; <1\n>",
            "t.sql:1:20: insert into t values (9);",
            "echo after",
            "t.sql:4:1: select 2;",
        ]
    );
}

#[test]
fn a_byte_order_mark_starts_no_statement() {
    assert_eq!(
        items("\u{feff}select 1;\n", &Vars::new()).unwrap(),
        ["t.sql:1:1: select 1;"]
    );
}

#[test]
fn standard_conforming_strings_off_changes_how_quotes_are_read() {
    let text = "set standard_conforming_strings = off;\nselect 'a\\'; b';\nreset standard_conforming_strings;\nselect 'c\\';";
    assert_eq!(
        items(text, &Vars::new()).unwrap(),
        [
            "t.sql:1:1: set standard_conforming_strings = off;",
            "t.sql:2:1: select 'a\\'; b';",
            "t.sql:3:1: reset standard_conforming_strings;",
            "t.sql:4:1: select 'c\\';",
        ]
    );
}

#[test]
fn connect_is_checked_against_the_server_and_remembers_the_database() {
    let server = Server {
        host: "db.example".into(),
        port: 5432,
        user: "app".into(),
        database: "first".into(),
    };
    let run = |text: &str| -> Result<Vec<String>, ReadError> {
        let mut r = Reader::open(&Input::text("t.sql", text), Vars::new(), true)?
            .on_server(Some(server.clone()));
        let mut out = Vec::new();
        while let Some(item) = r.next_item()? {
            if let Item::Connect { database, .. } = item {
                out.push(database);
            }
        }
        Ok(out)
    };
    assert_eq!(
        run("\\c second;\n\\c - app\n\\c postgresql://app@db.example/third\n\\c\n").unwrap(),
        ["second", "second", "third", "third"]
    );
    let err = run("\\c x bob\n").unwrap_err();
    assert!(
        err.message.contains("another user (bob)"),
        "{}",
        err.message
    );
    let err = run("\\c x - db2.example\n").unwrap_err();
    assert!(err.message.contains("another host"), "{}", err.message);
}

#[test]
fn restrict_refuses_other_meta_commands_until_unrestrict() {
    assert!(items(
        "\\restrict k\nselect 1;\n\\unrestrict k\n\\echo ok\n",
        &Vars::new()
    )
    .is_ok());
    let err = items("\\restrict k\n\\echo no\n", &Vars::new()).unwrap_err();
    assert!(err.message.contains("after \\restrict"), "{}", err.message);
    let err = items("\\restrict k\n\\unrestrict j\n", &Vars::new()).unwrap_err();
    assert!(err.message.contains("wrong key"), "{}", err.message);
}

#[test]
fn long_inputs_cross_many_reads() {
    let mut text = String::new();
    for i in 0..40_000 {
        text.push_str(&format!(
            "insert into t values ({i}, 'row {i}; with semicolon');\n"
        ));
    }
    text.push_str("COPY t FROM stdin;\n");
    for i in 0..40_000 {
        text.push_str(&format!("{i}\tx\n"));
    }
    text.push_str("\\.\nselect 'end';\n");
    let got = items(&text, &Vars::new()).unwrap();
    assert_eq!(got.len(), 40_002);
    assert_eq!(
        got[39_999],
        "t.sql:40000:1: insert into t values (39999, 'row 39999; with semicolon');"
    );
    assert!(got[40_000].ends_with("39999\tx\n>"));
    assert_eq!(got[40_001], "t.sql:80003:1: select 'end';");
}

#[test]
fn unset_variables_and_refusals_have_places() {
    let err = items("select 1;\nselect\n  :missing;", &Vars::new()).unwrap_err();
    assert_eq!(
        (err.loc.line, err.loc.column, err.problem),
        (3, 3, Problem::Refused)
    );
    assert!(
        err.message.contains(":missing is not set"),
        "{}",
        err.message
    );
    let err = items("select 1;\n\\gexec\n", &Vars::new()).unwrap_err();
    assert_eq!(err.loc.line, 2);
    assert!(err.message.contains("\\gexec is not supported"));
    let err = items("select 1\n\\i x.sql\n", &Vars::new()).unwrap_err();
    assert!(err.message.contains("inside an unfinished statement"));
}

#[test]
fn nul_bytes_are_reported_at_their_own_line() {
    let mut text = String::new();
    for i in 0..10 {
        text.push_str(&format!("select {i};\n"));
    }
    text.push_str("select 'a\0b';\n");
    let err = items(&text, &Vars::new()).unwrap_err();
    assert_eq!((err.loc.line, err.loc.column), (11, 10));
    assert!(err.message.contains("NUL"));
}

#[test]
fn connect_is_refused_inside_one_transaction() {
    let mut r = Reader::open(&Input::text("t.sql", "\\c other\n"), Vars::new(), false).unwrap();
    let err = r.next_item().unwrap_err();
    assert!(err.message.contains("--no-transaction"), "{}", err.message);
}

#[test]
fn peeking_finds_the_first_statement_only() {
    let mut r = Reader::open(
        &Input::text("t.sql", "-- c\n\\set x 1\n;\n/* */"),
        Vars::new(),
        true,
    )
    .unwrap();
    assert!(!r.peek_statement().unwrap());
    let mut r = Reader::open(
        &Input::text("t.sql", "\\echo a\nselect 1;"),
        Vars::new(),
        true,
    )
    .unwrap();
    assert!(r.peek_statement().unwrap());
    assert!(matches!(r.next_item().unwrap(), Some(Item::Echo(_))));
    // SQL after a meta-command on its line counts.
    let mut r = Reader::open(
        &Input::text("t.sql", "\\echo a \\\\ select 1;\n"),
        Vars::new(),
        true,
    )
    .unwrap();
    assert!(r.peek_statement().unwrap());
}
