//! [`CodeIndex`]: the whole index flow in a few lines (features `code` + `recoco`, Unix). Its
//! user documentation is on [`CodeIndex`] (this module is private: `crate::code` re-exports
//! what is public).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::http::CLOUDFLARE_API_BASE;
use crate::code::Language;
use crate::code::flow::{self, FlowConfig, SourceCounts, TableExport};
use crate::code::rows::{CallRow, FileRow, ImportRow, SymbolRow};
use crate::code::text::printable;
use crate::code::walk::Skipped;
use crate::recoco::{D1TableId, TableStatsSnapshot};
use crate::sql::MigrationOptions;
use crate::{Connection, DatabaseId};
use crate::{D1Database, D1Target, TableSchema};

/// Why an index run stopped. Nothing was written when it is [`IndexError::Refused`] or
/// [`IndexError::AdoptRefused`].
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// A bad setting: the directory, a glob, the destination.
    #[error("{0}")]
    Config(String),
    /// A table of the index's name exists and this index has no record of creating it.
    #[error(
        "refusing to write into table `{table}` of {destination}: it exists and was not created \
         by this index ({flow}); {reason}. Nothing was read or changed."
    )]
    Refused {
        /// The table (as named in the database).
        table: String,
        /// The database, as shown to users.
        destination: String,
        /// The index's flow name.
        flow: String,
        /// Why, and what to do.
        reason: String,
    },
    /// Adopting was asked, but the table's schema is not the index's.
    #[error(
        "refusing to adopt table `{table}` of {destination}: its schema differs from this \
         index's: {differences}. Nothing was changed."
    )]
    AdoptRefused {
        /// The table.
        table: String,
        /// The database, as shown to users.
        destination: String,
        /// What differs.
        differences: String,
    },
    /// ReCoco's state store (PostgreSQL) could not be started or reached.
    #[error("{0}")]
    State(String),
    /// A D1 request failed (reading the tables' state, clearing adopted tables).
    #[error("{context}: {source}")]
    D1 {
        /// What the index was doing.
        context: String,
        /// The error (boxed: `thread_flow::Error` is large).
        #[source]
        source: Box<crate::Error>,
    },
    /// ReCoco failed (building, setting up or updating the flow).
    #[error("{context}: {source:#}")]
    Flow {
        /// What the index was doing.
        context: String,
        /// The error.
        source: anyhow::Error,
    },
}

fn flow_error(context: &str) -> impl FnOnce(anyhow::Error) -> IndexError + '_ {
    move |source| IndexError::Flow {
        context: context.to_owned(),
        source,
    }
}

fn d1_error(context: impl Into<String>) -> impl FnOnce(crate::Error) -> IndexError {
    let context = context.into();
    move |source| IndexError::D1 {
        context,
        source: Box::new(source),
    }
}

/// The names of the four tables (default: `files`, `symbols`, `imports`, `calls`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableNames {
    /// The [`FileRow`] table.
    pub files: String,
    /// The [`SymbolRow`] table.
    pub symbols: String,
    /// The [`ImportRow`] table.
    pub imports: String,
    /// The [`CallRow`] table.
    pub calls: String,
}

impl Default for TableNames {
    fn default() -> TableNames {
        TableNames {
            files: FileRow::schema().name.clone(),
            symbols: SymbolRow::schema().name.clone(),
            imports: ImportRow::schema().name.clone(),
            calls: CallRow::schema().name.clone(),
        }
    }
}

impl TableNames {
    /// Checks the names before anything is opened: valid table names (not reserved by D1 or
    /// SQLite), four different ones (compared as SQLite does, ignoring ASCII case).
    pub(crate) fn check(&self) -> Result<(), IndexError> {
        let schemas = self.schemas();
        for (i, (name, schema)) in schemas.iter().enumerate() {
            schema
                .validate()
                .map_err(|e| IndexError::Config(format!("table name `{name}`: {e}")))?;
            if schemas[..i]
                .iter()
                .any(|(other, _)| other.eq_ignore_ascii_case(name))
            {
                return Err(IndexError::Config(format!(
                    "table name `{name}` is given to two of the index's tables; give each its own"
                )));
            }
        }
        Ok(())
    }

    /// `(name, schema under that name)` of each table, in the order files, symbols, imports,
    /// calls.
    pub fn schemas(&self) -> [(String, TableSchema); 4] {
        [
            (
                self.files.clone(),
                crate::recoco::renamed(FileRow::schema(), &self.files),
            ),
            (
                self.symbols.clone(),
                crate::recoco::renamed(SymbolRow::schema(), &self.symbols),
            ),
            (
                self.imports.clone(),
                crate::recoco::renamed(ImportRow::schema(), &self.imports),
            ),
            (
                self.calls.clone(),
                crate::recoco::renamed(CallRow::schema(), &self.calls),
            ),
        ]
    }
}

/// Row changes in one table during a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TableChanges {
    /// Rows whose key was not there before.
    pub inserted: u64,
    /// Rows whose key was there, written with different values (the index writes a row only
    /// when its values changed).
    pub updated: u64,
    /// Keys that are gone.
    pub deleted: u64,
    /// Rows in the table after the run.
    pub rows: u64,
}

impl fmt::Display for TableChanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} inserted, {} updated, {} deleted ({} rows)",
            self.inserted, self.updated, self.deleted, self.rows
        )
    }
}

/// Live progress of a run, handed to [`CodeIndex::on_progress`] about four times a second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Source files found in the tree (0 until the listing is done).
    pub files_total: u64,
    /// Files parsed so far in this run (unchanged files are not parsed again).
    pub files_parsed: u64,
    /// Bytes of the files parsed so far.
    pub bytes_parsed: u64,
    /// Files done so far (parsed, unchanged, deleted or failed).
    pub files_done: u64,
    /// Rows written (upserted or deleted) so far.
    pub rows_written: u64,
    /// D1 write requests so far.
    pub requests: u64,
}

