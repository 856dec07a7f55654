//! Batch planner properties: every statement within D1's limits, requests within the byte
//! budget, last-wins de-duplication, typed errors before anything is sent.

use thread_flow::sql::{self, Encoding, plan_write};
use thread_flow::{Column, Error, SqlType, Statement, TableSchema, Value, WriteOptions};

fn six() -> TableSchema {
    let mut t = TableSchema::new("items");
    t.columns = vec![
        Column::new("key", SqlType::Text),
        Column::new("a", SqlType::Integer),
        Column::new("b", SqlType::Integer),
        Column::new("r", SqlType::Real),
        Column::new("t", SqlType::Text),
        Column::new("n", SqlType::Text).nullable(true),
    ];
    t.primary_key = vec!["key".into()];
    t
}

fn row(i: usize) -> Vec<Value> {
    vec![
        Value::Text(format!("key-{i:07}")),
        Value::Integer(i as i64),
        Value::Integer(-(i as i64) << 40),
        Value::Real(i as f64 / 3.0),
        Value::Text("x".repeat(i % 50)),
        if i.is_multiple_of(3) {
            Value::Null
        } else {
            Value::Text(format!("note \"{i}\""))
        },
    ]
}

/// Plans upserting `rows` (no deletes) with the default options.
fn plan_upserts(
    table: &TableSchema,
    rows: Vec<Vec<Value>>,
    encoding: Encoding,
) -> Result<sql::WritePlan, Error> {
    plan_write(table, rows, vec![], encoding, &WriteOptions::default())
}

/// Bytes of the JSON body D1's HTTP API receives for `request` (BLOBs as hex text).
fn body_len(request: &[Statement]) -> usize {
    let param = |v: &Value| match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => (*i).into(),
        Value::Real(r) => (*r).into(),
        Value::Text(s) => s.as_str().into(),
        Value::Blob(b) => b
            .iter()
            .map(|x| format!("{x:02X}"))
            .collect::<String>()
            .into(),
    };
    let batch: Vec<serde_json::Value> = request
        .iter()
        .map(|s| serde_json::json!({"sql": s.sql, "params": s.params.iter().map(param).collect::<Vec<_>>()}))
        .collect();
    serde_json::to_vec(&serde_json::json!({ "batch": batch }))
        .map(|body| body.len())
        .unwrap_or(usize::MAX)
}

fn check_limits(plan: &sql::WritePlan, opts: &WriteOptions, width: usize) {
    for request in plan.upsert_requests.iter().chain(&plan.delete_requests) {
        assert!(!request.is_empty());
        assert!(request.len() <= opts.max_statements_per_request);
        let bytes = body_len(request);
        if request.len() > 1 {
            // 16: the `{"batch":[]}` around the statements.
            assert!(
                bytes <= opts.max_request_bytes + 16,
                "request of {bytes} bytes over {}",
                opts.max_request_bytes
            );
        }
        for s in request {
            assert!(s.params.len() <= 100, "{} params", s.params.len());
            assert!(s.sql.len() < 100_000, "{} bytes of SQL", s.sql.len());
            assert_eq!(s.sql.matches('?').count(), s.params.len());
            let _ = width;
        }
    }
}

#[test]
fn empty_write_is_an_empty_plan() {
    let plan = plan_upserts(&six(), vec![], Encoding::Native).unwrap();
    assert!(plan.is_empty());
    assert_eq!(plan.requests(), 0);
}

#[test]
fn statements_and_requests_stay_within_limits() {
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..30 {
        let n = rng.usize(1..5000);
        let opts = WriteOptions::default()
            .with_max_request_bytes(rng.usize(2_000..200_000))
            .with_max_statements_per_request(rng.usize(1..50))
            .with_concurrency(1);
        let encoding = if round % 2 == 0 {
            Encoding::Native
        } else {
            Encoding::Json
        };
        let rows: Vec<_> = (0..n).map(row).collect();
        let keys: Vec<_> = (0..n / 2)
            .map(|i| vec![Value::Text(format!("gone-{i}"))])
            .collect();
        let plan = plan_write(&six(), rows, keys, encoding, &opts).unwrap();
        check_limits(&plan, &opts, 6);
        assert_eq!(plan.upsert_rows, n as u64);
        assert_eq!(plan.delete_rows, (n / 2) as u64);
        let upsert_params: usize = plan
            .upsert_requests
            .iter()
            .flatten()
            .map(|s| s.params.len())
            .sum();
        assert_eq!(upsert_params, 6 * n);
        let delete_params: usize = plan
            .delete_requests
            .iter()
            .flatten()
            .map(|s| s.params.len())
            .sum();
        assert_eq!(delete_params, n / 2);
        assert_eq!(plan.upsert_first_keys.len(), plan.upsert_requests.len());
        assert_eq!(plan.upsert_first_keys[0], "\"key-0000000\"");
        // Rows per statement: floor(100 / 6) = 16 at most.
        for s in plan.upsert_requests.iter().flatten() {
            assert!(s.params.len() / 6 <= 16);
        }
    }
}

