//! `schema [FILE]`: load the schema into the target database.

use super::loading::{self, FileKind};
use crate::cli::LoadArgs;
use crate::commands::context::Run;
use crate::lifecycle::SCHEMA_SQL;

pub async fn run(ctx: &Run, args: LoadArgs) -> anyhow::Result<()> {
    let kind = FileKind {
        name: "sql/schema.sql",
        builtin: SCHEMA_SQL,
        checkout: |c| c.schema.clone(),
        action: "load the schema (replacing its tables)",
        refuse_empty: Some("schema"),
        needs_schema: false,
        forgets_history: true,
    };
    loading::load_file(ctx, args, kind).await
}
