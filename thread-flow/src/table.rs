//! [`D1Table`]: typed migrate / upsert / delete / get / count for a [`D1Target`] (the other
//! reads are in [`crate::reads`]), and the
//! schema-level operations of [`D1Database`] it is built on (shared with the ReCoco target):
//! [`D1Database::write_rows`], [`D1Database::live_schema`], [`D1Database::live_table`],
//! [`D1Database::migrate_table`].

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::client::RequestOutcome;
use crate::client::local::LocalD1;
use crate::sql::introspect::{self, ResultRows};
use crate::sql::migrate::is_empty_guard_failure;
use crate::sql::plan::{Packer, Rows, prepare_bound_write, prepare_write};
use crate::sql::{
    MigrationOptions, MigrationPlan, Statement, TableDependents, WritePlan, plan_migration,
    plan_migration_of_empty_table, plan_migration_with, render_key, select,
};
use crate::{ColumnError, D1Database, D1Target, Error, Result, TableSchema, Value};

/// What a write cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteReport {
    /// Rows (or keys) written after de-duplication.
    pub rows: u64,
    /// SQL statements executed.
    pub statements: u64,
    /// Requests (transactions) sent.
    pub requests: u64,
    /// Retries made (attempts beyond the first).
    pub retries: u64,
    /// Bytes sent.
    pub bytes_sent: u64,
}

impl WriteReport {
    fn add(&mut self, outcome: &RequestOutcome, statements: usize) {
        self.statements += statements as u64;
        self.requests += 1;
        self.retries += u64::from(outcome.attempts.saturating_sub(1));
        self.bytes_sent += outcome.bytes_sent;
    }

    /// Adds another report's counts to this one.
    pub fn merge(&mut self, other: &WriteReport) {
        self.rows += other.rows;
        self.statements += other.statements;
        self.requests += other.requests;
        self.retries += other.retries;
        self.bytes_sent += other.bytes_sent;
    }
}

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MigrationReport {
    /// The plan that was applied (empty when the table already matched).
    pub plan: MigrationPlan,
    /// Requests sent (0 or 1: a migration is one atomic request).
    pub requests: u64,
    /// Statements executed.
    pub statements: u64,
}

impl MigrationReport {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        !self.plan.is_empty()
    }
}

impl D1Database {
    /// Reads the live definition of `table` (columns, key, indexes, STRICT, WITHOUT ROWID) with
    /// `PRAGMA table_xinfo` / `index_list` / `index_info` and `sqlite_schema`. `None` when the
    /// table does not exist.
    pub async fn live_schema(&self, table: &str) -> Result<Option<TableSchema>> {
        Ok(self.live_table(table).await?.map(|(schema, _)| schema))
    }

    /// [`D1Database::live_schema`] and what depends on the table: its triggers and the foreign
    /// keys of other tables that reference it (`PRAGMA foreign_key_list`), which a rebuild
    /// must keep. Two requests at most. `None` when the table does not exist.
    pub async fn live_table(&self, table: &str) -> Result<Option<(TableSchema, TableDependents)>> {
        let first = self.request(introspect::table_statements(table)).await?;
        let rows: Vec<ResultRows<'_>> = first
            .results
            .iter()
            .map(|r| ResultRows {
                columns: &r.columns,
                rows: &r.rows,
            })
            .collect();
        if rows.first().is_none_or(|r| r.rows.is_empty()) {
            return Ok(None);
        }
        let indexes = rows
            .get(2)
            .map(|r| introspect::created_indexes(*r))
            .unwrap_or_default();
        let names: Vec<String> = indexes.iter().map(|(n, _)| n.clone()).collect();
        let candidates = rows
            .get(5)
            .map(|r| introspect::referencing_candidates(*r))
            .unwrap_or_default();
        let mut second = introspect::index_statements(&names);
        second.extend(introspect::foreign_key_statements(&candidates));
        let infos = if second.is_empty() {
            RequestOutcome::default()
        } else {
            self.request(second).await?
        };
        let info_rows: Vec<ResultRows<'_>> = infos
            .results
            .iter()
            .map(|r| ResultRows {
                columns: &r.columns,
                rows: &r.rows,
            })
            .collect();
        let (index_rows, key_rows) = info_rows.split_at(names.len().min(info_rows.len()));
        let Some(schema) = introspect::parse_live_schema(table, &rows, &indexes, index_rows) else {
            return Ok(None);
        };
        let no_rows = ResultRows {
            columns: &[],
            rows: &[],
        };
        let dependents = introspect::parse_dependents(
            &schema.name,
            rows.get(4).copied().unwrap_or(no_rows),
            &candidates,
            key_rows,
            rows.get(6).copied().unwrap_or(no_rows),
        );
        Ok(Some((schema, dependents)))
    }

