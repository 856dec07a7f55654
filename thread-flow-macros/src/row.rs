//! Codegen for `#[derive(D1Target)]`: a static `TableSchema` built once, the key, row / key
//! binders and a row decoder in schema column order, one codec per column for values that
//! arrive in storage form (the ReCoco export: decode as the field's type, encode again, with the
//! same expressions as the binders and decoder), and the lookup functions (`by_..`, one per key
//! or index prefix). Reads only the checked model; emits no SQL text.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Path};

use crate::ast::{Field, Table, option_inner};
use crate::attr::{DefaultValue, SqlType};
use crate::check::{Checked, IndexDef, LookupDef, check_table};
use crate::ctxt::Ctxt;

/// Runs every stage; `Err` carries all compile errors.
pub(crate) fn expand(input: &DeriveInput) -> Result<TokenStream, TokenStream> {
    let cx = Ctxt::new();
    let Some(table) = Table::from_ast(&cx, input) else {
        return cx.check().map(|()| TokenStream::new());
    };
    let checked = check_table(&cx, &table);
    cx.check()?;
    Ok(generate(&table, &checked))
}

fn sql_type_tokens(krate: &Path, t: SqlType) -> TokenStream {
    let v = format_ident!("{}", t.variant_name());
    quote!(#krate::SqlType::#v)
}

/// How one field crosses the wire.
enum Codec<'a> {
    /// Through `D1Value` of its type.
    Value { ty: &'a syn::Type },
    /// Through `D1Value` of its type, then converted to the `sql_type` override.
    Override { ty: &'a syn::Type, column: SqlType },
    /// `#[d1(json)]`; `optional` when the type is `Option<..>` (None is NULL).
    Json { ty: &'a syn::Type, optional: bool },
}

impl<'a> Codec<'a> {
    fn of(f: &'a Field<'a>) -> Codec<'a> {
        if f.is_json() {
            Codec::Json {
                ty: f.ty,
                optional: option_inner(f.ty).is_some(),
            }
        } else if let Some(t) = &f.attrs.sql_type {
            Codec::Override {
                ty: f.ty,
                column: t.value,
            }
        } else {
            Codec::Value { ty: f.ty }
        }
    }

    /// `SqlType` expression of the column.
    fn column_type(&self, krate: &Path) -> TokenStream {
        match self {
            Codec::Value { ty } => {
                quote_spanned!(ty.span()=> <#ty as #krate::D1Value>::SQL_TYPE)
            }
            Codec::Override { column, .. } => sql_type_tokens(krate, *column),
            Codec::Json { .. } => sql_type_tokens(krate, SqlType::Text),
        }
    }

    fn nullable(&self, krate: &Path) -> TokenStream {
        match self {
            Codec::Value { ty } | Codec::Override { ty, .. } => {
                quote_spanned!(ty.span()=> <#ty as #krate::D1Value>::NULLABLE)
            }
            Codec::Json { optional, .. } => quote!(#optional),
        }
    }

    /// `Result<Value, ValueError>` from `value: &T`.
    fn encode(&self, krate: &Path, value: &TokenStream) -> TokenStream {
        match self {
            Codec::Value { ty } => {
                quote_spanned!(ty.span()=> <#ty as #krate::D1Value>::to_value(#value))
            }
            Codec::Override { ty, column } => {
                let column = sql_type_tokens(krate, *column);
                let enc = quote_spanned!(ty.span()=> <#ty as #krate::D1Value>::to_value(#value));
                quote!(#krate::__private::to_column(#enc, #column))
            }
            Codec::Json { ty, optional: true } => {
                quote_spanned!(ty.span()=> #krate::__private::json_option_to_value(#value))
            }
            Codec::Json {
                ty,
                optional: false,
            } => {
                quote_spanned!(ty.span()=> #krate::__private::json_to_value::<#ty>(#value))
            }
        }
    }

    /// `Result<T, ValueError>` from `value: Value`.
    fn decode(&self, krate: &Path, value: &TokenStream) -> TokenStream {
        match self {
            Codec::Value { ty } => {
                quote_spanned!(ty.span()=> <#ty as #krate::D1Value>::from_value(#value))
            }
            Codec::Override { ty, .. } => quote_spanned! {ty.span()=>
                #krate::__private::Result::and_then(
                    #krate::__private::from_column(#value, <#ty as #krate::D1Value>::SQL_TYPE),
                    <#ty as #krate::D1Value>::from_value,
                )
            },
            Codec::Json { ty, optional: true } => {
                quote_spanned!(ty.span()=> #krate::__private::json_option_from_value(#value))
            }
            Codec::Json {
                ty,
                optional: false,
            } => {
                quote_spanned!(ty.span()=> #krate::__private::json_from_value::<#ty>(#value))
            }
        }
    }
}

impl Codec<'_> {
    /// A function `fn(Value) -> Result<Value, ValueError>` that decodes a value in the
    /// column's storage form as the field's type and encodes it again: `D1Value::reencode` for
    /// a plain field, else `encode(decode(value))` with this codec's own expressions. `name` is
    /// the nested function's name when one is needed; the tokens define it and name it.
    fn reencode(&self, krate: &Path, name: &syn::Ident) -> (TokenStream, TokenStream) {
        match self {
            Codec::Value { ty } => (
                TokenStream::new(),
                quote_spanned!(ty.span()=> <#ty as #krate::D1Value>::reencode),
            ),
            Codec::Override { ty, .. } | Codec::Json { ty, .. } => {
                let dec = self.decode(krate, &quote!(value));
                let enc = self.encode(krate, &quote!(&decoded));
                (
                    quote! {
                        fn #name(
                            value: #krate::Value,
                        ) -> #krate::__private::Result<#krate::Value, #krate::ValueError> {
                            let decoded: #ty = #dec?;
                            #enc
                        }
                    },
                    quote!(#name),
                )
            }
        }
    }
}

fn string(krate: &Path, s: &str) -> TokenStream {
    quote!(#krate::__private::String::from(#s))
}

fn default_tokens(krate: &Path, f: &Field<'_>) -> TokenStream {
    let value = |v: TokenStream| {
        quote! {
            #krate::__private::Option::Some(#krate::ColumnDefault::Value(#v))
        }
    };
    if let Some(d) = &f.attrs.default {
        match &d.value {
            DefaultValue::Integer(i) => value(quote!(#krate::Value::Integer(#i))),
            DefaultValue::Real(r) => {
                let lit = Literal::f64_suffixed(*r);
                value(quote!(#krate::Value::Real(#lit)))
            }
            DefaultValue::Text(s) => {
                let s = string(krate, s);
                value(quote!(#krate::Value::Text(#s)))
            }
            DefaultValue::Blob(b) => {
                let lit = Literal::byte_string(b);
                value(quote!(#krate::Value::Blob(#krate::__private::Vec::from(&#lit[..]))))
            }
        }
    } else if let Some(s) = &f.attrs.default_sql {
        let s = string(krate, &s.value);
        quote!(#krate::__private::Option::Some(#krate::ColumnDefault::Sql(#s)))
    } else {
        quote!(#krate::__private::Option::None)
    }
}

fn index_tokens(krate: &Path, table: &str, ix: &IndexDef) -> TokenStream {
    let columns = &ix.columns;
    let unique = ix.unique;
    let name = match &ix.name {
        Some(n) => string(krate, n),
        None => quote!(#krate::Index::default_name(#table, &[#(#columns),*], #unique)),
    };
    let cols = columns.iter().map(|c| string(krate, c));
    let where_clause = match &ix.where_clause {
        Some(w) => {
            let w = string(krate, w);
            quote!(#krate::__private::Option::Some(#w))
        }
        None => quote!(#krate::__private::Option::None),
    };
    quote! {
        #krate::Index {
            name: #name,
            columns: #krate::__private::Vec::from([#(#cols),*]),
            unique: #unique,
            where_clause: #where_clause,
        }
    }
}

fn generate(table: &Table<'_>, checked: &Checked) -> TokenStream {
    let krate = &table.crate_path;
    let ident = table.ident;
    let table_name = &table.name.value;
    let columns: Vec<&Field<'_>> = table.fields.iter().filter(|f| f.is_column()).collect();
    let n_columns = columns.len();

    // --- schema ---
    let column_defs = columns.iter().map(|f| {
        let codec = Codec::of(f);
        let name = string(krate, &f.column);
        let sql_type = codec.column_type(krate);
        let nullable = codec.nullable(krate);
        let default = default_tokens(krate, f);
        quote! {
            #krate::Column {
                name: #name,
                sql_type: #sql_type,
                nullable: #nullable,
                default: #default,
            }
        }
    });
    let key_names = checked
        .key
        .iter()
        .map(|&i| string(krate, &table.fields[i].column));
    let indexes = checked
        .indexes
        .iter()
        .map(|ix| index_tokens(krate, table_name, ix));
    let strict = table.attrs.strict;
    let without_rowid = table.attrs.without_rowid;
    let table_name_tokens = string(krate, table_name);

    // --- compile-time type checks, spanned at each field's type ---
    let value_checks = columns.iter().filter(|f| !f.is_json()).map(|f| {
        let ty = f.ty;
        quote_spanned!(ty.span()=> let _: #krate::SqlType = <#ty as #krate::D1Value>::SQL_TYPE;)
    });
    let key_checks = checked.key.iter().map(|&i| {
        let ty = table.fields[i].ty;
        quote_spanned!(ty.span()=> #krate::__private::assert_d1_key_value::<#ty>();)
    });
    let default_checks = columns.iter().filter_map(|f| {
        let d = f.attrs.default.as_ref()?;
        let column = Codec::of(f).column_type(krate);
        let lit = sql_type_tokens(krate, d.value.sql_type());
        let msg = format!(
            "the default of field `{}` is {} but its column is of another type",
            f.ident,
            d.value.sql_type().variant_name().to_uppercase()
        );
        let tokens = &d.tokens;
        Some(quote_spanned! {tokens.span()=>
            ::core::assert!(#krate::__private::default_fits(#column, #lit), #msg);
        })
    });

    let override_checks = columns.iter().filter_map(|f| {
        let t = f.attrs.sql_type.as_ref()?;
        let ty = f.ty;
        let column = sql_type_tokens(krate, t.value);
        let msg = format!(
            "field `{}`: its type cannot be kept in a column of type {}; remove `sql_type` or \
             choose a compatible type (INTEGER -> TEXT/REAL, REAL -> TEXT, TEXT -> BLOB)",
            f.ident,
            t.value.variant_name().to_uppercase()
        );
        let tokens = &t.tokens;
        Some(quote_spanned! {tokens.span()=>
            ::core::assert!(
                #krate::__private::sql_type_override_fits(<#ty as #krate::D1Value>::SQL_TYPE, #column),
                #msg
            );
        })
    });

    // --- key ---
    let key_fields: Vec<&Field<'_>> = checked.key.iter().map(|&i| &table.fields[i]).collect();
    let (key_type, key_expr, bind_key) = if let [only] = key_fields.as_slice() {
        let ty = only.ty;
        let member = only.ident;
        let col = &only.column;
        let enc = Codec::of(only).encode(krate, &quote!(key));
        (
            quote!(#ty),
            quote!(#krate::__private::Clone::clone(&self.#member)),
            quote! {
                out.push(#krate::__private::Result::map_err(#enc, |e| #krate::ColumnError::new(#col, e))?);
            },
        )
    } else {
        let tys = key_fields.iter().map(|f| f.ty);
        let members = key_fields.iter().map(|f| f.ident);
        let pushes = key_fields.iter().enumerate().map(|(i, f)| {
            let idx = syn::Index::from(i);
            let col = &f.column;
            let enc = Codec::of(f).encode(krate, &quote!(&key.#idx));
            quote! {
                out.push(#krate::__private::Result::map_err(#enc, |e| #krate::ColumnError::new(#col, e))?);
            }
        });
        (
            quote!((#(#tys,)*)),
            quote!((#(#krate::__private::Clone::clone(&self.#members),)*)),
            quote!(#(#pushes)*),
        )
    };
    let n_key = key_fields.len();

    // --- row binder / decoder ---
    let binds = columns.iter().map(|f| {
        let member = f.ident;
        let col = &f.column;
        let enc = Codec::of(f).encode(krate, &quote!(&self.#member));
        quote! {
            out.push(#krate::__private::Result::map_err(#enc, |e| #krate::ColumnError::new(#col, e))?);
        }
    });
    let mut decodes = Vec::new();
    let mut inits = Vec::new();
    for (i, f) in table.fields.iter().enumerate() {
        let member = f.ident;
        if f.is_column() {
            let local = format_ident!("__field{}", i);
            let col = &f.column;
            let dec = Codec::of(f).decode(krate, &quote!(value));
            decodes.push(quote! {
                let #local = {
                    let value = #krate::__private::Option::ok_or_else(
                        ::core::iter::Iterator::next(&mut values),
                        || #krate::__private::missing_column(#col),
                    )?;
                    #krate::__private::Result::map_err(#dec, |e| #krate::ColumnError::new(#col, e))?
                };
            });
            inits.push(quote!(#member: #local));
        } else {
            let ty = f.ty;
            let init = quote_spanned!(ty.span()=> <#ty as #krate::__private::Default>::default());
            inits.push(quote!(#member: #init));
        }
    }

    // --- per-column codecs for values arriving in storage form (the ReCoco export) ---
    let (codec_fns, codec_refs): (Vec<TokenStream>, Vec<TokenStream>) = columns
        .iter()
        .enumerate()
        .map(|(i, f)| Codec::of(f).reencode(krate, &format_ident!("__reencode_column{}", i)))
        .unzip();

    let lookups = lookup_functions(table, &checked.lookups);

    quote! {
        #[automatically_derived]
        impl #krate::D1Target for #ident {
            type Key = #key_type;

            fn schema() -> &'static #krate::TableSchema {
                static SCHEMA: #krate::__private::OnceLock<#krate::TableSchema> =
                    #krate::__private::OnceLock::new();
                SCHEMA.get_or_init(|| {
                    let schema = #krate::TableSchema {
                        name: #table_name_tokens,
                        columns: #krate::__private::Vec::from([#(#column_defs),*]),
                        primary_key: #krate::__private::Vec::from([#(#key_names),*]),
                        indexes: #krate::__private::Vec::from([#(#indexes),*]),
                        strict: #strict,
                        without_rowid: #without_rowid,
                    };
                    #krate::__private::debug_validate(&schema);
                    schema
                })
            }

            fn key(&self) -> Self::Key {
                #key_expr
            }

            fn bind_row(
                &self,
                out: &mut #krate::__private::Vec<#krate::Value>,
            ) -> #krate::__private::Result<(), #krate::ColumnError> {
                out.reserve(#n_columns);
                #(#binds)*
                #krate::__private::Result::Ok(())
            }

            fn bind_key(
                key: &Self::Key,
                out: &mut #krate::__private::Vec<#krate::Value>,
            ) -> #krate::__private::Result<(), #krate::ColumnError> {
                out.reserve(#n_key);
                #bind_key
                #krate::__private::Result::Ok(())
            }

            fn from_row(
                row: #krate::__private::Vec<#krate::Value>,
            ) -> #krate::__private::Result<Self, #krate::ColumnError> {
                let len = row.len();
                let mut values = ::core::iter::IntoIterator::into_iter(row);
                #(#decodes)*
                if len > #n_columns {
                    return #krate::__private::Result::Err(#krate::__private::extra_values(#n_columns, len));
                }
                #krate::__private::Result::Ok(#ident { #(#inits),* })
            }

            fn column_codecs() -> &'static [#krate::__private::ColumnCodec] {
                #(#codec_fns)*
                static CODECS: [#krate::__private::ColumnCodec; #n_columns] = [#(#codec_refs),*];
                &CODECS
            }
        }

        #lookups

        #[doc(hidden)]
        const _: () = {
            #(#value_checks)*
            #(#key_checks)*
            #(#default_checks)*
            #(#override_checks)*
        };
    }
}

/// The inherent `by_..` functions of the row type, each returning a `Lookup<Self>` for
/// `D1Table::find` and friends. Arguments are `impl Into<FieldType>` (a `String` field takes
/// `&str`); values are encoded with the field's own codec.
fn lookup_functions(table: &Table<'_>, lookups: &[LookupDef]) -> TokenStream {
    if lookups.is_empty() {
        return TokenStream::new();
    }
    let krate = &table.crate_path;
    let ident = table.ident;
    let vis = table.vis;
    let functions = lookups.iter().map(|l| {
        let name = format_ident!("{}", l.name);
        let fields: Vec<&Field<'_>> = l.fields.iter().map(|&i| &table.fields[i]).collect();
        let params = fields.iter().map(|f| {
            let id = f.ident;
            let ty = f.ty;
            quote!(#id: impl ::core::convert::Into<#ty>)
        });
        let converts = fields.iter().map(|f| {
            let id = f.ident;
            let ty = f.ty;
            quote!(let #id: #ty = ::core::convert::Into::into(#id);)
        });
        let columns: Vec<&str> = fields.iter().map(|f| f.column.as_str()).collect();
        let values = fields.iter().map(|f| {
            let id = f.ident;
            let col = &f.column;
            let enc = Codec::of(f).encode(krate, &quote!(&#id));
            quote!(#krate::__private::Result::map_err(#enc, |e| #krate::ColumnError::new(#col, e)))
        });
        let described = columns
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let doc = if columns.len() == 1 {
            format!(
                " The rows whose column {described} equals the given value: a lookup for \
                 `D1Table::find`, `find_one`, `count_where`, `page_where` and `scan_where` \
                 (generated by `#[derive(D1Target)]`)."
            )
        } else {
            format!(
                " The rows whose columns {described} equal the given values: a lookup for \
                 `D1Table::find`, `find_one`, `count_where`, `page_where` and `scan_where` \
                 (generated by `#[derive(D1Target)]`)."
            )
        };
        quote! {
            #[doc = #doc]
            #vis fn #name(#(#params),*) -> #krate::Lookup<Self> {
                #(#converts)*
                #krate::__private::lookup::<Self>(
                    &[#(#columns),*],
                    #krate::__private::Vec::from([#(#values),*]),
                )
            }
        }
    });
    quote! {
        #[automatically_derived]
        #[allow(dead_code, clippy::too_many_arguments)]
        impl #ident {
            #(#functions)*
        }
    }
}
