//! Issue 13: wrangler-compatible migration files from the row structs.
//!
//! - Generation: numbering after existing files (wrangler's rule), wrangler's header, nothing
//!   to do -> no file, data loss refused unless allowed, D1-safe SQL.
//! - Apply: each file with its tracking row in one request (a failing file leaves neither its
//!   changes nor its row), on the embedded D1 and on the real D1 engine (Miniflare); a file
//!   whose answer was lost is applied once (fake D1 server); a foreign tracking table is refused; `migrations_dir` / `migrations_table` from wrangler.toml.
//! - Drift check: `assert_up_to_date` fails with the missing SQL, writes it with
//!   `THREAD_FLOW_MIGRATIONS=write`; `check_migrations` against a live database.
//! - Interop with the real `wrangler` (npm, `tests/d1-server`), offline, `--local`: files we
//!   generate are applied by wrangler and give the structs' schema; files wrangler created and
//!   applied are not applied again by us, and wrangler sees our applied files as applied.
//!
//! The Miniflare and wrangler tests need the npm packages (`npm ci` in tests/d1-server);
//! without them they fail with that instruction, they never skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use thread_flow::migrations::{self, Migrations};
use thread_flow::sql::plan_migration;
use thread_flow::{D1Database, D1Target, Error, TableSchema, Value};
use thread_flow::{MigrationOptions, Statement};
use thread_flow_suite::fake_d1::{FakeD1, Fault, FaultPlan};
use thread_flow_suite::miniflare::{LocalD1Server, server_dir};

/// The first version of the app's tables.
mod v1 {
    use thread_flow::D1Target;

    #[derive(D1Target)]
    #[d1(table = "files", index(lang))]
    pub struct FileRow {
        #[d1(primary_key)]
        pub path: String,
        pub lang: String,
        pub size: i64,
    }

    #[derive(D1Target)]
    #[d1(table = "symbols", primary_key(file, name))]
    pub struct SymbolRow {
        pub file: String,
        pub name: String,
        pub line: i64,
    }
}

/// The next version: `files` gains a nullable column, `symbols` changes its key (a rebuild).
mod v2 {
    use thread_flow::D1Target;

    #[derive(D1Target)]
    #[d1(table = "files", index(lang))]
    pub struct FileRow {
        #[d1(primary_key)]
        pub path: String,
        pub lang: String,
        pub size: i64,
        pub hash: Option<String>,
    }

    #[derive(D1Target)]
    #[d1(table = "symbols", primary_key(file, name, line))]
    pub struct SymbolRow {
        pub file: String,
        pub name: String,
        pub line: i64,
    }
}

/// `files` without its `size` column: a data-losing change.
mod v3 {
    use thread_flow::D1Target;

    #[derive(D1Target)]
    #[d1(table = "files", index(lang))]
    pub struct FileRow {
        #[d1(primary_key)]
        pub path: String,
        pub lang: String,
        pub hash: Option<String>,
    }
}

fn v1_tables() -> [&'static TableSchema; 2] {
    [v1::FileRow::schema(), v1::SymbolRow::schema()]
}