/// What one run did.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    /// Where the index lives (account / database / URL or the local file; never a token).
    pub destination: String,
    /// The tree (canonical).
    pub source_dir: PathBuf,
    /// The flow name ReCoco's state is kept under.
    pub flow_name: String,
    /// The tables' names.
    pub tables: TableNames,
    /// Source files by what happened to them.
    pub sources: SourceCounts,
    /// Files parsed by this run (new and changed ones).
    pub files_parsed: u64,
    /// Bytes of the files parsed by this run.
    pub bytes_parsed: u64,
    /// Changes in the files table.
    pub files: TableChanges,
    /// Changes in the symbols table.
    pub symbols: TableChanges,
    /// Changes in the imports table.
    pub imports: TableChanges,
    /// Changes in the calls table.
    pub calls: TableChanges,
    /// D1 requests sent: the flow's writes plus the index's reads.
    pub requests: u64,
    /// Of those, the requests sent to write (schema changes excluded).
    pub write_requests: u64,
    /// Schema changes applied (ReCoco's description), empty when none.
    pub setup: String,
    /// Whether existing tables were taken over ([`CodeIndex::adopt`]).
    pub adopted: bool,
    /// Paths under the tree that were not indexed, and why.
    #[serde(serialize_with = "serialize_skipped")]
    pub skipped: Vec<Skipped>,
    /// Wall time.
    #[serde(serialize_with = "serialize_duration")]
    pub elapsed: Duration,
}

fn serialize_skipped<S: serde::Serializer>(skipped: &[Skipped], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(skipped.len()))?;
    for item in skipped {
        seq.serialize_element(&serde_json::json!({
            "path": item.path,
            "reason": item.reason.to_string(),
        }))?;
    }
    seq.end()
}

fn serialize_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl IndexReport {
    /// `(table name, changes)` in the order files, symbols, imports, calls.
    pub fn table_changes(&self) -> [(&str, TableChanges); 4] {
        [
            (&self.tables.files, self.files),
            (&self.tables.symbols, self.symbols),
            (&self.tables.imports, self.imports),
            (&self.tables.calls, self.calls),
        ]
    }
}

impl fmt::Display for IndexReport {
    /// The summary: the destination, source files, what was skipped, then one line per table
    /// (inserted / updated / deleted / rows), requests and time. Paths are escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.sources;
        writeln!(f, "index: {}", printable(&self.destination))?;
        writeln!(
            f,
            "source files: {} seen: {} new, {} changed, {} deleted, {} unchanged{}{}",
            s.seen(),
            s.added,
            s.updated,
            s.deleted,
            s.unchanged,
            if s.reprocessed > 0 {
                format!(", {} re-parsed", s.reprocessed)
            } else {
                String::new()
            },
            if s.errors > 0 {
                format!(", {} FAILED (see the log above)", s.errors)
            } else {
                String::new()
            },
        )?;
        if self.files_parsed > 0 {
            writeln!(
                f,
                "parsed: {} files, {:.2} MB",
                self.files_parsed,
                self.bytes_parsed as f64 / 1e6,
            )?;
        }
        if !self.skipped.is_empty() {
            writeln!(
                f,
                "skipped: {} path{} not indexed (links out of the tree, special files, \
                 unreadable folders, files too large; listed above)",
                self.skipped.len(),
                if self.skipped.len() == 1 { "" } else { "s" }
            )?;
        }
        if !self.setup.trim().is_empty() {
            writeln!(f, "schema: created or migrated (see above)")?;
        }
        let names: Vec<String> = self
            .table_changes()
            .iter()
            .map(|(name, _)| printable(name).into_owned())
            .collect();
        let width = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            f,
            "{:<width$}  {:>9}  {:>9}  {:>9}  {:>9}",
            "table", "inserted", "updated", "deleted", "rows"
        )?;
        for (name, (_, c)) in names.iter().zip(self.table_changes()) {
            writeln!(
                f,
                "{name:<width$}  {:>9}  {:>9}  {:>9}  {:>9}",
                c.inserted, c.updated, c.deleted, c.rows
            )?;
        }
        write!(
            f,
            "D1 requests: {} ({} to write, {} to read the before/after state); elapsed {:.2?}",
            self.requests,
            self.write_requests,
            self.requests - self.write_requests,
            self.elapsed
        )
    }
}

type ProgressFn = Box<dyn FnMut(&Progress) + Send>;

/// Builds and runs a code index: the tree, which files, where the tables go, where ReCoco's
/// state lives.
///
/// ```no_run
/// # async fn demo() -> Result<(), thread_flow::code::IndexError> {
/// use thread_flow::code::{CodeIndex, Language};
/// use thread_flow::Connection;
///
/// let report = CodeIndex::new("my-project")
///     .include(["src/**", "lib/**"])
///     .exclude(["**/generated/**"])
///     .languages([Language::Rust, Language::Python])
///     .destination(Connection::local("my-project.d1"))
///     .run()
///     .await?;
/// println!("{report}"); // rows inserted / updated / deleted per table
/// # Ok(()) }
/// ```
///
/// One index is one tree written to one database. Everything ReCoco records for it (which
/// files it indexed, which tables it created) is kept under a flow name derived from the
/// destination's identity (the D1 file's real path, or account + database + API URL; never the
/// token) and the tree's real path. The index never writes into tables it has
/// no record of creating: before any setup it compares the database's tables with its own
/// records and stops ([`IndexError::Refused`]) unless told to adopt them
/// ([`CodeIndex::adopt`]), which it does only when their schema is exactly the index's.
///
/// ReCoco keeps its state in PostgreSQL: [`CodeIndex::database_url`], else a private cluster
/// ([`crate::postgres::PrivatePostgres`]) in a `.thread-flow` folder beside the D1 file,
/// stopped when the run ends (or its future is dropped).
pub struct CodeIndex {
    source_dir: PathBuf,
    include: Vec<String>,
    exclude: Vec<String>,
    languages: Option<Vec<Language>>,
    destination: Option<Connection>,
    tables: TableNames,
    flow_name: Option<String>,
    database_url: Option<String>,
    state_dir: Option<PathBuf>,
    adopt: bool,
    exact_changes: bool,
    max_file_bytes: u64,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for CodeIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeIndex")
            .field("source_dir", &self.source_dir)
            .field("include", &self.include)
            .field("exclude", &self.exclude)
            .field("languages", &self.languages)
            .field("destination", &self.destination)
            .field("tables", &self.tables)
            .field("flow_name", &self.flow_name)
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("state_dir", &self.state_dir)
            .field("adopt", &self.adopt)
            .field("exact_changes", &self.exact_changes)
            .field("max_file_bytes", &self.max_file_bytes)
            .finish_non_exhaustive()
    }
}

