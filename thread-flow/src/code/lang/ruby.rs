//! Ruby: `tree-sitter-ruby` and its `tags.scm`, after `queries/ruby.scm` (baseline: imports).

use super::{Spec, first_grammar, standard_kind};

pub(super) static SPEC: Spec = Spec {
    grammars: &[grammar],
    grammar_for: first_grammar,
    queries: &[
        include_str!("../queries/ruby.scm"),
        tree_sitter_ruby::TAGS_QUERY,
    ],
    kind: standard_kind,
};

fn grammar() -> tree_sitter::Language {
    tree_sitter_ruby::LANGUAGE.into()
}
