//! Embedded local D1: a SQLite file (rusqlite, bundled SQLite); each request runs as one
//! transaction, with D1's limits set on the connection so local development fails where D1
//! would: 100 bound parameters per statement, 100,000 bytes of SQL, 2,000,000 bytes per string,
//! BLOB or row. `BEGIN`, `COMMIT`, `SAVEPOINT` and friends are refused, as D1 refuses them.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::limits::Limit;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::client::{RequestOutcome, StatementResult};
use crate::sql::{MAX_PARAMS_PER_STATEMENT, MAX_SQL_BYTES, MAX_VALUE_BYTES, Statement};
use crate::{Error, Result, Value};

/// D1's error code for SQL errors.
const SQL_ERROR_CODE: i64 = 7500;

/// Prepared statements kept per connection (each distinct SQL text, e.g. each row count of a
/// multi-row insert, is one entry).
const STATEMENT_CACHE: usize = 512;

/// The embedded transport. Clones share the connection.
#[derive(Debug, Clone)]
pub struct LocalD1 {
    conn: Arc<Mutex<Connection>>,
    path: Option<std::path::PathBuf>,
}

impl LocalD1 {
    /// Opens (or creates) the database file, in WAL mode.
    pub fn open(path: &Path) -> Result<LocalD1> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Config(format!(
                    "cannot create the folder {} for the local D1 database: {e}",
                    dir.display()
                ))
            })?;
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| {
            Error::Config(format!(
                "cannot open the local D1 database {}: {e}",
                path.display()
            ))
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(sql_error)?;
        LocalD1::configure(conn, Some(path.to_path_buf()))
    }

    /// An in-memory database (for tests); gone when the last clone is dropped.
    pub fn in_memory() -> Result<LocalD1> {
        let conn = Connection::open_in_memory().map_err(sql_error)?;
        LocalD1::configure(conn, None)
    }

    fn configure(conn: Connection, path: Option<std::path::PathBuf>) -> Result<LocalD1> {
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql_error)?;
        conn.set_limit(
            Limit::SQLITE_LIMIT_VARIABLE_NUMBER,
            MAX_PARAMS_PER_STATEMENT as i32,
        );
        conn.set_limit(Limit::SQLITE_LIMIT_SQL_LENGTH, MAX_SQL_BYTES as i32);
        conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES as i32);
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(LocalD1 {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The database file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs the statements in order as one transaction (rolled back if any fails).
    pub async fn request(&self, statements: Vec<Statement>) -> Result<RequestOutcome> {
        let conn = Arc::clone(&self.conn);
        let (outcome, statements) = tokio::task::spawn_blocking(move || {
            let mut guard = lock(&conn);
            let outcome = run_request(&mut guard, &statements);
            drop(guard);
            (outcome, statements)
        })
        .await
        .map_err(|e| Error::Transport {
            message: format!("the local D1 worker thread failed: {e}"),
            table: None,
            first_key: None,
            attempts: 1,
        })?;
        // Free the rows here, off the SQLite thread, while the next request runs.
        drop(statements);
        outcome
    }

    /// Starts one request (one transaction) whose statements arrive in pieces while earlier
    /// pieces run: [`StreamedRequest::send`] each piece, then [`StreamedRequest::commit`].
    /// Dropping the request before `commit` rolls everything back.
    pub(crate) fn request_streamed(&self) -> StreamedRequest {
        let conn = Arc::clone(&self.conn);
        let (pieces, mut incoming) = tokio::sync::mpsc::channel::<Piece>(STREAM_PIECES);
        let (answer, outcome) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&conn);
            let outcome = run_streamed(&mut guard, &mut incoming);
            drop(guard);
            let _ = answer.send(outcome);
        });
        StreamedRequest { pieces, outcome }
    }

    /// Runs the statements on the calling thread (blocking). Same semantics as
    /// [`LocalD1::request`]; for callers already off the async runtime.
    pub fn request_blocking(&self, statements: &[Statement]) -> Result<RequestOutcome> {
        let mut guard = lock(&self.conn);
        run_request(&mut guard, statements)
    }
}

