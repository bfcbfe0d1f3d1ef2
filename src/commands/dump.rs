//! `dump [--out FILE]`: the target's schema as SQL that loads into an empty database, read
//! with the built-in catalog reader (no pg_dump, so no client/server version mismatch).

use anyhow::Context;

use crate::catalog;
use crate::cli::DumpArgs;
use crate::pg::Db;
use crate::target::{Target, TargetRequest};

pub async fn run(req: &TargetRequest, args: DumpArgs) -> anyhow::Result<()> {
    let target = Target::from_env(req)?;
    let out = args.out;
    // NOTE: read-only (one READ ONLY transaction), so a protected target needs no confirmation.
    let db = Db::connect(&target, &args.conn.options()).await?;
    let client = db.get().await?;
    let cat = catalog::read(&client)
        .await
        .with_context(|| format!("failed to read the schema of {}", target.url))?;
    for s in &cat.skipped {
        crate::ui::warn(&format!("not dumped: {s}"));
    }
    let text = catalog::sql::dump(&cat);
    match out {
        Some(path) => std::fs::write(&path, text)
            .with_context(|| format!("failed to write {}", path.display()))?,
        None => crate::ui::out!("{text}")?,
    }
    Ok(())
}
