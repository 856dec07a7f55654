//! Per-language data: the grammar, the tag queries and how their kinds map to ours.
//!
//! One file per language. Each declares a [`Spec`]; [`spec`] answers it when the language's
//! cargo feature is on. Queries are tree-sitter tag queries (the `tags.scm` format); the ones
//! written here live in `src/code/queries/<name>.scm` and come *before* the grammar's own
//! `TAGS_QUERY`: when several patterns tag the same name node, the earliest pattern wins (so
//! list specific patterns first: methods before functions).
//!
//! What a capture means to the extractor (`tree-sitter-tags` checks the names: any
//! `@definition.<x>` / `@reference.<x>`, `@name`, `@doc`, `@ignore`, `@local.*`; `@name` is
//! the node whose text is the name, `@ignore` suppresses tags for its node):
//!
//! - `@definition.<kind>`: a definition spanning the captured node. `<kind>` is one of
//!   [`SymbolKind`]'s stored names (`function`, `struct`, ...) or a grammar's own name that
//!   [`Spec::kind`] maps (`class`, `constant`, ...; `None` drops it).
//! - `@reference.call`: a call; `@name` is the callee.
//! - `@reference.import`: an import; `@name` is the module or path as written (quotes and
//!   `<>` are trimmed). The captured node is the statement (or the part of it that holds one
//!   module, like a Go `import_spec`).
//! - `@reference.imported`: one imported name; it belongs to the `@reference.import` captured
//!   on the same node. An import without names imports the whole module.
//! - `@reference.body`: captured together with `@name` on the token where a definition's
//!   header ends (its `{`, `:`, `=` or `=>`); the signature is the text before it.
//! - `@local.scope` in a definition's pattern: the node whose text is the definition's parent
//!   (a Go method's receiver type); without it the parent is the innermost enclosing
//!   definition.
//! - other references (`@reference.type`, `@reference.class`, ...) are ignored.
//! - helper captures for predicates must be named `@local.reference` (the only name
//!   `tree-sitter-tags` accepts without meaning).

use super::{Call, Language, Symbol, SymbolKind};

#[cfg(feature = "code-c")]
mod c;
#[cfg(any(feature = "code-c", feature = "code-cpp"))]
mod cmacros;
#[cfg(feature = "code-cpp")]
mod cpp;
#[cfg(feature = "code-csharp")]
mod csharp;
#[cfg(feature = "code-go")]
mod go;
#[cfg(feature = "code-java")]
mod java;
#[cfg(feature = "code-javascript")]
mod javascript;
#[cfg(feature = "code-python")]
mod python;
#[cfg(feature = "code-ruby")]
mod ruby;
#[cfg(feature = "code-rust")]
mod rust;
#[cfg(feature = "code-typescript")]
mod typescript;

/// How one language is read.
pub(crate) struct Spec {
    /// The grammars; the first is the default, [`Spec::grammar_for`] may pick another.
    pub grammars: &'static [fn() -> tree_sitter::Language],
    /// Which of [`Spec::grammars`] reads `path` (TSX needs its own grammar).
    pub grammar_for: fn(&str) -> usize,
    /// Tag queries, concatenated in this order (ours first, then the grammar's).
    pub queries: &'static [&'static str],
    /// Maps a `@definition.<x>` name to a symbol kind; `None` drops the definition.
    pub kind: fn(&str) -> Option<SymbolKind>,
}

/// The spec of `lang`; `None` when its feature is off.
#[allow(unreachable_patterns)] // every arm is live only with `code-all`
pub(crate) fn spec(lang: Language) -> Option<&'static Spec> {
    match lang {
        #[cfg(feature = "code-rust")]
        Language::Rust => Some(&rust::SPEC),
        #[cfg(feature = "code-python")]
        Language::Python => Some(&python::SPEC),
        #[cfg(feature = "code-typescript")]
        Language::TypeScript => Some(&typescript::SPEC),
        #[cfg(feature = "code-javascript")]
        Language::JavaScript => Some(&javascript::SPEC),
        #[cfg(feature = "code-go")]
        Language::Go => Some(&go::SPEC),
        #[cfg(feature = "code-java")]
        Language::Java => Some(&java::SPEC),
        #[cfg(feature = "code-c")]
        Language::C => Some(&c::SPEC),
        #[cfg(feature = "code-cpp")]
        Language::Cpp => Some(&cpp::SPEC),
        #[cfg(feature = "code-csharp")]
        Language::CSharp => Some(&csharp::SPEC),
        #[cfg(feature = "code-ruby")]
        Language::Ruby => Some(&ruby::SPEC),
        _ => None,
    }
}

/// The usual [`Spec::grammar_for`]: always the first grammar.
#[allow(dead_code)] // unused when only TypeScript is enabled
pub(crate) fn first_grammar(_path: &str) -> usize {
    0
}

/// Our own kind names as they are, plus the kind names common in grammars' `tags.scm`
/// (`class`, `interface`, `module`, ...). `constant` and anything unknown are dropped.
#[allow(dead_code)] // unused in some feature combinations
pub(crate) fn standard_kind(name: &str) -> Option<SymbolKind> {
    SymbolKind::parse(name)
}

/// The text the parser should read for `lang`, when it differs from `content`: the same
/// length and line breaks, so every byte offset of the parse points into `content`, from which
/// names and signatures are taken. C and C++ blank macros tree-sitter cannot read around
/// (`cmacros.rs`); `None` for the others.
#[allow(unused_variables)] // `content` is unused without C and C++
pub(crate) fn prepare(lang: Language, content: &str) -> Option<String> {
    match lang {
        #[cfg(feature = "code-c")]
        Language::C => c::prepare(content),
        #[cfg(feature = "code-cpp")]
        Language::Cpp => cpp::prepare(content),
        _ => None,
    }
}

/// Per-language fixes of the final symbols and calls that queries cannot express (Ruby
/// accessors are named after symbols: `attr_writer :a` defines `a=`).
#[allow(unused_variables, clippy::ptr_arg)] // unused without Ruby, which adds symbols
pub(crate) fn finish(lang: Language, symbols: &mut Vec<Symbol>, calls: &mut Vec<Call>) {
    #[cfg(feature = "code-ruby")]
    if lang == Language::Ruby {
        ruby::finish(symbols, calls);
    }
}

/// The language to read `content` as, given the one its extension names: a `.h` header that
/// looks like C++ (`cpp.rs`) is read as C++ when both languages are on.
#[allow(unused_variables)] // without C and C++ nothing is refined
pub(crate) fn refine(lang: Language, path: &str, content: &str) -> Language {
    #[cfg(all(feature = "code-c", feature = "code-cpp"))]
    if lang == Language::C
        && path
            .rsplit_once('.')
            .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("h"))
        && cpp::is_cpp_header(content)
    {
        return Language::Cpp;
    }
    lang
}
