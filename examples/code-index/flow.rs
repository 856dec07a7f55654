//! The ReCoco side: the `CodeIndexTree` source, the `ParseSourceFile` function and the flow
//! `CodeIndexTree -> ParseSourceFile -> collectors -> export "D1"`.
//!
//! The source is ours, not ReCoco's `LocalFile`: `LocalFile` follows every symbolic link
//! (out of the tree, into loops), reads whole files with no cap (a link to `/dev/zero`), opens
//! FIFOs (blocks forever) and stops the whole listing at the first unreadable folder, and none
//! of that can be configured. `CodeIndexTree` lists and reads through [`crate::walk`].
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
    FlowInstanceContext, IndexOptions, KTableInfo, KeyValue, OpArgsResolver, Ordinal,
    PartialSourceRow, PartialSourceRowData, ResolvedOpArg, ResolvedOpArgExt,
    SimpleFunctionAnalysisOutput, SimpleFunctionExecutor, SimpleFunctionFactoryBase,
    SourceExecutor, SourceExecutorReadOptions, SourceFactoryBase, SourceValue, StructSchema,
    TableKind, TableSchema, ValueType, make_output_type,
};
use recoco_core::prelude::{BoxStream, async_trait};
use recoco_core::setup::{FlowSetupChangeAction, SetupChangeBundle};
use serde::{Deserialize, Serialize};

use crate::extract;
use crate::rows::{FileRow, SymbolRow};
use crate::walk::{self, FileRead, SkipReason, Skipped};

/// The ReCoco function kind registered by [`register_function`].
pub const PARSE_FUNCTION: &str = "ParseSourceFile";

/// Bump when [`extract`] changes what it produces: ReCoco then re-parses every file.
const EXTRACTOR_VERSION: u32 = 1;

/// Files larger than this are skipped (generated code, minified bundles).
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

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
    /// Extra folders (relative to `source_dir`) never indexed, e.g. the D1 file's folder.
    pub extra_excluded: Vec<String>,
    /// The `files` table export.
    pub files: TableExport,
    /// The `symbols` table export.
    pub symbols: TableExport,
}

// ---------------------------------------------------------------------------------------
// The source: regular source files inside the tree (see `walk`)

/// The ReCoco source kind registered by [`register_ops`].
pub const SOURCE_KIND: &str = "CodeIndexTree";

#[derive(Debug, Serialize, Deserialize)]
struct TreeSpec {
    /// The tree's root (canonical).
    path: PathBuf,
    /// Extra folders (relative to the root) never indexed.
    excluded: Vec<String>,
    /// Larger files are skipped.
    max_file_size: u64,
}

struct TreeSource;

struct TreeExecutor {
    rules: Arc<walk::Rules>,
}

/// Paths skipped in this process since the last [`take_skipped`], by path.
static SKIPPED: std::sync::Mutex<std::collections::BTreeMap<String, SkipReason>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

fn record_skipped(path: String, reason: SkipReason) {
    if let Ok(mut skipped) = SKIPPED.lock() {
        skipped.entry(path).or_insert(reason);
    }
}

/// What the source skipped (listing and reading) since the last call, by path.
pub fn take_skipped() -> Vec<Skipped> {
    let taken = match SKIPPED.lock() {
        Ok(mut skipped) => std::mem::take(&mut *skipped),
        Err(_) => return Vec::new(),
    };
    taken
        .into_iter()
        .map(|(path, reason)| Skipped { path, reason })
        .collect()
}

fn ordinal(time: std::time::SystemTime) -> Ordinal {
    Ordinal::try_from(time).unwrap_or_else(|_| Ordinal::unavailable())
}

fn internal(e: impl std::fmt::Display) -> recoco_core::prelude::Error {
    recoco_core::prelude::Error::internal_msg(e.to_string())
}

#[async_trait]
impl SourceExecutor for TreeExecutor {
    async fn list(
        &self,
        options: &SourceExecutorReadOptions,
    ) -> recoco_core::prelude::Result<
        BoxStream<'async_trait, recoco_core::prelude::Result<Vec<PartialSourceRow>>>,
    > {
        let rules = self.rules.clone();
        let listing = tokio::task::spawn_blocking(move || walk::list(&rules))
            .await
            .map_err(internal)?;
        for (path, reason) in listing.skipped {
            record_skipped(path, reason);
        }
        let include_ordinal = options.include_ordinal;
        let mut batches: Vec<recoco_core::prelude::Result<Vec<PartialSourceRow>>> = Vec::new();
        for chunk in listing.files.chunks(256) {
            let rows = chunk
                .iter()
                .map(|file| PartialSourceRow {
                    key: KeyValue::from_single_part(file.key.clone()),
                    key_aux_info: serde_json::Value::Null,
                    data: PartialSourceRowData {
                        ordinal: include_ordinal.then(|| ordinal(file.modified)),
                        content_version_fp: None,
                        value: None,
                    },
                })
                .collect();
            batches.push(Ok(rows));
        }
        Ok(Box::pin(recoco_core::prelude::stream::iter(batches)))
    }

