//! Section `local`: `D1Table` on the embedded local D1 file against raw rusqlite doing the
//! fastest thing it can (one prepared multi-row statement reused, one transaction, same STRICT
//! table, same file settings). Upsert 200,000 rows; delete 100,000 keys; a 50/50 mix.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use serde_json::{Value as Json, json};
use thread_flow::{D1Database, D1Table, WriteReport};

use crate::common::{
    BenchRow, LOCAL_CHUNK, key, median, per_second, raw_count, raw_create, raw_delete_keys,
    raw_open, raw_populate, raw_write_rows, row, rows, scratch, thousands,
};
use crate::report::{Target, figure, heading, ratio};

/// Rows upserted.
const UPSERT_ROWS: u64 = 200_000;
/// Keys deleted (every other key of a 200,000-row table).
const DELETE_KEYS: u64 = 100_000;
/// Operations of the mixed write (half upserts of existing rows, half deletes).
const MIX_OPS: u64 = 100_000;
/// Timed repetitions of each side (alternating); the median is reported.
const ROUNDS: usize = 5;

/// The three workloads.
#[derive(Debug, Clone, Copy)]
enum Workload {
    Upsert,
    Delete,
    Mix,
}

/// Inputs shared by every run.
struct Data {
    all: Vec<BenchRow>,
    delete_keys: Vec<String>,
    mix_upserts: Vec<BenchRow>,
    mix_deletes: Vec<String>,
}

impl Data {
    fn new() -> Data {
        let all = rows(0..UPSERT_ROWS, 0);
        let delete_keys = (0..DELETE_KEYS).map(|i| key(2 * i)).collect();
        let mix_upserts = (0..MIX_OPS).step_by(2).map(|i| row(i, 1)).collect();
        let mix_deletes = (1..MIX_OPS).step_by(2).map(key).collect();
        Data {
            all,
            delete_keys,
            mix_upserts,
            mix_deletes,
        }
    }
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Upsert => "upsert",
            Workload::Delete => "delete",
            Workload::Mix => "mix",
        }
    }

    /// Operations timed.
    fn ops(self) -> u64 {
        match self {
            Workload::Upsert => UPSERT_ROWS,
            Workload::Delete => DELETE_KEYS,
            Workload::Mix => MIX_OPS,
        }
    }

    /// Rows left in the table afterwards.
    fn expected_rows(self) -> u64 {
        match self {
            Workload::Upsert => UPSERT_ROWS,
            Workload::Delete => UPSERT_ROWS - DELETE_KEYS,
            Workload::Mix => UPSERT_ROWS - MIX_OPS / 2,
        }
    }

    /// Prepares the file (the delete and mix workloads start from 200,000 rows).
    fn prepare(self, path: &Path, data: &Data) -> anyhow::Result<()> {
        match self {
            Workload::Upsert => Ok(()),
            Workload::Delete | Workload::Mix => {
                raw_populate(path, &data.all).context("populating the table")
            }
        }
    }
}

/// One thread-flow run: `D1Table` calls of [`LOCAL_CHUNK`] operations, as a user streams them.
async fn thread_flow_run(
    path: &Path,
    w: Workload,
    data: &Data,
) -> anyhow::Result<(Duration, WriteReport)> {
    let db = D1Database::local(path)?;
    let table: D1Table<BenchRow> = db.table();
    let migration = table.migrate().await?;
    ensure!(
        matches!(w, Workload::Upsert) || !migration.changed(),
        "the populated table should already match the schema: {:?}",
        migration.plan
    );
    let mut report = WriteReport::default();
    let start = Instant::now();
    match w {
        Workload::Upsert => {
            for chunk in data.all.chunks(LOCAL_CHUNK) {
                report.merge(&table.upsert(chunk).await?);
            }
        }
        Workload::Delete => {
            for chunk in data.delete_keys.chunks(LOCAL_CHUNK) {
                report.merge(&table.delete(chunk).await?);
            }
        }
        Workload::Mix => {
            let half = LOCAL_CHUNK / 2;
            for (ups, dels) in data
                .mix_upserts
                .chunks(half)
                .zip(data.mix_deletes.chunks(half))
            {
                report.merge(&table.write(ups, dels).await?);
            }
        }
    }
    let elapsed = start.elapsed();
    let count = table.count().await?;
    ensure!(
        count == w.expected_rows(),
        "thread-flow {}: {count} rows left, expected {}",
        w.name(),
        w.expected_rows()
    );
    Ok((elapsed, report))
}

