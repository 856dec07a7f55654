//! The batch planner: splits a write into statements and requests within every D1 limit.
//!
//! - Each statement binds at most 100 parameters (rows per statement <= floor(100 / columns))
//!   and has less than 100,000 bytes of SQL.
//! - Statements are packed into requests (one transaction each) while the estimated JSON body
//!   (SQL + parameters) stays within [`WriteOptions::max_request_bytes`] and the statement count
//!   within [`WriteOptions::max_statements_per_request`]. A single row larger than the budget
//!   goes alone in its own request.
//! - Every row is checked first (arity, NULLs, types, D1's value and row size limits); the plan
//!   is only returned when the whole write is valid, so nothing is sent for a bad write.
//! - Duplicate keys: the last occurrence wins; each key keeps the position of its *first*
//!   occurrence, so the plan is deterministic.
//! - Upserts and deletes are planned separately; callers send every upsert request, then every
//!   delete request, so a key both upserted and deleted in one write ends up deleted.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::write::{StatementShape, delete_shape, group_len, upsert_shape};
use super::{
    Encoding, MAX_PARAMS_PER_STATEMENT, MAX_ROW_BYTES, MAX_SQL_BYTES, MAX_VALUE_BYTES,
    STATEMENT_JSON_OVERHEAD, Statement, json_str_len, param_json_len, render_row_key,
};
use crate::schema::{Column, SqlType, TableSchema};
use crate::{Error, Result, Value};

/// Tuning for batched writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Estimated JSON body bytes per request (SQL + parameters). Default 1,000,000.
    pub max_request_bytes: usize,
    /// Statements per request. Default 1000.
    pub max_statements_per_request: usize,
    /// Requests in flight at once. Default 6.
    pub concurrency: usize,
}

impl Default for WriteOptions {
    fn default() -> WriteOptions {
        WriteOptions {
            max_request_bytes: 1_000_000,
            max_statements_per_request: 1000,
            concurrency: 6,
        }
    }
}

/// A write split into requests; each request is a list of statements run as one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WritePlan {
    /// Upsert requests (send these first).
    pub upsert_requests: Vec<Vec<Statement>>,
    /// Delete requests (send these after every upsert request).
    pub delete_requests: Vec<Vec<Statement>>,
    /// Rows upserted after de-duplication.
    pub upsert_rows: u64,
    /// Keys deleted after de-duplication.
    pub delete_rows: u64,
    /// The rendered first key of each upsert request (for error messages).
    pub upsert_first_keys: Vec<String>,
    /// The rendered first key of each delete request.
    pub delete_first_keys: Vec<String>,
}

impl WritePlan {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.upsert_requests.is_empty() && self.delete_requests.is_empty()
    }

    /// Requests in the plan.
    pub fn requests(&self) -> usize {
        self.upsert_requests.len() + self.delete_requests.len()
    }

    /// Statements in the plan.
    pub fn statements(&self) -> usize {
        self.upsert_requests
            .iter()
            .chain(&self.delete_requests)
            .map(Vec::len)
            .sum()
    }
}

/// Plans a write of `upserts` (values in schema column order) and `deletes` (values in key
/// order) to the table of `schema`.
///
/// Errors, before anything is sent: [`Error::InvalidSchema`]; [`Error::Bind`] for a row of the
/// wrong arity, a NULL in a NOT NULL column, a value of the wrong type or a non-finite REAL;
/// [`Error::LimitExceeded`] for a value or row over 2,000,000 bytes or a row whose statement
/// cannot fit 100,000 bytes of SQL. An empty write gives an empty plan.
pub fn plan_write(
    schema: &TableSchema,
    upserts: Vec<Vec<Value>>,
    deletes: Vec<Vec<Value>>,
    encoding: Encoding,
    options: &WriteOptions,
) -> Result<WritePlan> {
    if upserts.is_empty() && deletes.is_empty() {
        return Ok(WritePlan::default());
    }
    schema.validate()?;
    let key_indices = schema.key_indices();
    let key_columns: Vec<&Column> = key_indices.iter().map(|&i| &schema.columns[i]).collect();
    let all_columns: Vec<&Column> = schema.columns.iter().collect();
    let all_positions: Vec<usize> = (0..schema.columns.len()).collect();

    for row in &upserts {
        check_row(schema, &all_columns, row, &key_indices)?;
    }
    for key in &deletes {
        check_row(
            schema,
            &key_columns,
            key,
            &all_positions[..key_columns.len()],
        )?;
    }
    let upserts = dedupe(upserts, &key_indices);
    let deletes = dedupe(deletes, &all_positions[..key_columns.len()]);

    let mut plan = WritePlan {
        upsert_rows: upserts.len() as u64,
        delete_rows: deletes.len() as u64,
        ..WritePlan::default()
    };
    if !upserts.is_empty() {
        let shape = upsert_shape(schema);
        let (requests, keys) = pack(schema, upserts, &shape, &key_indices, encoding, options)?;
        plan.upsert_requests = requests;
        plan.upsert_first_keys = keys;
    }
    if !deletes.is_empty() {
        let shape = delete_shape(schema);
        let positions = &all_positions[..key_columns.len()];
        let (requests, keys) = pack(schema, deletes, &shape, positions, encoding, options)?;
        plan.delete_requests = requests;
        plan.delete_first_keys = keys;
    }
    Ok(plan)
}

