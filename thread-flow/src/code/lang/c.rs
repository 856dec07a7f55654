//! C: `tree-sitter-c` and its `tags.scm`, after `queries/c.scm` (baseline: imports).

use super::{Spec, first_grammar, standard_kind};

pub(super) static SPEC: Spec = Spec {
    grammars: &[grammar],
    grammar_for: first_grammar,
    queries: &[include_str!("../queries/c.scm"), tree_sitter_c::TAGS_QUERY],
    kind: standard_kind,
};

fn grammar() -> tree_sitter::Language {
    tree_sitter_c::LANGUAGE.into()
}