fn v2_tables() -> [&'static TableSchema; 2] {
    [v2::FileRow::schema(), v2::SymbolRow::schema()]
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

async fn rows(db: &D1Database, sql: &str) -> Vec<Vec<Value>> {
    db.request(vec![Statement::raw(sql)])
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .results
        .remove(0)
        .rows
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The live table equals the struct's schema: the planner has nothing to do.
async fn assert_schema_is(db: &D1Database, schema: &TableSchema) {
    let live = db.live_schema(&schema.name).await.unwrap();
    let plan = plan_migration(live.as_ref(), schema, &MigrationOptions::default()).unwrap();
    assert!(
        plan.is_empty(),
        "live `{}` differs from the struct: {plan}",
        schema.name
    );
}

#[tokio::test]
async fn generated_files_are_numbered_headed_and_only_written_when_needed() {
    let project = tempfile::tempdir().unwrap();
    let folder = project.path().join("migrations");
    let m = Migrations::in_folder(&folder);
    let opts = MigrationOptions::default();

    // First file: the folder is created, the number is 0001.
    let first = migrations::generate(&m, "create index tables", &v1_tables(), &opts)
        .await
        .unwrap()
        .expect("new tables need a migration");
    assert_eq!(first.name, "0001_create_index_tables.sql");
    assert_eq!(first.path, folder.join(&first.name));
    let on_disk = std::fs::read_to_string(&first.path).unwrap();
    assert_eq!(on_disk, first.text);
    let header = on_disk.lines().next().unwrap();
    let (prefix, date) = header.split_once(" \t ").unwrap();
    assert_eq!(prefix, "-- Migration number: 0001");
    // JavaScript's toISOString(): 2026-12-01T09:42:44.723Z
    assert_eq!(date.len(), 24, "{date}");
    assert!(date.ends_with('Z') && date.as_bytes()[10] == b'T' && date.as_bytes()[19] == b'.');
    assert_eq!(
        migrations::split_statements(&on_disk),
        vec![
            "CREATE TABLE IF NOT EXISTS \"files\" (\"path\" TEXT NOT NULL, \"lang\" TEXT NOT NULL, \"size\" INTEGER NOT NULL, PRIMARY KEY (\"path\")) STRICT".to_string(),
            "CREATE INDEX IF NOT EXISTS \"files_lang_idx\" ON \"files\" (\"lang\")".to_string(),
            "CREATE TABLE IF NOT EXISTS \"symbols\" (\"file\" TEXT NOT NULL, \"name\" TEXT NOT NULL, \"line\" INTEGER NOT NULL, PRIMARY KEY (\"file\", \"name\")) STRICT".to_string(),
        ]
    );

    // Nothing to do: no file.
    assert_eq!(
        migrations::generate(&m, "again", &v1_tables(), &opts)
            .await
            .unwrap(),
        None
    );
    assert_eq!(names(&folder), vec![first.name.clone()]);

    // A hand-written file numbered 0007 and an unnumbered one: the next is 0008.
    std::fs::write(
        folder.join("0007_seed.sql"),
        "INSERT INTO files (path, lang, size) VALUES ('a;b.rs', 'rust', 1);",
    )
    .unwrap();
    std::fs::write(folder.join("notes.sql"), "-- only a comment\n").unwrap();
    let second = migrations::generate(&m, "hash and symbol lines", &v2_tables(), &opts)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.name, "0008_hash_and_symbol_lines.sql");
    assert!(second.text.starts_with("-- Migration number: 0008 \t "));
    let tables: Vec<&str> = second
        .migration
        .tables
        .iter()
        .map(|t| t.table.as_str())
        .collect();
    assert_eq!(tables, ["files", "symbols"]);
    // D1-safe: deferred keys once at the top for the rebuild, no transaction control, no
    // foreign_key_check.
    let statements = migrations::split_statements(&second.text);
    assert_eq!(statements[0], "PRAGMA defer_foreign_keys = on");
    assert_eq!(
        statements
            .iter()
            .filter(|s| s.as_str() == "PRAGMA defer_foreign_keys = on")
            .count(),
        1
    );
    for s in &statements {
        let upper = s.to_ascii_uppercase();
        for word in [
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "SAVEPOINT",
            "FOREIGN_KEY_CHECK",
        ] {
            assert!(!upper.contains(word), "{s}");
        }
    }
    assert!(statements.contains(&"ALTER TABLE \"files\" ADD COLUMN \"hash\" TEXT".to_string()));
    // The folder now matches v2, and the seed row survived the replay of the rebuild.
    migrations::assert_up_to_date(&folder, &v2_tables());
    let db = D1Database::in_memory().unwrap();
    db.apply_migrations(&folder).await.unwrap();
    assert_eq!(
        rows(&db, "SELECT path, hash FROM files").await,
        vec![vec![text("a;b.rs"), Value::Null]]
    );
    for schema in v2_tables() {
        assert_schema_is(&db, schema).await;
    }
}

#[tokio::test]
async fn data_loss_is_refused_unless_allowed() {
    let project = tempfile::tempdir().unwrap();
    let m = Migrations::in_folder(project.path().join("migrations"));
    let opts = MigrationOptions::default();
    migrations::generate(&m, "init", &[v2::FileRow::schema()], &opts)
        .await
        .unwrap()
        .unwrap();
    let refused = migrations::generate(&m, "drop size", &[v3::FileRow::schema()], &opts).await;
    assert!(
        matches!(&refused, Err(Error::MigrationRefused { table, reason }) if table == "files" && reason.contains("`size`") && reason.contains("migrations::generate")),
        "{refused:?}"
    );
    assert_eq!(names(m.folder()), vec!["0001_init.sql".to_string()]);
    let allowed = MigrationOptions::default().with_allow_data_loss(true);
    let written = migrations::generate(&m, "drop size", &[v3::FileRow::schema()], &allowed)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(written.name, "0002_drop_size.sql");
    assert!(
        written.text.contains("rebuild table `files`"),
        "{}",
        written.text
    );
    let db = D1Database::in_memory().unwrap();
    db.apply_migrations(m.folder()).await.unwrap();
    assert_schema_is(&db, v3::FileRow::schema()).await;
}

/// A folder whose second file fails halfway: its first statement must not stay applied.
fn failing_folder() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    let folder = project.path().join("migrations");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("0001_notes.sql"),
        "-- Migration number: 0001 \t 2026-01-01T00:00:00.000Z\n\
         CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n\
         CREATE TABLE note_log (note INTEGER, body TEXT);\n\
         /* the trigger body holds semicolons */\n\
         CREATE TRIGGER notes_log AFTER INSERT ON notes BEGIN\n  \
           INSERT INTO note_log (note, body) VALUES (new.id, CASE WHEN new.body = '' THEN 'empty;' ELSE new.body END);\n\
         END;\n\
         INSERT INTO notes (id, body) VALUES (1, 'it''s; here'); -- a comment; too\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("0002_broken.sql"),
        "CREATE TABLE tags (name TEXT PRIMARY KEY);\n\
         INSERT INTO notes (id, body) VALUES (2, NULL);\n",
    )
    .unwrap();
    project
}

