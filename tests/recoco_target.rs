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
use thread_flow::recoco::testing::{D1ExportContext, D1SetupState, D1TargetFactory};
use thread_flow::recoco::{D1Spec, D1TableId, ExistingTable};
use thread_flow::{Connection, TokenSource};
use thread_flow::{D1Database, D1Target, D1Value, SqlType, TableSchema, Value};

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
    build_in(
        factory,
        ctx(flow),
        "out",
        spec,
        key_fields,
        value_fields,
        index_options,
    )
    .await
}

async fn build_in(
    factory: &Arc<D1TargetFactory>,
    context: Arc<FlowInstanceContext>,
    name: &str,
    spec: D1Spec,
    key_fields: Vec<FieldSchema>,
    value_fields: Vec<FieldSchema>,
    index_options: IndexOptions,
) -> recoco_core::prelude::Result<Built> {
    let (mut outs, _) = TargetFactoryBase::build(
        Arc::clone(factory),
        vec![TypedExportDataCollectionSpec {
            name: name.into(),
            spec,
            key_fields_schema: key_fields.into_boxed_slice(),
            value_fields_schema: value_fields,
            index_options,
        }],
        vec![],
        context,
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

/// An [`Item`]-shaped export (`id` key, `name` and `score` values) of flow `flow`.
async fn build_items(
    factory: &Arc<D1TargetFactory>,
    flow: &str,
    spec: D1Spec,
) -> recoco_core::prelude::Result<Built> {
    let (k, v) = item_fields();
    build(factory, flow, spec, k, v, pk(&["id"])).await
}

/// An [`ItemV2`] export (the item fields plus `tag`) of flow `flow` to the local database at
/// `path`.
async fn build_items_v2(
    factory: &Arc<D1TargetFactory>,
    flow: &str,
    path: &std::path::Path,
) -> recoco_core::prelude::Result<Built> {
    let (k, mut v) = item_fields();
    v.push(field("tag", BasicValueType::Str, true));
    build(
        factory,
        flow,
        schema_spec(path, ItemV2::schema()),
        k,
        v,
        pk(&["id"]),
    )
    .await
}

/// [`build_items`], then its setup applied with no recorded state.
async fn build_and_set_up(
    factory: &Arc<D1TargetFactory>,
    flow: &str,
    spec: D1Spec,
) -> recoco_core::prelude::Result<Built> {
    let b = build_items(factory, flow, spec).await?;
    setup(factory, &b.key, Some(b.state.clone()), None).await?;
    Ok(b)
}

async fn setup(
    factory: &Arc<D1TargetFactory>,
    key: &D1TableId,
    desired: Option<D1SetupState>,
    existing: Option<D1SetupState>,
) -> recoco_core::prelude::Result<Vec<String>> {
    setup_in(factory, ctx("setup"), key, desired, existing).await
}

/// Diffs `desired` against `existing` (none: nothing recorded), applies the change, and
/// returns what it described.
async fn setup_in(
    factory: &Arc<D1TargetFactory>,
    context: Arc<FlowInstanceContext>,
    key: &D1TableId,
    desired: Option<D1SetupState>,
    existing: Option<D1SetupState>,
) -> recoco_core::prelude::Result<Vec<String>> {
    let existing = match existing {
        Some(e) => CombinedState::current(e),
        None => CombinedState::default(),
    };
    let change = factory
        .diff_setup_states(key.clone(), desired, existing, Arc::clone(&context))
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
            context,
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

/// A fresh temp directory, the path of database file `file` in it (not created yet), and a
/// target factory.
fn local_target(
    file: &str,
) -> anyhow::Result<(tempfile::TempDir, std::path::PathBuf, Arc<D1TargetFactory>)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(file);
    Ok((dir, path, Arc::new(D1TargetFactory::default())))
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

/// The item fields keyed by `name` instead of `id`.
fn name_keyed_fields() -> (Vec<FieldSchema>, Vec<FieldSchema>) {
    (
        vec![field("name", BasicValueType::Str, false)],
        vec![
            field("id", BasicValueType::Int64, false),
            field("score", BasicValueType::Float64, true),
        ],
    )
}

/// A local export to the table of `schema`.
fn schema_spec(path: &std::path::Path, schema: &TableSchema) -> D1Spec {
    D1Spec {
        schema: Some(schema.clone()),
        ..D1Spec::new(Connection::local(path))
    }
}

/// A local export to table `table`, its schema derived from the collector.
fn table_spec(path: &std::path::Path, table: &str) -> D1Spec {
    D1Spec {
        table: Some(table.into()),
        ..D1Spec::new(Connection::local(path))
    }
}

/// The live schema of `table`, which must exist.
async fn live_table(db: &D1Database, table: &str) -> anyhow::Result<TableSchema> {
    db.live_schema(table)
        .await?
        .ok_or_else(|| anyhow::anyhow!("table gone"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_schema_flow_creates_writes_and_migrates_without_losing_rows() -> anyhow::Result<()>
{
    let (_dir, path, factory) = local_target("target.d1")?;
    let b = build_items(&factory, "f1", schema_spec(&path, Item::schema())).await?;
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
    let b2 = build_items_v2(&factory, "f1", &path).await?;
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
    let live = live_table(&db, "items").await?;
    assert_eq!(live.indexes.len(), 1);
    assert_eq!(live.column("tag").map(|c| c.sql_type), Some(SqlType::Text));
    assert_eq!(db.table::<ItemV2>().count().await?, 2);

    // Change the key to (name): not compatible for ReCoco, but the rebuild keeps every row.
    let (k3, mut v3) = name_keyed_fields();
    v3.push(field("tag", BasicValueType::Str, true));
    let b3 = build(
        &factory,
        "f1",
        table_spec(&path, "items"),
        k3,
        v3,
        pk(&["name"]),
    )
    .await?;
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
    let live = live_table(&db, "items").await?;
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
    let (_dir, path, factory) = local_target("batch.d1")?;
    let mut spec = table_spec(&path, "many rows");
    spec.batch_window_ms = Some(20);
    let b = build_and_set_up(&factory, "f2", spec).await?;

    let results = upsert_concurrently(&factory, &[&b.export], 0..300, |i| {
        upsert(i, &format!("n{i}"), Some(i as f64))
    })
    .await?;
    for (_, r) in results {
        r?;
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
    let (_dir, path, factory) = local_target("bad.d1")?;
    let mut spec = schema_spec(&path, Item::schema());
    spec.batch_window_ms = Some(30);
    let b = build_and_set_up(&factory, "f3", spec).await?;

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
    let (_dir, path, factory) = local_target("keys.d1")?;
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

/// A text enum with renamed variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, D1Value)]
#[d1(rename_all = "kebab-case")]
enum Shape {
    RoundThing,
    Square,
}

/// A newtype over text (in the key) and one over an integer.
#[derive(Debug, Clone, PartialEq, Eq, D1Value)]
struct Label(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, D1Value)]
struct Millimetres(i64);

/// Stored as JSON: its fields serialize in declaration order, not in alphabetical order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Meta {
    zeta: i64,
    alpha: String,
}

#[derive(Debug, Clone, PartialEq, Eq, D1Target)]
#[d1(table = "shapes", primary_key(kind, label))]
struct ShapeRow {
    kind: Shape,
    label: Label,
    length: Millimetres,
    #[d1(json)]
    meta: Meta,
    #[d1(json)]
    tags: Option<Vec<String>>,
}

fn shape_row(kind: Shape, label: &str, length: i64, zeta: i64, tags: Option<&[&str]>) -> ShapeRow {
    ShapeRow {
        kind,
        label: Label(label.into()),
        length: Millimetres(length),
        meta: Meta {
            zeta,
            alpha: format!("{label}-alpha"),
        },
        tags: tags.map(|t| t.iter().map(|s| s.to_string()).collect()),
    }
}

/// `row` as a flow collects it: the enum's text, the newtypes' inner values, and JSON values
/// as ReCoco holds them (`serde_json::Value`, whose object keys come out in alphabetical
/// order: `alpha` before `zeta`, unlike `Meta`'s own serialization).
fn shape_upsert(row: &ShapeRow) -> anyhow::Result<ExportTargetUpsertEntry> {
    let text = |v: Value| match v {
        Value::Text(t) => Ok(t),
        other => Err(anyhow::anyhow!("expected text, got {other:?}")),
    };
    let json = |v: serde_json::Value| RValue::Basic(BasicValue::Json(Arc::new(v)));
    let kind = text(row.kind.to_value()?)?;
    Ok(ExportTargetUpsertEntry {
        key: KeyValue(Box::new([
            KeyPart::Str(kind.as_str().into()),
            KeyPart::Str(row.label.0.as_str().into()),
        ])),
        additional_key: serde_json::Value::Null,
        value: FieldValues {
            fields: vec![
                RValue::Basic(BasicValue::Int64(row.length.0)),
                json(serde_json::json!({"alpha": row.meta.alpha, "zeta": row.meta.zeta})),
                row.tags
                    .as_ref()
                    .map_or(RValue::Null, |t| json(serde_json::json!(t))),
            ],
        },
    })
}

fn shape_fields() -> (Vec<FieldSchema>, Vec<FieldSchema>) {
    (
        vec![
            field("kind", BasicValueType::Str, false),
            field("label", BasicValueType::Str, false),
        ],
        vec![
            field("length", BasicValueType::Int64, false),
            field("meta", BasicValueType::Json, false),
            field("tags", BasicValueType::Json, true),
        ],
    )
}

async fn all_shapes(db: &D1Database) -> anyhow::Result<Vec<Vec<Value>>> {
    Ok(db
        .execute(r#"SELECT * FROM "shapes" ORDER BY "kind", "label""#, vec![])
        .await?
        .rows)
}

#[tokio::test]
async fn enum_json_and_newtype_fields_go_through_the_derived_codecs() -> anyhow::Result<()> {
    let (dir, path, factory) = local_target("codecs.d1")?;
    let export = thread_flow::recoco::export::<ShapeRow>(Connection::local(&path))?;
    let spec: D1Spec = serde_json::from_value(serde_json::Value::Object(export.spec))?;
    assert!(
        spec.row_type
            .as_deref()
            .is_some_and(|t| t.ends_with("ShapeRow")),
        "{spec:?}"
    );
    let (k, v) = shape_fields();
    let b = build(&factory, "codecs", spec, k, v, export.index_options).await?;
    setup(&factory, &b.key, Some(b.state.clone()), None).await?;

    let rows = vec![
        shape_row(Shape::RoundThing, "a", 1200, 1, Some(&["x", "y"])),
        shape_row(Shape::Square, "b", 40, 2, None),
        shape_row(Shape::Square, "c", -3, 3, Some(&[])),
    ];
    let upserts = rows
        .iter()
        .map(shape_upsert)
        .collect::<anyhow::Result<Vec<_>>>()?;
    apply(&factory, &b.export, upserts, vec![]).await?;

    // The same rows written by D1Table<ShapeRow> into another database.
    let typed_db = D1Database::local(dir.path().join("typed.d1"))?;
    typed_db.table::<ShapeRow>().migrate().await?;
    typed_db.table::<ShapeRow>().upsert(&rows).await?;

    let db = D1Database::local(&path)?;
    let flowed = all_shapes(&db).await?;
    assert_eq!(flowed, all_shapes(&typed_db).await?);
    // Byte for byte what the struct's codecs write: the enum's renamed variant, the newtype's
    // inner value, and `Meta` serialized in its own field order (not the flow's `alpha` first).
    assert_eq!(
        flowed[0],
        vec![
            Value::Text("round-thing".into()),
            Value::Text("a".into()),
            Value::Integer(1200),
            Value::Text(r#"{"zeta":1,"alpha":"a-alpha"}"#.into()),
            Value::Text(r#"["x","y"]"#.into()),
        ]
    );
    assert_eq!(flowed[1][4], Value::Null);
    let mut read = db.table::<ShapeRow>().all().await?;
    read.sort_by(|a, b| a.label.0.cmp(&b.label.0));
    assert_eq!(read, rows);

    // A deleted key is encoded by the same codecs.
    let key = KeyValue(Box::new([
        KeyPart::Str("square".into()),
        KeyPart::Str("b".into()),
    ]));
    let del = ExportTargetDeleteEntry {
        key,
        additional_key: serde_json::Value::Null,
    };
    apply(&factory, &b.export, vec![], vec![del]).await?;
    assert_eq!(all_shapes(&db).await?.len(), 2);

    // A value the field's type cannot decode is refused with the column and key, not stored.
    let mut bad = shape_upsert(&rows[0])?;
    bad.key = KeyValue(Box::new([
        KeyPart::Str("triangle".into()),
        KeyPart::Str("t".into()),
    ]));
    let err = apply(&factory, &b.export, vec![bad], vec![])
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("an unknown variant was stored"))?;
    match typed(&err) {
        Some(thread_flow::Error::Bind {
            table,
            column,
            message,
            ..
        }) => {
            assert_eq!(
                (table.as_str(), column.as_deref()),
                ("shapes", Some("kind"))
            );
            assert!(
                message.contains("\"triangle\" is not a variant of Shape"),
                "{message}"
            );
        }
        other => panic!("expected a bind error, got {other:?} ({err})"),
    }
    let mut bad = shape_upsert(&rows[0])?;
    bad.value.fields[1] =
        RValue::Basic(BasicValue::Json(Arc::new(serde_json::json!({"alpha": 1}))));
    let err = apply(&factory, &b.export, vec![bad], vec![])
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("JSON that is not a Meta was stored"))?;
    match typed(&err) {
        Some(thread_flow::Error::Bind { column, key, .. }) => {
            assert_eq!(column.as_deref(), Some("meta"));
            assert!(
                key.as_deref().is_some_and(|k| k.contains("round-thing")),
                "{key:?}"
            );
        }
        other => panic!("expected a bind error, got {other:?} ({err})"),
    }
    assert_eq!(all_shapes(&db).await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn a_spec_naming_an_unregistered_row_type_is_refused() -> anyhow::Result<()> {
    let (_dir, path, factory) = local_target("unknown.d1")?;
    let mut spec = schema_spec(&path, Item::schema());
    spec.row_type = Some("no::such::Row".into());
    let (k, v) = item_fields();
    let err = build(&factory, "unknown", spec, k, v, pk(&["id"]))
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("an unknown row type was accepted"))?;
    assert!(
        matches!(typed(&err), Some(thread_flow::Error::Config(m)) if m.contains("no::such::Row")),
        "{err}"
    );
    // A row type whose columns differ from the spec's schema is refused too.
    let mut spec = schema_spec(&path, Item::schema());
    spec.row_type = serde_json::from_value::<D1Spec>(serde_json::Value::Object(
        thread_flow::recoco::export::<ItemV2>(Connection::local(&path))?.spec,
    ))?
    .row_type;
    let (k, v) = item_fields();
    let err = build(&factory, "mismatch", spec, k, v, pk(&["id"]))
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("a mismatched row type was accepted"))?;
    assert!(
        matches!(typed(&err), Some(thread_flow::Error::Config(m)) if m.contains("does not match")),
        "{err}"
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
    // Cloudflare (an environment token may go there); the variable is unset, so resolving it
    // fails before any request.
    let conn = Connection::Cloudflare {
        account_id: "acc".into(),
        database_id: "db".into(),
        token: Some(TokenSource::Env {
            env: "THREAD_FLOW_TEST_UNSET_API_TOKEN".into(),
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
        state.contains("THREAD_FLOW_TEST_UNSET_API_TOKEN") && !key.contains("TOKEN"),
        "{state} {key}"
    );
    let err = out
        .export_context
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("THREAD_FLOW_TEST_UNSET_API_TOKEN"), "{err}");

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
        .map(|_| std::thread::spawn(thread_flow::recoco::register))
        .collect();
    for h in handles {
        assert!(h.join().map(|r| r.is_ok()).unwrap_or(false));
    }
    assert!(thread_flow::recoco::register().is_ok());
    assert!(recoco_core::ops::get_optional_target_factory("D1").is_some());
}

#[test]
fn compatibility_follows_recoco() {
    let base = Item::schema().clone();
    let mut added = ItemV2::schema().clone();
    assert_eq!(
        thread_flow::recoco::testing::compatibility(&added, &base),
        SetupStateCompatibility::Compatible
    );
    added.columns.retain(|c| c.name != "score");
    assert_eq!(
        thread_flow::recoco::testing::compatibility(&added, &base),
        SetupStateCompatibility::PartialCompatible
    );
    let mut retyped = base.clone();
    if let Some(c) = retyped.columns.iter_mut().find(|c| c.name == "name") {
        c.sql_type = SqlType::Blob;
    }
    assert_eq!(
        thread_flow::recoco::testing::compatibility(&retyped, &base),
        SetupStateCompatibility::PartialCompatible
    );
    let mut rekeyed: TableSchema = base.clone();
    rekeyed.primary_key = vec!["name".into()];
    if let Some(c) = rekeyed.columns.iter_mut().find(|c| c.name == "id") {
        c.nullable = false;
    }
    assert_eq!(
        thread_flow::recoco::testing::compatibility(&rekeyed, &base),
        SetupStateCompatibility::NotCompatible
    );
}

#[tokio::test]
async fn key_change_with_colliding_rows_recreates_the_table_for_reexport() -> anyhow::Result<()> {
    let (_dir, path, factory) = local_target("collide.d1")?;
    let b = build_and_set_up(&factory, "f7", schema_spec(&path, Item::schema())).await?;
    apply(
        &factory,
        &b.export,
        vec![upsert(1, "same", None), upsert(2, "same", None)],
        vec![],
    )
    .await?;

    let (k2, v2) = name_keyed_fields();
    let b2 = build(
        &factory,
        "f7",
        table_spec(&path, "items"),
        k2,
        v2,
        pk(&["name"]),
    )
    .await?;
    setup(
        &factory,
        &b2.key,
        Some(b2.state.clone()),
        Some(b.state.clone()),
    )
    .await?;
    let db = D1Database::local(&path)?;
    let live = live_table(&db, "items").await?;
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
    let (_dir, path, factory) = local_target("replay.d1")?;
    let b1 = build_and_set_up(&factory, "f8", schema_spec(&path, Item::schema())).await?;
    apply(&factory, &b1.export, vec![upsert(1, "a", None)], vec![]).await?;

    let b2 = build_items_v2(&factory, "f8", &path).await?;
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

// ---------------------------------------------------------------------------------------------
// Issue 10: tables this flow never created, untrusted specs, one HTTP handle per database,
// bad rows isolated by bisection.
// ---------------------------------------------------------------------------------------------

/// The thread-flow error inside a ReCoco error, when the target kept it typed.
fn typed(err: &recoco_core::prelude::Error) -> Option<&thread_flow::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(t) = e.downcast_ref::<thread_flow::Error>() {
            return Some(t);
        }
        if let Some(t) = e
            .downcast_ref::<Arc<thread_flow::Error>>()
            .map(|a| a.as_ref())
        {
            return Some(t);
        }
        current = e.source();
    }
    match err.without_contexts() {
        recoco_core::prelude::Error::Internal(a) => {
            a.downcast_ref::<thread_flow::Error>().or_else(|| {
                a.downcast_ref::<Arc<thread_flow::Error>>()
                    .map(|a| a.as_ref())
            })
        }
        _ => None,
    }
}

fn ctx_with_token(flow: &str, key: &str, token: &str) -> anyhow::Result<Arc<FlowInstanceContext>> {
    let registry = AuthRegistry::new();
    registry.add(key.into(), serde_json::json!(token))?;
    Ok(Arc::new(FlowInstanceContext {
        flow_instance_name: flow.to_string(),
        auth_registry: Arc::new(registry),
    }))
}

/// An [`Item`]-shaped export named `name`, built and set up under `context`.
async fn build_and_set_up_in(
    factory: &Arc<D1TargetFactory>,
    context: &Arc<FlowInstanceContext>,
    name: &str,
    spec: D1Spec,
) -> recoco_core::prelude::Result<Built> {
    let (k, v) = item_fields();
    let b = build_in(factory, Arc::clone(context), name, spec, k, v, pk(&["id"])).await?;
    setup_in(
        factory,
        Arc::clone(context),
        &b.key,
        Some(b.state.clone()),
        None,
    )
    .await?;
    Ok(b)
}

/// The fake D1 over HTTP, its token taken from auth entry `fake`.
fn fake_connection(fake: &thread_flow_suite::fake_d1::FakeD1) -> Connection {
    Connection::Http {
        base_url: fake.base_url().into(),
        account_id: fake.account_id().into(),
        database_id: fake.database_id().into(),
        token: Some(TokenSource::AuthKey("fake".into())),
    }
}

/// One `apply` call per id, all at the same time (for every export, in turn), each upserting
/// `row(id)`; every call's result, as they finish.
async fn upsert_concurrently(
    factory: &Arc<D1TargetFactory>,
    exports: &[&Arc<D1ExportContext>],
    ids: std::ops::Range<i64>,
    row: impl Fn(i64) -> ExportTargetUpsertEntry,
) -> anyhow::Result<Vec<(i64, recoco_core::prelude::Result<()>)>> {
    let mut tasks = tokio::task::JoinSet::new();
    for export in exports {
        for i in ids.clone() {
            let factory = Arc::clone(factory);
            let export = Arc::clone(export);
            let entry = row(i);
            tasks.spawn(async move { (i, apply(&factory, &export, vec![entry], vec![]).await) });
        }
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        results.push(joined?);
    }
    Ok(results)
}

const FOREIGN_ITEMS: &str = r#"CREATE TABLE "items" ("id" INTEGER NOT NULL, "name" TEXT NOT NULL, "score" REAL, "extra" TEXT, PRIMARY KEY ("id")) STRICT"#;

/// A local database at `path` holding someone else's `items` ([`FOREIGN_ITEMS`]: an `extra`
/// column no export declares) with the rows `values` (SQL `VALUES` tuples).
async fn foreign_items(path: &std::path::Path, values: &str) -> anyhow::Result<D1Database> {
    let db = D1Database::local(path)?;
    db.execute(FOREIGN_ITEMS, vec![]).await?;
    db.execute(format!(r#"INSERT INTO "items" VALUES {values}"#), vec![])
        .await?;
    Ok(db)
}

#[tokio::test]
async fn a_foreign_table_that_differs_is_refused_and_left_untouched() -> anyhow::Result<()> {
    let (_dir, path, factory) = local_target("foreign.d1")?;
    let db = foreign_items(
        &path,
        "(1, 'theirs', NULL, 'keep me'), (2, 'also theirs', 2.5, 'me too')",
    )
    .await?;

    let b = build_items(&factory, "f9", schema_spec(&path, Item::schema())).await?;
    // No recorded state: this flow never created `items`.
    let err = setup(&factory, &b.key, Some(b.state.clone()), None)
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("setup adopted a table that differs"))?;
    match typed(&err) {
        Some(thread_flow::Error::MigrationRefused { table, reason }) => {
            assert_eq!(table, "items");
            assert!(reason.contains("extra"), "{reason}");
            assert!(reason.contains("adopt"), "{reason}");
        }
        other => panic!("expected MigrationRefused, got {other:?} ({err})"),
    }
    // Untouched: same columns, same rows.
    let live = live_table(&db, "items").await?;
    assert!(live.column("extra").is_some());
    let rows = db
        .execute(
            r#"SELECT "id", "name", "extra" FROM "items" ORDER BY "id""#,
            vec![],
        )
        .await?;
    assert_eq!(
        rows.rows,
        vec![
            vec![
                Value::Integer(1),
                Value::Text("theirs".into()),
                Value::Text("keep me".into())
            ],
            vec![
                Value::Integer(2),
                Value::Text("also theirs".into()),
                Value::Text("me too".into())
            ],
        ]
    );
    Ok(())
}

#[tokio::test]
async fn a_foreign_table_that_matches_exactly_is_adopted() -> anyhow::Result<()> {
    let (_dir, path, factory) = local_target("same.d1")?;
    let db = D1Database::local(&path)?;
    db.table::<Item>().migrate().await?;
    db.table::<Item>().upsert(&[item(1, "kept", None)]).await?;

    let b = build_and_set_up(&factory, "f10", schema_spec(&path, Item::schema())).await?;
    apply(&factory, &b.export, vec![upsert(2, "new", None)], vec![]).await?;
    assert_eq!(
        db.table::<Item>().all().await?,
        vec![item(1, "kept", None), item(2, "new", None)]
    );
    Ok(())
}

#[tokio::test]
async fn table_identity_ignores_case() -> anyhow::Result<()> {
    let upper = D1TableId {
        database: thread_flow::DatabaseId::Local {
            path: "/data/index.d1".into(),
        },
        table: "Files".into(),
    };
    let lower = D1TableId {
        table: "files".into(),
        ..upper.clone()
    };
    assert_eq!(upper, lower);
    let set: std::collections::HashSet<D1TableId> = [upper.clone(), lower.clone()].into();
    assert_eq!(set.len(), 1);
    // ReCoco identifies a target by its setup key's JSON: one table, one key.
    assert_eq!(serde_json::to_value(&upper)?, serde_json::to_value(&lower)?);

    // Recorded as `Files`, now exported as `files`: the same table, nothing to drop or create.
    let (_dir, path, factory) = local_target("case.d1")?;
    let first = build_and_set_up(&factory, "f11", table_spec(&path, "Files")).await?;
    apply(&factory, &first.export, vec![upsert(1, "a", None)], vec![]).await?;
    let second = build_items(&factory, "f11", table_spec(&path, "files")).await?;
    assert_eq!(first.key, second.key);
    let change = factory
        .diff_setup_states(
            second.key.clone(),
            Some(second.state.clone()),
            CombinedState::current(first.state.clone()),
            ctx("f11"),
        )
        .await?;
    assert_eq!(change.change_type(), SetupChangeType::NoChange);
    apply(&factory, &second.export, vec![upsert(2, "b", None)], vec![]).await?;
    let db = D1Database::local(&path)?;
    assert_eq!(db.count_rows("files").await?, 2);
    // One stats entry for the one table.
    let stats = factory.table_stats();
    assert_eq!(stats.len(), 1, "{stats:?}");
    assert_eq!(stats[0].1.upserted, 2);
    Ok(())
}

#[tokio::test]
async fn spec_sql_fragments_must_be_one_expression() -> anyhow::Result<()> {
    let (_dir, path, factory) = local_target("inject.d1")?;
    let (k, v) = item_fields();

    // A default that would add a column.
    let mut schema = Item::schema().clone();
    if let Some(c) = schema.columns.iter_mut().find(|c| c.name == "name") {
        c.default = Some(thread_flow::ColumnDefault::Sql(
            r#"X'00', "pwned" TEXT DEFAULT 'x'"#.into(),
        ));
    }
    let err = build(
        &factory,
        "f12",
        schema_spec(&path, &schema),
        k.clone(),
        v.clone(),
        pk(&["id"]),
    )
    .await
    .err()
    .ok_or_else(|| anyhow::anyhow!("a default adding a column was accepted"))?;
    match typed(&err) {
        Some(thread_flow::Error::InvalidSchema { table, problems }) => {
            assert_eq!(table, "items");
            assert!(
                problems
                    .iter()
                    .any(|p| p.subject.as_deref() == Some("name")),
                "{problems:?}"
            );
        }
        other => panic!("expected InvalidSchema, got {other:?} ({err})"),
    }

    // A `where` followed by another statement.
    let mut schema = Item::schema().clone();
    schema.indexes.push(thread_flow::Index {
        name: "items_by_score".into(),
        columns: vec!["score".into()],
        unique: false,
        where_clause: Some(r#"1; DROP TABLE "items""#.into()),
    });
    let err = build(
        &factory,
        "f12",
        schema_spec(&path, &schema),
        k,
        v,
        pk(&["id"]),
    )
    .await
    .err()
    .ok_or_else(|| anyhow::anyhow!("a where clause with a second statement was accepted"))?;
    match typed(&err) {
        Some(thread_flow::Error::InvalidSchema { problems, .. }) => {
            assert!(
                problems
                    .iter()
                    .any(|p| p.subject.as_deref() == Some("items_by_score")),
                "{problems:?}"
            );
        }
        other => panic!("expected InvalidSchema, got {other:?} ({err})"),
    }
    assert!(
        !path.exists()
            || D1Database::local(&path)?
                .live_schema("items")
                .await?
                .is_none()
    );
    Ok(())
}

#[tokio::test]
async fn a_spec_cannot_send_any_environment_variable_anywhere() -> anyhow::Result<()> {
    let factory = Arc::new(D1TargetFactory::default());
    let attempt = |connection: Connection| {
        let factory = Arc::clone(&factory);
        async move {
            let (k, v) = item_fields();
            let (outs, _) = TargetFactoryBase::build(
                factory,
                vec![TypedExportDataCollectionSpec {
                    name: "out".into(),
                    spec: D1Spec::new(connection),
                    key_fields_schema: k.into_boxed_slice(),
                    value_fields_schema: v,
                    index_options: pk(&["id"]),
                }],
                vec![],
                ctx("f13"),
            )
            .await?;
            Ok::<_, recoco_core::prelude::Error>(outs.len())
        }
    };
    let http = |base_url: &str, token: Option<TokenSource>| Connection::Http {
        base_url: base_url.into(),
        account_id: "acc".into(),
        database_id: "db".into(),
        token,
    };
    // An environment variable that is not an API token: refused, named.
    let err = attempt(http(
        "https://d1.example.com",
        Some(TokenSource::Env { env: "HOME".into() }),
    ))
    .await
    .err()
    .ok_or_else(|| anyhow::anyhow!("`HOME` accepted as a token source"))?;
    match typed(&err) {
        Some(thread_flow::Error::Config(m)) => assert!(m.contains("`HOME`"), "{m}"),
        other => panic!("expected Config, got {other:?} ({err})"),
    }
    // The Cloudflare token to a host the operator did not choose: refused.
    let err = attempt(http("https://d1.example.com", None))
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("CLOUDFLARE_API_TOKEN sent to an arbitrary host"))?;
    match typed(&err) {
        Some(thread_flow::Error::Config(m)) => {
            assert!(m.contains("CLOUDFLARE_API_TOKEN"), "{m}")
        }
        other => panic!("expected Config, got {other:?} ({err})"),
    }
    // Plain http to a host that is not this machine: refused.
    let err = attempt(http(
        "http://d1.example.com",
        Some(TokenSource::AuthKey("k".into())),
    ))
    .await
    .err()
    .ok_or_else(|| anyhow::anyhow!("plain http to a remote host accepted"))?;
    assert!(
        matches!(typed(&err), Some(thread_flow::Error::Config(_))),
        "{err}"
    );
    // The Cloudflare token to a loopback port the operator did not choose (another account on
    // this machine may be listening there): refused.
    let err = attempt(http("http://127.0.0.1:9", None))
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("CLOUDFLARE_API_TOKEN sent to any loopback port"))?;
    match typed(&err) {
        Some(thread_flow::Error::Config(m)) => {
            assert!(m.contains("CLOUDFLARE_API_TOKEN"), "{m}")
        }
        other => panic!("expected Config, got {other:?} ({err})"),
    }
    // Allowed: Cloudflare with an `*_API_TOKEN` variable, loopback http and https with an auth
    // entry.
    let cloudflare = Connection::Cloudflare {
        account_id: "acc".into(),
        database_id: "db".into(),
        token: Some(TokenSource::Env {
            env: "D1_WRITER_API_TOKEN".into(),
        }),
    };
    assert_eq!(attempt(cloudflare).await?, 1);
    assert_eq!(
        attempt(http(
            "http://127.0.0.1:9",
            Some(TokenSource::AuthKey("k".into()))
        ))
        .await?,
        1
    );
    assert_eq!(
        attempt(http(
            "https://d1.example.com",
            Some(TokenSource::AuthKey("k".into()))
        ))
        .await?,
        1
    );
    Ok(())
}

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "uniq", unique(name))]
struct Uniq {
    #[d1(primary_key)]
    id: i64,
    name: String,
    score: Option<f64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_row_among_many_callers_is_found_by_bisection() -> anyhow::Result<()> {
    const CALLERS: i64 = 64;
    const BAD: i64 = 41;
    let fake = thread_flow_suite::fake_d1::FakeD1::start();
    let context = ctx_with_token("f14", "fake", fake.token())?;
    let factory = Arc::new(D1TargetFactory::default());
    let mut spec = D1Spec::new(fake_connection(&fake));
    spec.schema = Some(Uniq::schema().clone());
    // The batch goes out when the last caller's row arrives (no timing involved).
    spec.batch_window_ms = Some(600_000);
    spec.max_batch_rows = Some(CALLERS as usize);
    let b = build_and_set_up_in(&factory, &context, "out", spec).await?;
    fake.with_connection(|c| c.execute(r#"INSERT INTO "uniq" VALUES (0, 'taken', NULL)"#, []))?;
    let before = fake.stats().requests;

    let results = upsert_concurrently(&factory, &[&b.export], 1..CALLERS + 1, |i| {
        let name = if i == BAD {
            "taken".to_string()
        } else {
            format!("n{i}")
        };
        upsert(i, &name, None)
    })
    .await?;
    let mut failed = Vec::new();
    for (i, r) in results {
        if let Err(e) = r {
            let shown = e.to_string();
            match typed(&e) {
                Some(thread_flow::Error::Api {
                    table,
                    first_key,
                    kind: thread_flow::DatabaseErrorKind::UniqueViolation,
                    ..
                }) => {
                    assert_eq!(table.as_deref(), Some("uniq"), "{shown}");
                    assert_eq!(first_key.as_deref(), Some("41"), "{shown}");
                }
                other => panic!("caller {i}: expected an Api error, got {other:?} ({shown})"),
            }
            assert!(shown.contains("UNIQUE"), "{shown}");
            failed.push(i);
        }
    }
    assert_eq!(failed, vec![BAD]);
    let requests = fake.stats().requests - before;
    eprintln!("{CALLERS} callers, one bad row: {requests} requests");
    // One request for the whole batch, then at most two per halving (log2 64 = 6), plus the
    // bad caller alone: never one request per caller.
    assert!(requests <= 14, "{requests} requests for {CALLERS} callers");
    let rows = fake.query(r#"SELECT COUNT(*) FROM "uniq""#);
    assert_eq!(rows, vec![vec![Value::Integer(CALLERS)]]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_to_one_database_share_one_http_handle() -> anyhow::Result<()> {
    let fake = thread_flow_suite::fake_d1::FakeD1::builder()
        .delay(std::time::Duration::from_millis(30))
        .start();
    let context = ctx_with_token("f15", "fake", fake.token())?;
    let factory = Arc::new(D1TargetFactory::default());
    let mut exports = Vec::new();
    for table in ["first", "second"] {
        let mut spec = D1Spec::new(fake_connection(&fake));
        spec.table = Some(table.into());
        spec.concurrency = Some(2);
        // Small requests: each batch needs many of them.
        spec.max_request_bytes = Some(2_000);
        spec.max_batch_rows = Some(200);
        spec.batch_window_ms = Some(600_000);
        exports.push(build_and_set_up_in(&factory, &context, table, spec).await?);
    }
    let exports: Vec<_> = exports.iter().map(|b| &b.export).collect();
    let results = upsert_concurrently(&factory, &exports, 0..200, |i| {
        upsert(i, &format!("row number {i} of a batch"), None)
    })
    .await?;
    for (_, r) in results {
        r?;
    }
    for table in ["first", "second"] {
        let n = fake.query(&format!(r#"SELECT COUNT(*) FROM "{table}""#));
        assert_eq!(n, vec![vec![Value::Integer(200)]]);
    }
    // Both exports' requests went through one handle: at most 2 in flight at once.
    let stats = fake.stats();
    assert!(stats.requests > 4, "{stats:?}");
    assert!(stats.max_in_flight <= 2, "{stats:?}");
    Ok(())
}

#[tokio::test]
async fn a_local_export_uses_the_local_request_budget() -> anyhow::Result<()> {
    let (_dir, path, factory) = local_target("budget.d1")?;
    let b = build_and_set_up(&factory, "f16", table_spec(&path, "budget")).await?;
    // 1.5 MB in one call: over the HTTP budget (1 MB per request), well within the local one.
    let big = "y".repeat(50_000);
    apply(
        &factory,
        &b.export,
        (0..30).map(|i| upsert(i, &big, None)).collect(),
        vec![],
    )
    .await?;
    let stats = factory.table_stats();
    let (_, st) = stats
        .iter()
        .find(|(t, _)| t.table == "budget")
        .ok_or_else(|| anyhow::anyhow!("no stats"))?;
    assert_eq!(st.upserted, 30);
    assert_eq!(st.requests, 1, "{st:?}");
    assert_eq!(b.export.write_options(), thread_flow::WriteOptions::local());
    Ok(())
}

#[tokio::test]
async fn adopt_migrates_a_foreign_table_but_never_recreates_it() -> anyhow::Result<()> {
    let (_dir, path, factory) = local_target("adopt.d1")?;
    let db = foreign_items(
        &path,
        "(1, 'theirs', NULL, 'dropped'), (2, 'theirs', 2.5, 'dropped')",
    )
    .await?;

    // Adopting under a new key on which the rows collide: refused, the table is not recreated.
    let (k2, v2) = name_keyed_fields();
    let spec = D1Spec {
        existing: ExistingTable::Adopt,
        ..table_spec(&path, "items")
    };
    let rekeyed = build(&factory, "f17", spec, k2, v2, pk(&["name"])).await?;
    assert!(
        setup(&factory, &rekeyed.key, Some(rekeyed.state.clone()), None)
            .await
            .is_err()
    );
    assert_eq!(db.count_rows("items").await?, 2);
    let live = live_table(&db, "items").await?;
    assert_eq!(live.primary_key, vec!["id".to_string()]);
    assert!(live.column("extra").is_some());

    // Adopting under the export's own key: migrated, rows kept, the undeclared column gone.
    let out = thread_flow::recoco::export::<Item>(Connection::local(&path))?
        .with_existing(ExistingTable::Adopt);
    let spec: D1Spec = serde_json::from_value(serde_json::Value::Object(out.spec))?;
    assert_eq!(spec.existing, ExistingTable::Adopt);
    let _b = build_and_set_up(&factory, "f17", spec).await?;
    let live = live_table(&db, "items").await?;
    assert!(live.column("extra").is_none());
    assert_eq!(
        db.table::<Item>().all().await?,
        vec![item(1, "theirs", None), item(2, "theirs", Some(2.5))]
    );
    Ok(())
}

#[test]
fn one_http_handle_serves_exports_built_on_different_runtimes() -> anyhow::Result<()> {
    let fake = thread_flow_suite::fake_d1::FakeD1::start();
    let factory = Arc::new(D1TargetFactory::default());
    for round in 0..3i64 {
        // Each round is a runtime of its own, gone before the next one starts.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let context = ctx_with_token("f18", "fake", fake.token())?;
            let (k, v) = item_fields();
            let mut spec = D1Spec::new(fake_connection(&fake));
            spec.table = Some("rounds".into());
            let b = build_in(
                &factory,
                Arc::clone(&context),
                "out",
                spec,
                k,
                v,
                pk(&["id"]),
            )
            .await?;
            if round == 0 {
                setup_in(
                    &factory,
                    Arc::clone(&context),
                    &b.key,
                    Some(b.state.clone()),
                    None,
                )
                .await?;
            }
            apply(&factory, &b.export, vec![upsert(round, "r", None)], vec![]).await?;
            anyhow::Ok(())
        })?;
        drop(runtime);
    }
    let rows = fake.query(r#"SELECT COUNT(*) FROM "rounds""#);
    assert_eq!(rows, vec![vec![Value::Integer(3)]]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_no_row_caused_fails_every_caller_at_once() -> anyhow::Result<()> {
    let fake = thread_flow_suite::fake_d1::FakeD1::start();
    let context = ctx_with_token("f19", "fake", fake.token())?;
    let factory = Arc::new(D1TargetFactory::default());
    let mut spec = D1Spec::new(fake_connection(&fake));
    spec.table = Some("vanishing".into());
    spec.batch_window_ms = Some(600_000);
    spec.max_batch_rows = Some(16);
    let b = build_and_set_up_in(&factory, &context, "out", spec).await?;
    // Someone drops the table: no row is to blame, so there is nothing to bisect.
    fake.with_connection(|c| c.execute(r#"DROP TABLE "vanishing""#, []))?;
    let before = fake.stats().requests;
    let results =
        upsert_concurrently(&factory, &[&b.export], 0..16, |i| upsert(i, "x", None)).await?;
    let mut failed = 0;
    for (_, r) in results {
        if let Err(e) = r {
            assert!(e.to_string().contains("no such table"), "{e}");
            failed += 1;
        }
    }
    assert_eq!(failed, 16);
    assert_eq!(fake.stats().requests - before, 1);
    Ok(())
}

#[tokio::test]
async fn a_table_without_recorded_state_is_never_dropped() -> anyhow::Result<()> {
    let (_dir, path, factory) = local_target("keep.d1")?;
    let db = foreign_items(&path, "(1, 'theirs', NULL, 'x')").await?;
    let b = build_items(&factory, "f20", table_spec(&path, "ITEMS")).await?;
    // The export is removed before this flow ever recorded the table: nothing to drop.
    let change = factory
        .diff_setup_states(b.key.clone(), None, CombinedState::default(), ctx("f20"))
        .await?;
    assert_eq!(change.change_type(), SetupChangeType::NoChange);
    factory
        .apply_setup_changes(
            vec![TypedResourceSetupChangeItem {
                key: b.key.clone(),
                setup_change: &change,
            }],
            ctx("f20"),
        )
        .await?;
    // And setting it up (differs: `extra`) is refused rather than rebuilt.
    assert!(
        setup(&factory, &b.key, Some(b.state.clone()), None)
            .await
            .is_err()
    );
    assert_eq!(db.count_rows("items").await?, 1);
    assert!(
        db.live_schema("items")
            .await?
            .is_some_and(|t| t.column("extra").is_some())
    );
    Ok(())
}
