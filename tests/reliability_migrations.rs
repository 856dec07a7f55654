//! Issue 7, part 6: crash safety of migrations. A table rebuild (key change, type change) is
//! one request = one transaction: failing it at every statement in turn leaves the database
//! exactly as it was (same `sqlite_schema`, same rows, no leftover temporary table); the
//! unbroken plan then gives the new table with every row. Run on the local transport (a
//! failing statement inserted at position i) and over HTTP against the fake D1 (statement i
//! of the request fails on the server). Also: a rebuild or an `ALTER TABLE ADD COLUMN` whose
//! response is lost after the commit is retried by the transport and still ends as one
//! applied migration.

use std::time::Duration;

use thread_flow::{Column, D1Database, Error, Index, SqlType, TableSchema, Value};
use thread_flow::{MigrationOptions, MigrationPlan, Statement};
use thread_flow_suite::fake_d1::{FakeD1, Fault, FaultPlan};

const TABLE: &str = "crash \"test\".v1";
const ROWS: i64 = 300;

fn v1() -> TableSchema {
    let mut t = TableSchema::new(TABLE);
    t.columns = vec![
        Column::new("id", SqlType::Integer),
        Column::new("name", SqlType::Text),
        Column::new("score", SqlType::Real).nullable(true),
        Column::new("data", SqlType::Blob),
        Column::new("big", SqlType::Integer),
    ];
    t.primary_key = vec!["id".into()];
    t.indexes = vec![Index {
        name: "crash by name".into(),
        columns: vec!["name".into()],
        unique: false,
        where_clause: None,
    }];
    t
}

/// Key change: `(id)` -> `(name, id)`, plus a new index.
fn v2_key() -> TableSchema {
    let mut t = v1();
    t.primary_key = vec!["name".into(), "id".into()];
    t.indexes.push(Index {
        name: "crash by score".into(),
        columns: vec!["score".into()],
        unique: false,
        where_clause: Some("\"score\" IS NOT NULL".into()),
    });
    t
}

/// Type change: `score` REAL -> TEXT, `big` INTEGER -> TEXT (exact conversions).
fn v2_type() -> TableSchema {
    let mut t = v1();
    t.columns[2].sql_type = SqlType::Text;
    t.columns[4].sql_type = SqlType::Text;
    t
}

fn row(i: i64) -> Vec<Value> {
    let big = match i % 4 {
        0 => i64::MAX - i,
        1 => i64::MIN + i,
        2 => (1 << 53) + i,
        _ => -i,
    };
    vec![
        Value::Integer(i),
        Value::Text(format!("name {} ✓ é\u{301} 🦀 '\"; --", i % 37)),
        if i % 5 == 0 {
            Value::Null
        } else {
            Value::Real(i as f64 / 7.0)
        },
        Value::Blob((0..(i % 17)).map(|b| (b * 13 + i) as u8).collect()),
        Value::Integer(big),
    ]
}

/// A database under test: its handle and how to read its storage exactly.
enum Db {
    Local(D1Database),
    Fake(FakeD1, D1Database),
}

impl Db {
    fn db(&self) -> &D1Database {
        match self {
            Db::Local(db) | Db::Fake(_, db) => db,
        }
    }

    /// Rows of `sql`, exact (straight from SQLite for the fake).
    async fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        match self {
            Db::Local(db) => db.execute(sql, vec![]).await.unwrap().rows,
            Db::Fake(fake, _) => fake.query(sql),
        }
    }

    /// Everything that defines the database: every schema object and every row of the table.
    async fn snapshot(&self) -> (Vec<Vec<Value>>, Vec<Vec<Value>>) {
        let schema = self
            .query("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name")
            .await;
        let rows = self
            .query(&format!(
                "SELECT * FROM {} ORDER BY \"id\"",
                thread_flow::sql::quote_ident(TABLE)
            ))
            .await;
        (schema, rows)
    }
}

async fn seeded(db: Db) -> Db {
    db.db()
        .migrate_table(&v1(), &MigrationOptions::default())
        .await
        .unwrap();
    db.db()
        .write_rows(&v1(), (0..ROWS).map(row).collect(), vec![])
        .await
        .unwrap();
    db
}

