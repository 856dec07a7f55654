//! What the index knows about one source file, read with a real parser (tree-sitter).
//!
//! Pure: text in, [`FileFacts`] out. No I/O, no ReCoco, no D1 calls; the flow and the tests
//! call [`extract`] directly. [`Language`] and [`SymbolKind`] derive `D1Value`, so the tables
//! in `rows` store them as the text [`Language::as_str`] / [`SymbolKind::as_str`] returns.

use std::fmt;

use crate::D1Value;
use tree_sitter::{Node, Parser};

/// The languages the index reads, chosen by file extension; stored as lowercase text
/// (`rust`, `python`, ...) in `files.language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, D1Value)]
#[d1(rename_all = "lowercase")]
pub enum Language {
    /// `.rs`
    Rust,
    /// `.py`, `.pyi`
    Python,
    /// `.ts`, `.mts`, `.cts`, `.tsx`
    TypeScript,
    /// `.js`, `.mjs`, `.cjs`, `.jsx`
    JavaScript,
}

impl Language {
    /// Every language, in a fixed order.
    pub const ALL: [Language; 4] = [
        Language::Rust,
        Language::Python,
        Language::TypeScript,
        Language::JavaScript,
    ];

    /// The file extensions (without the dot) read as this language.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Language::Rust => &["rs"],
            Language::Python => &["py", "pyi"],
            Language::TypeScript => &["ts", "mts", "cts", "tsx"],
            Language::JavaScript => &["js", "mjs", "cjs", "jsx"],
        }
    }

    /// The language of `path`, from its extension; `None` for files the index skips.
    pub fn from_path(path: &str) -> Option<Language> {
        let file_name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        let (_, ext) = file_name.rsplit_once('.')?;
        let ext = ext.to_ascii_lowercase();
        Language::ALL
            .into_iter()
            .find(|lang| lang.extensions().contains(&ext.as_str()))
    }

    /// The name stored in the `language` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::TypeScript => "typescript",
            Language::JavaScript => "javascript",
        }
    }

    fn grammar(self, path: &str) -> tree_sitter::Language {
        match self {
            Language::Rust => tree_sitter_rust::LANGUAGE.into(),
            Language::Python => tree_sitter_python::LANGUAGE.into(),
            // `.tsx` needs the TSX grammar (JSX in expressions); the rest is the same language.
            Language::TypeScript if path.to_ascii_lowercase().ends_with(".tsx") => {
                tree_sitter_typescript::LANGUAGE_TSX.into()
            }
            Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            // The JavaScript grammar parses JSX too.
            Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a symbol is; stored as its lowercase name (`function`, `struct`, ...) in
/// `symbols.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, D1Value)]
#[d1(rename_all = "lowercase")]
pub enum SymbolKind {
    /// A free function (also a nested one, or a `const f = () => ...` arrow function).
    Function,
    /// A function inside an impl, trait, class or interface.
    Method,
    /// Rust `struct`.
    Struct,
    /// Rust `union`.
    Union,
    /// Rust or TypeScript `enum`.
    Enum,
    /// Python, TypeScript or JavaScript `class`.
    Class,
    /// Rust `trait`.
    Trait,
    /// TypeScript `interface`.
    Interface,
    /// Rust `impl` block (named after its self type).
    Impl,
    /// Rust `type` or TypeScript `type` alias.
    Type,
    /// Rust `const`, or a top-level TypeScript/JavaScript `const`.
    Const,
    /// Rust `static`.
    Static,
    /// Rust `mod`, TypeScript `namespace`/`module`.
    Module,
    /// Rust `macro_rules!`.
    Macro,
}

impl SymbolKind {
    /// Every kind, in a fixed order.
    #[allow(dead_code)] // for callers and tests
    pub const ALL: [SymbolKind; 14] = [
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
    ];

    /// The name stored in the `kind` column.
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
        }
    }

    /// The kind stored as `name`.
    #[allow(dead_code)] // for callers and tests
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
    /// The declaration's header: its text up to the body, whitespace collapsed, trimmed.
    pub signature: String,
    /// The name of the enclosing definition (impl, trait, class, module, function), if any.
    pub parent: Option<String>,
}

