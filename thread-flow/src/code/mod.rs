//! Code intelligence: what a source file defines, imports and calls (feature `code`).
//!
//! [`extract`] reads one file (text in, [`FileFacts`] out; no I/O) with
//! [tree-sitter](https://tree-sitter.github.io) and the tagging GitHub's code navigation uses
//! (crate `tree-sitter-tags`): each grammar crate's own `tags.scm` query, extended by this
//! crate's queries (`src/code/queries/*.scm`) where it misses definitions or does not know
//! imports. One parse and one query pass per file yield symbols, imports and calls.
//!
//! Indexing a tree into D1 tables and asking them questions:
//!
//! - The four tables of an index, declared only with `#[derive(D1Target)]`: [`FileRow`],
//!   [`SymbolRow`], [`ImportRow`], [`CallRow`]. Read an index with them
//!   (`db.table::<SymbolRow>()` and its typed lookups); the flow collects rows with exactly
//!   these column names, and its exports take table name, key, indexes and column types
//!   from these structs.
//!
//!   | table | key | indexes | answers |
//!   |---|---|---|---|
//!   | `files` | `path` | | what was indexed |
//!   | `symbols` | `(file, start_line, name)` | `name`; `(kind, name)` | where is X defined; what is in file F |
//!   | `imports` | `(file, line, module)` | `module` | what does file F import; who imports module M |
//!   | `calls` | `(file, line, callee)` | `callee`; `(caller, file)` | who calls X; what does X call |
//! - `CodeIndex` (features `code` + `recoco`, Unix): the whole index flow in a few lines: which
//!   files of a tree (regular files inside it only; languages and include/exclude globs; what
//!   was skipped and why: `Skipped`), written to which database, with a report of the row
//!   changes per table (`IndexReport`). `CodeIndex::open_existing` opens an index written
//!   earlier for the questions.
//! - The ReCoco operations (feature `recoco`), registered by `register()`, usable in any
//!   flow: the source `CodeIndexTree` (`SOURCE_KIND`) and the functions
//!   `ParseSourceFile`, `ExtractSymbols`, `ExtractImports`, `ExtractCalls` (`PARSE_FUNCTION`,
//!   `EXTRACT_SYMBOLS`, `EXTRACT_IMPORTS`, `EXTRACT_CALLS`).
//! - [`query`]: "where is X defined", "who calls X", "what does file F import", ... through the
//!   typed lookups of the row structs, printable as text or JSON.
//! - [`printable`], [`printable_text`], [`printable_json`]: text from indexed files made safe
//!   to print on a terminal.
//!
//! Languages are cargo features: `code-rust`, `code-python`, `code-typescript`,
//! `code-javascript` (together: `code`), `code-go`, `code-java`, `code-c`, `code-cpp`,
//! `code-csharp`, `code-ruby` (all ten: `code-all`). [`Language::from_path`] answers `None`
//! for a language whose feature is off.
//!
//! ```
//! # #[cfg(feature = "code-rust")] {
//! use thread_flow::code::{SymbolKind, extract};
//!
//! let facts = extract("src/lib.rs", "use std::fmt;\nfn hello() { greet(); }\n").unwrap();
//! assert_eq!(facts.symbols[0].name, "hello");
//! assert_eq!(facts.symbols[0].kind, SymbolKind::Function);
//! assert_eq!(facts.imports[0].module, "std");
//! assert_eq!(facts.imports[0].names, ["fmt"]);
//! assert_eq!(facts.calls[0].callee, "greet");
//! assert_eq!(facts.calls[0].caller.as_deref(), Some("hello"));
//! # }
//! ```

mod extract;
mod lang;
mod language;
mod rows;
mod text;
#[cfg(feature = "recoco")]
mod walk;

pub mod query;

#[cfg(feature = "recoco")]
mod flow;
#[cfg(all(feature = "recoco", unix))]
mod index;

pub use extract::{
    Call, FileFacts, Import, MAX_SIGNATURE_CHARS, Symbol, SymbolKind, extract, extract_as,
};
pub use language::Language;
pub use rows::{CallRow, FileRow, ImportRow, SymbolRow};
pub use text::{printable, printable_json, printable_text};

#[cfg(feature = "recoco")]
pub use flow::{
    EXTRACT_CALLS, EXTRACT_IMPORTS, EXTRACT_SYMBOLS, MAX_FILE_BYTES, PARSE_FUNCTION, SOURCE_KIND,
    SourceCounts, register,
};
#[cfg(all(feature = "recoco", unix))]
pub use index::{CodeIndex, IndexError, IndexReport, Progress, TableChanges, TableNames};
#[cfg(feature = "recoco")]
pub use walk::{SkipReason, Skipped};

/// The index's internals, for this workspace's tests (feature `testing`): the walk's rules,
/// the flow without [`CodeIndex`], flow names. Not part of the public API: names here may
/// change or disappear in any release.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing {
    #[cfg(feature = "recoco")]
    pub use super::flow::{FlowConfig, TableExport, build, setup, update};
    #[cfg(all(feature = "recoco", unix))]
    pub use super::index::{flow_name, is_legacy_flow_name, read_all, split_credentials};
    #[cfg(feature = "recoco")]
    pub use super::walk::{FileRead, GlobError, Listed, Listing, Rules, Selection, list, read};
}
