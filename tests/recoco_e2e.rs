//! The full incremental engine: a throwaway PostgreSQL cluster for ReCoco's state, a flow
//! `LocalFile -> ParseRecords -> collector -> export "D1"` into the embedded local D1 *and* the
//! real local D1 (Miniflare/workerd over HTTP), then an incremental update (one file edited,
//! one deleted) and two struct changes (add a column + an index, then change the key).
//!
//! One test function: `init_lib_context` is process-global, its PostgreSQL pool belongs to the
//! runtime that created it, and a flow name can be built once per flow context.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use recoco_core::builder::FlowBuilder;
use recoco_core::builder::flow_builder::Flow;
use recoco_core::execution::{FlowLiveUpdater, FlowLiveUpdaterOptions};
use recoco_core::lib_context::{get_auth_registry, get_lib_context, init_lib_context};
use recoco_core::ops::interface::{ExecutorFactory, FlowInstanceContext, SimpleFunctionExecutor};
use recoco_core::ops::sdk::{
    BasicValue, BasicValueType, EnrichedValueType, FieldSchema, FieldValues, OpArgsResolver,
    ResolvedOpArg, ResolvedOpArgExt, ScopeValue, SimpleFunctionAnalysisOutput,
    SimpleFunctionFactoryBase, StructSchema, TableKind, TableSchema, Value as RValue, ValueType,
    make_output_type,
};
use recoco_core::settings::Settings;
use recoco_core::setup::{FlowSetupChangeAction, SetupChangeBundle};
use thread_flow::postgres::PrivatePostgres;
use thread_flow::recoco::check_collected;
use thread_flow::{Connection, TokenSource};
use thread_flow::{D1Database, D1Target};
use thread_flow_suite::miniflare::LocalD1Server;

// ---------------------------------------------------------------------------------------
// The rows: three versions of one table.

/// Version 1: key (file, line).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, D1Target)]
#[d1(table = "records", primary_key(file, line))]
struct RecordV1 {
    file: String,
    line: i64,
    name: String,
    count: i64,
}

/// Version 2: a new column and an index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, D1Target)]
#[d1(table = "records", primary_key(file, line), index(name))]
struct RecordV2 {
    file: String,
    line: i64,
    name: String,
    count: i64,
    name_len: Option<i64>,
}

/// Version 3: the key becomes (file, name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, D1Target)]
#[d1(table = "records", primary_key(file, name), index(name))]
struct RecordV3 {
    file: String,
    name: String,
    line: i64,
    count: i64,
    name_len: Option<i64>,
}

// ---------------------------------------------------------------------------------------
// The transform: "name=count" lines -> rows (line, name, count, name_len).

const PARSE: &str = "ParseRecords";

struct ParseFactory;
struct ParseExecutor {
    content: ResolvedOpArg,
}

fn record_table_type() -> EnrichedValueType {
    let int = || make_output_type(BasicValueType::Int64);
    make_output_type(TableSchema::new(
        TableKind::LTable,
        StructSchema {
            fields: Arc::new(vec![
                FieldSchema::new("line", int()),
                FieldSchema::new("name", make_output_type(BasicValueType::Str)),
                FieldSchema::new("count", int()),
                FieldSchema::new("name_len", int()),
            ]),
            description: None,
        },
    ))
}

#[recoco_core::prelude::async_trait]
impl SimpleFunctionExecutor for ParseExecutor {
    async fn evaluate(&self, input: Vec<RValue>) -> recoco_core::prelude::Result<RValue> {
        let content = self.content.value(&input)?.as_str()?.clone();
        let mut rows = Vec::new();
        for (i, line) in content.lines().enumerate() {
            let Some((name, count)) = line.split_once('=') else {
                continue;
            };
            let count: i64 = count.trim().parse().map_err(|_| {
                recoco_core::prelude::Error::client(format!("line {}: bad count", i + 1))
            })?;
            let name = name.trim();
            rows.push(ScopeValue(FieldValues {
                fields: vec![
                    RValue::Basic(BasicValue::Int64(i as i64 + 1)),
                    RValue::Basic(BasicValue::Str(name.into())),
                    RValue::Basic(BasicValue::Int64(count)),
                    RValue::Basic(BasicValue::Int64(name.len() as i64)),
                ],
            }));
        }
        Ok(RValue::LTable(rows))
    }
}

#[recoco_core::prelude::async_trait]
impl SimpleFunctionFactoryBase for ParseFactory {
    type Spec = serde_json::Value;
    type ResolvedArgs = ResolvedOpArg;

