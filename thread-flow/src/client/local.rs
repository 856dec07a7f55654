//! Embedded local D1: a SQLite file (rusqlite, bundled SQLite); each request runs as one
//! transaction, with D1's limits set on the connection so local development fails where D1
//! would: 100 bound parameters per statement, 100,000 bytes of SQL, 2,000,000 bytes per string,
//! BLOB or row. `BEGIN`, `COMMIT`, `SAVEPOINT` and friends are refused, as D1 refuses them,
//! and so is a statement text with anything after its first statement (`SELECT 1; DROP TABLE
//! t`): D1 answers "A prepared SQL statement must contain only one statement". SQLite's
//! double-quoted string literals are turned off, so `"no_such_column"` is an error naming the
//! column, never the text `no_such_column`.
//!
//! A database locked by another connection (`SQLITE_BUSY`, `SQLITE_LOCKED`) is waited for
//! ([`LocalConfig::busy_timeout`]) and then retried under a [`RetryPolicy`]: a busy database
//! ran nothing, so this is safe for every statement.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::client::http::RetryPolicy;
use crate::client::{
    BoxFuture, Idempotency, Piece, RequestOutcome, RetryStop, StatementResult, StreamedPieces,
    StreamedRequest, Transport,
};
use crate::sql::{
    Encoding, MAX_PARAMS_PER_STATEMENT, MAX_SQL_BYTES, MAX_VALUE_BYTES, Statement, WriteOptions,
};
use crate::{DatabaseErrorKind, Error, Result, Value};

/// D1's error code for SQL errors.
const SQL_ERROR_CODE: i64 = 7500;

/// Prepared statements kept per connection (each distinct SQL text, e.g. each row count of a
/// multi-row insert, is one entry).
const STATEMENT_CACHE: usize = 512;

/// How the embedded transport waits for a database another connection (another process, a
/// `sqlite3` shell) has locked.
///
/// ```
/// use std::time::Duration;
/// use thread_flow::client::http::RetryPolicy;
/// use thread_flow::client::LocalConfig;
///
/// let config = LocalConfig::default()
///     .with_busy_timeout(Duration::from_secs(1))
///     .with_retry(RetryPolicy::default().with_deadline(Duration::from_secs(300)));
/// assert_eq!(config.busy_timeout, Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LocalConfig {
    /// How long SQLite itself waits for a lock before a request attempt fails with
    /// `SQLITE_BUSY` (default 5 s).
    pub busy_timeout: Duration,
    /// Attempts, backoff and deadline for requests that found the database busy or locked
    /// (default [`RetryPolicy::default`]: 8 attempts within 120 s). The whole transaction is
    /// run again; nothing of a busy attempt was applied.
    pub retry: RetryPolicy,
}

impl Default for LocalConfig {
    fn default() -> LocalConfig {
        LocalConfig {
            busy_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        }
    }
}

impl LocalConfig {
    /// Sets [`LocalConfig::busy_timeout`].
    pub fn with_busy_timeout(mut self, timeout: Duration) -> LocalConfig {
        self.busy_timeout = timeout;
        self
    }

    /// Sets [`LocalConfig::retry`].
    pub fn with_retry(mut self, retry: RetryPolicy) -> LocalConfig {
        self.retry = retry;
        self
    }
}

/// The embedded transport. Clones share the connection. Used through
/// [`crate::D1Database`].
#[derive(Debug, Clone)]
pub(crate) struct LocalD1 {
    conn: Arc<Mutex<Connection>>,
    retry: Arc<RetryPolicy>,
}

impl LocalD1 {
    /// Opens (or creates) the database file, in WAL mode, with the default [`LocalConfig`].
    pub(crate) fn open(path: &Path) -> Result<LocalD1> {
        LocalD1::open_with(path, LocalConfig::default())
    }

    /// Opens (or creates) the database file, in WAL mode.
    pub(crate) fn open_with(path: &Path, config: LocalConfig) -> Result<LocalD1> {
        create_database_file(path)?;
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
        // Before anything that may need a lock, so that a busy file is waited for.
        conn.busy_timeout(config.busy_timeout).map_err(sql_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql_error)?;
        LocalD1::configure(conn, config.retry)
    }