#[test]
fn default_options_pack_ten_thousand_rows_in_few_requests() {
    let rows: Vec<_> = (0..10_000).map(row).collect();
    let plan = plan_upserts(&six(), rows, Encoding::Json).unwrap();
    check_limits(&plan, &WriteOptions::default(), 6);
    assert!(
        plan.upsert_requests.len() <= 5,
        "{} requests",
        plan.upsert_requests.len()
    );
    // Full statements of 16 rows, except at most one partial statement per request.
    assert!(plan.statements() <= 10_000usize.div_ceil(16) + plan.requests());
}

#[test]
fn wide_rows_get_one_row_per_statement() {
    let mut t = TableSchema::new("wide");
    t.columns = (0..100)
        .map(|i| Column::new(format!("c{i}"), SqlType::Integer))
        .collect();
    t.primary_key = vec!["c0".into()];
    let rows: Vec<_> = (0..10)
        .map(|i| (0..100).map(|c| Value::Integer(i * 1000 + c)).collect())
        .collect();
    let plan = plan_upserts(&t, rows, Encoding::Native).unwrap();
    assert_eq!(plan.statements(), 10);
    for s in plan.upsert_requests.iter().flatten() {
        assert_eq!(s.params.len(), 100);
    }
}

#[test]
fn duplicate_keys_last_wins_in_first_appearance_order() {
    let mut a1 = row(1);
    a1[1] = Value::Integer(100);
    let mut a2 = row(1);
    a2[1] = Value::Integer(200);
    let rows = vec![a1, row(2), a2, row(3), row(2)];
    let plan = plan_upserts(&six(), rows, Encoding::Native).unwrap();
    assert_eq!(plan.upsert_rows, 3);
    let params = &plan.upsert_requests[0][0].params;
    assert_eq!(params.len(), 18);
    assert_eq!(params[0], Value::Text("key-0000001".into()));
    assert_eq!(params[1], Value::Integer(200));
    assert_eq!(params[6], Value::Text("key-0000002".into()));
    assert_eq!(params[12], Value::Text("key-0000003".into()));

    let keys = vec![
        vec![Value::Text("k".into())],
        vec![Value::Text("k".into())],
        vec![Value::Text("j".into())],
    ];
    let plan = plan_write(
        &six(),
        vec![],
        keys,
        Encoding::Native,
        &WriteOptions::default(),
    )
    .unwrap();
    assert_eq!(plan.delete_rows, 2);
    assert_eq!(
        plan.delete_requests[0][0].params,
        vec![Value::Text("k".into()), Value::Text("j".into())]
    );
}

#[test]
fn a_key_both_upserted_and_deleted_is_planned_upsert_first() {
    let plan = plan_write(
        &six(),
        vec![row(1)],
        vec![vec![Value::Text("key-0000001".into())]],
        Encoding::Native,
        &WriteOptions::default(),
    )
    .unwrap();
    assert_eq!(plan.upsert_requests.len(), 1);
    assert_eq!(plan.delete_requests.len(), 1);
}