async fn assert_atomic_apply(db: &D1Database, folder: &Path) {
    let err = db.apply_migrations(folder).await.unwrap_err();
    match &err {
        Error::MigrationFile {
            file,
            message,
            error,
        } => {
            assert_eq!(file, "0002_broken.sql");
            assert!(message.contains("nothing of it was applied"), "{message}");
            assert!(message.contains("NOT NULL constraint failed"), "{message}");
            assert!(
                matches!(error.as_deref(), Some(Error::Api { .. })),
                "{error:?}"
            );
        }
        other => panic!("expected MigrationFile, got {other:?}"),
    }
    // The first file is applied (its trigger fired), the second left nothing behind.
    assert_eq!(
        rows(db, "SELECT name FROM d1_migrations ORDER BY id").await,
        vec![vec![text("0001_notes.sql")]]
    );
    assert_eq!(
        rows(db, "SELECT note, body FROM note_log").await,
        vec![vec![Value::Integer(1), text("it's; here")]]
    );
    assert!(
        rows(db, "SELECT name FROM sqlite_schema WHERE name = 'tags'")
            .await
            .is_empty()
    );
    // Fixed, it applies, once.
    std::fs::write(
        folder.join("0002_broken.sql"),
        "CREATE TABLE tags (name TEXT PRIMARY KEY);\n",
    )
    .unwrap();
    let report = db.apply_migrations(folder).await.unwrap();
    assert_eq!(report.applied_names(), ["0002_broken.sql"]);
    assert_eq!(report.already_applied, ["0001_notes.sql"]);
    assert!(
        db.apply_migrations(folder)
            .await
            .unwrap()
            .applied
            .is_empty()
    );
}

#[tokio::test]
async fn a_failing_file_leaves_neither_its_changes_nor_its_row_locally() {
    let project = failing_folder();
    let db = D1Database::in_memory().unwrap();
    assert_atomic_apply(&db, &project.path().join("migrations")).await;
}

#[tokio::test]
async fn a_failing_file_leaves_neither_its_changes_nor_its_row_on_miniflare() {
    let server = LocalD1Server::start().unwrap_or_else(|e| panic!("{e}"));
    let project = failing_folder();
    let db = server.database().unwrap();
    assert_atomic_apply(&db, &project.path().join("migrations")).await;
    // Generated files apply over HTTP too, and the live check agrees.
    let m = Migrations::in_folder(project.path().join("migrations"));
    migrations::generate(
        &m,
        "index tables",
        &v2_tables(),
        &MigrationOptions::default(),
    )
    .await
    .unwrap()
    .unwrap();
    let report = db.apply_migrations_from(&m).await.unwrap();
    assert_eq!(report.applied_names(), ["0003_index_tables.sql"]);
    for schema in v2_tables() {
        assert_schema_is(&db, schema).await;
    }
    db.check_migrations(&m, &v2_tables())
        .await
        .unwrap()
        .ensure()
        .unwrap();
}