/// Everything the index stores about one file.
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
    /// Definitions in source order (by start line, then end line descending, then name).
    pub symbols: Vec<Symbol>,
    /// Imports.
    pub imports: Vec<Import>,
    /// Calls.
    pub calls: Vec<Call>,
    /// Whether the parser had to recover from syntax errors (symbols may be incomplete).
    pub has_errors: bool,
}

/// An import (scratch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Line.
    pub line: u32,
    /// Module.
    pub module: String,
    /// Names.
    pub names: Vec<String>,
}

/// A call (scratch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Line.
    pub line: u32,
    /// Caller.
    pub caller: Option<String>,
    /// Callee.
    pub callee: String,
}

/// Longest signature kept, in characters.
pub const MAX_SIGNATURE_CHARS: usize = 240;

/// Reads `content` as the language of `path`. `None` when the extension is not supported.
pub fn extract(path: &str, content: &str) -> Option<FileFacts> {
    let lang = Language::from_path(path)?;
    Some(extract_as(lang, path, content))
}

/// Reads `content` as `lang` (`path` only picks TSX over TypeScript).
pub fn extract_as(lang: Language, path: &str, content: &str) -> FileFacts {
    let mut parser = Parser::new();
    let (symbols, has_errors) = match parser.set_language(&lang.grammar(path)) {
        Ok(()) => match parser.parse(content, None) {
            Some(tree) => {
                let root = tree.root_node();
                (collect_symbols(lang, root, content), root.has_error())
            }
            // Only happens on cancellation or timeout, neither of which is set here.
            None => (Vec::new(), true),
        },
        // A grammar built for an ABI this tree-sitter cannot load; caught by the unit tests.
        Err(_) => (Vec::new(), true),
    };
    FileFacts {
        lang,
        size: content.len() as u64,
        line_count: line_count(content),
        content_hash: blake3::hash(content.as_bytes()).to_hex().to_string(),
        symbols,
        imports: Vec::new(),
        calls: Vec::new(),
        has_errors,
    }
}

/// Lines in `text`: newlines, plus one for a last line without a newline.
pub fn line_count(text: &str) -> u64 {
    let newlines = text.bytes().filter(|&b| b == b'\n').count() as u64;
    if text.is_empty() || text.ends_with('\n') {
        newlines
    } else {
        newlines + 1
    }
}

/// Where a node sits, which decides what a function inside it is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// File level, or inside a module/namespace body.
    Top,
    /// Inside an impl, trait, class or interface body.
    TypeBody,
    /// Inside a function body.
    FunctionBody,
}

/// A definition node recognised for `lang`: its kind, the node holding its name, and the
/// scope its children are in.
struct Found<'t> {
    kind: SymbolKind,
    name: String,
    /// Where the header text starts (an enclosing `export` on the same line is included).
    header_start: Node<'t>,
    /// Where the header text ends (the body, or the value of a `const`); `None`: first line.
    header_end: Option<Node<'t>>,
    inner: Scope,
}

