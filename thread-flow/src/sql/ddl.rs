//! `CREATE TABLE`, `CREATE INDEX` and drops, all idempotent (`IF NOT EXISTS` / `IF EXISTS`).

use super::{literal, push_ident, quote_ident};
use crate::schema::{Column, ColumnDefault, Index, TableSchema};

/// `CREATE TABLE IF NOT EXISTS` for `schema`: STRICT unless `strict` is false, key columns
/// NOT NULL, a `PRIMARY KEY (...)` clause, `WITHOUT ROWID` when set, defaults as SQL literals.
/// Only tests and benches name a table's DDL directly; the runtime goes through migrations.
#[cfg(any(test, feature = "testing"))]
pub fn create_table(schema: &TableSchema) -> String {
    create_table_named(schema, &schema.name)
}

/// [`create_table`] under another table name (used by table rebuilds).
pub fn create_table_named(schema: &TableSchema, name: &str) -> String {
    let mut sql = String::from("CREATE TABLE IF NOT EXISTS ");
    push_ident(&mut sql, name);
    sql.push_str(" (");
    for (i, c) in schema.columns.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&column_def(c, schema.is_key_column(&c.name)));
    }
    sql.push_str(", PRIMARY KEY (");
    push_ident_list(&mut sql, schema.primary_key.iter().map(String::as_str));
    sql.push(')');
    sql.push(')');
    let mut options = Vec::new();
    if schema.strict {
        options.push("STRICT");
    }
    if schema.without_rowid {
        options.push("WITHOUT ROWID");
    }
    if !options.is_empty() {
        sql.push(' ');
        sql.push_str(&options.join(", "));
    }
    sql
}

/// One column definition: `"name" TYPE [NOT NULL] [DEFAULT ...]`.
pub fn column_def(column: &Column, key: bool) -> String {
    let mut sql = quote_ident(&column.name);
    sql.push(' ');
    sql.push_str(column.sql_type.as_sql());
    if key || !column.nullable {
        sql.push_str(" NOT NULL");
    }
    if let Some(d) = &column.default {
        sql.push_str(" DEFAULT ");
        sql.push_str(&render_default(d));
    }
    sql
}

/// The SQL text of a column default: a literal for [`ColumnDefault::Value`]; for
/// [`ColumnDefault::Sql`], the expression as written when it is a single token (a keyword such as
/// `CURRENT_TIMESTAMP`, a number, a quoted literal, or already parenthesized), else wrapped in
/// parentheses as SQLite requires for expressions.
pub fn render_default(default: &ColumnDefault) -> String {
    match default {
        ColumnDefault::Value(v) => literal(v),
        ColumnDefault::Sql(expr) => {
            let e = expr.trim();
            if is_single_token(e) {
                e.to_string()
            } else {
                format!("({e})")
            }
        }
    }
}

fn is_single_token(e: &str) -> bool {
    if e.is_empty() {
        return false;
    }
    if e.starts_with('(') && e.ends_with(')') && balanced_outer_parens(e) {
        return true;
    }
    if (e.starts_with('\'')
        && e.ends_with('\'')
        && e.len() >= 2
        && !e[1..e.len() - 1].replace("''", "").contains('\''))
        || ((e.starts_with("X'") || e.starts_with("x'")) && e.ends_with('\'') && e.len() >= 3)
    {
        return true;
    }
    let body = e
        .strip_prefix('-')
        .or_else(|| e.strip_prefix('+'))
        .unwrap_or(e);
    !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Whether the first `(` of `e` closes at its last character.
fn balanced_outer_parens(e: &str) -> bool {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let n = e.len();
    for (i, ch) in e.char_indices() {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            continue;
        }
        match ch {
            '\'' | '"' => quote = Some(ch),
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 && i + 1 != n {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// `CREATE [UNIQUE] INDEX IF NOT EXISTS "name" ON "table" ("a", "b") [WHERE ...]`.
#[cfg(feature = "testing")]
pub fn create_index(schema: &TableSchema, index: &Index) -> String {
    create_index_on(&schema.name, index)
}

/// [`create_index`] given only the table name.
pub fn create_index_on(table: &str, index: &Index) -> String {
    let mut sql = String::from(if index.unique {
        "CREATE UNIQUE INDEX IF NOT EXISTS "
    } else {
        "CREATE INDEX IF NOT EXISTS "
    });
    push_ident(&mut sql, &index.name);
    sql.push_str(" ON ");
    push_ident(&mut sql, table);
    sql.push_str(" (");
    push_ident_list(&mut sql, index.columns.iter().map(String::as_str));
    sql.push(')');
    if let Some(w) = index
        .where_clause
        .as_deref()
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        sql.push_str(" WHERE ");
        sql.push_str(w);
    }
    sql
}

/// `DROP INDEX IF EXISTS "name"`.
pub fn drop_index(name: &str) -> String {
    format!("DROP INDEX IF EXISTS {}", quote_ident(name))
}

/// `DROP TABLE IF EXISTS "name"` (its indexes go with it).
pub fn drop_table(name: &str) -> String {
    format!("DROP TABLE IF EXISTS {}", quote_ident(name))
}

/// Appends `"a", "b", ...`.
pub(crate) fn push_ident_list<'a>(out: &mut String, names: impl Iterator<Item = &'a str>) {
    for (i, n) in names.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        push_ident(out, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqlType;

    #[test]
    fn create_table_is_strict_with_key_columns_not_null() {
        let mut t = TableSchema::new("users");
        t.columns = vec![
            Column::new("id", SqlType::Integer),
            Column::new("name", SqlType::Text).nullable(true),
        ];
        t.primary_key = vec!["id".into()];
        assert_eq!(
            create_table(&t),
            r#"CREATE TABLE IF NOT EXISTS "users" ("id" INTEGER NOT NULL, "name" TEXT, PRIMARY KEY ("id")) STRICT"#
        );
    }
}
