//! SQL fragments a schema carries as text (a column's [`ColumnDefault::Sql`], an index's
//! `where`) reach the DDL verbatim, and a schema may arrive as data (a ReCoco spec is runtime
//! JSON). Each fragment must be exactly one SQL expression with nothing after it, and SQLite's
//! own parser decides: the fragment is compiled in a private in-memory database that holds
//! only a copy of the table's columns, and refused when SQLite rejects it, when it does not
//! read as one expression (more than one result column, a second statement, a `)` closing
//! something outside it, a comment swallowing what follows), or when the DDL it produces
//! declares anything besides the fragment itself (a default that adds a column, a collation
//! or a constraint).
//!
//! Double-quoted strings are identifiers here (SQLite's `DQS` misfeature is off), so a `where`
//! naming a column that does not exist is an error instead of a text value.
//!
//! Probing costs a fraction of a millisecond; fragments already accepted in this process are
//! remembered, so a schema validated before every write is probed once.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use rusqlite::config::DbConfig;
use rusqlite::{Batch, Connection};

use super::validate::SchemaProblem;
use super::{ColumnDefault, TableSchema};
use crate::sql::ddl::{column_def, create_index_on, render_default};
use crate::sql::quote_ident;

/// Accepted probes remembered per process (the set is cleared when it reaches this size).
const REMEMBERED: usize = 1024;

fn accepted() -> &'static Mutex<HashSet<String>> {
    static ACCEPTED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    ACCEPTED.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Every SQL fragment of `schema` that is not exactly one expression, as a problem naming its
/// column or index. Expects a schema whose names are otherwise valid.
pub(crate) fn fragment_problems(schema: &TableSchema) -> Vec<SchemaProblem> {
    let defaults: Vec<(&str, &str)> = schema
        .columns
        .iter()
        .filter_map(|c| match &c.default {
            Some(ColumnDefault::Sql(sql)) => Some((c.name.as_str(), sql.as_str())),
            _ => None,
        })
        .collect();
    let wheres: Vec<(&str, &str)> = schema
        .indexes
        .iter()
        .filter_map(|ix| ix.where_clause.as_deref().map(|w| (ix.name.as_str(), w)))
        .filter(|(_, w)| !w.trim().is_empty())
        .collect();
    if defaults.is_empty() && wheres.is_empty() {
        return Vec::new();
    }
    let memo = memo_key(schema);
    if accepted()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&memo)
    {
        return Vec::new();
    }
    let problems = match probe(schema) {
        Ok(problems) => problems,
        Err(e) => vec![SchemaProblem {
            subject: None,
            message: format!("cannot check the table's SQL fragments with SQLite: {e}"),
        }],
    };
    if problems.is_empty() {
        let mut set = accepted().lock().unwrap_or_else(|e| e.into_inner());
        if set.len() >= REMEMBERED {
            set.clear();
        }
        set.insert(memo);
    }
    problems
}

/// What the probe depends on: the table's name, columns (names, types, defaults) and the
/// indexes' DDL.
fn memo_key(schema: &TableSchema) -> String {
    let mut key = quote_ident(&schema.name);
    for c in &schema.columns {
        key.push('\n');
        key.push_str(&column_def(c, false));
    }
    for ix in &schema.indexes {
        key.push('\n');
        key.push_str(&create_index_on(&schema.name, ix));
    }
    key
}

fn probe(schema: &TableSchema) -> rusqlite::Result<Vec<SchemaProblem>> {
    let conn = Connection::open_in_memory()?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DML, false)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DQS_DDL, false)?;
    // The table's columns, without defaults or constraints: what a `where` may read.
    let mut table = String::from("CREATE TABLE ");
    table.push_str(&quote_ident(&schema.name));
    table.push_str(" (");
    for (i, c) in schema.columns.iter().enumerate() {
        if i > 0 {
            table.push_str(", ");
        }
        table.push_str(&quote_ident(&c.name));
        table.push(' ');
        table.push_str(c.sql_type.as_sql());
    }
    table.push(')');
    conn.execute_batch(&table)?;

    let mut problems = Vec::new();
    for c in &schema.columns {
        let Some(ColumnDefault::Sql(sql)) = &c.default else {
            continue;
        };
        if let Err(why) = check_default(&conn, c, sql) {
            problems.push(SchemaProblem {
                subject: Some(c.name.clone()),
                message: format!(
                    "the default SQL `{}` is not one SQL expression: {why}",
                    sql.trim()
                ),
            });
        }
    }
    for ix in &schema.indexes {
        let Some(w) = ix.where_clause.as_deref().filter(|w| !w.trim().is_empty()) else {
            continue;
        };
        if let Err(why) = check_where(&conn, schema, ix, w) {
            problems.push(SchemaProblem {
                subject: Some(ix.name.clone()),
                message: format!(
                    "the index condition `where {}` is not one SQL expression over the \
                     table's columns: {why}",
                    w.trim()
                ),
            });
        }
    }
    Ok(problems)
}

