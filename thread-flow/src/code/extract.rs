//! What one source file defines, imports and calls, read with tree-sitter tag queries.
//!
//! Pure: text in, [`FileFacts`] out; no I/O. Each file is parsed once and one pass of its
//! language's tag query (tags.scm format, compiled and checked by `tree-sitter-tags`'s
//! `TagsConfiguration`, once per language and process) yields every fact; see `lang/mod.rs`
//! for what each capture means. One parser and query cursor per thread are reused.
//!
//! The matches are read here rather than through `TagsContext::generate_tags`, which would
//! parse the same way but also compute, for every tag, UTF-16 columns, the line text and doc
//! comments we do not use (15-20% of extraction time on JavaScript, measured with
//! `examples/code-recall.rs`), and whose "earliest pattern wins per name" can let a late
//! match through twice. The rule is the same: one tag per name node, the earliest pattern's.
//!
//! Written by hand, because tags carry byte ranges and a kind but not the tree's nesting:
//! - the enclosing definition ([`Symbol::parent`], [`Call::caller`]): the innermost
//!   definition whose range holds the symbol or call;
//! - the signature: the definition's text up to its `@reference.body` marker (else its
//!   first line), started earlier on the same line over keywords such as `export` or `const`
//!   that the definition node leaves out, whitespace collapsed, trailing `{ : ; = =>` trimmed;
//! - grouping imported names with their module (same statement).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use streaming_iterator::StreamingIterator;
use tree_sitter::{Parser, QueryCursor};
use tree_sitter_tags::TagsConfiguration;

use super::Language;
use super::lang::{self, Spec};
use crate::D1Value;

/// What a symbol is; stored as its lowercase name (`function`, `struct`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, D1Value)]
#[d1(rename_all = "lowercase")]
pub enum SymbolKind {
    /// A free function (also a nested one, or a function bound to a name: `const f = () =>`,
    /// `exports.f = function`, Python `f = lambda`).
    Function,
    /// A function inside an impl, trait, class or interface (constructors included).
    Method,
    /// Rust or Go `struct`.
    Struct,
    /// Rust `union`.
    Union,
    /// An `enum`.
    Enum,
    /// A class (also a class expression bound to a name: `const Foo = class {}`).
    Class,
    /// Rust `trait`.
    Trait,
    /// TypeScript or Go `interface`.
    Interface,
    /// Rust `impl` block (named after its self type).
    Impl,
    /// A type alias or other named type (Rust `type`, TypeScript `type`, Go `type`).
    Type,
    /// Rust `const`, a top-level TypeScript/JavaScript `const`, a Go `const`.
    Const,
    /// Rust `static`.
    Static,
    /// A module: Rust `mod`, TypeScript `namespace`/`module`, Go `package`.
    Module,
    /// Rust `macro_rules!`.
    Macro,
    /// A JavaScript/TypeScript object literal with members bound to a name
    /// (`var api = { get() {} }`, `exports.config = { ... }`, a `key: { ... }` inside one):
    /// the namespace objects ctags reports as classes.
    Object,
}

impl SymbolKind {
    /// Every kind, in a fixed order.
    pub const ALL: [SymbolKind; 15] = [
        SymbolKind::Function,
        SymbolKind::Method,
        SymbolKind::Struct,
        SymbolKind::Union,
        SymbolKind::Enum,
        SymbolKind::Class,
        SymbolKind::Trait,
        SymbolKind::Interface,
        SymbolKind::Impl,
        SymbolKind::Type,
        SymbolKind::Const,
        SymbolKind::Static,
        SymbolKind::Module,
        SymbolKind::Macro,
        SymbolKind::Object,
    ];

