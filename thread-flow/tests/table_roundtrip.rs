//! D1Table on the local transport with a hand-written D1Target: migrate, upsert, get, count,
//! delete, exact round trips, typed errors, write reports; and the JSON encoding (what the HTTP
//! transport sends) executed by the local engine to prove the SQL round-trips exactly.

use std::sync::OnceLock;

use thread_flow::sql::{self, Encoding, WriteOptions, plan_write, select};
use thread_flow::{
    Column, ColumnError, D1Database, D1Target, D1Value, Error, Index, SqlType, TableSchema, Value,
};

#[derive(Debug, Clone, PartialEq)]
struct Item {
    id: i64,
    name: String,
    score: f64,
    data: Vec<u8>,
    note: Option<String>,
    flag: bool,
}

impl D1Target for Item {
    type Key = i64;

    fn schema() -> &'static TableSchema {
        static SCHEMA: OnceLock<TableSchema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let mut t = TableSchema::new("items");
            t.columns = vec![
                Column::new("id", SqlType::Integer),
                Column::new("name", SqlType::Text),
                Column::new("score", SqlType::Real),
                Column::new("data", SqlType::Blob),
                Column::new("note", SqlType::Text).nullable(true),
                Column::new("flag", SqlType::Integer),
            ];
            t.primary_key = vec!["id".into()];
            t.indexes = vec![Index {
                name: "items_name_idx".into(),
                columns: vec!["name".into()],
                unique: false,
                where_clause: None,
            }];
            t
        })
    }

    fn key(&self) -> i64 {
        self.id
    }

    fn bind_row(&self, out: &mut Vec<Value>) -> Result<(), ColumnError> {
        out.push(self.id.to_value().map_err(|e| ColumnError::new("id", e))?);
        out.push(
            self.name
                .to_value()
                .map_err(|e| ColumnError::new("name", e))?,
        );
        out.push(
            self.score
                .to_value()
                .map_err(|e| ColumnError::new("score", e))?,
        );
        out.push(
            self.data
                .to_value()
                .map_err(|e| ColumnError::new("data", e))?,
        );
        out.push(
            self.note
                .to_value()
                .map_err(|e| ColumnError::new("note", e))?,
        );
        out.push(
            self.flag
                .to_value()
                .map_err(|e| ColumnError::new("flag", e))?,
        );
        Ok(())
    }

    fn bind_key(key: &i64, out: &mut Vec<Value>) -> Result<(), ColumnError> {
        out.push(key.to_value().map_err(|e| ColumnError::new("id", e))?);
        Ok(())
    }

    fn from_row(row: Vec<Value>) -> Result<Item, ColumnError> {
        let mut it = row.into_iter();
        let mut next = |c: &'static str| {
            it.next()
                .ok_or_else(|| ColumnError::new(c, thread_flow::ValueError::new("missing")))
        };
        Ok(Item {
            id: i64::from_value(next("id")?).map_err(|e| ColumnError::new("id", e))?,
            name: String::from_value(next("name")?).map_err(|e| ColumnError::new("name", e))?,
            score: f64::from_value(next("score")?).map_err(|e| ColumnError::new("score", e))?,
            data: Vec::<u8>::from_value(next("data")?).map_err(|e| ColumnError::new("data", e))?,
            note: Option::<String>::from_value(next("note")?)
                .map_err(|e| ColumnError::new("note", e))?,
            flag: bool::from_value(next("flag")?).map_err(|e| ColumnError::new("flag", e))?,
        })
    }
}

fn item(i: i64) -> Item {
    Item {
        id: match i % 4 {
            0 => i,
            1 => i64::MAX - i,
            2 => i64::MIN + i,
            _ => (1 << 53) + i,
        },
        name: format!("名前 {i} \"quoted\" 'single' 🌍"),
        score: i as f64 * 0.125 - 3.0,
        data: (0..(i % 300)).map(|b| (b * 7 + i) as u8).collect(),
        note: (i % 3 != 0).then(|| format!("note\n{i}")),
        flag: i % 2 == 0,
    }
}

