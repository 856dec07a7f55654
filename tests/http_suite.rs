//! One integration suite, three databases: the embedded local D1 (SQLite file), the real D1
//! engine over HTTP (Miniflare / workerd) and the in-process fake over HTTP. Each run:
//! migrate, upsert 10,000 rows of a struct using every column type, read every row back and
//! compare exactly, delete half, re-migrate after adding a column and an index.
//! Plus the request budget: 10,000 rows of a 6-column struct in at most 5 HTTP requests.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use thread_flow::{D1Database, D1Target, D1Value, MigrationReport};
use thread_flow_suite::fake_d1::FakeD1;
use thread_flow_suite::miniflare::LocalD1Server;

const ROWS: i64 = 10_000;

#[derive(Debug, Clone, PartialEq, D1Value)]
#[d1(rename_all = "snake_case")]
enum Kind {
    Function,
    TypeAlias,
    Module,
}

#[derive(Debug, Clone, PartialEq, D1Value)]
#[repr(i64)]
enum Level {
    Low = 1,
    High = 1_000_000_000_000,
}

#[derive(Debug, Clone, PartialEq, D1Value)]
struct Tag(String);

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Attrs {
    words: Vec<String>,
    weight: i64,
}

/// Every column type the mapping table lists.
#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "suite rows", primary_key(id, part), index(kind, level))]
struct RowV1 {
    id: i64,
    part: String,
    small: i8,
    medium: i32,
    unsigned: u32,
    flag: bool,
    score: f64,
    ratio: f32,
    name: String,
    data: Vec<u8>,
    fixed: [u8; 4],
    note: Option<String>,
    maybe: Option<i64>,
    uid: uuid::Uuid,
    at: DateTime<Utc>,
    day: NaiveDate,
    clock: NaiveTime,
    local: NaiveDateTime,
    kind: Kind,
    level: Level,
    tag: Tag,
    #[d1(json)]
    attrs: Attrs,
    #[d1(json)]
    map: Option<BTreeMap<String, i64>>,
    doc: serde_json::Value,
    #[d1(sql_type = "TEXT")]
    huge: u64,
}

/// The same table after adding a column and an index.
#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(
    table = "suite rows",
    primary_key(id, part),
    index(kind, level),
    index(name, name = "suite_by_name")
)]
struct RowV2 {
    id: i64,
    part: String,
    small: i8,
    medium: i32,
    unsigned: u32,
    flag: bool,
    score: f64,
    ratio: f32,
    name: String,
    data: Vec<u8>,
    fixed: [u8; 4],
    note: Option<String>,
    maybe: Option<i64>,
    uid: uuid::Uuid,
    at: DateTime<Utc>,
    day: NaiveDate,
    clock: NaiveTime,
    local: NaiveDateTime,
    kind: Kind,
    level: Level,
    tag: Tag,
    #[d1(json)]
    attrs: Attrs,
    #[d1(json)]
    map: Option<BTreeMap<String, i64>>,
    doc: serde_json::Value,
    #[d1(sql_type = "TEXT")]
    huge: u64,
    #[d1(default = 7)]
    added: i64,
}