impl CodeIndex {
    /// An index of every supported source file under `source_dir`, into the local D1 file
    /// `source_dir/.thread-flow/code-index.d1`, tables `files`, `symbols`, `imports`, `calls`.
    pub fn new(source_dir: impl Into<PathBuf>) -> CodeIndex {
        CodeIndex {
            source_dir: source_dir.into(),
            include: Vec::new(),
            exclude: Vec::new(),
            languages: None,
            destination: None,
            tables: TableNames::default(),
            flow_name: None,
            database_url: None,
            state_dir: None,
            adopt: false,
            exact_changes: false,
            max_file_bytes: flow::MAX_FILE_BYTES,
            progress: None,
        }
    }

    /// Only files whose path relative to the tree matches one of these globs (`src/**`,
    /// `**/*.py`; `*` stops at `/`, `**` does not). Adds to earlier calls.
    pub fn include<I, S>(mut self, globs: I) -> CodeIndex
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.include.extend(globs.into_iter().map(Into::into));
        self
    }

    /// Never files whose relative path matches one of these globs. Adds to earlier calls.
    pub fn exclude<I, S>(mut self, globs: I) -> CodeIndex
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exclude.extend(globs.into_iter().map(Into::into));
        self
    }

    /// Only these languages (default: every language this build reads).
    pub fn languages(mut self, languages: impl IntoIterator<Item = Language>) -> CodeIndex {
        self.languages = Some(languages.into_iter().collect());
        self
    }

    /// Where the tables go (default: the local file `DIR/.thread-flow/code-index.d1`).
    pub fn destination(mut self, connection: Connection) -> CodeIndex {
        self.destination = Some(connection);
        self
    }

    /// Table names other than `files`, `symbols`, `imports`, `calls` (the schemas stay the
    /// row structs'; index names follow the table names).
    pub fn table_names(mut self, tables: TableNames) -> CodeIndex {
        self.tables = tables;
        self
    }

    /// The flow name ReCoco keeps this index's state under (default: [`flow_name`] of the
    /// destination and the tree). Two indexes must never share one.
    pub fn flow_name(mut self, name: impl Into<String>) -> CodeIndex {
        self.flow_name = Some(name.into());
        self
    }

    /// PostgreSQL for ReCoco's state (`postgres://user:password@host/db`; the credentials go
    /// to ReCoco in their own fields, so no error shows them). Default: a private cluster.
    pub fn database_url(mut self, url: impl Into<String>) -> CodeIndex {
        self.database_url = Some(url.into());
        self
    }

    /// The folder for the private PostgreSQL cluster (default: `.thread-flow` beside the local
    /// D1 file, or `DIR/.thread-flow`). Created 0700 if missing; a folder thread-flow did not
    /// create is refused.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> CodeIndex {
        self.state_dir = Some(dir.into());
        self
    }

    /// Take over tables of the index's names that this index has no record of creating, when
    /// their schema is exactly the index's; their rows are replaced by this run's.
    pub fn adopt(mut self, adopt: bool) -> CodeIndex {
        self.adopt = adopt;
        self
    }

    /// How the report's inserted / updated / deleted rows are found. Default (`false`): from
    /// the tables' row counts before and after and the rows the run upserted and deleted (cheap:
    /// one request of counts each side; exact as long as nothing else writes into the tables meanwhile,
    /// since ReCoco writes only new or changed rows and deletes only rows it wrote). `true`:
    /// by comparing every row before and after (reads each table twice; always used when
    /// adopting tables, whose rows no run of this index wrote).
    pub fn exact_changes(mut self, exact: bool) -> CodeIndex {
        self.exact_changes = exact;
        self
    }

    /// Files larger than this are skipped (default [`crate::code::MAX_FILE_BYTES`], 2 MiB).
    pub fn max_file_bytes(mut self, bytes: u64) -> CodeIndex {
        self.max_file_bytes = bytes;
        self
    }

    /// Called about four times a second while the flow runs.
    pub fn on_progress(mut self, progress: impl FnMut(&Progress) + Send + 'static) -> CodeIndex {
        self.progress = Some(Box::new(progress));
        self
    }

    /// The local D1 file this index writes to when no destination is given.
    pub fn default_database_path(source_dir: &Path) -> PathBuf {
        source_dir.join(".thread-flow").join("code-index.d1")
    }

    /// Opens the database of an index written earlier, for the questions of
    /// [`crate::code::query`]: a local file must exist (nothing is created:
    /// [`IndexError::Config`] otherwise), a remote database is opened with the connection's
    /// token, or shares the handle this process already opened for it
    /// ([`D1Database::connect_with_token`]).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use thread_flow::Connection;
    /// use thread_flow::code::{CodeIndex, query};
    ///
    /// let db = CodeIndex::open_existing(&Connection::local("my-project/.thread-flow/code-index.d1"))?;
    /// println!("{}", query::callers(&db, "parse").await?);
    /// # Ok(()) }
    /// ```
    pub fn open_existing(connection: &Connection) -> Result<D1Database, IndexError> {
        open_existing(connection)
    }

    /// Creates or updates the index: starts ReCoco (and the private PostgreSQL), checks the
    /// tables are this index's, creates or migrates them, indexes what changed since the last
    /// run, and reports the row changes per table.
    ///
    /// The future is not `Send`: ReCoco's flow builder keeps values that are not `Send` across
    /// its awaits. Await it directly (in `main`, `Runtime::block_on`) or in a
    /// `tokio::task::LocalSet`, not in `tokio::spawn`. Dropping it stops the run and the private
    /// PostgreSQL cluster; the next run resumes where it stopped.
    pub async fn run(mut self) -> Result<IndexReport, IndexError> {
        let started = Instant::now();
        self.tables.check()?;
        crate::code::walk::Selection::new(self.languages.clone(), &self.include, &self.exclude)
            .map_err(|e| IndexError::Config(e.to_string()))?;
        let places = self.places()?;
        let (database, pg) = postgres_spec(self.database_url.as_deref(), &places.state_dir).await?;
        if let Some(pg) = &pg {
            tracing::info!(
                "ReCoco state: PostgreSQL cluster in {} (Unix socket only)",
                pg.root_dir().display()
            );
        }
        let settings = recoco_core::settings::Settings {
            database: Some(database),
            ..Default::default()
        };
        recoco_core::lib_context::init_lib_context(Some(settings))
            .await
            .map_err(|e| IndexError::State(format!("connecting ReCoco to PostgreSQL: {e:#}")))?;
        flow::register().map_err(|e| IndexError::Config(e.to_string()))?;

        let flow_name = self.flow_name.clone().unwrap_or_else(|| {
            let mut name = flow_name(&places.connection.identity(), &places.dir);
            if self.tables != TableNames::default() {
                name = flow_name_with_tables(&name, &self.tables);
            }
            name
        });
        let export = |name: &str, schema: &TableSchema| -> Result<TableExport, IndexError> {
            let mut spec = crate::recoco::D1Spec::new(places.connection.clone());
            spec.schema = Some(schema.clone());
            spec.table = Some(name.to_owned());
            let out = crate::recoco::D1Export::from_spec(&spec)
                .map_err(|e| IndexError::Config(e.to_string()))?;
            Ok(TableExport::new(name, out))
        };
        let [files, symbols, imports, calls] = self.tables.schemas();
        let config = FlowConfig {
            flow_name: flow_name.clone(),
            source_dir: places.dir.clone(),
            extra_excluded: places.extra_excluded.clone(),
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            languages: self.languages.clone(),
            max_file_bytes: self.max_file_bytes,
            files: export(&files.0, FileRow::schema())?,
            symbols: export(&symbols.0, SymbolRow::schema())?,
            imports: Some(export(&imports.0, ImportRow::schema())?),
            calls: Some(export(&calls.0, CallRow::schema())?),
        };
        let counters = flow::counters(&flow_name);
        counters.reset();
        let result = self.run_flow(&config, &places).await;
        // Let the next run in this process build the same flow name again.
        if let Ok(lib) = recoco_core::lib_context::get_lib_context().await {
            lib.remove_flow_context(&config.flow_name);
        }
        let run = result?;
        drop(pg); // stops the private cluster
        Ok(IndexReport {
            destination: places.label.clone(),
            source_dir: places.dir.clone(),
            flow_name,
            tables: self.tables.clone(),
            sources: run.sources,
            files_parsed: counters.parsed(),
            bytes_parsed: counters.bytes_parsed(),
            files: run.changes[0],
            symbols: run.changes[1],
            imports: run.changes[2],
            calls: run.changes[3],
            requests: run.write_requests + run.reads,
            write_requests: run.write_requests,
            setup: run.setup,
            adopted: run.adopted,
            skipped: counters.take_skipped(),
            elapsed: started.elapsed(),
        })
    }

    fn places(&self) -> Result<Places, IndexError> {
        let dir = std::fs::canonicalize(&self.source_dir).map_err(|e| {
            IndexError::Config(format!(
                "cannot open the directory {}: {e}",
                self.source_dir.display()
            ))
        })?;
        if !dir.is_dir() {
            return Err(IndexError::Config(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let connection = self
            .destination
            .clone()
            .unwrap_or_else(|| Connection::local(CodeIndex::default_database_path(&dir)));
        let (connection, db, local_file) = match connection {
            Connection::Local(path) => {
                let path = std::path::absolute(&path).map_err(|e| {
                    IndexError::Config(format!("bad D1 file path {}: {e}", path.display()))
                })?;
                let db = open_local(&path)?;
                // The real path (links resolved) now that its folder exists: the identity,
                // and the key of the handle the ReCoco export shares.
                let real = real_path(&path)?;
                let db = if real == path { db } else { open_local(&real)? };
                (Connection::Local(real.clone()), db, Some(real))
            }
            remote => {
                let db = open_remote(&remote)?;
                (remote, db, None)
            }
        };
        let label = describe(&connection);
        // State lives in a folder named `.thread-flow` (ours by name): the D1 file's own folder
        // when that is `.thread-flow` (the default), else `.thread-flow` beside the D1 file.
        let state_dir = match (&self.state_dir, &local_file) {
            (Some(dir), _) => dir.clone(),
            (None, Some(file)) => match file.parent() {
                Some(parent)
                    if parent.file_name() == Some(std::ffi::OsStr::new(".thread-flow")) =>
                {
                    parent.to_path_buf()
                }
                Some(parent) => parent.join(".thread-flow"),
                None => dir.join(".thread-flow"),
            },
            (None, None) => dir.join(".thread-flow"),
        };
        let mut extra_excluded = Vec::new();
        for folder in [
            local_file.as_deref().and_then(Path::parent),
            Some(state_dir.as_path()),
        ]
        .into_iter()
        .flatten()
        {
            if let Ok(relative) = folder.strip_prefix(&dir)
                && !relative.as_os_str().is_empty()
            {
                // The D1 file and the PostgreSQL cluster live there: never index them.
                let relative = relative.to_string_lossy().replace('\\', "/");
                if !extra_excluded.contains(&relative) {
                    extra_excluded.push(relative);
                }
            }
        }
        Ok(Places {
            dir,
            connection,
            db,
            label,
            state_dir,
            extra_excluded,
        })
    }

    /// Builds the flow, checks that the tables are this index's, sets up (creates or migrates
    /// the tables), reads the before state, runs the update, reads the after state.
    async fn run_flow(
        &mut self,
        config: &FlowConfig,
        places: &Places,
    ) -> Result<FlowRun, IndexError> {
        let db = &places.db;
        let flow = flow::build(config)
            .await
            .map_err(flow_error("building the ReCoco flow"))?;
        let mut reads = 0u64;
        let schemas = self.tables.schemas();
        let ownership = check_ownership(config, places, &schemas, self.adopt, &mut reads).await?;
        if !ownership.lost.is_empty() {
            // ReCoco would believe every file is indexed already and write nothing: forget
            // this index's state (and drop what is left of its own tables), then start afresh.
            tracing::warn!(
                "table(s) {} of this index are gone from {}; indexing afresh",
                ownership.lost.join(", "),
                places.label
            );
            flow::drop_state(&flow).await.map_err(flow_error(
                "forgetting the state of an index whose tables are gone",
            ))?;
        }
        let setup = flow::setup(&flow)
            .await
            .map_err(flow_error("creating or migrating the D1 tables"))?;

        let present = tables_present(db, &schemas, &mut reads).await?;
        // What changed is counted from row counts and the target's write counters, not from
        // before/after copies of the tables: reading every row twice cost more than the
        // update itself (4 s of a 5 s re-run on a 14 MB tree with 120,000 rows). Adopted
        // tables hold rows no run of this index wrote, so then (and when asked with
        // `exact_changes`) their rows are compared.
        let identity = places.connection.identity();
        let before = if self.exact_changes || ownership.adopted {
            Before::Rows(Box::new(
                Snapshots::read(db, &schemas, &present, &mut reads).await?,
            ))
        } else {
            Before::Counts(row_counts(db, &schemas, &present, &mut reads).await?)
        };
        let tables_before = table_totals(&identity, &schemas);
        let totals_before = target_totals(&identity, &schemas);
        let mut adopt_requests = 0;
        if ownership.adopted {
            // Adopted tables hold rows no run of this index wrote (stale ones among them):
            // this run writes every row again, so start from empty tables, in one request.
            let clear = schemas
                .iter()
                .filter(|(name, _)| present.iter().any(|p| p.eq_ignore_ascii_case(name)))
                .map(|(name, _)| {
                    crate::sql::Statement::new(
                        format!("DELETE FROM {}", crate::sql::quote_ident(name)),
                        Vec::new(),
                    )
                })
                .collect();
            db.batch_idempotent(clear)
                .await
                .map_err(d1_error("clearing the adopted tables"))?;
            adopt_requests = 1;
        }
        let counters = flow::counters(&config.flow_name);
        let progress = &mut self.progress;
        let sources = flow::update(&flow, Duration::from_millis(250), |sources| {
            if let Some(progress) = progress.as_mut() {
                let now = target_totals(&identity, &schemas);
                progress(&Progress {
                    files_total: counters.listed(),
                    files_parsed: counters.parsed(),
                    bytes_parsed: counters.bytes_parsed(),
                    files_done: u64::try_from(sources.seen()).unwrap_or(0),
                    rows_written: (now.upserted + now.deleted)
                        .saturating_sub(totals_before.upserted + totals_before.deleted),
                    requests: now.requests.saturating_sub(totals_before.requests),
                });
            }
        })
        .await
        .map_err(flow_error("updating the index"))?;
        let totals_after = target_totals(&identity, &schemas);
        if totals_after.failed_rows > totals_before.failed_rows {
            tracing::warn!(
                "{} row writes failed (see the log above); the next run retries them",
                totals_after.failed_rows - totals_before.failed_rows
            );
        }
        let present = tables_present(db, &schemas, &mut reads).await?;
        let changes = match before {
            Before::Rows(before) => {
                before.changes(&Snapshots::read(db, &schemas, &present, &mut reads).await?)
            }
            Before::Counts(before) => {
                let after = row_counts(db, &schemas, &present, &mut reads).await?;
                let tables_after = table_totals(&identity, &schemas);
                std::array::from_fn(|i| {
                    counted_changes(before[i], after[i], &tables_before[i], &tables_after[i])
                })
            }
        };
        Ok(FlowRun {
            setup,
            sources,
            changes,
            write_requests: totals_after.requests.saturating_sub(totals_before.requests)
                + adopt_requests,
            reads,
            adopted: ownership.adopted,
        })
    }
}

/// Where the index of one tree is stored and where ReCoco's state cluster lives.
struct Places {
    dir: PathBuf,
    /// The destination (a local file by its real path).
    connection: Connection,
    /// The database, for the index's own reads.
    db: D1Database,
    /// How the destination is shown.
    label: String,
    /// Folder for state kept between runs (the PostgreSQL cluster).
    state_dir: PathBuf,
    /// Folders inside the tree never indexed (the D1 file's, the state's).
    extra_excluded: Vec<String>,
}

/// What [`CodeIndex::run_flow`] did.
struct FlowRun {
    setup: String,
    sources: SourceCounts,
    changes: [TableChanges; 4],
    write_requests: u64,
    reads: u64,
    adopted: bool,
}

/// How a destination is shown (never a token).
pub(crate) fn describe(connection: &Connection) -> String {
    match connection {
        Connection::Local(path) => format!("local D1 file {}", path.display()),
        Connection::Cloudflare {
            account_id,
            database_id,
            ..
        } => format!(
            "Cloudflare D1 database {database_id} (account {account_id}) at {CLOUDFLARE_API_BASE}"
        ),
        Connection::Http {
            base_url,
            account_id,
            database_id,
            ..
        } => format!("Cloudflare D1 database {database_id} (account {account_id}) at {base_url}"),
    }
}

/// Opens (creating it if missing) the local D1 file: the transport creates it and its folder
/// private (see [`D1Database::connect`]).
fn open_local(path: &Path) -> Result<D1Database, IndexError> {
    D1Database::local(path).map_err(d1_error(format!("cannot open {}", path.display())))
}

/// See [`CodeIndex::open_existing`].
fn open_existing(connection: &Connection) -> Result<D1Database, IndexError> {
    match connection {
        Connection::Local(path) => {
            if !path.is_file() {
                return Err(IndexError::Config(format!(
                    "no index at {}: run `code-index <DIR>` first",
                    path.display()
                )));
            }
            open_local(path)
        }
        remote => open_remote(remote),
    }
}

/// Opens a remote D1 database: the process's open handle when there is one (see
/// [`D1Database::connect_with_token`]), else with the connection's token (checked against the
/// spec rules).
fn open_remote(connection: &Connection) -> Result<D1Database, IndexError> {
    D1Database::connect(connection).map_err(d1_error("connecting to Cloudflare D1"))
}

/// `path` with every link resolved; for a file not created yet, its folder's real path.
fn real_path(path: &Path) -> Result<PathBuf, IndexError> {
    if let Ok(real) = std::fs::canonicalize(path) {
        return Ok(real);
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(IndexError::Config(format!(
            "bad D1 file path {}",
            path.display()
        )));
    };
    let parent = std::fs::canonicalize(parent).map_err(|e| {
        IndexError::Config(format!("cannot open the folder {}: {e}", parent.display()))
    })?;
    Ok(parent.join(name))
}

/// The flow name, which keys everything ReCoco records for this index (which files it
/// indexed, which tables it created): `CodeIndex_` and 16 hex digits of a BLAKE3 hash of the
/// D1 destination's identity (`database`: the real path of the local file, or account +
/// database + API URL; never the token) and the indexed tree's real path. Two indexes share
/// nothing unless both are the same tree written to the same database.
pub fn flow_name(database: &DatabaseId, tree: &Path) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"code-index/1\0");
    let identity = serde_json::to_vec(database).unwrap_or_else(|_| format!("{database}").into());
    hasher.update(&(identity.len() as u64).to_le_bytes());
    hasher.update(&identity);
    let tree = tree.as_os_str().as_encoded_bytes();
    hasher.update(&(tree.len() as u64).to_le_bytes());
    hasher.update(tree);
    let hash = hasher.finalize().to_hex();
    format!("CodeIndex_{}", &hash.as_str()[..16])
}

