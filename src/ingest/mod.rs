//! `trailmap ingest`: raw CloudTrail objects into the Delta Lake warehouse, incrementally,
//! each object whole and exactly once ([`crate::warehouse`] documents the table, its ledger and
//! the commit protocol that makes a killed or concurrent run harmless).
//!
//! A run lists the sources (`--from/--to/--account/--source-region` choose *objects*, by key,
//! with the delivery margin), keeps one object per identity ([`located_identity`]) whichever
//! source names it, leaves out the objects the ledger holds (one whose size or revision
//! changed since becomes a load error, never a second copy), reads the rest through the same
//! scan as `trailmap query` (every record of each object, no row cut), writes one day at a time
//! sorted by `event_time`, and commits.
//!
//! Compaction: a day whose files are many and small (more than [`AUTO_COMPACT_FILES`] with
//! this run's, or any two with `--compact`) is rewritten whole in the same run and commit: its
//! files and this run's new rows of that day are sorted together into new files, and the
//! commit re-points the day's objects to them and removes the old files (deleted by VACUUM).

mod repair;
mod sort;
pub mod writer;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionContext};
use futures::{StreamExt, TryStreamExt};

use deltalake_core::DeltaTable;

use crate::decode::profiles::{ApplicationProfile, ProfileMap};
use crate::decode::sessions::SessionTags;
use crate::error::{Error, LoadError, LoadStage, Result};
use crate::filter::ScanFilter;
use crate::schema::events_schema;
use crate::session::{self, TrailSession};
use crate::source::aws::AwsOptions;
use crate::source::{self, LogObject, SourceSpec};
use crate::table::archive::{FileFacts, ReadOptions};
use crate::warehouse::delta::Committed;
use crate::warehouse::manifest::{
    self, Commit, DataFile, IngestedObject, Manifest, located_identity, names_a_place,
};
use crate::warehouse::{NewFile, PendingCommit, Warehouse};
use repair::Learned;
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

/// An object the ledger holds whose size or revision is no longer what was ingested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedObject {
    /// The object as listed now.
    pub log_file: String,
    /// What was ingested (size, revision).
    pub ingested: (u64, Option<String>),
    /// What is listed now (size, revision).
    pub listed: (u64, Option<String>),
}

