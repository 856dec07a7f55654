//! Reviewed, wrangler-compatible migration files from the row structs.
//!
//! [`crate::D1Table::migrate`] changes a live table directly: right for a prototype or a local
//! index. For a reviewed production change, teams on D1 keep a `migrations/` folder of
//! `NNNN_<message>.sql` files that `wrangler d1 migrations apply` runs in order and records in
//! a `d1_migrations` table. This module makes the row structs the source of truth for those
//! files:
//!
//! - [`generate`] writes the next file: the folder is replayed into an in-memory database,
//!   each table is read back with the runtime's own introspection and diffed against its
//!   struct with the runtime's own planner, so the file holds exactly what `migrate()` would
//!   do. It is named and headed as `wrangler d1 migrations create` names and heads a file
//!   (`0003_add_kind.sql`, `-- Migration number: 0003 \t <ISO date>`). Nothing to do: no file.
//!   Data-losing changes are refused unless asked for ([`MigrationOptions`]), as in
//!   `migrate()`. The SQL is D1-safe: no `BEGIN`/`COMMIT`, no `PRAGMA foreign_key_check`,
//!   and `PRAGMA defer_foreign_keys = on` at the top of a file that rebuilds a table.
//! - [`D1Database::apply_migrations`] applies the pending files as wrangler does (same
//!   tracking table, same names), locally or over HTTP, each file with its tracking row in
//!   one request: a file is applied and recorded entirely or not at all. Files wrangler
//!   applied are not applied again, and wrangler sees the files applied here as applied.
//! - [`assert_up_to_date`] is the drift check for `cargo test`: it fails with the SQL of the
//!   missing migration when the structs moved ahead of the files, and writes the file when
//!   `THREAD_FLOW_MIGRATIONS=write` is set. [`D1Database::check_migrations`] compares the
//!   structs, the files and a live database.
//! - [`Migrations`] finds the folder and the tracking table, honouring `migrations_dir` and
//!   `migrations_table` of `wrangler.toml` / `wrangler.jsonc` / `wrangler.json`.
//!
//! # Example
//!
//! ```
//! use thread_flow::migrations::{self, Migrations};
//! use thread_flow::MigrationOptions;
//! use thread_flow::{D1Database, D1Target};
//!
//! #[derive(D1Target)]
//! #[d1(table = "files")]
//! struct FileRow {
//!     #[d1(primary_key)]
//!     path: String,
//!     size: i64,
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let project = tempfile::tempdir()?;
//! std::fs::write(
//!     project.path().join("wrangler.toml"),
//!     "[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"app\"\n",
//! )?;
//! let folder = Migrations::open(project.path())?; // ./migrations, d1_migrations
//!
//! // 1. Write the next migration from the structs (`cargo run -- --emit-migrations` in an app).
//! let written = migrations::generate(&folder, "create files", &[FileRow::schema()], &MigrationOptions::default())
//!     .await?
//!     .expect("a new table needs a migration");
//! assert_eq!(written.name, "0001_create_files.sql");
//! assert!(written.text.starts_with("-- Migration number: 0001 \t "));
//! assert!(written.text.contains("CREATE TABLE IF NOT EXISTS \"files\""));
//!
//! // 2. Nothing changed: no file.
//! assert!(migrations::generate(&folder, "again", &[FileRow::schema()], &MigrationOptions::default())
//!     .await?
//!     .is_none());
//!
//! // 3. In the test suite: the structs and the files agree.
//! migrations::assert_up_to_date(project.path(), &[FileRow::schema()]);
//!
//! // 4. Apply, as `wrangler d1 migrations apply DB` would (or let wrangler do it).
//! let db = D1Database::in_memory()?;
//! let applied = db.apply_migrations(project.path()).await?;
//! assert_eq!(applied.applied_names(), ["0001_create_files.sql"]);
//! assert_eq!(db.recorded_migrations("d1_migrations").await?, Some(vec!["0001_create_files.sql".to_string()]));
//!
//! // 5. The structs, the files and the live database agree.
//! db.check_migrations(&folder, &[FileRow::schema()]).await?.ensure()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub(crate) mod apply;
pub(crate) mod check;
mod config;
mod files;
mod generate;
mod split;

pub use apply::{AppliedFile, AppliedMigrations};
pub use check::{
    MESSAGE_VAR, MigrationCheck, TableDifference, WRITE_VAR, assert_up_to_date,
    assert_up_to_date_with,
};
pub use config::Migrations;
pub use files::MigrationFile;
pub use generate::{NextMigration, TableChange, WrittenMigration, generate, plan};

#[cfg(doc)]
use crate::{D1Database, MigrationOptions};

/// Splits SQL text into its statements the way [`D1Database::apply_migrations`] sends them:
/// `;` inside strings, quoted identifiers, comments and trigger bodies (`BEGIN ... END`) does
/// not end a statement; comment-only text is no statement. Each statement is returned
/// without its leading comments and closing `;`.
///
/// For tests (feature `testing`, not stable API); users read a file's statements with
/// [`MigrationFile::statements`].
#[cfg(feature = "testing")]
#[doc(hidden)]
pub fn split_statements(sql: &str) -> Vec<String> {
    split::split_statements(sql)
}
