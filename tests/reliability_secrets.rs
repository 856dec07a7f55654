//! Issue 7, part 4: a known, distinctive API token never appears in tracing output (every
//! level, `log` records of the HTTP stack included), nor in `Debug` / `Display` of any public
//! type that holds configuration, nor in any error produced along the way: successes, retried
//! faults, 401, 400, a deadline failure, bind / limit / schema errors, bad configuration, and
//! the ReCoco target (spec, setup key and state, factory, export context, setup change).
//!
//! One test in this binary: it installs the process-wide subscriber, so that logs written on
//! any thread (Tokio workers, blocking threads, the fake server) are captured.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use recoco_core::base::schema::{BasicValueType, EnrichedValueType, FieldSchema, ValueType};
use recoco_core::base::value::{BasicValue, FieldValues, KeyValue, Value as RValue};
use recoco_core::ops::interface::{
    ExportTargetMutation, ExportTargetMutationWithContext, ExportTargetUpsertEntry,
    FlowInstanceContext,
};
use recoco_core::ops::sdk::{
    TargetFactoryBase, TypedExportDataCollectionSpec, TypedResourceSetupChangeItem,
};
use recoco_core::setup::{AuthRegistry, CombinedState};
use thread_flow::client::http::{HttpConfig, RetryPolicy};
use thread_flow::recoco::D1Spec;
use thread_flow::recoco::testing::D1TargetFactory;
use thread_flow::{Column, D1Database, D1Target, Error, Secret, SqlType, TableSchema, Value};
use thread_flow::{Connection, TokenSource};
use thread_flow::{MigrationOptions, Statement};
use thread_flow_suite::fake_d1::{FakeD1, Fault, FaultPlan};