impl ChangedObject {
    /// The load error readers of the warehouse are shown for it.
    pub fn load_error(&self) -> LoadError {
        let revision = |r: &Option<String>| r.clone().unwrap_or_else(|| "unknown".into());
        LoadError::new(
            self.log_file.clone(),
            LoadStage::Changed,
            format!(
                "changed since it was ingested (size {} -> {}, revision {} -> {}): the warehouse \
                 holds the events read then; ingest into a new warehouse to read it again",
                self.ingested.0,
                self.listed.0,
                revision(&self.ingested.1),
                revision(&self.listed.1)
            ),
        )
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct IngestReport {
    /// The table version committed (`None`: nothing new to commit).
    pub commit: Option<u64>,
    /// Objects listed (after pruning by key).
    pub listed: usize,
    /// Objects named twice by the sources (the same identity), read once.
    pub duplicates: usize,
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
    /// Objects changed since they were ingested (not ingested again; load errors).
    pub changed: Vec<ChangedObject>,
    /// What could not be read by this run (objects, and folders that could not be listed);
    /// objects among them are retried by the next run.
    pub load_errors: Vec<LoadError>,
    /// Days whose files were compacted.
    pub days_compacted: usize,
    /// Parquet files the compaction replaced (deleted by VACUUM).
    pub files_replaced: usize,
    /// Days rewritten because this run learned profiles their rows call.
    pub days_repaired: usize,
    /// Commits other runs made while this one ran, which it committed after.
    pub concurrent_commits: u64,
}

/// How a run ended.
#[derive(Debug)]
pub enum RunEnd {
    /// Committed (or had nothing to commit).
    Done(IngestReport),
    /// Another run committed some of this run's objects (or rewrote a day it compacts) first:
    /// nothing of this run was committed. Prepare a new run: it leaves those objects out.
    Overtaken,
}

/// A run, listed and ready to read.
pub struct Ingest {
    warehouse: Warehouse,
    /// The table as read (the version this run commits after).
    table: DeltaTable,
    manifest: Manifest,
    session: Arc<TrailSession>,
    new_objects: Vec<Arc<LogObject>>,
    /// The days to compact, with their current files.
    compact: BTreeMap<Option<NaiveDate>, Vec<DataFile>>,
    /// Folders this run could not list.
    listing_errors: Vec<LoadError>,
    /// Every object this run listed, by identity (what clears earlier errors of them).
    listed: BTreeSet<String>,
    /// The roots this run listed whole (no key cut, no folder that failed): a folder recorded
    /// as unlisted under one of them has been listed now.
    listed_whole: Vec<String>,
    /// Whether `--profiles` names profiles the warehouse does not know yet.
    given_new_profiles: bool,
    /// This run's id: in its file names and its ledger entry.
    run_id: String,
    /// Days rewritten with rows resolved anew.
    repaired: BTreeSet<Option<NaiveDate>>,
    /// The session tags the warehouse's own STS events give (known before this run).
    sessions_before: Arc<SessionTags>,
    report: IngestReport,
    target_file_bytes: u64,
}

impl Ingest {
    /// Reads the table and its ledger (creating the table if there is none), lists the
    /// sources and opens a session over the objects the warehouse does not hold yet.
    pub async fn prepare(
        sources: &[SourceSpec],
        options: &IngestOptions,
        aws: &AwsOptions,
        warehouse: Warehouse,
    ) -> Result<Ingest> {
        let filter = &options.read.filter;
        filter.validate()?;
        let table = warehouse.table_or_create().await?;
        let manifest = warehouse.manifest_of(&table).await?;
        let keys = session::key_predicate(filter, None, &SessionContext::new().state())?;
        let mut listing = source::list(sources, keys.as_ref(), aws).await?;
        let mut report = IngestReport {
            listed: listing.objects.len(),
            ..IngestReport::default()
        };
        let mut new_objects = Vec::new();
        let mut listed: BTreeMap<String, Arc<LogObject>> = BTreeMap::new();
        for object in std::mem::take(&mut listing.objects) {
            let identity = located_identity(&object.context.log_file);
            if let Some(first) = listed.get(&identity) {
                report.duplicates += 1;
                if first.size != object.size {
                    report.changed.push(ChangedObject {
                        log_file: object.context.log_file.clone(),
                        ingested: (first.size, first.revision.clone()),
                        listed: (object.size, object.revision.clone()),
                    });
                }
                continue;
            }
            listed.insert(identity.clone(), Arc::clone(&object));
            match manifest.objects.get(&identity) {
                None => new_objects.push(object),
                Some(ingested) => match changed(ingested, &object) {
                    Some(change) => report.changed.push(change),
                    None => report.already_in += 1,
                },
            }
        }
        listing.objects = new_objects.clone();
        let listing_errors = listing.errors.clone();
        let every_listed: Vec<Arc<LogObject>> = listed.values().cloned().collect();
        let listed_whole = match (keys.is_none(), listing_errors.is_empty()) {
            (true, true) => source_roots(sources, &every_listed),
            _ => Vec::new(),
        };
        let given_new_profiles = options
            .read
            .profiles
            .iter()
            .any(|p| manifest.profiles.get(&p.arn).is_none());
        let mut profiles = options.read.profiles.clone();
        profiles.extend(manifest.profiles.clone());
        // Calls of this run may use credentials issued by STS events ingested before.
        let sessions = warehouse_sessions(&warehouse, &manifest).await?;
        let sessions_before = Arc::new(SessionTags::of(&sessions));
        let read = ReadOptions {
            sessions,
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
            table,
            manifest,
            session,
            new_objects,
            compact,
            listing_errors,
            listed: listed.into_keys().collect(),
            listed_whole,
            given_new_profiles,
            run_id: uuid::Uuid::new_v4().simple().to_string(),
            repaired: BTreeSet::new(),
            sessions_before,
            report,
            target_file_bytes: options.target_file_bytes,
        })
    }

    /// The session reading the new objects (for progress display).
    pub fn session(&self) -> &Arc<TrailSession> {
        &self.session
    }

    /// Reads and writes the new objects (compacting the days that need it) and commits,
    /// marked as running meanwhile (VACUUM waits for it).
    pub async fn run(self) -> Result<RunEnd> {
        let (warehouse, run_id) = (self.warehouse.clone(), self.run_id.clone());
        warehouse.mark_run(&run_id).await?;
        let renewing = {
            let (warehouse, run_id) = (warehouse.clone(), run_id.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(crate::warehouse::RUN_MARK_RENEWAL).await;
                    if let Err(e) = warehouse.mark_run(&run_id).await {
                        tracing::warn!("{e}");
                    }
                }
            })
        };
        let ended = self.run_marked().await;
        renewing.abort();
        warehouse.end_run(&run_id).await;
        ended
    }

    async fn run_marked(mut self) -> Result<RunEnd> {
        let changed_errors: Vec<LoadError> = self
            .report
            .changed
            .iter()
            .map(ChangedObject::load_error)
            .collect();
        let unchanged = self.listing_errors_after(&self.manifest) == self.manifest.listing_errors
            && self.load_errors_after(&self.manifest, &[], &changed_errors)
                == self.manifest.load_errors;
        let nothing_to_write =
            self.new_objects.is_empty() && self.compact.is_empty() && !self.given_new_profiles;
        if nothing_to_write && unchanged {
            self.report.load_errors = self.session.load_errors();
            self.report.load_errors.extend(changed_errors);
            return Ok(RunEnd::Done(self.report));
        }
        let new_days: BTreeSet<Option<NaiveDate>> =
            self.new_objects.iter().map(|o| o.key().date).collect();
        let days: BTreeSet<Option<NaiveDate>> = new_days
            .iter()
            .copied()
            .chain(self.compact.keys().copied())
            .collect();
        let run = RunWriter::new(self.warehouse.clone(), &self.run_id, self.target_file_bytes);
        let mut by_day = self.write_days(&run, days, &new_days, None).await?;
        let redo = self.days_resolved_too_early().await?;
        if !redo.is_empty() {
            tracing::info!(
                days = redo.len(),
                "writing again the days whose rows call profiles found after they were written"
            );
            self.drop_days(&mut by_day, &redo).await;
            by_day.extend(self.write_days(&run, redo, &new_days, None).await?);
        }
        let profiles = self.profiles_found().await?;
        let known = Arc::new(ProfileMap::from_iter(profiles.iter().cloned()));
        // Only profiles new to the warehouse can be called by rows written unresolved: each
        // run repairs what it learns, so earlier ones were applied when they were learned.
        let new_to_warehouse: ProfileMap = profiles
            .iter()
            .filter(|p| self.manifest.profiles.get(&p.arn).is_none())
            .cloned()
            .collect();
        // Rows written before may use keys whose STS events this run read (delivered late, or
        // listed only now).
        let learned = Learned {
            profiles: Arc::new(new_to_warehouse),
            sessions: Arc::new(
                self.archive()?
                    .session_tags()
                    .await
                    .learned_since(&self.sessions_before),
            ),
        };
        let repair = self.days_to_repair(&learned).await?;
        let resolve_sessions = Arc::clone(&learned.sessions);
        let mut repaired_only = 0;
        if !repair.is_empty() {
            tracing::info!(
                days = repair.len(),
                "rewriting the days whose rows call profiles this run learned"
            );
            self.drop_days(&mut by_day, &repair).await;
            for day in &repair {
                if !self.compact.contains_key(day) {
                    self.compact.insert(*day, self.files_of_day(*day));
                    repaired_only += 1;
                }
            }
            self.report.days_repaired = repair.len();
            self.repaired.clone_from(&repair);
            let resolve = Arc::new(Learned {
                profiles: Arc::clone(&known),
                sessions: learned.sessions,
            });
            by_day.extend(
                self.write_days(&run, repair, &new_days, Some(&resolve))
                    .await?,
            );
        }
        let written: Vec<WrittenFile> = by_day.into_values().flatten().collect();
        let added: Vec<String> = written.iter().map(|w| w.file.path.clone()).collect();
        crate::failpoint::hit("files-written");
        self.warehouse.make_durable(&added).await?;
        crate::failpoint::hit("files-durable");
        let (objects, failed) = self.objects_of(&written).await?;
        let first_read = self.manifest.version.unwrap_or(0);
        loop {
            if !self.warehouse.all_present(&added).await? {
                return Err(self.warehouse_error(
                    "files this run wrote were deleted before its commit (a vacuum with a --retain shorter than the run?): nothing was committed; run ingest again",
                ));
            }
            let pending =
                self.pending_commit(&written, &objects, &failed, &changed_errors, &profiles);
            let read_version = self.manifest.version.unwrap_or(0);
            let committed = self
                .warehouse
                .commit(&self.table, &pending, self.target_file_bytes)
                .await?;
            let table = match committed {
                Committed::Version(version) => {
                    crate::failpoint::hit("committed");
                    self.report.commit = Some(version);
                    break;
                }
                Committed::Moved => self.warehouse.table(None).await?.ok_or_else(|| {
                    self.warehouse_error("its Delta log went away during the run")
                })?,
            };
            // The commit may have landed with its answer lost (a retried conditional PUT then
            // finds its own file): it is found by this run's id.
            let latest_version = self.warehouse.manifest_of(&table).await?;
            let since = read_version + 1..=latest_version.version.unwrap_or(read_version);
            if let Some(version) = self
                .warehouse
                .version_of_run(&table, since, &self.run_id)
                .await?
            {
                self.report.commit = Some(version);
                break;
            }
            // Rows of other runs' commits may call, unresolved, profiles this run learned: then
            // it starts again (and repairs them) rather than leave them so.
            let learned: ProfileMap = profiles
                .iter()
                .filter(|p| latest_version.profiles.get(&p.arn).is_none())
                .cloned()
                .collect();
            let added_since: Vec<String> = latest_version
                .files
                .values()
                .filter(|f| !self.manifest.files.contains_key(&f.path))
                .map(|f| self.warehouse.url_of(&f.path))
                .collect();
            // (Sessions too: their rows may use keys this run's STS events issued.)
            let learned = Learned {
                profiles: Arc::new(learned),
                sessions: Arc::clone(&resolve_sessions),
            };
            let calls_learned =
                !repair::days_to_repair(self.session.context(), added_since, &learned)
                    .await?
                    .is_empty();
            // And this run's rows may call, unresolved, profiles other runs learned meanwhile.
            let learned_elsewhere: ProfileMap = latest_version
                .profiles
                .iter()
                .filter(|p| known.get(&p.arn).is_none())
                .cloned()
                .collect();
            let own: Vec<String> = added.iter().map(|f| self.warehouse.url_of(f)).collect();
            let sessions_elsewhere =
                SessionTags::of(&warehouse_sessions(&self.warehouse, &latest_version).await?)
                    .learned_since(&self.sessions_before);
            let learned_elsewhere = Learned {
                profiles: Arc::new(learned_elsewhere),
                sessions: Arc::new(sessions_elsewhere),
            };
            let calls_theirs =
                !repair::days_to_repair(self.session.context(), own, &learned_elsewhere)
                    .await?
                    .is_empty();
            if calls_learned || calls_theirs || self.overtaken_by(&latest_version, &pending) {
                tracing::info!("another run committed first what this run commits; starting again");
                let unnamed: Vec<String> = added
                    .iter()
                    .filter(|f| !latest_version.files.contains_key(*f))
                    .cloned()
                    .collect();
                self.warehouse.delete_uncommitted(&unnamed).await;
                return Ok(RunEnd::Overtaken);
            }
            self.table = table;
            self.manifest = latest_version;
        }
        if let Some(version) = self.report.commit {
            self.report.concurrent_commits = version - first_read - 1;
        }
        self.report.ingested = self.new_objects.len() - failed.len();
        self.report.events = objects
            .iter()
            .filter(|o| self.is_new(o))
            .map(|o| o.events)
            .sum();
        self.report.files_written = written.len();
        self.report.bytes_written = written.iter().map(|w| w.file.bytes).sum();
        self.report.days_compacted = self.compact.len() - repaired_only;
        self.report.files_replaced = self.compact.values().map(Vec::len).sum();
        self.report.load_errors = self.session.load_errors();
        self.report.load_errors.extend(changed_errors);
        Ok(RunEnd::Done(self.report))
    }

    /// Takes `days` out of what this run commits, deleting the files written for them.
    async fn drop_days(
        &self,
        by_day: &mut BTreeMap<Option<NaiveDate>, Vec<WrittenFile>>,
        days: &BTreeSet<Option<NaiveDate>>,
    ) {
        let dropped: Vec<String> = days
            .iter()
            .filter_map(|day| by_day.remove(day))
            .flatten()
            .map(|w| w.file.path)
            .collect();
        self.warehouse.delete_uncommitted(&dropped).await;
    }

    fn warehouse_error(&self, reason: &str) -> Error {
        Error::Warehouse {
            location: self.warehouse.location().to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn is_new(&self, object: &IngestedObject) -> bool {
        let identity = object.identity();
        self.new_objects
            .iter()
            .any(|o| located_identity(&o.context.log_file) == identity)
    }

    /// Whether commits made since this run read the table took what this run commits: one
    /// of its new objects, or a file it replaces.
    fn overtaken_by(&self, latest: &Manifest, pending: &PendingCommit) -> bool {
        let taken = self.new_objects.iter().any(|o| {
            latest
                .objects
                .contains_key(&located_identity(&o.context.log_file))
        });
        let gone = pending
            .removed
            .iter()
            .any(|f| !latest.files.contains_key(&f.path));
        taken || gone
    }

    /// Writes `days` (this run's objects of those in `new_days`, and the days compacted); the
    /// files written, by day.
    /// Days are written by tasks of their own, a few at a time: one day's Parquet encoding
    /// runs while the next day's files are decoded.
    /// With `resolve`, rows written earlier without their application profile are resolved
    /// through it ([`repair::resolve_written`]).
    async fn write_days(
        &self,
        run: &RunWriter,
        days: BTreeSet<Option<NaiveDate>>,
        new_days: &BTreeSet<Option<NaiveDate>>,
        resolve: Option<&Arc<Learned>>,
    ) -> Result<BTreeMap<Option<NaiveDate>, Vec<WrittenFile>>> {
        let on_cluster = self.session.cluster().is_some();
        let mut writing = Vec::new();
        for day in days {
            let rows = self.day_rows(day, new_days.contains(&day)).await?;
            let writer = run.day(day);
            let resolve = resolve.cloned();
            writing.push(async move {
                let joined = tokio::spawn(write_day(rows, on_cluster, writer, resolve)).await;
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
    /// names), or without the session of a key whose STS event a later day holds: those days
    /// are written again, now that every profile and session is known.
    async fn days_resolved_too_early(&self) -> Result<BTreeSet<Option<NaiveDate>>> {
        let archive = self.archive()?;
        Ok(archive.resolved_too_early(
            &*archive.application_profiles().await,
            &*archive.session_tags().await,
        ))
    }

    fn archive(&self) -> Result<&Arc<crate::table::archive::Archive>> {
        self.session
            .archive()
            .ok_or_else(|| Error::Internal("ingest session reads no raw archive".into()))
    }

    /// The days already in the warehouse (before this run) holding rows that call a profile,
    /// or use a key, of `known` unresolved.
    /// With sessions alone learned, only the days their credentials could be used on are
    /// looked at (from the first issue to the last expiry, and a day of delivery after it), so
    /// that a run does not read a column of every file of the warehouse.
    async fn days_to_repair(&self, known: &Learned) -> Result<BTreeSet<Option<NaiveDate>>> {
        let window = match known.profiles.is_empty() {
            true => self.days_keys_are_used(&known.sessions).await?,
            false => None,
        };
        let urls = self
            .manifest
            .files
            .values()
            .filter(|f| match (&window, f.log_date.as_deref()) {
                (Some((first, last)), Some(day)) => (first.as_str()..=last.as_str()).contains(&day),
                _ => true,
            })
            .map(|f| self.warehouse.url_of(&f.path))
            .collect();
        repair::days_to_repair(self.session.context(), urls, known).await
    }

    /// The delivery days (`YYYY-MM-DD`, first and last) of files that may hold calls made with
    /// the keys of `learned`: from the day the first was issued to a week after the last expired
    /// (a credential lives at most 36 hours, `GetSessionToken`'s longest; CloudTrail delivers in
    /// minutes, and a week covers delays far past the delivery margin). `None` when a key's
    /// issue time is not known.
    async fn days_keys_are_used(&self, learned: &SessionTags) -> Result<Option<(String, String)>> {
        const LONGEST_LIFE: i64 = 36 * 3600 * 1_000_000;
        const DELIVERY: i64 = 7 * 24 * 3600 * 1_000_000;
        let sessions = self.archive()?.sessions().await;
        let mut window: Option<(i64, i64)> = None;
        for key in learned.keys() {
            let Some(issued) = sessions.get(key).and_then(|s| s.issued_at) else {
                return Ok(None);
            };
            let expires = sessions.get(key).and_then(|s| s.expires_at);
            let last = expires.unwrap_or(issued + LONGEST_LIFE).max(issued) + DELIVERY;
            window = Some(window.map_or((issued, last), |(a, b)| (a.min(issued), b.max(last))));
        }
        let day = |micros: i64| {
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|t| t.format("%Y-%m-%d").to_string())
        };
        Ok(window.and_then(|(first, last)| Some((day(first)?, day(last)?))))
    }

    /// The warehouse's files of `day` before this run.
    fn files_of_day(&self, day: Option<NaiveDate>) -> Vec<DataFile> {
        let day = day.map(|d| d.format("%Y-%m-%d").to_string());
        self.manifest
            .files
            .values()
            .filter(|f| f.log_date == day)
            .cloned()
            .collect()
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

    /// The ledger's entries for what `written` holds: this run's objects (each checked to
    /// have put exactly its records into the files) and the compacted days' objects
    /// re-pointed to their new files; and the load errors of the objects that failed.
    async fn objects_of(
        &self,
        written: &[WrittenFile],
    ) -> Result<(Vec<IngestedObject>, Vec<LoadError>)> {
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
        Ok((objects, failed))
    }

    /// Every application profile known after this run: `--profiles`, the ledger's, and those
    /// the run's events created.
    async fn profiles_found(&self) -> Result<Vec<ApplicationProfile>> {
        Ok(self
            .archive()?
            .application_profiles()
            .await
            .iter()
            .cloned()
            .collect())
    }

    /// The load errors after this run: earlier ones of objects this run did not list again,
    /// then this run's failures and changed objects.
    fn load_errors_after(
        &self,
        manifest: &Manifest,
        failed: &[LoadError],
        changed: &[LoadError],
    ) -> Vec<LoadError> {
        let mut errors: Vec<LoadError> = manifest
            .load_errors
            .iter()
            .filter(|e| !self.listed.contains(&located_identity(&e.log_file)))
            .chain(failed)
            .chain(changed)
            .cloned()
            .collect();
        errors.sort();
        errors.dedup();
        errors
    }

    /// The folders that could not be listed after this run: this run's, and earlier ones it
    /// did not list again in full. Only a run that lists a source whole (no
    /// `--from/--to/--account/--source-region`, no folder failing) clears the folders under it:
    /// finding some objects in a folder does not show that every one was listed.
    fn listing_errors_after(&self, manifest: &Manifest) -> Vec<LoadError> {
        let mut errors: Vec<LoadError> = manifest
            .listing_errors
            .iter()
            .filter(|e| {
                !self
                    .listed_whole
                    .iter()
                    .any(|root| under(&e.log_file, root))
            })
            .chain(&self.listing_errors)
            .cloned()
            .collect();
        errors.sort();
        errors.dedup();
        errors
    }

    /// The commit of this run over the table as last read: its files and the ledger entry.
    fn pending_commit(
        &self,
        written: &[WrittenFile],
        objects: &[IngestedObject],
        failed: &[LoadError],
        changed: &[LoadError],
        profiles: &[ApplicationProfile],
    ) -> PendingCommit {
        let mut ledger = Commit {
            format: manifest::FORMAT,
            committed_at: chrono::Utc::now().to_rfc3339(),
            writer: format!("trailmap {}", env!("CARGO_PKG_VERSION")),
            run: self.run_id.clone(),
            objects_file: None,
            objects: objects.to_vec(),
            load_errors: self.load_errors_after(&self.manifest, failed, changed),
            listing_errors: self.listing_errors_after(&self.manifest),
            profiles: {
                let mut known = self.manifest.profiles.clone();
                profiles.iter().cloned().for_each(|p| known.insert(p));
                known.iter().cloned().collect()
            },
            totals: None,
        };
        ledger.totals = Some(self.manifest.totals_after(&ledger));
        PendingCommit {
            added: written
                .iter()
                .map(|w| NewFile {
                    file: w.file.clone(),
                    stats: w.stats,
                })
                .collect(),
            removed: self.compact.values().flatten().cloned().collect(),
            changed_days: self
                .new_objects
                .iter()
                .map(|o| o.key().date)
                .chain(self.repaired.iter().copied())
                .map(|day| day.map(|d| d.format("%Y-%m-%d").to_string()))
                .collect(),
            ledger,
        }
    }
}

/// The sessions the STS events already in the warehouse issued (its rows, read with filters
/// pushed into the Parquet scan: only the STS rows' JSON texts are decoded).
async fn warehouse_sessions(
    warehouse: &Warehouse,
    manifest: &Manifest,
) -> Result<crate::decode::sessions::SessionMap> {
    if manifest.files.is_empty() {
        return Ok(Default::default());
    }
    let mut config = datafusion::prelude::SessionConfig::new();
    config.options_mut().execution.parquet.pushdown_filters = true;
    let ctx = SessionContext::new_with_config(config);
    ctx.register_object_store(warehouse.store_url().as_ref(), warehouse.store());
    let events = Arc::new(crate::table::warehouse::WarehouseEvents::new(
        warehouse.clone(),
        manifest,
        ScanFilter::default(),
    ));
    Ok(crate::table::sessions::sessions_in(&ctx, events).await?)
}

/// Writes one day's rows in `event_time` order (rows written earlier unresolved resolved
/// through `resolve`, if given); returns the files written.
async fn write_day(
    rows: DataFrame,
    on_cluster: bool,
    mut writer: DayWriter,
    resolve: Option<Arc<Learned>>,
) -> Result<Vec<WrittenFile>> {
    let mut rows = sort::by_event_time(rows, on_cluster).await?;
    while let Some(batch) = rows.next().await {
        let batch = batch?;
        match &resolve {
            Some(learned) => {
                writer
                    .write(&repair::resolve_written(&batch, learned)?)
                    .await?
            }
            None => writer.write(&batch).await?,
        }
    }
    writer.finish().await
}

/// Whether `folder` is `root` or inside it: an S3 prefix covers every key that starts with it;
/// a local root only what is under it (`logs/acct1` does not cover `logs/acct10`).
fn under(folder: &str, root: &str) -> bool {
    match root.starts_with("s3://") {
        true => folder.starts_with(root),
        false => {
            let root = root.trim_end_matches('/');
            folder == root
                || folder
                    .strip_prefix(root)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
    }
}

/// Where each source starts, as its objects' `log_file` does (`s3://bucket/prefix`, a local
/// path); a trail's, from its objects (the part of their names before `AWSLogs/`).
fn source_roots(sources: &[SourceSpec], objects: &[Arc<LogObject>]) -> Vec<String> {
    let mut roots = Vec::new();
    for source in sources {
        match source {
            SourceSpec::Local(path) => roots.push(path.display().to_string()),
            SourceSpec::S3 { bucket, prefix } => roots.push(format!("s3://{bucket}/{prefix}")),
            SourceSpec::Trail(_) => roots.extend(
                objects
                    .iter()
                    .filter_map(|o| o.context.log_file.split_once("AWSLogs/"))
                    .map(|(root, _)| format!("{root}AWSLogs/")),
            ),
        }
    }
    roots.sort();
    roots.dedup();
    roots
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
        identity: located_identity(&object.context.log_file),
    })
}

/// How `listed` differs from what was ingested under its identity, if it does: another size,
/// or (same location) another ETag or modification time.
fn changed(ingested: &IngestedObject, listed: &LogObject) -> Option<ChangedObject> {
    // An object known by where it is is at the same place whatever spelling named it.
    let same_place =
        ingested.log_file == listed.context.log_file || names_a_place(&ingested.identity());
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
