//! Every supported field type encodes through `bind_row` and decodes through `from_row` back
//! to an equal struct, edge values included; non-finite floats are a bind error.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use thread_flow::{D1Target, D1Value, SqlType, Value};

#[derive(Debug, Clone, PartialEq, D1Value)]
#[d1(rename_all = "snake_case")]
enum Status {
    Active,
    OnHold,
    #[d1(rename = "gone")]
    Deleted,
}

#[derive(Debug, Clone, Copy, PartialEq, D1Value)]
enum Priority {
    Low = -1,
    Normal = 0,
    High = 100,
}

#[derive(Debug, Clone, PartialEq, D1Value)]
struct UserId(i64);

#[derive(Debug, Clone, PartialEq, D1Value)]
struct Email {
    address: String,
}

#[derive(Debug, Clone, PartialEq, D1Value)]
struct Tagged<T>(T);

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Meta {
    tags: Vec<String>,
    nested: BTreeMap<String, Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(primary_key(id, status))]
struct AllTypes {
    id: UserId,
    status: Status,
    priority: Priority,
    i8v: i8,
    i16v: i16,
    i32v: i32,
    i64v: i64,
    isizev: isize,
    u8v: u8,
    u16v: u16,
    u32v: u32,
    flag: bool,
    f32v: f32,
    f64v: f64,
    text: String,
    boxed_str: Box<str>,
    arc_str: Arc<str>,
    cow_str: Cow<'static, str>,
    boxed_int: Box<i64>,
    blob: Vec<u8>,
    fixed: [u8; 4],
    bytes: bytes::Bytes,
    maybe_int: Option<i64>,
    maybe_text: Option<String>,
    any_json: serde_json::Value,
    #[d1(json)]
    meta: Meta,
    #[d1(json)]
    maybe_meta: Option<Meta>,
    #[d1(sql_type = "TEXT")]
    big: u64,
    #[d1(sql_type = "TEXT")]
    big_usize: usize,
    #[d1(sql_type = "TEXT")]
    huge: i128,
    #[d1(sql_type = "TEXT")]
    huger: u128,
    #[d1(sql_type = "TEXT")]
    maybe_big: Option<u64>,
    #[d1(sql_type = "TEXT")]
    int_as_text: i64,
    #[d1(sql_type = "REAL")]
    int_as_real: i32,
    email: Email,
    tagged: Tagged<String>,
    #[d1(skip)]
    not_stored: Option<String>,
}

fn sample(edge: bool) -> AllTypes {
    let mut nested = BTreeMap::new();
    nested.insert("pi".to_string(), Some(3.25));
    nested.insert("none".to_string(), None);
    AllTypes {
        id: UserId(if edge { i64::MIN } else { 42 }),
        status: if edge {
            Status::Deleted
        } else {
            Status::OnHold
        },
        priority: if edge { Priority::Low } else { Priority::High },
        i8v: if edge { i8::MIN } else { i8::MAX },
        i16v: if edge { i16::MIN } else { i16::MAX },
        i32v: if edge { i32::MIN } else { i32::MAX },
        i64v: if edge { i64::MIN } else { i64::MAX },
        isizev: if edge { isize::MIN } else { isize::MAX },
        u8v: u8::MAX,
        u16v: u16::MAX,
        u32v: if edge { 0 } else { u32::MAX },
        flag: !edge,
        f32v: if edge { f32::MIN_POSITIVE } else { -1.5 },
        f64v: if edge { f64::MAX } else { -0.0 },
        text: if edge {
            String::new()
        } else {
            "héllo wörld 🦀 日本語 \"quoted\" 'single' \0nul".into()
        },
        boxed_str: "boxed ünïcode".into(),
        arc_str: if edge { "".into() } else { "arc".into() },
        cow_str: Cow::Borrowed("cow"),
        boxed_int: Box::new(-7),
        blob: if edge { vec![] } else { vec![0, 1, 2, 255] },
        fixed: [0xde, 0xad, 0xbe, 0xef],
        bytes: bytes::Bytes::from_static(if edge { b"" } else { b"\x00bytes\xff" }),
        maybe_int: if edge { None } else { Some(i64::MIN) },
        maybe_text: if edge { None } else { Some(String::new()) },
        any_json: serde_json::json!({"a": [1, 2.5, null, "x"], "b": {"c": true}}),
        meta: Meta {
            tags: vec!["x".into(), "ÿ".into()],
            nested,
        },
        maybe_meta: if edge {
            None
        } else {
            Some(Meta {
                tags: vec![],
                nested: BTreeMap::new(),
            })
        },
        big: if edge { u64::MAX } else { 0 },
        big_usize: usize::MAX,
        huge: if edge { i128::MIN } else { i128::MAX },
        huger: u128::MAX,
        maybe_big: if edge { None } else { Some(u64::MAX) },
        int_as_text: if edge { i64::MIN } else { i64::MAX },
        int_as_real: if edge { i32::MIN } else { 12345 },
        email: Email {
            address: "a@example.com".into(),
        },
        tagged: Tagged("t".into()),
        not_stored: None,
    }
}