/// [`flow_name`] of an index whose tables are not the default names: the table names are
/// hashed in too, so the same tree into the same database under other names is another index.
fn flow_name_with_tables(base: &str, tables: &TableNames) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"code-index-tables/1\0");
    hasher.update(base.as_bytes());
    for name in [
        &tables.files,
        &tables.symbols,
        &tables.imports,
        &tables.calls,
    ] {
        hasher.update(&(name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
    }
    let hash = hasher.finalize().to_hex();
    format!("CodeIndex_{}", &hash.as_str()[..16])
}

/// Whether `name` is a flow name of code-index before indexes were keyed by destination and
/// tree: `CodeIndex` (private cluster) or `CodeIndex_` and 12 hex digits (`--database-url`).
pub fn is_legacy_flow_name(name: &str) -> bool {
    name == "CodeIndex"
        || name
            .strip_prefix("CodeIndex_")
            .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `postgres://user:password@host/db?..` -> (`postgres://host/db?..`, user, password), the
/// user and password percent-decoded; a URL without them is returned as it is.
pub fn split_credentials(url: &str) -> (String, Option<String>, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None, None);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return (url.to_owned(), None, None);
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(percent_decode(password))),
        None => (userinfo, None),
    };
    let user = (!user.is_empty()).then(|| percent_decode(user));
    (format!("{scheme}://{host}{tail}"), user, password)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// PostgreSQL for ReCoco's state: the given URL, or a private cluster kept in `state_dir`
