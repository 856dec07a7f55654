//! `D1Value` for the standard types (see the mapping table in the README).

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

use super::{D1KeyValue, D1Value, Value, ValueError};
use crate::schema::SqlType;

macro_rules! int_impl {
    ($($t:ty),*) => {$(
        impl D1Value for $t {
            const SQL_TYPE: SqlType = SqlType::Integer;
            fn to_value(&self) -> Result<Value, ValueError> {
                i64::try_from(*self)
                    .map(Value::Integer)
                    .map_err(|_| ValueError::new(format!("{} does not fit a 64-bit signed integer", self)))
            }
            fn from_value(value: Value) -> Result<Self, ValueError> {
                match value {
                    Value::Integer(i) => <$t>::try_from(i).map_err(|_| {
                        ValueError::new(format!("{i} is out of range for {}", stringify!($t)))
                    }),
                    other => Err(ValueError::unexpected("INTEGER", &other)),
                }
            }
        }
        impl D1KeyValue for $t {}
    )*};
}
int_impl!(i8, i16, i32, i64, isize, u8, u16, u32);

/// Types that D1 cannot hold as INTEGER exactly; stored as decimal TEXT with `sql_type = "TEXT"`.
macro_rules! text_int_impl {
    ($($t:ty),*) => {$(
        impl D1Value for $t {
            const SQL_TYPE: SqlType = SqlType::Text;
            fn to_value(&self) -> Result<Value, ValueError> {
                Ok(Value::Text(self.to_string()))
            }
            fn from_value(value: Value) -> Result<Self, ValueError> {
                match value {
                    Value::Text(s) => s.parse().map_err(|_| {
                        ValueError::new(format!("{s:?} is not a valid {}", stringify!($t)))
                    }),
                    Value::Integer(i) => <$t>::try_from(i).map_err(|_| {
                        ValueError::new(format!("{i} is out of range for {}", stringify!($t)))
                    }),
                    other => Err(ValueError::unexpected("decimal TEXT", &other)),
                }
            }
        }
        impl D1KeyValue for $t {}
    )*};
}
text_int_impl!(u64, usize, i128, u128);

impl D1Value for bool {
    const SQL_TYPE: SqlType = SqlType::Integer;
    fn to_value(&self) -> Result<Value, ValueError> {
        Ok(Value::Integer(i64::from(*self)))
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Integer(0) => Ok(false),
            Value::Integer(1) => Ok(true),
            other => Err(ValueError::unexpected("INTEGER 0 or 1", &other)),
        }
    }
}
impl D1KeyValue for bool {}

macro_rules! float_impl {
    ($($t:ty),*) => {$(
        impl D1Value for $t {
            const SQL_TYPE: SqlType = SqlType::Real;
            fn to_value(&self) -> Result<Value, ValueError> {
                if self.is_finite() {
                    Ok(Value::Real(f64::from(*self)))
                } else {
                    Err(ValueError::new(format!(
                        "{} is not a finite number; D1 cannot store NaN or infinity",
                        self
                    )))
                }
            }
            fn from_value(value: Value) -> Result<Self, ValueError> {
                match value {
                    #[allow(clippy::cast_possible_truncation)]
                    Value::Real(r) => Ok(r as $t),
                    #[allow(clippy::cast_precision_loss)]
                    Value::Integer(i) => Ok(i as $t),
                    other => Err(ValueError::unexpected("REAL", &other)),
                }
            }
        }
    )*};
}
float_impl!(f32, f64);

fn text(value: Value) -> Result<String, ValueError> {
    match value {
        Value::Text(s) => Ok(s),
        other => Err(ValueError::unexpected("TEXT", &other)),
    }
}

fn blob(value: Value) -> Result<Vec<u8>, ValueError> {
    match value {
        Value::Blob(b) => Ok(b),
        other => Err(ValueError::unexpected("BLOB", &other)),
    }
}

impl D1Value for String {
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Result<Value, ValueError> {
        Ok(Value::Text(self.clone()))
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        text(value)
    }
    fn reencode(value: Value) -> Result<Value, ValueError> {
        text(value).map(Value::Text)
    }
}
impl D1KeyValue for String {}

