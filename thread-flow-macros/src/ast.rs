//! The derive input as a model: a table struct with its fields, or a D1Value enum/newtype,
//! each carrying its parsed attributes and names resolved (column names after renames).

use syn::{
    Data, DeriveInput, Fields, GenericArgument, Ident, Member, Path, PathArguments, Type,
    Visibility,
};

use crate::attr::{FieldAttrs, Spanned, TableAttrs, ValueAttrs, VariantAttrs};
use crate::case::snake_case;
use crate::ctxt::Ctxt;

/// A `#[derive(D1Target)]` struct.
pub(crate) struct Table<'a> {
    pub(crate) ident: &'a Ident,
    /// The struct's visibility, given to the generated lookup functions.
    pub(crate) vis: &'a Visibility,
    pub(crate) attrs: TableAttrs,
    /// Table name: `table = ".."` or the struct name in snake_case. Tokens point at the
    /// literal, or at the struct name when derived.
    pub(crate) name: Spanned<String>,
    pub(crate) fields: Vec<Field<'a>>,
    /// `::thread_flow` or the `crate = ".."` override.
    pub(crate) crate_path: Path,
}

/// One named field.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: FieldAttrs,
    /// Column name after `rename` / `rename_all`.
    pub(crate) column: String,
}

impl Field<'_> {
    /// Whether the field has a column (is not `skip`ped).
    pub(crate) fn is_column(&self) -> bool {
        self.attrs.skip.is_none()
    }

    /// Whether the field is stored as JSON text.
    pub(crate) fn is_json(&self) -> bool {
        self.attrs.json.is_some()
    }

    /// The tokens naming the column in errors: the `rename` literal, else the field name.
    pub(crate) fn column_tokens(&self) -> proc_macro2::TokenStream {
        match &self.attrs.rename {
            Some(r) => r.tokens.clone(),
            None => {
                let id = self.ident;
                quote::quote!(#id)
            }
        }
    }
}

pub(crate) fn default_crate_path() -> Path {
    syn::parse_quote!(::thread_flow)
}

impl<'a> Table<'a> {
    /// Reads a D1Target input; `None` when its shape is not a named-field struct.
    /// Attribute errors are still collected for every field.
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Table<'a>> {
        let attrs = TableAttrs::from_ast(cx, &input.attrs);
        if !input.generics.params.is_empty() {
            cx.error_spanned_by(
                &input.generics,
                "#[derive(D1Target)] does not support generic structs: a table has one fixed \
                 schema; declare a concrete struct per table",
            );
        }
        let named = match &input.data {
            Data::Struct(s) => match &s.fields {
                Fields::Named(n) => Some(n),
                Fields::Unnamed(_) => {
                    cx.error_spanned_by(
                        &s.fields,
                        "#[derive(D1Target)] needs a struct with named fields: field names \
                         become column names",
                    );
                    None
                }
                Fields::Unit => {
                    cx.error_spanned_by(
                        &input.ident,
                        "#[derive(D1Target)] needs a struct with named fields; a unit struct has \
                         no columns",
                    );
                    None
                }
            },
            Data::Enum(e) => {
                cx.error_spanned_by(
                    e.enum_token,
                    "#[derive(D1Target)] works on structs with named fields, not enums; \
                     to store an enum in a column use #[derive(D1Value)] on it",
                );
                None
            }
            Data::Union(u) => {
                cx.error_spanned_by(
                    u.union_token,
                    "#[derive(D1Target)] works on structs with named fields, not unions",
                );
                None
            }
        };
        let named = named?;
        let rename_all = attrs.rename_all.as_ref().map(|r| r.value);
        let fields = named
            .named
            .iter()
            .filter_map(|f| {
                let ident = f.ident.as_ref()?;
                let fattrs = FieldAttrs::from_ast(cx, &f.attrs);
                let raw = ident.to_string();
                let raw = raw.strip_prefix("r#").unwrap_or(&raw).to_string();
                let column = match (&fattrs.rename, rename_all) {
                    (Some(r), _) => r.value.clone(),
                    (None, Some(rule)) => rule.apply_to_field(&raw),
                    (None, None) => raw,
                };
                Some(Field {
                    ident,
                    ty: &f.ty,
                    attrs: fattrs,
                    column,
                })
            })
            .collect();
        let name = match &attrs.table {
            Some(t) => t.clone(),
            None => Spanned {
                value: snake_case(&input.ident.to_string()),
                tokens: {
                    let id = &input.ident;
                    quote::quote!(#id)
                },
            },
        };
        let crate_path = attrs.crate_path.clone().unwrap_or_else(default_crate_path);
        Some(Table {
            ident: &input.ident,
            vis: &input.vis,
            attrs,
            name,
            fields,
            crate_path,
        })
    }
}

