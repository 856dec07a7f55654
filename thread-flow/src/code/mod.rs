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
//! - [`rows`]: the tables `files`, `symbols`, `imports`, `calls`, declared with
//!   `#[derive(D1Target)]` ([`FileRow`], [`SymbolRow`], [`ImportRow`], [`CallRow`]).
//! - [`walk`]: which files of a tree are indexed (regular files inside it only; languages and
//!   include/exclude globs) and reading one safely.
//! - `flow` (feature `recoco`): the ReCoco source `CodeIndexTree` and the functions
//!   `ParseSourceFile`, `ExtractSymbols`, `ExtractImports`, `ExtractCalls`, registered by
//!   `register()`, usable in any flow.
//! - `index` (feature `recoco`, Unix): `CodeIndex`, the whole index flow in a few lines.
//! - [`query`]: "where is X defined", "who calls X", "what does file F import", ... through the
//!   typed lookups of the row structs, printable as text or JSON.
//! - [`printable`]: text from indexed files made safe to print on a terminal.
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

pub mod query;
pub mod rows;
pub mod text;
pub mod walk;

#[cfg(feature = "recoco")]
pub mod flow;
#[cfg(all(feature = "recoco", unix))]
pub mod index;

pub use extract::{
    Call, FileFacts, Import, MAX_SIGNATURE_CHARS, Symbol, SymbolKind, extract, extract_as,
    line_count,
};
pub use language::Language;
pub use rows::{CallRow, FileRow, ImportRow, SymbolRow};
pub use text::{printable, printable_json, printable_text};

#[cfg(feature = "recoco")]
pub use flow::register;
#[cfg(all(feature = "recoco", unix))]
pub use index::{CodeIndex, IndexError, IndexReport, TableChanges, TableNames};