#[tokio::test]
async fn a_recorded_file_missing_from_the_folder_is_reported_not_acted_on() {
    let project = tempfile::tempdir().unwrap();
    let m = Migrations::in_folder(project.path().join("migrations"));
    // An empty message names the file after its tables.
    let first = migrations::generate(&m, "", &v1_tables(), &MigrationOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.name, "0001_create_files_symbols.sql");
    let db = D1Database::in_memory().unwrap();
    db.apply_migrations(m.folder()).await.unwrap();
    std::fs::remove_file(&first.path).unwrap();
    std::fs::write(
        m.folder().join("0002_more.sql"),
        "CREATE TABLE more (id INTEGER PRIMARY KEY);",
    )
    .unwrap();
    let report = db.apply_migrations(m.folder()).await.unwrap();
    assert_eq!(report.applied_names(), ["0002_more.sql"]);
    assert_eq!(report.unknown, ["0001_create_files_symbols.sql"]);
    assert!(report.already_applied.is_empty());
    // The tables that file made are still there, untouched.
    assert_schema_is(&db, v1::FileRow::schema()).await;
    let check = db.check_migrations(&m, &[]).await.unwrap();
    assert_eq!(check.unknown, ["0001_create_files_symbols.sql"]);
    assert!(
        check
            .to_string()
            .contains("missing from the folder: 0001_create_files_symbols.sql"),
        "{check}"
    );
}

#[tokio::test]
async fn a_file_whose_answer_was_lost_is_applied_once() {
    let project = tempfile::tempdir().unwrap();
    let folder = project.path().join("migrations");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("0001_log.sql"),
        "CREATE TABLE log (n INTEGER NOT NULL);\nINSERT INTO log (n) VALUES (1);\n",
    )
    .unwrap();
    let fake = FakeD1::start();
    let db = fake.database();
    // Every request runs and commits, then its answer is lost once; the retry is answered.
    // The file's retry finds its tracking row (the first attempt committed) and fails as a
    // whole, and the file is reported applied: applied once, not twice, no error.
    fake.set_faults(FaultPlan::script(
        (0..40).map(|i| (i % 2 == 0).then_some(Fault::ResetAfterCommit)),
    ));
    let report = db.apply_migrations(&folder).await.unwrap();
    assert_eq!(report.applied_names(), ["0001_log.sql"]);
    assert_eq!(
        fake.query("SELECT n FROM log"),
        vec![vec![Value::Integer(1)]]
    );
    assert_eq!(
        fake.query("SELECT name FROM d1_migrations"),
        vec![vec![text("0001_log.sql")]]
    );
    // The file's second attempt was refused (its tracking row was there): the only SQL error.
    let stats = fake.stats();
    assert_eq!(stats.sql_errors, 1, "{stats:?}");
    assert!(stats.faults.values().sum::<u64>() >= 5, "{stats:?}");
}

#[tokio::test]
async fn a_foreign_tracking_table_is_refused_and_the_configured_one_is_used() {
    let project = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("wrangler.toml"),
        "name = \"app\"\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"app\"\nmigrations_dir = \"db/sql\"\nmigrations_table = \"schema_log\"\n",
    )
    .unwrap();
    let m = Migrations::open(project.path()).unwrap();
    migrations::generate(&m, "init", &v1_tables(), &MigrationOptions::default())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(names(&project.path().join("db/sql")), ["0001_init.sql"]);

    // Someone else's `schema_log`: refused before anything is written.
    let db = D1Database::in_memory().unwrap();
    db.execute(
        "CREATE TABLE schema_log (id INTEGER PRIMARY KEY, version TEXT)",
        vec![],
    )
    .await
    .unwrap();
    let err = db.apply_migrations(project.path()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("`schema_log`") && m.contains("`version`")),
        "{err}"
    );
    assert!(db.live_schema("files").await.unwrap().is_none());

    // A fresh database: the configured folder and table are used, from the project folder,
    // the configuration file or the folder itself.
    for target in [
        project.path().to_path_buf(),
        project.path().join("wrangler.toml"),
        project.path().join("db/sql"),
    ] {
        let db = D1Database::in_memory().unwrap();
        let report = db.apply_migrations(&target).await.unwrap();
        assert_eq!(report.table, "schema_log");
        assert!(report.created_table);
        assert_eq!(report.applied_names(), ["0001_init.sql"]);
        assert_eq!(
            db.recorded_migrations("schema_log").await.unwrap(),
            Some(vec!["0001_init.sql".to_string()])
        );
        assert_eq!(db.recorded_migrations("d1_migrations").await.unwrap(), None);
    }
}

