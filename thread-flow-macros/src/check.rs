//! Rules across fields and attributes. Produces the resolved key and index list that codegen
//! reads; every broken rule is reported on its own span.

use std::collections::HashMap;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::Ident;

use crate::ast::{Field, Table, ValueBody, ValueType, is_float, option_inner, wide_integer};
use crate::attr::{SqlType, hint};
use crate::ctxt::Ctxt;
use crate::fragment;

/// D1's limit on columns per table.
pub(crate) const MAX_COLUMNS: usize = 100;

/// A secondary index with field names resolved to column names.
pub(crate) struct IndexDef {
    /// Explicit name; `None` uses the runtime's `Index::default_name`.
    pub(crate) name: Option<String>,
    /// The indexed fields (indices into `Table::fields`), in index order.
    pub(crate) fields: Vec<usize>,
    pub(crate) columns: Vec<String>,
    pub(crate) unique: bool,
    pub(crate) where_clause: Option<String>,
}

/// A generated lookup function: `by_<field>_<field>..` over these fields (indices into
/// `Table::fields`), one per distinct prefix of the key and of every index.
pub(crate) struct LookupDef {
    /// The function name.
    pub(crate) name: String,
    pub(crate) fields: Vec<usize>,
}

/// What codegen needs beyond the model: key fields (indices into `Table::fields`, in key order),
/// every index and the lookups.
pub(crate) struct Checked {
    pub(crate) key: Vec<usize>,
    pub(crate) indexes: Vec<IndexDef>,
    pub(crate) lookups: Vec<LookupDef>,
}

/// Pairs of field attributes that cannot be combined, with the reason.
const CONFLICTS: &[(&str, &str, &str)] = &[
    ("json", "sql_type", "a json field is always stored as TEXT"),
    (
        "default",
        "default_sql",
        "choose a literal default or a SQL expression, not both",
    ),
    ("unique", "index", "a unique field already has an index"),
    ("primary_key", "unique", "the primary key is already unique"),
    ("primary_key", "index", "the primary key is already indexed"),
];

pub(crate) fn check_table(cx: &Ctxt, table: &Table<'_>) -> Checked {
    check_table_name(cx, table);
    check_fields(cx, table);
    check_columns(cx, table);
    check_fragments(cx, table);
    let key = resolve_key(cx, table);
    let indexes = resolve_indexes(cx, table);
    let lookups = resolve_lookups(cx, table, &key, &indexes);
    Checked {
        key,
        indexes,
        lookups,
    }
}

fn check_table_name(cx: &Ctxt, table: &Table<'_>) {
    let name = &table.name.value;
    let lower = name.to_ascii_lowercase();
    let derived = table.attrs.table.is_none();
    let fix = if derived {
        " (derived from the struct name); set another with #[d1(table = \"...\")]".to_string()
    } else {
        String::new()
    };
    if name.is_empty() {
        cx.error_spanned_by(&table.name, "table name is empty");
    } else if name.contains('\0') {
        cx.error_spanned_by(&table.name, "table name contains a NUL character");
    } else if lower.starts_with("_cf_") {
        cx.error_spanned_by(
            &table.name,
            format!("table name `{name}` starts with `_cf_`, which Cloudflare D1 reserves{fix}"),
        );
    } else if lower.starts_with("sqlite_") {
        cx.error_spanned_by(
            &table.name,
            format!("table name `{name}` starts with `sqlite_`, which SQLite reserves{fix}"),
        );
    }
}

fn check_fields(cx: &Ctxt, table: &Table<'_>) {
    for f in &table.fields {
        let present = f.attrs.present();
        let get = |name: &str| present.iter().find(|(n, _)| *n == name).map(|(_, t)| t);
        if let Some(skip) = get("skip") {
            for (name, tokens) in present.iter().filter(|(n, _)| *n != "skip") {
                cx.error_spanned_by(
                    tokens,
                    format!(
                        "`skip` and `{name}` cannot be combined: a skipped field has no column"
                    ),
                );
            }
            let _ = skip;
            continue;
        }
        for (a, b, why) in CONFLICTS {
            if let (Some(_), Some(second)) = (get(a), get(b)) {
                cx.error_spanned_by(second, format!("`{a}` and `{b}` cannot be combined: {why}"));
            }
        }
        if f.column.is_empty() {
            cx.error_spanned_by(f.column_tokens(), "column name is empty");
        } else if f.column.contains('\0') {
            cx.error_spanned_by(f.column_tokens(), "column name contains a NUL character");
        }
        if f.is_json() {
            continue;
        }
        if let Some(wide) = wide_integer(f.ty) {
            match &f.attrs.sql_type {
                None => cx.error_spanned_by(
                    f.ty,
                    format!(
                        "`{wide}` does not fit D1's 64-bit signed INTEGER; add \
                         #[d1(sql_type = \"TEXT\")] to store it as decimal text, or use i64"
                    ),
                ),
                Some(t) if t.value != SqlType::Text => cx.error_spanned_by(
                    t,
                    format!("`{wide}` can only be stored as decimal text: use sql_type = \"TEXT\""),
                ),
                Some(_) => {}
            }
        }
    }
}

