//! `schema()` of a struct using every attribute in DESIGN.md equals the expected
//! `TableSchema` exactly, and derived names (table, rename_all, default index names) follow
//! the documented rules.

use std::collections::BTreeMap;

use thread_flow::{Column, ColumnDefault, D1Target, D1Value, Index, SqlType, TableSchema, Value};

/// Stored as TEXT by name.
#[derive(Debug, Clone, PartialEq, D1Value)]
#[d1(rename_all = "SCREAMING_SNAKE_CASE")]
enum Visibility {
    Public,
    #[d1(rename = "crate")]
    CrateOnly,
}

/// A newtype key part.
#[derive(Debug, Clone, PartialEq, D1Value)]
struct FileId(i64);

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
struct Attrs {
    tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(
    table = "symbol_rows",
    rename_all = "camelCase",
    primary_key(file_id, symbol_name),
    index(visibility, line_no, name = "by_visibility", where = "\"lineNo\" > 0"),
    index(doc_text),
    unique(file_id, qualified, name = "one_qualified"),
    strict = false,
    without_rowid,
    crate = "::thread_flow"
)]
struct Everything {
    file_id: FileId,
    symbol_name: String,
    line_no: i64,
    visibility: Visibility,
    #[d1(rename = "qualified_name")]
    qualified: String,
    #[d1(json)]
    attrs: Attrs,
    #[d1(json)]
    extra: Option<BTreeMap<String, i64>>,
    doc_text: Option<String>,
    #[d1(unique)]
    hash: Vec<u8>,
    #[d1(index)]
    score: f64,
    #[d1(sql_type = "TEXT")]
    size: u64,
    #[d1(default = 7)]
    retries: i32,
    #[d1(default = -2.5)]
    weight: f64,
    #[d1(default = "none")]
    label: String,
    #[d1(default = true)]
    active: bool,
    #[d1(default = b"\x00\x01")]
    magic: Vec<u8>,
    #[d1(default_sql = "CURRENT_TIMESTAMP")]
    created_at: String,
    #[d1(skip)]
    scratch: Vec<String>,
}

fn col(name: &str, sql_type: SqlType, nullable: bool, default: Option<ColumnDefault>) -> Column {
    Column {
        name: name.into(),
        sql_type,
        nullable,
        default,
    }
}

#[test]
fn every_attribute_gives_the_expected_schema() {
    use SqlType::*;
    let lit = |v: Value| Some(ColumnDefault::Value(v));
    let expected = TableSchema {
        name: "symbol_rows".into(),
        columns: vec![
            col("fileId", Integer, false, None),
            col("symbolName", Text, false, None),
            col("lineNo", Integer, false, None),
            col("visibility", Text, false, None),
            col("qualified_name", Text, false, None),
            col("attrs", Text, false, None),
            col("extra", Text, true, None),
            col("docText", Text, true, None),
            col("hash", Blob, false, None),
            col("score", Real, false, None),
            col("size", Text, false, None),
            col("retries", Integer, false, lit(Value::Integer(7))),
            col("weight", Real, false, lit(Value::Real(-2.5))),
            col("label", Text, false, lit(Value::Text("none".into()))),
            col("active", Integer, false, lit(Value::Integer(1))),
            col("magic", Blob, false, lit(Value::Blob(vec![0, 1]))),
            col(
                "createdAt",
                Text,
                false,
                Some(ColumnDefault::Sql("CURRENT_TIMESTAMP".into())),
            ),
        ],
        primary_key: vec!["fileId".into(), "symbolName".into()],
        indexes: vec![
            Index {
                name: "by_visibility".into(),
                columns: vec!["visibility".into(), "lineNo".into()],
                unique: false,
                where_clause: Some("\"lineNo\" > 0".into()),
            },
            Index {
                name: "symbol_rows_docText_idx".into(),
                columns: vec!["docText".into()],
                unique: false,
                where_clause: None,
            },
            Index {
                name: "one_qualified".into(),
                columns: vec!["fileId".into(), "qualified_name".into()],
                unique: true,
                where_clause: None,
            },
            Index {
                name: "symbol_rows_hash_key".into(),
                columns: vec!["hash".into()],
                unique: true,
                where_clause: None,
            },
            Index {
                name: "symbol_rows_score_idx".into(),
                columns: vec!["score".into()],
                unique: false,
                where_clause: None,
            },
        ],
        strict: false,
        without_rowid: true,
    };
    let actual = Everything::schema();
    assert_eq!(actual.columns, expected.columns);
    assert_eq!(actual.indexes, expected.indexes);
    assert_eq!(*actual, expected);
    assert_eq!(actual.validate().map_err(|e| e.to_string()), Ok(()));
    // Built once: the same static every time.
    assert!(std::ptr::eq(Everything::schema(), actual));
}

