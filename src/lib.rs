//! Suite package: workspace-level tests, examples and benches.
#[doc(hidden)]
pub mod fake_d1;
#[doc(hidden)]
pub mod miniflare;
