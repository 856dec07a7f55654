//! Rust: `tree-sitter-rust` and its `tags.scm`, after `queries/rust.scm`, which gives
//! structs, enums, unions, type aliases (also associated types), traits, impls, consts and
//! statics their own kinds (the grammar calls the first four `class`), tells methods (in
//! `impl` and `trait` bodies) from functions (also in `mod` bodies), and adds `use` /
//! `extern crate` imports, path calls (`Vec::new()`, `f::<T>()`) and header ends.

use super::{Spec, first_grammar};
use crate::code::SymbolKind;

pub(super) static SPEC: Spec = Spec {
    grammars: &[grammar],
    grammar_for: first_grammar,
    queries: &[
        include_str!("../queries/rust.scm"),
        tree_sitter_rust::TAGS_QUERY,
    ],
    kind,
};

fn grammar() -> tree_sitter::Language {
    tree_sitter_rust::LANGUAGE.into()
}

fn kind(name: &str) -> Option<SymbolKind> {
    match name {
        // The grammar's names, for anything our patterns do not claim first.
        "class" => Some(SymbolKind::Struct),
        "interface" => Some(SymbolKind::Trait),
        _ => SymbolKind::parse(name),
    }
}
