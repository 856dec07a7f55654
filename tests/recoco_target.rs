//! The D1 target factory driven directly through ReCoco's `TargetFactoryBase` (no flow, no
//! PostgreSQL): build, setup diff + apply, migrations, batched concurrent mutations, errors.

use std::sync::Arc;

use recoco_core::base::schema::{BasicValueType, EnrichedValueType, FieldSchema, ValueType};
use recoco_core::base::spec::IndexOptions;
use recoco_core::base::value::{BasicValue, FieldValues, KeyPart, KeyValue, Value as RValue};
use recoco_core::ops::interface::{
    ExportTargetDeleteEntry, ExportTargetMutation, ExportTargetMutationWithContext,
    ExportTargetUpsertEntry, FlowInstanceContext, SetupStateCompatibility,
};
use recoco_core::ops::sdk::{
    TargetFactoryBase, TypedExportDataCollectionSpec, TypedResourceSetupChangeItem,
};
use recoco_core::setup::{AuthRegistry, CombinedState, ResourceSetupChange, SetupChangeType};
use thread_flow::target::{
    Connection, D1ExportContext, D1SetupState, D1Spec, D1TableId, D1TargetFactory, TokenSource,
};
use thread_flow::{D1Database, D1Target, SqlType, TableSchema, Value};

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "items")]
struct Item {
    #[d1(primary_key)]
    id: i64,
    name: String,
    score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "items", index(name))]
struct ItemV2 {
    #[d1(primary_key)]
    id: i64,
    name: String,
    score: Option<f64>,
    tag: Option<String>,
}

fn field(name: &str, t: BasicValueType, nullable: bool) -> FieldSchema {
    FieldSchema::new(
        name,
        EnrichedValueType {
            typ: ValueType::Basic(t),
            nullable,
            attrs: Default::default(),
        },
    )
}

fn pk(fields: &[&str]) -> IndexOptions {
    IndexOptions {
        primary_key_fields: Some(fields.iter().map(|s| s.to_string()).collect()),
        vector_indexes: vec![],
        fts_indexes: vec![],
    }
}

fn ctx(flow: &str) -> Arc<FlowInstanceContext> {
    Arc::new(FlowInstanceContext {
        flow_instance_name: flow.to_string(),
        auth_registry: Arc::new(AuthRegistry::new()),
    })
}

fn s(v: &str) -> RValue {
    RValue::Basic(BasicValue::Str(v.into()))
}

fn f(v: f64) -> RValue {
    RValue::Basic(BasicValue::Float64(v))
}

struct Built {
    key: D1TableId,
    state: D1SetupState,
    export: Arc<D1ExportContext>,
}

async fn build(
    factory: &Arc<D1TargetFactory>,
    flow: &str,
    spec: D1Spec,
    key_fields: Vec<FieldSchema>,
    value_fields: Vec<FieldSchema>,
    index_options: IndexOptions,
) -> recoco_core::prelude::Result<Built> {
    let (mut outs, _) = TargetFactoryBase::build(
        Arc::clone(factory),
        vec![TypedExportDataCollectionSpec {
            name: "out".into(),
            spec,
            key_fields_schema: key_fields.into_boxed_slice(),
            value_fields_schema: value_fields,
            index_options,
        }],
        vec![],
        ctx(flow),
    )
    .await?;
    let out = outs.remove(0);
    let export = out.export_context.await?;
    Ok(Built {
        key: out.setup_key,
        state: out.desired_setup_state,
        export,
    })
}

async fn setup(
    factory: &Arc<D1TargetFactory>,
    key: &D1TableId,
    desired: Option<D1SetupState>,
    existing: Option<D1SetupState>,
) -> recoco_core::prelude::Result<Vec<String>> {
    let existing = match existing {
        Some(e) => CombinedState::current(e),
        None => CombinedState::default(),
    };
    let change = factory
        .diff_setup_states(key.clone(), desired, existing, ctx("setup"))
        .await?;
    let described: Vec<String> = change
        .describe_changes()
        .into_iter()
        .map(|d| match d {
            recoco_core::setup::ChangeDescription::Action(a) => a,
            recoco_core::setup::ChangeDescription::Note(n) => format!("note: {n}"),
        })
        .collect();
    factory
        .apply_setup_changes(
            vec![TypedResourceSetupChangeItem {
                key: key.clone(),
                setup_change: &change,
            }],
            ctx("setup"),
        )
        .await?;
    Ok(described)
}

