//! `dump [--out FILE]`: the target's schema as SQL that loads into an empty database, read
//! with the built-in catalog reader (no pg_dump, so no client/server version mismatch).

use anyhow::Context;

use crate::catalog;
use crate::cli::DumpArgs;
use crate::commands::context::Run;
use crate::pg::Db;

pub async fn run(ctx: &Run, args: DumpArgs) -> anyhow::Result<()> {
    let target = ctx.target()?;
    let out = args.out.clone();
    // NOTE: read-only (one READ ONLY transaction), so a protected target needs no confirmation.
    let db = Db::connect(&target, &args.conn.options()).await?;
    let client = db.get().await?;
    let cat = catalog::read(&client)
        .await
        .with_context(|| format!("failed to read the schema of {}", target.url))?;
    if !cat.missing.is_empty() && !args.allow_incomplete {
        let list: Vec<String> = cat.missing.iter().map(|m| format!("  {m}")).collect();
        return Err(crate::error::kinded(
            crate::error::ErrorKind::Failed,
            format!(
                "{} object(s) in {} that dump cannot write; nothing was written, since a dump \
                 without them would not be this schema:\n{}\n\
                 (--allow-incomplete writes the rest and lists these at the top)",
                cat.missing.len(),
                target.url,
                list.join("\n")
            ),
        ));
    }
    let mut text = String::new();
    if !cat.missing.is_empty() {
        crate::ui::warn(&format!(
            "{} object(s) not dumped (--allow-incomplete):",
            cat.missing.len()
        ));
        text.push_str("-- not dumped: this database has objects the reader cannot write\n");
        for m in &cat.missing {
            crate::ui::status(&format!("  {m}"));
            text.push_str(&format!(
                "--   {}\n",
                crate::sql::quote::comment(&m.to_string())
            ));
        }
        text.push('\n');
    }
    text.push_str(&catalog::sql::dump(&cat));
    match out {
        Some(path) => std::fs::write(&path, text)
            .with_context(|| format!("failed to write {}", path.display()))?,
        None => crate::ui::out!("{text}")?,
    }
    Ok(())
}
