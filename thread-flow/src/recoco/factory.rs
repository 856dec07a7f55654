//! [`D1TargetFactory`]: ReCoco's `TargetFactoryBase` for kind `"D1"`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use recoco_core::base::value::{FieldValues, KeyValue};
use recoco_core::ops::interface::{FlowInstanceContext, SetupStateCompatibility};
use recoco_core::ops::sdk::{
    ExportTargetMutationWithContext, TargetFactoryBase, TypedExportDataCollectionBuildOutput,
    TypedExportDataCollectionSpec, TypedResourceSetupChangeItem,
};
use recoco_core::prelude::{Error as RecocoError, Result as RecocoResult};
use recoco_core::setup::{self, ChangeDescription, CombinedState, SetupChangeType};

use super::batch::{
    DEFAULT_BATCH_WINDOW, DEFAULT_MAX_BATCH_ROWS, Submission, TableStats, TableStatsSnapshot,
    TableWriter,
};
use super::columns::{ColumnMap, ColumnSource, column_map};
use super::export::row_type_named;
use super::spec::{
    D1SetupState, D1Spec, D1TableId, DatabaseId, ExistingTable, TokenSource, default_table_name,
};
use super::types::{field_to_value, key_part_to_value};
use crate::client::connection::check_token_use;
use crate::sql::migrate::{MigrationOptions, MigrationPlan, plan_drop, plan_migration};
use crate::sql::{WriteOptions, render_key};
use crate::{D1Database, Error, MigrationReport, TableSchema, Value};

/// The ReCoco target kind name.
pub const KIND: &str = "D1";

/// ReCoco's target factory for D1 tables (kind `"D1"`). Register it with
/// [`crate::recoco::register`].
///
/// Databases are opened once per process and shared by every export, setup step and clone,
/// and with [`D1Database::connect`]: one local SQLite connection per file, and one HTTP handle
/// per D1 database (one concurrency limit and one client-side rate limit, whatever the number
/// of exports and Tokio runtimes).
#[derive(Debug, Default)]
pub struct D1TargetFactory {
    stats: Mutex<HashMap<D1TableId, Arc<TableStats>>>,
}

/// Per-export state: the table, how mutations map to its columns, and its batching writer.
#[derive(Debug)]
pub struct D1ExportContext {
    map: ColumnMap,
    writer: Arc<TableWriter>,
}

/// A ReCoco error that keeps the typed [`Error`] (callers find it with `downcast_ref` on the
/// error's source chain) and displays its message as is.
fn to_recoco(e: Error) -> RecocoError {
    RecocoError::host(e)
}

impl D1TargetFactory {
    /// Opens the database, once per process: every export, setup step and clone shares the
    /// process-wide handle of `id` ([`D1Database::connect`]): one local SQLite connection per
    /// file, and one HTTP handle (one concurrency limit, one rate limit) per D1 database. The
    /// HTTP handle serves every Tokio runtime (it keeps one connection pool per runtime).
    /// `concurrency` sets the handle's requests in flight when this call opens it (default
    /// 6); later calls share the open handle as it is.
    ///
    /// The token is read now (checked against the spec rules first), kept only inside the
    /// handle (redacted), and never persisted. When the token read now differs from the one
    /// the open handle was made with (a rotated token), a new handle replaces it. When it
    /// cannot be read but the application already opened this database (say with a token of
    /// its own, [`D1Database::connect_with_token`]), that handle is shared: no token goes
    /// anywhere new.
    fn database(
        &self,
        id: &DatabaseId,
        token: Option<&TokenSource>,
        auth: &recoco_core::setup::AuthRegistry,
        concurrency: Option<usize>,
    ) -> Result<D1Database, Error> {
        let default_source = TokenSource::default_env();
        let source = match id {
            DatabaseId::Local { .. } => None,
            _ => Some(token.unwrap_or(&default_source)),
        };
        D1Database::open_shared(
            id,
            || {
                check_token_use(id, source)?;
                source.map(|t| t.resolve(auth)).transpose()
            },
            |config| match concurrency {
                Some(n) => config.with_max_concurrency(n),
                None => config,
            },
        )
    }

    fn stats_for(&self, id: &D1TableId) -> Arc<TableStats> {
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(stats.entry(id.clone()).or_default())
    }