    /// The plan that brings the live table to `to` (reads the live schema, plans, sends nothing).
    ///
    /// A change refused for the sake of existing rows (see [`MigrationOptions`]) is planned
    /// anyway when the live table has no rows, since nothing can be lost then; such a plan
    /// ([`MigrationPlan::requires_empty_table`]) starts with a guard, so applying it fails with
    /// [`Error::MigrationRefused`], changing nothing, if a row was written in the meantime.
    pub async fn plan_table(
        &self,
        to: &TableSchema,
        options: &MigrationOptions,
    ) -> Result<MigrationPlan> {
        to.validate()?;
        let Some((live, dependents)) = self.live_table(&to.name).await? else {
            return plan_migration(None, to, options);
        };
        match plan_migration_with(Some(&live), &dependents, to, options) {
            Err(refused @ Error::MigrationRefused { .. }) => {
                if self.count_rows(&live.name).await? != 0 {
                    return Err(refused);
                }
                plan_migration_of_empty_table(&live, &dependents, to)
            }
            other => other,
        }
    }

    /// Brings the live table to `to`: reads the live schema, plans ([`D1Database::plan_table`])
    /// and applies the plan as one atomic request. Safe to call again after a crash or a
    /// success: the next plan starts from what the database holds, so a finished migration
    /// plans to nothing.
    ///
    /// A change refused as data-losing is applied anyway when the live table has no rows, since
    /// nothing can be lost then: the emptiness is checked again inside the migration's own
    /// request, so a row written between the read and the change is never lost (the migration
    /// is refused instead, changing nothing).
    pub async fn migrate_table(
        &self,
        to: &TableSchema,
        options: &MigrationOptions,
    ) -> Result<MigrationReport> {
        // An invalid table (a reserved name, too many columns) is refused before any request.
        to.validate()?;
        let plan = self.plan_table(to, options).await?;
        let statements = plan.statements().len() as u64;
        let check = plan.clone();
        match self.apply_migration(&to.name, plan).await {
            Ok(report) => Ok(report),
            Err(failed) => {
                // Over HTTP an attempt can commit and lose its response; the transport then
                // retries on the migrated table, and a replayed `ALTER TABLE ADD COLUMN` fails
                // ("duplicate column name"), or a replayed empty-table guard finds rows written
                // since. Whatever the error, the live table decides: when it already matches
                // `to`, the migration is done.
                if !self.matches_live(to).await {
                    return Err(failed);
                }
                tracing::warn!(
                    table = %to.name,
                    error = %failed,
                    "the migration request failed but the live table already matches the target \
                     (an earlier attempt committed before its response was lost)"
                );
                Ok(MigrationReport {
                    plan: check,
                    requests: 1,
                    statements,
                })
            }
        }
    }

    /// Whether the live table is `to` (nothing left to migrate). `false` when it cannot be read.
    async fn matches_live(&self, to: &TableSchema) -> bool {
        let all = MigrationOptions {
            allow_data_loss: true,
            rebuild_referenced: true,
        };
        match self.live_schema(&to.name).await {
            Ok(Some(live)) => plan_migration(Some(&live), to, &all).is_ok_and(|p| p.is_empty()),
            _ => false,
        }
    }

