//! # thread-flow
//!
//! Turn an annotated row struct into a managed Cloudflare D1 table.
//!
//! - [`D1Target`] (derive it): the table's schema, key and row binders from one struct.
//! - [`D1Database`]: embedded local D1 (SQLite) or Cloudflare D1 over HTTP.
//! - [`D1Table`]: `migrate` ([`MigrationOptions`], [`MigrationPlan`]), `upsert`, `delete`,
//!   `get`, `count` with batched, retried requests ([`WriteOptions`]), and typed reads (below).
//! - `recoco` (feature `recoco`): ReCoco dataflows export to D1: `recoco::register()` adds the
//!   target kind `"D1"`, `recoco::export::<T>(connection)` gives a flow its spec, on the same
//!   runtime as [`D1Table`].
//! - `postgres` (feature `recoco`, Unix): the embedded default for ReCoco's state, a private
//!   PostgreSQL cluster only this program can use (Unix socket, password, stopped on exit).
//! - [`migrations`]: reviewed, wrangler-compatible migration files from the structs.
//! - [`local_state`]: state directories `0700` and state files `0600`.
//! - `code` (feature `code`, one feature per language): what a source file defines, imports
//!   and calls, read with tree-sitter; index a source tree into D1 tables and ask them.
//!
//! Data flows one way: the struct's [`TableSchema`] -> SQL statements and batch plans
//! (internal, no I/O) -> [`client`] (transports, carrying [`Statement`]s) -> D1.
//!
//! ## Typed reads
//!
//! [`D1Table::get_many`]; lookups on a declared index or key prefix with a [`Lookup`] the
//! derive generates (`Row::by_name(..)`): [`D1Table::find`], [`D1Table::find_one`],
//! [`D1Table::count_where`]; keyset pages ([`D1Table::page`], [`Page`]); a streaming
//! [`Scan`]; and [`D1Database::query_as`], which decodes any query's rows by column name.
//!
//! Every read stays within D1's limits over HTTP: statements bind at most 100 parameters, a
//! request asks for at most 1000 rows (and the first row of the next page), and a response
//! larger than the transport's cap ([`client::http::HttpConfig::max_response_bytes`]) is
//! asked for again in halves, down to one row (a single row larger than the cap is
//! [`Error::ResponseTooLarge`]). Results are ordered by the primary key, and pages continue
//! after the last key read (keyset paging), so a page costs the same wherever it starts.
//!
//! What a page costs (D1 bills rows read): a page of the whole table, or of a lookup on a
//! prefix of the primary key (`by_file`, `by_file_start_line`), seeks in the key's index to
//! the cursor and reads about one page of rows. A lookup on another index (`by_name`) finds
//! its rows through that index, but SQLite must sort them by key, so each page reads every
//! match: a result of `m` rows read in pages of `p` costs about `m * m / p` rows read. Such
//! lookups are meant for selective columns; for a large result use larger pages.
//!
//! ## Stability
//!
//! The public API is what this page lists; a snapshot test (`tests/public_api.rs` in the
//! repository) fails when it changes by accident. Items marked derive-only (the positional
//! methods of [`D1Target`], `ColumnError`, `__private`) and the `testing` feature are not part
//! of it.

#[allow(unused_extern_crates)]
extern crate self as thread_flow;

pub mod client;
#[cfg(feature = "code-core")]
pub mod code;
mod error;
pub mod local_state;
pub mod migrations;
#[cfg(all(feature = "recoco", unix))]
pub mod postgres;
mod reads;
mod schema;
mod secret;
// The SQL builders and planners are internal: what public methods take or return is
// re-exported below. The `testing` feature (not part of the stable API) opens the module to
// this workspace's own integration tests and benches.
#[cfg(feature = "recoco")]
pub mod recoco;
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod sql;
#[cfg(not(feature = "testing"))]
mod sql;
mod table;
mod value;

pub use client::{Connection, D1Database, DatabaseId, TokenSource};
pub use error::{DatabaseErrorKind, Error, Result};
pub use reads::{Lookup, Page, Scan};
pub use schema::{Column, ColumnDefault, Index, SchemaProblem, SqlType, TableSchema};
pub use secret::Secret;
pub use sql::{Encoding, MigrationOptions, MigrationPlan, MigrationStep, Statement, WriteOptions};
pub use table::{D1Table, MigrationReport, WriteReport};
pub use thread_flow_macros::{D1Target, D1Value};
pub use value::{D1KeyValue, D1Value, Json, Value, ValueError};

/// A column that failed to encode or decode, reported by generated code.
///
/// The runtime turns it into [`Error::Bind`] / [`Error::Decode`] with the table and key.
/// Derive-only: it appears in [`D1Target`]'s hidden positional methods and is not part of
/// the stable API.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnError {
    /// Column name (after renames); `None` when the row as a whole is wrong (more values
    /// than the table has columns).
    pub column: Option<&'static str>,
    /// What went wrong.
    pub error: ValueError,
}

impl ColumnError {
    /// Attaches the column name to a [`ValueError`].
    pub fn new(column: &'static str, error: ValueError) -> ColumnError {
        ColumnError {
            column: Some(column),
            error,
        }
    }

    /// A [`ValueError`] about the whole row, not one column.
    pub fn row(error: ValueError) -> ColumnError {
        ColumnError {
            column: None,
            error,
        }
    }
}

/// A row struct mapped to one D1 table. Implement it only with `#[derive(D1Target)]`.
///
/// The key type is the key field's own type for a single-column key, and a tuple of the key
/// fields' types, in `primary_key(...)` order, for a composite key.
///
/// Besides [`D1Target::schema`] and [`D1Target::key`], the trait has positional methods the
/// derive generates (values in the schema's column order) and the runtime calls. They are
/// hidden from the documentation and not part of the stable API: their shape may change in
/// any release, together with the derive. A hand-written implementation would have to keep
/// them in step with the schema by hand; derive the trait instead.
pub trait D1Target: Sized + Send + Sync + 'static {
    /// The primary key: the field type, or a tuple for composite keys.
    type Key: Clone + Send + Sync + 'static;

    /// The table definition (validated once, on first use).
    fn schema() -> &'static TableSchema;

    /// This row's key.
    fn key(&self) -> Self::Key;

    /// Derive-only (generated by `#[derive(D1Target)]`, not stable API): appends one value
    /// per column of [`D1Target::schema`], in column order.
    #[doc(hidden)]
    fn bind_row(&self, out: &mut Vec<Value>) -> Result<(), ColumnError>;

    /// Derive-only (generated by `#[derive(D1Target)]`, not stable API): appends one value
    /// per key column, in key order.
    #[doc(hidden)]
    fn bind_key(key: &Self::Key, out: &mut Vec<Value>) -> Result<(), ColumnError>;

    /// Derive-only (generated by `#[derive(D1Target)]`, not stable API): decodes a row whose
    /// values are in schema column order.
    #[doc(hidden)]
    fn from_row(row: Vec<Value>) -> Result<Self, ColumnError>;

    /// Generated by `#[derive(D1Target)]`: one function per column of [`D1Target::schema`], in
    /// column order, that decodes a value given in the column's storage form as the field's
    /// type and encodes the result with the field's codec (the ReCoco export runs them on the
    /// collected values). Empty for a hand-written implementation, which the export refuses.
    #[doc(hidden)]
    fn column_codecs() -> &'static [__private::ColumnCodec] {
        &[]
    }
}

#[doc(hidden)]
pub mod __private;