    /// Write counters per table (database + name) since the process started, sorted by
    /// table name.
    pub fn table_stats(&self) -> Vec<(D1TableId, TableStatsSnapshot)> {
        let stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = stats
            .iter()
            .map(|(k, v)| (k.clone(), v.snapshot()))
            .collect();
        out.sort_by(|a, b| (&a.0.table, &a.0.database).cmp(&(&b.0.table, &b.0.database)));
        out
    }
}

/// What the setup step will do to one table; computed without I/O.
#[derive(Debug)]
pub struct D1SetupChange {
    table: D1TableId,
    desired: Option<TableSchema>,
    /// The last recorded definition, used for dropping and for the description.
    previous: Option<TableSchema>,
    /// Whether the recorded state says this flow created the table (only then may setup drop
    /// or recreate it).
    owned: bool,
    /// What to do with a live table this flow has no record of creating.
    existing: ExistingTable,
    token: Option<TokenSource>,
    /// The migration from the recorded state, as described to the user.
    plan: MigrationPlan,
    change_type: SetupChangeType,
    notes: Vec<String>,
}

impl D1SetupChange {
    #[cfg(feature = "testing")]
    /// The planned steps, as described to the user.
    pub fn plan(&self) -> &MigrationPlan {
        &self.plan
    }
}

impl setup::ResourceSetupChange for D1SetupChange {
    fn describe_changes(&self) -> Vec<ChangeDescription> {
        let mut out: Vec<ChangeDescription> = self
            .plan
            .steps
            .iter()
            .map(|s| ChangeDescription::Action(s.description.clone()))
            .collect();
        out.extend(self.notes.iter().cloned().map(ChangeDescription::Note));
        out
    }

    fn change_type(&self) -> SetupChangeType {
        self.change_type
    }
}

/// ReCoco owns the rows of an exported table (it re-exports them after an incompatible
/// change), so a column removed from the flow may be dropped with its values.
const MIGRATION: MigrationOptions = MigrationOptions {
    allow_data_loss: true,
    rebuild_referenced: false,
};

/// Plans the change from the recorded states to `desired`. Pure.
pub fn diff(
    table: D1TableId,
    desired: Option<D1SetupState>,
    existing: &CombinedState<D1SetupState>,
) -> Result<D1SetupChange, Error> {
    let versions: Vec<&D1SetupState> = existing.possible_versions().collect();
    let previous = versions.last().map(|s| s.schema.clone());
    let certain =
        existing.always_exists() && versions.windows(2).all(|w| w[0].schema == w[1].schema);
    let mut notes = Vec::new();
    if !versions.is_empty() && !certain {
        notes.push(format!(
            "an earlier setup of {table} did not finish; the live table is inspected and \
             migrated from what it really is"
        ));
    }
    let token = desired
        .as_ref()
        .and_then(|d| d.token.clone())
        .or_else(|| versions.last().and_then(|s| s.token.clone()));
    let owned = !versions.is_empty();
    let existing_policy = desired.as_ref().map(|d| d.existing).unwrap_or_default();
    if !owned && desired.is_some() {
        notes.push(match existing_policy {
            ExistingTable::Refuse => format!(
                "this flow has no record of creating {table}: if a table of that name exists, \
                 it is used only if it matches the export's schema exactly, else setup refuses"
            ),
            ExistingTable::Adopt => format!(
                "this flow has no record of creating {table}: if a table of that name exists, \
                 it is adopted and migrated (\"existing\": \"adopt\"), columns outside the \
                 schema dropped with their data"
            ),
        });
    }
    let (plan, change_type) = match &desired {
        Some(d) => {
            let from = if versions.is_empty() {
                None
            } else {
                previous.as_ref()
            };
            let plan = plan_migration(from, &d.schema, &MIGRATION)?;
            let token_moved = certain && versions.iter().any(|v| v.token != d.token);
            if token_moved && let Some(t) = &d.token {
                notes.push(format!("the API token for {table} is now read from {t}"));
            }
            let change_type = if from.is_none() {
                SetupChangeType::Create
            } else if plan.is_empty() && certain && !token_moved {
                SetupChangeType::NoChange
            } else {
                SetupChangeType::Update
            };
            (plan, change_type)
        }
        None => match &previous {
            Some(p) => (plan_drop(p), SetupChangeType::Delete),
            None => (MigrationPlan::default(), SetupChangeType::NoChange),
        },
    };
    Ok(D1SetupChange {
        table,
        desired: desired.map(|d| d.schema),
        previous,
        owned,
        existing: existing_policy,
        token,
        plan,
        change_type,
        notes,
    })
}

