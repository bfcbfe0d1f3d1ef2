//! Transaction control statements: every form of BEGIN, START TRANSACTION, COMMIT, END,
//! ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION and COMMIT/ROLLBACK PREPARED.

use crate::sql::lex::{self, Token};

/// A transaction control statement's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxForm {
    /// `BEGIN` / `START TRANSACTION`; `modes`: with an isolation level, READ ONLY, ...
    Begin {
        modes: bool,
    },
    /// `COMMIT` / `END`; `chain`: `AND CHAIN` (a new transaction begins at once).
    Commit {
        chain: bool,
    },
    /// `ROLLBACK` / `ABORT`.
    Rollback {
        chain: bool,
    },
    Savepoint,
    Release,
    /// `ROLLBACK TO [SAVEPOINT]`.
    RollbackTo,
    PrepareTransaction,
    CommitPrepared,
    RollbackPrepared,
}

impl TxForm {
    /// A short name, as the differential test prints it.
    pub fn name(&self) -> &'static str {
        match self {
            TxForm::Begin { modes: false } => "begin",
            TxForm::Begin { modes: true } => "begin+modes",
            TxForm::Commit { chain: false } => "commit",
            TxForm::Commit { chain: true } => "commit+chain",
            TxForm::Rollback { chain: false } => "rollback",
            TxForm::Rollback { chain: true } => "rollback+chain",
            TxForm::Savepoint => "savepoint",
            TxForm::Release => "release",
            TxForm::RollbackTo => "rollback_to",
            TxForm::PrepareTransaction => "prepare",
            TxForm::CommitPrepared => "commit_prepared",
            TxForm::RollbackPrepared => "rollback_prepared",
        }
    }
}

const FIRST_WORDS: &[&str] = &[
    "BEGIN",
    "START",
    "COMMIT",
    "END",
    "ROLLBACK",
    "ABORT",
    "SAVEPOINT",
    "RELEASE",
    "PREPARE",
];

/// The transaction control form of a statement, if it is one. Cheap for every other
/// statement: only its first token is read.
pub fn tx_control(sql: &str) -> Option<TxForm> {
    let mut toks = lex::code(sql);
    let first = toks.next()?;
    if !FIRST_WORDS.iter().any(|w| first.is(sql, w)) {
        return None;
    }
    let mut all = Vec::with_capacity(8);
    all.push(first);
    all.extend(toks.take(7));
    form(sql, &all)
}

/// The transaction control form of a statement's tokens (comments left out).
pub(super) fn form(sql: &str, toks: &[Token]) -> Option<TxForm> {
    let is = |i: usize, kw: &str| toks.get(i).is_some_and(|t| t.is(sql, kw));
    // Past the optional WORK or TRANSACTION after the first word.
    let after_noise = |i: usize| {
        if is(i, "WORK") || is(i, "TRANSACTION") {
            i + 1
        } else {
            i
        }
    };
    let ends = |i: usize| match toks.get(i) {
        None => true,
        Some(t) => t.kind == lex::token::Kind::Punct(b';'),
    };
    let chain = |i: usize| is(i, "AND") && is(i + 1, "CHAIN");
    Some(if is(0, "BEGIN") {
        TxForm::Begin {
            modes: !ends(after_noise(1)),
        }
    } else if is(0, "START") && is(1, "TRANSACTION") {
        TxForm::Begin { modes: !ends(2) }
    } else if is(0, "COMMIT") && is(1, "PREPARED") {
        TxForm::CommitPrepared
    } else if is(0, "COMMIT") || is(0, "END") {
        TxForm::Commit {
            chain: chain(after_noise(1)),
        }
    } else if is(0, "ROLLBACK") && is(1, "PREPARED") {
        TxForm::RollbackPrepared
    } else if (is(0, "ROLLBACK") || is(0, "ABORT")) && is(after_noise(1), "TO") {
        TxForm::RollbackTo
    } else if is(0, "ROLLBACK") || is(0, "ABORT") {
        TxForm::Rollback {
            chain: chain(after_noise(1)),
        }
    } else if is(0, "SAVEPOINT") {
        TxForm::Savepoint
    } else if is(0, "RELEASE") {
        TxForm::Release
    } else if is(0, "PREPARE") && is(1, "TRANSACTION") {
        TxForm::PrepareTransaction
    } else {
        return None;
    })
}