#[tokio::test]
async fn the_live_check_says_how_structs_files_and_database_differ() {
    let project = tempfile::tempdir().unwrap();
    let m = Migrations::in_folder(project.path().join("migrations"));
    migrations::generate(&m, "init", &v1_tables(), &MigrationOptions::default())
        .await
        .unwrap()
        .unwrap();
    let db = D1Database::in_memory().unwrap();

    // Nothing applied yet.
    let check = db.check_migrations(&m, &v1_tables()).await.unwrap();
    assert_eq!(check.pending, ["0001_init.sql"]);
    assert!(!check.is_consistent());
    let missing: Vec<&str> = check
        .live_differs
        .iter()
        .map(|t| t.table.as_str())
        .collect();
    assert_eq!(missing, ["files", "symbols"]);

    db.apply_migrations(m.folder()).await.unwrap();
    db.check_migrations(&m, &v1_tables())
        .await
        .unwrap()
        .ensure()
        .unwrap();

    // The structs moved ahead, and someone changed the live table by hand.
    db.execute("ALTER TABLE files ADD COLUMN extra TEXT", vec![])
        .await
        .unwrap();
    let check = db.check_migrations(&m, &v2_tables()).await.unwrap();
    assert!(check.pending.is_empty());
    let ahead = check.structs_ahead.as_ref().unwrap();
    assert_eq!(ahead.number, 2);
    assert_eq!(ahead.tables.len(), 2);
    assert_eq!(check.live_differs.len(), 1);
    assert_eq!(check.live_differs[0].table, "files");
    assert!(
        check.live_differs[0].differences == ["column `extra` exists only live"],
        "{check}"
    );
    let err = check.ensure().unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::SchemaDrift { .. }));
    assert!(
        message.contains("ALTER TABLE \"files\" ADD COLUMN \"hash\" TEXT;"),
        "{message}"
    );
    assert!(message.contains("live table `files` differs"), "{message}");
}

#[test]
fn the_drift_check_fails_with_the_missing_sql() {
    let project = tempfile::tempdir().unwrap();
    let folder = project.path().join("migrations");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(migrations::generate(
        &Migrations::in_folder(&folder),
        "init",
        &v1_tables(),
        &MigrationOptions::default(),
    ))
    .unwrap()
    .unwrap();
    migrations::assert_up_to_date(&folder, &v1_tables());
    // Unless the parent of this process asked to write (it never does for this test).
    assert!(std::env::var(migrations::WRITE_VAR).is_err());
    let panic = std::panic::catch_unwind(|| migrations::assert_up_to_date(&folder, &v2_tables()))
        .expect_err("the structs moved ahead");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("the next migration (0002) must be"),
        "{message}"
    );
    assert!(
        message.contains("ALTER TABLE \"files\" ADD COLUMN \"hash\" TEXT;"),
        "{message}"
    );
    assert!(
        message.contains("THREAD_FLOW_MIGRATIONS=write"),
        "{message}"
    );
    // Failing wrote nothing.
    assert_eq!(names(&folder), ["0001_init.sql"]);
    // Data loss: the message says so.
    let panic = std::panic::catch_unwind(|| {
        migrations::assert_up_to_date(&folder, &[v3::FileRow::schema()])
    })
    .expect_err("dropping `size` is refused");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("migration of table `files` refused"),
        "{message}"
    );
}

/// The folder the child test of [`the_drift_check_writes_the_file_when_asked`] works in.
const CHILD_DIR: &str = "THREAD_FLOW_TEST_DRIFT_DIR";

#[test]
fn the_drift_check_writes_the_file_when_asked() {
    let project = tempfile::tempdir().unwrap();
    let folder = project.path().join("migrations");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(migrations::generate(
        &Migrations::in_folder(&folder),
        "init",
        &v1_tables(),
        &MigrationOptions::default(),
    ))
    .unwrap()
    .unwrap();
    // The environment is process-wide (and changing it is unsafe): run the check in a child
    // process of this test binary with THREAD_FLOW_MIGRATIONS=write.
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "drift_check_child_with_write_set",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(migrations::WRITE_VAR, "write")
        .env(migrations::MESSAGE_VAR, "add file hash")
        .env(CHILD_DIR, &folder)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(stderr.contains("0002_add_file_hash.sql"), "{stderr}");
    assert_eq!(names(&folder), ["0001_init.sql", "0002_add_file_hash.sql"]);
    // Now the check passes without writing.
    migrations::assert_up_to_date(&folder, &v2_tables());
}