fn collect_symbols(lang: Language, root: Node<'_>, src: &str) -> Vec<Symbol> {
    let mut symbols: Vec<Symbol> = Vec::new();
    // Explicit stack instead of recursion: deeply nested expressions must not overflow.
    // Each entry: node, index of the enclosing symbol, scope.
    let mut stack: Vec<(Node<'_>, Option<usize>, Scope)> = vec![(root, None, Scope::Top)];
    while let Some((node, parent, scope)) = stack.pop() {
        let (child_parent, child_scope) = match recognise(lang, node, scope, src) {
            Some(found) => {
                let index = symbols.len();
                symbols.push(Symbol {
                    name: found.name,
                    kind: found.kind,
                    start_line: line_of(node.start_position().row),
                    end_line: line_of(node.end_position().row),
                    signature: header(src, found.header_start, node, found.header_end),
                    parent: parent.map(|p| symbols[p].name.clone()),
                });
                (Some(index), found.inner)
            }
            None => (parent, scope),
        };
        let mut cursor = node.walk();
        let children: Vec<Node<'_>> = node.named_children(&mut cursor).collect();
        for child in children.into_iter().rev() {
            stack.push((child, child_parent, child_scope));
        }
    }
    symbols.sort_by(|a, b| {
        (a.start_line, std::cmp::Reverse(a.end_line), &a.name, a.kind).cmp(&(
            b.start_line,
            std::cmp::Reverse(b.end_line),
            &b.name,
            b.kind,
        ))
    });
    // One row per (name, start line): the table's key. The outermost definition wins.
    let mut seen = std::collections::HashSet::new();
    symbols.retain(|s| seen.insert((s.name.clone(), s.start_line)));
    symbols
}

fn line_of(row: usize) -> u32 {
    u32::try_from(row).unwrap_or(u32::MAX - 1) + 1
}

fn text<'s>(src: &'s str, node: Node<'_>) -> &'s str {
    src.get(node.byte_range()).unwrap_or("")
}

fn field_text(src: &str, node: Node<'_>, field: &str) -> Option<String> {
    let name = node.child_by_field_name(field)?;
    let t = text(src, name).trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn recognise<'t>(lang: Language, node: Node<'t>, scope: Scope, src: &str) -> Option<Found<'t>> {
    match lang {
        Language::Rust => recognise_rust(node, scope, src),
        Language::Python => recognise_python(node, scope, src),
        Language::TypeScript | Language::JavaScript => recognise_js(node, scope, src),
    }
}

fn simple<'t>(node: Node<'t>, kind: SymbolKind, name: String, inner: Scope) -> Found<'t> {
    Found {
        kind,
        name,
        header_start: node,
        header_end: node.child_by_field_name("body"),
        inner,
    }
}

fn recognise_rust<'t>(node: Node<'t>, scope: Scope, src: &str) -> Option<Found<'t>> {
    let kind = match node.kind() {
        "function_item" | "function_signature_item" if scope == Scope::TypeBody => {
            SymbolKind::Method
        }
        "function_item" | "function_signature_item" => SymbolKind::Function,
        "struct_item" => SymbolKind::Struct,
        "union_item" => SymbolKind::Union,
        "enum_item" => SymbolKind::Enum,
        "trait_item" => SymbolKind::Trait,
        "type_item" => SymbolKind::Type,
        "const_item" => SymbolKind::Const,
        "static_item" => SymbolKind::Static,
        "mod_item" => SymbolKind::Module,
        "macro_definition" => SymbolKind::Macro,
        "impl_item" => {
            // Named after the self type without generics: `impl<T> Show for Wrapper<T>` -> Wrapper.
            let ty = node.child_by_field_name("type")?;
            let base = if ty.kind() == "generic_type" {
                ty.child_by_field_name("type").unwrap_or(ty)
            } else {
                ty
            };
            let name = text(src, base).trim().to_owned();
            return Some(simple(node, SymbolKind::Impl, name, Scope::TypeBody));
        }
        _ => return None,
    };
    let name = field_text(src, node, "name")?;
    let inner = match kind {
        SymbolKind::Function | SymbolKind::Method => Scope::FunctionBody,
        SymbolKind::Trait => Scope::TypeBody,
        _ => Scope::Top,
    };
    let mut found = simple(node, kind, name, inner);
    if matches!(kind, SymbolKind::Const | SymbolKind::Static) {
        found.header_end = node.child_by_field_name("value");
    }
    Some(found)
}

fn recognise_python<'t>(node: Node<'t>, scope: Scope, src: &str) -> Option<Found<'t>> {
    let (kind, inner) = match node.kind() {
        "function_definition" if scope == Scope::TypeBody => {
            (SymbolKind::Method, Scope::FunctionBody)
        }
        "function_definition" => (SymbolKind::Function, Scope::FunctionBody),
        "class_definition" => (SymbolKind::Class, Scope::TypeBody),
        _ => return None,
    };
    let name = field_text(src, node, "name")?;
    Some(simple(node, kind, name, inner))
}

