//! The benchmark's floor: sends a whole SQL file as ONE simple query inside one transaction.
//! That is the least work a server can do to run those statements as written; it reports
//! no failing line and takes no COPY data. Used by `scripts/bench`.
//!
//! Usage: `bench_floor URL FILE`

use std::time::Instant;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(file)) = (args.next(), args.next()) else {
        eprintln!("usage: bench_floor URL FILE");
        std::process::exit(2);
    };
    let sql = std::fs::read_to_string(&file)?;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let started = Instant::now();
    client.batch_execute("BEGIN").await?;
    client.batch_execute(&sql).await?;
    client.batch_execute("COMMIT").await?;
    eprintln!(
        "{file}: one batch in {:.3}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