    /// The name stored in a `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            SymbolKind::Function => "function",
            SymbolKind::Method => "method",
            SymbolKind::Struct => "struct",
            SymbolKind::Union => "union",
            SymbolKind::Enum => "enum",
            SymbolKind::Class => "class",
            SymbolKind::Trait => "trait",
            SymbolKind::Interface => "interface",
            SymbolKind::Impl => "impl",
            SymbolKind::Type => "type",
            SymbolKind::Const => "const",
            SymbolKind::Static => "static",
            SymbolKind::Module => "module",
            SymbolKind::Macro => "macro",
            SymbolKind::Object => "object",
        }
    }

    /// The kind stored as `name` (see [`SymbolKind::as_str`]).
    pub fn parse(name: &str) -> Option<SymbolKind> {
        SymbolKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for SymbolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One definition found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// The defined name (for an `impl`, its self type without generics).
    pub name: String,
    /// What it is.
    pub kind: SymbolKind,
    /// First line of the definition, 1-based (the `fn`/`def`/`class` line, not decorators).
    pub start_line: u32,
    /// Last line of the definition, 1-based, inclusive.
    pub end_line: u32,
    /// The declaration's header: its text up to the body, whitespace collapsed, trimmed, at
    /// most [`MAX_SIGNATURE_CHARS`] characters.
    pub signature: String,
    /// The name of the innermost enclosing definition (impl, trait, class, module,
    /// function), if any.
    pub parent: Option<String>,
}

/// One import (`use`, `import`, `from ... import`, `require(...)`, `#include`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Line of the import statement, 1-based.
    pub line: u32,
    /// The module or path as written, without quotes: `std::collections`, `os.path`,
    /// `./util`, `fmt`, `java.util.List`, `stdio.h`.
    pub module: String,
    /// The names imported from it, in source order; empty when the whole module is imported.
    pub names: Vec<String>,
}

/// One call of a function, method or macro (by name: calls are not resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Line of the callee's name, 1-based.
    pub line: u32,
    /// The name of the innermost definition the call is in; `None` at file level.
    pub caller: Option<String>,
    /// The called name as written at the call (`foo` for `a.b.foo()`, `new` for `Vec::new()`).
    pub callee: String,
}

/// Everything the index knows about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    /// The language it was read as.
    pub lang: Language,
    /// Size in bytes (UTF-8).
    pub size: u64,
    /// Number of lines (a final line without a newline counts).
    pub line_count: u64,
    /// BLAKE3 of the content, lowercase hex (64 characters).
    pub content_hash: String,
    /// Definitions in source order (by start line, then end line descending, then name);
    /// one per name and start line (the outermost).
    pub symbols: Vec<Symbol>,
    /// Imports by line, then module; one per line and module.
    pub imports: Vec<Import>,
    /// Calls by line, then callee; one per line, callee and caller.
    pub calls: Vec<Call>,
    /// Whether the parser had to recover from syntax errors (facts may be incomplete), or the
    /// language could not be read at all (its feature is off).
    pub has_errors: bool,
}

/// Longest signature kept, in characters.
pub const MAX_SIGNATURE_CHARS: usize = 240;

/// Reads `content` as the language of `path`. `None` when the extension is not supported
/// (or its language's feature is off).
///
/// A `.h` header is read as C, or as C++ when it looks like C++ (`namespace`, `class`,
/// `template <`, ...) and both languages are on; [`FileFacts::lang`] says which.
pub fn extract(path: &str, content: &str) -> Option<FileFacts> {
    let lang = lang::refine(Language::from_path(path)?, path, content);
    Some(extract_as(lang, path, content))
}

/// Reads `content` as `lang` (`path` only picks a grammar variant: TSX over TypeScript).
///
/// A language whose feature is off yields the size, line count and hash, no facts, and
/// `has_errors: true`.
pub fn extract_as(lang: Language, path: &str, content: &str) -> FileFacts {
    let lines = LineIndex::new(content);
    let mut facts = FileFacts {
        lang,
        size: content.len() as u64,
        line_count: lines.line_count(),
        content_hash: blake3::hash(content.as_bytes()).to_hex().to_string(),
        symbols: Vec::new(),
        imports: Vec::new(),
        calls: Vec::new(),
        has_errors: true,
    };
    let Some(config) = config(lang, path) else {
        return facts;
    };
    // The parser may read a prepared copy (same offsets); names come from `content`.
    let prepared = lang::prepare(lang, content);
    let parsed = prepared.as_deref().unwrap_or(content);
    let raw = WORKER.with_borrow_mut(|worker| collect(worker, config, parsed));
    facts.has_errors = raw.has_errors;
    let (mut symbols, mut calls) = resolve_definitions(&raw, content, &lines);
    lang::finish(lang, &mut symbols, &mut calls);
    facts.symbols = symbols;
    facts.calls = calls;
    facts.imports = resolve_imports(&raw, content, &lines);
    facts
}

