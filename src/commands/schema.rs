//! `schema [FILE]`: load the schema into the target database.

use super::loading::{self, FileKind};
use crate::cli::LoadArgs;
use crate::lifecycle::SCHEMA_SQL;
use crate::target::TargetRequest;

pub async fn run(req: &TargetRequest, args: LoadArgs) -> anyhow::Result<()> {
    let kind = FileKind {
        name: "sql/schema.sql",
        builtin: SCHEMA_SQL,
        checkout: |c| c.schema.clone(),
        action: "load the schema (replacing its tables)",
        refuse_empty: Some("schema"),
        needs_schema: false,
        forgets_history: true,
    };
    loading::load_file(req, args, kind).await
}
