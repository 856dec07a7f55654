//! Codegen for `#[derive(D1Value)]`: unit enums (TEXT by name or INTEGER by discriminant) and
//! newtypes (the inner type's mapping; keyability follows the inner type).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use crate::ast::{ValueBody, ValueType, Variant};
use crate::attr::SqlType;
use crate::check::check_value;
use crate::ctxt::Ctxt;

pub(crate) fn expand(input: &DeriveInput) -> Result<TokenStream, TokenStream> {
    let cx = Ctxt::new();
    let Some(v) = ValueType::from_ast(&cx, input) else {
        return cx.check().map(|()| TokenStream::new());
    };
    let sql_type = check_value(&cx, &v);
    cx.check()?;
    Ok(match &v.body {
        ValueBody::Enum(variants) if sql_type == SqlType::Integer => integer_enum(&v, variants),
        ValueBody::Enum(variants) => text_enum(&v, variants),
        ValueBody::Newtype { member, ty } => newtype(&v, member, ty),
    })
}

fn text_enum(v: &ValueType<'_>, variants: &[Variant<'_>]) -> TokenStream {
    let krate = &v.crate_path;
    let ident = &v.input.ident;
    let type_name = ident.to_string();
    let idents: Vec<_> = variants.iter().map(|v| v.ident).collect();
    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    let known_name = if names.is_empty() {
        quote!(false)
    } else {
        quote!(::core::matches!(text.as_str(), #(#names)|*))
    };
    quote! {
        #[automatically_derived]
        impl #krate::D1Value for #ident {
            const SQL_TYPE: #krate::SqlType = #krate::SqlType::Text;

            fn to_value(&self) -> #krate::__private::Result<#krate::Value, #krate::ValueError> {
                let name: &'static str = match self {
                    #(#ident::#idents => #names,)*
                };
                #krate::__private::Result::Ok(#krate::Value::Text(#krate::__private::String::from(name)))
            }

            fn from_value(value: #krate::Value) -> #krate::__private::Result<Self, #krate::ValueError> {
                match value {
                    #krate::Value::Text(text) => match text.as_str() {
                        #(#names => #krate::__private::Result::Ok(#ident::#idents),)*
                        other => #krate::__private::Result::Err(
                            #krate::__private::unknown_variant(#type_name, other, &[#(#names),*]),
                        ),
                    },
                    other => #krate::__private::Result::Err(#krate::ValueError::unexpected("TEXT", &other)),
                }
            }

            fn reencode(value: #krate::Value) -> #krate::__private::Result<#krate::Value, #krate::ValueError> {
                // A variant's name is its own encoding: keep the text instead of copying it.
                let known = match &value {
                    #krate::Value::Text(text) => #known_name,
                    _ => false,
                };
                if known {
                    return #krate::__private::Result::Ok(value);
                }
                #krate::__private::Result::and_then(
                    <Self as #krate::D1Value>::from_value(value),
                    |decoded| <Self as #krate::D1Value>::to_value(&decoded),
                )
            }
        }

        #[automatically_derived]
        impl #krate::D1KeyValue for #ident {}
    }
}

fn integer_enum(v: &ValueType<'_>, variants: &[Variant<'_>]) -> TokenStream {
    let krate = &v.crate_path;
    let ident = &v.input.ident;
    let type_name = ident.to_string();
    let idents: Vec<_> = variants.iter().map(|v| v.ident).collect();
    quote! {
        #[automatically_derived]
        impl #krate::D1Value for #ident {
            const SQL_TYPE: #krate::SqlType = #krate::SqlType::Integer;

            fn to_value(&self) -> #krate::__private::Result<#krate::Value, #krate::ValueError> {
                let discriminant: ::core::primitive::i64 = match self {
                    #(#ident::#idents => #ident::#idents as ::core::primitive::i64,)*
                };
                #krate::__private::Result::Ok(#krate::Value::Integer(discriminant))
            }

            fn from_value(value: #krate::Value) -> #krate::__private::Result<Self, #krate::ValueError> {
                match value {
                    #krate::Value::Integer(found) => {
                        #(
                            if found == #ident::#idents as ::core::primitive::i64 {
                                return #krate::__private::Result::Ok(#ident::#idents);
                            }
                        )*
                        #krate::__private::Result::Err(#krate::__private::unknown_discriminant(#type_name, found))
                    }
                    other => #krate::__private::Result::Err(#krate::ValueError::unexpected("INTEGER", &other)),
                }
            }
        }

        #[automatically_derived]
        impl #krate::D1KeyValue for #ident {}
    }
}

fn newtype(v: &ValueType<'_>, member: &syn::Member, ty: &syn::Type) -> TokenStream {
    let krate = &v.crate_path;
    let ident = &v.input.ident;
    let (impl_generics, ty_generics, where_clause) = v.input.generics.split_for_impl();
    let mut value_where = where_clause
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(where));
    let mut key_where = value_where.clone();
    if !v.input.generics.params.is_empty() {
        value_where
            .predicates
            .push(syn::parse_quote!(#ty: #krate::D1Value));
    }
    // The higher-ranked form keeps the bound from being "trivially false" (an error) when the
    // inner type is concrete and not keyable: the newtype is then simply not a key type.
    key_where
        .predicates
        .push(syn::parse_quote!(for<'__d1> #ty: #krate::D1KeyValue));
    let inner = quote_spanned!(ty.span()=> <#ty as #krate::D1Value>);
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::D1Value for #ident #ty_generics #value_where {
            const SQL_TYPE: #krate::SqlType = #inner::SQL_TYPE;
            const NULLABLE: ::core::primitive::bool = #inner::NULLABLE;

            fn to_value(&self) -> #krate::__private::Result<#krate::Value, #krate::ValueError> {
                #inner::to_value(&self.#member)
            }

            fn from_value(value: #krate::Value) -> #krate::__private::Result<Self, #krate::ValueError> {
                #krate::__private::Result::map(#inner::from_value(value), |inner| #ident { #member: inner })
            }

            fn reencode(value: #krate::Value) -> #krate::__private::Result<#krate::Value, #krate::ValueError> {
                #inner::reencode(value)
            }
        }

        #[automatically_derived]
        impl #impl_generics #krate::D1KeyValue for #ident #ty_generics #key_where {}
    }
}
