//! [`D1Database`]: the handle on one D1 database, and every operation on it. This is the
//! **transport** step of struct -> schema -> SQL -> transport -> D1 as seen by callers: it
//! takes [`Statement`]s and [`TableSchema`]s (from the `sql` and `schema` modules),
//! sends requests through the database's `Transport` (embedded or HTTP), and returns
//! results and reports. [`crate::D1Table`] and the ReCoco target are built on it.
//!
//! - Opening: [`D1Database::connect`] (a [`Connection`]), [`D1Database::from_env`],
//!   [`D1Database::local`], [`D1Database::cloudflare`], [`D1Database::http`] share one handle
//!   per database per process (see [`D1Database::connect`]); [`D1Database::local_with`],
//!   [`D1Database::http_with`] and [`D1Database::in_memory`] make a handle of their own.
//! - Raw requests: [`D1Database::execute`], [`D1Database::batch`], [`D1Database::request`].
//! - Schema: [`D1Database::live_schema`],
//!   [`D1Database::plan_table`], [`D1Database::migrate_table`],
//!   [`D1Database::apply_migration`].
//! - Rows: [`D1Database::write_rows`] (the batched, concurrent write engine),
//!   [`D1Database::count_rows`], [`D1Database::table`], [`D1Database::query_as`].
//! - Migration files: [`D1Database::apply_migrations`], [`D1Database::pending_migrations`],
//!   [`D1Database::check_migrations`] (their work is in [`crate::migrations`]).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use tokio::task::JoinSet;

use crate::client::connection::{Connection, DatabaseId};
use crate::client::http::{self, CLOUDFLARE_API_BASE, HttpConfig};
use crate::client::local::{self, LocalD1};
use crate::client::{Idempotency, RequestOutcome, StatementResult, Transport};
use crate::migrations::{AppliedMigrations, MigrationCheck, MigrationFile, Migrations};
use crate::sql::introspect::{self, ResultRows};
use crate::sql::migrate::is_empty_guard_failure;
use crate::sql::plan::{Packer, PieceChecks, Rows, prepare_bound_write, prepare_write};
use crate::sql::{
    Encoding, MigrationOptions, MigrationPlan, Statement, TableDependents, WriteOptions,
    plan_migration, plan_migration_of_empty_table, plan_migration_with, select,
};
use crate::{
    D1Table, D1Target, Error, MigrationReport, Result, Secret, TableSchema, Value, WriteReport,
};

/// A D1 database handle. Cheap to clone; clones share the transport (connection, concurrency
/// and rate limits); each clone has its own [`WriteOptions`].
#[derive(Debug, Clone)]
pub struct D1Database {
    transport: Arc<dyn Transport>,
    write_options: WriteOptions,
}

// ---- Opening: the process-wide registry, one handle per database ----

/// What the registry keeps for one database.
struct Registered {
    held: Held,
    /// The token the transport was made with, to notice a rotated token (never printed).
    token: Option<Secret>,
}

/// An open transport. A local one is held weakly: it closes its file when the last handle
/// goes, so a file deleted and created again is opened afresh. An HTTP one is held for the
/// life of the process: it holds no file, and its client-side rate limit must outlive any one
/// handle to mean anything.
enum Held {
    Weak(Weak<dyn Transport>),
    Strong(Arc<dyn Transport>),
}

impl Held {
    fn get(&self) -> Option<Arc<dyn Transport>> {
        match self {
            Held::Weak(w) => w.upgrade(),
            Held::Strong(s) => Some(Arc::clone(s)),
        }
    }
}

/// Open databases by identity. Keys hold no secret; values are not printed.
static REGISTRY: LazyLock<Mutex<HashMap<DatabaseId, Registered>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The connection -> transport constructor: the one place that knows which transport serves
/// which kind of database. `tune` adjusts a new HTTP transport's settings.
fn open_transport(
    id: &DatabaseId,
    token: Option<Secret>,
    tune: impl FnOnce(HttpConfig) -> HttpConfig,
) -> Result<Arc<dyn Transport>> {
    let needs_token = || Error::Config(format!("{id} needs an API token"));
    Ok(match id {
        DatabaseId::Local { path } => Arc::new(LocalD1::open(std::path::Path::new(path))?),
        DatabaseId::Cloudflare {
            account_id,
            database_id,
        } => {
            let token = token.ok_or_else(needs_token)?;
            let config = HttpConfig::new(CLOUDFLARE_API_BASE, account_id, database_id, token);
            Arc::new(http::HttpD1::new(tune(config))?)
        }
        DatabaseId::Http {
            base_url,
            account_id,
            database_id,
        } => {
            let token = token.ok_or_else(needs_token)?;
            let config = HttpConfig::new(base_url, account_id, database_id, token);
            Arc::new(http::HttpD1::new(tune(config))?)
        }
    })
}

