//! The ReCoco side: the `ParseSourceFile` function and the flow
//! `LocalFile -> ParseSourceFile -> collectors -> export "D1"`.
//!
//! The collected fields are checked against the derived row structs (`rows`); the export
//! specs (where the tables live) are handed in by `app`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use recoco_core::builder::FlowBuilder;
use recoco_core::builder::flow_builder::Flow;
use recoco_core::execution::{FlowLiveUpdater, FlowLiveUpdaterOptions};
use recoco_core::ops::sdk::{BasicValue, ScopeValue, Value};
use recoco_core::ops::sdk::{
    BasicValueType, EnrichedValueType, ExecutorFactory, FieldSchema, FieldValues,
    FlowInstanceContext, IndexOptions, OpArgsResolver, ResolvedOpArg, ResolvedOpArgExt,
    SimpleFunctionAnalysisOutput, SimpleFunctionExecutor, SimpleFunctionFactoryBase, StructSchema,
    TableKind, TableSchema, ValueType, make_output_type,
};
use recoco_core::prelude::async_trait;
use recoco_core::setup::{FlowSetupChangeAction, SetupChangeBundle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::extract::{self, Language};
use crate::rows::{FileRow, SymbolRow};

/// The ReCoco function kind registered by [`register_function`].
pub const PARSE_FUNCTION: &str = "ParseSourceFile";

/// Bump when [`extract`] changes what it produces: ReCoco then re-parses every file.
const EXTRACTOR_VERSION: u32 = 1;

/// Files larger than this are skipped (generated code, minified bundles).
pub const MAX_FILE_BYTES: i64 = 2 * 1024 * 1024;

/// Directories never indexed, at any depth.
pub const EXCLUDED_DIRS: [&str; 5] = [
    "target",
    "node_modules",
    ".git",
    ".thread-flow",
    "__pycache__",
];

/// Everything a flow export needs for one table.
#[derive(Debug, Clone)]
pub struct TableExport {
    /// Export name in the flow (and collector name).
    pub name: String,
    /// The `"D1"` target spec.
    pub spec: serde_json::Map<String, serde_json::Value>,
    /// Primary key (and no vector/FTS indexes).
    pub index_options: IndexOptions,
}

/// What the flow reads and where it writes.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Flow name; ReCoco keys its incremental state by it.
    pub flow_name: String,
    /// The directory to index.
    pub source_dir: PathBuf,
    /// Extra glob patterns (relative to `source_dir`) to skip, e.g. the D1 file's folder.
    pub extra_excluded: Vec<String>,
    /// The `files` table export.
    pub files: TableExport,
    /// The `symbols` table export.
    pub symbols: TableExport,
}

/// Glob patterns of the files the flow reads.
pub fn included_patterns() -> Vec<String> {
    Language::ALL
        .iter()
        .flat_map(|lang| lang.extensions())
        .map(|ext| format!("**/*.{ext}"))
        .collect()
}

