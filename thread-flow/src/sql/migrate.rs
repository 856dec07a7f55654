//! The migration planner: what brings a live table (or no table) to a target [`TableSchema`].
//! Pure: no I/O; the live schema comes from [`crate::D1Database::live_schema`].
//!
//! - No table: `CREATE TABLE` + `CREATE INDEX` for each index.
//! - Added nullable columns and added columns with a constant default: `ALTER TABLE ADD COLUMN`.
//! - Index added, removed or changed (columns, uniqueness, predicate): drop and create.
//! - What SQLite cannot `ALTER` (key change, type change, nullability or default change, STRICT or
//!   WITHOUT ROWID change, dropped column): a *table rebuild* that keeps every row: create the new
//!   table under a temporary name, copy the common columns (`CAST` where the type changed), drop
//!   the old table, rename the new one, recreate the indexes. Apply a plan as one request
//!   ([`MigrationPlan::statements`]) and the rebuild is atomic: a row that does not fit the new
//!   table (a duplicate under a new key, a NULL in a column that became NOT NULL) fails the request
//!   and leaves the table as it was.
//! - Refused with [`Error::MigrationRefused`] unless [`MigrationOptions::allow_data_loss`]: a
//!   dropped column, a type change whose conversion may change values (everything but INTEGER or
//!   REAL to TEXT and TEXT to BLOB), and a NOT NULL column without default added to an existing
//!   table (a pure planner cannot know whether the table is empty, so it refuses; with the opt-in,
//!   existing rows get the type's zero value: `0`, `0.0`, `''` or an empty BLOB).
//!   [`crate::D1Table::migrate`] retries with the opt-in when the live table has no rows, since
//!   nothing can be lost then.
//!
//! Replay: `CREATE ... IF NOT EXISTS`, `DROP ... IF EXISTS` and the rebuild (which starts by
//! dropping a leftover temporary table) are safe to run again; `ALTER TABLE ADD COLUMN` is not
//! (SQLite has no `IF NOT EXISTS` for it). A caller that may replay after a crash should re-plan
//! from the live schema ([`crate::D1Database::migrate_table`] does), which yields an empty plan
//! once the migration has been applied.

use super::ddl::{
    create_index_on, create_table_named, drop_index, drop_table, push_ident_list, render_default,
};
use super::{Statement, literal, push_ident, quote_ident};
use crate::schema::{Column, ColumnDefault, Index, SqlType, TableSchema};
use crate::{Error, Result, Value};

/// What a migration may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationOptions {
    /// Apply changes that may lose data (dropped columns, lossy type changes, NOT NULL columns
    /// without default on existing rows). Off by default.
    pub allow_data_loss: bool,
}

/// One step of a migration, described in plain words.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationStep {
    /// What the step does ("add column `x` (TEXT, nullable) to table `t`").
    pub description: String,
    /// The statements, in order.
    pub statements: Vec<Statement>,
}

/// The steps that bring a table to its target schema. Empty when nothing changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MigrationPlan {
    /// Steps in order.
    pub steps: Vec<MigrationStep>,
    /// Whether the plan rebuilds the table (copies every row).
    pub rebuild: bool,
}

impl MigrationPlan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Every statement of every step, in order; send them as one request.
    pub fn statements(&self) -> Vec<Statement> {
        self.steps
            .iter()
            .flat_map(|s| s.statements.iter().cloned())
            .collect()
    }

    /// The step descriptions, in order.
    pub fn descriptions(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.description.clone()).collect()
    }
}

impl std::fmt::Display for MigrationPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.steps.is_empty() {
            return f.write_str("-- nothing to do\n");
        }
        for step in &self.steps {
            writeln!(f, "-- {}", step.description)?;
            for s in &step.statements {
                writeln!(f, "{};", s.sql)?;
            }
        }
        Ok(())
    }
}

fn step(description: String, statements: Vec<Statement>) -> MigrationStep {
    MigrationStep {
        description,
        statements,
    }
}