/// Checks one row (or key) against its columns: arity, NULLs, types, sizes.
fn check_row(
    schema: &TableSchema,
    columns: &[&Column],
    row: &[Value],
    key_positions: &[usize],
) -> Result<()> {
    if row.len() != columns.len() {
        let column = columns
            .get(row.len().min(columns.len().saturating_sub(1)))
            .map(|c| c.name.clone())
            .unwrap_or_default();
        return Err(Error::Bind {
            table: schema.name.clone(),
            column,
            key: if row.len() >= key_positions.iter().max().map_or(0, |m| m + 1) {
                render_row_key(row, key_positions)
            } else {
                "<unknown>".into()
            },
            message: format!(
                "the row has {} values but {} columns were expected (values must be in schema column order)",
                row.len(),
                columns.len()
            ),
        });
    }
    let mut row_bytes = 0usize;
    for (v, c) in row.iter().zip(columns) {
        if let Some(message) = value_problem(c, v) {
            return Err(Error::Bind {
                table: schema.name.clone(),
                column: c.name.clone(),
                key: render_row_key(row, key_positions),
                message,
            });
        }
        let len = v.byte_len();
        if len > MAX_VALUE_BYTES {
            return Err(Error::LimitExceeded {
                table: schema.name.clone(),
                limit: "bytes per value",
                max: MAX_VALUE_BYTES as u64,
                actual: len as u64,
                column: Some(c.name.clone()),
                key: Some(render_row_key(row, key_positions)),
            });
        }
        row_bytes += len;
    }
    if row_bytes > MAX_ROW_BYTES {
        let biggest = row
            .iter()
            .zip(columns)
            .max_by_key(|(v, _)| v.byte_len())
            .map(|(_, c)| c.name.clone());
        return Err(Error::LimitExceeded {
            table: schema.name.clone(),
            limit: "bytes per row",
            max: MAX_ROW_BYTES as u64,
            actual: row_bytes as u64,
            column: biggest,
            key: Some(render_row_key(row, key_positions)),
        });
    }
    Ok(())
}

/// Why `v` cannot be stored in `column`, if it cannot.
pub(crate) fn value_problem(column: &Column, v: &Value) -> Option<String> {
    match (column.sql_type, v) {
        (_, Value::Null) if !column.nullable => Some(
            "NULL in a NOT NULL column; give the field a value or make the column nullable".into(),
        ),
        (_, Value::Null) => None,
        (SqlType::Integer, Value::Integer(_))
        | (SqlType::Text, Value::Text(_))
        | (SqlType::Blob, Value::Blob(_))
        | (SqlType::Real, Value::Integer(_)) => None,
        (SqlType::Real, Value::Real(r)) => (!r.is_finite())
            .then(|| format!("{r} is not a finite number; D1 cannot store NaN or infinities")),
        (t, v) => Some(format!(
            "the column is {t} but the value is {} {}",
            v.sql_type().map(SqlType::as_sql).unwrap_or("NULL"),
            v.describe()
        )),
    }
}

/// A borrowed row key, hashed and compared by value (REALs by bit pattern).
struct KeyRef<'a> {
    row: &'a [Value],
    positions: &'a [usize],
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for &p in self.positions {
            match &self.row[p] {
                Value::Null => state.write_u8(0),
                Value::Integer(i) => state.write_u64(*i as u64 ^ 0x1111),
                Value::Real(r) => state.write_u64(r.to_bits() ^ 0x2222),
                Value::Text(s) => {
                    state.write(s.as_bytes());
                    state.write_u8(0xff);
                }
                Value::Blob(b) => {
                    state.write(b);
                    state.write_u8(0xfe);
                }
            }
        }
    }
}

impl PartialEq for KeyRef<'_> {
    fn eq(&self, other: &KeyRef<'_>) -> bool {
        self.positions.iter().zip(other.positions).all(|(&a, &b)| {
            match (&self.row[a], &other.row[b]) {
                (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits(),
                (x, y) => x == y,
            }
        })
    }
}

impl Eq for KeyRef<'_> {}