fn check_columns(cx: &Ctxt, table: &Table<'_>) {
    let columns: Vec<&Field<'_>> = table.fields.iter().filter(|f| f.is_column()).collect();
    if columns.is_empty() {
        cx.error_spanned_by(table.ident, "a table needs at least one column");
    }
    if columns.len() > MAX_COLUMNS {
        cx.error_spanned_by(
            table.ident,
            format!(
                "table has {} columns; Cloudflare D1 allows at most {MAX_COLUMNS} \
                 (skip fields with #[d1(skip)] or group them with #[d1(json)])",
                columns.len()
            ),
        );
    }
    let mut seen: HashMap<String, &Field<'_>> = HashMap::new();
    for f in columns {
        match seen.get(&f.column.to_ascii_lowercase()) {
            Some(first) => cx.error_spanned_by(
                f.column_tokens(),
                format!(
                    "duplicate column name `{}`: field `{}` is already stored as `{}` \
                     (SQLite compares column names case-insensitively); use #[d1(rename = \"...\")]",
                    f.column, first.ident, first.column
                ),
            ),
            None => {
                seen.insert(f.column.to_ascii_lowercase(), f);
            }
        }
    }
}

/// The SQL strings (`default_sql`, an index's `where`): each problem on the string's span.
fn check_fragments(cx: &Ctxt, table: &Table<'_>) {
    for f in table.fields.iter().filter(|f| f.is_column()) {
        if let Some(sql) = &f.attrs.default_sql
            && !sql.value.trim().is_empty()
        {
            for why in fragment::default_problems(&sql.value) {
                cx.error_spanned_by(sql, format!("`default_sql`: {why}"));
            }
        }
    }
    let columns: Vec<&str> = table
        .fields
        .iter()
        .filter(|f| f.is_column())
        .map(|f| f.column.as_str())
        .collect();
    let renamed: Vec<(String, &str)> = table
        .fields
        .iter()
        .filter(|f| f.is_column())
        .filter_map(|f| {
            let raw = f.ident.to_string();
            let field = raw.strip_prefix("r#").unwrap_or(&raw).to_string();
            (!field.eq_ignore_ascii_case(&f.column)).then_some((field, f.column.as_str()))
        })
        .collect();
    let scope = fragment::WhereScope {
        table: &table.name.value,
        columns: &columns,
        renamed: &renamed,
        has_rowid: !table.attrs.without_rowid,
    };
    for ix in &table.attrs.indexes {
        if let Some(sql) = &ix.where_clause
            && !sql.value().trim().is_empty()
        {
            for why in fragment::where_problems(&sql.value(), &scope) {
                cx.error_spanned_by(sql, format!("`where`: {why}"));
            }
        }
    }
}

