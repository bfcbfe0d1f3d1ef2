//! What loading a schema does to the migration history: the schema file is the state before
//! every migration, so its load forgets them in its own transaction; plans and confirmations
//! say how many.

use super::loading::load;
use crate::load::{LoadOptions, Summary};
use crate::pg::{ConnectOptions, Db};
use crate::sql::script::Script;
use crate::target::Target;
use crate::ui;

/// How many migrations the target's tracking table records: what loading a schema into it
/// forgets. `None` when that cannot be told (no database yet, no tracking table, the server
/// cannot be reached): plans and confirmations then say nothing of it.
pub async fn recorded_migrations(target: &Target, opts: &ConnectOptions) -> Option<usize> {
    let db = Db::connect(target, opts).await.ok()?;
    let client = db.get().await.ok()?;
    let recorded = crate::migrate::store::recorded(&client).await.ok()??;
    Some(recorded.len())
}

/// What a schema load does to the history, for plans and confirmations: `None` when there
/// is nothing to forget. `again`: the same run applies the migrations again (setup).
pub fn forgets(recorded: Option<usize>, again: bool) -> Option<String> {
    let n = recorded.filter(|n| *n > 0)?;
    Some(format!(
        "loading the schema replaces the tables and forgets {n} applied migration(s) (the \
         schema file is the state before every migration); {}",
        if again {
            "they are applied again"
        } else {
            "`cruddur-db migrate up` applies them again"
        }
    ))
}

/// Loads a schema file: in its transaction, after the file, the migration history is
/// forgotten (see [`crate::migrate::store::FORGET_SQL`]), so the tracking table never says a
/// migration is applied when the schema file has just replaced its effect.
pub async fn load_schema(
    db: &Db,
    input: Script,
    opts: LoadOptions,
    conn: &ConnectOptions,
    again: bool,
) -> anyhow::Result<Summary> {
    let recorded = {
        let client = db.get().await?;
        crate::migrate::store::recorded(&client).await?
    };
    let opts = LoadOptions {
        epilogue: Some(crate::migrate::store::FORGET_SQL),
        ..opts
    };
    let summary = load(db, input, opts, conn).await?;
    if let Some(n) = recorded.map(|r| r.len()).filter(|n| *n > 0) {
        ui::status(&format!(
            "forgot {n} applied migration(s) of {}: the schema file is the state before every \
             migration; {}",
            crate::migrate::store::TABLE,
            if again {
                "applying them again"
            } else {
                "run `cruddur-db migrate up` to apply them again"
            }
        ));
    }
    Ok(summary)
}
