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

/// Tuning for batched writes ([`crate::D1Database::with_write_options`]).
///
/// Start from [`WriteOptions::default`] (D1 over HTTP) or [`WriteOptions::local`] and change
/// what you need; new settings may be added in any release, so the struct cannot be built
/// with a literal:
///
/// ```
/// let options = thread_flow::WriteOptions::default()
///     .with_max_statements_per_request(200)
///     .with_concurrency(2);
/// assert_eq!(options.max_statements_per_request, 200);
/// assert_eq!(options.concurrency, 2);
/// assert_eq!(options.max_request_bytes, 1_000_000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Estimated JSON body bytes per request (SQL + parameters). Default 1,000,000.
    pub max_request_bytes: usize,
    /// Statements per request. Default 1000.
    pub max_statements_per_request: usize,
    /// Requests in flight at once. Default 6.
    pub concurrency: usize,
}

impl WriteOptions {
    /// Defaults for the embedded local D1. Its requests never cross a network, so a request
    /// holds up to 16 MB / 10,000 statements: fewer, larger transactions (fewer commits).
    /// Every per-statement and per-value D1 limit is still enforced.
    pub fn local() -> WriteOptions {
        WriteOptions {
            max_request_bytes: 16_000_000,
            max_statements_per_request: 10_000,
            concurrency: 6,
        }
    }

    /// Sets [`WriteOptions::max_request_bytes`], the estimated JSON body bytes per request.
    pub fn with_max_request_bytes(mut self, bytes: usize) -> WriteOptions {
        self.max_request_bytes = bytes;
        self
    }

    /// Sets [`WriteOptions::max_statements_per_request`].
    pub fn with_max_statements_per_request(mut self, statements: usize) -> WriteOptions {
        self.max_statements_per_request = statements;
        self
    }

    /// Sets [`WriteOptions::concurrency`], the requests in flight at once.
    pub fn with_concurrency(mut self, requests: usize) -> WriteOptions {
        self.concurrency = requests;
        self
    }
}

impl Default for WriteOptions {
    /// Defaults for D1 over HTTP: 1,000,000 bytes and 1000 statements per request, 6 in flight.
    fn default() -> WriteOptions {
        WriteOptions {
            max_request_bytes: 1_000_000,
            max_statements_per_request: 1000,
            concurrency: 6,
        }
    }
}

/// A write split into requests; each request is a list of statements run as one transaction.
/// Built only by [`plan_write`] (feature `testing`): the runtime streams its requests instead.
#[cfg(feature = "testing")]
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

#[cfg(feature = "testing")]
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
///
/// The runtime plans through `prepare_write` (no intermediate rows); this entry point is for
/// the planner's own tests.
#[cfg(feature = "testing")]
pub fn plan_write(
    schema: &TableSchema,
    upserts: Vec<Vec<Value>>,
    deletes: Vec<Vec<Value>>,
    encoding: Encoding,
    options: &WriteOptions,
) -> Result<WritePlan> {
    let (upserts, deletes) = prepare_write(schema, upserts, deletes, encoding)?;
    let mut plan = WritePlan {
        upsert_rows: upserts.len() as u64,
        delete_rows: deletes.len() as u64,
        ..WritePlan::default()
    };
    for (request, key) in Packer::upserts(schema, upserts, encoding, options) {
        plan.upsert_requests.push(request);
        plan.upsert_first_keys.push(key);
    }
    for (request, key) in Packer::deletes(schema, deletes, encoding, options) {
        plan.delete_requests.push(request);
        plan.delete_first_keys.push(key);
    }
    Ok(plan)
}

/// Rows (or keys) of one write in one flat buffer: `width` values per row, in column (or key)
/// order, rows concatenated. One allocation for a whole write instead of one per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rows {
    values: Vec<Value>,
    width: usize,
}

impl Rows {
    /// Rows of `width` values each, concatenated in `values` (`values.len()` is a multiple of
    /// `width`).
    pub(crate) fn from_flat(values: Vec<Value>, width: usize) -> Rows {
        debug_assert!(values.len() == values.len().checked_div(width).unwrap_or(0) * width);
        Rows { values, width }
    }

