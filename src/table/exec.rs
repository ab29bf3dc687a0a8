//! The physical scan of `events`: files spread over partitions, one batch per file.
//!
//! Each partition is a stream that keeps a few files ahead of the consumer in flight
//! ([`PREFETCH_PER_PARTITION`], more for S3: [`S3_PREFETCH_PER_PARTITION`]), each fetched and
//! then decoded on the rayon pool by a task of its own, as long as the files in flight add up
//! to at most [`READ_AHEAD_KIB`] compressed. No more is started until DataFusion pulls, so
//! memory stays bounded by partitions × that budget whatever the archive or file sizes.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::StreamExt;
use tokio::sync::Semaphore;

use crate::decode::DecodePlan;
use crate::source::LogObject;
use crate::table::archive::{Archive, Part, PendingBatch};

/// Local files read and decoded ahead of the consumer, per partition.
pub const PREFETCH_PER_PARTITION: usize = 8;

/// S3 objects fetched and decoded ahead of the consumer, per partition, at most. A GET spends
/// most of its time waiting for the first byte (tens of milliseconds on S3), so many are kept in
/// flight: at 20 ms each, 32 per partition still deliver some 1,600 objects a second.
pub const S3_PREFETCH_PER_PARTITION: usize = 32;

/// Compressed bytes (in KiB) a partition may have in flight, whatever the count allows: large
/// files are read fewer at a time, so memory stays bounded whatever the file sizes. A file larger
/// than this is read alone.
pub const READ_AHEAD_KIB: u32 = 8 << 10;

/// How many of `files` to keep in flight ahead of the consumer, at most.
fn read_ahead(files: &[Arc<LogObject>]) -> usize {
    match files.iter().any(|f| f.is_remote()) {
        true => S3_PREFETCH_PER_PARTITION,
        false => PREFETCH_PER_PARTITION,
    }
}

/// The share of [`READ_AHEAD_KIB`] reading `file` takes: its size in KiB, at least 1 and at most
/// the whole budget.
fn read_ahead_cost(file: &LogObject) -> u32 {
    let kib = file.size.div_ceil(1024);
    u32::try_from(kib)
        .unwrap_or(READ_AHEAD_KIB)
        .clamp(1, READ_AHEAD_KIB)
}

/// Scans a set of log files into `events` batches.
#[derive(Debug)]
pub struct EventsScanExec {
    archive: Arc<Archive>,
    partitions: Vec<Vec<Arc<LogObject>>>,
    plan: Arc<DecodePlan>,
    /// The SQL filters the plan's record filter was made of (to send the scan elsewhere).
    filters: Vec<Expr>,
    listed: usize,
    properties: Arc<PlanProperties>,
    /// The process running the scan, when it is one of several (a cluster's executor): each
    /// partition it runs is counted under its name in the metrics.
    runner: Option<Arc<str>>,
    metrics: ExecutionPlanMetricsSet,
    /// How far its partitions are with their files.
    reading: Arc<Reading>,
}

/// How far the partitions of one scan are with reading their files. A partition whose held
/// batches wait for every session waits for the other partitions to finish reading first: the
/// sessions their files issue are then known without reading any file twice. If the others
/// stop making progress (a consumer that does not pull every partition at once, or a cluster
/// running partitions in turn), it stops waiting and the files no scan has read are searched.
#[derive(Debug)]
struct Reading {
    unfinished: AtomicUsize,
    files_read: AtomicU64,
}

/// How long a partition waits for the others while none of them reads a file.
const READING_STALL: std::time::Duration = std::time::Duration::from_secs(2);

impl Reading {
    fn new(partitions: usize) -> Self {
        Reading {
            unfinished: AtomicUsize::new(partitions),
            files_read: AtomicU64::new(0),
        }
    }

    fn file_read(&self) {
        self.files_read.fetch_add(1, Ordering::Relaxed);
    }