    /// An in-memory database (for tests); gone when the last clone is dropped.
    pub(crate) fn in_memory() -> Result<LocalD1> {
        let conn = Connection::open_in_memory().map_err(sql_error)?;
        LocalD1::configure(conn, RetryPolicy::default())
    }

    fn configure(conn: Connection, retry: RetryPolicy) -> Result<LocalD1> {
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql_error)?;
        // No double-quoted string literals: `"name"` is always an identifier, so a misspelt
        // or missing column is an error naming it instead of the text `name`.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DML, false)
            .map_err(sql_error)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DDL, false)
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
            retry: Arc::new(retry),
        })
    }

    /// Runs the statements in order as one transaction (rolled back if any fails).
    pub(crate) async fn request(&self, statements: Vec<Statement>) -> Result<RequestOutcome> {
        let conn = Arc::clone(&self.conn);
        let retry = Arc::clone(&self.retry);
        let (outcome, statements) = tokio::task::spawn_blocking(move || {
            let mut guard = lock(&conn);
            let outcome = run_with_retries(&mut guard, &statements, &retry);
            drop(guard);
            (outcome, statements)
        })
        .await
        .map_err(|e| Error::Transport {
            message: format!("the local D1 worker thread failed: {e}"),
            table: None,
            first_key: None,
            attempts: 1,
            stopped: None,
        })?;
        // Free the rows here, off the SQLite thread, while the next request runs.
        drop(statements);
        outcome
    }

    /// Starts one request (one transaction) whose statements arrive in pieces while earlier
    /// pieces run: [`StreamedRequest::send`] each piece, then [`StreamedRequest::commit`].
    /// Dropping the request before `commit` rolls everything back.
    fn start_streamed(&self) -> StreamedRequest {
        let conn = Arc::clone(&self.conn);
        let retry = Arc::clone(&self.retry);
        let (request, pieces) = StreamedRequest::channel();
        let StreamedPieces {
            mut incoming,
            answer,
        } = pieces;
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&conn);
            let outcome = run_streamed(&mut guard, &mut incoming, &retry);
            drop(guard);
            let _ = answer.send(outcome);
        });
        request
    }
}

impl Transport for LocalD1 {
    /// Every request is retried only while the database is busy or locked (nothing ran), so
    /// `idempotency` changes nothing here.
    fn request(
        &self,
        statements: Vec<Statement>,
        _idempotency: Idempotency,
    ) -> BoxFuture<'_, Result<RequestOutcome>> {
        Box::pin(LocalD1::request(self, statements))
    }

    fn encoding(&self) -> Encoding {
        Encoding::Native
    }

    fn default_write_options(&self) -> WriteOptions {
        WriteOptions::local()
    }

    fn streams(&self) -> bool {
        true
    }

    fn request_streamed(&self) -> Option<StreamedRequest> {
        Some(self.start_streamed())
    }
}

/// Whether `path` names a file, not a SQLite URI (`file:...`) or `:memory:`, which are
/// SQLite's to interpret.
pub(crate) fn is_file_path(path: &Path) -> bool {
    !path.as_os_str().is_empty()
        && path
            .to_str()
            .is_none_or(|p| !p.starts_with("file:") && p != ":memory:")
}

/// Creates a new local D1 file and the folders made for it, private (0600 / 0700; SQLite gives
/// its WAL and journal files the database file's mode): the one place a D1 file is created.
/// A folder named `.thread-flow` is thread-flow's own and is made private even if it exists;
/// any other existing folder is the user's and left as it is, and so is an existing file.
/// `file:` URIs and `:memory:` are SQLite's to interpret.
fn create_database_file(path: &Path) -> Result<()> {
    if !is_file_path(path) {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let created = if dir.file_name() == Some(std::ffi::OsStr::new(".thread-flow")) {
            crate::local_state::create_private_dir(dir)
        } else {
            crate::local_state::create_missing_dirs(dir)
        };
        created.map_err(|e| {
            Error::Config(format!(
                "cannot create the folder {} for the local D1 database: {e}",
                dir.display()
            ))
        })?;
    }
    if !path.exists() {
        crate::local_state::create_private_file(path).map_err(|e| {
            Error::Config(format!(
                "cannot create the local D1 database {}: {e}",
                path.display()
            ))
        })?;
    }
    Ok(())
}

