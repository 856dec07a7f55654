//! End to end: `code-index` (the example in `examples/code-index/`) over a fixture tree of
//! Rust, Python, TypeScript and JavaScript files, run in-process with its default places: the
//! embedded local D1 file under `DIR/.thread-flow/` and a private PostgreSQL cluster next to it
//! (started from the PostgreSQL binaries on the machine; the test fails, never skips, when
//! they are missing).
//!
//! Checks the exact rows in D1, the summary, `--query` and `--file`; then edits one file,
//! deletes another and checks that only the affected rows changed; then a run with no change.
//! A second test gives the program Cloudflare credentials pointing at the suite's fake D1 HTTP
//! server and checks the index lands there (and no local file is written).
//!
//! The unit tests of the example's modules (`extract`, `rows`) run here too.

#![allow(dead_code, missing_docs)]

#[path = "../examples/code-index/app.rs"]
mod app;
#[path = "../examples/code-index/extract.rs"]
mod extract;
#[path = "../examples/code-index/flow.rs"]
mod flow;
#[path = "../examples/code-index/rows.rs"]
mod rows;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use app::{Args, Mode, Outcome, Summary, TableChanges};
use extract::{Language, SymbolKind};
use rows::{FileRow, SymbolRow};
use thread_flow::D1Database;
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

fn args(dir: &Path, mode: Mode) -> Args {
    Args {
        dir: dir.to_path_buf(),
        db: None,
        database_url: None,
        mode,
        quiet: true,
        local: true,
    }
}

async fn index(dir: &Path) -> Summary {
    index_with(&args(dir, Mode::Index), &|_: &str| None).await
}

async fn index_with(args: &Args, env: &app::Env<'_>) -> Summary {
    match app::run_with_env(args, env).await {
        Ok(Outcome::Indexed(summary)) => summary,
        Ok(other) => panic!("expected an indexing summary, got {other}"),
        Err(e) => panic!(
            "code-index failed: {e:#}\n\nThis test needs the PostgreSQL server binaries (initdb, \
             pg_ctl, postgres; set PG_BIN_DIR if they are not on PATH) to start a private cluster \
             for ReCoco's state."
        ),
    }
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
    assert_eq!(
        (first.sources.added, first.sources.errors),
        (4, 0),
        "{first}"
    );
    assert!(first.requests > 0, "{first}");

    // --query answers from D1 through the name index.
    match app::run(&args(&root, Mode::Query("Config".into())))
        .await
        .expect("query")
    {
        Outcome::Query { found, .. } => {
            let found: Vec<String> = found.iter().map(ToString::to_string).collect();
            assert_eq!(
                found,
                [
                    "src/lib.rs:3  struct  pub struct Config",
                    "src/lib.rs:7  impl  impl Config",
                ]
            );
        }
        other => panic!("expected a query answer, got {other}"),
    }
    match app::run(&args(&root, Mode::Query("summ".into())))
        .await
        .expect("query")
    {
        Outcome::Query { found, similar, .. } => {
            assert!(found.is_empty());
            assert_eq!(similar, ["Summary", "summarize"]);
        }
        other => panic!("expected a query answer, got {other}"),
    }
    match app::run(&args(&root, Mode::File("tools/stats.py".into())))
        .await
        .expect("file")
    {
        Outcome::File { symbols, .. } => {
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

    // Nothing changed: nothing written.
    let third = index(&root).await;
    assert_eq!(third.files, changes(0, 0, 0, 3), "{third}");
    assert_eq!(third.symbols, changes(0, 0, 0, 12), "{third}");
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
    let cloud_args = |mode| Args {
        local: false,
        ..args(&root, mode)
    };

    let summary = index_with(&cloud_args(Mode::Index), &env).await;
    assert!(
        matches!(summary.destination, app::Destination::Cloudflare { .. }),
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
    // Far fewer requests than rows: writes are batched.
    assert!(summary.requests < 17, "{summary}");

    match app::run_with_env(&cloud_args(Mode::Query("summarize".into())), &env).await {
        Ok(Outcome::Query { found, .. }) => {
            let found: Vec<String> = found.iter().map(ToString::to_string).collect();
            assert_eq!(
                found,
                ["tools/stats.py:12  function  def summarize(values)"]
            );
        }
        other => panic!("expected a query answer, got {other:?}"),
    }
}

#[test]
fn arguments() {
    let parse = |v: &[&str]| Args::parse(v.iter().map(|s| s.to_string()));
    let a = parse(&["repo", "--query", "Cart", "--db", "x.d1"]).expect("valid");
    assert_eq!(a.mode, Mode::Query("Cart".into()));
    assert_eq!(a.db.as_deref(), Some(Path::new("x.d1")));
    assert!(parse(&[]).unwrap_err().contains("missing <DIR>"));
    assert!(
        parse(&["repo", "--query"])
            .unwrap_err()
            .contains("--query needs a value")
    );
    assert!(
        parse(&["repo", "--bogus"])
            .unwrap_err()
            .contains("unknown option --bogus")
    );
    assert_eq!(parse(&["--help"]).unwrap_err(), app::USAGE);
}
