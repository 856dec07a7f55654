//! A ReCoco flow exporting to D1 from one derived struct:
//!
//! ```text
//! cargo run --example recoco_export -- [DIR] [D1_FILE]
//! ```
//!
//! Reads every `*.rs` file under DIR (default: `thread-flow/src`) and keeps the table
//! `documents` of the local D1 file D1_FILE (default: `target/recoco_export/documents.d1`) in
//! sync with it. ReCoco's incremental state lives in a PostgreSQL cluster this program starts
//! from the machine's binaries and keeps next to the D1 file, so a second run only writes
//! what changed. Ctrl-C, SIGTERM or SIGHUP stop the run and the cluster.

use recoco_core::builder::FlowBuilder;
use recoco_core::execution::{FlowLiveUpdater, FlowLiveUpdaterOptions};
use recoco_core::lib_context::{get_lib_context, init_lib_context};
use recoco_core::settings::Settings;
use recoco_core::setup::{FlowSetupChangeAction, SetupChangeBundle};
use thread_flow::Connection;
use thread_flow::postgres::{PrivatePostgres, shutdown_signal};
use thread_flow::recoco::{check_collected, export_collector, table_stats};
use thread_flow::{D1Database, D1Target};

/// One row per source file. The table, its key and its columns come from this struct.
#[derive(Debug, D1Target)]
#[d1(table = "documents")]
struct Document {
    #[d1(primary_key)]
    filename: String,
    content: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tokio::select! {
        result = run() => result,
        // Dropping the run stops the private PostgreSQL cluster.
        signal = shutdown_signal() => Err(anyhow::anyhow!("stopped by {}", signal?)),
    }
}

async fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "thread-flow/src".into());
    let d1_file = args
        .next()
        .unwrap_or_else(|| "target/recoco_export/documents.d1".into());
    let state_dir = std::path::Path::new(&d1_file).with_extension("pg");

    let pg = {
        let state_dir = state_dir.clone();
        tokio::task::spawn_blocking(move || PrivatePostgres::start_or_reuse(state_dir)).await??
    };
    let database = pg.database_spec();
    init_lib_context(Some(Settings {
        database: Some(database),
        ..Settings::default()
    }))
    .await?;
    thread_flow::recoco::register()?;

    // The flow: LocalFile -> one row per file -> D1 table `documents`.
    let mut builder = FlowBuilder::new("recoco_export").await?;
    let source =
        serde_json::json!({"path": dir, "binary": false, "included_patterns": ["**/*.rs"]});
    let files = builder
        .add_source(
            "LocalFile".into(),
            object(source),
            None,
            "files".into(),
            None,
            None,
        )
        .await?;
    let documents = builder.root_scope().add_collector("documents".into())?;
    let file = builder.for_each(files, None)?;
    let mut fields = Vec::new();
    for name in ["filename", "content"] {
        let slice = builder.scope_field(file.clone(), name)?;
        fields.push((
            name.to_string(),
            slice.ok_or_else(|| anyhow::anyhow!("no {name}"))?,
        ));
    }
    check_collected::<Document>(&fields)?;
    builder.collect(&documents, fields, None).await?;
    export_collector::<Document>(
        &mut builder,
        "documents",
        &documents,
        Connection::local(&d1_file),
    )?;
    let flow = builder.build_flow().await?;

    // Create or migrate the table, then bring it up to date.
    let lib = get_lib_context().await?;
    let setup = SetupChangeBundle {
        action: FlowSetupChangeAction::Setup,
        flow_names: vec!["recoco_export".into()],
    };
    setup.apply(&lib, &mut std::io::sink()).await?;
    let options = FlowLiveUpdaterOptions {
        live_mode: false,
        reexport_targets: false,
        full_reprocess: false,
        print_stats: false,
    };
    let updater =
        FlowLiveUpdater::start(flow.0.clone(), lib.require_builtin_db_pool()?, options).await?;
    updater.wait().await?;

    println!("{}", updater.index_update_info());
    for (table, s) in table_stats() {
        println!(
            "{}: {} upserted, {} deleted, {} requests, {} failed",
            table.table, s.upserted, s.deleted, s.requests, s.failed_rows
        );
    }
    let rows = D1Database::local(&d1_file)?
        .table::<Document>()
        .count()
        .await?;
    println!(
        "{rows} documents in {d1_file} (ReCoco state in {})",
        pg.root_dir().display()
    );
    Ok(())
}

fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}