#[test]
fn composite_key_is_a_tuple_in_primary_key_order() {
    let row = Everything {
        file_id: FileId(3),
        symbol_name: "main".into(),
        line_no: 1,
        visibility: Visibility::CrateOnly,
        qualified: "crate::main".into(),
        attrs: Attrs {
            tags: vec!["a".into()],
        },
        extra: None,
        doc_text: None,
        hash: vec![],
        score: 0.5,
        size: u64::MAX,
        retries: 0,
        weight: 1.0,
        label: String::new(),
        active: false,
        magic: vec![],
        created_at: "2024-01-01".into(),
        scratch: vec!["not stored".into()],
    };
    let key: (FileId, String) = row.key();
    assert_eq!(key, (FileId(3), "main".to_string()));
    let mut out = Vec::new();
    Everything::bind_key(&key, &mut out).unwrap();
    assert_eq!(out, vec![Value::Integer(3), Value::Text("main".into())]);

    let mut out = Vec::new();
    row.bind_row(&mut out).unwrap();
    assert_eq!(out.len(), Everything::schema().columns.len());
    assert_eq!(out[3], Value::Text("crate".into()));
    assert_eq!(out[10], Value::Text("18446744073709551615".into()));
    let back = Everything::from_row(out).unwrap();
    assert_eq!(
        back,
        Everything {
            scratch: vec![],
            ..row
        }
    );
}

#[derive(Debug, Clone, PartialEq, D1Target)]
struct HTTPRequestLog {
    #[d1(primary_key)]
    id: i64,
    #[d1(index)]
    status_code: i32,
}

#[derive(Debug, Clone, PartialEq, D1Target)]
#[d1(rename_all = "kebab-case")]
struct Kebab {
    #[d1(primary_key)]
    row_id: String,
    #[d1(rename = "Explicit")]
    some_value: bool,
    r#type: String,
}

#[test]
fn derived_names() {
    let s = HTTPRequestLog::schema();
    assert_eq!(s.name, "http_request_log");
    assert!(s.strict);
    assert!(!s.without_rowid);
    assert_eq!(s.primary_key, vec!["id".to_string()]);
    assert_eq!(s.indexes[0].name, "http_request_log_status_code_idx");
    let k = Kebab::schema();
    let names: Vec<&str> = k.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["row-id", "Explicit", "type"]);
}

#[test]
fn single_key_is_the_field_type() {
    let row = Kebab {
        row_id: "k".into(),
        some_value: true,
        r#type: "t".into(),
    };
    let key: String = row.key();
    assert_eq!(key, "k");
}

#[test]
fn decoding_reports_the_column() {
    let err =
        HTTPRequestLog::from_row(vec![Value::Integer(1), Value::Text("x".into())]).unwrap_err();
    assert_eq!(err.column, Some("status_code"));
    assert!(
        err.error.message.contains("expected INTEGER"),
        "{}",
        err.error
    );

    let err = HTTPRequestLog::from_row(vec![Value::Integer(1)]).unwrap_err();
    assert_eq!(err.column, Some("status_code"));
    assert!(err.error.message.contains("missing"), "{}", err.error);

    let err = HTTPRequestLog::from_row(vec![Value::Integer(1), Value::Integer(2), Value::Null])
        .unwrap_err();
    assert!(err.error.message.contains("3 values"), "{}", err.error);
}
