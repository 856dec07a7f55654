//! C: `tree-sitter-c` and its `tags.scm`, after `queries/c.scm`, which gives structs,
//! unions, enums, typedefs (also of function pointers and arrays) and macros their kinds,
//! spans functions over their bodies, keeps prototypes out, and adds `#include` imports,
//! calls and header ends. Macros tree-sitter cannot read around are blanked before parsing
//! ([`prepare`]).

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

/// The text the parser reads: see `cmacros.rs`.
pub(super) fn prepare(content: &str) -> Option<String> {
    super::cmacros::blank_macros(content)
}
