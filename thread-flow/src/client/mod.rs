//! [`D1Database`]: one handle over two transports (embedded local D1, Cloudflare HTTP).
//!
//! A *request* is a list of statements that D1 runs as one transaction. The client never
//! builds SQL; it only carries [`Statement`]s produced by [`crate::sql`].

mod env;
pub mod http;
pub mod local;

pub use env::{
    ACCOUNT_ID_VAR, API_TOKEN_VAR, BASE_URL_VAR, DATABASE_ID_VAR, DEFAULT_LOCAL_PATH,
    DatabaseConfig, LOCAL_PATH_VAR,
};

use std::sync::Arc;

use crate::sql::{Encoding, Statement, WriteOptions};
use crate::{Result, Value};

/// The result of one statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatementResult {
    /// Result column names, in order.
    pub columns: Vec<String>,
    /// Result rows; each has one value per column.
    pub rows: Vec<Vec<Value>>,
    /// Rows changed by the statement (`meta.changes`).
    pub changes: u64,
    /// Rows read, when the backend reports it.
    pub rows_read: Option<u64>,
    /// Rows written, when the backend reports it.
    pub rows_written: Option<u64>,
}

/// What one request cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOutcome {
    /// One result per statement, in order.
    pub results: Vec<StatementResult>,
    /// Attempts made (1 when the first try succeeded).
    pub attempts: u32,
    /// Bytes sent, all attempts included (request bodies for HTTP, SQL + params locally).
    pub bytes_sent: u64,
}

/// Whether a D1 error message is one D1 documents as transient.
pub fn retryable_message(message: &str) -> bool {
    const RETRYABLE: [&str; 4] = [
        "Network connection lost",
        "storage caused object to be reset",
        "reset because its code was updated",
        "overloaded",
    ];
    RETRYABLE.iter().any(|m| message.contains(m))
}

// Held once behind an Arc, so the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Backend {
    Local(local::LocalD1),
    Http(http::HttpD1),
}

/// A D1 database handle. Cheap to clone; clones share the connection and limits.
#[derive(Debug, Clone)]
pub struct D1Database {
    backend: Arc<Backend>,
    write_options: WriteOptions,
}

impl D1Database {
    fn from_backend(backend: Backend) -> D1Database {
        let write_options = match backend {
            Backend::Local(_) => WriteOptions::local(),
            Backend::Http(_) => WriteOptions::default(),
        };
        D1Database {
            backend: Arc::new(backend),
            write_options,
        }
    }

    /// This handle with other write tuning (request byte budget, statements per request,
    /// concurrency). Clones made afterwards keep it; the connection is shared.
    pub fn with_write_options(mut self, options: WriteOptions) -> D1Database {
        self.write_options = options;
        self
    }

    /// The write tuning used by [`D1Database::write_rows`].
    pub fn write_options(&self) -> &WriteOptions {
        &self.write_options
    }

    /// Runs one SQL statement (`?` placeholders, values bound in order) as one request; the
    /// escape hatch for anything thread-flow does not generate.
    ///
    /// Over HTTP, integers beyond ±(2^53-1) and BLOBs are sent so that they arrive exactly;
    /// result values arrive as D1 returns them (use [`crate::sql::select`] for exact reads).
    pub async fn execute(
        &self,
        sql: impl AsRef<str>,
        params: Vec<Value>,
    ) -> Result<StatementResult> {
        let statement = crate::sql::encoded_statement(sql.as_ref(), params, self.encoding());
        let outcome = self.request(vec![statement]).await?;
        Ok(outcome.results.into_iter().next().unwrap_or_default())
    }

    /// Runs statements in order as one transaction (one request) and returns one result each.
    pub async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>> {
        let encoding = self.encoding();
        let statements = statements
            .into_iter()
            .map(|s| crate::sql::encoded_statement(&s.sql, s.params, encoding))
            .collect();
        Ok(self.request(statements).await?.results)
    }

    /// Embedded local D1 stored in a SQLite file at `path` (created if missing).
    pub fn local(path: impl AsRef<std::path::Path>) -> Result<D1Database> {
        Ok(D1Database::from_backend(Backend::Local(
            local::LocalD1::open(path.as_ref())?,
        )))
    }

    /// Embedded local D1 in memory (for tests).
    pub fn in_memory() -> Result<D1Database> {
        Ok(D1Database::from_backend(Backend::Local(
            local::LocalD1::in_memory()?,
        )))
    }

    /// Cloudflare D1 over its HTTP API.
    pub fn cloudflare(
        account_id: impl Into<String>,
        database_id: impl Into<String>,
        token: impl Into<crate::Secret>,
    ) -> Result<D1Database> {
        D1Database::http(http::CLOUDFLARE_API_BASE, account_id, database_id, token)
    }

    /// Any D1-compatible HTTP endpoint (a local emulator, a proxy) at `base_url`.
    pub fn http(
        base_url: impl Into<String>,
        account_id: impl Into<String>,
        database_id: impl Into<String>,
        token: impl Into<crate::Secret>,
    ) -> Result<D1Database> {
        D1Database::http_with(http::HttpConfig::new(
            base_url,
            account_id,
            database_id,
            token,
        ))
    }

    /// An HTTP database with full configuration (timeouts, concurrency, retries).
    pub fn http_with(config: http::HttpConfig) -> Result<D1Database> {
        Ok(D1Database::from_backend(Backend::Http(http::HttpD1::new(
            config,
        )?)))
    }

    /// How parameters travel on this database's transport.
    pub fn encoding(&self) -> Encoding {
        match &*self.backend {
            Backend::Local(_) => Encoding::Native,
            Backend::Http(_) => Encoding::Json,
        }
    }

    /// The embedded transport, when this database is local.
    pub(crate) fn local_transport(&self) -> Option<&local::LocalD1> {
        match &*self.backend {
            Backend::Local(l) => Some(l),
            Backend::Http(_) => None,
        }
    }

    /// Sends one request: the statements run in order as one transaction.
    pub async fn request(&self, statements: Vec<Statement>) -> Result<RequestOutcome> {
        match &*self.backend {
            Backend::Local(l) => l.request(statements).await,
            Backend::Http(h) => h.request(statements).await,
        }
    }
}
