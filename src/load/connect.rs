//! Connections to other databases of the same server, for `\c DBNAME`: the runner takes a
//! [`Connector`] so that it never needs the URL, password or TLS settings itself.

use std::ops::Deref;

use futures_util::future::BoxFuture;
use tokio_postgres::Client;

use crate::dburl::DbUrl;
use crate::pg::{ConnectOptions, Db};
use crate::tls::TlsSettings;

/// A connection the runner holds while it works on another database.
pub struct Connection(Box<dyn Deref<Target = Client> + Send + Sync>);

impl Connection {
    pub fn new(client: impl Deref<Target = Client> + Send + Sync + 'static) -> Connection {
        Connection(Box::new(client))
    }

    pub fn client(&self) -> &Client {
        &self.0
    }
}

/// Opens a connection to database `database` of the same server, with the same user,
/// password and TLS settings.
pub trait Connector: Send + Sync {
    fn connect<'a>(&'a self, database: &'a str) -> BoxFuture<'a, anyhow::Result<Connection>>;
}

/// What a run given no connector holds: `\c` is refused before it is reached there (one
/// transaction, migrations).
pub struct NoConnect;

impl Connector for NoConnect {
    fn connect<'a>(&'a self, database: &'a str) -> BoxFuture<'a, anyhow::Result<Connection>> {
        Box::pin(async move {
            Err(anyhow::anyhow!(
                "BUG: \\c {database} reached a run that cannot connect elsewhere"
            ))
        })
    }
}

/// A pooled client; kept with its pool.
struct Pooled(deadpool_postgres::Object);

impl Deref for Pooled {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.0
    }
}

/// Connects like the target's pool: its URL with another database.
pub struct DbConnector {
    url: DbUrl,
    tls: TlsSettings,
    opts: ConnectOptions,
}

impl DbConnector {
    /// Connections like `db`'s, with `opts` (the pool of each is one connection).
    pub fn new(db: &Db, opts: &ConnectOptions) -> DbConnector {
        DbConnector {
            url: db.url.clone(),
            tls: db.tls.clone(),
            opts: ConnectOptions {
                pool_size: 1,
                ..opts.clone()
            },
        }
    }
}

impl Connector for DbConnector {
    fn connect<'a>(&'a self, database: &'a str) -> BoxFuture<'a, anyhow::Result<Connection>> {
        Box::pin(async move {
            let db =
                Db::connect_url(&self.url.with_database(database), &self.tls, &self.opts).await?;
            Ok(Connection::new(Pooled(db.get().await?)))
        })
    }
}