fn round_trip<T: D1Target + PartialEq + std::fmt::Debug>(row: &T) -> Vec<Value> {
    let mut values = Vec::new();
    row.bind_row(&mut values).expect("bind_row");
    assert_eq!(
        values.len(),
        T::schema().columns.len(),
        "one value per column"
    );
    for (v, c) in values.iter().zip(&T::schema().columns) {
        match v.sql_type() {
            None => assert!(c.nullable, "NULL in NOT NULL column {}", c.name),
            Some(t) => assert_eq!(t, c.sql_type, "value type of column {}", c.name),
        }
    }
    let back = T::from_row(values.clone()).expect("from_row");
    assert_eq!(&back, row);
    values
}

#[test]
fn every_type_round_trips() {
    for edge in [false, true] {
        round_trip(&sample(edge));
    }
}

#[test]
fn values_have_the_documented_wire_form() {
    let row = sample(true);
    let values = round_trip(&row);
    let schema = AllTypes::schema();
    let get = |name: &str| values[schema.column_index(name).expect(name)].clone();
    assert_eq!(get("id"), Value::Integer(i64::MIN));
    assert_eq!(get("status"), Value::Text("gone".into()));
    assert_eq!(get("priority"), Value::Integer(-1));
    assert_eq!(get("flag"), Value::Integer(0));
    assert_eq!(get("text"), Value::Text(String::new()));
    assert_eq!(get("blob"), Value::Blob(vec![]));
    assert_eq!(get("maybe_int"), Value::Null);
    assert_eq!(get("maybe_meta"), Value::Null);
    assert_eq!(get("big"), Value::Text("18446744073709551615".into()));
    assert_eq!(get("huge"), Value::Text(i128::MIN.to_string()));
    assert_eq!(
        get("int_as_text"),
        Value::Text("-9223372036854775808".into())
    );
    assert_eq!(get("int_as_real"), Value::Real(f64::from(i32::MIN)));
    assert_eq!(get("email"), Value::Text("a@example.com".into()));
    assert_eq!(
        get("meta"),
        Value::Text(r#"{"tags":["x","ÿ"],"nested":{"none":null,"pi":3.25}}"#.into())
    );

    let row = sample(false);
    let values = round_trip(&row);
    assert_eq!(
        values[schema.column_index("status").unwrap()],
        Value::Text("on_hold".into())
    );
    assert_eq!(
        values[schema.column_index("maybe_big").unwrap()],
        Value::Text(u64::MAX.to_string())
    );

    assert_eq!(schema.column("big").unwrap().sql_type, SqlType::Text);
    assert_eq!(
        schema.column("int_as_real").unwrap().sql_type,
        SqlType::Real
    );
    assert_eq!(
        schema.column("priority").unwrap().sql_type,
        SqlType::Integer
    );
    assert_eq!(schema.column("tagged").unwrap().sql_type, SqlType::Text);
    assert!(schema.column("maybe_meta").unwrap().nullable);
    assert!(schema.column("maybe_big").unwrap().nullable);
    assert!(!schema.column("meta").unwrap().nullable);
    assert!(schema.column("not_stored").is_none());
}

#[test]
fn composite_key_binds_newtype_and_enum() {
    let row = sample(false);
    let key = row.key();
    assert_eq!(key, (UserId(42), Status::OnHold));
    let mut out = Vec::new();
    AllTypes::bind_key(&key, &mut out).unwrap();
    assert_eq!(out, [Value::Integer(42), Value::Text("on_hold".into())]);
}

#[test]
fn enums_decode_both_ways_and_reject_unknowns() {
    for s in [Status::Active, Status::OnHold, Status::Deleted] {
        assert_eq!(Status::from_value(s.to_value().unwrap()).unwrap(), s);
    }
    for p in [Priority::Low, Priority::Normal, Priority::High] {
        assert_eq!(Priority::from_value(p.to_value().unwrap()).unwrap(), p);
    }
    assert_eq!(Status::SQL_TYPE, SqlType::Text);
    assert_eq!(Priority::SQL_TYPE, SqlType::Integer);
    let err = Status::from_value(Value::Text("Active".into())).unwrap_err();
    assert!(err.message.contains("active, on_hold, gone"), "{err}");
    let err = Priority::from_value(Value::Integer(5)).unwrap_err();
    assert!(
        err.message.contains("5 is not a discriminant of Priority"),
        "{err}"
    );
    assert!(Status::from_value(Value::Integer(1)).is_err());
    assert!(Priority::from_value(Value::Text("Low".into())).is_err());
}

#[test]
fn newtypes_take_the_inner_mapping() {
    assert_eq!(UserId::SQL_TYPE, SqlType::Integer);
    const { assert!(!UserId::NULLABLE) };
    assert_eq!(<Tagged<Option<i64>>>::SQL_TYPE, SqlType::Integer);
    const { assert!(<Tagged<Option<i64>>>::NULLABLE) };
    assert_eq!(UserId(-5).to_value().unwrap(), Value::Integer(-5));
    assert_eq!(UserId::from_value(Value::Integer(9)).unwrap(), UserId(9));
    assert_eq!(
        Tagged::<Option<i64>>::from_value(Value::Null).unwrap(),
        Tagged(None)
    );
}

#[test]
fn non_finite_floats_are_bind_errors() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(bad.to_value().is_err(), "{bad}");
    }
    assert!(f32::NAN.to_value().is_err());
    assert!(f32::INFINITY.to_value().is_err());
    let mut row = sample(false);
    row.f64v = f64::NAN;
    let err = row.bind_row(&mut Vec::new()).unwrap_err();
    assert_eq!(err.column, Some("f64v"));
    assert!(err.error.message.contains("NaN"), "{}", err.error);
}

