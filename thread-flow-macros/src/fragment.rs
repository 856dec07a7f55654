//! SQL fragments written as strings in attributes: a partial index's `where = ".."` and a
//! field's `default_sql = ".."`. Each is parsed with `sqlparser`'s SQLite dialect and must be
//! exactly one expression with nothing after it; what it may read follows SQLite's rules for
//! the place the DDL puts it:
//!
//! - `where` (a partial index): only the table's own columns (or `rowid` in a rowid table),
//!   no subquery, no `?` parameter, no aggregate or window function, no non-deterministic
//!   function (`random()`, `changes()`, `CURRENT_TIMESTAMP`, a date/time function of `'now'`).
//! - `default_sql` (a column default): a constant, so no column at all, no subquery, no
//!   parameter, no aggregate or window function; `random()` or `CURRENT_TIMESTAMP` are fine
//!   (SQLite evaluates a default per inserted row).
//!
//! The runtime checks the same fragments with SQLite itself (`thread_flow::schema::probe`)
//! for schemas that arrive as data; this stage reports them at compile time, as text the
//! check stage puts on the string literal's span. Nothing here panics.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, InTarget,
    ObjectNamePart, Value, visit_expressions, visit_relations,
};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

/// Functions SQLite refuses in a partial index condition (they give another answer each
/// time, or depend on the connection).
const NON_DETERMINISTIC: &[&str] = &[
    "random",
    "randomblob",
    "changes",
    "total_changes",
    "last_insert_rowid",
    "sqlite_version",
    "sqlite_source_id",
    "sqlite_compileoption_get",
    "sqlite_compileoption_used",
    "sqlite_offset",
    "load_extension",
    "current_date",
    "current_time",
    "current_timestamp",
];

/// Date and time functions: deterministic unless given `'now'`.
const DATE_TIME: &[&str] = &[
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
];

/// Aggregate functions (`min`/`max` only with one argument; with more they are scalar).
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "total",
    "group_concat",
    "string_agg",
    "json_group_array",
    "json_group_object",
];

/// The table a `where` reads.
pub(crate) struct WhereScope<'a> {
    /// The table's name (a column may be qualified with it).
    pub(crate) table: &'a str,
    /// The table's columns (after renames).
    pub(crate) columns: &'a [&'a str],
    /// Fields stored under another column name, as (field, column): a `where` that names
    /// the field gets told the column's name.
    pub(crate) renamed: &'a [(String, &'a str)],
    /// Whether `rowid` exists (not a `WITHOUT ROWID` table).
    pub(crate) has_rowid: bool,
}

