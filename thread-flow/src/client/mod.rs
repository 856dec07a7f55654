//! [`D1Database`]: one handle over two transports (embedded local D1, Cloudflare HTTP).
//!
//! A *request* is a list of statements that D1 runs as one transaction. The client never
//! builds SQL; it only carries [`Statement`]s produced by the SQL builders (`sql`).

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

/// Whether running a request twice is harmless. It decides which failures a transport may
/// retry: a request can fail after D1 committed it (the answer was lost, the connection was
/// reset, the attempt timed out), and sending it again then applies it a second time.
///
/// Only the HTTP transport needs it: the embedded database answers every request (no answer
/// is ever lost) and retries only `SQLITE_BUSY` / `SQLITE_LOCKED`, which prove nothing ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Running the request twice leaves the database as running it once: upserts and deletes
    /// by key, reads, `CREATE TABLE IF NOT EXISTS`. Every transient failure is retried.
    /// thread-flow's own writes ([`crate::D1Table`], the ReCoco target) are all idempotent.
    Idempotent,
    /// The request must not run twice (`INSERT` without a conflict clause, `n = n + 1`,
    /// anything whose effect accumulates). It is retried only after failures that prove it
    /// did not run (see [`D1Database::execute`]); any other failure ends with an error whose
    /// [`crate::Error::outcome_unknown`] is `true`.
    NotIdempotent,
}

/// Why a transport stopped retrying a request. The error it returns keeps the last failed
/// attempt's own kind ([`crate::Error::Api`] with its HTTP status and D1 code, or
/// [`crate::Error::Transport`]) whatever the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryStop {
    /// The failure is not transient (a SQL error, a bad token, a redirect, ...): sending the
    /// same request again would fail the same way.
    NotRetryable,
    /// Every attempt the retry policy allows was made.
    MaxAttempts {
        /// `RetryPolicy::max_attempts`.
        max: u32,
    },
    /// The retry policy's deadline (`RetryPolicy::deadline`) left no time for another
    /// attempt. (No durations are stored here, to keep [`crate::Error`] small: the deadline
    /// is the caller's own setting.)
    Deadline,
    /// The request was sent, nothing proves whether D1 ran it, and it is not idempotent
    /// ([`Idempotency::NotIdempotent`]), so it was not sent again: it may or may not have
    /// been applied.
    OutcomeUnknown,
}