fn row(i: i64) -> RowV1 {
    let id = match i % 5 {
        0 => i,
        1 => i64::MAX - i,
        2 => i64::MIN + i,
        3 => (1 << 53) + i,
        _ => -(1 << 53) - i,
    };
    let at = Utc
        .timestamp_opt(
            1_700_000_000 + i * 37,
            u32::try_from(i % 1000).unwrap() * 1_000_000,
        )
        .unwrap();
    RowV1 {
        id,
        part: if i % 2 == 0 {
            "é".into()
        } else {
            "E\u{301}".into()
        },
        small: i8::try_from(i % 256 - 128).unwrap(),
        medium: i32::try_from(i).unwrap() * if i % 2 == 0 { -1 } else { 1 },
        unsigned: u32::MAX - u32::try_from(i).unwrap(),
        flag: i % 3 == 0,
        score: (i as f64) * 1.000_001 - 5000.5,
        ratio: i as f32 / 7.0,
        name: format!("行 {i} 🚀 \"q\" 'a' ; DROP TABLE x; -- \u{0}nul"),
        data: (0..(i % 97))
            .map(|b| u8::try_from((b * 31 + i) % 256).unwrap())
            .collect(),
        fixed: [0, 255, u8::try_from(i % 256).unwrap(), 7],
        note: (i % 4 != 0).then(|| format!("note {i}\nline two")),
        maybe: (i % 3 != 0).then_some(i64::MIN + 1 + i),
        uid: uuid::Uuid::from_u128(
            u128::try_from(i)
                .unwrap()
                .wrapping_mul(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        ),
        at,
        day: at.date_naive(),
        clock: at.time(),
        local: at.naive_utc(),
        kind: [Kind::Function, Kind::TypeAlias, Kind::Module][usize::try_from(i % 3).unwrap()]
            .clone(),
        level: if i % 2 == 0 { Level::Low } else { Level::High },
        tag: Tag(format!("tag-{}", i % 17)),
        attrs: Attrs {
            words: vec![format!("w{i}"), "ü".into()],
            weight: -i,
        },
        map: (i % 5 != 0)
            .then(|| BTreeMap::from([("k".to_owned(), i), ("big".to_owned(), i64::MAX)])),
        doc: serde_json::json!({"i": i, "nested": [1, "two", null, 2.5], "big": 9_007_199_254_740_993_i64}),
        huge: u64::MAX - u64::try_from(i).unwrap(),
    }
}

fn upgrade(r: &RowV1, added: i64) -> RowV2 {
    RowV2 {
        id: r.id,
        part: r.part.clone(),
        small: r.small,
        medium: r.medium,
        unsigned: r.unsigned,
        flag: r.flag,
        score: r.score,
        ratio: r.ratio,
        name: r.name.clone(),
        data: r.data.clone(),
        fixed: r.fixed,
        note: r.note.clone(),
        maybe: r.maybe,
        uid: r.uid,
        at: r.at,
        day: r.day,
        clock: r.clock,
        local: r.local,
        kind: r.kind.clone(),
        level: r.level.clone(),
        tag: r.tag.clone(),
        attrs: r.attrs.clone(),
        map: r.map.clone(),
        doc: r.doc.clone(),
        huge: r.huge,
        added,
    }
}

/// Rows of either version in primary-key order `(id, part)`.
fn in_key_order<T: D1Target>(rows: &mut [T])
where
    T::Key: Ord,
{
    rows.sort_by_cached_key(T::key);
}

/// Compares without printing 10,000 rows: the count, then the first differing row.
fn same<T: PartialEq + std::fmt::Debug>(label: &str, got: &[T], want: &[T]) {
    if let Some((i, (g, w))) = got.iter().zip(want).enumerate().find(|(_, (g, w))| g != w) {
        panic!("{label}: row {i} differs:\n got: {g:?}\nwant: {w:?}");
    }
    assert_eq!(got.len(), want.len(), "{label}: row count");
}

/// The suite. `label` names the database in failure messages.
async fn suite(label: &str, db: &D1Database) {
    let started = Instant::now();
    let v1 = db.table::<RowV1>();
    let report: MigrationReport = v1
        .migrate()
        .await
        .unwrap_or_else(|e| panic!("{label}: migrate: {e}"));
    assert!(report.changed(), "{label}: the table was created");
    assert!(
        v1.plan().await.unwrap().is_empty(),
        "{label}: nothing left to migrate"
    );

    let mut rows: Vec<RowV1> = (0..ROWS).map(row).collect();
    let written = v1
        .upsert(&rows)
        .await
        .unwrap_or_else(|e| panic!("{label}: upsert: {e}"));
    assert_eq!(written.rows, ROWS as u64, "{label}");
    assert_eq!(v1.count().await.unwrap(), ROWS as u64, "{label}");
    let mut read = v1
        .all()
        .await
        .unwrap_or_else(|e| panic!("{label}: read back: {e}"));
    in_key_order(&mut rows);
    in_key_order(&mut read);
    same(label, &read, &rows);
    for r in rows.iter().step_by(997) {
        assert_eq!(
            v1.get(&(r.id, r.part.clone())).await.unwrap().as_ref(),
            Some(r),
            "{label}: get"
        );
    }

    // Upserting again changes nothing; then delete every other row.
    v1.upsert(&rows[..100]).await.unwrap();
    let mut gone = Vec::new();
    let mut kept = Vec::new();
    for (i, r) in rows.into_iter().enumerate() {
        if i % 2 == 0 {
            gone.push(r)
        } else {
            kept.push(r)
        }
    }
    let keys: Vec<_> = gone.iter().map(D1Target::key).collect();
    let deleted = v1
        .delete(&keys)
        .await
        .unwrap_or_else(|e| panic!("{label}: delete: {e}"));
    assert_eq!(deleted.rows, keys.len() as u64, "{label}");
    assert_eq!(v1.count().await.unwrap(), kept.len() as u64, "{label}");
    let mut read = v1.all().await.unwrap();
    in_key_order(&mut read);
    same(label, &read, &kept);
    assert_eq!(v1.get(&gone[0].key()).await.unwrap(), None, "{label}");

    // Re-migrate: one added column (with a default) and one added index; rows are kept.
    let v2 = db.table::<RowV2>();
    let plan = v2.plan().await.unwrap();
    assert!(
        !plan.is_empty(),
        "{label}: the new column and index are planned"
    );
    let statements = plan.statements();
    let sql: Vec<&str> = statements.iter().map(|s| s.sql.as_str()).collect();
    assert!(!plan.rebuild, "{label}: no rebuild needed");
    assert!(
        sql.iter()
            .any(|s| s.contains("ADD COLUMN") && s.contains("\"added\"")),
        "{label}: {sql:?}"
    );
    assert!(
        sql.iter()
            .any(|s| s.contains("CREATE INDEX") && s.contains("\"suite_by_name\"")),
        "{label}: {sql:?}"
    );
    v2.migrate()
        .await
        .unwrap_or_else(|e| panic!("{label}: re-migrate: {e}"));
    assert!(v2.plan().await.unwrap().is_empty(), "{label}: migrated");
    let live = db
        .live_schema("suite rows")
        .await
        .unwrap()
        .expect("table exists");
    assert!(live.columns.iter().any(|c| c.name == "added"), "{label}");
    assert!(
        live.indexes.iter().any(|i| i.name == "suite_by_name"),
        "{label}"
    );
    let mut read = v2.all().await.unwrap();
    in_key_order(&mut read);
    let mut want: Vec<RowV2> = kept.iter().map(|r| upgrade(r, 7)).collect();
    in_key_order(&mut want);
    same(label, &read, &want);
    let changed: Vec<RowV2> = kept.iter().take(50).map(|r| upgrade(r, -1)).collect();
    v2.upsert(&changed).await.unwrap();
    assert_eq!(
        v2.get(&changed[0].key()).await.unwrap().as_ref(),
        Some(&changed[0]),
        "{label}"
    );
    assert_eq!(v2.count().await.unwrap(), kept.len() as u64, "{label}");
    eprintln!(
        "{label}: suite done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_the_local_transport() {
    let dir = tempfile::tempdir().unwrap();
    let db = D1Database::local(dir.path().join("suite.d1")).unwrap();
    suite("local", &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_miniflare_over_http() {
    let server = LocalD1Server::start().unwrap_or_else(|e| panic!("{e}"));
    let db = server.database().unwrap();
    suite("miniflare", &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suite_on_the_fake_over_http() {
    let fake = FakeD1::start();
    suite("fake", &fake.database()).await;
    assert_eq!(fake.stats().sql_errors, 0);
}

/// Six columns, as in issue 3's acceptance line.
#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(table = "six")]
struct Six {
    #[d1(primary_key)]
    id: i64,
    name: String,
    score: f64,
    flag: bool,
    data: Vec<u8>,
    note: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_six_column_rows_take_at_most_five_requests() {
    let fake = FakeD1::start();
    let db = fake.database();
    let table = db.table::<Six>();
    table.migrate().await.unwrap();
    let before = fake.stats();
    let rows: Vec<Six> = (0..10_000)
        .map(|i| Six {
            id: i * 7919 - 40_000_000,
            name: format!("row {i} ✓"),
            score: i as f64 / 3.0,
            flag: i % 2 == 1,
            data: vec![u8::try_from(i % 256).unwrap(); usize::try_from(i % 24).unwrap()],
            note: (i % 3 == 0).then(|| format!("n{i}")),
        })
        .collect();
    let report = table.upsert(&rows).await.unwrap();
    let after = fake.stats();
    let requests = after.requests - before.requests;
    eprintln!(
        "10,000 rows x 6 columns: {requests} HTTP requests, {} statements, {} bytes sent",
        report.statements, report.bytes_sent
    );
    assert!(requests <= 5, "{requests} requests");
    assert_eq!(report.requests, requests);
    assert_eq!(report.rows, 10_000);
    assert_eq!(
        after.bytes_received - before.bytes_received,
        report.bytes_sent
    );
    let stored = fake.query("SELECT count(*) FROM \"six\"");
    assert_eq!(stored, vec![vec![thread_flow::Value::Integer(10_000)]]);
    let mut back = table.all().await.unwrap();
    back.sort_by_key(|r| r.id);
    same("six", &back, &rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_always_fails_names_table_first_key_code_and_attempts() {
    use std::time::Duration;

    use thread_flow::Error;
    use thread_flow::client::RetryStop;
    use thread_flow::client::http::RetryPolicy;
    use thread_flow_suite::fake_d1::{Fault, FaultPlan};

    // Stopped by the attempt count, with a deadline far beyond the work: the error (an API
    // error with the last status and code) and the attempts are the same on any machine.
    // (Before issue 10 a 0.7 s deadline made the variant depend on timing.)
    let fake = FakeD1::start();
    let db = D1Database::http_with(
        fake.http_config().with_retry(
            RetryPolicy::default()
                .with_max_attempts(4)
                .with_backoff(Duration::from_millis(10), Duration::from_millis(80))
                .with_deadline(Duration::from_secs(300)),
        ),
    )
    .unwrap();
    let table = db.table::<Six>();
    table.migrate().await.unwrap();
    fake.set_faults(FaultPlan::Always(Fault::ServerError {
        status: 503,
        json: true,
    }));
    let rows: Vec<Six> = (0..10)
        .map(|i| Six {
            id: 100 + i,
            name: "x".into(),
            score: 0.5,
            flag: true,
            data: vec![],
            note: None,
        })
        .collect();
    let err = table.upsert(&rows).await.unwrap_err();
    let text = err.to_string();
    match &err {
        Error::Api {
            status,
            code,
            table,
            first_key,
            attempts,
            stopped,
            ..
        } => {
            assert_eq!(*status, Some(503));
            assert_eq!(*code, Some(7500));
            assert_eq!(table.as_deref(), Some("six"));
            assert!(
                first_key.as_deref().is_some_and(|k| k.contains("100")),
                "{first_key:?}"
            );
            assert_eq!(*attempts, 4);
            assert_eq!(*stopped, Some(RetryStop::MaxAttempts { max: 4 }));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        text.contains("six") && text.contains("after 4 attempts"),
        "{text}"
    );
    assert!(!text.contains(fake.token()));
    assert_eq!(
        fake.query("SELECT count(*) FROM \"six\""),
        vec![vec![thread_flow::Value::Integer(0)]]
    );
}
