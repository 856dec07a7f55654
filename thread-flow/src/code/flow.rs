//! The ReCoco side of a code index (features `code` + `recoco`): the source `CodeIndexTree`,
//! the functions `ParseSourceFile`, `ExtractSymbols`, `ExtractImports` and `ExtractCalls`,
//! and the index flow `CodeIndexTree -> ParseSourceFile -> collectors -> export "D1"`.
//!
//! [`register`] registers the source and the functions (idempotent; its documentation shows
//! their use in a flow of one's own).
//!
//! The source is ours, not ReCoco's `LocalFile`: `LocalFile` follows every symbolic link
//! (out of the tree, into loops), reads whole files with no cap (a link to `/dev/zero`), opens
//! FIFOs (blocks forever) and stops the whole listing at the first unreadable folder, and none
//! of that can be configured. `CodeIndexTree` lists and reads through `walk.rs`.
//!
//! The collected fields are checked against the derived row structs (`rows.rs`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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

use crate::code::rows::{CallRow, FileRow, ImportRow, SymbolRow};
use crate::code::walk::{self, FileRead, SkipReason, Skipped};
use crate::code::{FileFacts, Language};

/// The ReCoco source kind: the regular source files inside a tree (a link is followed only to a
/// file inside the tree; FIFOs, devices and files over the size limit are skipped and reported).
/// Rows: key `filename` (path relative to the tree, `/`-separated), value `content`.
///
/// Spec (JSON): `path` (the tree, canonical), `excluded` (folders relative to the tree never
/// indexed), `max_file_size` (bytes; for instance [`MAX_FILE_BYTES`]), and optionally
/// `include` / `exclude` (globs on the relative path) and `languages` (names as
/// [`Language::as_str`]).
pub const SOURCE_KIND: &str = "CodeIndexTree";

/// The ReCoco function `(path: Str, content: Str) -> struct`: the file's language, size, line
/// count, content hash and its `symbols`, `imports` and `calls` tables, from one parse.
pub const PARSE_FUNCTION: &str = "ParseSourceFile";

/// The ReCoco function `(path, content) -> symbols` (the `symbols` part of [`PARSE_FUNCTION`]).
pub const EXTRACT_SYMBOLS: &str = "ExtractSymbols";

/// The ReCoco function `(path, content) -> imports` (the `imports` part of [`PARSE_FUNCTION`]).
pub const EXTRACT_IMPORTS: &str = "ExtractImports";

/// The ReCoco function `(path, content) -> calls` (the `calls` part of [`PARSE_FUNCTION`]).
pub const EXTRACT_CALLS: &str = "ExtractCalls";

/// Bump when the extraction changes what it produces: ReCoco then re-parses every file.
const EXTRACTOR_VERSION: u32 = 2;

/// Files larger than this are skipped by default (generated code, minified bundles): the
/// default of `CodeIndex::max_file_bytes`.
pub const MAX_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// The fields of one `symbols` row inside the functions' output, in order.
pub(crate) const SYMBOL_FIELDS: [&str; 6] = [
    "start_line",
    "name",
    "kind",
    "end_line",
    "signature",
    "parent",
];

/// The fields of one `imports` row inside the functions' output, in order.
pub(crate) const IMPORT_FIELDS: [&str; 3] = ["line", "module", "names"];

/// The fields of one `calls` row inside the functions' output, in order.
pub(crate) const CALL_FIELDS: [&str; 3] = ["line", "callee", "caller"];

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

impl TableExport {
    /// The export `name` of `export` (from [`crate::recoco::export`]).
    pub fn new(name: impl Into<String>, export: crate::recoco::D1Export) -> TableExport {
        TableExport {
            name: name.into(),
            spec: export.spec,
            index_options: export.index_options,
        }
    }
}

