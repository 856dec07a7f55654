//! Issue 7, part 5: a property test over the SQL generator and the batch planner.
//!
//! For random tables (1 to 20 columns of random types and nullability, random composite keys,
//! hostile identifiers) and random writes (upserts with duplicate keys, deletes of present and
//! absent keys, random request budgets), under both encodings (native for the local transport,
//! JSON for HTTP):
//!
//! - every statement binds at most 100 parameters (D1's limit) and has less than 100,000 bytes
//!   of SQL;
//! - every request keeps to the statement cap, and to the byte budget (the actual JSON body,
//!   BLOBs as the hex text D1 receives) unless it holds one single-row statement (a row bigger
//!   than the budget goes alone);
//! - every statement prepares in SQLite against the created table, with as many placeholders
//!   as parameters;
//! - applying the plan on the local transport gives the same table as applying the rows one by
//!   one with single-row statements written here by hand (the reference model).

use proptest::prelude::*;
use thread_flow::sql::{self, Encoding, plan_write, quote_ident, select};
use thread_flow::{Column, D1Database, SqlType, Statement, TableSchema, Value, WriteOptions};

const HOSTILE: &[&str] = &[
    "select",
    "order",
    "group",
    "key",
    "a\"b",
    "\"",
    "it's",
    "sp ace",
    "dot.ted",
    "名前",
    "e\u{301}",
    "🦀",
    "[x]",
    "`y`",
    "?1",
    ":n",
    "@p",
    "$v",
    "--c",
    "/*x*/",
    "; DROP TABLE t",
    "rowid",
    "excluded",
    "VALUES",
    " ",
    "\u{202e}",
];

fn identifier() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(HOSTILE).prop_map(str::to_owned),
        2 => "[a-zA-Z_][a-zA-Z0-9_ .\"']{0,12}",
        1 => "\\PC{1,6}",
    ]
}

fn sql_type() -> impl Strategy<Value = SqlType> {
    prop_oneof![
        Just(SqlType::Integer),
        Just(SqlType::Real),
        Just(SqlType::Text),
        Just(SqlType::Blob),
    ]
}

/// A valid table: unique (case-insensitive) non-empty names, a key of 1 to 3 non-REAL columns.
fn table() -> impl Strategy<Value = TableSchema> {
    (
        identifier(),
        proptest::collection::vec((identifier(), sql_type(), any::<bool>()), 1..=20),
        proptest::collection::vec(any::<proptest::sample::Index>(), 1..=3),
    )
        .prop_map(|(name, columns, key_picks)| {
            let mut seen = std::collections::HashSet::new();
            let mut t = TableSchema::new(format!("t {name}"));
            for (i, (n, ty, nullable)) in columns.into_iter().enumerate() {
                let n = if n.is_empty() || n.contains('\0') || !seen.insert(n.to_ascii_lowercase())
                {
                    format!("c{i}")
                } else {
                    n
                };
                seen.insert(n.to_ascii_lowercase());
                t.columns.push(Column::new(n, ty).nullable(nullable));
            }
            if t.columns.iter().all(|c| c.sql_type == SqlType::Real) {
                t.columns[0].sql_type = SqlType::Integer;
            }
            let keyable: Vec<usize> = (0..t.columns.len())
                .filter(|&i| t.columns[i].sql_type != SqlType::Real)
                .collect();
            for pick in key_picks {
                let c = keyable[pick.index(keyable.len())];
                let name = t.columns[c].name.clone();
                if !t.primary_key.contains(&name) {
                    t.columns[c].nullable = false;
                    t.primary_key.push(name);
                }
            }
            t
        })
        .prop_filter("valid table", |t| t.validate().is_ok())
}

