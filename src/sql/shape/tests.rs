use super::{of, Kind};

/// The shape's text, its parameters' types, and their literals as written.
fn shape(sql: &str) -> (String, Vec<Kind>, Vec<&str>) {
    let s = of(sql).unwrap_or_else(|| panic!("no shape for {sql}"));
    let literals = s.literals.iter().map(|r| &sql[r.clone()]).collect();
    (s.text, s.kinds, literals)
}

fn kept(sql: &str) -> String {
    let s = of(sql).unwrap_or_else(|| panic!("no shape for {sql}"));
    assert!(s.literals.is_empty(), "{sql}: {:?}", s.literals);
    s.text
}

#[test]
fn the_bootcamp_insert() {
    let (text, kinds, values) = shape(
        "INSERT INTO public.activities (user_uuid, message, expires_at) VALUES (\n  \
         (SELECT uuid FROM public.users WHERE users.handle = 'andrew' LIMIT 1),\n  \
         'It''s seed data', current_timestamp + interval '10 day');",
    );
    assert_eq!(
        text,
        "INSERT INTO public.activities (user_uuid, message, expires_at) VALUES (\n  \
         (SELECT uuid FROM public.users WHERE users.handle = $1 LIMIT 1),\n  \
         $2, current_timestamp + interval '10 day')"
    );
    assert_eq!(kinds, [Kind::Unknown, Kind::Unknown]);
    assert_eq!(values, ["'andrew'", "'It''s seed data'"]);
}

