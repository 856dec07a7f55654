//! Issue 12 item 5: typed reads on `D1Table<T>`, each scenario run on the embedded local D1
//! and on the real D1 engine over HTTP (Miniflare 4 / workerd from `tests/d1-server`).
//!
//! - Derived lookups (`SymbolRow::by_..`) find exactly the rows whose columns hold the typed
//!   arguments (renamed columns, enums stored as text, NULL), in key order, across pages.
//! - `get_many` returns the rows found in the order of the keys given, each once, across
//!   statements (33 keys each for a 3-column key) and requests (1000 keys each).
//! - `page` / `page_where` / `scan` visit every row once, in key order, including integer keys
//!   beyond 2^53 and BLOB keys over HTTP, and say exactly when the last page is reached.
//! - `query_as` decodes by column name and names missing and unknown columns.
//! - A row that does not decode names its table, column and key.
//! - Over HTTP, a page whose response is over the transport's byte cap is read in smaller
//!   requests (every response under the cap); one row over the cap is `ResponseTooLarge`.
//!
//! Expected results are computed from the rows written (filtered and sorted in Rust), never
//! written out by hand. The Miniflare tests need the npm packages (`npm ci` in
//! tests/d1-server); without them they fail with that instruction, they never skip.

use thread_flow::Statement;
use thread_flow::{D1Database, D1Target, D1Value, Error, Lookup, Value};
use thread_flow_suite::miniflare::LocalD1Server;

fn start() -> LocalD1Server {
    LocalD1Server::start().unwrap_or_else(|e| panic!("{e}"))
}

#[derive(Debug, Clone, PartialEq, D1Value)]
#[d1(rename_all = "snake_case")]
enum Kind {
    Function,
    Struct,
    Method,
}

const KINDS: [Kind; 3] = [Kind::Function, Kind::Struct, Kind::Method];

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(
    table = "symbols",
    primary_key(file, start_line, name),
    index(kind, name)
)]
struct SymbolRow {
    file: String,
    start_line: i64,
    #[d1(index)]
    name: String,
    #[d1(rename = "symbol_kind")]
    kind: Kind,
    #[d1(index, rename = "doc_text")]
    doc: Option<String>,
    #[d1(json)]
    tags: Vec<String>,
    #[d1(skip)]
    cached: u8,
}

impl SymbolRow {
    fn sort_key(&self) -> (String, i64, String) {
        (self.file.clone(), self.start_line, self.name.clone())
    }
}

/// `n` symbols over 7 files, 5 names, 3 kinds; every 4th has no doc.
fn symbols(n: usize) -> Vec<SymbolRow> {
    (0..n)
        .map(|i| SymbolRow {
            file: format!("src/f{}.rs", i % 7),
            start_line: (i / 7) as i64 * 3 - 50,
            name: format!("name{}", i % 5),
            kind: KINDS[i % 3].clone(),
            doc: (i % 4 != 0).then(|| format!("doc é\"' {i}")),
            tags: vec![format!("t{}", i % 2)],
            cached: 0,
        })
        .collect()
}

/// The rows of `all` that `keep` accepts, in key order.
fn expected(all: &[SymbolRow], keep: impl Fn(&SymbolRow) -> bool) -> Vec<SymbolRow> {
    let mut rows: Vec<SymbolRow> = all.iter().filter(|r| keep(r)).cloned().collect();
    rows.sort_by_key(SymbolRow::sort_key);
    rows
}

async fn with_symbols(db: &D1Database, n: usize) -> Vec<SymbolRow> {
    let table = db.table::<SymbolRow>();
    table.migrate().await.unwrap();
    let rows = symbols(n);
    table.upsert(&rows).await.unwrap();
    rows
}