    /// Flattens rows whose arity was already checked to be `width`.
    fn from_nested(rows: Vec<Vec<Value>>, width: usize) -> Rows {
        let mut values = Vec::with_capacity(rows.len() * width);
        for row in rows {
            values.extend(row);
        }
        Rows { values, width }
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }

    /// Whether there are no rows.
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Row `i`.
    fn row(&self, i: usize) -> &[Value] {
        &self.values[i * self.width..(i + 1) * self.width]
    }

    /// Every row, in order.
    fn iter(&self) -> std::slice::ChunksExact<'_, Value> {
        self.values.chunks_exact(self.width.max(1))
    }
}

/// Checks every row and key (arity, NULLs, types, D1's size limits, the SQL limit) and
/// de-duplicates both lists. After this, packing cannot fail.
pub(crate) fn prepare_write(
    schema: &TableSchema,
    upserts: Vec<Vec<Value>>,
    deletes: Vec<Vec<Value>>,
    encoding: Encoding,
) -> Result<(Rows, Rows)> {
    let width = schema.columns.len();
    let key_width = schema.primary_key.len();
    if upserts.is_empty() && deletes.is_empty() {
        return Ok((
            Rows::from_flat(Vec::new(), width.max(1)),
            Rows::from_flat(Vec::new(), key_width.max(1)),
        ));
    }
    schema.validate()?;
    let checks = Checks::new(schema, encoding);
    checks.upserts(upserts.iter().map(Vec::as_slice))?;
    checks.finish(Rows::from_nested(upserts, width), deletes)
}

/// [`prepare_write`] for upserts already bound into one flat buffer of rows of the schema's
/// width (a [`crate::D1Target`]'s rows); same checks, same order, same errors.
pub(crate) fn prepare_bound_write(
    schema: &TableSchema,
    upserts: Rows,
    deletes: Vec<Vec<Value>>,
    encoding: Encoding,
) -> Result<(Rows, Rows)> {
    let key_width = schema.primary_key.len();
    if upserts.is_empty() && deletes.is_empty() {
        return Ok((upserts, Rows::from_flat(Vec::new(), key_width.max(1))));
    }
    schema.validate()?;
    let checks = Checks::new(schema, encoding);
    checks.upserts(upserts.iter())?;
    checks.finish(upserts, deletes)
}

/// The per-row checks of one write to one table.
struct Checks<'a> {
    schema: &'a TableSchema,
    encoding: Encoding,
    key_indices: Vec<usize>,
    key_positions: Vec<usize>,
}

impl<'a> Checks<'a> {
    /// Checks the deletes, then de-duplicates both sides (last occurrence wins) once the
    /// upserts have passed their checks.
    fn finish(&self, upserts: Rows, deletes: Vec<Vec<Value>>) -> Result<(Rows, Rows)> {
        self.deletes(deletes.iter().map(Vec::as_slice))?;
        let key_width = self.schema.primary_key.len();
        Ok((
            dedupe(upserts, &self.key_indices),
            dedupe(Rows::from_nested(deletes, key_width), &self.key_positions),
        ))
    }

    fn new(schema: &'a TableSchema, encoding: Encoding) -> Checks<'a> {
        let key_indices = schema.key_indices();
        let key_positions = (0..key_indices.len()).collect();
        Checks {
            schema,
            encoding,
            key_indices,
            key_positions,
        }
    }

    /// Checks upsert rows (values in schema column order), stopping at the first bad one.
    fn upserts<'r>(&self, rows: impl ExactSizeIterator<Item = &'r [Value]>) -> Result<()> {
        if rows.len() == 0 {
            return Ok(());
        }
        let schema = self.schema;
        let all_columns: Vec<&Column> = schema.columns.iter().collect();
        let shape = upsert_shape(schema);
        let sql_check = SqlLimitCheck::new(&shape, &all_columns, self.encoding);
        for row in rows {
            check_row(schema, &all_columns, row, &self.key_indices)?;
            sql_check.check(schema, &shape, row, &self.key_indices, self.encoding)?;
        }
        Ok(())
    }

