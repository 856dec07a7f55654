//! The program: arguments, where things live, one indexing run, the summary, `--query`.
//!
//! `run(args)` is what `main` calls and what `tests/code_index.rs` calls in-process.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use thread_flow::client::DatabaseConfig;
use thread_flow::client::http::{CLOUDFLARE_API_BASE, HttpConfig};
use thread_flow::target::TableStatsSnapshot;
use thread_flow::target::{Connection, D1TableId, DatabaseId, TokenSource};
use thread_flow::{D1Database, D1Target, Value};

use crate::flow::{self, FlowConfig, SourceCounts, TableExport};
use crate::rows::{FileRow, SymbolRow};
use crate::walk::Skipped;

/// Usage text for `--help` and argument errors.
pub const USAGE: &str = "\
usage: code-index <DIR> [options]

Indexes the Rust, Python, TypeScript and JavaScript files under DIR into a D1 database
(tables `files` and `symbols`) with a ReCoco flow. Re-running updates only what changed.

options:
  --db PATH            local D1 file (default: DIR/.thread-flow/code-index.d1)
  --database-url URL   PostgreSQL for ReCoco's state (default: $DATABASE_URL, else a private
                       cluster started next to the D1 file and stopped on exit)
  --query NAME         only answer \"where is NAME defined\" from D1 (no indexing)
  --file PATH          only list what is defined in PATH (relative to DIR) from D1
  --local              use the local D1 file even when Cloudflare credentials are set
  --adopt              take over `files`/`symbols` tables this index has no record of creating
                       (made by an earlier code-index, or its state was lost): only when their
                       schema is exactly this index's; their rows are replaced by this run's
  --quiet              no progress line
  -h, --help           this text

An index is one tree written to one D1 database: its ReCoco state is kept under a name derived
from both (the D1 file's real path, or account + database + API URL; never the token), so any
number of indexes can share a folder, a machine or a --database-url. code-index never writes
into `files`/`symbols` tables it did not create (unless --adopt), and indexes regular files
inside DIR only: symbolic links leading out of DIR, FIFOs, devices, unreadable folders and files
over 2 MiB are skipped and listed on stderr.

With CLOUDFLARE_ACCOUNT_ID, D1_DATABASE_ID and CLOUDFLARE_API_TOKEN set (and D1_BASE_URL
for a D1-compatible endpoint), the index is written to that Cloudflare D1 database instead.";

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Run the flow (create or update the index).
    Index,
    /// Look up where a name is defined.
    Query(String),
    /// List the symbols of one file.
    File(String),
}

/// Parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The directory to index.
    pub dir: PathBuf,
    /// Local D1 file override.
    pub db: Option<PathBuf>,
    /// PostgreSQL URL for ReCoco's state.
    pub database_url: Option<String>,
    /// What to do.
    pub mode: Mode,
    /// Suppress the progress line.
    pub quiet: bool,
    /// Ignore Cloudflare credentials in the environment.
    pub local: bool,
    /// Take over existing `files`/`symbols` tables of exactly this schema.
    pub adopt: bool,
}

impl Args {
    /// `args` without the program name. `Err` holds the message to print (usage on `--help`).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut dir = None;
        let mut db = None;
        let mut database_url = None;
        let mut mode = Mode::Index;
        let mut quiet = false;
        let mut local = false;
        let mut adopt = false;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| {
                args.next()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| format!("{flag} needs a value\n\n{USAGE}"))
            };
            match arg.as_str() {
                "-h" | "--help" => return Err(USAGE.to_owned()),
                "--db" => db = Some(PathBuf::from(value("--db")?)),
                "--database-url" => database_url = Some(value("--database-url")?),
                "--query" => mode = Mode::Query(value("--query")?),
                "--file" => mode = Mode::File(value("--file")?),
                "--quiet" | "-q" => quiet = true,
                "--local" => local = true,
                "--adopt" => adopt = true,
                flag if flag.starts_with('-') && flag.len() > 1 => {
                    return Err(format!("unknown option {flag}\n\n{USAGE}"));
                }
                _ if dir.is_none() => dir = Some(PathBuf::from(arg)),
                _ => {
                    return Err(format!(
                        "only one directory, got a second: {arg}\n\n{USAGE}"
                    ));
                }
            }
        }
        let dir = dir.ok_or_else(|| format!("missing <DIR>\n\n{USAGE}"))?;
        Ok(Args {
            dir,
            db,
            database_url,
            mode,
            quiet,
            local,
            adopt,
        })
    }
}