#[tokio::test]
async fn round_trip_every_row_exactly() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<Item>();
    let report = table.migrate().await.unwrap();
    assert!(report.changed());
    assert!(table.plan().await.unwrap().is_empty());

    let items: Vec<Item> = (0..3000).map(item).collect();
    let report = table.upsert(&items).await.unwrap();
    assert_eq!(report.rows, 3000);
    assert_eq!(report.statements, 3000u64.div_ceil(16));
    assert!(report.requests >= 1);
    assert_eq!(report.retries, 0);
    assert!(report.bytes_sent > 0);
    assert_eq!(table.count().await.unwrap(), 3000);
    for it in items.iter().step_by(7) {
        assert_eq!(table.get(&it.id).await.unwrap().as_ref(), Some(it));
    }
    let mut all = table.all().await.unwrap();
    let mut expected = items.clone();
    all.sort_by_key(|i| i.id);
    expected.sort_by_key(|i| i.id);
    assert_eq!(all, expected);
    assert_eq!(table.get(&12345678).await.unwrap(), None);

    // Update half, delete a third.
    let updated: Vec<Item> = items
        .iter()
        .step_by(2)
        .map(|i| Item {
            name: "changed".into(),
            ..i.clone()
        })
        .collect();
    table.upsert(&updated).await.unwrap();
    let gone: Vec<i64> = items.iter().step_by(3).map(|i| i.id).collect();
    let report = table.delete(&gone).await.unwrap();
    assert_eq!(report.rows, gone.len() as u64);
    assert_eq!(table.count().await.unwrap(), 3000 - gone.len() as u64);
    assert_eq!(table.get(&items[0].id).await.unwrap(), None);
    assert_eq!(
        table.get(&items[2].id).await.unwrap().unwrap().name,
        "changed"
    );
    assert_eq!(table.get(&items[1].id).await.unwrap().unwrap(), items[1]);
}

#[tokio::test]
async fn duplicates_and_upsert_then_delete_in_one_write() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<Item>();
    table.migrate().await.unwrap();
    let mut a = item(4);
    let mut b = item(4);
    a.name = "first".into();
    b.name = "last".into();
    let report = table
        .write(&[a, item(8), b, item(12)], &[item(12).id])
        .await
        .unwrap();
    assert_eq!(report.rows, 4); // three upserts after dedupe + one delete
    assert_eq!(table.get(&4).await.unwrap().unwrap().name, "last");
    assert_eq!(table.get(&12).await.unwrap(), None);
    assert_eq!(table.count().await.unwrap(), 2);
}

#[tokio::test]
async fn empty_writes_send_nothing() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<Item>();
    table.migrate().await.unwrap();
    assert_eq!(
        table.upsert(&[]).await.unwrap(),
        thread_flow::WriteReport::default()
    );
    assert_eq!(table.delete(&[]).await.unwrap().requests, 0);
}

#[tokio::test]
async fn bind_errors_carry_table_column_and_key() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<Item>();
    table.migrate().await.unwrap();
    let bad = Item {
        score: f64::NAN,
        ..item(40)
    };
    match table.upsert(&[item(4), bad]).await {
        Err(Error::Bind {
            table, column, key, ..
        }) => {
            assert_eq!(table, "items");
            assert_eq!(column.as_deref(), Some("score"));
            assert_eq!(key.as_deref(), Some("40"));
        }
        other => panic!("expected Bind, got {other:?}"),
    }
    let big = Item {
        data: vec![1; 2_000_001],
        ..item(44)
    };
    assert!(matches!(
        table.upsert(&[item(4), big]).await,
        Err(Error::LimitExceeded { column: Some(c), key: Some(k), .. }) if c == "data" && k == "44"
    ));
    // Nothing was sent.
    assert_eq!(table.count().await.unwrap(), 0);
}

#[tokio::test]
async fn request_errors_name_table_and_first_key_of_the_batch() {
    let db = D1Database::in_memory().unwrap().with_write_options(
        WriteOptions::default()
            .with_max_request_bytes(5_000)
            .with_max_statements_per_request(2)
            .with_concurrency(3),
    );
    let table = db.table::<Item>();
    // No migrate: the table does not exist.
    match table.upsert(&[item(4), item(8)]).await {
        Err(Error::Api {
            table,
            first_key,
            code,
            message,
            ..
        }) => {
            assert_eq!(table.as_deref(), Some("items"));
            assert_eq!(first_key.as_deref(), Some("4"));
            assert_eq!(code, Some(7500));
            assert!(message.contains("no such table"), "{message}");
        }
        other => panic!("expected Api error, got {other:?}"),
    }
}

