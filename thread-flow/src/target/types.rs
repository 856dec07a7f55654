//! ReCoco value types -> D1 column types, and ReCoco values -> bound [`Value`]s.
//!
//! | ReCoco | column | value |
//! |---|---|---|
//! | Bytes | BLOB | raw bytes |
//! | Str | TEXT | the string |
//! | Bool | INTEGER | 0 / 1 |
//! | Int64 | INTEGER | the integer |
//! | Float32, Float64 | REAL | finite floats only (NaN / inf are a bind error) |
//! | Uuid | TEXT | lowercase hyphenated |
//! | Date | TEXT | `YYYY-MM-DD` |
//! | Time | TEXT | `HH:MM:SS.nnnnnnnnn` |
//! | LocalDateTime | TEXT | `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn` |
//! | OffsetDateTime | TEXT | converted to UTC: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` |
//! | TimeDelta | INTEGER | microseconds |
//! | Range | TEXT | JSON `[start,end]` |
//! | Json | TEXT | compact JSON |
//! | Vector, Union, Struct, Table | TEXT | compact JSON (structs as objects keyed by field name) |
//!
//! The date/time forms are the ones `#[derive(D1Target)]` uses for chrono fields, so a
//! `D1Table<T>` reads rows a flow wrote.

use recoco_core::base::schema::{BasicValueType, ValueType};
use recoco_core::base::value::{self as rv, BasicValue, KeyPart, TypedValue};

use crate::{SqlType, Value};

const DATE: &str = "%Y-%m-%d";
const TIME: &str = "%H:%M:%S%.9f";
const NAIVE_DATETIME: &str = "%Y-%m-%dT%H:%M:%S%.9f";
const UTC_DATETIME: &str = "%Y-%m-%dT%H:%M:%S%.9fZ";

/// The D1 column type a ReCoco value type is stored as.
pub fn sql_type_of(typ: &ValueType) -> SqlType {
    match typ {
        ValueType::Basic(b) => match b {
            BasicValueType::Bytes => SqlType::Blob,
            BasicValueType::Bool | BasicValueType::Int64 | BasicValueType::TimeDelta => {
                SqlType::Integer
            }
            BasicValueType::Float32 | BasicValueType::Float64 => SqlType::Real,
            BasicValueType::Str
            | BasicValueType::Range
            | BasicValueType::Uuid
            | BasicValueType::Date
            | BasicValueType::Time
            | BasicValueType::LocalDateTime
            | BasicValueType::OffsetDateTime
            | BasicValueType::Json
            | BasicValueType::Vector(_)
            | BasicValueType::Union(_) => SqlType::Text,
        },
        ValueType::Struct(_) | ValueType::Table(_) => SqlType::Text,
    }
}

/// Whether ReCoco allows this type in a key (and so whether we can bind it as a key part).
pub fn is_key_type(typ: &ValueType) -> bool {
    match typ {
        ValueType::Basic(b) => matches!(
            b,
            BasicValueType::Bytes
                | BasicValueType::Str
                | BasicValueType::Bool
                | BasicValueType::Int64
                | BasicValueType::Range
                | BasicValueType::Uuid
                | BasicValueType::Date
        ),
        ValueType::Struct(s) => s.fields.iter().all(|f| is_key_type(&f.value_type.typ)),
        ValueType::Table(_) => false,
    }
}

/// Encodes one key part of type `typ`.
pub fn key_part_to_value(part: &KeyPart, typ: &ValueType) -> Result<Value, String> {
    Ok(match part {
        KeyPart::Bytes(b) => Value::Blob(b.to_vec()),
        KeyPart::Str(s) => Value::Text(s.to_string()),
        KeyPart::Bool(b) => Value::Integer(i64::from(*b)),
        KeyPart::Int64(i) => Value::Integer(*i),
        KeyPart::Range(r) => range_text(r),
        KeyPart::Uuid(u) => Value::Text(u.hyphenated().to_string()),
        KeyPart::Date(d) => Value::Text(d.format(DATE).to_string()),
        KeyPart::Struct(_) => {
            let v = rv::Value::from(part);
            json_text(&TypedValue { t: typ, v: &v })?
        }
    })
}

/// Encodes one field value of type `typ` (NULL for a null value).
pub fn field_to_value(value: &rv::Value, typ: &ValueType) -> Result<Value, String> {
    match value {
        rv::Value::Null => Ok(Value::Null),
        rv::Value::Basic(b) => basic_to_value(b, value, typ),
        rv::Value::Struct(_)
        | rv::Value::UTable(_)
        | rv::Value::KTable(_)
        | rv::Value::LTable(_) => json_text(&TypedValue { t: typ, v: value }),
    }
}

fn basic_to_value(b: &BasicValue, whole: &rv::Value, typ: &ValueType) -> Result<Value, String> {
    Ok(match b {
        BasicValue::Bytes(b) => Value::Blob(b.to_vec()),
        BasicValue::Str(s) => Value::Text(s.to_string()),
        BasicValue::Bool(b) => Value::Integer(i64::from(*b)),
        BasicValue::Int64(i) => Value::Integer(*i),
        BasicValue::Float32(f) => real(f64::from(*f))?,
        BasicValue::Float64(f) => real(*f)?,
        BasicValue::Range(r) => range_text(r),
        BasicValue::Uuid(u) => Value::Text(u.hyphenated().to_string()),
        BasicValue::Date(d) => Value::Text(d.format(DATE).to_string()),
        BasicValue::Time(t) => Value::Text(t.format(TIME).to_string()),
        BasicValue::LocalDateTime(t) => Value::Text(t.format(NAIVE_DATETIME).to_string()),
        BasicValue::OffsetDateTime(t) => Value::Text(
            t.with_timezone(&chrono::Utc)
                .format(UTC_DATETIME)
                .to_string(),
        ),
        BasicValue::TimeDelta(d) => Value::Integer(
            d.num_microseconds()
                .ok_or_else(|| format!("duration {d} does not fit in 64-bit microseconds"))?,
        ),
        BasicValue::Json(j) => json_text(&**j)?,
        BasicValue::Vector(_) | BasicValue::UnionVariant { .. } => {
            json_text(&TypedValue { t: typ, v: whole })?
        }
    })
}

