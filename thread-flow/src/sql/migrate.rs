//! The migration planner: what brings a live table (or no table) to a target [`TableSchema`].
//! Pure: no I/O; the live schema comes from [`crate::D1Database::live_schema`].
//!
//! - No table: `CREATE TABLE` + `CREATE INDEX` for each index.
//! - Added nullable columns and added columns with a constant default: `ALTER TABLE ADD COLUMN`.
//! - Index added, removed or changed (columns, uniqueness, predicate): drop and create.
//! - What SQLite cannot `ALTER` (key change, type change, nullability or default change, STRICT or
//!   WITHOUT ROWID change, dropped column): a *table rebuild* that keeps every row: create the new
//!   table under a temporary name, copy the common columns (`CAST` where the type changed; a REAL
//!   becoming TEXT keeps all the digits it needs to read back as the same number), drop the old
//!   table, rename the new one, recreate the indexes and the table's triggers (read from
//!   `sqlite_schema`; dropping a table drops its triggers). Apply a plan as one request
//!   ([`MigrationPlan::statements`]) and the rebuild is atomic: a row that does not fit the new
//!   table (a duplicate under a new key, a NULL in a column that became NOT NULL) fails the
//!   request and leaves the table as it was.
//! - A rebuild of a table that other tables reference with a foreign key is refused (the error
//!   names the referencing tables) unless [`MigrationOptions::rebuild_referenced`]; with it, the
//!   rebuild runs under `PRAGMA defer_foreign_keys = on` and copies the rows back into a table
//!   created under the final name, so every referencing row finds its parent again by the end
//!   of the request (or the request fails, changing nothing). Keys with an `ON DELETE` action
//!   (`CASCADE`, `SET NULL`, `SET DEFAULT`) are always refused while the table has rows: D1 cannot
//!   turn foreign keys off, so dropping the old table would fire them on the referencing rows.
//! - Refused with [`Error::MigrationRefused`] unless [`MigrationOptions::allow_data_loss`]: a
//!   dropped column, a type change whose conversion may change values (everything but INTEGER or
//!   REAL to TEXT and TEXT to BLOB), and a NOT NULL column without default added to an existing
//!   table (a pure planner cannot know whether the table is empty, so it refuses; with the opt-in,
//!   existing rows get the type's zero value: `0`, `0.0`, `''` or an empty BLOB).
//!   [`crate::D1Table::migrate`] applies such a change anyway when the live table has no rows,
//!   with [`plan_migration_of_empty_table`]: the plan's first statements check, inside the same
//!   request, that the table is still empty, so a row written after the read is never lost.
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

/// What a migration may do ([`crate::D1Table::migrate_with`]). Everything is off by default.
///
/// New settings may be added in any release, so the struct cannot be built with a literal:
///
/// ```
/// let options = thread_flow::MigrationOptions::default().with_allow_data_loss(true);
/// assert!(options.allow_data_loss);
/// assert!(!options.rebuild_referenced);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationOptions {
    /// Apply changes that may lose data (dropped columns, lossy type changes, NOT NULL columns
    /// without default on existing rows). Off by default.
    pub allow_data_loss: bool,
    /// Rebuild a table that other tables reference with a foreign key. Off by default: such a
    /// rebuild is refused with [`Error::MigrationRefused`] naming the referencing tables.
    ///
    /// With it, the rebuild runs under `PRAGMA defer_foreign_keys = on` (D1 ignores
    /// `PRAGMA foreign_keys` and refuses `BEGIN`), copies the rows out and back in so every
    /// referencing row finds its parent again, and the request fails, changing nothing, if one
    /// does not. Keys declared `ON DELETE CASCADE`, `SET NULL` or `SET DEFAULT` are refused
    /// even with this option while the table has rows: dropping the old table would fire those
    /// actions on the referencing rows (deleting or changing them), and D1 offers no way to turn
    /// them off. Change such keys to `NO ACTION` (or empty the table) first.
    pub rebuild_referenced: bool,
}

impl MigrationOptions {
    /// Sets [`MigrationOptions::allow_data_loss`].
    pub fn with_allow_data_loss(mut self, allow: bool) -> MigrationOptions {
        self.allow_data_loss = allow;
        self
    }

    /// Sets [`MigrationOptions::rebuild_referenced`].
    pub fn with_rebuild_referenced(mut self, rebuild: bool) -> MigrationOptions {
        self.rebuild_referenced = rebuild;
        self
    }
}