/// Finds the field named `id`, reporting unknown or skipped fields.
fn lookup(cx: &Ctxt, table: &Table<'_>, id: &Ident, what: &str) -> Option<usize> {
    let names: Vec<String> = table.fields.iter().map(|f| f.ident.to_string()).collect();
    let name = id.to_string();
    match table.fields.iter().position(|f| *f.ident == *id) {
        Some(i) if !table.fields[i].is_column() => {
            cx.error_spanned_by(
                id,
                format!("{what} names field `{name}`, which is skipped and has no column"),
            );
            None
        }
        Some(i) => Some(i),
        None => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            cx.error_spanned_by(
                id,
                format!(
                    "{what} names unknown field `{name}`; {}fields are {}",
                    hint(&name, &refs),
                    refs.iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            None
        }
    }
}

fn resolve_key(cx: &Ctxt, table: &Table<'_>) -> Vec<usize> {
    let marked: Vec<usize> = (0..table.fields.len())
        .filter(|&i| table.fields[i].attrs.primary_key.is_some())
        .collect();
    let key = match &table.attrs.primary_key {
        Some(list) => {
            for &i in &marked {
                if let Some(pk) = &table.fields[i].attrs.primary_key {
                    cx.error_spanned_by(
                        pk,
                        "the key is already listed in #[d1(primary_key(...))] on the struct; \
                         remove one of them",
                    );
                }
            }
            let mut key = Vec::new();
            for id in &list.value {
                if let Some(i) = lookup(cx, table, id, "primary_key") {
                    if key.contains(&i) {
                        cx.error_spanned_by(id, format!("field `{id}` is listed twice in the key"));
                    } else {
                        key.push(i);
                    }
                }
            }
            key
        }
        None => {
            for &i in marked.iter().skip(1) {
                if let Some(pk) = &table.fields[i].attrs.primary_key {
                    cx.error_spanned_by(
                        pk,
                        "more than one field is marked primary_key; for a composite key list \
                         the fields in key order on the struct: #[d1(primary_key(a, b))]",
                    );
                }
            }
            marked.into_iter().take(1).collect()
        }
    };
    if table.attrs.primary_key.is_none() && key.is_empty() {
        cx.error_spanned_by(
            table.ident,
            "no primary key: mark the key field #[d1(primary_key)], or list the key fields on \
             the struct: #[d1(primary_key(a, b))]",
        );
    }
    for &i in &key {
        let f = &table.fields[i];
        if let Some(json) = &f.attrs.json {
            cx.error_spanned_by(
                json,
                key_error(f, "a json field", "JSON text has no stable form"),
            );
        } else if option_inner(f.ty).is_some() {
            cx.error_spanned_by(
                f.ty,
                key_error(f, "an Option field", "key columns are NOT NULL"),
            );
        } else if is_float(f.ty) {
            cx.error_spanned_by(
                f.ty,
                key_error(
                    f,
                    "a float field",
                    "floats do not compare reliably for equality",
                ),
            );
        } else if let Some(t) = f
            .attrs
            .sql_type
            .as_ref()
            .filter(|t| t.value == SqlType::Real)
        {
            cx.error_spanned_by(
                t,
                key_error(f, "a REAL column", "floats do not compare reliably"),
            );
        }
    }
    key
}

fn key_error(f: &Field<'_>, what: &str, why: &str) -> String {
    format!(
        "field `{}` is {what} and cannot be part of the primary key: {why}; choose another key \
         field",
        f.ident
    )
}

fn resolve_indexes(cx: &Ctxt, table: &Table<'_>) -> Vec<IndexDef> {
    let mut out: Vec<(IndexDef, TokenStream)> = Vec::new();
    for ix in &table.attrs.indexes {
        let what = if ix.unique { "unique" } else { "index" };
        let mut columns = Vec::new();
        let mut fields = Vec::new();
        let mut seen = Vec::new();
        for id in &ix.fields {
            if seen.contains(id) {
                cx.error_spanned_by(id, format!("field `{id}` is listed twice in this {what}"));
                continue;
            }
            seen.push(id.clone());
            if let Some(i) = lookup(cx, table, id, what) {
                columns.push(table.fields[i].column.clone());
                fields.push(i);
            }
        }
        if let Some(name) = &ix.name {
            let v = name.value();
            if v.is_empty() {
                cx.error_spanned_by(name, "index name is empty");
            } else if v.to_ascii_lowercase().starts_with("sqlite_") {
                cx.error_spanned_by(
                    name,
                    "index names starting with `sqlite_` are reserved by SQLite",
                );
            }
        }
        let tokens = match &ix.name {
            Some(n) => n.to_token_stream(),
            None => ix.path.to_token_stream(),
        };
        out.push((
            IndexDef {
                name: ix.name.as_ref().map(syn::LitStr::value),
                fields,
                columns,
                unique: ix.unique,
                where_clause: ix.where_clause.as_ref().map(syn::LitStr::value),
            },
            tokens,
        ));
    }
    for (i, f) in table
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_column())
    {
        for (flag, unique) in [(&f.attrs.unique, true), (&f.attrs.index, false)] {
            if let Some(flag) = flag {
                out.push((
                    IndexDef {
                        name: None,
                        fields: vec![i],
                        columns: vec![f.column.clone()],
                        unique,
                        where_clause: None,
                    },
                    flag.tokens.clone(),
                ));
            }
        }
    }
    let mut names: HashMap<String, ()> = HashMap::new();
    for (i, (ix, tokens)) in out.iter().enumerate() {
        if let Some(name) = &ix.name
            && names.insert(name.to_ascii_lowercase(), ()).is_some()
        {
            cx.error_spanned_by(
                tokens,
                format!("duplicate index name `{name}` (index names are case-insensitive)"),
            );
        }
        let same = out[..i].iter().any(|(o, _)| {
            o.columns == ix.columns && o.unique == ix.unique && o.where_clause == ix.where_clause
        });
        if same && !ix.columns.is_empty() {
            cx.error_spanned_by(tokens, "the same index is declared twice");
        }
    }
    out.into_iter().map(|(ix, _)| ix).collect()
}

