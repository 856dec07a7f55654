//! The one error type, [`Error`]: every variant names what a caller needs to act on it.

use crate::client::RetryStop;
use crate::schema::SchemaProblem;

/// Result alias for thread-flow.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between a row struct and D1.
///
/// Messages say what happened, to which table / column / key, and what to do.
/// No variant ever holds a credential.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A table definition breaks D1's or thread-flow's rules.
    #[error("invalid schema for table `{table}`: {}", join_problems(.problems))]
    InvalidSchema {
        /// Table name.
        table: String,
        /// Every problem found.
        problems: Vec<SchemaProblem>,
    },

    /// A field value cannot be sent to D1 (NaN, out-of-range integer, ...).
    #[error(
        "cannot bind {}table `{table}`{}: {message}",
        .column.as_ref().map(|c| format!("column `{c}` of ")).unwrap_or_else(|| "a row of ".into()),
        .key.as_ref().map(|k| format!(" for key {k}")).unwrap_or_default()
    )]
    Bind {
        /// Table name.
        table: String,
        /// Column name; `None` when the row as a whole is wrong (a hand-written
        /// [`crate::D1Target`] that reports no column).
        column: Option<String>,
        /// The row's key, rendered (`(a, 1)`); `None` when the key itself could not be bound
        /// (or the value is a lookup's argument, not a row's).
        key: Option<String>,
        /// What is wrong with the value.
        message: String,
    },

    /// A parameter of a statement cannot travel to D1 as JSON (an integer beyond ±(2^53-1),
    /// a NaN or infinity, a BLOB); nothing was sent. Only statements written by hand
    /// ([`crate::D1Database::request`] and friends) can hold such a value: rows are bound
    /// in a form D1 accepts.
    #[error(
        "cannot send parameter ?{parameter} of statement {statement}{}: {message}",
        .table.as_ref().map(|t| format!(" (table `{t}`)")).unwrap_or_default()
    )]
    Parameter {
        /// The statement's position in the request, from 1.
        statement: usize,
        /// The parameter's position in the statement, from 1 (`?1` is 1).
        parameter: usize,
        /// Table the request was for, when known.
        table: Option<String>,
        /// What is wrong with the value, and what to do.
        message: String,
    },

    /// A value read back from D1 does not fit the field's type.
    #[error(
        "cannot decode {}table `{table}`{}: {message}",
        .column.as_ref().map(|c| format!("column `{c}` of ")).unwrap_or_else(|| "a row of ".into()),
        .key.as_ref().map(|k| format!(" for key {k}")).unwrap_or_default()
    )]
    Decode {
        /// Table name.
        table: String,
        /// Column name; `None` when the row as a whole does not fit (it has more or fewer
        /// values than the table has columns).
        column: Option<String>,
        /// The key of the row that failed, rendered (`(a, 1)`), when the row's key columns
        /// could be read.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },

    /// The columns of a read do not match the row type: a [`crate::D1Database::query_as`]
    /// result lacks some of the row type's columns or returns columns it does not have, or a
    /// [`crate::Lookup`] names a column the table lacks. Nothing was decoded.
    #[error(
        "the columns do not match table `{table}`{}{}",
        if .missing.is_empty() { String::new() } else {
            format!("; missing: {} (select every column of the row type, \
                     under its column name: `AS \"name\"`)", join_names(.missing))
        },
        if .unknown.is_empty() { String::new() } else {
            format!("; unknown: {} (not a column of the row type; remove it or rename it \
                     with `AS`)", join_names(.unknown))
        }
    )]
    ColumnMismatch {
        /// Table of the row type.
        table: String,
        /// Columns of the row type the result lacks, in schema order.
        missing: Vec<String>,
        /// Result (or lookup) columns the row type does not have, or that appear twice, in
        /// the order they came.
        unknown: Vec<String>,
    },

    /// A D1 limit would be exceeded; nothing was sent.
    #[error(
        "table `{table}`: {limit} exceeded ({actual} > {max}){}{}",
        .column.as_ref().map(|c| format!(" in column `{c}`")).unwrap_or_default(),
        .key.as_ref().map(|k| format!(" for key {k}")).unwrap_or_default()
    )]
    LimitExceeded {
        /// Table name.
        table: String,
        /// Which limit (for example "bytes per value").
        limit: &'static str,
        /// The limit's value.
        max: u64,
        /// The value that broke it.
        actual: u64,
        /// Column concerned, when there is one.
        column: Option<String>,
        /// Row key concerned, when there is one.
        key: Option<String>,
    },

    /// D1 (or the embedded engine) rejected a request.
    #[error(
        "D1 error{}{}{}: {message}{}{}{}",
        .table.as_ref().map(|t| format!(" on table `{t}`")).unwrap_or_default(),
        .status.map(|s| format!(" (HTTP {s}")).map(|s| format!("{s}{})", .code.map(|c| format!(", code {c}")).unwrap_or_default())).unwrap_or_else(|| .code.map(|c| format!(" (code {c})")).unwrap_or_default()),
        .first_key.as_ref().map(|k| format!(", first key of batch {k}")).unwrap_or_default(),
        if *.attempts > 1 { format!(" (after {} attempts)", .attempts) } else { String::new() },
        stop_note(.stopped),
        .hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
    )]
    Api {
        /// HTTP status, when the transport is HTTP.
        status: Option<u16>,
        /// D1 error code (7500 for SQL errors, 10000 for authentication).
        code: Option<i64>,
        /// D1's (or SQLite's) message.
        message: String,
        /// Table the failed write was for.
        table: Option<String>,
        /// First key of the failed batch.
        first_key: Option<String>,
        /// How many attempts were made.
        attempts: u32,
        /// What to do about it, when known.
        hint: Option<String>,
        /// Why the transport stopped retrying, when the request went through its retry loop
        /// (`None` for errors raised before any attempt). The error's kind, status and code are
        /// always those of the last failed attempt, whatever stopped the retries.
        stopped: Option<RetryStop>,
        /// What kind of failure this is (a constraint, a busy database, authentication, ...):
        /// match on this, never on `message`. Also [`Error::database_kind`].
        kind: DatabaseErrorKind,
        /// The engine's own error, when there is one: the [`rusqlite::Error`] (with SQLite's
        /// extended result code) on the local transport; `None` over HTTP, where D1's code
        /// and message are all there is.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },

    /// The request could not be completed (connection, timeout, deadline).
    #[error(
        "transport error{}{}: {message} (after {attempts} attempt{}){}",
        .table.as_ref().map(|t| format!(" on table `{t}`")).unwrap_or_default(),
        .first_key.as_ref().map(|k| format!(", first key of batch {k}")).unwrap_or_default(),
        if *.attempts == 1 { "" } else { "s" },
        stop_note(.stopped)
    )]
    Transport {
        /// What failed.
        message: String,
        /// Table the failed write was for.
        table: Option<String>,
        /// First key of the failed batch.
        first_key: Option<String>,
        /// How many attempts were made.
        attempts: u32,
        /// Why the transport stopped retrying (see [`Error::Api::stopped`]).
        stopped: Option<RetryStop>,
    },

    /// An HTTP response body was larger than the configured cap
    /// ([`crate::client::http::HttpConfig::max_response_bytes`]); reading stopped there.
    /// The server did answer, so a write in the request may have been applied.
    #[error(
        "the D1 response{} (HTTP {status}) is larger than the {max}-byte cap \
         (HttpConfig::max_response_bytes); read less per request (fewer rows per SELECT) or \
         raise the cap",
        .table.as_ref().map(|t| format!(" for table `{t}`")).unwrap_or_default()
    )]
    ResponseTooLarge {
        /// The cap, in bytes.
        max: u64,
        /// The HTTP status of the oversized answer.
        status: u16,
        /// Table the request was for, when known.
        table: Option<String>,
    },

    /// A migration would lose data and was not allowed.
    #[error("migration of table `{table}` refused: {reason}")]
    MigrationRefused {
        /// Table name.
        table: String,
        /// Why, and how to allow it.
        reason: String,
    },

    /// Bad configuration (missing environment variable, bad URL, ...).
    #[error("configuration error: {0}")]
    Config(String),

    /// A migration file could not be read, or failed when applied (see
    /// [`crate::D1Database::apply_migrations`]: nothing of a failed file is applied).
    #[error("migration file `{file}`: {message}")]
    MigrationFile {
        /// The file name (`0003_add_kind.sql`).
        file: String,
        /// What happened and what to do.
        message: String,
        /// The database's error, when the file failed to apply (its text is in `message`);
        /// also the [`std::error::Error::source`], so its kind and cause stay reachable.
        #[source]
        error: Option<Box<Error>>,
    },

    /// The row structs, the migration files and a live database disagree
    /// ([`crate::migrations::MigrationCheck::ensure`]).
    #[error("schema drift: {details}")]
    SchemaDrift {
        /// How they differ, and what to do.
        details: String,
    },
}

