//! Writes the rows of each `log_date`, sorted by `event_time`, into Parquet files of about the
//! target size, counting the rows each source object put into each file.

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use object_store::buffered::BufWriter;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, Result};
use crate::schema::{Column, events_schema};
use crate::warehouse::delta::FileStats;
use crate::warehouse::manifest::DataFile;
use crate::warehouse::{EVENTS_DIR, Warehouse};

/// Rows per row group: small enough that `event_time` statistics skip most of a file for a
/// query over a few hours, large enough to compress well.
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// zstd level: on the benchmark archive level 1 writes files within 1% of level 3's size in
/// less time (level 9: 9% smaller, twice the time).
const ZSTD_LEVEL: i32 = 1;
/// Hive's name for a partition of null values (files outside the CloudTrail key layout).
const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// A Parquet file written by a run, and the rows each source object put into it.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// The file.
    pub file: DataFile,
    /// What its Delta `add` action says of it.
    pub stats: FileStats,
    /// Rows by `log_file`.
    pub rows_by_object: BTreeMap<String, u64>,
}

/// A file being written.
struct OpenFile {
    relative: String,
    writer: AsyncArrowWriter<BufWriter>,
    stats: FileStats,
    rows_by_object: BTreeMap<String, u64>,
}

/// Columns that are (nearly) unique per event: a dictionary would only be tried and dropped,
/// and their minimum and maximum prune nothing (ids are random, JSON texts all start with `{`),
/// so no statistics are computed for them.
const NEAR_UNIQUE: &[Column] = &[
    Column::EventId,
    Column::RequestId,
    Column::SharedEventId,
    Column::RequestParameters,
    Column::ResponseElements,
    Column::AdditionalEventData,
    Column::Resources,
];

/// Columns that repeat per session, user or role (a real trail's credentials, principal ids and
/// identity JSON): dictionary-encoded, but their minimum and maximum prune nothing either.
const PER_SESSION: &[Column] = &[
    Column::UserIdentity,
    Column::AccessKeyId,
    Column::PrincipalId,
];

/// Free-text columns whose minimum and maximum over a day's rows prune nothing either (a row
/// group holds every caller, agent and file of its hours): no statistics are computed for them.
const UNORDERED_TEXT: &[Column] = &[
    Column::PrincipalArn,
    Column::SessionIssuerArn,
    Column::UserAgent,
    Column::SourceIp,
    Column::ErrorMessage,
    Column::TlsDetails,
    Column::ServiceEventDetails,
    Column::LogFile,
];

/// Columns of a few distinct values (codes, Regions, flags), stored uncompressed: their
/// dictionary indices are already bit-packed runs, which zstd shrinks little (0.2 MB over
/// all of them in the benchmark archive's 65 MB warehouse), while every compressed column
/// chunk costs its reader a zstd context to create. The served-regions question reads only
/// such columns.
const FEW_VALUES: &[Column] = &[
    Column::EventVersion,
    Column::EventName,
    Column::AwsRegion,
    Column::InferenceRegion,
    Column::ServedRegion,
    Column::ServedGeography,
    Column::Model,
    Column::ProfileScope,
    Column::RoutingScope,
    Column::IsInvocation,
    Column::Surface,
    Column::ServedOutsideAws,
    Column::ReadOnly,
    Column::AccountId,
    Column::PrincipalAccountId,
    Column::InvokedBy,
    Column::VpcEndpointId,
    Column::ErrorCode,
    Column::LogAccount,
    Column::LogRegion,
    Column::LogDate,
];

/// What every file of one run shares: where, the run's id (in every file name, so that no
/// two runs, even at once, name a file alike), the target size, the Parquet settings and the
/// file numbering. Each day is written by its own [`DayWriter`].
#[derive(Clone)]
pub struct RunWriter {
    warehouse: Warehouse,
    run_id: String,
    target_bytes: u64,
    properties: WriterProperties,
    next_number: Arc<AtomicU32>,
}

impl RunWriter {
    /// The writer of run `run_id`'s files into `warehouse`, each about `target_bytes`.
    pub fn new(warehouse: Warehouse, run_id: &str, target_bytes: u64) -> Self {
        let event_time = Column::ALL
            .iter()
            .position(|c| *c == Column::EventTime)
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(0);
        let compression = ZstdLevel::try_new(ZSTD_LEVEL)
            .map(Compression::ZSTD)
            .unwrap_or(Compression::SNAPPY);
        // Row-group statistics are what readers prune by; a page index would only make every
        // footer larger to read.
        let mut builder = WriterProperties::builder()
            .set_compression(compression)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_sorting_columns(Some(vec![SortingColumn {
                column_idx: event_time,
                descending: false,
                nulls_first: true,
            }]))
            .set_created_by(format!("trailmap {}", env!("CARGO_PKG_VERSION")));
        for column in NEAR_UNIQUE {
            builder = builder.set_column_dictionary_enabled(ColumnPath::from(column.name()), false);
        }
        for column in NEAR_UNIQUE.iter().chain(PER_SESSION).chain(UNORDERED_TEXT) {
            builder = builder.set_column_statistics_enabled(
                ColumnPath::from(column.name()),
                EnabledStatistics::None,
            );
        }
        // Times sorted within a file: small deltas, bit-packed, instead of a dictionary of
        // nearly unique values that is tried and dropped.
        let time = ColumnPath::from(Column::EventTime.name());
        builder = builder
            .set_column_dictionary_enabled(time.clone(), false)
            .set_column_encoding(time, Encoding::DELTA_BINARY_PACKED);
        for column in FEW_VALUES {
            builder = builder
                .set_column_compression(ColumnPath::from(column.name()), Compression::UNCOMPRESSED);
        }
        RunWriter {
            warehouse,
            run_id: run_id.to_owned(),
            target_bytes,
            properties: builder.build(),
            next_number: Arc::new(AtomicU32::new(1)),
        }
    }

