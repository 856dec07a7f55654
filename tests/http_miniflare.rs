//! The HTTP transport against the real D1 engine (Miniflare 4 / workerd, started from
//! `tests/d1-server`): the same protocol, exact values through `CAST`/`unhex`, typed errors,
//! and a teardown that leaves no process behind.
//!
//! Needs the npm packages: `scripts/test.sh` installs them (`npm ci` in tests/d1-server).
//! Without them these tests fail with that instruction; they never skip.

use std::process::Command;

use thread_flow::Statement;
use thread_flow::{D1Database, Error, Value};
use thread_flow_suite::miniflare::LocalD1Server;

fn start() -> LocalD1Server {
    LocalD1Server::start().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn raw_round_trip_on_the_real_engine() {
    let server = start();
    let db = server.database().unwrap();
    let big = [i64::MAX, i64::MIN, (1 << 53) + 1, -(1 << 53) - 1, 42];
    let mut statements = vec![Statement::raw(
        "CREATE TABLE \"round trip\" (\"id\" INTEGER PRIMARY KEY, \"b\" BLOB, \"t\" TEXT, \"r\" REAL, \"n\" TEXT) STRICT",
    )];
    for (i, n) in big.iter().enumerate() {
        statements.push(Statement::new(
            "INSERT INTO \"round trip\" VALUES (CAST(? AS INTEGER), unhex(?), ?, ?, ?)",
            vec![
                Value::Text(n.to_string()),
                Value::Text(format!("00ff7f{i:02x}")),
                Value::Text(format!("é🎉\u{0301}\"';-- {i}")),
                Value::Real(i as f64 + 0.25),
                if i % 2 == 0 {
                    Value::Null
                } else {
                    Value::Text(String::new())
                },
            ],
        ));
    }
    statements.push(Statement::raw(
        "SELECT CAST(\"id\" AS TEXT) AS \"id_text\", hex(\"b\") AS \"b\", \"t\", \"r\", \"n\", \"t\" \
         FROM \"round trip\" ORDER BY \"id\"",
    ));
    let outcome = db.request(statements).await.unwrap();
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.results.len(), big.len() + 2);
    assert_eq!(outcome.results[1].changes, 1);
    let select = outcome.results.last().unwrap();
    assert_eq!(
        select.columns,
        ["id_text", "b", "t", "r", "n", "t"],
        "order and duplicate names kept"
    );
    let mut expected: Vec<(usize, i64)> = big.iter().copied().enumerate().collect();
    expected.sort_by_key(|(_, n)| *n);
    let want: Vec<Vec<Value>> = expected
        .iter()
        .map(|(i, n)| {
            let t = Value::Text(format!("é🎉\u{0301}\"';-- {i}"));
            vec![
                Value::Text(n.to_string()),
                Value::Text(format!("00FF7F{i:02X}")),
                t.clone(),
                Value::Real(*i as f64 + 0.25),
                if i % 2 == 0 {
                    Value::Null
                } else {
                    Value::Text(String::new())
                },
                t,
            ]
        })
        .collect();
    assert_eq!(select.rows, want);

    // Raw BLOBs come back as arrays of bytes; small integers as numbers.
    let raw = db
        .request(vec![Statement::raw(
            "SELECT \"b\", \"id\" FROM \"round trip\" WHERE \"id\" = 42",
        )])
        .await
        .unwrap();
    assert_eq!(
        raw.results[0].rows,
        vec![vec![Value::Blob(vec![0, 255, 127, 4]), Value::Integer(42)]]
    );
}

#[tokio::test]
async fn sql_errors_are_typed_and_roll_back_on_the_real_engine() {
    let server = start();
    let db = server.database().unwrap();
    db.request(vec![Statement::raw(
        "CREATE TABLE \"t\" (\"id\" INTEGER PRIMARY KEY) STRICT",
    )])
    .await
    .unwrap();
    let err = db
        .request(vec![
            Statement::new("INSERT INTO \"t\" VALUES (?)", vec![Value::Integer(1)]),
            Statement::new("INSERT INTO \"t\" VALUES (?)", vec![Value::Integer(1)]),
        ])
        .await
        .unwrap_err();
    match &err {
        Error::Api {
            status: Some(400),
            code: Some(7500),
            message,
            attempts: 1,
            ..
        } => {
            assert!(message.contains("UNIQUE constraint failed"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let count = db
        .request(vec![Statement::raw("SELECT count(*) FROM \"t\"")])
        .await
        .unwrap();
    assert_eq!(
        count.results[0].rows,
        vec![vec![Value::Integer(0)]],
        "the batch rolled back"
    );
}

#[tokio::test]
async fn a_wrong_token_is_refused_with_a_hint() {
    let server = start();
    let db = D1Database::http(
        server.base_url(),
        server.account_id(),
        server.database_id(),
        "not-the-token",
    )
    .unwrap();
    match db
        .request(vec![Statement::raw("SELECT 1")])
        .await
        .unwrap_err()
    {
        Error::Api {
            status: Some(401),
            code: Some(10000),
            hint: Some(hint),
            attempts: 1,
            ..
        } => {
            assert!(hint.contains("CLOUDFLARE_API_TOKEN"));
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn group_alive(pgid: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{pgid}")])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn dropping_the_server_kills_the_whole_process_group() {
    let server = start();
    let pgid = server.process_group();
    assert!(group_alive(pgid));
    let workerd = Command::new("pgrep")
        .args(["-g", &pgid.to_string(), "workerd"])
        .output()
        .unwrap();
    assert!(
        !workerd.stdout.is_empty(),
        "workerd runs in the server's process group"
    );
    drop(server);
    assert!(!group_alive(pgid), "no process of the group survives");
}
