//! TypeScript and TSX: `tree-sitter-typescript` (TSX grammar for `.tsx`) with the tags of
//! both `tree-sitter-javascript` and `tree-sitter-typescript` (TypeScript's `tags.scm` only
//! adds to JavaScript's), after `queries/typescript.scm` and `queries/ecmascript.scm`.

use super::Spec;
use crate::code::SymbolKind;

pub(super) static SPEC: Spec = Spec {
    grammars: &[typescript, tsx],
    grammar_for,
    queries: &[
        include_str!("../queries/typescript.scm"),
        include_str!("../queries/ecmascript.scm"),
        tree_sitter_javascript::TAGS_QUERY,
        tree_sitter_typescript::TAGS_QUERY,
    ],
    kind,
};

fn typescript() -> tree_sitter::Language {
    tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into()
}

fn tsx() -> tree_sitter::Language {
    tree_sitter_typescript::LANGUAGE_TSX.into()
}

/// `.tsx` needs the TSX grammar (JSX in expressions); the rest is the same language.
fn grammar_for(path: &str) -> usize {
    let is_tsx = path
        .rsplit_once('.')
        .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("tsx"));
    usize::from(is_tsx)
}

/// The grammar's `constant` (`export x = ...` assignments) is dropped; ours is `const`.
fn kind(name: &str) -> Option<SymbolKind> {
    match name {
        "constant" => None,
        _ => SymbolKind::parse(name),
    }
}
