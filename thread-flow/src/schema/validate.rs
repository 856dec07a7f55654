//! Runtime validation of a [`TableSchema`]: the same rules the derive checks at compile time,
//! for schemas built by hand or from a ReCoco collector.

use std::collections::HashSet;

use super::{MAX_COLUMNS, SqlType, TableSchema};
use crate::Error;

/// One rule a schema breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// The column or index concerned, when there is one.
    pub subject: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.subject {
            Some(s) => write!(f, "`{s}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Whether `name` is reserved by D1 or SQLite for a table.
pub(crate) fn reserved_table_name(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("_cf_") {
        Some("`_cf_` is reserved by Cloudflare D1")
    } else if lower.starts_with("sqlite_") {
        Some("`sqlite_` is reserved by SQLite")
    } else {
        None
    }
}

fn check_identifier(kind: &str, name: &str, out: &mut Vec<SchemaProblem>) {
    if name.is_empty() {
        out.push(SchemaProblem {
            subject: None,
            message: format!("{kind} name is empty"),
        });
    } else if name.contains('\0') {
        out.push(SchemaProblem {
            subject: Some(name.replace('\0', "\\0")),
            message: format!("{kind} name contains a NUL character"),
        });
    }
}

impl TableSchema {
    /// Every rule this schema breaks (empty when valid).
    ///
    /// Besides names, key and limits, every SQL fragment the schema carries as text (a
    /// column's [`ColumnDefault::Sql`](super::ColumnDefault::Sql), an index's `where`) must be
    /// exactly one SQL expression with nothing after it: SQLite's own parser decides, in a
    /// private in-memory database holding a copy of the table's columns (double-quoted strings
    /// are identifiers there). A schema arriving as data (a ReCoco spec) cannot add a column
    /// through a default or run a second statement through a `where`.
    pub fn problems(&self) -> Vec<SchemaProblem> {
        let mut out = Vec::new();
        check_identifier("table", &self.name, &mut out);
        if let Some(why) = reserved_table_name(&self.name) {
            out.push(SchemaProblem {
                subject: Some(self.name.clone()),
                message: format!("table name is reserved: {why}; choose another name"),
            });
        }
        if self.columns.is_empty() {
            out.push(SchemaProblem {
                subject: None,
                message: "table has no columns".into(),
            });
        }
        if self.columns.len() > MAX_COLUMNS {
            out.push(SchemaProblem {
                subject: None,
                message: format!(
                    "table has {} columns; D1 allows at most {MAX_COLUMNS}",
                    self.columns.len()
                ),
            });
        }
        let mut seen = HashSet::new();
        for c in &self.columns {
            check_identifier("column", &c.name, &mut out);
            if !seen.insert(c.name.to_ascii_lowercase()) {
                out.push(SchemaProblem {
                    subject: Some(c.name.clone()),
                    message: "duplicate column name (SQLite compares names case-insensitively)"
                        .into(),
                });
            }
        }
        if self.primary_key.is_empty() {
            out.push(SchemaProblem {
                subject: None,
                message: "table has no primary key; mark a field `#[d1(primary_key)]`".into(),
            });
        }
        let mut key_seen = HashSet::new();
        for k in &self.primary_key {
            if !key_seen.insert(k.as_str()) {
                out.push(SchemaProblem {
                    subject: Some(k.clone()),
                    message: "column listed twice in the primary key".into(),
                });
            }
            match self.column(k) {
                None => out.push(SchemaProblem {
                    subject: Some(k.clone()),
                    message: "primary key names a column that does not exist".into(),
                }),
                Some(c) => {
                    if c.nullable {
                        out.push(SchemaProblem {
                            subject: Some(k.clone()),
                            message: "key column is nullable; key columns are always NOT NULL"
                                .into(),
                        });
                    }
                    if c.sql_type == SqlType::Real {
                        out.push(SchemaProblem {
                            subject: Some(k.clone()),
                            message: "REAL column in the primary key; floats make unreliable keys"
                                .into(),
                        });
                    }
                }
            }
        }
        let mut index_names = HashSet::new();
        for ix in &self.indexes {
            check_identifier("index", &ix.name, &mut out);
            if !index_names.insert(ix.name.to_ascii_lowercase()) {
                out.push(SchemaProblem {
                    subject: Some(ix.name.clone()),
                    message: "duplicate index name".into(),
                });
            }
            if ix.name.to_ascii_lowercase().starts_with("sqlite_") {
                out.push(SchemaProblem {
                    subject: Some(ix.name.clone()),
                    message: "index names starting with `sqlite_` are reserved by SQLite".into(),
                });
            }
            if ix.columns.is_empty() {
                out.push(SchemaProblem {
                    subject: Some(ix.name.clone()),
                    message: "index has no columns".into(),
                });
            }
            for col in &ix.columns {
                if self.column(col).is_none() {
                    out.push(SchemaProblem {
                        subject: Some(ix.name.clone()),
                        message: format!("index names unknown column `{col}`"),
                    });
                }
            }
        }
        if out.is_empty() {
            // SQL text (a column's default SQL, an index's `where`) reaches the DDL verbatim:
            // each must be one SQL expression with nothing after it, as SQLite parses it.
            out.extend(super::probe::fragment_problems(self));
        }
        out
    }

    /// Checks every rule; the error lists all problems at once.
    pub fn validate(&self) -> Result<(), Error> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidSchema {
                table: self.name.clone(),
                problems,
            })
        }
    }
}
