//! The lexer's unit tests.

use super::*;

/// The statements of a whole text (meta-commands left out).
fn sqls(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        match scan(&text.as_bytes()[at..], true).unwrap() {
            Scan::End => return out,
            Scan::More => panic!("More at the end of the input"),
            Scan::Sql { text: t, next, .. } => {
                out.push(text[at + t.start..at + t.end].to_string());
                at += next;
            }
            Scan::Meta { next, .. } => at += next,
        }
    }
}

/// Every prefix of the text asks for more or decides the same as the whole text.
fn stable_under_prefixes(text: &str) {
    let whole = scan(text.as_bytes(), true);
    for cut in 0..text.len() {
        match scan(&text.as_bytes()[..cut], false) {
            Ok(Scan::More) => {}
            other => assert_eq!(other, whole, "prefix {cut} of {text:?}"),
        }
    }
}

#[test]
fn plain_statements() {
    assert_eq!(
        sqls("select 1; select 2;\nselect 3"),
        ["select 1;", "select 2;", "select 3"]
    );
    assert_eq!(sqls("  \n-- only a comment\n  "), Vec::<String>::new());
}

#[test]
fn semicolons_in_single_quotes_with_doubled_quotes() {
    assert_eq!(
        sqls("select 'a;''b;'; select 2;"),
        ["select 'a;''b;';", "select 2;"]
    );
    assert_eq!(sqls("select '';"), ["select '';"]);
}

#[test]
fn escape_strings_with_backslashes() {
    assert_eq!(
        sqls(r"select E'it\'s; \\'; select 2;"),
        [r"select E'it\'s; \\';", "select 2;"]
    );
    assert_eq!(
        sqls(r"select 'C:\'; select 2;"),
        [r"select 'C:\';", "select 2;"]
    );
    assert_eq!(
        sqls(r"select name'x\'; select 2;"),
        [r"select name'x\';", "select 2;"]
    );
}