/// Plans the migration from `from` (the live table, `None` when it does not exist) to `to`.
pub fn plan_migration(
    from: Option<&TableSchema>,
    to: &TableSchema,
    options: &MigrationOptions,
) -> Result<MigrationPlan> {
    to.validate()?;
    let Some(from) = from else {
        return Ok(create_plan(to));
    };
    let table = &to.name;

    let mut rebuild: Vec<String> = Vec::new();
    let mut losses: Vec<String> = Vec::new();

    if !same_names(&from.primary_key, &to.primary_key) {
        rebuild.push(format!(
            "the primary key changes from ({}) to ({})",
            from.primary_key.join(", "),
            to.primary_key.join(", ")
        ));
    }
    if from.strict != to.strict {
        rebuild.push(if to.strict {
            "the table becomes STRICT".into()
        } else {
            "the table stops being STRICT".into()
        });
    }
    if from.without_rowid != to.without_rowid {
        rebuild.push(if to.without_rowid {
            "the table becomes WITHOUT ROWID".into()
        } else {
            "the table stops being WITHOUT ROWID".into()
        });
    }

    let mut added: Vec<&Column> = Vec::new();
    for c in &to.columns {
        let Some(old) = find_column(from, &c.name) else {
            added.push(c);
            continue;
        };
        if old.sql_type != c.sql_type {
            rebuild.push(format!(
                "column `{}` changes type from {} to {}",
                c.name, old.sql_type, c.sql_type
            ));
            if !safe_conversion(old.sql_type, c.sql_type) {
                losses.push(format!(
                    "column `{}` changes type from {} to {}, which may change or lose stored values",
                    c.name, old.sql_type, c.sql_type
                ));
            }
        }
        let old_nullable = old.nullable && !from.is_key_column(&old.name);
        let new_nullable = c.nullable && !to.is_key_column(&c.name);
        if old_nullable != new_nullable {
            rebuild.push(if new_nullable {
                format!("column `{}` becomes nullable", c.name)
            } else {
                format!("column `{}` becomes NOT NULL (the migration fails, changing nothing, if a row holds NULL there)", c.name)
            });
        }
        if default_sql(&old.default) != default_sql(&c.default) {
            rebuild.push(format!("column `{}` changes its default", c.name));
        }
    }
    for old in &from.columns {
        if find_column(to, &old.name).is_none() {
            rebuild.push(format!("column `{}` is dropped", old.name));
            losses.push(format!(
                "column `{}` would be dropped with its data",
                old.name
            ));
        }
    }
    let mut alterable = Vec::new();
    for c in &added {
        let needs_value = !c.nullable || to.is_key_column(&c.name);
        let has_default = !matches!(c.default, None | Some(ColumnDefault::Value(Value::Null)));
        if needs_value && !has_default {
            losses.push(format!(
                "NOT NULL column `{}` without a default is added to an existing table; existing rows have no value for it (give it a default, make it nullable, or opt in to fill existing rows with {})",
                c.name,
                literal(&zero_value(c.sql_type))
            ));
            rebuild.push(format!("NOT NULL column `{}` is added", c.name));
        } else if to.is_key_column(&c.name) || !constant_default(&c.default) {
            rebuild.push(format!("column `{}` is added", c.name));
        } else {
            alterable.push(*c);
        }
    }

    if !losses.is_empty() && !options.allow_data_loss {
        return Err(Error::MigrationRefused {
            table: table.clone(),
            reason: format!(
                "{}. Nothing was changed. To apply it anyway, migrate with MigrationOptions {{ allow_data_loss: true }} (D1Table::migrate_with)",
                losses.join("; ")
            ),
        });
    }

    if !rebuild.is_empty() {
        return Ok(rebuild_plan(from, to, &rebuild, options));
    }

    // In-place changes: drop removed or changed indexes, add columns, create indexes.
    let mut plan = MigrationPlan::default();
    let mut create: Vec<&Index> = Vec::new();
    for old in &from.indexes {
        match to
            .indexes
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(&old.name))
        {
            None => plan.steps.push(step(
                format!(
                    "drop index `{}` of table `{table}` (no longer declared)",
                    old.name
                ),
                vec![Statement::raw(drop_index(&old.name))],
            )),
            Some(new) if !same_index(old, new) => plan.steps.push(step(
                format!(
                    "drop index `{}` of table `{table}` to recreate it with its new definition",
                    old.name
                ),
                vec![Statement::raw(drop_index(&old.name))],
            )),
            Some(_) => {}
        }
    }
    for c in alterable {
        let mut sql = String::from("ALTER TABLE ");
        push_ident(&mut sql, table);
        sql.push_str(" ADD COLUMN ");
        sql.push_str(&super::ddl::column_def(c, false));
        plan.steps.push(step(
            format!(
                "add column `{}` ({}{}) to table `{table}`",
                c.name,
                c.sql_type,
                describe_null_default(c)
            ),
            vec![Statement::raw(sql)],
        ));
    }
    for new in &to.indexes {
        let exists = from
            .indexes
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&new.name) && same_index(o, new));
        if !exists {
            create.push(new);
        }
    }
    for ix in create {
        plan.steps.push(create_index_step(table, ix));
    }
    Ok(plan)
}

/// Drops the table of `schema` and its indexes (`DROP TABLE IF EXISTS`).
pub fn plan_drop(schema: &TableSchema) -> MigrationPlan {
    MigrationPlan {
        steps: vec![step(
            format!("drop table `{}` with its indexes and rows", schema.name),
            vec![Statement::raw(drop_table(&schema.name))],
        )],
        rebuild: false,
    }
}

fn create_plan(to: &TableSchema) -> MigrationPlan {
    let mut steps = vec![step(
        format!(
            "create table `{}` with columns {} and primary key ({})",
            to.name,
            to.columns
                .iter()
                .map(|c| format!("`{}` {}", c.name, c.sql_type))
                .collect::<Vec<_>>()
                .join(", "),
            to.primary_key.join(", ")
        ),
        vec![Statement::raw(create_table_named(to, &to.name))],
    )];
    for ix in &to.indexes {
        steps.push(create_index_step(&to.name, ix));
    }
    MigrationPlan {
        steps,
        rebuild: false,
    }
}

