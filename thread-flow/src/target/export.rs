//! From a `#[derive(D1Target)]` struct to what `FlowBuilder::export` needs.

use recoco_core::base::schema::FieldSchema;
use recoco_core::base::spec::IndexOptions;
use recoco_core::builder::FlowBuilder;
use recoco_core::builder::flow_builder::{DataCollector, DataSlice};

use super::columns::check_fields;
use super::spec::{Connection, D1Spec, ExistingTable};
use crate::{D1Target, Error, Result, TableSchema};

/// The arguments of `FlowBuilder::export` for one D1 table.
#[derive(Debug, Clone)]
pub struct D1Export {
    /// The `"D1"` target spec (serialized [`D1Spec`]).
    pub spec: serde_json::Map<String, serde_json::Value>,
    /// `primary_key_fields` = the table's primary key columns, no vector/FTS index.
    pub index_options: IndexOptions,
}

impl D1Export {
    /// The export for a spec carrying a schema (tune `spec` first: table name, request
    /// budget, batching window).
    pub fn from_spec(spec: &D1Spec) -> Result<D1Export> {
        let schema = spec.schema.as_ref().ok_or_else(|| {
            Error::Config(
                "D1Export::from_spec needs `schema`; use thread_flow::export::<T>() or set it"
                    .into(),
            )
        })?;
        schema.validate()?;
        Ok(D1Export {
            spec: spec.to_json_object()?,
            index_options: index_options_for(schema),
        })
    }
}

impl D1Export {
    /// What setup does with a table of this name that the flow has no record of creating:
    /// [`ExistingTable::Refuse`] (the default) uses it only when it matches the schema exactly
    /// and otherwise fails setup, changing nothing; [`ExistingTable::Adopt`] takes it over and
    /// migrates it (columns outside the schema are dropped with their data).
    ///
    /// ```
    /// # #[derive(thread_flow::D1Target)] struct Line { #[d1(primary_key)] id: i64, text: String }
    /// use thread_flow::target::{Connection, ExistingTable};
    /// let out = thread_flow::export::<Line>(Connection::local("lines.d1"))?
    ///     .with_existing(ExistingTable::Adopt);
    /// assert_eq!(out.spec["existing"], "adopt");
    /// # Ok::<(), thread_flow::Error>(())
    /// ```
    pub fn with_existing(mut self, existing: ExistingTable) -> D1Export {
        if existing.is_refuse() {
            self.spec.remove("existing");
        } else {
            self.spec.insert(
                "existing".into(),
                serde_json::Value::String(existing.as_str().into()),
            );
        }
        self
    }
}

/// `IndexOptions` whose primary key is `schema`'s.
pub fn index_options_for(schema: &TableSchema) -> IndexOptions {
    IndexOptions {
        primary_key_fields: Some(schema.primary_key.clone()),
        vector_indexes: Vec::new(),
        fts_indexes: Vec::new(),
    }
}

/// The spec and `IndexOptions` exporting a collector into `T`'s table on `connection`:
/// `T::schema()` (columns, key, indexes, STRICT, ...) becomes the table's definition, and the
/// collector's fields must be named after its columns.
///
/// ```no_run
/// # #[derive(thread_flow::D1Target)] struct Line { #[d1(primary_key)] id: i64, text: String }
/// use thread_flow::target::Connection;
/// let out = thread_flow::export::<Line>(Connection::local("lines.d1"))?;
/// assert_eq!(out.index_options.primary_key_fields, Some(vec!["id".to_string()]));
/// # Ok::<(), thread_flow::Error>(())
/// ```
pub fn export<T: D1Target>(connection: Connection) -> Result<D1Export> {
    let mut spec = D1Spec::new(connection);
    spec.schema = Some(T::schema().clone());
    D1Export::from_spec(&spec)
}

/// Checks, before `FlowBuilder::collect`, that the fields about to be collected match `T`'s
/// columns by name and type; the error lists every mismatch. (The target repeats this check
/// when the flow is built.)
pub fn check_collected<T: D1Target>(fields: &[(String, DataSlice)]) -> Result<()> {
    let schema = T::schema();
    let mut all = Vec::with_capacity(fields.len());
    for (name, slice) in fields {
        let typ = slice
            .data_type()
            .map_err(|e| Error::Config(format!("collected field `{name}`: {e}")))?
            .schema();
        all.push(FieldSchema::new(name.clone(), typ));
    }
    let (key, value): (Vec<FieldSchema>, Vec<FieldSchema>) =
        all.into_iter().partition(|f| schema.is_key_column(&f.name));
    // Key fields in primary-key order, as ReCoco passes them.
    let mut key_sorted = Vec::with_capacity(key.len());
    for k in &schema.primary_key {
        if let Some(f) = key.iter().find(|f| &f.name == k) {
            key_sorted.push(f.clone());
        }
    }
    check_fields(schema, &key_sorted, &value)
}

/// `builder.export(name, "D1", ...)` for `T`'s table: the shortest way from a derived struct to
/// an export.
pub fn export_collector<T: D1Target>(
    builder: &mut FlowBuilder,
    name: &str,
    collector: &DataCollector,
    connection: Connection,
) -> Result<()> {
    let out = export::<T>(connection)?;
    builder
        .export(
            name.to_string(),
            super::KIND.to_string(),
            out.spec,
            Vec::new(),
            out.index_options,
            collector,
            false,
        )
        .map_err(|e| Error::Config(format!("exporting `{name}` to D1: {e}")))
}