/// The lookup functions: every prefix of the key, then of each index in declaration order,
/// each field list once. The name is `by_` and the field names (without `r#`) joined by `_`;
/// two different field lists that would share a name (`a_b, c` and `a, b_c`) are an error.
fn resolve_lookups(
    cx: &Ctxt,
    table: &Table<'_>,
    key: &[usize],
    indexes: &[IndexDef],
) -> Vec<LookupDef> {
    let mut out: Vec<LookupDef> = Vec::new();
    let lists = std::iter::once(key).chain(indexes.iter().map(|ix| ix.fields.as_slice()));
    for list in lists {
        for len in 1..=list.len() {
            let fields = &list[..len];
            if out.iter().any(|l| l.fields == fields) {
                continue;
            }
            let names: Vec<String> = fields
                .iter()
                .map(|&i| {
                    let raw = table.fields[i].ident.to_string();
                    raw.strip_prefix("r#").unwrap_or(&raw).to_string()
                })
                .collect();
            let name = format!("by_{}", names.join("_"));
            if let Some(other) = out.iter().find(|l| l.name == name) {
                let other_names: Vec<String> = other
                    .fields
                    .iter()
                    .map(|&i| format!("`{}`", table.fields[i].ident))
                    .collect();
                cx.error_spanned_by(
                    table.fields[fields[len - 1]].ident,
                    format!(
                        "the lookup on fields {} and the lookup on fields {} would both be named \
                         `{name}`; rename one of these fields",
                        names
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        other_names.join(", ")
                    ),
                );
                continue;
            }
            out.push(LookupDef {
                name,
                fields: fields.to_vec(),
            });
        }
    }
    out
}

/// Rules for `#[derive(D1Value)]`; returns the storage class of an enum.
pub(crate) fn check_value(cx: &Ctxt, v: &ValueType<'_>) -> SqlType {
    match &v.body {
        ValueBody::Newtype { .. } => {
            if let Some(r) = &v.attrs.rename_all {
                cx.error_spanned_by(
                    r,
                    "`rename_all` applies to enums; a newtype is stored as its inner type",
                );
            }
            if let Some(t) = &v.attrs.sql_type {
                cx.error_spanned_by(
                    t,
                    "`sql_type` applies to enums; a newtype is stored as its inner type",
                );
            }
            SqlType::Text
        }
        ValueBody::Enum(variants) => {
            let all_discriminants =
                !variants.is_empty() && variants.iter().all(|v| v.has_discriminant);
            let ty = match &v.attrs.sql_type {
                Some(t) => match t.value {
                    SqlType::Text => SqlType::Text,
                    SqlType::Integer => {
                        if let Some(missing) = variants.iter().find(|v| !v.has_discriminant) {
                            cx.error_spanned_by(
                                missing.ident,
                                "an INTEGER enum needs an explicit discriminant on every \
                                 variant (`A = 1`)",
                            );
                        }
                        SqlType::Integer
                    }
                    other => {
                        cx.error_spanned_by(
                            t,
                            format!(
                                "an enum is stored as TEXT or INTEGER, not {}",
                                other.variant_name().to_uppercase()
                            ),
                        );
                        SqlType::Text
                    }
                },
                None if all_discriminants => SqlType::Integer,
                None => SqlType::Text,
            };
            if ty == SqlType::Integer {
                let why = "this enum is stored as INTEGER (every variant has a discriminant), \
                           so names are not stored; add #[d1(sql_type = \"TEXT\")] to store names";
                if let Some(r) = &v.attrs.rename_all {
                    cx.error_spanned_by(r, why);
                }
                for var in variants {
                    if let Some(r) = &var.attrs.rename {
                        cx.error_spanned_by(r, why);
                    }
                }
            } else {
                let mut seen: HashMap<&str, &Ident> = HashMap::new();
                for var in variants {
                    if var.name.is_empty() {
                        cx.error_spanned_by(var.ident, "stored variant name is empty");
                    }
                    if let Some(first) = seen.insert(var.name.as_str(), var.ident) {
                        let tokens = match &var.attrs.rename {
                            Some(r) => r.tokens.clone(),
                            None => var.ident.to_token_stream(),
                        };
                        cx.error_spanned_by(
                            tokens,
                            format!(
                                "variants `{first}` and `{}` are both stored as `{}`",
                                var.ident, var.name
                            ),
                        );
                    }
                }
            }
            ty
        }
    }
}
