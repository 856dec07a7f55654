//! C++: `tree-sitter-cpp` and its `tags.scm`, after `queries/cpp.scm` (baseline: imports).

use super::{Spec, first_grammar, standard_kind};

pub(super) static SPEC: Spec = Spec {
    grammars: &[grammar],
    grammar_for: first_grammar,
    queries: &[
        include_str!("../queries/cpp.scm"),
        tree_sitter_cpp::TAGS_QUERY,
    ],
    kind: standard_kind,
};

fn grammar() -> tree_sitter::Language {
    tree_sitter_cpp::LANGUAGE.into()
}