/// A foreign key of another table that references the migrated table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferencingKey {
    /// The referencing (child) table.
    pub table: String,
    /// Its columns that hold the reference.
    pub columns: Vec<String>,
    /// Its `ON DELETE` action as SQLite reports it (`NO ACTION`, `RESTRICT`, `CASCADE`,
    /// `SET NULL`, `SET DEFAULT`).
    pub on_delete: String,
}

impl ReferencingKey {
    /// Whether dropping the referenced table changes the referencing rows (an `ON DELETE`
    /// action other than `NO ACTION` / `RESTRICT`, which a deferred check turns into a check at
    /// the end of the request).
    pub fn acts_on_delete(&self) -> bool {
        let action = normalize_ws(&self.on_delete).to_ascii_uppercase();
        !matches!(action.as_str(), "" | "NO ACTION" | "RESTRICT")
    }

    fn describe(&self) -> String {
        format!(
            "`{}` ({}) ON DELETE {}",
            self.table,
            self.columns.join(", "),
            if self.on_delete.trim().is_empty() {
                "NO ACTION"
            } else {
                self.on_delete.trim()
            }
        )
    }
}

/// A trigger of the migrated table, as `sqlite_schema` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableTrigger {
    /// Trigger name.
    pub name: String,
    /// Its `CREATE TRIGGER` statement.
    pub sql: String,
}

/// What else in the database hangs on a table and must survive a rebuild: the foreign keys of
/// other tables that reference it and its triggers. Read by `D1Database::live_table`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableDependents {
    /// Foreign keys of other tables referencing this one.
    pub referenced_by: Vec<ReferencingKey>,
    /// Triggers on this table (dropped with it by a rebuild, then recreated).
    pub triggers: Vec<TableTrigger>,
    /// Views and triggers of other tables whose SQL mentions this table's name. SQLite re-checks
    /// them when a table is renamed and fails the rename while the table is missing, so a
    /// rebuild then copies the rows back instead of renaming the copy.
    pub mentioned_by: Vec<String>,
}

