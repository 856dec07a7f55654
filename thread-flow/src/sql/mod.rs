//! SQL text from a [`TableSchema`](crate::TableSchema): identifiers, DDL, upserts, deletes,
//! selects, the batch planner and the migration planner. No I/O happens here.

use crate::Value;

/// One SQL statement with its bound parameters (`?` placeholders, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// SQL text.
    pub sql: String,
    /// Parameters for the `?` placeholders, in order.
    pub params: Vec<Value>,
}

impl Statement {
    /// A statement with parameters.
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Statement {
        Statement { sql: sql.into(), params }
    }

    /// A statement without parameters.
    pub fn raw(sql: impl Into<String>) -> Statement {
        Statement { sql: sql.into(), params: Vec::new() }
    }
}

/// How parameters travel to the database, which decides how placeholders are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Values bind natively (embedded SQLite): `?` everywhere.
    Native,
    /// Values travel as JSON (D1's HTTP API): integers beyond ±(2^53-1) are sent as text inside
    /// `CAST(? AS INTEGER)`, BLOBs as hex text inside `unhex(?)`; selects read INTEGER columns
    /// as text and BLOB columns as hex so the round trip is exact.
    Json,
}
