//! Drift checks: the row structs against the migrations folder (for `cargo test`), and the
//! structs, the folder and a live database against each other.

use std::fmt;
use std::path::Path;

use super::config::Migrations;
use super::generate::{self, NextMigration};
use crate::schema::Column;
use crate::sql::{MigrationOptions, Statement};
use crate::{D1Database, Error, Result, TableSchema, Value};

/// The environment variable that makes [`assert_up_to_date`] write the missing migration
/// instead of failing: `THREAD_FLOW_MIGRATIONS=write cargo test`.
pub const WRITE_VAR: &str = "THREAD_FLOW_MIGRATIONS";
/// The environment variable naming the file [`assert_up_to_date`] writes (its message);
/// default: [`NextMigration::default_message`].
pub const MESSAGE_VAR: &str = "THREAD_FLOW_MIGRATION_MESSAGE";

/// Fails (panics, for a test) when the row structs moved ahead of the migrations folder, with
/// the SQL of the missing migration. With `THREAD_FLOW_MIGRATIONS=write` in the environment
/// it writes that migration as the next file instead (named by `THREAD_FLOW_MIGRATION_MESSAGE`
/// or after the tables), and passes: review the file and commit it.
///
/// `dir` is the migrations folder, the project folder or its wrangler configuration file
/// ([`Migrations::open`]). Data-losing changes are refused (the panic says why); allow them
/// with [`assert_up_to_date_with`].
///
/// ```
/// use thread_flow::{D1Target, migrations};
///
/// #[derive(D1Target)]
/// #[d1(table = "notes")]
/// struct Note {
///     #[d1(primary_key)]
///     id: i64,
///     body: String,
/// }
///
/// let project = tempfile::tempdir()?;
/// let folder = project.path().join("migrations");
/// // The test a project keeps in its suite; here the folder is written first.
/// # let rt = tokio::runtime::Runtime::new()?;
/// # rt.block_on(migrations::generate(&migrations::Migrations::in_folder(&folder), "create notes", &[Note::schema()], &Default::default()))?;
/// migrations::assert_up_to_date(&folder, &[Note::schema()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn assert_up_to_date(dir: impl AsRef<Path>, tables: &[&TableSchema]) {
    let migrations = Migrations::open(dir).unwrap_or_else(|e| panic!("{e}"));
    assert_up_to_date_with(&migrations, tables, &MigrationOptions::default());
}

/// [`assert_up_to_date`] for explicit [`Migrations`] and [`MigrationOptions`].
pub fn assert_up_to_date_with(
    migrations: &Migrations,
    tables: &[&TableSchema],
    options: &MigrationOptions,
) {
    let write = match std::env::var(WRITE_VAR) {
        Ok(v) if v == "write" => true,
        Ok(v) if v.is_empty() || v == "check" => false,
        Ok(other) => panic!(
            "{WRITE_VAR}={other:?} is not understood: use `{WRITE_VAR}=write` to write the missing migration, or leave it unset to check"
        ),
        Err(_) => false,
    };
    let next = match block_on(generate::plan(migrations, tables, options)) {
        Ok(next) => next,
        Err(e) => panic!(
            "cannot plan the next migration of {}: {e}",
            migrations.folder().display()
        ),
    };
    if next.is_empty() {
        return;
    }
    if write {
        let message = std::env::var(MESSAGE_VAR).unwrap_or_default();
        match block_on(generate::write(migrations, &message, next)) {
            Ok(written) => {
                eprintln!(
                    "thread-flow: wrote {} ({WRITE_VAR}=write); review it and commit it",
                    written.path.display()
                );
                return;
            }
            Err(e) => panic!("cannot write the missing migration: {e}"),
        }
    }
    panic!(
        "the row structs moved ahead of the migrations in {}: the next migration ({:04}) must be\n\n{}\n\
         Write it with `{WRITE_VAR}=write cargo test` (or thread_flow::migrations::generate), review it and commit it.",
        migrations.folder().display(),
        next.number,
        next.sql()
    );
}

/// Runs `future` to completion on a private runtime in its own thread, so the sync test
/// helpers work inside and outside an async runtime.
fn block_on<T: Send>(future: impl std::future::Future<Output = Result<T>> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::Config(format!("cannot start a runtime: {e}")))?
                    .block_on(future)
            })
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// How a live database stands against a migrations folder and the row structs
/// ([`D1Database::check_migrations`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MigrationCheck {
    /// The tracking table.
    pub table: String,
    /// Files not recorded as applied in the live database, in order.
    pub pending: Vec<String>,
    /// Names recorded as applied that no file has.
    pub unknown: Vec<String>,
    /// What the next migration file must do to reach the structs (empty when the folder
    /// matches them). `Err` text when planning it was refused (a data-losing change).
    pub structs_ahead: std::result::Result<NextMigration, String>,
    /// Tables whose live definition differs from the one the files build.
    pub live_differs: Vec<TableDifference>,
}

/// One table whose live definition is not the one the migration files build.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableDifference {
    /// Table name.
    pub table: String,
    /// What would bring the live table to the files' definition, in plain words
    /// (`["table is missing"]` when it does not exist live).
    pub differences: Vec<String>,
}

impl MigrationCheck {
    /// Whether the structs, the files and the live database agree.
    pub fn is_consistent(&self) -> bool {
        self.pending.is_empty()
            && self.unknown.is_empty()
            && self
                .structs_ahead
                .as_ref()
                .is_ok_and(NextMigration::is_empty)
            && self.live_differs.is_empty()
    }

    /// `Ok` when consistent, else [`Error::SchemaDrift`] with this report as its text.
    pub fn ensure(self) -> Result<()> {
        if self.is_consistent() {
            return Ok(());
        }
        Err(Error::SchemaDrift {
            details: self.to_string(),
        })
    }
}

