//! One day's rows in `event_time` order (nulls first), each row copied once.
//!
//! DataFusion's sort copies every column of every row about four times on the way to the
//! writer (coalescing small batches, sorting each batch, merging the sorted runs, then
//! re-chunking). A day's rows are therefore collected as they arrive, under a reservation on
//! the session's memory pool, and written out in `event_time` order by interleaving the
//! collected batches: one copy. A day too large for the pool goes to DataFusion's sort after
//! all, which spills to disk, fed with the batches already collected and then the rest of the
//! stream, so no row is read twice.

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, RecordBatch, TimestampMicrosecondArray};
use datafusion::arrow::compute::{SortOptions, interleave_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::expressions::col as physical_col;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream, execute_stream};
use datafusion::prelude::{DataFrame, col};
use futures::StreamExt;

use crate::error::{Error, Result};
use crate::schema::Column;

/// Where a row is: its batch and its index in it.
type RowAddress = (usize, usize);

/// The rows of `rows` in `event_time` order, nulls first (rows of equal time in the order they
/// arrived, unless the day had to spill). On a cluster the executors sort, with DataFusion's
/// sort.
pub async fn by_event_time(rows: DataFrame, on_cluster: bool) -> Result<SendableRecordBatchStream> {
    if on_cluster {
        let order = col(Column::EventTime.name()).sort(true, true);
        return Ok(rows.sort(vec![order])?.execute_stream().await?);
    }
    let task = Arc::new(rows.task_ctx());
    let plan = rows.create_physical_plan().await?;
    let schema = plan.schema();
    let mut input = execute_stream(plan, Arc::clone(&task))?;
    let reservation =
        MemoryConsumer::new("trailmap ingest: one day's rows").register(task.memory_pool());
    let mut collected = Vec::new();
    while let Some(batch) = input.next().await {
        let batch = batch?;
        if reservation.try_grow(batch.get_array_memory_size()).is_err() {
            drop(reservation);
            collected.push(batch);
            return spilling_sort(schema, collected, input, &task);
        }
        collected.push(batch);
    }
    in_memory_sort(
        schema,
        collected,
        reservation,
        task.session_config().batch_size(),
    )
}

/// Interleaves `batches` into `batch_size`-row batches in `event_time` order, holding the
/// memory reservation until the last batch is out.
fn in_memory_sort(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    reservation: MemoryReservation,
    batch_size: usize,
) -> Result<SendableRecordBatchStream> {
    let order = event_time_order(&batches)?;
    let chunk_count = order.len().div_ceil(batch_size.max(1));
    let chunks = (0..chunk_count).map(move |chunk| {
        let _held = &reservation;
        let start = chunk * batch_size;
        let addresses = &order[start..order.len().min(start + batch_size)];
        let sources: Vec<&RecordBatch> = batches.iter().collect();
        interleave_record_batch(&sources, addresses).map_err(DataFusionError::from)
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter(chunks),
    )))
}

/// Every row's address, in `event_time` order (nulls first, then arrival order).
fn event_time_order(batches: &[RecordBatch]) -> Result<Vec<RowAddress>> {
    let mut keyed = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
    for (b, batch) in batches.iter().enumerate() {
        let times = batch
            .column_by_name(Column::EventTime.name())
            .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
            .ok_or_else(|| {
                Error::Internal("ingest batch without a microsecond event_time column".into())
            })?;
        keyed.extend((0..times.len()).map(|r| (times.is_valid(r).then(|| times.value(r)), b, r)));
    }
    // The keys are distinct (batch and row break every tie), so an unstable sort is stable.
    keyed.sort_unstable();
    Ok(keyed.into_iter().map(|(_, b, r)| (b, r)).collect())
}

/// DataFusion's sort (which spills to disk) over the batches collected so far and then the
/// rest of `input`.
fn spilling_sort(
    schema: SchemaRef,
    collected: Vec<RecordBatch>,
    input: SendableRecordBatchStream,
    task: &Arc<TaskContext>,
) -> Result<SendableRecordBatchStream> {
    let rest = futures::stream::iter(collected.into_iter().map(Ok)).chain(input);
    let stream = Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&schema), rest));
    let source = Arc::new(OneShot {
        schema: Arc::clone(&schema),
        stream: Mutex::new(Some(stream)),
    });
    let scan =
        StreamingTableExec::try_new(Arc::clone(&schema), vec![source], None, [], false, None)?;
    let order = PhysicalSortExpr::new(
        physical_col(Column::EventTime.name(), &schema)?,
        SortOptions {
            descending: false,
            nulls_first: true,
        },
    );
    let ordering = LexOrdering::new([order])
        .ok_or_else(|| Error::Internal("an empty sort order for a day's rows".into()))?;
    let sort = SortExec::new(ordering, Arc::new(scan)).with_preserve_partitioning(false);
    Ok(sort.execute(0, Arc::clone(task))?)
}

/// A partition whose rows are a stream already running: it can be executed once.
struct OneShot {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl std::fmt::Debug for OneShot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneShot").finish_non_exhaustive()
    }
}