#[tokio::test]
async fn concurrent_requests_write_every_row() {
    let db = D1Database::in_memory().unwrap().with_write_options(
        WriteOptions::default()
            .with_max_request_bytes(20_000)
            .with_max_statements_per_request(5)
            .with_concurrency(4),
    );
    assert_eq!(db.write_options().concurrency, 4);
    let table = db.table::<Item>();
    table.migrate().await.unwrap();
    let items: Vec<Item> = (0..2000).map(item).collect();
    let report = table.upsert(&items).await.unwrap();
    assert!(report.requests > 10, "{report:?}");
    assert_eq!(table.count().await.unwrap(), 2000);
    let keys: Vec<i64> = items.iter().map(|i| i.id).collect();
    let report = table.delete(&keys).await.unwrap();
    assert_eq!(report.rows, 2000);
    assert_eq!(table.count().await.unwrap(), 0);
}

/// The JSON encoding, as the HTTP transport sends it, executed by SQLite: big integers through
/// `CAST(? AS INTEGER)`, BLOBs through `unhex(?)`, reads through `CAST(.. AS TEXT)` / `hex()`.
#[tokio::test]
async fn json_encoded_sql_round_trips_exactly_on_sqlite() {
    let db = D1Database::in_memory().unwrap();
    db.table::<Item>().migrate().await.unwrap();
    let schema = Item::schema();
    let items: Vec<Item> = (0..400).map(item).collect();
    let rows: Vec<Vec<Value>> = items
        .iter()
        .map(|i| {
            let mut v = Vec::new();
            i.bind_row(&mut v).unwrap();
            v
        })
        .collect();
    let plan = plan_write(
        schema,
        rows,
        vec![],
        Encoding::Json,
        &WriteOptions::default(),
    )
    .unwrap();
    for s in plan.upsert_requests.iter().flatten() {
        assert!(!s.params.iter().any(|p| matches!(p, Value::Blob(_))));
        assert!(
            !s.params
                .iter()
                .any(|p| matches!(p, Value::Integer(i) if i.unsigned_abs() > (1u64 << 53) - 1))
        );
    }
    for request in plan.upsert_requests {
        db.request(request).await.unwrap();
    }
    let outcome = db
        .request(vec![select::select_all(schema, Encoding::Json)])
        .await
        .unwrap();
    let mut back: Vec<Item> = outcome.results[0]
        .rows
        .iter()
        .map(|r| {
            assert!(!r.iter().any(|v| matches!(v, Value::Blob(_))));
            Item::from_row(select::decode_row(schema, r.clone(), Encoding::Json).unwrap()).unwrap()
        })
        .collect();
    let mut expected = items.clone();
    back.sort_by_key(|i| i.id);
    expected.sort_by_key(|i| i.id);
    assert_eq!(back, expected);

    // Deletes by big keys, JSON-encoded.
    let keys: Vec<Vec<Value>> = items.iter().map(|i| vec![Value::Integer(i.id)]).collect();
    let plan = plan_write(
        schema,
        vec![],
        keys,
        Encoding::Json,
        &WriteOptions::default(),
    )
    .unwrap();
    assert!(
        plan.delete_requests[0][0]
            .sql
            .contains("CAST(? AS INTEGER)")
    );
    for request in plan.delete_requests {
        db.request(request).await.unwrap();
    }
    assert_eq!(db.count_rows("items").await.unwrap(), 0);
    let _ = sql::quote_ident("x");
}

/// An `Item` whose hand-written `bind_row` leaves out the last column of the row with key 8.
#[derive(Debug, Clone, PartialEq)]
struct ShortRow(Item);

impl D1Target for ShortRow {
    type Key = i64;

    fn schema() -> &'static TableSchema {
        Item::schema()
    }

    fn key(&self) -> i64 {
        self.0.id
    }

    fn bind_row(&self, out: &mut Vec<Value>) -> Result<(), ColumnError> {
        self.0.bind_row(out)?;
        if self.0.id == 8 {
            out.pop();
        }
        Ok(())
    }

    fn bind_key(key: &i64, out: &mut Vec<Value>) -> Result<(), ColumnError> {
        Item::bind_key(key, out)
    }

    fn from_row(row: Vec<Value>) -> Result<ShortRow, ColumnError> {
        Item::from_row(row).map(ShortRow)
    }
}

