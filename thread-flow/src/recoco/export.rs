//! From a `#[derive(D1Target)]` struct to what `FlowBuilder::export` needs.
//!
//! [`export::<T>()`](export) puts `T`'s schema in the spec and registers `T`'s derived column
//! codecs under a name the spec carries (`row_type`); the target finds them by that name when
//! the flow is built, and runs each collected value through its column's codec. A spec is JSON
//! (it cannot carry functions), so the codecs live in this process-wide registry.

use std::any::TypeId;
use std::sync::Mutex;

use recoco_core::base::schema::FieldSchema;
use recoco_core::base::spec::IndexOptions;
use recoco_core::builder::FlowBuilder;
use recoco_core::builder::flow_builder::{DataCollector, DataSlice};

use super::columns::{Codec, check_fields};
use super::spec::{Connection, D1Spec, ExistingTable};
use crate::{D1Target, Error, Result, TableSchema};

/// A `#[derive(D1Target)]` struct an export was made from: its schema and column codecs.
#[derive(Clone, Copy)]
pub(crate) struct RowType {
    /// The name the spec's `row_type` carries.
    name: &'static str,
    schema: fn() -> &'static TableSchema,
    codecs: &'static [Codec],
}

impl std::fmt::Debug for RowType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowType")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl RowType {
    /// The codecs, once the table `table` of the spec (`schema`) is checked to have the
    /// struct's columns, in its order (a spec naming a row type of another shape is refused).
    pub(crate) fn codecs_for(
        &self,
        table: &str,
        schema: Option<&TableSchema>,
    ) -> Result<&'static [Codec]> {
        let derived = (self.schema)();
        let same = schema.is_some_and(|s| s.columns == derived.columns);
        if !same || self.codecs.len() != derived.columns.len() {
            return Err(Error::Config(format!(
                "D1 export to table `{table}`: the spec's `row_type` `{}` does not match its \
                 `schema` (the columns differ); make the export with \
                 thread_flow::recoco::export::<{}>() instead of editing its spec",
                self.name, self.name
            )));
        }
        Ok(self.codecs)
    }
}

/// The row types registered by [`export`] in this process: (type, name, row type).
static ROW_TYPES: Mutex<Vec<(TypeId, RowType)>> = Mutex::new(Vec::new());

/// Registers `T`'s codecs (once) and returns the name a spec names them by: the type's name,
/// with `#2`, `#3`, ... appended should two types share one.
fn register_row_type<T: D1Target>() -> Result<&'static str> {
    let codecs = T::column_codecs();
    if codecs.len() != T::schema().columns.len() {
        return Err(Error::Config(format!(
            "`{}` implements D1Target by hand; the ReCoco export encodes collected values with \
             the codecs `#[derive(D1Target)]` generates, so derive it",
            std::any::type_name::<T>()
        )));
    }
    let id = TypeId::of::<T>();
    let mut types = ROW_TYPES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, row_type)) = types.iter().find(|(t, _)| *t == id) {
        return Ok(row_type.name);
    }
    let base = std::any::type_name::<T>();
    let taken = types
        .iter()
        .filter(|(_, r)| r.name.split('#').next() == Some(base))
        .count();
    let name: &'static str = if taken == 0 {
        base
    } else {
        // One small leak per extra type per process, at most.
        Box::leak(format!("{base}#{}", taken + 1).into_boxed_str())
    };
    types.push((
        id,
        RowType {
            name,
            schema: T::schema,
            codecs,
        },
    ));
    Ok(name)
}

/// The row type a spec's `row_type` names; an error when no [`export`] in this process
/// registered it.
pub(crate) fn row_type_named(name: &str) -> Result<RowType> {
    let types = ROW_TYPES.lock().unwrap_or_else(|e| e.into_inner());
    types
        .iter()
        .find(|(_, r)| r.name == name)
        .map(|(_, r)| *r)
        .ok_or_else(|| {
            Error::Config(format!(
                "the D1 spec's `row_type` names `{name}`, which no thread_flow::recoco::export::<T>() \
                 of this process registered; make the export with thread_flow::recoco::export::<T>(), \
                 or remove `row_type` to store the collected values as they are"
            ))
        })
}

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
                "D1Export::from_spec needs `schema`; use thread_flow::recoco::export::<T>() or set it"
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
    /// use thread_flow::{Connection, recoco::ExistingTable};
    /// let out = thread_flow::recoco::export::<Line>(Connection::local("lines.d1"))?
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
/// The export also carries `T`'s derived column codecs (registered in this process, named by
/// the spec's `row_type`): each collected value, given in its column's storage form (an enum's
/// variant text or discriminant, a newtype's inner value, JSON for a `#[d1(json)]` field), is
/// decoded as the field's type and encoded by the field's own codec, so the table holds exactly
/// what `D1Table<T>::upsert` writes, and a value the field cannot hold (an unknown variant, JSON
/// of another shape) fails its row with [`Error::Bind`] naming the column and key. `T` must
/// implement [`D1Target`] with `#[derive(D1Target)]`.
///
/// ```no_run
/// # #[derive(thread_flow::D1Target)] struct Line { #[d1(primary_key)] id: i64, text: String }
/// use thread_flow::Connection;
/// let out = thread_flow::recoco::export::<Line>(Connection::local("lines.d1"))?;
/// assert_eq!(out.index_options.primary_key_fields, Some(vec!["id".to_string()]));
/// # Ok::<(), thread_flow::Error>(())
/// ```
pub fn export<T: D1Target>(connection: Connection) -> Result<D1Export> {
    let mut spec = D1Spec::new(connection);
    spec.schema = Some(T::schema().clone());
    spec.row_type = Some(register_row_type::<T>()?.to_string());
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
