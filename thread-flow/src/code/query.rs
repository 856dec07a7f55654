//! The index's questions, answered through the typed reads of [`crate::D1Table`] on the
//! lookups the row structs' indexes generate ([`SymbolRow::by_name`], [`CallRow::by_callee`],
//! ...). Each answer prints as text ([`std::fmt::Display`], every name, signature and path
//! escaped with [`printable`]) or as JSON ([`Answer::to_json`]).
//!
//! | question | function | served by |
//! |---|---|---|
//! | where is X defined | [`definitions`] | `symbols_name_idx` |
//! | what is in file F | [`file_symbols`] | the `symbols` key `(file, start_line, name)` |
//! | who calls X | [`callers`] | `calls_callee_idx` |
//! | what does X call | [`callees`] | `calls_caller_file_idx` |
//! | what does file F import | [`imports`] | the `imports` key `(file, line, module)` |
//! | who imports module M | [`importers`] | `imports_module_idx` |
//!
//! ```no_run
//! # async fn demo() -> Result<(), thread_flow::code::query::QueryError> {
//! use thread_flow::D1Database;
//! use thread_flow::code::query;
//! let db = D1Database::local("project/.thread-flow/code-index.d1")?;
//! let answer = query::callers(&db, "parse").await?;
//! println!("{answer}");           // text
//! println!("{}", answer.to_json()); // JSON
//! # Ok(()) }
//! ```
//!
//! `CodeIndex::open_existing` (features `recoco`, Unix) opens the database of an index it wrote
//! the same way, but refuses a local file that does not exist instead of creating an empty one.

use std::fmt;

use serde::Serialize;

use crate::code::rows::{CallRow, ImportRow, SymbolRow};
use crate::code::text::{printable, printable_json};
use crate::{D1Database, D1Target};

/// Why a question could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The database has no such table of an index.
    #[error(
        "this D1 database has no `{table}` table: run `code-index <DIR>` first (an index made \
         before imports and calls were indexed gets them on its next run)"
    )]
    NoIndex {
        /// The missing table.
        table: String,
    },
    /// A D1 request failed.
    #[error(transparent)]
    D1(#[from] crate::Error),
}

/// One definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

impl From<SymbolRow> for Definition {
    fn from(row: SymbolRow) -> Definition {
        Definition {
            file: row.file,
            start_line: row.start_line,
            end_line: row.end_line,
            name: row.name,
            kind: row.kind.as_str().to_owned(),
            signature: row.signature,
            parent: row.parent,
        }
    }
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

/// One call site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallSite {
    /// The calling file.
    pub file: String,
    /// Line of the call, 1-based.
    pub line: i64,
    /// The enclosing function or method (`None`: top level).
    pub caller: Option<String>,
    /// The called name.
    pub callee: String,
}

impl From<CallRow> for CallSite {
    fn from(row: CallRow) -> CallSite {
        CallSite {
            file: row.file,
            line: row.line,
            caller: row.caller,
            callee: row.callee,
        }
    }
}

/// One import statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportLine {
    /// The importing file.
    pub file: String,
    /// Line, 1-based.
    pub line: i64,
    /// The module or path as written.
    pub module: String,
    /// The names imported from it.
    pub names: Vec<String>,
}

impl From<ImportRow> for ImportLine {
    fn from(row: ImportRow) -> ImportLine {
        ImportLine {
            file: row.file,
            line: row.line,
            module: row.module,
            names: row.names,
        }
    }
}

fn names_text(names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let names: Vec<String> = names.iter().map(|n| printable(n).into_owned()).collect();
    format!("  {{{}}}", names.join(", "))
}

fn caller_text(caller: Option<&str>) -> String {
    caller.map_or_else(
        || "(top level)".to_owned(),
        |c| format!("in {}", printable(c)),
    )
}