const TOKEN: &str = "tf-SECRET-7q9ZX2-never-print-me";
/// A second token, given to a client the server does not accept.
const WRONG_TOKEN: &str = "tf-WRONG-3k8PQ1-never-print-me";
/// The part of both tokens that must never show up (catches partial leaks too).
const MARKERS: [&str; 4] = ["7q9ZX2", "3k8PQ1", "never-print-me", "tf-SECRET"];

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "secret items")]
struct Item {
    #[d1(primary_key)]
    id: i64,
    name: String,
    score: Option<f64>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn item(id: i64) -> Item {
    Item {
        id,
        name: format!("item {id}"),
        score: Some(id as f64 / 2.0),
    }
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

/// Everything printed: collected here, checked at the end.
#[derive(Default)]
struct Shown(Vec<String>);

impl Shown {
    fn debug(&mut self, label: &str, v: &dyn std::fmt::Debug) {
        self.0.push(format!("{label}: {v:?} / {v:#?}"));
    }
    fn both<T: std::fmt::Debug + std::fmt::Display>(&mut self, label: &str, v: &T) {
        self.0.push(format!("{label}: {v} / {v:?} / {v:#?}"));
    }
    fn error(&mut self, label: &str, e: &Error) {
        self.both(label, e);
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            self.0.push(format!("{label} source: {s} / {s:?}"));
            source = s.source();
        }
    }
}

#[test]
fn the_token_never_appears_in_logs_debug_display_or_errors() {
    let capture = Capture::default();
    let sink = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .try_init()
        .expect("the only subscriber of this test binary");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut shown = Shown::default();
    runtime.block_on(exercise(&mut shown));
    drop(runtime);

    let logs = String::from_utf8_lossy(
        &capture
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned();
    // The capture works and saw the interesting paths.
    for needle in [
        "retrying",
        "TRACE",
        "DEBUG",
        "not retryable",
        "deadline",
        "secret target",
        "401",
    ] {
        assert!(logs.contains(needle), "logs mention {needle:?}");
    }
    println!(
        "{} bytes of logs and {} printed values checked",
        logs.len(),
        shown.0.len()
    );
    for marker in MARKERS {
        if let Some(at) = logs.find(marker) {
            let from = at.saturating_sub(300);
            panic!(
                "token fragment {marker:?} in the logs: …{}…",
                &logs[from..(at + 100).min(logs.len())]
            );
        }
        for text in &shown.0 {
            assert!(
                !text.contains(marker),
                "token fragment {marker:?} in: {text}"
            );
        }
    }
}

async fn exercise(shown: &mut Shown) {
    let fake = FakeD1::builder().token(TOKEN).start();
    let config = fake
        .http_config()
        .with_request_timeout(Duration::from_secs(2));
    assert_eq!(config.token.expose(), TOKEN);
    shown.debug("HttpConfig", &config);
    shown.debug("RetryPolicy", &config.retry);
    shown.both("Secret", &config.token);
    shown.both("Secret::from", &Secret::from(TOKEN));
    let db = D1Database::http_with(config.clone()).unwrap();
    shown.debug("D1Database", &db);
    let table = db.table::<Item>();
    shown.debug("D1Table", &table);

    // Successes, through every operation.
    let report = table.migrate().await.unwrap();
    shown.debug("MigrationReport", &report);
    let rows: Vec<Item> = (0..50).map(item).collect();
    shown.debug("WriteReport", &table.upsert(&rows).await.unwrap());
    assert_eq!(table.get(&7).await.unwrap(), Some(item(7)));
    assert_eq!(table.count().await.unwrap(), 50);
    shown.debug("WriteReport", &table.delete(&[1, 2]).await.unwrap());
    shown.debug("plan", &table.plan().await.unwrap());

    // Every transient fault, retried.
    fake.set_faults(FaultPlan::script([
        Some(Fault::RateLimited {
            retry_after: Some(Duration::from_millis(10)),
        }),
        Some(Fault::ServerError {
            status: 502,
            json: false,
        }),
        Some(Fault::ServerError {
            status: 500,
            json: true,
        }),
        Some(Fault::ResetBeforeProcessing),
        Some(Fault::RetryableMessage),
        Some(Fault::ResetAfterCommit),
        // Far beyond the 2 s timeout, which is far beyond a normal answer: exactly one retry.
        Some(Fault::SlowResponse {
            delay: Duration::from_secs(60),
        }),
    ]));
    let report = table.upsert(&rows).await.unwrap();
    assert_eq!(report.retries, 7);
    fake.set_faults(FaultPlan::None);

    // 401: injected, and a client holding a token the server does not accept.
    fake.set_faults(FaultPlan::Always(Fault::Unauthorized));
    let e = table.upsert(&rows).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Api {
                status: Some(401),
                ..
            }
        ),
        "{e:?}"
    );
    shown.error("401 injected", &e);
    fake.set_faults(FaultPlan::None);
    let wrong = D1Database::http_with(
        HttpConfig::new(
            fake.base_url(),
            fake.account_id(),
            fake.database_id(),
            WRONG_TOKEN,
        )
        .with_retry(RetryPolicy::default().with_max_attempts(3)),
    )
    .unwrap();
    shown.debug("D1Database (wrong token)", &wrong);
    let e = wrong.table::<Item>().upsert(&rows).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Api {
                status: Some(401),
                code: Some(10000),
                ..
            }
        ),
        "{e:?}"
    );
    shown.error("401 wrong token", &e);

    // 400: SQL errors, with and without a table.
    let e = db.execute("SELEC nonsense", vec![]).await.unwrap_err();
    shown.error("400 execute", &e);
    let mut missing = Item::schema().clone();
    missing.name = "never created".into();
    let e = db
        .write_rows(
            &missing,
            vec![vec![
                Value::Integer(1),
                Value::Text("x".into()),
                Value::Null,
            ]],
            vec![],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Api {
                status: Some(400),
                code: Some(7500),
                ..
            }
        ),
        "{e:?}"
    );
    shown.error("400 write", &e);

    // A deadline failure.
    let short = D1Database::http_with(
        config.clone().with_retry(
            RetryPolicy::default()
                .with_max_attempts(1_000)
                .with_backoff(Duration::from_millis(10), Duration::from_millis(50))
                .with_deadline(Duration::from_millis(500)),
        ),
    )
    .unwrap();
    fake.set_faults(FaultPlan::Always(Fault::ServerError {
        status: 503,
        json: false,
    }));
    let e = short.table::<Item>().upsert(&rows).await.unwrap_err();
    shown.error("deadline", &e);
    fake.set_faults(FaultPlan::Always(Fault::ResetBeforeProcessing));
    let e = short.table::<Item>().upsert(&rows).await.unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    shown.error("transport deadline", &e);
    fake.set_faults(FaultPlan::None);

    // Errors raised before sending.
    let bad = Item {
        id: 1,
        name: "nan".into(),
        score: Some(f64::NAN),
    };
    shown.error("bind", &table.upsert(&[bad]).await.unwrap_err());
    shown.error(
        "limit",
        &table
            .upsert(&[Item {
                id: 1,
                name: "x".repeat(2_000_001),
                score: None,
            }])
            .await
            .unwrap_err(),
    );
    let mut reserved = TableSchema::new("_cf_secret");
    reserved.columns = vec![Column::new("id", SqlType::Integer)];
    reserved.primary_key = vec!["id".into()];
    shown.error(
        "schema",
        &db.migrate_table(&reserved, &MigrationOptions::default())
            .await
            .unwrap_err(),
    );
    shown.error(
        "transaction control",
        &db.request(vec![Statement::raw("BEGIN")]).await.unwrap_err(),
    );

    // Bad configuration: a token that cannot be a header, an empty token, a bad URL.
    for (label, c) in [
        (
            "config: token with a newline",
            HttpConfig::new(fake.base_url(), "a", "d", format!("{TOKEN}\nx-injected: 1")),
        ),
        (
            "config: bad url",
            HttpConfig::new("ftp://x", "a", "d", TOKEN),
        ),
        (
            "config: bad account",
            HttpConfig::new(fake.base_url(), "a/b", "d", TOKEN),
        ),
    ] {
        shown.debug(label, &c);
        shown.error(label, &D1Database::http_with(c).unwrap_err());
    }
    let vars = [
        ("CLOUDFLARE_ACCOUNT_ID", fake.account_id().to_owned()),
        ("D1_DATABASE_ID", fake.database_id().to_owned()),
        ("CLOUDFLARE_API_TOKEN", TOKEN.to_owned()),
        ("D1_BASE_URL", fake.base_url().to_owned()),
    ];
    let from_vars =
        Connection::from_vars(|n| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()))
            .unwrap();
    shown.debug("Connection (from vars)", &from_vars);
    shown.0.push(format!(
        "Connection JSON: {}",
        serde_json::to_string(&from_vars).unwrap()
    ));
    let partial =
        Connection::from_vars(|n| (n == "CLOUDFLARE_API_TOKEN").then(|| TOKEN.to_owned()))
            .unwrap_err();
    shown.error("config: partial environment", &partial);
    let from_env_db = D1Database::connect_with_token(&from_vars, TOKEN).unwrap();
    shown.debug("D1Database (from vars)", &from_env_db);
    from_env_db.table::<Item>().count().await.unwrap();

    target(shown, &fake).await;
}

