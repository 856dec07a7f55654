//! Migrations on the in-memory local D1: create, add column, index changes, rebuilds that keep
//! every row, refusals, replay, and the live schema read back.

use thread_flow::sql::{plan_drop, plan_migration};
use thread_flow::{Column, ColumnDefault, D1Database, Error, Index, SqlType, TableSchema, Value};
use thread_flow::{MigrationOptions, Statement};

fn v1() -> TableSchema {
    let mut t = TableSchema::new("docs");
    t.columns = vec![
        Column::new("id", SqlType::Integer),
        Column::new("title", SqlType::Text),
        Column::new("body", SqlType::Text).nullable(true),
        Column::new("size", SqlType::Integer),
    ];
    t.primary_key = vec!["id".into()];
    t.indexes = vec![Index {
        name: "docs_title_idx".into(),
        columns: vec!["title".into()],
        unique: false,
        where_clause: None,
    }];
    t
}

/// Default options but `allow_data_loss`.
fn allowing_data_loss() -> MigrationOptions {
    MigrationOptions::default().with_allow_data_loss(true)
}

async fn seed(db: &D1Database, schema: &TableSchema, n: i64) {
    let rows = (0..n)
        .map(|i| {
            vec![
                Value::Integer(i),
                Value::Text(format!("title {i}")),
                if i % 2 == 0 {
                    Value::Null
                } else {
                    Value::Text(format!("body {i}"))
                },
                Value::Integer(i * 10),
            ]
        })
        .collect();
    db.write_rows(schema, rows, vec![]).await.unwrap();
}

async fn rows(db: &D1Database, sql: &str) -> Vec<Vec<Value>> {
    db.execute(sql, vec![]).await.unwrap().rows
}

#[tokio::test]
async fn create_then_nothing_to_do_and_live_schema_matches() {
    let db = D1Database::in_memory().unwrap();
    let target = v1();
    let plan = db
        .plan_table(&target, &MigrationOptions::default())
        .await
        .unwrap();
    assert_eq!(plan.steps.len(), 2);
    assert!(plan.steps[0].description.starts_with("create table `docs`"));
    let report = db
        .migrate_table(&target, &MigrationOptions::default())
        .await
        .unwrap();
    assert_eq!(report.requests, 1);
    let live = db.live_schema("docs").await.unwrap().expect("table exists");
    assert_eq!(live, target);
    let again = db
        .migrate_table(&target, &MigrationOptions::default())
        .await
        .unwrap();
    assert!(!again.changed());
    assert_eq!(again.requests, 0);
    assert!(db.live_schema("missing").await.unwrap().is_none());
}

