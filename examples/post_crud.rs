//! Posts one crud through the cruddur-db library, the way a program (a seeder, a test fixture,
//! a Lambda) would: `CONNECTION_URL=postgresql://... cargo run --example post_crud -- \
//! [HANDLE [MESSAGE [TTL]]]`. Prints the created crud as JSON.

use anyhow::Context;
use cruddur_db::app::{self, Ttl};
use cruddur_db::pg::{ConnectOptions, Db};
use cruddur_db::target::{Target, TargetRequest};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("CONNECTION_URL")
        .context("set CONNECTION_URL to the database, e.g. postgresql://postgres:password@localhost:5432/cruddur")?;
    let mut args = std::env::args().skip(1);
    let handle = args.next().unwrap_or_else(|| "andrewbrown".to_string());
    let message = args
        .next()
        .unwrap_or_else(|| "Posted from examples/post_crud.rs".to_string());
    let ttl = args.next().unwrap_or_else(|| Ttl::default().to_string());

    // The same target resolution, TLS settings and pool the command line uses.
    let target = Target::resolve(
        &TargetRequest {
            url: Some(url),
            ..TargetRequest::default()
        },
        |k| std::env::var(k).ok(),
    )?;
    let db = Db::connect(&target, &ConnectOptions::default()).await?;

    match app::create_activity(&db.pool, &handle, &message, &ttl).await {
        Ok(activity) => {
            println!("{}", serde_json::to_string_pretty(&activity)?);
            Ok(())
        }
        // The typed errors let a program react to each case.
        Err(app::Error::Validation(violations)) => {
            for v in &violations {
                eprintln!("{}: {}", v.code(), v.message);
            }
            std::process::exit(2);
        }
        Err(app::Error::UnknownHandle {
            handle,
            suggestions,
        }) => {
            anyhow::bail!("no user {handle:?}; closest: {suggestions:?}")
        }
        Err(other) => Err(other.into()),
    }
}