#[test]
#[ignore = "run in a child process by the_drift_check_writes_the_file_when_asked, with THREAD_FLOW_MIGRATIONS=write"]
fn drift_check_child_with_write_set() {
    let folder = PathBuf::from(std::env::var(CHILD_DIR).expect(
        "run by the_drift_check_writes_the_file_when_asked, which sets THREAD_FLOW_TEST_DRIFT_DIR",
    ));
    assert_eq!(std::env::var(migrations::WRITE_VAR).as_deref(), Ok("write"));
    migrations::assert_up_to_date(&folder, &v2_tables());
    assert!(folder.join("0002_add_file_hash.sql").is_file());
}

// ---------------------------------------------------------------------------------------
// The real wrangler.

/// A project folder with a wrangler.toml for a local D1 database named `app` (binding `DB`).
struct WranglerProject {
    dir: tempfile::TempDir,
}

impl WranglerProject {
    fn new(extra: &str) -> WranglerProject {
        let bin = server_dir()
            .join("node_modules")
            .join(".bin")
            .join("wrangler");
        assert!(
            bin.is_file(),
            "wrangler is not installed in {}: run `npm ci` in tests/d1-server (Node.js 20+ needed) or `scripts/test.sh`",
            server_dir().display()
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("wrangler.toml"),
            format!(
                "name = \"migrations-interop\"\ncompatibility_date = \"2026-04-01\"\n\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"app\"\ndatabase_id = \"00000000-0000-4000-8000-000000000013\"\n{extra}"
            ),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        WranglerProject { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `wrangler <args>` offline in the project folder; its output, or a panic with it.
    fn wrangler(&self, args: &[&str]) -> String {
        let bin = server_dir()
            .join("node_modules")
            .join(".bin")
            .join("wrangler");
        let out = Command::new(&bin)
            .args(args)
            .current_dir(self.path())
            // Offline and non-interactive: no metrics, no login, no prompts, no user config,
            // and no fetch of the request `cf` data (Miniflare would resolve
            // workers.cloudflare.com for it, then fall back to built-in values).
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("CI", "1")
            .env("NO_COLOR", "1")
            .env("HOME", self.path().join("home"))
            .env("XDG_CONFIG_HOME", self.path().join("home"))
            .env_remove("CLOUDFLARE_API_TOKEN")
            .env_remove("CLOUDFLARE_ACCOUNT_ID")
            .env_remove("CLOUDFLARE_API_KEY")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e} (Node.js 20+ needed)", bin.display()));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "wrangler {args:?} failed ({}):\n{stdout}\n{stderr}",
            out.status
        );
        stdout
    }

    /// The SQLite file wrangler keeps the local database in (one per database id).
    fn local_database(&self) -> D1Database {
        let folder = self
            .path()
            .join(".wrangler/state/v3/d1/miniflare-D1DatabaseObject");
        let files: Vec<PathBuf> = std::fs::read_dir(&folder)
            .unwrap_or_else(|e| panic!("wrangler kept no local D1 in {}: {e}", folder.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "sqlite")
                    && p.file_name().is_some_and(|n| n != "metadata.sqlite")
            })
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        D1Database::local(&files[0]).unwrap()
    }
}