/// A `#[derive(D1Value)]` type.
pub(crate) struct ValueType<'a> {
    pub(crate) input: &'a DeriveInput,
    pub(crate) attrs: ValueAttrs,
    pub(crate) body: ValueBody<'a>,
    pub(crate) crate_path: Path,
}

pub(crate) enum ValueBody<'a> {
    /// Unit variants.
    Enum(Vec<Variant<'a>>),
    /// One field, stored with the inner type's mapping.
    Newtype { member: Member, ty: &'a Type },
}

pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: VariantAttrs,
    pub(crate) has_discriminant: bool,
    /// The stored text after `rename` / `rename_all`.
    pub(crate) name: String,
}

impl<'a> ValueType<'a> {
    pub(crate) fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<ValueType<'a>> {
        let attrs = ValueAttrs::from_ast(cx, &input.attrs);
        let crate_path = attrs.crate_path.clone().unwrap_or_else(default_crate_path);
        let body = match &input.data {
            Data::Enum(e) => {
                if !input.generics.params.is_empty() {
                    cx.error_spanned_by(
                        &input.generics,
                        "#[derive(D1Value)] does not support generic enums",
                    );
                }
                if e.variants.is_empty() {
                    cx.error_spanned_by(
                        &input.ident,
                        "#[derive(D1Value)] needs at least one variant: an empty enum has no \
                         value to store",
                    );
                }
                let rule = attrs.rename_all.as_ref().map(|r| r.value);
                let variants = e
                    .variants
                    .iter()
                    .map(|v| {
                        if !matches!(v.fields, Fields::Unit) {
                            cx.error_spanned_by(
                                &v.fields,
                                "#[derive(D1Value)] supports enums of unit variants only; \
                                 store an enum with data using `#[d1(json)]` on the field",
                            );
                        }
                        let vattrs = VariantAttrs::from_ast(cx, &v.attrs);
                        let raw = v.ident.to_string();
                        let name = match (&vattrs.rename, rule) {
                            (Some(r), _) => r.value.clone(),
                            (None, Some(rule)) => rule.apply_to_variant(&raw),
                            (None, None) => raw,
                        };
                        Variant {
                            ident: &v.ident,
                            attrs: vattrs,
                            has_discriminant: v.discriminant.is_some(),
                            name,
                        }
                    })
                    .collect();
                ValueBody::Enum(variants)
            }
            Data::Struct(s) => {
                let mut iter = s.fields.iter();
                match (iter.next(), iter.next()) {
                    (Some(f), None) => {
                        let member = match &f.ident {
                            Some(id) => Member::Named(id.clone()),
                            None => Member::Unnamed(0.into()),
                        };
                        ValueBody::Newtype { member, ty: &f.ty }
                    }
                    _ => {
                        cx.error_spanned_by(
                            &input.ident,
                            "#[derive(D1Value)] on a struct needs exactly one field (a newtype \
                             like `struct UserId(i64);`); store a struct with several fields \
                             using `#[d1(json)]` on the field",
                        );
                        return None;
                    }
                }
            }
            Data::Union(u) => {
                cx.error_spanned_by(
                    u.union_token,
                    "#[derive(D1Value)] works on enums and newtype structs, not unions",
                );
                return None;
            }
        };
        Some(ValueType {
            input,
            attrs,
            body,
            crate_path,
        })
    }
}

/// Strips groups and parentheses around a type.
fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => peel(&g.elem),
        Type::Paren(p) => peel(&p.elem),
        other => other,
    }
}

/// The last path segment's name and its single type argument, if the type is a plain path.
fn last_segment(ty: &Type) -> Option<(String, Option<&Type>)> {
    match peel(ty) {
        Type::Path(p) if p.qself.is_none() => {
            let seg = p.path.segments.last()?;
            let arg = match &seg.arguments {
                PathArguments::AngleBracketed(a) if a.args.len() == 1 => match a.args.first() {
                    Some(GenericArgument::Type(t)) => Some(t),
                    _ => None,
                },
                _ => None,
            };
            Some((seg.ident.to_string(), arg))
        }
        _ => None,
    }
}

/// `Some(inner)` when the type is written `Option<inner>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    match last_segment(ty) {
        Some((name, Some(inner))) if name == "Option" => Some(inner),
        _ => None,
    }
}

/// The type without its `Option<..>` wrapper.
fn non_optional(ty: &Type) -> &Type {
    option_inner(ty).unwrap_or(ty)
}

/// `f32` / `f64` (optionally inside `Option`).
pub(crate) fn is_float(ty: &Type) -> bool {
    matches!(last_segment(non_optional(ty)), Some((n, None)) if n == "f32" || n == "f64")
}

/// Integer types that do not fit SQLite's signed 64-bit INTEGER, by name.
pub(crate) fn wide_integer(ty: &Type) -> Option<String> {
    match last_segment(non_optional(ty)) {
        Some((n, None)) if matches!(n.as_str(), "u64" | "usize" | "i128" | "u128") => Some(n),
        _ => None,
    }
}
