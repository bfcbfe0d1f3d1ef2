//! `diff FROM TO [--json] [--sql] [--exit-code]`: what differs between two schemas, and the
//! SQL that turns one into the other.

use anyhow::Context;

use crate::catalog::{self, Side, Sides};
use crate::cli::DiffArgs;
use crate::commands::context::Run;

pub async fn run(ctx: &Run, args: DiffArgs) -> anyhow::Result<()> {
    let from = Side::parse(&args.from)?;
    let to = Side::parse(&args.to)?;
    if from == Side::File("-".into()) && to == Side::File("-".into()) {
        return Err(crate::error::usage("FROM and TO cannot both read stdin"));
    }
    let sides = Sides {
        request: ctx.req.clone(),
        scratch_url: args.scratch_url,
        conn: args.conn.options(),
        maker: std::sync::Arc::new(super::scratch::Lifecycle),
    };
    let opts = catalog::diff::Options {
        owners: args.owners,
        grants: args.grants,
    };
    let diff = catalog::compare(&sides, &from, &to, opts).await?;
    if args.json {
        let value = serde_json::json!({
            "from": from.label(),
            "to": to.label(),
            "equal": diff.equal(),
            "differences": diff.differences,
            "not_compared": diff.not_compared,
            "statements": if args.sql { Some(&diff.statements) } else { None },
        });
        crate::ui::outln!(
            "{}",
            serde_json::to_string_pretty(&value).context("failed to write JSON")?
        )?;
    } else if args.sql {
        for n in &diff.not_compared {
            crate::ui::outln!(
                "-- not compared: {}",
                crate::sql::quote::comment(&n.to_string())
            )?;
        }
        crate::ui::out!("{}", diff.sql())?;
    } else {
        for d in &diff.differences {
            crate::ui::outln!("{d}")?;
        }
        for n in &diff.not_compared {
            crate::ui::outln!("not compared: {n}")?;
        }
    }
    let summary = if diff.equal() == Some(true) {
        format!("{} and {} have the same schema", from.label(), to.label())
    } else if diff.is_empty() {
        format!(
            "no difference between {} and {} in what was compared, but {} object(s) were not \
             compared (the reader cannot read them), so it cannot tell whether they are equal",
            from.label(),
            to.label(),
            diff.not_compared.len()
        )
    } else {
        format!(
            "{} difference(s) from {} to {}{}",
            diff.differences.len(),
            from.label(),
            to.label(),
            match diff.destructive().count() {
                0 => String::new(),
                n => format!("; {n} destructive statement(s) in --sql"),
            }
        )
    };
    if args.exit_code {
        match diff.equal() {
            Some(true) => {}
            Some(false) => {
                return Err(crate::error::kinded(
                    crate::error::ErrorKind::Failed,
                    summary,
                ))
            }
            // NOTE: "cannot tell" is exit 2, as README's exit-code table says for diff.
            None => {
                return Err(crate::error::kinded(
                    crate::error::ErrorKind::Usage,
                    summary,
                ))
            }
        }
    }
    crate::ui::status(&summary);
    Ok(())
}
