//! The embedded local D1: one transaction per request, D1's limits, D1-shaped errors.

use std::time::Duration;

use thread_flow::Statement;
use thread_flow::client::LocalConfig;
use thread_flow::client::RetryStop;
use thread_flow::client::http::RetryPolicy;
use thread_flow::{Column, D1Database, DatabaseErrorKind, Error, SqlType, TableSchema, Value};

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

// ---- Issue 10: one statement per text, no double-quoted strings, BUSY retried ----

#[tokio::test]
async fn trailing_statements_are_refused_and_nothing_runs() {
    let db = db_with_table().await;
    db.execute("INSERT INTO t (k, v) VALUES (1, 'kept')", vec![])
        .await
        .unwrap();
    for sql in [
        "SELECT 1; DROP TABLE t",
        "DELETE FROM t; DROP TABLE t;",
        "INSERT INTO t (k) VALUES (2); DELETE FROM t",
        "SELECT 1; not even sql",
        "SELECT 1 /* ; */ ; -- comment\n DROP TABLE t",
    ] {
        let err = db.execute(sql, vec![]).await.unwrap_err();
        expect_sql_error(err, "must contain only one statement");
        let err = db
            .batch(vec![
                Statement::raw("INSERT INTO t (k) VALUES (3)"),
                Statement::raw(sql),
            ])
            .await
            .unwrap_err();
        expect_sql_error(err, "must contain only one statement");
    }
    // Nothing ran: the table and its one row are there.
    let rows = db.execute("SELECT k, v FROM t", vec![]).await.unwrap();
    assert_eq!(
        rows.rows,
        vec![vec![Value::Integer(1), Value::Text("kept".into())]]
    );
    // A trailing `;`, comments, and `;` inside literals or identifiers are one statement.
    for sql in [
        "SELECT 1;",
        "SELECT 1; ",
        "SELECT 1; -- done",
        "SELECT 1; /* done */",
        "SELECT ';' AS \"a;b\"",
    ] {
        db.execute(sql, vec![])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[tokio::test]
async fn double_quoted_names_are_identifiers_never_strings() {
    let dir = tempfile::tempdir().unwrap();
    for db in [
        db_with_table().await,
        D1Database::local(dir.path().join("dqs.d1")).unwrap(),
    ] {
        db.execute(
            "CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT) STRICT",
            vec![],
        )
        .await
        .unwrap();
        db.execute("INSERT INTO t (k, v) VALUES (1, 'a')", vec![])
            .await
            .unwrap();
        // With SQLite's legacy default this returned the text "no_such_column".
        let err = db
            .execute("SELECT \"no_such_column\" FROM t", vec![])
            .await
            .unwrap_err();
        expect_sql_error(err, "no such column: \"no_such_column\"");
        let err = db
            .execute("UPDATE t SET v = \"missing\" WHERE k = 1", vec![])
            .await
            .unwrap_err();
        expect_sql_error(err, "no such column: \"missing\"");
        // DDL too.
        let err = db
            .execute("CREATE INDEX ix ON t (v) WHERE v = \"a\"", vec![])
            .await
            .unwrap_err();
        expect_sql_error(err, "no such column: \"a\"");
        // A real column in double quotes still works.
        let r = db.execute("SELECT \"v\" FROM t", vec![]).await.unwrap();
        assert_eq!(r.rows, vec![vec![Value::Text("a".into())]]);
    }
}

/// Holds the write lock of the database file at `path` from another connection until the
/// returned sender is dropped or sent to; answers once the lock is held.
fn hold_write_lock(
    path: &std::path::Path,
    key: i64,
) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let path = path.to_owned();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (locked, is_locked) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        conn.execute("INSERT INTO t (k, v) VALUES (?1, 'other')", [key])
            .unwrap();
        locked.send(()).unwrap();
        let _ = released.recv();
        conn.execute_batch("COMMIT").unwrap();
    });
    is_locked.recv().unwrap();
    (release, holder)
}

