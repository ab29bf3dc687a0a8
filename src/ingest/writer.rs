//! Writes the rows of one `log_date`, sorted by `event_time`, into Parquet files of about the
//! target size, counting the rows each source object put into each file.

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::WriterProperties;
use object_store::buffered::BufWriter;
use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::schema::{Column, events_schema};
use crate::warehouse::manifest::DataFile;
use crate::warehouse::{EVENTS_DIR, Warehouse};

/// Rows per row group: small enough that `event_time` statistics skip most of a file for a
/// query over a few hours, large enough to compress well.
const ROW_GROUP_ROWS: usize = 128 * 1024;
/// zstd level: level 3 compresses CloudTrail's repetitive JSON text well at a fraction of the
/// cost of higher levels.
const ZSTD_LEVEL: i32 = 3;
/// Hive's name for a partition of null values (files outside the CloudTrail key layout).
const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// A Parquet file written by a run, and the rows each source object put into it.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// The manifest's entry for it.
    pub file: DataFile,
    /// Rows by `log_file`.
    pub rows_by_object: BTreeMap<String, u64>,
}

/// A file being written.
struct OpenFile {
    relative: String,
    writer: AsyncArrowWriter<BufWriter>,
    rows: u64,
    rows_by_object: BTreeMap<String, u64>,
}

/// Writes the files of one run: days one after another, each split at the target size.
pub struct FileWriter<'w> {
    warehouse: &'w Warehouse,
    commit: u64,
    target_bytes: u64,
    properties: WriterProperties,
    log_date: Option<NaiveDate>,
    next_number: u32,
    open: Option<OpenFile>,
    written: Vec<WrittenFile>,
}

impl<'w> FileWriter<'w> {
    /// A writer of commit `commit`'s files into `warehouse`, each about `target_bytes`.
    pub fn new(warehouse: &'w Warehouse, commit: u64, target_bytes: u64) -> Self {
        let event_time = Column::ALL
            .iter()
            .position(|c| *c == Column::EventTime)
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(0);
        let compression = ZstdLevel::try_new(ZSTD_LEVEL)
            .map(Compression::ZSTD)
            .unwrap_or(Compression::SNAPPY);
        let properties = WriterProperties::builder()
            .set_compression(compression)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_sorting_columns(Some(vec![SortingColumn {
                column_idx: event_time,
                descending: false,
                nulls_first: true,
            }]))
            .set_created_by(format!("trailmap {}", env!("CARGO_PKG_VERSION")))
            .build();
        FileWriter {
            warehouse,
            commit,
            target_bytes,
            properties,
            log_date: None,
            next_number: 1,
            open: None,
            written: Vec::new(),
        }
    }

    /// Starts the rows of another day (closing the last file of the previous one).
    pub async fn start_day(&mut self, log_date: Option<NaiveDate>) -> Result<()> {
        self.close_file().await?;
        self.log_date = log_date;
        Ok(())
    }

    /// Writes a batch of the current day's rows (in `event_time` order).
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
            .map_err(|e| write_error(self.warehouse, &open.relative, e))?;
        open.rows += batch.num_rows() as u64;
        count_rows_by_object(batch, &mut open.rows_by_object)?;
        let size = open.writer.bytes_written() + open.writer.in_progress_size();
        if size as u64 >= self.target_bytes {
            self.close_file().await?;
        }
        Ok(())
    }

    /// Closes the last file and returns every file written.
    pub async fn finish(mut self) -> Result<Vec<WrittenFile>> {
        self.close_file().await?;
        Ok(self.written)
    }

    fn open_file(&mut self) -> Result<OpenFile> {
        let folder = match self.log_date {
            Some(date) => date.format("%Y-%m-%d").to_string(),
            None => NULL_PARTITION.to_owned(),
        };
        let relative = format!(
            "{EVENTS_DIR}/log_date={folder}/part-{:020}-{:05}.parquet",
            self.commit, self.next_number
        );
        self.next_number += 1;
        let target = BufWriter::new(self.warehouse.store(), self.warehouse.path(&relative));
        let writer =
            AsyncArrowWriter::try_new(target, events_schema(), Some(self.properties.clone()))
                .map_err(|e| write_error(self.warehouse, &relative, e))?;
        Ok(OpenFile {
            relative,
            writer,
            rows: 0,
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
            rows,
            rows_by_object,
        } = open;
        writer
            .finish()
            .await
            .map_err(|e| write_error(self.warehouse, &relative, e))?;
        let bytes = writer.bytes_written() as u64;
        self.written.push(WrittenFile {
            file: DataFile {
                path: relative,
                bytes,
                rows,
                log_date: self.log_date.map(|d| d.format("%Y-%m-%d").to_string()),
            },
            rows_by_object,
        });
        Ok(())
    }
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
    use std::sync::Arc;

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
