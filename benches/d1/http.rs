//! Section `http`: the HTTP transport against an in-process fake D1 that adds 25 ms to every
//! request, against a naive writer (one statement per request, same client and concurrency:
//! what existing D1 writers do). The naive writer runs on a fixed sample of the operations,
//! because at 25 ms per request the full 200,000 rows would take minutes; its rate is
//! computed from that sample.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value as Json, json};
use thread_flow::{D1Database, D1Table, D1Target, Value, WriteReport};
use thread_flow_suite::fake_d1::{FakeD1, FakeStats};

use crate::common::{
    BenchRow, key, per_second, raw_delete_sql, raw_insert_sql, raw_write_rows, row, rows, thousands,
};
use crate::report::{Target, figure, heading, ratio};

/// The fake server's fixed delay per request.
pub(crate) const DELAY: Duration = Duration::from_millis(25);
/// Rows upserted.
const UPSERT_ROWS: u64 = 200_000;
/// Keys deleted from a 200,000-row table.
const DELETE_KEYS: u64 = 100_000;
/// Operations of the 50/50 mix.
const MIX_OPS: u64 = 100_000;
/// Operations the naive writer performs (the first ones of each workload).
const NAIVE_SAMPLE: u64 = 2_000;

/// One naive operation: one statement, one request.
enum NaiveOp {
    Upsert(Vec<Value>),
    Delete(String),
}

fn bound(r: &BenchRow) -> anyhow::Result<Vec<Value>> {
    let mut values = Vec::with_capacity(6);
    r.bind_row(&mut values)
        .map_err(|e| anyhow::anyhow!("binding {}: {:?}", r.id, e))?;
    Ok(values)
}

fn start_fake() -> FakeD1 {
    FakeD1::builder().delay(DELAY).start()
}

/// A client of `fake` with the default concurrency (6 requests in flight) and a generous
/// timeout (a full 1 MB request is processed by SQLite inside the fake).
fn client(fake: &FakeD1) -> anyhow::Result<D1Database> {
    Ok(D1Database::http_with(
        fake.http_config()
            .with_request_timeout(Duration::from_secs(120)),
    )?)
}

/// A fake with the table created (through thread-flow's migration) and `rows` inserted
/// directly into its SQLite (setup, not timed).
async fn prepared_fake(populate: bool) -> anyhow::Result<(FakeD1, D1Database)> {
    let fake = start_fake();
    let db = client(&fake)?;
    db.table::<BenchRow>().migrate().await?;
    if populate {
        let all = rows(0..UPSERT_ROWS, 0);
        fake.with_connection(|c| -> rusqlite::Result<()> {
            c.execute_batch("BEGIN")?;
            raw_write_rows(c, &all, 100, false)?;
            c.execute_batch("COMMIT")
        })
        .context("populating the fake D1")?;
    }
    Ok((fake, db))
}

fn count(fake: &FakeD1) -> u64 {
    match fake
        .query("SELECT COUNT(*) FROM bench_rows")
        .first()
        .and_then(|r| r.first())
    {
        Some(Value::Integer(n)) => *n as u64,
        _ => u64::MAX,
    }
}

/// Requests and bytes between two snapshots.
fn delta(before: &FakeStats, after: &FakeStats) -> (u64, u64) {
    (
        after.requests - before.requests,
        after.bytes_received - before.bytes_received,
    )
}

/// Sends `ops` one per request, `concurrency` at a time, through `db`.
async fn naive_writer(
    db: &D1Database,
    ops: Vec<NaiveOp>,
    concurrency: usize,
) -> anyhow::Result<Duration> {
    let ops = Arc::new(ops);
    let next = Arc::new(AtomicUsize::new(0));
    let upsert_sql: Arc<str> = raw_insert_sql(1, true).into();
    let delete_sql: Arc<str> = raw_delete_sql(1).into();
    let start = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (db, ops, next) = (db.clone(), Arc::clone(&ops), Arc::clone(&next));
        let (upsert_sql, delete_sql) = (Arc::clone(&upsert_sql), Arc::clone(&delete_sql));
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(op) = ops.get(i) else {
                    return Ok::<(), thread_flow::Error>(());
                };
                match op {
                    NaiveOp::Upsert(values) => db.execute(&*upsert_sql, values.clone()).await?,
                    NaiveOp::Delete(k) => {
                        db.execute(&*delete_sql, vec![Value::Text(k.clone())])
                            .await?
                    }
                };
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }
    Ok(start.elapsed())
}

#[derive(Debug, Clone, Copy)]
enum Workload {
    Upsert,
    Delete,
    Mix,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Upsert => "upsert",
            Workload::Delete => "delete",
            Workload::Mix => "mix",
        }
    }
}