/// What the index flow reads and where it writes.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Flow name; ReCoco keys its incremental state by it.
    pub flow_name: String,
    /// The directory to index (canonical).
    pub source_dir: PathBuf,
    /// Extra folders (relative to `source_dir`) never indexed, e.g. the D1 file's folder.
    pub extra_excluded: Vec<String>,
    /// Only paths matching one of these globs (relative to `source_dir`); empty: all.
    pub include: Vec<String>,
    /// Paths matching one of these globs are not indexed.
    pub exclude: Vec<String>,
    /// Only these languages (`None`: every language the index reads).
    pub languages: Option<Vec<Language>>,
    /// Larger files are skipped.
    pub max_file_bytes: u64,
    /// The [`FileRow`] table export.
    pub files: TableExport,
    /// The [`SymbolRow`] table export.
    pub symbols: TableExport,
    /// The [`ImportRow`] table export (`None`: imports are not exported).
    pub imports: Option<TableExport>,
    /// The [`CallRow`] table export (`None`: calls are not exported).
    pub calls: Option<TableExport>,
}

// ---------------------------------------------------------------------------------------
// Per-flow counters (live progress; what the source skipped)

/// Live counters of one flow in this process: what its source listed and skipped, what its
/// parse functions parsed. ReCoco's own per-source counters are only published when a source
/// finishes.
#[derive(Debug, Default)]
pub(crate) struct FlowCounters {
    listed: AtomicU64,
    parsed: AtomicU64,
    bytes_parsed: AtomicU64,
    skipped: Mutex<BTreeMap<String, SkipReason>>,
}

impl FlowCounters {
    /// Source files found by the last listing.
    pub(crate) fn listed(&self) -> u64 {
        self.listed.load(Ordering::Relaxed)
    }

    /// Files parsed so far.
    pub(crate) fn parsed(&self) -> u64 {
        self.parsed.load(Ordering::Relaxed)
    }

    /// Bytes of the files parsed so far.
    pub(crate) fn bytes_parsed(&self) -> u64 {
        self.bytes_parsed.load(Ordering::Relaxed)
    }

    /// Takes what the source skipped (listing and reading) since the last call, by path.
    pub(crate) fn take_skipped(&self) -> Vec<Skipped> {
        let taken = match self.skipped.lock() {
            Ok(mut skipped) => std::mem::take(&mut *skipped),
            Err(_) => return Vec::new(),
        };
        taken
            .into_iter()
            .map(|(path, reason)| Skipped { path, reason })
            .collect()
    }

    /// Sets every counter back to zero and forgets what was skipped.
    pub(crate) fn reset(&self) {
        self.listed.store(0, Ordering::Relaxed);
        self.parsed.store(0, Ordering::Relaxed);
        self.bytes_parsed.store(0, Ordering::Relaxed);
        let _ = self.take_skipped();
    }

    fn record_skipped(&self, path: String, reason: SkipReason) {
        if let Ok(mut skipped) = self.skipped.lock() {
            skipped.entry(path).or_insert(reason);
        }
    }
}

/// The counters of the flow named `flow` in this process.
pub(crate) fn counters(flow: &str) -> Arc<FlowCounters> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<FlowCounters>>>> = OnceLock::new();
    let mut all = ALL
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    Arc::clone(all.entry(flow.to_owned()).or_default())
}

// ---------------------------------------------------------------------------------------
// The source: regular source files inside the tree (see `walk`)

#[derive(Debug, Serialize, Deserialize)]
struct TreeSpec {
    /// The tree's root (canonical).
    path: PathBuf,
    /// Extra folders (relative to the root) never indexed.
    excluded: Vec<String>,
    /// Larger files are skipped.
    max_file_size: u64,
    /// Include globs (empty: every file).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    include: Vec<String>,
    /// Exclude globs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    exclude: Vec<String>,
    /// Languages by name (`Language::as_str`; `None`: every one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    languages: Option<Vec<String>>,
}