/// Key values come from small sets, so writes repeat keys.
fn key_value(ty: SqlType) -> BoxedStrategy<Value> {
    match ty {
        SqlType::Integer => {
            proptest::sample::select(vec![0, 1, -1, i64::MAX, i64::MIN, (1 << 53) + 1, 1 << 53])
                .prop_map(Value::Integer)
                .boxed()
        }
        SqlType::Text => {
            proptest::sample::select(vec!["a", "A", "é", "e\u{301}", "", "'", "\0", "🦀"])
                .prop_map(|s| Value::Text(s.to_owned()))
                .boxed()
        }
        SqlType::Blob => {
            proptest::sample::select(vec![vec![], vec![0u8], vec![0, 255], vec![b'a']])
                .prop_map(Value::Blob)
                .boxed()
        }
        SqlType::Real => unreachable!("REAL columns are never keys"),
    }
}

fn any_value(ty: SqlType, nullable: bool) -> BoxedStrategy<Value> {
    let value = match ty {
        SqlType::Integer => prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MIN), -10i64..10]
            .prop_map(Value::Integer)
            .boxed(),
        SqlType::Real => prop_oneof![
            4 => any::<f64>().prop_filter("finite", |x| x.is_finite()).prop_map(Value::Real),
            1 => any::<i32>().prop_map(|i| Value::Integer(i.into())),
        ]
        .boxed(),
        SqlType::Text => "\\PC{0,24}|[\\x00-\\x1f\"\\\\']{0,8}"
            .prop_map(Value::Text)
            .boxed(),
        SqlType::Blob => proptest::collection::vec(any::<u8>(), 0..24)
            .prop_map(Value::Blob)
            .boxed(),
    };
    if nullable {
        prop_oneof![1 => Just(Value::Null), 4 => value].boxed()
    } else {
        value
    }
}

fn row(t: &TableSchema) -> impl Strategy<Value = Vec<Value>> + use<> {
    t.columns
        .iter()
        .map(|c| {
            if t.is_key_column(&c.name) {
                key_value(c.sql_type)
            } else {
                any_value(c.sql_type, c.nullable)
            }
        })
        .collect::<Vec<_>>()
}

fn key(t: &TableSchema) -> impl Strategy<Value = Vec<Value>> + use<> {
    t.primary_key
        .iter()
        .map(|k| key_value(t.column(k).map_or(SqlType::Integer, |c| c.sql_type)))
        .collect::<Vec<_>>()
}

#[derive(Debug, Clone)]
struct Write {
    table: TableSchema,
    upserts: Vec<Vec<Value>>,
    deletes: Vec<Vec<Value>>,
    options: WriteOptions,
}

fn write() -> impl Strategy<Value = Write> {
    table().prop_flat_map(|t| {
        (
            proptest::collection::vec(row(&t), 0..120),
            proptest::collection::vec(key(&t), 0..30),
            (50usize..20_000, 1usize..10, 1usize..4),
            Just(t),
        )
            .prop_map(
                |(upserts, deletes, (bytes, statements, concurrency), table)| Write {
                    table,
                    upserts,
                    deletes,
                    options: WriteOptions::default()
                        .with_max_request_bytes(bytes)
                        .with_max_statements_per_request(statements)
                        .with_concurrency(concurrency),
                },
            )
    })
}

fn param_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(r) => (*r).into(),
        Value::Text(s) => s.clone().into(),
        // JSON-encoded statements already carry BLOBs as hex text; a native BLOB is measured
        // as the hex text it would become.
        Value::Blob(b) => b
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect::<String>()
            .into(),
    }
}

