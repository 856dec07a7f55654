//! Embedded local D1: a SQLite file; each request runs as one transaction.

use crate::client::RequestOutcome;
use crate::sql::Statement;
use crate::Result;

/// The embedded transport.
#[derive(Debug)]
pub struct LocalD1 {}

impl LocalD1 {
    /// Opens (or creates) the database file.
    pub fn open(_path: &std::path::Path) -> Result<LocalD1> {
        todo!()
    }

    /// An in-memory database.
    pub fn in_memory() -> Result<LocalD1> {
        todo!()
    }

    /// Runs the statements as one transaction.
    pub async fn request(&self, _statements: Vec<Statement>) -> Result<RequestOutcome> {
        todo!()
    }
}
