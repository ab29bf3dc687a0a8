//! `trailmap ingest`: raw CloudTrail objects into a Parquet warehouse, incrementally, each
//! object whole and exactly once ([`crate::warehouse`] documents the layout and the commit
//! protocol that makes a killed run harmless).
//!
//! A run lists the sources (`--from/--to/--account/--source-region` choose *objects*, by key,
//! with the delivery margin), leaves out the objects the manifest already holds (by
//! [`object_identity`]; one whose size or revision changed since is reported, never ingested
//! twice), reads the rest through the same scan as `trailmap query` (every record of each
//! object, no row cut), writes one day at a time sorted by `event_time`, and commits.
//!
//! Compaction: a day whose files are many and small (more than [`AUTO_COMPACT_FILES`] with
//! this run's, or any two with `--compact`) is rewritten whole in the same run and commit: its
//! files and this run's new rows of that day are sorted together into new files, the commit
//! re-points the day's objects to them and removes the old files, which are deleted after
//! the commit.

mod sort;
pub mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext};
use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, LoadError, Result};
use crate::filter::ScanFilter;
use crate::schema::events_schema;
use crate::session::{self, TrailSession};
use crate::source::aws::AwsOptions;
use crate::source::{self, LogObject, SourceSpec};
use crate::table::archive::{FileFacts, ReadOptions};
use crate::warehouse::Warehouse;
use crate::warehouse::manifest::{
    self, Commit, DataFile, IngestedObject, Manifest, object_identity,
};
use writer::{DayWriter, RunWriter, WrittenFile};

/// Default size of the Parquet files a run aims for.
pub const DEFAULT_TARGET_FILE_BYTES: u64 = 128 << 20;
/// Days read, sorted and written at once.
const DAYS_AT_ONCE: usize = 2;
/// A day with more files than this (its files and this run's) is compacted automatically.
pub const AUTO_COMPACT_FILES: usize = 8;
/// Default memory for the per-day sorts of a run when `--memory-limit` is not given: a day
/// larger than what is left of it is sorted by DataFusion's sort, which spills to disk, rather
/// than growing without bound.
pub const DEFAULT_MEMORY_LIMIT: u64 = 2 << 30;

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Which objects (the filter chooses objects by key, not rows), `--profiles`, the file-size
    /// cap and the memory limit.
    pub read: ReadOptions,
    /// The size of Parquet file to aim for.
    pub target_file_bytes: u64,
    /// Compact every day with small files (`--compact`), not only days past
    /// [`AUTO_COMPACT_FILES`].
    pub compact: bool,
}

/// An object the manifest holds whose size or revision is no longer what was ingested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedObject {
    /// The object as listed now.
    pub log_file: String,
    /// What was ingested (size, revision).
    pub ingested: (u64, Option<String>),
    /// What is listed now (size, revision).
    pub listed: (u64, Option<String>),
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    /// The commit made (`None`: nothing new to ingest).
    pub commit: Option<u64>,
    /// Objects listed (after pruning by key).
    pub listed: usize,
    /// Objects the warehouse held already.
    pub already_in: usize,
    /// Objects ingested by this run.
    pub ingested: usize,
    /// Events ingested by this run.
    pub events: u64,
    /// Parquet files written.
    pub files_written: usize,
    /// Their size in bytes.
    pub bytes_written: u64,
    /// Objects changed since they were ingested (not ingested again).
    pub changed: Vec<ChangedObject>,
    /// What could not be read by this run (objects, and folders that could not be listed);
    /// objects among them are retried by the next run.
    pub load_errors: Vec<LoadError>,
    /// Files of runs that died before committing, deleted.
    pub leftovers_deleted: usize,
    /// Days whose files were compacted.
    pub days_compacted: usize,
    /// Parquet files the compaction replaced (deleted after the commit).
    pub files_replaced: usize,
}