/// Every limit of every statement and request of the plan, and that each statement prepares.
fn check_plan(w: &Write, encoding: Encoding, plan: &sql::WritePlan) -> Result<(), TestCaseError> {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(&sql::ddl::create_table(&w.table))
        .map_err(|e| TestCaseError::fail(format!("create table: {e}")))?;
    for request in plan.upsert_requests.iter().chain(&plan.delete_requests) {
        prop_assert!(!request.is_empty());
        prop_assert!(request.len() <= w.options.max_statements_per_request);
        let single_row = request.len() == 1
            && (request[0].params.len() == w.table.columns.len()
                || request[0].params.len() == w.table.primary_key.len());
        let body = serde_json::json!({"batch": request.iter().map(|s| serde_json::json!({
            "sql": s.sql,
            "params": s.params.iter().map(param_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()});
        let actual = serde_json::to_vec(&body).unwrap().len();
        if !single_row {
            // 16: the `{"batch":[]}` around the statements.
            prop_assert!(
                actual <= w.options.max_request_bytes + 16,
                "{:?}: actual body {} bytes > budget {}",
                encoding,
                actual,
                w.options.max_request_bytes
            );
        }
        for s in request {
            prop_assert!(s.params.len() <= 100, "{} params", s.params.len());
            prop_assert!(s.sql.len() < 100_000, "{} bytes of SQL", s.sql.len());
            let prepared = conn
                .prepare(&s.sql)
                .map_err(|e| TestCaseError::fail(format!("{e}: {}", s.sql)))?;
            prop_assert_eq!(prepared.parameter_count(), s.params.len());
        }
    }
    Ok(())
}

async fn table_rows(db: &D1Database, t: &TableSchema) -> Vec<Vec<Value>> {
    let outcome = db
        .request(vec![select::select_all(t, Encoding::Native)])
        .await
        .unwrap();
    let mut rows = outcome.results.into_iter().next().unwrap().rows;
    rows.sort_by_cached_key(|r| format!("{r:?}"));
    rows
}

/// The reference model's single-row upsert (`INSERT .. ON CONFLICT (key) DO UPDATE`) and
/// single-key delete, written independently of the SQL generator under test.
fn reference_statements(t: &TableSchema) -> (String, String) {
    let list = |names: &mut dyn Iterator<Item = &str>| {
        names.map(quote_ident).collect::<Vec<_>>().join(", ")
    };
    let columns = list(&mut t.columns.iter().map(|c| c.name.as_str()));
    let key = list(&mut t.primary_key.iter().map(String::as_str));
    let placeholders = vec!["?"; t.columns.len()].join(", ");
    let updates: Vec<String> = t
        .columns
        .iter()
        .filter(|c| !t.primary_key.contains(&c.name))
        .map(|c| format!("{0} = excluded.{0}", quote_ident(&c.name)))
        .collect();
    let action = if updates.is_empty() {
        "NOTHING".to_string()
    } else {
        format!("UPDATE SET {}", updates.join(", "))
    };
    let table = quote_ident(&t.name);
    let upsert = format!(
        "INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT ({key}) DO {action}"
    );
    let condition: Vec<String> = t
        .primary_key
        .iter()
        .map(|k| format!("{} = ?", quote_ident(k)))
        .collect();
    let delete = format!("DELETE FROM {table} WHERE {}", condition.join(" AND "));
    (upsert, delete)
}

async fn check_applied(w: &Write, encoding: Encoding, plan: sql::WritePlan) {
    let options = thread_flow::MigrationOptions::default();
    let planned = D1Database::in_memory().unwrap();
    planned.migrate_table(&w.table, &options).await.unwrap();
    // The plan's requests as planned: every upsert request, then every delete request.
    for request in plan.upsert_requests.into_iter().chain(plan.delete_requests) {
        planned.request(request).await.unwrap();
    }
    let reference = D1Database::in_memory().unwrap();
    reference.migrate_table(&w.table, &options).await.unwrap();
    let (upsert, delete) = reference_statements(&w.table);
    for r in &w.upserts {
        reference
            .request(vec![Statement::new(upsert.clone(), r.clone())])
            .await
            .unwrap();
    }
    for k in &w.deletes {
        reference
            .request(vec![Statement::new(delete.clone(), k.clone())])
            .await
            .unwrap();
    }
    let got = table_rows(&planned, &w.table).await;
    let want = table_rows(&reference, &w.table).await;
    assert!(
        got == want,
        "{encoding:?} plan differs from one-by-one\n got {got:?}\nwant {want:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn planned_writes_stay_within_limits_parse_and_match_one_by_one(w in write()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for encoding in [Encoding::Native, Encoding::Json] {
            let plan = plan_write(&w.table, w.upserts.clone(), w.deletes.clone(), encoding, &w.options)
                .map_err(|e| TestCaseError::fail(format!("{encoding:?}: {e}")))?;
            check_plan(&w, encoding, &plan)?;
            runtime.block_on(check_applied(&w, encoding, plan));
        }
    }
}
