//! The physical scan of `events`: files spread over partitions, one batch per file.
//!
//! Each partition is a stream that keeps a few files ahead of the consumer in flight
//! ([`PREFETCH_PER_PARTITION`], more for S3: [`S3_PREFETCH_PER_PARTITION`]), each fetched and
//! then decoded on the rayon pool by a task of its own. No more is started until DataFusion
//! pulls, so memory stays bounded by partitions × read-ahead × file size whatever the archive
//! size.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::StreamExt;

use crate::decode::DecodePlan;
use crate::source::LogObject;
use crate::table::archive::Archive;

/// Local files read and decoded ahead of the consumer, per partition.
pub const PREFETCH_PER_PARTITION: usize = 8;

/// S3 objects fetched and decoded ahead of the consumer, per partition. A GET spends most of its
/// time waiting for the first byte (tens of milliseconds on S3), so many are kept in flight: at
/// 20 ms each, 32 per partition still deliver some 1,600 objects a second per partition.
pub const S3_PREFETCH_PER_PARTITION: usize = 32;

/// Scans a set of log files into `events` batches.
#[derive(Debug)]
pub struct EventsScanExec {
    archive: Arc<Archive>,
    partitions: Vec<Vec<Arc<LogObject>>>,
    plan: Arc<DecodePlan>,
    listed: usize,
    properties: Arc<PlanProperties>,
}

impl EventsScanExec {
    /// A scan of `files` (chosen from `archive` by pruning) with `plan`, over at most
    /// `max_partitions` partitions.
    pub fn new(
        archive: Arc<Archive>,
        files: Vec<Arc<LogObject>>,
        plan: DecodePlan,
        max_partitions: usize,
    ) -> Self {
        let partitions = spread(files, max_partitions.max(1));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(plan.schema())),
            Partitioning::UnknownPartitioning(partitions.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        let listed = archive.objects().len();
        EventsScanExec {
            archive,
            partitions,
            plan: Arc::new(plan),
            listed,
            properties: Arc::new(properties),
        }
    }

    fn file_count(&self) -> usize {
        self.partitions.iter().map(Vec::len).sum()
    }
}

/// Deals files to partitions, largest first onto the lightest partition, so the partitions
/// finish together. Always at least one (possibly empty) partition.
fn spread(mut files: Vec<Arc<LogObject>>, max_partitions: usize) -> Vec<Vec<Arc<LogObject>>> {
    let count = max_partitions.min(files.len()).max(1);
    let mut partitions: Vec<(u64, Vec<Arc<LogObject>>)> = vec![(0, Vec::new()); count];
    files.sort_by_key(|f| std::cmp::Reverse(f.size));
    for file in files {
        if let Some(lightest) = partitions.iter_mut().min_by_key(|(load, _)| *load) {
            lightest.0 += file.size.max(1);
            lightest.1.push(file);
        }
    }
    partitions.into_iter().map(|(_, files)| files).collect()
}

impl DisplayAs for EventsScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let columns: Vec<&str> = self.plan.columns().iter().map(|c| c.name()).collect();
        write!(
            f,
            "CloudTrailScanExec: files={} of {} listed, partitions={}, projection=[{}]",
            self.file_count(),
            self.listed,
            self.partitions.len(),
            columns.join(", ")
        )?;
        if !self.archive.filter().is_empty() {
            write!(f, ", filter={:?}", self.archive.filter())?;
        }
        Ok(())
    }
}

impl ExecutionPlan for EventsScanExec {
    fn name(&self) -> &str {
        "CloudTrailScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(self.plan.schema())
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let files = self.partitions.get(partition).cloned().unwrap_or_default();
        let read_ahead = match files.iter().any(|f| f.is_remote()) {
            true => S3_PREFETCH_PER_PARTITION,
            false => PREFETCH_PER_PARTITION,
        };
        let archive = Arc::clone(&self.archive);
        let plan = Arc::clone(&self.plan);
        // Each read is a task of its own, so downloads and decoding go on while the consumer
        // is busy with the previous batch; dropping the stream (a cancelled query) aborts them.
        let batches = futures::stream::iter(files)
            .map(move |file| {
                let archive = Arc::clone(&archive);
                let plan = Arc::clone(&plan);
                SpawnedTask::spawn(async move { archive.read(file, plan).await }).join()
            })
            .buffered(read_ahead)
            .filter_map(|read| async move {
                match read {
                    Ok(batch) => batch.filter(|b| b.num_rows() > 0).map(Ok),
                    Err(e) => Some(Err(DataFusionError::External(Box::new(e)))),
                }
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(self.plan.schema()),
            batches,
        )))
    }
}