/// One raw rusqlite run: one transaction, prepared statements of `per_statement` rows reused.
fn raw_run(
    path: &Path,
    w: Workload,
    data: &Data,
    per_statement: usize,
) -> anyhow::Result<Duration> {
    let mut conn = raw_open(path)?;
    if matches!(w, Workload::Upsert) {
        raw_create(&conn)?;
    }
    let start = Instant::now();
    let tx = conn.transaction()?;
    match w {
        // An empty table: a plain INSERT is the fastest correct statement.
        Workload::Upsert => raw_write_rows(&tx, &data.all, per_statement, false)?,
        Workload::Delete => raw_delete_keys(&tx, &data.delete_keys, per_statement)?,
        Workload::Mix => {
            raw_write_rows(&tx, &data.mix_upserts, per_statement, true)?;
            raw_delete_keys(&tx, &data.mix_deletes, per_statement)?;
        }
    }
    tx.commit()?;
    let elapsed = start.elapsed();
    drop(conn);
    let count = raw_count(path)?;
    ensure!(
        count == w.expected_rows(),
        "raw {}: {count} rows left, expected {}",
        w.name(),
        w.expected_rows()
    );
    Ok(elapsed)
}

/// The raw writer's fastest statement size for `w` on this machine, tried on the real workload.
fn calibrate(dir: &Path, w: Workload, data: &Data) -> anyhow::Result<(usize, Json)> {
    let candidates: &[usize] = match w {
        Workload::Upsert | Workload::Mix => &[1, 16, 64, 256],
        Workload::Delete => &[1, 100, 500, 2000],
    };
    let mut best = (candidates[0], f64::MAX);
    let mut tried = serde_json::Map::new();
    for &n in candidates {
        let path = dir.join(format!("calibrate-{}-{n}.sqlite", w.name()));
        w.prepare(&path, data)?;
        let secs = raw_run(&path, w, data, n)?.as_secs_f64();
        tried.insert(n.to_string(), json!(w.ops() as f64 / secs));
        if secs < best.1 {
            best = (n, secs);
        }
    }
    Ok((best.0, Json::Object(tried)))
}

/// Runs the section; returns its JSON figures.
pub(crate) async fn run() -> anyhow::Result<Json> {
    heading(
        "local: D1Table on the embedded local D1 vs raw rusqlite (same file settings, STRICT table)",
    );
    let dir = scratch("local")?;
    let data = Data::new();
    let mut out = serde_json::Map::new();
    for w in [Workload::Upsert, Workload::Delete, Workload::Mix] {
        let (per_statement, tried) = calibrate(&dir, w, &data)?;
        let mut tf = Vec::new();
        let mut raw = Vec::new();
        let mut report = WriteReport::default();
        for round in 0..ROUNDS {
            let tf_path = dir.join(format!("tf-{}-{round}.d1", w.name()));
            w.prepare(&tf_path, &data)?;
            let (d, r) = thread_flow_run(&tf_path, w, &data).await?;
            tf.push(per_second(w.ops(), d));
            report = r;
            let raw_path = dir.join(format!("raw-{}-{round}.sqlite", w.name()));
            w.prepare(&raw_path, &data)?;
            raw.push(per_second(
                w.ops(),
                raw_run(&raw_path, w, &data, per_statement)?,
            ));
        }
        let tf_rate = median(tf.clone());
        let raw_rate = median(raw.clone());
        let what = match w {
            Workload::Upsert => format!("{UPSERT_ROWS} rows upserted, {LOCAL_CHUNK} per call"),
            Workload::Delete => format!(
                "{DELETE_KEYS} keys deleted from {UPSERT_ROWS} rows, {LOCAL_CHUNK} per call"
            ),
            Workload::Mix => format!(
                "{MIX_OPS} operations, 50% upserts of existing rows / 50% deletes, {LOCAL_CHUNK} per call"
            ),
        };
        println!("  {}: {what}", w.name());
        figure(
            "thread-flow D1Table (ops/s, median of 5)",
            &thousands(tf_rate),
        );
        figure(
            &format!("raw rusqlite, {per_statement} rows/statement (ops/s)"),
            &thousands(raw_rate),
        );
        figure(
            "thread-flow requests / statements",
            &format!("{} / {}", report.requests, report.statements),
        );
        let r = ratio(
            &format!("{} ratio thread-flow / raw", w.name()),
            tf_rate / raw_rate,
            Target::AtLeast(0.8),
            "",
        );
        out.insert(
            w.name().into(),
            json!({
                "workload": what,
                "thread_flow_ops_per_s": tf_rate,
                "thread_flow_runs": tf,
                "thread_flow_requests": report.requests,
                "thread_flow_statements": report.statements,
                "raw_rusqlite_ops_per_s": raw_rate,
                "raw_rusqlite_runs": raw,
                "raw_rusqlite_rows_per_statement": per_statement,
                "raw_rusqlite_calibration_ops_per_s": tried,
                "ratio": r,
            }),
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(Json::Object(out))
}

/// `--profile-local-upsert`: only thread-flow's upsert workload, five times, for a profiler
/// (`perf record`, `valgrind --tool=callgrind`) to see where its time goes.
pub(crate) async fn profile_upsert() -> anyhow::Result<()> {
    let dir = scratch("profile")?;
    let data = Data::new();
    for round in 0..5 {
        let path = dir.join(format!("profile-{round}.d1"));
        let (d, _) = thread_flow_run(&path, Workload::Upsert, &data).await?;
        println!(
            "thread-flow upsert: {} rows/s",
            thousands(per_second(UPSERT_ROWS, d))
        );
    }
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}
