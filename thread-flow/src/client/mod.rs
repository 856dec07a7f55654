//! The **transport -> D1** step of struct -> schema -> SQL -> transport -> D1: where a
//! database is ([`Connection`]), the handle on it ([`D1Database`]) and how a request reaches it
//! (the `Transport` trait and its two implementations).
//!
//! - `connection`: [`Connection`], the one secret-free, serde-able description of a
//!   database (from the environment, from a ReCoco spec, built by hand), its identity
//!   ([`DatabaseId`]) and where its API token comes from ([`TokenSource`]).
//! - `database`: [`D1Database`] and all of its methods: raw requests, schema reads and
//!   migrations, the batched write engine; one handle per database per process.
//! - `local`: the embedded local D1 transport (a SQLite file). [`http`]: Cloudflare D1 (or a
//!   compatible endpoint) over its HTTP API.
//!
//! A *request* is a list of statements that D1 runs as one transaction. This module never
//! builds SQL; it only carries [`Statement`]s produced by the SQL builders (`sql`).
//!
//! Adding a transport (say a Workers binding) is one new file implementing `Transport` and one
//! arm in `database::open_transport` (the connection -> transport constructor).

pub(crate) mod connection;
pub(crate) mod database;
pub mod http;
pub(crate) mod local;

pub use connection::{
    ACCOUNT_ID_VAR, API_TOKEN_VAR, BASE_URL_VAR, Connection, DATABASE_ID_VAR, DEFAULT_LOCAL_PATH,
    DatabaseId, LOCAL_PATH_VAR, TokenSource,
};
pub use database::D1Database;
pub use local::LocalConfig;

use std::future::Future;
use std::pin::Pin;
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

/// A boxed, sendable future (what a `Transport` returns, so the trait stays object safe).
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How requests reach one D1 database: what [`D1Database`] holds (behind an `Arc`), one
/// implementation per transport ([`local::LocalD1`], [`http::HttpD1`]).
///
/// Everything [`D1Database`] does that depends on the transport goes through here, so the
/// handle, the write engine and the reads have no transport-specific branch.
pub(crate) trait Transport: std::fmt::Debug + Send + Sync + 'static {
    /// Sends one request: the statements run in order as one transaction. Which failures are
    /// retried follows `idempotency`.
    fn request(
        &self,
        statements: Vec<Statement>,
        idempotency: Idempotency,
    ) -> BoxFuture<'_, Result<RequestOutcome>>;

    /// How parameters travel on this transport.
    fn encoding(&self) -> Encoding;

    /// The write tuning a new handle starts with (request size, statements per request,
    /// concurrency).
    fn default_write_options(&self) -> WriteOptions;

    /// Whether the transport takes streamed requests ([`Transport::request_streamed`]). Then
    /// the write engine sends one request at a time, streamed in pieces (the embedded
    /// transport: packing overlaps SQLite's work); else (the default) whole requests, several
    /// in flight.
    fn streams(&self) -> bool {
        false
    }

    /// Starts one request whose statements arrive in pieces while earlier pieces run; `None`
    /// when the transport does not stream ([`Transport::streams`] is `false`).
    fn request_streamed(&self) -> Option<StreamedRequest> {
        None
    }
}

/// One message of a streamed request.
pub(crate) enum Piece {
    /// Statements to run next. The sender keeps a clone and frees them once the transport has
    /// dropped its own (so rows are freed by the thread that allocated them).
    Statements(Arc<Vec<Statement>>),
    /// Every statement was sent: commit.
    Commit,
}

/// Pieces of a streamed request queued ahead of the transport.
const STREAM_PIECES: usize = 4;

/// The sending side of a streamed request (see [`Transport::request_streamed`]).
pub(crate) struct StreamedRequest {
    pieces: tokio::sync::mpsc::Sender<Piece>,
    outcome: tokio::sync::oneshot::Receiver<Result<RequestOutcome>>,
}

/// The transport's side of a streamed request: the pieces as they come, and where to put the
/// outcome.
pub(crate) struct StreamedPieces {
    /// Pieces in order; the channel closes without [`Piece::Commit`] when the sender gave up.
    pub(crate) incoming: tokio::sync::mpsc::Receiver<Piece>,
    /// Where the request's outcome goes.
    pub(crate) answer: tokio::sync::oneshot::Sender<Result<RequestOutcome>>,
}

impl StreamedRequest {
    /// A new streamed request and the transport's end of it.
    pub(crate) fn channel() -> (StreamedRequest, StreamedPieces) {
        let (pieces, incoming) = tokio::sync::mpsc::channel::<Piece>(STREAM_PIECES);
        let (answer, outcome) = tokio::sync::oneshot::channel();
        (
            StreamedRequest { pieces, outcome },
            StreamedPieces { incoming, answer },
        )
    }

    /// Queues `statements` to run after those sent before. `false` when the request already
    /// failed (its error comes from [`StreamedRequest::commit`]).
    pub(crate) async fn send(&self, statements: Arc<Vec<Statement>>) -> bool {
        self.pieces
            .send(Piece::Statements(statements))
            .await
            .is_ok()
    }

    /// Commits once every statement sent ran; the request's outcome.
    pub(crate) async fn commit(self) -> Result<RequestOutcome> {
        // A failed request has stopped listening; its error is in the outcome.
        let _ = self.pieces.send(Piece::Commit).await;
        self.outcome.await.map_err(|_| crate::Error::Transport {
            message: "the D1 transport stopped before answering a streamed request".into(),
            table: None,
            first_key: None,
            attempts: 1,
            stopped: None,
        })?
    }
}