fn upsert(id: i64, name: &str, score: Option<f64>) -> ExportTargetUpsertEntry {
    ExportTargetUpsertEntry {
        key: KeyValue::from_single_part(id),
        additional_key: serde_json::Value::Null,
        value: FieldValues {
            fields: vec![s(name), score.map(f).unwrap_or(RValue::Null)],
        },
    }
}

fn delete(id: i64) -> ExportTargetDeleteEntry {
    ExportTargetDeleteEntry {
        key: KeyValue::from_single_part(id),
        additional_key: serde_json::Value::Null,
    }
}

async fn apply(
    factory: &D1TargetFactory,
    export: &D1ExportContext,
    upserts: Vec<ExportTargetUpsertEntry>,
    deletes: Vec<ExportTargetDeleteEntry>,
) -> recoco_core::prelude::Result<()> {
    factory
        .apply_mutation(vec![ExportTargetMutationWithContext {
            mutation: ExportTargetMutation { upserts, deletes },
            export_context: export,
        }])
        .await
}

fn item(id: i64, name: &str, score: Option<f64>) -> Item {
    Item {
        id,
        name: name.into(),
        score,
    }
}

fn item_fields() -> (Vec<FieldSchema>, Vec<FieldSchema>) {
    (
        vec![field("id", BasicValueType::Int64, false)],
        vec![
            field("name", BasicValueType::Str, false),
            field("score", BasicValueType::Float64, true),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_schema_flow_creates_writes_and_migrates_without_losing_rows() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("target.d1");
    let factory = Arc::new(D1TargetFactory::default());
    let (k, v) = item_fields();
    let spec = D1Spec {
        schema: Some(Item::schema().clone()),
        ..D1Spec::new(Connection::local(&path))
    };
    let b = build(&factory, "f1", spec, k, v, pk(&["id"])).await?;
    assert_eq!(b.key.table, "items");
    assert_eq!(&b.state.schema, Item::schema());

    let described = setup(&factory, &b.key, Some(b.state.clone()), None).await?;
    assert!(
        described.iter().any(|d| d.contains("create table `items`")),
        "{described:?}"
    );

    apply(
        &factory,
        &b.export,
        vec![
            upsert(1, "a", Some(1.5)),
            upsert(2, "b", None),
            upsert(2, "b2", None),
        ],
        vec![],
    )
    .await?;
    let db = D1Database::local(&path)?;
    assert_eq!(
        db.table::<Item>().all().await?,
        vec![item(1, "a", Some(1.5)), item(2, "b2", None)]
    );

    // Same state again: nothing to do.
    let change = factory
        .diff_setup_states(
            b.key.clone(),
            Some(b.state.clone()),
            CombinedState::current(b.state.clone()),
            ctx("f1"),
        )
        .await?;
    assert_eq!(change.change_type(), SetupChangeType::NoChange);
    assert!(change.describe_changes().is_empty());

    // Add a column and an index: compatible, rows kept.
    let (k, mut v) = item_fields();
    v.push(field("tag", BasicValueType::Str, true));
    let spec = D1Spec {
        schema: Some(ItemV2::schema().clone()),
        ..D1Spec::new(Connection::local(&path))
    };
    let b2 = build(&factory, "f1", spec, k, v, pk(&["id"])).await?;
    assert_eq!(
        factory.check_state_compatibility(&b2.state, &b.state)?,
        SetupStateCompatibility::Compatible
    );
    let described = setup(
        &factory,
        &b2.key,
        Some(b2.state.clone()),
        Some(b.state.clone()),
    )
    .await?;
    assert!(
        described.iter().any(|d| d.contains("add column `tag`")),
        "{described:?}"
    );
    assert!(
        described.iter().any(|d| d.contains("index")),
        "{described:?}"
    );
    let live = db
        .live_schema("items")
        .await?
        .ok_or_else(|| anyhow::anyhow!("table gone"))?;
    assert_eq!(live.indexes.len(), 1);
    assert_eq!(live.column("tag").map(|c| c.sql_type), Some(SqlType::Text));
    assert_eq!(db.table::<ItemV2>().count().await?, 2);

    // Change the key to (name): not compatible for ReCoco, but the rebuild keeps every row.
    let k3 = vec![field("name", BasicValueType::Str, false)];
    let v3 = vec![
        field("id", BasicValueType::Int64, false),
        field("score", BasicValueType::Float64, true),
        field("tag", BasicValueType::Str, true),
    ];
    let spec = D1Spec {
        table: Some("items".into()),
        ..D1Spec::new(Connection::local(&path))
    };
    let b3 = build(&factory, "f1", spec, k3, v3, pk(&["name"])).await?;
    assert_eq!(
        factory.check_state_compatibility(&b3.state, &b2.state)?,
        SetupStateCompatibility::NotCompatible
    );
    let described = setup(
        &factory,
        &b3.key,
        Some(b3.state.clone()),
        Some(b2.state.clone()),
    )
    .await?;
    assert!(
        described.iter().any(|d| d.contains("rebuild")),
        "{described:?}"
    );
    let live = db
        .live_schema("items")
        .await?
        .ok_or_else(|| anyhow::anyhow!("table gone"))?;
    assert_eq!(live.primary_key, vec!["name".to_string()]);
    let rows = db
        .execute(
            r#"SELECT "name", "id" FROM "items" ORDER BY "name""#,
            vec![],
        )
        .await?;
    assert_eq!(
        rows.rows,
        vec![
            vec![Value::Text("a".into()), Value::Integer(1)],
            vec![Value::Text("b2".into()), Value::Integer(2)]
        ]
    );

    // Removing the export drops the table.
    let described = setup(&factory, &b3.key, None, Some(b3.state.clone())).await?;
    assert!(
        described.iter().any(|d| d.contains("drop table `items`")),
        "{described:?}"
    );
    assert_eq!(db.live_schema("items").await?, None);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_mutations_are_merged_into_few_requests() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("batch.d1");
    let factory = Arc::new(D1TargetFactory::default());
    let (k, v) = item_fields();
    let mut spec = D1Spec::new(Connection::local(&path));
    spec.table = Some("many rows".into());
    spec.batch_window_ms = Some(20);
    let b = build(&factory, "f2", spec, k, v, pk(&["id"])).await?;
    setup(&factory, &b.key, Some(b.state.clone()), None).await?;

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300i64 {
        let factory = Arc::clone(&factory);
        let export = Arc::clone(&b.export);
        tasks.spawn(async move {
            apply(
                &factory,
                &export,
                vec![upsert(i, &format!("n{i}"), Some(i as f64))],
                vec![],
            )
            .await
            .map_err(|e| e.to_string())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r?.map_err(anyhow::Error::msg)?;
    }
    let stats = factory.table_stats();
    let (_, st) = stats
        .iter()
        .find(|(t, _)| t.table == "many rows")
        .ok_or_else(|| anyhow::anyhow!("no stats"))?;
    assert_eq!(st.upserted, 300);
    assert!(
        st.requests <= 10,
        "300 concurrent rows took {} requests",
        st.requests
    );
    assert!(st.batches < 300);

    // Deletes and re-upserts in concurrent calls: the last operation per key wins.
    apply(&factory, &b.export, vec![], (0..290).map(delete).collect()).await?;
    apply(&factory, &b.export, vec![upsert(5, "back", None)], vec![]).await?;
    let db = D1Database::local(&path)?;
    let rows = db
        .execute(r#"SELECT "id" FROM "many rows" ORDER BY "id""#, vec![])
        .await?;
    let ids: Vec<Value> = rows.rows.into_iter().flatten().collect();
    let mut want = vec![Value::Integer(5)];
    want.extend((290..300).map(Value::Integer));
    assert_eq!(ids, want);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_row_fails_only_its_own_call_and_names_table_and_key() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bad.d1");
    let factory = Arc::new(D1TargetFactory::default());
    let (k, v) = item_fields();
    let mut spec = D1Spec::new(Connection::local(&path));
    spec.schema = Some(Item::schema().clone());
    spec.batch_window_ms = Some(30);
    let b = build(&factory, "f3", spec, k, v, pk(&["id"])).await?;
    setup(&factory, &b.key, Some(b.state.clone()), None).await?;

    // NaN cannot be stored: rejected before anything is sent.
    let err = apply(
        &factory,
        &b.export,
        vec![upsert(7, "nan", Some(f64::NAN))],
        vec![],
    )
    .await;
    let msg = format!("{:?}", err.err());
    assert!(
        msg.contains("items") && msg.contains("score") && msg.contains('7'),
        "{msg}"
    );

    // A value over D1's 2,000,000-byte limit fails its own call; concurrent good rows land.
    let huge = "x".repeat(2_100_000);
    let (good, bad) = tokio::join!(
        apply(&factory, &b.export, vec![upsert(1, "fine", None)], vec![]),
        apply(&factory, &b.export, vec![upsert(2, &huge, None)], vec![]),
    );
    good?;
    let msg = format!("{:?}", bad.err());
    assert!(msg.contains("items"), "{msg}");
    let db = D1Database::local(&path)?;
    assert_eq!(db.table::<Item>().all().await?, vec![item(1, "fine", None)]);
    Ok(())
}

#[tokio::test]
async fn key_parts_of_every_kind_round_trip() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("keys.d1");
    let factory = Arc::new(D1TargetFactory::default());
    let keys = vec![
        field("s", BasicValueType::Str, false),
        field("b", BasicValueType::Bytes, false),
        field("flag", BasicValueType::Bool, false),
        field("n", BasicValueType::Int64, false),
        field("u", BasicValueType::Uuid, false),
        field("d", BasicValueType::Date, false),
        field("r", BasicValueType::Range, false),
        FieldSchema::new(
            "st",
            EnrichedValueType {
                typ: ValueType::Struct(recoco_core::base::schema::StructSchema {
                    fields: Arc::new(vec![
                        field("file", BasicValueType::Str, false),
                        field("line", BasicValueType::Int64, false),
                    ]),
                    description: None,
                }),
                nullable: false,
                attrs: Default::default(),
            },
        ),
    ];
    let values = vec![field("j", BasicValueType::Json, true)];
    let b = build(
        &factory,
        "f4-flow",
        D1Spec::new(Connection::local(&path)),
        keys,
        values,
        pk(&["s", "b", "flag", "n", "u", "d", "r", "st"]),
    )
    .await?;
    assert_eq!(b.key.table, "f4_flow__out");
    setup(&factory, &b.key, Some(b.state.clone()), None).await?;
    let u = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    let d = chrono::NaiveDate::from_ymd_opt(2025, 1, 31).ok_or_else(|| anyhow::anyhow!("date"))?;
    let key = KeyValue(Box::new([
        KeyPart::Str("k".into()),
        KeyPart::from(vec![0u8, 255]),
        KeyPart::Bool(true),
        KeyPart::Int64(i64::MAX),
        KeyPart::Uuid(u),
        KeyPart::Date(d),
        KeyPart::Range(recoco_core::base::value::RangeValue::new(2, 5)),
        KeyPart::Struct(vec![KeyPart::Str("a.rs".into()), KeyPart::Int64(7)]),
    ]));
    let value = FieldValues {
        fields: vec![RValue::Basic(BasicValue::Json(Arc::new(
            serde_json::json!({"a": 1}),
        )))],
    };
    factory
        .apply_mutation(vec![ExportTargetMutationWithContext {
            mutation: ExportTargetMutation {
                upserts: vec![ExportTargetUpsertEntry {
                    key,
                    additional_key: serde_json::Value::Null,
                    value,
                }],
                deletes: vec![],
            },
            export_context: &*b.export,
        }])
        .await?;
    let db = D1Database::local(&path)?;
    let rows = db
        .execute(r#"SELECT * FROM "f4_flow__out""#, vec![])
        .await?;
    assert_eq!(
        rows.rows,
        vec![vec![
            Value::Text("k".into()),
            Value::Blob(vec![0, 255]),
            Value::Integer(1),
            Value::Integer(i64::MAX),
            Value::Text("01234567-89ab-cdef-0123-456789abcdef".into()),
            Value::Text("2025-01-31".into()),
            Value::Text("[2,5]".into()),
            Value::Text(r#"{"file":"a.rs","line":7}"#.into()),
            Value::Text(r#"{"a":1}"#.into()),
        ]]
    );
    Ok(())
}

#[tokio::test]
async fn build_refuses_vector_indexes_and_mismatched_collectors() {
    let factory = Arc::new(D1TargetFactory::default());
    let mut opts = pk(&["id"]);
    opts.vector_indexes = vec![
        serde_json::from_value(
            serde_json::json!({"field_name": "name", "metric": "CosineSimilarity"}),
        )
        .unwrap_or_else(|e| panic!("{e}")),
    ];
    let (k, v) = item_fields();
    let err = build(
        &factory,
        "f5",
        D1Spec::new(Connection::local("/nonexistent/x.d1")),
        k,
        v,
        opts,
    )
    .await
    .err();
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains("vector indexes (name) are not supported"),
        "{msg}"
    );

    let spec = D1Spec {
        schema: Some(Item::schema().clone()),
        ..D1Spec::new(Connection::local("/nonexistent/x.d1"))
    };
    let err = build(
        &factory,
        "f5",
        spec,
        vec![field("id", BasicValueType::Str, false)],
        vec![field("title", BasicValueType::Str, false)],
        pk(&["id"]),
    )
    .await
    .err();
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains("field `id` is Str, stored as TEXT, but column `id` is INTEGER"),
        "{msg}"
    );
    assert!(
        msg.contains("collector field `title` (Str) has no column"),
        "{msg}"
    );
    assert!(
        msg.contains("column `name` (TEXT NOT NULL) has no collector field"),
        "{msg}"
    );
}

#[tokio::test]
async fn tokens_are_resolved_lazily_and_never_stored() -> anyhow::Result<()> {
    let factory = Arc::new(D1TargetFactory::default());
    let (k, v) = item_fields();
    let conn = Connection::Http {
        base_url: "http://127.0.0.1:9".into(),
        account_id: "acc".into(),
        database_id: "db".into(),
        token: Some(TokenSource::Env {
            env: "THREAD_FLOW_TEST_UNSET_TOKEN".into(),
        }),
    };
    let (mut outs, _) = TargetFactoryBase::build(
        Arc::clone(&factory),
        vec![TypedExportDataCollectionSpec {
            name: "out".into(),
            spec: D1Spec::new(conn),
            key_fields_schema: k.into_boxed_slice(),
            value_fields_schema: v,
            index_options: pk(&["id"]),
        }],
        vec![],
        ctx("f6"),
    )
    .await?;
    let out = outs.remove(0);
    let state = serde_json::to_string(&out.desired_setup_state)?;
    let key = serde_json::to_string(&out.setup_key)?;
    assert!(
        state.contains("THREAD_FLOW_TEST_UNSET_TOKEN") && !key.contains("TOKEN"),
        "{state} {key}"
    );
    let err = out
        .export_context
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("THREAD_FLOW_TEST_UNSET_TOKEN"), "{err}");

    // An auth-registry token: resolved from the registry, never echoed.
    let registry = AuthRegistry::new();
    registry.add("d1".into(), serde_json::json!("sekret-token-value"))?;
    let secret = TokenSource::AuthKey("d1".into()).resolve(&registry)?;
    assert_eq!(
        format!("{secret:?} {secret}"),
        "Secret([redacted]) [redacted]"
    );
    Ok(())
}

#[test]
fn register_is_idempotent_across_threads() {
    let handles: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(thread_flow::register))
        .collect();
    for h in handles {
        assert!(h.join().map(|r| r.is_ok()).unwrap_or(false));
    }
    assert!(thread_flow::register().is_ok());
    assert!(recoco_core::ops::get_optional_target_factory("D1").is_some());
}

#[test]
fn compatibility_follows_recoco() {
    let base = Item::schema().clone();
    let mut added = ItemV2::schema().clone();
    assert_eq!(
        thread_flow::target::compatibility(&added, &base),
        SetupStateCompatibility::Compatible
    );
    added.columns.retain(|c| c.name != "score");
    assert_eq!(
        thread_flow::target::compatibility(&added, &base),
        SetupStateCompatibility::PartialCompatible
    );
    let mut retyped = base.clone();
    if let Some(c) = retyped.columns.iter_mut().find(|c| c.name == "name") {
        c.sql_type = SqlType::Blob;
    }
    assert_eq!(
        thread_flow::target::compatibility(&retyped, &base),
        SetupStateCompatibility::PartialCompatible
    );
    let mut rekeyed: TableSchema = base.clone();
    rekeyed.primary_key = vec!["name".into()];
    if let Some(c) = rekeyed.columns.iter_mut().find(|c| c.name == "id") {
        c.nullable = false;
    }
    assert_eq!(
        thread_flow::target::compatibility(&rekeyed, &base),
        SetupStateCompatibility::NotCompatible
    );
}

#[tokio::test]
async fn key_change_with_colliding_rows_recreates_the_table_for_reexport() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("collide.d1");
    let factory = Arc::new(D1TargetFactory::default());
    let (k, v) = item_fields();
    let spec = D1Spec {
        schema: Some(Item::schema().clone()),
        ..D1Spec::new(Connection::local(&path))
    };
    let b = build(&factory, "f7", spec, k, v, pk(&["id"])).await?;
    setup(&factory, &b.key, Some(b.state.clone()), None).await?;
    apply(
        &factory,
        &b.export,
        vec![upsert(1, "same", None), upsert(2, "same", None)],
        vec![],
    )
    .await?;

    let k2 = vec![field("name", BasicValueType::Str, false)];
    let v2 = vec![
        field("id", BasicValueType::Int64, false),
        field("score", BasicValueType::Float64, true),
    ];
    let spec = D1Spec {
        table: Some("items".into()),
        ..D1Spec::new(Connection::local(&path))
    };
    let b2 = build(&factory, "f7", spec, k2, v2, pk(&["name"])).await?;
    setup(
        &factory,
        &b2.key,
        Some(b2.state.clone()),
        Some(b.state.clone()),
    )
    .await?;
    let db = D1Database::local(&path)?;
    let live = db
        .live_schema("items")
        .await?
        .ok_or_else(|| anyhow::anyhow!("table gone"))?;
    assert_eq!(live.primary_key, vec!["name".to_string()]);
    assert_eq!(db.count_rows("items").await?, 0);
    // ReCoco's re-export then fills it under the new key.
    let row = ExportTargetUpsertEntry {
        key: KeyValue::from_single_part("same".to_string()),
        additional_key: serde_json::Value::Null,
        value: FieldValues {
            fields: vec![RValue::Basic(BasicValue::Int64(2)), RValue::Null],
        },
    };
    apply(&factory, &b2.export, vec![row], vec![]).await?;
    assert_eq!(db.count_rows("items").await?, 1);
    Ok(())
}

#[tokio::test]
async fn an_interrupted_setup_is_replayed_from_the_live_table() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("replay.d1");
    let factory = Arc::new(D1TargetFactory::default());
    let (k, v) = item_fields();
    let spec = D1Spec {
        schema: Some(Item::schema().clone()),
        ..D1Spec::new(Connection::local(&path))
    };
    let b1 = build(&factory, "f8", spec, k, v, pk(&["id"])).await?;
    setup(&factory, &b1.key, Some(b1.state.clone()), None).await?;
    apply(&factory, &b1.export, vec![upsert(1, "a", None)], vec![]).await?;

    let (k, mut v) = item_fields();
    v.push(field("tag", BasicValueType::Str, true));
    let spec = D1Spec {
        schema: Some(ItemV2::schema().clone()),
        ..D1Spec::new(Connection::local(&path))
    };
    let b2 = build(&factory, "f8", spec, k, v, pk(&["id"])).await?;
    // ReCoco recorded V2 as staged (the previous apply crashed after or before running it).
    let staged = CombinedState {
        current: Some(b1.state.clone()),
        staging: vec![recoco_core::setup::StateChange::Upsert(b2.state.clone())],
        legacy_state_key: None,
    };
    for _ in 0..2 {
        let change = factory
            .diff_setup_states(
                b2.key.clone(),
                Some(b2.state.clone()),
                staged.clone(),
                ctx("f8"),
            )
            .await?;
        assert_eq!(change.change_type(), SetupChangeType::Update);
        let notes: Vec<String> = change
            .describe_changes()
            .into_iter()
            .filter_map(|d| match d {
                recoco_core::setup::ChangeDescription::Note(n) => Some(n),
                recoco_core::setup::ChangeDescription::Action(_) => None,
            })
            .collect();
        assert!(
            notes.iter().any(|n| n.contains("did not finish")),
            "{notes:?}"
        );
        // Applying twice converges: the second apply finds the column already there.
        factory
            .apply_setup_changes(
                vec![TypedResourceSetupChangeItem {
                    key: b2.key.clone(),
                    setup_change: &change,
                }],
                ctx("f8"),
            )
            .await?;
    }
    let db = D1Database::local(&path)?;
    assert_eq!(
        db.table::<ItemV2>().all().await?,
        vec![ItemV2 {
            id: 1,
            name: "a".into(),
            score: None,
            tag: None
        }]
    );
    Ok(())
}
