//! Section `recoco`: the same rows collected by a ReCoco flow and exported to the `"D1"` target
//! (local file) vs ReCoco's own `"Postgres"` target, both on one throwaway PostgreSQL cluster
//! (which also holds ReCoco's tracking state). Runs in a child process (this binary with
//! `--child-recoco`), because ReCoco's context and its stdout logging are process-wide.
//!
//! The flow: `LocalFile` over 20 small files, each naming a range of rows -> the function
//! `BenchRows` expands a file into its rows (an LTable) -> `collect` -> `export`. Timed: one
//! catch-up update (`FlowLiveUpdater`, not live) from an empty state; setup is reported apart.

use std::sync::{Arc, OnceLock};

use anyhow::{Context, bail, ensure};
use recoco_core::builder::FlowBuilder;
use recoco_core::builder::flow_builder::Flow;
use recoco_core::execution::{FlowLiveUpdater, FlowLiveUpdaterOptions};
use recoco_core::ops::sdk::{
    BasicValue, BasicValueType, EnrichedValueType, ExecutorFactory, FieldSchema, FieldValues,
    FlowInstanceContext, IndexOptions, OpArgsResolver, ResolvedOpArg, ResolvedOpArgExt, ScopeValue,
    SimpleFunctionAnalysisOutput, SimpleFunctionExecutor, SimpleFunctionFactoryBase, StructSchema,
    TableKind, TableSchema, Value, ValueType, make_output_type,
};
use recoco_core::prelude::async_trait;
use recoco_core::setup::{FlowSetupChangeAction, SetupChangeBundle};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use thread_flow::Connection;
use thread_flow::D1Database;
use thread_flow::postgres::PrivatePostgres;

use crate::common::{BenchRow, row, scratch, thousands};
use crate::memory::{RESULT_MARKER, run_child};
use crate::report::{Target, figure, heading, ratio};

/// Rows exported per flow.
const ROWS: u64 = 200_000;
/// Source files (ReCoco source rows); each expands to `ROWS / FILES` rows.
const FILES: u64 = 20;
/// The function kind registered for the benchmark.
const FUNCTION: &str = "BenchRows";

// -------------------------------------------------------------------------------------------
// The function: "start count" -> the rows start..start+count

#[derive(Debug, Default, Serialize, Deserialize)]
struct RowsSpec {}

struct RowsArgs {
    content: ResolvedOpArg,
}

struct RowsFactory;

struct RowsExecutor {
    args: RowsArgs,
}

fn str_type() -> EnrichedValueType {
    make_output_type(BasicValueType::Str)
}

fn text(s: &str) -> Value {
    Value::Basic(BasicValue::Str(Arc::from(s)))
}

fn row_value(r: &BenchRow) -> ScopeValue {
    ScopeValue(FieldValues {
        fields: vec![
            text(&r.id),
            Value::Basic(BasicValue::Int64(r.seq)),
            Value::Basic(BasicValue::Int64(r.version)),
            Value::Basic(BasicValue::Float64(r.score)),
            text(&r.body),
            r.note.as_deref().map_or(Value::Null, text),
        ],
    })
}

/// The collected fields, named after the table's columns.
const FIELDS: [&str; 6] = ["id", "seq", "version", "score", "body", "note"];

fn output_schema() -> EnrichedValueType {
    let int = || make_output_type(BasicValueType::Int64);
    let row = StructSchema {
        fields: Arc::new(vec![
            FieldSchema::new("id", str_type()),
            FieldSchema::new("seq", int()),
            FieldSchema::new("version", int()),
            FieldSchema::new("score", make_output_type(BasicValueType::Float64)),
            FieldSchema::new("body", str_type()),
            FieldSchema::new("note", str_type().with_nullable(true)),
        ]),
        description: None,
    };
    make_output_type(TableSchema::new(TableKind::LTable, row))
}

#[async_trait]
impl SimpleFunctionExecutor for RowsExecutor {
    async fn evaluate(&self, input: Vec<Value>) -> recoco_core::prelude::Result<Value> {
        let content = self.args.content.value(&input)?.as_str()?.clone();
        let mut parts = content.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(start)), Some(Ok(count))) = (parts.next(), parts.next()) else {
            return Err(recoco_core::prelude::Error::client(format!(
                "expected `start count`, found {content:?}"
            )));
        };
        let rows = (start..start + count)
            .map(|i| row_value(&row(i, 0)))
            .collect();
        Ok(Value::LTable(rows))
    }
}

#[async_trait]
impl SimpleFunctionFactoryBase for RowsFactory {
    type Spec = RowsSpec;
    type ResolvedArgs = RowsArgs;

    fn name(&self) -> &str {
        FUNCTION
    }

