//! DataFusion tables over an archive: `events`, `invocations`, `regions`, `load_errors`,
//! `application_profiles`, `integrity`, plus
//! the `geography` function and the JSON functions of `datafusion-functions-json`.

pub mod archive;
pub mod events;
pub mod exec;
pub mod integrity;
pub mod load_errors;
pub mod profiles;
pub mod pruning;
pub mod regions;
pub mod small;

use std::sync::Arc;

use datafusion::prelude::SessionContext;

use crate::error::Result;
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
        "application_profiles",
        Arc::new(profiles::application_profiles_table(archive)),
    )?;
    ctx.register_table("regions", Arc::new(regions::regions_table()?))?;
    ctx.register_udf(regions::geography_udf());
    datafusion_functions_json::register_all(&mut ctx.clone())?;
    ctx.sql(INVOCATIONS_VIEW).await?.collect().await?;
    Ok(())
}
