//! From a collector's fields to a [`TableSchema`], and back: which key part or value field
//! feeds each column.

use recoco_core::base::schema::{FieldSchema, ValueType};
use recoco_core::base::spec::IndexOptions;

use super::export::RowType;
use super::types::{is_key_type, sql_type_of};
use crate::{Column, Error, Result, TableSchema, Value, ValueError};

/// A derived column codec: decodes a value in the column's storage form as the field's type
/// and encodes it again (see `D1Target::column_codecs`).
pub(crate) use crate::__private::ColumnCodec as Codec;

/// Where a column's value comes from in a ReCoco mutation.
#[derive(Debug, Clone)]
pub(crate) enum ColumnSource {
    /// Key part `part` of the row's key.
    Key { part: usize, typ: ValueType },
    /// Value field `index` of the row's value.
    Field { index: usize, typ: ValueType },
}

/// A table definition plus the mapping from collector fields to its columns.
#[derive(Debug, Clone)]
pub(crate) struct ColumnMap {
    /// The table (validated).
    pub schema: TableSchema,
    /// One source per column of `schema.columns`, in column order.
    pub sources: Vec<ColumnSource>,
    /// For each column of `schema.primary_key`, the key part feeding it and the column's
    /// index in `schema.columns`.
    pub key_parts: Vec<(usize, ValueType, usize)>,
    /// Number of value fields a mutation carries.
    pub value_fields: usize,
    /// The derived codec of each column, in column order, when the export names a
    /// `#[derive(D1Target)]` struct; `None`: the values are stored in their natural encoding.
    pub codecs: Option<&'static [Codec]>,
}

impl ColumnMap {
    /// `value` (a collected value in its natural encoding) as column `column` stores it:
    /// through the field's derived codec when there is one.
    pub(crate) fn encode(
        &self,
        column: usize,
        value: std::result::Result<Value, ValueError>,
    ) -> std::result::Result<Value, ValueError> {
        match self.codecs {
            Some(codecs) => value.and_then(codecs[column]),
            None => value,
        }
    }
}

/// Builds the table for a collector: the user's schema (checked against the fields) or one
/// column per field (key fields first, NOT NULL).
pub(crate) fn column_map(
    table: &str,
    key_fields: &[FieldSchema],
    value_fields: &[FieldSchema],
    index_options: &IndexOptions,
    user_schema: Option<&TableSchema>,
    row_type: Option<&RowType>,
) -> Result<ColumnMap> {
    refuse_unsupported_indexes(table, index_options)?;
    let codecs = match row_type {
        Some(row_type) => Some(row_type.codecs_for(table, user_schema)?),
        None => None,
    };
    let schema = match user_schema {
        Some(s) => {
            let s = renamed(s, table);
            check_fields(&s, key_fields, value_fields)?;
            s
        }
        None => derived_schema(table, key_fields, value_fields)?,
    };
    schema.validate()?;

    let find = |name: &str| -> Option<ColumnSource> {
        if let Some(part) = key_fields.iter().position(|f| f.name == name) {
            return Some(ColumnSource::Key {
                part,
                typ: key_fields[part].value_type.typ.clone(),
            });
        }
        value_fields
            .iter()
            .position(|f| f.name == name)
            .map(|index| ColumnSource::Field {
                index,
                typ: value_fields[index].value_type.typ.clone(),
            })
    };
    let mut sources = Vec::with_capacity(schema.columns.len());
    for c in &schema.columns {
        // check_fields / derived_schema guarantee every column has a field.
        let source = find(&c.name).ok_or_else(|| {
            Error::Config(format!(
                "table `{table}`: no collector field for column `{}`",
                c.name
            ))
        })?;
        sources.push(source);
    }
    let mut key_parts = Vec::with_capacity(schema.primary_key.len());
    for k in &schema.primary_key {
        let column = schema.columns.iter().position(|c| &c.name == k);
        match (find(k), column) {
            (Some(ColumnSource::Key { part, typ }), Some(column)) => {
                key_parts.push((part, typ, column));
            }
            _ => {
                return Err(Error::Config(format!(
                    "table `{table}`: primary key column `{k}` is not a key field of the collector"
                )));
            }
        }
    }
    Ok(ColumnMap {
        schema,
        sources,
        key_parts,
        value_fields: value_fields.len(),
        codecs,
    })
}