impl D1Database {
    fn from_transport(transport: Arc<dyn Transport>) -> D1Database {
        D1Database {
            write_options: transport.default_write_options(),
            transport,
        }
    }

    /// The handle of database `id`, shared process-wide: the open one when there is one, else
    /// a new one (registered). `token` reads the token (and checks where it may go); it is
    /// asked every time, so a rotated token opens a new transport. When it fails but the
    /// database is open already, the open handle is shared: no token is sent anywhere new.
    pub(crate) fn open_shared(
        id: &DatabaseId,
        token: impl FnOnce() -> Result<Option<Secret>>,
        tune: impl FnOnce(HttpConfig) -> HttpConfig,
    ) -> Result<D1Database> {
        let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let open = registry.get(id).and_then(|r| {
            r.held
                .get()
                .map(|t| (t, r.token.as_ref().map(|s| s.expose().to_owned())))
        });
        let token = match (open, token()) {
            (Some((transport, _)), Err(_)) => return Ok(D1Database::from_transport(transport)),
            (Some((transport, held)), Ok(token))
                if held.as_deref() == token.as_ref().map(Secret::expose) =>
            {
                return Ok(D1Database::from_transport(transport));
            }
            (Some(_), Ok(token)) => {
                tracing::info!(database = %id, "the D1 API token changed; opening a new HTTP handle");
                token
            }
            (None, token) => token?,
        };
        let transport = open_transport(id, token.clone(), tune)?;
        let held = match id {
            DatabaseId::Local { .. } => Held::Weak(Arc::downgrade(&transport)),
            _ => Held::Strong(Arc::clone(&transport)),
        };
        registry.retain(|_, r| r.held.get().is_some());
        registry.insert(id.clone(), Registered { held, token });
        Ok(D1Database::from_transport(transport))
    }

    /// Whether a handle on database `id` is open in this process (what
    /// [`D1Database::open_shared`] would share).
    #[cfg(feature = "recoco")]
    pub(crate) fn is_open(id: &DatabaseId) -> bool {
        let registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        registry.get(id).is_some_and(|r| r.held.get().is_some())
    }

