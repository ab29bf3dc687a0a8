//! The `events` table: decides which files a query reads and which columns it builds.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::decode::pushdown::RecordFilter;
use crate::layout::pruning::pushdown_support;
use crate::schema::{Column, events_schema};
use crate::table::archive::Archive;
use crate::table::exec::EventsScanExec;
use crate::table::pruning;

/// `events`: one row per CloudTrail record of the archive.
#[derive(Debug)]
pub struct EventsTable {
    archive: Arc<Archive>,
}

impl EventsTable {
    /// The table over `archive`.
    pub fn new(archive: Arc<Archive>) -> Self {
        EventsTable { archive }
    }

    /// The archive it reads.
    pub fn archive(&self) -> &Arc<Archive> {
        &self.archive
    }
}

#[async_trait]
impl TableProvider for EventsTable {
    fn schema(&self) -> SchemaRef {
        events_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // With a column cache, files are decoded whole and DataFusion filters the rows.
        let decoder_filters = !self.archive.caches();
        Ok(filters
            .iter()
            .map(|f| match decoder_filters && RecordFilter::supports(f) {
                true => TableProviderFilterPushDown::Exact,
                false => pushdown_support(f),
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let columns: Vec<Column> = match projection {
            Some(indices) => indices
                .iter()
                .filter_map(|&i| Column::ALL.get(i).copied())
                .collect(),
            None => Column::ALL.to_vec(),
        };
        let margin = self.archive.filter().delivery_margin;
        let files = pruning::prune(self.archive.objects(), filters, margin, state)?;
        let decoder_filters = match self.archive.caches() {
            true => Vec::new(),
            false => filters.to_vec(),
        };
        let records = RecordFilter::of(&decoder_filters);
        let plan = self
            .archive
            .decode_plan(columns)
            .with_record_filter(records)
            .with_batch_size(state.config().batch_size());
        let partitions = state.config().target_partitions();
        let scan = EventsScanExec::new(Arc::clone(&self.archive), files, plan, partitions);
        Ok(Arc::new(scan.with_filters(decoder_filters)))
    }
}
