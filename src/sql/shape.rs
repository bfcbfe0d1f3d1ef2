//! Statement shapes: an INSERT with its literals taken out as parameters. A file of many
//! INSERTs of one shape is then prepared once and each statement runs as `EXECUTE` of it with
//! its literals, as written, for arguments; each keeps the meaning it has as written:
//!
//! - a quoted literal becomes a parameter of type `unknown`, which the server types from
//!   where it stands, as it types the literal; the literal itself (plain, `E''`, `U&''`,
//!   dollar-quoted) is read by the server, in the `EXECUTE`, as it is read in the statement;
//! - a number keeps its literal's type: `1` int4, `2147483648` int8, `1.5` and `1e3` numeric
//!   (a minus sign in front is part of the literal, as the server folds it);
//! - a cast stays in the shape (`'x'::uuid` becomes `$1::uuid`);
//! - a literal where a parameter would mean something else stays as written: after a type
//!   name (`interval '7 days'`), after a keyword (`LIMIT 1`, `LIKE 'a%'`), in a type modifier
//!   or call (`numeric(10, 2)`), in an array, glued to another literal;
//! - only the VALUES list of `INSERT ... VALUES` is shaped; a statement with `$1` of its own,
//!   an ORDER BY / GROUP BY / DISTINCT / PARTITION BY (whose numbers are column positions), or
//!   anything the scanner here does not know, has no shape and runs as written.

use std::ops::Range;

use super::lex;

/// The type a parameter is declared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A quoted literal: typed by the server from where it stands.
    Unknown,
    Int4,
    Int8,
    Numeric,
}

/// A statement's shape and where its literals are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The statement with `$1`, `$2`, ... where its literals were, without its `;`.
    pub text: String,
    /// Each parameter's declared type.
    pub kinds: Vec<Kind>,
    /// Each parameter's literal in the statement, as written (a folded sign included).
    pub literals: Vec<Range<usize>>,
}

/// The most parameters one statement can have in the protocol.
const MAX_PARAMS: usize = 65_535;