    /// Applies a plan as one request (one transaction).
    pub async fn apply_migration(
        &self,
        table: &str,
        plan: MigrationPlan,
    ) -> Result<MigrationReport> {
        if plan.is_empty() {
            return Ok(MigrationReport {
                plan,
                requests: 0,
                statements: 0,
            });
        }
        let statements = plan.statements();
        let n = statements.len() as u64;
        self.request(statements).await.map_err(|e| {
            if plan.requires_empty_table && error_message(&e).is_some_and(is_empty_guard_failure) {
                return Error::MigrationRefused {
                    table: table.into(),
                    reason: format!(
                        "the change was planned for an empty table, but table `{table}` holds \
                         rows again (written after it was read), and applying it now could lose \
                         them. Nothing was changed. Migrate again: the new plan starts from \
                         those rows ({e})"
                    ),
                };
            }
            with_context(e, table, None)
        })?;
        Ok(MigrationReport {
            plan,
            requests: 1,
            statements: n,
        })
    }

    /// Rows in `table`.
    pub async fn count_rows(&self, table: &str) -> Result<u64> {
        let outcome = self.request(vec![select::count_table(table)]).await?;
        count_of(table, outcome)
    }

    /// Writes rows to the table of `schema`: `upserts` (values in schema column order) and
    /// `deletes` (values in key order). Plans the write (`sql::plan_write`, every row checked before
    /// anything is sent), sends the upsert requests, up to [`crate::WriteOptions::concurrency`]
    /// at once, then the delete requests.
    ///
    /// Requests already sent stay applied when a later one fails; every write is an idempotent
    /// upsert or delete, so the whole call can be retried. The error names the table and the
    /// first key of the failed request.
    pub async fn write_rows(
        &self,
        schema: &TableSchema,
        upserts: Vec<Vec<Value>>,
        deletes: Vec<Vec<Value>>,
    ) -> Result<WriteReport> {
        let (upserts, deletes) = prepare_write(schema, upserts, deletes, self.encoding())?;
        self.write_prepared(schema, upserts, deletes).await
    }

    /// [`D1Database::write_rows`] for upserts already bound into one flat buffer (a
    /// [`D1Target`]'s rows, `schema.columns.len()` values each): same checks, same requests.
    async fn write_bound_rows(
        &self,
        schema: &TableSchema,
        upserts: Rows,
        deletes: Vec<Vec<Value>>,
    ) -> Result<WriteReport> {
        let (upserts, deletes) = prepare_bound_write(schema, upserts, deletes, self.encoding())?;
        self.write_prepared(schema, upserts, deletes).await
    }

    /// Sends checked, de-duplicated rows: every upsert request, then every delete request.
    async fn write_prepared(
        &self,
        schema: &TableSchema,
        upserts: Rows,
        deletes: Rows,
    ) -> Result<WriteReport> {
        let encoding = self.encoding();
        let options = *self.write_options();
        let mut report = WriteReport {
            rows: (upserts.len() + deletes.len()) as u64,
            ..WriteReport::default()
        };
        if let Some(local) = self.local_transport() {
            // Statements are packed while earlier ones run, inside each request.
            let packed = Packer::upserts(schema, upserts, encoding, &options);
            stream_requests(local, &schema.name, packed, &mut report).await?;
            let packed = Packer::deletes(schema, deletes, encoding, &options);
            stream_requests(local, &schema.name, packed, &mut report).await?;
            return Ok(report);
        }
        // Requests are packed one at a time while earlier ones are in flight.
        let packed = Packer::upserts(schema, upserts, encoding, &options);
        self.send_requests(&schema.name, packed, &mut report)
            .await?;
        let packed = Packer::deletes(schema, deletes, encoding, &options);
        self.send_requests(&schema.name, packed, &mut report)
            .await?;
        Ok(report)
    }

    /// Sends a `WritePlan`: upsert requests (concurrently), then delete requests.
    pub async fn send_plan(&self, table: &str, plan: WritePlan) -> Result<WriteReport> {
        let mut report = WriteReport {
            rows: plan.upsert_rows + plan.delete_rows,
            ..WriteReport::default()
        };
        let WritePlan {
            upsert_requests,
            delete_requests,
            upsert_first_keys,
            delete_first_keys,
            ..
        } = plan;
        let keys = upsert_first_keys
            .into_iter()
            .chain(std::iter::repeat_with(String::new));
        self.send_requests(table, upsert_requests.into_iter().zip(keys), &mut report)
            .await?;
        let keys = delete_first_keys
            .into_iter()
            .chain(std::iter::repeat_with(String::new));
        self.send_requests(table, delete_requests.into_iter().zip(keys), &mut report)
            .await?;
        Ok(report)
    }

