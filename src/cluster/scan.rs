//! A raw archive's `events` scan in the shape a Ballista scheduler can split into tasks.
//!
//! Ballista gives each task a slice of a stage's partitions by rewriting the plan's leaves, and
//! it knows how to slice DataFusion's file scans (`DataSourceExec` over a `FileScanConfig`)
//! but not a custom leaf. On a cluster, `events` is therefore planned as a file scan whose
//! files are the log objects and whose source is [`CloudTrailSource`]; a task's slice travels
//! to its executor as those files, where trailmap's own scan
//! ([`crate::table::exec::EventsScanExec`], with its read-ahead) reads them.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{
    FileGroup, FileOpenFuture, FileOpener, FileScanConfig, FileScanConfigBuilder, FileSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::memory_pool::UnboundedMemoryPool;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::StreamExt;
use object_store::ObjectStore;

use crate::decode::DecodePlan;
use crate::source::LogObject;
use crate::table::archive::{Archive, Part};
use crate::table::events::EventsTable;
use crate::table::exec::EventsScanExec;

/// `events` of a raw archive listed by a cluster's client: planned as a [`CloudTrailSource`]
/// file scan.
#[derive(Debug)]
pub struct ClusterEvents {
    events: EventsTable,
}

impl ClusterEvents {
    /// The table over `archive`.
    pub fn new(archive: Arc<Archive>) -> Self {
        ClusterEvents {
            events: EventsTable::new(archive),
        }
    }
}

#[async_trait]
impl TableProvider for ClusterEvents {
    fn schema(&self) -> SchemaRef {
        self.events.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.events.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.events.scan(state, projection, filters, limit).await?;
        let scan = plan
            .downcast_ref::<EventsScanExec>()
            .ok_or_else(|| DataFusionError::Internal("events did not plan its scan".into()))?;
        Ok(file_scan(scan))
    }
}

/// `scan` as a file scan: one file group per partition, one file per log object.
fn file_scan(scan: &EventsScanExec) -> Arc<dyn ExecutionPlan> {
    let source = CloudTrailSource::new(scan);
    let groups = scan
        .partitions()
        .iter()
        .map(|files| {
            FileGroup::new(
                files
                    .iter()
                    .map(|f| PartitionedFile::new(f.context.log_file.clone(), f.size))
                    .collect(),
            )
        })
        .collect();
    let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), Arc::new(source))
        .with_file_groups(groups)
        .build();
    DataSourceExec::from_data_source(config)
}

/// The log objects of a raw archive as a DataFusion file source. Its files are named by
/// their log file; reading one fetches and decodes it through the archive.
#[derive(Clone)]
pub struct CloudTrailSource {
    archive: Arc<Archive>,
    plan: Arc<DecodePlan>,
    filters: Vec<Expr>,
    /// The archive's objects by the object-store path their log file name makes.
    by_path: Arc<HashMap<String, Arc<LogObject>>>,
    schema: TableSchema,
    metrics: ExecutionPlanMetricsSet,
}

impl fmt::Debug for CloudTrailSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudTrailSource")
            .field("columns", &self.plan.columns())
            .field("filters", &self.filters)
            .finish_non_exhaustive()
    }
}

impl CloudTrailSource {
    fn new(scan: &EventsScanExec) -> Self {
        let archive = Arc::clone(scan.archive());
        let by_path = archive
            .objects()
            .iter()
            .map(|o| (path_of(&o.context.log_file), Arc::clone(o)))
            .collect();
        CloudTrailSource {
            schema: TableSchema::from(Arc::clone(scan.plan().schema())),
            plan: Arc::new(scan.plan().clone()),
            filters: scan.filters().to_vec(),
            by_path: Arc::new(by_path),
            archive,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// The archive read.
    pub fn archive(&self) -> &Arc<Archive> {
        &self.archive
    }

    /// What each file is decoded into.
    pub fn plan(&self) -> &DecodePlan {
        &self.plan
    }

    /// The SQL filters the decoder evaluates.
    pub fn filters(&self) -> &[Expr] {
        &self.filters
    }

    /// The log object a file of the scan stands for.
    pub fn object(&self, file: &PartitionedFile) -> Result<&Arc<LogObject>> {
        self.by_path
            .get(file.object_meta.location.as_ref())
            .ok_or_else(|| {
                DataFusionError::Internal(format!(
                    "{} is not a log file of the archive",
                    file.object_meta.location
                ))
            })
    }

    /// The files of each partition of `config` (a scan of this source), as log objects.
    pub fn partitions(&self, config: &FileScanConfig) -> Result<Vec<Vec<Arc<LogObject>>>> {
        config
            .file_groups
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|file| self.object(file).cloned())
                    .collect::<Result<Vec<_>>>()
            })
            .collect()
    }
}

/// The object-store path DataFusion makes of a log file name.
fn path_of(log_file: &str) -> String {
    object_store::path::Path::from(log_file).as_ref().to_owned()
}

impl FileSource for CloudTrailSource {
    fn create_file_opener(
        &self,
        _object_store: Arc<dyn ObjectStore>,
        _base_config: &FileScanConfig,
        _partition: usize,
    ) -> Result<Arc<dyn FileOpener>> {
        Ok(Arc::new(self.clone()))
    }

    fn table_schema(&self) -> &TableSchema {
        &self.schema
    }

    fn with_batch_size(&self, batch_size: usize) -> Arc<dyn FileSource> {
        let plan = self.plan.as_ref().clone().with_batch_size(batch_size);
        Arc::new(CloudTrailSource {
            plan: Arc::new(plan),
            ..self.clone()
        })
    }

    fn metrics(&self) -> &ExecutionPlanMetricsSet {
        &self.metrics
    }

    fn file_type(&self) -> &str {
        "cloudtrail"
    }

    /// The decoder's filters are logical expressions of the plan, not physical ones.
    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    /// A log file is one gzip stream: it is never split by byte ranges.
    fn supports_repartitioning(&self) -> bool {
        false
    }
}

impl FileOpener for CloudTrailSource {
    /// Reads one log file whole, its rows' application profiles resolved.
    fn open(&self, file: PartitionedFile) -> Result<FileOpenFuture> {
        let object = Arc::clone(self.object(&file)?);
        let archive = Arc::clone(&self.archive);
        let plan = Arc::clone(&self.plan);
        Ok(Box::pin(async move {
            let pool = Arc::new(UnboundedMemoryPool::default());
            let parts = archive.read(object, plan, false, pool).await?;
            // Read with every profile known (`may_defer` false): no batch is left waiting.
            let batches = parts.into_iter().map(|part| match part {
                Part::Ready(batch) => Ok(batch),
                Part::Pending(_) => Err(DataFusionError::Internal(
                    "a batch still waits for application profiles".into(),
                )),
            });
            Ok(futures::stream::iter(batches).boxed())
        }))
    }
}