/// ReCoco's compatibility rule: a different key is `NotCompatible` (ReCoco re-exports every
/// row), a removed or retyped column `PartialCompatible`, anything else (added columns, index
/// changes) `Compatible`.
pub fn compatibility(desired: &TableSchema, existing: &TableSchema) -> SetupStateCompatibility {
    let key_type = |s: &TableSchema| -> Vec<(String, Option<crate::SqlType>)> {
        s.primary_key
            .iter()
            .map(|k| (k.clone(), s.column(k).map(|c| c.sql_type)))
            .collect()
    };
    if key_type(desired) != key_type(existing) {
        return SetupStateCompatibility::NotCompatible;
    }
    let lossy = existing
        .columns
        .iter()
        .any(|old| match desired.column(&old.name) {
            None => true,
            Some(new) => new.sql_type != old.sql_type || (old.nullable && !new.nullable),
        });
    if lossy {
        SetupStateCompatibility::PartialCompatible
    } else {
        SetupStateCompatibility::Compatible
    }
}

impl D1ExportContext {
    #[cfg(feature = "testing")]
    /// The table this export writes.
    pub fn schema(&self) -> &TableSchema {
        &self.map.schema
    }

    #[cfg(feature = "testing")]
    /// The write tuning this export's batches use: the spec's `max_request_bytes` and
    /// `concurrency` over the transport's defaults ([`WriteOptions::local`] for a local
    /// database, [`WriteOptions::default`] over HTTP).
    pub fn write_options(&self) -> WriteOptions {
        *self.writer.database().write_options()
    }

    fn key_values(&self, key: &KeyValue) -> Result<Vec<Value>, Error> {
        let mut out = Vec::with_capacity(self.map.key_parts.len());
        for (part, typ, column) in &self.map.key_parts {
            let name = &self.map.schema.columns[*column].name;
            let p = key
                .0
                .get(*part)
                .ok_or_else(|| self.bind_error(name, None, "key part missing"))?;
            let v = self
                .map
                .encode(*column, key_part_to_value(p, typ))
                .map_err(|e| self.bind_error(name, None, &e.message))?;
            out.push(v);
        }
        Ok(out)
    }

    fn row_values(
        &self,
        key: &KeyValue,
        key_values: &[Value],
        value: &FieldValues,
    ) -> Result<Vec<Value>, Error> {
        if value.fields.len() != self.map.value_fields {
            return Err(Error::Config(format!(
                "table `{}`: ReCoco sent {} value fields, the export declared {}",
                self.map.schema.name,
                value.fields.len(),
                self.map.value_fields
            )));
        }
        let mut row = Vec::with_capacity(self.map.sources.len());
        for (i, (column, source)) in self
            .map
            .schema
            .columns
            .iter()
            .zip(&self.map.sources)
            .enumerate()
        {
            let natural = match source {
                ColumnSource::Key { part, typ } => {
                    let p = key.0.get(*part).ok_or_else(|| {
                        self.bind_error(
                            &column.name,
                            Some(render_key(key_values)),
                            "key part missing",
                        )
                    })?;
                    key_part_to_value(p, typ)
                }
                ColumnSource::Field { index, typ } => field_to_value(&value.fields[*index], typ),
            };
            let v = self.map.encode(i, natural).map_err(|e| {
                self.bind_error(&column.name, Some(render_key(key_values)), &e.message)
            })?;
            if v.is_null() && !column.nullable {
                return Err(self.bind_error(
                    &column.name,
                    Some(render_key(key_values)),
                    "NULL in a NOT NULL column",
                ));
            }
            row.push(v);
        }
        Ok(row)
    }

    fn bind_error(&self, column: &str, key: Option<String>, message: &str) -> Error {
        Error::Bind {
            table: self.map.schema.name.clone(),
            column: Some(column.to_string()),
            key,
            message: message.to_string(),
        }
    }
}

#[async_trait::async_trait]
impl TargetFactoryBase for D1TargetFactory {
    type Spec = D1Spec;
    type DeclarationSpec = ();
    type SetupKey = D1TableId;
    type SetupState = D1SetupState;
    type SetupChange = D1SetupChange;
    type ExportContext = D1ExportContext;