async fn lookups_find_matching_rows_in_key_order(db: &D1Database) {
    let all = with_symbols(db, 2600).await;
    let table = db.table::<SymbolRow>();

    let by_name = SymbolRow::by_name("name3");
    assert_eq!(by_name.columns(), ["name"]);
    let want = expected(&all, |r| r.name == "name3");
    assert!(want.len() > 500);
    assert_eq!(table.find(by_name.clone()).await.unwrap(), want);
    assert_eq!(
        table.count_where(by_name.clone()).await.unwrap(),
        want.len() as u64
    );
    assert_eq!(
        table.find_one(by_name).await.unwrap().as_ref(),
        want.first()
    );

    // More matches than one request reads (1000): paged underneath, still in key order.
    let by_kind = SymbolRow::by_kind(Kind::Method);
    assert_eq!(by_kind.columns(), ["symbol_kind"], "the renamed column");
    let want = expected(&all, |r| r.kind == Kind::Method);
    assert!(want.len() > 800);
    assert_eq!(table.find(by_kind).await.unwrap(), want);

    let both = SymbolRow::by_kind_name(Kind::Struct, String::from("name1"));
    assert_eq!(both.columns(), ["symbol_kind", "name"]);
    let want = expected(&all, |r| r.kind == Kind::Struct && r.name == "name1");
    assert!(!want.is_empty());
    assert_eq!(table.find(both).await.unwrap(), want);

    // Key prefixes.
    let want = expected(&all, |r| r.file == "src/f2.rs");
    assert_eq!(
        table.find(SymbolRow::by_file("src/f2.rs")).await.unwrap(),
        want
    );
    let line = want[3].start_line;
    let want = expected(&all, |r| r.file == "src/f2.rs" && r.start_line == line);
    assert_eq!(want.len(), 1);
    assert_eq!(
        table
            .find(SymbolRow::by_file_start_line("src/f2.rs", line))
            .await
            .unwrap(),
        want
    );
    let full = SymbolRow::by_file_start_line_name("src/f2.rs", line, want[0].name.as_str());
    assert_eq!(table.find_one(full).await.unwrap(), Some(want[0].clone()));

    // NULL matches NULL; a value matches its own rows only.
    let want = expected(&all, |r| r.doc.is_none());
    assert_eq!(
        table.find(SymbolRow::by_doc(None::<String>)).await.unwrap(),
        want
    );
    let doc = all[5].doc.clone().unwrap();
    let want = expected(&all, |r| r.doc.as_deref() == Some(doc.as_str()));
    assert_eq!(want.len(), 1);
    assert_eq!(table.find(SymbolRow::by_doc(doc)).await.unwrap(), want);

    // No match.
    let none = SymbolRow::by_name("no such name");
    assert_eq!(table.find(none.clone()).await.unwrap(), []);
    assert_eq!(table.find_one(none.clone()).await.unwrap(), None);
    assert_eq!(table.count_where(none).await.unwrap(), 0);

    // A hand-built lookup: column names are checked against the table.
    let hand = Lookup::<SymbolRow>::new(&["NAME"], vec![Value::Text("name3".into())]).unwrap();
    assert_eq!(hand.columns(), ["name"]);
    assert_eq!(
        table.count_where(hand).await.unwrap(),
        expected(&all, |r| r.name == "name3").len() as u64
    );
    match Lookup::<SymbolRow>::new(&["kind"], vec![Value::Text("method".into())]) {
        Err(Error::ColumnMismatch {
            table,
            missing,
            unknown,
        }) => {
            assert_eq!(table, "symbols");
            assert!(missing.is_empty());
            assert_eq!(unknown, ["kind"], "the field name is not the column name");
        }
        other => panic!("expected ColumnMismatch, got {other:?}"),
    }
}

async fn get_many_keeps_the_order_of_the_keys(db: &D1Database) {
    let all = with_symbols(db, 1500).await;
    let table = db.table::<SymbolRow>();
    // Every other row, last first, each asked twice, with keys that match nothing between.
    let mut keys = Vec::new();
    let mut want = Vec::new();
    for r in all.iter().rev().step_by(2) {
        keys.push(r.key());
        keys.push(("src/none.rs".to_string(), r.start_line, r.name.clone()));
        want.push(r.clone());
    }
    for r in all.iter().rev().step_by(2) {
        keys.push(r.key());
    }
    assert!(keys.len() > 1000, "more than one request");
    assert_eq!(table.get_many(&keys).await.unwrap(), want);
    assert_eq!(table.get_many(&[]).await.unwrap(), []);
    let one = all[10].key();
    assert_eq!(
        table.get_many(std::slice::from_ref(&one)).await.unwrap(),
        [all[10].clone()]
    );
}

