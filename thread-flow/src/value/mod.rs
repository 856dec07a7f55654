//! Values crossing the wire: the dynamic [`Value`] and the [`D1Value`] trait for field types.

mod impls;

use serde::{Deserialize, Serialize};

use crate::schema::SqlType;

/// A SQLite value: the five storage classes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "UPPERCASE")]
pub enum Value {
    /// SQL NULL.
    #[default]
    Null,
    /// 64-bit signed integer.
    Integer(i64),
    /// 64-bit float (always finite when produced by an encoder).
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Raw bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// The storage class of this value (`None` for NULL).
    pub fn sql_type(&self) -> Option<SqlType> {
        match self {
            Value::Null => None,
            Value::Integer(_) => Some(SqlType::Integer),
            Value::Real(_) => Some(SqlType::Real),
            Value::Text(_) => Some(SqlType::Text),
            Value::Blob(_) => Some(SqlType::Blob),
        }
    }

    /// Whether this is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Bytes this value occupies in a row (what D1's 2,000,000-byte limit counts).
    pub fn byte_len(&self) -> usize {
        match self {
            Value::Null => 0,
            Value::Integer(_) | Value::Real(_) => 8,
            Value::Text(s) => s.len(),
            Value::Blob(b) => b.len(),
        }
    }

    /// A short human rendering used in error messages (long text and blobs are cut).
    pub fn describe(&self) -> String {
        match self {
            Value::Null => "NULL".into(),
            Value::Integer(i) => i.to_string(),
            Value::Real(r) => r.to_string(),
            Value::Text(s) => {
                let mut cut: String = s.chars().take(64).collect();
                if cut.len() < s.len() {
                    cut.push('…');
                }
                format!("{cut:?}")
            }
            Value::Blob(b) => format!("<{} bytes>", b.len()),
        }
    }
}

/// Why a value could not be encoded or decoded. The runtime adds the table, column and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    /// What went wrong, in plain words.
    pub message: String,
}

impl ValueError {
    /// A new error with `message`.
    pub fn new(message: impl Into<String>) -> ValueError {
        ValueError {
            message: message.into(),
        }
    }

    /// "expected X, found Y" for decoders.
    pub fn unexpected(expected: &str, found: &Value) -> ValueError {
        let found = match found.sql_type() {
            Some(t) => format!("{t} {}", found.describe()),
            None => "NULL".into(),
        };
        ValueError::new(format!("expected {expected}, found {found}"))
    }
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ValueError {}

/// A Rust type that can be stored in one D1 column.
///
/// Implemented for the types in the README's mapping table; `#[derive(D1Value)]` implements
/// it for enums and newtypes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a D1 column",
    label = "this field's type does not implement `D1Value`",
    note = "use a supported type (integers, f64, bool, String, Vec<u8>, Option<T>, ...), \
            add `#[d1(json)]` to store it as JSON text, `#[derive(D1Value)]` on your enum or \
            newtype, or `#[d1(skip)]`"
)]
pub trait D1Value: Sized {
    /// The column type.
    const SQL_TYPE: SqlType;
    /// Whether the column is nullable (true only for `Option<T>`).
    const NULLABLE: bool = false;

    /// Encodes the value. Fails for values D1 cannot carry (NaN, infinities).
    fn to_value(&self) -> Result<Value, ValueError>;

    /// Decodes a value read back from D1.
    fn from_value(value: Value) -> Result<Self, ValueError>;

    /// Decodes `value` as this type and encodes the result: what a column of this type stores
    /// for a value given in its storage form (the ReCoco export runs it on every collected
    /// value, so an enum, newtype or `#[d1(json)]` column is encoded by its own codec).
    ///
    /// An override may only skip work (a copy of the text, a re-encoding of a value already in
    /// this type's own form); it must return what `from_value` then `to_value` would.
    fn reencode(value: Value) -> Result<Value, ValueError> {
        Self::from_value(value)?.to_value()
    }
}

/// Marker for types allowed in a primary key: not nullable, not floating point, not JSON.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a primary key",
    label = "key fields must be integers, bool, text, bytes, uuid, dates or a D1Value enum/newtype",
    note = "floats, `Option<T>` and JSON fields make unreliable keys; choose another key field"
)]
pub trait D1KeyValue: D1Value {}

/// Stores any `Serialize + DeserializeOwned` value as compact JSON text (`#[d1(json)]`).
///
/// Used by the derive; you can also wrap a field in it by hand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T> D1Value for Json<T>
where
    T: Serialize + for<'de> Deserialize<'de>,
{
    const SQL_TYPE: SqlType = SqlType::Text;

    fn to_value(&self) -> Result<Value, ValueError> {
        json_to_value(&self.0)
    }

    fn from_value(value: Value) -> Result<Self, ValueError> {
        json_from_value(value).map(Json)
    }
}

/// Encodes a `#[d1(json)]` field without cloning it.
pub fn json_to_value<T: Serialize + ?Sized>(v: &T) -> Result<Value, ValueError> {
    serde_json::to_string(v)
        .map(Value::Text)
        .map_err(|e| ValueError::new(format!("cannot encode as JSON: {e}")))
}

/// Decodes a `#[d1(json)]` field.
pub fn json_from_value<T: for<'de> Deserialize<'de>>(value: Value) -> Result<T, ValueError> {
    match value {
        Value::Text(s) => {
            serde_json::from_str(&s).map_err(|e| ValueError::new(format!("invalid JSON text: {e}")))
        }
        other => Err(ValueError::unexpected("JSON TEXT", &other)),
    }
}
