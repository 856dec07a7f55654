//! Where the migrations are and which table records them: a folder given directly, or the D1
//! settings of a wrangler configuration file (`wrangler.json`, `wrangler.jsonc` or
//! `wrangler.toml`, looked for in that order, as wrangler does).
//!
//! wrangler reads, for the `d1_databases` entry whose `binding` or `database_name` is the one
//! named: `migrations_dir` (relative to the configuration file's folder, default
//! `migrations`) and `migrations_table` (default `d1_migrations`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// The table wrangler records applied migrations in, unless `migrations_table` says otherwise.
pub(crate) const DEFAULT_TABLE: &str = "d1_migrations";
/// The folder wrangler reads migrations from, relative to its configuration file, unless
/// `migrations_dir` says otherwise.
pub(crate) const DEFAULT_FOLDER: &str = "migrations";
/// The configuration file names wrangler looks for, in its order.
pub(crate) const CONFIG_FILES: [&str; 3] = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"];

/// A migrations folder and the table that records which of its files were applied.
///
/// ```
/// use thread_flow::migrations::Migrations;
///
/// let project = tempfile::tempdir()?;
/// std::fs::write(
///     project.path().join("wrangler.toml"),
///     "[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"app\"\nmigrations_dir = \"db/migrations\"\n",
/// )?;
/// // The project folder (or the folder wrangler.toml names) finds the configuration.
/// let migrations = Migrations::open(project.path())?;
/// assert_eq!(migrations.folder(), project.path().join("db/migrations"));
/// assert_eq!(migrations.table(), "d1_migrations");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrations {
    folder: PathBuf,
    table: String,
    config_file: Option<PathBuf>,
}

impl Migrations {
    /// The migrations in `folder`, recorded in `d1_migrations`; no configuration file is read.
    pub fn in_folder(folder: impl Into<PathBuf>) -> Migrations {
        Migrations {
            folder: folder.into(),
            table: DEFAULT_TABLE.into(),
            config_file: None,
        }
    }

    /// The migrations `path` designates, the way a user points at them:
    ///
    /// - a wrangler configuration file: its D1 database's settings (see
    ///   [`Migrations::from_wrangler_config`]);
    /// - a folder holding a wrangler configuration file (the project folder): that file;
    /// - a folder inside a project whose wrangler configuration file (the nearest one above
    ///   it) names it as a D1 database's `migrations_dir`: that database's settings (its
    ///   `migrations_table`);
    /// - any other folder: the migrations folder itself, recorded in `d1_migrations`.
    ///
    /// A configuration file with several D1 databases is an [`Error::Config`] unless the
    /// folder picks one; name the database with [`Migrations::from_wrangler_config`].
    pub fn open(path: impl AsRef<Path>) -> Result<Migrations> {
        let path = path.as_ref();
        if path.is_file() {
            return Migrations::from_wrangler_config(path, None);
        }
        if let Some(config) = find_config(path) {
            return Migrations::from_wrangler_config(config, None);
        }
        // A folder inside a project: the nearest configuration above it, when one of its
        // databases names this folder (wrangler looks for its configuration upwards too).
        let here = path.canonicalize().ok();
        let above = here
            .as_deref()
            .and_then(|p| p.ancestors().skip(1).find_map(find_config));
        if let Some(config) = above {
            let databases = read_config(&config)?;
            let base = config.parent().unwrap_or(Path::new("."));
            for db in &databases {
                if base.join(db.folder()).canonicalize().ok() == here {
                    return Ok(Migrations {
                        folder: path.to_path_buf(),
                        table: db.table().to_string(),
                        config_file: Some(config),
                    });
                }
            }
        }
        Ok(Migrations::in_folder(path))
    }

