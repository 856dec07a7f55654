//! Applying a migrations folder the way `wrangler d1 migrations apply` does, over either
//! transport: the tracking table with wrangler's DDL, the pending files in order, each file
//! with its tracking row in one request.

use std::path::Path;

use super::config::Migrations;
use super::files::MigrationFile;
use crate::client::RequestOutcome;
use crate::sql::{Statement, quote_ident};
use crate::{D1Database, Error, Result, Value};

/// What [`D1Database::apply_migrations`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedMigrations {
    /// The table recording applied migrations.
    pub table: String,
    /// Whether this call created that table.
    pub created_table: bool,
    /// The files applied by this call, in order.
    pub applied: Vec<AppliedFile>,
    /// The files that were already applied (recorded in the table), in order.
    pub already_applied: Vec<String>,
    /// Names recorded as applied that no file of the folder has (a file renamed or removed
    /// after it was applied, or applied from another folder). Reported, never acted on.
    pub unknown: Vec<String>,
}

impl AppliedMigrations {
    /// The names of the files applied by this call.
    pub fn applied_names(&self) -> Vec<&str> {
        self.applied.iter().map(|f| f.name.as_str()).collect()
    }
}

/// One migration file applied by [`D1Database::apply_migrations`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AppliedFile {
    /// The file name, as recorded in the tracking table.
    pub name: String,
    /// Statements of the file that ran (the tracking row's insert not counted).
    pub statements: usize,
}

/// The tracking table's DDL, as wrangler writes it (wrangler 4.85 leaves the name unquoted;
/// it is quoted here so any name works).
pub(crate) fn create_tracking_table(table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}(\n\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n\t\tname       TEXT UNIQUE,\n\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n)",
        quote_ident(table)
    )
}

/// The insert that records `name` as applied (the name is a bound parameter).
fn record(table: &str, name: &str) -> Statement {
    Statement::new(
        format!("INSERT INTO {} (name) VALUES (?)", quote_ident(table)),
        vec![Value::Text(name.to_string())],
    )
}

/// A file's statements, read and checked before anything is sent.
pub(crate) struct PreparedFile {
    pub(crate) file: MigrationFile,
    pub(crate) statements: Vec<String>,
}

/// Reads and splits `file`; a transaction control statement (which D1 refuses, and which the
/// request's own transaction makes useless) is an [`Error::MigrationFile`] naming it.
pub(crate) fn prepare(file: MigrationFile) -> Result<PreparedFile> {
    let statements = file.statements()?;
    for s in &statements {
        let word: String = s
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_uppercase();
        if matches!(
            word.as_str(),
            "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "SAVEPOINT" | "RELEASE"
        ) {
            return Err(Error::MigrationFile {
                file: file.name.clone(),
                message: format!(
                    "it holds a `{word}` statement, which D1 refuses (each migration file already runs as one transaction, together with its tracking row); remove it. Nothing was applied"
                ),
                error: None,
            });
        }
    }
    Ok(PreparedFile { file, statements })
}

/// [`D1Database::apply_migrations`].
pub(crate) async fn apply_migrations(
    db: &D1Database,
    dir: impl AsRef<Path>,
) -> Result<AppliedMigrations> {
    apply_migrations_from(db, &Migrations::open(dir)?).await
}

/// [`D1Database::apply_migrations_from`].
pub(crate) async fn apply_migrations_from(
    db: &D1Database,
    migrations: &Migrations,
) -> Result<AppliedMigrations> {
    let table = migrations.table();
    let files = migrations.files()?;
    let existed = tracking_table_exists(db, table).await?;
    if existed {
        check_tracking_table(db, table).await?;
    } else {
        db.request(vec![Statement::raw(create_tracking_table(table))])
            .await?;
    }
    let recorded = recorded_migrations(db, table).await?.unwrap_or_default();
    let mut report = AppliedMigrations {
        table: table.to_string(),
        created_table: !existed,
        unknown: recorded
            .iter()
            .filter(|name| !files.iter().any(|f| &f.name == *name))
            .cloned()
            .collect(),
        ..AppliedMigrations::default()
    };
    // Read and check every pending file before sending anything.
    let mut pending = Vec::new();
    for file in files {
        if recorded.contains(&file.name) {
            report.already_applied.push(file.name);
        } else {
            pending.push(prepare(file)?);
        }
    }
    for prepared in pending {
        let name = prepared.file.name.clone();
        let statements = prepared.statements.len();
        apply_file(db, table, prepared)
            .await
            .map_err(|e| with_earlier(e, &report))?;
        report.applied.push(AppliedFile { name, statements });
    }
    Ok(report)
}

/// Runs one prepared file with its tracking row as one request. When the request fails
/// but the row is there (an earlier attempt committed and its answer was lost), the
/// file was applied.
pub(crate) async fn apply_file(db: &D1Database, table: &str, prepared: PreparedFile) -> Result<()> {
    let name = prepared.file.name;
    // The tracking row first: a second run of the same file fails at once, as a whole.
    let mut statements = vec![record(table, &name)];
    statements.extend(prepared.statements.into_iter().map(Statement::raw));
    let failed: Error = match db.request(statements).await {
        Ok(RequestOutcome { .. }) => return Ok(()),
        Err(e) => e,
    };
    if let Ok(Some(recorded)) = recorded_migrations(db, table).await
        && recorded.contains(&name)
    {
        tracing::warn!(
            file = %name,
            error = %failed,
            "the migration request failed but the file is recorded as applied (an earlier \
             attempt committed before its answer was lost, or another process applied it)"
        );
        return Ok(());
    }
    Err(Error::MigrationFile {
        file: name,
        message: format!(
            "it failed and nothing of it was applied (the file and its `{table}` row run as one request): {failed}"
        ),
        error: Some(Box::new(failed)),
    })
}