/// What kind of failure a database error ([`Error::Api`]) is, whichever transport reported it.
///
/// The local transport reads it from SQLite's extended result code; the HTTP transport from
/// D1's HTTP status, its error code (10000: authentication) and, for SQL errors (code 7500),
/// the SQLite message D1 passes on (`UNIQUE constraint failed: ...`, `...: SQLITE_BUSY`).
/// Match on the kind, never on the message text:
///
/// ```
/// use thread_flow::{DatabaseErrorKind, Error};
///
/// fn is_duplicate(e: &Error) -> bool {
///     e.database_kind() == Some(DatabaseErrorKind::UniqueViolation)
/// }
/// # assert!(!is_duplicate(&Error::Config("x".into())));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DatabaseErrorKind {
    /// A `UNIQUE` or `PRIMARY KEY` constraint failed (a row with that key or value exists).
    UniqueViolation,
    /// A `FOREIGN KEY` constraint failed (the referenced row is missing, or still referenced).
    ForeignKeyViolation,
    /// A `NOT NULL` constraint failed.
    NotNullViolation,
    /// A `CHECK` constraint failed.
    CheckViolation,
    /// Another constraint failed (a trigger's `RAISE(ABORT, ..)`, ...).
    OtherConstraint,
    /// The database is busy or locked by another connection (`SQLITE_BUSY`, `SQLITE_LOCKED`).
    Busy,
    /// The credentials were refused (HTTP 401 / 403, D1 code 10000).
    Auth,
    /// Too many requests: the account's rate limit or an overloaded database (HTTP 429).
    RateLimited,
    /// A value, row, statement or request is beyond a limit (`SQLITE_TOOBIG`, too many SQL
    /// variables, HTTP 413).
    TooLarge,
    /// The SQL does not parse (`syntax error`, `incomplete input`, `unrecognized token`).
    Syntax,
    /// The SQL names a table, column or index that does not exist.
    NoSuchObject,
    /// D1 is temporarily unavailable (HTTP 5xx, a lost connection or reset object inside D1).
    Unavailable,
    /// Anything else.
    Other,
}