#[test]
fn oversize_value_is_rejected_with_column_and_key() {
    let mut rows: Vec<_> = (0..100).map(row).collect();
    rows[42][4] = Value::Text("y".repeat(2_000_001));
    let err = plan_upserts(&six(), rows, Encoding::Native).unwrap_err();
    match err {
        Error::LimitExceeded {
            table,
            limit,
            max,
            actual,
            column,
            key,
        } => {
            assert_eq!(table, "items");
            assert_eq!(limit, "bytes per value");
            assert_eq!(max, 2_000_000);
            assert_eq!(actual, 2_000_001);
            assert_eq!(column.as_deref(), Some("t"));
            assert_eq!(key.as_deref(), Some("\"key-0000042\""));
        }
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
}

#[test]
fn oversize_row_is_rejected() {
    let mut r = row(5);
    r[4] = Value::Text("a".repeat(1_200_000));
    r[5] = Value::Text("b".repeat(1_200_000));
    let err = plan_upserts(&six(), vec![r], Encoding::Json).unwrap_err();
    assert!(
        matches!(&err, Error::LimitExceeded { limit: "bytes per row", key: Some(k), .. } if k == "\"key-0000005\""),
        "{err:?}"
    );
}

#[test]
fn a_big_row_goes_alone_in_its_own_request() {
    let mut rows: Vec<_> = (0..40).map(row).collect();
    rows[10][4] = Value::Text("z".repeat(1_500_000));
    let opts = WriteOptions::default();
    let plan = plan_write(&six(), rows, vec![], Encoding::Native, &opts).unwrap();
    check_limits(&plan, &opts, 6);
    let big = plan
        .upsert_requests
        .iter()
        .find(|r| {
            r.iter()
                .any(|s| s.params.iter().any(|p| p.byte_len() == 1_500_000))
        })
        .unwrap();
    assert_eq!(big.len(), 1);
    assert_eq!(big[0].params.len(), 6);
}

#[test]
fn statement_that_cannot_fit_the_sql_limit_is_rejected() {
    let mut t = TableSchema::new("t");
    let long = "c".repeat(20_000);
    t.columns = vec![
        Column::new("k", SqlType::Integer),
        Column::new(format!("{long}1"), SqlType::Text),
        Column::new(format!("{long}2"), SqlType::Text),
    ];
    t.primary_key = vec!["k".into()];
    let r = vec![
        Value::Integer(9),
        Value::Text("a".into()),
        Value::Text("b".into()),
    ];
    let err = plan_upserts(&t, vec![r], Encoding::Native).unwrap_err();
    assert!(
        matches!(&err, Error::LimitExceeded { limit: "bytes of SQL per statement", key: Some(k), .. } if k == "9"),
        "{err:?}"
    );
}

#[test]
fn bind_errors_name_table_column_and_key() {
    let mut r = row(3);
    r[1] = Value::Text("not a number".into());
    match plan_upserts(&six(), vec![row(1), r], Encoding::Native) {
        Err(Error::Bind {
            table,
            column,
            key,
            message,
        }) => {
            assert_eq!(table, "items");
            assert_eq!(column.as_deref(), Some("a"));
            assert_eq!(key.as_deref(), Some("\"key-0000003\""));
            assert!(message.contains("INTEGER"), "{message}");
        }
        other => panic!("expected Bind, got {other:?}"),
    }
    let mut r = row(4);
    r[4] = Value::Null;
    assert!(matches!(
        plan_upserts(&six(), vec![r], Encoding::Native),
        Err(Error::Bind { column, .. }) if column.as_deref() == Some("t")
    ));
    let mut r = row(4);
    r[3] = Value::Real(f64::NAN);
    assert!(matches!(
        plan_upserts(&six(), vec![r], Encoding::Native),
        Err(Error::Bind { column, .. }) if column.as_deref() == Some("r")
    ));
    let mut r = row(4);
    r.pop();
    assert!(matches!(
        plan_upserts(&six(), vec![r], Encoding::Native),
        Err(Error::Bind { .. })
    ));
    assert!(matches!(
        plan_write(&six(), vec![], vec![vec![Value::Integer(1)]], Encoding::Native, &WriteOptions::default()),
        Err(Error::Bind { column, .. }) if column.as_deref() == Some("key")
    ));
    // An INTEGER is accepted in a REAL column (SQLite converts it exactly).
    let mut r = row(4);
    r[3] = Value::Integer(2);
    assert!(plan_upserts(&six(), vec![r], Encoding::Native).is_ok());
}

#[test]
fn composite_key_deletes_fit_the_parameter_limit() {
    let mut t = TableSchema::new("pairs");
    t.columns = vec![
        Column::new("a", SqlType::Text),
        Column::new("b", SqlType::Integer),
        Column::new("c", SqlType::Integer),
    ];
    t.primary_key = vec!["a".into(), "b".into(), "c".into()];
    let keys: Vec<_> = (0..1000)
        .map(|i| {
            vec![
                Value::Text(format!("{i}")),
                Value::Integer(i),
                Value::Integer(-i),
            ]
        })
        .collect();
    let plan = plan_write(&t, vec![], keys, Encoding::Native, &WriteOptions::default()).unwrap();
    for s in plan.delete_requests.iter().flatten() {
        assert!(s.params.len() <= 99);
        assert!(s.sql.contains("IN (VALUES (?,?,?),"));
    }
    assert_eq!(plan.statements(), 1000usize.div_ceil(33));
}
