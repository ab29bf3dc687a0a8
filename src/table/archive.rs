//! The listed files of a session and what became of reading them.
//!
//! Every scan reads files through [`Archive::read`], which fetches the bytes, decodes them on the
//! rayon pool (keeping tokio's threads free for I/O) and records the outcome: rows for the
//! coverage counters, or a [`LoadError`] for `load_errors`, stderr and `--strict`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::arrow::array::RecordBatch;
use futures::StreamExt;

use crate::decode::{DecodePlan, Decoded, decode_file};
use crate::error::{DecodeError, LoadError, LoadStage};
use crate::filter::ScanFilter;
use crate::source::{Fetched, Fetcher, Listing, LogObject, Skipped};

/// Files checked at once when `load_errors` is asked for files no query has read yet.
const CHECK_CONCURRENCY: usize = 8;

/// What reading a file gave.
#[derive(Debug, Clone)]
enum Outcome {
    Read { records: usize, json_bytes: usize },
    Failed(LoadError),
}

/// Totals over the files read so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Files listed for reading (after pruning by name and `--from/--to/...`).
    pub files_listed: usize,
    /// Files read in full at least once.
    pub files_read: usize,
    /// Files that could not be read.
    pub files_failed: usize,
    /// Records in the files read (before the exact `--from/--to/...` cut).
    pub records: usize,
    /// Bytes of JSON decoded.
    pub json_bytes: usize,
    /// Objects skipped while listing.
    pub skipped: Skipped,
}

/// Live counters of reading, for progress display.
#[derive(Debug, Default)]
pub struct Progress {
    files: AtomicU64,
    bytes: AtomicU64,
    records: AtomicU64,
    errors: AtomicU64,
}

/// A reading of [`Progress`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressSnapshot {
    /// Files read or failed (a file read by two queries counts twice).
    pub files: u64,
    /// Bytes fetched (compressed).
    pub bytes: u64,
    /// Records decoded.
    pub records: u64,
    /// Files that failed.
    pub errors: u64,
}

impl Progress {
    fn add(&self, bytes: usize, records: usize, failed: bool) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.records.fetch_add(records as u64, Ordering::Relaxed);
        self.errors.fetch_add(u64::from(failed), Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            files: self.files.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            records: self.records.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
}

/// The files of a session, shared by every table that reads them.
#[derive(Debug)]
pub struct Archive {
    objects: Vec<Arc<LogObject>>,
    filter: ScanFilter,
    skipped: Skipped,
    listing_errors: Vec<LoadError>,
    fetcher: Fetcher,
    outcomes: Mutex<BTreeMap<String, Outcome>>,
    progress: Progress,
}

impl Archive {
    /// An archive of the listed files; `filter` is the exact record cut of the command line.
    pub fn new(listing: Listing, filter: ScanFilter) -> Self {
        Archive {
            objects: listing.objects,
            filter,
            skipped: listing.skipped,
            listing_errors: listing.errors,
            fetcher: listing.fetcher,
            outcomes: Mutex::new(BTreeMap::new()),
            progress: Progress::default(),
        }
    }

    /// The listed files.
    pub fn objects(&self) -> &[Arc<LogObject>] {
        &self.objects
    }

    /// The command-line filter applied to every record.
    pub fn filter(&self) -> &ScanFilter {
        &self.filter
    }

    fn outcomes(&self) -> MutexGuard<'_, BTreeMap<String, Outcome>> {
        // A poisoned lock only means another reader panicked; the map itself stays valid.
        self.outcomes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads one file with `plan`. Returns its batch, or `None` if it failed (the failure is
    /// recorded and reported once).
    pub async fn read(&self, object: Arc<LogObject>, plan: Arc<DecodePlan>) -> Option<RecordBatch> {
        let log_file = object.context.log_file.clone();
        let result = match self.fetcher.fetch(&object).await {
            Ok(fetched) => decode_on_rayon(fetched, object, plan).await,
            Err(message) => Err(DecodeError::new(LoadStage::Fetch, message)),
        };
        match result {
            Ok((decoded, size)) => {
                self.progress.add(size, decoded.records, false);
                self.outcomes().insert(
                    log_file,
                    Outcome::Read {
                        records: decoded.records,
                        json_bytes: decoded.json_bytes,
                    },
                );
                Some(decoded.batch)
            }
            Err(DecodeError { stage, message }) => {
                self.progress.add(0, 0, true);
                let error = LoadError {
                    log_file: log_file.clone(),
                    stage,
                    message,
                };
                let first_time =
                    !matches!(self.outcomes().get(&log_file), Some(Outcome::Failed(_)));
                if first_time {
                    tracing::warn!("could not read {error}");
                }
                self.outcomes().insert(log_file, Outcome::Failed(error));
                None
            }
        }
    }

    /// Reads every file no scan has read yet (validating only, no columns), so that
    /// [`Archive::load_errors`] covers the whole archive.
    pub async fn check_all(&self) {
        let unread: Vec<Arc<LogObject>> = {
            let outcomes = self.outcomes();
            self.objects
                .iter()
                .filter(|o| !outcomes.contains_key(&o.context.log_file))
                .cloned()
                .collect()
        };
        let plan = Arc::new(DecodePlan::new(Vec::new(), self.filter.clone()));
        futures::stream::iter(unread)
            .map(|object| self.read(object, Arc::clone(&plan)))
            .buffer_unordered(CHECK_CONCURRENCY)
            .for_each(|_| async {})
            .await;
    }

    /// Every file that could not be read so far, sorted by file.
    pub fn load_errors(&self) -> Vec<LoadError> {
        let mut errors = self.listing_errors.clone();
        errors.extend(self.outcomes().values().filter_map(|o| match o {
            Outcome::Failed(e) => Some(e.clone()),
            Outcome::Read { .. } => None,
        }));
        errors.sort();
        errors
    }

    /// Live reading counters.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Totals over the files read so far.
    pub fn coverage(&self) -> Coverage {
        let mut coverage = Coverage {
            files_listed: self.objects.len(),
            files_failed: self.listing_errors.len(),
            skipped: self.skipped,
            ..Coverage::default()
        };
        for outcome in self.outcomes().values() {
            match outcome {
                Outcome::Read {
                    records,
                    json_bytes,
                } => {
                    coverage.files_read += 1;
                    coverage.records += records;
                    coverage.json_bytes += json_bytes;
                }
                Outcome::Failed(_) => coverage.files_failed += 1,
            }
        }
        coverage
    }
}

/// Reads (if local) and decodes on the rayon pool, and hands the result and the file's size
/// back to the async caller.
async fn decode_on_rayon(
    fetched: Fetched,
    object: Arc<LogObject>,
    plan: Arc<DecodePlan>,
) -> Result<(Decoded, usize), DecodeError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let result = fetched
            .into_bytes()
            .map_err(|message| DecodeError::new(LoadStage::Fetch, message))
            .and_then(|bytes| {
                decode_file(&bytes, object.named_gzip(), &object.context, &plan)
                    .map(|d| (d, bytes.len()))
            });
        // The receiver is gone only when the query was cancelled; nothing to do then.
        let _ = tx.send(result);
    });
    rx.await
        .unwrap_or_else(|_| Err(DecodeError::new(LoadStage::Json, "decoder thread stopped")))
}