impl TreeSpec {
    fn selection(&self) -> Result<walk::Selection, recoco_core::prelude::Error> {
        let languages = match &self.languages {
            None => None,
            Some(names) => Some(
                names
                    .iter()
                    .map(|name| {
                        Language::ALL
                            .into_iter()
                            .find(|l| l.as_str() == name)
                            .ok_or_else(|| {
                                recoco_core::prelude::Error::client(format!(
                                    "{SOURCE_KIND}: unknown language `{name}`"
                                ))
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        walk::Selection::new(languages, &self.include, &self.exclude)
            .map_err(|e| recoco_core::prelude::Error::client(e.to_string()))
    }
}

struct TreeSource;

struct TreeExecutor {
    rules: Arc<walk::Rules>,
    counters: Arc<FlowCounters>,
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
            self.counters.record_skipped(path, reason);
        }
        self.counters
            .listed
            .store(listing.files.len() as u64, Ordering::Relaxed);
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
        // ReCoco asks for every listed file at once: without a limit each read got its own
        // blocking thread (hundreds of threads, each with its own stack and malloc arena).
        let _permit = read_permits()
            .acquire()
            .await
            .map_err(|e| recoco_core::prelude::Error::internal_msg(e.to_string()))?;
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
                self.counters.record_skipped(key, reason);
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
        spec: &TreeSpec,
        _context: &FlowInstanceContext,
    ) -> recoco_core::prelude::Result<EnrichedValueType> {
        // Bad globs fail the flow's build, before anything is read.
        spec.selection()?;
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
        context: Arc<FlowInstanceContext>,
    ) -> recoco_core::prelude::Result<Box<dyn SourceExecutor>> {
        let selection = spec.selection()?;
        Ok(Box::new(TreeExecutor {
            rules: Arc::new(walk::Rules {
                root: spec.path,
                excluded: spec.excluded.iter().map(PathBuf::from).collect(),
                max_bytes: spec.max_file_size,
                selection,
            }),
            counters: counters(&context.flow_instance_name),
        }))
    }
}

// ---------------------------------------------------------------------------------------
// The functions: (path, content) -> facts, symbols, imports, calls

/// What a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Everything ([`PARSE_FUNCTION`]).
    All,
    Symbols,
    Imports,
    Calls,
}

impl Part {
    fn kind(self) -> &'static str {
        match self {
            Part::All => PARSE_FUNCTION,
            Part::Symbols => EXTRACT_SYMBOLS,
            Part::Imports => EXTRACT_IMPORTS,
            Part::Calls => EXTRACT_CALLS,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct ParseSpec {}

struct ParseArgs {
    path: ResolvedOpArg,
    content: ResolvedOpArg,
}

struct ParseFactory {
    part: Part,
}

struct ParseExecutor {
    args: ParseArgs,
    part: Part,
    counters: Arc<FlowCounters>,
}

fn str_type() -> EnrichedValueType {
    make_output_type(BasicValueType::Str)
}

fn int_type() -> EnrichedValueType {
    make_output_type(BasicValueType::Int64)
}

fn ltable(fields: Vec<FieldSchema>) -> EnrichedValueType {
    make_output_type(TableSchema::new(
        TableKind::LTable,
        StructSchema {
            fields: Arc::new(fields),
            description: None,
        },
    ))
}

fn symbols_type() -> EnrichedValueType {
    ltable(vec![
        FieldSchema::new("start_line", int_type()),
        FieldSchema::new("name", str_type()),
        FieldSchema::new("kind", str_type()),
        FieldSchema::new("end_line", int_type()),
        FieldSchema::new("signature", str_type()),
        FieldSchema::new("parent", str_type().with_nullable(true)),
    ])
}

fn imports_type() -> EnrichedValueType {
    ltable(vec![
        FieldSchema::new("line", int_type()),
        FieldSchema::new("module", str_type()),
        FieldSchema::new("names", make_output_type(BasicValueType::Json)),
    ])
}

fn calls_type() -> EnrichedValueType {
    ltable(vec![
        FieldSchema::new("line", int_type()),
        FieldSchema::new("callee", str_type()),
        FieldSchema::new("caller", str_type().with_nullable(true)),
    ])
}

fn output_schema(part: Part) -> EnrichedValueType {
    match part {
        Part::Symbols => symbols_type(),
        Part::Imports => imports_type(),
        Part::Calls => calls_type(),
        Part::All => make_output_type(StructSchema {
            fields: Arc::new(vec![
                FieldSchema::new("language", str_type()),
                FieldSchema::new("size_bytes", int_type()),
                FieldSchema::new("line_count", int_type()),
                FieldSchema::new("content_hash", str_type()),
                FieldSchema::new("symbols", symbols_type()),
                FieldSchema::new("imports", imports_type()),
                FieldSchema::new("calls", calls_type()),
            ]),
            description: None,
        }),
    }
}

fn text(s: &str) -> Value {
    Value::Basic(BasicValue::Str(Arc::from(s)))
}

fn int(n: u64) -> Value {
    Value::Basic(BasicValue::Int64(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn symbols_value(facts: &FileFacts) -> Value {
    Value::LTable(
        facts
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
            .collect(),
    )
}

/// One row per `(line, module)` (the `imports` key within a file): the names of several
/// imports of one module on one line are merged, in order, without repeats.
fn imports_value(facts: &FileFacts) -> Value {
    let mut rows: BTreeMap<(u32, &str), Vec<&str>> = BTreeMap::new();
    for import in &facts.imports {
        let names = rows
            .entry((import.line, import.module.as_str()))
            .or_default();
        for name in &import.names {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
    }
    Value::LTable(
        rows.into_iter()
            .map(|((line, module), names)| {
                let names = serde_json::Value::Array(
                    names
                        .into_iter()
                        .map(|n| serde_json::Value::String(n.to_owned()))
                        .collect(),
                );
                ScopeValue(FieldValues {
                    fields: vec![
                        int(u64::from(line)),
                        text(module),
                        Value::Basic(BasicValue::Json(Arc::new(names))),
                    ],
                })
            })
            .collect(),
    )
}

/// One row per `(line, callee)` (the `calls` key within a file): the first call's caller.
fn calls_value(facts: &FileFacts) -> Value {
    let mut rows: BTreeMap<(u32, &str), Option<&str>> = BTreeMap::new();
    for call in &facts.calls {
        rows.entry((call.line, call.callee.as_str()))
            .or_insert(call.caller.as_deref());
    }
    Value::LTable(
        rows.into_iter()
            .map(|((line, callee), caller)| {
                ScopeValue(FieldValues {
                    fields: vec![
                        int(u64::from(line)),
                        text(callee),
                        caller.map_or(Value::Null, text),
                    ],
                })
            })
            .collect(),
    )
}

/// A function's output for one file, as ReCoco values.
fn part_value(part: Part, facts: &FileFacts) -> Value {
    match part {
        Part::Symbols => symbols_value(facts),
        Part::Imports => imports_value(facts),
        Part::Calls => calls_value(facts),
        Part::All => Value::Struct(FieldValues {
            fields: vec![
                text(facts.lang.as_str()),
                int(facts.size),
                int(facts.line_count),
                text(&facts.content_hash),
                symbols_value(facts),
                imports_value(facts),
                calls_value(facts),
            ],
        }),
    }
}

/// Permits for the file reads of this process (a few per core: reads mostly wait on the disk).
fn read_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(4 * cores)
    })
}

/// One permit per core for the parser tasks of this process.
fn parse_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    })
}

#[async_trait]
impl SimpleFunctionExecutor for ParseExecutor {
    async fn evaluate(&self, input: Vec<Value>) -> recoco_core::prelude::Result<Value> {
        let path = self.args.path.value(&input)?.as_str()?.clone();
        let content = self.args.content.value(&input)?.as_str()?.clone();
        let part = self.part;
        let bytes = content.len() as u64;
        // Parsing is CPU work: keep it off the async worker threads, and run at most one
        // parse per core. ReCoco evaluates every listed file at once; without the limit each
        // got its own blocking thread (up to 512), all parsing at the same time.
        let _permit = parse_permits()
            .acquire()
            .await
            .map_err(|e| recoco_core::prelude::Error::internal_msg(e.to_string()))?;
        let value = tokio::task::spawn_blocking(move || {
            crate::code::extract(&path, &content)
                .map(|facts| (part_value(part, &facts), facts.has_errors))
                .ok_or(path)
        })
        .await
        .map_err(|e| {
            recoco_core::prelude::Error::internal_msg(format!("parser task failed: {e}"))
        })?;
        match value {
            Ok((value, has_errors)) => {
                self.counters.parsed.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .bytes_parsed
                    .fetch_add(bytes, Ordering::Relaxed);
                if has_errors {
                    tracing::debug!("syntax errors while parsing; the facts may be incomplete");
                }
                Ok(value)
            }
            Err(path) => Err(recoco_core::prelude::Error::client(format!(
                "{path}: not a file of a language the code index reads"
            ))),
        }
    }
}

#[async_trait]
impl SimpleFunctionFactoryBase for ParseFactory {
    type Spec = ParseSpec;
    type ResolvedArgs = ParseArgs;

    fn name(&self) -> &str {
        self.part.kind()
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
            output_schema: output_schema(self.part),
            behavior_version: Some(EXTRACTOR_VERSION),
        })
    }

    async fn build_executor(
        self: Arc<Self>,
        _spec: ParseSpec,
        args: ParseArgs,
        context: Arc<FlowInstanceContext>,
    ) -> recoco_core::prelude::Result<impl SimpleFunctionExecutor> {
        Ok(ParseExecutor {
            args,
            part: self.part,
            counters: counters(&context.flow_instance_name),
        })
    }
}

/// Registers [`SOURCE_KIND`], [`PARSE_FUNCTION`], [`EXTRACT_SYMBOLS`], [`EXTRACT_IMPORTS`] and
/// [`EXTRACT_CALLS`] with ReCoco, and the target kind `"D1"` ([`crate::recoco::register`]). Once per
/// process; later calls are no-ops. Fails only when another library took one of the names.
///
/// Then use them in any flow:
///
/// ```no_run
/// # async fn demo(builder: &mut recoco_core::builder::FlowBuilder,
/// #     scope: &recoco_core::builder::flow_builder::OpScopeRef,
/// #     path: recoco_core::builder::flow_builder::DataSlice,
/// #     content: recoco_core::builder::flow_builder::DataSlice) -> anyhow::Result<()> {
/// thread_flow::code::register()?;
/// // (path: Str, content: Str) -> {language, size_bytes, line_count, content_hash,
/// //                               symbols: [..], imports: [..], calls: [..]}
/// let parsed = builder
///     .transform(
///         thread_flow::code::PARSE_FUNCTION.to_owned(),
///         serde_json::Map::new(),
///         vec![(path, Some("path".to_owned())), (content, Some("content".to_owned()))],
///         Some(scope.clone()),
///         "parsed".to_owned(),
///     )
///     .await?;
/// # let _ = parsed; Ok(()) }
/// ```
pub fn register() -> crate::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            recoco_core::ops::register_factory(
                SOURCE_KIND.to_owned(),
                ExecutorFactory::Source(Arc::new(TreeSource)),
            )
            .map_err(|e| format!("registering the ReCoco source {SOURCE_KIND}: {e}"))?;
            for part in [Part::All, Part::Symbols, Part::Imports, Part::Calls] {
                recoco_core::ops::register_factory(
                    part.kind().to_owned(),
                    ExecutorFactory::SimpleFunction(Arc::new(ParseFactory { part })),
                )
                .map_err(|e| format!("registering the ReCoco function {}: {e}", part.kind()))?;
            }
            Ok(())
        })
        .clone()
        .map_err(crate::Error::Config)?;
    crate::recoco::register()
}

