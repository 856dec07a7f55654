//! SQL strings the derive checks at compile time and the runtime's SQLite check accepts too:
//! a partial index and SQL defaults build a table SQLite creates, fills and uses.
#![deny(missing_docs, warnings)]

use thread_flow::D1Target;
use thread_flow::sql::ddl::{create_index, create_table};

/// A task; the partial index covers open tasks only.
#[derive(Clone, Debug, D1Target)]
#[d1(
    table = "tasks",
    index(owner, due, name = "tasks_open", where = "done = 0 AND \"owner\" IS NOT NULL"),
    unique(title, where = "length(title) > 0 AND tasks.priority BETWEEN 1 AND 5")
)]
pub struct Task {
    /// Key.
    #[d1(primary_key)]
    pub id: i64,
    /// Title.
    pub title: String,
    /// Owner.
    pub owner: Option<String>,
    /// Due date.
    #[d1(default_sql = "date('now', '+7 days')")]
    pub due: String,
    /// Done flag.
    #[d1(default_sql = "0")]
    pub done: i64,
    /// Priority.
    #[d1(rename = "priority", default_sql = "abs(-3)")]
    pub prio: i64,
}

fn main() {
    let schema = <Task as D1Target>::schema();
    // The runtime's own check (SQLite's parser) agrees with the compile-time one.
    if let Err(e) = schema.validate() {
        panic!("the runtime refuses what the derive accepted: {e}");
    }
    let db = rusqlite::Connection::open_in_memory().expect("open SQLite");
    db.execute_batch(&create_table(schema)).expect("create table");
    for ix in &schema.indexes {
        db.execute_batch(&create_index(schema, ix)).expect("create index");
    }
    db.execute_batch(
        "INSERT INTO tasks (id, title, owner) VALUES (1, 'write', 'ann');
         INSERT INTO tasks (id, title, owner, done) VALUES (2, 'read', 'bob', 1);",
    )
    .expect("insert");
    // Defaults filled in by SQLite.
    let (done, prio, due_ok): (i64, i64, bool) = db
        .query_row(
            "SELECT done, priority, due = date('now', '+7 days') FROM tasks WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("read defaults");
    assert_eq!((done, prio, due_ok), (0, 3, true));
    // Both indexes are partial, and the open-task index holds only the open task.
    let partial: Vec<(String, bool)> = db
        .prepare("SELECT name, partial FROM pragma_index_list('tasks') ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()
        })
        .expect("index list");
    assert_eq!(partial.len(), 2, "{partial:?}");
    assert!(partial.iter().all(|(_, p)| *p), "{partial:?}");
    let plan: String = db
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id FROM tasks \
             WHERE done = 0 AND owner IS NOT NULL AND owner = 'ann'",
            [],
            |r| r.get(3),
        )
        .expect("query plan");
    assert!(plan.contains("tasks_open"), "{plan}");
}
