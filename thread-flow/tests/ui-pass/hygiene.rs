//! A user crate that shadows `thread_flow`, `core` and `std` and denies every warning
//! (including missing docs) still compiles the derives.
#![deny(missing_docs, warnings)]

#[allow(unused_imports)]
use ::thread_flow::{D1Target, D1Value};

/// Shadows the runtime crate's name.
pub mod thread_flow {}
/// Shadows `core`.
pub mod core {}
/// Shadows `std`.
pub mod std {}

/// Shadow the prelude's types too.
#[allow(dead_code)]
mod shadows {
    pub struct Option;
    pub struct Result;
    pub struct String;
    pub struct Vec;
    pub struct Box;
}
#[allow(unused_imports)]
use shadows::*;

/// A stored enum.
#[derive(Clone, Debug, PartialEq, D1Value)]
#[d1(rename_all = "kebab-case")]
pub enum Kind {
    /// One.
    FirstKind,
    /// Two.
    SecondKind,
}

/// A stored integer enum.
#[derive(Clone, Copy, Debug, PartialEq, D1Value)]
pub enum Level {
    /// Low.
    Low = 1,
    /// High.
    High = 2,
}

/// A newtype key.
#[derive(Clone, Debug, PartialEq, D1Value)]
pub struct Id(pub i64);

/// A row.
#[derive(Clone, Debug, D1Target)]
#[d1(primary_key(id, kind), index(level, where = "level > 1"), unique(name, name = "rows_name"))]
pub struct Row {
    /// Key part one.
    pub id: Id,
    /// Key part two.
    pub kind: Kind,
    /// An integer enum.
    pub level: Level,
    /// A name.
    #[d1(rename = "label")]
    pub name: ::std::string::String,
    /// Nullable.
    pub note: ::std::option::Option<::std::string::String>,
    /// JSON.
    #[d1(json)]
    pub tags: ::std::vec::Vec<::std::string::String>,
    /// Big number.
    #[d1(sql_type = "TEXT", default = "0")]
    pub big: u64,
    /// Not stored.
    #[d1(skip)]
    pub cache: ::std::vec::Vec<u8>,
}

fn main() {
    let _ = <Row as ::thread_flow::D1Target>::schema();
}
