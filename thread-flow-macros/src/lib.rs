//! Derive macros for thread-flow: `#[derive(D1Target)]` and `#[derive(D1Value)]`.

use proc_macro::TokenStream;

/// Derives `thread_flow::D1Target` for a struct with named fields.
#[proc_macro_derive(D1Target, attributes(d1))]
pub fn derive_d1_target(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}

/// Derives `thread_flow::D1Value` for an enum or a single-field newtype.
#[proc_macro_derive(D1Value, attributes(d1))]
pub fn derive_d1_value(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