thread_local! {
    /// One parser and query cursor per thread, reused for every file.
    static WORKER: RefCell<(Parser, QueryCursor)> = RefCell::new((Parser::new(), QueryCursor::new()));
}

/// A compiled tag query and what each of its captures means.
pub(crate) struct Config {
    tags: TagsConfiguration,
    /// By capture index.
    captures: Vec<Capture>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    /// `@name`
    Name,
    /// `@ignore`: no tag for this name.
    Ignore,
    /// `@definition.<x>`: the kind (`None`: dropped) and the order of `<x>` in the query.
    Definition(Option<SymbolKind>, u32),
    /// `@reference.<x>`
    Reference(Role),
    /// `@local.scope` in a definition's match: the definition's parent, by name (a Go
    /// method's receiver type), where nesting does not tell it.
    Scope,
    /// `@doc`, other `@local.*`: not used.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Call,
    Import,
    Imported,
    Body,
    Ignored,
}

/// Grammar slots per language (TypeScript has two: TypeScript and TSX).
const GRAMMARS_PER_LANGUAGE: usize = 2;

type ConfigSlot = OnceLock<Result<Config, String>>;

static CONFIGS: [ConfigSlot; Language::ALL.len() * GRAMMARS_PER_LANGUAGE] =
    [const { OnceLock::new() }; Language::ALL.len() * GRAMMARS_PER_LANGUAGE];

/// The compiled query for `lang` reading `path`, built on first use; `None` when the
/// language's feature is off or its query does not compile (a bug the unit tests catch).
fn config(lang: Language, path: &str) -> Option<&'static Config> {
    config_result(lang, (lang::spec(lang)?.grammar_for)(path))?
        .as_ref()
        .ok()
}

/// The compiled query of `lang`'s grammar `variant`, or why it does not compile; `None` when
/// the language is off or has no such grammar.
pub(crate) fn config_result(
    lang: Language,
    variant: usize,
) -> Option<&'static Result<Config, String>> {
    let spec = lang::spec(lang)?;
    let grammar = spec.grammars.get(variant)?;
    let index = Language::ALL.iter().position(|l| *l == lang)? * GRAMMARS_PER_LANGUAGE + variant;
    let slot = CONFIGS.get(index)?;
    Some(slot.get_or_init(|| Config::build(spec, grammar())))
}

impl Config {
    fn build(spec: &Spec, grammar: tree_sitter::Language) -> Result<Config, String> {
        let query = spec.queries.join("\n");
        // Checks the capture names too: only the tags.scm vocabulary is accepted.
        let tags = TagsConfiguration::new(grammar, &query, "").map_err(|e| e.to_string())?;
        let mut kinds: Vec<&str> = Vec::new();
        let captures = tags
            .query
            .capture_names()
            .iter()
            .map(|capture| match *capture {
                "name" => Capture::Name,
                "ignore" => Capture::Ignore,
                "local.scope" => Capture::Scope,
                _ => {
                    if let Some(kind) = capture.strip_prefix("definition.") {
                        let order = kinds.iter().position(|k| *k == kind).unwrap_or_else(|| {
                            kinds.push(kind);
                            kinds.len() - 1
                        });
                        Capture::Definition((spec.kind)(kind), order as u32)
                    } else if let Some(kind) = capture.strip_prefix("reference.") {
                        Capture::Reference(match kind {
                            "call" => Role::Call,
                            "import" => Role::Import,
                            "imported" => Role::Imported,
                            "body" => Role::Body,
                            _ => Role::Ignored,
                        })
                    } else {
                        Capture::Other
                    }
                }
            })
            .collect();
        Ok(Config { tags, captures })
    }
}

/// The tags of one file, sorted into what they mean.
#[derive(Default)]
struct RawTags {
    has_errors: bool,
    definitions: Vec<Definition>,
    /// name range of the callee
    calls: Vec<Range<usize>>,
    /// (statement range, module range)
    imports: Vec<(Range<usize>, Range<usize>)>,
    /// (statement range, name range)
    imported: Vec<(Range<usize>, Range<usize>)>,
    /// byte offsets where headers end
    bodies: Vec<usize>,
}

