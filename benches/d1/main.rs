//! `cargo bench --bench d1 [-- SECTION ...]`: how close thread-flow comes to the physical limit
//! and to what a user would otherwise write, measured side by side in one run.
//!
//! Sections (all by default): `local` (D1Table vs raw rusqlite), `http` (packing vs a naive
//! one-statement-per-request writer on a fake D1 with 25 ms per request), `memory` (peak RSS
//! streaming 1,000,000 rows), `compile` (derive cost vs serde), `recoco` (the "D1" target vs
//! ReCoco's Postgres target), `code` (the code-index job vs tree-sitter parsing alone on a real
//! tree). Every figure is printed with its ratio and target and written to
//! `target/bench/summary.json` (sections not run keep their previous figures).

mod code;
mod common;
mod compile;
mod http;
mod local;
mod memory;
mod recoco;
mod report;

use std::process::ExitCode;
use std::time::Instant;

/// Section names, in run order.
const SECTIONS: [&str; 6] = ["local", "http", "memory", "compile", "recoco", "code"];

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; other flags select a child mode.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let result = match args.first().map(String::as_str) {
        Some("--child-memory") => child_memory(&args),
        Some("--profile-local-upsert") => runtime()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(local::profile_upsert())),
        Some("--child-code") => code::child(&args),
        Some("--child-recoco") => runtime()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(recoco::child())),
        _ => run_sections(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("d1 bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn child_memory(args: &[String]) -> anyhow::Result<()> {
    let total: u64 = args
        .get(1)
        .ok_or_else(|| anyhow::anyhow!("--child-memory needs a row count"))?
        .parse()?;
    runtime()?.block_on(memory::child(total))
}

fn run_sections(args: &[String]) -> anyhow::Result<()> {
    let selected: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for s in &selected {
        if !SECTIONS.contains(s) {
            anyhow::bail!("unknown section `{s}`; choose from {}", SECTIONS.join(", "));
        }
    }
    let run_all = selected.is_empty();
    let summary_path = common::bench_dir().join("summary.json");
    let mut summary = report::Summary::load(&summary_path);
    let machine = report::machine();
    println!(
        "thread-flow D1 benchmark; machine: {} cores, {} GiB, {}",
        machine["cores"], machine["memory_gib"], machine["cpu"]
    );
    let rt = runtime()?;
    let started = Instant::now();
    let mut failures = Vec::new();
    for section in SECTIONS {
        if !(run_all || selected.contains(&section)) {
            continue;
        }
        let t = Instant::now();
        let figures = rt.block_on(async {
            match section {
                "local" => local::run().await,
                "http" => http::run().await,
                "memory" => memory::run().await,
                "compile" => compile::run().await,
                "code" => code::run().await,
                _ => recoco::run().await,
            }
        });
        match figures {
            Ok(mut figures) => {
                figures["section_seconds"] = serde_json::json!(t.elapsed().as_secs_f64());
                summary.set(section, figures);
            }
            Err(e) => {
                println!("    NOT MEASURED: {e:#}");
                summary.set(
                    section,
                    serde_json::json!({ "not_measured": format!("{e:#}") }),
                );
                failures.push(section);
            }
        }
        summary.write(&summary_path)?;
    }
    println!();
    println!(
        "total {:.0} s; figures in {}",
        started.elapsed().as_secs_f64(),
        summary_path.display()
    );
    if !failures.is_empty() {
        anyhow::bail!("sections not measured: {}", failures.join(", "));
    }
    Ok(())
}