    fn partition_done(&self) {
        let _ = self
            .unfinished
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Until every partition is done reading, or none reads a file for [`READING_STALL`].
    async fn others_done(&self) {
        let tick = std::time::Duration::from_millis(20);
        let mut last = self.files_read.load(Ordering::Relaxed);
        let mut still = std::time::Duration::ZERO;
        while self.unfinished.load(Ordering::Acquire) > 0 && still < READING_STALL {
            tokio::time::sleep(tick).await;
            let now = self.files_read.load(Ordering::Relaxed);
            still = if now == last {
                still + tick
            } else {
                std::time::Duration::ZERO
            };
            last = now;
        }
    }
}

/// The start of the metric counting the partitions of a scan one process ran, before its name.
pub const RUN_BY: &str = "partitions run by ";

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
        EventsScanExec::with_partitions(archive, partitions, plan)
    }

    /// A scan of `archive`'s files already dealt to partitions, with `plan`.
    pub fn with_partitions(
        archive: Arc<Archive>,
        partitions: Vec<Vec<Arc<LogObject>>>,
        plan: DecodePlan,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(plan.schema())),
            Partitioning::UnknownPartitioning(partitions.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        let listed = archive.objects().len();
        EventsScanExec {
            archive,
            reading: Arc::new(Reading::new(partitions.len())),
            partitions,
            plan: Arc::new(plan),
            filters: Vec::new(),
            listed,
            properties: Arc::new(properties),
            runner: None,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// The same scan, remembering the SQL filters its plan's record filter was made of.
    pub fn with_filters(self, filters: Vec<Expr>) -> Self {
        EventsScanExec { filters, ..self }
    }

    /// The same scan, counting the partitions it runs under `runner` in its metrics.
    pub fn run_by(self, runner: Arc<str>) -> Self {
        EventsScanExec {
            runner: Some(runner),
            ..self
        }
    }

    /// The archive the files belong to.
    pub fn archive(&self) -> &Arc<Archive> {
        &self.archive
    }

    /// The files of each partition.
    pub fn partitions(&self) -> &[Vec<Arc<LogObject>>] {
        &self.partitions
    }

    /// What each file is decoded into.
    pub fn plan(&self) -> &DecodePlan {
        &self.plan
    }

    /// The SQL filters the decoder evaluates (see [`EventsScanExec::with_filters`]).
    pub fn filters(&self) -> &[Expr] {
        &self.filters
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
        if !self.plan.record_filter().is_empty() {
            write!(f, ", decoder_filter=[{}]", self.plan.record_filter())?;
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

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if let Some(runner) = &self.runner {
            MetricBuilder::new(&self.metrics)
                .counter(format!("{RUN_BY}{runner}"), partition)
                .add(1);
        }
        let mut files = self.partitions.get(partition).cloned().unwrap_or_default();
        // Objects whose download started while listing come first: they are (nearly) here.
        files.sort_by_cached_key(|f| !self.archive.started_early(f));
        let read_ahead = read_ahead(&files);
        let budget = Arc::new(Semaphore::new(READ_AHEAD_KIB as usize));
        let archive = Arc::clone(&self.archive);
        let (reader, resolver) = (Arc::clone(&archive), Arc::clone(&archive));
        let plan = Arc::clone(&self.plan);
        let pool = Arc::clone(context.memory_pool());
        let reservation =
            MemoryConsumer::new(format!("CloudTrailScanExec[{partition}] held batches"))
                .register(context.memory_pool());
        let holding = Arc::new(Mutex::new(Held::new(reservation)));
        let held = Arc::clone(&holding);
        let (reading, read_one) = (Arc::clone(&self.reading), Arc::clone(&self.reading));
        // Files start in order as the byte budget allows; each read is then a task of its own,
        // so downloads and decoding go on while the consumer is busy with the previous batch.
        // A file's share of the budget comes back when its batch is handed on. Dropping the
        // stream (a cancelled query) aborts the tasks.
        let batches = futures::stream::iter(files)
            .then(move |file| {
                let budget = Arc::clone(&budget);
                async move {
                    // Never closed, so acquiring only waits.
                    let share = budget.acquire_many_owned(read_ahead_cost(&file)).await.ok();
                    (file, share)
                }
            })
            .map(move |(file, share)| {
                let archive = Arc::clone(&reader);
                let plan = Arc::clone(&plan);
                let pool = Arc::clone(&pool);
                SpawnedTask::spawn(
                    async move { (archive.read(file, plan, true, pool).await, share) },
                )
                .join()
            })
            .buffered(read_ahead)
            .flat_map(move |read| {
                read_one.file_read();
                let parts: Vec<Result<Part>> = match read {
                    Ok((Ok(parts), _share)) => parts.into_iter().map(Ok).collect(),
                    Ok((Err(refused), _share)) => vec![Err(refused)],
                    Err(e) => vec![Err(DataFusionError::External(Box::new(e)))],
                };
                futures::stream::iter(parts)
            })
            .filter_map(move |part| {
                let holding = Arc::clone(&holding);
                let archive = Arc::clone(&resolver);
                async move {
                    match part {
                        Ok(Part::Ready(batch)) => non_empty(Some(batch)),
                        Ok(Part::Pending(pending)) => {
                            let over_budget = holding
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .hold(pending)?;
                            resolved(&archive, over_budget).await
                        }
                        Err(e) => Some(Err(e)),
                    }
                }
            });
        let later = futures::stream::once(async move {
            let pending = held.lock().unwrap_or_else(|p| p.into_inner()).release();
            reading.partition_done();
            if pending.iter().any(Archive::waits_for_sessions) {
                reading.others_done().await;
            }
            tracing::debug!(
                batches = pending.len(),
                "resolving batches held for application profiles"
            );
            futures::stream::iter(pending).then(move |pending| {
                let archive = Arc::clone(&archive);
                async move { resolved(&archive, pending).await }
            })
        })
        .flatten()
        .filter_map(|batch| async move { batch });
        let batches = batches.chain(later);
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(self.plan.schema()),
            batches,
        )))
    }
}

