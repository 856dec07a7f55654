//! Issue 10, part 4: migrations that must not lose data without `allow_data_loss`, run on the
//! embedded local D1 and on the real D1 engine (Miniflare 4 / workerd from `tests/d1-server`).
//!
//! - REAL -> TEXT keeps every digit a value needs to read back as the same number (SQLite's
//!   `CAST` keeps 15 significant digits: `0.30000000000000004` would become `0.3`).
//! - A rebuild of a table that other tables reference is refused, naming them; with
//!   `rebuild_referenced` it keeps the referencing rows (`NO ACTION` keys), while keys with an
//!   `ON DELETE CASCADE` action stay refused (the drop would delete their rows); the table's
//!   triggers and indexes survive the rebuild and the triggers still fire.
//! - A change allowed only because the table is empty is checked in the same request: a row
//!   written between the read and the change is never lost.
//!
//! The Miniflare tests need the npm packages (`npm ci` in tests/d1-server); without them they
//! fail with that instruction, they never skip.

use thread_flow::sql::plan_migration;
use thread_flow::{Column, D1Database, Error, Index, SqlType, TableSchema, Value};
use thread_flow::{MigrationOptions, Statement};
use thread_flow_suite::miniflare::LocalD1Server;

fn start() -> LocalD1Server {
    LocalD1Server::start().unwrap_or_else(|e| panic!("{e}"))
}

async fn rows(db: &D1Database, sql: &str) -> Vec<Vec<Value>> {
    db.request(vec![Statement::raw(sql)])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .results
        .remove(0)
        .rows
}

async fn run(db: &D1Database, statements: &[&str]) {
    db.request(statements.iter().map(|s| Statement::raw(*s)).collect())
        .await
        .unwrap_or_else(|e| panic!("{statements:?}: {e}"));
}

/// Migrates to `schema` with default options, which must succeed.
async fn migrate(db: &D1Database, schema: &TableSchema) {
    db.migrate_table(schema, &MigrationOptions::default())
        .await
        .unwrap();
}

/// Default options but `allow_data_loss`.
fn allowing_data_loss() -> MigrationOptions {
    MigrationOptions::default().with_allow_data_loss(true)
}

/// Default options but `rebuild_referenced`.
fn rebuild_referenced() -> MigrationOptions {
    MigrationOptions::default().with_rebuild_referenced(true)
}

/// The tables, indexes and triggers a migration made for itself (none may be left).
async fn leftovers(db: &D1Database) -> Vec<Vec<Value>> {
    rows(
        db,
        "SELECT name FROM sqlite_schema WHERE name LIKE '%thread_flow%'",
    )
    .await
}

/// Values whose shortest exact decimal form needs 16 or 17 significant digits, and a few that
/// need fewer (they must keep their short form).
const REALS: [f64; 10] = [
    0.30000000000000004,
    0.1,
    1.0 / 3.0,
    2.0 / 3.0,
    123_456_789.123_456_79,
    -2.225_073_858_507_201_4e-308,
    5e-324,
    1.797_693_134_862_315_7e308,
    9_007_199_254_740_993.0,
    2.5,
];

fn reals_v1() -> TableSchema {
    let mut t = TableSchema::new("measures");
    t.columns = vec![
        Column::new("id", SqlType::Integer),
        Column::new("x", SqlType::Real).nullable(true),
    ];
    t.primary_key = vec!["id".into()];
    t
}

