//! `trailmap report`: where requests ran, as a self-contained HTML page and a Markdown twin.
//!
//! [`build`] reads the archive once: one query folds the events into groups ([`cube`]), and
//! every section runs its named query over the invocations re-expanded from those groups, so
//! memory is bounded by the number of groups, not of invocations. [`html`] and [`markdown`]
//! only render.

pub mod charts;
pub mod cube;
pub mod html;
pub mod markdown;
pub mod table;

use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::bedrock;
use crate::error::{LoadError, Result};
use crate::queries;
use crate::session::TrailSession;
use crate::verify::IntegritySummary;
use table::TableData;

/// One table section of the report, from a named query.
#[derive(Debug, Clone)]
pub struct Section {
    /// Anchor and named query.
    pub id: &'static str,
    /// Heading.
    pub title: &'static str,
    /// One line under the heading.
    pub note: String,
    /// The rows.
    pub table: TableData,
}

/// The headline numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Headline {
    /// First event time, RFC 3339 (empty when no events).
    pub first_event: String,
    /// Last event time, RFC 3339.
    pub last_event: String,
    /// Accounts with events.
    pub accounts: u64,
    /// Source Regions of invocations.
    pub source_regions: u64,
    /// Files read.
    pub files_read: usize,
    /// Files listed.
    pub files_listed: usize,
    /// Records.
    pub events: u64,
    /// Bedrock invocations.
    pub invocations: u64,
    /// Successful invocations.
    pub successful: u64,
    /// Successful invocations served outside their source Region.
    pub outside_region: u64,
    /// Successful invocations served outside their source geography.
    pub outside_geography: u64,
    /// Successful invocations whose served Region the log does not establish.
    pub served_unknown: u64,
    /// Successful invocations on a surface operated outside AWS (they may run outside AWS).
    pub outside_aws: u64,
    /// Inference surfaces the trail may not record in full over the range.
    pub blind_spots: u64,
    /// Files that could not be read.
    pub load_errors: usize,
}

impl Headline {
    /// `part` of the successful invocations as a percentage with one decimal.
    pub fn share(&self, part: u64) -> String {
        if self.successful == 0 {
            return "0.0".into();
        }
        format!("{:.1}", 100.0 * part as f64 / self.successful as f64)
    }
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// Headline numbers.
    pub headline: Headline,
    /// served-regions.
    pub served_regions: TableData,
    /// routes (source → served).
    pub routes: TableData,
    /// daily × served geography.
    pub daily: TableData,
    /// The table sections under the charts.
    pub sections: Vec<Section>,
    /// Files that could not be read.
    pub load_errors: Vec<LoadError>,
    /// Bedrock events that name a model under an event name trailmap does not know:
    /// event_source, event_name, events.
    pub unknown_bedrock_events: TableData,
    /// The delivery margin and the largest delivery lag seen.
    pub delivery_note: String,
    /// The digest chain's verdict, with `--verify`.
    pub integrity: Option<IntegritySummary>,
}

impl ReportData {
    /// The files not read, as a table.
    pub fn load_errors_table(&self) -> TableData {
        TableData {
            columns: crate::schema::LOAD_ERRORS_COLUMNS
                .iter()
                .map(|c| c.name.to_owned())
                .collect(),
            rows: self
                .load_errors
                .iter()
                .map(|e| {
                    vec![
                        e.log_file.clone(),
                        e.stage.to_string(),
                        e.message.clone(),
                        e.record_index.map_or_else(String::new, |i| i.to_string()),
                    ]
                })
                .collect(),
        }
    }
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<TableData> {
    let batches = ctx.sql(sql).await?.collect().await?;
    TableData::from_batches(&batches)
}

fn named_sql(name: &str) -> &'static str {
    queries::find(name).map_or("SELECT 1 WHERE false", |q| q.sql)
}

