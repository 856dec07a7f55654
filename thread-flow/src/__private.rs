//! Support code for the derive macros. Not public API: names here may change in any release.

pub use std::boxed::Box;
pub use std::clone::Clone;
pub use std::default::Default;
pub use std::option::Option;
pub use std::result::Result;
pub use std::string::String;
pub use std::sync::OnceLock;
pub use std::vec;
pub use std::vec::Vec;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::schema::SqlType;
pub use crate::value::{json_from_value, json_to_value};
use crate::{ColumnError, D1KeyValue, D1Value, TableSchema, Value, ValueError};

/// One column's codec for a value given in the column's storage form: decodes it as the
/// field's type and encodes it with the field's codec (`D1Target::column_codecs`).
pub type ColumnCodec = fn(Value) -> Result<Value, ValueError>;

/// Compile-time check that a field's type can be stored in a column (errors point at the
/// field's type through `D1Value`'s `on_unimplemented` message).
pub const fn assert_d1_value<T: D1Value>() {}

/// Compile-time check that a key field's type can be part of a primary key.
pub const fn assert_d1_key_value<T: D1KeyValue>() {}

/// Whether a literal default of type `default` may stand in a column of type `column`
/// (an integer literal is fine in a REAL column, as SQLite converts it exactly).
pub const fn default_fits(column: SqlType, default: SqlType) -> bool {
    matches!(
        (column, default),
        (SqlType::Integer, SqlType::Integer)
            | (SqlType::Real, SqlType::Real)
            | (SqlType::Real, SqlType::Integer)
            | (SqlType::Text, SqlType::Text)
            | (SqlType::Blob, SqlType::Blob)
    )
}

/// Whether a field whose type is stored as `natural` can be kept in a `column` column
/// (`sql_type = ".."`): the conversions [`to_column`] and [`from_column`] make both ways.
pub const fn sql_type_override_fits(natural: SqlType, column: SqlType) -> bool {
    matches!(
        (natural, column),
        (
            SqlType::Integer,
            SqlType::Integer | SqlType::Text | SqlType::Real
        ) | (SqlType::Real, SqlType::Real | SqlType::Text)
            | (SqlType::Text, SqlType::Text | SqlType::Blob)
            | (SqlType::Blob, SqlType::Blob)
    )
}

/// Checks a derived schema once, in debug builds: the derive already enforces every rule at
/// compile time, so a failure here is a bug in thread-flow, reported loudly.
pub fn debug_validate(schema: &TableSchema) {
    if cfg!(debug_assertions)
        && let Err(e) = schema.validate()
    {
        panic!("thread-flow bug: #[derive(D1Target)] produced an invalid schema: {e}");
    }
}

/// Encodes a field whose column type is overridden with `sql_type = ".."`.
pub fn to_column(value: Result<Value, ValueError>, column: SqlType) -> Result<Value, ValueError> {
    let value = value?;
    match (value, column) {
        (Value::Null, _) => Ok(Value::Null),
        (Value::Integer(i), SqlType::Integer) => Ok(Value::Integer(i)),
        (Value::Integer(i), SqlType::Text) => Ok(Value::Text(i.to_string())),
        (Value::Integer(i), SqlType::Real) => {
            #[allow(clippy::cast_precision_loss)]
            let r = i as f64;
            #[allow(clippy::cast_possible_truncation)]
            if r as i64 == i && r.abs() < 9_007_199_254_740_992.0 {
                Ok(Value::Real(r))
            } else {
                Err(ValueError::new(format!(
                    "{i} cannot be stored exactly in a REAL column"
                )))
            }
        }
        (Value::Real(r), SqlType::Real) => Ok(Value::Real(r)),
        (Value::Real(r), SqlType::Text) => Ok(Value::Text(r.to_string())),
        (Value::Text(s), SqlType::Text) => Ok(Value::Text(s)),
        (Value::Text(s), SqlType::Blob) => Ok(Value::Blob(s.into_bytes())),
        (Value::Blob(b), SqlType::Blob) => Ok(Value::Blob(b)),
        (value, column) => Err(ValueError::new(format!(
            "a {} value cannot be stored in a {column} column (sql_type override)",
            value.sql_type().map_or("NULL", SqlType::as_sql)
        ))),
    }
}

/// Decodes a value read from a column whose type is overridden with `sql_type = ".."`,
/// converting it back to the field type's own storage class `natural`.
pub fn from_column(value: Value, natural: SqlType) -> Result<Value, ValueError> {
    match (value, natural) {
        (Value::Text(s), SqlType::Integer) => s
            .parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| ValueError::new(format!("{s:?} is not a decimal integer"))),
        (Value::Text(s), SqlType::Real) => s
            .parse::<f64>()
            .map(Value::Real)
            .map_err(|_| ValueError::new(format!("{s:?} is not a number"))),
        (Value::Real(r), SqlType::Integer) => {
            #[allow(clippy::cast_possible_truncation)]
            let i = r as i64;
            #[allow(clippy::cast_precision_loss)]
            if i as f64 == r {
                Ok(Value::Integer(i))
            } else {
                Err(ValueError::new(format!("{r} is not an integer")))
            }
        }
        (Value::Blob(b), SqlType::Text) => String::from_utf8(b)
            .map(Value::Text)
            .map_err(|_| ValueError::new("BLOB is not valid UTF-8 text")),
        (value, _) => Ok(value),
    }
}

/// Encodes an `Option<T>` `#[d1(json)]` field: `None` is NULL, `Some(v)` is v's JSON text.
pub fn json_option_to_value<T: Serialize>(v: &Option<T>) -> Result<Value, ValueError> {
    match v {
        None => Ok(Value::Null),
        Some(v) => crate::value::json_to_value(v),
    }
}

/// Decodes an `Option<T>` `#[d1(json)]` field.
pub fn json_option_from_value<T: DeserializeOwned>(value: Value) -> Result<Option<T>, ValueError> {
    match value {
        Value::Null => Ok(None),
        v => crate::value::json_from_value(v).map(Some),
    }
}

/// A column that is absent from a result row.
pub fn missing_column(column: &'static str) -> ColumnError {
    ColumnError::new(column, ValueError::new("missing from the result row"))
}

/// A result row with more values than the table has columns.
pub fn extra_values(table_columns: usize, found: usize) -> ColumnError {
    ColumnError::row(ValueError::new(format!(
        "result row has {found} values, the table has {table_columns} columns"
    )))
}

/// An enum value stored as text that names no variant.
pub fn unknown_variant(type_name: &str, found: &str, expected: &[&str]) -> ValueError {
    ValueError::new(format!(
        "{found:?} is not a variant of {type_name}; expected one of {}",
        expected.join(", ")
    ))
}

/// An enum value stored as an integer that matches no discriminant.
pub fn unknown_discriminant(type_name: &str, found: i64) -> ValueError {
    ValueError::new(format!("{found} is not a discriminant of {type_name}"))
}

/// A lookup built by a derived `by_..` function: `columns` checked at compile time, one
/// encoded value (or its encoding error) per column.
pub fn lookup<T: crate::D1Target>(
    columns: &[&'static str],
    values: Vec<Result<Value, ColumnError>>,
) -> crate::Lookup<T> {
    crate::Lookup::derived(columns, values)
}
