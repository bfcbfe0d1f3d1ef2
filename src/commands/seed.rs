//! `seed [FILE]`: load seed data; the built-in seed refuses when the schema's tables are
//! missing.

use super::loading::{self, FileKind};
use crate::cli::LoadArgs;
use crate::commands::context::Run;
use crate::lifecycle::SEED_SQL;

pub async fn run(ctx: &Run, args: LoadArgs) -> anyhow::Result<()> {
    let kind = FileKind {
        name: "sql/seed.sql",
        builtin: SEED_SQL,
        checkout: |c| c.seed.clone(),
        action: "load seed data",
        refuse_empty: None,
        needs_schema: true,
        forgets_history: false,
    };
    loading::load_file(ctx, args, kind).await
}