macro_rules! str_wrapper_impl {
    ($($t:ty),*) => {$(
        impl D1Value for $t {
            const SQL_TYPE: SqlType = SqlType::Text;
            fn to_value(&self) -> Result<Value, ValueError> {
                Ok(Value::Text(self.to_string()))
            }
            fn from_value(value: Value) -> Result<Self, ValueError> {
                text(value).map(Into::into)
            }
        }
        impl D1KeyValue for $t {}
    )*};
}
str_wrapper_impl!(Box<str>, Arc<str>, Rc<str>, Cow<'static, str>);

impl D1Value for Vec<u8> {
    const SQL_TYPE: SqlType = SqlType::Blob;
    fn to_value(&self) -> Result<Value, ValueError> {
        Ok(Value::Blob(self.clone()))
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        blob(value)
    }
    fn reencode(value: Value) -> Result<Value, ValueError> {
        blob(value).map(Value::Blob)
    }
}
impl D1KeyValue for Vec<u8> {}

impl D1Value for bytes::Bytes {
    const SQL_TYPE: SqlType = SqlType::Blob;
    fn to_value(&self) -> Result<Value, ValueError> {
        Ok(Value::Blob(self.to_vec()))
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        blob(value).map(bytes::Bytes::from)
    }
}
impl D1KeyValue for bytes::Bytes {}

impl<const N: usize> D1Value for [u8; N] {
    const SQL_TYPE: SqlType = SqlType::Blob;
    fn to_value(&self) -> Result<Value, ValueError> {
        Ok(Value::Blob(self.to_vec()))
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        let b = blob(value)?;
        let len = b.len();
        b.try_into()
            .map_err(|_| ValueError::new(format!("expected a BLOB of {N} bytes, found {len}")))
    }
}
impl<const N: usize> D1KeyValue for [u8; N] {}

impl<T: D1Value> D1Value for Option<T> {
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const NULLABLE: bool = true;
    fn to_value(&self) -> Result<Value, ValueError> {
        match self {
            None => Ok(Value::Null),
            Some(v) => v.to_value(),
        }
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
    fn reencode(value: Value) -> Result<Value, ValueError> {
        match value {
            Value::Null => Ok(Value::Null),
            v => T::reencode(v),
        }
    }
}

impl<T: D1Value> D1Value for Box<T> {
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const NULLABLE: bool = T::NULLABLE;
    fn to_value(&self) -> Result<Value, ValueError> {
        (**self).to_value()
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        T::from_value(value).map(Box::new)
    }
    fn reencode(value: Value) -> Result<Value, ValueError> {
        T::reencode(value)
    }
}

impl D1Value for serde_json::Value {
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Result<Value, ValueError> {
        super::json_to_value(self)
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        super::json_from_value(value)
    }
}

#[cfg(feature = "uuid")]
impl D1Value for uuid::Uuid {
    const SQL_TYPE: SqlType = SqlType::Text;
    fn to_value(&self) -> Result<Value, ValueError> {
        Ok(Value::Text(self.hyphenated().to_string()))
    }
    fn from_value(value: Value) -> Result<Self, ValueError> {
        let s = text(value)?;
        uuid::Uuid::parse_str(&s).map_err(|e| ValueError::new(format!("{s:?} is not a UUID: {e}")))
    }
}
#[cfg(feature = "uuid")]
impl D1KeyValue for uuid::Uuid {}

#[cfg(feature = "chrono")]
mod chrono_impls {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

    use super::{D1KeyValue, D1Value, SqlType, Value, ValueError, text};

    // One fixed-width ISO-8601 form per type, so TEXT order equals time order.
    const DATE: &str = "%Y-%m-%d";
    const TIME: &str = "%H:%M:%S%.9f";
    const NAIVE_DATETIME: &str = "%Y-%m-%dT%H:%M:%S%.9f";
    const UTC_DATETIME: &str = "%Y-%m-%dT%H:%M:%S%.9fZ";

    macro_rules! chrono_impl {
        ($t:ty, $fmt:expr, $parse:expr) => {
            impl D1Value for $t {
                const SQL_TYPE: SqlType = SqlType::Text;
                fn to_value(&self) -> Result<Value, ValueError> {
                    Ok(Value::Text(self.format($fmt).to_string()))
                }
                fn from_value(value: Value) -> Result<Self, ValueError> {
                    let s = text(value)?;
                    #[allow(clippy::redundant_closure_call)]
                    ($parse)(&s).map_err(|e: chrono::ParseError| {
                        ValueError::new(format!("{s:?} is not a {}: {e}", stringify!($t)))
                    })
                }
            }
            impl D1KeyValue for $t {}
        };
    }
    chrono_impl!(NaiveDate, DATE, |s: &str| NaiveDate::parse_from_str(
        s, DATE
    ));
    chrono_impl!(NaiveTime, TIME, |s: &str| NaiveTime::parse_from_str(
        s, TIME
    ));
    chrono_impl!(NaiveDateTime, NAIVE_DATETIME, |s: &str| {
        NaiveDateTime::parse_from_str(s, NAIVE_DATETIME)
    });
    chrono_impl!(DateTime<Utc>, UTC_DATETIME, |s: &str| {
        NaiveDateTime::parse_from_str(s, UTC_DATETIME).map(|n| n.and_utc())
    });
}