    /// A writer of one day's rows.
    pub fn day(&self, log_date: Option<NaiveDate>) -> DayWriter {
        DayWriter {
            run: self.clone(),
            log_date,
            open: None,
            written: Vec::new(),
        }
    }
}

/// Writes one day's rows, in `event_time` order, into files of about the target size.
pub struct DayWriter {
    run: RunWriter,
    log_date: Option<NaiveDate>,
    open: Option<OpenFile>,
    written: Vec<WrittenFile>,
}

impl DayWriter {
    /// Writes a batch of the day's rows.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let open = match self.open.take() {
            Some(open) => open,
            None => self.open_file()?,
        };
        let open = self.open.insert(open);
        open.writer
            .write(batch)
            .await
            .map_err(|e| write_error(&self.run.warehouse, &open.relative, e))?;
        add_stats(batch, &mut open.stats)?;
        count_rows_by_object(batch, &mut open.rows_by_object)?;
        let size = open.writer.bytes_written() + open.writer.in_progress_size();
        if size as u64 >= self.run.target_bytes {
            self.close_file().await?;
        }
        Ok(())
    }

    /// Closes the last file and returns every file written for the day.
    pub async fn finish(mut self) -> Result<Vec<WrittenFile>> {
        self.close_file().await?;
        Ok(self.written)
    }

    fn open_file(&mut self) -> Result<OpenFile> {
        let folder = match self.log_date {
            Some(date) => date.format("%Y-%m-%d").to_string(),
            None => NULL_PARTITION.to_owned(),
        };
        let number = self.run.next_number.fetch_add(1, Ordering::Relaxed);
        let relative = format!(
            "{EVENTS_DIR}/log_date={folder}/part-{}-{number:05}.parquet",
            self.run.run_id
        );
        let warehouse = &self.run.warehouse;
        let target = BufWriter::new(warehouse.store(), warehouse.path(&relative));
        let writer =
            AsyncArrowWriter::try_new(target, events_schema(), Some(self.run.properties.clone()))
                .map_err(|e| write_error(warehouse, &relative, e))?;
        Ok(OpenFile {
            relative,
            writer,
            stats: FileStats::default(),
            rows_by_object: BTreeMap::new(),
        })
    }

    async fn close_file(&mut self) -> Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let OpenFile {
            relative,
            mut writer,
            stats,
            rows_by_object,
        } = open;
        writer
            .finish()
            .await
            .map_err(|e| write_error(&self.run.warehouse, &relative, e))?;
        let bytes = writer.bytes_written() as u64;
        self.written.push(WrittenFile {
            file: DataFile {
                path: relative,
                bytes,
                rows: Some(stats.rows),
                log_date: self.log_date.map(|d| d.format("%Y-%m-%d").to_string()),
            },
            stats,
            rows_by_object,
        });
        Ok(())
    }
}

/// Adds `batch` to a file's statistics: rows, `event_time` bounds and nulls.
fn add_stats(batch: &RecordBatch, stats: &mut FileStats) -> Result<()> {
    let times = batch
        .column_by_name(Column::EventTime.name())
        .and_then(|c| c.as_any().downcast_ref::<TimestampMicrosecondArray>())
        .ok_or_else(|| {
            Error::Internal("ingest batch without a timestamp event_time column".into())
        })?;
    stats.rows += batch.num_rows() as u64;
    stats.null_times += times.null_count() as u64;
    let bounds = datafusion::arrow::compute::min(times).zip(datafusion::arrow::compute::max(times));
    stats.event_time = match (stats.event_time, bounds) {
        (Some((lo, hi)), Some((min, max))) => Some((lo.min(min), hi.max(max))),
        (known, None) => known,
        (None, new) => new,
    };
    Ok(())
}

/// Adds the rows of `batch` to the count of each `log_file`.
fn count_rows_by_object(batch: &RecordBatch, counts: &mut BTreeMap<String, u64>) -> Result<()> {
    let column = batch
        .column_by_name(Column::LogFile.name())
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| Error::Internal("ingest batch without a text log_file column".into()))?;
    let mut last: Option<(&str, u64)> = None;
    for i in 0..column.len() {
        let file = if column.is_null(i) {
            ""
        } else {
            column.value(i)
        };
        match &mut last {
            Some((name, n)) if *name == file => *n += 1,
            _ => {
                if let Some((name, n)) = last.take() {
                    *counts.entry(name.to_owned()).or_default() += n;
                }
                last = Some((file, 1));
            }
        }
    }
    if let Some((name, n)) = last {
        *counts.entry(name.to_owned()).or_default() += n;
    }
    Ok(())
}

fn write_error(warehouse: &Warehouse, relative: &str, e: impl std::fmt::Display) -> Error {
    Error::Warehouse {
        location: warehouse.location().to_owned(),
        reason: format!("cannot write {relative}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_counted_by_object() {
        let files: Arc<dyn Array> = Arc::new(StringArray::from(vec!["a", "a", "b", "a"]));
        let batch = RecordBatch::try_from_iter([(Column::LogFile.name(), files)]).unwrap();
        let mut counts = BTreeMap::new();
        count_rows_by_object(&batch, &mut counts).unwrap();
        count_rows_by_object(&batch, &mut counts).unwrap();
        assert_eq!(counts, BTreeMap::from([("a".into(), 6), ("b".into(), 2)]));
    }
}
