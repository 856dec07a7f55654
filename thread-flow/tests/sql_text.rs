//! SQL text snapshots: DDL, upserts, deletes, selects, including hostile identifiers.

use thread_flow::sql::{self, Encoding, ddl, select, write};
use thread_flow::{Column, ColumnDefault, Index, SqlType, Statement, TableSchema, Value};

/// One multi-row upsert of `rows` (values in column order), as the planner builds each of its
/// statements.
fn upsert(schema: &TableSchema, rows: Vec<Vec<Value>>, encoding: Encoding) -> Statement {
    write::upsert_shape(schema).statement(rows.into_iter().flatten().collect(), encoding)
}

/// One multi-key delete of `keys` (values in key order), as the planner builds it.
fn delete(schema: &TableSchema, keys: Vec<Vec<Value>>, encoding: Encoding) -> Statement {
    write::delete_shape(schema).statement(keys.into_iter().flatten().collect(), encoding)
}

fn users() -> TableSchema {
    let mut t = TableSchema::new("users");
    t.columns = vec![
        Column::new("id", SqlType::Integer),
        Column::new("name", SqlType::Text),
        Column::new("score", SqlType::Real).nullable(true),
        Column::new("avatar", SqlType::Blob).nullable(true),
    ];
    t.primary_key = vec!["id".into()];
    t
}

/// Identifiers that break naive SQL: a keyword, quotes, spaces, dots, unicode.
fn hostile() -> TableSchema {
    let mut t = TableSchema::new("order \"items\".v2");
    t.columns = vec![
        Column::new("select", SqlType::Text),
        Column::new("a\"b", SqlType::Integer),
        Column::new("naïve col", SqlType::Text).nullable(true),
        Column::new("x.y", SqlType::Blob).nullable(true),
    ];
    t.primary_key = vec!["select".into(), "a\"b".into()];
    t.indexes = vec![Index {
        name: "idx \"weird\"".into(),
        columns: vec!["naïve col".into(), "x.y".into()],
        unique: true,
        where_clause: Some("\"naïve col\" IS NOT NULL".into()),
    }];
    t
}

#[test]
fn quote_ident_doubles_quotes() {
    assert_eq!(sql::quote_ident("order"), "\"order\"");
    assert_eq!(sql::quote_ident("a\"b"), "\"a\"\"b\"");
    assert_eq!(sql::quote_ident("with space.dot"), "\"with space.dot\"");
    assert_eq!(sql::quote_ident("日本"), "\"日本\"");
    assert_eq!(sql::quote_ident(""), "\"\"");
}

#[test]
fn create_table_strict_with_key_and_defaults() {
    let mut t = users();
    t.columns.push(
        Column::new("n", SqlType::Integer).with_default(ColumnDefault::Value(Value::Integer(-3))),
    );
    t.columns.push(
        Column::new("label", SqlType::Text)
            .with_default(ColumnDefault::Value(Value::Text("it's".into()))),
    );
    t.columns.push(
        Column::new("ratio", SqlType::Real).with_default(ColumnDefault::Value(Value::Real(1.0))),
    );
    t.columns.push(
        Column::new("raw", SqlType::Blob)
            .with_default(ColumnDefault::Value(Value::Blob(vec![0, 255]))),
    );
    t.columns.push(
        Column::new("at", SqlType::Text)
            .with_default(ColumnDefault::Sql("CURRENT_TIMESTAMP".into())),
    );
    t.columns.push(
        Column::new("up", SqlType::Text).with_default(ColumnDefault::Sql("lower('A')".into())),
    );
    assert_eq!(
        ddl::create_table(&t),
        "CREATE TABLE IF NOT EXISTS \"users\" (\"id\" INTEGER NOT NULL, \"name\" TEXT NOT NULL, \
         \"score\" REAL, \"avatar\" BLOB, \"n\" INTEGER NOT NULL DEFAULT -3, \
         \"label\" TEXT NOT NULL DEFAULT 'it''s', \"ratio\" REAL NOT NULL DEFAULT 1.0, \
         \"raw\" BLOB NOT NULL DEFAULT X'00FF', \"at\" TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         \"up\" TEXT NOT NULL DEFAULT (lower('A')), PRIMARY KEY (\"id\")) STRICT"
    );
}

#[test]
fn create_table_without_rowid_and_not_strict() {
    let mut t = users();
    t.without_rowid = true;
    assert!(ddl::create_table(&t).ends_with("PRIMARY KEY (\"id\")) STRICT, WITHOUT ROWID"));
    t.strict = false;
    assert!(ddl::create_table(&t).ends_with("PRIMARY KEY (\"id\")) WITHOUT ROWID"));
    t.without_rowid = false;
    assert!(ddl::create_table(&t).ends_with("PRIMARY KEY (\"id\"))"));
}

