//! Python: `tree-sitter-python` and its `tags.scm`, after `queries/python.scm`, which tells
//! methods (functions in a class body, decorated or not) from functions, names
//! `f = lambda ...` a function, and adds imports and header ends. The grammar's
//! module-level `constant`s (every top-level assignment) are dropped.

use super::{Spec, first_grammar};
use crate::code::SymbolKind;

pub(super) static SPEC: Spec = Spec {
    grammars: &[grammar],
    grammar_for: first_grammar,
    queries: &[
        include_str!("../queries/python.scm"),
        tree_sitter_python::TAGS_QUERY,
    ],
    kind,
};

fn grammar() -> tree_sitter::Language {
    tree_sitter_python::LANGUAGE.into()
}

fn kind(name: &str) -> Option<SymbolKind> {
    match name {
        "constant" => None,
        _ => SymbolKind::parse(name),
    }
}