impl DatabaseErrorKind {
    /// Whether this is a constraint violation (unique, foreign key, not null, check, other).
    pub fn is_constraint(self) -> bool {
        matches!(
            self,
            DatabaseErrorKind::UniqueViolation
                | DatabaseErrorKind::ForeignKeyViolation
                | DatabaseErrorKind::NotNullViolation
                | DatabaseErrorKind::CheckViolation
                | DatabaseErrorKind::OtherConstraint
        )
    }

    /// The kind a SQLite message names, when it names one. SQLite's messages (and D1's, which
    /// pass them on with the result code appended: `...: SQLITE_CONSTRAINT`) start with a
    /// fixed text per failure; the appended code decides when the text does not.
    pub(crate) fn from_sqlite_message(message: &str) -> Option<DatabaseErrorKind> {
        const TEXTS: [(&str, DatabaseErrorKind); 17] = [
            (
                "UNIQUE constraint failed",
                DatabaseErrorKind::UniqueViolation,
            ),
            (
                "PRIMARY KEY must be unique",
                DatabaseErrorKind::UniqueViolation,
            ),
            (
                "FOREIGN KEY constraint failed",
                DatabaseErrorKind::ForeignKeyViolation,
            ),
            (
                "NOT NULL constraint failed",
                DatabaseErrorKind::NotNullViolation,
            ),
            ("CHECK constraint failed", DatabaseErrorKind::CheckViolation),
            ("SQLITE_CONSTRAINT", DatabaseErrorKind::OtherConstraint),
            ("SQLITE_TOOBIG", DatabaseErrorKind::TooLarge),
            ("string or blob too big", DatabaseErrorKind::TooLarge),
            ("too many SQL variables", DatabaseErrorKind::TooLarge),
            ("SQLITE_BUSY", DatabaseErrorKind::Busy),
            ("SQLITE_LOCKED", DatabaseErrorKind::Busy),
            ("database is locked", DatabaseErrorKind::Busy),
            ("syntax error", DatabaseErrorKind::Syntax),
            ("incomplete input", DatabaseErrorKind::Syntax),
            ("unrecognized token", DatabaseErrorKind::Syntax),
            ("no such ", DatabaseErrorKind::NoSuchObject),
            ("has no column named", DatabaseErrorKind::NoSuchObject),
        ];
        TEXTS
            .iter()
            .find(|(text, _)| message.contains(text))
            .map(|(_, kind)| *kind)
    }
}