/// Runs the section; returns its JSON figures.
pub(crate) async fn run() -> anyhow::Result<Json> {
    heading(&format!(
        "http: D1Table over HTTP vs a naive one-statement-per-request writer (fake D1, {} ms per request, 6 requests in flight)",
        DELAY.as_millis()
    ));
    let concurrency = thread_flow::WriteOptions::default().concurrency;
    let mut out = serde_json::Map::new();
    out.insert(
        "delay_ms_per_request".into(),
        json!(DELAY.as_millis() as u64),
    );
    out.insert("concurrency".into(), json!(concurrency));
    for w in [Workload::Upsert, Workload::Delete, Workload::Mix] {
        // thread-flow: the whole workload in one call.
        let (fake, db) = prepared_fake(!matches!(w, Workload::Upsert)).await?;
        let table: D1Table<BenchRow> = db.table();
        let before = fake.stats();
        let (ops, expected, report, elapsed): (u64, u64, WriteReport, Duration) = match w {
            Workload::Upsert => {
                let all = rows(0..UPSERT_ROWS, 0);
                let start = Instant::now();
                let r = table.upsert(&all).await?;
                (UPSERT_ROWS, UPSERT_ROWS, r, start.elapsed())
            }
            Workload::Delete => {
                let keys: Vec<String> = (0..DELETE_KEYS).map(|i| key(2 * i)).collect();
                let start = Instant::now();
                let r = table.delete(&keys).await?;
                (DELETE_KEYS, UPSERT_ROWS - DELETE_KEYS, r, start.elapsed())
            }
            Workload::Mix => {
                let ups: Vec<BenchRow> = (0..MIX_OPS).step_by(2).map(|i| row(i, 1)).collect();
                let dels: Vec<String> = (1..MIX_OPS).step_by(2).map(key).collect();
                let start = Instant::now();
                let r = table.write(&ups, &dels).await?;
                (MIX_OPS, UPSERT_ROWS - MIX_OPS / 2, r, start.elapsed())
            }
        };
        let (requests, bytes) = delta(&before, &fake.stats());
        let left = count(&fake);
        ensure!(
            left == expected,
            "thread-flow http {}: {left} rows left, expected {expected}",
            w.name()
        );
        drop(fake);

        // The naive writer: the first NAIVE_SAMPLE operations, one request each.
        let (fake, db) = prepared_fake(!matches!(w, Workload::Upsert)).await?;
        let sample: Vec<NaiveOp> = match w {
            Workload::Upsert => (0..NAIVE_SAMPLE)
                .map(|i| bound(&row(i, 0)).map(NaiveOp::Upsert))
                .collect::<anyhow::Result<_>>()?,
            Workload::Delete => (0..NAIVE_SAMPLE)
                .map(|i| Ok(NaiveOp::Delete(key(2 * i))))
                .collect::<anyhow::Result<_>>()?,
            Workload::Mix => (0..NAIVE_SAMPLE)
                .map(|i| {
                    if i % 2 == 0 {
                        bound(&row(i, 1)).map(NaiveOp::Upsert)
                    } else {
                        Ok(NaiveOp::Delete(key(i)))
                    }
                })
                .collect::<anyhow::Result<_>>()?,
        };
        let naive_before = fake.stats();
        let naive_elapsed = naive_writer(&db, sample, concurrency).await?;
        let (naive_requests, naive_bytes) = delta(&naive_before, &fake.stats());
        let naive_expected = match w {
            Workload::Upsert => NAIVE_SAMPLE,
            Workload::Delete => UPSERT_ROWS - NAIVE_SAMPLE,
            Workload::Mix => UPSERT_ROWS - NAIVE_SAMPLE / 2,
        };
        let left = count(&fake);
        ensure!(
            left == naive_expected,
            "naive http {}: {left} rows left, expected {naive_expected}",
            w.name()
        );
        drop(fake);

        let rate = per_second(ops, elapsed);
        let naive_rate = per_second(NAIVE_SAMPLE, naive_elapsed);
        let per_request = ops as f64 / requests.max(1) as f64;
        println!("  {}: {ops} operations in one call", w.name());
        figure("thread-flow requests", &thousands(requests as f64));
        figure(
            "thread-flow bytes sent per operation",
            &format!("{:.1}", bytes as f64 / ops as f64),
        );
        figure(
            "thread-flow wall time (s)",
            &format!("{:.2}", elapsed.as_secs_f64()),
        );
        figure("thread-flow ops/s", &thousands(rate));
        figure(
            &format!("naive ops/s (sample: first {NAIVE_SAMPLE} ops)"),
            &thousands(naive_rate),
        );
        figure(
            "naive requests / bytes per operation",
            &format!(
                "{naive_requests} / {:.1}",
                naive_bytes as f64 / NAIVE_SAMPLE as f64
            ),
        );
        let packing = ratio(
            &format!("{} operations per request", w.name()),
            per_request,
            Target::AtLeast(2000.0),
            "",
        );
        let speedup = ratio(
            &format!("{} speedup thread-flow / naive", w.name()),
            rate / naive_rate,
            Target::AtLeast(100.0),
            &format!("naive rate from a {NAIVE_SAMPLE}-op sample"),
        );
        out.insert(
            w.name().into(),
            json!({
                "operations": ops,
                "thread_flow_requests": requests,
                "thread_flow_statements": report.statements,
                "thread_flow_retries": report.retries,
                "thread_flow_bytes": bytes,
                "thread_flow_bytes_per_op": bytes as f64 / ops as f64,
                "thread_flow_seconds": elapsed.as_secs_f64(),
                "thread_flow_ops_per_s": rate,
                "naive_sample_ops": NAIVE_SAMPLE,
                "naive_sample_note": format!("the naive writer ran only the first {NAIVE_SAMPLE} operations (one request each); its rate is computed from that sample"),
                "naive_requests": naive_requests,
                "naive_bytes_per_op": naive_bytes as f64 / NAIVE_SAMPLE as f64,
                "naive_seconds": naive_elapsed.as_secs_f64(),
                "naive_ops_per_s": naive_rate,
                "ops_per_request": packing,
                "speedup_vs_naive": speedup,
            }),
        );
    }
    Ok(Json::Object(out))
}