/// Memory a partition may spend holding batches whose rows wait for application profiles;
/// past it, a batch is resolved at once (which may read the rest of the archive early).
const HOLD_BYTES: usize = 64 << 20;

/// Batches a partition holds until its other files are read, their memory registered with
/// DataFusion's memory pool.
#[derive(Debug)]
struct Held {
    batches: Vec<PendingBatch>,
    reservation: MemoryReservation,
}

impl Held {
    fn new(reservation: MemoryReservation) -> Self {
        Held {
            batches: Vec::new(),
            reservation,
        }
    }

    /// Holds `pending` within [`HOLD_BYTES`] and what the memory pool grants; gives it back
    /// (to be resolved at once) otherwise.
    fn hold(&mut self, pending: PendingBatch) -> Option<PendingBatch> {
        let size = pending.size();
        if self.reservation.size() + size > HOLD_BYTES || self.reservation.try_grow(size).is_err() {
            return Some(pending);
        }
        self.batches.push(pending);
        None
    }

    /// The held batches, their memory given back to the pool.
    fn release(&mut self) -> Vec<PendingBatch> {
        self.reservation.free();
        std::mem::take(&mut self.batches)
    }
}

/// A pending batch resolved, as a stream item; a failure to resolve (a bug) fails the query.
async fn resolved(archive: &Archive, pending: PendingBatch) -> Option<Result<RecordBatch>> {
    match archive.resolve(pending).await {
        Ok(batch) => non_empty(Some(batch)),
        Err(e) => Some(Err(DataFusionError::External(Box::new(e)))),
    }
}

/// A batch worth passing on: rows, as a stream item.
fn non_empty(batch: Option<RecordBatch>) -> Option<Result<RecordBatch>> {
    batch.filter(|b| b.num_rows() > 0).map(Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Location;

    fn object(remote: bool, size: u64) -> Arc<LogObject> {
        let location = match remote {
            true => Location::S3 {
                bucket: "b".into(),
                key: "k.json.gz".into(),
            },
            false => Location::Local("k.json.gz".into()),
        };
        Arc::new(LogObject::new(location, "k.json.gz".into(), size))
    }

    #[test]
    fn s3_reads_further_ahead_and_large_files_take_more_of_the_budget() {
        assert_eq!(read_ahead(&[object(false, 20_000)]), PREFETCH_PER_PARTITION);
        assert_eq!(
            read_ahead(&[object(false, 1), object(true, 1)]),
            S3_PREFETCH_PER_PARTITION
        );
        assert_eq!(read_ahead(&[]), PREFETCH_PER_PARTITION);
        assert_eq!(read_ahead_cost(&object(true, 0)), 1);
        assert_eq!(read_ahead_cost(&object(true, 20_000)), 20);
        assert_eq!(read_ahead_cost(&object(true, 1 << 20)), 1024);
        // A file larger than the whole budget takes all of it and is read alone.
        assert_eq!(read_ahead_cost(&object(true, 50 << 20)), READ_AHEAD_KIB);
        assert_eq!(read_ahead_cost(&object(true, u64::MAX)), READ_AHEAD_KIB);
    }

    #[test]
    fn held_batches_count_against_the_memory_pool() {
        use datafusion::arrow::array::Int64Array;
        use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryPool};
        let batch = |rows: i64| {
            let column: datafusion::arrow::array::ArrayRef =
                Arc::new(Int64Array::from_iter_values(0..rows));
            PendingBatch::of(RecordBatch::try_from_iter([("x", column)]).unwrap())
        };
        let small = batch(10);
        let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(small.size() * 3));
        let mut held = Held::new(MemoryConsumer::new("test").register(&pool));
        assert!(held.hold(small).is_none(), "held within the pool");
        assert_eq!(pool.reserved(), batch(10).size());
        assert!(
            held.hold(batch(10_000)).is_some(),
            "the pool refuses: resolved at once"
        );
        assert_eq!(held.release().len(), 1);
        assert_eq!(pool.reserved(), 0);
    }

    #[test]
    fn spread_balances_bytes_over_partitions() {
        let files: Vec<_> = [90, 10, 40, 50, 30, 20]
            .into_iter()
            .map(|size| object(false, size))
            .collect();
        let partitions = spread(files, 2);
        let loads: Vec<u64> = partitions
            .iter()
            .map(|p| p.iter().map(|f| f.size).sum())
            .collect();
        assert_eq!(loads, vec![120, 120]);
        assert_eq!(spread(Vec::new(), 4).len(), 1);
    }
}