/// A definition tag.
struct Definition {
    range: Range<usize>,
    name: Range<usize>,
    kind: SymbolKind,
    /// The parent's name, when the query names it (`@local.scope`).
    scope: Option<Range<usize>>,
}

/// One match's tag, before the one-tag-per-name rule.
struct Candidate {
    name: Range<usize>,
    pattern: usize,
    range: Range<usize>,
    capture: Capture,
    scope: Option<Range<usize>>,
}

fn collect(worker: &mut (Parser, QueryCursor), config: &Config, content: &str) -> RawTags {
    let mut raw = RawTags::default();
    let (parser, cursor) = worker;
    let tree = match parser.set_language(&config.tags.language) {
        Ok(()) => parser.parse(content, None),
        // A grammar built for an ABI this tree-sitter cannot load; caught by the unit tests.
        Err(_) => None,
    };
    // `None` only on cancellation or timeout, neither of which is set here.
    let Some(tree) = tree else {
        raw.has_errors = true;
        return raw;
    };
    raw.has_errors = tree.root_node().has_error();

    let mut candidates: Vec<Candidate> = Vec::new();
    let mut matches = cursor.matches(&config.tags.query, tree.root_node(), content.as_bytes());
    while let Some(m) = matches.next() {
        let mut name = None;
        let mut tag = None;
        let mut scope = None;
        let mut ignored = false;
        for c in m.captures {
            match config.captures.get(c.index as usize) {
                Some(Capture::Name) => name = Some(c.node),
                Some(Capture::Ignore) => {
                    ignored = true;
                    name = Some(c.node);
                }
                Some(capture @ (Capture::Definition(..) | Capture::Reference(_))) => {
                    tag = Some((c.node, *capture));
                }
                Some(Capture::Scope) => scope = Some(c.node.byte_range()),
                _ => {}
            }
        }
        let Some(name) = name else { continue };
        let name_range = name.byte_range();
        let (range, capture) = match tag {
            _ if ignored => (name_range.clone(), Capture::Ignore),
            // As tree-sitter-tags: a name with a syntax error inside is no tag.
            Some(_) if name.has_error() => continue,
            Some((node, capture)) => {
                let r = node.byte_range();
                (
                    r.start.min(name_range.start)..r.end.max(name_range.end),
                    capture,
                )
            }
            None => continue,
        };
        candidates.push(Candidate {
            name: name_range,
            pattern: m.pattern_index,
            range,
            capture,
            scope,
        });
    }
    // One tag per name node: the earliest pattern's.
    candidates.sort_unstable_by_key(|c| (c.name.start, c.name.end, c.pattern));
    candidates.dedup_by(|later, first| later.name == first.name);

    for Candidate {
        name,
        range,
        capture,
        scope,
        ..
    } in candidates
    {
        match capture {
            Capture::Definition(Some(kind), _) => {
                raw.definitions.push(Definition {
                    range,
                    name,
                    kind,
                    scope,
                });
            }
            Capture::Reference(Role::Call) => raw.calls.push(name),
            Capture::Reference(Role::Import) => raw.imports.push((range, name)),
            Capture::Reference(Role::Imported) => raw.imported.push((range, name)),
            Capture::Reference(Role::Body) => raw.bodies.push(name.start),
            _ => {}
        }
    }
    raw
}

