//! [`D1Table`]: typed migrate / upsert / delete / get / count for a [`D1Target`].

use std::marker::PhantomData;

use crate::{D1Database, D1Target};

/// What a write cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Rows (or keys) written after de-duplication.
    pub rows: u64,
    /// SQL statements executed.
    pub statements: u64,
    /// Requests (transactions) sent.
    pub requests: u64,
    /// Retries made (attempts beyond the first).
    pub retries: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
}

/// A typed handle on the table of `T`.
#[derive(Debug)]
pub struct D1Table<T> {
    db: D1Database,
    _row: PhantomData<fn() -> T>,
}

impl<T: D1Target> D1Table<T> {
    /// The handle for `T` on `db`.
    pub fn new(db: D1Database) -> D1Table<T> {
        D1Table { db, _row: PhantomData }
    }

    /// The database this table lives in.
    pub fn database(&self) -> &D1Database {
        &self.db
    }
}

impl D1Database {
    /// The typed table of `T`.
    pub fn table<T: D1Target>(&self) -> D1Table<T> {
        D1Table::new(self.clone())
    }
}
