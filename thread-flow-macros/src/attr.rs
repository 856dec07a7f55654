//! Every `#[d1(...)]` key, parsed in one place: one struct per level (table, field, D1Value
//! type, variant). Values are checked for form here (a string where a string belongs, a known
//! SQL type, a known case rule); rules across fields live in `check.rs`.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitBool, LitStr, Path, UnOp};

use crate::case::{RULES, RenameRule};
use crate::ctxt::Ctxt;

/// Keys accepted on a `#[derive(D1Target)]` struct.
pub(crate) const TABLE_KEYS: &[&str] = &[
    "table",
    "rename_all",
    "primary_key",
    "index",
    "unique",
    "strict",
    "without_rowid",
    "crate",
];
/// Keys accepted on a field of a `#[derive(D1Target)]` struct.
pub(crate) const FIELD_KEYS: &[&str] = &[
    "primary_key",
    "rename",
    "unique",
    "index",
    "json",
    "sql_type",
    "default",
    "default_sql",
    "skip",
];
/// Keys accepted on a `#[derive(D1Value)]` type.
pub(crate) const VALUE_KEYS: &[&str] = &["rename_all", "sql_type", "crate"];
/// Keys accepted on a variant of a `#[derive(D1Value)]` enum.
pub(crate) const VARIANT_KEYS: &[&str] = &["rename"];
/// Options inside `index(...)` / `unique(...)` besides field names.
pub(crate) const INDEX_KEYS: &[&str] = &["name", "where"];
/// The SQL types `sql_type = ".."` accepts.
pub(crate) const SQL_TYPES: &[&str] = &["INTEGER", "REAL", "TEXT", "BLOB"];

/// A storage class, as the macro knows it (the runtime's `SqlType` mirrors it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SqlType {
    Integer,
    Real,
    Text,
    Blob,
}

impl SqlType {
    fn parse(s: &str) -> Option<SqlType> {
        match s.to_ascii_uppercase().as_str() {
            "INTEGER" => Some(SqlType::Integer),
            "REAL" => Some(SqlType::Real),
            "TEXT" => Some(SqlType::Text),
            "BLOB" => Some(SqlType::Blob),
            _ => None,
        }
    }

    pub(crate) fn variant_name(self) -> &'static str {
        match self {
            SqlType::Integer => "Integer",
            SqlType::Real => "Real",
            SqlType::Text => "Text",
            SqlType::Blob => "Blob",
        }
    }
}

/// A value with the tokens it was written with, for error spans.
#[derive(Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) tokens: TokenStream,
}

impl<T> ToTokens for Spanned<T> {
    fn to_tokens(&self, out: &mut TokenStream) {
        out.extend(self.tokens.clone());
    }
}

/// One attribute slot; setting it twice is an error on the second occurrence.
struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: &'static str,
    value: Option<Spanned<T>>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, name: &'static str) -> Self {
        Attr {
            cx,
            name,
            value: None,
        }
    }

    fn set<S: ToTokens>(&mut self, span: S, value: T) {
        let tokens = span.into_token_stream();
        if self.value.is_some() {
            self.cx
                .error_spanned_by(tokens, format!("duplicate d1 attribute `{}`", self.name));
        } else {
            self.value = Some(Spanned { value, tokens });
        }
    }

    fn get(self) -> Option<Spanned<T>> {
        self.value
    }
}

/// A literal column default (`default = ..`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum DefaultValue {
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl DefaultValue {
    pub(crate) fn sql_type(&self) -> SqlType {
        match self {
            DefaultValue::Integer(_) => SqlType::Integer,
            DefaultValue::Real(_) => SqlType::Real,
            DefaultValue::Text(_) => SqlType::Text,
            DefaultValue::Blob(_) => SqlType::Blob,
        }
    }
}

/// `index(..)` or `unique(..)` at struct level.
pub(crate) struct IndexAttr {
    pub(crate) unique: bool,
    /// The `index` / `unique` word, for spans.
    pub(crate) path: Path,
    pub(crate) fields: Vec<Ident>,
    pub(crate) name: Option<LitStr>,
    pub(crate) where_clause: Option<LitStr>,
}

/// Struct-level attributes of `#[derive(D1Target)]`.
pub(crate) struct TableAttrs {
    pub(crate) table: Option<Spanned<String>>,
    pub(crate) rename_all: Option<Spanned<RenameRule>>,
    pub(crate) primary_key: Option<Spanned<Vec<Ident>>>,
    pub(crate) indexes: Vec<IndexAttr>,
    pub(crate) strict: bool,
    pub(crate) without_rowid: bool,
    pub(crate) crate_path: Option<Path>,
}

