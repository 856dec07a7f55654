//! C#: `tree-sitter-c-sharp` with `queries/csharp.scm` only. The grammar's `tags.scm` cannot
//! be used as it is: it has a `@module` capture, which `tree-sitter-tags` rejects.

use super::{Spec, first_grammar, standard_kind};

pub(super) static SPEC: Spec = Spec {
    grammars: &[grammar],
    grammar_for: first_grammar,
    queries: &[include_str!("../queries/csharp.scm")],
    kind: standard_kind,
};

fn grammar() -> tree_sitter::Language {
    tree_sitter_c_sharp::LANGUAGE.into()
}
