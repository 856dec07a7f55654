//! Derive macros for thread-flow: `#[derive(D1Target)]` and `#[derive(D1Value)]`.
//!
//! Stages, as in serde_derive: `attr` reads every `#[d1(...)]` key, `ast` builds the input
//! model, `check` applies the rules across fields (with `fragment` parsing the SQL strings),
//! and `row` / `value` generate code from the checked model only. Every error is
//! collected in a `ctxt::Ctxt` and reported at once, each on its own span.

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
mod fragment;
mod row;
mod value;

#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `thread_flow::D1Target` for a struct with named fields: one struct, one D1 table.
///
/// Columns follow the field declaration order (skipped fields have none). The table name is
/// `table = ".."` or the struct name in snake_case.
///
/// **Key type**: for a single-column key, `Key` is the key field's own type; for a composite
/// key `#[d1(primary_key(a, b))]`, `Key` is the tuple of the key fields' types in
/// `primary_key(...)` order, so `table.get(&("src/lib.rs".to_string(), 42))` reads naturally.
///
/// Struct attributes, in `#[d1(...)]`:
///
/// | key | meaning |
/// |---|---|
/// | `table = "name"` | table name (not starting with `_cf_` or `sqlite_`) |
/// | `rename_all = "camelCase"` | serde's case rules for column names |
/// | `primary_key(a, b)` | composite key, in this order |
/// | `index(a, b, name = "..", where = "..")` | secondary index; repeatable; `name`, `where` optional |
/// | `unique(a, b, name = "..")` | unique index; repeatable |
/// | `strict = false` | plain instead of STRICT table |
/// | `without_rowid` | `WITHOUT ROWID` table |
/// | `crate = "path"` | path of the runtime crate (default `::thread_flow`) |
///
/// Field attributes: `primary_key`, `rename = ".."`, `unique`, `index`, `json` (any
/// `Serialize + DeserializeOwned` type as TEXT; `Option<T>` stores `None` as NULL),
/// `sql_type = "INTEGER|REAL|TEXT|BLOB"`, `default = <literal>`, `default_sql = ".."`,
/// `skip` (not stored; filled with `Default::default()` when read).
///
/// **SQL strings** (`where = ".."` on an index, `default_sql = ".."` on a field) are parsed at
/// compile time as SQLite and must be exactly one expression with nothing after it (no `,`,
/// `;`, unmatched `)` or unclosed comment). A `where` may name only this table's columns (by
/// column name, so a renamed field by its new name; `table.column` and `rowid` work too) and
/// may not hold a subquery, a `?` parameter, an aggregate or window function, or a
/// non-deterministic function (`random()`, `changes()`, `CURRENT_TIMESTAMP`, a date/time
/// function of `'now'`). A `default_sql` must be constant: no column, subquery, parameter or
/// aggregate (`CURRENT_TIMESTAMP`, `random()`, `date('now')` are fine). Each mistake is a
/// compile error on the string. Schemas built at run time get the same check from SQLite
/// itself (`TableSchema::validate`).
///
/// **Lookups**: the derive also gives the struct one associated function per distinct prefix
/// of the primary key and of every index (struct-level `index(..)` / `unique(..)` and
/// field-level `index` / `unique`, in that order, key first), named `by_` followed by the
/// field names joined with `_` (a raw identifier `r#type` gives `by_type`). Each takes one
/// `impl Into<FieldType>` argument per field (so a `String` field takes `&str`) and returns a
/// `thread_flow::Lookup<Self>` for `D1Table::find`, `find_one`, `count_where`, `page_where`
/// and `scan_where`; values are encoded like the field itself (renames, enums, `json`,
/// `sql_type`). The functions have the struct's visibility. For
/// `primary_key(file, line, name)` and `index(kind, name)`: `by_file`, `by_file_line`,
/// `by_file_line_name`, `by_kind`, `by_kind_name`. A lookup compares columns for equality
/// (NULL matches NULL); on a partial index (`where = ".."`) it still matches every row with
/// those values, not only the rows the index holds.
///
/// Name rule: every generated name starts with `by_`, and the derive generates nothing else
/// on the struct itself (the rest is the `D1Target` impl), so only your own inherent items
/// named `by_<fields>` can clash (rustc reports E0592 "duplicate definitions"; rename yours).
/// Two different field lists that would give one name (`primary_key(a_b, c)` and
/// `index(a, b_c)` both give `by_a_b_c`) are a compile error asking to rename a field.
///
/// ```text
/// #[derive(D1Target)]
/// #[d1(table = "symbols", primary_key(file, name, line), index(kind))]
/// struct Symbol {
///     file: String,
///     name: String,
///     line: i64,
///     kind: SymbolKind,
///     #[d1(json)]
///     attrs: std::collections::BTreeMap<String, String>,
///     doc: Option<String>,
/// }
/// // Symbol::Key == (String, String, i64)
/// // Lookups: Symbol::by_file(..), by_file_name(..), by_file_name_line(..), by_kind(..)
/// ```
#[proc_macro_derive(D1Target, attributes(d1))]
pub fn derive_d1_target(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    row::expand(&input).unwrap_or_else(|errors| errors).into()
}

/// Derives `thread_flow::D1Value` (and `D1KeyValue`) for an enum of unit variants or a
/// single-field newtype.
///
/// - Enums are stored as TEXT by variant name (`#[d1(rename_all = "snake_case")]` on the enum,
///   `#[d1(rename = "..")]` on a variant), or as INTEGER when every variant has an explicit
///   discriminant (`#[d1(sql_type = "TEXT")]` forces names). Enums can be key fields.
/// - Newtypes (`struct UserId(i64);`) are stored exactly as their inner type; they can be key
///   fields when the inner type can.
#[proc_macro_derive(D1Value, attributes(d1))]
pub fn derive_d1_value(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    value::expand(&input).unwrap_or_else(|errors| errors).into()
}