/// The ReCoco target with the token in its auth registry: build, setup, mutations (one of
/// them failing with 401), and every value it hands back.
async fn target(shown: &mut Shown, fake: &FakeD1) {
    let registry = Arc::new(AuthRegistry::new());
    registry
        .add("d1-token".into(), serde_json::json!(TOKEN))
        .unwrap();
    let ctx = Arc::new(FlowInstanceContext {
        flow_instance_name: "secrets".into(),
        auth_registry: Arc::clone(&registry),
    });
    let connection = Connection::Http {
        base_url: fake.base_url().into(),
        account_id: fake.account_id().into(),
        database_id: fake.database_id().into(),
        token: Some(TokenSource::AuthKey("d1-token".into())),
    };
    shown.debug("Connection", &connection);
    let mut spec = D1Spec::new(connection.clone());
    spec.table = Some("secret target".into());
    shown.debug("D1Spec", &spec);
    shown.0.push(format!(
        "D1Spec JSON: {}",
        serde_json::to_string(&spec).unwrap()
    ));
    let secret = TokenSource::AuthKey("d1-token".into())
        .resolve(&registry)
        .unwrap();
    assert_eq!(secret.expose(), TOKEN);
    shown.both("resolved Secret", &secret);
    let export = thread_flow::recoco::export::<Item>(connection).unwrap();
    shown.debug("D1Export", &export);

    let factory = Arc::new(D1TargetFactory::default());
    let (mut outs, _) = TargetFactoryBase::build(
        Arc::clone(&factory),
        vec![TypedExportDataCollectionSpec {
            name: "out".into(),
            spec,
            key_fields_schema: vec![field("id", BasicValueType::Int64, false)].into_boxed_slice(),
            value_fields_schema: vec![
                field("name", BasicValueType::Str, false),
                field("score", BasicValueType::Float64, true),
            ],
            index_options: recoco_core::base::spec::IndexOptions {
                primary_key_fields: Some(vec!["id".into()]),
                vector_indexes: vec![],
                fts_indexes: vec![],
            },
        }],
        vec![],
        Arc::clone(&ctx),
    )
    .await
    .unwrap();
    let out = outs.remove(0);
    let key = out.setup_key.clone();
    let state = out.desired_setup_state.clone();
    shown.debug("D1TableId", &key);
    shown.debug("D1SetupState", &state);
    shown.0.push(format!(
        "persisted: {} {}",
        serde_json::to_string(&key).unwrap(),
        serde_json::to_string(&state).unwrap()
    ));
    let export_context = out.export_context.await.unwrap();
    shown.debug("D1ExportContext", &export_context);
    let change = factory
        .diff_setup_states(
            key.clone(),
            Some(state),
            CombinedState::default(),
            Arc::clone(&ctx),
        )
        .await
        .unwrap();
    shown.debug("D1SetupChange", &change);
    factory
        .apply_setup_changes(
            vec![TypedResourceSetupChangeItem {
                key: key.clone(),
                setup_change: &change,
            }],
            Arc::clone(&ctx),
        )
        .await
        .unwrap();
    let upsert = |id: i64| ExportTargetUpsertEntry {
        key: KeyValue::from_single_part(id),
        additional_key: serde_json::Value::Null,
        value: FieldValues {
            fields: vec![
                RValue::Basic(BasicValue::Str(format!("n{id}").into())),
                RValue::Null,
            ],
        },
    };
    let mutate = |ids: Vec<i64>| {
        let factory = Arc::clone(&factory);
        let export_context = Arc::clone(&export_context);
        async move {
            factory
                .apply_mutation(vec![ExportTargetMutationWithContext {
                    mutation: ExportTargetMutation {
                        upserts: ids.into_iter().map(upsert).collect(),
                        deletes: vec![],
                    },
                    export_context: &*export_context,
                }])
                .await
        }
    };
    mutate(vec![1, 2, 3]).await.unwrap();
    assert_eq!(
        fake.query("SELECT count(*) FROM \"secret target\""),
        vec![vec![Value::Integer(3)]]
    );
    fake.set_faults(FaultPlan::Always(Fault::Unauthorized));
    let e = mutate(vec![4]).await.unwrap_err();
    fake.set_faults(FaultPlan::None);
    shown
        .0
        .push(format!("target mutation error: {e} / {e:?} / {e:#?}"));
    shown.debug("D1TargetFactory", &*factory);
    shown.debug("table stats", &factory.table_stats());
}
