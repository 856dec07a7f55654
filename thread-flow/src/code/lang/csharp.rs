//! C#: `tree-sitter-c-sharp` with `queries/csharp.scm` only. The grammar's `tags.scm` cannot
//! be used as it is: it has a `@module` capture, which `tree-sitter-tags` rejects. Ours has
//! its definitions (classes, interfaces, methods, namespaces) plus records, structs, enums,
//! delegates and `using` aliases (as types), file-scoped namespaces, constructors,
//! finalizers, local functions, `using` imports, calls (also `a?.F()`, `F<T>()`,
//! `new T()`) and header ends. Properties, events, indexers and operators are not indexed.

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