async fn pages_and_scans_visit_every_row_once(db: &D1Database) {
    let all = with_symbols(db, 2345).await;
    let table = db.table::<SymbolRow>();
    let sorted = expected(&all, |_| true);

    for limit in [1000, 7, 2345, 5000] {
        let mut after: Option<<SymbolRow as D1Target>::Key> = None;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = table.page(after.as_ref(), limit).await.unwrap();
            pages += 1;
            assert!(page.rows.len() <= limit);
            seen.extend(page.rows.iter().cloned());
            match page.next {
                Some(next) => {
                    assert_eq!(Some(&next), page.rows.last().map(D1Target::key).as_ref());
                    assert_eq!(page.rows.len(), limit, "only a full page has a next page");
                    after = Some(next);
                }
                None => break,
            }
        }
        assert_eq!(seen, sorted, "limit {limit}");
        assert_eq!(
            pages,
            sorted.len().div_ceil(limit),
            "limit {limit}: no empty last page"
        );
    }

    // Within a lookup.
    let lookup = SymbolRow::by_file("src/f4.rs");
    let want = expected(&all, |r| r.file == "src/f4.rs");
    let first = table.page_where(&lookup, None, 10).await.unwrap();
    assert_eq!(first.rows, want[..10]);
    let second = table
        .page_where(&lookup, first.next.as_ref(), 10_000)
        .await
        .unwrap();
    assert_eq!(second.rows, want[10..]);
    assert_eq!(second.next, None);
    // A cursor from outside the lookup still means "after this key".
    let before = expected(&all, |r| r.file == "src/f1.rs")[0].key();
    let page = table
        .page_where(&lookup, Some(&before), 5000)
        .await
        .unwrap();
    assert_eq!(page.rows, want);
    let beyond = expected(&all, |r| r.file == "src/f6.rs")[0].key();
    let page = table
        .page_where(&lookup, Some(&beyond), 5000)
        .await
        .unwrap();
    assert_eq!(page.rows, []);
    assert_eq!(page.next, None);
    // Within a longer key prefix, and on the whole key.
    let line = want[4].start_line;
    let prefix = SymbolRow::by_file_start_line("src/f4.rs", line);
    let page = table
        .page_where(&prefix, Some(&want[3].key()), 1)
        .await
        .unwrap();
    assert_eq!(page.rows, want[4..5]);
    assert_eq!(page.next, None);
    let whole = SymbolRow::by_file_start_line_name("src/f4.rs", line, want[4].name.clone());
    let page = table.page_where(&whole, None, 1).await.unwrap();
    assert_eq!((page.rows, page.next), (want[4..5].to_vec(), None));
    let page = table
        .page_where(&whole, Some(&want[4].key()), 1)
        .await
        .unwrap();
    assert_eq!(page.rows, []);

    // Scans: row by row and page by page, in pages of a bounded size.
    let mut scan = table.scan().page_rows(300);
    let mut seen = Vec::new();
    while let Some(row) = scan.next().await.unwrap() {
        seen.push(row);
    }
    assert_eq!(seen, sorted);
    assert_eq!(
        scan.next().await.unwrap(),
        None,
        "a finished scan stays finished"
    );

    let mut scan = table
        .scan_where(SymbolRow::by_kind(Kind::Function))
        .page_rows(100);
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    while let Some(page) = scan.next_page().await.unwrap() {
        sizes.push(page.len());
        seen.extend(page);
    }
    assert_eq!(seen, expected(&all, |r| r.kind == Kind::Function));
    assert!(sizes.iter().all(|&n| n > 0 && n <= 100), "{sizes:?}");
    assert_eq!(table.all().await.unwrap(), sorted);
}

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "wide_keys", primary_key(id, digest))]
struct WideKey {
    id: i64,
    digest: Vec<u8>,
    #[d1(index)]
    tag: Vec<u8>,
    #[d1(sql_type = "TEXT", index)]
    big: u64,
}