/// [`D1Database::recorded_migrations`].
pub(crate) async fn recorded_migrations(
    db: &D1Database,
    table: &str,
) -> Result<Option<Vec<String>>> {
    if !tracking_table_exists(db, table).await? {
        return Ok(None);
    }
    let outcome = db
        .request(vec![Statement::raw(format!(
            "SELECT name FROM {} ORDER BY id",
            quote_ident(table)
        ))])
        .await?;
    Ok(Some(first_column_texts(outcome)))
}

/// [`D1Database::pending_migrations`].
pub(crate) async fn pending_migrations(
    db: &D1Database,
    migrations: &Migrations,
) -> Result<Vec<MigrationFile>> {
    let recorded = recorded_migrations(db, migrations.table())
        .await?
        .unwrap_or_default();
    Ok(migrations
        .files()?
        .into_iter()
        .filter(|f| !recorded.contains(&f.name))
        .collect())
}

pub(crate) async fn tracking_table_exists(db: &D1Database, table: &str) -> Result<bool> {
    let outcome = db
        .request(vec![Statement::new(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ? COLLATE NOCASE",
            vec![Value::Text(table.to_string())],
        )])
        .await?;
    Ok(outcome.results.first().is_some_and(|r| !r.rows.is_empty()))
}

/// Refuses a tracking table that is not wrangler's: columns `id` (the INTEGER primary
/// key), `name` (TEXT, unique) and `applied_at`.
pub(crate) async fn check_tracking_table(db: &D1Database, table: &str) -> Result<()> {
    let outcome = db
        .request(vec![
            Statement::raw(format!("PRAGMA table_xinfo({})", quote_ident(table))),
            Statement::raw(format!("PRAGMA index_list({})", quote_ident(table))),
        ])
        .await?;
    let column = |r: &crate::client::StatementResult, row: &[Value], name: &str| {
        r.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .and_then(|i| row.get(i).cloned())
    };
    let mut problems = Vec::new();
    let mut names = Vec::new();
    if let Some(xinfo) = outcome.results.first() {
        for row in &xinfo.rows {
            let name = match column(xinfo, row, "name") {
                Some(Value::Text(n)) => n.to_ascii_lowercase(),
                _ => continue,
            };
            let declared = match column(xinfo, row, "type") {
                Some(Value::Text(t)) => t.to_ascii_uppercase(),
                _ => String::new(),
            };
            let pk = matches!(column(xinfo, row, "pk"), Some(Value::Integer(n)) if n > 0);
            match name.as_str() {
                "id" if !(pk && declared == "INTEGER") => {
                    problems.push("`id` is not its INTEGER PRIMARY KEY".to_string())
                }
                "name" if !declared.contains("TEXT") && !declared.contains("CHAR") => {
                    problems.push(format!("`name` is {declared}, not TEXT"))
                }
                "id" | "name" | "applied_at" => {}
                other => problems.push(format!("it has a column `{other}`")),
            }
            names.push(name);
        }
    }
    for needed in ["id", "name", "applied_at"] {
        if !names.iter().any(|n| n == needed) {
            problems.push(format!("it has no `{needed}` column"));
        }
    }
    if problems.is_empty() && !name_is_unique(db, table, outcome.results.get(1)).await? {
        problems.push("`name` is not UNIQUE".to_string());
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Config(format!(
        "table `{table}` exists but is not a migrations tracking table as wrangler creates it (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP): {}. Nothing was applied; point the migrations at another table (migrations_table in wrangler.toml, or Migrations::with_table)",
        problems.join("; ")
    )))
}

/// Whether a unique index covers exactly `name`.
pub(crate) async fn name_is_unique(
    db: &D1Database,
    table: &str,
    index_list: Option<&crate::client::StatementResult>,
) -> Result<bool> {
    let Some(list) = index_list else {
        return Ok(false);
    };
    let at = |n: &str| list.columns.iter().position(|c| c.eq_ignore_ascii_case(n));
    let (Some(name_at), Some(unique_at)) = (at("name"), at("unique")) else {
        return Ok(false);
    };
    let unique: Vec<String> = list
        .rows
        .iter()
        .filter(|r| matches!(r.get(unique_at), Some(Value::Integer(1))))
        .filter_map(|r| match r.get(name_at) {
            Some(Value::Text(n)) => Some(n.clone()),
            _ => None,
        })
        .collect();
    if unique.is_empty() {
        return Ok(false);
    }
    let infos = db
        .request(
            unique
                .iter()
                .map(|n| Statement::raw(format!("PRAGMA index_info({})", quote_ident(n))))
                .collect(),
        )
        .await
        .map_err(|e| e.in_table(table, None))?;
    Ok(infos.results.iter().any(|info| {
        let col = info
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case("name"));
        info.rows.len() == 1
            && col.and_then(|i| info.rows[0].get(i)) == Some(&Value::Text("name".to_string()))
    }))
}

/// A failed file's error, noting the files this call applied before it.
fn with_earlier(e: Error, report: &AppliedMigrations) -> Error {
    match e {
        Error::MigrationFile {
            file,
            message,
            error,
        } if !report.applied.is_empty() => Error::MigrationFile {
            file,
            message: format!(
                "{message}. Applied before it, and kept: {}",
                report.applied_names().join(", ")
            ),
            error,
        },
        other => other,
    }
}

/// The text values of the first column of the first statement's rows.
pub(crate) fn first_column_texts(outcome: RequestOutcome) -> Vec<String> {
    outcome
        .results
        .into_iter()
        .next()
        .map(|r| r.rows)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|row| match row.into_iter().next() {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        })
        .collect()
}
