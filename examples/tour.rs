//! The README's tour, compiled and run: derive a table, migrate it, write and read rows.
//!
//! ```sh
//! cargo run --example tour            # embedded local D1 in memory
//! ```

use std::collections::BTreeMap;

use thread_flow::{D1Database, D1Target, D1Value};

/// What kind of definition a symbol is.
#[derive(D1Value, Debug, Clone, PartialEq)]
#[d1(rename_all = "snake_case")]
enum SymbolKind {
    Function,
    Struct,
    Trait,
}

/// One row of the `symbols` table.
#[derive(D1Target, Debug, Clone, PartialEq)]
#[d1(
    table = "symbols",
    primary_key(file, name, line),
    index(kind),
    unique(file, qualified)
)]
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

#[tokio::main]
async fn main() -> thread_flow::Result<()> {
    let db = D1Database::in_memory()?; // or D1Database::from_env()? for a file or Cloudflare
    let symbols = db.table::<Symbol>();

    // The DDL migrate() would run, in plain words.
    for step in &symbols.plan().await?.steps {
        println!("plan: {}", step.description);
    }
    symbols.migrate().await?;

    let rows: Vec<Symbol> = (0..1_000)
        .map(|i| Symbol {
            file: format!("src/m{}.rs", i % 10),
            name: format!("f{i}"),
            line: i,
            kind: if i % 2 == 0 {
                SymbolKind::Function
            } else {
                SymbolKind::Struct
            },
            qualified: format!("m{}::f{i}", i % 10),
            attrs: BTreeMap::from([("pub".to_owned(), "true".to_owned())]),
            doc: (i % 3 == 0).then(|| format!("doc {i}")),
        })
        .collect();
    let report = symbols.upsert(&rows).await?;
    println!(
        "upserted {} rows in {} statements, {} request(s)",
        report.rows, report.statements, report.requests
    );

    // Composite keys are tuples in primary_key(...) order.
    let key = ("src/m3.rs".to_owned(), "f3".to_owned(), 3);
    let back = symbols.get(&key).await?;
    assert_eq!(back.as_ref(), Some(&rows[3]));
    symbols.delete(&[key]).await?;
    println!("rows now: {}", symbols.count().await?);

    // Typed reads. The derive generates a lookup per index and key prefix: by_file,
    // by_file_name, by_file_name_line, by_kind, by_file_qualified.
    let in_m4 = symbols.find(Symbol::by_file("src/m4.rs")).await?; // in key order
    println!("src/m4.rs defines {} symbols", in_m4.len());
    let structs = symbols
        .count_where(Symbol::by_kind(SymbolKind::Struct))
        .await?;
    println!("{structs} structs");
    let one = symbols
        .find_one(Symbol::by_file_qualified("src/m5.rs", "m5::f15"))
        .await?;
    assert_eq!(one.as_ref(), Some(&rows[15]));
    let keys = [rows[9].key(), rows[2].key(), rows[9].key()];
    let many = symbols.get_many(&keys).await?; // in the order asked, each once
    assert_eq!(many, [rows[9].clone(), rows[2].clone()]);
    // Keyset pages and a streaming scan: never the whole table in one response.
    let first = symbols.page(None, 100).await?;
    let second = symbols.page(first.next.as_ref(), 100).await?;
    println!(
        "pages of {} and {} rows",
        first.rows.len(),
        second.rows.len()
    );
    let mut scan = symbols.scan().page_rows(250);
    let mut documented = 0;
    while let Some(symbol) = scan.next().await? {
        documented += usize::from(symbol.doc.is_some());
    }
    println!("{documented} documented symbols");
    // Any SQL, decoded by column name (renames included).
    let last: Vec<Symbol> = db
        .query_as(
            "SELECT * FROM symbols WHERE kind = ? ORDER BY line DESC LIMIT 3",
            vec![thread_flow::Value::Text("function".into())],
        )
        .await?;
    assert_eq!(
        last,
        [rows[998].clone(), rows[996].clone(), rows[994].clone()]
    );
    Ok(())
}