/// Field-level attributes of `#[derive(D1Target)]`.
pub(crate) struct FieldAttrs {
    pub(crate) primary_key: Option<Spanned<()>>,
    pub(crate) rename: Option<Spanned<String>>,
    pub(crate) unique: Option<Spanned<()>>,
    pub(crate) index: Option<Spanned<()>>,
    pub(crate) json: Option<Spanned<()>>,
    pub(crate) sql_type: Option<Spanned<SqlType>>,
    pub(crate) default: Option<Spanned<DefaultValue>>,
    pub(crate) default_sql: Option<Spanned<String>>,
    pub(crate) skip: Option<Spanned<()>>,
}

/// Type-level attributes of `#[derive(D1Value)]`.
pub(crate) struct ValueAttrs {
    pub(crate) rename_all: Option<Spanned<RenameRule>>,
    pub(crate) sql_type: Option<Spanned<SqlType>>,
    pub(crate) crate_path: Option<Path>,
}

/// Variant-level attributes of `#[derive(D1Value)]`.
pub(crate) struct VariantAttrs {
    pub(crate) rename: Option<Spanned<String>>,
}

/// Runs `f` on every entry of every `#[d1(...)]` attribute, collecting parse errors.
fn for_each_meta(
    cx: &Ctxt,
    attrs: &[syn::Attribute],
    mut f: impl FnMut(&ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("d1")) {
        if let syn::Meta::Path(_) = attr.meta {
            cx.error_spanned_by(attr, "expected #[d1(...)] with at least one key");
            continue;
        }
        if let Err(e) = attr.parse_nested_meta(|meta| f(&meta)) {
            cx.syn_error(e);
        }
    }
}

fn key_name(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// Edit distance counting a swap of two neighbours as one edit (optimal string alignment),
/// for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The closest valid word, when it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(word: &str, valid: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    valid
        .iter()
        .map(|v| (distance(&lower, &v.to_ascii_lowercase()), *v))
        .filter(|(d, v)| *d <= (v.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

/// "did you mean `x`? " prefix, or nothing.
pub(crate) fn hint(word: &str, valid: &[&str]) -> String {
    match did_you_mean(word, valid) {
        Some(v) => format!("did you mean `{v}`? "),
        None => String::new(),
    }
}

fn list(valid: &[&str]) -> String {
    valid
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reports an unknown key (with a "did you mean" and the valid list) and skips its value so
/// the keys after it are still read.
fn unknown_key(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    level: &str,
    valid: &[&str],
    elsewhere: Option<(&[&str], &str)>,
) -> syn::Result<()> {
    let name = key_name(&meta.path);
    let mut msg = format!("unknown d1 attribute `{name}` on {level}; ");
    match elsewhere {
        Some((keys, there)) if keys.contains(&name.as_str()) => {
            msg.push_str(&format!("`{name}` belongs on {there}; "));
        }
        _ => msg.push_str(&hint(&name, valid)),
    }
    msg.push_str(&format!("expected one of {}", list(valid)));
    cx.error_spanned_by(&meta.path, msg);
    skip_value(meta)
}

fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// Rejects `key = value` and `key(...)` for a flag key.
fn flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>, hint: &str) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
        let name = key_name(&meta.path);
        cx.error_spanned_by(&meta.path, format!("`{name}` takes no value; {hint}"));
        skip_value(meta)?;
    }
    Ok(())
}

fn lit_str(meta: &ParseNestedMeta<'_>) -> syn::Result<LitStr> {
    let name = key_name(&meta.path);
    let expr: Expr = meta.value()?.parse()?;
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s),
        other => Err(syn::Error::new_spanned(
            other,
            format!("expected a string literal: `{name} = \"...\"`"),
        )),
    }
}

fn sql_type(meta: &ParseNestedMeta<'_>) -> syn::Result<(LitStr, SqlType)> {
    let s = lit_str(meta)?;
    match SqlType::parse(&s.value()) {
        Some(t) => Ok((s, t)),
        None => Err(syn::Error::new_spanned(
            &s,
            format!(
                "unknown sql_type {:?}; {}expected one of {}",
                s.value(),
                hint(&s.value().to_ascii_uppercase(), SQL_TYPES),
                list(SQL_TYPES)
            ),
        )),
    }
}