/// `schema` under the table name `table`. Index names are unique per database, so indexes named
/// after the old table (`{old}_...`, the derive's default names) follow the new name.
pub fn renamed(schema: &TableSchema, table: &str) -> TableSchema {
    let mut s = schema.clone();
    if s.name != table {
        let old_prefix = format!("{}_", s.name);
        for ix in &mut s.indexes {
            if let Some(rest) = ix.name.strip_prefix(&old_prefix) {
                ix.name = format!("{table}_{rest}");
            }
        }
        s.name = table.to_string();
    }
    s
}

fn refuse_unsupported_indexes(table: &str, index_options: &IndexOptions) -> Result<()> {
    let mut problems = Vec::new();
    if !index_options.vector_indexes.is_empty() {
        let fields: Vec<&str> = index_options
            .vector_indexes
            .iter()
            .map(|v| v.field_name.as_str())
            .collect();
        problems.push(format!(
            "vector indexes ({}) are not supported: D1 has no vector index; store the vector \
             (it becomes JSON text) and index it in Cloudflare Vectorize, or drop \
             `vector_indexes` from the export's IndexOptions",
            fields.join(", ")
        ));
    }
    if !index_options.fts_indexes.is_empty() {
        let fields: Vec<&str> = index_options
            .fts_indexes
            .iter()
            .map(|v| v.field_name.as_str())
            .collect();
        problems.push(format!(
            "full-text indexes ({}) are not supported by the D1 target; drop `fts_indexes` from \
             the export's IndexOptions",
            fields.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "D1 export to table `{table}`: {}",
            problems.join("; ")
        )))
    }
}

fn derived_schema(
    table: &str,
    key_fields: &[FieldSchema],
    value_fields: &[FieldSchema],
) -> Result<TableSchema> {
    let mut schema = TableSchema::new(table);
    for f in key_fields {
        if !is_key_type(&f.value_type.typ) {
            return Err(Error::Config(format!(
                "table `{table}`: key field `{}` has type {}, which cannot be a key",
                f.name, f.value_type.typ
            )));
        }
        schema
            .columns
            .push(Column::new(f.name.clone(), sql_type_of(&f.value_type.typ)));
        schema.primary_key.push(f.name.clone());
    }
    for f in value_fields {
        schema.columns.push(
            Column::new(f.name.clone(), sql_type_of(&f.value_type.typ))
                .nullable(f.value_type.nullable),
        );
    }
    Ok(schema)
}