    async fn send_requests(
        &self,
        table: &str,
        requests: impl Iterator<Item = (Vec<Statement>, String)>,
        report: &mut WriteReport,
    ) -> Result<()> {
        let concurrency = self.write_options().concurrency.max(1);
        let mut in_flight: JoinSet<(String, usize, Result<RequestOutcome>)> = JoinSet::new();
        let mut failure: Option<Error> = None;
        let mut pending = requests.peekable();
        loop {
            while failure.is_none() && in_flight.len() < concurrency {
                let Some((request, first_key)) = pending.next() else {
                    break;
                };
                let n = request.len();
                if in_flight.is_empty() && pending.peek().is_none() {
                    // A single request: no task needed.
                    let outcome = self
                        .request(request)
                        .await
                        .map_err(|e| with_context(e, table, Some(first_key)))?;
                    report.add(&outcome, n);
                    return Ok(());
                }
                let db = self.clone();
                in_flight.spawn(async move { (first_key, n, db.request(request).await) });
            }
            let Some(joined) = in_flight.join_next().await else {
                break;
            };
            match joined {
                Ok((_, n, Ok(outcome))) => report.add(&outcome, n),
                Ok((first_key, _, Err(e))) => {
                    failure.get_or_insert(with_context(e, table, Some(first_key)));
                }
                Err(e) => {
                    failure.get_or_insert(Error::Transport {
                        message: format!("a write task failed: {e}"),
                        table: Some(table.into()),
                        first_key: None,
                        attempts: 1,
                        stopped: None,
                    });
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Statements per piece of a streamed local request.
const STREAM_PIECE_STATEMENTS: usize = 32;

/// Sends the requests of `packer` to the embedded database one after another, each streamed
/// in pieces so the SQLite thread runs a piece while the next is packed.
async fn stream_requests(
    local: &LocalD1,
    table: &str,
    mut packer: Packer,
    report: &mut WriteReport,
) -> Result<()> {
    loop {
        let mut piece = Vec::with_capacity(STREAM_PIECE_STATEMENTS);
        let mut ended = packer.fill(&mut piece, STREAM_PIECE_STATEMENTS);
        if piece.is_empty() {
            return Ok(());
        }
        let request = local.request_streamed();
        let mut statements = 0;
        // Pieces the SQLite thread may still hold; each is freed here once it let go.
        let mut sent: VecDeque<Arc<Vec<Statement>>> = VecDeque::new();
        loop {
            statements += piece.len();
            let piece_ref = Arc::new(piece);
            sent.push_back(Arc::clone(&piece_ref));
            if !request.send(piece_ref).await || ended {
                break;
            }
            while sent.front().is_some_and(|p| Arc::strong_count(p) == 1) {
                sent.pop_front();
            }
            piece = Vec::with_capacity(STREAM_PIECE_STATEMENTS);
            ended = packer.fill(&mut piece, STREAM_PIECE_STATEMENTS);
            if piece.is_empty() {
                break;
            }
        }
        let first_key = packer.take_first_key();
        let outcome = request
            .commit()
            .await
            .map_err(|e| with_context(e, table, Some(first_key)))?;
        report.add(&outcome, statements);
        drop(sent);
    }
}

/// The count a `SELECT COUNT(*)` request returned.
pub(crate) fn count_of(table: &str, outcome: RequestOutcome) -> Result<u64> {
    let value = outcome
        .results
        .into_iter()
        .next()
        .and_then(|r| r.rows.into_iter().next())
        .and_then(|r| r.into_iter().next());
    match value {
        Some(Value::Integer(n)) => Ok(n.max(0) as u64),
        Some(Value::Real(n)) => Ok(n.max(0.0) as u64),
        Some(Value::Text(s)) => s.trim().parse().map_err(|_| Error::Decode {
            table: table.into(),
            column: Some("COUNT(*)".into()),
            key: None,
            message: format!("expected a count, found {s:?}"),
        }),
        other => Err(Error::Decode {
            table: table.into(),
            column: Some("COUNT(*)".into()),
            key: None,
            message: format!("expected a count, found {other:?}"),
        }),
    }
}

/// The message of an API or transport error.
fn error_message(e: &Error) -> Option<&str> {
    match e {
        Error::Api { message, .. } | Error::Transport { message, .. } => Some(message),
        _ => None,
    }
}

/// Adds the table and the batch's first key to a transport or API error.
fn with_context(e: Error, table_name: &str, key: Option<String>) -> Error {
    e.in_table(table_name, key)
}

/// A typed handle on the table of `T`.
///
/// - Schema: [`D1Table::plan`], [`D1Table::migrate`].
/// - Writes (batched, retried, idempotent): [`D1Table::upsert`], [`D1Table::delete`],
///   [`D1Table::write`].
/// - Reads by key: [`D1Table::get`], [`D1Table::get_many`]; by a [`crate::Lookup`] on an
///   index or key prefix (`T::by_..`, generated by the derive): [`D1Table::find`],
///   [`D1Table::find_one`], [`D1Table::count_where`]; in keyset pages: [`D1Table::page`],
///   [`D1Table::page_where`], [`D1Table::scan`], [`D1Table::scan_where`]; whole table:
///   [`D1Table::count`], [`D1Table::all`]. Every read is ordered by key and bounded per request
///   (see [typed reads](crate#typed-reads)).
#[derive(Debug)]
pub struct D1Table<T> {
    db: D1Database,
    _row: PhantomData<fn() -> T>,
}

impl<T> Clone for D1Table<T> {
    fn clone(&self) -> D1Table<T> {
        D1Table {
            db: self.db.clone(),
            _row: PhantomData,
        }
    }
}

impl<T: D1Target> D1Table<T> {
    /// The handle for `T` on `db`.
    pub fn new(db: D1Database) -> D1Table<T> {
        D1Table {
            db,
            _row: PhantomData,
        }
    }

    /// The database this table lives in.
    pub fn database(&self) -> &D1Database {
        &self.db
    }

    /// The table definition of `T`.
    pub fn schema(&self) -> &'static TableSchema {
        T::schema()
    }

    /// The migration that would bring the live table to `T::schema()` (reads the live schema,
    /// changes nothing). Print it to see the SQL.
    pub async fn plan(&self) -> Result<MigrationPlan> {
        self.db
            .plan_table(T::schema(), &MigrationOptions::default())
            .await
    }

    /// Creates or migrates the table to `T::schema()`, refusing changes that would lose data.
    pub async fn migrate(&self) -> Result<MigrationReport> {
        self.migrate_with(&MigrationOptions::default()).await
    }

    /// [`D1Table::migrate`] with options (e.g. `allow_data_loss`).
    pub async fn migrate_with(&self, options: &MigrationOptions) -> Result<MigrationReport> {
        self.db.migrate_table(T::schema(), options).await
    }

    /// Inserts or replaces `rows` by key. The last of several rows with one key wins.
    ///
    /// # Atomicity
    ///
    /// Each request is one transaction, but a write larger than one request (see
    /// [`crate::WriteOptions`]: by default 1,000,000 bytes and 1000 statements over HTTP,
    /// 16,000,000 bytes and 10,000 statements locally) is **not atomic**: D1 has no transaction across requests. While the call
    /// runs, other readers may see some requests' rows and not others'; if it fails, the
    /// requests before the failed one stay applied, the failed one and those after it
    /// (including requests that were in flight concurrently and succeeded) may or may not be.
    /// The error names the table and the first key of the failed request. Every request is an
    /// idempotent upsert or delete by key, so calling again with the same rows completes the
    /// write.
    pub async fn upsert(&self, rows: &[T]) -> Result<WriteReport> {
        self.write(rows, &[]).await
    }

    /// Deletes the rows with these keys (missing keys are ignored).
    ///
    /// Not atomic when the keys need more than one request: see the atomicity note on
    /// [`D1Table::upsert`]; calling again with the same keys completes the delete.
    pub async fn delete(&self, keys: &[T::Key]) -> Result<WriteReport> {
        let schema = T::schema();
        let mut bound = Vec::with_capacity(keys.len());
        for key in keys {
            bound.push(bind_key::<T>(key)?);
        }
        self.db.write_rows(schema, Vec::new(), bound).await
    }

    /// Upserts `upserts` then deletes `deletes`, in one planned write.
    ///
    /// Not atomic: the upserts and the deletes are separate requests (all upsert requests
    /// complete before the first delete request is sent), and each side may itself span
    /// several requests. A reader may see the new rows before the deleted ones are gone; after
    /// a failure some requests are applied and others not (see [`D1Table::upsert`]). Calling
    /// again with the same arguments completes the write.
    pub async fn write(&self, upserts: &[T], deletes: &[T::Key]) -> Result<WriteReport> {
        let schema = T::schema();
        let bound = bind_rows::<T>(upserts)?;
        let keys = deletes
            .iter()
            .map(bind_key::<T>)
            .collect::<Result<Vec<_>>>()?;
        match bound {
            Bound::Flat(rows) => self.db.write_bound_rows(schema, rows, keys).await,
            Bound::Nested(rows) => self.db.write_rows(schema, rows, keys).await,
        }
    }

    /// The row with this key, if any.
    pub async fn get(&self, key: &T::Key) -> Result<Option<T>> {
        let schema = T::schema();
        let encoding = self.db.encoding();
        let key_values = bind_key::<T>(key)?;
        let rendered = render_key(&key_values);
        let outcome = self
            .db
            .request(vec![select::get_by_key(schema, key_values, encoding)])
            .await
            .map_err(|e| e.in_table(&schema.name, Some(rendered.clone())))?;
        let Some(row) = outcome
            .results
            .into_iter()
            .next()
            .and_then(|r| r.rows.into_iter().next())
        else {
            return Ok(None);
        };
        // Decode errors name the row key (read from the row, as every typed read does).
        Ok(crate::reads::decode_rows::<T>(vec![row], encoding)?.pop())
    }

    /// Rows in the table.
    pub async fn count(&self) -> Result<u64> {
        self.db.count_rows(&T::schema().name).await
    }
}

/// Rows bound for a write.
enum Bound {
    /// Every row bound one value per column, in one flat buffer.
    Flat(Rows),
    /// Some row bound another number of values (a hand-written [`D1Target`]): one `Vec` per
    /// row, so the write's checks report that row as [`D1Database::write_rows`] does.
    Nested(Vec<Vec<Value>>),
}

/// Binds `rows` into one flat buffer, falling back to one `Vec` per row when a row binds
/// another number of values than the table has columns. A row that fails to bind is the error.
fn bind_rows<T: D1Target>(rows: &[T]) -> Result<Bound> {
    let width = T::schema().columns.len();
    let mut values = Vec::with_capacity(rows.len() * width);
    for row in rows {
        let expected = values.len() + width;
        if let Err(e) = row.bind_row(&mut values) {
            return Err(bind_error::<T>(e, &row.key()));
        }
        if values.len() != expected {
            drop(values);
            return bind_nested(rows).map(Bound::Nested);
        }
    }
    Ok(Bound::Flat(Rows::from_flat(values, width)))
}

/// Binds `rows` one `Vec` per row.
fn bind_nested<T: D1Target>(rows: &[T]) -> Result<Vec<Vec<Value>>> {
    let width = T::schema().columns.len();
    let mut bound = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values = Vec::with_capacity(width);
        if let Err(e) = row.bind_row(&mut values) {
            return Err(bind_error::<T>(e, &row.key()));
        }
        bound.push(values);
    }
    Ok(bound)
}

pub(crate) fn bind_key<T: D1Target>(key: &T::Key) -> Result<Vec<Value>> {
    let mut values = Vec::with_capacity(T::schema().primary_key.len());
    T::bind_key(key, &mut values).map_err(|e| Error::Bind {
        table: T::schema().name.clone(),
        column: e.column.map(str::to_owned),
        key: None,
        message: e.error.to_string(),
    })?;
    Ok(values)
}

fn bind_error<T: D1Target>(e: ColumnError, key: &T::Key) -> Error {
    let rendered = bind_key::<T>(key).ok().map(|k| render_key(&k));
    Error::Bind {
        table: T::schema().name.clone(),
        column: e.column.map(str::to_owned),
        key: rendered,
        message: e.error.to_string(),
    }
}

impl D1Database {
    /// The typed table of `T`.
    pub fn table<T: D1Target>(&self) -> D1Table<T> {
        D1Table::new(self.clone())
    }
}