fn rename_rule(meta: &ParseNestedMeta<'_>) -> syn::Result<(LitStr, RenameRule)> {
    let s = lit_str(meta)?;
    match RenameRule::from_str(&s.value()) {
        Some(r) => Ok((s, r)),
        None => {
            let names: Vec<&str> = RULES.iter().map(|(n, _)| *n).collect();
            Err(syn::Error::new_spanned(
                &s,
                format!(
                    "unknown rename_all rule {:?}; {}expected one of {}",
                    s.value(),
                    hint(&s.value(), &names),
                    list(&names)
                ),
            ))
        }
    }
}

fn crate_path(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    let s = lit_str(meta)?;
    s.parse::<Path>().map_err(|_| {
        syn::Error::new_spanned(
            &s,
            "expected a path, for example `crate = \"::thread_flow\"`",
        )
    })
}

fn default_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Spanned<DefaultValue>> {
    let expr: Expr = meta.value()?.parse()?;
    let tokens = expr.to_token_stream();
    let bad = |e: &Expr, why: &str| syn::Error::new_spanned(e, why.to_string());
    let value = match &expr {
        Expr::Lit(ExprLit { lit, .. }) => match lit {
            Lit::Int(i) => i
                .base10_parse::<i64>()
                .map(DefaultValue::Integer)
                .map_err(|_| {
                    bad(
                        &expr,
                        "integer default does not fit a 64-bit signed integer",
                    )
                })?,
            Lit::Float(f) => {
                let v = f.base10_parse::<f64>()?;
                if !v.is_finite() {
                    return Err(bad(&expr, "default must be a finite number"));
                }
                DefaultValue::Real(v)
            }
            Lit::Str(s) => DefaultValue::Text(s.value()),
            Lit::Bool(LitBool { value, .. }) => DefaultValue::Integer(i64::from(*value)),
            Lit::ByteStr(b) => DefaultValue::Blob(b.value()),
            _ => return Err(bad(&expr, UNSUPPORTED_DEFAULT)),
        },
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => {
                let v = i.base10_parse::<i128>()?;
                i64::try_from(-v).map(DefaultValue::Integer).map_err(|_| {
                    bad(
                        &expr,
                        "integer default does not fit a 64-bit signed integer",
                    )
                })?
            }
            Expr::Lit(ExprLit {
                lit: Lit::Float(f), ..
            }) => DefaultValue::Real(-f.base10_parse::<f64>()?),
            _ => return Err(bad(&expr, UNSUPPORTED_DEFAULT)),
        },
        _ => return Err(bad(&expr, UNSUPPORTED_DEFAULT)),
    };
    Ok(Spanned { value, tokens })
}

const UNSUPPORTED_DEFAULT: &str = "expected a literal default (integer, float, string, bool or \
     byte string); for a SQL expression use `default_sql = \"...\"`";