/// REAL -> TEXT is planned as lossless and applied with default options: every value reads
/// back as the same `f64`, and values that need few digits keep their short form.
async fn real_to_text_keeps_every_digit(db: &D1Database) {
    let v1 = reals_v1();
    migrate(db, &v1).await;
    let mut seed: Vec<Vec<Value>> = REALS
        .iter()
        .enumerate()
        .map(|(i, x)| vec![Value::Integer(i as i64), Value::Real(*x)])
        .collect();
    seed.push(vec![Value::Integer(100), Value::Null]);
    db.write_rows(&v1, seed, vec![]).await.unwrap();

    let mut v2 = v1.clone();
    v2.columns[1] = Column::new("x", SqlType::Text).nullable(true);
    db.migrate_table(&v2, &MigrationOptions::default())
        .await
        .expect("REAL -> TEXT is lossless");
    let back = rows(db, "SELECT id, x FROM measures ORDER BY id").await;
    assert_eq!(back.len(), REALS.len() + 1);
    for (i, x) in REALS.iter().enumerate() {
        let Value::Text(text) = &back[i][1] else {
            panic!("row {i}: expected text, found {:?}", back[i][1]);
        };
        let parsed: f64 = text
            .parse()
            .unwrap_or_else(|e| panic!("row {i}: {text:?}: {e}"));
        assert_eq!(
            parsed.to_bits(),
            x.to_bits(),
            "row {i}: {x:?} became {text:?}"
        );
    }
    assert_eq!(back[0][1], Value::Text("0.30000000000000004".into()));
    assert_eq!(
        back[1][1],
        Value::Text("0.1".into()),
        "short forms stay short"
    );
    assert_eq!(back[9][1], Value::Text("2.5".into()));
    assert_eq!(back[REALS.len()][1], Value::Null);
}

fn authors_v1() -> TableSchema {
    let mut t = TableSchema::new("authors");
    t.columns = vec![
        Column::new("id", SqlType::Integer),
        Column::new("name", SqlType::Text),
        Column::new("score", SqlType::Real).nullable(true),
    ];
    t.primary_key = vec!["id".into()];
    t.indexes = vec![Index {
        name: "authors_by_name".into(),
        columns: vec!["name".into()],
        unique: false,
        where_clause: None,
    }];
    t
}

/// A change that needs a rebuild: `name` becomes nullable.
fn authors_v2() -> TableSchema {
    let mut t = authors_v1();
    t.columns[1] = Column::new("name", SqlType::Text).nullable(true);
    t
}

/// `authors` (ours) with 3 rows, an audit trigger, a `NO ACTION` child `reviews` and, when
/// `cascade`, an `ON DELETE CASCADE` child `books` (both made by someone else).
async fn authors_with_children(db: &D1Database, cascade: bool) {
    let v1 = authors_v1();
    migrate(db, &v1).await;
    let authors = (1..=3)
        .map(|i| {
            vec![
                Value::Integer(i),
                Value::Text(format!("author {i}")),
                Value::Real(i as f64 / 10.0),
            ]
        })
        .collect();
    db.write_rows(&v1, authors, vec![]).await.unwrap();
    let mut setup = vec![
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, author INTEGER NOT NULL)",
        "CREATE TRIGGER authors_audit AFTER INSERT ON authors BEGIN INSERT INTO audit (author) VALUES (NEW.id); END",
        "CREATE TABLE reviews (id INTEGER PRIMARY KEY, author INTEGER NOT NULL REFERENCES authors (id))",
        "INSERT INTO reviews VALUES (10, 1), (11, 2), (12, 2)",
    ];
    if cascade {
        setup.extend([
            "CREATE TABLE books (id INTEGER PRIMARY KEY, author INTEGER REFERENCES authors (id) ON DELETE CASCADE)",
            "INSERT INTO books VALUES (20, 1), (21, 3)",
        ]);
    }
    run(db, &setup).await;
}

async fn assert_untouched(db: &D1Database, cascade: bool) {
    assert_eq!(
        db.live_schema("authors").await.unwrap().unwrap(),
        authors_v1(),
        "the table was not changed"
    );
    assert_eq!(
        rows(db, "SELECT count(*) FROM authors").await,
        vec![vec![Value::Integer(3)]]
    );
    assert_eq!(
        rows(db, "SELECT id, author FROM reviews ORDER BY id").await,
        vec![
            vec![Value::Integer(10), Value::Integer(1)],
            vec![Value::Integer(11), Value::Integer(2)],
            vec![Value::Integer(12), Value::Integer(2)],
        ]
    );
    if cascade {
        assert_eq!(
            rows(db, "SELECT id, author FROM books ORDER BY id").await,
            vec![
                vec![Value::Integer(20), Value::Integer(1)],
                vec![Value::Integer(21), Value::Integer(3)],
            ],
            "the ON DELETE CASCADE child keeps its rows"
        );
    }
}

