//! `code-index <DIR>`: index the source files under DIR (definitions, imports, calls) into
//! Cloudflare D1 (or the embedded local D1) with a ReCoco flow, then ask it questions.
//!
//! ```text
//! cargo run --example code-index -- examples/code-index/sample
//! cargo run --example code-index -- examples/code-index/sample --query Parser
//! cargo run --example code-index -- examples/code-index/sample --callers parse_line
//! ```
//!
//! Only the command line lives here; the index itself is the library's
//! `thread_flow::code` (builder `CodeIndex`, tables `FileRow`/`SymbolRow`/`ImportRow`/
//! `CallRow`, questions in `thread_flow::code::query`).
//!
//! - `cli`: the arguments (`clap`).
//! - `app`: one invocation: where the index lives, a run with its progress bar and summary,
//!   or one question answered as text or JSON.

mod app;
mod cli;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Args::parse();
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
                Ok(signal) => format!("stopped by {signal}; the next run resumes where this one stopped"),
                Err(e) => format!("cannot install the signal handlers: {e}"),
            }),
        }
    });
    match result {
        Ok(output) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            // Messages can quote paths and names from the tree: printed safely.
            eprintln!("error: {}", thread_flow::code::printable_text(&message));
            ExitCode::FAILURE
        }
    }
}