    async fn analyze<'a>(
        &'a self,
        _spec: &'a RowsSpec,
        args_resolver: &mut OpArgsResolver<'a>,
        _context: &FlowInstanceContext,
    ) -> recoco_core::prelude::Result<SimpleFunctionAnalysisOutput<RowsArgs>> {
        let content = args_resolver
            .next_arg("content")?
            .expect_type(&ValueType::Basic(BasicValueType::Str))?
            .required()?;
        Ok(SimpleFunctionAnalysisOutput {
            resolved_args: RowsArgs { content },
            output_schema: output_schema(),
            behavior_version: Some(1),
        })
    }

    async fn build_executor(
        self: Arc<Self>,
        _spec: RowsSpec,
        args: RowsArgs,
        _context: Arc<FlowInstanceContext>,
    ) -> recoco_core::prelude::Result<impl SimpleFunctionExecutor> {
        Ok(RowsExecutor { args })
    }
}

fn register_function() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            recoco_core::ops::register_factory(
                FUNCTION.to_owned(),
                ExecutorFactory::SimpleFunction(Arc::new(RowsFactory)),
            )
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("registering {FUNCTION}: {e}"))
}

// -------------------------------------------------------------------------------------------
// The flows

fn object(value: Json) -> serde_json::Map<String, Json> {
    match value {
        Json::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Where a flow exports.
struct Export {
    kind: &'static str,
    spec: serde_json::Map<String, Json>,
    index_options: IndexOptions,
}

async fn build_flow(name: &str, source_dir: &str, export: &Export) -> anyhow::Result<Flow> {
    let mut builder = FlowBuilder::new(name).await?;
    let root = builder.root_scope();
    let files = builder
        .add_source(
            "LocalFile".to_owned(),
            object(
                json!({ "path": source_dir, "binary": false, "included_patterns": ["**/*.txt"] }),
            ),
            None,
            "files".to_owned(),
            None,
            None,
        )
        .await?;
    let collector = root.clone().add_collector("rows".to_owned())?;
    let file_scope = builder.for_each(files, None)?;
    let content = builder
        .scope_field(file_scope.clone(), "content")?
        .context("LocalFile has no `content` field")?;
    let expanded = builder
        .transform(
            FUNCTION.to_owned(),
            serde_json::Map::new(),
            vec![(content, Some("content".to_owned()))],
            Some(file_scope.clone()),
            "expanded".to_owned(),
        )
        .await?;
    let row_scope = builder.for_each(expanded, None)?;
    let mut fields = Vec::new();
    for f in FIELDS {
        let slice = builder
            .scope_field(row_scope.clone(), f)?
            .with_context(|| format!("row field {f} missing"))?;
        fields.push((f.to_owned(), slice));
    }
    builder.collect(&collector, fields, None).await?;
    builder.export(
        "rows".to_owned(),
        export.kind.to_owned(),
        export.spec.clone(),
        Vec::new(),
        export.index_options.clone(),
        &collector,
        false,
    )?;
    Ok(builder.build_flow().await?)
}

async fn setup(flow: &Flow) -> anyhow::Result<()> {
    let lib = recoco_core::lib_context::get_lib_context().await?;
    let bundle = SetupChangeBundle {
        action: FlowSetupChangeAction::Setup,
        flow_names: vec![flow.0.flow_name().to_owned()],
    };
    let mut out = Vec::new();
    bundle.apply(&lib, &mut out).await?;
    Ok(())
}

/// One catch-up update; returns (source rows processed, source rows failed).
async fn update(flow: &Flow) -> anyhow::Result<(i64, i64)> {
    let lib = recoco_core::lib_context::get_lib_context().await?;
    let pool = lib.require_builtin_db_pool()?;
    let updater = FlowLiveUpdater::start(
        flow.0.clone(),
        pool,
        FlowLiveUpdaterOptions {
            live_mode: false,
            print_stats: false,
            ..Default::default()
        },
    )
    .await?;
    updater.wait().await?;
    let mut done = 0;
    let mut errors = 0;
    for source in updater.index_update_info().sources {
        done += source.stats.num_insertions.get();
        errors += source.stats.num_errors.get();
    }
    Ok((done, errors))
}

fn psql_count(pg: &PrivatePostgres, table: &str) -> anyhow::Result<u64> {
    // Over the private socket, with the cluster's password in the environment.
    let out = pg
        .psql()
        .arg("-tAc")
        .arg(format!("SELECT count(*) FROM {table}"))
        .output()
        .context("running psql")?;
    ensure!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// The child: both flows on one cluster, printing the figures as one JSON line.
pub(crate) async fn child() -> anyhow::Result<()> {
    let dir = scratch("recoco")?;
    let source = dir.join("source");
    std::fs::create_dir_all(&source)?;
    let per_file = ROWS / FILES;
    for f in 0..FILES {
        std::fs::write(
            source.join(format!("part-{f:03}.txt")),
            format!("{} {per_file}\n", f * per_file),
        )?;
    }
    let source = source
        .to_str()
        .context("scratch path is not UTF-8")?
        .to_owned();

    let pg = PrivatePostgres::temporary().context("starting PostgreSQL")?;
    let settings = recoco_core::settings::Settings {
        database: Some(pg.database_spec()),
        ..Default::default()
    };
    recoco_core::lib_context::init_lib_context(Some(settings)).await?;
    thread_flow::recoco::register()?;
    register_function()?;

    let mut runs = Vec::new();
    // Both orders, so neither target profits from running second.
    for (round, kinds) in [["Postgres", "D1"], ["D1", "Postgres"]]
        .into_iter()
        .enumerate()
    {
        for kind in kinds {
            let d1_path = dir.join(format!("round{round}.d1"));
            let pg_table = format!("bench_rows_pg_{round}");
            let export = match kind {
                "D1" => {
                    let out = thread_flow::recoco::export::<BenchRow>(Connection::local(
                        d1_path.clone(),
                    ))?;
                    Export {
                        kind: "D1",
                        spec: out.spec,
                        index_options: out.index_options,
                    }
                }
                _ => Export {
                    kind: "Postgres",
                    spec: object(json!({ "table_name": pg_table })),
                    index_options: IndexOptions {
                        primary_key_fields: Some(vec!["id".to_owned()]),
                        vector_indexes: Vec::new(),
                        fts_indexes: Vec::new(),
                    },
                },
            };
            let name = format!("bench_{}_{round}", kind.to_lowercase());
            let flow = build_flow(&name, &source, &export).await?;
            let start = std::time::Instant::now();
            setup(&flow).await?;
            let setup_secs = start.elapsed().as_secs_f64();
            let start = std::time::Instant::now();
            let (done, errors) = update(&flow).await?;
            let update_secs = start.elapsed().as_secs_f64();
            ensure!(errors == 0, "{kind}: {errors} source rows failed");
            let rows = match kind {
                "D1" => {
                    D1Database::local(&d1_path)?
                        .count_rows("bench_rows")
                        .await?
                }
                _ => psql_count(&pg, &pg_table)?,
            };
            ensure!(
                rows == ROWS,
                "{kind}: {rows} rows exported, expected {ROWS}"
            );
            runs.push(json!({
                "round": round,
                "target": kind,
                "setup_seconds": setup_secs,
                "update_seconds": update_secs,
                "source_rows": done,
                "rows": rows,
            }));
        }
    }
    println!("{RESULT_MARKER}{}", json!({ "runs": runs }));
    drop(pg);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// Runs the section; returns its JSON figures.
pub(crate) async fn run() -> anyhow::Result<Json> {
    heading(&format!(
        "recoco: {} rows collected by a ReCoco flow, exported to \"D1\" (local) vs ReCoco's \"Postgres\" target (same cluster)",
        thousands(ROWS as f64)
    ));
    let result = run_child(&["--child-recoco"])?;
    let runs = result["runs"].as_array().cloned().unwrap_or_default();
    let mean = |kind: &str, field: &str| {
        let v: Vec<f64> = runs
            .iter()
            .filter(|r| r["target"] == kind)
            .filter_map(|r| r[field].as_f64())
            .collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let (d1, pg) = (
        mean("D1", "update_seconds"),
        mean("Postgres", "update_seconds"),
    );
    if !(d1.is_finite() && pg.is_finite()) {
        bail!("the ReCoco child returned no timings: {result}");
    }
    figure(
        "\"D1\" target update wall time (s, mean of 2)",
        &format!("{d1:.2}"),
    );
    figure(
        "\"Postgres\" target update wall time (s, mean of 2)",
        &format!("{pg:.2}"),
    );
    figure("\"D1\" rows/s", &thousands(ROWS as f64 / d1));
    figure("\"Postgres\" rows/s", &thousands(ROWS as f64 / pg));
    figure(
        "setup (s): D1 / Postgres",
        &format!(
            "{:.2} / {:.2}",
            mean("D1", "setup_seconds"),
            mean("Postgres", "setup_seconds")
        ),
    );
    let r = ratio(
        "wall time D1 / Postgres",
        d1 / pg,
        Target::AtMost(1.0),
        "lower is better",
    );
    Ok(json!({
        "rows": ROWS,
        "source_files": FILES,
        "d1_update_seconds": d1,
        "postgres_update_seconds": pg,
        "runs": runs,
        "ratio": r,
    }))
}