/// Pieces of a streamed request queued ahead of the SQLite thread.
const STREAM_PIECES: usize = 4;

/// One message of a streamed request.
enum Piece {
    /// Statements to run next. The sender keeps a clone and frees them once the SQLite thread
    /// has dropped its own (so rows are freed by the thread that allocated them).
    Statements(Arc<Vec<Statement>>),
    /// Every statement was sent: commit.
    Commit,
}

/// A request being streamed to the SQLite thread (see [`LocalD1::request_streamed`]).
pub(crate) struct StreamedRequest {
    pieces: tokio::sync::mpsc::Sender<Piece>,
    outcome: tokio::sync::oneshot::Receiver<Result<RequestOutcome>>,
}

impl StreamedRequest {
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
        self.outcome.await.map_err(|_| worker_failed())?
    }
}

fn worker_failed() -> Error {
    Error::Transport {
        message: "the local D1 worker thread failed before answering".into(),
        table: None,
        first_key: None,
        attempts: 1,
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock leaves no open transaction (it rolls back on drop), so a
    // poisoned connection is still usable.
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

fn run_request(conn: &mut Connection, statements: &[Statement]) -> Result<RequestOutcome> {
    for s in statements {
        if let Some(word) = transaction_control(&s.sql) {
            return Err(transaction_control_error(&word));
        }
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let mut results = Vec::with_capacity(statements.len());
    let mut bytes = 0u64;
    // Consecutive statements with the same SQL (the planner's full batches) reuse one
    // prepared statement without a cache lookup.
    let mut prepared: Option<(&str, rusqlite::CachedStatement<'_>)> = None;
    for s in statements {
        bytes += (s.sql.len() + s.params.iter().map(Value::byte_len).sum::<usize>()) as u64;
        let reuse = prepared
            .as_ref()
            .is_some_and(|(sql, _)| *sql == s.sql.as_str());
        if !reuse {
            prepared = Some((
                s.sql.as_str(),
                tx.prepare_cached(&s.sql).map_err(sql_error)?,
            ));
        }
        let Some((_, stmt)) = prepared.as_mut() else {
            continue;
        };
        results.push(run_statement(&tx, stmt, s)?);
    }
    drop(prepared);
    tx.commit().map_err(sql_error)?;
    Ok(RequestOutcome {
        results,
        attempts: 1,
        bytes_sent: bytes,
    })
}

/// Runs a streamed request: statements as they arrive, in one transaction, committed on
/// [`Piece::Commit`] and rolled back when the sender goes away first.
fn run_streamed(
    conn: &mut Connection,
    incoming: &mut tokio::sync::mpsc::Receiver<Piece>,
) -> Result<RequestOutcome> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let mut results = Vec::new();
    let mut bytes = 0u64;
    let mut prepared: Option<(String, rusqlite::CachedStatement<'_>)> = None;
    loop {
        match incoming.blocking_recv() {
            Some(Piece::Statements(statements)) => {
                if let Some(word) = statements.iter().find_map(|s| transaction_control(&s.sql)) {
                    return Err(transaction_control_error(&word));
                }
                results.reserve(statements.len());
                for s in statements.iter() {
                    bytes +=
                        (s.sql.len() + s.params.iter().map(Value::byte_len).sum::<usize>()) as u64;
                    let reuse = prepared.as_ref().is_some_and(|(sql, _)| *sql == s.sql);
                    if !reuse {
                        prepared =
                            Some((s.sql.clone(), tx.prepare_cached(&s.sql).map_err(sql_error)?));
                    }
                    let Some((_, stmt)) = prepared.as_mut() else {
                        continue;
                    };
                    results.push(run_statement(&tx, stmt, s)?);
                }
            }
            Some(Piece::Commit) => break,
            None => {
                return Err(Error::Transport {
                    message: "the write was abandoned before it finished; nothing was committed"
                        .into(),
                    table: None,
                    first_key: None,
                    attempts: 1,
                });
            }
        }
    }
    drop(prepared);
    tx.commit().map_err(sql_error)?;
    Ok(RequestOutcome {
        results,
        attempts: 1,
        bytes_sent: bytes,
    })
}

fn transaction_control_error(word: &str) -> Error {
    api_error(
        format!(
            "{word} is not allowed: D1 runs each request as one transaction and refuses transaction control statements"
        ),
        Some("send the statements of one transaction in one request (D1Database::batch)".into()),
    )
}

fn run_statement(
    conn: &Connection,
    stmt: &mut rusqlite::Statement<'_>,
    s: &Statement,
) -> Result<StatementResult> {
    let expected = stmt.parameter_count();
    if expected != s.params.len() {
        return Err(api_error(
            format!(
                "Wrong number of parameter bindings for SQL query: the statement has {expected} placeholders but {} values were given",
                s.params.len()
            ),
            None,
        ));
    }
    for (i, p) in s.params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, p).map_err(sql_error)?;
    }
    let column_count = stmt.column_count();
    let readonly = stmt.readonly();
    if column_count == 0 {
        let changes = stmt.raw_execute().map_err(sql_error)?;
        return Ok(StatementResult {
            changes: changes as u64,
            ..StatementResult::default()
        });
    }
    let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        let mut values = Vec::with_capacity(column_count);
        for i in 0..column_count {
            values.push(from_ref(row.get_ref(i).map_err(sql_error)?));
        }
        out.push(values);
    }
    drop(rows);
    let changes = if readonly { 0 } else { conn.changes() };
    Ok(StatementResult {
        columns,
        rows: out,
        changes,
        rows_read: None,
        rows_written: None,
    })
}

fn from_ref(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// The transaction-control keyword a statement starts with, if any.
fn transaction_control(sql: &str) -> Option<String> {
    let mut rest = sql.trim_start();
    // Skip leading comments.
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r
                .split_once('\n')
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r
                .split_once("*/")
                .map(|(_, r)| r)
                .unwrap_or("")
                .trim_start();
        } else {
            break;
        }
    }
    let word: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    let upper = word.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE"
    )
    .then_some(upper)
}