#[test]
fn hostile_identifiers_in_ddl() {
    let t = hostile();
    assert_eq!(
        ddl::create_table(&t),
        "CREATE TABLE IF NOT EXISTS \"order \"\"items\"\".v2\" (\"select\" TEXT NOT NULL, \
         \"a\"\"b\" INTEGER NOT NULL, \"naïve col\" TEXT, \"x.y\" BLOB, \
         PRIMARY KEY (\"select\", \"a\"\"b\")) STRICT"
    );
    assert_eq!(
        ddl::create_index(&t, &t.indexes[0]),
        "CREATE UNIQUE INDEX IF NOT EXISTS \"idx \"\"weird\"\"\" ON \"order \"\"items\"\".v2\" \
         (\"naïve col\", \"x.y\") WHERE \"naïve col\" IS NOT NULL"
    );
    assert_eq!(
        ddl::drop_index("idx \"weird\""),
        "DROP INDEX IF EXISTS \"idx \"\"weird\"\"\""
    );
    assert_eq!(
        ddl::drop_table("order \"items\".v2"),
        "DROP TABLE IF EXISTS \"order \"\"items\"\".v2\""
    );
}

#[test]
fn plain_index() {
    let t = users();
    let ix = Index {
        name: "users_name_idx".into(),
        columns: vec!["name".into()],
        unique: false,
        where_clause: None,
    };
    assert_eq!(
        ddl::create_index(&t, &ix),
        "CREATE INDEX IF NOT EXISTS \"users_name_idx\" ON \"users\" (\"name\")"
    );
}

#[test]
fn multi_row_upsert() {
    let rows = vec![
        vec![
            Value::Integer(1),
            Value::Text("a".into()),
            Value::Null,
            Value::Null,
        ],
        vec![
            Value::Integer(2),
            Value::Text("b".into()),
            Value::Real(0.5),
            Value::Blob(vec![1]),
        ],
    ];
    let s = upsert(&users(), rows, Encoding::Native);
    assert_eq!(
        s.sql,
        "INSERT INTO \"users\" (\"id\", \"name\", \"score\", \"avatar\") VALUES (?,?,?,?),(?,?,?,?) \
         ON CONFLICT (\"id\") DO UPDATE SET \"name\" = excluded.\"name\", \
         \"score\" = excluded.\"score\", \"avatar\" = excluded.\"avatar\""
    );
    assert_eq!(s.params.len(), 8);
    assert_eq!(s.params[7], Value::Blob(vec![1]));
}

#[test]
fn key_only_table_upserts_do_nothing() {
    let mut t = TableSchema::new("tags");
    t.columns = vec![
        Column::new("a", SqlType::Text),
        Column::new("b", SqlType::Integer),
    ];
    t.primary_key = vec!["a".into(), "b".into()];
    let s = upsert(
        &t,
        vec![vec![Value::Text("x".into()), Value::Integer(1)]],
        Encoding::Native,
    );
    assert_eq!(
        s.sql,
        "INSERT INTO \"tags\" (\"a\", \"b\") VALUES (?,?) ON CONFLICT (\"a\", \"b\") DO NOTHING"
    );
}

#[test]
fn hostile_upsert_and_delete() {
    let t = hostile();
    let s = upsert(
        &t,
        vec![vec![
            Value::Text("k".into()),
            Value::Integer(1),
            Value::Null,
            Value::Null,
        ]],
        Encoding::Native,
    );
    assert_eq!(
        s.sql,
        "INSERT INTO \"order \"\"items\"\".v2\" (\"select\", \"a\"\"b\", \"naïve col\", \"x.y\") VALUES (?,?,?,?) \
         ON CONFLICT (\"select\", \"a\"\"b\") DO UPDATE SET \"naïve col\" = excluded.\"naïve col\", \
         \"x.y\" = excluded.\"x.y\""
    );
    let d = delete(
        &t,
        vec![
            vec![Value::Text("k".into()), Value::Integer(1)],
            vec![Value::Text("j".into()), Value::Integer(2)],
        ],
        Encoding::Native,
    );
    assert_eq!(
        d.sql,
        "DELETE FROM \"order \"\"items\"\".v2\" WHERE (\"select\", \"a\"\"b\") IN (VALUES (?,?),(?,?))"
    );
    assert_eq!(d.params.len(), 4);
}