/// Whether a local error is SQLite's "database is busy / locked" (see [`sql_error`]).
fn is_busy(e: &Error) -> bool {
    matches!(
        e,
        Error::Api {
            status: None,
            kind: DatabaseErrorKind::Busy,
            ..
        }
    )
}

/// Runs `attempt` until it succeeds, fails with something other than a busy / locked
/// database, or `retry` says stop (attempts or deadline). Blocks the calling thread while
/// backing off. Returns the result and the attempts made; a busy error carries both the count
/// and why retrying stopped.
fn retry_busy<T>(retry: &RetryPolicy, mut attempt: impl FnMut() -> Result<T>) -> (Result<T>, u32) {
    let start = std::time::Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let error = match attempt() {
            Ok(value) => return (Ok(value), attempts),
            Err(e) if is_busy(&e) => e,
            Err(e) => return (Err(e), attempts),
        };
        let stop = if attempts >= retry.max_attempts {
            Some(RetryStop::MaxAttempts {
                max: retry.max_attempts,
            })
        } else {
            None
        };
        let delay = retry.delay(attempts, None);
        let stop = stop
            .or_else(|| (start.elapsed() + delay >= retry.deadline).then_some(RetryStop::Deadline));
        if let Some(stop) = stop {
            tracing::warn!(attempts, error = %error, "local D1 still busy, giving up");
            return (Err(busy_final(error, attempts, stop)), attempts);
        }
        tracing::debug!(
            attempts,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "local D1 database busy (locked by another connection), retrying"
        );
        std::thread::sleep(delay);
    }
}

fn busy_final(error: Error, attempts_made: u32, stop: RetryStop) -> Error {
    match error {
        Error::Api {
            status,
            code,
            message,
            table,
            first_key,
            hint,
            kind,
            source,
            ..
        } => Error::Api {
            status,
            code,
            message,
            table,
            first_key,
            kind,
            source,
            attempts: attempts_made,
            hint: hint.or_else(|| {
                Some(
                    "another connection holds the database's write lock; see \
                     LocalConfig::busy_timeout and LocalConfig::retry"
                        .into(),
                )
            }),
            stopped: Some(stop),
        },
        other => other,
    }
}

/// [`run_request`], run again while the database is busy or locked.
fn run_with_retries(
    conn: &mut Connection,
    statements: &[Statement],
    retry: &RetryPolicy,
) -> Result<RequestOutcome> {
    let (outcome, attempts) = retry_busy(retry, || run_request(conn, statements));
    outcome.map(|mut o| {
        o.attempts = attempts;
        o
    })
}

/// `BEGIN IMMEDIATE`, retried while the database is busy or locked.
fn begin_immediate<'c>(
    conn: &'c Connection,
    retry: &RetryPolicy,
) -> (Result<Transaction<'c>>, u32) {
    retry_busy(retry, || {
        Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(sql_error)
    })
}

/// D1's answer to a statement text holding more than one statement.
fn trailing_statement_error() -> Error {
    api_error(
        "A prepared SQL statement must contain only one statement: SQLITE_ERROR".into(),
        Some(
            "send each statement as its own entry of one request (D1Database::batch); nothing \
             was run"
                .into(),
        ),
    )
}