/// `SELECT (<expr>) [FROM <table>]` must compile to one statement with one result column. A
/// `)` inside the fragment closing the probe's `(`, a second statement, a trailing comment
/// swallowing the `)`, or a second column all fail here.
fn check_expression(conn: &Connection, expr: &str, from: Option<&str>) -> Result<(), String> {
    let mut sql = format!("SELECT ({expr})");
    if let Some(table) = from {
        sql.push_str(" FROM ");
        sql.push_str(&quote_ident(table));
    }
    single_statement(conn, &sql, |stmt| {
        if stmt.column_count() == 1 {
            Ok(())
        } else {
            Err(format!(
                "it reads as {} values, not one",
                stmt.column_count()
            ))
        }
    })
}

/// Compiles `sql`, which must be exactly one statement, and runs `check` on it.
fn single_statement(
    conn: &Connection,
    sql: &str,
    check: impl FnOnce(&rusqlite::Statement<'_>) -> Result<(), String>,
) -> Result<(), String> {
    let mut batch = Batch::new(conn, sql);
    let stmt = match batch.next() {
        Ok(Some(stmt)) => stmt,
        Ok(None) => return Err("it is empty".into()),
        Err(e) => return Err(format!("SQLite says: {e}")),
    };
    check(&stmt)?;
    drop(stmt);
    match batch.next() {
        Ok(None) => Ok(()),
        Ok(Some(_)) | Err(_) => Err("another statement follows it".into()),
    }
}

/// Runs `sql`, which must be exactly one statement.
fn run_single(conn: &Connection, sql: &str) -> Result<(), String> {
    let mut batch = Batch::new(conn, sql);
    let mut stmt = match batch.next() {
        Ok(Some(stmt)) => stmt,
        Ok(None) => return Err("it is empty".into()),
        Err(e) => return Err(format!("SQLite says: {e}")),
    };
    // Nothing after the first statement may exist, even when it would not run.
    let tail = Batch::new(conn, sql).nth(1);
    if tail.is_some() {
        return Err("another statement follows it".into());
    }
    stmt.execute([])
        .map(|_| ())
        .map_err(|e| format!("SQLite says: {e}"))
}

fn check_default(conn: &Connection, column: &super::Column, sql: &str) -> Result<(), String> {
    check_expression(conn, sql.trim(), None)?;
    // The column definition exactly as the DDL will write it must declare one column whose
    // default is the fragment, nothing else (no extra column, collation or constraint).
    let probe = "thread_flow_probe_default";
    let def = column_def(
        &super::Column {
            default: None,
            ..column.clone()
        },
        false,
    );
    let rendered = render_default(&ColumnDefault::Sql(sql.to_string()));
    let ddl = format!(
        "CREATE TABLE {} ({def} DEFAULT {rendered})",
        quote_ident(probe)
    );
    run_single(conn, &ddl)?;
    let described = describe_columns(conn, probe);
    let _ = conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote_ident(probe)));
    let columns = described.map_err(|e| format!("SQLite says: {e}"))?;
    let declared_type = column.sql_type.as_sql();
    let fits = matches!(
        columns.as_slice(),
        [(name, typ, default)]
            if name == &column.name
            && typ.eq_ignore_ascii_case(declared_type)
            && default.as_deref().is_some_and(|d| same_default(d, &rendered))
    );
    if fits {
        Ok(())
    } else {
        Err(format!(
            "in `DEFAULT {rendered}` SQLite reads more than a default value ({})",
            columns
                .iter()
                .map(|(n, t, d)| format!(
                    "column `{n}` {t}{}",
                    d.as_deref()
                        .map(|d| format!(" default {d}"))
                        .unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// Whether SQLite's record of a default (`PRAGMA table_xinfo`'s `dflt_value`, which drops the
/// parentheses around an expression) is the rendered default.
fn same_default(recorded: &str, rendered: &str) -> bool {
    let (recorded, rendered) = (recorded.trim(), rendered.trim());
    recorded == rendered
        || rendered
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .is_some_and(|inner| inner.trim() == recorded)
}

type ColumnInfo = (String, String, Option<String>);

fn describe_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<ColumnInfo>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_xinfo({})", quote_ident(table)))?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get::<_, String>("name")?,
            row.get::<_, String>("type")?,
            row.get::<_, Option<String>>("dflt_value")?,
        ))
    })?;
    rows.collect()
}