#[test]
fn double_quoted_identifiers() {
    assert_eq!(
        sqls(r#"create table "a;""b" (x int); select 1;"#),
        [r#"create table "a;""b" (x int);"#, "select 1;"]
    );
}

#[test]
fn dollar_quotes_with_tags() {
    let f = "create function f() returns int as $fn$ begin return 1; end; $fn$ language plpgsql;\nselect $$;$$;";
    assert_eq!(
        sqls(f),
        [
            "create function f() returns int as $fn$ begin return 1; end; $fn$ language plpgsql;",
            "select $$;$$;"
        ]
    );
    assert_eq!(
        sqls("prepare p as select $1; select $b$ $a$ ; $b$;"),
        ["prepare p as select $1;", "select $b$ $a$ ; $b$;"]
    );
    assert_eq!(sqls("select a$b; select 1;"), ["select a$b;", "select 1;"]);
}

#[test]
fn comments_line_and_nested_block() {
    assert_eq!(
        sqls("select 1 -- x;y\n; /* a /* b; */ c; */ select 2;"),
        ["select 1 -- x;y\n;", "select 2;"]
    );
}

#[test]
fn semicolons_in_parentheses_do_not_end_a_statement() {
    // As psql: CREATE RULE ... DO (a; b) is one statement.
    assert_eq!(
        sqls("create rule r as on insert to t do also (insert into u values (1); delete from u); select 1;"),
        [
            "create rule r as on insert to t do also (insert into u values (1); delete from u);",
            "select 1;"
        ]
    );
}

#[test]
fn begin_atomic_bodies() {
    let f = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT CASE WHEN true THEN 2 END;\nEND;\nselect 3;";
    let s = sqls(f);
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(s[0].ends_with("END;"));
    assert_eq!(
        sqls("begin; select 1; commit;"),
        ["begin;", "select 1;", "commit;"]
    );
}

#[test]
fn meta_commands_anywhere_outside_quotes() {
    let text = "\\restrict abc\nselect 1;  \\echo hi  \nselect 'a\\b' \\gexec\n";
    let b = text.as_bytes();
    let Scan::Meta {
        text: t,
        next,
        open,
        ..
    } = scan(b, true).unwrap()
    else {
        panic!()
    };
    assert_eq!((&text[t], open), ("\\restrict abc", None));
    let Scan::Sql { next: n2, .. } = scan(&b[next..], true).unwrap() else {
        panic!()
    };
    let at = next + n2;
    let Scan::Meta {
        text: t,
        next,
        open,
        ..
    } = scan(&b[at..], true).unwrap()
    else {
        panic!()
    };
    assert_eq!((&text[at + t.start..at + t.end], open), ("\\echo hi", None));
    let at = at + next;
    let Scan::Meta { text: t, open, .. } = scan(&b[at..], true).unwrap() else {
        panic!()
    };
    assert_eq!(&text[at + t.start..at + t.end], "\\gexec");
    assert_eq!(open, Some(0), "the gexec follows an unfinished statement");
}

#[test]
fn a_statement_goes_on_after_a_meta_command_in_its_middle() {
    let text = "create function f() begin atomic select 1;\n\\echo hi\n";
    let b = text.as_bytes();
    let Scan::Meta { open, carry, .. } = scan(b, true).unwrap() else {
        panic!()
    };
    assert_eq!(open, Some(0));
    let rest = b"\nselect 2; end;";
    let Scan::Sql { text: t, .. } = scan_from(rest, true, Some(&carry), true).unwrap() else {
        panic!()
    };
    assert_eq!(t, 0..rest.len(), "the BEGIN ATOMIC body is still open");
}

#[test]
fn without_standard_conforming_strings_a_backslash_escapes_a_quote() {
    let text = b"select 'it\\'s; one'; select 2;";
    let Scan::Sql { text: t, .. } = scan_from(text, true, None, false).unwrap() else {
        panic!()
    };
    assert_eq!(t, 0..20);
}

#[test]
fn a_backslash_semicolon_starts_a_statement() {
    let Scan::Sql { text: t, spans, .. } = scan(b"\\; select 1;", true).unwrap() else {
        panic!()
    };
    assert_eq!((t, spans.len()), (0..12, 1));
}

#[test]
fn variables_outside_quotes_and_casts() {
    let text = "select :a, :'b', :\"c\", x::int, ':d', $$:e$$, \":f\" -- :g\n;";
    let Scan::Sql { spans, .. } = scan(text.as_bytes(), true).unwrap() else {
        panic!()
    };
    let names: Vec<_> = spans
        .iter()
        .map(|s| match &s.piece {
            Piece::Var { quote, name } => (*quote, &text[name.clone()]),
            Piece::Escape(_) => panic!(),
        })
        .collect();
    assert_eq!(
        names,
        [
            (Quote::Plain, "a"),
            (Quote::Literal, "b"),
            (Quote::Ident, "c")
        ]
    );
    assert_eq!(&text[spans[1].range.clone()], ":'b'");
}

#[test]
fn escaped_semicolon_keeps_the_statement_going() {
    let text = "select 1\\; select 2;";
    let Scan::Sql { text: t, spans, .. } = scan(text.as_bytes(), true).unwrap() else {
        panic!()
    };
    assert_eq!(t, 0..text.len());
    assert_eq!(spans[0].piece, Piece::Escape(b';'));
}

#[test]
fn nul_bytes_are_errors_at_their_offset() {
    let err = scan(b"select 1;\nselect '\0';", true).unwrap();
    assert!(matches!(err, Scan::Sql { .. }));
    let err = scan(b"select\0 1;", true).unwrap_err();
    assert_eq!(err.at, 6);
}

#[test]
fn unterminated_quotes_are_errors_with_offsets() {
    assert_eq!(scan(b"select 'abc;\n", true).unwrap_err().at, 7);
    assert!(scan(b"select $x$ abc", true).is_err());
    assert!(scan(b"/* /* */", true).is_err());
    assert!(scan(b"select \"abc", true).is_err());
}

#[test]
fn a_window_that_ends_early_asks_for_more() {
    for text in [
        "select 'a;''b'; x",
        "select $tag$ ; $tag$; x",
        "select 1 -- c;\n; x",
        "/* a; */ select 1; x",
        "select x::int, :v; x",
        "select \"a\"\"b\"; x",
        "\\echo hi\nselect 1;",
        "create function f() returns int language sql begin atomic select 1; end; x",
        "select E'\\''; x",
        "select 1\\; select 2; x",
    ] {
        stable_under_prefixes(text);
    }
}

#[test]
fn copy_data_ends_at_a_backslash_dot_line() {
    let b = b"1\tx\n2\t\\.y\n\\.\nselect 1;";
    assert_eq!(copy_end(b, 0), Some((10, 13)));
    assert_eq!(copy_end(b"\\.\r\nnext", 0), Some((0, 4)));
    assert_eq!(
        copy_end(b"1\n\\.", 0),
        None,
        "\\. without its newline: more"
    );
    assert_eq!(copy_end(b"1\n2\n", 0), None);
}
