//! Code intelligence: what a source file defines, imports and calls (feature `code`).
//!
//! [`extract`] reads one file (text in, [`FileFacts`] out; no I/O) with
//! [tree-sitter](https://tree-sitter.github.io) and the tagging GitHub's code navigation uses
//! (crate `tree-sitter-tags`): each grammar crate's own `tags.scm` query, extended by this
//! crate's queries (`src/code/queries/*.scm`) where it misses definitions or does not know
//! imports. One parse and one query pass per file yield symbols, imports and calls.
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

pub use extract::{
    Call, FileFacts, Import, MAX_SIGNATURE_CHARS, Symbol, SymbolKind, extract, extract_as,
    line_count,
};
pub use language::Language;