    fn name(&self) -> &str {
        KIND
    }

    async fn build(
        self: Arc<Self>,
        data_collections: Vec<TypedExportDataCollectionSpec<Self>>,
        _declarations: Vec<()>,
        context: Arc<FlowInstanceContext>,
    ) -> RecocoResult<(
        Vec<TypedExportDataCollectionBuildOutput<Self>>,
        Vec<(D1TableId, D1SetupState)>,
    )> {
        let mut outputs = Vec::with_capacity(data_collections.len());
        let mut tables: HashMap<D1TableId, String> = HashMap::new();
        for d in data_collections {
            let spec = d.spec;
            // A database the application opened already is shared as it is (see
            // `D1TargetFactory::database`): no token goes anywhere new, nothing to check.
            if !D1Database::is_open(&spec.connection.identity()) {
                spec.connection
                    .check()
                    .map_err(|e| to_recoco(e).context(format!("D1 export `{}`", d.name)))?;
            }
            let table = spec
                .table
                .clone()
                .or_else(|| spec.schema.as_ref().map(|s| s.name.clone()))
                .unwrap_or_else(|| default_table_name(&context.flow_instance_name, &d.name));
            let row_type = spec
                .row_type
                .as_deref()
                .map(row_type_named)
                .transpose()
                .map_err(|e| to_recoco(e).context(format!("D1 export `{}`", d.name)))?;
            let map = column_map(
                &table,
                &d.key_fields_schema,
                &d.value_fields_schema,
                &d.index_options,
                spec.schema.as_ref(),
                row_type.as_ref(),
            )
            .map_err(|e| to_recoco(e).context(format!("D1 export `{}`", d.name)))?;
            let key = D1TableId {
                database: spec.connection.identity(),
                table,
            };
            if let Some(other) = tables.insert(key.clone(), d.name.clone()) {
                return Err(to_recoco(Error::Config(format!(
                    "D1 exports `{other}` and `{}` both write {key} (table names are compared \
                     without regard to case); give one of them another `table`",
                    d.name
                ))));
            }
            let token = spec.connection.token_source();
            let state = D1SetupState {
                schema: map.schema.clone(),
                token: token.clone(),
                existing: spec.existing,
            };

            let factory = Arc::clone(&self);
            let auth = Arc::clone(&context.auth_registry);
            let key_for_ctx = key.clone();
            let export_context = Box::pin(async move {
                let db = factory
                    .database(
                        &key_for_ctx.database,
                        token.as_ref(),
                        &auth,
                        spec.concurrency,
                    )
                    .map_err(to_recoco)?;
                // The transport's own defaults: local ones for a local file, HTTP ones else.
                let defaults = *db.write_options();
                let db = db.with_write_options(WriteOptions {
                    max_request_bytes: spec.max_request_bytes.unwrap_or(defaults.max_request_bytes),
                    concurrency: spec.concurrency.unwrap_or(defaults.concurrency).max(1),
                    ..defaults
                });
                let writer = TableWriter::new(
                    db,
                    Arc::new(map.schema.clone()),
                    spec.batch_window_ms
                        .map(Duration::from_millis)
                        .unwrap_or(DEFAULT_BATCH_WINDOW),
                    spec.max_batch_rows.unwrap_or(DEFAULT_MAX_BATCH_ROWS),
                    factory.stats_for(&key_for_ctx),
                );
                Ok(Arc::new(D1ExportContext {
                    map,
                    writer: Arc::new(writer),
                }))
            });
            outputs.push(TypedExportDataCollectionBuildOutput {
                export_context,
                setup_key: key,
                desired_setup_state: state,
            });
        }
        Ok((outputs, Vec::new()))
    }

    async fn diff_setup_states(
        &self,
        key: D1TableId,
        desired_state: Option<D1SetupState>,
        existing_states: CombinedState<D1SetupState>,
        _flow_instance_ctx: Arc<FlowInstanceContext>,
    ) -> RecocoResult<D1SetupChange> {
        diff(key, desired_state, &existing_states).map_err(to_recoco)
    }

    fn check_state_compatibility(
        &self,
        desired_state: &D1SetupState,
        existing_state: &D1SetupState,
    ) -> RecocoResult<SetupStateCompatibility> {
        Ok(compatibility(&desired_state.schema, &existing_state.schema))
    }

