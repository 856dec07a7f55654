//! Multi-row upserts and multi-key deletes.
//!
//! A statement is `prefix` + one group per row (`(?,?,?)`, comma separated) + `suffix`, so the
//! planner can size statements by adding groups. Under [`Encoding::Json`] a group's placeholders
//! depend on its values (see [`super::placeholder`]).

use super::ddl::push_ident_list;
use super::{Encoding, Statement, encode_param, placeholder, push_ident};
use crate::Value;
use crate::schema::TableSchema;

/// The fixed parts of a multi-row statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementShape {
    /// Text before the first row group.
    pub prefix: String,
    /// Text after the last row group.
    pub suffix: String,
    /// Values per row group.
    pub width: usize,
    /// Whether each group is wrapped in parentheses (false for single-key deletes: `k IN (?,?)`).
    pub parens: bool,
}

impl StatementShape {
    /// The fixed SQL bytes of a statement of this shape.
    pub fn fixed_len(&self) -> usize {
        self.prefix.len() + self.suffix.len()
    }

    /// SQL for `rows` groups of plain `?` placeholders.
    pub fn native_sql(&self, rows: usize) -> String {
        let mut sql = String::with_capacity(self.fixed_len() + rows * (2 * self.width + 2));
        sql.push_str(&self.prefix);
        for r in 0..rows {
            if r > 0 {
                sql.push(',');
            }
            push_plain_group(&mut sql, self.width, self.parens);
        }
        sql.push_str(&self.suffix);
        sql
    }

    /// A statement for `params` (`width` values per row group, rows concatenated).
    pub fn statement(&self, params: Vec<Value>, encoding: Encoding) -> Statement {
        let rows = params.len().checked_div(self.width).unwrap_or(0);
        match encoding {
            Encoding::Native => Statement {
                sql: self.native_sql(rows),
                params,
            },
            Encoding::Json => {
                let mut sql = String::with_capacity(self.fixed_len() + rows * (2 * self.width + 2));
                sql.push_str(&self.prefix);
                for (r, group) in params.chunks(self.width.max(1)).enumerate() {
                    if r > 0 {
                        sql.push(',');
                    }
                    push_group(&mut sql, group, encoding, self.parens);
                }
                sql.push_str(&self.suffix);
                let params = params
                    .into_iter()
                    .map(|p| encode_param(p, encoding))
                    .collect();
                Statement { sql, params }
            }
        }
    }
}

/// Appends `(?,?,?)` with `width` placeholders.
pub(crate) fn push_plain_group(sql: &mut String, width: usize, parens: bool) {
    if parens {
        sql.push('(');
    }
    for i in 0..width {
        if i > 0 {
            sql.push(',');
        }
        sql.push('?');
    }
    if parens {
        sql.push(')');
    }
}

/// Appends one row group with the placeholders `encoding` needs for `values`.
pub(crate) fn push_group(sql: &mut String, values: &[Value], encoding: Encoding, parens: bool) {
    if parens {
        sql.push('(');
    }
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(placeholder(v, encoding));
    }
    if parens {
        sql.push(')');
    }
}

/// SQL bytes of one row group for `values` (comma before it included).
pub(crate) fn group_len(values: &[Value], encoding: Encoding, parens: bool) -> usize {
    let parens = if parens { 2 } else { 0 };
    match encoding {
        Encoding::Native => 2 * values.len() + parens,
        Encoding::Json => {
            values
                .iter()
                .map(|v| placeholder(v, encoding).len() + 1)
                .sum::<usize>()
                + parens
        }
    }
}

/// `INSERT INTO "t" ("a", "b") VALUES ... ON CONFLICT ("a") DO UPDATE SET "b" = excluded."b"`
/// (`DO NOTHING` when every column is part of the key).
pub fn upsert_shape(schema: &TableSchema) -> StatementShape {
    let mut prefix = String::from("INSERT INTO ");
    push_ident(&mut prefix, &schema.name);
    prefix.push_str(" (");
    push_ident_list(&mut prefix, schema.columns.iter().map(|c| c.name.as_str()));
    prefix.push_str(") VALUES ");
    let mut suffix = String::from(" ON CONFLICT (");
    push_ident_list(&mut suffix, schema.primary_key.iter().map(String::as_str));
    suffix.push_str(") DO ");
    let mut first = true;
    for c in schema.value_columns() {
        suffix.push_str(if first { "UPDATE SET " } else { ", " });
        first = false;
        push_ident(&mut suffix, &c.name);
        suffix.push_str(" = excluded.");
        push_ident(&mut suffix, &c.name);
    }
    if first {
        suffix.push_str("NOTHING");
    }
    StatementShape {
        prefix,
        suffix,
        width: schema.columns.len(),
        parens: true,
    }
}

/// `DELETE FROM "t" WHERE "k" IN (...)`, or for composite keys
/// `DELETE FROM "t" WHERE ("a", "b") IN (VALUES (?,?),...)`.
pub fn delete_shape(schema: &TableSchema) -> StatementShape {
    let mut prefix = String::from("DELETE FROM ");
    push_ident(&mut prefix, &schema.name);
    prefix.push_str(" WHERE ");
    let width = schema.primary_key.len();
    if width == 1 {
        push_ident(&mut prefix, &schema.primary_key[0]);
        prefix.push_str(" IN (");
    } else {
        prefix.push('(');
        push_ident_list(&mut prefix, schema.primary_key.iter().map(String::as_str));
        prefix.push_str(") IN (VALUES ");
    }
    StatementShape {
        prefix,
        suffix: ")".into(),
        width,
        parens: width != 1,
    }
}