/// A run, listed and ready to read.
pub struct Ingest {
    warehouse: Warehouse,
    manifest: Manifest,
    session: Arc<TrailSession>,
    new_objects: Vec<Arc<LogObject>>,
    /// The days to compact, with their current files.
    compact: BTreeMap<Option<NaiveDate>, Vec<DataFile>>,
    /// Folders this run could not list.
    listing_errors: Vec<LoadError>,
    report: IngestReport,
    target_file_bytes: u64,
}

impl Ingest {
    /// Reads the manifest, lists the sources and opens a session over the objects the
    /// warehouse does not hold yet.
    pub async fn prepare(
        sources: &[SourceSpec],
        options: &IngestOptions,
        aws: &AwsOptions,
        warehouse: Warehouse,
    ) -> Result<Ingest> {
        let filter = &options.read.filter;
        filter.validate()?;
        let manifest = warehouse.manifest().await?;
        let keys = session::key_predicate(filter, None, &SessionContext::new().state())?;
        let mut listing = source::list(sources, keys.as_ref(), aws).await?;
        let mut report = IngestReport {
            listed: listing.objects.len(),
            ..IngestReport::default()
        };
        let mut new_objects = Vec::new();
        for object in std::mem::take(&mut listing.objects) {
            match manifest
                .objects
                .get(&object_identity(&object.context.log_file))
            {
                None => new_objects.push(object),
                Some(ingested) => match changed(ingested, &object) {
                    Some(change) => report.changed.push(change),
                    None => report.already_in += 1,
                },
            }
        }
        listing.objects = new_objects.clone();
        let listing_errors = listing.errors.clone();
        let mut profiles = options.read.profiles.clone();
        profiles.extend(manifest.profiles.clone());
        let read = ReadOptions {
            // Whole objects: the filter chose them, it cuts no row.
            filter: ScanFilter {
                delivery_margin: filter.delivery_margin,
                ..ScanFilter::default()
            },
            profiles,
            memory_limit: options.read.memory_limit.or(Some(DEFAULT_MEMORY_LIMIT)),
            ..options.read.clone()
        };
        let session = Arc::new(session::open_listed(listing, &read, sources, aws).await?);
        if let (Some(archive), None) = (session.archive(), session.cluster()) {
            // Ingest reads every file: a profile no file read so far creates is looked for by
            // reading on, not by a search of every file (a day written too early is redone).
            archive.resolve_without_searching();
            // Ingest keeps each day's rows until the day is read: rows passed on early would
            // save it nothing.
            archive.hold_whole_batches();
        }
        // Compaction reads the warehouse's own files in the same session.
        session
            .context()
            .register_object_store(warehouse.store_url().as_ref(), warehouse.store());
        let new_days = new_objects.iter().map(|o| o.key().date).collect();
        let compact = days_to_compact(&manifest, &new_days, options);
        Ok(Ingest {
            warehouse,
            manifest,
            session,
            new_objects,
            compact,
            listing_errors,
            report,
            target_file_bytes: options.target_file_bytes,
        })
    }

    /// The session reading the new objects (for progress display).
    pub fn session(&self) -> &Arc<TrailSession> {
        &self.session
    }