async fn busy_file(dir: &std::path::Path, config: LocalConfig) -> (D1Database, std::path::PathBuf) {
    let path = dir.join("busy.d1");
    let db = D1Database::local_with(&path, config).unwrap();
    db.execute(
        "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT) STRICT",
        vec![],
    )
    .await
    .unwrap();
    (db, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_database_is_retried_until_the_other_writer_lets_go() {
    let dir = tempfile::tempdir().unwrap();
    // SQLite waits 50 ms per attempt; the retry policy keeps trying for up to two minutes.
    let (db, path) = busy_file(
        dir.path(),
        LocalConfig::default()
            .with_busy_timeout(Duration::from_millis(50))
            .with_retry(
                RetryPolicy::default()
                    .with_max_attempts(10_000)
                    .with_backoff(Duration::from_millis(20), Duration::from_millis(100))
                    .with_deadline(Duration::from_secs(120)),
            ),
    )
    .await;
    let (release, holder) = hold_write_lock(&path, 100);
    // Let go after a while, from another thread; the write below waits for it.
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1_500));
        let _ = release.send(());
    });
    let outcome = db
        .request(vec![Statement::raw(
            "INSERT INTO t (k, v) VALUES (1, 'mine')",
        )])
        .await
        .unwrap();
    assert!(outcome.attempts > 1, "it was busy and retried: {outcome:?}");
    releaser.join().unwrap();
    holder.join().unwrap();

    // The streamed write path (D1Table, write_rows) waits the same way.
    let (release, holder) = hold_write_lock(&path, 101);
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1_500));
        let _ = release.send(());
    });
    let mut schema = TableSchema::new("t");
    schema.columns = vec![
        Column::new("k", SqlType::Integer).nullable(false),
        Column::new("v", SqlType::Text),
    ];
    schema.primary_key = vec!["k".into()];
    let report = db
        .write_rows(
            &schema,
            vec![vec![Value::Integer(2), Value::Text("streamed".into())]],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(report.rows, 1);
    assert!(report.retries > 0, "{report:?}");
    releaser.join().unwrap();
    holder.join().unwrap();
    let rows = db
        .execute("SELECT k, v FROM t ORDER BY k", vec![])
        .await
        .unwrap();
    assert_eq!(
        rows.rows,
        vec![
            vec![Value::Integer(1), Value::Text("mine".into())],
            vec![Value::Integer(2), Value::Text("streamed".into())],
            vec![Value::Integer(100), Value::Text("other".into())],
            vec![Value::Integer(101), Value::Text("other".into())],
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_database_without_retries_is_a_retryable_typed_error_and_nothing_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (db, path) = busy_file(
        dir.path(),
        LocalConfig::default()
            .with_busy_timeout(Duration::from_millis(50))
            .with_retry(RetryPolicy::never()),
    )
    .await;
    let (release, holder) = hold_write_lock(&path, 100);
    let err = db
        .execute("INSERT INTO t (k, v) VALUES (1, 'mine')", vec![])
        .await
        .unwrap_err();
    release.send(()).unwrap();
    holder.join().unwrap();
    match &err {
        Error::Api {
            status: None,
            message,
            attempts: 1,
            stopped: Some(RetryStop::MaxAttempts { max: 1 }),
            hint: Some(hint),
            kind: DatabaseErrorKind::Busy,
            ..
        } => {
            assert!(message.ends_with("SQLITE_BUSY"), "{message}");
            assert!(hint.contains("LocalConfig"), "{hint}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.database_kind(), Some(DatabaseErrorKind::Busy));
    // SQLite's own error stays reachable as the source.
    let source = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<rusqlite::Error>());
    assert_eq!(
        source.and_then(rusqlite::Error::sqlite_error_code),
        Some(rusqlite::ErrorCode::DatabaseBusy),
        "{source:?}"
    );
    assert!(err.is_retryable());
    let rows = db.execute("SELECT k FROM t", vec![]).await.unwrap();
    assert_eq!(rows.rows, vec![vec![Value::Integer(100)]]);
}

/// A D1 file the library creates, and the folders it makes for it, are private to their
/// owner; an existing folder keeps its mode.
#[cfg(unix)]
#[tokio::test]
async fn a_new_local_file_and_its_new_folders_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = tmp.path().join("made").join("deeper").join("index.d1");
    let db = thread_flow::D1Database::local(&path).expect("open");
    db.execute("CREATE TABLE t (x INTEGER)", Vec::new())
        .await
        .expect("create");
    assert_eq!(mode(&path), 0o600, "the D1 file");
    assert_eq!(
        mode(&tmp.path().join("made")),
        0o700,
        "a folder made for it"
    );
    assert_eq!(
        mode(&tmp.path().join("made/deeper")),
        0o700,
        "a folder made for it"
    );
    assert_eq!(mode(tmp.path()), 0o755, "an existing folder is left alone");
    for side in ["index.d1-wal", "index.d1-shm"] {
        let side = path.with_file_name(side);
        if side.exists() {
            assert_eq!(mode(&side), 0o600, "{}", side.display());
        }
    }
}