    fn describe_resource(&self, key: &D1TableId) -> RecocoResult<String> {
        Ok(key.to_string())
    }

    async fn apply_mutation(
        &self,
        mutations: Vec<ExportTargetMutationWithContext<'async_trait, D1ExportContext>>,
    ) -> RecocoResult<()> {
        let mut receivers = Vec::with_capacity(mutations.len());
        for m in &mutations {
            let ctx = m.export_context;
            let converted = (|| -> Result<Submission, Error> {
                let mut submission = Submission::default();
                for u in &m.mutation.upserts {
                    let key = ctx.key_values(&u.key)?;
                    let row = ctx.row_values(&u.key, &key, &u.value)?;
                    submission.upserts.push((key, row));
                }
                for d in &m.mutation.deletes {
                    submission.deletes.push(ctx.key_values(&d.key)?);
                }
                Ok(submission)
            })();
            match converted {
                Ok(s) => receivers.push((ctx, ctx.writer.enqueue(s))),
                Err(e) => {
                    tracing::error!(table = %ctx.map.schema.name, error = %e, "D1 row rejected");
                    return Err(to_recoco(e));
                }
            }
        }
        for (ctx, rx) in receivers {
            match rx.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(RecocoError::internal(anyhow::Error::new(e))),
                Err(_) => {
                    return Err(RecocoError::internal_msg(format!(
                        "D1 write to table `{}` was abandoned (runtime shutting down?)",
                        ctx.map.schema.name
                    )));
                }
            }
        }
        Ok(())
    }

    async fn apply_setup_changes(
        &self,
        setup_change: Vec<TypedResourceSetupChangeItem<'async_trait, Self>>,
        context: Arc<FlowInstanceContext>,
    ) -> RecocoResult<()> {
        for item in setup_change {
            let change = item.setup_change;
            if change.change_type == SetupChangeType::NoChange {
                continue;
            }
            let db = self
                .database(
                    &item.key.database,
                    change.token.as_ref(),
                    &context.auth_registry,
                    None,
                )
                .map_err(to_recoco)?;
            apply_one(&db, change).await.map_err(|e| {
                tracing::error!(table = %change.table.table, error = %e, "D1 setup failed");
                to_recoco(e).context(format!("setting up {}", change.table))
            })?;
        }
        Ok(())
    }
}

/// Brings one table to its desired state: re-plans from the live table (so a replay after a
/// crash, or a table changed by hand, still converges) and sends the plan as one request.
///
/// Only a table the recorded state says this flow created is migrated with data loss, dropped
/// or recreated; any other live table of that name goes through [`take_over`].
async fn apply_one(db: &D1Database, change: &D1SetupChange) -> Result<(), Error> {
    let report = match (&change.desired, &change.previous) {
        (Some(desired), _) if change.owned => match db.migrate_table(desired, &MIGRATION).await {
            Ok(report) => report,
            Err(e) if !e.is_retryable() => recreate_on_key_change(db, desired, e).await?,
            Err(e) => return Err(e),
        },
        (Some(desired), _) => take_over(db, &change.table, desired, change.existing).await?,
        (None, Some(previous)) if change.owned => {
            db.apply_migration(&previous.name, plan_drop(previous))
                .await?
        }
        (None, _) => return Ok(()),
    };
    for step in &report.plan.steps {
        tracing::info!(table = %change.table.table, "D1 setup: {}", step.description);
    }
    Ok(())
}

