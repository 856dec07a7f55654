//! Code intelligence (feature `code`): index a source tree's definitions, imports and calls
//! into D1 tables, and answer "where is X defined", "who calls X", "what does file F import".
//!
//! - Extraction (tree-sitter): [`Language`], [`extract()`] -> [`FileFacts`] (symbols, imports,
//!   calls). Pure, no I/O.
//! - [`rows`]: the tables `files`, `symbols`, `imports`, `calls`, declared with
//!   `#[derive(D1Target)]` ([`FileRow`], [`SymbolRow`], [`ImportRow`], [`CallRow`]).
//! - [`walk`]: which files of a tree are indexed (regular files inside it only, globs,
//!   languages) and reading one safely.
//! - [`flow`] (feature `recoco`): the ReCoco source and functions, registered by [`register`].
//! - [`index`] (feature `recoco`, Unix): [`CodeIndex`], the whole index flow in a few lines.
//! - [`query`]: typed answers to the index's questions, printable as text or JSON.
//! - [`printable`]: text from indexed files, safe to print on a terminal.

pub mod extract;
pub mod query;
pub mod rows;
pub mod text;
pub mod walk;

#[cfg(feature = "recoco")]
pub mod flow;
#[cfg(all(feature = "recoco", unix))]
pub mod index;

pub use extract::{Call, FileFacts, Import, Language, Symbol, SymbolKind, extract};
pub use rows::{CallRow, FileRow, ImportRow, SymbolRow};
pub use text::{printable, printable_json, printable_text};

#[cfg(feature = "recoco")]
pub use flow::register;
#[cfg(all(feature = "recoco", unix))]
pub use index::{CodeIndex, IndexError, IndexReport, TableChanges, TableNames};