/// An answer of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "query", rename_all = "snake_case")]
pub enum Answer {
    /// Where is `name` defined: exact matches, and close names when there are none.
    Definitions {
        /// The name looked up.
        name: String,
        /// Definitions of exactly that name, by file and line.
        found: Vec<Definition>,
        /// Names containing it (case-insensitively), when nothing matched exactly.
        similar: Vec<String>,
    },
    /// What is in file `path`, in line order.
    File {
        /// The path looked up.
        path: String,
        /// Its definitions.
        symbols: Vec<Definition>,
    },
    /// Who calls `name`, by file and line.
    Callers {
        /// The called name.
        name: String,
        /// The calls.
        calls: Vec<CallSite>,
    },
    /// What `name` calls, by file and line.
    Callees {
        /// The calling function's name.
        name: String,
        /// The calls made inside functions of that name.
        calls: Vec<CallSite>,
    },
    /// What file `path` imports, in line order.
    Imports {
        /// The file.
        path: String,
        /// Its imports.
        imports: Vec<ImportLine>,
    },
    /// Who imports `module`, by file and line.
    Importers {
        /// The module as written in the imports.
        module: String,
        /// The imports of it.
        imports: Vec<ImportLine>,
    },
}

impl Answer {
    /// The answer as pretty JSON (`{"query": "callers", "name": .., "calls": [..]}`), with
    /// every terminal control character escaped (`\u001b`, also C1 controls and bidirectional
    /// overrides, which JSON itself would leave raw).
    pub fn to_json(&self) -> String {
        printable_json(self)
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Definitions {
                name,
                found,
                similar,
            } => {
                let name = printable(name);
                if found.is_empty() {
                    write!(f, "no definition of `{name}` in the index")?;
                    if !similar.is_empty() {
                        let similar: Vec<String> =
                            similar.iter().map(|s| printable(s).into_owned()).collect();
                        write!(f, "; similar names: {}", similar.join(", "))?;
                    }
                    return Ok(());
                }
                write!(
                    f,
                    "{} of `{name}`:",
                    plural(found.len(), "definition", "definitions")
                )?;
                for d in found {
                    write!(f, "\n  {d}")?;
                }
                Ok(())
            }
            Answer::File { path, symbols } => {
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
            Answer::Callers { name, calls } => {
                let name = printable(name);
                if calls.is_empty() {
                    return write!(f, "no call of `{name}` in the index");
                }
                write!(f, "{} of `{name}`:", plural(calls.len(), "call", "calls"))?;
                for c in calls {
                    write!(
                        f,
                        "\n  {}:{}  {}",
                        printable(&c.file),
                        c.line,
                        caller_text(c.caller.as_deref())
                    )?;
                }
                Ok(())
            }
            Answer::Callees { name, calls } => {
                let name = printable(name);
                if calls.is_empty() {
                    return write!(f, "no call made by `{name}` in the index");
                }
                write!(
                    f,
                    "`{name}` makes {}:",
                    plural(calls.len(), "call", "calls")
                )?;
                for c in calls {
                    write!(
                        f,
                        "\n  {}:{}  {}",
                        printable(&c.file),
                        c.line,
                        printable(&c.callee)
                    )?;
                }
                Ok(())
            }
            Answer::Imports { path, imports } => {
                write!(
                    f,
                    "{}: {}",
                    printable(path),
                    plural(imports.len(), "import", "imports")
                )?;
                for i in imports {
                    write!(
                        f,
                        "\n  {}  {}{}",
                        i.line,
                        printable(&i.module),
                        names_text(&i.names)
                    )?;
                }
                Ok(())
            }
            Answer::Importers { module, imports } => {
                let module = printable(module);
                if imports.is_empty() {
                    return write!(f, "no import of `{module}` in the index");
                }
                write!(
                    f,
                    "{} of `{module}`:",
                    plural(imports.len(), "import", "imports")
                )?;
                for i in imports {
                    write!(
                        f,
                        "\n  {}:{}{}",
                        printable(&i.file),
                        i.line,
                        names_text(&i.names)
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Fails with [`QueryError::NoIndex`] when `T`'s table is not in the database.
async fn require<T: D1Target>(db: &D1Database) -> Result<(), QueryError> {
    let table = &T::schema().name;
    if db.live_schema(table).await?.is_none() {
        return Err(QueryError::NoIndex {
            table: table.clone(),
        });
    }
    Ok(())
}

/// At most this many similar names are suggested.
pub const MAX_SIMILAR: usize = 10;

/// Where is `name` defined (served by `symbols_name_idx`). When nothing is, up to
/// [`MAX_SIMILAR`] names containing it, case-insensitively.
pub async fn definitions(db: &D1Database, name: &str) -> Result<Answer, QueryError> {
    require::<SymbolRow>(db).await?;
    let found: Vec<Definition> = db
        .table::<SymbolRow>()
        .find(SymbolRow::by_name(name))
        .await?
        .into_iter()
        .map(Definition::from)
        .collect();
    let mut similar = Vec::new();
    if found.is_empty() {
        similar = similar_names(db, name).await?;
    }
    Ok(Answer::Definitions {
        name: name.to_owned(),
        found,
        similar,
    })
}

/// Names containing `name` (case-insensitively), sorted, at most [`MAX_SIMILAR`].
///
/// The one question no lookup answers (no index serves a substring), so it is the one query
/// with SQL text: `LIKE` with the pattern bound as a parameter, decoded by
/// [`D1Database::query_as`] into the typed row.
async fn similar_names(db: &D1Database, name: &str) -> Result<Vec<String>, QueryError> {
    let pattern = format!(
        "%{}%",
        name.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let schema = SymbolRow::schema();
    let columns: Vec<String> = schema
        .columns
        .iter()
        .map(|c| crate::sql::quote_ident(&c.name))
        .collect();
    let sql = format!(
        "SELECT {} FROM {} WHERE {} IN (SELECT DISTINCT {} FROM {} WHERE {} LIKE ? ESCAPE '\\' \
         ORDER BY {} LIMIT {MAX_SIMILAR})",
        columns.join(", "),
        crate::sql::quote_ident(&schema.name),
        crate::sql::quote_ident("name"),
        crate::sql::quote_ident("name"),
        crate::sql::quote_ident(&schema.name),
        crate::sql::quote_ident("name"),
        crate::sql::quote_ident("name"),
    );
    let rows: Vec<SymbolRow> = db.query_as(sql, vec![crate::Value::Text(pattern)]).await?;
    let mut names: Vec<String> = rows.into_iter().map(|r| r.name).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The index's path form of `path`: relative to the tree, `/`-separated, no leading `./`.
fn index_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut path = path.as_str();
    while let Some(rest) = path.strip_prefix("./") {
        path = rest;
    }
    path.to_owned()
}

/// What is defined in file `path` (relative to the tree), in line order (served by the
/// `symbols` key).
pub async fn file_symbols(db: &D1Database, path: &str) -> Result<Answer, QueryError> {
    require::<SymbolRow>(db).await?;
    let path = index_path(path);
    let symbols = db
        .table::<SymbolRow>()
        .find(SymbolRow::by_file(path.as_str()))
        .await?
        .into_iter()
        .map(Definition::from)
        .collect();
    Ok(Answer::File { path, symbols })
}

/// Who calls `name` (served by `calls_callee_idx`), by file and line.
pub async fn callers(db: &D1Database, name: &str) -> Result<Answer, QueryError> {
    require::<CallRow>(db).await?;
    let calls = db
        .table::<CallRow>()
        .find(CallRow::by_callee(name))
        .await?
        .into_iter()
        .map(CallSite::from)
        .collect();
    Ok(Answer::Callers {
        name: name.to_owned(),
        calls,
    })
}

/// What functions named `name` call (served by `calls_caller_file_idx`), by file and line.
pub async fn callees(db: &D1Database, name: &str) -> Result<Answer, QueryError> {
    require::<CallRow>(db).await?;
    let calls = db
        .table::<CallRow>()
        .find(CallRow::by_caller(Some(name.to_owned())))
        .await?
        .into_iter()
        .map(CallSite::from)
        .collect();
    Ok(Answer::Callees {
        name: name.to_owned(),
        calls,
    })
}

/// What file `path` (relative to the tree) imports, in line order (served by the `imports`
/// key).
pub async fn imports(db: &D1Database, path: &str) -> Result<Answer, QueryError> {
    require::<ImportRow>(db).await?;
    let path = index_path(path);
    let imports = db
        .table::<ImportRow>()
        .find(ImportRow::by_file(path.as_str()))
        .await?
        .into_iter()
        .map(ImportLine::from)
        .collect();
    Ok(Answer::Imports { path, imports })
}

/// Who imports `module`, as written in the imports (served by `imports_module_idx`), by file
/// and line.
pub async fn importers(db: &D1Database, module: &str) -> Result<Answer, QueryError> {
    require::<ImportRow>(db).await?;
    let imports = db
        .table::<ImportRow>()
        .find(ImportRow::by_module(module))
        .await?
        .into_iter()
        .map(ImportLine::from)
        .collect();
    Ok(Answer::Importers {
        module: module.to_owned(),
        imports,
    })
}