impl std::fmt::Display for DatabaseErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DatabaseErrorKind::UniqueViolation => "unique constraint violation",
            DatabaseErrorKind::ForeignKeyViolation => "foreign key constraint violation",
            DatabaseErrorKind::NotNullViolation => "not null constraint violation",
            DatabaseErrorKind::CheckViolation => "check constraint violation",
            DatabaseErrorKind::OtherConstraint => "constraint violation",
            DatabaseErrorKind::Busy => "database busy",
            DatabaseErrorKind::Auth => "authentication refused",
            DatabaseErrorKind::RateLimited => "rate limited",
            DatabaseErrorKind::TooLarge => "too large",
            DatabaseErrorKind::Syntax => "syntax error",
            DatabaseErrorKind::NoSuchObject => "no such table, column or index",
            DatabaseErrorKind::Unavailable => "temporarily unavailable",
            DatabaseErrorKind::Other => "other",
        })
    }
}

fn stop_note(stopped: &Option<RetryStop>) -> String {
    match stopped {
        None | Some(RetryStop::NotRetryable) => String::new(),
        Some(stop) => format!("; {stop}"),
    }
}

fn join_names(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn join_problems(problems: &[SchemaProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// Whether retrying the same request may succeed.
    ///
    /// `false` when the outcome is unknown ([`Error::outcome_unknown`]): sending a request that
    /// may already have been applied again is the caller's decision, not a retry.
    pub fn is_retryable(&self) -> bool {
        if self.outcome_unknown() {
            return false;
        }
        match self {
            Error::Transport { .. } => true,
            Error::Api {
                status,
                message,
                kind,
                ..
            } => {
                matches!(status, Some(429) | Some(500..=599))
                    || crate::client::retryable_message(message)
                    || (status.is_none() && *kind == DatabaseErrorKind::Busy)
            }
            _ => false,
        }
    }

    /// The kind of a database error ([`Error::Api`]), whichever transport reported it;
    /// `None` for every other variant.
    pub fn database_kind(&self) -> Option<DatabaseErrorKind> {
        match self {
            Error::Api { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether the failed request may or may not have been applied: it reached the server,
    /// no answer says whether it ran, and it was not retried because it was not marked
    /// idempotent (see [`crate::D1Database::execute`]). Check the database before sending it
    /// again.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::Api {
                stopped: Some(RetryStop::OutcomeUnknown),
                ..
            } | Error::Transport {
                stopped: Some(RetryStop::OutcomeUnknown),
                ..
            }
        )
    }

    /// Why retrying stopped, for errors that went through a transport's retry loop.
    pub fn retry_stop(&self) -> Option<&RetryStop> {
        match self {
            Error::Api { stopped, .. } | Error::Transport { stopped, .. } => stopped.as_ref(),
            _ => None,
        }
    }

    /// This error with the table and the first key of the failed batch filled in where the
    /// transport could not know them.
    pub(crate) fn in_table(mut self, table_name: &str, key: Option<String>) -> Error {
        match &mut self {
            Error::Api {
                table, first_key, ..
            }
            | Error::Transport {
                table, first_key, ..
            } => {
                table.get_or_insert_with(|| table_name.to_owned());
                if first_key.is_none() {
                    *first_key = key;
                }
            }
            Error::ResponseTooLarge { table, .. } | Error::Parameter { table, .. } => {
                table.get_or_insert_with(|| table_name.to_owned());
            }
            _ => {}
        }
        self
    }
}
