//! `code-index <DIR>`: index the Rust, Python, TypeScript and JavaScript files under DIR into
//! Cloudflare D1 (or the embedded local D1) with a ReCoco flow, then answer
//! "where is NAME defined" from it.
//!
//! ```text
//! cargo run --example code-index -- examples/code-index/sample
//! cargo run --example code-index -- examples/code-index/sample --query Inventory
//! ```
//!
//! - `extract`: tree-sitter parsing of one file into facts and symbols (pure).
//! - `rows`: the `files` and `symbols` tables, declared with `#[derive(D1Target)]`.
//! - `walk`: which files of the tree are indexed (regular files inside it only) and reading one.
//! - `flow`: the ReCoco source, function and flow (tree -> parse -> collect -> export "D1").
//! - `app`: arguments, where things live, one run, the summary, `--query`.

mod app;
mod extract;
mod flow;
mod rows;
mod walk;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match app::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            let help = message == app::USAGE;
            eprintln!("{message}");
            return if help {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    // Our log goes to stderr at `warn` (RUST_LOG overrides). Installed before ReCoco's
    // context, whose own stdout subscriber then stays out of the program's output.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        tokio::select! {
            result = app::run(&args) => result,
            // Ctrl-C, SIGTERM or SIGHUP: dropping the run stops the private PostgreSQL
            // cluster cleanly.
            signal = thread_flow::postgres::shutdown_signal() => Err(match signal {
                Ok(signal) => anyhow::anyhow!("stopped by {signal}; the next run resumes where this one stopped"),
                Err(e) => anyhow::anyhow!("cannot install the signal handlers: {e}"),
            }),
        }
    });
    match result {
        Ok(outcome) => {
            println!("{outcome}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
