//! The two D1 tables of the index, declared only through `#[derive(D1Target)]`.
//!
//! The ReCoco flow collects rows with exactly these column names, and the export helper
//! takes the table name, key, indexes and column types from these structs.

use thread_flow::D1Target;

use crate::extract::{Language, SymbolKind};

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
        // The flow hands ReCoco `SymbolKind::as_str()` / `Language::as_str()`; the tables
        // store and decode the derived `D1Value` text, which must be the same.
        for kind in SymbolKind::ALL {
            let value = kind.to_value().expect("encodes");
            assert_eq!(value, Value::Text(kind.as_str().to_owned()));
            assert_eq!(SymbolKind::from_value(value).expect("decodes"), kind);
        }
        for lang in Language::ALL {
            let value = lang.to_value().expect("encodes");
            assert_eq!(value, Value::Text(lang.as_str().to_owned()));
            assert_eq!(Language::from_value(value).expect("decodes"), lang);
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
