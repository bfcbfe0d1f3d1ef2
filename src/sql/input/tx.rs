//! A file's own transaction control inside the one transaction it runs in: folded when it
//! is harmless, run as written when it stays inside (savepoints), refused before anything
//! runs when it would end that transaction or change what it is.

use super::super::classify::{tx_control, TxForm};
use super::super::lex::{self, Scan};
use super::Stmt;

/// Whether the runner folds this statement into the file's one transaction (a plain
/// `BEGIN`/`START TRANSACTION`, or `COMMIT`/`END` without `AND CHAIN`).
pub fn is_folded(sql: &str) -> bool {
    matches!(
        tx_control(sql),
        Some(TxForm::Begin { modes: false } | TxForm::Commit { chain: false })
    )
}

/// Why `stmt` cannot run inside the one transaction the file runs in, if it cannot.
/// `std_strings`: the session's standard_conforming_strings, to split what it sends.
pub(super) fn refusal(stmt: &Stmt, std_strings: bool) -> Option<String> {
    if stmt.subs.is_empty() {
        return alone(tx_control(&stmt.sql)?).map(|why| said(stmt, &why));
    }
    // Variables or psql's `\;` may make one statement as written several as sent: every
    // one of them is checked, and none of them may open or end a transaction (folding it
    // would drop the statements sent with it).
    let b = stmt.sql.as_bytes();
    let mut at = 0;
    let mut parts = 0;
    let mut worst = None;
    while let Ok(Scan::Sql { text, next, .. }) = lex::scan_from(&b[at..], true, None, std_strings) {
        parts += 1;
        let part = &stmt.sql[at + text.start..at + text.end];
        if let Some(form) = tx_control(part) {
            worst = worst.or(match form {
                TxForm::Savepoint | TxForm::Release | TxForm::RollbackTo => None,
                other => Some((other, alone(other))),
            });
        }
        at += next;
        if at >= b.len() {
            break;
        }
    }
    let (form, why) = worst?;
    Some(said(
        stmt,
        &match why {
            Some(why) if parts == 1 => why,
            _ => format!(
                "{} is sent together with other statements (joined by \\; or a variable), so it \
                 cannot be folded into the one transaction the file runs in; put it in a \
                 statement of its own, or run the file with --no-transaction",
                verb(form)
            ),
        },
    ))
}

/// Why a statement of this form, alone, cannot run in the one transaction.
fn alone(form: TxForm) -> Option<String> {
    let how = "remove it (the file already runs in one transaction), or run the file with \
               --no-transaction";
    Some(match form {
        TxForm::Begin { modes: false }
        | TxForm::Commit { chain: false }
        | TxForm::Savepoint
        | TxForm::Release
        | TxForm::RollbackTo => return None,
        TxForm::Begin { modes: true } => format!(
            "{} with transaction modes cannot be folded into the one transaction the file runs \
             in (its isolation level or access mode would be lost); {how}",
            verb(form)
        ),
        TxForm::Commit { chain: true } => format!(
            "{} would commit what ran before it and go on in a new transaction, so the file \
             would no longer be all or nothing; write a plain COMMIT (folded), or run the file \
             with --no-transaction",
            verb(form)
        ),
        // NOTE: the wording the reader has used for ROLLBACK since it refused it.
        TxForm::Rollback { .. } => "ROLLBACK would end the one transaction the file runs in \
                                    (psql -1 would discard what ran and go on without one); \
                                    run it with --no-transaction"
            .to_string(),
        TxForm::PrepareTransaction => format!(
            "{} would end the one transaction the file runs in (it is kept for a later COMMIT \
             PREPARED); {how}",
            verb(form)
        ),
        TxForm::CommitPrepared | TxForm::RollbackPrepared => format!(
            "{} cannot run inside a transaction (the file runs in one); run the file with \
             --no-transaction",
            verb(form)
        ),
    })
}

fn verb(form: TxForm) -> &'static str {
    match form {
        TxForm::Begin { .. } => "BEGIN",
        TxForm::Commit { chain: true } => "COMMIT AND CHAIN",
        TxForm::Commit { chain: false } => "COMMIT",
        TxForm::Rollback { .. } => "ROLLBACK",
        TxForm::Savepoint => "SAVEPOINT",
        TxForm::Release => "RELEASE",
        TxForm::RollbackTo => "ROLLBACK TO",
        TxForm::PrepareTransaction => "PREPARE TRANSACTION",
        TxForm::CommitPrepared => "COMMIT PREPARED",
        TxForm::RollbackPrepared => "ROLLBACK PREPARED",
    }
}

/// The reason with the statement, on one line.
fn said(stmt: &Stmt, why: &str) -> String {
    let mut text = stmt
        .written()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if text.chars().count() > 120 {
        text = format!("{}...", text.chars().take(117).collect::<String>());
    }
    format!("refused `{text}`: {why}")
}