    /// Checks delete keys (values in key order), stopping at the first bad one.
    fn deletes<'r>(&self, keys: impl ExactSizeIterator<Item = &'r [Value]>) -> Result<()> {
        if keys.len() == 0 {
            return Ok(());
        }
        let schema = self.schema;
        let key_columns: Vec<&Column> = self
            .key_indices
            .iter()
            .map(|&i| &schema.columns[i])
            .collect();
        let shape = delete_shape(schema);
        let sql_check = SqlLimitCheck::new(&shape, &key_columns, self.encoding);
        for key in keys {
            check_row(schema, &key_columns, key, &self.key_positions)?;
            sql_check.check(schema, &shape, key, &self.key_positions, self.encoding)?;
        }
        Ok(())
    }
}

/// The checks of [`prepare_bound_write`] for upsert rows that arrive in pieces, in order, so
/// that the first pieces can run while later ones are still being bound. Also tells whether
/// every key so far is strictly greater than the one before it: then no two rows share a key
/// and nothing needs de-duplicating; otherwise the caller falls back to the whole-write path,
/// which de-duplicates.
pub(crate) struct PieceChecks<'a> {
    checks: Checks<'a>,
    columns: Vec<&'a Column>,
    shape: StatementShape,
    sql_check: SqlLimitCheck,
    /// The last row checked (for its key).
    last_row: Option<Vec<Value>>,
}

impl<'a> PieceChecks<'a> {
    pub(crate) fn new(schema: &'a TableSchema, encoding: Encoding) -> Result<PieceChecks<'a>> {
        schema.validate()?;
        let columns: Vec<&Column> = schema.columns.iter().collect();
        let shape = upsert_shape(schema);
        let sql_check = SqlLimitCheck::new(&shape, &columns, encoding);
        Ok(PieceChecks {
            checks: Checks::new(schema, encoding),
            columns,
            shape,
            sql_check,
            last_row: None,
        })
    }

    /// Checks every row of `piece` (the first bad row is the error); `Ok(false)` when its keys
    /// do not strictly increase from the last row checked before.
    pub(crate) fn check(&mut self, piece: &Rows) -> Result<bool> {
        let Checks {
            schema,
            encoding,
            ref key_indices,
            ..
        } = self.checks;
        for row in piece.iter() {
            check_row(schema, &self.columns, row, key_indices)?;
            self.sql_check
                .check(schema, &self.shape, row, key_indices, encoding)?;
        }
        let mut increasing = true;
        let mut previous = self.last_row.as_deref();
        for row in piece.iter() {
            if let Some(prev) = previous
                && key_cmp(prev, row, key_indices) != std::cmp::Ordering::Less
            {
                increasing = false;
                break;
            }
            previous = Some(row);
        }
        if increasing {
            self.last_row = previous.map(<[Value]>::to_vec);
        }
        Ok(increasing)
    }

    /// Checks and de-duplicates the delete keys of the same write (values in key order), as
    /// [`prepare_bound_write`] does once the upserts passed.
    pub(crate) fn deletes(&self, deletes: Vec<Vec<Value>>) -> Result<Rows> {
        self.checks.deletes(deletes.iter().map(Vec::as_slice))?;
        let key_width = self.checks.schema.primary_key.len();
        Ok(dedupe(
            Rows::from_nested(deletes, key_width),
            &self.checks.key_positions,
        ))
    }
}

/// Whether a single row's statement can exceed the SQL limit; checked per row only then.
struct SqlLimitCheck {
    needed: bool,
}

impl SqlLimitCheck {
    fn new(shape: &StatementShape, columns: &[&Column], encoding: Encoding) -> SqlLimitCheck {
        let worst_group: usize = columns
            .iter()
            .map(|c| match (encoding, c.sql_type) {
                (Encoding::Json, SqlType::Integer) => "CAST(? AS INTEGER)".len() + 1,
                (Encoding::Json, SqlType::Blob) => "unhex(?)".len() + 1,
                _ => 2,
            })
            .sum::<usize>()
            + 2;
        SqlLimitCheck {
            needed: shape.fixed_len() + worst_group > MAX_SQL_BYTES - 1,
        }
    }

