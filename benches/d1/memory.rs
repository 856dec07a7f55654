//! Section `memory`: peak resident memory while streaming rows through `D1Table::upsert` in
//! chunks (rows generated per chunk, never all at once), measured in a child process (this
//! binary re-run with `--child-memory N`) that reads `VmHWM` from `/proc/self/status` at the end.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::{Value as Json, json};
use thread_flow::{D1Database, D1Table, WriteReport};

use crate::common::{BenchRow, LOCAL_CHUNK, rows, scratch, thousands};
use crate::report::{Target, figure, heading, ratio};

/// The marker of the child's result line on stdout.
pub(crate) const RESULT_MARKER: &str = "BENCH-CHILD-RESULT ";

/// Row totals streamed, each in its own child process (0: the process's baseline).
const TOTALS: [u64; 3] = [0, 250_000, 1_000_000];

/// `VmHWM` / `VmRSS` of this process, in kB.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| {
            v.trim_start_matches(':')
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The child: streams `total` rows into a fresh local D1 file and prints its figures.
pub(crate) async fn child(total: u64) -> anyhow::Result<()> {
    let dir = scratch(&format!("memory-{total}"))?;
    let db = D1Database::local(dir.join("stream.d1"))?;
    let table: D1Table<BenchRow> = db.table();
    table.migrate().await?;
    let mut report = WriteReport::default();
    let start = Instant::now();
    let mut next = 0;
    while next < total {
        let end = (next + LOCAL_CHUNK as u64).min(total);
        let chunk = rows(next..end, 0);
        report.merge(&table.upsert(&chunk).await?);
        next = end;
    }
    let elapsed = start.elapsed();
    let count = table.count().await?;
    if count != total {
        bail!("{count} rows in the table after streaming {total}");
    }
    let result = json!({
        "rows": total,
        "peak_rss_kb": status_kb("VmHWM"),
        "rss_at_end_kb": status_kb("VmRSS"),
        "seconds": elapsed.as_secs_f64(),
        "requests": report.requests,
    });
    println!("{RESULT_MARKER}{result}");
    drop(table);
    drop(db);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// Runs this binary with `args` and returns the JSON of its result line.
pub(crate) fn run_child(args: &[&str]) -> anyhow::Result<Json> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let output = Command::new(exe)
        .args(args)
        .output()
        .context("running the bench child process")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix(RESULT_MARKER));
    match (output.status.success(), line) {
        (true, Some(line)) => Ok(serde_json::from_str(line)?),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail = |s: &str| {
                s.lines()
                    .rev()
                    .take(15)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            bail!(
                "child {args:?} failed ({}):\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
                output.status,
                tail(&stdout),
                tail(&stderr)
            )
        }
    }
}

/// Runs the section; returns its JSON figures.
pub(crate) async fn run() -> anyhow::Result<Json> {
    heading(&format!(
        "memory: peak RSS streaming rows through D1Table::upsert, {LOCAL_CHUNK} rows generated per call (child process, VmHWM)"
    ));
    let mut runs = Vec::new();
    for total in TOTALS {
        let result = run_child(&["--child-memory", &total.to_string()])?;
        let peak_mb = result["peak_rss_kb"].as_f64().unwrap_or(0.0) / 1024.0;
        let label = if total == 0 {
            "peak RSS, 0 rows (process baseline) MB".to_string()
        } else {
            format!("peak RSS, {} rows MB", thousands(total as f64))
        };
        figure(&label, &format!("{peak_mb:.1}"));
        runs.push((total, peak_mb, result));
    }
    let peak_of = |n: u64| runs.iter().find(|r| r.0 == n).map_or(0.0, |r| r.1);
    let largest = peak_of(1_000_000);
    let growth = largest / peak_of(250_000).max(f64::MIN_POSITIVE);
    let under = ratio(
        "peak RSS at 1,000,000 rows (MB)",
        largest,
        Target::AtMost(150.0),
        "",
    );
    let grows = ratio(
        "peak RSS 1,000,000 rows / 250,000 rows",
        growth,
        Target::None,
        "1.0 = does not grow with the total",
    );
    Ok(json!({
        "chunk_rows": LOCAL_CHUNK,
        "runs": runs.iter().map(|r| r.2.clone()).collect::<Vec<_>>(),
        "peak_rss_mb_1m": under,
        "growth_1m_over_250k": grows,
    }))
}
