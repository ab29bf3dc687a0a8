//! Decoded columns kept between the statements of a session (`trailmap shell`): a second
//! statement needing columns of a file that are already decoded does not fetch, inflate or
//! parse the file again.
//!
//! Only whole-file decodes are kept (no record filter: in a caching session the scan leaves
//! row filters to DataFusion), by file and column, each column as the arrays of the file's
//! batches. A statement needing a column that is not kept decodes the file again and adds the
//! columns it built. The cache never grows past its limit: a file that does not fit is simply
//! decoded each time, and the first refusal is said once on stderr.

use std::collections::HashMap;
use std::sync::Mutex;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;

use crate::schema::Column;

/// One file's kept columns.
#[derive(Debug, Default)]
struct CachedFile {
    /// Rows of each batch the file decodes into.
    batch_rows: Vec<usize>,
    /// The arrays of each kept column, one per batch.
    columns: HashMap<Column, Vec<ArrayRef>>,
}

#[derive(Debug, Default)]
struct CacheState {
    files: HashMap<String, CachedFile>,
    bytes: u64,
    refused: bool,
}

/// Decoded columns by file, up to a memory limit.
#[derive(Debug)]
pub struct ColumnCache {
    limit: u64,
    state: Mutex<CacheState>,
}

/// What the cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheUse {
    /// Files with at least one kept column.
    pub files: usize,
    /// Kept (file, column) pairs.
    pub columns: usize,
    /// Bytes they hold.
    pub bytes: u64,
    /// The limit.
    pub limit: u64,
}

impl ColumnCache {
    /// An empty cache holding at most `limit` bytes of arrays.
    pub fn new(limit: u64) -> Self {
        ColumnCache {
            limit,
            state: Mutex::new(CacheState::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, CacheState> {
        // A poisoned lock only means another reader panicked; the map stays valid.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The batches of `columns` (in this order, as `schema`) of `log_file`, if every one of
    /// them is kept.
    pub fn get(
        &self,
        log_file: &str,
        columns: &[Column],
        schema: &SchemaRef,
    ) -> Option<Vec<RecordBatch>> {
        let state = self.state();
        let file = state.files.get(log_file)?;
        let kept: Vec<&Vec<ArrayRef>> = columns
            .iter()
            .map(|c| file.columns.get(c))
            .collect::<Option<_>>()?;
        file.batch_rows
            .iter()
            .enumerate()
            .map(|(i, &rows)| {
                let arrays: Vec<ArrayRef> = kept.iter().map(|arrays| arrays[i].clone()).collect();
                let options =
                    datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(rows));
                RecordBatch::try_new_with_options(schema.clone(), arrays, &options).ok()
            })
            .collect()
    }

    /// Keeps the columns of `batches` (a whole-file decode of `columns`) that are not kept
    /// yet, if they fit under the limit. Returns `false` when they did not fit.
    pub fn put(&self, log_file: &str, columns: &[Column], batches: &[RecordBatch]) -> bool {
        let batch_rows: Vec<usize> = batches.iter().map(RecordBatch::num_rows).collect();
        let mut state = self.state();
        let known = state.files.get(log_file);
        if known.is_some_and(|file| file.batch_rows != batch_rows) {
            // Decoded with another batch size: keep what is kept.
            return true;
        }
        let new: Vec<(usize, Column)> = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| known.is_none_or(|file| !file.columns.contains_key(c)))
            .map(|(i, c)| (i, *c))
            .collect();
        let bytes: u64 = new
            .iter()
            .flat_map(|(i, _)| batches.iter().map(move |b| b.column(*i)))
            .map(|array| array.get_array_memory_size() as u64)
            .sum();
        if state.bytes + bytes > self.limit {
            if !state.refused {
                state.refused = true;
                eprintln!(
                    "trailmap: the column cache is full ({:.1} MiB): files that do not fit are read again by each statement (raise --cache-size to keep more)",
                    self.limit as f64 / f64::from(1 << 20)
                );
            }
            return false;
        }
        state.bytes += bytes;
        let file = state.files.entry(log_file.to_owned()).or_default();
        file.batch_rows = batch_rows;
        for (i, column) in new {
            let arrays = batches.iter().map(|b| b.column(i).clone()).collect();
            file.columns.insert(column, arrays);
        }
        true
    }

    /// What the cache holds now.
    pub fn usage(&self) -> CacheUse {
        let state = self.state();
        CacheUse {
            files: state.files.len(),
            columns: state.files.values().map(|f| f.columns.len()).sum(),
            bytes: state.bytes,
            limit: self.limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::datatypes::Schema;
    use std::sync::Arc;

    fn batch(columns: &[Column], rows: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(
            columns.iter().map(|c| c.field()).collect::<Vec<_>>(),
        ));
        let arrays: Vec<ArrayRef> = columns
            .iter()
            .map(|_| Arc::new(StringArray::from(rows.to_vec())) as ArrayRef)
            .collect();
        RecordBatch::try_new(schema, arrays).unwrap()
    }

    #[test]
    fn columns_are_served_once_every_one_is_kept_and_the_limit_holds() {
        let cache = ColumnCache::new(1 << 20);
        let first = [Column::EventName, Column::EventSource];
        assert!(cache.put(
            "f",
            &first,
            &[batch(&first, &["a", "b"]), batch(&first, &["c"])]
        ));
        let schema = batch(&[Column::EventSource], &[]).schema();
        let got = cache.get("f", &[Column::EventSource], &schema).unwrap();
        assert_eq!(
            got.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
            [2, 1]
        );
        assert!(cache.get("f", &[Column::AwsRegion], &schema).is_none());
        assert!(cache.get("g", &[Column::EventSource], &schema).is_none());
        let usage = cache.usage();
        assert_eq!((usage.files, usage.columns), (1, 2));

        let tiny = ColumnCache::new(8);
        assert!(!tiny.put("f", &first, &[batch(&first, &["a"])]));
        assert_eq!(tiny.usage().bytes, 0);
    }
}
