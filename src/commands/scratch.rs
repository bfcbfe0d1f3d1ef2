//! The maker of scratch databases that the command layer hands the catalog (`diff`,
//! `migrate new --from-diff`, doctor's drift): lifecycle's admin, loading and setup steps,
//! run quietly (`--verbose` shows them).

use anyhow::Context;
use futures_util::future::BoxFuture;

use crate::catalog::side::{Maker, Scratches, Source};
use crate::lifecycle::workflow::{SetupFiles, SetupRequest};
use crate::lifecycle::{admin, loading, workflow};
use crate::load::LoadOptions;
use crate::pg::{ConnectOptions, Db};
use crate::target::Target;

/// Builds scratch databases with lifecycle's steps.
pub struct Lifecycle;

impl Maker for Lifecycle {
    fn build<'a>(
        &'a self,
        source: Source<'a>,
        target: &'a Target,
        conn: &'a ConnectOptions,
        made: &'a mut Scratches,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            match source {
                Source::File(path) => {
                    let server = loading::server_of(&target.url);
                    let input = loading::read_script(
                        Some(path),
                        "",
                        "",
                        &[],
                        LoadOptions::default(),
                        Some(&server),
                    )?;
                    loading::require_statements(&input, "schema")?;
                    made.add(target, self, conn).await;
                    let _hush = crate::ui::hush();
                    admin::create_if_missing(target, conn).await?;
                    let db = Db::connect(target, conn).await?;
                    loading::load(&db, input, LoadOptions::default(), conn).await?;
                }
                Source::Setup => {
                    let request = SetupRequest {
                        no_seed: true,
                        ..SetupRequest::default()
                    };
                    let files = SetupFiles::read(&request).await?;
                    made.add(target, self, conn).await;
                    let _hush = crate::ui::hush();
                    workflow::setup(target, files, conn)
                        .await
                        .context("failed to build `setup` in a scratch database")?;
                }
            }
            Ok(())
        })
    }

    fn drop_database<'a>(
        &'a self,
        target: &'a Target,
        conn: &'a ConnectOptions,
        force: bool,
    ) -> BoxFuture<'a, anyhow::Result<()>> {
        Box::pin(async move {
            admin::drop_database(target, conn, force).await?;
            Ok(())
        })
    }
}
