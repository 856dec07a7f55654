//! Reading a live table's schema: the statements (PRAGMA `table_xinfo`, `index_list`,
//! `index_info`, `foreign_key_list` and `sqlite_schema`) and the parsers that turn their rows
//! into a [`TableSchema`] and its [`TableDependents`] (triggers, referencing foreign keys).
//! The I/O is done by `D1Database::live_table`.

use super::migrate::{ReferencingKey, TableDependents, TableTrigger};
use super::{Statement, quote_ident};
use crate::Value;
use crate::schema::{Column, ColumnDefault, Index, SqlType, TableSchema};

/// Rows returned by one statement, with their column names.
#[derive(Debug, Clone, Copy)]
pub struct ResultRows<'a> {
    /// Column names.
    pub columns: &'a [String],
    /// Rows.
    pub rows: &'a [Vec<Value>],
}

impl<'a> ResultRows<'a> {
    fn col(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }

    fn get(&self, row: &'a [Value], name: &str) -> Option<&'a Value> {
        self.col(name).and_then(|i| row.get(i))
    }
}

/// The first request: table definition, columns, index list, index definitions, then the
/// table's triggers and the other tables that may reference it (see [`dependents_statements`]).
pub fn table_statements(table: &str) -> Vec<Statement> {
    let mut statements = schema_statements(table);
    statements.extend(dependents_statements(table));
    statements
}

/// Table definition, columns, index list, index definitions.
fn schema_statements(table: &str) -> Vec<Statement> {
    let name = Value::Text(table.to_string());
    vec![
        Statement::new(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE",
            vec![name.clone()],
        ),
        Statement::raw(format!("PRAGMA table_xinfo({})", quote_ident(table))),
        Statement::raw(format!("PRAGMA index_list({})", quote_ident(table))),
        Statement::new(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? COLLATE NOCASE",
            vec![name],
        ),
    ]
}

/// The table's triggers (`name`, `sql`) and the other tables whose definition mentions
/// `REFERENCES` (candidates for [`foreign_key_statements`]). D1 refuses the table-valued
/// `pragma_foreign_key_list()`, so the keys themselves are read with one PRAGMA per candidate.
pub fn dependents_statements(table: &str) -> Vec<Statement> {
    let name = Value::Text(table.to_string());
    vec![
        Statement::new(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ? COLLATE NOCASE AND sql IS NOT NULL ORDER BY rowid",
            vec![name.clone()],
        ),
        Statement::new(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name <> ? COLLATE NOCASE \
             AND sql LIKE '%REFERENCES%' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name",
            vec![name.clone()],
        ),
        Statement::new(
            "SELECT name FROM sqlite_schema WHERE type IN ('view', 'trigger') \
             AND tbl_name <> ? COLLATE NOCASE AND instr(lower(sql), lower(?)) > 0 ORDER BY name",
            vec![name.clone(), name],
        ),
    ]
}

/// `PRAGMA foreign_key_list` for each candidate referencing table, in order.
pub fn foreign_key_statements(tables: &[String]) -> Vec<Statement> {
    tables
        .iter()
        .map(|t| Statement::raw(format!("PRAGMA foreign_key_list({})", quote_ident(t))))
        .collect()
}

/// The candidate referencing tables from the last result of [`table_statements`].
pub fn referencing_candidates(rows: ResultRows<'_>) -> Vec<String> {
    rows.rows
        .iter()
        .filter_map(|r| rows.get(r, "name").and_then(text))
        .collect()
}

/// What hangs on `table`: its triggers (from the trigger rows of [`dependents_statements`]),
/// the foreign keys of `candidates` that reference it (from the results of
/// [`foreign_key_statements`] for them) and the views and triggers that mention it (the last
/// rows of [`dependents_statements`]).
pub fn parse_dependents(
    table: &str,
    triggers: ResultRows<'_>,
    candidates: &[String],
    foreign_keys: &[ResultRows<'_>],
    mentions: ResultRows<'_>,
) -> TableDependents {
    let mentioned_by = mentions
        .rows
        .iter()
        .filter_map(|r| mentions.get(r, "name").and_then(text))
        .collect();
    let triggers = triggers
        .rows
        .iter()
        .filter_map(|r| {
            Some(TableTrigger {
                name: triggers.get(r, "name").and_then(text)?,
                sql: triggers.get(r, "sql").and_then(text)?,
            })
        })
        .collect();
    let mut referenced_by = Vec::new();
    for (child, keys) in candidates.iter().zip(foreign_keys) {
        // One row per column of a key; the rows of one key share its `id`.
        let mut by_id: Vec<(i64, ReferencingKey)> = Vec::new();
        for r in keys.rows {
            let parent = keys.get(r, "table").and_then(text).unwrap_or_default();
            if !parent.eq_ignore_ascii_case(table) {
                continue;
            }
            let id = keys.get(r, "id").and_then(int).unwrap_or(0);
            let column = keys.get(r, "from").and_then(text).unwrap_or_default();
            match by_id.iter_mut().find(|(i, _)| *i == id) {
                Some((_, key)) => key.columns.push(column),
                None => by_id.push((
                    id,
                    ReferencingKey {
                        table: child.clone(),
                        columns: vec![column],
                        on_delete: keys
                            .get(r, "on_delete")
                            .and_then(text)
                            .unwrap_or_else(|| "NO ACTION".into()),
                    },
                )),
            }
        }
        referenced_by.extend(by_id.into_iter().map(|(_, k)| k));
    }
    TableDependents {
        referenced_by,
        triggers,
        mentioned_by,
    }
}

/// Names of the indexes created with `CREATE INDEX` (not those behind PRIMARY KEY / UNIQUE
/// constraints), from `PRAGMA index_list` rows.
pub fn created_indexes(index_list: ResultRows<'_>) -> Vec<(String, bool)> {
    index_list
        .rows
        .iter()
        .filter_map(|r| {
            let name = text(index_list.get(r, "name")?)?;
            let origin = index_list
                .get(r, "origin")
                .and_then(text)
                .unwrap_or_else(|| "c".into());
            let unique = index_list.get(r, "unique").and_then(int).unwrap_or(0) != 0;
            (origin == "c").then_some((name, unique))
        })
        .collect()
}

/// The second request: `PRAGMA index_info` for each index, in order.
pub fn index_statements(index_names: &[String]) -> Vec<Statement> {
    index_names
        .iter()
        .map(|n| Statement::raw(format!("PRAGMA index_info({})", quote_ident(n))))
        .collect()
}

/// Builds the live schema. `table_rows` are the results of [`table_statements`] (in order),
/// `indexes` the output of [`created_indexes`] and `index_infos` the results of
/// [`index_statements`] for them. `None` when the table does not exist.
pub fn parse_live_schema(
    table: &str,
    table_rows: &[ResultRows<'_>],
    indexes: &[(String, bool)],
    index_infos: &[ResultRows<'_>],
) -> Option<TableSchema> {
    let [master, xinfo, _list, index_sql, ..] = table_rows else {
        return None;
    };
    let table_row = master.rows.first()?;
    let live_name = master
        .get(table_row, "name")
        .and_then(text)
        .unwrap_or_else(|| table.to_string());
    let create_sql = master
        .get(table_row, "sql")
        .and_then(text)
        .unwrap_or_default();
    let (strict, without_rowid) = table_options(&create_sql);

    let mut schema = TableSchema::new(live_name);
    schema.strict = strict;
    schema.without_rowid = without_rowid;
    let mut keys: Vec<(i64, String)> = Vec::new();
    for r in xinfo.rows {
        let hidden = xinfo.get(r, "hidden").and_then(int).unwrap_or(0);
        if hidden != 0 {
            continue;
        }
        let Some(name) = xinfo.get(r, "name").and_then(text) else {
            continue;
        };
        let declared = xinfo.get(r, "type").and_then(text).unwrap_or_default();
        let notnull = xinfo.get(r, "notnull").and_then(int).unwrap_or(0) != 0;
        let pk = xinfo.get(r, "pk").and_then(int).unwrap_or(0);
        let default = xinfo
            .get(r, "dflt_value")
            .and_then(text)
            .map(|d| parse_default(&d));
        if pk > 0 {
            keys.push((pk, name.clone()));
        }
        schema.columns.push(Column {
            name,
            sql_type: affinity(&declared),
            nullable: !notnull,
            default,
        });
    }
    keys.sort();
    schema.primary_key = keys.into_iter().map(|(_, n)| n).collect();

    for ((name, unique), info) in indexes.iter().zip(index_infos) {
        let mut cols: Vec<(i64, String)> = info
            .rows
            .iter()
            .map(|r| {
                let seq = info.get(r, "seqno").and_then(int).unwrap_or(0);
                let col = info
                    .get(r, "name")
                    .and_then(text)
                    .unwrap_or_else(|| "<expression>".into());
                (seq, col)
            })
            .collect();
        cols.sort();
        let sql = index_sql
            .rows
            .iter()
            .find(|r| index_sql.get(r, "name").and_then(text).as_deref() == Some(name.as_str()))
            .and_then(|r| index_sql.get(r, "sql").and_then(text))
            .unwrap_or_default();
        schema.indexes.push(Index {
            name: name.clone(),
            columns: cols.into_iter().map(|(_, c)| c).collect(),
            unique: *unique,
            where_clause: index_where(&sql),
        });
    }
    Some(schema)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(r) => Some(r.to_string()),
        Value::Blob(b) => String::from_utf8(b.clone()).ok(),
        Value::Null => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => Some(*i),
        Value::Real(r) => Some(*r as i64),
        Value::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The column type for a declared type, by SQLite's affinity rules when it is not one of the
/// four STRICT types.
pub fn affinity(declared: &str) -> SqlType {
    if let Some(t) = SqlType::parse(declared) {
        return t;
    }
    let d = declared.to_ascii_uppercase();
    if d.contains("INT") {
        SqlType::Integer
    } else if d.contains("CHAR") || d.contains("CLOB") || d.contains("TEXT") {
        SqlType::Text
    } else if d.contains("BLOB") || d.trim().is_empty() {
        SqlType::Blob
    } else {
        SqlType::Real
    }
}

/// STRICT and WITHOUT ROWID from a `CREATE TABLE` statement's table options.
pub fn table_options(create_sql: &str) -> (bool, bool) {
    let tail = create_sql
        .rfind(')')
        .map(|i| &create_sql[i + 1..])
        .unwrap_or("");
    let mut strict = false;
    let mut without_rowid = false;
    for opt in tail.split(',') {
        let words: Vec<String> = opt
            .split_whitespace()
            .map(str::to_ascii_uppercase)
            .collect();
        match words
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["STRICT"] => strict = true,
            ["WITHOUT", "ROWID"] => without_rowid = true,
            _ => {}
        }
    }
    (strict, without_rowid)
}

/// A default's SQL text as a [`ColumnDefault`]: literals become values, anything else stays SQL.
pub fn parse_default(text: &str) -> ColumnDefault {
    match parse_literal(text.trim()) {
        Some(v) => ColumnDefault::Value(v),
        None => ColumnDefault::Sql(text.trim().to_string()),
    }
}

/// Parses a SQL literal (`NULL`, integer, real, `'text'`, `X'hex'`).
pub fn parse_literal(t: &str) -> Option<Value> {
    if t.eq_ignore_ascii_case("NULL") {
        return Some(Value::Null);
    }
    if let Some(inner) = t.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        if inner.replace("''", "").contains('\'') {
            return None;
        }
        return Some(Value::Text(inner.replace("''", "'")));
    }
    if let Some(inner) = t
        .strip_prefix("X'")
        .or_else(|| t.strip_prefix("x'"))
        .and_then(|r| r.strip_suffix('\''))
    {
        return super::hex_decode(inner).map(Value::Blob);
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<i64>().ok().map(Value::Integer);
    }
    if !digits.is_empty()
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
    {
        return t
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite())
            .map(Value::Real);
    }
    None
}

/// The `WHERE` predicate of a `CREATE INDEX` statement, if it is a partial index.
pub fn index_where(create_sql: &str) -> Option<String> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut end = None;
    for (i, ch) in create_sql.char_indices() {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            continue;
        }
        match ch {
            '\'' | '"' | '`' => quote = Some(ch),
            '[' => quote = Some(']'),
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    end = Some(i + 1);
                    break;
                }
            }
            _ => {}
        }
    }
    let rest = create_sql[end?..].trim();
    let head = rest.get(..5)?;
    head.eq_ignore_ascii_case("WHERE")
        .then(|| rest[5..].trim().to_string())
        .filter(|w| !w.is_empty())
}