#[tokio::test]
async fn a_row_bound_short_is_refused_with_its_column_and_key() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<ShortRow>();
    table.migrate().await.unwrap();
    let rows: Vec<ShortRow> = [4, 8, 12].into_iter().map(|i| ShortRow(item(i))).collect();
    for result in [table.upsert(&rows).await, table.write(&rows, &[4]).await] {
        match result {
            Err(Error::Bind {
                table,
                column,
                key,
                message,
            }) => {
                assert_eq!(table, "items");
                assert_eq!(column.as_deref(), Some("flag"));
                assert_eq!(key.as_deref(), Some("8"));
                assert!(message.contains("5 values but 6 columns"), "{message}");
            }
            other => panic!("expected Bind, got {other:?}"),
        }
    }
    // Nothing was written; the well-bound rows alone still go through.
    assert_eq!(table.count().await.unwrap(), 0);
    let good = [rows[0].clone(), rows[2].clone()];
    assert_eq!(table.upsert(&good).await.unwrap().rows, 2);
    assert_eq!(table.all().await.unwrap(), good.to_vec());
}

// Writes of 1,024 rows or more on the local transport bind and check their rows a piece at a
// time while the pieces before run. These prove that path keeps the whole-write path's
// results, reports and errors, and that a bad row found late still leaves nothing written.

/// `item(i)` with key `i`: increasing keys, the piecewise path's own case.
fn sorted_item(i: i64) -> Item {
    Item { id: i, ..item(i) }
}

#[tokio::test]
async fn large_sorted_writes_give_the_rows_and_report_of_small_ones() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<Item>();
    table.migrate().await.unwrap();
    let rows: Vec<Item> = (0..5000).map(sorted_item).collect();
    let report = table.upsert(&rows).await.unwrap();
    assert_eq!(report.rows, 5000);
    assert_eq!(report.requests, 1);
    // Six columns: 16 rows per statement under D1's 100 parameters.
    assert_eq!(report.statements, 5000_u64.div_ceil(16));
    assert_eq!(table.count().await.unwrap(), 5000);
    assert_eq!(table.all().await.unwrap(), rows);

    // Upserts and deletes in one write: 3,000 rows changed, 1,000 keys deleted.
    let changed: Vec<Item> = (0..3000)
        .map(|i| Item {
            name: format!("v2 {i}"),
            ..sorted_item(i)
        })
        .collect();
    let deletes: Vec<i64> = (4000..5000).collect();
    let report = table.write(&changed, &deletes).await.unwrap();
    assert_eq!(report.rows, 4000);
    assert_eq!(report.requests, 2);
    let mut expected = changed.clone();
    expected.extend_from_slice(&rows[3000..4000]);
    assert_eq!(table.all().await.unwrap(), expected);
}

#[tokio::test]
async fn a_bad_row_late_in_a_large_write_leaves_nothing_written() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<Item>();
    table.migrate().await.unwrap();
    let before = sorted_item(-1);
    table.upsert(std::slice::from_ref(&before)).await.unwrap();
    let mut rows: Vec<Item> = (0..5000).map(sorted_item).collect();
    // Found after earlier pieces already ran inside the open transaction.
    rows[4500].score = f64::NAN;
    match table.write(&rows, &[-1]).await {
        Err(Error::Bind {
            table, column, key, ..
        }) => {
            assert_eq!(table, "items");
            assert_eq!(column.as_deref(), Some("score"));
            assert_eq!(key.as_deref(), Some("4500"));
        }
        other => panic!("expected Bind, got {other:?}"),
    }
    assert_eq!(table.all().await.unwrap(), vec![before.clone()]);
    // A value over D1's size limit, found by the write's checks (not by binding).
    let mut rows: Vec<Item> = (0..5000).map(sorted_item).collect();
    rows[4700].data = vec![1; 2_000_001];
    assert!(matches!(
        table.write(&rows, &[-1]).await,
        Err(Error::LimitExceeded { column: Some(c), key: Some(k), .. }) if c == "data" && k == "4700"
    ));
    assert_eq!(table.all().await.unwrap(), vec![before.clone()]);

    // Keys that stop increasing hand the write to the whole-write path, which checks every
    // row before sending any: the NaN after the repeated key is still found first.
    let mut rows: Vec<Item> = (0..3000).map(sorted_item).collect();
    rows.push(sorted_item(10));
    rows.push(Item {
        score: f64::NAN,
        ..sorted_item(3001)
    });
    assert!(matches!(
        table.upsert(&rows).await,
        Err(Error::Bind { key: Some(k), .. }) if k == "3001"
    ));
    assert_eq!(table.all().await.unwrap(), vec![before]);
}

