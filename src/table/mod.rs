//! DataFusion tables over an archive: `events`, `invocations`, `regions`, `load_errors`,
//! `application_profiles`, `sessions`, `integrity`, plus
//! the `geography` function and the JSON functions of `datafusion-functions-json`.

pub mod archive;
pub mod cache;
pub mod coverage;
pub mod events;
pub mod exec;
pub mod integrity;
pub mod load_errors;
pub mod profiles;
pub mod pruning;
pub mod regions;
pub mod sessions;
pub mod small;
pub mod tags;
pub mod warehouse;

use std::sync::Arc;

use datafusion::catalog::MemTable;
use datafusion::execution::FunctionRegistry;
use datafusion::prelude::SessionContext;

use crate::error::{LoadError, Result};
use crate::filter::ScanFilter;
use crate::warehouse::Warehouse;
use crate::warehouse::manifest::Manifest;
use archive::Archive;

/// SQL of the `invocations` view.
const INVOCATIONS_VIEW: &str =
    "CREATE VIEW invocations AS SELECT * FROM events WHERE is_invocation";

/// Registers every table and function on `ctx`.
pub async fn register(
    ctx: &SessionContext,
    archive: Arc<Archive>,
    integrity: Arc<integrity::Integrity>,
) -> Result<()> {
    ctx.register_table(
        "integrity",
        Arc::new(integrity::integrity_table(Arc::clone(&archive), integrity)),
    )?;
    ctx.register_table(
        "events",
        Arc::new(events::EventsTable::new(Arc::clone(&archive))),
    )?;
    ctx.register_table(
        "load_errors",
        Arc::new(load_errors::load_errors_table(Arc::clone(&archive))),
    )?;
    ctx.register_table(
        "sessions",
        Arc::new(sessions::sessions_table(Arc::clone(&archive))),
    )?;
    ctx.register_table(
        "application_profiles",
        Arc::new(profiles::application_profiles_table(archive)),
    )?;
    register_shared(ctx).await
}

/// Registers every table and function on `ctx` over a Parquet warehouse: `events` from its
/// files (cut by `filter` as a raw scan cuts), `load_errors` (the objects `filter` keeps that
/// could not be ingested), `application_profiles` from its manifest and `sessions` from its STS
/// events. `integrity` says
/// that digests are verified on the raw archive.
pub async fn register_warehouse(
    ctx: &SessionContext,
    warehouse: Warehouse,
    manifest: &Manifest,
    filter: ScanFilter,
    load_errors: &[LoadError],
) -> Result<()> {
    let location = warehouse.location().to_owned();
    // Every session of the warehouse, whatever the filters cut from `events`: the tags its
    // rows hold were resolved from all of them.
    let every_event: Arc<dyn datafusion::catalog::TableProvider> = Arc::new(
        warehouse::WarehouseEvents::new(warehouse.clone(), manifest, ScanFilter::default()),
    );
    let events = warehouse::WarehouseEvents::new(warehouse, manifest, filter);
    ctx.register_table("events", Arc::new(events))?;
    ctx.register_table(
        "sessions",
        Arc::new(sessions::WarehouseSessions::new(every_event)),
    )?;
    let errors = load_errors::load_errors_schema();
    let errors_batch = load_errors::load_errors_batch(Arc::clone(&errors), load_errors)?;
    ctx.register_table(
        "load_errors",
        Arc::new(MemTable::try_new(errors, vec![vec![errors_batch]])?),
    )?;
    let profiles = profiles::profiles_schema();
    let profiles_batch = profiles::profiles_batch(Arc::clone(&profiles), &manifest.profiles)?;
    ctx.register_table(
        "application_profiles",
        Arc::new(MemTable::try_new(profiles, vec![vec![profiles_batch]])?),
    )?;
    ctx.register_table("integrity", Arc::new(warehouse::NoIntegrity::new(location)))?;
    register_shared(ctx).await
}

/// The tables and functions that do not depend on where events come from, and the
/// `invocations` view over `events`.
async fn register_shared(ctx: &SessionContext) -> Result<()> {
    ctx.register_table("regions", Arc::new(regions::regions_table()?))?;
    register_functions(&mut ctx.clone())?;
    ctx.sql(INVOCATIONS_VIEW).await?.collect().await?;
    Ok(())
}

/// Registers trailmap's functions: `geography`, `session_tag` and the JSON functions (with their
/// operators).
pub fn register_functions(registry: &mut dyn FunctionRegistry) -> datafusion::common::Result<()> {
    registry.register_udf(Arc::new(regions::geography_udf()))?;
    registry.register_udf(Arc::new(tags::session_tag_udf()))?;
    datafusion_functions_json::register_all(registry)?;
    Ok(())
}