fn create_index_step(table: &str, ix: &Index) -> MigrationStep {
    step(
        format!(
            "create {}index `{}` on table `{table}` ({}){}",
            if ix.unique { "unique " } else { "" },
            ix.name,
            ix.columns.join(", "),
            ix.where_clause
                .as_ref()
                .map(|w| format!(" where {w}"))
                .unwrap_or_default()
        ),
        vec![Statement::raw(create_index_on(table, ix))],
    )
}

fn rebuild_plan(
    from: &TableSchema,
    to: &TableSchema,
    reasons: &[String],
    options: &MigrationOptions,
) -> MigrationPlan {
    let table = &to.name;
    let temp = format!("{table}__thread_flow_rebuild");
    let mut statements = vec![
        Statement::raw(drop_table(&temp)),
        Statement::raw(create_table_named(to, &temp)),
    ];
    let mut targets: Vec<&str> = Vec::new();
    let mut exprs: Vec<String> = Vec::new();
    for c in &to.columns {
        let new_nullable = c.nullable && !to.is_key_column(&c.name);
        match find_column(from, &c.name) {
            Some(old) => {
                let mut e = quote_ident(&old.name);
                if old.sql_type != c.sql_type {
                    e = format!("CAST({e} AS {})", c.sql_type);
                }
                if !new_nullable && options.allow_data_loss {
                    let fill = match &c.default {
                        Some(d) if !matches!(d, ColumnDefault::Value(Value::Null)) => {
                            render_default(d)
                        }
                        _ => literal(&zero_value(c.sql_type)),
                    };
                    if old.nullable || from.is_key_column(&old.name) {
                        e = format!("COALESCE({e}, {fill})");
                    }
                }
                targets.push(&c.name);
                exprs.push(e);
            }
            None => {
                let has_default =
                    !matches!(c.default, None | Some(ColumnDefault::Value(Value::Null)));
                if !new_nullable && !has_default {
                    targets.push(&c.name);
                    exprs.push(literal(&zero_value(c.sql_type)));
                }
            }
        }
    }
    if !targets.is_empty() {
        let mut sql = String::from("INSERT INTO ");
        push_ident(&mut sql, &temp);
        sql.push_str(" (");
        push_ident_list(&mut sql, targets.iter().copied());
        sql.push_str(") SELECT ");
        sql.push_str(&exprs.join(", "));
        sql.push_str(" FROM ");
        push_ident(&mut sql, &from.name);
        statements.push(Statement::raw(sql));
    }
    statements.push(Statement::raw(format!(
        "DROP TABLE {}",
        quote_ident(&from.name)
    )));
    statements.push(Statement::raw(format!(
        "ALTER TABLE {} RENAME TO {}",
        quote_ident(&temp),
        quote_ident(table)
    )));
    let mut steps = vec![step(
        format!(
            "rebuild table `{table}` keeping its rows, because {}",
            reasons.join("; ")
        ),
        statements,
    )];
    for ix in &to.indexes {
        steps.push(create_index_step(table, ix));
    }
    MigrationPlan {
        steps,
        rebuild: true,
    }
}

fn describe_null_default(c: &Column) -> String {
    let mut s = String::from(if c.nullable {
        ", nullable"
    } else {
        ", NOT NULL"
    });
    if let Some(d) = &c.default {
        s.push_str(", default ");
        s.push_str(&render_default(d));
    }
    s
}

fn find_column<'a>(schema: &'a TableSchema, name: &str) -> Option<&'a Column> {
    schema
        .columns
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(name))
}

fn same_names(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq_ignore_ascii_case(y))
}

fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn same_index(a: &Index, b: &Index) -> bool {
    a.unique == b.unique
        && same_names(&a.columns, &b.columns)
        && a.where_clause
            .as_deref()
            .map(normalize_ws)
            .filter(|w| !w.is_empty())
            == b.where_clause
                .as_deref()
                .map(normalize_ws)
                .filter(|w| !w.is_empty())
}

/// A default's SQL text, with "no default" and `DEFAULT NULL` treated alike.
fn default_sql(d: &Option<ColumnDefault>) -> Option<String> {
    match d {
        None | Some(ColumnDefault::Value(Value::Null)) => None,
        Some(d) => Some(render_default(d)),
    }
}

/// Whether `ALTER TABLE ADD COLUMN` accepts this default (a constant, not an expression).
fn constant_default(d: &Option<ColumnDefault>) -> bool {
    match d {
        None | Some(ColumnDefault::Value(_)) => true,
        Some(ColumnDefault::Sql(s)) => super::introspect::parse_literal(s.trim()).is_some(),
    }
}

/// Conversions that keep every value exactly.
fn safe_conversion(from: SqlType, to: SqlType) -> bool {
    matches!(
        (from, to),
        (SqlType::Integer, SqlType::Text)
            | (SqlType::Real, SqlType::Text)
            | (SqlType::Text, SqlType::Blob)
    )
}

fn zero_value(t: SqlType) -> Value {
    match t {
        SqlType::Integer => Value::Integer(0),
        SqlType::Real => Value::Real(0.0),
        SqlType::Text => Value::Text(String::new()),
        SqlType::Blob => Value::Blob(Vec::new()),
    }
}