/// Computes the report over the session's archive, in one pass over it (see [`cube`]).
pub async fn build(session: &TrailSession) -> Result<ReportData> {
    let frame = session
        .sql(&cube::cube_sql(&crate::surfaces::event_sources()))
        .await?;
    let cube_schema = frame.schema().inner().clone();
    let cube = frame.collect().await?;
    // The sections run the named queries unchanged, trailmap's functions included.
    let ctx = SessionContext::new();
    crate::table::register_functions(&mut ctx.clone())?;
    let batch_size = ctx.state().config().batch_size();
    ctx.register_table(
        "invocations",
        Arc::new(cube::expanded_invocations(&cube_schema, &cube, batch_size)?),
    )?;
    ctx.register_table(
        "cube",
        Arc::new(MemTable::try_new(cube_schema, vec![cube])?),
    )?;
    let totals = run(
        &ctx,
        "SELECT coalesce(sum(n), 0) AS events, count(DISTINCT account_id) AS accounts, \
         min(first_seen) AS first_event, max(last_seen) AS last_event, \
         CAST(min(first_seen) AS BIGINT) AS first_micros, \
         CAST(max(last_seen) AS BIGINT) AS last_micros FROM cube",
    )
    .await?;
    let blind_spots = register_trail_coverage(session, &ctx, &totals).await?;
    let inv = run(
        &ctx,
        &format!("SELECT count(*) AS invocations, count(*) FILTER (WHERE error_code IS NULL) AS successful, \
         count(DISTINCT aws_region) AS source_regions, \
         count(*) FILTER (WHERE error_code IS NULL AND served_region <> aws_region) AS outside_region, \
         count(*) FILTER (WHERE error_code IS NULL AND served_geography <> source_geography) AS outside_geography, \
         count(*) FILTER (WHERE error_code IS NULL AND served_region IS NULL) AS served_unknown, \
         count(*) FILTER (WHERE error_code IS NULL AND surface IN ({})) AS outside_aws, \
         count(*) FILTER (WHERE person IS NULL) AS person_unknown \
         FROM invocations",
        outside_aws_surfaces()
    ))
    .await?;
    let coverage = session.coverage();
    let load_errors = session.load_errors();
    let first = |t: &TableData, c: &str| {
        t.texts(c)
            .first()
            .map(|s| s.to_string())
            .unwrap_or_default()
    };
    let count = |t: &TableData, c: &str| t.counts(c).first().copied().unwrap_or(0);
    let headline = Headline {
        first_event: first(&totals, "first_event"),
        last_event: first(&totals, "last_event"),
        accounts: count(&totals, "accounts"),
        source_regions: count(&inv, "source_regions"),
        files_read: coverage.files_read,
        files_listed: coverage.files_listed,
        events: count(&totals, "events"),
        invocations: count(&inv, "invocations"),
        successful: count(&inv, "successful"),
        outside_region: count(&inv, "outside_region"),
        outside_geography: count(&inv, "outside_geography"),
        served_unknown: count(&inv, "served_unknown"),
        outside_aws: count(&inv, "outside_aws"),
        blind_spots,
        load_errors: load_errors.len(),
    };
    let unknown_bedrock_events = unknown_bedrock_events(&ctx).await?;
    let mut sections = Vec::new();
    for (id, title) in [
        ("surfaces", "By inference surface"),
        (
            "blind-spots",
            "Blind spots: surfaces the trail may not record",
        ),
        ("by-profile-scope", "By inference profile scope"),
        ("by-model", "By model"),
        ("cross-geography", "Served outside the caller's geography"),
        (
            "global-profile-principals",
            "Principals and accounts using global. profiles",
        ),
        ("who", "Who"),
        ("errors", "Errors by code and Region"),
        ("top-principals", "Top principals"),
    ] {
        let mut note = queries::find(id)
            .map(|q| q.description.to_owned())
            .unwrap_or_default();
        if id == "who" {
            let unknown = count(&inv, "person_unknown");
            let share = match headline.invocations {
                0 => 0.0,
                all => 100.0 * unknown as f64 / all as f64,
            };
            note.push_str(&format!(
                ". {unknown} of {} invocations ({share:.1}%) name no person.",
                headline.invocations
            ));
        }
        sections.push(Section {
            id,
            title,
            note,
            table: run(&ctx, named_sql(id)).await?,
        });
    }
    Ok(ReportData {
        headline,
        served_regions: run(&ctx, named_sql("served-regions")).await?,
        routes: run(&ctx, named_sql("routes")).await?,
        daily: run(&ctx, named_sql("daily")).await?,
        sections,
        load_errors,
        unknown_bedrock_events,
        delivery_note: coverage.delivery_note(),
        integrity: None,
    })
}

/// The ids of the surfaces operated outside AWS, as an SQL list.
fn outside_aws_surfaces() -> String {
    let ids: Vec<String> = crate::surfaces::SURFACES
        .iter()
        .filter(|s| s.outside_aws)
        .map(|s| format!("'{}'", s.id))
        .collect();
    ids.join(", ")
}

/// Registers `trail_coverage` on the report's `ctx`, over the range the filters give or else the
/// one the cube's events span (`totals`); gives how many surfaces it does not show recorded.
async fn register_trail_coverage(
    session: &TrailSession,
    ctx: &SessionContext,
    totals: &TableData,
) -> Result<u64> {
    let filter = session.filter();
    let micros = |column: &str| {
        totals
            .texts(column)
            .first()
            .and_then(|t| t.parse::<i64>().ok())
    };
    let range =
        crate::coverage::Range::of_filter_or(filter, micros("first_micros"), micros("last_micros"));
    let rows = session.trail_coverage(range).await?;
    let batch = crate::table::coverage::coverage_batch(&rows)?;
    ctx.register_table(
        "trail_coverage",
        Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?),
    )?;
    let blind = crate::coverage::by_surface(&rows)
        .iter()
        .filter(|s| !s.status.is_covered())
        .count();
    Ok(blind as u64)
}

/// Bedrock events that name a model but are not known inference calls, by name: a new
/// inference API shows up here instead of vanishing from the numbers.
async fn unknown_bedrock_events(ctx: &SessionContext) -> Result<TableData> {
    let mut table = run(
        ctx,
        "SELECT other_event_source AS event_source, other_event_name AS event_name, \
         sum(n) AS events FROM cube WHERE other_event_name IS NOT NULL \
         GROUP BY other_event_source, other_event_name ORDER BY events DESC, event_name",
    )
    .await?;
    table.rows.retain(|row| {
        bedrock::is_unknown_model_call(
            row.first().map(String::as_str),
            row.get(1).map(String::as_str),
            true,
        )
    });
    Ok(table)
}