impl fmt::Display for MigrationCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_consistent() {
            return f.write_str("the row structs, the migration files and the live database agree");
        }
        let mut parts: Vec<String> = Vec::new();
        if !self.pending.is_empty() {
            parts.push(format!(
                "migration files not applied to the live database: {} (apply them: `wrangler d1 migrations apply` or D1Database::apply_migrations)",
                self.pending.join(", ")
            ));
        }
        if !self.unknown.is_empty() {
            parts.push(format!(
                "recorded in `{}` as applied but missing from the folder: {}",
                self.table,
                self.unknown.join(", ")
            ));
        }
        match &self.structs_ahead {
            Ok(next) if !next.is_empty() => parts.push(format!(
                "the row structs moved ahead of the migration files; the next migration ({:04}) must be:\n{}",
                next.number,
                next.sql()
            )),
            Ok(_) => {}
            Err(refused) => parts.push(format!(
                "the row structs moved ahead of the migration files, with a change refused: {refused}"
            )),
        }
        for t in &self.live_differs {
            parts.push(format!(
                "live table `{}` differs from the migration files: {}",
                t.table,
                t.differences.join("; ")
            ));
        }
        f.write_str(&parts.join("\n"))
    }
}

/// [`D1Database::check_migrations`].
pub(crate) async fn check_migrations(
    db: &D1Database,
    migrations: &Migrations,
    tables: &[&TableSchema],
) -> Result<MigrationCheck> {
    let files = migrations.files()?;
    let recorded = db
        .recorded_migrations(migrations.table())
        .await?
        .unwrap_or_default();
    let pending = files
        .iter()
        .filter(|f| !recorded.contains(&f.name))
        .map(|f| f.name.clone())
        .collect();
    let unknown = recorded
        .iter()
        .filter(|n| !files.iter().any(|f| &f.name == *n))
        .cloned()
        .collect();
    let structs_ahead = match generate::plan(migrations, tables, &MigrationOptions::default()).await
    {
        Ok(next) => Ok(next),
        Err(e @ Error::MigrationRefused { .. }) => Err(e.to_string()),
        Err(e) => return Err(e),
    };
    let replayed = generate::replay(migrations).await?;
    let mut live_differs = Vec::new();
    for table in user_tables(&replayed, migrations.table()).await? {
        let Some(built) = replayed.live_schema(&table).await? else {
            continue;
        };
        let differences = match db.live_schema(&table).await? {
            None => vec!["the table is missing".to_string()],
            Some(live) => differences(&live, &built),
        };
        if !differences.is_empty() {
            live_differs.push(TableDifference { table, differences });
        }
    }
    Ok(MigrationCheck {
        table: migrations.table().to_string(),
        pending,
        unknown,
        structs_ahead,
        live_differs,
    })
}

/// The tables of `db` but SQLite's, D1's (`_cf_*`) and the tracking table.
async fn user_tables(db: &D1Database, tracking: &str) -> Result<Vec<String>> {
    let outcome = db
        .request(vec![Statement::new(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name <> ? COLLATE NOCASE ORDER BY rowid",
            vec![Value::Text(tracking.to_string())],
        )])
        .await?;
    Ok(super::apply::first_column_texts(outcome))
}

/// How the live table differs from the one the files build, in plain words. Compared
/// structurally (not with the planner): tables written by hand may have no primary key or a
/// nullable one, which the planner refuses as a target.
fn differences(live: &TableSchema, built: &TableSchema) -> Vec<String> {
    let mut out = Vec::new();
    let find = |s: &'_ TableSchema, name: &str| -> Option<Column> {
        s.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .cloned()
    };
    for c in &built.columns {
        match find(live, &c.name) {
            None => out.push(format!("column `{}` is missing", c.name)),
            Some(l) => {
                if l.sql_type != c.sql_type {
                    out.push(format!(
                        "column `{}` is {} live, {} in the files",
                        c.name, l.sql_type, c.sql_type
                    ));
                }
                if l.nullable != c.nullable {
                    out.push(format!(
                        "column `{}` is {} live, {} in the files",
                        c.name,
                        nullability(l.nullable),
                        nullability(c.nullable)
                    ));
                }
                if l.default != c.default {
                    out.push(format!("column `{}` has another default live", c.name));
                }
            }
        }
    }
    for l in &live.columns {
        if find(built, &l.name).is_none() {
            out.push(format!("column `{}` exists only live", l.name));
        }
    }
    let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect::<Vec<_>>();
    if lower(&live.primary_key) != lower(&built.primary_key) {
        out.push(format!(
            "the primary key is ({}) live, ({}) in the files",
            live.primary_key.join(", "),
            built.primary_key.join(", ")
        ));
    }
    if live.strict != built.strict {
        out.push(format!(
            "STRICT is {} live, {} in the files",
            live.strict, built.strict
        ));
    }
    if live.without_rowid != built.without_rowid {
        out.push(format!(
            "WITHOUT ROWID is {} live, {} in the files",
            live.without_rowid, built.without_rowid
        ));
    }
    for ix in &built.indexes {
        match live
            .indexes
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(&ix.name))
        {
            None => out.push(format!("index `{}` is missing", ix.name)),
            Some(l) if l != ix => {
                out.push(format!("index `{}` is defined differently live", ix.name))
            }
            Some(_) => {}
        }
    }
    for l in &live.indexes {
        if !built
            .indexes
            .iter()
            .any(|ix| ix.name.eq_ignore_ascii_case(&l.name))
        {
            out.push(format!("index `{}` exists only live", l.name));
        }
    }
    out
}

fn nullability(nullable: bool) -> &'static str {
    if nullable { "nullable" } else { "NOT NULL" }
}