/// Where the index is written.
#[derive(Debug, Clone)]
pub enum Destination {
    /// The embedded local D1 file.
    Local(PathBuf),
    /// Cloudflare D1 (or a D1-compatible endpoint) chosen by the environment.
    Cloudflare {
        /// How it is shown to the user (account / database / host; never the token).
        label: String,
        /// The connection settings (the token is a redacting `Secret`).
        config: Box<HttpConfig>,
    },
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Local(path) => {
                write!(f, "local D1 file {}", printable(&path.to_string_lossy()))
            }
            Destination::Cloudflare { label, .. } => write!(f, "{}", printable(label)),
        }
    }
}

/// Row changes in one table during a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableChanges {
    /// Rows whose key was not there before.
    pub inserted: u64,
    /// Rows whose key was there with different values.
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

/// What one indexing run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Where the index lives.
    pub destination: Destination,
    /// Source files by what happened to them.
    pub sources: SourceCounts,
    /// Changes in `files`.
    pub files: TableChanges,
    /// Changes in `symbols`.
    pub symbols: TableChanges,
    /// D1 requests sent: the flow's writes plus this program's reads.
    pub requests: u64,
    /// Of those, the requests the D1 target sent to write (schema changes excluded).
    pub write_requests: u64,
    /// Schema changes applied (ReCoco's description), empty when none.
    pub setup: String,
    /// Paths under the tree that were not indexed, and why (also printed on stderr).
    pub skipped: Vec<Skipped>,
    /// Wall time.
    pub elapsed: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.sources;
        writeln!(f, "index: {}", self.destination)?;
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
        writeln!(f, "table files:   {}", self.files)?;
        writeln!(f, "table symbols: {}", self.symbols)?;
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

/// One answer to "where is NAME defined".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// File path relative to the indexed directory.
    pub file: String,
    /// First line, 1-based.
    pub start_line: i64,
    /// Last line, 1-based.
    pub end_line: i64,
    /// Symbol name.
    pub name: String,
    /// Kind (`function`, `struct`, ...).
    pub kind: String,
    /// Header text.
    pub signature: String,
    /// Enclosing definition.
    pub parent: Option<String>,
}

impl fmt::Display for Definition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}  {}  {}",
            printable(&self.file),
            self.start_line,
            printable(&self.kind),
            printable(&self.signature)
        )?;
        if let Some(parent) = &self.parent {
            write!(f, "  (in {})", printable(parent))?;
        }
        Ok(())
    }
}