#[test]
fn single_key_delete() {
    let d = delete(
        &users(),
        vec![vec![Value::Integer(1)], vec![Value::Integer(2)]],
        Encoding::Native,
    );
    assert_eq!(d.sql, "DELETE FROM \"users\" WHERE \"id\" IN (?,?)");
}

#[test]
fn json_encoding_big_integers_and_blobs() {
    let big = (1i64 << 53) + 1;
    let rows = vec![vec![
        Value::Integer(big),
        Value::Text("a".into()),
        Value::Integer(3),
        Value::Blob(vec![0xde, 0xad]),
    ]];
    let s = upsert(&users(), rows, Encoding::Json);
    assert!(
        s.sql.contains("VALUES (CAST(? AS INTEGER),?,?,unhex(?))"),
        "{}",
        s.sql
    );
    assert_eq!(
        s.params,
        vec![
            Value::Text(big.to_string()),
            Value::Text("a".into()),
            Value::Integer(3),
            Value::Text("DEAD".into())
        ]
    );
    // Within ±(2^53-1) integers stay plain numbers.
    let safe = (1i64 << 53) - 1;
    let s = delete(
        &users(),
        vec![vec![Value::Integer(safe)], vec![Value::Integer(-big)]],
        Encoding::Json,
    );
    assert_eq!(
        s.sql,
        "DELETE FROM \"users\" WHERE \"id\" IN (?,CAST(? AS INTEGER))"
    );
    assert_eq!(
        s.params,
        vec![Value::Integer(safe), Value::Text((-big).to_string())]
    );
    // Native encoding never rewrites.
    let s = delete(&users(), vec![vec![Value::Integer(big)]], Encoding::Native);
    assert_eq!(s.sql, "DELETE FROM \"users\" WHERE \"id\" IN (?)");
    assert_eq!(s.params, vec![Value::Integer(big)]);
}

#[test]
fn selects() {
    let t = users();
    assert_eq!(
        select::count_table(&t.name).sql,
        "SELECT COUNT(*) FROM \"users\""
    );
    let g = select::get_by_key(&t, vec![Value::Integer(7)], Encoding::Native);
    assert_eq!(
        g.sql,
        "SELECT \"id\", \"name\", \"score\", \"avatar\" FROM \"users\" WHERE \"id\" = ?"
    );
    let g = select::get_by_key(&t, vec![Value::Integer(7)], Encoding::Json);
    assert_eq!(
        g.sql,
        "SELECT CAST(\"id\" AS TEXT) AS \"id\", \"name\", \"score\", \
         CASE WHEN \"avatar\" IS NULL THEN NULL ELSE hex(\"avatar\") END AS \"avatar\" \
         FROM \"users\" WHERE \"id\" = ?"
    );
    let all = select::select_all(&hostile(), Encoding::Native);
    assert_eq!(
        all.sql,
        "SELECT \"select\", \"a\"\"b\", \"naïve col\", \"x.y\" FROM \"order \"\"items\"\".v2\" \
         ORDER BY \"order \"\"items\"\".v2\".\"select\", \"order \"\"items\"\".v2\".\"a\"\"b\""
    );
    let many = select::get_by_keys(
        &t,
        vec![vec![Value::Integer(1)], vec![Value::Integer(2)]],
        Encoding::Native,
    );
    assert_eq!(
        many.sql,
        "SELECT \"id\", \"name\", \"score\", \"avatar\" FROM \"users\" WHERE \"id\" IN (?,?)"
    );
}

