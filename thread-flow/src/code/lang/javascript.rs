//! JavaScript (also JSX): `tree-sitter-javascript` and its `tags.scm`, after
//! `queries/ecmascript.scm` (shared with TypeScript) and `queries/javascript.scm`, which add
//! class expressions bound to names, functions and classes assigned to variables,
//! properties and `exports`, constructors, top-level `const`s, imports (`import`,
//! `export ... from`, `require`, `import()`), `new` calls and header ends.

use super::{Spec, first_grammar};
use crate::code::SymbolKind;

pub(super) static SPEC: Spec = Spec {
    grammars: &[grammar],
    grammar_for: first_grammar,
    queries: &[
        include_str!("../queries/javascript.scm"),
        include_str!("../queries/ecmascript.scm"),
        tree_sitter_javascript::TAGS_QUERY,
    ],
    kind,
};

fn grammar() -> tree_sitter::Language {
    tree_sitter_javascript::LANGUAGE.into()
}

/// The grammar's `constant` (`export x = ...` assignments) is dropped; ours is `const`.
fn kind(name: &str) -> Option<SymbolKind> {
    match name {
        "constant" => None,
        _ => SymbolKind::parse(name),
    }
}
