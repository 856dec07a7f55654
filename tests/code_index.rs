//! End to end: the code index of `thread_flow::code` (what `code-index`, the example in
//! `examples/code-index/`, runs) over a fixture tree of Rust, Python, TypeScript and JavaScript
//! files, run in-process with its default places: the embedded local D1 file under
//! `DIR/.thread-flow/` and a private PostgreSQL cluster next to it (started from the PostgreSQL
//! binaries on the machine; the test fails, never skips, when they are missing).
//!
//! Checks the exact rows in D1, the summary and the questions (`query::definitions`,
//! `file_symbols`, `callers`, `callees`, `imports`, `importers`, as text and JSON); then edits
//! one file, deletes another and checks that only the affected rows changed; then a run with no
//! change. Another test gives the index Cloudflare credentials pointing at the suite's fake D1
//! HTTP server and checks the index lands there (and no local file is written). The safety
//! scenarios (tables of someone else, adopting, odd trees, shared databases) follow.

#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use thread_flow::Connection;
use thread_flow::code::query::{self, Answer};
use thread_flow::code::{self, testing};
use thread_flow::code::{CallRow, FileRow, ImportRow, Language, SymbolKind, SymbolRow};
use thread_flow::code::{CodeIndex, IndexReport, TableChanges};
use thread_flow::{D1Database, D1Target};
use thread_flow_suite::fake_d1::FakeD1;

/// ReCoco's library context is process-global: one indexing test at a time.
static RECOCO: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const LIB_RS: &str = "//! Fixture crate.

pub struct Config {
    pub name: String,
}

impl Config {
    pub fn new(name: &str) -> Config {
        Config { name: name.to_owned() }
    }
}

pub fn load(path: &str) -> Option<Config> {
    let _ = path;
    None
}
";

const STATS_PY: &str = "import statistics


class Summary:
    def __init__(self, values):
        self.values = values

    def mean(self):
        return statistics.mean(self.values)


def summarize(values):
    return Summary(values).mean()
";

const APP_TS: &str = "export interface Widget {
  id: string;
}

export class Registry {
  private widgets: Widget[] = [];

  register(widget: Widget): void {
    this.widgets.push(widget);
  }
}

export function createRegistry(): Registry {
  return new Registry();
}
";

/// `APP_TS` after an edit: one field more (everything below moves one line down) and the
/// method renamed.
const APP_TS_EDITED: &str = "export interface Widget {
  id: string;
  label: string;
}

export class Registry {
  private widgets: Widget[] = [];

  add(widget: Widget): void {
    this.widgets.push(widget);
  }
}

export function createRegistry(): Registry {
  return new Registry();
}
";

const OLD_JS: &str = "function legacy() {
  return 1;
}
";

fn write(root: &Path, path: &str, content: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().expect("fixture paths have a folder")).expect("mkdir");
    std::fs::write(&path, content).expect("write fixture file");
}

fn fixture(root: &Path) {
    write(root, "src/lib.rs", LIB_RS);
    write(root, "tools/stats.py", STATS_PY);
    write(root, "web/app.ts", APP_TS);
    write(root, "web/old.js", OLD_JS);
    // Never indexed: not source, or in an excluded folder.
    write(root, "README.md", "# fixture\n");
    write(
        root,
        "node_modules/dep/index.js",
        "function vendored() {}\n",
    );
    write(root, "target/debug/build/gen.rs", "fn generated() {}\n");
    write(root, ".git/hooks/hook.py", "def hook():\n    pass\n");
}

/// The fixture tree in a fresh temporary folder: the folder (removed on drop) and the tree's
/// root inside it.
fn fixture_repo() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    // Readable by the `postgres` user, so the private cluster lives (and dies) inside it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod tempdir");
    }
    let root = tmp.path().join("repo");
    fixture(&root);
    (tmp, root)
}

type Sym = (
    &'static str,
    i64,
    &'static str,
    SymbolKind,
    i64,
    &'static str,
    Option<&'static str>,
);

fn sym(s: &Sym) -> SymbolRow {
    SymbolRow {
        file: s.0.to_owned(),
        start_line: s.1,
        name: s.2.to_owned(),
        kind: s.3,
        end_line: s.4,
        signature: s.5.to_owned(),
        parent: s.6.map(str::to_owned),
    }
}

use SymbolKind::{Class, Function, Impl, Interface, Method, Struct};

const RUST_SYMBOLS: [Sym; 4] = [
    (
        "src/lib.rs",
        3,
        "Config",
        Struct,
        5,
        "pub struct Config",
        None,
    ),
    ("src/lib.rs", 7, "Config", Impl, 11, "impl Config", None),
    (
        "src/lib.rs",
        8,
        "new",
        Method,
        10,
        "pub fn new(name: &str) -> Config",
        Some("Config"),
    ),
    (
        "src/lib.rs",
        13,
        "load",
        Function,
        16,
        "pub fn load(path: &str) -> Option<Config>",
        None,
    ),
];

const PYTHON_SYMBOLS: [Sym; 4] = [
    (
        "tools/stats.py",
        4,
        "Summary",
        Class,
        9,
        "class Summary",
        None,
    ),
    (
        "tools/stats.py",
        5,
        "__init__",
        Method,
        6,
        "def __init__(self, values)",
        Some("Summary"),
    ),
    (
        "tools/stats.py",
        8,
        "mean",
        Method,
        9,
        "def mean(self)",
        Some("Summary"),
    ),
    (
        "tools/stats.py",
        12,
        "summarize",
        Function,
        13,
        "def summarize(values)",
        None,
    ),
];

const TS_SYMBOLS: [Sym; 4] = [
    (
        "web/app.ts",
        1,
        "Widget",
        Interface,
        3,
        "export interface Widget",
        None,
    ),
    (
        "web/app.ts",
        5,
        "Registry",
        Class,
        11,
        "export class Registry",
        None,
    ),
    (
        "web/app.ts",
        8,
        "register",
        Method,
        10,
        "register(widget: Widget): void",
        Some("Registry"),
    ),
    (
        "web/app.ts",
        13,
        "createRegistry",
        Function,
        15,
        "export function createRegistry(): Registry",
        None,
    ),
];

const TS_SYMBOLS_EDITED: [Sym; 4] = [
    (
        "web/app.ts",
        1,
        "Widget",
        Interface,
        4,
        "export interface Widget",
        None,
    ),
    (
        "web/app.ts",
        6,
        "Registry",
        Class,
        12,
        "export class Registry",
        None,
    ),
    (
        "web/app.ts",
        9,
        "add",
        Method,
        11,
        "add(widget: Widget): void",
        Some("Registry"),
    ),
    (
        "web/app.ts",
        14,
        "createRegistry",
        Function,
        16,
        "export function createRegistry(): Registry",
        None,
    ),
];

const JS_SYMBOLS: [Sym; 1] = [(
    "web/old.js",
    1,
    "legacy",
    Function,
    3,
    "function legacy()",
    None,
)];

fn expected_symbols(groups: &[&[Sym]]) -> Vec<SymbolRow> {
    let mut rows: Vec<SymbolRow> = groups.iter().flat_map(|g| g.iter().map(sym)).collect();
    sort_by_key_columns(&mut rows);
    rows
}

/// Symbols in table-key order `(file, start_line, name)`, so stored and expected rows compare.
fn sort_by_key_columns(rows: &mut [SymbolRow]) {
    rows.sort_by(|a, b| (&a.file, a.start_line, &a.name).cmp(&(&b.file, b.start_line, &b.name)));
}

fn file_row(path: &str, language: Language, content: &str) -> FileRow {
    FileRow {
        path: path.to_owned(),
        language,
        size_bytes: content.len() as i64,
        line_count: content.lines().count() as i64,
        content_hash: blake3::hash(content.as_bytes()).to_hex().to_string(),
    }
}

async fn stored_symbols(db: &D1Database) -> Vec<SymbolRow> {
    let mut rows = db.table::<SymbolRow>().all().await.expect("read symbols");
    sort_by_key_columns(&mut rows);
    rows
}

async fn stored_files(db: &D1Database) -> Vec<FileRow> {
    let mut rows = db.table::<FileRow>().all().await.expect("read files");
    rows.sort_by(|a, b| a.path.cmp(&b.path));
    rows
}

/// The index of `dir` as code-index makes it by default: every supported file, into the local
/// D1 file `DIR/.thread-flow/code-index.d1`, ReCoco's state in a private cluster beside it.
async fn index(dir: &Path) -> IndexReport {
    run(CodeIndex::new(dir)).await
}

async fn run(index: CodeIndex) -> IndexReport {
    match index.run().await {
        Ok(report) => report,
        Err(e) => panic!(
            "the code index failed: {e:#}\n\nThis test needs the PostgreSQL server binaries \
             (initdb, pg_ctl, postgres; set PG_BIN_DIR if they are not on PATH) to start a \
             private cluster for ReCoco's state."
        ),
    }
}

