//! ReCoco value types -> D1 column types, and ReCoco values -> bound [`Value`]s.
//!
//! A ReCoco value holds a Rust value (`Arc<str>`, `i64`, `uuid::Uuid`, `chrono::NaiveDate`,
//! `serde_json::Value`, ...): it is encoded by that type's [`D1Value`] implementation, the same
//! code `#[derive(D1Target)]` binds with, so this module holds no encoding of its own for them.
//! Only what has no Rust counterpart in the runtime is ReCoco-specific here:
//!
//! | ReCoco | column | value |
//! |---|---|---|
//! | Bytes, Str, Bool, Int64, Float32, Float64, Uuid, Date, Time, LocalDateTime, Json | per [`D1Value`] of its Rust type | `Vec<u8>`/`Arc<str>`/`bool`/`i64`/`f32`/`f64`/`Uuid`/`NaiveDate`/`NaiveTime`/`NaiveDateTime`/`serde_json::Value` |
//! | OffsetDateTime | TEXT | converted to UTC, then as `DateTime<Utc>` |
//! | TimeDelta | INTEGER | microseconds |
//! | Range | TEXT | JSON `[start,end]` |
//! | Vector, Union, Struct, Table | TEXT | compact JSON (structs as objects keyed by field name) |
//!
//! With a `#[derive(D1Target)]` struct (`thread_flow::recoco::export::<T>()`), each column's value is
//! then passed through the field's own codec ([`D1Value::reencode`]; see `columns.rs`), so an
//! enum, a newtype or a `#[d1(json)]` field is stored exactly as `D1Table<T>` stores it. Without
//! a struct (a spec arriving as data, or no schema at all), the values above are stored as is.

use recoco_core::base::schema::{BasicValueType, ValueType};
use recoco_core::base::value::{self as rv, BasicValue, KeyPart, TypedValue};

use crate::value::json_to_value;
use crate::{D1Value, SqlType, Value, ValueError};

/// The D1 column type a ReCoco value type is stored as.
pub(crate) fn sql_type_of(typ: &ValueType) -> SqlType {
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
pub(crate) fn is_key_type(typ: &ValueType) -> bool {
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
pub(crate) fn key_part_to_value(part: &KeyPart, typ: &ValueType) -> Result<Value, ValueError> {
    match part {
        KeyPart::Bytes(b) => b.to_value(),
        KeyPart::Str(s) => s.to_value(),
        KeyPart::Bool(b) => b.to_value(),
        KeyPart::Int64(i) => i.to_value(),
        KeyPart::Range(r) => Ok(range_text(r)),
        KeyPart::Uuid(u) => u.to_value(),
        KeyPart::Date(d) => d.to_value(),
        KeyPart::Struct(_) => {
            let v = rv::Value::from(part);
            json_to_value(&TypedValue { t: typ, v: &v })
        }
    }
}

/// Encodes one field value of type `typ` (NULL for a null value).
pub(crate) fn field_to_value(value: &rv::Value, typ: &ValueType) -> Result<Value, ValueError> {
    match value {
        rv::Value::Null => Ok(Value::Null),
        rv::Value::Basic(b) => basic_to_value(b, value, typ),
        rv::Value::Struct(_)
        | rv::Value::UTable(_)
        | rv::Value::KTable(_)
        | rv::Value::LTable(_) => json_to_value(&TypedValue { t: typ, v: value }),
    }
}

fn basic_to_value(b: &BasicValue, whole: &rv::Value, typ: &ValueType) -> Result<Value, ValueError> {
    match b {
        BasicValue::Bytes(b) => b.to_value(),
        BasicValue::Str(s) => s.to_value(),
        BasicValue::Bool(b) => b.to_value(),
        BasicValue::Int64(i) => i.to_value(),
        BasicValue::Float32(f) => f.to_value(),
        BasicValue::Float64(f) => f.to_value(),
        BasicValue::Range(r) => Ok(range_text(r)),
        BasicValue::Uuid(u) => u.to_value(),
        BasicValue::Date(d) => d.to_value(),
        BasicValue::Time(t) => t.to_value(),
        BasicValue::LocalDateTime(t) => t.to_value(),
        BasicValue::OffsetDateTime(t) => t.with_timezone(&chrono::Utc).to_value(),
        BasicValue::TimeDelta(d) => d.num_microseconds().map(Value::Integer).ok_or_else(|| {
            ValueError::new(format!("duration {d} does not fit in 64-bit microseconds"))
        }),
        BasicValue::Json(j) => (**j).to_value(),
        BasicValue::Vector(_) | BasicValue::UnionVariant { .. } => {
            json_to_value(&TypedValue { t: typ, v: whole })
        }
    }
}

fn range_text(r: &rv::RangeValue) -> Value {
    Value::Text(format!("[{},{}]", r.start, r.end))
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
    fn ranges_are_json_pairs() {
        let t = basic(BasicValueType::Range);
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