fn real(f: f64) -> Result<Value, String> {
    if f.is_finite() {
        Ok(Value::Real(f))
    } else {
        Err(format!(
            "{f} is not a finite number; D1 cannot store NaN or infinity"
        ))
    }
}

fn range_text(r: &rv::RangeValue) -> Value {
    Value::Text(format!("[{},{}]", r.start, r.end))
}

fn json_text<T: serde::Serialize + ?Sized>(v: &T) -> Result<Value, String> {
    serde_json::to_string(v)
        .map(Value::Text)
        .map_err(|e| format!("cannot encode as JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use recoco_core::base::schema::{EnrichedValueType, FieldSchema, StructSchema};

    use super::*;

    fn basic(t: BasicValueType) -> ValueType {
        ValueType::Basic(t)
    }

    #[test]
    fn scalars_map_to_storage_classes() {
        assert_eq!(sql_type_of(&basic(BasicValueType::Bool)), SqlType::Integer);
        assert_eq!(sql_type_of(&basic(BasicValueType::Bytes)), SqlType::Blob);
        assert_eq!(sql_type_of(&basic(BasicValueType::Float32)), SqlType::Real);
        assert_eq!(sql_type_of(&basic(BasicValueType::Uuid)), SqlType::Text);
        assert_eq!(
            sql_type_of(&basic(BasicValueType::TimeDelta)),
            SqlType::Integer
        );
    }

    #[test]
    fn key_parts_encode_like_the_derive() {
        let t = basic(BasicValueType::Str);
        assert_eq!(
            key_part_to_value(&KeyPart::Bool(true), &t),
            Ok(Value::Integer(1))
        );
        let u = uuid::Uuid::from_u128(0xA1A2A3A4B1B2C1C2D1D2D3D4D5D6D7D8);
        assert_eq!(
            key_part_to_value(&KeyPart::Uuid(u), &t),
            Ok(Value::Text("a1a2a3a4-b1b2-c1c2-d1d2-d3d4d5d6d7d8".into()))
        );
        let d = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default();
        assert_eq!(
            key_part_to_value(&KeyPart::Date(d), &t),
            Ok(Value::Text("2024-02-29".into()))
        );
        assert_eq!(
            key_part_to_value(&KeyPart::Range(rv::RangeValue::new(3, 9)), &t),
            Ok(Value::Text("[3,9]".into()))
        );
    }

    #[test]
    fn struct_key_is_a_json_object() {
        let st = ValueType::Struct(StructSchema {
            fields: Arc::new(vec![
                FieldSchema::new(
                    "file",
                    EnrichedValueType {
                        typ: basic(BasicValueType::Str),
                        nullable: false,
                        attrs: Default::default(),
                    },
                ),
                FieldSchema::new(
                    "line",
                    EnrichedValueType {
                        typ: basic(BasicValueType::Int64),
                        nullable: false,
                        attrs: Default::default(),
                    },
                ),
            ]),
            description: None,
        });
        let part = KeyPart::Struct(vec![KeyPart::Str("a.rs".into()), KeyPart::Int64(7)]);
        assert_eq!(
            key_part_to_value(&part, &st),
            Ok(Value::Text(r#"{"file":"a.rs","line":7}"#.into()))
        );
    }

    #[test]
    fn non_finite_floats_are_refused() {
        let v = rv::Value::Basic(BasicValue::Float64(f64::NAN));
        assert!(field_to_value(&v, &basic(BasicValueType::Float64)).is_err());
        let v = rv::Value::Basic(BasicValue::Float32(1.5));
        assert_eq!(
            field_to_value(&v, &basic(BasicValueType::Float32)),
            Ok(Value::Real(1.5))
        );
    }

    #[test]
    fn offset_datetime_is_utc_with_z() {
        let t = chrono::DateTime::parse_from_rfc3339("2024-05-01T12:00:00+02:00");
        let Ok(t) = t else { panic!("bad test literal") };
        let v = rv::Value::Basic(BasicValue::OffsetDateTime(t));
        assert_eq!(
            field_to_value(&v, &basic(BasicValueType::OffsetDateTime)),
            Ok(Value::Text("2024-05-01T10:00:00.000000000Z".into()))
        );
    }

    #[test]
    fn json_and_vectors_are_compact_text() {
        let v = rv::Value::Basic(BasicValue::Json(Arc::new(serde_json::json!({"a": [1, 2]}))));
        assert_eq!(
            field_to_value(&v, &basic(BasicValueType::Json)),
            Ok(Value::Text(r#"{"a":[1,2]}"#.into()))
        );
        let vt = basic(BasicValueType::Vector(
            recoco_core::base::schema::VectorTypeSchema {
                element_type: Box::new(BasicValueType::Int64),
                dimension: None,
            },
        ));
        let v = rv::Value::Basic(BasicValue::Vector(Arc::from(vec![
            BasicValue::Int64(1),
            BasicValue::Int64(2),
        ])));
        assert_eq!(field_to_value(&v, &vt), Ok(Value::Text("[1,2]".into())));
        assert_eq!(field_to_value(&rv::Value::Null, &vt), Ok(Value::Null));
    }
}
