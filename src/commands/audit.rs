//! `audit`: show the audit log of writes on protected targets.

use crate::audit;
use crate::cli::AuditArgs;

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    let dir = audit::state_dir(crate::env::var)?;
    let mut entries = audit::read(&dir)?;
    if let Some(n) = args.last {
        entries.drain(..entries.len().saturating_sub(n));
    }
    if args.output.json {
        crate::ui::outln!("{}", serde_json::to_string_pretty(&entries)?)?;
        return Ok(());
    }
    if entries.is_empty() {
        crate::ui::status(&format!(
            "the audit log {} is empty",
            dir.join(audit::FILE_NAME).display()
        ));
        return Ok(());
    }
    let rows: Vec<[String; 6]> = entries
        .iter()
        .map(|e| {
            [
                e.time.clone(),
                format!("{}@{}", e.user, e.host),
                e.command.get(1..).unwrap_or_default().join(" "),
                format!("{}/{}", e.target.host, e.target.database),
                format!("{} ({})", e.outcome, e.exit_code),
                format!("{:.1}s", e.duration_ms as f64 / 1000.0),
            ]
        })
        .collect();
    crate::ui::out!(
        "{}",
        crate::ui::table(
            &["TIME", "WHO", "COMMAND", "TARGET", "OUTCOME", "DURATION"],
            &rows
        )
    )?;
    Ok(())
}