/// (Unix socket only, password authentication; see [`crate::postgres`]).
async fn postgres_spec(
    url: Option<&str>,
    state_dir: &Path,
) -> Result<
    (
        recoco_core::settings::DatabaseConnectionSpec,
        Option<crate::postgres::PrivatePostgres>,
    ),
    IndexError,
> {
    if let Some(url) = url.filter(|u| !u.trim().is_empty()) {
        // ReCoco prints the URL when it cannot connect: the user name and password travel in
        // the spec's own fields instead, so no error or log line shows the password.
        let (url, user, password) = split_credentials(url);
        let spec = recoco_core::settings::DatabaseConnectionSpec {
            url,
            user,
            password,
            max_connections: 8,
            min_connections: 1,
        };
        return Ok((spec, None));
    }
    crate::local_state::create_private_dir(state_dir)
        .map_err(|e| IndexError::State(format!("cannot create {}: {e}", state_dir.display())))?;
    let cluster_dir = state_dir.join("postgres");
    // initdb and pg_ctl block: off the async threads, so a stop signal is seen meanwhile.
    let dir = cluster_dir.clone();
    let started =
        tokio::task::spawn_blocking(move || crate::postgres::PrivatePostgres::start_or_reuse(&dir))
            .await
            .map_err(|e| IndexError::State(format!("starting PostgreSQL: {e}")))?;
    let pg = started.map_err(|e| {
        let install = if e.kind() == std::io::ErrorKind::NotFound {
            "\nInstall the PostgreSQL server binaries (initdb, pg_ctl, postgres), e.g. \
             `apt-get install postgresql` (Debian/Ubuntu), `dnf install postgresql-server` \
             (Fedora), `brew install postgresql@16` (macOS), or set PG_BIN_DIR to the folder \
             holding them;"
        } else {
            ""
        };
        IndexError::State(format!(
            "ReCoco keeps its incremental state in PostgreSQL, and no database URL was given \
             (--database-url or DATABASE_URL), so the index starts its own cluster in {}; that \
             failed: {e}{install}\nor pass a database URL (--database-url postgres://...)",
            cluster_dir.display()
        ))
    })?;
    Ok((pg.database_spec(), Some(pg)))
}

