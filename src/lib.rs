//! Suite package: workspace-level tests, examples and benches.