fn resolve_definitions(raw: &RawTags, src: &str, lines: &LineIndex) -> (Vec<Symbol>, Vec<Call>) {
    let mut defs: Vec<&Definition> = raw.definitions.iter().collect();
    defs.sort_by_key(|d| (d.range.start, Reverse(d.range.end), d.name.start));
    let mut bodies = raw.bodies.clone();
    bodies.sort_unstable();

    // Parents: a stack of the definitions open at each definition's start.
    let mut parents: Vec<Option<usize>> = Vec::with_capacity(defs.len());
    let mut stack: Vec<usize> = Vec::new();
    for (i, def) in defs.iter().enumerate() {
        let range = &def.range;
        while stack
            .last()
            .is_some_and(|&top| defs[top].range.end <= range.start)
        {
            stack.pop();
        }
        parents.push(stack.last().copied());
        stack.push(i);
    }

    // Callers: the same sweep over call positions.
    let mut call_ranges: Vec<&Range<usize>> = raw.calls.iter().collect();
    call_ranges.sort_by_key(|r| r.start);
    let mut calls = Vec::with_capacity(call_ranges.len());
    let mut stack: Vec<usize> = Vec::new();
    let mut next = 0;
    for range in call_ranges {
        let at = range.start;
        while next < defs.len() && defs[next].range.start <= at {
            while stack
                .last()
                .is_some_and(|&top| defs[top].range.end <= defs[next].range.start)
            {
                stack.pop();
            }
            stack.push(next);
            next += 1;
        }
        while stack.last().is_some_and(|&top| defs[top].range.end <= at) {
            stack.pop();
        }
        let callee = text(src, range);
        if callee.is_empty() {
            continue;
        }
        calls.push(Call {
            line: lines.line_of(at),
            caller: stack.last().map(|&d| text(src, &defs[d].name).to_owned()),
            callee: callee.to_owned(),
        });
    }
    calls.sort_by(|a, b| (a.line, &a.callee, &a.caller).cmp(&(b.line, &b.callee, &b.caller)));
    calls.dedup();

    let mut symbols: Vec<Symbol> = defs
        .iter()
        .zip(&parents)
        .filter_map(|(def, parent)| {
            let Definition {
                range,
                name: name_range,
                kind,
                scope,
            } = def;
            let name = text(src, name_range).trim();
            if name.is_empty() {
                return None;
            }
            let header_end = bodies
                .get(bodies.partition_point(|&b| b < name_range.end))
                .copied()
                .filter(|&b| b < range.end);
            Some(Symbol {
                name: name.to_owned(),
                kind: *kind,
                start_line: lines.line_of(range.start),
                // the last byte's line: a node may end with its line break (`#define`)
                end_line: lines.line_of(range.end.saturating_sub(1).max(range.start)),
                signature: signature(src, range, header_end),
                parent: match scope {
                    Some(scope) => Some(text(src, scope).trim().to_owned()),
                    None => parent.map(|p| text(src, &defs[p].name).trim().to_owned()),
                },
            })
        })
        .collect();
    symbols.sort_by(|a, b| {
        (a.start_line, Reverse(a.end_line), &a.name, a.kind).cmp(&(
            b.start_line,
            Reverse(b.end_line),
            &b.name,
            b.kind,
        ))
    });
    // One row per (name, start line): the outermost definition wins.
    let mut seen = HashSet::new();
    symbols.retain(|s| seen.insert((s.name.clone(), s.start_line)));
    (symbols, calls)
}

fn resolve_imports(raw: &RawTags, src: &str, lines: &LineIndex) -> Vec<Import> {
    // Imported names by statement, in source order.
    let mut by_statement: HashMap<&Range<usize>, Vec<String>> = HashMap::new();
    let mut imported: Vec<&(Range<usize>, Range<usize>)> = raw.imported.iter().collect();
    imported.sort_by_key(|(_, name)| name.start);
    for (statement, name) in imported {
        let name = collapse_whitespace(text(src, name));
        let names = by_statement.entry(statement).or_default();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    let mut imports: Vec<Import> = Vec::with_capacity(raw.imports.len());
    for (statement, module) in &raw.imports {
        let module = clean_module(text(src, module));
        if module.is_empty() {
            continue;
        }
        let names = by_statement.get(statement).cloned().unwrap_or_default();
        imports.push(Import {
            line: lines.line_of(statement.start),
            module,
            names,
        });
    }
    imports.sort_by(|a, b| (a.line, &a.module).cmp(&(b.line, &b.module)));
    // One per line and module: merge the names of repeated statements on one line.
    let mut merged: Vec<Import> = Vec::with_capacity(imports.len());
    for import in imports {
        match merged.last_mut() {
            Some(last) if last.line == import.line && last.module == import.module => {
                if last.names.is_empty() || import.names.is_empty() {
                    // One of them takes the whole module.
                    last.names.clear();
                } else {
                    for name in import.names {
                        if !last.names.contains(&name) {
                            last.names.push(name);
                        }
                    }
                }
            }
            _ => merged.push(import),
        }
    }
    merged
}

fn text<'s>(src: &'s str, range: &Range<usize>) -> &'s str {
    src.get(range.clone()).unwrap_or("")
}

fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A module path as written, without quotes or angle brackets and whitespace.
fn clean_module(text: &str) -> String {
    let trimmed = text
        .trim()
        .trim_matches(|c| matches!(c, '"' | '\'' | '`' | '<' | '>'));
    trimmed.split_whitespace().collect()
}

/// Words that may sit before a definition node on its line and belong to its header
/// (`export const f = ...`: the definition node starts at `f`).
const HEADER_KEYWORDS: &[&str] = &[
    "export",
    "default",
    "declare",
    "const",
    "let",
    "var",
    "async",
    "static",
    "public",
    "private",
    "protected",
    "internal",
    "abstract",
    "readonly",
    "override",
    "final",
    "type",
    "pub",
];

/// The header of the definition spanning `range`: from its start (moved back over
/// [`HEADER_KEYWORDS`] on the same line) to `header_end`, else to the end of its first line.
fn signature(src: &str, range: &Range<usize>, header_end: Option<usize>) -> String {
    let start = header_start(src, range.start);
    let end = match header_end {
        Some(end) => end,
        None => {
            let mut limit = range.end.min(range.start.saturating_add(FIRST_LINE_BYTES));
            while !src.is_char_boundary(limit) {
                limit -= 1;
            }
            src.get(range.start..limit)
                .and_then(|first| first.find('\n'))
                .map_or(limit, |i| range.start + i)
        }
    };
    let raw = src.get(start..end.max(start)).unwrap_or("");
    let collapsed = collapse_whitespace(raw);
    let out = trim_header_end(&collapsed);
    if out.chars().count() > MAX_SIGNATURE_CHARS {
        return out
            .chars()
            .take(MAX_SIGNATURE_CHARS - 1)
            .collect::<String>()
            + "…";
    }
    out.to_owned()
}

/// How far [`header_start`] looks back for keywords, in bytes: keywords are short, and a
/// bounded look keeps minified files (one huge line, thousands of definitions) linear.
const HEADER_LOOK_BACK: usize = 80;

/// How much of a definition's first line a signature without a body marker reads, in bytes
/// (bounded for the same reason; far more than [`MAX_SIGNATURE_CHARS`]).
const FIRST_LINE_BYTES: usize = 4096;

/// `start` moved back over header keywords (and the spaces between them) on its line.
fn header_start(src: &str, start: usize) -> usize {
    let mut window = start.saturating_sub(HEADER_LOOK_BACK);
    while !src.is_char_boundary(window) {
        window += 1;
    }
    let (line_start, at_line_start) = match src.get(window..start).and_then(|w| w.rfind('\n')) {
        Some(i) => (window + i + 1, true),
        None => (window, window == 0),
    };
    let mut at = start;
    loop {
        let Some(before) = src.get(line_start..at) else {
            return at;
        };
        let trimmed = before.trim_end_matches([' ', '\t']);
        if trimmed.len() == before.len() && at != start {
            return at; // the word before is not separated by a space
        }
        let word_start = trimmed
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        if word_start == 0 && !at_line_start {
            return at; // the word may be cut by the look-back window
        }
        let word = &trimmed[word_start..];
        if !HEADER_KEYWORDS.contains(&word)
            || (word_start > 0 && !trimmed[..word_start].ends_with([' ', '\t']))
        {
            return at;
        }
        at = line_start + word_start;
    }
}

/// `header` without its trailing `{ : ; = =>` and whitespace, in any mix and number. Works on
/// the slice (each round only looks at what it removes), so it is linear in the header's
/// length: a header ending in a million `= ` is trimmed in one pass, not a million copies.
fn trim_header_end(header: &str) -> &str {
    let mut out = header;
    loop {
        let trimmed = out
            .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, '{' | ':' | ';'))
            .trim_end();
        let trimmed = trimmed.strip_suffix("=>").unwrap_or(trimmed).trim_end();
        let trimmed = trimmed.strip_suffix('=').unwrap_or(trimmed).trim_end();
        if trimmed.len() == out.len() {
            return out;
        }
        out = trimmed;
    }
}