impl std::fmt::Display for RetryStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RetryStop::NotRetryable => f.write_str("not retried: the failure is not transient"),
            RetryStop::MaxAttempts { max } => write!(
                f,
                "gave up: no attempts left (RetryPolicy::max_attempts = {max})"
            ),
            RetryStop::Deadline => f.write_str(
                "gave up: another attempt would pass the retry deadline (RetryPolicy::deadline)",
            ),
            RetryStop::OutcomeUnknown => f.write_str(
                "outcome unknown: the request reached the server and may have been applied; it \
                 was not sent again because it is not marked idempotent (see \
                 D1Database::execute_idempotent); check the database before running it again",
            ),
        }
    }
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
    /// escape hatch for anything thread-flow does not generate. The text must hold exactly
    /// one statement (trailing statements are refused, as D1 refuses them).
    ///
    /// Over HTTP, integers beyond ±(2^53-1) and BLOBs are sent so that they arrive exactly;
    /// result values arrive as D1 returns them ([`crate::D1Table`]'s typed reads are exact).
    ///
    /// # Retries
    ///
    /// The statement is treated as **not idempotent** ([`Idempotency::NotIdempotent`]): over
    /// HTTP it is sent again only after a failure that proves it did not run: the connection
    /// could not be opened, HTTP 429 (rate limited or D1 overloaded: the request was refused
    /// before it ran), or D1's "overloaded" message. After any other transient failure (a
    /// timeout, a reset connection, a 5xx, "Network connection lost") D1 may have committed
    /// it, so it is not retried: the error's [`crate::Error::outcome_unknown`] is `true` and
    /// its [`crate::Error::retry_stop`] is [`RetryStop::OutcomeUnknown`]. Use
    /// [`D1Database::execute_idempotent`] for statements that may safely run twice (reads,
    /// upserts, deletes by key) to retry every transient failure. The embedded database
    /// retries `SQLITE_BUSY` / `SQLITE_LOCKED` either way: a busy database ran nothing.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = thread_flow::D1Database::in_memory()?;
    /// db.execute("CREATE TABLE counter (n INTEGER NOT NULL) STRICT", vec![]).await?;
    /// db.execute("INSERT INTO counter (n) VALUES (0)", vec![]).await?;
    /// // Not idempotent: never sent twice.
    /// db.execute("UPDATE counter SET n = n + 1", vec![]).await?;
    /// // A read may be retried after any transient failure.
    /// let r = db.execute_idempotent("SELECT n FROM counter", vec![]).await?;
    /// assert_eq!(r.rows, vec![vec![thread_flow::Value::Integer(1)]]);
    /// # Ok::<(), thread_flow::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn execute(
        &self,
        sql: impl AsRef<str>,
        params: Vec<Value>,
    ) -> Result<StatementResult> {
        self.execute_with(sql.as_ref(), params, Idempotency::NotIdempotent)
            .await
    }

    /// [`D1Database::execute`] for a statement that may safely run twice (a read, an upsert or
    /// delete by key): every transient failure is retried under the transport's retry policy.
    pub async fn execute_idempotent(
        &self,
        sql: impl AsRef<str>,
        params: Vec<Value>,
    ) -> Result<StatementResult> {
        self.execute_with(sql.as_ref(), params, Idempotency::Idempotent)
            .await
    }

    async fn execute_with(
        &self,
        sql: &str,
        params: Vec<Value>,
        idempotency: Idempotency,
    ) -> Result<StatementResult> {
        let statement = crate::sql::encoded_statement(sql, params, self.encoding());
        let outcome = self.request_with(vec![statement], idempotency).await?;
        Ok(outcome.results.into_iter().next().unwrap_or_default())
    }

    /// Runs statements in order as one transaction (one request) and returns one result each.
    ///
    /// Treated as not idempotent, retried like [`D1Database::execute`]; see
    /// [`D1Database::batch_idempotent`].
    pub async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>> {
        self.batch_with(statements, Idempotency::NotIdempotent)
            .await
    }

    /// [`D1Database::batch`] for statements that may safely run twice: every transient
    /// failure is retried.
    pub async fn batch_idempotent(
        &self,
        statements: Vec<Statement>,
    ) -> Result<Vec<StatementResult>> {
        self.batch_with(statements, Idempotency::Idempotent).await
    }

    async fn batch_with(
        &self,
        statements: Vec<Statement>,
        idempotency: Idempotency,
    ) -> Result<Vec<StatementResult>> {
        let encoding = self.encoding();
        let statements = statements
            .into_iter()
            .map(|s| crate::sql::encoded_statement(&s.sql, s.params, encoding))
            .collect();
        Ok(self.request_with(statements, idempotency).await?.results)
    }

    /// Embedded local D1 stored in a SQLite file at `path` (created if missing).
    pub fn local(path: impl AsRef<std::path::Path>) -> Result<D1Database> {
        Ok(D1Database::from_backend(Backend::Local(
            local::LocalD1::open(path.as_ref())?,
        )))
    }

    /// Embedded local D1 stored in a SQLite file, with explicit busy handling
    /// ([`local::LocalConfig`]: how long to wait for another connection's lock and how to
    /// retry `SQLITE_BUSY`).
    pub fn local_with(
        path: impl AsRef<std::path::Path>,
        config: local::LocalConfig,
    ) -> Result<D1Database> {
        Ok(D1Database::from_backend(Backend::Local(
            local::LocalD1::open_with(path.as_ref(), config)?,
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
    ///
    /// `base_url` must be `https://`, or `http://` to a loopback host only (`127.0.0.0/8`,
    /// `::1`, `localhost`): the API token must never travel in clear text. Anything else is
    /// an [`crate::Error::Config`] before any request. Redirects are never followed.
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
    ///
    /// The statements are treated as **idempotent** (every transient failure is retried):
    /// this is how thread-flow sends its own upserts, deletes, reads and migrations. For
    /// statements that must not run twice use [`D1Database::request_with`] with
    /// [`Idempotency::NotIdempotent`], or [`D1Database::batch`].
    pub async fn request(&self, statements: Vec<Statement>) -> Result<RequestOutcome> {
        self.request_with(statements, Idempotency::Idempotent).await
    }

    /// Sends one request whose retries follow `idempotency` (see [`Idempotency`]).
    pub async fn request_with(
        &self,
        statements: Vec<Statement>,
        idempotency: Idempotency,
    ) -> Result<RequestOutcome> {
        match &*self.backend {
            Backend::Local(l) => l.request(statements).await,
            Backend::Http(h) => h.request_with(statements, idempotency).await,
        }
    }
}