#[test]
fn wrong_stored_types_are_decode_errors_naming_the_column() {
    let mut values = Vec::new();
    sample(false).bind_row(&mut values).unwrap();
    let i = AllTypes::schema().column_index("big").unwrap();
    values[i] = Value::Text("not a number".into());
    let err = AllTypes::from_row(values.clone()).unwrap_err();
    assert_eq!(err.column, Some("big"));
    let i = AllTypes::schema().column_index("meta").unwrap();
    values[i] = Value::Text("{".into());
    let j = AllTypes::schema().column_index("big").unwrap();
    values[j] = Value::Text("1".into());
    let err = AllTypes::from_row(values).unwrap_err();
    assert_eq!(err.column, Some("meta"));
    assert!(err.error.message.contains("JSON"), "{}", err.error);
}

#[cfg(all(feature = "uuid", feature = "chrono"))]
mod features {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
    use thread_flow::{D1Target, Value};

    #[derive(Debug, Clone, PartialEq, thread_flow::D1Target)]
    #[d1(primary_key(id, day))]
    struct Event {
        id: uuid::Uuid,
        day: NaiveDate,
        at: NaiveTime,
        local: NaiveDateTime,
        utc: DateTime<Utc>,
        maybe_id: Option<uuid::Uuid>,
    }

