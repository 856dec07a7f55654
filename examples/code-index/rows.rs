//! The two D1 tables of the index, declared only through `#[derive(D1Target)]`.
//!
//! The ReCoco flow collects rows with exactly these column names, and the export helper
//! takes the table name, key, indexes and column types from these structs.

use thread_flow::{D1Target, D1Value};

use crate::extract::{Kind, Lang};

/// The language of a file, stored as lowercase text (`rust`, `python`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, D1Value)]
#[d1(rename_all = "lowercase")]
pub enum Language {
    /// Rust
    Rust,
    /// Python
    Python,
    /// TypeScript (including TSX)
    TypeScript,
    /// JavaScript (including JSX)
    JavaScript,
}

impl From<Lang> for Language {
    fn from(lang: Lang) -> Language {
        match lang {
            Lang::Rust => Language::Rust,
            Lang::Python => Language::Python,
            Lang::TypeScript => Language::TypeScript,
            Lang::JavaScript => Language::JavaScript,
        }
    }
}

/// What a symbol is, stored as lowercase text (`function`, `struct`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, D1Value)]
#[d1(rename_all = "lowercase")]
pub enum SymbolKind {
    /// A free function.
    Function,
    /// A function inside an impl, trait, class or interface.
    Method,
    /// Rust `struct`.
    Struct,
    /// Rust `union`.
    Union,
    /// `enum`.
    Enum,
    /// `class`.
    Class,
    /// Rust `trait`.
    Trait,
    /// TypeScript `interface`.
    Interface,
    /// Rust `impl` block.
    Impl,
    /// Type alias.
    Type,
    /// Constant.
    Const,
    /// Rust `static`.
    Static,
    /// Module or namespace.
    Module,
    /// Rust `macro_rules!`.
    Macro,
}

impl From<Kind> for SymbolKind {
    fn from(kind: Kind) -> SymbolKind {
        match kind {
            Kind::Function => SymbolKind::Function,
            Kind::Method => SymbolKind::Method,
            Kind::Struct => SymbolKind::Struct,
            Kind::Union => SymbolKind::Union,
            Kind::Enum => SymbolKind::Enum,
            Kind::Class => SymbolKind::Class,
            Kind::Trait => SymbolKind::Trait,
            Kind::Interface => SymbolKind::Interface,
            Kind::Impl => SymbolKind::Impl,
            Kind::Type => SymbolKind::Type,
            Kind::Const => SymbolKind::Const,
            Kind::Static => SymbolKind::Static,
            Kind::Module => SymbolKind::Module,
            Kind::Macro => SymbolKind::Macro,
        }
    }
}

/// One source file under the indexed directory (table `files`).
#[derive(Debug, Clone, PartialEq, Eq, D1Target)]
#[d1(table = "files")]
pub struct FileRow {
    /// Path relative to the indexed directory, `/`-separated.
    #[d1(primary_key)]
    pub path: String,
    /// The language it was parsed as.
    pub language: Language,
    /// Size in bytes.
    pub size_bytes: i64,
    /// Number of lines.
    pub line_count: i64,
    /// BLAKE3 of the content, lowercase hex.
    pub content_hash: String,
}

/// One definition (table `symbols`).
///
/// The key `(file, start_line, name)` is also the index that answers "what is in file Y"
/// in line order; `symbols_name_idx` answers "where is X defined", `symbols_kind_name_idx`
/// "which traits are there".
#[derive(Debug, Clone, PartialEq, Eq, D1Target)]
#[d1(table = "symbols", primary_key(file, start_line, name))]
#[d1(index(kind, name))]
pub struct SymbolRow {
    /// The file's path (as in `files.path`).
    pub file: String,
    /// First line of the definition, 1-based.
    pub start_line: i64,
    /// The defined name.
    #[d1(index)]
    pub name: String,
    /// What it is.
    pub kind: SymbolKind,
    /// Last line of the definition, 1-based, inclusive.
    pub end_line: i64,
    /// The declaration's header text.
    pub signature: String,
    /// The enclosing impl/trait/class/module/function, if any.
    pub parent: Option<String>,
}

#[cfg(test)]
mod tests {
    use thread_flow::{D1Target, D1Value, Value};

    use super::*;

    fn column_names<T: D1Target>() -> Vec<&'static str> {
        T::schema()
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect()
    }

    #[test]
    fn enum_text_is_what_the_flow_sends() {
        // The flow hands ReCoco `Kind::as_str()` / `Lang::as_str()`; the tables decode it.
        for kind in Kind::ALL {
            let value = SymbolKind::from(kind).to_value().expect("encodes");
            assert_eq!(value, Value::Text(kind.as_str().to_owned()));
        }
        for lang in Lang::ALL {
            let value = Language::from(lang).to_value().expect("encodes");
            assert_eq!(value, Value::Text(lang.as_str().to_owned()));
        }
    }

    #[test]
    fn tables_have_the_keys_and_indexes_the_queries_need() {
        let files = FileRow::schema();
        assert_eq!(files.name, "files");
        assert_eq!(files.primary_key, ["path"]);
        assert_eq!(
            column_names::<FileRow>(),
            [
                "path",
                "language",
                "size_bytes",
                "line_count",
                "content_hash"
            ]
        );

        let symbols = SymbolRow::schema();
        assert_eq!(symbols.name, "symbols");
        assert_eq!(symbols.primary_key, ["file", "start_line", "name"]);
        assert_eq!(
            column_names::<SymbolRow>(),
            [
                "file",
                "start_line",
                "name",
                "kind",
                "end_line",
                "signature",
                "parent"
            ]
        );
        let indexes: Vec<(&str, Vec<&str>)> = symbols
            .indexes
            .iter()
            .map(|i| {
                (
                    i.name.as_str(),
                    i.columns.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert!(
            indexes.contains(&("symbols_name_idx", vec!["name"])),
            "{indexes:?}"
        );
        assert!(
            indexes.contains(&("symbols_kind_name_idx", vec!["kind", "name"])),
            "{indexes:?}"
        );
        assert!(symbols.column("parent").is_some_and(|c| c.nullable));
        assert!(symbols.column("signature").is_some_and(|c| !c.nullable));
    }
}
