//! The ReCoco target kind `"D1"` (feature `recoco`): collected rows land in a D1 table through
//! the same schema model, SQL planner and transports as [`crate::D1Table`].
//!
//! The public surface is what a flow author uses: [`register`], [`export`] / [`D1Export`] /
//! [`export_collector`] / [`check_collected`], the spec types ([`D1Spec`], [`Connection`](crate::Connection),
//! [`TokenSource`](crate::TokenSource), [`ExistingTable`], [`KIND`]) and [`table_stats`]. The factory itself (ReCoco's
//! `TargetFactoryBase`, its setup state and export context) is private; the workspace's tests
//! reach it through the `testing` feature.
//!
//! - [`register`] registers the target factory with ReCoco (idempotent, thread-safe).
//! - [`export`] turns a `#[derive(D1Target)]` struct into the spec and `IndexOptions` for
//!   `FlowBuilder::export`, and carries the struct's column codecs: every collected value is
//!   decoded as its field's type and encoded by the field's own codec (enum text, JSON,
//!   newtypes), exactly as `D1Table<T>` writes it; [`check_collected`] checks a collector's
//!   fields against it.
//! - Setup: the setup key is the database identity + table name ([`D1TableId`], names compared
//!   without regard to case, as SQLite does); the setup state is the [`crate::TableSchema`]
//!   (plus where the token comes from, never the token). Changes are planned by
//!   `sql::migrate` (pure) and applied as one request per table. Only tables the
//!   recorded state says this flow created are migrated with data loss, dropped or recreated;
//!   a live table it has no record of is used only when it matches exactly, unless the spec
//!   says `"existing": "adopt"` ([`ExistingTable`]; see [`D1Spec`]).
//! - Databases: one SQLite connection per local file and one HTTP handle per D1 database per
//!   process (one concurrency limit, one rate limit), whatever the number of exports.
//! - Mutations: concurrent `apply_mutation` calls are merged per table within a small window,
//!   duplicate keys collapse to the last operation, upserts and deletes go through
//!   `D1Database::write_rows`. A batch that fails because of some callers' rows finds them by
//!   halving; only those callers fail. Failures are logged (`tracing::error!` with table and
//!   first key) and returned, so ReCoco counts them and re-sends the rows on the next update.
//!
//! ```no_run
//! # async fn demo(builder: &mut recoco_core::builder::FlowBuilder,
//! #               collector: &recoco_core::builder::flow_builder::DataCollector)
//! #               -> Result<(), Box<dyn std::error::Error>> {
//! # #[derive(thread_flow::D1Target)] struct Line { #[d1(primary_key)] id: i64, text: String }
//! use thread_flow::Connection;
//! thread_flow::recoco::register()?;
//! let out = thread_flow::recoco::export::<Line>(Connection::local("lines.d1"))?;
//! builder.export("lines".into(), "D1".into(), out.spec, vec![], out.index_options, collector, false)?;
//! # Ok(()) }
//! ```

mod batch;
mod columns;
mod export;
mod factory;
mod spec;
mod types;

use std::sync::{Arc, OnceLock};

pub use batch::TableStatsSnapshot;
pub use columns::renamed;
pub use export::{D1Export, check_collected, export, export_collector};
use factory::D1TargetFactory;
pub use factory::KIND;
pub use spec::{D1Spec, D1TableId, ExistingTable};

/// The factory's internals, for this workspace's tests (feature `testing`): they drive ReCoco's
/// `TargetFactoryBase` directly, without a flow. Not part of the public API.
#[cfg(feature = "testing")]
pub mod testing {
    pub use super::batch::{DEFAULT_BATCH_WINDOW, DEFAULT_MAX_BATCH_ROWS};
    pub use super::factory::{
        D1ExportContext, D1SetupChange, D1TargetFactory, compatibility, diff,
    };
    pub use super::spec::{D1SetupState, default_table_name};
}

use crate::{Error, Result};

static FACTORY: OnceLock<Arc<D1TargetFactory>> = OnceLock::new();
static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();

/// The process-wide factory (the one [`register`] hands to ReCoco).
fn factory() -> &'static Arc<D1TargetFactory> {
    FACTORY.get_or_init(|| Arc::new(D1TargetFactory::default()))
}

/// Registers the target kind `"D1"` with ReCoco's process-global registry. Idempotent and safe
/// to call from several threads; fails only if another factory already took the name `"D1"`.
pub fn register() -> Result<()> {
    REGISTERED
        .get_or_init(|| {
            let f: Arc<D1TargetFactory> = Arc::clone(factory());
            recoco_core::ops::register_factory(
                KIND.to_string(),
                recoco_core::ops::interface::ExecutorFactory::ExportTarget(f),
            )
            .map_err(|e| {
                format!("cannot register the ReCoco target kind `{KIND}`: {e} (is another D1 target registered?)")
            })
        })
        .clone()
        .map_err(Error::Config)
}

/// Write counters per table since the process started (rows upserted and deleted, requests,
/// failures), for progress displays and summaries.
pub fn table_stats() -> Vec<(D1TableId, TableStatsSnapshot)> {
    factory().table_stats()
}