/// The shape of `sql` (as sent, with `standard_conforming_strings` on), or `None` when it
/// has none and must run as written.
pub fn of(sql: &str) -> Option<Shape> {
    let toks = tokens(sql)?;
    let first = toks.first()?;
    if !(first.t == T::Word && word_is(sql, first, "INSERT")) {
        return None;
    }
    // The VALUES list: from the VALUES at depth 0 to ON (CONFLICT), RETURNING, `;` or the end.
    let mut depth = 0usize;
    let mut start = None;
    for (k, tok) in toks.iter().enumerate() {
        match tok.t {
            T::Punct(b'(' | b'[') => depth += 1,
            T::Punct(b')' | b']') => depth = depth.saturating_sub(1),
            T::Word if depth == 0 && word_is(sql, tok, "VALUES") => {
                start = Some(k);
                break;
            }
            _ => {}
        }
    }
    let start = start?;
    let mut end = toks.len();
    depth = 0;
    for (k, tok) in toks.iter().enumerate().skip(start + 1) {
        match tok.t {
            T::Punct(b'(' | b'[') => depth += 1,
            T::Punct(b')' | b']') => depth = depth.saturating_sub(1),
            T::Punct(b';') if depth == 0 => {
                end = k;
                break;
            }
            T::Word
                if depth == 0 && (word_is(sql, tok, "ON") || word_is(sql, tok, "RETURNING")) =>
            {
                end = k;
                break;
            }
            T::Word
                if [
                    "ORDER",
                    "GROUP",
                    "DISTINCT",
                    "PARTITION",
                    "WINDOW",
                    "HAVING",
                ]
                .iter()
                .any(|w| word_is(sql, tok, w)) =>
            {
                return None;
            }
            _ => {}
        }
    }

    // Which literals become parameters: (byte range, kind).
    let mut params: Vec<(usize, usize, Kind)> = Vec::new();
    let mut stack: Vec<Bracket> = Vec::new();
    for k in start + 1..end {
        let tok = toks[k];
        let prev = toks[k - 1];
        match tok.t {
            T::Punct(b'(') => {
                let plain = matches!(prev.t, T::Punct(b'(' | b',') | T::Op) || k - 1 == start;
                stack.push(if plain { Bracket::Plain } else { Bracket::Call });
            }
            T::Punct(b'[') => stack.push(Bracket::Square),
            T::Punct(b')' | b']') => {
                stack.pop();
            }
            T::Str(lit) => {
                let in_square = stack.contains(&Bracket::Square);
                let glued = toks
                    .get(k + 1)
                    .is_some_and(|n| matches!(n.t, T::Str(_)) || word_is(sql, n, "UESCAPE"));
                // `name('x')` may be a cast to the type `name`, which the server makes of a
                // literal and not of a parameter.
                let sole_argument = prev.t == T::Punct(b'(')
                    && stack.last() == Some(&Bracket::Call)
                    && toks.get(k + 1).is_some_and(|n| n.t == T::Punct(b')'));
                if lit == Lit::Typed
                    || in_square
                    || glued
                    || sole_argument
                    || stack.is_empty()
                    || !matches!(prev.t, T::Punct(b'(' | b',') | T::Op)
                {
                    continue;
                }
                params.push((tok.s, tok.e, Kind::Unknown));
            }
            T::Num => {
                if stack.contains(&Bracket::Square) {
                    continue;
                }
                let text = &sql[tok.s..tok.e];
                let after_operand = |t: Tok| match t.t {
                    T::Punct(b'(' | b',') => stack.last() == Some(&Bracket::Plain),
                    T::Op => true,
                    _ => false,
                };
                // `::` and `[]` bind tighter than a sign: `-5::text` is `-('5'::text)`.
                let binds_tighter = toks
                    .get(k + 1)
                    .is_some_and(|n| matches!(n.t, T::Cast | T::Punct(b'[' | b'.')));
                if prev.t == T::Op && &sql[prev.s..prev.e] == "-" {
                    // A minus in front: folded into the literal when it is a sign (after `(`
                    // or `,`); after a word it may be a sign or a subtraction, so the number
                    // stays as written, as it does when a cast follows.
                    if binds_tighter {
                        continue;
                    }
                    let before = toks[k - 2];
                    match before.t {
                        // Regression: `- -2147483648` is folded twice by the server (into the
                        // int8 2147483648); a parameter would keep the int4 and overflow.
                        T::Op if prefix_minus(sql, &toks, k - 2) => continue,
                        T::Punct(b'(' | b',') | T::Op => {
                            if after_operand(before) && !negated_again(sql, &toks, k - 2) {
                                params.push((prev.s, tok.e, number_kind(&format!("-{text}"))));
                            }
                            continue;
                        }
                        T::Word => continue,
                        _ => {}
                    }
                }
                if after_operand(prev)
                    && !(prev.t == T::Punct(b'(') && negated_again(sql, &toks, k - 1))
                {
                    params.push((tok.s, tok.e, number_kind(text)));
                }
            }
            _ => {}
        }
    }
    if params.len() > MAX_PARAMS {
        return None;
    }

    // The shape's text: the statement with the parameters in, without its `;`.
    let stop = toks
        .last()
        .filter(|t| t.t == T::Punct(b';'))
        .map_or(sql.len(), |t| t.s);
    let mut text = String::with_capacity(stop);
    let mut kinds = Vec::with_capacity(params.len());
    let mut literals = Vec::with_capacity(params.len());
    let mut from = 0;
    for (n, (s, e, kind)) in params.into_iter().enumerate() {
        text.push_str(&sql[from..s]);
        text.push('$');
        text.push_str(&(n + 1).to_string());
        from = e;
        kinds.push(kind);
        literals.push(s..e);
    }
    text.push_str(sql[from..stop].trim_end());
    Some(Shape {
        text,
        kinds,
        literals,
    })
}