/// Every problem with a partial index condition (empty when it is fine).
pub(crate) fn where_problems(sql: &str, scope: &WhereScope<'_>) -> Vec<String> {
    let expr = match parse_one(sql) {
        Ok(expr) => expr,
        Err(why) => return vec![why],
    };
    let mut out = Vec::new();
    if let Some(why) = shape_problem(&expr) {
        out.push(format!(
            "{why} is not allowed in a partial index condition; use the table's columns, \
             constants and deterministic functions"
        ));
        return out;
    }
    let _ = visit_expressions(&expr, |e| {
        match e {
            Expr::Identifier(id) => column_problem(std::slice::from_ref(id), scope, &mut out),
            Expr::CompoundIdentifier(parts) => column_problem(parts, scope, &mut out),
            Expr::Function(f) => {
                let name = function_name(f);
                if NON_DETERMINISTIC.contains(&name.as_str()) {
                    out.push(format!(
                        "`{name}` gives another value each time; SQLite refuses \
                         non-deterministic functions in a partial index condition"
                    ));
                } else if DATE_TIME.contains(&name.as_str()) && reads_now(f) {
                    out.push(format!(
                        "`{name}` of 'now' changes with the clock; SQLite refuses it in a \
                         partial index condition (it fails when a row is written)"
                    ));
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// Every problem with a column default (empty when it is fine).
pub(crate) fn default_problems(sql: &str) -> Vec<String> {
    let expr = match parse_one(sql) {
        Ok(expr) => expr,
        Err(why) => return vec![why],
    };
    let mut out = Vec::new();
    if let Some(why) = shape_problem(&expr) {
        out.push(format!(
            "{why} is not allowed in a default: SQLite needs a constant expression"
        ));
        return out;
    }
    let _ = visit_expressions(&expr, |e| {
        let named = match e {
            Expr::Identifier(id) => Some((ident_text(std::slice::from_ref(id)), id.quote_style)),
            Expr::CompoundIdentifier(parts) => {
                Some((ident_text(parts), parts.last().and_then(|p| p.quote_style)))
            }
            _ => None,
        };
        if let Some((name, quote)) = named {
            let hint = if quote == Some('"') {
                "; double quotes name a column in SQLite, write text in single quotes ('...')"
            } else {
                "; to copy another column, set the value when writing the row"
            };
            out.push(format!(
                "a default cannot read column `{name}`: SQLite needs a constant expression{hint}"
            ));
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// Parses `sql` as exactly one SQLite expression with nothing after it.
fn parse_one(sql: &str) -> Result<Expr, String> {
    let sql = sql.trim();
    if sql.is_empty() {
        return Err("the SQL is empty; write one expression".into());
    }
    let dialect = SQLiteDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| format!("this is not valid SQL: {e}"))?;
    let mut parser = Parser::new(&dialect)
        .try_with_sql(sql)
        .map_err(|e| format!("this is not valid SQL: {}", parser_message(e)))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| format!("this is not one SQL expression: {}", parser_message(e)))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(format!(
            "this is not one SQL expression: `{}` follows the expression at column {}; \
             write a single expression with nothing after it (no `,`, `;` or `)`)",
            next.token, next.span.start.column
        ));
    }
    // The DDL puts the fragment inside parentheses (a default) or before other SQL (the
    // runtime's probe): a `--` comment at the end would swallow what follows it.
    let unterminated = match tokens.last() {
        Some(Token::Whitespace(Whitespace::SingleLineComment { .. })) => true,
        Some(Token::Whitespace(Whitespace::MultiLineComment(text))) => {
            !sql.ends_with(&format!("/*{text}*/"))
        }
        _ => false,
    };
    if unterminated {
        return Err(
            "the SQL ends in a comment that is not closed (`--` or `/*`), which would swallow \
             what the DDL writes after it; remove it or close it with */"
                .into(),
        );
    }
    Ok(expr)
}

fn parser_message(e: ParserError) -> String {
    match e {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s,
        ParserError::RecursionLimitExceeded => "the expression nests too deeply".into(),
    }
}

/// What neither place allows: a subquery, a `?` parameter, an aggregate or window function.
fn shape_problem(expr: &Expr) -> Option<String> {
    let mut found = None;
    let _ = visit_expressions(expr, |e| {
        let why = match e {
            Expr::Subquery(_)
            | Expr::Exists { .. }
            | Expr::In {
                target: InTarget::Subquery(_) | InTarget::Table { .. },
                ..
            } => Some("a subquery".to_string()),
            Expr::Value(v) if matches!(v.value, Value::Placeholder(_)) => {
                Some(format!("the parameter `{}`", v.value))
            }
            Expr::Function(f) => {
                let name = function_name(f);
                if f.over.is_some() {
                    Some(format!("the window function `{name}`"))
                } else if matches!(f.args, FunctionArguments::Subquery(_)) {
                    Some("a subquery".to_string())
                } else if AGGREGATES.contains(&name.as_str())
                    || (matches!(name.as_str(), "min" | "max") && argument_count(f) == 1)
                {
                    Some(format!("the aggregate function `{name}`"))
                } else {
                    None
                }
            }
            _ => None,
        };
        match why {
            Some(why) => {
                found = Some(why);
                ControlFlow::Break(())
            }
            None => ControlFlow::Continue(()),
        }
    });
    if found.is_none() {
        // Any table read at all (a table-valued function, `x IN some_table`) is a subquery.
        let _ = visit_relations(expr, |name| {
            found = Some(format!("reading table `{name}`"));
            ControlFlow::Break(())
        });
    }
    found
}

fn function_name(f: &Function) -> String {
    match f.name.0.last() {
        Some(ObjectNamePart::Identifier(id)) => id.value.to_ascii_lowercase(),
        _ => f.name.to_string().to_ascii_lowercase(),
    }
}

fn argument_count(f: &Function) -> usize {
    match &f.args {
        FunctionArguments::List(list) => list.args.len(),
        _ => 0,
    }
}

/// Whether a date/time function reads the clock: an argument is the text `'now'`.
fn reads_now(f: &Function) -> bool {
    let FunctionArguments::List(list) = &f.args else {
        return false;
    };
    list.args.iter().any(|a| {
        matches!(
            a,
            FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))
                if matches!(&v.value, Value::SingleQuotedString(s) if s.trim().eq_ignore_ascii_case("now"))
        )
    })
}

fn ident_text(parts: &[Ident]) -> String {
    parts
        .iter()
        .map(|p| p.value.as_str())
        .collect::<Vec<_>>()
        .join(".")
}

/// Checks a column reference (`col`, `table.col`, `main.table.col`) against the table.
fn column_problem(parts: &[Ident], scope: &WhereScope<'_>, out: &mut Vec<String>) {
    let Some((column, qualifiers)) = parts.split_last() else {
        return;
    };
    let qualified_ok = match qualifiers {
        [] => true,
        [table] => table.value.eq_ignore_ascii_case(scope.table),
        [schema, table] => {
            schema.value.eq_ignore_ascii_case("main")
                && table.value.eq_ignore_ascii_case(scope.table)
        }
        _ => false,
    };
    if !qualified_ok {
        out.push(format!(
            "`{}` is not a column of table `{}`; a partial index condition reads only its own \
             table's columns",
            ident_text(parts),
            scope.table
        ));
        return;
    }
    let name = column.value.as_str();
    let known = scope.columns.iter().any(|c| c.eq_ignore_ascii_case(name))
        || (scope.has_rowid
            && ["rowid", "oid", "_rowid_"]
                .iter()
                .any(|r| r.eq_ignore_ascii_case(name)));
    if known {
        return;
    }
    if let Some((field, column)) = scope
        .renamed
        .iter()
        .find(|(f, _)| f.eq_ignore_ascii_case(name))
    {
        out.push(format!(
            "unknown column `{name}`: field `{field}` is stored as column `{column}`; a \
             condition names columns, so write `{column}`"
        ));
        return;
    }
    let text_hint = if column.quote_style == Some('"') {
        " (double quotes name a column in SQLite; write text in single quotes)"
    } else {
        ""
    };
    out.push(format!(
        "unknown column `{name}`{text_hint}; {}the columns of table `{}` are {}",
        crate::attr::hint(name, scope.columns),
        scope.table,
        scope
            .columns
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
}