impl TableDependents {
    /// The referencing keys, described and joined with `, ` for a message.
    fn describe_referenced_by(&self) -> String {
        self.referenced_by
            .iter()
            .map(ReferencingKey::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One step of a migration, described in plain words.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MigrationStep {
    /// What the step does ("add column `x` (TEXT, nullable) to table `t`").
    pub description: String,
    /// The statements, in order.
    pub statements: Vec<Statement>,
}

/// The steps that bring a table to its target schema. Empty when nothing changes.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct MigrationPlan {
    /// Steps in order.
    pub steps: Vec<MigrationStep>,
    /// Whether the plan rebuilds the table (copies every row).
    pub rebuild: bool,
    /// Whether the plan was allowed only because the table was empty when it was read: its
    /// first step fails the request, changing nothing, when the table holds a row by then.
    pub requires_empty_table: bool,
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

/// Plans the migration from `from` (the live table, `None` when it does not exist) to `to`,
/// for a table nothing else depends on (no referencing foreign keys, no triggers). Use
/// [`plan_migration_with`] with what `D1Database::live_table` read for a live table.
pub fn plan_migration(
    from: Option<&TableSchema>,
    to: &TableSchema,
    options: &MigrationOptions,
) -> Result<MigrationPlan> {
    plan_migration_with(from, &TableDependents::default(), to, options)
}

/// Plans the migration from `from` (the live table, `None` when it does not exist) to `to`,
/// keeping what depends on the table: a rebuild recreates its triggers, and is refused when
/// other tables reference it (see [`MigrationOptions::rebuild_referenced`]).
pub fn plan_migration_with(
    from: Option<&TableSchema>,
    dependents: &TableDependents,
    to: &TableSchema,
    options: &MigrationOptions,
) -> Result<MigrationPlan> {
    plan(from, dependents, to, options, false)
}

/// The plan for a live table that was read as empty: everything [`plan_migration_with`]
/// refuses for the sake of existing rows (data loss, referencing foreign keys) is allowed,
/// since there are none, and the plan starts with a guard that fails the request, changing
/// nothing, if a row was written since the table was read. Apply it as one request
/// ([`crate::D1Database::apply_migration`] turns the guard's failure into
/// [`Error::MigrationRefused`]).
pub fn plan_migration_of_empty_table(
    from: &TableSchema,
    dependents: &TableDependents,
    to: &TableSchema,
) -> Result<MigrationPlan> {
    let all = MigrationOptions {
        allow_data_loss: true,
        rebuild_referenced: true,
    };
    let mut plan = plan(Some(from), dependents, to, &all, true)?;
    if plan.is_empty() {
        return Ok(plan);
    }
    plan.steps.insert(0, empty_table_guard(&from.name));
    plan.requires_empty_table = true;
    Ok(plan)
}

/// The name of the `CHECK` constraint whose failure means "the table is not empty".
const EMPTY_GUARD_CONSTRAINT: &str = "thread_flow_table_not_empty";

/// Whether a failed request's message is the empty-table guard of
/// [`plan_migration_of_empty_table`] failing.
pub(crate) fn is_empty_guard_failure(message: &str) -> bool {
    message.contains(EMPTY_GUARD_CONSTRAINT)
}

/// A step that fails the request when `table` holds a row: a throwaway table whose `CHECK`
/// refuses the value `EXISTS (SELECT 1 FROM table)` when it is 1. SQLite has no `RAISE`
/// outside triggers, and a constraint failure rolls the whole request back on D1 and locally.
fn empty_table_guard(table: &str) -> MigrationStep {
    let guard = format!("{table}__thread_flow_guard");
    let mut create = String::from("CREATE TABLE ");
    push_ident(&mut create, &guard);
    create.push_str(" (\"rows\" INTEGER NOT NULL CONSTRAINT ");
    push_ident(&mut create, EMPTY_GUARD_CONSTRAINT);
    create.push_str(" CHECK (\"rows\" = 0))");
    let mut insert = String::from("INSERT INTO ");
    push_ident(&mut insert, &guard);
    insert.push_str(" (\"rows\") SELECT EXISTS (SELECT 1 FROM ");
    push_ident(&mut insert, table);
    insert.push(')');
    step(
        format!(
            "check that table `{table}` is still empty (the request fails, changing nothing, if a row was written since it was read)"
        ),
        vec![
            Statement::raw(drop_table(&guard)),
            Statement::raw(create),
            Statement::raw(insert),
            Statement::raw(format!("DROP TABLE {}", quote_ident(&guard))),
        ],
    )
}

fn plan(
    from: Option<&TableSchema>,
    dependents: &TableDependents,
    to: &TableSchema,
    options: &MigrationOptions,
    table_is_empty: bool,
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

    let mut refusals = Vec::new();
    if !losses.is_empty() && !options.allow_data_loss {
        refusals.push(format!(
            "{}. To apply it anyway, migrate with MigrationOptions::default().with_allow_data_loss(true) (D1Table::migrate_with)",
            losses.join("; ")
        ));
    }
    let referenced = !rebuild.is_empty() && !dependents.referenced_by.is_empty();
    if referenced && !table_is_empty {
        let acting: Vec<String> = dependents
            .referenced_by
            .iter()
            .filter(|k| k.acts_on_delete())
            .map(ReferencingKey::describe)
            .collect();
        if !acting.is_empty() {
            refusals.push(format!(
                "the change rebuilds table `{table}` (drop and recreate), and foreign keys of other tables reference it with an ON DELETE action that would delete or change their rows when the old table is dropped: {}. D1 cannot turn foreign keys off; change these keys to NO ACTION, or migrate by hand",
                acting.join(", ")
            ));
        } else if !options.rebuild_referenced {
            refusals.push(format!(
                "the change rebuilds table `{table}` (drop and recreate), and other tables reference it: {}. To rebuild it anyway (every referencing row must find its parent again, or nothing changes), migrate with MigrationOptions::default().with_rebuild_referenced(true)",
                dependents.describe_referenced_by()
            ));
        }
    }
    if !refusals.is_empty() {
        return Err(Error::MigrationRefused {
            table: table.clone(),
            reason: format!("{}. Nothing was changed.", refusals.join("; ")),
        });
    }

    if !rebuild.is_empty() {
        let defer_keys = referenced && !table_is_empty;
        let hold_rows = defer_keys || !dependents.mentioned_by.is_empty();
        return Ok(rebuild_plan(
            from, dependents, to, &rebuild, options, hold_rows, defer_keys,
        ));
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
#[cfg(any(feature = "recoco", feature = "testing"))]
pub fn plan_drop(schema: &TableSchema) -> MigrationPlan {
    MigrationPlan {
        steps: vec![step(
            format!("drop table `{}` with its indexes and rows", schema.name),
            vec![Statement::raw(drop_table(&schema.name))],
        )],
        ..MigrationPlan::default()
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
        ..MigrationPlan::default()
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
    dependents: &TableDependents,
    to: &TableSchema,
    reasons: &[String],
    options: &MigrationOptions,
    hold_rows: bool,
    defer_keys: bool,
) -> MigrationPlan {
    let table = &to.name;
    let temp = format!("{table}__thread_flow_rebuild");
    let mut statements = Vec::new();
    if defer_keys {
        // Referencing rows must find their parents again by the end of the request.
        statements.push(Statement::raw("PRAGMA defer_foreign_keys = on"));
    }
    statements.push(Statement::raw(drop_table(&temp)));
    statements.push(Statement::raw(create_table_named(to, &temp)));
    let mut targets: Vec<&str> = Vec::new();
    let mut exprs: Vec<String> = Vec::new();
    for c in &to.columns {
        let new_nullable = c.nullable && !to.is_key_column(&c.name);
        match find_column(from, &c.name) {
            Some(old) => {
                let mut e = quote_ident(&old.name);
                if old.sql_type != c.sql_type {
                    e = convert(&e, old.sql_type, c.sql_type);
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
    if hold_rows {
        // Renaming the copy would leave the referencing rows' deferred violations counted
        // (SQLite counts them when the old table is dropped and uncounts them only when a
        // matching parent row is inserted), and fails while a view names the missing table,
        // so the rows go back into a table created under the final name. The columns are listed so SQLite inserts row by row, with its
        // foreign key bookkeeping (a bare `SELECT *` would copy pages past it).
        statements.push(Statement::raw(create_table_named(to, table)));
        let mut sql = String::from("INSERT INTO ");
        push_ident(&mut sql, table);
        sql.push_str(" (");
        push_ident_list(&mut sql, to.columns.iter().map(|c| c.name.as_str()));
        sql.push_str(") SELECT ");
        push_ident_list(&mut sql, to.columns.iter().map(|c| c.name.as_str()));
        sql.push_str(" FROM ");
        push_ident(&mut sql, &temp);
        statements.push(Statement::raw(sql));
        statements.push(Statement::raw(format!("DROP TABLE {}", quote_ident(&temp))));
    } else {
        statements.push(Statement::raw(format!(
            "ALTER TABLE {} RENAME TO {}",
            quote_ident(&temp),
            quote_ident(table)
        )));
    }
    let mut steps = vec![step(
        format!(
            "rebuild table `{table}` keeping its rows, because {}{}",
            reasons.join("; "),
            if defer_keys {
                format!(
                    " (other tables reference it: {}; their keys are checked at the end of the request)",
                    dependents.describe_referenced_by()
                )
            } else {
                String::new()
            }
        ),
        statements,
    )];
    for ix in &to.indexes {
        steps.push(create_index_step(table, ix));
    }
    for trigger in &dependents.triggers {
        steps.push(step(
            format!(
                "recreate trigger `{}` of table `{table}` (dropped with the old table)",
                trigger.name
            ),
            vec![Statement::raw(trigger.sql.clone())],
        ));
    }
    MigrationPlan {
        steps,
        rebuild: true,
        requires_empty_table: false,
    }
}

/// The expression that converts column expression `e` from `from` to `to` while copying rows.
/// `CAST(real AS TEXT)` keeps 15 significant digits (`0.30000000000000004` becomes `0.3`), so a
/// REAL becomes the shortest of its 15, 16 or 17 significant digit forms that reads back as
/// the same number; other conversions are a plain `CAST`.
fn convert(e: &str, from: SqlType, to: SqlType) -> String {
    if (from, to) == (SqlType::Real, SqlType::Text) {
        return format!(
            "CASE WHEN typeof({e}) = 'real' AND CAST(CAST({e} AS TEXT) AS REAL) <> {e} THEN \
             CASE WHEN CAST(printf('%!.16g', {e}) AS REAL) = {e} THEN printf('%!.16g', {e}) \
             ELSE printf('%!.17g', {e}) END ELSE CAST({e} AS TEXT) END"
        );
    }
    format!("CAST({e} AS {to})")
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

/// Conversions that keep every value exactly (REAL to TEXT through [`convert`]).
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