#[tokio::test]
async fn large_writes_with_repeated_or_unordered_keys_keep_the_last_row() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<Item>();
    table.migrate().await.unwrap();
    // 3,000 increasing keys, then key 10 again: the last occurrence wins.
    let mut rows: Vec<Item> = (0..3000).map(sorted_item).collect();
    let last = Item {
        name: "last one wins".into(),
        ..sorted_item(10)
    };
    rows.push(last.clone());
    let report = table.upsert(&rows).await.unwrap();
    assert_eq!(report.rows, 3000);
    assert_eq!(table.count().await.unwrap(), 3000);
    assert_eq!(table.get(&10).await.unwrap(), Some(last));

    // Unordered keys from the first row on (`item` spreads them over the i64 range).
    let rows: Vec<Item> = (0..2000).map(item).collect();
    let report = table.upsert(&rows).await.unwrap();
    assert_eq!(report.rows, 2000);
    for row in [&rows[0], &rows[1], &rows[1998], &rows[1999]] {
        assert_eq!(table.get(&row.id).await.unwrap().as_ref(), Some(row));
    }
}

#[tokio::test]
async fn a_large_write_with_a_row_bound_short_is_refused_like_a_small_one() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<ShortRow>();
    table.migrate().await.unwrap();
    // Increasing keys; key 8's row (bound short) comes after 2,000 others, once earlier
    // pieces already ran.
    let rows: Vec<ShortRow> = (-2000..0)
        .chain([8, 9])
        .map(|i| ShortRow(sorted_item(i)))
        .collect();
    match table.upsert(&rows).await {
        Err(Error::Bind {
            column,
            key,
            message,
            ..
        }) => {
            assert_eq!(column.as_deref(), Some("flag"));
            assert_eq!(key.as_deref(), Some("8"));
            assert!(message.contains("5 values but 6 columns"), "{message}");
        }
        other => panic!("expected Bind, got {other:?}"),
    }
    assert_eq!(table.count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_large_write_over_several_requests_checks_every_row_before_the_first_commits() {
    // 50 statements (800 rows) per request: 5,000 rows take 7 requests.
    let db = D1Database::in_memory()
        .unwrap()
        .with_write_options(WriteOptions::local().with_max_statements_per_request(50));
    let table = db.table::<Item>();
    table.migrate().await.unwrap();
    let mut rows: Vec<Item> = (0..5000).map(sorted_item).collect();
    rows[4900].data = vec![1; 2_000_001];
    assert!(matches!(
        table.upsert(&rows).await,
        Err(Error::LimitExceeded { key: Some(k), .. }) if k == "4900"
    ));
    assert_eq!(table.count().await.unwrap(), 0);

    rows[4900] = sorted_item(4900);
    let report = table.upsert(&rows).await.unwrap();
    assert_eq!((report.rows, report.requests), (5000, 7));
    assert_eq!(report.statements, 5000_u64.div_ceil(16));
    assert_eq!(table.all().await.unwrap(), rows);
}

#[tokio::test]
async fn a_large_write_that_fails_in_sqlite_names_the_table_and_first_key() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<Item>();
    // No migrate: the table does not exist.
    let rows: Vec<Item> = (0..2000).map(sorted_item).collect();
    match table.upsert(&rows).await {
        Err(Error::Api {
            table,
            first_key,
            code,
            ..
        }) => {
            assert_eq!(table.as_deref(), Some("items"));
            assert_eq!(first_key.as_deref(), Some("0"));
            assert_eq!(code, Some(7500));
        }
        other => panic!("expected Api error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_large_write_reports_the_same_error_as_a_small_one_when_rows_fail_twice() {
    let db = D1Database::in_memory().unwrap();
    let table = db.table::<Item>();
    table.migrate().await.unwrap();
    // Row 100 fails a check (a value over D1's size limit); row 4000 fails to bind (NaN).
    // Every row is bound before any is checked, so the bind error is the one reported, as
    // it is for a write too small to go piece by piece.
    let mut rows: Vec<Item> = (0..5000).map(sorted_item).collect();
    rows[100].data = vec![1; 2_000_001];
    rows[4000].score = f64::NAN;
    let small = [rows[100].clone(), rows[4000].clone()];
    for result in [table.upsert(&rows).await, table.upsert(&small).await] {
        assert!(
            matches!(&result, Err(Error::Bind { key: Some(k), .. }) if k == "4000"),
            "{result:?}"
        );
    }
    assert_eq!(table.count().await.unwrap(), 0);
}