// ---------------------------------------------------------------------------------------
// The flow

fn object(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// Builds (and registers in the current ReCoco context) the index flow.
pub async fn build(config: &FlowConfig) -> anyhow::Result<Flow> {
    register()?;
    let mut builder = FlowBuilder::new(&config.flow_name).await?;
    let root = builder.root_scope();

    let spec = TreeSpec {
        path: config.source_dir.clone(),
        excluded: config.extra_excluded.clone(),
        max_file_size: config.max_file_bytes,
        include: config.include.clone(),
        exclude: config.exclude.clone(),
        languages: config
            .languages
            .as_ref()
            .map(|l| l.iter().map(|l| l.as_str().to_owned()).collect()),
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
    let imports_collector = match &config.imports {
        Some(export) => Some(root.clone().add_collector(export.name.clone())?),
        None => None,
    };
    let calls_collector = match &config.calls {
        Some(export) => Some(root.clone().add_collector(export.name.clone())?),
        None => None,
    };

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
    crate::recoco::check_collected::<FileRow>(&file_fields)?;
    builder.collect(&files_collector, file_fields, None).await?;

    let symbol_scope = builder.for_each(sub("symbols")?, None)?;
    let mut symbol_fields = vec![("file".to_owned(), path.clone())];
    for name in SYMBOL_FIELDS {
        symbol_fields.push((name.to_owned(), field(&builder, &symbol_scope, name)?));
    }
    crate::recoco::check_collected::<SymbolRow>(&symbol_fields)?;
    builder
        .collect(&symbols_collector, symbol_fields, None)
        .await?;

    if let Some(collector) = &imports_collector {
        let scope = builder.for_each(sub("imports")?, None)?;
        let mut fields = vec![("file".to_owned(), path.clone())];
        for name in IMPORT_FIELDS {
            fields.push((name.to_owned(), field(&builder, &scope, name)?));
        }
        crate::recoco::check_collected::<ImportRow>(&fields)?;
        builder.collect(collector, fields, None).await?;
    }
    if let Some(collector) = &calls_collector {
        let scope = builder.for_each(sub("calls")?, None)?;
        let mut fields = vec![("file".to_owned(), path.clone())];
        for name in CALL_FIELDS {
            fields.push((name.to_owned(), field(&builder, &scope, name)?));
        }
        crate::recoco::check_collected::<CallRow>(&fields)?;
        builder.collect(collector, fields, None).await?;
    }

    let mut exports = vec![
        (&config.files, &files_collector),
        (&config.symbols, &symbols_collector),
    ];
    if let (Some(export), Some(collector)) = (&config.imports, &imports_collector) {
        exports.push((export, collector));
    }
    if let (Some(export), Some(collector)) = (&config.calls, &calls_collector) {
        exports.push((export, collector));
    }
    for (export, collector) in exports {
        builder.export(
            export.name.clone(),
            crate::recoco::KIND.to_owned(),
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
pub(crate) async fn drop_state(flow: &Flow) -> anyhow::Result<()> {
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
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
    let started = std::time::Instant::now();
    let counters = counters(flow.0.flow_name());
    let mut wait = std::pin::pin!(updater.wait());
    let mut ticker = tokio::time::interval(every);
    ticker.tick().await; // the first tick is immediate
    let result = loop {
        tokio::select! {
            result = &mut wait => break result,
            _ = ticker.tick() => {
                let counts = SourceCounts::total(&updater);
                // A timeline of the update (`RUST_LOG=thread_flow::code::flow=debug`). ReCoco
                // publishes its per-source counts only when the source is done, so the live
                // figure is our own parse counter.
                tracing::debug!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    listed = counters.listed(),
                    parsed = counters.parsed(),
                    bytes_parsed = counters.bytes_parsed(),
                    "update progress"
                );
                tick(&counts)
            }
        }
    };
    result?;
    let counts = SourceCounts::total(&updater);
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        parsed = counters.parsed(),
        done = counts.seen(),
        "update finished"
    );
    Ok(counts)
}