/// Whether the parentheses opening at `toks[open]` (and any right before it) follow a
/// prefix minus: the server folds it into the constant inside (`- (-2147483648)` is the
/// int8 2147483648), which a parameter in there would not follow.
fn negated_again(sql: &str, toks: &[Tok], open: usize) -> bool {
    let mut j = open;
    while j > 0 && toks[j].t == T::Punct(b'(') {
        j -= 1;
    }
    j < open && prefix_minus(sql, toks, j)
}

/// Whether `toks[j]` is a minus sign rather than a subtraction: nothing it could subtract
/// from stands before it (a word may be a keyword, so it counts as nothing).
fn prefix_minus(sql: &str, toks: &[Tok], j: usize) -> bool {
    toks[j].t == T::Op
        && &sql[toks[j].s..toks[j].e] == "-"
        && (j == 0 || matches!(toks[j - 1].t, T::Punct(b'(' | b',') | T::Op | T::Word))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bracket {
    /// A parenthesis around values: a VALUES row, a sub-expression, a sub-select.
    Plain,
    /// After a word: a call's arguments, a type's modifiers, `IN (...)`.
    Call,
    /// An array's elements or a subscript.
    Square,
}

/// The type the server gives a numeric literal (sign included): an integer that fits int4 is
/// int4, one that fits int8 is int8; anything else is numeric.
fn number_kind(text: &str) -> Kind {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Kind::Numeric;
    }
    match text.parse::<i128>() {
        Ok(v) if i32::try_from(v).is_ok() => Kind::Int4,
        Ok(v) if i64::try_from(v).is_ok() => Kind::Int8,
        _ => Kind::Numeric,
    }
}

/// A token's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum T {
    /// A keyword or an unquoted identifier.
    Word,
    /// A quoted identifier.
    Quoted,
    Str(Lit),
    Num,
    Op,
    /// `::`
    Cast,
    Punct(u8),
}

/// A string literal's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lit {
    /// `''`, `E''`, `U&''`, a dollar quote: of type `unknown`, a parameter can take its place.
    Value,
    /// `N''`, `B''`, `X''`: typed literals, kept in the shape.
    Typed,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    t: T,
    s: usize,
    e: usize,
}

fn word_is(sql: &str, tok: &Tok, word: &str) -> bool {
    tok.t == T::Word && sql[tok.s..tok.e].eq_ignore_ascii_case(word)
}

/// The statement's tokens as `sql::lex` reads them, or `None` for anything the shape finder
/// does not know (a `$1` of the statement's own, a number with letters or a dot glued on,
/// an unfinished quote or comment, psql's own syntax).
fn tokens(sql: &str) -> Option<Vec<Tok>> {
    use super::lex::token::{Kind as L, Str};
    let mut toks: Vec<Tok> = Vec::with_capacity(32);
    let mut glued_to: Option<usize> = None;
    for t in lex::tokens(sql, true) {
        if t.open {
            return None;
        }
        // The server's reading of letters, digits or a dot glued to a number differs
        // between versions.
        if glued_to == Some(t.start) && matches!(t.kind, L::Word | L::Number | L::Punct(b'.')) {
            return None;
        }
        glued_to = None;
        let kind = match t.kind {
            L::Comment => continue,
            L::Word => T::Word,
            L::Quoted => T::Quoted,
            L::Str(Str::National | Str::Bit | Str::Hex) => T::Str(Lit::Typed),
            L::Str(_) => T::Str(Lit::Value),
            L::Number => {
                glued_to = Some(t.end);
                T::Num
            }
            L::Op => T::Op,
            L::Cast => T::Cast,
            L::Punct(c) => T::Punct(c),
            L::Param | L::PsqlVar | L::PsqlEscape | L::Other => return None,
        };
        toks.push(Tok {
            t: kind,
            s: t.start,
            e: t.end,
        });
    }
    Some(toks)
}

#[cfg(test)]
mod tests;