    /// Deletes what a dead run left, reads and writes the new objects (compacting the days
    /// that need it), commits, then deletes the files the compaction replaced.
    pub async fn run(mut self) -> Result<IngestReport> {
        self.report.leftovers_deleted = self.delete_leftovers().await?;
        // A run with nothing to write still commits when what could not be listed changed, so
        // that readers of the warehouse are told.
        let listing_unchanged = self.listing_errors == self.manifest.listing_errors;
        if self.new_objects.is_empty() && self.compact.is_empty() && listing_unchanged {
            self.report.load_errors = self.session.load_errors();
            return Ok(self.report);
        }
        let number = self.manifest.last_commit + 1;
        let new_days: BTreeSet<Option<NaiveDate>> =
            self.new_objects.iter().map(|o| o.key().date).collect();
        let days: BTreeSet<Option<NaiveDate>> = new_days
            .iter()
            .copied()
            .chain(self.compact.keys().copied())
            .collect();
        let run = RunWriter::new(self.warehouse.clone(), number, self.target_file_bytes);
        let mut by_day = self.write_days(&run, days, &new_days).await?;
        let redo = self.days_resolved_too_early().await?;
        if !redo.is_empty() {
            tracing::info!(
                days = redo.len(),
                "writing again the days whose rows call profiles found after they were written"
            );
            for stale in redo.iter().filter_map(|day| by_day.remove(day)).flatten() {
                self.warehouse.delete(&stale.file.path).await?;
            }
            by_day.extend(self.write_days(&run, redo, &new_days).await?);
        }
        let written: Vec<WrittenFile> = by_day.into_values().flatten().collect();
        let commit = self.commit_of(number, &written).await?;
        let added: Vec<String> = commit.added_files.iter().map(|f| f.path.clone()).collect();
        self.warehouse.make_durable(&added).await?;
        self.warehouse.commit(&commit).await?;
        for replaced in &commit.removed_files {
            // A file left here is deleted by the next run, as no commit names it any more.
            if let Err(e) = self.warehouse.delete(replaced).await {
                tracing::warn!("{e}");
            }
        }
        let new_identities: BTreeSet<String> = self
            .new_objects
            .iter()
            .map(|o| object_identity(&o.context.log_file))
            .collect();
        self.report.commit = Some(number);
        self.report.ingested = commit
            .objects
            .iter()
            .filter(|o| new_identities.contains(&o.identity()))
            .count();
        self.report.events = commit
            .objects
            .iter()
            .filter(|o| new_identities.contains(&o.identity()))
            .map(|o| o.events)
            .sum();
        self.report.files_written = written.len();
        self.report.bytes_written = commit.added_files.iter().map(|f| f.bytes).sum();
        self.report.days_compacted = self.compact.len();
        self.report.files_replaced = commit.removed_files.len();
        self.report.load_errors = self.session.load_errors();
        Ok(self.report)
    }

    /// Writes `days` (this run's objects of those in `new_days`, and the days compacted); the
    /// files written, by day.
    /// Days are written by tasks of their own, a few at a time: one day's Parquet encoding
    /// runs while the next day's files are decoded.
    async fn write_days(
        &self,
        run: &RunWriter,
        days: BTreeSet<Option<NaiveDate>>,
        new_days: &BTreeSet<Option<NaiveDate>>,
    ) -> Result<BTreeMap<Option<NaiveDate>, Vec<WrittenFile>>> {
        let on_cluster = self.session.cluster().is_some();
        let mut writing = Vec::new();
        for day in days {
            let rows = self.day_rows(day, new_days.contains(&day)).await?;
            let writer = run.day(day);
            writing.push(async move {
                let joined = tokio::spawn(write_day(rows, on_cluster, writer)).await;
                let files = joined
                    .map_err(|e| Error::Internal(format!("a day's writer stopped: {e}")))??;
                Ok::<_, Error>((day, files))
            });
        }
        futures::stream::iter(writing)
            .buffered(DAYS_AT_ONCE)
            .try_collect()
            .await
    }

    /// The days holding rows that were written without an application profile the archive
    /// turned out to create (in a file read later, outside the account and Region its ARN
    /// names): those days are written again, now that every profile is known.
    async fn days_resolved_too_early(&self) -> Result<BTreeSet<Option<NaiveDate>>> {
        let archive = self
            .session
            .archive()
            .ok_or_else(|| Error::Internal("ingest session reads no raw archive".into()))?;
        Ok(archive.resolved_too_early(&*archive.application_profiles().await))
    }