/// The rows the rebuilt table must hold, computed by the engine from the old table.
async fn expected_after(db: &Db, to: &TableSchema) -> Vec<Vec<Value>> {
    let cols: Vec<String> = to
        .columns
        .iter()
        .map(|c| {
            let q = thread_flow::sql::quote_ident(&c.name);
            if v1().column(&c.name).is_none() {
                // An added column: its default (NULL when it has none).
                return match &c.default {
                    Some(thread_flow::ColumnDefault::Value(v)) => thread_flow::sql::literal(v),
                    _ => "NULL".into(),
                };
            }
            match (v1().column(&c.name).map(|old| old.sql_type), c.sql_type) {
                // REAL -> TEXT keeps every digit (issue 10): compared as numbers by
                // `same_rows`, so the expectation keeps the REAL itself.
                (Some(SqlType::Real), SqlType::Text) => q,
                (_, SqlType::Text) => format!("CAST({q} AS TEXT)"),
                _ => q,
            }
        })
        .collect();
    db.query(&format!(
        "SELECT {} FROM {} ORDER BY \"id\"",
        cols.join(", "),
        thread_flow::sql::quote_ident(TABLE)
    ))
    .await
}

/// `rows` (read back) equal `want`, where a REAL expected in a column that became TEXT must
/// be text that parses back to exactly that number (`CAST` would keep 15 digits only).
fn same_rows(rows: &[Vec<Value>], want: &[Vec<Value>], label: &str) {
    assert_eq!(rows.len(), want.len(), "{label}: row count");
    for (got, want) in rows.iter().zip(want) {
        let got: Vec<Value> = got
            .iter()
            .zip(want)
            .map(|(g, w)| match (g, w) {
                (Value::Text(t), Value::Real(r)) => match t.parse::<f64>() {
                    Ok(p) if p.to_bits() == r.to_bits() => Value::Real(*r),
                    _ => g.clone(),
                },
                _ => g.clone(),
            })
            .collect();
        assert_eq!(&got, want, "{label}: the new table holds every row");
    }
}

/// The schema with its indexes in name order (the live schema lists them in SQLite's order).
fn sorted(mut t: TableSchema) -> TableSchema {
    t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
    t
}

fn no_leftover(schema: &[Vec<Value>]) {
    for object in schema {
        let name = format!("{:?}", object[1]);
        assert!(!name.contains("rebuild"), "leftover object {name}");
    }
}

/// Fails the rebuild at each statement in turn, then applies it whole.
async fn rebuild_fails_atomically_at_every_statement(db: Db, to: TableSchema, label: &str) {
    let before = db.snapshot().await;
    assert_eq!(before.1.len(), ROWS as usize);
    no_leftover(&before.0);
    let plan: MigrationPlan = db
        .db()
        .plan_table(&to, &MigrationOptions::default())
        .await
        .unwrap();
    assert!(plan.rebuild, "{label}: a rebuild plan");
    let statements = plan.statements();
    let n = statements.len();
    assert!(n >= 5, "{label}: {n} statements");
    // Local: a failing statement at position i (i = n: after the last, just before COMMIT).
    // Fake: statement i of the request fails on the server.
    let positions: Vec<usize> = match &db {
        Db::Local(_) => (0..=n).collect(),
        Db::Fake(..) => (0..n).collect(),
    };
    for &i in &positions {
        let err = match &db {
            Db::Local(d) => {
                let mut broken = statements.clone();
                broken.insert(
                    i,
                    Statement::raw("SELECT json('not json: injected failure')"),
                );
                d.request(broken).await.unwrap_err()
            }
            Db::Fake(fake, d) => {
                fake.set_faults(FaultPlan::script([Some(Fault::FailAtStatement {
                    index: i,
                })]));
                let e = d.apply_migration(TABLE, plan.clone()).await.unwrap_err();
                fake.set_faults(FaultPlan::None);
                e
            }
        };
        match &err {
            Error::Api {
                code: Some(7500),
                attempts: 1,
                ..
            } => {}
            other => panic!("{label}, failure at statement {i}: unexpected {other:?}"),
        }
        let after = db.snapshot().await;
        assert_eq!(
            after, before,
            "{label}: failing at statement {i} of {n} left the old table untouched"
        );
        println!("{label}: failure at statement {i}/{n} -> old table intact ({ROWS} rows)");
    }
    let want = expected_after(&db, &to).await;
    let report = db
        .db()
        .migrate_table(&to, &MigrationOptions::default())
        .await
        .unwrap();
    assert!(report.plan.rebuild);
    assert_eq!(report.requests, 1, "{label}: the rebuild is one request");
    assert_eq!(
        sorted(db.db().live_schema(TABLE).await.unwrap().unwrap()),
        sorted(to.clone())
    );
    let (schema, rows) = db.snapshot().await;
    no_leftover(&schema);
    same_rows(&rows, &want, label);
    println!("{label}: unbroken plan -> new table with all {ROWS} rows");
}