/// The result of one invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// An indexing run.
    Indexed(Summary),
    /// `--query NAME`: exact matches, and close names when there are none.
    Query {
        /// The name looked up.
        name: String,
        /// Definitions of exactly that name.
        found: Vec<Definition>,
        /// Names containing it (case-insensitively), when nothing matched exactly.
        similar: Vec<String>,
    },
    /// `--file PATH`: the file's symbols in line order.
    File {
        /// The path looked up.
        path: String,
        /// Its definitions.
        symbols: Vec<Definition>,
    },
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Indexed(summary) => write!(f, "{summary}"),
            Outcome::Query {
                name,
                found,
                similar,
            } => {
                let name = printable(name);
                if found.is_empty() {
                    write!(f, "no definition of `{name}` in the index")?;
                    if !similar.is_empty() {
                        let similar: Vec<Cow<'_, str>> =
                            similar.iter().map(|s| printable(s)).collect();
                        write!(f, "; similar names: {}", similar.join(", "))?;
                    }
                    return Ok(());
                }
                let plural = if found.len() == 1 { "" } else { "s" };
                write!(f, "{} definition{plural} of `{name}`:", found.len())?;
                for d in found {
                    write!(f, "\n  {d}")?;
                }
                Ok(())
            }
            Outcome::File { path, symbols } => {
                write!(f, "{}: {} symbols", printable(path), symbols.len())?;
                for d in symbols {
                    let indent = if d.parent.is_some() { "    " } else { "  " };
                    write!(
                        f,
                        "\n{indent}{}-{}  {}  {}",
                        d.start_line,
                        d.end_line,
                        printable(&d.kind),
                        printable(&d.signature)
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Whether `c` would act on a terminal instead of showing: C0 and C1 controls (ESC, BEL,
/// backspace, CR, ...), DEL, and the bidirectional overrides that reorder what is shown.
fn is_terminal_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` made safe to print as one field: every terminal control character (tab and newline
/// included) written as a visible `\u{..}` escape. Names, signatures and paths come from the
/// indexed files, so they are never printed raw.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape_controls(text, |_| false)
}

/// `text` made safe to print as a message of several lines: like [`printable`], but newlines
/// and tabs stay.
pub fn printable_text(text: &str) -> Cow<'_, str> {
    escape_controls(text, |c| c == '\n' || c == '\t')
}

fn escape_controls(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_terminal_control(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_terminal_control(c) && !keep(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Where the index of `dir` is stored and where ReCoco's state cluster lives.
struct Places {
    dir: PathBuf,
    destination: Destination,
    /// Folder for state kept between runs (the PostgreSQL cluster).
    state_dir: PathBuf,
}

fn places(args: &Args, env: &Env<'_>) -> anyhow::Result<Places> {
    let dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("cannot open the directory {}", args.dir.display()))?;
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let local_file = match &args.db {
        Some(path) => std::path::absolute(path)
            .with_context(|| format!("bad --db path {}", path.display()))?,
        None => dir.join(".thread-flow").join("code-index.d1"),
    };
    // Cloudflare when the environment says so; an incomplete set of variables is an error,
    // not a silent fallback to the local file.
    let destination = if args.local {
        Destination::Local(local_file.clone())
    } else {
        match DatabaseConfig::from_vars(env).context("reading the D1 settings")? {
            DatabaseConfig::Local { .. } => Destination::Local(local_file.clone()),
            DatabaseConfig::Http(config) => Destination::Cloudflare {
                label: format!(
                    "Cloudflare D1 database {} (account {}) at {}",
                    config.database_id, config.account_id, config.base_url
                ),
                config,
            },
        }
    };
    // State lives in a folder named `.thread-flow` (ours by name): the D1 file's own folder
    // when that is `.thread-flow` (the default), else `.thread-flow` beside the D1 file, so a
    // `--db` in a folder that holds other things never puts our cluster among them.
    let state_dir = match local_file.parent() {
        Some(parent) if parent.file_name() == Some(std::ffi::OsStr::new(".thread-flow")) => {
            parent.to_path_buf()
        }
        Some(parent) => parent.join(".thread-flow"),
        None => dir.join(".thread-flow"),
    };
    Ok(Places {
        dir,
        destination,
        state_dir,
    })
}

fn open_database(destination: &Destination) -> anyhow::Result<D1Database> {
    Ok(match destination {
        Destination::Local(path) => {
            // `.thread-flow` is ours by name: private (0700) even if an older run made it
            // 0755. A folder given with `--db` is the user's: only created if missing (0700),
            // never re-moded. The D1 file is created 0600; an existing one is left as it is.
            if let Some(parent) = path.parent() {
                let created = if parent.file_name() == Some(std::ffi::OsStr::new(".thread-flow")) {
                    thread_flow::local_state::create_private_dir(parent)
                } else if parent.is_dir() {
                    Ok(())
                } else {
                    thread_flow::local_state::create_private_dir(parent)
                };
                created.with_context(|| format!("cannot create {}", parent.display()))?;
            }
            thread_flow::local_state::create_private_file(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            D1Database::local(path).with_context(|| format!("cannot open {}", path.display()))?
        }
        Destination::Cloudflare { config, .. } => {
            D1Database::http_with((**config).clone()).context("connecting to Cloudflare D1")?
        }
    })
}

/// Environment lookup (`std::env::var` in the program; a map in tests).
pub type Env<'a> = dyn Fn(&str) -> Option<String> + Sync + 'a;

/// Runs one invocation with the process environment. Messages for the user (paths, progress)
/// go to stderr; the result is returned for the caller to print.
pub async fn run(args: &Args) -> anyhow::Result<Outcome> {
    // Error messages can quote paths and names from the tree: printed safely.
    run_with_env(args, &|name: &str| std::env::var(name).ok())
        .await
        .map_err(|e| anyhow::anyhow!("{}", printable_text(&format!("{e:#}"))))
}

/// [`run`] reading `CLOUDFLARE_ACCOUNT_ID`, `D1_DATABASE_ID`, `CLOUDFLARE_API_TOKEN`,
/// `D1_BASE_URL` and `DATABASE_URL` through `env`.
pub async fn run_with_env(args: &Args, env: &Env<'_>) -> anyhow::Result<Outcome> {
    let mut places = places(args, env)?;
    let db = open_database(&places.destination)?;
    if let Destination::Local(path) = &places.destination {
        // The real path (links resolved) now that its folder exists: the index's identity.
        places.destination = Destination::Local(real_path(path)?);
    }
    match &args.mode {
        Mode::Query(name) => query(&db, name).await,
        Mode::File(path) => file_symbols(&db, path).await,
        Mode::Index => index(args, env, &places, &db).await.map(Outcome::Indexed),
    }
}

/// `path` with every link resolved; for a file not created yet, its folder's real path.
fn real_path(path: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(real) = std::fs::canonicalize(path) {
        return Ok(real);
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        bail!("bad --db path {}", path.display());
    };
    let parent = std::fs::canonicalize(parent)
        .with_context(|| format!("cannot open the folder {}", parent.display()))?;
    Ok(parent.join(name))
}

/// Sends one read and returns its rows; counts the request.
async fn select(
    db: &D1Database,
    requests: &mut u64,
    sql: &str,
    params: Vec<Value>,
) -> anyhow::Result<Vec<Vec<Value>>> {
    let result = db
        .execute_idempotent(sql, params)
        .await
        .with_context(|| format!("D1 query failed: {sql}"))?;
    *requests += 1;
    Ok(result.rows)
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Text(s) => Some(s.clone()),
        Value::Integer(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Integers may come back as REAL or text over HTTP; accept every exact form.
fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(n) => Some(*n),
        Value::Real(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(*x as i64),
        Value::Text(s) => s.parse().ok(),
        _ => None,
    }
}

const DEFINITION_COLUMNS: &str =
    r#""file", "start_line", "end_line", "name", "kind", "signature", "parent""#;

fn definition(row: &[Value]) -> anyhow::Result<Definition> {
    let text = |i: usize| row.get(i).and_then(as_text);
    let int = |i: usize| row.get(i).and_then(as_int);
    Ok(Definition {
        file: text(0).context("symbols.file is not text")?,
        start_line: int(1).context("symbols.start_line is not an integer")?,
        end_line: int(2).context("symbols.end_line is not an integer")?,
        name: text(3).context("symbols.name is not text")?,
        kind: text(4).context("symbols.kind is not text")?,
        signature: text(5).unwrap_or_default(),
        parent: text(6),
    })
}

async fn tables_present(db: &D1Database, requests: &mut u64) -> anyhow::Result<Vec<String>> {
    let rows = select(
        db,
        requests,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND lower(name) IN (?, ?)",
        vec![
            Value::Text(FileRow::schema().name.to_ascii_lowercase()),
            Value::Text(SymbolRow::schema().name.to_ascii_lowercase()),
        ],
    )
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.first().and_then(as_text))
        .collect())
}

async fn require_index(db: &D1Database) -> anyhow::Result<()> {
    let mut requests = 0;
    if !tables_present(db, &mut requests)
        .await?
        .contains(&SymbolRow::schema().name)
    {
        bail!("this D1 database has no index yet: run `code-index <DIR>` first");
    }
    Ok(())
}

/// "Where is NAME defined": served by the index `symbols_by_name`.
pub async fn query(db: &D1Database, name: &str) -> anyhow::Result<Outcome> {
    require_index(db).await?;
    let mut requests = 0;
    let sql = format!(
        r#"SELECT {DEFINITION_COLUMNS} FROM "symbols" WHERE "name" = ? ORDER BY "file", "start_line""#
    );
    let rows = select(db, &mut requests, &sql, vec![Value::Text(name.to_owned())]).await?;
    let found = rows
        .iter()
        .map(|r| definition(r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut similar = Vec::new();
    if found.is_empty() {
        let pattern = format!(
            "%{}%",
            name.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows = select(
            db,
            &mut requests,
            r#"SELECT DISTINCT "name" FROM "symbols" WHERE "name" LIKE ? ESCAPE '\' ORDER BY "name" LIMIT 10"#,
            vec![Value::Text(pattern)],
        )
        .await?;
        similar = rows
            .iter()
            .filter_map(|r| r.first().and_then(as_text))
            .collect();
    }
    Ok(Outcome::Query {
        name: name.to_owned(),
        found,
        similar,
    })
}

/// "What is in file PATH": served by the primary key `(file, start_line, name)`.
pub async fn file_symbols(db: &D1Database, path: &str) -> anyhow::Result<Outcome> {
    require_index(db).await?;
    let mut requests = 0;
    let sql = format!(
        r#"SELECT {DEFINITION_COLUMNS} FROM "symbols" WHERE "file" = ? ORDER BY "start_line", "name""#
    );
    let path = path.trim_start_matches("./").to_owned();
    let rows = select(db, &mut requests, &sql, vec![Value::Text(path.clone())]).await?;
    let symbols = rows
        .iter()
        .map(|r| definition(r))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Outcome::File { path, symbols })
}

/// Every row of a table by key, for before/after diffs (typed: `D1Table::all`).
type Snapshot<T> = BTreeMap<<T as D1Target>::Key, T>;

async fn snapshot<T>(
    db: &D1Database,
    requests: &mut u64,
    present: &[String],
) -> anyhow::Result<Snapshot<T>>
where
    T: D1Target,
    T::Key: Ord,
{
    if !present.contains(&T::schema().name) {
        return Ok(BTreeMap::new());
    }
    let rows = db
        .table::<T>()
        .all()
        .await
        .with_context(|| format!("reading table {}", T::schema().name))?;
    *requests += 1;
    Ok(rows.into_iter().map(|row| (row.key(), row)).collect())
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

/// The flow name, which keys everything ReCoco records for this index (which files it
/// indexed, which tables it created): `CodeIndex_` and 16 hex digits of a BLAKE3 hash of the
/// D1 destination's identity (`database`: the real path of the local file, or account +
/// database + API URL; never the token) and the indexed tree's real path. Two indexes share
/// nothing unless both are the same tree written to the same database.
pub fn flow_name(database: &thread_flow::target::DatabaseId, tree: &Path) -> String {
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

/// Whether `name` is a flow name of code-index before indexes were keyed by destination and
/// tree: `CodeIndex` (private cluster) or `CodeIndex_` and 12 hex digits (`--database-url`).
pub fn is_legacy_flow_name(name: &str) -> bool {
    name == "CodeIndex"
        || name
            .strip_prefix("CodeIndex_")
            .is_some_and(|h| h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Where the target writes. The API token goes to ReCoco's auth registry under a key derived
/// from it; the spec names only that key.
fn connection(destination: &Destination) -> anyhow::Result<Connection> {
    Ok(match destination {
        Destination::Local(path) => Connection::local(path.clone()),
        Destination::Cloudflare { config, .. } => {
            let key = recoco_core::lib_context::get_auth_registry()
                .add_transient(serde_json::Value::String(config.token.expose().to_owned()))?;
            let token = Some(TokenSource::Auth { key });
            let (account_id, database_id) = (config.account_id.clone(), config.database_id.clone());
            if config.base_url.trim_end_matches('/') == CLOUDFLARE_API_BASE {
                Connection::Cloudflare {
                    account_id,
                    database_id,
                    token,
                }
            } else {
                Connection::Http {
                    base_url: config.base_url.clone(),
                    account_id,
                    database_id,
                    token,
                }
            }
        }
    })
}

fn export<T: D1Target>(name: &str, connection: &Connection) -> anyhow::Result<TableExport> {
    let connection = connection.clone();
    let export = thread_flow::export::<T>(connection)?;
    Ok(TableExport {
        name: name.to_owned(),
        spec: export.spec,
        index_options: export.index_options,
    })
}

/// PostgreSQL for ReCoco's state: the given URL, or a private cluster kept in `state_dir`
/// (Unix socket only, password authentication; see `thread_flow::postgres`).
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

async fn postgres(
    args: &Args,
    env: &Env<'_>,
    state_dir: &Path,
) -> anyhow::Result<(
    recoco_core::settings::DatabaseConnectionSpec,
    Option<thread_flow::postgres::PrivatePostgres>,
)> {
    let url = args
        .database_url
        .clone()
        .or_else(|| env("DATABASE_URL").filter(|u| !u.trim().is_empty()));
    if let Some(url) = url {
        // ReCoco prints the URL when it cannot connect: the user name and password travel in
        // the spec's own fields instead, so no error or log line shows the password.
        let (url, user, password) = split_credentials(&url);
        let spec = recoco_core::settings::DatabaseConnectionSpec {
            url,
            user,
            password,
            max_connections: 8,
            min_connections: 1,
        };
        return Ok((spec, None));
    }
    thread_flow::local_state::create_private_dir(state_dir)
        .with_context(|| format!("cannot create {}", state_dir.display()))?;
    let cluster_dir = state_dir.join("postgres");
    // initdb and pg_ctl block: off the async threads, so a stop signal is seen meanwhile.
    let dir = cluster_dir.clone();
    let started = tokio::task::spawn_blocking(move || {
        thread_flow::postgres::PrivatePostgres::start_or_reuse(&dir)
    })
    .await
    .context("starting PostgreSQL")?;
    let pg = started.map_err(|e| {
        let install = if e.kind() == std::io::ErrorKind::NotFound {
            "\nInstall the PostgreSQL server binaries (initdb, pg_ctl, postgres), e.g. \
             `apt-get install postgresql` (Debian/Ubuntu), `dnf install postgresql-server` \
             (Fedora), `brew install postgresql@16` (macOS), or set PG_BIN_DIR to the folder \
             holding them;"
        } else {
            ""
        };
        anyhow::anyhow!(
            "ReCoco keeps its incremental state in PostgreSQL, and no --database-url or DATABASE_URL \
             was given, so code-index starts its own cluster in {}; that failed: {e}{install}\n\
             or pass --database-url postgres://...",
            cluster_dir.display()
        )
    })?;
    Ok((pg.database_spec(), Some(pg)))
}

async fn index(
    args: &Args,
    env: &Env<'_>,
    places: &Places,
    db: &D1Database,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    eprintln!("indexing {}", printable(&places.dir.to_string_lossy()));
    eprintln!("index:    {}", places.destination);

    let (database, pg) = postgres(args, env, &places.state_dir).await?;
    match &pg {
        Some(pg) => eprintln!(
            "state:    PostgreSQL cluster in {} (Unix socket only, stopped on exit)",
            printable(&pg.root_dir().to_string_lossy())
        ),
        None => eprintln!("state:    PostgreSQL at the given database URL"),
    }
    let settings = recoco_core::settings::Settings {
        database: Some(database),
        ..Default::default()
    };
    recoco_core::lib_context::init_lib_context(Some(settings))
        .await
        .context("connecting ReCoco to PostgreSQL")?;
    thread_flow::register()?;

    let mut extra_excluded = Vec::new();
    if let Destination::Local(path) = &places.destination
        && let Some(parent) = path.parent()
        && let Ok(relative) = parent.strip_prefix(&places.dir)
        && !relative.as_os_str().is_empty()
    {
        // The D1 file and the PostgreSQL cluster live there: never index them.
        extra_excluded.push(relative.to_string_lossy().replace('\\', "/"));
    }
    let connection = connection(&places.destination)?;
    let config = FlowConfig {
        flow_name: flow_name(&connection.identity(), &places.dir),
        source_dir: places.dir.clone(),
        extra_excluded,
        files: export::<FileRow>("files", &connection)?,
        symbols: export::<SymbolRow>("symbols", &connection)?,
    };
    let _ = flow::take_skipped(); // start this run's report empty
    let result = run_flow(&config, args, places, &connection, db).await;
    // Let the next run in this process build the same flow name again.
    if let Ok(lib) = recoco_core::lib_context::get_lib_context().await {
        lib.remove_flow_context(&config.flow_name);
    }
    let run = result?;
    drop(pg); // stops the private cluster

    let skipped = flow::take_skipped();
    for s in &skipped {
        eprintln!(
            "skipped: {}: {}",
            printable(&s.path),
            printable(&s.reason.to_string())
        );
    }
    Ok(Summary {
        destination: places.destination.clone(),
        sources: run.sources,
        files: run.files,
        symbols: run.symbols,
        requests: run.write_requests + run.reads,
        write_requests: run.write_requests,
        setup: run.setup,
        skipped,
        elapsed: started.elapsed(),
    })
}

/// What [`run_flow`] did.
struct FlowRun {
    setup: String,
    sources: SourceCounts,
    files: TableChanges,
    symbols: TableChanges,
    write_requests: u64,
    reads: u64,
}

/// The table of a recorded `"D1"` target resource. Read through the target's own setup key
/// type, so it follows that type; `None` for a key it cannot read.
fn recorded_table(id: &recoco_core::setup::ResourceIdentifier) -> Option<D1TableId> {
    if id.target_kind != "D1" {
        return None;
    }
    serde_json::from_value::<D1TableId>(id.key.clone()).ok()
}

/// Whether ReCoco's recorded state says `flow` created `table` (names compare as SQLite does,
/// ignoring ASCII case). The flow name already names the destination, so every `"D1"` target
/// recorded for it is on this index's database; a key this version cannot read counts as
/// recorded (the target itself still refuses a table whose schema does not match).
///
/// ReCoco reads every flow's recorded setup state from PostgreSQL when its library context
/// starts (`LibSetupContext::all_setup_states`) and only rewrites it when a setup is applied,
/// so read before [`flow::setup`] this is exactly what earlier runs recorded: each target
/// resource this flow set up (kind `"D1"`, key = the table's `D1TableId`), including ones whose
/// setup was interrupted (staged changes).
async fn recorded_tables(flow: &str) -> anyhow::Result<Vec<Option<String>>> {
    let lib = recoco_core::lib_context::get_lib_context().await?;
    let persistence = lib.require_persistence_ctx()?;
    let setup = persistence.setup_ctx.read().await;
    let Some(state) = setup.all_setup_states.flows.get(flow) else {
        return Ok(Vec::new());
    };
    Ok(state
        .targets
        .keys()
        .filter(|id| id.target_kind == "D1")
        .map(|id| recorded_table(id).map(|t| t.table))
        .collect())
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
    /// Tables taken over with `--adopt`.
    adopted: bool,
    /// Tables this index's state records as created that are gone from the database (the D1
    /// file or the tables were deleted).
    lost: Vec<String>,
}

/// Refuses `files`/`symbols` tables this index did not create; with `--adopt`, accepts them
/// when their schema is exactly this index's. Reads only the database's table list (and, for
/// `--adopt`, the tables' definitions), never their rows.
async fn check_ownership(
    config: &FlowConfig,
    places: &Places,
    connection: &Connection,
    db: &D1Database,
    adopt: bool,
    reads: &mut u64,
) -> anyhow::Result<Ownership> {
    let database = connection.identity();
    let recorded = recorded_tables(&config.flow_name).await?;
    let present = tables_present(db, reads).await?;
    let mut ownership = Ownership::default();
    for table in [&FileRow::schema().name, &SymbolRow::schema().name] {
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
            let why = if let Some(legacy) = owners.iter().find(|o| is_legacy_flow_name(o)) {
                format!(
                    "ReCoco's state records it under the flow `{legacy}` of an earlier \
                     code-index, which did not key indexes by tree; if it is this tree's index, \
                     pass --adopt to take it over"
                )
            } else if !owners.is_empty() {
                format!(
                    "ReCoco's state records it as created by another index (flow {}): another \
                     tree indexed into the same database? Use another --db or database",
                    owners.join(", ")
                )
            } else {
                "this index has no record of creating it: it belongs to someone else, or to an \
                 index whose state was lost; pass --adopt to take it over (its schema must be \
                 exactly this index's, and its rows are replaced)"
                    .to_owned()
            };
            bail!(
                "refusing to write into table `{live_name}` of {}: it exists and was not created \
                 by this index ({}); {why}. Nothing was read or changed.",
                places.destination,
                config.flow_name
            );
        }
        let plan = if table == &FileRow::schema().name {
            db.table::<FileRow>().plan().await
        } else {
            db.table::<SymbolRow>().plan().await
        };
        *reads += 1;
        match plan {
            Ok(plan) if plan.is_empty() => ownership.adopted = true,
            Ok(plan) => bail!(
                "refusing to adopt table `{live_name}` of {}: its schema differs from this \
                 index's: {}. Nothing was changed.",
                places.destination,
                plan.descriptions().join("; ")
            ),
            Err(e) => bail!(
                "refusing to adopt table `{live_name}` of {}: its schema differs from this \
                 index's: {e}. Nothing was changed.",
                places.destination
            ),
        }
    }
    Ok(ownership)
}

/// Builds the flow, checks that the tables are this index's, sets up (creates or migrates the
/// tables), reads the before state, runs the update, reads the after state.
async fn run_flow(
    config: &FlowConfig,
    args: &Args,
    places: &Places,
    connection: &Connection,
    db: &D1Database,
) -> anyhow::Result<FlowRun> {
    let quiet = args.quiet;
    let flow = flow::build(config)
        .await
        .context("building the ReCoco flow")?;
    let mut reads = 0u64;
    let ownership = check_ownership(config, places, connection, db, args.adopt, &mut reads).await?;
    let adopted = ownership.adopted;
    if !ownership.lost.is_empty() {
        // ReCoco would believe every file is indexed already and write nothing: forget this
        // index's state (and drop what is left of its own tables), then index from scratch.
        eprintln!(
            "state:    table(s) {} of this index are gone from {}; indexing afresh",
            ownership.lost.join(", "),
            places.destination
        );
        flow::drop_state(&flow)
            .await
            .context("forgetting the state of an index whose tables are gone")?;
    }
    let setup = flow::setup(&flow)
        .await
        .context("creating or migrating the D1 tables")?;
    if !setup.trim().is_empty() {
        eprintln!("setup:\n{}", printable_text(setup.trim_end()));
    }

    let present = tables_present(db, &mut reads).await?;
    let files_before = snapshot::<FileRow>(db, &mut reads, &present).await?;
    let symbols_before = snapshot::<SymbolRow>(db, &mut reads, &present).await?;
    let before = target_totals();
    let mut adopt_requests = 0;
    if adopted {
        // Adopted tables hold rows no run of this index wrote (stale ones among them): this
        // run writes every row again, so start from empty tables, in one request.
        let clear = [&FileRow::schema().name, &SymbolRow::schema().name]
            .into_iter()
            .map(|t| {
                thread_flow::sql::Statement::new(
                    format!("DELETE FROM {}", thread_flow::sql::quote_ident(t)),
                    Vec::new(),
                )
            })
            .collect();
        db.batch_idempotent(clear)
            .await
            .context("clearing the adopted tables")?;
        adopt_requests = 1;
        eprintln!("adopted:  tables files and symbols (their rows are rewritten by this run)");
    }
    let parsed_before = flow::files_parsed();
    let tty = std::io::stderr().is_terminal();
    let mut last_line = Instant::now();
    let progress = |_: &SourceCounts| {
        if quiet {
            return;
        }
        let now = target_totals();
        let line = format!(
            "  files parsed: {} | rows written: {} | D1 requests: {}",
            flow::files_parsed().saturating_sub(parsed_before),
            (now.upserted + now.deleted).saturating_sub(before.upserted + before.deleted),
            now.requests.saturating_sub(before.requests),
        );
        if tty {
            eprint!("\r{line}\x1b[K");
            let _ = std::io::stderr().flush();
        } else if last_line.elapsed() >= Duration::from_secs(5) {
            eprintln!("{line}");
            last_line = Instant::now();
        }
    };
    let sources = flow::update(&flow, Duration::from_millis(250), progress)
        .await
        .context("updating the index")?;
    if tty && !quiet {
        eprint!("\r\x1b[K");
    }
    let after = target_totals();
    if after.failed_rows > before.failed_rows {
        eprintln!(
            "warning: {} row writes failed (see the log above); the next run retries them",
            after.failed_rows - before.failed_rows
        );
    }
    let present = tables_present(db, &mut reads).await?;
    let files_after = snapshot::<FileRow>(db, &mut reads, &present).await?;
    let symbols_after = snapshot::<SymbolRow>(db, &mut reads, &present).await?;
    Ok(FlowRun {
        setup,
        sources,
        files: diff(&files_before, &files_after),
        symbols: diff(&symbols_before, &symbols_after),
        write_requests: after.requests.saturating_sub(before.requests) + adopt_requests,
        reads,
    })
}

/// The D1 target's write counters, summed over its tables (process lifetime).
fn target_totals() -> TableStatsSnapshot {
    thread_flow::target::table_stats().into_iter().fold(
        TableStatsSnapshot::default(),
        |mut sum, (_, s)| {
            sum.upserted += s.upserted;
            sum.deleted += s.deleted;
            sum.requests += s.requests;
            sum.failed_rows += s.failed_rows;
            sum
        },
    )
}