    fn name(&self) -> &str {
        PARSE
    }

    async fn analyze<'a>(
        &'a self,
        _spec: &'a serde_json::Value,
        args: &mut OpArgsResolver<'a>,
        _context: &FlowInstanceContext,
    ) -> recoco_core::prelude::Result<SimpleFunctionAnalysisOutput<ResolvedOpArg>> {
        let content = args
            .next_arg("content")?
            .expect_type(&ValueType::Basic(BasicValueType::Str))?
            .required()?;
        Ok(SimpleFunctionAnalysisOutput {
            resolved_args: content,
            output_schema: record_table_type(),
            behavior_version: Some(1),
        })
    }

    async fn build_executor(
        self: Arc<Self>,
        _spec: serde_json::Value,
        content: ResolvedOpArg,
        _context: Arc<FlowInstanceContext>,
    ) -> recoco_core::prelude::Result<impl SimpleFunctionExecutor> {
        Ok(ParseExecutor { content })
    }
}

fn register_all() -> anyhow::Result<()> {
    static PARSE_REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    thread_flow::recoco::register()?;
    PARSE_REGISTERED
        .get_or_init(|| {
            recoco_core::ops::register_factory(
                PARSE.into(),
                ExecutorFactory::SimpleFunction(Arc::new(ParseFactory)),
            )
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

// ---------------------------------------------------------------------------------------
// Flow plumbing.

#[derive(Clone, Copy, Debug)]
enum Version {
    V1,
    V2,
    V3,
}

struct Targets<'a> {
    local: &'a Path,
    edge: &'a LocalD1Server,
    edge_token_key: &'a str,
}

fn obj(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

async fn build_flow(
    name: &str,
    input: &Path,
    version: Version,
    targets: &Targets<'_>,
) -> anyhow::Result<Flow> {
    let mut builder = FlowBuilder::new(name).await?;
    let root = builder.root_scope();
    let files = builder
        .add_source(
            "LocalFile".into(),
            obj(
                serde_json::json!({"path": input.to_string_lossy(), "binary": false,
                                   "included_patterns": ["*.txt"]}),
            ),
            None,
            "files".into(),
            None,
            None,
        )
        .await?;
    let collector = root.clone().add_collector("records".into())?;
    let file_scope = builder.for_each(files, None)?;
    let filename = builder
        .scope_field(file_scope.clone(), "filename")?
        .ok_or_else(|| anyhow::anyhow!("no filename"))?;
    let content = builder
        .scope_field(file_scope.clone(), "content")?
        .ok_or_else(|| anyhow::anyhow!("no content"))?;
    let records = builder
        .transform(
            PARSE.into(),
            serde_json::Map::new(),
            vec![(content, Some("content".into()))],
            Some(file_scope.clone()),
            "records".into(),
        )
        .await?;
    let rec_scope = builder.for_each(records, None)?;
    let f = |n: &str| -> anyhow::Result<_> {
        builder
            .scope_field(rec_scope.clone(), n)?
            .ok_or_else(|| anyhow::anyhow!("no {n}"))
    };
    let mut fields = vec![
        ("file".to_string(), filename),
        ("line".to_string(), f("line")?),
        ("name".to_string(), f("name")?),
        ("count".to_string(), f("count")?),
    ];
    if !matches!(version, Version::V1) {
        fields.push(("name_len".to_string(), f("name_len")?));
    }
    // The helper catches a collector that does not fit the struct before the flow is built.
    let (local_export, edge_export) = match version {
        Version::V1 => {
            check_collected::<RecordV1>(&fields)?;
            exports::<RecordV1>(targets)?
        }
        Version::V2 => {
            check_collected::<RecordV2>(&fields)?;
            exports::<RecordV2>(targets)?
        }
        Version::V3 => {
            check_collected::<RecordV3>(&fields)?;
            exports::<RecordV3>(targets)?
        }
    };
    builder.collect(&collector, fields, None).await?;
    for (export_name, e) in [
        ("local_records", local_export),
        ("edge_records", edge_export),
    ] {
        builder.export(
            export_name.into(),
            "D1".into(),
            e.spec,
            vec![],
            e.index_options,
            &collector,
            false,
        )?;
    }
    Ok(builder.build_flow().await?)
}

fn exports<T: D1Target>(
    targets: &Targets<'_>,
) -> anyhow::Result<(thread_flow::recoco::D1Export, thread_flow::recoco::D1Export)> {
    let local = thread_flow::recoco::export::<T>(Connection::local(targets.local))?;
    let edge = thread_flow::recoco::export::<T>(Connection::Http {
        base_url: targets.edge.base_url().to_string(),
        account_id: targets.edge.account_id().to_string(),
        database_id: targets.edge.database_id().to_string(),
        token: Some(TokenSource::AuthKey(targets.edge_token_key.to_string())),
    })?;
    Ok((local, edge))
}

/// Applies the flow's setup changes; returns ReCoco's description of them.
async fn setup(flow: &Flow) -> anyhow::Result<String> {
    let lib = get_lib_context().await?;
    let bundle = SetupChangeBundle {
        action: FlowSetupChangeAction::Setup,
        flow_names: vec![flow.0.flow_name().to_string()],
    };
    let mut out = Vec::new();
    bundle.apply(&lib, &mut out).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Runs one incremental update (not live) to the end; the updater holds its stats.
async fn run_update(flow: &Flow) -> anyhow::Result<FlowLiveUpdater> {
    let lib = get_lib_context().await?;
    let updater = FlowLiveUpdater::start(
        flow.0.clone(),
        lib.require_builtin_db_pool()?,
        FlowLiveUpdaterOptions {
            live_mode: false,
            reexport_targets: false,
            full_reprocess: false,
            print_stats: false,
        },
    )
    .await?;
    updater.wait().await?;
    Ok(updater)
}

/// One incremental update (not live); fails if any source row failed.
async fn update(flow: &Flow) -> anyhow::Result<String> {
    let info = run_update(flow).await?.index_update_info();
    for s in &info.sources {
        let errors = s.stats.num_errors.get();
        anyhow::ensure!(errors == 0, "{errors} source rows failed: {info}");
    }
    Ok(info.to_string())
}

/// One incremental update; returns how many source rows failed.
async fn update_errors(flow: &Flow) -> anyhow::Result<i64> {
    Ok(run_update(flow)
        .await?
        .index_update_info()
        .sources
        .iter()
        .map(|s| s.stats.num_errors.get())
        .sum())
}

/// Collects version-1 fields and checks them against version 2 (which has one more column).
async fn mismatched_collector(input: &Path) -> anyhow::Result<()> {
    let mut builder = FlowBuilder::new("e2e_mismatch").await?;
    let files = builder
        .add_source(
            "LocalFile".into(),
            obj(serde_json::json!({"path": input.to_string_lossy(), "binary": false})),
            None,
            "files".into(),
            None,
            None,
        )
        .await?;
    let file_scope = builder.for_each(files, None)?;
    let field = |n: &str| -> anyhow::Result<_> {
        builder
            .scope_field(file_scope.clone(), n)?
            .ok_or_else(|| anyhow::anyhow!("no {n}"))
    };
    let fields = vec![
        ("file".to_string(), field("filename")?),
        ("line".to_string(), field("content")?),
    ];
    check_collected::<RecordV2>(&fields)?;
    Ok(())
}

async fn rebuild(
    name: &str,
    input: &Path,
    version: Version,
    targets: &Targets<'_>,
) -> anyhow::Result<Flow> {
    get_lib_context().await?.remove_flow_context(name);
    build_flow(name, input, version, targets).await
}

fn v1(file: &str, line: i64, name: &str, count: i64) -> RecordV1 {
    RecordV1 {
        file: file.into(),
        line,
        name: name.into(),
        count,
    }
}

async fn rows<T: D1Target + Ord>(db: &D1Database) -> anyhow::Result<Vec<T>> {
    let mut all = db.table::<T>().all().await?;
    all.sort();
    Ok(all)
}

/// `(op, file, line)` rows written by the audit triggers, then cleared.
async fn take_audit(db: &D1Database) -> anyhow::Result<BTreeSet<(String, String, i64)>> {
    let r = db
        .execute(r#"SELECT "op", "file", "line" FROM "audit""#, vec![])
        .await?;
    db.execute(r#"DELETE FROM "audit""#, vec![]).await?;
    let mut out = BTreeSet::new();
    for row in r.rows {
        if let [
            thread_flow::Value::Text(op),
            thread_flow::Value::Text(f),
            thread_flow::Value::Integer(l),
        ] = &row[..]
        {
            out.insert((op.clone(), f.clone(), *l));
        }
    }
    Ok(out)
}

fn audit(op: &str, file: &str, line: i64) -> (String, String, i64) {
    (op.into(), file.into(), line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn incremental_flow_into_local_and_real_d1() -> anyhow::Result<()> {
    let pg = PrivatePostgres::temporary()?;
    let edge = LocalD1Server::start()?;
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("input");
    std::fs::create_dir_all(&input)?;
    let local_path = dir.path().join("local.d1");

    init_lib_context(Some(Settings {
        database: Some(pg.database_spec()),
        ..Settings::default()
    }))
    .await?;
    register_all()?;
    let token_key = "e2e_miniflare_token";
    get_auth_registry().add(token_key.into(), serde_json::json!(edge.token()))?;
    let targets = Targets {
        local: &local_path,
        edge: &edge,
        edge_token_key: token_key,
    };

    std::fs::write(input.join("a.txt"), "apple=1\nbanana=2\n")?;
    std::fs::write(input.join("b.txt"), "cherry=3\ndate=4\n")?;
    std::fs::write(input.join("c.txt"), "elder=5\n")?;

    // --- 0. A collector that does not fit the struct is caught before the flow is built.
    let err = mismatched_collector(&input)
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("column `name_len` (INTEGER) has no collector field"),
        "{err}"
    );

    // --- 1. First run: setup creates both tables, the update fills them.
    let name = "e2e_records";
    let flow = build_flow(name, &input, Version::V1, &targets).await?;
    let described = setup(&flow).await?;
    assert!(described.contains("create table `records`"), "{described}");
    update(&flow).await?;

    let local = D1Database::local(&local_path)?;
    let remote = edge.database()?;
    let want = vec![
        v1("a.txt", 1, "apple", 1),
        v1("a.txt", 2, "banana", 2),
        v1("b.txt", 1, "cherry", 3),
        v1("b.txt", 2, "date", 4),
        v1("c.txt", 1, "elder", 5),
    ];
    assert_eq!(rows::<RecordV1>(&local).await?, want);
    assert_eq!(rows::<RecordV1>(&remote).await?, want);

    // Record every later write to the local table.
    local
        .batch(vec![
            thread_flow::Statement::raw(r#"CREATE TABLE "audit" ("op" TEXT, "file" TEXT, "line" INTEGER)"#),
            thread_flow::Statement::raw(
                r#"CREATE TRIGGER "audit_i" AFTER INSERT ON "records" BEGIN INSERT INTO "audit" VALUES ('insert', NEW."file", NEW."line"); END"#,
            ),
            thread_flow::Statement::raw(
                r#"CREATE TRIGGER "audit_u" AFTER UPDATE ON "records" BEGIN INSERT INTO "audit" VALUES ('update', NEW."file", NEW."line"); END"#,
            ),
            thread_flow::Statement::raw(
                r#"CREATE TRIGGER "audit_d" AFTER DELETE ON "records" BEGIN INSERT INTO "audit" VALUES ('delete', OLD."file", OLD."line"); END"#,
            ),
        ])
        .await?;

    // --- 2. Same inputs again: nothing is written.
    update(&flow).await?;
    assert_eq!(take_audit(&local).await?, BTreeSet::new());

    // --- 3. Edit a.txt (one value changed, one line added), delete b.txt.
    std::fs::write(input.join("a.txt"), "apple=1\nbanana=20\nfig=6\n")?;
    std::fs::remove_file(input.join("b.txt"))?;
    update(&flow).await?;
    let want = vec![
        v1("a.txt", 1, "apple", 1),
        v1("a.txt", 2, "banana", 20),
        v1("a.txt", 3, "fig", 6),
        v1("c.txt", 1, "elder", 5),
    ];
    assert_eq!(rows::<RecordV1>(&local).await?, want);
    assert_eq!(rows::<RecordV1>(&remote).await?, want);
    let written = take_audit(&local).await?;
    // Only the changed rows were written: nothing for a.txt line 1 or c.txt.
    assert!(
        !written
            .iter()
            .any(|(_, f, l)| f == "c.txt" || (f == "a.txt" && *l == 1)),
        "{written:?}"
    );
    for expected in [
        audit("update", "a.txt", 2),
        audit("insert", "a.txt", 3),
        audit("delete", "b.txt", 1),
        audit("delete", "b.txt", 2),
    ] {
        assert!(
            written.contains(&expected),
            "{expected:?} missing from {written:?}"
        );
    }

    // --- 3b. A write D1 refuses: ReCoco's update still finishes, the failure is counted (its
    // stats, ours, tracing) and the row is sent again on the next update.
    local
        .execute(
            r#"CREATE TRIGGER "poison" BEFORE INSERT ON "records" WHEN NEW."name" = 'poison'
               BEGIN SELECT RAISE(ABORT, 'poisoned row'); END"#,
            vec![],
        )
        .await?;
    std::fs::write(input.join("d.txt"), "poison=9\n")?;
    assert_eq!(update_errors(&flow).await?, 1);
    let failed = |stats: &[(
        thread_flow::recoco::D1TableId,
        thread_flow::recoco::TableStatsSnapshot,
    )]| {
        stats
            .iter()
            .filter(|(id, _)| matches!(id.database, thread_flow::DatabaseId::Local { .. }))
            .map(|(_, s)| s.failed_rows)
            .sum::<u64>()
    };
    assert_eq!(failed(&thread_flow::recoco::table_stats()), 1);
    assert!(
        !rows::<RecordV1>(&local)
            .await?
            .iter()
            .any(|r| r.file == "d.txt")
    );
    local.execute(r#"DROP TRIGGER "poison""#, vec![]).await?;
    update(&flow).await?;
    assert!(
        rows::<RecordV1>(&local)
            .await?
            .contains(&v1("d.txt", 1, "poison", 9))
    );
    assert!(
        rows::<RecordV1>(&remote)
            .await?
            .contains(&v1("d.txt", 1, "poison", 9))
    );
    std::fs::remove_file(input.join("d.txt"))?;
    update(&flow).await?;
    assert_eq!(rows::<RecordV1>(&local).await?, want);
    assert_eq!(rows::<RecordV1>(&remote).await?, want);
    take_audit(&local).await?;

    // --- 4. Struct change: a new column and an index. Rows kept, new column filled.
    let flow = rebuild(name, &input, Version::V2, &targets).await?;
    let described = setup(&flow).await?;
    assert!(described.contains("add column `name_len`"), "{described}");
    update(&flow).await?;
    for db in [&local, &remote] {
        let live = db
            .live_schema("records")
            .await?
            .ok_or_else(|| anyhow::anyhow!("no table"))?;
        assert_eq!(
            live.indexes
                .iter()
                .map(|i| i.columns.clone())
                .collect::<Vec<_>>(),
            vec![vec!["name".to_string()]]
        );
        let got = rows::<RecordV2>(db).await?;
        let want: Vec<RecordV2> = [
            ("a.txt", 1, "apple", 1),
            ("a.txt", 2, "banana", 20),
            ("a.txt", 3, "fig", 6),
            ("c.txt", 1, "elder", 5),
        ]
        .into_iter()
        .map(|(f, l, n, c)| RecordV2 {
            file: f.into(),
            line: l,
            name: n.into(),
            count: c,
            name_len: Some(n.len() as i64),
        })
        .collect();
        assert_eq!(got, want);
    }

    // --- 5. Struct change: the key becomes (file, name). The table is rebuilt with its rows,
    // ReCoco re-exports every row, and later deletes still reach the table.
    let flow = rebuild(name, &input, Version::V3, &targets).await?;
    let described = setup(&flow).await?;
    assert!(described.contains("rebuild"), "{described}");
    // The rebuild alone (before any re-export) kept every row.
    assert_eq!(local.table::<RecordV3>().count().await?, 4);
    assert_eq!(remote.table::<RecordV3>().count().await?, 4);
    update(&flow).await?;
    std::fs::write(input.join("c.txt"), "elder=7\ngrape=8\n")?;
    std::fs::write(input.join("a.txt"), "apple=1\nfig=6\n")?;
    update(&flow).await?;
    let want: Vec<RecordV3> = [
        ("a.txt", "apple", 1, 1),
        ("a.txt", "fig", 2, 6),
        ("c.txt", "elder", 1, 7),
        ("c.txt", "grape", 2, 8),
    ]
    .into_iter()
    .map(|(f, n, l, c)| RecordV3 {
        file: f.into(),
        name: n.into(),
        line: l,
        count: c,
        name_len: Some(n.len() as i64),
    })
    .collect();
    for db in [&local, &remote] {
        let live = db
            .live_schema("records")
            .await?
            .ok_or_else(|| anyhow::anyhow!("no table"))?;
        assert_eq!(
            live.primary_key,
            vec!["file".to_string(), "name".to_string()]
        );
        assert_eq!(rows::<RecordV3>(db).await?, want);
    }

    let stats = thread_flow::recoco::table_stats();
    assert_eq!(failed(&stats), 1, "{stats:?}");
    drop(pg);
    Ok(())
}