/// Sets up a table this flow has no record of creating: creates it when missing; uses a live
/// table that already matches `desired` exactly; migrates a different one only when the spec
/// says `"existing": "adopt"` (never dropping or recreating it); else refuses with
/// [`Error::MigrationRefused`] naming the table and the differences, changing nothing.
async fn take_over(
    db: &D1Database,
    id: &D1TableId,
    desired: &TableSchema,
    existing: ExistingTable,
) -> Result<MigrationReport, Error> {
    let Some(live) = db.live_schema(&desired.name).await? else {
        let plan = plan_migration(None, desired, &MigrationOptions::default())?;
        return db.apply_migration(&desired.name, plan).await;
    };
    let plan = plan_migration(Some(&live), desired, &MIGRATION)?;
    if plan.is_empty() {
        tracing::info!(table = %desired.name, "D1 setup: using the existing table {id}, which matches the export's schema exactly");
        return Ok(MigrationReport {
            plan,
            requests: 0,
            statements: 0,
        });
    }
    match existing {
        ExistingTable::Refuse => Err(Error::MigrationRefused {
            table: desired.name.clone(),
            reason: format!(
                "{id} already exists, this flow has no record of creating it, and it differs \
                 from the export's schema: {}. Nothing was changed. Export to another table \
                 name, change or remove the existing table, or set `\"existing\": \"adopt\"` in \
                 the D1 spec (D1Spec::existing = ExistingTable::Adopt, or \
                 D1Export::with_existing) to let this flow migrate it, dropping columns \
                 outside the schema with their data",
                describe_differences(&live, desired, &plan)
            ),
        }),
        ExistingTable::Adopt => {
            tracing::warn!(
                table = %desired.name,
                "D1 setup: adopting the existing table {id} (\"existing\": \"adopt\") and migrating it"
            );
            db.apply_migration(&desired.name, plan).await
        }
    }
}

/// The differences between a live table and the export's schema, in plain words.
fn describe_differences(live: &TableSchema, desired: &TableSchema, plan: &MigrationPlan) -> String {
    // Columns of `a` that `b` lacks (names compare without regard to case, as in SQLite).
    let absent = |a: &TableSchema, b: &TableSchema| -> Vec<String> {
        a.columns
            .iter()
            .filter(|c| {
                !b.columns
                    .iter()
                    .any(|d| d.name.eq_ignore_ascii_case(&c.name))
            })
            .map(|c| format!("`{}`", c.name))
            .collect()
    };
    let mut out = Vec::new();
    let extra = absent(live, desired);
    if !extra.is_empty() {
        out.push(format!(
            "the live table has column(s) {} that the export does not declare",
            extra.join(", ")
        ));
    }
    let missing = absent(desired, live);
    if !missing.is_empty() {
        out.push(format!(
            "the live table lacks column(s) {}",
            missing.join(", ")
        ));
    }
    out.push(format!(
        "the migration would {}",
        plan.descriptions().join("; then ")
    ));
    out.join("; ")
}

