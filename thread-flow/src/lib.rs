//! # thread-flow
//!
//! Turn an annotated row struct into a managed Cloudflare D1 table.
//!
//! - [`D1Target`] (derive it): the table's schema, key and row binders from one struct.
//! - [`D1Database`]: embedded local D1 (SQLite) or Cloudflare D1 over HTTP.
//! - [`D1Table`]: `migrate`, `upsert`, `delete`, `get`, `count` with batched, retried requests,
//!   and typed reads ([`reads`]): `get_many`, `find` / `find_one` / `count_where` with a
//!   [`Lookup`] the derive generates per index and key prefix (`Row::by_name(..)`), keyset
//!   pages (`page`, [`Page`]), a streaming [`Scan`], and [`D1Database::query_as`], which
//!   decodes any query's rows by column name.
//! - `target` (feature `recoco`): the ReCoco target kind `"D1"` on the same runtime.
//! - `postgres` (feature `recoco`, Unix): the embedded default for ReCoco's state, a private
//!   PostgreSQL cluster only this program can use (Unix socket, password, stopped on exit).
//! - [`migrations`]: reviewed, wrangler-compatible migration files from the structs.
//! - [`local_state`]: state directories `0700` and state files `0600`.
//! - `code` (feature `code`, one feature per language): what a source file defines, imports
//!   and calls, read with tree-sitter; index a source tree into D1 tables and ask them.
//!
//! Data flows one way: [`schema`] -> [`sql`] (statements and batch plans, no I/O) ->
//! [`client`] (transports) -> D1.

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
pub mod reads;
pub mod schema;
mod secret;
pub mod sql;
mod table;
#[cfg(feature = "recoco")]
pub mod target;
pub mod value;

pub use client::{Connection, D1Database, DatabaseId, TokenSource};
pub use error::{DatabaseErrorKind, Error, Result};
pub use reads::{Lookup, Page, Scan};
pub use schema::{Column, ColumnDefault, Index, SqlType, TableSchema};
pub use secret::Secret;
pub use table::{D1Table, MigrationReport, WriteReport};
#[cfg(feature = "recoco")]
pub use target::{D1Export, export, register};
pub use thread_flow_macros::{D1Target, D1Value};
pub use value::{D1KeyValue, D1Value, Json, Value, ValueError};

/// A column that failed to encode or decode, reported by generated code.
///
/// The runtime turns it into [`Error::Bind`] / [`Error::Decode`] with the table and key.
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

/// A row struct mapped to one D1 table. Derive it with `#[derive(D1Target)]`.
///
/// The key type is the key field's own type for a single-column key, and a tuple of the key
/// fields' types, in `primary_key(...)` order, for a composite key.
pub trait D1Target: Sized + Send + Sync + 'static {
    /// The primary key: the field type, or a tuple for composite keys.
    type Key: Clone + Send + Sync + 'static;

    /// The table definition (validated once, on first use).
    fn schema() -> &'static TableSchema;

    /// This row's key.
    fn key(&self) -> Self::Key;

    /// Appends one value per column of [`D1Target::schema`], in column order.
    fn bind_row(&self, out: &mut Vec<Value>) -> Result<(), ColumnError>;

    /// Appends one value per key column, in key order.
    fn bind_key(key: &Self::Key, out: &mut Vec<Value>) -> Result<(), ColumnError>;

    /// Decodes a row whose values are in schema column order.
    fn from_row(row: Vec<Value>) -> Result<Self, ColumnError>;
}

#[doc(hidden)]
pub mod __private;