#[test]
fn numbers_keep_their_type() {
    let (text, kinds, values) = shape(
        "insert into t values (1, -2, 2147483647, 2147483648, -2147483648, -2147483649, \
         9223372036854775808, 1.5, -.5, 1e3, 5., 007)",
    );
    assert_eq!(
        text,
        "insert into t values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    );
    use Kind::*;
    assert_eq!(
        kinds,
        [Int4, Int4, Int4, Int8, Int4, Int8, Numeric, Numeric, Numeric, Numeric, Numeric, Int4]
    );
    assert_eq!(
        values,
        [
            "1",
            "-2",
            "2147483647",
            "2147483648",
            "-2147483648",
            "-2147483649",
            "9223372036854775808",
            "1.5",
            "-.5",
            "1e3",
            "5.",
            "007"
        ]
    );
}

#[test]
fn a_minus_after_a_value_subtracts() {
    let (text, _, values) = shape("insert into t values ((1) - 2, 3 * -4, 'a' || - 5)");
    assert_eq!(text, "insert into t values (($1) - $2, $3 * $4, $5 || $6)");
    assert_eq!(values, ["1", "2", "3", "-4", "'a'", "- 5"]);
    // A cast binds tighter than the sign: `-5::text` is `-('5'::text)`, not `'-5'`.
    assert_eq!(
        kept("insert into t values (-5::text, - 6[1])"),
        "insert into t values (-5::text, - 6[1])"
    );
    let (text, _, values) = shape("insert into t values (5::text, -7)");
    assert_eq!(text, "insert into t values ($1::text, $2)");
    assert_eq!(values, ["5", "-7"]);
    // Regression: a sign after a prefix minus is folded again by the server (`- -2147483648`
    // and `- (-2147483648)` are the int8 2147483648): the number stays as written.
    assert_eq!(
        kept("insert into t values (- -2147483648, - (-2147483648), -((-1)))"),
        "insert into t values (- -2147483648, - (-2147483648), -((-1)))"
    );
    let (text, _, _) = shape("insert into t values (1 - (-2), 3 - -4)");
    assert_eq!(text, "insert into t values ($1 - ($2), $3 - $4)");
    // After a word, a minus may be a sign or a subtraction: the number stays.
    assert_eq!(
        kept("insert into t values (case when x then -1 else 0 end)"),
        "insert into t values (case when x then -1 else 0 end)"
    );
}

#[test]
fn every_string_form_is_a_parameter() {
    let (text, kinds, values) = shape(
        r"INSERT INTO t VALUES ('a''b\n', E'c\'d\\e\n', e'\x41', U&'\0066\+000069x\\', $$d'o$$, $q$$x$q$)",
    );
    assert_eq!(text, "INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6)");
    assert!(kinds.iter().all(|k| *k == Kind::Unknown));
    assert_eq!(
        values,
        [
            r"'a''b\n'",
            r"E'c\'d\\e\n'",
            r"e'\x41'",
            r"U&'\0066\+000069x\\'",
            "$$d'o$$",
            "$q$$x$q$"
        ]
    );
}

#[test]
fn typed_and_glued_strings_stay() {
    for lit in [
        r"U&'d!0061t' UESCAPE '!'",
        "N'x'",
        "B'101'",
        "X'1F'",
        "'a'\n'b'",
    ] {
        let sql = format!("insert into t values ({lit})");
        assert_eq!(kept(&sql), sql, "{lit}");
    }
}

#[test]
fn literals_where_a_parameter_means_something_else_stay() {
    for sql in [
        "insert into t values (interval '7 days')",
        "insert into t values (date '2020-01-01')",
        "insert into t values (timestamp with time zone '2020-01-01')",
        "insert into t values (x::numeric(10, 2))",
        "insert into t values ((select x from u limit 1 offset 2))",
        "insert into t values (x like 'a%')",
        "insert into t values (array[1, 2])",
        "insert into t values (a[1])",
        "insert into t values (date('2020-01-01'))",
        "insert into t values (substr(x, 1, 2))",
        "insert into t values (x in (1, 2))",
    ] {
        assert_eq!(kept(sql), sql);
    }
}

#[test]
fn casts_and_calls_keep_their_place() {
    let (text, _, values) = shape(
        "INSERT INTO t VALUES ('5d6a'::uuid, replace('ABC', 'B', 'b'), coalesce(x, 'd'), x in ('a', 'b'), '1.5'::numeric(10, 2))",
    );
    assert_eq!(
        text,
        "INSERT INTO t VALUES ($1::uuid, replace($2, $3, $4), coalesce(x, $5), x in ($6, $7), $8::numeric(10, 2))"
    );
    assert_eq!(
        values,
        ["'5d6a'", "'ABC'", "'B'", "'b'", "'d'", "'a'", "'b'", "'1.5'"]
    );
}

#[test]
fn rows_conflicts_and_returning() {
    let (text, _, _) = shape(
        "insert into t (a, b) values (1, 'x'), (2, 'y') on conflict (a) do update set b = 'z' returning 'r';",
    );
    assert_eq!(
        text,
        "insert into t (a, b) values ($1, $2), ($3, $4) on conflict (a) do update set b = 'z' returning 'r'"
    );
}

#[test]
fn statements_without_a_shape() {
    for sql in [
        "CREATE TABLE t (a int)",
        "SELECT 1",
        "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
        "INSERT INTO t SELECT 1, 'a'",
        "INSERT INTO t VALUES ($1)",
        "INSERT INTO t VALUES (0x1f)",
        "INSERT INTO t VALUES (1_000)",
        "INSERT INTO t VALUES (1abc)",
        "INSERT INTO t VALUES ((SELECT a FROM u ORDER BY 1, 2 LIMIT 1))",
        "INSERT INTO t VALUES ((SELECT count(*) FROM u GROUP BY b, 2))",
        "INSERT INTO t VALUES (1 /* never closed",
    ] {
        assert_eq!(of(sql), None, "{sql}");
    }
}

#[test]
fn comments_and_quoted_names_pass_through() {
    let (text, _, values) = shape(
        "-- lead\nINSERT INTO \"Odd \"\"t\"\"\" /* a 'quote' /* nested */ */ VALUES ('v' -- 'no'\n, 'w');",
    );
    assert_eq!(
        text,
        "-- lead\nINSERT INTO \"Odd \"\"t\"\"\" /* a 'quote' /* nested */ */ VALUES ($1 -- 'no'\n, $2)"
    );
    assert_eq!(values, ["'v'", "'w'"]);
}

#[test]
fn where_each_literal_was() {
    let sql = "INSERT INTO t VALUES ('a', -1)";
    let s = of(sql).unwrap();
    assert_eq!(s.literals, [22..25, 27..29]);
}