impl PartitionStream for OneShot {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _task: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.stream.lock().ok().and_then(|mut stream| stream.take());
        match taken {
            Some(stream) => stream,
            None => {
                let error = DataFusionError::Internal("a day's rows were read twice".into());
                Box::pin(RecordBatchStreamAdapter::new(
                    Arc::clone(&self.schema),
                    futures::stream::once(async move { Err(error) }),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use crate::schema::timestamp_type;

    const BATCHES: usize = 12;
    const ROWS: usize = 1000;

    /// Batches of (`event_time`, `arrival`, `padding`): times scattered, repeated and sometimes
    /// null; `arrival` numbers the rows in the order they come.
    fn arriving_rows() -> Vec<RecordBatch> {
        let schema = Arc::new(Schema::new(vec![
            Field::new(Column::EventTime.name(), timestamp_type(), true),
            Field::new("arrival", DataType::Int64, false),
            Field::new("padding", DataType::Utf8, false),
        ]));
        (0..BATCHES)
            .map(|b| {
                let arrival: Vec<i64> = (0..ROWS).map(|r| (b * ROWS + r) as i64).collect();
                let times: TimestampMicrosecondArray = arrival
                    .iter()
                    .map(|n| (n % 17 != 0).then_some((n * 7919) % 5003 * 1_000_000))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone("UTC");
                let padding: StringArray =
                    arrival.iter().map(|n| Some(format!("{n:0>200}"))).collect();
                RecordBatch::try_new(
                    Arc::clone(&schema),
                    vec![
                        Arc::new(times),
                        Arc::new(Int64Array::from(arrival)),
                        Arc::new(padding),
                    ],
                )
                .unwrap()
            })
            .collect()
    }

    /// (`event_time`, `arrival`) of every row `by_event_time` gives, in a session whose memory
    /// pool holds `memory_limit` bytes and which may spill to disk if `may_spill`; the error
    /// that ends the rows early, if any.
    async fn sorted(
        memory_limit: usize,
        may_spill: bool,
    ) -> (Vec<(Option<i64>, i64)>, Option<DataFusionError>) {
        let disk = DiskManagerBuilder::default().with_mode(match may_spill {
            true => DiskManagerMode::OsTmpDirectory,
            false => DiskManagerMode::Disabled,
        });
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(memory_limit, 1.0)
            .with_disk_manager_builder(disk)
            .build_arc()
            .unwrap();
        let mut config = SessionConfig::new()
            .with_batch_size(512)
            .with_target_partitions(1);
        config.options_mut().execution.sort_spill_reservation_bytes = 64 * 1024;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        let rows = ctx.read_batches(arriving_rows()).unwrap();
        let mut stream = by_event_time(rows, false).await.unwrap();
        let mut out = Vec::new();
        while let Some(batch) = stream.next().await {
            match batch {
                Ok(batch) => {
                    assert!(batch.num_rows() <= 512);
                    out.extend(time_and_arrival(&batch));
                }
                Err(error) => return (out, Some(error)),
            }
        }
        (out, None)
    }

    /// (`event_time`, `arrival`) of each row of `batch`.
    fn time_and_arrival(batch: &RecordBatch) -> Vec<(Option<i64>, i64)> {
        let times = batch
            .column(0)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        let arrival = batch
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        (0..batch.num_rows())
            .map(|r| (times.is_valid(r).then(|| times.value(r)), arrival.value(r)))
            .collect()
    }

    /// A stable sort of the arriving rows, nulls first: what the in-memory sort must give.
    fn expected() -> Vec<(Option<i64>, i64)> {
        let mut rows: Vec<(Option<i64>, i64)> =
            arriving_rows().iter().flat_map(time_and_arrival).collect();
        rows.sort();
        rows
    }

    #[tokio::test]
    async fn rows_that_fit_in_memory_come_out_in_time_order_nulls_first_ties_as_they_came() {
        let (rows, error) = sorted(1 << 30, false).await;
        assert!(error.is_none(), "{error:?}");
        assert!(rows == expected());
    }

    #[tokio::test]
    async fn rows_beyond_the_memory_limit_are_sorted_by_the_spilling_sort_none_lost() {
        let total: usize = arriving_rows()
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum();
        let limit = 1 << 20;
        // More than the pool: the in-memory sort cannot have been used.
        assert!(total > 2 * limit, "{total} bytes");
        let (mut rows, error) = sorted(limit, true).await;
        assert!(error.is_none(), "{error:?}");
        let times: Vec<Option<i64>> = rows.iter().map(|(time, _)| *time).collect();
        assert!(times.is_sorted(), "event_time order, nulls first");
        // Ties may come in another order than they arrived; the rows are the same.
        rows.sort();
        assert!(rows == expected());
        // The same rows with spilling disabled fail: they did go to the spilling sort.
        let (_, error) = sorted(limit, false).await;
        let refused = error.is_some_and(|e| e.to_string().contains("DiskManager is disabled"));
        assert!(refused, "the in-memory sort was used past the memory limit");
    }
}
