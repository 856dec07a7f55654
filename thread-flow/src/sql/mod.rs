//! SQL text from a [`TableSchema`](crate::TableSchema): identifiers, DDL, upserts, deletes,
//! selects, the batch planner and the migration planner. No I/O happens here.
//!
//! - [`quote_ident`]: every identifier is double-quoted with inner quotes doubled.
//! - [`ddl`]: `CREATE TABLE` / `CREATE INDEX` / drops.
//! - [`write`](mod@write): multi-row upserts and multi-key deletes.
//! - [`plan`]: splits a write into statements and requests within D1's limits.
//! - [`select`]: get-by-key, count, select-all and the decoder for what they return.
//! - [`migrate`]: the plan that brings a live table to a target schema.
//! - [`introspect`]: the statements that read a live schema and the parser of their results.

pub mod ddl;
pub mod introspect;
pub mod migrate;
pub mod plan;
pub mod select;
pub mod write;

pub use migrate::{
    MigrationOptions, MigrationPlan, MigrationStep, TableDependents, plan_migration,
    plan_migration_of_empty_table, plan_migration_with,
};
pub use plan::WriteOptions;
#[cfg(feature = "testing")]
pub use plan::WritePlan;
// For the planners' own tests (feature `testing`, not stable API).
#[cfg(feature = "testing")]
pub use migrate::{ReferencingKey, TableTrigger, plan_drop};
#[cfg(feature = "testing")]
pub use plan::plan_write;

use crate::Value;

/// D1's limit on bound parameters per statement.
pub const MAX_PARAMS_PER_STATEMENT: usize = 100;
/// D1's limit on the SQL text of one statement, in bytes.
pub const MAX_SQL_BYTES: usize = 100_000;
/// D1's limit on one string or BLOB value, in bytes.
pub const MAX_VALUE_BYTES: usize = 2_000_000;
/// D1's limit on one row, in bytes.
pub const MAX_ROW_BYTES: usize = 2_000_000;
/// The largest integer a JSON number carries exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// One SQL statement with its bound parameters (`?` placeholders, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// SQL text.
    pub sql: String,
    /// Parameters for the `?` placeholders, in order.
    pub params: Vec<Value>,
}

impl Statement {
    /// A statement with parameters.
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Statement {
        Statement {
            sql: sql.into(),
            params,
        }
    }

    /// A statement without parameters.
    pub fn raw(sql: impl Into<String>) -> Statement {
        Statement {
            sql: sql.into(),
            params: Vec::new(),
        }
    }
}

/// How parameters travel to the database, which decides how placeholders are written.
///
/// Non-exhaustive: a new transport may bring its own encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// Values bind natively (embedded SQLite): `?` everywhere.
    Native,
    /// Values travel as JSON (D1's HTTP API): integers beyond ±(2^53-1) are sent as text inside
    /// `CAST(? AS INTEGER)`, BLOBs as hex text inside `unhex(?)`; selects read INTEGER columns
    /// as text and BLOB columns as hex so the round trip is exact.
    Json,
}

/// Quotes an identifier for SQLite: wrapped in double quotes, inner double quotes doubled.
///
/// Works for keywords, spaces, dots and any unicode: `order` -> `"order"`, `a"b` -> `"a""b"`.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    push_ident(&mut out, name);
    out
}

/// Appends the quoted identifier to `out` (see [`quote_ident`]).
pub fn push_ident(out: &mut String, name: &str) {
    out.push('"');
    for ch in name.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
}

/// Renders a value as a SQL literal (`NULL`, `42`, `1.5`, `'it''s'`, `X'00FF'`).
///
/// Used only for DDL defaults; row values are always bound parameters.
pub fn literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => {
            if r.is_finite() {
                format!("{r:?}")
            } else {
                "NULL".into()
            }
        }
        Value::Text(s) => {
            let mut out = String::with_capacity(s.len() + 2);
            out.push('\'');
            for ch in s.chars() {
                if ch == '\'' {
                    out.push('\'');
                }
                out.push(ch);
            }
            out.push('\'');
            out
        }
        Value::Blob(b) => format!("X'{}'", hex_encode(b)),
    }
}

/// Renders a row key for messages: `"a"` for one column, `("a", 1)` for several.
pub fn render_key(values: &[Value]) -> String {
    if values.len() == 1 {
        values[0].describe()
    } else {
        let parts: Vec<String> = values.iter().map(Value::describe).collect();
        format!("({})", parts.join(", "))
    }
}

