//! Reads: get-by-keys, count, select-all, keyset pages with an optional equality filter
//! ([`select_page`], [`count_filtered`]), and [`decode_row`] for what they return.
//!
//! Under [`Encoding::Json`] INTEGER columns are read as `CAST(c AS TEXT)` and BLOB columns as
//! hex text, because JSON numbers lose integers beyond 2^53 and D1 returns BLOBs as arrays.
//! [`decode_row`] turns such rows back into exact, typed [`Value`]s.

use super::write::{delete_shape, push_group};
use super::{Encoding, Statement, encode_param, hex_decode, push_ident};
use crate::schema::{SqlType, TableSchema};
use crate::{Error, Result, Value};

/// The select list: every column in schema order, wrapped for `encoding`.
pub fn column_list(schema: &TableSchema, encoding: Encoding) -> String {
    let mut sql = String::new();
    for (i, c) in schema.columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        match (encoding, c.sql_type) {
            (Encoding::Json, SqlType::Integer) => {
                sql.push_str("CAST(");
                push_ident(&mut sql, &c.name);
                sql.push_str(" AS TEXT) AS ");
                push_ident(&mut sql, &c.name);
            }
            (Encoding::Json, SqlType::Blob) => {
                // hex(NULL) is '', so keep NULL apart from an empty BLOB.
                sql.push_str("CASE WHEN ");
                push_ident(&mut sql, &c.name);
                sql.push_str(" IS NULL THEN NULL ELSE hex(");
                push_ident(&mut sql, &c.name);
                sql.push_str(") END AS ");
                push_ident(&mut sql, &c.name);
            }
            _ => push_ident(&mut sql, &c.name),
        }
    }
    sql
}

/// `SELECT <columns> FROM "t" WHERE "k1" = ? AND "k2" = ?` for one key (values in key order).
pub fn get_by_key(schema: &TableSchema, key: Vec<Value>, encoding: Encoding) -> Statement {
    let mut sql = String::from("SELECT ");
    sql.push_str(&column_list(schema, encoding));
    sql.push_str(" FROM ");
    push_ident(&mut sql, &schema.name);
    sql.push_str(" WHERE ");
    for (i, (k, v)) in schema.primary_key.iter().zip(&key).enumerate() {
        if i > 0 {
            sql.push_str(" AND ");
        }
        push_ident(&mut sql, k);
        sql.push_str(" = ");
        sql.push_str(super::placeholder(v, encoding));
    }
    let params = key.into_iter().map(|v| encode_param(v, encoding)).collect();
    Statement { sql, params }
}

/// `SELECT <columns> FROM "t" WHERE <key> IN (...)` for several keys (at most
/// floor(100 / key columns) keys per statement; values in key order).
pub fn get_by_keys(schema: &TableSchema, keys: Vec<Vec<Value>>, encoding: Encoding) -> Statement {
    let shape = delete_shape(schema);
    let mut sql = String::from("SELECT ");
    sql.push_str(&column_list(schema, encoding));
    sql.push_str(" FROM ");
    push_ident(&mut sql, &schema.name);
    // Reuse the delete statement's WHERE clause.
    let where_at = shape.prefix.find(" WHERE ").unwrap_or(shape.prefix.len());
    sql.push_str(&shape.prefix[where_at..]);
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        push_group(&mut sql, k, encoding, shape.parens);
    }
    sql.push_str(&shape.suffix);
    let params = keys
        .into_iter()
        .flatten()
        .map(|v| encode_param(v, encoding))
        .collect();
    Statement { sql, params }
}

/// `SELECT COUNT(*) FROM "name"`.
pub fn count_table(name: &str) -> Statement {
    let mut sql = String::from("SELECT COUNT(*) FROM ");
    push_ident(&mut sql, name);
    Statement::raw(sql)
}

/// `SELECT <columns> FROM "t" ORDER BY <key>`.
#[cfg(any(
    all(feature = "code-core", feature = "recoco", unix),
    feature = "testing"
))]
pub fn select_all(schema: &TableSchema, encoding: Encoding) -> Statement {
    let mut sql = String::from("SELECT ");
    sql.push_str(&column_list(schema, encoding));
    sql.push_str(" FROM ");
    push_ident(&mut sql, &schema.name);
    sql.push_str(" ORDER BY ");
    push_key_columns(&mut sql, schema);
    Statement::raw(sql)
}

/// `"t"."k1", "t"."k2"`: the key columns qualified with the table name.
///
/// Qualified because, under [`Encoding::Json`], the select list names `CAST("k" AS TEXT)` and
/// `hex("k")` after the column itself, and SQLite resolves a bare name in `ORDER BY` to such
/// an output column first: the rows would be ordered by the text (`-11` before `-2`).
fn push_key_columns(sql: &mut String, schema: &TableSchema) {
    for (i, k) in schema.primary_key.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_column(sql, schema, k);
    }
}

/// `"t"."c"`.
fn push_column(sql: &mut String, schema: &TableSchema, column: &str) {
    push_ident(sql, &schema.name);
    sql.push('.');
    push_ident(sql, column);
}

