//! A quick throughput check of the local write path against raw rusqlite (ignored by default;
//! the real benchmark lives with the benches). Run with
//! `cargo test --release -p thread-flow --test local_throughput -- --ignored --nocapture`.

use std::time::Instant;

use thread_flow::{Column, D1Database, SqlType, TableSchema, Value};

const ROWS: usize = 200_000;

fn schema() -> TableSchema {
    let mut t = TableSchema::new("bench");
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

fn rows() -> Vec<Vec<Value>> {
    (0..ROWS)
        .map(|i| {
            vec![
                Value::Text(format!("key-{i:08}")),
                Value::Integer(i as i64),
                Value::Integer((i * 7) as i64),
                Value::Real(i as f64 * 0.5),
                Value::Text(format!("text value number {i}")),
                if i % 2 == 0 {
                    Value::Null
                } else {
                    Value::Text("note".into())
                },
            ]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "timing check; run explicitly in release mode"]
async fn local_upsert_vs_raw_rusqlite() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema();

    // thread-flow
    let mut db = D1Database::local(dir.path().join("tf.db")).unwrap();
    if let Ok(b) = std::env::var("TF_BUDGET") {
        db = db.with_write_options(thread_flow::sql::WriteOptions {
            max_request_bytes: b.parse().unwrap(),
            max_statements_per_request: 1_000_000,
            concurrency: 6,
        });
    }
    db.migrate_table(&schema, &Default::default())
        .await
        .unwrap();
    let data = rows();
    let start = Instant::now();
    let report = db.write_rows(&schema, data, vec![]).await.unwrap();
    let ours = start.elapsed();
    assert_eq!(db.count_rows("bench").await.unwrap(), ROWS as u64);

    // raw rusqlite: one prepared 16-row INSERT, one transaction, same schema and settings.
    let mut conn = rusqlite::Connection::open(dir.path().join("raw.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(&thread_flow::sql::ddl::create_table(&schema))
        .unwrap();
    let data = rows();
    let start = Instant::now();
    {
        let tx = conn.transaction().unwrap();
        let group = "(?,?,?,?,?,?)";
        let upsert = std::env::var("RAW_UPSERT").is_ok();
        let tail = if upsert {
            " ON CONFLICT (key) DO UPDATE SET a = excluded.a, b = excluded.b, r = excluded.r, t = excluded.t, n = excluded.n"
        } else {
            ""
        };
        let full = format!(
            "INSERT INTO bench (key,a,b,r,t,n) VALUES {}{tail}",
            vec![group; 16].join(",")
        );
        let mut stmt = tx.prepare(&full).unwrap();
        for chunk in data.chunks(16) {
            if chunk.len() == 16 {
                stmt.execute(rusqlite::params_from_iter(chunk.iter().flatten()))
                    .unwrap();
            } else {
                let sql = format!(
                    "INSERT INTO bench (key,a,b,r,t,n) VALUES {}",
                    vec![group; chunk.len()].join(",")
                );
                tx.execute(&sql, rusqlite::params_from_iter(chunk.iter().flatten()))
                    .unwrap();
            }
        }
        drop(stmt);
        tx.commit().unwrap();
    }
    let raw = start.elapsed();
    let ours_rps = ROWS as f64 / ours.as_secs_f64();
    let raw_rps = ROWS as f64 / raw.as_secs_f64();
    println!(
        "thread-flow: {ours_rps:.0} rows/s ({} requests), raw rusqlite: {raw_rps:.0} rows/s, ratio {:.2}",
        report.requests,
        ours_rps / raw_rps
    );
}