    #[test]
    fn uuid_and_chrono_round_trip() {
        let utc = Utc.with_ymd_and_hms(2024, 2, 29, 23, 59, 58).unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        let row = Event {
            id: uuid::Uuid::parse_str("67E55044-10B1-426F-9247-BB680E5FE0C8").unwrap(),
            day: NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
            at: NaiveTime::from_hms_nano_opt(0, 0, 1, 5).unwrap(),
            local: NaiveDate::from_ymd_opt(2030, 1, 1)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
            utc,
            maybe_id: None,
        };
        let values = super::round_trip(&row);
        assert_eq!(
            values[0],
            Value::Text("67e55044-10b1-426f-9247-bb680e5fe0c8".into())
        );
        assert_eq!(values[1], Value::Text("1999-12-31".into()));
        assert_eq!(
            values[4],
            Value::Text("2024-02-29T23:59:58.123456789Z".into())
        );
        let key = row.key();
        let mut out = Vec::new();
        Event::bind_key(&key, &mut out).unwrap();
        assert_eq!(out, values[..2]);
        super::round_trip(&Event {
            maybe_id: Some(uuid::Uuid::nil()),
            ..row
        });
    }
}

/// The derived column codecs (what the ReCoco export runs on collected values) keep every
/// value the struct itself writes as it is, and refuse what the field cannot decode with the
/// decoder's own error; the `reencode` shortcuts (enum text, newtypes, `String`, `Option`, ...)
/// equal decoding then encoding.
#[test]
fn column_codecs_reencode_like_decode_then_encode() {
    let codecs = AllTypes::column_codecs();
    assert_eq!(codecs.len(), AllTypes::schema().columns.len());
    for edge in [false, true] {
        let mut row = Vec::new();
        sample(edge).bind_row(&mut row).expect("binds");
        for ((value, codec), column) in row.iter().zip(codecs).zip(&AllTypes::schema().columns) {
            assert_eq!(
                codec(value.clone()).as_ref(),
                Ok(value),
                "column {}",
                column.name
            );
        }
    }
    // Shortcuts equal the default path, errors included.
    fn same<T: D1Value>(value: Value) {
        let slow = T::from_value(value.clone()).and_then(|v| v.to_value());
        assert_eq!(T::reencode(value.clone()), slow, "{value:?}");
    }
    let text = |s: &str| Value::Text(s.into());
    for v in [
        text("on_hold"),
        text("gone"),
        text("deleted"),
        text(""),
        Value::Integer(1),
    ] {
        same::<Status>(v);
    }
    for v in [Value::Integer(100), Value::Integer(1), text("High")] {
        same::<Priority>(v);
    }
    for v in [text("a@b"), Value::Null, Value::Blob(vec![1])] {
        same::<Email>(v.clone());
        same::<String>(v.clone());
        same::<Option<String>>(v.clone());
        same::<Box<String>>(v.clone());
        same::<Option<Email>>(v.clone());
        same::<Vec<u8>>(v.clone());
        same::<Tagged<String>>(v);
    }
    for v in [Value::Integer(7), Value::Null, text("7")] {
        same::<UserId>(v.clone());
        same::<Option<UserId>>(v);
    }
    // A JSON column re-serializes the field's type: key order and spacing become its own.
    let meta = AllTypes::schema()
        .columns
        .iter()
        .position(|c| c.name == "meta")
        .expect("meta column");
    assert_eq!(
        codecs[meta](text(r#"{ "nested": {}, "tags": ["x"] }"#)),
        Ok(text(r#"{"tags":["x"],"nested":{}}"#))
    );
    assert!(codecs[meta](text(r#"{"tags": 1}"#)).is_err());
}
