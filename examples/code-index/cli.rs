//! The command line.

use std::path::PathBuf;

use clap::{ArgGroup, Parser};
use thread_flow::code::Language;

const AFTER_HELP: &str = "\
Examples:
  code-index examples/code-index/sample                      index (or update) the tree
  code-index examples/code-index/sample --query Parser       where is Parser defined
  code-index examples/code-index/sample --file rust/parser.rs
  code-index examples/code-index/sample --callers parse_line who calls parse_line
  code-index examples/code-index/sample --callees checkout   what checkout calls
  code-index examples/code-index/sample --imports web/cart.ts
  code-index examples/code-index/sample --importers ./format --json
  code-index ~/src/app --include 'src/**' --exclude '**/generated/**' --language rust
  code-index --emit-migrations ~/src/worker/migrations    the tables as a wrangler migration

An index is one tree written to one D1 database: its ReCoco state is kept under a name derived
from both (the D1 file's real path, or account + database + API URL; never the token), so any
number of indexes can share a folder, a machine or a --database-url. code-index never writes
into `files`/`symbols`/`imports`/`calls` tables it did not create (unless --adopt), and indexes
regular files inside DIR only: symbolic links leading out of DIR, FIFOs, devices, unreadable
folders and files over 2 MiB are skipped and listed on stderr.

With CLOUDFLARE_ACCOUNT_ID, D1_DATABASE_ID and CLOUDFLARE_API_TOKEN set (and D1_BASE_URL for a
D1-compatible endpoint), the index is written to that Cloudflare D1 database instead.";

fn language(name: &str) -> Result<Language, String> {
    Language::ALL
        .into_iter()
        .find(|l| l.as_str().eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let known: Vec<&str> = Language::ALL.iter().map(|l| l.as_str()).collect();
            format!("unknown language `{name}`; known: {}", known.join(", "))
        })
}

/// Index the source files under DIR (definitions, imports, calls) into a D1 database with a
/// ReCoco flow, or ask the index a question. Re-running updates only what changed.
#[derive(Debug, Clone, Parser)]
#[command(name = "code-index", version, after_help = AFTER_HELP)]
#[command(group(ArgGroup::new("question").multiple(false)))]
pub struct Args {
    /// The directory to index (not needed with --emit-migrations).
    #[arg(required_unless_present = "emit_migrations")]
    pub dir: Option<PathBuf>,

    /// Local D1 file [default: DIR/.thread-flow/code-index.d1].
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// PostgreSQL for ReCoco's state [default: $DATABASE_URL, else a private cluster started
    /// next to the D1 file and stopped on exit].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Only index paths (relative to DIR) matching this glob; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Never index paths matching this glob; repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Only index this language; repeatable.
    #[arg(long = "language", value_name = "LANG", value_parser = language)]
    pub languages: Vec<Language>,

    /// Where is NAME defined (no indexing).
    #[arg(long, value_name = "NAME", group = "question")]
    pub query: Option<String>,

    /// What is defined in PATH (relative to DIR).
    #[arg(long, value_name = "PATH", group = "question")]
    pub file: Option<String>,

    /// Who calls NAME.
    #[arg(long, value_name = "NAME", group = "question")]
    pub callers: Option<String>,

    /// What functions named NAME call.
    #[arg(long, value_name = "NAME", group = "question")]
    pub callees: Option<String>,

    /// What FILE (relative to DIR) imports.
    #[arg(long, value_name = "FILE", group = "question")]
    pub imports: Option<String>,

    /// Which files import MODULE (as written in the imports).
    #[arg(long, value_name = "MODULE", group = "question")]
    pub importers: Option<String>,

    /// Write the next wrangler migration file for the index's tables into DIR (a migrations
    /// folder, or a project folder with a wrangler configuration), instead of indexing. For a
    /// reviewed production D1: `wrangler d1 migrations apply` then creates the tables.
    #[arg(long, value_name = "DIR", group = "question")]
    pub emit_migrations: Option<PathBuf>,

    /// Print answers (and the run's summary) as JSON.
    #[arg(long)]
    pub json: bool,

    /// Use the local D1 file even when Cloudflare credentials are set.
    #[arg(long)]
    pub local: bool,

    /// Take over `files`/`symbols`/`imports`/`calls` tables this index has no record of
    /// creating (made by an earlier code-index, or its state was lost): only when their schema
    /// is exactly this index's; their rows are replaced by this run's.
    #[arg(long)]
    pub adopt: bool,

    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Run the flow (create or update the index).
    Index,
    /// `--query NAME`.
    Query(String),
    /// `--file PATH`.
    File(String),
    /// `--callers NAME`.
    Callers(String),
    /// `--callees NAME`.
    Callees(String),
    /// `--imports FILE`.
    Imports(String),
    /// `--importers MODULE`.
    Importers(String),
    /// `--emit-migrations DIR`.
    EmitMigrations(PathBuf),
}

impl Args {
    /// The question asked, or indexing.
    pub fn mode(&self) -> Mode {
        let text = |o: &Option<String>| o.clone();
        if let Some(name) = text(&self.query) {
            Mode::Query(name)
        } else if let Some(path) = text(&self.file) {
            Mode::File(path)
        } else if let Some(name) = text(&self.callers) {
            Mode::Callers(name)
        } else if let Some(name) = text(&self.callees) {
            Mode::Callees(name)
        } else if let Some(path) = text(&self.imports) {
            Mode::Imports(path)
        } else if let Some(module) = text(&self.importers) {
            Mode::Importers(module)
        } else if let Some(dir) = &self.emit_migrations {
            Mode::EmitMigrations(dir.clone())
        } else {
            Mode::Index
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("code-index").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn arguments() {
        let a = parse(&["repo", "--query", "Cart", "--db", "x.d1"]).expect("valid");
        assert_eq!(a.mode(), Mode::Query("Cart".into()));
        assert_eq!(a.db.as_deref(), Some(std::path::Path::new("x.d1")));
        assert!(!a.adopt && !a.json);
        let a = parse(&["repo", "--callers", "parse", "--json"]).expect("valid");
        assert_eq!(a.mode(), Mode::Callers("parse".into()));
        assert!(a.json);
        assert_eq!(
            parse(&["repo", "--importers", "./format"])
                .expect("valid")
                .mode(),
            Mode::Importers("./format".into())
        );
        let a = parse(&["repo", "--language", "rust", "--language", "Python"]).expect("valid");
        assert_eq!(a.languages, [Language::Rust, Language::Python]);
        assert_eq!(parse(&["repo"]).expect("valid").mode(), Mode::Index);
        assert_eq!(
            parse(&["--emit-migrations", "m"]).expect("valid").mode(),
            Mode::EmitMigrations("m".into())
        );
        assert!(parse(&["repo", "--adopt"]).expect("valid").adopt);

        let error = |args: &[&str]| parse(args).expect_err("invalid").to_string();
        assert!(error(&[]).contains("<DIR>"));
        assert!(error(&["repo", "--query"]).contains("--query <NAME>"));
        assert!(error(&["repo", "--bogus"]).contains("--bogus"));
        assert!(error(&["repo", "--query", "a", "--callers", "b"]).contains("cannot be used with"));
        assert!(error(&["repo", "--language", "cobol"]).contains("unknown language `cobol`"));
        let help = Args::command().render_long_help().to_string();
        for flag in [
            "--adopt",
            "--callers",
            "--callees",
            "--imports",
            "--importers",
            "--json",
            "Examples:",
        ] {
            assert!(help.contains(flag), "{flag} in --help");
        }
    }
}
