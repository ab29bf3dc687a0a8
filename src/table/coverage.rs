//! The `trail_coverage` table: per trail, inference surface and period, whether the trail
//! records the surface's calls ([`crate::coverage`]), computed when it is scanned.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, AsArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMicrosecondType};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::physical_plan::{ExecutionPlan, collect};
use tokio::sync::OnceCell;

use crate::coverage::known::{KnowledgeInputs, build};
use crate::coverage::{
    CLOUDTRAIL_EVENT_SOURCE, CoverageRow, Freshness, Home, Range, TRAIL_CHANGE_EVENTS, TrailChange,
    TrailKnowledge, change_of_row, coverage_rows,
};
use crate::schema::{TRAIL_COVERAGE_COLUMNS, UTC, timestamp_type};
use crate::table::archive::Archive;

/// Where a session's trail changes come from.
#[derive(Debug, Clone)]
pub enum ChangeSource {
    /// A raw archive: its scans harvest them; the files not read are searched.
    Archive(Arc<Archive>),
    /// An `events` table (a warehouse): its trail events, selected when asked.
    Events(Arc<dyn TableProvider>),
}

/// The `events` columns a trail change is read from, in this order.
const CHANGE_COLUMNS: [&str; 8] = [
    "event_source",
    "event_name",
    "error_code",
    "request_parameters",
    "event_time",
    "log_file",
    "account_id",
    "aws_region",
];

impl ChangeSource {
    /// Every trail change, in time order.
    pub async fn changes(&self, state: &dyn Session) -> Result<Vec<TrailChange>> {
        let events = match self {
            ChangeSource::Archive(archive) => return Ok(archive.trail_changes().await),
            ChangeSource::Events(events) => events,
        };
        let schema = events.schema();
        let projection = CHANGE_COLUMNS
            .iter()
            .map(|c| schema.index_of(c))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let names = TRAIL_CHANGE_EVENTS.iter().map(|n| lit(*n)).collect();
        let filter = col("event_source")
            .eq(lit(CLOUDTRAIL_EVENT_SOURCE))
            .and(col("event_name").in_list(names, false));
        let plan = events
            .scan(state, Some(&projection), &[filter], None)
            .await?;
        let mut changes = Vec::new();
        // The filter is a hint to the scan: each row is checked again here.
        for batch in collect(plan, state.task_ctx()).await? {
            let text = |i: usize| -> Result<StringArray> {
                Ok(cast(batch.column(i), &DataType::Utf8)?
                    .as_string::<i32>()
                    .clone())
            };
            let (source, name, error, request, file) =
                (text(0)?, text(1)?, text(2)?, text(3)?, text(5)?);
            let (account, region) = (text(6)?, text(7)?);
            let times = batch
                .column(4)
                .as_primitive_opt::<TimestampMicrosecondType>()
                .ok_or_else(|| DataFusionError::Internal("event_time is not a timestamp".into()))?;
            for row in 0..batch.num_rows() {
                let at = |a: &'_ StringArray| -> Option<String> {
                    a.is_valid(row).then(|| a.value(row).to_owned())
                };
                let (source, name) = (at(&source), at(&name));
                if !crate::coverage::is_trail_change(source.as_deref(), name.as_deref())
                    || at(&error).is_some()
                {
                    continue;
                }
                let time = times.is_valid(row).then(|| times.value(row));
                if let Some(change) = change_of_row(
                    name.as_deref().unwrap_or_default(),
                    at(&request).as_deref(),
                    time,
                    &at(&file).unwrap_or_default(),
                    at(&account).as_deref(),
                    at(&region).as_deref(),
                ) {
                    changes.push(change);
                }
            }
        }
        changes.sort_by_key(|c| c.time);
        Ok(changes)
    }

    /// What the listing says about who wrote the files and when ([`Freshness`]; nothing for
    /// a warehouse, whose knowledge never relies on it).
    pub fn freshness(&self) -> Freshness {
        let mut freshness = Freshness {
            now: chrono::Utc::now().timestamp_micros(),
            ..Freshness::default()
        };
        let ChangeSource::Archive(archive) = self else {
            return freshness;
        };
        for object in archive.objects() {
            let key = object.key();
            if let (Some(account), None) = (&key.account, &key.organization) {
                freshness.account_trail_accounts.insert(account.clone());
            }
            let (Some(account), Some(region), Some(delivered)) =
                (&key.account, &key.region, key.delivered)
            else {
                continue;
            };
            let time = delivered.timestamp_micros();
            freshness.oldest_delivery =
                Some(freshness.oldest_delivery.map_or(time, |o| o.min(time)));
            freshness
                .deliveries
                .entry(Home {
                    account: account.clone(),
                    region: region.clone(),
                })
                .or_default()
                .push(time);
        }
        freshness
            .deliveries
            .values_mut()
            .for_each(|d| d.sort_unstable());
        freshness
    }
}

