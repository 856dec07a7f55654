//! C++: `tree-sitter-cpp` and its `tags.scm`, after `queries/cpp.scm`, which adds
//! namespaces (as modules), class/struct specializations, `using` aliases, macros, methods
//! defined in a class body or out of line (`A::f`, `A<T>::~A`, operators), spans functions
//! over their bodies, keeps declarations out, and adds `#include` imports, calls (also
//! `ns::f()`, `f<T>()`, `new T`) and header ends. Macros tree-sitter cannot read around
//! (`class V8_EXPORT Isolate {`) are blanked before parsing ([`prepare`]).

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

/// The text the parser reads: see `cmacros.rs`.
pub(super) fn prepare(content: &str) -> Option<String> {
    super::cmacros::blank_macros(content)
}

/// Whether a `.h` header (read as C by default) is C++: a line starts with `namespace x`,
/// `class X`, `template <`, `using namespace`, an access specifier (`public:`), or includes a
/// standard C++ header without extension (`#include <vector>`). Universal Ctags reads every
/// `.h` as C++; reading C headers as C keeps C code that uses C++ keywords as names
/// (`int new;`) whole.
#[cfg(feature = "code-c")] // without C, every `.h` is read as C++ anyway
pub(super) fn is_cpp_header(content: &str) -> bool {
    content.lines().any(|line| {
        let line = line.trim_start();
        let word = |prefix: &str| {
            line.strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
        };
        word("namespace ")
            || word("class ")
            || line.starts_with("template <")
            || line.starts_with("template<")
            || line.starts_with("using namespace ")
            || ["public:", "private:", "protected:"]
                .iter()
                .any(|access| line.starts_with(access))
            || line
                .strip_prefix("#include <")
                .and_then(|rest| rest.split_once('>'))
                .is_some_and(|(header, _)| {
                    !header.is_empty()
                        && header.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                })
    })
}