/// Refuses a statement text with anything but whitespace and comments after its first
/// statement. SQLite's own parser decides where the first statement ends; a text without `;`
/// cannot hold a second one, so only texts with a `;` are parsed twice.
fn check_single_statement(conn: &Connection, sql: &str) -> Result<()> {
    if !sql.contains(';') {
        return Ok(());
    }
    let mut statements = rusqlite::Batch::new(conn, sql);
    // The first statement's own errors are reported when it is prepared for real.
    if statements.next().is_err() {
        return Ok(());
    }
    match statements.next() {
        Ok(None) => Ok(()),
        Ok(Some(_)) | Err(_) => Err(trailing_statement_error()),
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
            check_single_statement(&tx, &s.sql)?;
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
    retry: &RetryPolicy,
) -> Result<RequestOutcome> {
    let (tx, attempts) = begin_immediate(conn, retry);
    let tx = tx?;
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
                        check_single_statement(&tx, &s.sql)?;
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
                    stopped: None,
                });
            }
        }
    }
    drop(prepared);
    tx.commit().map_err(sql_error)?;
    Ok(RequestOutcome {
        results,
        attempts,
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
        stmt.raw_bind_parameter(i + 1, Bind(p)).map_err(sql_error)?;
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

/// A [`Value`] bound to a SQLite parameter. A private wrapper, so that rusqlite's `ToSql` is
/// not implemented on the public `Value` (rusqlite stays out of the public API).
struct Bind<'a>(&'a Value);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self.0 {
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

/// An error the local transport raises itself, mimicking D1's answer (code 7500).
fn api_error(message: String, hint: Option<String>) -> Error {
    let kind = DatabaseErrorKind::from_sqlite_message(&message).unwrap_or(DatabaseErrorKind::Other);
    d1_shaped_error(message, hint, kind, None)
}

/// A D1-shaped SQL error (code 7500) from the local transport, with SQLite's error as its
/// source when there is one.
fn d1_shaped_error(
    message: String,
    hint: Option<String>,
    kind: DatabaseErrorKind,
    source: Option<rusqlite::Error>,
) -> Error {
    Error::Api {
        status: None,
        code: Some(SQL_ERROR_CODE),
        message,
        table: None,
        first_key: None,
        attempts: 1,
        hint,
        stopped: None,
        kind,
        source: source.map(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>),
    }
}

/// The kind of a SQLite error, from its extended result code; SQLite's plain `SQLITE_ERROR`
/// (syntax, unknown names, too many variables) is told apart by its message.
fn sqlite_kind(e: &rusqlite::Error) -> DatabaseErrorKind {
    use rusqlite::ffi;
    let (f, msg) = match e {
        rusqlite::Error::SqliteFailure(f, msg) => (f, msg.as_deref()),
        rusqlite::Error::SqlInputError { error, msg, .. } => (error, Some(msg.as_str())),
        _ => return DatabaseErrorKind::Other,
    };
    match f.extended_code {
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            return DatabaseErrorKind::UniqueViolation;
        }
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => return DatabaseErrorKind::ForeignKeyViolation,
        ffi::SQLITE_CONSTRAINT_NOTNULL => return DatabaseErrorKind::NotNullViolation,
        ffi::SQLITE_CONSTRAINT_CHECK => return DatabaseErrorKind::CheckViolation,
        _ => {}
    }
    match f.code {
        rusqlite::ErrorCode::ConstraintViolation => DatabaseErrorKind::OtherConstraint,
        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
            DatabaseErrorKind::Busy
        }
        rusqlite::ErrorCode::TooBig => DatabaseErrorKind::TooLarge,
        rusqlite::ErrorCode::Unknown => msg
            .and_then(DatabaseErrorKind::from_sqlite_message)
            .unwrap_or(DatabaseErrorKind::Other),
        _ => DatabaseErrorKind::Other,
    }
}

/// A SQLite error as D1 reports it: code 7500 with SQLite's message and result code, the
/// kind read from the extended result code, and the [`rusqlite::Error`] kept as the source.
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
                rusqlite::ErrorCode::DatabaseLocked => "SQLITE_LOCKED",
                _ => "SQLITE_ERROR",
            };
            (format!("{base}: {code}"), hint)
        }
        // SQLite's message and where in the statement; not the statement itself, which may
        // be long (the caller has it).
        rusqlite::Error::SqlInputError { msg, offset, .. } => {
            (format!("{msg} at offset {offset}: SQLITE_ERROR"), None)
        }
        rusqlite::Error::MultipleStatement => (
            "a statement with parameters must hold exactly one SQL statement".to_string(),
            Some("split it into several statements of one request".to_string()),
        ),
        other => (other.to_string(), None),
    };
    let kind = sqlite_kind(&e);
    d1_shaped_error(message, hint, kind, Some(e))
}