/// Keyset pages: equality filter (`IS NULL` for NULL), then the key after the cursor, ordered
/// by the table-qualified key (a bare name would order by the CAST-as-text output column).
#[test]
fn keyset_pages_and_filtered_counts() {
    let t = users();
    let name = Value::Text("ann".into());
    let page = select::select_page(
        &t,
        &[("name", &name), ("avatar", &Value::Null)],
        Some(&[Value::Integer(1 << 60)]),
        25,
        Encoding::Json,
    );
    assert_eq!(
        page.sql,
        "SELECT CAST(\"id\" AS TEXT) AS \"id\", \"name\", \"score\", \
         CASE WHEN \"avatar\" IS NULL THEN NULL ELSE hex(\"avatar\") END AS \"avatar\" \
         FROM \"users\" WHERE \"users\".\"name\" = ? AND \"users\".\"avatar\" IS NULL \
         AND \"users\".\"id\" > CAST(? AS INTEGER) ORDER BY \"users\".\"id\" LIMIT 25"
    );
    assert_eq!(
        page.params,
        [name.clone(), Value::Text((1i64 << 60).to_string())]
    );
    let first = select::select_page(&t, &[], None, 3, Encoding::Native);
    assert_eq!(
        first.sql,
        "SELECT \"id\", \"name\", \"score\", \"avatar\" FROM \"users\" \
         ORDER BY \"users\".\"id\" LIMIT 3"
    );
    assert!(first.params.is_empty());

    // A composite key compares as a row value.
    let after = [Value::Text("a".into()), Value::Text("b\"".into())];
    let page = select::select_page(&hostile(), &[], Some(&after), 2, Encoding::Native);
    assert!(
        page.sql.ends_with(
            " WHERE (\"order \"\"items\"\".v2\".\"select\", \"order \"\"items\"\".v2\".\"a\"\"b\") \
             > (?,?) ORDER BY \"order \"\"items\"\".v2\".\"select\", \
             \"order \"\"items\"\".v2\".\"a\"\"b\" LIMIT 2"
        ),
        "{}",
        page.sql
    );
    assert_eq!(page.params, after);

    // A filter on a key prefix equal to the cursor's: the keyset condition covers the rest of
    // the key only (an index seek), and nothing follows a fully fixed key.
    let mut symbols = thread_flow::TableSchema::new("s");
    symbols.columns = vec![
        Column::new("file", SqlType::Text),
        Column::new("line", SqlType::Integer),
        Column::new("name", SqlType::Text),
    ];
    symbols.primary_key = vec!["file".into(), "line".into(), "name".into()];
    let file = Value::Text("a.rs".into());
    let after = [file.clone(), Value::Integer(3), Value::Text("f".into())];
    let page = select::select_page(
        &symbols,
        &[("file", &file)],
        Some(&after),
        5,
        Encoding::Native,
    );
    assert_eq!(
        page.sql,
        "SELECT \"file\", \"line\", \"name\" FROM \"s\" WHERE \"s\".\"file\" = ? \
         AND (\"s\".\"line\", \"s\".\"name\") > (?,?) ORDER BY \"s\".\"file\", \
         \"s\".\"line\", \"s\".\"name\" LIMIT 5"
    );
    assert_eq!(
        page.params,
        [file.clone(), after[1].clone(), after[2].clone()]
    );
    // A cursor outside the filter's prefix keeps the whole key in the comparison.
    let other = [
        Value::Text("0.rs".into()),
        Value::Integer(3),
        Value::Text("f".into()),
    ];
    let page = select::select_page(
        &symbols,
        &[("file", &file)],
        Some(&other),
        5,
        Encoding::Native,
    );
    assert!(
        page.sql
            .contains("AND (\"s\".\"file\", \"s\".\"line\", \"s\".\"name\") > (?,?,?) ORDER BY"),
        "{}",
        page.sql
    );
    let full = [
        ("file", &after[0]),
        ("line", &after[1]),
        ("name", &after[2]),
    ];
    let page = select::select_page(&symbols, &full, Some(&after), 5, Encoding::Native);
    assert!(
        page.sql.contains("\"s\".\"name\" = ? AND 0 ORDER BY"),
        "{}",
        page.sql
    );

    let count = select::count_filtered(&t, &[("name", &name)], Encoding::Native);
    assert_eq!(
        count.sql,
        "SELECT COUNT(*) FROM \"users\" WHERE \"users\".\"name\" = ?"
    );
    assert_eq!(count.params, [name]);
}