/// Renders the key of `row` (values in schema column order) given the key column positions.
pub fn render_row_key(row: &[Value], key_indices: &[usize]) -> String {
    let key: Vec<Value> = key_indices
        .iter()
        .map(|&i| row.get(i).cloned().unwrap_or_default())
        .collect();
    render_key(&key)
}

/// Uppercase hex of `bytes` (what `unhex()` reads and `hex()` returns).
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// Decodes hex text (either case). `None` when the text is not hex.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// `{"sql":,"params":[]},` around each statement in a batch body.
pub(crate) const STATEMENT_JSON_OVERHEAD: usize = 24;

/// Bytes of `s` as a JSON string, quotes and escapes included.
pub(crate) fn json_str_len(s: &str) -> usize {
    // Branch-free count so it vectorizes; control characters are counted as `\u00XX`
    // (an overestimate for `\n`, `\t`, ...), which keeps the estimate on the safe side.
    let mut extra = 0usize;
    for &b in s.as_bytes() {
        extra += usize::from(b == b'"' || b == b'\\') + 5 * usize::from(b < 0x20);
    }
    s.len() + 2 + extra
}

/// Bytes of one parameter as JSON (BLOBs as hex text, as [`Encoding::Json`] sends them).
pub(crate) fn param_json_len(v: &Value) -> usize {
    match v {
        Value::Null => 4,
        Value::Integer(i) => {
            let digits = if *i == 0 {
                1
            } else {
                i.unsigned_abs().ilog10() as usize + 1
            };
            // Big integers travel as quoted text.
            digits
                + usize::from(*i < 0)
                + if i.unsigned_abs() > MAX_SAFE_INTEGER as u64 {
                    2
                } else {
                    0
                }
        }
        Value::Real(_) => 24,
        Value::Text(s) => json_str_len(s),
        Value::Blob(b) => b.len() * 2 + 2,
    }
}

/// The placeholder for `v` under `encoding` (see [`Encoding`]).
pub fn placeholder(v: &Value, encoding: Encoding) -> &'static str {
    match (encoding, v) {
        (Encoding::Json, Value::Integer(i)) if i.unsigned_abs() > MAX_SAFE_INTEGER as u64 => {
            "CAST(? AS INTEGER)"
        }
        (Encoding::Json, Value::Blob(_)) => "unhex(?)",
        _ => "?",
    }
}

/// Converts a parameter for `encoding` (big integers to decimal text, BLOBs to hex text under
/// [`Encoding::Json`]); pairs with [`placeholder`].
pub fn encode_param(v: Value, encoding: Encoding) -> Value {
    match (encoding, v) {
        (Encoding::Json, Value::Integer(i)) if i.unsigned_abs() > MAX_SAFE_INTEGER as u64 => {
            Value::Text(i.to_string())
        }
        (Encoding::Json, Value::Blob(b)) => Value::Text(hex_encode(&b)),
        (_, v) => v,
    }
}

/// Builds a statement whose placeholders follow `encoding` from SQL written with plain `?`
/// (one per parameter, none inside string literals or quoted identifiers).
pub fn encoded_statement(sql: &str, params: Vec<Value>, encoding: Encoding) -> Statement {
    if encoding == Encoding::Native || !params.iter().any(|p| placeholder(p, encoding) != "?") {
        return Statement::new(sql, params);
    }
    let mut out = String::with_capacity(sql.len() + 16 * params.len());
    let mut it = params.iter();
    let mut in_quote: Option<char> = None;
    for ch in sql.chars() {
        match in_quote {
            Some(q) => {
                if ch == q {
                    in_quote = None;
                }
                out.push(ch);
            }
            None => match ch {
                '\'' | '"' | '`' => {
                    in_quote = Some(ch);
                    out.push(ch);
                }
                '?' => out.push_str(it.next().map(|p| placeholder(p, encoding)).unwrap_or("?")),
                _ => out.push(ch),
            },
        }
    }
    let params = params
        .into_iter()
        .map(|p| encode_param(p, encoding))
        .collect();
    Statement::new(out, params)
}

#[cfg(test)]
mod tests {
    use super::quote_ident;

    #[test]
    fn identifiers_are_double_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_ident("order"), "\"order\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("a.b c"), "\"a.b c\"");
    }
}