/// Migrates `authors` to [`authors_v2`] with `options`, which must be refused; the reason.
async fn refused_reason(db: &D1Database, options: &MigrationOptions) -> String {
    match db.migrate_table(&authors_v2(), options).await {
        Err(Error::MigrationRefused { table, reason }) => {
            assert_eq!(table, "authors");
            reason
        }
        other => panic!("expected MigrationRefused, got {other:?}"),
    }
}

/// A rebuild of a referenced table is refused by default, naming the referencing tables; a
/// CASCADE key is refused even with `rebuild_referenced`; nothing changes either way.
async fn referenced_rebuild_is_refused(db: &D1Database) {
    authors_with_children(db, true).await;
    let reason = refused_reason(db, &MigrationOptions::default()).await;
    assert!(
        reason.contains("`books` (author) ON DELETE CASCADE"),
        "{reason}"
    );
    assert!(reason.contains("other tables reference it"), "{reason}");
    assert_untouched(db, true).await;

    let opt_in = rebuild_referenced();
    let reason = refused_reason(db, &opt_in).await;
    assert!(
        reason.contains("`books` (author) ON DELETE CASCADE"),
        "{reason}"
    );
    assert!(!reason.contains("`reviews`"), "{reason}");
    assert_untouched(db, true).await;
    // allow_data_loss does not open that door either.
    let all = MigrationOptions::default()
        .with_allow_data_loss(true)
        .with_rebuild_referenced(true);
    refused_reason(db, &all).await;
    assert_untouched(db, true).await;

    // Without the CASCADE child, the NO ACTION child is named and the opt-in is offered.
    run(db, &["DROP TABLE books"]).await;
    let reason = refused_reason(db, &MigrationOptions::default()).await;
    assert!(
        reason.contains("`reviews` (author) ON DELETE NO ACTION"),
        "{reason}"
    );
    assert!(reason.contains("with_rebuild_referenced(true)"), "{reason}");
    assert_untouched(db, false).await;
}

/// With `rebuild_referenced`, a table referenced by `NO ACTION` keys is rebuilt: its rows, the
/// referencing rows, its index and its trigger (which still fires) all survive.
async fn referenced_rebuild_keeps_children_and_triggers(db: &D1Database) {
    authors_with_children(db, false).await;
    let opt_in = rebuild_referenced();
    let report = db.migrate_table(&authors_v2(), &opt_in).await.unwrap();
    assert!(report.plan.rebuild);
    assert_eq!(report.requests, 1);
    let described = report.plan.descriptions().join("\n");
    assert!(
        described.contains("recreate trigger `authors_audit`"),
        "{described}"
    );
    let live = db.live_schema("authors").await.unwrap().unwrap();
    assert_eq!(live, authors_v2(), "new schema, index kept");
    assert_eq!(
        rows(db, "SELECT id, name, score FROM authors ORDER BY id").await,
        (1..=3)
            .map(|i| vec![
                Value::Integer(i),
                Value::Text(format!("author {i}")),
                Value::Real(i as f64 / 10.0)
            ])
            .collect::<Vec<_>>()
    );
    assert_eq!(
        rows(db, "SELECT id, author FROM reviews ORDER BY id").await,
        vec![
            vec![Value::Integer(10), Value::Integer(1)],
            vec![Value::Integer(11), Value::Integer(2)],
            vec![Value::Integer(12), Value::Integer(2)],
        ],
        "the referencing rows survive"
    );
    // The foreign key still points at the rebuilt table and is enforced.
    let orphan = db
        .request(vec![Statement::raw("INSERT INTO reviews VALUES (13, 99)")])
        .await
        .unwrap_err();
    assert!(
        orphan.to_string().contains("FOREIGN KEY constraint failed"),
        "{orphan}"
    );
    // The trigger was recreated and fires.
    assert_eq!(
        rows(db, "SELECT name FROM sqlite_schema WHERE type = 'trigger'").await,
        vec![vec![Value::Text("authors_audit".into())]]
    );
    run(db, &["INSERT INTO authors (id, name) VALUES (4, NULL)"]).await;
    assert_eq!(
        rows(db, "SELECT author FROM audit ORDER BY id").await,
        vec![vec![Value::Integer(4)]],
        "the trigger fires after the rebuild"
    );
    // Nothing left to do, no leftover table.
    assert!(
        db.plan_table(&authors_v2(), &opt_in)
            .await
            .unwrap()
            .is_empty()
    );
    let names = leftovers(db).await;
    assert!(names.is_empty(), "{names:?}");
}