    /// The settings of one D1 database of a wrangler configuration file (`.json`, `.jsonc` or
    /// `.toml`): the `d1_databases` entry whose `binding` or `database_name` is `database`,
    /// or the only entry when `database` is `None`. Its `migrations_dir` is relative to the
    /// file's folder (default `migrations`), its `migrations_table` defaults to
    /// `d1_migrations`. A file without `d1_databases` gives the defaults.
    ///
    /// Environments (`[env.NAME]`) are not read: name their settings with
    /// [`Migrations::in_folder`] and [`Migrations::with_table`].
    pub fn from_wrangler_config(
        file: impl AsRef<Path>,
        database: Option<&str>,
    ) -> Result<Migrations> {
        let file = file.as_ref();
        let databases = read_config(file)?;
        let base = file.parent().unwrap_or(Path::new("."));
        let chosen = match database {
            Some(name) => databases
                .iter()
                .find(|d| {
                    d.binding.as_deref() == Some(name) || d.database_name.as_deref() == Some(name)
                })
                .ok_or_else(|| {
                    Error::Config(format!(
                        "{} has no D1 database with the binding or name `{name}` (it has: {})",
                        file.display(),
                        describe(&databases)
                    ))
                })?,
            None => match databases.as_slice() {
                [] => &D1DatabaseConfig::default(),
                [only] => only,
                _ => {
                    return Err(Error::Config(format!(
                        "{} declares several D1 databases ({}); say which one's migrations to use with Migrations::from_wrangler_config(file, Some(\"BINDING\"))",
                        file.display(),
                        describe(&databases)
                    )));
                }
            },
        };
        Ok(Migrations {
            folder: base.join(chosen.folder()),
            table: chosen.table().to_string(),
            config_file: Some(file.to_path_buf()),
        })
    }

    /// These migrations recorded in table `table` instead.
    pub fn with_table(mut self, table: impl Into<String>) -> Migrations {
        self.table = table.into();
        self
    }

    /// The migrations folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The table that records applied migrations.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The wrangler configuration file the settings came from, if any.
    pub fn config_file(&self) -> Option<&Path> {
        self.config_file.as_deref()
    }

    /// The migration files, in the order they are applied (by leading number, then name).
    pub fn files(&self) -> Result<Vec<super::MigrationFile>> {
        super::files::list(&self.folder)
    }

    /// The number the next migration file gets: the highest in use plus one.
    pub fn next_number(&self) -> Result<u64> {
        Ok(super::files::next_number(&self.files()?))
    }
}

/// One `d1_databases` entry, only the keys migrations use (others are ignored).
#[derive(Debug, Clone, Default, Deserialize)]
struct D1DatabaseConfig {
    binding: Option<String>,
    database_name: Option<String>,
    migrations_dir: Option<String>,
    migrations_table: Option<String>,
}

impl D1DatabaseConfig {
    fn folder(&self) -> &str {
        // wrangler uses `||`: an empty string means the default too.
        self.migrations_dir
            .as_deref()
            .filter(|d| !d.is_empty())
            .unwrap_or(DEFAULT_FOLDER)
    }

    fn table(&self) -> &str {
        self.migrations_table
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or(DEFAULT_TABLE)
    }
}

#[derive(Debug, Default, Deserialize)]
struct WranglerConfig {
    #[serde(default)]
    d1_databases: Vec<D1DatabaseConfig>,
}