#[tokio::test]
async fn local_key_change_rebuild_is_all_or_nothing() {
    let db = seeded(Db::Local(D1Database::in_memory().unwrap())).await;
    rebuild_fails_atomically_at_every_statement(db, v2_key(), "local key change").await;
}

#[tokio::test]
async fn local_type_change_rebuild_is_all_or_nothing() {
    let db = seeded(Db::Local(D1Database::in_memory().unwrap())).await;
    rebuild_fails_atomically_at_every_statement(db, v2_type(), "local type change").await;
}

fn fake_db() -> Db {
    let fake = FakeD1::start();
    let db = fake.database();
    Db::Fake(fake, db)
}

#[tokio::test]
async fn http_key_change_rebuild_is_all_or_nothing() {
    let db = seeded(fake_db()).await;
    rebuild_fails_atomically_at_every_statement(db, v2_key(), "http key change").await;
}

#[tokio::test]
async fn http_type_change_rebuild_is_all_or_nothing() {
    let db = seeded(fake_db()).await;
    rebuild_fails_atomically_at_every_statement(db, v2_type(), "http type change").await;
}

/// The migration request commits, its response is lost (or comes too late), the transport
/// retries it on the already-migrated table: the call must still succeed with the new table.
async fn lost_response_after_commit(to: TableSchema, fault: Fault, label: &str) {
    let db = seeded(fake_db()).await;
    let Db::Fake(fake, _) = &db else {
        unreachable!()
    };
    let client = D1Database::http_with(
        fake.http_config()
            .with_request_timeout(Duration::from_millis(400)),
    )
    .unwrap();
    let want = expected_after(&db, &to).await;
    let plan = client
        .plan_table(&to, &MigrationOptions::default())
        .await
        .unwrap();
    assert!(!plan.is_empty());
    // The migration reads the live table first (two requests: table, then its indexes), then
    // sends the plan: the third request is the one whose response is lost.
    fake.set_faults(FaultPlan::script([None, None, Some(fault.clone())]));
    let report = client
        .migrate_table(&to, &MigrationOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    fake.set_faults(FaultPlan::None);
    assert_eq!(report.plan, plan);
    assert_eq!(report.requests, 1);
    let first_sql = serde_json::Value::String(plan.statements()[0].sql.clone());
    let carrying: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.body["batch"][0]["sql"] == first_sql)
        .collect();
    assert_eq!(
        carrying.len(),
        2,
        "{label}: the plan was sent, lost, and sent again"
    );
    assert_eq!(carrying[0].fault.as_ref(), Some(&fault), "{label}");
    assert_eq!(
        sorted(client.live_schema(TABLE).await.unwrap().unwrap()),
        sorted(to.clone())
    );
    let (schema, rows) = db.snapshot().await;
    no_leftover(&schema);
    same_rows(&rows, &want, label);
    assert!(
        client
            .plan_table(&to, &MigrationOptions::default())
            .await
            .unwrap()
            .is_empty(),
        "{label}: nothing left to do"
    );
    println!("{label}: response lost after commit -> retried, new table with all rows");
}

#[tokio::test]
async fn rebuild_whose_response_is_lost_is_retried_safely() {
    lost_response_after_commit(v2_key(), Fault::ResetAfterCommit, "key change, reset").await;
    lost_response_after_commit(
        v2_type(),
        Fault::SlowResponse {
            delay: Duration::from_millis(900),
        },
        "type change, slow response",
    )
    .await;
}

#[tokio::test]
async fn added_column_whose_response_is_lost_is_retried_safely() {
    let mut to = v1();
    to.columns
        .push(Column::new("note", SqlType::Text).nullable(true));
    to.columns.push(
        Column::new("weight", SqlType::Integer)
            .with_default(thread_flow::ColumnDefault::Value(Value::Integer(7))),
    );
    to.indexes.push(Index {
        name: "crash by weight".into(),
        columns: vec!["weight".into()],
        unique: false,
        where_clause: None,
    });
    lost_response_after_commit(to, Fault::ResetAfterCommit, "add columns, reset").await;
}