    /// Opens the database `connection` describes; the token, for an HTTP connection, is read
    /// from where the connection says ([`Connection::token_source`]: an environment variable,
    /// or with feature `recoco` an entry of ReCoco's auth registry) after checking it may be
    /// sent there ([`Connection::check`]). A local file and its missing folders are created
    /// private (`0600` / `0700`).
    ///
    /// # One handle per database
    ///
    /// Every handle on one database in this process shares one transport: one SQLite
    /// connection per local file, one HTTP client with one concurrency limit and one
    /// client-side rate limit per D1 database, whoever opens it ([`D1Database::connect`],
    /// [`D1Database::from_env`], [`D1Database::local`], [`D1Database::http`], the ReCoco
    /// target). The database's identity ([`DatabaseId`], never the token) is the key. A
    /// changed token opens a new transport. [`D1Database::shares_transport_with`] tells
    /// whether two handles share one.
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("tf-connect-doc-{}", std::process::id()));
    /// let at = thread_flow::Connection::local(dir.join("doc.d1"));
    /// let a = thread_flow::D1Database::connect(&at)?;
    /// let b = thread_flow::D1Database::connect(&at)?;
    /// assert!(a.shares_transport_with(&b));
    /// # drop((a, b)); std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), thread_flow::Error>(())
    /// ```
    pub fn connect(connection: &Connection) -> Result<D1Database> {
        if let Connection::Local(path) = connection
            && !local::is_file_path(path)
        {
            // `:memory:` or a `file:` URI: SQLite's to interpret, a connection of its own.
            return Ok(D1Database::from_transport(Arc::new(LocalD1::open(path)?)));
        }
        D1Database::open_shared(
            &connection.identity(),
            || {
                connection.check()?;
                connection
                    .token_source()
                    .map(|t| t.resolve_default())
                    .transpose()
            },
            |c| c,
        )
    }

    /// [`D1Database::connect`] with the API token given (read from elsewhere than the
    /// connection's [`crate::TokenSource`]); ignored for a local file. Shares the open handle like
    /// `connect`.
    pub fn connect_with_token(
        connection: &Connection,
        token: impl Into<Secret>,
    ) -> Result<D1Database> {
        let token = match connection {
            Connection::Local(_) => None,
            _ => Some(token.into()),
        };
        D1Database::open_shared(&connection.identity(), || Ok(token), |c| c)
    }

    /// The database the environment selects ([`Connection::from_env`]): Cloudflare D1 when
    /// `CLOUDFLARE_ACCOUNT_ID`, `D1_DATABASE_ID` and `CLOUDFLARE_API_TOKEN` are set
    /// (`D1_BASE_URL` overrides the API host), else the local file `D1_LOCAL_PATH` or
    /// `.thread-flow/local.d1`. Partly set credentials are an [`Error::Config`] naming what is
    /// missing.
    pub fn from_env() -> Result<D1Database> {
        D1Database::connect(&Connection::from_env()?)
    }

    /// Whether this handle and `other` share one transport (one SQLite connection, or one HTTP
    /// client with its concurrency and rate limits).
    pub fn shares_transport_with(&self, other: &D1Database) -> bool {
        Arc::ptr_eq(&self.transport, &other.transport)
    }

    /// Embedded local D1 stored in a SQLite file at `path` (created, with its missing
    /// folders, if missing). Shared like [`D1Database::connect`].
    pub fn local(path: impl AsRef<std::path::Path>) -> Result<D1Database> {
        D1Database::connect(&Connection::local(path.as_ref()))
    }

    /// Embedded local D1 stored in a SQLite file, with explicit busy handling
    /// ([`local::LocalConfig`]: how long to wait for another connection's lock and how to
    /// retry `SQLITE_BUSY`). A connection of its own, not shared.
    pub fn local_with(
        path: impl AsRef<std::path::Path>,
        config: local::LocalConfig,
    ) -> Result<D1Database> {
        Ok(D1Database::from_transport(Arc::new(LocalD1::open_with(
            path.as_ref(),
            config,
        )?)))
    }

    /// Embedded local D1 in memory (for tests); a database of its own.
    pub fn in_memory() -> Result<D1Database> {
        Ok(D1Database::from_transport(Arc::new(LocalD1::in_memory()?)))
    }

    /// Cloudflare D1 over its HTTP API. Shared like [`D1Database::connect`].
    pub fn cloudflare(
        account_id: impl Into<String>,
        database_id: impl Into<String>,
        token: impl Into<Secret>,
    ) -> Result<D1Database> {
        let connection = Connection::Cloudflare {
            account_id: account_id.into(),
            database_id: database_id.into(),
            token: None,
        };
        D1Database::connect_with_token(&connection, token)
    }

    /// Any D1-compatible HTTP endpoint (a local emulator, a proxy) at `base_url`. Shared like
    /// [`D1Database::connect`].
    ///
    /// `base_url` must be `https://`, or `http://` to a loopback host only (`127.0.0.0/8`,
    /// `::1`, `localhost`): the API token must never travel in clear text. Anything else is
    /// an [`crate::Error::Config`] before any request. Redirects are never followed.
    pub fn http(
        base_url: impl Into<String>,
        account_id: impl Into<String>,
        database_id: impl Into<String>,
        token: impl Into<Secret>,
    ) -> Result<D1Database> {
        let connection = Connection::Http {
            base_url: base_url.into(),
            account_id: account_id.into(),
            database_id: database_id.into(),
            token: None,
        };
        D1Database::connect_with_token(&connection, token)
    }

    /// An HTTP database with full configuration (timeouts, concurrency, retries): a handle of
    /// its own, not shared.
    pub fn http_with(config: HttpConfig) -> Result<D1Database> {
        Ok(D1Database::from_transport(Arc::new(http::HttpD1::new(
            config,
        )?)))
    }
    /// This handle with other write tuning (request byte budget, statements per request,
    /// concurrency). Clones made afterwards keep it; the connection is shared.
    pub fn with_write_options(mut self, options: WriteOptions) -> D1Database {
        self.write_options = options;
        self
    }

    /// The write tuning used by [`D1Database::write_rows`].
    pub fn write_options(&self) -> &WriteOptions {
        &self.write_options
    }

    /// Runs one SQL statement (`?` placeholders, values bound in order) as one request; the
    /// escape hatch for anything thread-flow does not generate. The text must hold exactly
    /// one statement (trailing statements are refused, as D1 refuses them).
    ///
    /// Over HTTP, integers beyond ±(2^53-1) and BLOBs are sent so that they arrive exactly;
    /// result values arrive as D1 returns them ([`crate::D1Table`]'s typed reads are exact).
    ///
    /// # Retries
    ///
    /// The statement is treated as **not idempotent** ([`Idempotency::NotIdempotent`]): over
    /// HTTP it is sent again only after a failure that proves it did not run: the connection
    /// could not be opened, HTTP 429 (rate limited or D1 overloaded: the request was refused
    /// before it ran), or D1's "overloaded" message. After any other transient failure (a
    /// timeout, a reset connection, a 5xx, "Network connection lost") D1 may have committed
    /// it, so it is not retried: the error's [`crate::Error::outcome_unknown`] is `true` and
    /// its [`crate::Error::retry_stop`] is [`crate::client::RetryStop::OutcomeUnknown`]. Use
    /// [`D1Database::execute_idempotent`] for statements that may safely run twice (reads,
    /// upserts, deletes by key) to retry every transient failure. The embedded database
    /// retries `SQLITE_BUSY` / `SQLITE_LOCKED` either way: a busy database ran nothing.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = thread_flow::D1Database::in_memory()?;
    /// db.execute("CREATE TABLE counter (n INTEGER NOT NULL) STRICT", vec![]).await?;
    /// db.execute("INSERT INTO counter (n) VALUES (0)", vec![]).await?;
    /// // Not idempotent: never sent twice.
    /// db.execute("UPDATE counter SET n = n + 1", vec![]).await?;
    /// // A read may be retried after any transient failure.
    /// let r = db.execute_idempotent("SELECT n FROM counter", vec![]).await?;
    /// assert_eq!(r.rows, vec![vec![thread_flow::Value::Integer(1)]]);
    /// # Ok::<(), thread_flow::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn execute(
        &self,
        sql: impl AsRef<str>,
        params: Vec<Value>,
    ) -> Result<StatementResult> {
        self.execute_with(sql.as_ref(), params, Idempotency::NotIdempotent)
            .await
    }

    /// [`D1Database::execute`] for a statement that may safely run twice (a read, an upsert or
    /// delete by key): every transient failure is retried under the transport's retry policy.
    pub async fn execute_idempotent(
        &self,
        sql: impl AsRef<str>,
        params: Vec<Value>,
    ) -> Result<StatementResult> {
        self.execute_with(sql.as_ref(), params, Idempotency::Idempotent)
            .await
    }

    async fn execute_with(
        &self,
        sql: &str,
        params: Vec<Value>,
        idempotency: Idempotency,
    ) -> Result<StatementResult> {
        let statement = crate::sql::encoded_statement(sql, params, self.encoding());
        let outcome = self.request_with(vec![statement], idempotency).await?;
        Ok(outcome.results.into_iter().next().unwrap_or_default())
    }

    /// Runs statements in order as one transaction (one request) and returns one result each.
    ///
    /// Treated as not idempotent, retried like [`D1Database::execute`]; see
    /// [`D1Database::batch_idempotent`].
    pub async fn batch(&self, statements: Vec<Statement>) -> Result<Vec<StatementResult>> {
        self.batch_with(statements, Idempotency::NotIdempotent)
            .await
    }

    /// [`D1Database::batch`] for statements that may safely run twice: every transient
    /// failure is retried.
    pub async fn batch_idempotent(
        &self,
        statements: Vec<Statement>,
    ) -> Result<Vec<StatementResult>> {
        self.batch_with(statements, Idempotency::Idempotent).await
    }

    async fn batch_with(
        &self,
        statements: Vec<Statement>,
        idempotency: Idempotency,
    ) -> Result<Vec<StatementResult>> {
        let encoding = self.encoding();
        let statements = statements
            .into_iter()
            .map(|s| crate::sql::encoded_statement(&s.sql, s.params, encoding))
            .collect();
        Ok(self.request_with(statements, idempotency).await?.results)
    }

    /// How parameters travel on this database's transport.
    pub fn encoding(&self) -> Encoding {
        self.transport.encoding()
    }

    /// Sends one request: the statements run in order as one transaction.
    ///
    /// The statements are treated as **idempotent** (every transient failure is retried):
    /// this is how thread-flow sends its own upserts, deletes, reads and migrations. For
    /// statements that must not run twice use [`D1Database::request_with`] with
    /// [`Idempotency::NotIdempotent`], or [`D1Database::batch`].
    pub async fn request(&self, statements: Vec<Statement>) -> Result<RequestOutcome> {
        self.request_with(statements, Idempotency::Idempotent).await
    }

    /// Sends one request whose retries follow `idempotency` (see [`Idempotency`]).
    pub async fn request_with(
        &self,
        statements: Vec<Statement>,
        idempotency: Idempotency,
    ) -> Result<RequestOutcome> {
        self.transport.request(statements, idempotency).await
    }

    /// The typed table of `T`.
    pub fn table<T: D1Target>(&self) -> D1Table<T> {
        D1Table::new(self.clone())
    }
}