#[tokio::test]
async fn wrangler_applies_the_files_we_generate() {
    let project = WranglerProject::new("");
    let m = Migrations::open(project.path()).unwrap();
    let opts = MigrationOptions::default();
    migrations::generate(&m, "create index tables", &v1_tables(), &opts)
        .await
        .unwrap()
        .unwrap();
    let out = project.wrangler(&["d1", "migrations", "apply", "DB", "--local"]);
    assert!(out.contains("0001_create_index_tables.sql"), "{out}");
    {
        let db = project.local_database();
        for schema in v1_tables() {
            assert_schema_is(&db, schema).await;
        }
        db.execute(
            "INSERT INTO symbols (file, name, line) VALUES ('a.rs', 'main', 1)",
            vec![],
        )
        .await
        .unwrap();
    }
    // The next version: an added column and a rebuild (new key) of a table with a row.
    let second = migrations::generate(&m, "hash and symbol lines", &v2_tables(), &opts)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.name, "0002_hash_and_symbol_lines.sql");
    let out = project.wrangler(&["d1", "migrations", "apply", "DB", "--local"]);
    assert!(out.contains("0002_hash_and_symbol_lines.sql"), "{out}");
    let out = project.wrangler(&["d1", "migrations", "list", "DB", "--local"]);
    assert!(out.contains("No migrations to apply"), "{out}");

    let db = project.local_database();
    for schema in v2_tables() {
        assert_schema_is(&db, schema).await;
    }
    assert_eq!(
        rows(&db, "SELECT file, name, line FROM symbols").await,
        vec![vec![text("a.rs"), text("main"), Value::Integer(1)]]
    );
    // Our side sees wrangler's records: nothing pending, everything agrees.
    assert!(db.pending_migrations(&m).await.unwrap().is_empty());
    db.check_migrations(&m, &v2_tables())
        .await
        .unwrap()
        .ensure()
        .unwrap();
    assert!(
        db.apply_migrations(project.path())
            .await
            .unwrap()
            .applied
            .is_empty()
    );
}

#[tokio::test]
async fn files_wrangler_applied_are_not_applied_again_and_wrangler_sees_ours() {
    // A configured folder and tracking table, honoured by both tools.
    let project = WranglerProject::new(
        "migrations_dir = \"db/migrations\"\nmigrations_table = \"schema_log\"\n",
    );
    let folder = project.path().join("db/migrations");
    std::fs::create_dir_all(&folder).unwrap();
    project.wrangler(&["d1", "migrations", "create", "DB", "create notes"]);
    let created = folder.join("0001_create_notes.sql");
    let header = std::fs::read_to_string(&created).unwrap();
    assert!(
        header.starts_with("-- Migration number: 0001 \t "),
        "{header}"
    );
    std::fs::write(
        &created,
        format!(
            "{header}CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);\n\
             INSERT INTO notes (id, body) VALUES (1, 'from wrangler; once');\n"
        ),
    )
    .unwrap();
    project.wrangler(&["d1", "migrations", "apply", "DB", "--local"]);

    // Our next file: numbered after wrangler's, applied by us, wrangler's not again.
    let m = Migrations::open(project.path()).unwrap();
    assert_eq!((m.folder(), m.table()), (folder.as_path(), "schema_log"));
    let ours = migrations::generate(
        &m,
        "index tables",
        &v1_tables(),
        &MigrationOptions::default(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(ours.name, "0002_index_tables.sql");
    // Our header line is wrangler's, byte for byte but the number and the time.
    let first_line = |text: &str| text.lines().next().unwrap_or_default().to_string();
    let (theirs, our_line) = (first_line(&header), first_line(&ours.text));
    assert!(
        our_line.starts_with("-- Migration number: 0002 \t "),
        "{our_line}"
    );
    assert_eq!(our_line.len(), theirs.len(), "{our_line:?} vs {theirs:?}");
    {
        let db = project.local_database();
        let report = db.apply_migrations(project.path()).await.unwrap();
        assert!(!report.created_table);
        assert_eq!(report.already_applied, ["0001_create_notes.sql"]);
        assert_eq!(report.applied_names(), ["0002_index_tables.sql"]);
        assert_eq!(
            rows(&db, "SELECT id, body FROM notes").await,
            vec![vec![Value::Integer(1), text("from wrangler; once")]]
        );
        assert_eq!(
            rows(&db, "SELECT name FROM schema_log ORDER BY id").await,
            vec![
                vec![text("0001_create_notes.sql")],
                vec![text("0002_index_tables.sql")]
            ]
        );
    }
    // wrangler sees our row: nothing pending, nothing applied twice.
    let out = project.wrangler(&["d1", "migrations", "list", "DB", "--local"]);
    assert!(out.contains("No migrations to apply"), "{out}");
    let out = project.wrangler(&["d1", "migrations", "apply", "DB", "--local"]);
    assert!(out.contains("No migrations to apply"), "{out}");
    let db = project.local_database();
    assert_eq!(
        rows(&db, "SELECT COUNT(*) FROM schema_log").await,
        vec![vec![Value::Integer(2)]]
    );
    db.check_migrations(&m, &v1_tables())
        .await
        .unwrap()
        .ensure()
        .unwrap();
}
