//! The four tables of a code index, declared only through `#[derive(D1Target)]`.
//!
//! | table | key | indexes | answers |
//! |---|---|---|---|
//! | `files` | `path` | | what was indexed |
//! | `symbols` | `(file, start_line, name)` | `name`; `(kind, name)` | where is X defined; what is in file F |
//! | `imports` | `(file, line, module)` | `module` | what does file F import; who imports module M |
//! | `calls` | `(file, line, callee)` | `callee`; `(caller, file)` | who calls X; what does X call |
//!
//! The ReCoco flow (`flow.rs`) collects rows with exactly these column names, and the exports
//! take the table name, key, indexes and column types from these structs (re-exported by
//! `crate::code`, whose documentation carries this table for users).

use crate::D1Target;
use crate::code::{Language, SymbolKind};

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
/// The key `(file, start_line, name)` is also the index that answers "what is in file F" in
/// line order; `symbols_name_idx` answers "where is X defined", `symbols_kind_name_idx` "which
/// traits are there".
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

/// One import statement (table `imports`): `use a::b::{C, D}`, `from a.b import c`,
/// `import x from "./y"`, ...
///
/// The key `(file, line, module)` answers "what does file F import" in line order;
/// `imports_module_idx` answers "who imports module M". Several imports of one module on one
/// line are one row whose `names` are the union.
#[derive(Debug, Clone, PartialEq, Eq, D1Target)]
#[d1(table = "imports", primary_key(file, line, module))]
pub struct ImportRow {
    /// The importing file's path (as in `files.path`).
    pub file: String,
    /// Line of the import, 1-based.
    pub line: i64,
    /// The module or path as written (`std::collections`, `os.path`, `./cart`).
    #[d1(index)]
    pub module: String,
    /// The names imported from it (empty when the module itself is imported), stored as a
    /// JSON array of strings.
    #[d1(json)]
    pub names: Vec<String>,
}

/// One call site (table `calls`): a call of `callee` on `line` of `file`, inside `caller`.
///
/// The key `(file, line, callee)` holds one row per callee and line (`f(f(x))` is one row).
/// `calls_callee_idx` answers "who calls X"; `calls_caller_file_idx` answers "what does X call"
/// (by caller, then file).
#[derive(Debug, Clone, PartialEq, Eq, D1Target)]
#[d1(table = "calls", primary_key(file, line, callee))]
#[d1(index(caller, file))]
pub struct CallRow {
    /// The calling file's path (as in `files.path`).
    pub file: String,
    /// Line of the call, 1-based.
    pub line: i64,
    /// The called name as written, without receiver or path (`push` for `self.items.push(x)`).
    #[d1(index)]
    pub callee: String,
    /// The innermost enclosing function or method; `None` for a call at the top level.
    pub caller: Option<String>,
}

#[cfg(test)]
mod tests {
    use crate::{D1Target, D1Value, Value};

    use super::*;

    fn column_names<T: D1Target>() -> Vec<&'static str> {
        T::schema()
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect()
    }

    fn indexes<T: D1Target>() -> Vec<(&'static str, Vec<&'static str>)> {
        T::schema()
            .indexes
            .iter()
            .map(|i| {
                (
                    i.name.as_str(),
                    i.columns.iter().map(String::as_str).collect(),
                )
            })
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
        let symbol_indexes = indexes::<SymbolRow>();
        assert!(
            symbol_indexes.contains(&("symbols_name_idx", vec!["name"])),
            "{symbol_indexes:?}"
        );
        assert!(
            symbol_indexes.contains(&("symbols_kind_name_idx", vec!["kind", "name"])),
            "{symbol_indexes:?}"
        );
        assert!(symbols.column("parent").is_some_and(|c| c.nullable));
        assert!(symbols.column("signature").is_some_and(|c| !c.nullable));

        let imports = ImportRow::schema();
        assert_eq!(imports.name, "imports");
        assert_eq!(imports.primary_key, ["file", "line", "module"]);
        assert_eq!(
            column_names::<ImportRow>(),
            ["file", "line", "module", "names"]
        );
        assert_eq!(
            indexes::<ImportRow>(),
            [("imports_module_idx", vec!["module"])]
        );

        let calls = CallRow::schema();
        assert_eq!(calls.name, "calls");
        assert_eq!(calls.primary_key, ["file", "line", "callee"]);
        assert_eq!(
            column_names::<CallRow>(),
            ["file", "line", "callee", "caller"]
        );
        let call_indexes = indexes::<CallRow>();
        assert!(
            call_indexes.contains(&("calls_callee_idx", vec!["callee"])),
            "{call_indexes:?}"
        );
        assert!(
            call_indexes.contains(&("calls_caller_file_idx", vec!["caller", "file"])),
            "{call_indexes:?}"
        );
        assert!(calls.column("caller").is_some_and(|c| c.nullable));
    }

    #[test]
    fn imported_names_are_a_json_array() {
        let row = ImportRow {
            file: "a.py".into(),
            line: 1,
            module: "os.path".into(),
            names: vec!["join".into(), "dirname".into()],
        };
        let mut values = Vec::new();
        row.bind_row(&mut values).expect("binds");
        assert_eq!(values[3], Value::Text(r#"["join","dirname"]"#.into()));
        assert_eq!(ImportRow::from_row(values).expect("decodes"), row);
    }
}