async fn keyset_paging_is_exact_for_big_integers_and_blobs(db: &D1Database) {
    let table = db.table::<WideKey>();
    table.migrate().await.unwrap();
    let ids = [
        i64::MIN,
        i64::MIN + 1,
        -(1 << 53) - 1,
        -1,
        0,
        1 << 53,
        (1 << 53) + 1,
        i64::MAX - 1,
        i64::MAX,
    ];
    let mut rows = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        for digest in [vec![], vec![0u8], vec![0, 0], vec![0xff, 0x00, 0x7f]] {
            rows.push(WideKey {
                id: *id,
                digest,
                tag: vec![(i % 3) as u8, 0],
                big: u64::MAX - (i % 2) as u64,
            });
        }
    }
    table.upsert(&rows).await.unwrap();
    let mut sorted = rows.clone();
    sorted.sort_by(|a, b| (a.id, &a.digest).cmp(&(b.id, &b.digest)));

    let mut after = None;
    let mut seen = Vec::new();
    loop {
        let page = table.page(after.as_ref(), 3).await.unwrap();
        seen.extend(page.rows);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, sorted);

    let want: Vec<WideKey> = sorted.iter().filter(|r| r.tag == [1, 0]).cloned().collect();
    assert_eq!(table.find(WideKey::by_tag(vec![1, 0])).await.unwrap(), want);
    let want: Vec<WideKey> = sorted
        .iter()
        .filter(|r| r.id == (1 << 53) + 1)
        .cloned()
        .collect();
    assert_eq!(want.len(), 4);
    assert_eq!(
        table.find(WideKey::by_id((1i64 << 53) + 1)).await.unwrap(),
        want,
        "2^53 + 1 is not 2^53"
    );
    let want: Vec<WideKey> = sorted
        .iter()
        .filter(|r| r.big == u64::MAX)
        .cloned()
        .collect();
    assert_eq!(table.find(WideKey::by_big(u64::MAX)).await.unwrap(), want);

    let keys: Vec<_> = sorted.iter().rev().map(D1Target::key).collect();
    let mut reversed = sorted.clone();
    reversed.reverse();
    assert_eq!(table.get_many(&keys).await.unwrap(), reversed);
}

/// Read back through `query_as`: a renamed column, a JSON column, columns in another order.
#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "symbols", primary_key(file, start_line, name))]
struct SymbolSummary {
    #[d1(rename = "symbol_kind")]
    what: Kind,
    name: String,
    start_line: i64,
    file: String,
}

