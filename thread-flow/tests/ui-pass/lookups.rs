//! The derived lookups: one `by_..` function per key or index prefix, typed arguments
//! (`&str` for a `String` field, `impl Into` for the rest), the struct's visibility, and no
//! warning for unused lookups of a private struct, under `deny(missing_docs, warnings)`.
#![deny(missing_docs, warnings)]

use thread_flow::{D1Target, D1Value, Lookup, Value};

/// A stored enum.
#[derive(Clone, Debug, PartialEq, D1Value)]
#[d1(rename_all = "snake_case")]
pub enum SymbolKind {
    /// A function.
    Function,
    /// A struct.
    Struct,
}

/// A public row: public lookups.
#[derive(Clone, Debug, D1Target)]
#[d1(table = "symbols", primary_key(file, start_line, name), index(kind, name))]
pub struct SymbolRow {
    /// File.
    pub file: String,
    /// Line.
    pub start_line: i64,
    /// Name.
    #[d1(index)]
    pub name: String,
    /// Kind, stored under another name.
    #[d1(rename = "symbol_kind")]
    pub kind: SymbolKind,
    /// Nullable, indexed.
    #[d1(index)]
    pub doc: Option<String>,
    /// `type` is a keyword.
    #[d1(unique)]
    pub r#type: u32,
}

/// A private row: its lookups are private and unused.
#[derive(Clone, Debug, D1Target)]
#[allow(dead_code)]
struct Private {
    #[d1(primary_key)]
    id: i64,
    #[d1(index)]
    group: i64,
}

fn main() {
    let name: Lookup<SymbolRow> = SymbolRow::by_name("main");
    assert_eq!(name.columns(), ["name"]);
    assert_eq!(name.values().unwrap(), [Value::Text("main".into())]);

    let owned: Lookup<SymbolRow> = SymbolRow::by_kind_name(SymbolKind::Struct, String::from("S"));
    assert_eq!(owned.columns(), ["symbol_kind", "name"]);
    assert_eq!(
        owned.values().unwrap(),
        [Value::Text("struct".into()), Value::Text("S".into())]
    );

    let _: Lookup<SymbolRow> = SymbolRow::by_kind(SymbolKind::Function);
    let _: Lookup<SymbolRow> = SymbolRow::by_file("src/lib.rs");
    // An i32 literal goes into the i64 field.
    let line: Lookup<SymbolRow> = SymbolRow::by_file_start_line("src/lib.rs", 3);
    assert_eq!(line.values().unwrap()[1], Value::Integer(3));
    let _: Lookup<SymbolRow> = SymbolRow::by_file_start_line_name("src/lib.rs", 3i64, "main");
    let none: Lookup<SymbolRow> = SymbolRow::by_doc(None::<String>);
    assert_eq!(none.values().unwrap(), [Value::Null]);
    let _: Lookup<SymbolRow> = SymbolRow::by_doc(Some("docs".to_string()));
    let typed: Lookup<SymbolRow> = SymbolRow::by_type(7u8);
    assert_eq!(typed.columns(), ["type"]);
    let _ = <SymbolRow as D1Target>::schema();
}