/// Glob patterns of the directories and files the flow skips.
pub fn excluded_patterns(extra: &[String]) -> Vec<String> {
    EXCLUDED_DIRS
        .iter()
        .map(|dir| format!("**/{dir}"))
        .chain(extra.iter().cloned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// The function: (path, content) -> facts + symbols

#[derive(Debug, Default, Serialize, Deserialize)]
struct ParseSpec {}

struct ParseArgs {
    path: ResolvedOpArg,
    content: ResolvedOpArg,
}

struct ParseFactory;

struct ParseExecutor {
    args: ParseArgs,
}

/// The fields of one symbol row inside the function's output, in order.
pub const SYMBOL_FIELDS: [&str; 6] = [
    "start_line",
    "name",
    "kind",
    "end_line",
    "signature",
    "parent",
];

fn str_type() -> EnrichedValueType {
    make_output_type(BasicValueType::Str)
}

fn int_type() -> EnrichedValueType {
    make_output_type(BasicValueType::Int64)
}

fn output_schema() -> EnrichedValueType {
    let symbol = StructSchema {
        fields: Arc::new(vec![
            FieldSchema::new("start_line", int_type()),
            FieldSchema::new("name", str_type()),
            FieldSchema::new("kind", str_type()),
            FieldSchema::new("end_line", int_type()),
            FieldSchema::new("signature", str_type()),
            FieldSchema::new("parent", str_type().with_nullable(true)),
        ]),
        description: None,
    };
    let file = StructSchema {
        fields: Arc::new(vec![
            FieldSchema::new("language", str_type()),
            FieldSchema::new("size_bytes", int_type()),
            FieldSchema::new("line_count", int_type()),
            FieldSchema::new("content_hash", str_type()),
            FieldSchema::new(
                "symbols",
                make_output_type(TableSchema::new(TableKind::LTable, symbol)),
            ),
        ]),
        description: None,
    };
    make_output_type(file)
}

fn text(s: &str) -> Value {
    Value::Basic(BasicValue::Str(Arc::from(s)))
}

fn int(n: u64) -> Value {
    Value::Basic(BasicValue::Int64(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// The function's output for one file, as ReCoco values.
fn facts_value(facts: &extract::FileFacts) -> Value {
    let symbols = facts
        .symbols
        .iter()
        .map(|s| {
            ScopeValue(FieldValues {
                fields: vec![
                    int(u64::from(s.start_line)),
                    text(&s.name),
                    text(s.kind.as_str()),
                    int(u64::from(s.end_line)),
                    text(&s.signature),
                    s.parent.as_deref().map_or(Value::Null, text),
                ],
            })
        })
        .collect();
    Value::Struct(FieldValues {
        fields: vec![
            text(facts.lang.as_str()),
            int(facts.size),
            int(facts.line_count),
            text(&facts.content_hash),
            Value::LTable(symbols),
        ],
    })
}

#[async_trait]
impl SimpleFunctionExecutor for ParseExecutor {
    async fn evaluate(&self, input: Vec<Value>) -> recoco_core::prelude::Result<Value> {
        let path = self.args.path.value(&input)?.as_str()?.clone();
        let content = self.args.content.value(&input)?.as_str()?.clone();
        // Parsing is CPU work: keep it off the async worker threads.
        let facts =
            tokio::task::spawn_blocking(move || extract::extract(&path, &content).ok_or(path))
                .await
                .map_err(|e| {
                    recoco_core::prelude::Error::internal_msg(format!("parser task failed: {e}"))
                })?;
        match facts {
            Ok(facts) => {
                FILES_PARSED.fetch_add(1, Ordering::Relaxed);
                if facts.has_errors {
                    tracing::debug!("syntax errors while parsing; symbols may be incomplete");
                }
                Ok(facts_value(&facts))
            }
            Err(path) => Err(recoco_core::prelude::Error::client(format!(
                "{path}: not a Rust, Python, TypeScript or JavaScript file"
            ))),
        }
    }
}

#[async_trait]
impl SimpleFunctionFactoryBase for ParseFactory {
    type Spec = ParseSpec;
    type ResolvedArgs = ParseArgs;

    fn name(&self) -> &str {
        PARSE_FUNCTION
    }

    async fn analyze<'a>(
        &'a self,
        _spec: &'a ParseSpec,
        args_resolver: &mut OpArgsResolver<'a>,
        _context: &FlowInstanceContext,
    ) -> recoco_core::prelude::Result<SimpleFunctionAnalysisOutput<ParseArgs>> {
        let str_type = ValueType::Basic(BasicValueType::Str);
        let args = ParseArgs {
            path: args_resolver
                .next_arg("path")?
                .expect_type(&str_type)?
                .required()?,
            content: args_resolver
                .next_arg("content")?
                .expect_type(&str_type)?
                .required()?,
        };
        Ok(SimpleFunctionAnalysisOutput {
            resolved_args: args,
            output_schema: output_schema(),
            behavior_version: Some(EXTRACTOR_VERSION),
        })
    }

    async fn build_executor(
        self: Arc<Self>,
        _spec: ParseSpec,
        args: ParseArgs,
        _context: Arc<FlowInstanceContext>,
    ) -> recoco_core::prelude::Result<impl SimpleFunctionExecutor> {
        Ok(ParseExecutor { args })
    }
}

/// Files parsed by [`PARSE_FUNCTION`] in this process (live, for progress displays; ReCoco's
/// own per-source counters are only published when a source finishes).
static FILES_PARSED: AtomicU64 = AtomicU64::new(0);

/// See [`FILES_PARSED`].
pub fn files_parsed() -> u64 {
    FILES_PARSED.load(Ordering::Relaxed)
}

/// Registers [`PARSE_FUNCTION`] with ReCoco (once per process; later calls are no-ops).
pub fn register_function() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            recoco_core::ops::register_factory(
                PARSE_FUNCTION.to_owned(),
                ExecutorFactory::SimpleFunction(Arc::new(ParseFactory)),
            )
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("registering the {PARSE_FUNCTION} function: {e}"))
}

// ---------------------------------------------------------------------------------------
// The flow

fn object(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Builds (and registers in the current ReCoco context) the indexing flow.
pub async fn build(config: &FlowConfig) -> anyhow::Result<Flow> {
    register_function()?;
    let mut builder = FlowBuilder::new(&config.flow_name).await?;
    let root = builder.root_scope();

    let source_dir = config.source_dir.to_str().ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the directory path is not valid UTF-8",
            config.source_dir.display()
        )
    })?;
    let sources = builder
        .add_source(
            "LocalFile".to_owned(),
            object(json!({
                "path": source_dir,
                "binary": false,
                "included_patterns": included_patterns(),
                "excluded_patterns": excluded_patterns(&config.extra_excluded),
                "max_file_size": MAX_FILE_BYTES,
            })),
            None,
            "sources".to_owned(),
            None,
            None,
        )
        .await?;

    let files_collector = root.clone().add_collector(config.files.name.clone())?;
    let symbols_collector = root.clone().add_collector(config.symbols.name.clone())?;

    let file_scope = builder.for_each(sources, None)?;
    let field = |builder: &FlowBuilder,
                 scope: &recoco_core::builder::flow_builder::OpScopeRef,
                 name: &str| {
        builder
            .scope_field(scope.clone(), name)?
            .ok_or_else(|| anyhow::anyhow!("flow field {name} missing"))
    };
    let path = field(&builder, &file_scope, "filename")?;
    let content = field(&builder, &file_scope, "content")?;
    let parsed = builder
        .transform(
            PARSE_FUNCTION.to_owned(),
            serde_json::Map::new(),
            vec![
                (path.clone(), Some("path".to_owned())),
                (content, Some("content".to_owned())),
            ],
            Some(file_scope.clone()),
            "parsed".to_owned(),
        )
        .await?;
    let sub = |name: &str| {
        parsed
            .field(name)?
            .ok_or_else(|| anyhow::anyhow!("parser output has no field {name}"))
    };

    let file_fields = vec![
        ("path".to_owned(), path.clone()),
        ("language".to_owned(), sub("language")?),
        ("size_bytes".to_owned(), sub("size_bytes")?),
        ("line_count".to_owned(), sub("line_count")?),
        ("content_hash".to_owned(), sub("content_hash")?),
    ];
    // The collected fields must match the derived table's columns (name and type).
    thread_flow::target::check_collected::<FileRow>(&file_fields)?;
    builder.collect(&files_collector, file_fields, None).await?;

    let symbol_scope = builder.for_each(sub("symbols")?, None)?;
    let mut symbol_fields = vec![("file".to_owned(), path)];
    for name in SYMBOL_FIELDS {
        symbol_fields.push((name.to_owned(), field(&builder, &symbol_scope, name)?));
    }
    thread_flow::target::check_collected::<SymbolRow>(&symbol_fields)?;
    builder
        .collect(&symbols_collector, symbol_fields, None)
        .await?;

    for (export, collector) in [
        (&config.files, &files_collector),
        (&config.symbols, &symbols_collector),
    ] {
        builder.export(
            export.name.clone(),
            "D1".to_owned(),
            export.spec.clone(),
            Vec::new(),
            export.index_options.clone(),
            collector,
            false,
        )?;
    }

    Ok(builder.build_flow().await?)
}