fn describe(databases: &[D1DatabaseConfig]) -> String {
    if databases.is_empty() {
        return "none".into();
    }
    databases
        .iter()
        .map(|d| {
            format!(
                "binding `{}` / name `{}`",
                d.binding.as_deref().unwrap_or("?"),
                d.database_name.as_deref().unwrap_or("?")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first wrangler configuration file in `folder`, in wrangler's order.
fn find_config(folder: &Path) -> Option<PathBuf> {
    CONFIG_FILES
        .iter()
        .map(|name| folder.join(name))
        .find(|p| p.is_file())
}

/// The `d1_databases` of a wrangler configuration file.
fn read_config(file: &Path) -> Result<Vec<D1DatabaseConfig>> {
    let known = file
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "toml" | "json" | "jsonc"));
    if !known {
        return Err(Error::Config(format!(
            "{} is not a wrangler configuration file (wrangler.toml, wrangler.jsonc or wrangler.json); point at the migrations folder or the project folder instead",
            file.display()
        )));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::Config(format!("cannot read {}: {e}", file.display())))?;
    let bad = |e: String| {
        Error::Config(format!(
            "{} is not a valid wrangler configuration: {e}",
            file.display()
        ))
    };
    let config: WranglerConfig = if file.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).map_err(|e| bad(e.to_string()))?
    } else {
        // wrangler.json and wrangler.jsonc: JSON with comments and trailing commas.
        let value =
            jsonc_parser::parse_to_serde_value(&text, &jsonc_parser::ParseOptions::default())
                .map_err(|e| bad(e.to_string()))?
                .unwrap_or(serde_json::Value::Null);
        if value.is_null() {
            WranglerConfig::default()
        } else {
            serde_json::from_value(value).map_err(|e| bad(e.to_string()))?
        }
    };
    Ok(config.d1_databases)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(name: &str, text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(name), text).unwrap();
        dir
    }

    #[test]
    fn toml_with_custom_folder_and_table() {
        let dir = project(
            "wrangler.toml",
            "name = \"w\"\n# a comment\n[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"app\"\ndatabase_id = \"x\"\nmigrations_dir = \"sql/migrations\"\nmigrations_table = \"schema_log\"\n",
        );
        let m = Migrations::open(dir.path()).unwrap();
        assert_eq!(m.folder(), dir.path().join("sql/migrations"));
        assert_eq!(m.table(), "schema_log");
        assert_eq!(
            m.config_file(),
            Some(dir.path().join("wrangler.toml").as_path())
        );
        // The file itself, and by binding or by name.
        let file = dir.path().join("wrangler.toml");
        assert_eq!(Migrations::open(&file).unwrap(), m);
        assert_eq!(
            Migrations::from_wrangler_config(&file, Some("DB")).unwrap(),
            m
        );
        assert_eq!(
            Migrations::from_wrangler_config(&file, Some("app")).unwrap(),
            m
        );
        assert!(matches!(
            Migrations::from_wrangler_config(&file, Some("other")),
            Err(Error::Config(msg)) if msg.contains("`other`") && msg.contains("binding `DB`")
        ));
    }

    #[test]
    fn jsonc_with_comments_and_trailing_commas() {
        let dir = project(
            "wrangler.jsonc",
            r#"{
  // the worker
  "name": "w", /* block comment with "quotes" and // slashes */
  "d1_databases": [
    { "binding": "DB", "database_name": "app", "migrations_table": "my_migrations", },
    { "binding": "LOGS", "database_name": "logs", "migrations_dir": "logs-migrations", },
  ],
}"#,
        );
        let err = Migrations::open(dir.path()).unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains("several D1 databases")),
            "{err}"
        );
        let file = dir.path().join("wrangler.jsonc");
        let db = Migrations::from_wrangler_config(&file, Some("DB")).unwrap();
        assert_eq!(db.folder(), dir.path().join("migrations"));
        assert_eq!(db.table(), "my_migrations");
        let logs = Migrations::from_wrangler_config(&file, Some("logs")).unwrap();
        assert_eq!(logs.folder(), dir.path().join("logs-migrations"));
        assert_eq!(logs.table(), "d1_migrations");
        // Pointing at a configured folder picks its database.
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        let by_folder = Migrations::open(dir.path().join("migrations")).unwrap();
        assert_eq!(by_folder.table(), "my_migrations");
    }

    #[test]
    fn json_wins_over_toml_and_defaults_apply() {
        let dir = project(
            "wrangler.toml",
            "[[d1_databases]]\nbinding = \"DB\"\nmigrations_table = \"from_toml\"\n",
        );
        std::fs::write(
            dir.path().join("wrangler.json"),
            r#"{"d1_databases": [{"binding": "DB"}]}"#,
        )
        .unwrap();
        let m = Migrations::open(dir.path()).unwrap();
        assert_eq!(m.table(), "d1_migrations");
        assert_eq!(m.folder(), dir.path().join("migrations"));
        // No d1_databases at all: the defaults.
        let bare = project("wrangler.toml", "name = \"w\"\n");
        let m = Migrations::open(bare.path()).unwrap();
        assert_eq!(
            (m.folder(), m.table()),
            (bare.path().join("migrations").as_path(), "d1_migrations")
        );
    }

    #[test]
    fn a_plain_folder_and_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        let m = Migrations::open(dir.path()).unwrap();
        assert_eq!(m, Migrations::in_folder(dir.path()));
        assert_eq!(m.config_file(), None);
        let broken = project("wrangler.toml", "[[d1_databases]\nbinding = ");
        assert!(matches!(
            Migrations::open(broken.path()),
            Err(Error::Config(msg)) if msg.contains("not a valid wrangler configuration")
        ));
        let broken = project(
            "wrangler.jsonc",
            "{ \"d1_databases\": [ { \"binding\": 1 } ] }",
        );
        assert!(matches!(
            Migrations::open(broken.path()),
            Err(Error::Config(_))
        ));
        let sql = project("0001_init.sql", "CREATE TABLE t (x INTEGER);");
        assert!(matches!(
            Migrations::open(sql.path().join("0001_init.sql")),
            Err(Error::Config(msg)) if msg.contains("not a wrangler configuration file")
        ));
    }
}