#[test]
fn decode_json_rows_exactly() {
    let t = users();
    let big = i64::MAX;
    let row = vec![
        Value::Text(big.to_string()),
        Value::Text("n".into()),
        Value::Integer(2),
        Value::Text("00ff".into()),
    ];
    let decoded = select::decode_row(&t, row, Encoding::Json).unwrap();
    assert_eq!(
        decoded,
        vec![
            Value::Integer(big),
            Value::Text("n".into()),
            Value::Real(2.0),
            Value::Blob(vec![0, 255])
        ]
    );
    let bad = vec![
        Value::Text("x1".into()),
        Value::Text("n".into()),
        Value::Null,
        Value::Null,
    ];
    match select::decode_row(&t, bad, Encoding::Json) {
        Err(thread_flow::Error::Decode { table, column, .. }) => {
            assert_eq!(table, "users");
            assert_eq!(column.as_deref(), Some("id"));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn encoded_statement_skips_quoted_question_marks() {
    let s = sql::encoded_statement(
        "SELECT '?' , \"a?\" FROM t WHERE x = ? AND y = ?",
        vec![Value::Blob(vec![1]), Value::Integer(i64::MIN)],
        Encoding::Json,
    );
    assert_eq!(
        s.sql,
        "SELECT '?' , \"a?\" FROM t WHERE x = unhex(?) AND y = CAST(? AS INTEGER)"
    );
    assert_eq!(
        s.params,
        vec![Value::Text("01".into()), Value::Text(i64::MIN.to_string())]
    );
}

/// The rebuild of a referenced table (with `rebuild_referenced`): deferred keys, rows copied
/// out and back into a table created under the final name (no rename), REAL -> TEXT with every
/// digit, then indexes and the table's triggers.
#[test]
fn referenced_rebuild_and_empty_table_guard() {
    use sql::{
        MigrationOptions, ReferencingKey, TableDependents, TableTrigger,
        plan_migration_of_empty_table, plan_migration_with,
    };
    let from = users();
    let mut to = users();
    to.columns[2].sql_type = SqlType::Text;
    let dependents = TableDependents {
        referenced_by: vec![ReferencingKey {
            table: "posts".into(),
            columns: vec!["author".into()],
            on_delete: "NO ACTION".into(),
        }],
        triggers: vec![TableTrigger {
            name: "audit".into(),
            sql: "CREATE TRIGGER audit AFTER INSERT ON users BEGIN SELECT 1; END".into(),
        }],
        mentioned_by: Vec::new(),
    };
    let options = MigrationOptions::default().with_rebuild_referenced(true);
    let plan = plan_migration_with(Some(&from), &dependents, &to, &options).unwrap();
    let sql: Vec<String> = plan.statements().into_iter().map(|s| s.sql).collect();
    let score = "CASE WHEN typeof(\"score\") = 'real' AND CAST(CAST(\"score\" AS TEXT) AS REAL) <> \"score\" THEN \
                 CASE WHEN CAST(printf('%!.16g', \"score\") AS REAL) = \"score\" THEN printf('%!.16g', \"score\") \
                 ELSE printf('%!.17g', \"score\") END ELSE CAST(\"score\" AS TEXT) END";
    assert_eq!(
        sql,
        vec![
            "PRAGMA defer_foreign_keys = on".to_string(),
            "DROP TABLE IF EXISTS \"users__thread_flow_rebuild\"".into(),
            "CREATE TABLE IF NOT EXISTS \"users__thread_flow_rebuild\" (\"id\" INTEGER NOT NULL, \"name\" TEXT NOT NULL, \"score\" TEXT, \"avatar\" BLOB, PRIMARY KEY (\"id\")) STRICT".into(),
            format!("INSERT INTO \"users__thread_flow_rebuild\" (\"id\", \"name\", \"score\", \"avatar\") SELECT \"id\", \"name\", {score}, \"avatar\" FROM \"users\""),
            "DROP TABLE \"users\"".into(),
            "CREATE TABLE IF NOT EXISTS \"users\" (\"id\" INTEGER NOT NULL, \"name\" TEXT NOT NULL, \"score\" TEXT, \"avatar\" BLOB, PRIMARY KEY (\"id\")) STRICT".into(),
            "INSERT INTO \"users\" (\"id\", \"name\", \"score\", \"avatar\") SELECT \"id\", \"name\", \"score\", \"avatar\" FROM \"users__thread_flow_rebuild\"".into(),
            "DROP TABLE \"users__thread_flow_rebuild\"".into(),
            "CREATE TRIGGER audit AFTER INSERT ON users BEGIN SELECT 1; END".into(),
        ]
    );

    // Refused without the option, naming the referencing table.
    let refused = plan_migration_with(Some(&from), &dependents, &to, &MigrationOptions::default());
    assert!(
        matches!(&refused, Err(thread_flow::Error::MigrationRefused { reason, .. }) if reason.contains("`posts` (author) ON DELETE NO ACTION")),
        "{refused:?}"
    );

    // A dropped column on an empty table: the guard comes first, in the same request.
    let mut dropped = users();
    dropped.columns.pop();
    let plan = plan_migration_of_empty_table(&from, &TableDependents::default(), &dropped).unwrap();
    assert!(plan.requires_empty_table);
    let sql: Vec<String> = plan.statements().into_iter().map(|s| s.sql).collect();
    assert_eq!(
        sql[..4],
        [
            "DROP TABLE IF EXISTS \"users__thread_flow_guard\"",
            "CREATE TABLE \"users__thread_flow_guard\" (\"rows\" INTEGER NOT NULL CONSTRAINT \"thread_flow_table_not_empty\" CHECK (\"rows\" = 0))",
            "INSERT INTO \"users__thread_flow_guard\" (\"rows\") SELECT EXISTS (SELECT 1 FROM \"users\")",
            "DROP TABLE \"users__thread_flow_guard\"",
        ]
    );
    assert_eq!(
        sql[4],
        "DROP TABLE IF EXISTS \"users__thread_flow_rebuild\""
    );
}