/// Appends `WHERE` conditions: `"c" = ?` per filter column (`"c" IS NULL` for a NULL value),
/// then, with `after`, the keyset condition `("k1", "k2") > (?, ?)` (`"k" > ?` for one key
/// column). Nothing is appended when there is no condition.
///
/// Leading key columns that the filter fixes to the cursor's own values are left out of the
/// keyset condition (`"file" = ? AND ("line", "name") > (?, ?)`): the same rows, but SQLite
/// then seeks in the key index to the cursor instead of reading every row of the prefix up to
/// it on each page. When the filter fixes the whole key, no row follows the cursor.
fn push_conditions(
    sql: &mut String,
    params: &mut Vec<Value>,
    schema: &TableSchema,
    filter: &[(&str, &Value)],
    after: Option<&[Value]>,
    encoding: Encoding,
) {
    let mut first = true;
    let mut and = |sql: &mut String| {
        sql.push_str(if first { " WHERE " } else { " AND " });
        first = false;
    };
    for (column, value) in filter {
        and(sql);
        push_column(sql, schema, column);
        if value.is_null() {
            sql.push_str(" IS NULL");
        } else {
            sql.push_str(" = ");
            sql.push_str(super::placeholder(value, encoding));
            params.push(encode_param((*value).clone(), encoding));
        }
    }
    let Some(after) = after else {
        return;
    };
    let key = &schema.primary_key;
    let fixed = key
        .iter()
        .zip(after)
        .take_while(|(k, v)| filter.iter().any(|(c, f)| *c == k.as_str() && *f == *v))
        .count();
    and(sql);
    let (rest, after) = (&key[fixed..], &after[fixed.min(after.len())..]);
    if rest.is_empty() {
        // The filter is the cursor's whole key: nothing comes after it.
        sql.push('0');
        return;
    }
    let one = rest.len() == 1;
    if !one {
        sql.push('(');
    }
    for (i, k) in rest.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_column(sql, schema, k);
    }
    sql.push_str(if one { " > " } else { ") > " });
    push_group(sql, after, encoding, !one);
    params.extend(after.iter().map(|v| encode_param(v.clone(), encoding)));
}

/// `SELECT <columns> FROM "t" [WHERE <filter> AND <key> > <after>] ORDER BY <key> LIMIT n`:
/// one keyset page. `filter` pairs column names with column values (already encoded for their
/// column, see [`crate::D1Target::bind_row`]); `after` is a key in key order.
pub fn select_page(
    schema: &TableSchema,
    filter: &[(&str, &Value)],
    after: Option<&[Value]>,
    limit: usize,
    encoding: Encoding,
) -> Statement {
    let mut sql = String::from("SELECT ");
    sql.push_str(&column_list(schema, encoding));
    sql.push_str(" FROM ");
    push_ident(&mut sql, &schema.name);
    let mut params = Vec::new();
    push_conditions(&mut sql, &mut params, schema, filter, after, encoding);
    sql.push_str(" ORDER BY ");
    push_key_columns(&mut sql, schema);
    sql.push_str(" LIMIT ");
    sql.push_str(&limit.to_string());
    Statement { sql, params }
}

/// `SELECT COUNT(*) FROM "t" WHERE <filter>` (see [`select_page`] for `filter`).
pub fn count_filtered(
    schema: &TableSchema,
    filter: &[(&str, &Value)],
    encoding: Encoding,
) -> Statement {
    let mut sql = String::from("SELECT COUNT(*) FROM ");
    push_ident(&mut sql, &schema.name);
    let mut params = Vec::new();
    push_conditions(&mut sql, &mut params, schema, filter, None, encoding);
    Statement { sql, params }
}

/// Turns a row read with one of these selects back into typed values, in schema column order.
///
/// Accepts what each transport returns: INTEGER columns as integers or decimal text, REAL
/// columns as reals or integers, BLOB columns as bytes or hex text.
pub fn decode_row(schema: &TableSchema, row: Vec<Value>, encoding: Encoding) -> Result<Vec<Value>> {
    if row.len() != schema.columns.len() {
        return Err(Error::Decode {
            table: schema.name.clone(),
            column: None,
            key: None,
            message: format!(
                "the result row has {} values but the table has {} columns",
                row.len(),
                schema.columns.len()
            ),
        });
    }
    let _ = encoding;
    row.into_iter()
        .zip(&schema.columns)
        .map(|(v, c)| {
            decode_value(c.sql_type, v).map_err(|message| Error::Decode {
                table: schema.name.clone(),
                column: Some(c.name.clone()),
                key: None,
                message,
            })
        })
        .collect()
}

/// Decodes one value read from a column of type `ty`.
pub fn decode_value(ty: SqlType, v: Value) -> std::result::Result<Value, String> {
    Ok(match (ty, v) {
        (_, Value::Null) => Value::Null,
        (SqlType::Integer, Value::Text(s)) => Value::Integer(
            s.trim()
                .parse::<i64>()
                .map_err(|_| format!("expected an integer, found text {s:?}"))?,
        ),
        (SqlType::Integer, Value::Real(r))
            if r.fract() == 0.0 && r.abs() <= 9.007_199_254_740_991e15 =>
        {
            Value::Integer(r as i64)
        }
        (SqlType::Real, Value::Integer(i)) => Value::Real(i as f64),
        (SqlType::Blob, Value::Text(s)) => Value::Blob(
            hex_decode(&s).ok_or_else(|| format!("expected hex text for a BLOB, found {s:?}"))?,
        ),
        (_, v) => v,
    })
}