/// Creates or migrates the D1 tables (and ReCoco's tracking tables) for `flow`.
///
/// Returns ReCoco's description of what it changed (empty when nothing did).
pub async fn setup(flow: &Flow) -> anyhow::Result<String> {
    let lib = recoco_core::lib_context::get_lib_context().await?;
    let bundle = SetupChangeBundle {
        action: FlowSetupChangeAction::Setup,
        flow_names: vec![flow.0.flow_name().to_owned()],
    };
    let (_, up_to_date) = bundle.describe(&lib).await?;
    if up_to_date {
        return Ok(String::new());
    }
    let mut out = Vec::new();
    bundle.apply(&lib, &mut out).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Source-side counts of one update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceCounts {
    /// New files.
    pub added: i64,
    /// Changed files (re-parsed).
    pub updated: i64,
    /// Files gone since the last run.
    pub deleted: i64,
    /// Files unchanged since the last run.
    pub unchanged: i64,
    /// Files re-processed because the extractor changed.
    pub reprocessed: i64,
    /// Files that failed (see the log).
    pub errors: i64,
    /// Files still being processed.
    pub in_process: i64,
}

impl SourceCounts {
    /// Files looked at so far.
    pub fn seen(&self) -> i64 {
        self.added + self.updated + self.deleted + self.unchanged + self.reprocessed + self.errors
    }

    fn total(updater: &FlowLiveUpdater) -> SourceCounts {
        let mut total = SourceCounts::default();
        for source in updater.index_update_info().sources {
            let s = &source.stats;
            total.added += s.num_insertions.get();
            total.updated += s.num_updates.get();
            total.deleted += s.num_deletions.get();
            total.unchanged += s.num_no_change.get();
            total.reprocessed += s.num_reprocesses.get();
            total.errors += s.num_errors.get();
            total.in_process += s.processing.get_in_process();
        }
        total
    }
}

/// Runs one catch-up update of `flow` (not live): reads the directory, re-parses what
/// changed since the last run, writes the differences to D1. `tick` is called about every
/// `every` with the counts so far (for a progress line).
pub async fn update(
    flow: &Flow,
    every: Duration,
    mut tick: impl FnMut(&SourceCounts),
) -> anyhow::Result<SourceCounts> {
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
    let mut wait = std::pin::pin!(updater.wait());
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await; // the first tick is immediate
    let result = loop {
        tokio::select! {
            result = &mut wait => break result,
            _ = ticker.tick() => tick(&SourceCounts::total(&updater)),
        }
    };
    result?;
    Ok(SourceCounts::total(&updater))
}
