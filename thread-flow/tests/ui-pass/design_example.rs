//! The example of DESIGN.md compiles as written, plus a generic newtype used as a key.
use std::collections::BTreeMap;

use thread_flow::{D1Target, D1Value};

#[derive(Clone, Debug, PartialEq, D1Value)]
#[d1(rename_all = "snake_case")]
enum SymbolKind {
    Function,
    Struct,
}

#[derive(D1Target)]
#[d1(table = "symbols", primary_key(file, name, line), index(kind), unique(file, qualified))]
struct Symbol {
    file: String,
    name: String,
    line: i64,
    kind: SymbolKind,
    #[d1(rename = "qualified_name")]
    qualified: String,
    #[d1(json)]
    attrs: BTreeMap<String, String>,
    doc: Option<String>,
}

#[derive(Clone, Debug, PartialEq, D1Value)]
struct Id<T>(T);

#[derive(D1Target)]
struct Owner {
    #[d1(primary_key)]
    id: Id<String>,
    symbol_count: Id<i64>,
}

fn main() {
    let key: (String, String, i64) = Symbol {
        file: "a.rs".into(),
        name: "f".into(),
        line: 3,
        kind: SymbolKind::Function,
        qualified: "a::f".into(),
        attrs: BTreeMap::new(),
        doc: None,
    }
    .key();
    assert_eq!(key.2, 3);
    let _: Id<String> = Owner { id: Id("o".into()), symbol_count: Id(1) }.key();
    assert_eq!(Symbol::schema().indexes.len(), 2);
}