/// Byte offset -> 1-based line number.
struct LineIndex {
    /// Byte offset of each newline.
    newlines: Vec<usize>,
    ends_with_newline: bool,
    empty: bool,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        LineIndex {
            newlines: text
                .bytes()
                .enumerate()
                .filter_map(|(i, b)| (b == b'\n').then_some(i))
                .collect(),
            ends_with_newline: text.ends_with('\n'),
            empty: text.is_empty(),
        }
    }

    /// The line holding byte `offset` (an offset just past a newline is on the next line).
    fn line_of(&self, offset: usize) -> u32 {
        let line = self.newlines.partition_point(|&nl| nl < offset) + 1;
        u32::try_from(line).unwrap_or(u32::MAX)
    }

    fn line_count(&self) -> u64 {
        let newlines = self.newlines.len() as u64;
        if self.empty || self.ends_with_newline {
            newlines
        } else {
            newlines + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enabled_query_compiles() {
        for lang in Language::enabled() {
            let spec = lang::spec(lang).expect("enabled");
            for variant in 0..spec.grammars.len() {
                match config_result(lang, variant) {
                    Some(Ok(config)) => assert!(
                        config
                            .captures
                            .iter()
                            .any(|c| matches!(c, Capture::Definition(Some(_), _))),
                        "{lang}: no definition kinds"
                    ),
                    Some(Err(e)) => panic!("{lang} grammar {variant}: {e}"),
                    None => panic!("{lang} grammar {variant}: no config"),
                }
            }
        }
    }

    #[test]
    fn line_index_counts_like_tree_sitter_rows() {
        let lines = LineIndex::new("ab\ncd\n\nef");
        assert_eq!(lines.line_of(0), 1);
        assert_eq!(lines.line_of(2), 1); // the newline itself
        assert_eq!(lines.line_of(3), 2);
        assert_eq!(lines.line_of(6), 3);
        assert_eq!(lines.line_of(7), 4);
        assert_eq!(lines.line_count(), 4);
        assert_eq!(LineIndex::new("").line_count(), 0);
        assert_eq!(LineIndex::new("a\n").line_count(), 1);
        assert_eq!(LineIndex::new("a\n\nb").line_count(), 3);
    }

    #[test]
    fn headers_start_at_keywords_on_the_same_line() {
        let src = "  export const add = 1;\nreturn function f() {}\n";
        let add = src.find("add").expect("add");
        assert_eq!(header_start(src, add), src.find("export").expect("export"));
        let f = src.find("function").expect("function");
        assert_eq!(header_start(src, f), f);
        assert_eq!(header_start("const x", 6), 0);
        // Far into a long line, only the bounded window is looked at.
        let long = format!("{}; export default x", "a".repeat(10_000));
        let x = long.len() - 1;
        assert_eq!(header_start(&long, x), long.find("export").expect("export"));
        let cut = format!("{}const x", "é".repeat(40));
        assert_eq!(header_start(&cut, cut.len() - 1), cut.len() - 1);
        let accented = "é const x";
        assert_eq!(header_start(accented, accented.len() - 1), 3);
    }

    #[test]
    fn first_line_signatures_read_a_bounded_slice() {
        let line = format!("type T = {};", "A | ".repeat(100_000));
        let sig = signature(&line, &(0..line.len()), None);
        assert!(sig.starts_with("type T = A | A"));
        assert_eq!(sig.chars().count(), MAX_SIGNATURE_CHARS);
        assert_eq!(signature("x = 1\ny", &(0..7), None), "x = 1");
    }

    #[test]
    fn a_header_ending_in_a_million_equals_signs_is_trimmed() {
        assert_eq!(
            trim_header_end(&"fn g() = ".repeat(3)),
            "fn g() = fn g() = fn g()"
        );
        assert_eq!(
            trim_header_end(&format!("x{}", " = => {;".repeat(500_000))),
            "x"
        );
    }

    #[test]
    fn modules_lose_quotes_and_brackets() {
        assert_eq!(clean_module("\"./util\""), "./util");
        assert_eq!(clean_module("<stdio.h>"), "stdio.h");
        assert_eq!(clean_module("std::\n    collections"), "std::collections");
    }
}