fn check_where(
    conn: &Connection,
    schema: &TableSchema,
    index: &super::Index,
    clause: &str,
) -> Result<(), String> {
    check_expression(conn, clause.trim(), Some(&schema.name))?;
    // The index exactly as the DDL will write it: SQLite checks what a partial index may use
    // (this table's columns, deterministic functions, no subquery).
    let ddl = create_index_on(&schema.name, index);
    run_single(conn, &ddl)?;
    let _ = conn.execute_batch(&format!(
        "DROP INDEX IF EXISTS {}",
        quote_ident(&index.name)
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, Index, SqlType};

    fn table(default: Option<&str>, clause: Option<&str>) -> TableSchema {
        let mut t = TableSchema::new("t");
        let mut name = Column::new("name", SqlType::Text).nullable(true);
        if let Some(d) = default {
            name = name.with_default(ColumnDefault::Sql(d.into()));
        }
        t.columns = vec![Column::new("id", SqlType::Integer), name];
        t.primary_key = vec!["id".into()];
        if let Some(w) = clause {
            t.indexes.push(Index {
                name: "t_name".into(),
                columns: vec!["name".into()],
                unique: false,
                where_clause: Some(w.into()),
            });
        }
        t
    }

    fn default_ok(sql: &str) -> bool {
        fragment_problems(&table(Some(sql), None)).is_empty()
    }

    fn where_ok(sql: &str) -> bool {
        fragment_problems(&table(None, Some(sql))).is_empty()
    }

    #[test]
    fn expressions_pass() {
        for d in [
            "CURRENT_TIMESTAMP",
            "'x'",
            "X'00'",
            "-1",
            "lower('A')",
            "(1 + 2)",
            "'a;b'",
            "'it''s'",
            "'x' COLLATE NOCASE",
            "'a' -- note\n || 'b'",
        ] {
            assert!(
                default_ok(d),
                "{d}: {:?}",
                fragment_problems(&table(Some(d), None))
            );
        }
        for w in [
            "\"name\" IS NOT NULL",
            "name > 'a'",
            "length(\"name\") > 0 AND id > 1",
            "name <> ')'",
            "id /* comment */ > 0",
        ] {
            assert!(
                where_ok(w),
                "{w}: {:?}",
                fragment_problems(&table(None, Some(w)))
            );
        }
    }

    #[test]
    fn anything_after_the_expression_is_refused() {
        for d in [
            r#"X'00', "pwned" TEXT DEFAULT 'x'"#,
            "1), \"pwned\" TEXT, (\"x\"",
            "1; DROP TABLE t",
            "'a' || 'b' -- a trailing comment swallows the closing parenthesis\n",
            "1 --",
            "1 /*",
            "(1",
            "1)",
            "",
        ] {
            let problems = fragment_problems(&table(Some(d), None));
            assert!(
                problems
                    .iter()
                    .any(|p| p.subject.as_deref() == Some("name")),
                "{d}: {problems:?}"
            );
        }
        for w in [
            "1; DROP TABLE t",
            "id > 0) WHERE (1",
            "id > 0 --",
            "id > 0, 1",
            "\"nope\" > 0",
            "id > (SELECT 1)",
            "random() > 0",
            "1) FROM t; DROP TABLE t; SELECT (1",
        ] {
            let problems = fragment_problems(&table(None, Some(w)));
            assert!(
                problems
                    .iter()
                    .any(|p| p.subject.as_deref() == Some("t_name")),
                "{w}: {problems:?}"
            );
        }
    }

    #[test]
    fn validate_reports_them() {
        let err = table(Some("1; DROP TABLE t"), None).validate();
        assert!(
            matches!(&err, Err(crate::Error::InvalidSchema { table, .. }) if table == "t"),
            "{err:?}"
        );
    }
}