/// A small, fast, non-cryptographic hasher for keys of one write.
#[derive(Default)]
struct KeyHasher(u64);

impl KeyHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Keeps the last occurrence of each key, at the position of the key's first occurrence.
fn dedupe(rows: Vec<Vec<Value>>, positions: &[usize]) -> Vec<Vec<Value>> {
    if rows.len() < 2 {
        return rows;
    }
    let winners = {
        let mut slots: HashMap<KeyRef<'_>, usize, BuildHasherDefault<KeyHasher>> =
            HashMap::with_capacity_and_hasher(rows.len(), BuildHasherDefault::default());
        let mut winners: Vec<usize> = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let slot = *slots
                .entry(KeyRef { row, positions })
                .or_insert(winners.len());
            if slot == winners.len() {
                winners.push(i);
            } else {
                winners[slot] = i;
            }
        }
        winners
    };
    if winners.len() == rows.len() {
        return rows;
    }
    let mut rows: Vec<Option<Vec<Value>>> = rows.into_iter().map(Some).collect();
    winners.into_iter().filter_map(|i| rows[i].take()).collect()
}

/// Packs rows into statements of `shape` and statements into requests.
fn pack(
    schema: &TableSchema,
    rows: Vec<Vec<Value>>,
    shape: &StatementShape,
    key_positions: &[usize],
    encoding: Encoding,
    options: &WriteOptions,
) -> Result<(Vec<Vec<Statement>>, Vec<String>)> {
    let width = shape.width.max(1);
    let max_rows = (MAX_PARAMS_PER_STATEMENT / width).max(1);
    let max_statements = options.max_statements_per_request.max(1);
    let budget = options.max_request_bytes.max(1);
    let fixed_sql = shape.fixed_len();
    let fixed_json =
        STATEMENT_JSON_OVERHEAD + json_str_len(&shape.prefix) + json_str_len(&shape.suffix);
    let sql_limit = MAX_SQL_BYTES - 1;
    let full_sql = (encoding == Encoding::Native).then(|| shape.native_sql(max_rows));

    let mut requests: Vec<Vec<Statement>> = Vec::new();
    let mut first_keys: Vec<String> = Vec::new();
    let mut request: Vec<Statement> = Vec::new();
    let mut request_bytes = 0usize;
    let mut params: Vec<Value> = Vec::with_capacity(max_rows * width);
    let mut stmt_rows = 0usize;
    let mut stmt_sql = 0usize;

    let flush_statement =
        |params: &mut Vec<Value>, stmt_rows: &mut usize, request: &mut Vec<Statement>| {
            if *stmt_rows == 0 {
                return;
            }
            let taken = std::mem::replace(params, Vec::with_capacity(max_rows * width));
            let statement = match &full_sql {
                Some(sql) if *stmt_rows == max_rows => Statement {
                    sql: sql.clone(),
                    params: taken,
                },
                _ => shape.statement(taken, encoding),
            };
            request.push(statement);
            *stmt_rows = 0;
        };

    for row in rows {
        let glen = group_len(&row, encoding, shape.parens);
        let cost = glen + row.iter().map(|v| param_json_len(v) + 1).sum::<usize>();
        if stmt_rows > 0 && (stmt_rows == max_rows || stmt_sql + glen > sql_limit) {
            flush_statement(&mut params, &mut stmt_rows, &mut request);
        }
        let extra = if stmt_rows == 0 { fixed_json } else { 0 };
        if (stmt_rows > 0 || !request.is_empty()) && request_bytes + extra + cost > budget {
            flush_statement(&mut params, &mut stmt_rows, &mut request);
            requests.push(std::mem::take(&mut request));
            request_bytes = 0;
        }
        if stmt_rows == 0 && request.len() >= max_statements {
            requests.push(std::mem::take(&mut request));
            request_bytes = 0;
        }
        if stmt_rows == 0 {
            if fixed_sql + glen > sql_limit {
                return Err(Error::LimitExceeded {
                    table: schema.name.clone(),
                    limit: "bytes of SQL per statement",
                    max: MAX_SQL_BYTES as u64,
                    actual: (fixed_sql + glen) as u64,
                    column: None,
                    key: Some(render_row_key(&row, key_positions)),
                });
            }
            stmt_sql = fixed_sql;
            request_bytes += fixed_json;
            if request.is_empty() {
                first_keys.push(render_row_key(&row, key_positions));
            }
        }
        stmt_sql += glen;
        request_bytes += cost;
        stmt_rows += 1;
        params.extend(row);
    }
    flush_statement(&mut params, &mut stmt_rows, &mut request);
    if !request.is_empty() {
        requests.push(request);
    }
    Ok((requests, first_keys))
}