impl TableAttrs {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[syn::Attribute]) -> TableAttrs {
        let mut table = Attr::none(cx, "table");
        let mut rename_all = Attr::none(cx, "rename_all");
        let mut primary_key = Attr::none(cx, "primary_key");
        let mut strict = Attr::none(cx, "strict");
        let mut without_rowid = Attr::none(cx, "without_rowid");
        let mut krate = Attr::none(cx, "crate");
        let mut indexes = Vec::new();
        for_each_meta(cx, attrs, |meta| {
            let p = &meta.path;
            if p.is_ident("table") {
                let s = lit_str(meta)?;
                table.set(&s, s.value());
            } else if p.is_ident("rename_all") {
                let (s, r) = rename_rule(meta)?;
                rename_all.set(&s, r);
            } else if p.is_ident("primary_key") {
                if !meta.input.peek(syn::token::Paren) {
                    cx.error_spanned_by(
                        p,
                        "on the struct, list the key fields: `primary_key(a, b)`; \
                         or put `#[d1(primary_key)]` on the key field",
                    );
                    return skip_value(meta);
                }
                let mut fields = Vec::new();
                meta.parse_nested_meta(|m| {
                    match m.path.get_ident() {
                        Some(id) if !m.input.peek(syn::Token![=]) => fields.push(id.clone()),
                        _ => {
                            cx.error_spanned_by(&m.path, "expected a field name");
                            skip_value(&m)?;
                        }
                    }
                    Ok(())
                })?;
                if fields.is_empty() {
                    cx.error_spanned_by(p, "`primary_key()` needs at least one field");
                }
                primary_key.set(p, fields);
            } else if p.is_ident("index") || p.is_ident("unique") {
                let unique = p.is_ident("unique");
                if !meta.input.peek(syn::token::Paren) {
                    let w = key_name(p);
                    cx.error_spanned_by(
                        p,
                        format!(
                            "on the struct, list the indexed fields: `{w}(a, b)`; \
                             or put `#[d1({w})]` on the field"
                        ),
                    );
                    return skip_value(meta);
                }
                let mut ix = IndexAttr {
                    unique,
                    path: p.clone(),
                    fields: Vec::new(),
                    name: None,
                    where_clause: None,
                };
                meta.parse_nested_meta(|m| {
                    let has_value = m.input.peek(syn::Token![=]);
                    if m.path.is_ident("name") && has_value {
                        let s = lit_str(&m)?;
                        if ix.name.is_some() {
                            cx.error_spanned_by(&s, "duplicate index option `name`");
                        }
                        ix.name = Some(s);
                    } else if m.path.is_ident("where") && has_value {
                        let s = lit_str(&m)?;
                        if s.value().trim().is_empty() {
                            cx.error_spanned_by(&s, "`where` needs a SQL condition");
                        }
                        if ix.where_clause.is_some() {
                            cx.error_spanned_by(&s, "duplicate index option `where`");
                        }
                        ix.where_clause = Some(s);
                    } else if has_value {
                        let name = key_name(&m.path);
                        cx.error_spanned_by(
                            &m.path,
                            format!(
                                "unknown index option `{name}`; {}expected field names and {}",
                                hint(&name, INDEX_KEYS),
                                list(INDEX_KEYS)
                            ),
                        );
                        skip_value(&m)?;
                    } else if let Some(id) = m.path.get_ident() {
                        ix.fields.push(id.clone());
                        skip_value(&m)?;
                    } else {
                        cx.error_spanned_by(&m.path, "expected a field name");
                        skip_value(&m)?;
                    }
                    Ok(())
                })?;
                if ix.fields.is_empty() {
                    cx.error_spanned_by(p, "an index needs at least one field");
                }
                indexes.push(ix);
            } else if p.is_ident("strict") {
                let v = if meta.input.peek(syn::Token![=]) {
                    let b: LitBool = meta.value()?.parse()?;
                    b.value
                } else {
                    true
                };
                strict.set(p, v);
            } else if p.is_ident("without_rowid") {
                flag(cx, meta, "write `without_rowid` alone")?;
                without_rowid.set(p, ());
            } else if p.is_ident("crate") {
                let path = crate_path(meta)?;
                krate.set(p, path);
            } else {
                unknown_key(
                    cx,
                    meta,
                    "a D1Target struct",
                    TABLE_KEYS,
                    Some((FIELD_KEYS, "a field, not on the struct")),
                )?;
            }
            Ok(())
        });
        TableAttrs {
            table: table.get(),
            rename_all: rename_all.get(),
            primary_key: primary_key.get(),
            indexes,
            strict: strict.get().is_none_or(|s| s.value),
            without_rowid: without_rowid.get().is_some(),
            crate_path: krate.get().map(|k| k.value),
        }
    }
}

