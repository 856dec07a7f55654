//! Java: `tree-sitter-java` and its `tags.scm` (classes, interfaces, methods, method calls),
//! after `queries/java.scm`, which adds enums, records, annotation types (as interfaces) and
//! their elements, constructors, the package (as a module), imports, `new T(...)` calls and
//! header ends.

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