#[tokio::test]
async fn live_schema_reads_hostile_names_defaults_partial_indexes_and_options() {
    let db = D1Database::in_memory().unwrap();
    let mut t = TableSchema::new("we\"ird table");
    t.columns = vec![
        Column::new("a.b", SqlType::Text),
        Column::new("select", SqlType::Integer),
        Column::new("n", SqlType::Real).with_default(ColumnDefault::Value(Value::Real(1.5))),
        Column::new("s", SqlType::Text)
            .with_default(ColumnDefault::Value(Value::Text("it's".into()))),
        Column::new("at", SqlType::Text)
            .nullable(true)
            .with_default(ColumnDefault::Sql("CURRENT_TIMESTAMP".into())),
        Column::new("blob", SqlType::Blob).nullable(true),
    ];
    t.primary_key = vec!["select".into(), "a.b".into()];
    t.without_rowid = true;
    t.indexes = vec![
        Index {
            name: "ix (1)".into(),
            columns: vec!["n".into(), "s".into()],
            unique: true,
            where_clause: Some("\"n\" > 0".into()),
        },
        Index {
            name: "ix2".into(),
            columns: vec!["blob".into()],
            unique: false,
            where_clause: None,
        },
    ];
    db.migrate_table(&t, &MigrationOptions::default())
        .await
        .unwrap();
    let live = db.live_schema("we\"ird table").await.unwrap().unwrap();
    assert_eq!(live.columns, t.columns);
    assert_eq!(live.primary_key, t.primary_key);
    assert!(live.strict && live.without_rowid);
    let mut live_ix = live.indexes.clone();
    live_ix.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(live_ix, t.indexes);
    assert!(
        plan_migration(Some(&live), &t, &MigrationOptions::default())
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn add_nullable_and_defaulted_columns_in_place() {
    let db = D1Database::in_memory().unwrap();
    db.migrate_table(&v1(), &MigrationOptions::default())
        .await
        .unwrap();
    seed(&db, &v1(), 50).await;
    let mut v2 = v1();
    v2.columns
        .push(Column::new("lang", SqlType::Text).nullable(true));
    v2.columns.push(
        Column::new("rank", SqlType::Integer).with_default(ColumnDefault::Value(Value::Integer(7))),
    );
    let report = db
        .migrate_table(&v2, &MigrationOptions::default())
        .await
        .unwrap();
    assert!(!report.plan.rebuild);
    assert_eq!(report.plan.steps.len(), 2);
    assert!(
        report.plan.statements()[0]
            .sql
            .starts_with("ALTER TABLE \"docs\" ADD COLUMN \"lang\" TEXT")
    );
    assert_eq!(
        rows(&db, "SELECT COUNT(*), SUM(rank), COUNT(lang) FROM docs").await,
        vec![vec![
            Value::Integer(50),
            Value::Integer(350),
            Value::Integer(0)
        ]]
    );
    assert_eq!(db.live_schema("docs").await.unwrap().unwrap(), v2);
}

#[tokio::test]
async fn add_change_and_drop_indexes() {
    let db = D1Database::in_memory().unwrap();
    db.migrate_table(&v1(), &MigrationOptions::default())
        .await
        .unwrap();
    seed(&db, &v1(), 20).await;
    let mut v2 = v1();
    v2.indexes = vec![
        // Changed: now unique over (title, size).
        Index {
            name: "docs_title_idx".into(),
            columns: vec!["title".into(), "size".into()],
            unique: true,
            where_clause: None,
        },
        Index {
            name: "docs_size_idx".into(),
            columns: vec!["size".into()],
            unique: false,
            where_clause: Some("size > 0".into()),
        },
    ];
    let report = db
        .migrate_table(&v2, &MigrationOptions::default())
        .await
        .unwrap();
    let sqls: Vec<String> = report
        .plan
        .statements()
        .into_iter()
        .map(|s| s.sql)
        .collect();
    assert_eq!(sqls, vec![
        "DROP INDEX IF EXISTS \"docs_title_idx\"".to_string(),
        "CREATE UNIQUE INDEX IF NOT EXISTS \"docs_title_idx\" ON \"docs\" (\"title\", \"size\")".to_string(),
        "CREATE INDEX IF NOT EXISTS \"docs_size_idx\" ON \"docs\" (\"size\") WHERE size > 0".to_string(),
    ]);
    let mut live = db.live_schema("docs").await.unwrap().unwrap();
    live.indexes.sort_by(|a, b| a.name.cmp(&b.name));
    v2.indexes.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(live.indexes, v2.indexes);

    let mut v3 = v1();
    v3.indexes.clear();
    let report = db
        .migrate_table(&v3, &MigrationOptions::default())
        .await
        .unwrap();
    assert_eq!(report.plan.steps.len(), 2);
    assert!(
        db.live_schema("docs")
            .await
            .unwrap()
            .unwrap()
            .indexes
            .is_empty()
    );
    assert_eq!(db.count_rows("docs").await.unwrap(), 20);
}

#[tokio::test]
async fn key_change_rebuild_keeps_every_row() {
    let db = D1Database::in_memory().unwrap();
    db.migrate_table(&v1(), &MigrationOptions::default())
        .await
        .unwrap();
    seed(&db, &v1(), 500).await;
    let before = rows(&db, "SELECT id, title, body, size FROM docs ORDER BY id").await;
    let mut v2 = v1();
    v2.primary_key = vec!["title".into(), "id".into()];
    let report = db
        .migrate_table(&v2, &MigrationOptions::default())
        .await
        .unwrap();
    assert!(report.plan.rebuild);
    assert_eq!(report.requests, 1);
    assert!(
        report.plan.steps[0]
            .description
            .contains("primary key changes")
    );
    let after = rows(&db, "SELECT id, title, body, size FROM docs ORDER BY id").await;
    assert_eq!(before, after);
    assert_eq!(db.live_schema("docs").await.unwrap().unwrap(), v2);
    // The rebuilt table enforces the new key.
    let err = db
        .execute(
            "INSERT INTO docs (id, title, size) VALUES (1, 'title 1', 0)",
            vec![],
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Api {
            code: Some(7500),
            ..
        }
    ));
}

#[tokio::test]
async fn type_change_rebuild_keeps_every_row_and_converts() {
    let db = D1Database::in_memory().unwrap();
    db.migrate_table(&v1(), &MigrationOptions::default())
        .await
        .unwrap();
    seed(&db, &v1(), 100).await;
    let mut v2 = v1();
    v2.columns[3].sql_type = SqlType::Text; // size INTEGER -> TEXT (exact)
    v2.columns[2].nullable = false; // body becomes NOT NULL ...
    v2.columns[2].default = Some(ColumnDefault::Value(Value::Text(String::new())));
    let err = db
        .migrate_table(&v2, &MigrationOptions::default())
        .await
        .unwrap_err();
    // ... which fails atomically while rows hold NULL there, changing nothing.
    assert!(
        matches!(&err, Error::Api { message, .. } if message.contains("NOT NULL")),
        "{err:?}"
    );
    assert_eq!(db.live_schema("docs").await.unwrap().unwrap(), v1());
    assert_eq!(db.count_rows("docs").await.unwrap(), 100);

    v2.columns[2].nullable = true;
    v2.columns[2].default = None;
    let report = db
        .migrate_table(&v2, &MigrationOptions::default())
        .await
        .unwrap();
    assert!(report.plan.rebuild);
    let after = rows(
        &db,
        "SELECT id, body, size, typeof(size) FROM docs WHERE id IN (3, 4) ORDER BY id",
    )
    .await;
    assert_eq!(
        after,
        vec![
            vec![
                Value::Integer(3),
                Value::Text("body 3".into()),
                Value::Text("30".into()),
                Value::Text("text".into())
            ],
            vec![
                Value::Integer(4),
                Value::Null,
                Value::Text("40".into()),
                Value::Text("text".into())
            ],
        ]
    );
    assert_eq!(db.count_rows("docs").await.unwrap(), 100);
    // The index came back after the rebuild.
    assert_eq!(db.live_schema("docs").await.unwrap().unwrap(), v2);
}

#[tokio::test]
async fn data_losing_changes_are_refused_unless_allowed() {
    let db = D1Database::in_memory().unwrap();
    db.migrate_table(&v1(), &MigrationOptions::default())
        .await
        .unwrap();
    seed(&db, &v1(), 10).await;

    // A NOT NULL column without default on a table with rows.
    let mut v2 = v1();
    v2.columns.push(Column::new("owner", SqlType::Text));
    match db.migrate_table(&v2, &MigrationOptions::default()).await {
        Err(Error::MigrationRefused { table, reason }) => {
            assert_eq!(table, "docs");
            assert!(
                reason.contains("`owner`") && reason.contains("allow_data_loss"),
                "{reason}"
            );
        }
        other => panic!("expected MigrationRefused, got {other:?}"),
    }
    // A dropped column.
    let mut v3 = v1();
    v3.columns.retain(|c| c.name != "body");
    assert!(matches!(
        db.migrate_table(&v3, &MigrationOptions::default()).await,
        Err(Error::MigrationRefused { reason, .. }) if reason.contains("`body`")
    ));
    // A lossy type change.
    let mut v4 = v1();
    v4.columns[1].sql_type = SqlType::Integer;
    assert!(matches!(
        db.migrate_table(&v4, &MigrationOptions::default()).await,
        Err(Error::MigrationRefused { reason, .. }) if reason.contains("`title`")
    ));
    // Nothing changed.
    assert_eq!(db.live_schema("docs").await.unwrap().unwrap(), v1());

    // Opting in: the column is dropped, other data kept.
    let report = db.migrate_table(&v3, &allowing_data_loss()).await.unwrap();
    assert!(report.plan.rebuild);
    assert_eq!(
        rows(&db, "SELECT COUNT(*), SUM(size) FROM docs").await,
        vec![vec![Value::Integer(10), Value::Integer(450)]]
    );
    // Opting in for the NOT NULL column fills existing rows with the zero value.
    let mut v5 = v3.clone();
    v5.columns.push(Column::new("owner", SqlType::Text));
    db.migrate_table(&v5, &allowing_data_loss()).await.unwrap();
    assert_eq!(
        rows(&db, "SELECT COUNT(*) FROM docs WHERE owner = ''").await,
        vec![vec![Value::Integer(10)]]
    );
}

#[tokio::test]
async fn refusals_do_not_apply_to_an_empty_table() {
    let db = D1Database::in_memory().unwrap();
    db.migrate_table(&v1(), &MigrationOptions::default())
        .await
        .unwrap();
    let mut v2 = v1();
    v2.columns.push(Column::new("owner", SqlType::Text));
    // The pure planner refuses ...
    let live = db.live_schema("docs").await.unwrap();
    assert!(matches!(
        plan_migration(live.as_ref(), &v2, &MigrationOptions::default()),
        Err(Error::MigrationRefused { .. })
    ));
    // ... but migrating an empty table loses nothing, so it goes ahead.
    db.migrate_table(&v2, &MigrationOptions::default())
        .await
        .unwrap();
    assert_eq!(db.live_schema("docs").await.unwrap().unwrap(), v2);
}

#[tokio::test]
async fn replaying_plans_is_safe() {
    let db = D1Database::in_memory().unwrap();
    // The create plan replays as a no-op.
    let create = plan_migration(None, &v1(), &MigrationOptions::default()).unwrap();
    for _ in 0..3 {
        db.request(create.statements()).await.unwrap();
    }
    seed(&db, &v1(), 30).await;
    // A rebuild plan replayed on the migrated table keeps every row.
    let mut v2 = v1();
    v2.primary_key = vec!["id".into(), "size".into()];
    v2.columns[3].sql_type = SqlType::Text;
    let plan = plan_migration(Some(&v1()), &v2, &MigrationOptions::default()).unwrap();
    let before = rows(
        &db,
        "SELECT id, title, body, CAST(size AS TEXT) FROM docs ORDER BY id",
    )
    .await;
    for _ in 0..2 {
        db.request(plan.statements()).await.unwrap();
    }
    let after = rows(&db, "SELECT id, title, body, size FROM docs ORDER BY id").await;
    assert_eq!(before, after);
    assert_eq!(db.live_schema("docs").await.unwrap().unwrap(), v2);
    // migrate_table re-plans from the live schema, so replaying it is always a no-op.
    let mut v3 = v2.clone();
    v3.columns
        .push(Column::new("extra", SqlType::Blob).nullable(true));
    db.migrate_table(&v3, &MigrationOptions::default())
        .await
        .unwrap();
    let again = db
        .migrate_table(&v3, &MigrationOptions::default())
        .await
        .unwrap();
    assert!(again.plan.is_empty());
    // Dropping twice is fine too.
    db.request(plan_drop(&v3).statements()).await.unwrap();
    db.request(plan_drop(&v3).statements()).await.unwrap();
    assert!(db.live_schema("docs").await.unwrap().is_none());
}

#[tokio::test]
async fn strict_and_without_rowid_changes_rebuild() {
    let db = D1Database::in_memory().unwrap();
    let mut loose = v1();
    loose.strict = false;
    db.migrate_table(&loose, &MigrationOptions::default())
        .await
        .unwrap();
    seed(&db, &loose, 25).await;
    let mut strict = v1();
    strict.without_rowid = true;
    let report = db
        .migrate_table(&strict, &MigrationOptions::default())
        .await
        .unwrap();
    assert!(report.plan.rebuild);
    assert_eq!(db.count_rows("docs").await.unwrap(), 25);
    let live = db.live_schema("docs").await.unwrap().unwrap();
    assert!(live.strict && live.without_rowid);
    let _ = Statement::raw("");
}

#[tokio::test]
async fn real_to_text_keeps_seventeen_digits() {
    let db = D1Database::in_memory().unwrap();
    let mut v1 = TableSchema::new("m");
    v1.columns = vec![
        Column::new("id", SqlType::Integer),
        Column::new("x", SqlType::Real),
    ];
    v1.primary_key = vec!["id".into()];
    db.migrate_table(&v1, &MigrationOptions::default())
        .await
        .unwrap();
    let values = [
        0.30000000000000004,
        0.1,
        1.0 / 3.0,
        9_007_199_254_740_992.0,
        1e21,
    ];
    db.write_rows(
        &v1,
        values
            .iter()
            .enumerate()
            .map(|(i, x)| vec![Value::Integer(i as i64), Value::Real(*x)])
            .collect(),
        vec![],
    )
    .await
    .unwrap();
    let mut v2 = v1.clone();
    v2.columns[1].sql_type = SqlType::Text;
    // Lossless, so no opt-in is needed.
    db.migrate_table(&v2, &MigrationOptions::default())
        .await
        .unwrap();
    let back = rows(&db, "SELECT x FROM m ORDER BY id").await;
    let texts: Vec<String> = back
        .into_iter()
        .map(|r| match &r[0] {
            Value::Text(t) => t.clone(),
            other => panic!("expected text, found {other:?}"),
        })
        .collect();
    assert_eq!(texts[0], "0.30000000000000004");
    assert_eq!(texts[1], "0.1");
    for (x, t) in values.iter().zip(&texts) {
        assert_eq!(
            t.parse::<f64>().unwrap().to_bits(),
            x.to_bits(),
            "{x:?} became {t:?}"
        );
    }
}

#[tokio::test]
async fn referenced_table_rebuild_is_refused_naming_the_referencing_table() {
    let db = D1Database::in_memory().unwrap();
    db.migrate_table(&v1(), &MigrationOptions::default())
        .await
        .unwrap();
    seed(&db, &v1(), 3).await;
    db.request(vec![
        Statement::raw(
            "CREATE TABLE notes (id INTEGER PRIMARY KEY, doc INTEGER REFERENCES docs (id) ON DELETE CASCADE)",
        ),
        Statement::raw("INSERT INTO notes VALUES (1, 0), (2, 2)"),
    ])
    .await
    .unwrap();
    let mut v2 = v1();
    v2.columns[1] = Column::new("title", SqlType::Text).nullable(true);
    for options in [
        MigrationOptions::default(),
        MigrationOptions::default()
            .with_allow_data_loss(true)
            .with_rebuild_referenced(true),
    ] {
        match db.migrate_table(&v2, &options).await {
            Err(Error::MigrationRefused { table, reason }) => {
                assert_eq!(table, "docs");
                assert!(
                    reason.contains("`notes` (doc) ON DELETE CASCADE"),
                    "{reason}"
                );
            }
            other => panic!("expected MigrationRefused, got {other:?}"),
        }
    }
    assert_eq!(
        rows(&db, "SELECT id, doc FROM notes ORDER BY id").await,
        vec![
            vec![Value::Integer(1), Value::Integer(0)],
            vec![Value::Integer(2), Value::Integer(2)],
        ]
    );
    assert_eq!(db.live_schema("docs").await.unwrap().unwrap(), v1());
}