async fn query_as_decodes_by_column_name(db: &D1Database) {
    let all = with_symbols(db, 60).await;
    let got: Vec<SymbolSummary> = db
        .query_as(
            "SELECT symbol_kind, start_line, name, file FROM symbols WHERE name = ? \
             ORDER BY file, start_line, name",
            vec![Value::Text("name2".into())],
        )
        .await
        .unwrap();
    let want: Vec<SymbolSummary> = expected(&all, |r| r.name == "name2")
        .into_iter()
        .map(|r| SymbolSummary {
            what: r.kind,
            name: r.name,
            start_line: r.start_line,
            file: r.file,
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    // The full row type: JSON and NULL columns; skipped fields get their default.
    let full: Vec<SymbolRow> = db
        .query_as(
            "SELECT * FROM symbols ORDER BY file, start_line, name LIMIT 20",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(full, expected(&all, |_| true)[..20]);

    match db
        .query_as::<SymbolSummary>(
            "SELECT name, file, start_line, symbol_kind AS kind, 1 AS extra FROM symbols",
            vec![],
        )
        .await
    {
        Err(Error::ColumnMismatch {
            table,
            missing,
            unknown,
        }) => {
            assert_eq!(table, "symbols");
            assert_eq!(missing, ["symbol_kind"]);
            assert_eq!(unknown, ["kind", "extra"]);
        }
        other => panic!("expected ColumnMismatch, got {other:?}"),
    }
    match db
        .query_as::<SymbolSummary>(
            "SELECT symbol_kind, name, name, file, start_line FROM symbols",
            vec![],
        )
        .await
    {
        Err(Error::ColumnMismatch {
            missing, unknown, ..
        }) => {
            assert!(missing.is_empty());
            assert_eq!(unknown, ["name"], "a column given twice");
        }
        other => panic!("expected ColumnMismatch, got {other:?}"),
    }
    // Checked even when no row comes back.
    match db
        .query_as::<SymbolSummary>("SELECT name, file FROM symbols WHERE 0", vec![])
        .await
    {
        Err(Error::ColumnMismatch { missing, .. }) => {
            assert_eq!(missing, ["symbol_kind", "start_line"]);
        }
        other => panic!("expected ColumnMismatch, got {other:?}"),
    }
}

async fn a_row_that_does_not_decode_names_its_key(db: &D1Database) {
    with_symbols(db, 10).await;
    db.execute(
        "INSERT INTO symbols (file, start_line, name, symbol_kind, doc_text, tags) \
         VALUES ('src/bad.rs', 12, 'oops', 'closure', NULL, '[]')",
        vec![],
    )
    .await
    .unwrap();
    let table = db.table::<SymbolRow>();
    let check = |e: Error| match e {
        Error::Decode {
            table,
            column,
            key,
            message,
        } => {
            assert_eq!(table, "symbols");
            assert_eq!(column.as_deref(), Some("symbol_kind"));
            assert_eq!(key.as_deref(), Some(r#"("src/bad.rs", 12, "oops")"#));
            assert!(
                message.contains("\"closure\" is not a variant"),
                "{message}"
            );
        }
        other => panic!("expected Decode, got {other:?}"),
    };
    check(table.find(SymbolRow::by_name("oops")).await.unwrap_err());
    check(table.all().await.unwrap_err());
    check(
        table
            .get_many(&[("src/bad.rs".into(), 12, "oops".into())])
            .await
            .unwrap_err(),
    );
    check(
        db.query_as::<SymbolRow>("SELECT * FROM symbols", vec![])
            .await
            .unwrap_err(),
    );
    // The other rows still read.
    assert_eq!(
        table.find(SymbolRow::by_name("name1")).await.unwrap().len(),
        2
    );
}

macro_rules! on_local_and_d1 {
    ($($scenario:ident: $local:ident, $d1:ident;)*) => {$(
        #[tokio::test]
        async fn $local() {
            $scenario(&D1Database::in_memory().unwrap()).await;
        }

        #[tokio::test]
        async fn $d1() {
            let server = start();
            $scenario(&server.database().unwrap()).await;
        }
    )*};
}

on_local_and_d1! {
    lookups_find_matching_rows_in_key_order:
        local_lookups_find_matching_rows_in_key_order,
        d1_lookups_find_matching_rows_in_key_order;
    get_many_keeps_the_order_of_the_keys:
        local_get_many_keeps_the_order_of_the_keys,
        d1_get_many_keeps_the_order_of_the_keys;
    pages_and_scans_visit_every_row_once:
        local_pages_and_scans_visit_every_row_once,
        d1_pages_and_scans_visit_every_row_once;
    keyset_paging_is_exact_for_big_integers_and_blobs:
        local_keyset_paging_is_exact_for_big_integers_and_blobs,
        d1_keyset_paging_is_exact_for_big_integers_and_blobs;
    query_as_decodes_by_column_name:
        local_query_as_decodes_by_column_name,
        d1_query_as_decodes_by_column_name;
    a_row_that_does_not_decode_names_its_key:
        local_a_row_that_does_not_decode_names_its_key,
        d1_a_row_that_does_not_decode_names_its_key;
}

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "notes")]
struct Note {
    #[d1(primary_key)]
    id: i64,
    #[d1(index)]
    group: i64,
    body: String,
}

/// Over HTTP, reads that would return more than the transport's response cap are asked for
/// in smaller requests; a single row over the cap is `ResponseTooLarge` naming the table.
#[tokio::test]
async fn d1_reads_stay_under_the_response_cap() {
    let server = start();
    let cap = 16 * 1024;
    let db = D1Database::http_with(server.http_config().with_max_response_bytes(cap)).unwrap();
    let table = db.table::<Note>();
    table.migrate().await.unwrap();
    let rows: Vec<Note> = (0..60)
        .map(|id| Note {
            id,
            group: id % 2,
            body: format!("{id:04}").repeat(750),
        })
        .collect();
    table.upsert(&rows).await.unwrap();

    // 60 rows of 3 KB: 180 KB in all, at most ~5 rows per 16 KB response.
    assert_eq!(table.all().await.unwrap(), rows);
    let mut scan = table.scan();
    let mut seen = Vec::new();
    while let Some(row) = scan.next().await.unwrap() {
        seen.push(row);
    }
    assert_eq!(seen, rows);
    let page = table.page(None, 25).await.unwrap();
    assert_eq!(page.rows, rows[..25]);
    assert_eq!(page.next, Some(24));
    let evens: Vec<Note> = rows.iter().filter(|r| r.group == 0).cloned().collect();
    assert_eq!(table.find(Note::by_group(0)).await.unwrap(), evens);
    let keys: Vec<i64> = (0..60).rev().collect();
    let mut reversed = rows.clone();
    reversed.reverse();
    assert_eq!(table.get_many(&keys).await.unwrap(), reversed);

    // One row larger than the cap cannot be split.
    table
        .upsert(&[Note {
            id: 1000,
            group: 9,
            body: "x".repeat(40_000),
        }])
        .await
        .unwrap();
    match table.find(Note::by_group(9)).await {
        Err(Error::ResponseTooLarge { table, max, .. }) => {
            assert_eq!(table.as_deref(), Some("notes"));
            assert_eq!(max, cap);
        }
        other => panic!("expected ResponseTooLarge, got {other:?}"),
    }
    // The rows before it still page; the page that ends before it says more follow.
    let page = table.page(Some(&59), 1).await;
    assert!(
        matches!(page, Err(Error::ResponseTooLarge { .. })),
        "{page:?}"
    );
    let page = table.page(Some(&58), 1).await.unwrap();
    assert_eq!(page.rows, rows[59..]);
    assert_eq!(
        page.next,
        Some(59),
        "the row after it exists, even if too large"
    );
}

/// The real engine refuses a statement with more than 100 bound parameters, as hosted D1
/// does, so the `d1_` tests above (3-column keys, 1500 keys) show that `get_many` and the
/// keyset reads stay within the limit.
#[tokio::test]
async fn d1_engine_refuses_101_parameters() {
    let server = start();
    let db = server.database().unwrap();
    let select = |n: usize| {
        Statement::new(
            format!("SELECT {}", vec!["?"; n].join(", ")),
            vec![Value::Integer(1); n],
        )
    };
    db.request(vec![select(100)]).await.unwrap();
    let refused = db.request(vec![select(101)]).await.unwrap_err();
    assert!(
        matches!(&refused, Error::Api { message, .. } if message.contains("too many SQL variables")),
        "{refused:?}"
    );
}

/// A page deep inside a key-prefix lookup reads about one page of rows (D1's `rows_read`),
/// not every row of the prefix before the cursor: the statement lets SQLite seek.
#[tokio::test]
async fn d1_a_key_prefix_page_reads_only_its_rows() {
    use thread_flow::sql::{Encoding, select};
    let server = start();
    let db = server.database().unwrap();
    let table = db.table::<SymbolRow>();
    table.migrate().await.unwrap();
    let rows: Vec<SymbolRow> = (0..3000)
        .map(|i| SymbolRow {
            file: "src/big.rs".into(),
            start_line: i,
            name: format!("n{i}"),
            kind: Kind::Function,
            doc: None,
            tags: vec![],
            cached: 0,
        })
        .collect();
    table.upsert(&rows).await.unwrap();
    let cursor = rows[2900].key();
    let page = table
        .page_where(&SymbolRow::by_file("src/big.rs"), Some(&cursor), 10)
        .await
        .unwrap();
    assert_eq!(page.rows, rows[2901..2911]);

    let schema = SymbolRow::schema();
    let file = Value::Text("src/big.rs".into());
    let after = [
        file.clone(),
        Value::Integer(2900),
        Value::Text("n2900".into()),
    ];
    let rows_read = |statement: Statement| {
        let db = db.clone();
        async move {
            let outcome = db.request(vec![statement]).await.unwrap();
            assert_eq!(outcome.results[0].rows.len(), 11);
            outcome.results[0].rows_read.expect("D1 reports rows_read")
        }
    };
    let seek = select::select_page(schema, &[("file", &file)], Some(&after), 11, Encoding::Json);
    let seek_read = rows_read(seek).await;
    assert!(seek_read <= 20, "the seeking page read {seek_read} rows");
    // The same page with the whole key in the comparison reads the prefix up to the cursor.
    let mut scan = select::select_page(schema, &[("file", &file)], None, 11, Encoding::Json);
    scan.sql = scan.sql.replace(
        " ORDER BY",
        r#" AND ("symbols"."file", "symbols"."start_line", "symbols"."name") > (?, ?, ?) ORDER BY"#,
    );
    scan.params.extend(after.iter().cloned());
    let scan_read = rows_read(scan).await;
    assert!(
        scan_read > 2900,
        "the full comparison read {scan_read} rows"
    );
    eprintln!("rows_read for one 10-row page at row 2900: seek {seek_read}, full key {scan_read}");
}

/// The read futures and `Scan` can move across threads (`tokio::spawn`).
#[tokio::test]
async fn reads_can_be_spawned() {
    let db = D1Database::in_memory().unwrap();
    let all = with_symbols(&db, 30).await;
    let table = db.table::<SymbolRow>();
    let mut scan = table
        .scan_where(SymbolRow::by_file("src/f3.rs"))
        .page_rows(2);
    let from_task = tokio::spawn(async move {
        let mut rows = Vec::new();
        while let Some(row) = scan.next().await? {
            rows.push(row);
        }
        Ok::<_, Error>(rows)
    });
    let t = table.clone();
    let found = tokio::spawn(async move { t.find(SymbolRow::by_name("name2")).await });
    let t = table.clone();
    let keys: Vec<_> = all.iter().map(D1Target::key).collect();
    let many = tokio::spawn(async move { t.get_many(&keys).await });
    let d = db.clone();
    let queried = tokio::spawn(async move {
        d.query_as::<SymbolRow>(
            "SELECT * FROM symbols ORDER BY file, start_line, name",
            vec![],
        )
        .await
    });
    assert_eq!(
        from_task.await.unwrap().unwrap(),
        expected(&all, |r| r.file == "src/f3.rs")
    );
    assert_eq!(
        found.await.unwrap().unwrap(),
        expected(&all, |r| r.name == "name2")
    );
    assert_eq!(many.await.unwrap().unwrap(), all);
    assert_eq!(queried.await.unwrap().unwrap(), expected(&all, |_| true));
}

/// Requests a read sends (counted by the in-process fake D1): a page of 1000 rows and the peek
/// at the next one travel in one request, no request ever binds more than 100 parameters, and
/// `get_many` sends 1000 keys per request.
#[tokio::test]
async fn reads_send_one_request_per_page() {
    use thread_flow_suite::fake_d1::FakeD1;
    let fake = FakeD1::start();
    let db = fake.database();
    let table = db.table::<Note>();
    table.migrate().await.unwrap();
    let rows: Vec<Note> = (0..2500)
        .map(|id| Note {
            id,
            group: id % 3,
            body: String::new(),
        })
        .collect();
    table.upsert(&rows).await.unwrap();
    let requests = || fake.stats().requests;

    let before = requests();
    assert_eq!(table.all().await.unwrap(), rows);
    assert_eq!(requests() - before, 3, "1000 + 1000 + 500 rows");

    let before = requests();
    let page = table.page(None, 2500).await.unwrap();
    assert_eq!((page.rows.len(), page.next), (2500, None));
    assert_eq!(requests() - before, 3);

    let before = requests();
    let page = table.page(Some(&999), 1000).await.unwrap();
    assert_eq!(page.rows, rows[1000..2000]);
    assert_eq!(page.next, Some(1999));
    assert_eq!(
        requests() - before,
        1,
        "the page and the peek in one request"
    );

    let before = requests();
    let found = table.find(Note::by_group(1)).await.unwrap();
    assert_eq!(found.len(), 833);
    assert_eq!(requests() - before, 1);

    let before = fake.requests().len();
    let keys: Vec<i64> = (0..2500).rev().collect();
    let got = table.get_many(&keys).await.unwrap();
    assert_eq!(got.len(), 2500);
    let sent = &fake.requests()[before..];
    assert_eq!(sent.len(), 3, "1000 + 1000 + 500 keys");
    for request in sent {
        let batch = request.body["batch"].as_array().expect("a batch body");
        for statement in batch {
            let params = statement["params"].as_array().map_or(0, Vec::len);
            assert!(params <= 100, "{params} parameters in one statement");
        }
    }
}