/// A rebuild of a table nobody references keeps its trigger, with default options.
async fn rebuild_keeps_triggers(db: &D1Database) {
    let v1 = reals_v1();
    migrate(db, &v1).await;
    run(
        db,
        &[
            "CREATE TABLE log (id INTEGER PRIMARY KEY, what TEXT NOT NULL)",
            "CREATE TRIGGER measures_log AFTER UPDATE ON measures BEGIN INSERT INTO log (what) VALUES ('updated ' || NEW.id); END",
            "INSERT INTO measures VALUES (1, 0.5)",
        ],
    )
    .await;
    let mut v2 = v1.clone();
    v2.columns[1] = Column::new("x", SqlType::Text).nullable(true);
    migrate(db, &v2).await;
    run(db, &["UPDATE measures SET x = 'y' WHERE id = 1"]).await;
    assert_eq!(
        rows(db, "SELECT what FROM log").await,
        vec![vec![Value::Text("updated 1".into())]]
    );
}

/// A rebuild of a table that a view reads (and another table's trigger writes to) succeeds:
/// SQLite refuses to rename a table while a view names a missing one, so the rows are copied
/// back instead. The view and the trigger work afterwards.
async fn rebuild_with_a_view_and_a_foreign_trigger(db: &D1Database) {
    let v1 = reals_v1();
    migrate(db, &v1).await;
    run(
        db,
        &[
            "INSERT INTO measures VALUES (1, 0.5), (2, 1.5)",
            "CREATE VIEW big_measures AS SELECT id, x FROM measures WHERE x > 1",
            "CREATE TABLE inbox (id INTEGER PRIMARY KEY, x REAL)",
            "CREATE TRIGGER inbox_to_measures AFTER INSERT ON inbox BEGIN INSERT INTO measures VALUES (NEW.id, NEW.x); END",
        ],
    )
    .await;
    let mut v2 = v1.clone();
    v2.columns[1] = Column::new("x", SqlType::Real);
    v2.columns[1].default = Some(thread_flow::ColumnDefault::Value(Value::Real(0.0)));
    let report = db.migrate_table(&v2, &allowing_data_loss()).await.unwrap();
    assert!(report.plan.rebuild);
    assert_eq!(db.live_schema("measures").await.unwrap().unwrap(), v2);
    run(db, &["INSERT INTO inbox VALUES (3, 2.5)"]).await;
    assert_eq!(
        rows(db, "SELECT id, x FROM big_measures ORDER BY id").await,
        vec![
            vec![Value::Integer(2), Value::Real(1.5)],
            vec![Value::Integer(3), Value::Real(2.5)],
        ]
    );
}

fn docs_v1() -> TableSchema {
    let mut t = TableSchema::new("docs");
    t.columns = vec![
        Column::new("id", SqlType::Integer),
        Column::new("body", SqlType::Text).nullable(true),
    ];
    t.primary_key = vec!["id".into()];
    t
}

