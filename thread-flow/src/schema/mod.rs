//! The table contract: [`TableSchema`], [`Column`], [`SqlType`], [`Index`].
//!
//! `#[derive(D1Target)]` fills a `TableSchema` in; the ReCoco target builds one from a
//! collector's fields. Everything downstream (DDL, upserts, migrations, the ReCoco setup
//! state) reads only this model, so both paths get the same SQL and the same checks.

mod probe;
mod validate;

use serde::{Deserialize, Serialize};

use crate::Value;

/// D1's limit on columns per table.
pub(crate) const MAX_COLUMNS: usize = 100;

/// A SQLite storage class used as a STRICT column type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SqlType {
    /// 64-bit signed integer.
    Integer,
    /// 64-bit IEEE float.
    Real,
    /// UTF-8 text.
    Text,
    /// Raw bytes.
    Blob,
}

impl SqlType {
    /// The keyword used in `CREATE TABLE`.
    pub fn as_sql(self) -> &'static str {
        match self {
            SqlType::Integer => "INTEGER",
            SqlType::Real => "REAL",
            SqlType::Text => "TEXT",
            SqlType::Blob => "BLOB",
        }
    }

    /// Parses `INTEGER`, `REAL`, `TEXT` or `BLOB` (case-insensitive).
    pub fn parse(s: &str) -> Option<SqlType> {
        match s.trim().to_ascii_uppercase().as_str() {
            "INTEGER" | "INT" => Some(SqlType::Integer),
            "REAL" => Some(SqlType::Real),
            "TEXT" => Some(SqlType::Text),
            "BLOB" => Some(SqlType::Blob),
            _ => None,
        }
    }
}

impl std::fmt::Display for SqlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_sql())
    }
}

/// A column default: a bound literal value or a raw SQL expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnDefault {
    /// A literal value, rendered as a SQL literal in DDL.
    Value(Value),
    /// A SQL expression written by the user (`default_sql = ".."`), used verbatim.
    Sql(String),
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Column name as stored in D1 (after renames).
    pub name: String,
    /// Storage type.
    pub sql_type: SqlType,
    /// Whether NULL is allowed. Key columns are never nullable.
    pub nullable: bool,
    /// Default used by `CREATE TABLE` and `ALTER TABLE ADD COLUMN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<ColumnDefault>,
}

impl Column {
    /// A NOT NULL column without default.
    pub fn new(name: impl Into<String>, sql_type: SqlType) -> Column {
        Column {
            name: name.into(),
            sql_type,
            nullable: false,
            default: None,
        }
    }

    /// Marks the column nullable.
    pub fn nullable(mut self, nullable: bool) -> Column {
        self.nullable = nullable;
        self
    }

    /// Sets the column default.
    pub fn with_default(mut self, default: ColumnDefault) -> Column {
        self.default = Some(default);
        self
    }
}

/// A secondary index (plain or unique, optionally partial).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Index {
    /// Index name, unique within the database.
    pub name: String,
    /// Indexed columns, in order.
    pub columns: Vec<String>,
    /// `CREATE UNIQUE INDEX` when true.
    pub unique: bool,
    /// Partial index predicate (`WHERE ...`), SQL written by the user.
    #[serde(rename = "where", default, skip_serializing_if = "Option::is_none")]
    pub where_clause: Option<String>,
}

impl Index {
    /// The default name for an index on `columns` of `table`: `{table}_{col}_{col}_idx`
    /// (`_key` for unique indexes).
    pub fn default_name(table: &str, columns: &[&str], unique: bool) -> String {
        let mut name = String::from(table);
        for c in columns {
            name.push('_');
            name.push_str(c);
        }
        name.push_str(if unique { "_key" } else { "_idx" });
        name
    }
}

/// A whole table definition: what `D1Table::migrate` makes the live table look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    /// Table name.
    pub name: String,
    /// Columns in declaration order (this is the bind order of every row).
    pub columns: Vec<Column>,
    /// Primary key column names, in key order. Never empty.
    pub primary_key: Vec<String>,
    /// Secondary indexes.
    #[serde(default)]
    pub indexes: Vec<Index>,
    /// `STRICT` table (default true).
    #[serde(default = "default_true")]
    pub strict: bool,
    /// `WITHOUT ROWID` table.
    #[serde(default)]
    pub without_rowid: bool,
}

fn default_true() -> bool {
    true
}

impl TableSchema {
    /// A new STRICT table with no columns yet.
    pub fn new(name: impl Into<String>) -> TableSchema {
        TableSchema {
            name: name.into(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            indexes: Vec::new(),
            strict: true,
            without_rowid: false,
        }
    }

    /// Looks a column up by name.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Position of a column in [`TableSchema::columns`].
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Positions of the key columns, in key order.
    ///
    /// Panics never: an unknown key column yields no position and is reported by
    /// [`TableSchema::validate`].
    pub(crate) fn key_indices(&self) -> Vec<usize> {
        self.primary_key
            .iter()
            .filter_map(|k| self.column_index(k))
            .collect()
    }

    /// Whether `name` is part of the primary key.
    pub fn is_key_column(&self, name: &str) -> bool {
        self.primary_key.iter().any(|k| k == name)
    }

    /// Columns that are not part of the key, in declaration order.
    pub(crate) fn value_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !self.is_key_column(&c.name))
    }
}

pub use validate::SchemaProblem;