impl FieldAttrs {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[syn::Attribute]) -> FieldAttrs {
        let mut primary_key = Attr::none(cx, "primary_key");
        let mut rename = Attr::none(cx, "rename");
        let mut unique = Attr::none(cx, "unique");
        let mut index = Attr::none(cx, "index");
        let mut json = Attr::none(cx, "json");
        let mut sql = Attr::none(cx, "sql_type");
        let mut default = Attr::none(cx, "default");
        let mut default_sql = Attr::none(cx, "default_sql");
        let mut skip = Attr::none(cx, "skip");
        for_each_meta(cx, attrs, |meta| {
            let p = &meta.path;
            if p.is_ident("primary_key") {
                flag(
                    cx,
                    meta,
                    "on a field write `#[d1(primary_key)]`; list several key fields with `#[d1(primary_key(a, b))]` on the struct",
                )?;
                primary_key.set(p, ());
            } else if p.is_ident("rename") {
                let s = lit_str(meta)?;
                rename.set(&s, s.value());
            } else if p.is_ident("unique") {
                flag(
                    cx,
                    meta,
                    "for a named or multi-column unique index use `unique(a, b, name = \"..\")` on the struct",
                )?;
                unique.set(p, ());
            } else if p.is_ident("index") {
                flag(
                    cx,
                    meta,
                    "for a named, multi-column or partial index use `index(a, b, name = \"..\", where = \"..\")` on the struct",
                )?;
                index.set(p, ());
            } else if p.is_ident("json") {
                flag(cx, meta, "write `#[d1(json)]`")?;
                json.set(p, ());
            } else if p.is_ident("sql_type") {
                let (s, t) = sql_type(meta)?;
                sql.set(&s, t);
            } else if p.is_ident("default") {
                if !meta.input.peek(syn::Token![=]) {
                    cx.error_spanned_by(p, "expected `default = <literal>`; a skipped field uses `Default::default()` with `#[d1(skip)]`");
                    return skip_value(meta);
                }
                let d = default_value(meta)?;
                default.set(d.tokens, d.value);
            } else if p.is_ident("default_sql") {
                let s = lit_str(meta)?;
                if s.value().trim().is_empty() {
                    cx.error_spanned_by(&s, "`default_sql` needs a SQL expression");
                }
                default_sql.set(&s, s.value());
            } else if p.is_ident("skip") {
                flag(cx, meta, "write `#[d1(skip)]`")?;
                skip.set(p, ());
            } else {
                unknown_key(
                    cx,
                    meta,
                    "a field",
                    FIELD_KEYS,
                    Some((TABLE_KEYS, "the struct, not on a field")),
                )?;
            }
            Ok(())
        });
        FieldAttrs {
            primary_key: primary_key.get(),
            rename: rename.get(),
            unique: unique.get(),
            index: index.get(),
            json: json.get(),
            sql_type: sql.get(),
            default: default.get(),
            default_sql: default_sql.get(),
            skip: skip.get(),
        }
    }

    /// Every key set on this field, with its span, in grammar order.
    pub(crate) fn present(&self) -> Vec<(&'static str, TokenStream)> {
        let mut out = Vec::new();
        let mut add = |name, t: Option<TokenStream>| {
            if let Some(t) = t {
                out.push((name, t));
            }
        };
        add(
            "primary_key",
            self.primary_key.as_ref().map(|s| s.tokens.clone()),
        );
        add("rename", self.rename.as_ref().map(|s| s.tokens.clone()));
        add("unique", self.unique.as_ref().map(|s| s.tokens.clone()));
        add("index", self.index.as_ref().map(|s| s.tokens.clone()));
        add("json", self.json.as_ref().map(|s| s.tokens.clone()));
        add("sql_type", self.sql_type.as_ref().map(|s| s.tokens.clone()));
        add("default", self.default.as_ref().map(|s| s.tokens.clone()));
        add(
            "default_sql",
            self.default_sql.as_ref().map(|s| s.tokens.clone()),
        );
        add("skip", self.skip.as_ref().map(|s| s.tokens.clone()));
        out
    }
}

impl ValueAttrs {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[syn::Attribute]) -> ValueAttrs {
        let mut rename_all = Attr::none(cx, "rename_all");
        let mut sql = Attr::none(cx, "sql_type");
        let mut krate = Attr::none(cx, "crate");
        for_each_meta(cx, attrs, |meta| {
            let p = &meta.path;
            if p.is_ident("rename_all") {
                let (s, r) = rename_rule(meta)?;
                rename_all.set(&s, r);
            } else if p.is_ident("sql_type") {
                let (s, t) = sql_type(meta)?;
                sql.set(&s, t);
            } else if p.is_ident("crate") {
                let path = crate_path(meta)?;
                krate.set(p, path);
            } else {
                unknown_key(cx, meta, "a D1Value type", VALUE_KEYS, None)?;
            }
            Ok(())
        });
        ValueAttrs {
            rename_all: rename_all.get(),
            sql_type: sql.get(),
            crate_path: krate.get().map(|k| k.value),
        }
    }
}

impl VariantAttrs {
    pub(crate) fn from_ast(cx: &Ctxt, attrs: &[syn::Attribute]) -> VariantAttrs {
        let mut rename = Attr::none(cx, "rename");
        for_each_meta(cx, attrs, |meta| {
            if meta.path.is_ident("rename") {
                let s = lit_str(meta)?;
                rename.set(&s, s.value());
            } else {
                unknown_key(cx, meta, "an enum variant", VARIANT_KEYS, None)?;
            }
            Ok(())
        });
        VariantAttrs {
            rename: rename.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("tabel", TABLE_KEYS), Some("table"));
        assert_eq!(
            did_you_mean("primary_keys", FIELD_KEYS),
            Some("primary_key")
        );
        assert_eq!(did_you_mean("renam", FIELD_KEYS), Some("rename"));
        assert_eq!(did_you_mean("TXT", SQL_TYPES), Some("TEXT"));
        assert_eq!(did_you_mean("frobnicate", FIELD_KEYS), None);
    }

    #[test]
    fn distances() {
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("same", "same"), 0);
        assert_eq!(distance("tabel", "table"), 1);
    }
}
