//! One invocation: where the index lives, then an indexing run (progress bar, summary) or one
//! question (text or JSON). Everything it prints from the tree is escaped
//! (`thread_flow::code::printable`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use thread_flow::Connection;
use thread_flow::D1Target;
use thread_flow::code::{CallRow, CodeIndex, FileRow, ImportRow, Progress, SymbolRow};
use thread_flow::code::{printable, printable_json, printable_text, query};
use thread_flow::migrations::{self, Migrations};

use crate::cli::{Args, Mode};

/// Runs one invocation with the process environment. Messages for the user (paths, progress,
/// skipped files) go to stderr; the result is returned for `main` to print on stdout.
pub async fn run(args: &Args) -> Result<String, String> {
    let env = |name: &str| std::env::var(name).ok();
    match args.mode() {
        Mode::Index => index(args, &env).await,
        Mode::EmitMigrations(dir) => emit_migrations(&dir).await,
        mode => ask(args, &env, mode).await,
    }
}

/// The tree argument (clap requires it in every mode but --emit-migrations).
fn tree(args: &Args) -> Result<&Path, String> {
    args.dir
        .as_deref()
        .ok_or_else(|| "missing <DIR>: the directory to index".to_owned())
}

/// `--emit-migrations DIR`: the next wrangler migration file for the four tables (nothing
/// when the folder already creates them as they are).
pub async fn emit_migrations(dir: &Path) -> Result<String, String> {
    let folder = Migrations::open(dir).map_err(|e| e.to_string())?;
    let tables = [
        FileRow::schema(),
        SymbolRow::schema(),
        ImportRow::schema(),
        CallRow::schema(),
    ];
    let written = migrations::generate(
        &folder,
        "",
        &tables,
        &thread_flow::MigrationOptions::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(match written {
        Some(file) => format!(
            "wrote {} (apply with `wrangler d1 migrations apply`)",
            printable(&file.path.to_string_lossy())
        ),
        None => format!(
            "{}: the migrations already create the code index's tables as they are; nothing written",
            printable(&folder.folder().to_string_lossy())
        ),
    })
}

/// The destination given the environment: Cloudflare D1 when its variables are set (unless
/// `--local`), else the local file (`--db`, or the library's default under DIR).
fn destination(
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Connection>, String> {
    let local = args.db.clone().map(Connection::local);
    if args.local {
        return Ok(local);
    }
    // The token stays where it is (`CLOUDFLARE_API_TOKEN`): the connection only names it.
    match Connection::from_vars(env).map_err(|e| format!("reading the D1 settings: {e}"))? {
        Connection::Local(_) => Ok(local),
        remote => Ok(Some(remote)),
    }
}

/// The folder of ReCoco's private PostgreSQL when the index goes to Cloudflare but `--db`
/// names a local file's place: `.thread-flow` beside it, as for a local index.
fn state_dir_beside(db: &Path) -> Option<PathBuf> {
    let parent = std::path::absolute(db).ok()?.parent()?.to_path_buf();
    Some(
        if parent.file_name() == Some(std::ffi::OsStr::new(".thread-flow")) {
            parent
        } else {
            parent.join(".thread-flow")
        },
    )
}

fn progress_bar(quiet: bool) -> ProgressBar {
    let target = if quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    let style = ProgressStyle::with_template(
        "{spinner} [{bar:30}] {pos}/{len} files parsed · {msg} · {per_sec} · ETA {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message("starting ReCoco's state store");
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

async fn index(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let destination = destination(args, env)?;
    let database_url = args
        .database_url
        .clone()
        .or_else(|| env("DATABASE_URL").filter(|u| !u.trim().is_empty()));
    let dir = tree(args)?;
    let mut builder = CodeIndex::new(dir)
        .include(args.include.iter().cloned())
        .exclude(args.exclude.iter().cloned())
        .adopt(args.adopt);
    if !args.languages.is_empty() {
        builder = builder.languages(args.languages.iter().copied());
    }
    if let Some(url) = database_url {
        builder = builder.database_url(url);
    }
    match &destination {
        Some(connection @ Connection::Local(_)) => {
            builder = builder.destination(connection.clone());
        }
        Some(remote) => {
            eprintln!("index:    {}", printable(&remote.identity().to_string()));
            builder = builder.destination(remote.clone());
            if let Some(state) = args.db.as_deref().and_then(state_dir_beside) {
                builder = builder.state_dir(state);
            }
        }
        None => {}
    }
    eprintln!("indexing {}", printable(&dir.to_string_lossy()));

    let bar = progress_bar(args.quiet);
    let ticker = bar.clone();
    builder = builder.on_progress(move |p: &Progress| {
        if p.files_total > 0 {
            ticker.set_length(p.files_total);
        }
        // ReCoco publishes its per-file counts when the source is done; files parsed are
        // counted live (unchanged files are not parsed again, so a re-run ends early).
        ticker.set_position(p.files_parsed.max(p.files_done));
        ticker.set_message(format!("{} rows written", p.rows_written));
    });
    let result = builder.run().await;
    bar.finish_and_clear();
    let report = result.map_err(|e| format!("{e:#}"))?;

    for s in &report.skipped {
        eprintln!(
            "skipped: {}: {}",
            printable(&s.path),
            printable(&s.reason.to_string())
        );
    }
    if !report.setup.trim().is_empty() {
        eprintln!("setup:\n{}", printable_text(report.setup.trim_end()));
    }
    if report.adopted {
        eprintln!("adopted:  the existing tables (their rows were rewritten by this run)");
    }
    Ok(if args.json {
        printable_json(&report)
    } else {
        report.to_string()
    })
}

async fn ask(
    args: &Args,
    env: &dyn Fn(&str) -> Option<String>,
    mode: Mode,
) -> Result<String, String> {
    let connection = match destination(args, env)? {
        Some(connection) => connection,
        None => {
            let tree = tree(args)?;
            let dir = std::fs::canonicalize(tree)
                .map_err(|e| format!("cannot open the directory {}: {e}", tree.display()))?;
            Connection::local(CodeIndex::default_database_path(&dir))
        }
    };
    let db = CodeIndex::open_existing(&connection).map_err(|e| e.to_string())?;
    let answer = match mode {
        Mode::Query(name) => query::definitions(&db, &name).await,
        Mode::File(path) => query::file_symbols(&db, &path).await,
        Mode::Callers(name) => query::callers(&db, &name).await,
        Mode::Callees(name) => query::callees(&db, &name).await,
        Mode::Imports(path) => query::imports(&db, &path).await,
        Mode::Importers(module) => query::importers(&db, &module).await,
        Mode::Index | Mode::EmitMigrations(_) => unreachable_mode(),
    }
    .map_err(|e| e.to_string())?;
    Ok(if args.json {
        answer.to_json()
    } else {
        answer.to_string()
    })
}

fn unreachable_mode() -> Result<query::Answer, query::QueryError> {
    Err(query::QueryError::D1(thread_flow::Error::Config(
        "internal: not a question".into(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn emit_migrations_writes_the_tables_once() {
        let project = tempfile::tempdir().expect("tempdir");
        let folder = project.path().join("migrations");
        let first = emit_migrations(&folder).await.expect("first file");
        let file = folder.join("0001_create_files_symbols_imports_calls.sql");
        assert!(
            first.starts_with(&format!("wrote {}", file.display())),
            "{first}"
        );
        let text = std::fs::read_to_string(&file).expect("the file");
        for table in ["files", "symbols", "imports", "calls"] {
            assert!(
                text.contains(&format!("CREATE TABLE IF NOT EXISTS \"{table}\"")),
                "{table} in {text}"
            );
        }
        assert!(text.contains("\"calls_callee_idx\""), "{text}");
        let again = emit_migrations(&folder).await.expect("second call");
        assert!(again.ends_with("nothing written"), "{again}");
        assert_eq!(
            std::fs::read_dir(&folder).expect("folder").count(),
            1,
            "no second file"
        );
    }
}
