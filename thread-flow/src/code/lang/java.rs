//! Java: `tree-sitter-java` and its `tags.scm`, after `queries/java.scm` (baseline: imports).

use super::{Spec, first_grammar, standard_kind};

pub(super) static SPEC: Spec = Spec {
    grammars: &[grammar],
    grammar_for: first_grammar,
    queries: &[
        include_str!("../queries/java.scm"),
        tree_sitter_java::TAGS_QUERY,
    ],
    kind: standard_kind,
};

fn grammar() -> tree_sitter::Language {
    tree_sitter_java::LANGUAGE.into()
}