/// Checks that a collector's fields match `schema`'s columns: same names (after renames), the
/// key fields are exactly the primary key, each field's D1 type equals its column's, and a
/// nullable field only feeds a nullable column. The error lists every mismatch.
pub(crate) fn check_fields(
    schema: &TableSchema,
    key_fields: &[FieldSchema],
    value_fields: &[FieldSchema],
) -> Result<()> {
    let mut problems: Vec<String> = Vec::new();
    let all: Vec<(&FieldSchema, bool)> = key_fields
        .iter()
        .map(|f| (f, true))
        .chain(value_fields.iter().map(|f| (f, false)))
        .collect();
    for c in &schema.columns {
        if !all.iter().any(|(f, _)| f.name == c.name) {
            problems.push(format!(
                "column `{}` ({}{}) has no collector field",
                c.name,
                c.sql_type,
                if c.nullable { "" } else { " NOT NULL" }
            ));
        }
    }
    for (f, is_key) in &all {
        let typ = &f.value_type.typ;
        let Some(c) = schema.column(&f.name) else {
            problems.push(format!(
                "collector field `{}` ({typ}) has no column in table `{}`",
                f.name, schema.name
            ));
            continue;
        };
        let want = sql_type_of(typ);
        if want != c.sql_type {
            problems.push(format!(
                "field `{}` is {typ}, stored as {want}, but column `{}` is {}",
                f.name, c.name, c.sql_type
            ));
        }
        if f.value_type.nullable && !c.nullable {
            problems.push(format!(
                "field `{}` is nullable but column `{}` is NOT NULL (use `Option<_>` in the struct)",
                f.name, c.name
            ));
        }
        let in_key = schema.is_key_column(&f.name);
        if *is_key && !in_key {
            problems.push(format!(
                "field `{}` is a key field of the export but not in the table's primary key ({})",
                f.name,
                schema.primary_key.join(", ")
            ));
        } else if !*is_key && in_key {
            problems.push(format!(
                "column `{}` is in the table's primary key but field `{}` is not a key field of \
                 the export (list it in IndexOptions.primary_key_fields)",
                c.name, f.name
            ));
        }
        if *is_key && !is_key_type(typ) {
            problems.push(format!(
                "key field `{}` has type {typ}, which cannot be a key",
                f.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "the collector's fields do not match table `{}`: {}. Name the collector's fields \
             after the table's columns (after renames), with matching types",
            schema.name,
            problems.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use recoco_core::base::schema::{BasicValueType, EnrichedValueType};

    use super::*;
    use crate::SqlType;

    fn field(name: &str, t: BasicValueType, nullable: bool) -> FieldSchema {
        FieldSchema::new(
            name,
            EnrichedValueType {
                typ: ValueType::Basic(t),
                nullable,
                attrs: Default::default(),
            },
        )
    }

    fn no_indexes() -> IndexOptions {
        IndexOptions {
            primary_key_fields: None,
            vector_indexes: vec![],
            fts_indexes: vec![],
        }
    }

    fn user_schema() -> TableSchema {
        let mut s = TableSchema::new("lines");
        s.columns = vec![
            Column::new("line", SqlType::Integer),
            Column::new("file", SqlType::Text),
            Column::new("text", SqlType::Text).nullable(true),
        ];
        s.primary_key = vec!["file".into(), "line".into()];
        s
    }

    #[test]
    fn derived_table_has_key_first_and_nullable_values() {
        let m = column_map(
            "t",
            &[field("id", BasicValueType::Int64, false)],
            &[
                field("body", BasicValueType::Str, true),
                field("n", BasicValueType::Float64, false),
            ],
            &no_indexes(),
            None,
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.schema.primary_key, vec!["id".to_string()]);
        assert_eq!(
            m.schema.columns[1],
            Column::new("body", SqlType::Text).nullable(true)
        );
        assert_eq!(m.schema.columns[2], Column::new("n", SqlType::Real));
        assert!(m.schema.strict);
    }

    #[test]
    fn user_schema_maps_columns_by_name() {
        let m = column_map(
            "renamed",
            &[
                field("file", BasicValueType::Str, false),
                field("line", BasicValueType::Int64, false),
            ],
            &[field("text", BasicValueType::Str, false)],
            &no_indexes(),
            Some(&user_schema()),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.schema.name, "renamed");
        assert!(matches!(m.sources[0], ColumnSource::Key { part: 1, .. }));
        assert!(matches!(m.sources[1], ColumnSource::Key { part: 0, .. }));
        assert!(matches!(m.sources[2], ColumnSource::Field { index: 0, .. }));
        assert_eq!(
            m.key_parts.iter().map(|(p, _, _)| *p).collect::<Vec<_>>(),
            vec![0, 1]
        );
    }

    #[test]
    fn a_renamed_table_renames_its_default_index_names() {
        let mut schema = user_schema();
        schema.indexes = vec![crate::Index {
            name: "lines_text_idx".into(),
            columns: vec!["text".into()],
            unique: false,
            where_clause: None,
        }];
        let m = column_map(
            "other",
            &[
                field("file", BasicValueType::Str, false),
                field("line", BasicValueType::Int64, false),
            ],
            &[field("text", BasicValueType::Str, true)],
            &no_indexes(),
            Some(&schema),
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.schema.indexes[0].name, "other_text_idx");
    }

    #[test]
    fn mismatches_are_all_listed() {
        let err = check_fields(
            &user_schema(),
            &[field("file", BasicValueType::Str, false)],
            &[
                field("line", BasicValueType::Str, false),
                field("extra", BasicValueType::Bool, true),
            ],
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("column `text` (TEXT) has no collector field"),
            "{err}"
        );
        assert!(
            err.contains("field `line` is Str, stored as TEXT, but column `line` is INTEGER"),
            "{err}"
        );
        assert!(err.contains("field `line` is not a key field"), "{err}");
        assert!(
            err.contains("collector field `extra` (Bool) has no column"),
            "{err}"
        );
    }

    #[test]
    fn vector_and_fts_indexes_are_refused() {
        let opts: IndexOptions = serde_json::from_value(serde_json::json!({
            "vector_indexes": [{"field_name": "emb", "metric": "CosineSimilarity"}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let err = column_map(
            "t",
            &[field("id", BasicValueType::Str, false)],
            &[],
            &opts,
            None,
            None,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            err.contains("vector indexes (emb) are not supported"),
            "{err}"
        );
    }
}