/// The table of a recorded `"D1"` target resource. Read through the target's own setup key
/// type, so it follows that type; `None` for a key it cannot read.
fn recorded_table(id: &recoco_core::setup::ResourceIdentifier) -> Option<D1TableId> {
    if id.target_kind != crate::recoco::KIND {
        return None;
    }
    serde_json::from_value::<D1TableId>(id.key.clone()).ok()
}

/// The tables ReCoco's recorded state says `flow` created (`None` for a key this version
/// cannot read, which counts as recorded: the target itself still refuses a table whose schema
/// does not match).
///
/// ReCoco reads every flow's recorded setup state from PostgreSQL when its library context
/// starts (`LibSetupContext::all_setup_states`) and only rewrites it when a setup is applied,
/// so read before [`flow::setup`] this is exactly what earlier runs recorded: each target
/// resource this flow set up, including ones whose setup was interrupted (staged changes).
async fn recorded_tables(flow: &str) -> Result<Vec<Option<String>>, IndexError> {
    let read = async {
        let lib = recoco_core::lib_context::get_lib_context().await?;
        let persistence = lib.require_persistence_ctx()?;
        let setup = persistence.setup_ctx.read().await;
        let Some(state) = setup.all_setup_states.flows.get(flow) else {
            return Ok(Vec::new());
        };
        Ok::<_, anyhow::Error>(
            state
                .targets
                .keys()
                .filter(|id| id.target_kind == crate::recoco::KIND)
                .map(|id| recorded_table(id).map(|t| t.table))
                .collect(),
        )
    };
    read.await
        .map_err(flow_error("reading ReCoco's recorded state"))
}

