//! The embedded local D1: one transaction per request, D1's limits, D1-shaped errors.

use thread_flow::sql::Statement;
use thread_flow::{D1Database, Error, Value};

async fn db_with_table() -> D1Database {
    let db = D1Database::in_memory().unwrap();
    db.execute(
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, b BLOB) STRICT",
        vec![],
    )
    .await
    .unwrap();
    db
}

fn expect_sql_error(e: Error, needle: &str) {
    match e {
        Error::Api {
            code,
            status,
            message,
            attempts,
            ..
        } => {
            assert_eq!(code, Some(7500));
            assert_eq!(status, None);
            assert_eq!(attempts, 1);
            assert!(
                message.contains(needle),
                "message {message:?} lacks {needle:?}"
            );
        }
        other => panic!("expected Api error, got {other:?}"),
    }
}

#[tokio::test]
async fn execute_binds_and_returns_typed_rows() {
    let db = db_with_table().await;
    let r = db
        .execute(
            "INSERT INTO t (k, v, b) VALUES (?, ?, ?), (?, ?, ?)",
            vec![
                Value::Integer(i64::MAX),
                Value::Text("héllo 🌍".into()),
                Value::Blob(vec![0, 1, 255]),
                Value::Integer(-5),
                Value::Null,
                Value::Null,
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.changes, 2);
    let r = db
        .execute("SELECT k, v, b FROM t ORDER BY k", vec![])
        .await
        .unwrap();
    assert_eq!(r.columns, vec!["k", "v", "b"]);
    assert_eq!(
        r.rows,
        vec![
            vec![Value::Integer(-5), Value::Null, Value::Null],
            vec![
                Value::Integer(i64::MAX),
                Value::Text("héllo 🌍".into()),
                Value::Blob(vec![0, 1, 255])
            ],
        ]
    );
}

#[tokio::test]
async fn a_failing_statement_rolls_back_the_whole_request() {
    let db = db_with_table().await;
    let err = db
        .batch(vec![
            Statement::new(
                "INSERT INTO t (k, v) VALUES (?, ?)",
                vec![Value::Integer(1), Value::Text("a".into())],
            ),
            Statement::new(
                "INSERT INTO t (k, v) VALUES (?, ?)",
                vec![Value::Integer(1), Value::Text("b".into())],
            ),
        ])
        .await
        .unwrap_err();
    expect_sql_error(err, "UNIQUE constraint failed");
    let r = db.execute("SELECT COUNT(*) FROM t", vec![]).await.unwrap();
    assert_eq!(r.rows, vec![vec![Value::Integer(0)]]);
    // The connection is usable afterwards.
    db.execute("INSERT INTO t (k) VALUES (?)", vec![Value::Integer(2)])
        .await
        .unwrap();
}

#[tokio::test]
async fn strict_tables_reject_wrong_types() {
    let db = db_with_table().await;
    let err = db
        .execute(
            "INSERT INTO t (k, b) VALUES (?, ?)",
            vec![Value::Integer(1), Value::Text("x".into())],
        )
        .await;
    expect_sql_error(err.unwrap_err(), "cannot store TEXT value in BLOB column");
    let err = db
        .execute(
            "INSERT INTO t (k) VALUES (?)",
            vec![Value::Text("x".into())],
        )
        .await;
    expect_sql_error(err.unwrap_err(), "SQLITE_MISMATCH");
}

#[tokio::test]
async fn more_than_100_parameters_are_refused() {
    let db = db_with_table().await;
    let placeholders = vec!["(?)"; 101].join(",");
    let params = (0..101).map(Value::Integer).collect();
    let err = db
        .execute(format!("INSERT INTO t (k) VALUES {placeholders}"), params)
        .await
        .unwrap_err();
    expect_sql_error(err, "too many SQL variables");
    let placeholders = vec!["(?)"; 100].join(",");
    let params = (0..100).map(Value::Integer).collect();
    let r = db
        .execute(format!("INSERT INTO t (k) VALUES {placeholders}"), params)
        .await
        .unwrap();
    assert_eq!(r.changes, 100);
}

#[tokio::test]
async fn sql_over_100000_bytes_is_refused() {
    let db = db_with_table().await;
    let sql = format!("SELECT 1 /* {} */", "x".repeat(100_000));
    expect_sql_error(db.execute(sql, vec![]).await.unwrap_err(), "SQLITE_TOOBIG");
}

#[tokio::test]
async fn values_over_2000000_bytes_are_refused() {
    let db = db_with_table().await;
    let err = db
        .execute(
            "INSERT INTO t (k, v) VALUES (1, ?)",
            vec![Value::Text("a".repeat(2_000_001))],
        )
        .await
        .unwrap_err();
    expect_sql_error(err, "SQLITE_TOOBIG");
    let err = db
        .execute(
            "INSERT INTO t (k, b) VALUES (1, ?)",
            vec![Value::Blob(vec![7; 2_000_001])],
        )
        .await
        .unwrap_err();
    expect_sql_error(err, "SQLITE_TOOBIG");
    let ok = db
        .execute(
            "INSERT INTO t (k, b) VALUES (1, ?)",
            vec![Value::Blob(vec![7; 1_900_000])],
        )
        .await
        .unwrap();
    assert_eq!(ok.changes, 1);
}

#[tokio::test]
async fn transaction_control_is_refused() {
    let db = db_with_table().await;
    for sql in [
        "BEGIN",
        "begin transaction",
        "  COMMIT",
        "SAVEPOINT a",
        "RELEASE a",
        "ROLLBACK",
        "/* x */ BEGIN IMMEDIATE",
    ] {
        let err = db.execute(sql, vec![]).await.unwrap_err();
        expect_sql_error(err, "not allowed");
    }
}

#[tokio::test]
async fn wrong_parameter_count_is_an_error() {
    let db = db_with_table().await;
    let err = db
        .execute(
            "INSERT INTO t (k, v) VALUES (?, ?)",
            vec![Value::Integer(1)],
        )
        .await
        .unwrap_err();
    expect_sql_error(err, "parameter");
}

#[tokio::test]
async fn request_reports_bytes_and_one_attempt() {
    let db = db_with_table().await;
    let sql = "INSERT INTO t (k, v) VALUES (?, ?)";
    let outcome = db
        .request(vec![Statement::new(
            sql,
            vec![Value::Integer(1), Value::Text("abcd".into())],
        )])
        .await
        .unwrap();
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.bytes_sent, (sql.len() + 8 + 4) as u64);
    assert_eq!(outcome.results[0].changes, 1);
}

#[tokio::test]
async fn file_database_persists_and_enforces_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/db.sqlite");
    {
        let db = D1Database::local(&path).unwrap();
        db.batch(vec![
            Statement::raw("CREATE TABLE parent (id INTEGER PRIMARY KEY) STRICT"),
            Statement::raw("CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id)) STRICT"),
            Statement::raw("INSERT INTO parent (id) VALUES (1)"),
        ])
        .await
        .unwrap();
        let err = db
            .execute("INSERT INTO child (id, p) VALUES (1, 2)", vec![])
            .await
            .unwrap_err();
        expect_sql_error(err, "FOREIGN KEY constraint failed");
        let mode = db.execute("PRAGMA journal_mode", vec![]).await.unwrap();
        assert_eq!(mode.rows, vec![vec![Value::Text("wal".into())]]);
    }
    let db = D1Database::local(&path).unwrap();
    let r = db.execute("SELECT id FROM parent", vec![]).await.unwrap();
    assert_eq!(r.rows, vec![vec![Value::Integer(1)]]);
}