// ---- Schema and rows ----

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
    pub(crate) async fn live_table(
        &self,
        table: &str,
    ) -> Result<Option<(TableSchema, TableDependents)>> {
        let first = self.request(introspect::table_statements(table)).await?;
        let rows = result_rows(&first);
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
        let info_rows = result_rows(&infos);
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
    pub(crate) async fn write_bound_rows(
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
        if self.transport.streams() {
            // The transport streams: statements are packed while earlier ones run, inside
            // each request.
            let mut packed = Packer::upserts(schema, upserts, encoding, &options);
            self.stream_requests(&schema.name, &mut packed, None, &mut report)
                .await?;
            let mut packed = Packer::deletes(schema, deletes, encoding, &options);
            self.stream_requests(&schema.name, &mut packed, None, &mut report)
                .await?;
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

/// Where a piecewise write gets its upsert rows: bound on demand, in order.
pub(crate) trait RowSource {
    /// Up to `max` more rows, bound in schema column order.
    fn pull(&mut self, max: usize) -> Result<Pulled>;
}

/// What a [`RowSource`] gave.
pub(crate) enum Pulled {
    /// Rows bound one value per column.
    Rows(Rows),
    /// Every row was pulled.
    Done,
    /// A row bound another number of values than the table has columns: the whole-write
    /// path reports it.
    Irregular,
}

/// How a piecewise write ended.
pub(crate) enum Piecewise {
    /// Written; the write's report.
    Written(WriteReport),
    /// Nothing was written (no request was committed): the keys are not in increasing order
    /// or a row is irregular. The caller writes the same rows the whole-write way; these are
    /// the delete keys it was given back.
    Declined(Vec<Vec<Value>>),
}

impl D1Database {
    /// Whether this database's transport runs a request while its statements are still being
    /// packed (the embedded local D1).
    pub(crate) fn streams(&self) -> bool {
        self.transport.streams()
    }

    /// Upserts the rows of `source`, then deletes `deletes`, with the same checks, requests
    /// and report as [`D1Database::write_bound_rows`], but binding and checking the upserts a
    /// piece at a time while the transport runs the pieces before (only on a transport that
    /// [`streams`](D1Database::streams)). Every row is bound and checked, and the delete keys
    /// too, before the first request commits, so a bad row still leaves nothing written.
    pub(crate) async fn write_piecewise(
        &self,
        schema: &TableSchema,
        source: &mut (dyn RowSource + Send),
        deletes: Vec<Vec<Value>>,
    ) -> Result<Piecewise> {
        let encoding = self.encoding();
        let options = *self.write_options();
        let mut checks = PieceChecks::new(schema, encoding)?;
        let piece_rows = (crate::sql::MAX_PARAMS_PER_STATEMENT / schema.columns.len().max(1))
            .max(1)
            * STREAM_PIECE_STATEMENTS;
        let first = match source.pull(piece_rows)? {
            Pulled::Rows(rows) => rows,
            Pulled::Done | Pulled::Irregular => return Ok(Piecewise::Declined(deletes)),
        };
        if !check_piece(source, &mut checks, &first)? {
            return Ok(Piecewise::Declined(deletes));
        }
        let upserts = first.len();
        let mut packer = Packer::upserts_open(schema, first, encoding, &options);
        let mut feed = Feed {
            source,
            checks,
            piece_rows,
            upserts,
            deletes: Some(deletes),
            checked_deletes: None,
        };
        let mut report = WriteReport::default();
        if !self
            .stream_requests(&schema.name, &mut packer, Some(&mut feed), &mut report)
            .await?
        {
            // Nothing committed: the request was dropped, which rolled it back.
            return Ok(Piecewise::Declined(feed.deletes.take().expect(
                "the delete keys are taken only once every row was pulled",
            )));
        }
        let deletes = feed
            .checked_deletes
            .take()
            .unwrap_or_else(|| Rows::from_flat(Vec::new(), 1));
        report.rows = (feed.upserts + deletes.len()) as u64;
        let mut packed = Packer::deletes(schema, deletes, encoding, &options);
        self.stream_requests(&schema.name, &mut packed, None, &mut report)
            .await?;
        Ok(Piecewise::Written(report))
    }
}

/// The upsert rows of a piecewise write still to be bound and checked for an open
/// [`Packer`], and the write's delete keys, checked before the first commit.
struct Feed<'s, 'c> {
    source: &'s mut (dyn RowSource + Send),
    checks: PieceChecks<'c>,
    /// Rows pulled per piece.
    piece_rows: usize,
    /// Upsert rows pulled and checked so far.
    upserts: usize,
    /// The delete keys, until they are checked.
    deletes: Option<Vec<Vec<Value>>>,
    checked_deletes: Option<Rows>,
}

impl Feed<'_, '_> {
    /// Feeds `packer` up to `max` more checked rows; `false` when the write must be declined.
    fn refill(&mut self, packer: &mut Packer, max: usize) -> Result<bool> {
        pull_checked(
            &mut *self.source,
            &mut self.checks,
            packer,
            max,
            &mut self.upserts,
        )
    }

    /// Before a commit: every remaining row fed and checked, and the delete keys checked;
    /// `false` when the write must be declined.
    fn before_commit(&mut self, packer: &mut Packer) -> Result<bool> {
        while packer.is_open() {
            if !self.refill(packer, usize::MAX)? {
                return Ok(false);
            }
        }
        if let Some(keys) = self.deletes.take() {
            self.checked_deletes = Some(self.checks.deletes(keys)?);
        }
        Ok(true)
    }
}

impl D1Database {
    /// Sends the requests of `packer` one after another, each streamed in pieces so the
    /// transport runs a piece while the next is packed. With a `feed`, the packer is open:
    /// it is fed more rows whenever it runs out, and every row is fed and checked before the
    /// first request commits. `false` when the feed declined the write (nothing committed).
    async fn stream_requests(
        &self,
        table: &str,
        packer: &mut Packer,
        mut feed: Option<&mut Feed<'_, '_>>,
        report: &mut WriteReport,
    ) -> Result<bool> {
        while !packer.is_drained() {
            let Some(request) = self.transport.request_streamed() else {
                return Err(not_streaming(table));
            };
            let mut statements = 0;
            // Pieces the SQLite thread may still hold; each is freed here once it let go.
            let mut sent: VecDeque<Arc<Vec<Statement>>> = VecDeque::new();
            loop {
                let mut piece = Vec::with_capacity(STREAM_PIECE_STATEMENTS);
                let ended = loop {
                    let room = STREAM_PIECE_STATEMENTS - piece.len();
                    let ended = packer.fill(&mut piece, room);
                    if ended || piece.len() >= STREAM_PIECE_STATEMENTS || !packer.needs_rows() {
                        break ended;
                    }
                    // Only an open packer (one with a feed) needs rows.
                    let Some(feed) = feed.as_deref_mut() else {
                        break ended;
                    };
                    let max = feed.piece_rows;
                    if !feed.refill(packer, max)? {
                        // Dropping the request rolls back what it ran.
                        return Ok(false);
                    }
                };
                if piece.is_empty() {
                    break;
                }
                statements += piece.len();
                let piece_ref = Arc::new(piece);
                sent.push_back(Arc::clone(&piece_ref));
                if !request.send(piece_ref).await || ended {
                    break;
                }
                while sent.front().is_some_and(|p| Arc::strong_count(p) == 1) {
                    sent.pop_front();
                }
            }
            if let Some(feed) = feed.as_deref_mut()
                && !feed.before_commit(packer)?
            {
                return Ok(false);
            }
            let first_key = packer.take_first_key();
            let outcome = request
                .commit()
                .await
                .map_err(|e| with_context(e, table, Some(first_key)))?;
            report.add(&outcome, statements);
            drop(sent);
        }
        Ok(true)
    }
}

/// The error of a transport that said it streams, then did not.
fn not_streaming(table: &str) -> Error {
    Error::Transport {
        message: "internal: the transport said it streams, then did not".into(),
        table: Some(table.into()),
        first_key: None,
        attempts: 1,
        stopped: None,
    }
}

/// [`PieceChecks::check`] of a piece pulled from `source`. On a bad row, the rows not yet
/// pulled are bound first: as on the whole-write path, which binds every row before checking
/// any, a row that fails to bind later on is the error reported.
fn check_piece(
    source: &mut (dyn RowSource + Send),
    checks: &mut PieceChecks<'_>,
    rows: &Rows,
) -> Result<bool> {
    checks.check(rows).or_else(|e| {
        source.pull(usize::MAX)?;
        Err(e)
    })
}

/// Pulls up to `max` rows from `source`, checks them and feeds them to `packer` (or closes
/// its input when none are left). `false` when the piecewise write must be declined.
fn pull_checked(
    source: &mut (dyn RowSource + Send),
    checks: &mut PieceChecks<'_>,
    packer: &mut Packer,
    max: usize,
    upserts: &mut usize,
) -> Result<bool> {
    match source.pull(max)? {
        Pulled::Rows(rows) => {
            if !check_piece(source, checks, &rows)? {
                return Ok(false);
            }
            *upserts += rows.len();
            packer.feed(rows);
            Ok(true)
        }
        Pulled::Done => {
            packer.close_input();
            Ok(true)
        }
        Pulled::Irregular => Ok(false),
    }
}

/// Each statement's result of `outcome`, as the introspection parsers read them.
fn result_rows(outcome: &RequestOutcome) -> Vec<ResultRows<'_>> {
    outcome
        .results
        .iter()
        .map(|r| ResultRows {
            columns: &r.columns,
            rows: &r.rows,
        })
        .collect()
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

/// Migration files (`crate::migrations`: wrangler's `migrations/` folder and tracking table)
/// and reads decoded by column name (`crate::reads`): the work is done in those modules.
impl D1Database {
    /// Applies the pending migrations of `dir`, as `wrangler d1 migrations apply` does.
    ///
    /// `dir` is the migrations folder, the project folder holding `wrangler.toml` /
    /// `wrangler.jsonc` / `wrangler.json`, or that file (see [`Migrations::open`]); the
    /// configuration's `migrations_dir` and `migrations_table` are honoured.
    ///
    /// - Creates the tracking table with wrangler's DDL if it is missing (`d1_migrations`:
    ///   `id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT
    ///   CURRENT_TIMESTAMP NOT NULL`); an existing table of another shape is refused with
    ///   [`Error::Config`], before anything is written.
    /// - A file is pending when its name is not recorded there, so files wrangler applied are
    ///   never applied again, and wrangler recognises the files applied here.
    /// - Each pending file, in order (leading number, then name), runs as **one request**
    ///   together with the `INSERT` of its name: it is applied and recorded entirely or not
    ///   at all. The first failing file stops the run with [`Error::MigrationFile`] naming
    ///   it; the files before it stay applied.
    /// - Nothing else is touched: only the statements of the files (the user's own
    ///   instructions) and the tracking table.
    ///
    /// Over HTTP a request whose answer was lost may be sent again; the tracking row makes a
    /// second run fail as a whole, and the file is then reported as applied when its row is
    /// there.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let project = tempfile::tempdir()?;
    /// let folder = project.path().join("migrations");
    /// std::fs::create_dir(&folder)?;
    /// std::fs::write(
    ///     folder.join("0001_create_notes.sql"),
    ///     "-- Migration number: 0001 \t 2026-01-01T00:00:00.000Z\n\
    ///      CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n",
    /// )?;
    /// let db = thread_flow::D1Database::in_memory()?;
    /// let report = db.apply_migrations(&folder).await?;
    /// assert_eq!(report.applied_names(), ["0001_create_notes.sql"]);
    /// // Applied once: the second run finds nothing pending.
    /// assert!(db.apply_migrations(&folder).await?.applied.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn apply_migrations(&self, dir: impl AsRef<Path>) -> Result<AppliedMigrations> {
        crate::migrations::apply::apply_migrations(self, dir).await
    }

    /// [`D1Database::apply_migrations`] for explicit [`Migrations`] (a named database of a
    /// configuration file, another tracking table).
    pub async fn apply_migrations_from(
        &self,
        migrations: &Migrations,
    ) -> Result<AppliedMigrations> {
        crate::migrations::apply::apply_migrations_from(self, migrations).await
    }

    /// The names recorded in the tracking table `table`, in the order they were applied;
    /// `None` when the table does not exist.
    pub async fn recorded_migrations(&self, table: &str) -> Result<Option<Vec<String>>> {
        crate::migrations::apply::recorded_migrations(self, table).await
    }

    /// The files of `migrations` not yet recorded as applied in this database.
    pub async fn pending_migrations(&self, migrations: &Migrations) -> Result<Vec<MigrationFile>> {
        crate::migrations::apply::pending_migrations(self, migrations).await
    }

    /// Compares the row structs, the migration files and this live database (reads only):
    /// which files are not applied, whether the structs moved ahead of the files (see
    /// [`crate::migrations::plan`]), and which tables the files build differ live. Tables the files
    /// do not create and no struct names are not looked at.
    pub async fn check_migrations(
        &self,
        migrations: &Migrations,
        tables: &[&TableSchema],
    ) -> Result<MigrationCheck> {
        crate::migrations::check::check_migrations(self, migrations, tables).await
    }

    /// Runs one read (`?` placeholders, values bound in order) and decodes each result row
    /// into `R` by column **name**: every column of `R`'s table must appear once in the
    /// result, under its column name (after `#[d1(rename = "..")]`, case-insensitive), in any
    /// order; skipped fields get their `Default`. A result that lacks a column or has one
    /// `R` does not know is [`Error::ColumnMismatch`] naming them, before any row is decoded.
    ///
    /// ```
    /// # use thread_flow::{D1Database, D1Target, Value};
    /// #[derive(Debug, PartialEq, D1Target)]
    /// #[d1(table = "people")]
    /// struct Person {
    ///     #[d1(primary_key)]
    ///     id: i64,
    ///     #[d1(rename = "full_name")]
    ///     name: String,
    /// }
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let db = D1Database::in_memory()?;
    /// db.table::<Person>().migrate().await?;
    /// db.table::<Person>().upsert(&[Person { id: 7, name: "Ada".into() }]).await?;
    /// let people: Vec<Person> = db
    ///     .query_as("SELECT full_name, id FROM people WHERE id > ?", vec![Value::Integer(1)])
    ///     .await?;
    /// assert_eq!(people, [Person { id: 7, name: "Ada".into() }]);
    /// # Ok::<(), thread_flow::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// The statement is sent as a read: idempotent, retried after any transient failure
    /// (see [`D1Database::execute_idempotent`]); do not use it for writes with `RETURNING`.
    /// The whole result arrives in one response: bound it with `LIMIT` (or page by key), or
    /// use [`D1Table::find`] / [`D1Table::scan`], which page for you. Over HTTP, values arrive
    /// as D1 returns them: integers beyond ±(2^53-1) are exact only when selected as text
    /// (`CAST(c AS TEXT) AS c`), which is decoded back into the INTEGER field; BLOBs arrive
    /// either as bytes or as `hex(c) AS c`.
    pub async fn query_as<R: D1Target>(
        &self,
        sql: impl AsRef<str>,
        params: Vec<Value>,
    ) -> Result<Vec<R>> {
        crate::reads::query_as(self, sql, params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tf-database-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    #[tokio::test]
    async fn two_connects_to_one_file_share_one_connection() -> Result<()> {
        let dir = temp_dir("shared");
        let at = Connection::local(dir.join("one.d1"));
        let a = D1Database::connect(&at)?;
        let b = D1Database::local(dir.join("one.d1"))?;
        assert!(a.shares_transport_with(&b));
        // A TEMP table lives in one SQLite connection: the other handle sees it only because
        // both are that connection.
        a.execute("CREATE TEMP TABLE scratch (n INTEGER)", Vec::new())
            .await?;
        a.execute("INSERT INTO temp.scratch VALUES (7)", Vec::new())
            .await?;
        let seen = b
            .execute_idempotent("SELECT n FROM temp.scratch", Vec::new())
            .await?;
        assert_eq!(seen.rows, vec![vec![Value::Integer(7)]]);

        // Another file, or a handle asked for with its own settings, is another connection.
        let other = D1Database::connect(&Connection::local(dir.join("two.d1")))?;
        assert!(!other.shares_transport_with(&a));
        let own = D1Database::local_with(dir.join("one.d1"), local::LocalConfig::default())?;
        assert!(!own.shares_transport_with(&a));
        assert!(
            own.execute_idempotent("SELECT n FROM temp.scratch", Vec::new())
                .await
                .is_err()
        );

        // Once every handle is gone the file is closed; connecting again opens it afresh.
        drop((a, b));
        let again = D1Database::connect(&at)?;
        assert!(
            again
                .execute_idempotent("SELECT n FROM temp.scratch", Vec::new())
                .await
                .is_err()
        );
        // `:memory:` is SQLite's own: a database of its own each time, never a file.
        let m1 = D1Database::local(":memory:")?;
        let m2 = D1Database::local(":memory:")?;
        assert!(!m1.shares_transport_with(&m2));
        assert!(!std::path::Path::new(":memory:").exists());
        drop((again, other, own));
        std::fs::remove_dir_all(&dir).ok();
        Ok(())
    }

    #[test]
    fn http_handles_are_shared_per_database_and_token() -> Result<()> {
        // Building a handle sends nothing, so no server is needed.
        let base = "http://127.0.0.1:9";
        let database = format!("shared-{}", fastrand::u64(..));
        let a = D1Database::http(base, "acc", &database, "token-one")?;
        let b = D1Database::http(format!("{base}/"), "acc", &database, "token-one")?;
        assert!(a.shares_transport_with(&b));
        let c = D1Database::connect_with_token(
            &Connection::Http {
                base_url: base.into(),
                account_id: "acc".into(),
                database_id: database.clone(),
                token: None,
            },
            "token-one",
        )?;
        assert!(c.shares_transport_with(&a));
        // Another database is another handle.
        let other = D1Database::http(base, "acc", format!("{database}-2"), "token-one")?;
        assert!(!other.shares_transport_with(&a));
        // A rotated token opens a new handle, which later connects share.
        let rotated = D1Database::http(base, "acc", &database, "token-two")?;
        assert!(!rotated.shares_transport_with(&a));
        let after = D1Database::http(base, "acc", &database, "token-two")?;
        assert!(after.shares_transport_with(&rotated));
        // The registry's key and the handle's Debug never show a token.
        assert!(!format!("{after:?}").contains("token-two"));
        let registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        assert!(!format!("{:?}", registry.keys().collect::<Vec<_>>()).contains("token-"));
        Ok(())
    }
}