/// The default local index of `dir`, opened for questions.
fn index_db(dir: &Path) -> D1Database {
    D1Database::local(default_db(dir)).expect("open the index")
}

fn changes(inserted: u64, updated: u64, deleted: u64, rows: u64) -> TableChanges {
    TableChanges {
        inserted,
        updated,
        deleted,
        rows,
    }
}

/// Moves a file's mtime forward so the source sees a new version even within one clock tick.
fn touch_later(path: &Path) {
    let file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open edited file");
    file.set_modified(SystemTime::now() + Duration::from_secs(2))
        .expect("set mtime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn indexes_a_tree_then_updates_only_what_changed() {
    let _one_at_a_time = RECOCO.lock().await;
    let (_tmp, root) = fixture_repo();

    // First run: everything is new.
    let first = index(&root).await;
    let d1_path = root.join(".thread-flow").join("code-index.d1");
    assert!(
        d1_path.is_file(),
        "the default D1 file is {}",
        d1_path.display()
    );
    // Other accounts on the machine cannot read the index or the state next to it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(
            mode(&root.join(".thread-flow")),
            0o700,
            ".thread-flow is private"
        );
        assert_eq!(mode(&d1_path), 0o600, "the D1 file is private");
    }
    let db = D1Database::local(&d1_path).expect("open the index");

    assert_eq!(
        stored_files(&db).await,
        vec![
            file_row("src/lib.rs", Language::Rust, LIB_RS),
            file_row("tools/stats.py", Language::Python, STATS_PY),
            file_row("web/app.ts", Language::TypeScript, APP_TS),
            file_row("web/old.js", Language::JavaScript, OLD_JS),
        ]
    );
    assert_eq!(
        stored_symbols(&db).await,
        expected_symbols(&[&RUST_SYMBOLS, &PYTHON_SYMBOLS, &TS_SYMBOLS, &JS_SYMBOLS])
    );
    assert_eq!(first.files, changes(4, 0, 0, 4), "{first}");
    assert_eq!(first.symbols, changes(13, 0, 0, 13), "{first}");
    assert_eq!(first.imports, changes(1, 0, 0, 1), "{first}");
    assert_eq!(first.calls, changes(6, 0, 0, 6), "{first}");
    assert_eq!(
        (first.sources.added, first.sources.errors),
        (4, 0),
        "{first}"
    );
    assert!(first.requests > 0, "{first}");

    // --query answers from D1 through the name index.
    match query::definitions(&db, "Config").await.expect("query") {
        Answer::Definitions { found, .. } => {
            let found: Vec<String> = found.iter().map(ToString::to_string).collect();
            assert_eq!(
                found,
                [
                    "src/lib.rs:3  struct  pub struct Config",
                    "src/lib.rs:7  impl  impl Config",
                ]
            );
        }
        other => panic!("expected definitions, got {other}"),
    }
    match query::definitions(&db, "summ").await.expect("query") {
        Answer::Definitions { found, similar, .. } => {
            assert!(found.is_empty());
            assert_eq!(similar, ["Summary", "summarize"]);
        }
        other => panic!("expected definitions, got {other}"),
    }
    match query::file_symbols(&db, "./tools/stats.py")
        .await
        .expect("file")
    {
        Answer::File { symbols, .. } => {
            let names: Vec<&str> = symbols.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(names, ["Summary", "__init__", "mean", "summarize"]);
        }
        other => panic!("expected a file listing, got {other}"),
    }

    // Edit one file, delete another.
    write(&root, "web/app.ts", APP_TS_EDITED);
    touch_later(&root.join("web/app.ts"));
    std::fs::remove_file(root.join("web/old.js")).expect("delete old.js");

    let second = index(&root).await;
    assert_eq!(
        stored_files(&db).await,
        vec![
            file_row("src/lib.rs", Language::Rust, LIB_RS),
            file_row("tools/stats.py", Language::Python, STATS_PY),
            file_row("web/app.ts", Language::TypeScript, APP_TS_EDITED),
        ]
    );
    assert_eq!(
        stored_symbols(&db).await,
        expected_symbols(&[&RUST_SYMBOLS, &PYTHON_SYMBOLS, &TS_SYMBOLS_EDITED])
    );
    let s = second.sources;
    assert_eq!(
        (s.added, s.updated, s.deleted, s.unchanged, s.errors),
        (0, 1, 1, 2, 0),
        "only app.ts was re-parsed and old.js removed: {second}"
    );
    assert_eq!(second.files, changes(0, 1, 1, 3), "{second}");
    // Widget changed in place; Registry and createRegistry moved a line (new keys); register
    // became add; legacy went with old.js.
    assert_eq!(second.symbols, changes(3, 1, 4, 12), "{second}");
    // In app.ts, `push` and `new Registry` moved a line down; old.js called nothing.
    assert_eq!(second.calls, changes(2, 0, 2, 6), "{second}");
    assert_eq!(second.imports, changes(0, 0, 0, 1), "{second}");

    // Nothing changed: nothing written.
    let third = index(&root).await;
    assert_eq!(third.files, changes(0, 0, 0, 3), "{third}");
    assert_eq!(third.symbols, changes(0, 0, 0, 12), "{third}");
    assert_eq!(third.calls, changes(0, 0, 0, 6), "{third}");
    assert_eq!(
        (third.sources.unchanged, third.sources.updated),
        (3, 0),
        "{third}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_to_cloudflare_d1_when_credentials_are_set() {
    let _one_at_a_time = RECOCO.lock().await;
    let (_tmp, root) = fixture_repo();

    let fake = FakeD1::start();
    let vars = [
        ("CLOUDFLARE_ACCOUNT_ID", fake.account_id().to_owned()),
        ("D1_DATABASE_ID", fake.database_id().to_owned()),
        ("CLOUDFLARE_API_TOKEN", fake.token().to_owned()),
        ("D1_BASE_URL", fake.base_url().to_owned()),
    ];
    let env = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    // The way a program holding the settings elsewhere than the process environment opens a
    // remote index: the connection (no secret) from the variables, the token handed to the
    // process-wide handle the index and its ReCoco export then share.
    let connection = Connection::from_vars(env).expect("the Cloudflare settings");
    D1Database::connect_with_token(&connection, fake.token().to_owned())
        .expect("open the Cloudflare handle");
    assert!(
        matches!(connection, Connection::Http { .. }),
        "{connection:?}"
    );

    let summary = run(CodeIndex::new(&root).destination(connection.clone())).await;
    assert!(
        summary
            .destination
            .starts_with(&format!("Cloudflare D1 database {}", fake.database_id())),
        "{summary}"
    );
    assert_eq!(summary.files, changes(4, 0, 0, 4), "{summary}");
    assert_eq!(summary.symbols, changes(13, 0, 0, 13), "{summary}");
    assert!(
        !root.join(".thread-flow").join("code-index.d1").exists(),
        "no local D1 file when Cloudflare is configured"
    );

    // The rows are in the (fake) Cloudflare database, exactly.
    let remote = fake.database();
    assert_eq!(
        stored_symbols(&remote).await,
        expected_symbols(&[&RUST_SYMBOLS, &PYTHON_SYMBOLS, &TS_SYMBOLS, &JS_SYMBOLS])
    );
    assert_eq!(stored_files(&remote).await.len(), 4);
    let served = fake.stats().requests;
    assert!(
        summary.requests > 0 && served >= summary.requests,
        "summary counts {} requests, the server saw {served}",
        summary.requests
    );
    // Fewer requests than rows: each table's rows of one ReCoco commit go in one request.
    // ReCoco decides how many commits it makes (here 1 to 4, one per file at worst), so the
    // bound is per table per file, not a fixed ratio: 4 files x (files, symbols) + the 1 import
    // + at most one calls request per file = 13 at worst, against 24 rows.
    let rows: u64 = summary
        .table_changes()
        .iter()
        .map(|(_, c)| c.inserted)
        .sum();
    assert_eq!(rows, 24, "{summary}");
    assert!(summary.write_requests <= 13, "{summary}");

    let remote_index = CodeIndex::open_existing(&connection).expect("open the remote index");
    match query::definitions(&remote_index, "summarize").await {
        Ok(Answer::Definitions { found, .. }) => {
            let found: Vec<String> = found.iter().map(ToString::to_string).collect();
            assert_eq!(
                found,
                ["tools/stats.py:12  function  def summarize(values)"]
            );
        }
        other => panic!("expected a query answer, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Indexes keyed by destination and tree; tables this index did not create

const ONLY_B_PY: &str = "def only_in_b():\n    return 2\n";

fn tree_b(root: &Path) {
    write(root, "b/main.py", ONLY_B_PY);
}

fn tree_b_files() -> Vec<FileRow> {
    vec![file_row("b/main.py", Language::Python, ONLY_B_PY)]
}

fn tree_b_symbols() -> Vec<SymbolRow> {
    expected_symbols(&[&[(
        "b/main.py",
        1,
        "only_in_b",
        Function,
        2,
        "def only_in_b()",
        None,
    )]])
}

fn all_fixture_files() -> Vec<FileRow> {
    vec![
        file_row("src/lib.rs", Language::Rust, LIB_RS),
        file_row("tools/stats.py", Language::Python, STATS_PY),
        file_row("web/app.ts", Language::TypeScript, APP_TS),
        file_row("web/old.js", Language::JavaScript, OLD_JS),
    ]
}

fn all_fixture_symbols() -> Vec<SymbolRow> {
    expected_symbols(&[&RUST_SYMBOLS, &PYTHON_SYMBOLS, &TS_SYMBOLS, &JS_SYMBOLS])
}

/// A temporary folder the `postgres` user can enter, with two trees: `a` (the fixture) and `b`.
fn two_trees() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (tmp, a) = fixture_repo();
    let b = tmp.path().join("b-repo");
    tree_b(&b);
    (tmp, a, b)
}

/// The index of `dir` into the local D1 file `db` (code-index `--db`), with ReCoco's state at
/// `database_url` when given.
fn index_into(dir: &Path, db: &Path, database_url: Option<String>) -> CodeIndex {
    let index = CodeIndex::new(dir).destination(Connection::local(db));
    match database_url {
        Some(url) => index.database_url(url),
        None => index,
    }
}

/// The error of a run expected to fail.
async fn index_error(index: CodeIndex) -> String {
    match index.run().await {
        Ok(report) => panic!("expected a refusal, got {report}"),
        Err(e) => format!("{e:#}"),
    }
}

async fn assert_index(db_path: &Path, files: Vec<FileRow>, symbols: Vec<SymbolRow>) {
    let db = D1Database::local(db_path).expect("open the index");
    assert_eq!(stored_files(&db).await, files, "{}", db_path.display());
    assert_eq!(stored_symbols(&db).await, symbols, "{}", db_path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_indexes_whose_d1_files_share_a_folder_keep_their_tables() {
    let _one_at_a_time = RECOCO.lock().await;
    let (tmp, a, b) = two_trees();
    let dbs = tmp.path().join("dbs");
    let (a_db, b_db) = (dbs.join("a.d1"), dbs.join("b.d1"));

    let first = run(index_into(&a, &a_db, None)).await;
    assert_eq!(first.files, changes(4, 0, 0, 4), "{first}");
    let second = run(index_into(&b, &b_db, None)).await;
    assert_eq!(second.files, changes(1, 0, 0, 1), "{second}");
    // The second index did not touch the first one's tables ...
    assert_index(&a_db, all_fixture_files(), all_fixture_symbols()).await;
    assert_index(&b_db, tree_b_files(), tree_b_symbols()).await;

    // ... and each index still knows what it indexed: nothing to do on the next runs.
    let again = run(index_into(&a, &a_db, None)).await;
    assert_eq!(again.files, changes(0, 0, 0, 4), "{again}");
    assert_eq!(again.symbols, changes(0, 0, 0, 13), "{again}");
    assert_eq!((again.sources.unchanged, again.sources.added), (4, 0));
    let again = run(index_into(&b, &b_db, None)).await;
    assert_eq!(again.files, changes(0, 0, 0, 1), "{again}");
    assert_index(&a_db, all_fixture_files(), all_fixture_symbols()).await;
    assert_index(&b_db, tree_b_files(), tree_b_symbols()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn indexes_sharing_one_database_url_keep_their_tables() {
    let _one_at_a_time = RECOCO.lock().await;
    let (tmp, a, b) = two_trees();
    let pg = thread_flow::postgres::PrivatePostgres::temporary()
        .expect("start PostgreSQL (needs initdb, pg_ctl and postgres on PATH or in PG_BIN_DIR)");
    let url = Some(url_with_password(&pg));
    let dbs = tmp.path().join("dbs");
    let (a_db, b_db, c_db) = (dbs.join("a.d1"), dbs.join("b.d1"), dbs.join("c.d1"));

    run(index_into(&a, &a_db, url.clone())).await;
    run(index_into(&b, &b_db, url.clone())).await;
    // The same tree into a second database: a third index.
    let third = run(index_into(&a, &c_db, url.clone())).await;
    assert_eq!(third.files, changes(4, 0, 0, 4), "{third}");

    assert_index(&a_db, all_fixture_files(), all_fixture_symbols()).await;
    assert_index(&b_db, tree_b_files(), tree_b_symbols()).await;
    assert_index(&c_db, all_fixture_files(), all_fixture_symbols()).await;
    let again = run(index_into(&a, &a_db, url.clone())).await;
    assert_eq!(again.files, changes(0, 0, 0, 4), "{again}");
    assert_eq!(again.sources.unchanged, 4, "{again}");
    assert_index(&c_db, all_fixture_files(), all_fixture_symbols()).await;
}

fn default_db(root: &Path) -> PathBuf {
    root.join(".thread-flow").join("code-index.d1")
}

/// `(columns, rows)` of `table` read with plain SQLite, outside thread-flow.
fn raw_table(db: &Path, table: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let conn = rusqlite::Connection::open(db).expect("open with sqlite");
    let columns: Vec<String> = conn
        .prepare(&format!(
            "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .expect("columns");
    let select = format!(
        "SELECT {} FROM \"{table}\" ORDER BY 1",
        columns
            .iter()
            .map(|c| format!("CAST(\"{c}\" AS TEXT)"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows = conn
        .prepare(&select)
        .and_then(|mut s| {
            let n = columns.len();
            s.query_map([], |r| (0..n).map(|i| r.get::<_, String>(i)).collect())?
                .collect::<Result<Vec<Vec<String>>, _>>()
        })
        .expect("rows");
    (columns, rows)
}

fn tables(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open with sqlite");
    conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .expect("tables")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_files_table_made_by_someone_else_is_refused_and_left_alone() {
    let _one_at_a_time = RECOCO.lock().await;
    let (_tmp, root) = fixture_repo();
    let d1 = default_db(&root);
    std::fs::create_dir_all(d1.parent().expect("folder")).expect("mkdir");
    {
        let conn = rusqlite::Connection::open(&d1).expect("create the D1 file");
        conn.execute_batch(
            "CREATE TABLE files (path TEXT PRIMARY KEY, owner TEXT NOT NULL);
             INSERT INTO files VALUES ('notes.txt', 'someone else');",
        )
        .expect("their table");
    }
    let theirs = (
        vec!["path".to_owned(), "owner".to_owned()],
        vec![vec!["notes.txt".to_owned(), "someone else".to_owned()]],
    );

    for adopt in [false, true] {
        let error = index_error(CodeIndex::new(&root).adopt(adopt)).await;
        assert!(
            error.contains("refusing") && error.contains("table `files`"),
            "{error}"
        );
        assert!(
            error.contains(&d1.display().to_string()),
            "the message names the D1 file: {error}"
        );
        if adopt {
            // Adopting needs exactly this index's schema; the message says what differs.
            assert!(error.contains("schema differs"), "{error}");
            assert!(error.contains("owner"), "{error}");
        } else {
            assert!(error.contains("--adopt"), "{error}");
        }
        // Their table and row are untouched; nothing of ours was created beside it.
        assert_eq!(raw_table(&d1, "files"), theirs);
        assert_eq!(tables(&d1), ["files"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_table_with_exactly_our_schema_is_taken_over_only_with_adopt() {
    let _one_at_a_time = RECOCO.lock().await;
    let (_tmp, root) = fixture_repo();
    let d1 = default_db(&root);
    std::fs::create_dir_all(d1.parent().expect("folder")).expect("mkdir");
    let stale = FileRow {
        path: "gone.rs".to_owned(),
        language: Language::Rust,
        size_bytes: 1,
        line_count: 1,
        content_hash: "0".repeat(64),
    };
    {
        // Same DDL as ours (e.g. an index whose ReCoco state was lost), with a row.
        let db = D1Database::local(&d1).expect("create the D1 file");
        db.table::<FileRow>().migrate().await.expect("create files");
        db.table::<FileRow>()
            .upsert(std::slice::from_ref(&stale))
            .await
            .expect("a row");
    }

    let error = index_error(CodeIndex::new(&root)).await;
    assert!(
        error.contains("refusing") && error.contains("table `files`") && error.contains("--adopt"),
        "{error}"
    );
    assert_eq!(tables(&d1), ["files"]);
    {
        let db = D1Database::local(&d1).expect("open");
        assert_eq!(stored_files(&db).await, vec![stale.clone()]);
    }

    let adopted = run(CodeIndex::new(&root).adopt(true)).await;
    // Taken over: its rows are replaced by this tree's.
    assert_eq!(adopted.files, changes(4, 0, 1, 4), "{adopted}");
    assert_index(&d1, all_fixture_files(), all_fixture_symbols()).await;

    // Now recorded as this index's: no flag needed, nothing to do.
    let again = index(&root).await;
    assert_eq!(again.files, changes(0, 0, 0, 4), "{again}");
    assert_eq!(again.sources.unchanged, 4, "{again}");
}

// ---------------------------------------------------------------------------------------
// Odd trees

#[cfg(unix)]
fn symlink(target: impl AsRef<Path>, link: impl AsRef<Path>) {
    std::os::unix::fs::symlink(target, link).expect("symlink");
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

const EVIL_PY: &str = "def evil(x=\"\x1b[2J\x1b]0;owned\x07\"):\n    pass\n";

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn odd_trees_index_regular_files_inside_the_tree_only() {
    use code::SkipReason::{AlreadyWalked, NotRegular, OutsideTree, TooLarge};

    let _one_at_a_time = RECOCO.lock().await;
    let (tmp, root) = fixture_repo();
    write(tmp.path(), "outside/secret.rs", "fn secret() {}\n");
    symlink(".", root.join("loop"));
    symlink("..", root.join("src/up"));
    symlink("web", root.join("alias"));
    symlink(tmp.path().join("outside"), root.join("outside"));
    symlink(tmp.path().join("outside/secret.rs"), root.join("leak.rs"));
    symlink("/dev/zero", root.join("zero.rs"));
    symlink("lib.rs", root.join("src/again.rs"));
    mkfifo(&root.join("web/pipe.ts"));
    write(
        &root,
        "big.rs",
        &"/".repeat(code::MAX_FILE_BYTES as usize + 1),
    );
    write(&root, "tools/evil.py", EVIL_PY);

    let mut files = all_fixture_files();
    files.push(file_row("src/again.rs", Language::Rust, LIB_RS));
    files.push(file_row("tools/evil.py", Language::Python, EVIL_PY));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let again_symbols: Vec<Sym> = RUST_SYMBOLS
        .iter()
        .map(|s| ("src/again.rs", s.1, s.2, s.3, s.4, s.5, s.6))
        .collect();
    let evil: Sym = (
        "tools/evil.py",
        1,
        "evil",
        Function,
        2,
        "def evil(x=\"\x1b[2J\x1b]0;owned\x07\")",
        None,
    );
    let symbols = expected_symbols(&[
        &RUST_SYMBOLS,
        &PYTHON_SYMBOLS,
        &TS_SYMBOLS,
        &JS_SYMBOLS,
        &again_symbols,
        &[evil],
    ]);
    let skipped = |s: &IndexReport| -> Vec<(String, code::SkipReason)> {
        s.skipped
            .iter()
            .map(|s| (s.path.clone(), s.reason.clone()))
            .collect()
    };
    let expected_skipped = vec![
        ("alias".to_owned(), AlreadyWalked),
        (
            "big.rs".to_owned(),
            TooLarge {
                limit: code::MAX_FILE_BYTES,
            },
        ),
        ("leak.rs".to_owned(), OutsideTree),
        ("loop".to_owned(), AlreadyWalked),
        ("outside".to_owned(), OutsideTree),
        ("src/up".to_owned(), AlreadyWalked),
        ("web/pipe.ts".to_owned(), NotRegular("FIFO")),
        ("zero.rs".to_owned(), OutsideTree),
    ];

    let first = index(&root).await;
    assert_index(&default_db(&root), files.clone(), symbols.clone()).await;
    assert_eq!(skipped(&first), expected_skipped, "{first}");
    assert!(
        first.to_string().contains("skipped: 8 paths not indexed"),
        "{first}"
    );
    assert_eq!(first.sources.errors, 0, "{first}");

    // The next run sees the same tree: nothing to do, the same report.
    let second = index(&root).await;
    assert_eq!(second.files, changes(0, 0, 0, 6), "{second}");
    assert_eq!(skipped(&second), expected_skipped, "{second}");

    // What the tree holds is printed with its control characters escaped.
    let printed = query::definitions(&index_db(&root), "evil")
        .await
        .expect("query")
        .to_string();
    assert_eq!(
        printed,
        "1 definition of `evil`:\n  tools/evil.py:1  function  \
         def evil(x=\"\\u{1b}[2J\\u{1b}]0;owned\\u{7}\")"
    );
}

#[test]
fn printed_names_signatures_and_paths_escape_terminal_controls() {
    let d = query::Definition {
        file: "a\x1b[31m.rs".to_owned(),
        start_line: 1,
        end_line: 2,
        name: "x\u{9b}2J".to_owned(),
        kind: "function".to_owned(),
        signature: "fn x(\x08\x7f\r\n\t)".to_owned(),
        parent: Some("P\u{202e}".to_owned()),
    };
    let query = Answer::Definitions {
        name: "x\u{9b}2J".to_owned(),
        found: vec![d.clone()],
        similar: Vec::new(),
    }
    .to_string();
    assert_eq!(
        query,
        "1 definition of `x\\u{9b}2J`:\n  a\\u{1b}[31m.rs:1  function  \
         fn x(\\u{8}\\u{7f}\\u{d}\\u{a}\\u{9})  (in P\\u{202e})"
    );
    let similar = Answer::Definitions {
        name: "\x1bq".to_owned(),
        found: Vec::new(),
        similar: vec!["\x1b[0m".to_owned()],
    }
    .to_string();
    assert_eq!(
        similar,
        "no definition of `\\u{1b}q` in the index; similar names: \\u{1b}[0m"
    );
    let file = Answer::File {
        path: "\x1b]0;t\x07".to_owned(),
        symbols: vec![d],
    }
    .to_string();
    assert_eq!(
        file,
        "\\u{1b}]0;t\\u{7}: 1 symbols\n    1-2  function  fn x(\\u{8}\\u{7f}\\u{d}\\u{a}\\u{9})"
    );
    for text in [&query, &similar, &file] {
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
    }
    assert_eq!(
        thread_flow::code::printable_text("a\n\tb\x1b"),
        "a\n\tb\\u{1b}"
    );
}

#[cfg(unix)]
#[test]
fn reading_refuses_fifos_links_out_and_oversized_files_without_blocking() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("tree");
    write(&root, "ok.rs", "fn ok() {}\n");
    write(&root, "big.rs", "fn big() {}\n// twenty bytes more\n");
    write(tmp.path(), "secret.rs", "fn secret() {}\n");
    symlink(tmp.path().join("secret.rs"), root.join("leak.rs"));
    mkfifo(&root.join("pipe.rs"));
    let rules = testing::Rules::new(std::fs::canonicalize(&root).expect("canonical"), 16);
    let content = |key: &str| match testing::read(&rules, key) {
        testing::FileRead::Content(bytes, _) => Ok(bytes),
        testing::FileRead::Gone => Err(None),
        testing::FileRead::Skipped(reason) => Err(Some(reason)),
    };
    assert_eq!(content("ok.rs"), Ok(b"fn ok() {}\n".to_vec()));
    assert_eq!(
        content("big.rs"),
        Err(Some(code::SkipReason::TooLarge { limit: 16 }))
    );
    assert_eq!(
        content("pipe.rs"),
        Err(Some(code::SkipReason::NotRegular("FIFO")))
    );
    assert_eq!(content("leak.rs"), Err(Some(code::SkipReason::OutsideTree)));
    assert_eq!(
        content("../secret.rs"),
        Err(Some(code::SkipReason::OutsideTree))
    );
    assert_eq!(content("missing.rs"), Err(None));
}

/// The walk's report as lines: `file KEY` / `skipped PATH: REASON`.
fn listing_lines(listing: &testing::Listing) -> Vec<String> {
    listing
        .files
        .iter()
        .map(|f| format!("file {}", f.key))
        .chain(
            listing
                .skipped
                .iter()
                .map(|(path, reason)| format!("skipped {path}: {reason}")),
        )
        .collect()
}

const WALK_ROOT_VAR: &str = "CODE_INDEX_TEST_WALK_ROOT";

/// Run by [`an_unreadable_folder_is_skipped_and_the_walk_goes_on`] as an unprivileged user
/// (root reads every folder): prints the listing of the tree named by the environment.
#[test]
#[ignore = "helper: run by an_unreadable_folder_is_skipped_and_the_walk_goes_on"]
fn walk_listing_for_the_unprivileged_check() {
    let Some(root) = std::env::var_os(WALK_ROOT_VAR) else {
        return;
    };
    let rules = testing::Rules::new(PathBuf::from(root), 1024);
    for line in listing_lines(&testing::list(&rules)) {
        println!("LISTING {line}");
    }
}

#[cfg(unix)]
#[test]
fn an_unreadable_folder_is_skipped_and_the_walk_goes_on() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let root = tmp.path().join("tree");
    write(&root, "a.rs", "fn a() {}\n");
    write(&root, "locked/hidden.rs", "fn hidden() {}\n");
    write(&root, "z/after.rs", "fn after() {}\n");
    let locked = root.join("locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod 000");
    let root = std::fs::canonicalize(&root).expect("canonical");

    let running_as_root = std::fs::metadata(tmp.path()).expect("stat").uid() == 0;
    let lines: Vec<String> = if running_as_root {
        // Root reads every folder: list as `nobody`, by running the helper test above in
        // this same test binary under setpriv.
        let exe = std::env::current_exe().expect("test binary");
        let output = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(exe)
            .args([
                "--ignored",
                "--exact",
                "walk_listing_for_the_unprivileged_check",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WALK_ROOT_VAR, &root)
            .output()
            .expect("run setpriv (util-linux)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
            .lines()
            // The harness may print `test NAME ... ` on the same line as the first one.
            .filter_map(|l| l.split_once("LISTING ").map(|(_, line)| line))
            .map(str::to_owned)
            .collect()
    } else {
        let rules = testing::Rules::new(root.clone(), 1024);
        listing_lines(&testing::list(&rules))
    };
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    assert_eq!(
        lines,
        [
            "file a.rs",
            "file z/after.rs",
            "skipped locked: cannot be read: Permission denied (os error 13)",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_index_whose_tables_were_deleted_is_rebuilt() {
    let _one_at_a_time = RECOCO.lock().await;
    let (tmp, root) = fixture_repo();
    let d1 = tmp.path().join("dbs").join("index.d1");
    run(index_into(&root, &d1, None)).await;
    // As when the D1 file is deleted (which a test cannot do in-process: the target keeps its
    // connection to the file open for the life of the process).
    rusqlite::Connection::open(&d1)
        .and_then(|c| c.execute_batch("DROP TABLE symbols;"))
        .expect("drop a table");

    // ReCoco's state (beside it) still says every file is indexed: without care, nothing
    // would be written again.
    let again = run(index_into(&root, &d1, None)).await;
    assert_eq!(again.files.rows, 4, "{again}");
    assert_eq!(again.symbols, changes(13, 0, 0, 13), "{again}");
    assert_index(&d1, all_fixture_files(), all_fixture_symbols()).await;
    let third = run(index_into(&root, &d1, None)).await;
    assert_eq!(third.files, changes(0, 0, 0, 4), "{third}");
    assert_eq!(third.sources.unchanged, 4, "{third}");
}

#[test]
fn flow_names_key_the_index_by_destination_and_tree() {
    use thread_flow::DatabaseId;
    let local = |p: &str| DatabaseId::Local { path: p.to_owned() };
    let cloud = |db: &str| DatabaseId::Http {
        base_url: "https://d1.example".to_owned(),
        account_id: "acct".to_owned(),
        database_id: db.to_owned(),
    };
    let names = [
        testing::flow_name(&local("/dbs/a.d1"), Path::new("/src/a")),
        testing::flow_name(&local("/dbs/b.d1"), Path::new("/src/a")),
        testing::flow_name(&local("/dbs/a.d1"), Path::new("/src/b")),
        testing::flow_name(&cloud("one"), Path::new("/src/a")),
        testing::flow_name(&cloud("two"), Path::new("/src/a")),
    ];
    for (i, name) in names.iter().enumerate() {
        assert_eq!(name.len(), "CodeIndex_".len() + 16, "{name}");
        assert!(name.starts_with("CodeIndex_"), "{name}");
        assert!(!testing::is_legacy_flow_name(name), "{name}");
        for other in &names[i + 1..] {
            assert_ne!(name, other);
        }
    }
    assert_eq!(
        names[0],
        testing::flow_name(&local("/dbs/a.d1"), Path::new("/src/a")),
        "stable"
    );
    assert!(testing::is_legacy_flow_name("CodeIndex"));
    assert!(testing::is_legacy_flow_name("CodeIndex_0123456789ab"));
}

/// An index made by code-index before indexes were keyed by destination and tree: its tables
/// are recorded under a flow name of the old scheme (here the `--database-url` one).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_index_made_by_an_earlier_code_index_is_refused_with_a_hint_then_adopted() {
    let _one_at_a_time = RECOCO.lock().await;
    let (tmp, root) = fixture_repo();
    let pg = thread_flow::postgres::PrivatePostgres::temporary()
        .expect("start PostgreSQL (needs initdb, pg_ctl and postgres on PATH or in PG_BIN_DIR)");
    let dbs = tmp.path().join("dbs");
    std::fs::create_dir_all(&dbs).expect("mkdir");
    let d1 = std::fs::canonicalize(&dbs)
        .expect("real path")
        .join("index.d1");
    D1Database::local(&d1).expect("create the D1 file");

    // The earlier code-index's run: same tables, recorded under its flow name.
    let legacy = "CodeIndex_0123456789ab";
    let settings = recoco_core::settings::Settings {
        database: Some(recoco_core::settings::DatabaseConnectionSpec {
            url: url_with_password(&pg),
            user: None,
            password: None,
            max_connections: 4,
            min_connections: 1,
        }),
        ..Default::default()
    };
    recoco_core::lib_context::init_lib_context(Some(settings))
        .await
        .expect("ReCoco context");
    thread_flow::recoco::register().expect("register D1");
    let connection = Connection::local(&d1);
    // The earlier code-index indexed definitions only: tables files and symbols.
    let config = testing::FlowConfig {
        flow_name: legacy.to_owned(),
        source_dir: std::fs::canonicalize(&root).expect("real path"),
        extra_excluded: Vec::new(),
        include: Vec::new(),
        exclude: Vec::new(),
        languages: None,
        max_file_bytes: code::MAX_FILE_BYTES,
        files: testing::TableExport::new(
            "files",
            thread_flow::recoco::export::<FileRow>(connection.clone()).expect("export"),
        ),
        symbols: testing::TableExport::new(
            "symbols",
            thread_flow::recoco::export::<SymbolRow>(connection).expect("export"),
        ),
        imports: None,
        calls: None,
    };
    let old = testing::build(&config).await.expect("legacy flow");
    testing::setup(&old).await.expect("legacy setup");
    testing::update(&old, Duration::from_secs(60), |_| {})
        .await
        .expect("legacy update");
    drop(old);
    recoco_core::lib_context::get_lib_context()
        .await
        .expect("context")
        .remove_flow_context(legacy);
    assert_index(&d1, all_fixture_files(), all_fixture_symbols()).await;

    let url = Some(url_with_password(&pg));
    let error = index_error(index_into(&root, &d1, url.clone())).await;
    assert!(
        error.contains("refusing to write into table `files`")
            && error.contains(legacy)
            && error.contains("earlier code-index")
            && error.contains("--adopt"),
        "{error}"
    );
    assert_index(&d1, all_fixture_files(), all_fixture_symbols()).await;

    let adopted = run(index_into(&root, &d1, url.clone()).adopt(true)).await;
    // Same tree, same rows: rewritten, so nothing changed.
    assert_eq!(adopted.files, changes(0, 0, 0, 4), "{adopted}");
    assert_eq!(adopted.symbols, changes(0, 0, 0, 13), "{adopted}");
    assert_index(&d1, all_fixture_files(), all_fixture_symbols()).await;
    let again = run(index_into(&root, &d1, url)).await;
    assert_eq!(again.sources.unchanged, 4, "{again}");
}

/// A `--database-url` for the private cluster: its socket URL with the password from its 0600
/// file (what a user passing a URL to a password-protected server writes).
fn url_with_password(pg: &thread_flow::postgres::PrivatePostgres) -> String {
    let password = std::fs::read_to_string(pg.password_path()).expect("read the password file");
    pg.url().replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{}@", password.trim()),
        1,
    )
}

/// A `--database-url` with credentials: ReCoco gets the URL without them (it prints the URL in
/// connection errors) and the user and password in their own fields, percent-decoded.
#[test]
fn database_url_credentials_never_stay_in_the_url() {
    let (url, user, password) =
        testing::split_credentials("postgres://me:p%40ss:w@db.internal:5432/state?sslmode=require");
    assert_eq!(url, "postgres://db.internal:5432/state?sslmode=require");
    assert_eq!(user.as_deref(), Some("me"));
    assert_eq!(password.as_deref(), Some("p@ss:w"));
    let (url, user, password) =
        testing::split_credentials("postgres://localhost/postgres?host=/a@b");
    assert_eq!(url, "postgres://localhost/postgres?host=/a@b");
    assert_eq!((user, password), (None, None));
    let (url, user, password) = testing::split_credentials("postgres://only@host/db");
    assert_eq!(url, "postgres://host/db");
    assert_eq!((user.as_deref(), password), (Some("only"), None));
}

// ---------------------------------------------------------------------------------------
// The questions, on an index written with the typed tables (no flow needed)

fn call(file: &str, line: i64, callee: &str, caller: Option<&str>) -> CallRow {
    CallRow {
        file: file.to_owned(),
        line,
        callee: callee.to_owned(),
        caller: caller.map(str::to_owned),
    }
}

fn import(file: &str, line: i64, module: &str, names: &[&str]) -> ImportRow {
    ImportRow {
        file: file.to_owned(),
        line,
        module: module.to_owned(),
        names: names.iter().map(|n| (*n).to_owned()).collect(),
    }
}

/// A small index written directly through the row structs (as a user's own code could).
async fn hand_made_index() -> D1Database {
    let db = D1Database::in_memory().expect("in-memory D1");
    db.table::<SymbolRow>().migrate().await.expect("symbols");
    db.table::<CallRow>().migrate().await.expect("calls");
    db.table::<ImportRow>().migrate().await.expect("imports");
    db.table::<SymbolRow>()
        .upsert(&expected_symbols(&[&RUST_SYMBOLS, &PYTHON_SYMBOLS]))
        .await
        .expect("symbols");
    db.table::<CallRow>()
        .upsert(&[
            call("tools/stats.py", 9, "mean", Some("mean")),
            call("tools/stats.py", 13, "Summary", Some("summarize")),
            call("tools/stats.py", 13, "mean", Some("summarize")),
            call("web/app.ts", 9, "push", Some("register")),
            call("web/app.ts", 20, "mean", None),
        ])
        .await
        .expect("calls");
    db.table::<ImportRow>()
        .upsert(&[
            import("tools/stats.py", 1, "statistics", &[]),
            import("web/app.ts", 1, "./widget", &["Widget", "render"]),
            import("web/main.ts", 2, "./widget", &["Widget"]),
        ])
        .await
        .expect("imports");
    db
}

#[tokio::test]
async fn who_calls_what_and_who_imports_what_as_text_and_json() {
    let db = hand_made_index().await;

    let callers = query::callers(&db, "mean").await.expect("callers");
    assert_eq!(
        callers.to_string(),
        "3 calls of `mean`:\n  \
         tools/stats.py:9  in mean\n  \
         tools/stats.py:13  in summarize\n  \
         web/app.ts:20  (top level)"
    );
    let json: serde_json::Value = serde_json::from_str(&callers.to_json()).expect("JSON");
    assert_eq!(
        json,
        serde_json::json!({
            "query": "callers",
            "name": "mean",
            "calls": [
                {"file": "tools/stats.py", "line": 9, "caller": "mean", "callee": "mean"},
                {"file": "tools/stats.py", "line": 13, "caller": "summarize", "callee": "mean"},
                {"file": "web/app.ts", "line": 20, "caller": null, "callee": "mean"},
            ]
        })
    );

    let callees = query::callees(&db, "summarize").await.expect("callees");
    assert_eq!(
        callees.to_string(),
        "`summarize` makes 2 calls:\n  tools/stats.py:13  Summary\n  tools/stats.py:13  mean"
    );
    let json: serde_json::Value = serde_json::from_str(&callees.to_json()).expect("JSON");
    assert_eq!(json["query"], "callees");
    assert_eq!(json["calls"][0]["callee"], "Summary");
    assert_eq!(json["calls"][1]["callee"], "mean");

    let imports = query::imports(&db, "./web/app.ts").await.expect("imports");
    assert_eq!(
        imports.to_string(),
        "web/app.ts: 1 import\n  1  ./widget  {Widget, render}"
    );
    let json: serde_json::Value = serde_json::from_str(&imports.to_json()).expect("JSON");
    assert_eq!(
        json,
        serde_json::json!({
            "query": "imports",
            "path": "web/app.ts",
            "imports": [
                {"file": "web/app.ts", "line": 1, "module": "./widget", "names": ["Widget", "render"]},
            ]
        })
    );

    let importers = query::importers(&db, "./widget").await.expect("importers");
    assert_eq!(
        importers.to_string(),
        "2 imports of `./widget`:\n  web/app.ts:1  {Widget, render}\n  web/main.ts:2  {Widget}"
    );
    let json: serde_json::Value = serde_json::from_str(&importers.to_json()).expect("JSON");
    assert_eq!(json["query"], "importers");
    assert_eq!(json["imports"][1]["file"], "web/main.ts");

    let definitions = query::definitions(&db, "Config")
        .await
        .expect("definitions");
    let json: serde_json::Value = serde_json::from_str(&definitions.to_json()).expect("JSON");
    assert_eq!(
        json,
        serde_json::json!({
            "query": "definitions",
            "name": "Config",
            "found": [
                {"file": "src/lib.rs", "start_line": 3, "end_line": 5, "name": "Config",
                 "kind": "struct", "signature": "pub struct Config", "parent": null},
                {"file": "src/lib.rs", "start_line": 7, "end_line": 11, "name": "Config",
                 "kind": "impl", "signature": "impl Config", "parent": null},
            ],
            "similar": []
        })
    );
    let file = query::file_symbols(&db, "tools/stats.py")
        .await
        .expect("file");
    let json: serde_json::Value = serde_json::from_str(&file.to_json()).expect("JSON");
    assert_eq!(json["query"], "file");
    let names: Vec<&str> = json["symbols"]
        .as_array()
        .expect("symbols")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["Summary", "__init__", "mean", "summarize"]);

    // Nothing found is an answer too, in both forms.
    let none = query::callers(&db, "nobody").await.expect("callers");
    assert_eq!(none.to_string(), "no call of `nobody` in the index");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&none.to_json()).expect("JSON")["calls"],
        serde_json::json!([])
    );
    assert_eq!(
        query::importers(&db, "os")
            .await
            .expect("importers")
            .to_string(),
        "no import of `os` in the index"
    );
    assert_eq!(
        query::callees(&db, "nobody")
            .await
            .expect("callees")
            .to_string(),
        "no call made by `nobody` in the index"
    );
}

#[tokio::test]
async fn questions_to_a_database_without_an_index_say_so() {
    let db = D1Database::in_memory().expect("in-memory D1");
    for (answer, table) in [
        (query::definitions(&db, "x").await, "symbols"),
        (query::file_symbols(&db, "a.rs").await, "symbols"),
        (query::callers(&db, "x").await, "calls"),
        (query::callees(&db, "x").await, "calls"),
        (query::imports(&db, "a.rs").await, "imports"),
        (query::importers(&db, "x").await, "imports"),
    ] {
        match answer {
            Err(query::QueryError::NoIndex { table: missing }) => assert_eq!(missing, table),
            other => panic!("expected NoIndex for {table}, got {other:?}"),
        }
    }
}

#[test]
fn json_answers_escape_terminal_controls_and_stay_valid_json() {
    let answer = Answer::Callers {
        name: "x\u{9b}2J".to_owned(),
        calls: vec![query::CallSite {
            file: "a\x1b[31m.rs".to_owned(),
            line: 1,
            caller: Some("P\u{202e}\x7f".to_owned()),
            callee: "x\u{9b}2J".to_owned(),
        }],
    };
    let json = answer.to_json();
    assert!(
        !json
            .chars()
            .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
        "{json:?}"
    );
    assert!(json.contains("\\u009b") && json.contains("\\u202e") && json.contains("\\u007f"));
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value["calls"][0]["file"], "a\x1b[31m.rs");
    assert_eq!(value["calls"][0]["caller"], "P\u{202e}\x7f");
    assert_eq!(
        answer.to_string(),
        "1 call of `x\\u{9b}2J`:\n  a\\u{1b}[31m.rs:1  in P\\u{202e}\\u{7f}"
    );
}

#[test]
fn selections_match_languages_and_globs_on_relative_paths() {
    use testing::Selection;
    let all = Selection::default();
    assert_eq!(all.language_of("src/a.rs"), Some(Language::Rust));
    assert_eq!(all.language_of("README.md"), None);

    let some = Selection::new(
        Some(vec![Language::Rust, Language::TypeScript]),
        &["src/**".to_owned(), "web/*.ts".to_owned()],
        &["**/generated/**".to_owned()],
    )
    .expect("valid globs");
    assert!(some.selects("src/lib.rs"));
    assert!(some.selects("src/deep/er/mod.rs"));
    assert!(!some.selects("src/generated/x.rs"), "excluded");
    assert!(!some.selects("tools/stats.py"), "not included");
    assert!(!some.selects("src/stats.py"), "not a chosen language");
    assert!(some.selects("web/app.ts"));
    assert!(!some.selects("web/deep/app.ts"), "`*` stops at `/`");

    let bad = Selection::new(None, &["src/[".to_owned()], &[]).expect_err("invalid glob");
    assert_eq!(bad.glob, "src/[");
    assert!(bad.to_string().starts_with("invalid glob `src/[`"), "{bad}");
}

// ---------------------------------------------------------------------------------------
// The library from a user's own code

fn sqlite_names(db: &Path, kind: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).expect("open with sqlite");
    conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = ?1 AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .and_then(|mut s| {
        s.query_map([kind], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()
    })
    .expect("names")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_builder_indexes_chosen_files_into_tables_of_the_users_names() {
    use thread_flow::code::TableNames;

    let _one_at_a_time = RECOCO.lock().await;
    let (tmp, root) = fixture_repo();
    let d1 = tmp.path().join("dbs").join("mine.d1");
    let names = TableNames {
        files: "my_files".into(),
        symbols: "my_symbols".into(),
        imports: "my_imports".into(),
        calls: "my_calls".into(),
    };
    let mine = || {
        CodeIndex::new(&root)
            .include(["src/**", "web/**"])
            .exclude(["**/old.js"])
            .languages([Language::Rust, Language::TypeScript, Language::JavaScript])
            .destination(Connection::local(&d1))
            .table_names(names.clone())
    };

    let first = mine().run().await.expect("the index runs");
    assert_eq!(
        sqlite_names(&d1, "table"),
        ["my_calls", "my_files", "my_imports", "my_symbols"]
    );
    // Index names follow the table names.
    let indexes = sqlite_names(&d1, "index");
    for index in [
        "my_symbols_name_idx",
        "my_symbols_kind_name_idx",
        "my_imports_module_idx",
        "my_calls_callee_idx",
        "my_calls_caller_file_idx",
    ] {
        assert!(indexes.iter().any(|i| i == index), "{index} in {indexes:?}");
    }
    assert_eq!(first.files, changes(2, 0, 0, 2), "{first}");
    assert!(first.to_string().contains("my_symbols"), "{first}");

    let db = D1Database::local(&d1).expect("open");
    let schema = |s: &thread_flow::TableSchema, name: &str| thread_flow::recoco::renamed(s, name);
    let files: Vec<FileRow> = testing::read_all(&db, &schema(FileRow::schema(), "my_files"))
        .await
        .expect("read my_files");
    assert_eq!(
        files,
        [
            file_row("src/lib.rs", Language::Rust, LIB_RS),
            file_row("web/app.ts", Language::TypeScript, APP_TS),
        ]
    );
    let symbols: Vec<SymbolRow> =
        testing::read_all(&db, &schema(SymbolRow::schema(), "my_symbols"))
            .await
            .expect("read my_symbols");
    assert_eq!(symbols, expected_symbols(&[&RUST_SYMBOLS, &TS_SYMBOLS]));

    // Its own flow name: the default index of the same tree into the same file is another
    // index, and neither touches the other's tables.
    assert_ne!(
        first.flow_name,
        testing::flow_name(&Connection::local(&d1).identity(), &first.source_dir)
    );
    let default_tables = run(index_into(&root, &d1, None)).await;
    assert_eq!(
        default_tables.files,
        changes(4, 0, 0, 4),
        "{default_tables}"
    );
    let again = mine().run().await.expect("the index runs again");
    assert_eq!(again.files, changes(0, 0, 0, 2), "{again}");
    assert_eq!(again.sources.unchanged, 2, "{again}");
    assert_eq!(
        sqlite_names(&d1, "table"),
        [
            "calls",
            "files",
            "imports",
            "my_calls",
            "my_files",
            "my_imports",
            "my_symbols",
            "symbols"
        ]
    );

    // Bad table names stop the run before anything is opened.
    for (bad, expected) in [
        ("sqlite_files", "reserved by SQLite"),
        ("my_symbols", "given to two of the index's tables"),
    ] {
        let error = CodeIndex::new(&root)
            .destination(Connection::local(tmp.path().join("dbs").join("bad.d1")))
            .table_names(TableNames {
                files: bad.into(),
                ..names.clone()
            })
            .run()
            .await
            .expect_err("a bad table name");
        assert!(
            matches!(error, code::IndexError::Config(_)) && error.to_string().contains(expected),
            "{error}"
        );
    }
    assert!(!tmp.path().join("dbs").join("bad.d1").exists());

    // A glob that is not one stops the run before anything is read or written.
    let error = CodeIndex::new(&root)
        .include(["src/["])
        .destination(Connection::local(tmp.path().join("dbs").join("bad.d1")))
        .run()
        .await
        .expect_err("an invalid glob");
    assert!(
        format!("{error:#}").contains("invalid glob `src/[`"),
        "{error:#}"
    );
    assert!(!tmp.path().join("dbs").join("bad.d1").exists());
}

/// A row of the user's own table, filled by the registered `ExtractSymbols` function.
#[derive(Debug, Clone, PartialEq, Eq, thread_flow::D1Target)]
#[d1(table = "definitions", primary_key(file, start_line, name))]
struct Definition {
    file: String,
    start_line: i64,
    name: String,
    kind: String,
}

/// A row of the user's own table, filled by the registered `ExtractImports` function.
#[derive(Debug, Clone, PartialEq, Eq, thread_flow::D1Target)]
#[d1(table = "imported", primary_key(file, line, module))]
struct Imported {
    file: String,
    line: i64,
    module: String,
    #[d1(json)]
    names: Vec<String>,
}

/// A row of the user's own table, filled by the registered `ExtractCalls` function.
#[derive(Debug, Clone, PartialEq, Eq, thread_flow::D1Target)]
#[d1(table = "called", primary_key(file, line, callee))]
struct Called {
    file: String,
    line: i64,
    callee: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_users_own_flow_uses_the_registered_functions() {
    use recoco_core::builder::FlowBuilder;

    let _one_at_a_time = RECOCO.lock().await;
    let (tmp, root) = fixture_repo();
    let pg = thread_flow::postgres::PrivatePostgres::temporary()
        .expect("start PostgreSQL (needs initdb, pg_ctl and postgres on PATH or in PG_BIN_DIR)");
    recoco_core::lib_context::init_lib_context(Some(recoco_core::settings::Settings {
        database: Some(pg.database_spec()),
        ..Default::default()
    }))
    .await
    .expect("ReCoco context");
    thread_flow::code::register().expect("register the code functions and D1");
    thread_flow::code::register().expect("registering twice is fine");

    // ReCoco's own LocalFile source, then ExtractSymbols, into the user's table.
    let d1 = tmp.path().join("user.d1");
    let mut builder = FlowBuilder::new("UserDefinitions").await.expect("builder");
    let sources = builder
        .add_source(
            "LocalFile".to_owned(),
            serde_json::from_value(serde_json::json!({
                "path": root.join("tools").to_string_lossy(),
                "binary": false,
                "included_patterns": ["**/*.py"],
            }))
            .expect("spec"),
            None,
            "files".to_owned(),
            None,
            None,
        )
        .await
        .expect("source");
    let collector = builder
        .root_scope()
        .add_collector("definitions".to_owned())
        .expect("collector");
    let file_scope = builder.for_each(sources, None).expect("for each file");
    let field = |b: &FlowBuilder, scope, name: &str| {
        b.scope_field(scope, name)
            .expect("field")
            .unwrap_or_else(|| panic!("no field {name}"))
    };
    let path = field(&builder, file_scope.clone(), "filename");
    let content = field(&builder, file_scope.clone(), "content");
    let symbols = builder
        .transform(
            code::EXTRACT_SYMBOLS.to_owned(),
            serde_json::Map::new(),
            vec![
                (path.clone(), Some("path".to_owned())),
                (content.clone(), Some("content".to_owned())),
            ],
            Some(file_scope.clone()),
            "symbols".to_owned(),
        )
        .await
        .expect("ExtractSymbols");
    let symbol_scope = builder.for_each(symbols, None).expect("for each symbol");
    builder
        .collect(
            &collector,
            vec![
                ("file".to_owned(), path.clone()),
                (
                    "start_line".to_owned(),
                    field(&builder, symbol_scope.clone(), "start_line"),
                ),
                (
                    "name".to_owned(),
                    field(&builder, symbol_scope.clone(), "name"),
                ),
                ("kind".to_owned(), field(&builder, symbol_scope, "kind")),
            ],
            None,
        )
        .await
        .expect("collect");
    thread_flow::recoco::export_collector::<Definition>(
        &mut builder,
        "definitions",
        &collector,
        Connection::local(&d1),
    )
    .expect("export");

    // ExtractImports and ExtractCalls, each into a table of the user's.
    let root_scope = builder.root_scope();
    for (function, table) in [
        (code::EXTRACT_IMPORTS, "imported"),
        (code::EXTRACT_CALLS, "called"),
    ] {
        let rows = builder
            .transform(
                function.to_owned(),
                serde_json::Map::new(),
                vec![
                    (path.clone(), Some("path".to_owned())),
                    (content.clone(), Some("content".to_owned())),
                ],
                Some(file_scope.clone()),
                table.to_owned(),
            )
            .await
            .expect(function);
        let scope = builder.for_each(rows, None).expect("for each row");
        let columns: &[&str] = if table == "imported" {
            &["line", "module", "names"]
        } else {
            &["line", "callee"]
        };
        let mut fields = vec![("file".to_owned(), path.clone())];
        for column in columns {
            fields.push(((*column).to_owned(), field(&builder, scope.clone(), column)));
        }
        let collector = root_scope
            .clone()
            .add_collector(table.to_owned())
            .expect("collector");
        builder
            .collect(&collector, fields, None)
            .await
            .expect("collect");
        let connection = Connection::local(&d1);
        if table == "imported" {
            thread_flow::recoco::export_collector::<Imported>(
                &mut builder,
                table,
                &collector,
                connection,
            )
        } else {
            thread_flow::recoco::export_collector::<Called>(
                &mut builder,
                table,
                &collector,
                connection,
            )
        }
        .expect("export");
    }
    let user_flow = builder.build_flow().await.expect("build");
    testing::setup(&user_flow).await.expect("setup");
    testing::update(&user_flow, Duration::from_secs(60), |_| {})
        .await
        .expect("update");
    recoco_core::lib_context::get_lib_context()
        .await
        .expect("context")
        .remove_flow_context("UserDefinitions");

    let db = D1Database::local(&d1).expect("open");
    let stored = db.table::<Definition>().all().await.expect("read");
    let definition = |line: i64, name: &str, kind: &str| Definition {
        file: "stats.py".to_owned(),
        start_line: line,
        name: name.to_owned(),
        kind: kind.to_owned(),
    };
    assert_eq!(
        stored,
        [
            definition(4, "Summary", "class"),
            definition(5, "__init__", "method"),
            definition(8, "mean", "method"),
            definition(12, "summarize", "function"),
        ]
    );
    assert_eq!(
        db.table::<Imported>().all().await.expect("read"),
        [Imported {
            file: "stats.py".to_owned(),
            line: 1,
            module: "statistics".to_owned(),
            names: Vec::new(),
        }]
    );
    let called = |line: i64, callee: &str| Called {
        file: "stats.py".to_owned(),
        line,
        callee: callee.to_owned(),
    };
    assert_eq!(
        db.table::<Called>().all().await.expect("read"),
        [called(9, "mean"), called(13, "Summary"), called(13, "mean")]
    );
    drop(pg);
}

// ---------------------------------------------------------------------------------------
// Imports and calls of a small multi-language tree

const MAIN_RS: &str = "use std::collections::HashMap;
use crate::util::{parse, render as show};

fn main() {
    let mut seen = HashMap::new();
    let value = parse(\"1\");
    seen.insert(value, show(value));
}
";

const SERVICE_PY: &str = "import os.path
from app.util import load, save as store


def run(path):
    data = load(os.path.join(path, \"in\"))
    store(data)
";

/// `SERVICE_PY` after an edit: one import and one call fewer.
const SERVICE_PY_EDITED: &str = "from app.util import load, save as store


def run(path):
    data = load(path)
    store(data)
";

const CART_TS: &str = "import { formatPrice } from \"./format\";
import * as money from \"./money\";

export function label(cents: number): string {
  return formatPrice(money.round(cents));
}
";

const FORMAT_JS: &str = "const money = require(\"./money\");

function formatPrice(cents) {
  return money.symbol() + cents.toFixed(2);
}

module.exports = { formatPrice };
";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imports_and_calls_of_a_multi_language_tree() {
    let _one_at_a_time = RECOCO.lock().await;
    let (tmp, _) = fixture_repo();
    let root = tmp.path().join("shop");
    write(&root, "src/main.rs", MAIN_RS);
    write(&root, "app/service.py", SERVICE_PY);
    write(&root, "web/cart.ts", CART_TS);
    write(&root, "web/format.js", FORMAT_JS);

    let first = index(&root).await;
    assert_eq!(first.imports, changes(7, 0, 0, 7), "{first}");
    assert_eq!(first.calls, changes(11, 0, 0, 11), "{first}");
    let db = index_db(&root);
    let stored_imports = || async { db.table::<ImportRow>().all().await.expect("imports") };
    let stored_calls = || async { db.table::<CallRow>().all().await.expect("calls") };
    let imports = [
        import("app/service.py", 1, "os.path", &[]),
        import("app/service.py", 2, "app.util", &["load", "save"]),
        import("src/main.rs", 1, "std::collections", &["HashMap"]),
        import("src/main.rs", 2, "crate::util", &["parse", "render"]),
        import("web/cart.ts", 1, "./format", &["formatPrice"]),
        import("web/cart.ts", 2, "./money", &[]),
        import("web/format.js", 1, "./money", &[]),
    ];
    assert_eq!(stored_imports().await, imports);
    let calls = [
        call("app/service.py", 6, "join", Some("run")),
        call("app/service.py", 6, "load", Some("run")),
        call("app/service.py", 7, "store", Some("run")),
        call("src/main.rs", 5, "new", Some("main")),
        call("src/main.rs", 6, "parse", Some("main")),
        call("src/main.rs", 7, "insert", Some("main")),
        call("src/main.rs", 7, "show", Some("main")),
        call("web/cart.ts", 5, "formatPrice", Some("label")),
        call("web/cart.ts", 5, "round", Some("label")),
        call("web/format.js", 4, "symbol", Some("formatPrice")),
        call("web/format.js", 4, "toFixed", Some("formatPrice")),
    ];
    assert_eq!(stored_calls().await, calls);

    // The questions over it, as code-index asks them.
    assert_eq!(
        query::callers(&db, "formatPrice")
            .await
            .expect("callers")
            .to_string(),
        "1 call of `formatPrice`:\n  web/cart.ts:5  in label"
    );
    assert_eq!(
        query::callees(&db, "main")
            .await
            .expect("callees")
            .to_string(),
        "`main` makes 4 calls:\n  src/main.rs:5  new\n  src/main.rs:6  parse\n  \
         src/main.rs:7  insert\n  src/main.rs:7  show"
    );
    assert_eq!(
        query::imports(&db, "web/cart.ts")
            .await
            .expect("imports")
            .to_string(),
        "web/cart.ts: 2 imports\n  1  ./format  {formatPrice}\n  2  ./money"
    );
    let importers = query::importers(&db, "./money").await.expect("importers");
    assert_eq!(
        importers.to_string(),
        "2 imports of `./money`:\n  web/cart.ts:2\n  web/format.js:1"
    );
    let json: serde_json::Value = serde_json::from_str(&importers.to_json()).expect("JSON");
    let files: Vec<&str> = json["imports"]
        .as_array()
        .expect("imports")
        .iter()
        .filter_map(|i| i["file"].as_str())
        .collect();
    assert_eq!(files, ["web/cart.ts", "web/format.js"]);

    // An edit: only that file's imports and calls change.
    write(&root, "app/service.py", SERVICE_PY_EDITED);
    touch_later(&root.join("app/service.py"));
    let second = index(&root).await;
    assert_eq!(
        (second.sources.updated, second.sources.unchanged),
        (1, 3),
        "{second}"
    );
    // `from app.util ...` moved to line 1, `os.path` is gone; `join` is gone and the other
    // calls moved one line up.
    assert_eq!(second.imports, changes(1, 0, 2, 6), "{second}");
    assert_eq!(second.calls, changes(2, 0, 3, 10), "{second}");
    let mut edited_imports = imports[2..].to_vec();
    edited_imports.insert(
        0,
        import("app/service.py", 1, "app.util", &["load", "save"]),
    );
    assert_eq!(stored_imports().await, edited_imports);
    let mut edited_calls = calls[3..].to_vec();
    edited_calls.insert(0, call("app/service.py", 5, "load", Some("run")));
    edited_calls.insert(1, call("app/service.py", 6, "store", Some("run")));
    assert_eq!(stored_calls().await, edited_calls);

    // A function added at the end: the rows of the file that did not change are not written
    // again, so nothing counts as updated (the counts come from the tables' row counts and the
    // rows written) ...
    let appended = format!("{SERVICE_PY_EDITED}\n\ndef audit(path):\n    return load(path)\n");
    write(&root, "app/service.py", &appended);
    touch_later(&root.join("app/service.py"));
    let third = index(&root).await;
    assert_eq!(third.symbols, changes(1, 0, 0, 6), "{third}");
    assert_eq!(third.calls, changes(1, 0, 0, 11), "{third}");
    assert_eq!(third.imports, changes(0, 0, 0, 6), "{third}");
    assert!(
        stored_calls()
            .await
            .contains(&call("app/service.py", 10, "load", Some("audit"))),
        "{third}"
    );

    // ... and comparing every row says the same.
    let changed = appended.replace("return load(path)", "return store(load(path))");
    write(&root, "app/service.py", &changed);
    touch_later(&root.join("app/service.py"));
    let fourth = run(CodeIndex::new(&root).exact_changes(true)).await;
    assert_eq!(fourth.symbols, changes(0, 0, 0, 6), "{fourth}");
    assert_eq!(fourth.calls, changes(1, 0, 0, 12), "{fourth}");
    let fifth = run(CodeIndex::new(&root).exact_changes(true)).await;
    assert_eq!(fifth.calls, changes(0, 0, 0, 12), "{fifth}");
}