    /// One day's rows: the new objects' (when `has_new`) and, when the day is compacted, those
    /// of its current files.
    async fn day_rows(&self, day: Option<NaiveDate>, has_new: bool) -> Result<DataFrame> {
        let mut rows = match has_new {
            true => Some(self.session.sql(&day_sql(day)).await?),
            false => None,
        };
        if let Some(files) = self.compact.get(&day) {
            let urls: Vec<String> = files
                .iter()
                .map(|f| self.warehouse.url_of(&f.path))
                .collect();
            let schema = events_schema();
            let current = self
                .session
                .context()
                .read_parquet(urls, ParquetReadOptions::default().schema(&schema))
                .await?;
            rows = Some(match rows {
                Some(new) => new.union(current)?,
                None => current,
            });
        }
        rows.ok_or_else(|| Error::Internal("a day with nothing to write".into()))
    }

    /// Deletes Parquet files no commit names: what runs that died before committing wrote.
    async fn delete_leftovers(&self) -> Result<usize> {
        let mut deleted = 0;
        for file in self.warehouse.stored_data_files().await? {
            if !self.manifest.files.contains_key(&file) {
                tracing::info!(file, "deleting a file of a run that did not commit");
                self.warehouse.delete(&file).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// The commit of this run: its files, its objects (each checked to have put exactly its
    /// records into the files), the load errors and the profiles it found.
    async fn commit_of(&self, number: u64, written: &[WrittenFile]) -> Result<Commit> {
        let archive = self
            .session
            .archive()
            .ok_or_else(|| Error::Internal("ingest session reads no raw archive".into()))?;
        let outcomes = self.session.file_outcomes().await?;
        let mut placed: BTreeMap<&str, (u64, Vec<String>)> = BTreeMap::new();
        for file in written {
            for (log_file, rows) in &file.rows_by_object {
                let entry = placed.entry(log_file.as_str()).or_default();
                entry.0 += rows;
                entry.1.push(file.file.path.clone());
            }
        }
        let mut objects = Vec::new();
        let mut failed = Vec::new();
        for object in &self.new_objects {
            let log_file = &object.context.log_file;
            match outcomes.get(log_file) {
                Some(Ok(facts)) => {
                    let (rows, files) = placed.remove(log_file.as_str()).unwrap_or_default();
                    objects.push(ingested(object, facts, rows, files)?);
                }
                Some(Err(error)) => failed.push(error.clone()),
                None => {
                    return Err(Error::Internal(format!(
                        "{log_file} was listed for ingest but not read"
                    )));
                }
            }
        }
        let replaced: BTreeSet<&str> = self
            .compact
            .values()
            .flatten()
            .map(|f| f.path.as_str())
            .collect();
        for old in self.manifest.objects.values() {
            if !old.files.iter().any(|f| replaced.contains(f.as_str())) {
                continue;
            }
            let (rows, files) = placed.remove(old.log_file.as_str()).unwrap_or_default();
            if rows != old.events {
                return Err(Error::Internal(format!(
                    "compacting {} gave {rows} rows for its {} events",
                    old.log_file, old.events
                )));
            }
            objects.push(IngestedObject {
                files,
                ..old.clone()
            });
        }
        if let Some((log_file, _)) = placed.into_iter().next() {
            return Err(Error::Internal(format!(
                "rows of {log_file}, which was neither listed for ingest nor compacted, were written"
            )));
        }
        let retried: BTreeSet<String> = self
            .new_objects
            .iter()
            .map(|o| object_identity(&o.context.log_file))
            .collect();
        let mut load_errors: Vec<LoadError> = self
            .manifest
            .load_errors
            .iter()
            .filter(|e| !retried.contains(&object_identity(&e.log_file)))
            .cloned()
            .chain(failed)
            .collect();
        load_errors.sort();
        let profiles = archive
            .application_profiles()
            .await
            .iter()
            .filter(|p| self.manifest.profiles.get(&p.arn).is_none())
            .cloned()
            .collect();
        let mut commit = Commit {
            format: manifest::FORMAT,
            number,
            committed_at: chrono::Utc::now().to_rfc3339(),
            writer: format!("trailmap {}", env!("CARGO_PKG_VERSION")),
            added_files: written.iter().map(|w| w.file.clone()).collect(),
            removed_files: replaced.into_iter().map(str::to_owned).collect(),
            objects,
            load_errors,
            listing_errors: self.listing_errors.clone(),
            profiles,
            totals: None,
        };
        commit.totals = Some(self.manifest.totals_after(&commit));
        Ok(commit)
    }
}

/// Writes one day's rows in `event_time` order; returns the files written.
async fn write_day(
    rows: DataFrame,
    on_cluster: bool,
    mut writer: DayWriter,
) -> Result<Vec<WrittenFile>> {
    let mut rows = sort::by_event_time(rows, on_cluster).await?;
    while let Some(batch) = rows.next().await {
        writer.write(&batch?).await?;
    }
    writer.finish().await
}

/// The rows of one delivery day.
fn day_sql(day: Option<NaiveDate>) -> String {
    match day {
        Some(date) => format!(
            "SELECT * FROM events WHERE log_date = DATE '{}'",
            date.format("%Y-%m-%d")
        ),
        None => "SELECT * FROM events WHERE log_date IS NULL".to_owned(),
    }
}

/// The days whose files a run rewrites, with their files: more than [`AUTO_COMPACT_FILES`]
/// (counting the one this run adds), or, with `--compact`, two or more; in both cases at least
/// two of them small (under half the target size; this run's counts as small).
fn days_to_compact(
    manifest: &Manifest,
    new_days: &BTreeSet<Option<NaiveDate>>,
    options: &IngestOptions,
) -> BTreeMap<Option<NaiveDate>, Vec<DataFile>> {
    let mut by_day: BTreeMap<Option<NaiveDate>, Vec<DataFile>> = BTreeMap::new();
    for file in manifest.files.values() {
        let day = file.log_date.as_deref().and_then(|d| d.parse().ok());
        by_day.entry(day).or_default().push(file.clone());
    }
    by_day.retain(|day, files| {
        let incoming = usize::from(new_days.contains(day));
        let small = files
            .iter()
            .filter(|f| f.bytes < options.target_file_bytes / 2)
            .count()
            + incoming;
        let count = files.len() + incoming;
        let due = match options.compact {
            true => count >= 2,
            false => count > AUTO_COMPACT_FILES,
        };
        due && small >= 2
    });
    by_day
}

/// The manifest entry of an object read in full, refused if the rows written are not exactly
/// its records.
fn ingested(
    object: &LogObject,
    facts: &FileFacts,
    rows: u64,
    files: Vec<String>,
) -> Result<IngestedObject> {
    if rows != facts.records as u64 {
        return Err(Error::Internal(format!(
            "{} has {} records but {rows} rows were written",
            object.context.log_file, facts.records
        )));
    }
    Ok(IngestedObject {
        log_file: object.context.log_file.clone(),
        size: object.size,
        revision: object.revision.clone(),
        events: rows,
        json_bytes: facts.json_bytes,
        bad_times: facts.bad_times as u64,
        lag_seconds: facts.lag_seconds,
        files,
    })
}

/// How `listed` differs from what was ingested under its identity, if it does: another size,
/// or (same location) another ETag or modification time.
fn changed(ingested: &IngestedObject, listed: &LogObject) -> Option<ChangedObject> {
    let same_place = ingested.log_file == listed.context.log_file;
    let other_revision = same_place
        && ingested.revision.is_some()
        && listed.revision.is_some()
        && ingested.revision != listed.revision;
    (ingested.size != listed.size || other_revision).then(|| ChangedObject {
        log_file: listed.context.log_file.clone(),
        ingested: (ingested.size, ingested.revision.clone()),
        listed: (listed.size, listed.revision.clone()),
    })
}