fn api_error(message: String, hint: Option<String>) -> Error {
    Error::Api {
        status: None,
        code: Some(SQL_ERROR_CODE),
        message,
        table: None,
        first_key: None,
        attempts: 1,
        hint,
    }
}

/// A SQLite error as D1 reports it: code 7500 with SQLite's message.
fn sql_error(e: rusqlite::Error) -> Error {
    let (message, hint) = match &e {
        rusqlite::Error::SqliteFailure(f, msg) => {
            let base = msg.clone().unwrap_or_else(|| f.to_string());
            let hint = match f.code {
                rusqlite::ErrorCode::TooBig => Some("D1 allows at most 2,000,000 bytes per value or row and 100,000 bytes of SQL per statement".to_string()),
                _ => None,
            };
            let code = match f.code {
                rusqlite::ErrorCode::ConstraintViolation => "SQLITE_CONSTRAINT",
                rusqlite::ErrorCode::TooBig => "SQLITE_TOOBIG",
                rusqlite::ErrorCode::TypeMismatch => "SQLITE_MISMATCH",
                rusqlite::ErrorCode::DatabaseBusy => "SQLITE_BUSY",
                _ => "SQLITE_ERROR",
            };
            (format!("{base}: {code}"), hint)
        }
        rusqlite::Error::MultipleStatement => (
            "a statement with parameters must hold exactly one SQL statement".to_string(),
            Some("split it into several statements of one request".to_string()),
        ),
        other => (other.to_string(), None),
    };
    api_error(message, hint)
}
