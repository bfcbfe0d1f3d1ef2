//! The async runtime the commands run on: made per command, after parsing, so that a
//! command that needs none (completions, man, audit) starts none.

use std::future::Future;

use anyhow::Context;

/// Runs a future on a new multi-threaded runtime.
pub(super) fn block_on<F: Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?
        .block_on(f)
}