/// A session's [`TrailKnowledge`], built on first need (it may ask CloudTrail).
#[derive(Debug, Default)]
pub struct Knowledge {
    inputs: KnowledgeInputs,
    built: OnceCell<TrailKnowledge>,
}

impl Knowledge {
    /// Knowledge from `inputs`, not built yet.
    pub fn new(inputs: KnowledgeInputs) -> Self {
        Knowledge {
            inputs,
            built: OnceCell::new(),
        }
    }

    /// The knowledge, built once.
    pub async fn get(&self) -> crate::error::Result<&TrailKnowledge> {
        self.built.get_or_try_init(|| build(&self.inputs)).await
    }
}

/// The `trail_coverage` table.
#[derive(Debug)]
pub struct TrailCoverageTable {
    knowledge: Arc<Knowledge>,
    changes: ChangeSource,
    range: Range,
}

impl TrailCoverageTable {
    /// The table over `changes`, for `range` (`--from/--to`; open ends when not given).
    pub fn new(knowledge: Arc<Knowledge>, changes: ChangeSource, range: Range) -> Self {
        TrailCoverageTable {
            knowledge,
            changes,
            range,
        }
    }
}

/// The columns of `trail_coverage`.
pub fn coverage_schema() -> SchemaRef {
    let fields: Vec<Field> = TRAIL_COVERAGE_COLUMNS
        .iter()
        .map(|c| match c.name {
            "period_start" | "period_end" => Field::new(c.name, timestamp_type(), true),
            "surface" | "event_source" | "event_names" | "status" | "basis" => {
                Field::new(c.name, DataType::Utf8, false)
            }
            _ => Field::new(c.name, DataType::Utf8, true),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The rows as one batch of [`coverage_schema`].
pub fn coverage_batch(rows: &[CoverageRow]) -> Result<RecordBatch> {
    let text = |f: fn(&CoverageRow) -> Option<&str>| {
        Arc::new(rows.iter().map(f).collect::<StringArray>()) as Arc<dyn Array>
    };
    let time = |f: fn(&CoverageRow) -> Option<i64>| {
        Arc::new(
            rows.iter()
                .map(f)
                .collect::<TimestampMicrosecondArray>()
                .with_timezone(UTC),
        ) as Arc<dyn Array>
    };
    Ok(RecordBatch::try_new(
        coverage_schema(),
        vec![
            text(|r| r.trail.as_deref()),
            text(|r| Some(r.surface)),
            text(|r| Some(r.event_source)),
            text(|r| Some(&r.event_names)),
            text(|r| r.event_category),
            text(|r| r.resource_type),
            time(|r| r.period_start),
            time(|r| r.period_end),
            text(|r| Some(r.status.as_str())),
            text(|r| Some(&r.basis)),
            text(|r| r.reason.as_deref()),
        ],
    )?)
}

#[async_trait]
impl TableProvider for TrailCoverageTable {
    fn schema(&self) -> SchemaRef {
        coverage_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let knowledge = self
            .knowledge
            .get()
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let changes = self.changes.changes(state).await?;
        let rows = coverage_rows(knowledge, &changes, self.range, &self.changes.freshness());
        let batch = coverage_batch(&rows)?;
        let exec: Arc<dyn ExecutionPlan> = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            coverage_schema(),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}