    fn check(
        &self,
        schema: &TableSchema,
        shape: &StatementShape,
        row: &[Value],
        key_positions: &[usize],
        encoding: Encoding,
    ) -> Result<()> {
        if !self.needed {
            return Ok(());
        }
        let len = shape.fixed_len() + group_len(row, encoding, shape.parens);
        if len > MAX_SQL_BYTES - 1 {
            return Err(Error::LimitExceeded {
                table: schema.name.clone(),
                limit: "bytes of SQL per statement",
                max: MAX_SQL_BYTES as u64,
                actual: len as u64,
                column: None,
                key: Some(render_row_key(row, key_positions)),
            });
        }
        Ok(())
    }
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
            .map(|c| c.name.clone());
        return Err(Error::Bind {
            table: schema.name.clone(),
            column,
            key: (row.len() >= key_positions.iter().max().map_or(0, |m| m + 1))
                .then(|| render_row_key(row, key_positions)),
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
                column: Some(c.name.clone()),
                key: Some(render_row_key(row, key_positions)),
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

/// Total order on keys consistent with [`KeyRef`] equality (REALs by `total_cmp`).
fn key_cmp(a: &[Value], b: &[Value], positions: &[usize]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Integer(_) => 1,
            Value::Real(_) => 2,
            Value::Text(_) => 3,
            Value::Blob(_) => 4,
        }
    }
    for &p in positions {
        let ord = match (&a[p], &b[p]) {
            (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
            (Value::Real(x), Value::Real(y)) => x.total_cmp(y),
            (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
            (Value::Blob(x), Value::Blob(y)) => x.cmp(y),
            (x, y) => rank(x).cmp(&rank(y)),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// A hasher for values that are already well-mixed 64-bit hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

fn key_hash(row: &[Value], positions: &[usize]) -> u64 {
    let mut h = KeyHasher::default();
    KeyRef { row, positions }.hash(&mut h);
    // Final avalanche so every bit of the key reaches the low and high bits.
    let mut x = h.finish();
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Keeps the last occurrence of each key, at the position of the key's first occurrence.
fn dedupe(rows: Rows, positions: &[usize]) -> Rows {
    if rows.len() < 2 {
        return rows;
    }
    // Keys in strictly increasing order are all distinct (a common case: sorted input).
    let mut it = rows.iter();
    let mut sorted = true;
    if let Some(mut prev) = it.next() {
        for row in it {
            if key_cmp(prev, row, positions) != std::cmp::Ordering::Less {
                sorted = false;
                break;
            }
            prev = row;
        }
    }
    if sorted {
        return rows;
    }
    let winners = match winners_by_hash(&rows, positions) {
        Some(w) => w,
        None => winners_by_key(&rows, positions),
    };
    if winners.len() == rows.len() {
        return rows;
    }
    let Rows { mut values, width } = rows;
    let mut kept = Vec::with_capacity(winners.len() * width);
    for i in winners {
        kept.extend(
            values[i * width..(i + 1) * width]
                .iter_mut()
                .map(std::mem::take),
        );
    }
    Rows::from_flat(kept, width)
}

/// Winners using a compact table of 64-bit key hashes; `None` on a (rare) hash collision
/// between different keys.
fn winners_by_hash(rows: &Rows, positions: &[usize]) -> Option<Vec<usize>> {
    let mut slots: HashMap<u64, u32, BuildHasherDefault<PassThrough>> =
        HashMap::with_capacity_and_hasher(rows.len(), BuildHasherDefault::default());
    let mut winners: Vec<usize> = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let next = u32::try_from(winners.len()).ok()?;
        let slot = *slots.entry(key_hash(row, positions)).or_insert(next) as usize;
        if slot == winners.len() {
            winners.push(i);
        } else {
            if key_cmp(rows.row(winners[slot]), row, positions) != std::cmp::Ordering::Equal {
                return None;
            }
            winners[slot] = i;
        }
    }
    Some(winners)
}

/// Winners using the keys themselves (exact, slower).
fn winners_by_key(rows: &Rows, positions: &[usize]) -> Vec<usize> {
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
}

/// Packs checked rows into statements of one shape and statements into requests, one
/// request at a time (so a sender can start on the first request while the rest are packed).
pub(crate) struct Packer {
    /// Values of the rows not yet packed, `width` per row.
    rows: std::vec::IntoIter<Value>,
    shape: StatementShape,
    key_positions: Vec<usize>,
    encoding: Encoding,
    width: usize,
    max_rows: usize,
    max_statements: usize,
    budget: usize,
    fixed_json: usize,
    full_sql: Option<String>,
    /// Values of the statement being packed.
    params: Vec<Value>,
    /// Rows in the statement being packed.
    stmt_rows: usize,
    /// SQL bytes of the statement being packed.
    stmt_sql: usize,
    /// Statements closed in the current request.
    request_statements: usize,
    /// Estimated JSON bytes of the current request.
    request_bytes: usize,
    /// The rendered key of the current request's first row.
    first_key: Option<String>,
    /// More rows may still be fed ([`Packer::feed`]): running out of rows then pauses packing
    /// instead of ending the request.
    open: bool,
}

impl Packer {
    /// Packs upsert rows (values in schema column order, already checked and de-duplicated).
    pub(crate) fn upserts(
        schema: &TableSchema,
        rows: Rows,
        encoding: Encoding,
        options: &WriteOptions,
    ) -> Packer {
        Packer::new(
            upsert_shape(schema),
            schema.key_indices(),
            rows,
            encoding,
            options,
        )
    }

    /// [`Packer::upserts`] for rows that arrive in pieces: `first`, then each
    /// [`Packer::feed`], until [`Packer::close_input`].
    pub(crate) fn upserts_open(
        schema: &TableSchema,
        first: Rows,
        encoding: Encoding,
        options: &WriteOptions,
    ) -> Packer {
        let mut packer = Packer::upserts(schema, first, encoding, options);
        packer.open = true;
        if encoding == Encoding::Native && packer.full_sql.is_none() {
            packer.full_sql = Some(packer.shape.native_sql(packer.max_rows));
        }
        packer
    }

    /// Adds rows after those not yet packed (an open packer's next piece).
    pub(crate) fn feed(&mut self, more: Rows) {
        debug_assert!(self.open && (more.is_empty() || more.width == self.width));
        if self.rows.len() == 0 {
            self.rows = more.values.into_iter();
        } else {
            let mut values: Vec<Value> = std::mem::take(&mut self.rows).collect();
            values.extend(more.values);
            self.rows = values.into_iter();
        }
    }

    /// Whether an open packer has packed every row it was fed.
    pub(crate) fn needs_rows(&self) -> bool {
        self.open && self.rows.len() == 0
    }

    /// Whether more rows may still be fed.
    pub(crate) fn is_open(&self) -> bool {
        self.open
    }

    /// Whether every row was fed and packed into a statement already handed out.
    pub(crate) fn is_drained(&self) -> bool {
        !self.open && self.rows.len() == 0 && self.stmt_rows == 0
    }

    /// No more rows will be fed: running out of rows ends the request again.
    pub(crate) fn close_input(&mut self) {
        self.open = false;
    }

    /// Packs delete keys (values in key order, already checked and de-duplicated).
    pub(crate) fn deletes(
        schema: &TableSchema,
        keys: Rows,
        encoding: Encoding,
        options: &WriteOptions,
    ) -> Packer {
        let positions = (0..schema.primary_key.len()).collect();
        Packer::new(delete_shape(schema), positions, keys, encoding, options)
    }

    fn new(
        shape: StatementShape,
        key_positions: Vec<usize>,
        rows: Rows,
        encoding: Encoding,
        options: &WriteOptions,
    ) -> Packer {
        let width = shape.width.max(1);
        debug_assert!(rows.is_empty() || rows.width == width);
        let max_rows = (MAX_PARAMS_PER_STATEMENT / width).max(1);
        let fixed_json =
            STATEMENT_JSON_OVERHEAD + json_str_len(&shape.prefix) + json_str_len(&shape.suffix);
        let full_sql =
            (encoding == Encoding::Native && !rows.is_empty()).then(|| shape.native_sql(max_rows));
        Packer {
            rows: rows.values.into_iter(),
            shape,
            key_positions,
            encoding,
            width,
            max_rows,
            max_statements: options.max_statements_per_request.max(1),
            budget: options.max_request_bytes.max(1),
            fixed_json,
            full_sql,
            params: Vec::with_capacity(max_rows * width),
            stmt_rows: 0,
            stmt_sql: 0,
            request_statements: 0,
            request_bytes: 0,
            first_key: None,
            open: false,
        }
    }

    fn statement(&self, params: Vec<Value>, rows: usize) -> Statement {
        match &self.full_sql {
            Some(sql) if rows == self.max_rows => Statement {
                sql: sql.clone(),
                params,
            },
            _ => self.shape.statement(params, self.encoding),
        }
    }
}

impl Packer {
    /// Packs statements into `out` until `max` statements were added, the current request is
    /// full, or the rows run out. Returns `true` when the current request ended (full, or no
    /// rows left and none to come); an open packer that ran out of rows returns `false` and
    /// [`Packer::needs_rows`] says so. The statements added since the last `true` form one request, whose first
    /// key [`Packer::take_first_key`] then gives. A request streams its statements in pieces
    /// this way while earlier pieces run.
    pub(crate) fn fill(&mut self, out: &mut Vec<Statement>, max: usize) -> bool {
        let sql_limit = MAX_SQL_BYTES - 1;
        let fixed_sql = self.shape.fixed_len();
        let target = out.len().saturating_add(max.max(1));
        while out.len() < target {
            // The next row stays in `rows` until it is packed.
            let Some(row) = self.rows.as_slice().get(..self.width) else {
                if self.open {
                    // Paused until the next piece is fed; the statement stays open.
                    return false;
                }
                self.close_statement(out);
                self.request_statements = 0;
                self.request_bytes = 0;
                return true;
            };
            let glen = group_len(row, self.encoding, self.shape.parens);
            let cost = glen + row.iter().map(|v| param_json_len(v) + 1).sum::<usize>();
            if self.stmt_rows > 0
                && (self.stmt_rows == self.max_rows || self.stmt_sql + glen > sql_limit)
            {
                self.close_statement(out);
            }
            let extra = if self.stmt_rows == 0 {
                self.fixed_json
            } else {
                0
            };
            let over_budget = self.request_bytes + extra + cost > self.budget;
            if (self.stmt_rows > 0 || self.request_statements > 0) && over_budget
                || (self.stmt_rows == 0 && self.request_statements >= self.max_statements)
            {
                self.close_statement(out);
                self.request_statements = 0;
                self.request_bytes = 0;
                return true;
            }
            if self.stmt_rows == 0 {
                self.stmt_sql = fixed_sql;
                self.request_bytes += self.fixed_json;
            }
            if self.first_key.is_none() {
                let row = &self.rows.as_slice()[..self.width];
                self.first_key = Some(render_row_key(row, &self.key_positions));
            }
            self.stmt_sql += glen;
            self.request_bytes += cost;
            self.stmt_rows += 1;
            self.params.extend(self.rows.by_ref().take(self.width));
        }
        false
    }

    /// The rendered key of the first row of the request packed last (for error messages).
    pub(crate) fn take_first_key(&mut self) -> String {
        self.first_key.take().unwrap_or_default()
    }

    /// Ends the statement being packed, if it has rows.
    fn close_statement(&mut self, out: &mut Vec<Statement>) {
        if self.stmt_rows == 0 {
            return;
        }
        let taken = std::mem::replace(
            &mut self.params,
            Vec::with_capacity(self.max_rows * self.width),
        );
        out.push(self.statement(taken, self.stmt_rows));
        self.stmt_rows = 0;
        self.request_statements += 1;
    }
}

impl Iterator for Packer {
    /// One request and the rendered key of its first row.
    type Item = (Vec<Statement>, String);

    fn next(&mut self) -> Option<(Vec<Statement>, String)> {
        let mut request = Vec::new();
        while !self.fill(&mut request, usize::MAX) {}
        if request.is_empty() {
            None
        } else {
            Some((request, self.take_first_key()))
        }
    }
}
