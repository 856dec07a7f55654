//! Go: `tree-sitter-go` and its `tags.scm`, after `queries/go.scm`, which gives structs,
//! interfaces (and their method specs), type aliases, packages and top-level consts their
//! kinds and adds imports and header ends. The grammar's `type` references are ignored.

use super::{Spec, first_grammar};
use crate::code::SymbolKind;

pub(super) static SPEC: Spec = Spec {
    grammars: &[grammar],
    grammar_for: first_grammar,
    queries: &[
        include_str!("../queries/go.scm"),
        tree_sitter_go::TAGS_QUERY,
    ],
    kind: SymbolKind::parse,
};

fn grammar() -> tree_sitter::Language {
    tree_sitter_go::LANGUAGE.into()
}