    async fn get_value(
        &self,
        key: &KeyValue,
        _key_aux_info: &serde_json::Value,
        options: &SourceExecutorReadOptions,
    ) -> recoco_core::prelude::Result<PartialSourceRowData> {
        let key = key.single_part()?.str_value()?.to_string();
        let rules = self.rules.clone();
        let read_key = key.clone();
        let read = tokio::task::spawn_blocking(move || walk::read(&rules, &read_key))
            .await
            .map_err(internal)?;
        let gone = PartialSourceRowData {
            value: Some(SourceValue::NonExistence),
            ordinal: Some(Ordinal::unavailable()),
            content_version_fp: None,
        };
        Ok(match read {
            FileRead::Content(bytes, modified) => {
                let (content, _) =
                    recoco_core::prelude::utils::bytes_decode::bytes_to_string(&bytes);
                PartialSourceRowData {
                    ordinal: options.include_ordinal.then(|| ordinal(modified)),
                    content_version_fp: None,
                    value: options.include_value.then(|| {
                        SourceValue::Existence(FieldValues {
                            fields: vec![text(&content)],
                        })
                    }),
                }
            }
            FileRead::Gone => gone,
            FileRead::Skipped(reason) => {
                record_skipped(key, reason);
                gone
            }
        })
    }

    fn provides_ordinal(&self) -> bool {
        true
    }
}

#[async_trait]
impl SourceFactoryBase for TreeSource {
    type Spec = TreeSpec;

    fn name(&self) -> &str {
        SOURCE_KIND
    }

    async fn get_output_schema(
        &self,
        _spec: &TreeSpec,
        _context: &FlowInstanceContext,
    ) -> recoco_core::prelude::Result<EnrichedValueType> {
        let fields = vec![
            FieldSchema::new("filename", str_type()),
            FieldSchema::new("content", str_type()),
        ];
        Ok(make_output_type(TableSchema::new(
            TableKind::KTable(KTableInfo { num_key_parts: 1 }),
            StructSchema {
                fields: Arc::new(fields),
                description: None,
            },
        )))
    }

    async fn build_executor(
        self: Arc<Self>,
        _source_name: &str,
        spec: TreeSpec,
        _context: Arc<FlowInstanceContext>,
    ) -> recoco_core::prelude::Result<Box<dyn SourceExecutor>> {
        Ok(Box::new(TreeExecutor {
            rules: Arc::new(walk::Rules {
                root: spec.path,
                excluded: spec.excluded.iter().map(PathBuf::from).collect(),
                max_bytes: spec.max_file_size,
            }),
        }))
    }
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

/// Registers [`SOURCE_KIND`] and [`PARSE_FUNCTION`] with ReCoco (once per process; later
/// calls are no-ops).
pub fn register_ops() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            recoco_core::ops::register_factory(
                SOURCE_KIND.to_owned(),
                ExecutorFactory::Source(Arc::new(TreeSource)),
            )
            .map_err(|e| format!("registering the {SOURCE_KIND} source: {e}"))?;
            recoco_core::ops::register_factory(
                PARSE_FUNCTION.to_owned(),
                ExecutorFactory::SimpleFunction(Arc::new(ParseFactory)),
            )
            .map_err(|e| format!("registering the {PARSE_FUNCTION} function: {e}"))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!(e))
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
    register_ops()?;
    let mut builder = FlowBuilder::new(&config.flow_name).await?;
    let root = builder.root_scope();

    let spec = TreeSpec {
        path: config.source_dir.clone(),
        excluded: config.extra_excluded.clone(),
        max_file_size: MAX_FILE_BYTES,
    };
    let sources = builder
        .add_source(
            SOURCE_KIND.to_owned(),
            object(serde_json::to_value(&spec)?),
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

/// Forgets everything ReCoco recorded for `flow` (its tracking and setup state) and drops the
/// tables its state says it created. [`setup`] then starts from nothing.
pub async fn drop_state(flow: &Flow) -> anyhow::Result<()> {
    let lib = recoco_core::lib_context::get_lib_context().await?;
    let bundle = SetupChangeBundle {
        action: FlowSetupChangeAction::Drop,
        flow_names: vec![flow.0.flow_name().to_owned()],
    };
    let mut out = Vec::new();
    bundle.apply(&lib, &mut out).await?;
    Ok(())
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