fn recognise_js<'t>(node: Node<'t>, scope: Scope, src: &str) -> Option<Found<'t>> {
    let (kind, inner) = match node.kind() {
        "function_declaration" | "generator_function_declaration" | "function_signature" => {
            (SymbolKind::Function, Scope::FunctionBody)
        }
        "class_declaration" | "abstract_class_declaration" => (SymbolKind::Class, Scope::TypeBody),
        "interface_declaration" => (SymbolKind::Interface, Scope::TypeBody),
        "method_definition" | "method_signature" | "abstract_method_signature" => {
            (SymbolKind::Method, Scope::FunctionBody)
        }
        "enum_declaration" => (SymbolKind::Enum, Scope::Top),
        "type_alias_declaration" => (SymbolKind::Type, Scope::Top),
        "internal_module" | "module" => (SymbolKind::Module, Scope::Top),
        "variable_declarator" => return recognise_js_variable(node, scope, src),
        "public_field_definition" | "field_definition" => {
            return recognise_js_field(node, src);
        }
        _ => return None,
    };
    let name = field_text(src, node, "name")?;
    let mut found = simple(node, kind, name, inner);
    found.header_start = with_export(node);
    if kind == SymbolKind::Type {
        // `type A = ...`: the whole alias on its first line is the useful part.
        found.header_end = None;
    }
    Some(found)
}

/// `const f = () => ...` / `function` expressions anywhere outside a function body are
/// functions; other top-level `const`s are constants; everything else is a local variable.
fn recognise_js_variable<'t>(node: Node<'t>, scope: Scope, src: &str) -> Option<Found<'t>> {
    if scope != Scope::Top {
        return None;
    }
    let name_node = node.child_by_field_name("name")?;
    if name_node.kind() != "identifier" {
        return None; // destructuring: no single name
    }
    let name = text(src, name_node).to_owned();
    let declaration = node.parent()?;
    let value = node.child_by_field_name("value");
    match value {
        Some(v) if is_function_value(v) => Some(Found {
            kind: SymbolKind::Function,
            name,
            header_start: with_export(declaration),
            header_end: v.child_by_field_name("body"),
            inner: Scope::FunctionBody,
        }),
        _ if declaration.kind() == "lexical_declaration"
            && declaration.child(0).is_some_and(|k| k.kind() == "const") =>
        {
            Some(Found {
                kind: SymbolKind::Const,
                name,
                header_start: with_export(declaration),
                header_end: value,
                inner: Scope::Top,
            })
        }
        _ => None,
    }
}

/// A class field holding a function (`onClick = () => ...`) is a method.
fn recognise_js_field<'t>(node: Node<'t>, src: &str) -> Option<Found<'t>> {
    let value = node
        .child_by_field_name("value")
        .filter(|v| is_function_value(*v))?;
    let name = field_text(src, node, "name").or_else(|| field_text(src, node, "property"))?;
    Some(Found {
        kind: SymbolKind::Method,
        name,
        header_start: node,
        header_end: value.child_by_field_name("body"),
        inner: Scope::FunctionBody,
    })
}

fn is_function_value(node: Node<'_>) -> bool {
    matches!(
        node.kind(),
        "arrow_function" | "function_expression" | "function" | "generator_function"
    )
}

/// The enclosing `export` statement when it starts on the same line, so the header reads
/// `export function f()`.
fn with_export(node: Node<'_>) -> Node<'_> {
    match node.parent() {
        Some(p)
            if p.kind() == "export_statement"
                && p.start_position().row == node.start_position().row =>
        {
            p
        }
        _ => node,
    }
}

/// The header of a definition: from `start` to the start of `end` (its body or value), else
/// the first line of `node`; whitespace collapsed, trailing `{ : = => ;` removed.
fn header(src: &str, start: Node<'_>, node: Node<'_>, end: Option<Node<'_>>) -> String {
    let from = start.start_byte();
    let raw = match end {
        Some(end) if end.start_byte() > from => src.get(from..end.start_byte()).unwrap_or(""),
        _ => {
            let whole = src.get(from..node.end_byte()).unwrap_or("");
            // The definition's own line: skip lines of an `export` wrapper before it.
            let skip = node.start_position().row - start.start_position().row;
            whole.lines().nth(skip).unwrap_or(whole)
        }
    };
    let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
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