/// `body` is dropped: refused while the table has rows, allowed when it is empty.
fn docs_v2() -> TableSchema {
    let mut t = docs_v1();
    t.columns.pop();
    t
}

/// The "table is empty" allowance is checked in the migration's own request: a row written
/// between the plan (which read the table as empty) and the change is not lost.
async fn empty_table_allowance_is_checked_atomically(db: &D1Database) {
    migrate(db, &docs_v1()).await;
    let plan = db
        .plan_table(&docs_v2(), &MigrationOptions::default())
        .await
        .expect("allowed: the table is empty");
    assert!(plan.requires_empty_table);
    assert!(
        plan_migration(Some(&docs_v1()), &docs_v2(), &MigrationOptions::default()).is_err(),
        "the same change is refused for a table with rows"
    );

    // Someone writes between the plan and the change.
    db.write_rows(
        &docs_v1(),
        vec![vec![Value::Integer(1), Value::Text("keep me".into())]],
        vec![],
    )
    .await
    .unwrap();
    match db.apply_migration("docs", plan).await {
        Err(Error::MigrationRefused { table, reason }) => {
            assert_eq!(table, "docs");
            assert!(reason.contains("holds rows again"), "{reason}");
        }
        other => panic!("expected MigrationRefused, got {other:?}"),
    }
    assert_eq!(
        rows(db, "SELECT id, body FROM docs").await,
        vec![vec![Value::Integer(1), Value::Text("keep me".into())]],
        "the row written in between is intact"
    );
    assert_eq!(db.live_schema("docs").await.unwrap().unwrap(), docs_v1());
    let names = leftovers(db).await;
    assert!(names.is_empty(), "no guard table left: {names:?}");

    // Migrating again re-plans from the row: refused without allow_data_loss.
    assert!(matches!(
        db.migrate_table(&docs_v2(), &MigrationOptions::default())
            .await,
        Err(Error::MigrationRefused { .. })
    ));
    // Once empty again, the guarded plan applies.
    run(db, &["DELETE FROM docs"]).await;
    let report = db
        .migrate_table(&docs_v2(), &MigrationOptions::default())
        .await
        .unwrap();
    assert!(report.plan.requires_empty_table);
    assert_eq!(db.live_schema("docs").await.unwrap().unwrap(), docs_v2());
}

// ---- each scenario on the embedded local D1 and on the real D1 engine (Miniflare) ---------

/// For each `scenario: local_test, d1_test;`, a test running the scenario on an in-memory
/// local D1 and one running it on a Miniflare server of its own.
macro_rules! on_local_and_d1 {
    ($($scenario:ident: $local:ident, $d1:ident;)*) => {$(
        #[tokio::test]
        async fn $local() {
            $scenario(&D1Database::in_memory().unwrap()).await;
        }

        #[tokio::test]
        async fn $d1() {
            let server = start();
            $scenario(&server.database().unwrap()).await;
        }
    )*};
}

on_local_and_d1! {
    real_to_text_keeps_every_digit:
        local_real_to_text_keeps_every_digit,
        d1_real_to_text_keeps_every_digit;
    referenced_rebuild_is_refused:
        local_referenced_rebuild_is_refused,
        d1_referenced_rebuild_is_refused;
    referenced_rebuild_keeps_children_and_triggers:
        local_referenced_rebuild_keeps_children_and_triggers,
        d1_referenced_rebuild_keeps_children_and_triggers;
    rebuild_keeps_triggers:
        local_rebuild_keeps_triggers,
        d1_rebuild_keeps_triggers;
    rebuild_with_a_view_and_a_foreign_trigger:
        local_rebuild_with_a_view_and_a_foreign_trigger,
        d1_rebuild_with_a_view_and_a_foreign_trigger;
    empty_table_allowance_is_checked_atomically:
        local_empty_table_allowance_is_checked_atomically,
        d1_empty_table_allowance_is_checked_atomically;
}