fn is_recorded(recorded: &[Option<String>], table: &str) -> bool {
    recorded
        .iter()
        .any(|r| r.as_ref().is_none_or(|t| t.eq_ignore_ascii_case(table)))
}

/// Other flows in ReCoco's state that recorded creating `table` on `database` (for the message
/// when this index refuses a table).
async fn other_owners(flow: &str, database: &DatabaseId, table: &str) -> Vec<String> {
    let Ok(lib) = recoco_core::lib_context::get_lib_context().await else {
        return Vec::new();
    };
    let Ok(persistence) = lib.require_persistence_ctx() else {
        return Vec::new();
    };
    let setup = persistence.setup_ctx.read().await;
    setup
        .all_setup_states
        .flows
        .iter()
        .filter(|(name, _)| name.as_str() != flow)
        .filter(|(_, state)| {
            state.targets.keys().any(|id| {
                recorded_table(id)
                    .is_some_and(|t| &t.database == database && t.table.eq_ignore_ascii_case(table))
            })
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// What [`check_ownership`] found.
#[derive(Debug, Default)]
struct Ownership {
    /// Tables taken over with `adopt`.
    adopted: bool,
    /// Tables this index's state records as created that are gone from the database.
    lost: Vec<String>,
}

/// Refuses tables of the index's names this index did not create; with `adopt`, accepts them
/// when their schema is exactly this index's. Reads only the database's table list (and, to
/// adopt, the tables' definitions), never their rows.
async fn check_ownership(
    config: &FlowConfig,
    places: &Places,
    schemas: &[(String, TableSchema); 4],
    adopt: bool,
    reads: &mut u64,
) -> Result<Ownership, IndexError> {
    let database = places.connection.identity();
    let recorded = recorded_tables(&config.flow_name).await?;
    let present = tables_present(&places.db, schemas, reads).await?;
    let mut ownership = Ownership::default();
    for (table, schema) in schemas {
        let Some(live_name) = present.iter().find(|t| t.eq_ignore_ascii_case(table)) else {
            if is_recorded(&recorded, table) {
                ownership.lost.push(table.clone());
            }
            continue;
        };
        if is_recorded(&recorded, table) {
            continue;
        }
        if !adopt {
            let owners = other_owners(&config.flow_name, &database, table).await;
            let reason = if let Some(legacy) = owners.iter().find(|o| is_legacy_flow_name(o)) {
                format!(
                    "ReCoco's state records it under the flow `{legacy}` of an earlier \
                     code-index, which did not key indexes by tree; if it is this tree's index, \
                     adopt it (code-index --adopt, `CodeIndex::adopt`) to take it over"
                )
            } else if !owners.is_empty() {
                format!(
                    "ReCoco's state records it as created by another index (flow {}): another \
                     tree indexed into the same database? Use another database or table names",
                    owners.join(", ")
                )
            } else {
                "this index has no record of creating it: it belongs to someone else, or to an \
                 index whose state was lost; adopt it (code-index --adopt, `CodeIndex::adopt`) \
                 to take it over (its schema must be exactly this index's, and its rows are \
                 replaced)"
                    .to_owned()
            };
            return Err(IndexError::Refused {
                table: live_name.clone(),
                destination: places.label.clone(),
                flow: config.flow_name.clone(),
                reason,
            });
        }
        let plan = places
            .db
            .plan_table(schema, &MigrationOptions::default())
            .await;
        *reads += 1;
        match plan {
            Ok(plan) if plan.is_empty() => ownership.adopted = true,
            Ok(plan) => {
                return Err(IndexError::AdoptRefused {
                    table: live_name.clone(),
                    destination: places.label.clone(),
                    differences: plan.descriptions().join("; "),
                });
            }
            Err(e) => {
                return Err(IndexError::AdoptRefused {
                    table: live_name.clone(),
                    destination: places.label.clone(),
                    differences: e.to_string(),
                });
            }
        }
    }
    Ok(ownership)
}

/// The index's tables present in the database (as named there).
async fn tables_present(
    db: &D1Database,
    schemas: &[(String, TableSchema); 4],
    reads: &mut u64,
) -> Result<Vec<String>, IndexError> {
    let names: Vec<crate::Value> = schemas
        .iter()
        .map(|(name, _)| crate::Value::Text(name.to_ascii_lowercase()))
        .collect();
    let placeholders = vec!["?"; names.len()].join(", ");
    let sql = format!(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND lower(name) IN ({placeholders})"
    );
    let result = db
        .execute_idempotent(&sql, names)
        .await
        .map_err(d1_error("reading the database's table list"))?;
    *reads += 1;
    Ok(result
        .rows
        .iter()
        .filter_map(|r| match r.first() {
            Some(crate::Value::Text(name)) => Some(name.clone()),
            _ => None,
        })
        .collect())
}

/// The tables before the update: row counts (normally) or every row (adopted tables).
enum Before {
    /// Rows per table, in the order of [`TableNames::schemas`].
    Counts([u64; 4]),
    /// Every row of every table.
    Rows(Box<Snapshots>),
}

/// Rows in each of the index's tables (0 for a table not there), in one request.
async fn row_counts(
    db: &D1Database,
    schemas: &[(String, TableSchema); 4],
    present: &[String],
    reads: &mut u64,
) -> Result<[u64; 4], IndexError> {
    let is_present = |name: &str| present.iter().any(|p| p.eq_ignore_ascii_case(name));
    let columns: Vec<String> = schemas
        .iter()
        .map(|(name, _)| {
            if is_present(name) {
                format!("(SELECT COUNT(*) FROM {})", crate::sql::quote_ident(name))
            } else {
                "0".to_owned()
            }
        })
        .collect();
    let sql = format!("SELECT {}", columns.join(", "));
    let result = db
        .execute_idempotent(&sql, Vec::new())
        .await
        .map_err(d1_error("counting the index's rows"))?;
    *reads += 1;
    let row = result.rows.first();
    let count = |i: usize| -> u64 {
        match row.and_then(|r| r.get(i)) {
            Some(crate::Value::Integer(n)) => u64::try_from(*n).unwrap_or(0),
            // Over HTTP an integer may come back as a JSON number read as REAL, or as text.
            Some(crate::Value::Real(x)) if x.fract() == 0.0 && *x >= 0.0 => *x as u64,
            Some(crate::Value::Text(t)) => t.parse().unwrap_or(0),
            _ => 0,
        }
    };
    Ok(std::array::from_fn(count))
}

/// One table's changes from its row counts before and after and the rows the D1 target wrote
/// meanwhile. ReCoco sends a row only when it is new or its values changed (it keeps each
/// row's fingerprint) and deletes only keys it wrote before, and every key holds its file's
/// path, so the rows written over existing keys are `written - (after - before + deleted)`.
fn counted_changes(
    before: u64,
    after: u64,
    writes_before: &TableStatsSnapshot,
    writes_after: &TableStatsSnapshot,
) -> TableChanges {
    let written = writes_after.upserted.saturating_sub(writes_before.upserted);
    let deleted = writes_after.deleted.saturating_sub(writes_before.deleted);
    let inserted = (after + deleted).saturating_sub(before).min(written);
    TableChanges {
        inserted,
        updated: written - inserted,
        deleted,
        rows: after,
    }
}

/// The D1 target's write counters for each of this index's tables (process lifetime), in
/// the order of [`TableNames::schemas`].
fn table_totals(
    database: &DatabaseId,
    schemas: &[(String, TableSchema); 4],
) -> [TableStatsSnapshot; 4] {
    let stats = crate::recoco::table_stats();
    std::array::from_fn(|i| {
        stats
            .iter()
            .filter(|(id, _)| {
                &id.database == database && id.table.eq_ignore_ascii_case(&schemas[i].0)
            })
            .fold(TableStatsSnapshot::default(), |mut sum, (_, s)| {
                sum.upserted += s.upserted;
                sum.deleted += s.deleted;
                sum
            })
    })
}

/// Every row of a table by key, for before/after diffs.
type Snapshot<T> = BTreeMap<<T as D1Target>::Key, T>;

/// Every row of the four tables, by key.
struct Snapshots {
    files: Snapshot<FileRow>,
    symbols: Snapshot<SymbolRow>,
    imports: Snapshot<ImportRow>,
    calls: Snapshot<CallRow>,
}

impl Snapshots {
    async fn read(
        db: &D1Database,
        schemas: &[(String, TableSchema); 4],
        present: &[String],
        reads: &mut u64,
    ) -> Result<Snapshots, IndexError> {
        Ok(Snapshots {
            files: snapshot(db, &schemas[0].1, present, reads).await?,
            symbols: snapshot(db, &schemas[1].1, present, reads).await?,
            imports: snapshot(db, &schemas[2].1, present, reads).await?,
            calls: snapshot(db, &schemas[3].1, present, reads).await?,
        })
    }

    fn changes(&self, after: &Snapshots) -> [TableChanges; 4] {
        [
            diff(&self.files, &after.files),
            diff(&self.symbols, &after.symbols),
            diff(&self.imports, &after.imports),
            diff(&self.calls, &after.calls),
        ]
    }
}

/// Every row of `T`'s table under `schema`'s name (empty when the table is not there).
async fn snapshot<T>(
    db: &D1Database,
    schema: &TableSchema,
    present: &[String],
    reads: &mut u64,
) -> Result<Snapshot<T>, IndexError>
where
    T: D1Target,
    T::Key: Ord,
{
    if !present.iter().any(|p| p.eq_ignore_ascii_case(&schema.name)) {
        return Ok(BTreeMap::new());
    }
    let rows = read_all::<T>(db, schema)
        .await
        .map_err(d1_error(format!("reading table {}", schema.name)))?;
    *reads += 1;
    Ok(rows.into_iter().map(|row| (row.key(), row)).collect())
}

/// Every row of a table of `T`'s columns named as in `schema` (which may differ from
/// `T::schema()`'s name), in key order. `T`'s own table is read in pages
/// ([`crate::D1Table::all`]); a renamed one in one request.
pub async fn read_all<T: D1Target>(db: &D1Database, schema: &TableSchema) -> crate::Result<Vec<T>> {
    if schema.name == T::schema().name {
        return db.table::<T>().all().await;
    }
    let statement = crate::sql::select::select_all(schema, db.encoding());
    db.query_as::<T>(statement.sql, statement.params).await
}

fn diff<T>(before: &Snapshot<T>, after: &Snapshot<T>) -> TableChanges
where
    T: D1Target + PartialEq,
    T::Key: Ord,
{
    let mut changes = TableChanges {
        rows: after.len() as u64,
        ..TableChanges::default()
    };
    for (key, row) in after {
        match before.get(key) {
            None => changes.inserted += 1,
            Some(old) if old != row => changes.updated += 1,
            Some(_) => {}
        }
    }
    changes.deleted = before.keys().filter(|k| !after.contains_key(*k)).count() as u64;
    changes
}

/// The D1 target's write counters for this index's tables (process lifetime).
fn target_totals(
    database: &DatabaseId,
    schemas: &[(String, TableSchema); 4],
) -> TableStatsSnapshot {
    crate::recoco::table_stats()
        .into_iter()
        .filter(|(id, _)| {
            &id.database == database
                && schemas
                    .iter()
                    .any(|(name, _)| id.table.eq_ignore_ascii_case(name))
        })
        .fold(TableStatsSnapshot::default(), |mut sum, (_, s)| {
            sum.upserted += s.upserted;
            sum.deleted += s.deleted;
            sum.requests += s.requests;
            sum.failed_rows += s.failed_rows;
            sum
        })
}