/// A rebuild under a new key fails when two rows collide under it. ReCoco treats a key change
/// as incompatible and re-exports every row afterwards, so the table is then recreated empty
/// (drop + create in one request) instead of failing the setup. Any other failure stands.
async fn recreate_on_key_change(
    db: &D1Database,
    desired: &TableSchema,
    failure: Error,
) -> Result<crate::MigrationReport, Error> {
    // Only rows colliding under the new key are a reason to start over; a refusal (for
    // example a table other tables reference) or any other failure is the answer.
    let collided = failure.database_kind() == Some(crate::DatabaseErrorKind::UniqueViolation);
    if !collided {
        return Err(failure);
    }
    let Some((live, dependents)) = db.live_table(&desired.name).await? else {
        return Err(failure);
    };
    if live.primary_key == desired.primary_key {
        return Err(failure);
    }
    if !dependents.referenced_by.is_empty() {
        // DROP TABLE would delete or orphan rows of tables this flow did not create.
        return Err(Error::MigrationRefused {
            table: desired.name.clone(),
            reason: format!(
                "rows collide under the new primary key and the table would have to be \
                 recreated empty, but other tables reference it ({}); change or drop their \
                 foreign keys first ({failure})",
                dependents
                    .referenced_by
                    .iter()
                    .map(|k| k.table.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    tracing::warn!(
        table = %desired.name,
        error = %failure,
        "rows collide under the new primary key; recreating the table empty, ReCoco re-exports every row"
    );
    let mut plan = plan_drop(&live);
    plan.steps
        .extend(plan_migration(None, desired, &MIGRATION)?.steps);
    plan.rebuild = true;
    db.apply_migration(&desired.name, plan).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Column, SqlType};

    /// `parent (id, code)` keyed by `id` with rows whose `code` collide, and a child table
    /// (not made by any flow) referencing it with `ON DELETE CASCADE`.
    async fn parent_with_child(db: &D1Database) -> Result<TableSchema, Error> {
        for sql in [
            r#"CREATE TABLE "parent" ("id" INTEGER NOT NULL, "code" TEXT NOT NULL, PRIMARY KEY ("id")) STRICT"#,
            r#"INSERT INTO "parent" VALUES (1, 'same'), (2, 'same')"#,
            r#"CREATE TABLE "child" ("pid" INTEGER REFERENCES "parent" ("id") ON DELETE CASCADE)"#,
            r#"INSERT INTO "child" VALUES (1), (2)"#,
        ] {
            db.execute_idempotent(sql, Vec::new()).await?;
        }
        let mut desired = TableSchema::new("parent");
        desired.columns = vec![
            Column::new("id", SqlType::Integer),
            Column::new("code", SqlType::Text),
        ];
        desired.primary_key = vec!["code".into()];
        Ok(desired)
    }

    async fn child_rows(db: &D1Database) -> Result<usize, Error> {
        Ok(db
            .execute_idempotent(r#"SELECT * FROM "child""#, Vec::new())
            .await?
            .rows
            .len())
    }

    #[tokio::test]
    async fn a_key_change_never_drops_a_table_other_tables_reference() -> Result<(), Error> {
        let db = D1Database::in_memory()?;
        let desired = parent_with_child(&db).await?;
        // The key change itself is refused: the rebuild would cascade into `child`.
        let failure = db
            .migrate_table(&desired, &MIGRATION)
            .await
            .expect_err("a rebuild of a referenced table is refused");
        assert!(
            matches!(failure, Error::MigrationRefused { .. }),
            "{failure}"
        );
        // A refusal is the answer, never a reason to drop and recreate.
        let again = recreate_on_key_change(&db, &desired, failure).await;
        assert!(
            matches!(again, Err(Error::MigrationRefused { .. })),
            "{again:?}"
        );
        // Even a collision under the new key does not drop a referenced table.
        let collision = Error::Api {
            status: None,
            code: Some(7500),
            message: "UNIQUE constraint failed: parent.code".into(),
            table: Some("parent".into()),
            first_key: None,
            attempts: 1,
            hint: None,
            stopped: None,
            kind: crate::DatabaseErrorKind::UniqueViolation,
            source: None,
        };
        let refused = recreate_on_key_change(&db, &desired, collision).await;
        match refused {
            Err(Error::MigrationRefused { table, reason }) => {
                assert_eq!(table, "parent");
                assert!(reason.contains("child"), "{reason}");
            }
            other => panic!("expected MigrationRefused, got {other:?}"),
        }
        assert_eq!(child_rows(&db).await?, 2, "the child rows are untouched");
        let parent = db
            .execute_idempotent(r#"SELECT * FROM "parent""#, Vec::new())
            .await?;
        assert_eq!(parent.rows.len(), 2, "the parent rows are untouched");
        Ok(())
    }

    #[tokio::test]
    async fn the_factory_shares_the_handle_connect_opened() -> Result<(), Error> {
        let dir = std::env::temp_dir().join(format!(
            "tf-factory-shared-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let connection = crate::Connection::local(dir.join("f.d1"));
        let db = D1Database::connect(&connection)?;
        let factory = D1TargetFactory::default();
        let auth = recoco_core::setup::AuthRegistry::new();
        let from_factory = factory.database(&connection.identity(), None, &auth, None)?;
        assert!(from_factory.shares_transport_with(&db));

        // The main job's case: the application opened an HTTP database with a token of its
        // own; the spec's default token variable is not set (nor allowed to that loopback
        // URL), and the factory shares the open handle instead of failing.
        let remote = crate::Connection::Http {
            base_url: "http://127.0.0.1:9".into(),
            account_id: "acc".into(),
            database_id: format!("factory-{}", fastrand::u64(..)),
            token: None,
        };
        let app = D1Database::connect_with_token(&remote, "app-token")?;
        let shared = factory.database(&remote.identity(), None, &auth, Some(2))?;
        assert!(shared.shares_transport_with(&app));
        // Never opened and no token to be had: the error names the variable.
        let unopened = crate::Connection::Cloudflare {
            account_id: "acc".into(),
            database_id: format!("never-{}", fastrand::u64(..)),
            token: Some(TokenSource::Env {
                env: "THREAD_FLOW_TEST_UNSET_API_TOKEN".into(),
            }),
        };
        let err = factory
            .database(
                &unopened.identity(),
                unopened.token_source().as_ref(),
                &auth,
                None,
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("THREAD_FLOW_TEST_UNSET_API_TOKEN"), "{err}");
        drop((db, from_factory));
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }
}
