//! Whether the source and the target of a copy are one database, as the servers say: the
//! cluster's system identifier and the database's oid. Host names cannot tell (`localhost`,
//! `127.0.0.1`, `[::1]` and `LOCALHOST` are one server), and a copy onto its own source
//! would wait forever (the target's TRUNCATE waits for the source's COPY).

use tokio_postgres::Client;

/// Who a database is: its cluster and its oid there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `system_identifier` from `pg_control_system()`; when the function may not be called,
    /// the server's start time and port stand in for it (as text).
    pub cluster: String,
    pub oid: u32,
}

/// Asks the server which database `client` is connected to.
pub async fn identity(client: &Client) -> anyhow::Result<Identity> {
    let oid: u32 = client
        .query_one(
            "SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()",
            &[],
        )
        .await?
        .get(0);
    let cluster = match client
        .query_one(
            "SELECT system_identifier::text FROM pg_catalog.pg_control_system()",
            &[],
        )
        .await
    {
        Ok(row) => row.get(0),
        // NOTE: a server may refuse the function to an ordinary user; the start time (to the
        // microsecond) and the port tell servers apart as well.
        Err(_) => client
            .query_one(
                "SELECT 'started ' || pg_catalog.pg_postmaster_start_time()::text || ' port ' \
                 || coalesce(pg_catalog.inet_server_port()::text, 'socket')",
                &[],
            )
            .await?
            .get(0),
    };
    Ok(Identity { cluster, oid })
}
