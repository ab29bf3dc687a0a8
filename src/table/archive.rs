//! The listed files of a session and what became of reading them.
//!
//! Every scan reads files through [`Archive::read`], which fetches the bytes, decodes them on the
//! rayon pool (keeping tokio's threads free for I/O) and records the outcome: rows for the
//! coverage counters, or a [`LoadError`] for `load_errors`, stderr and `--strict`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::NaiveDate;
use datafusion::arrow::array::{BooleanArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{filter_record_batch, take_record_batch};
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, UnboundedMemoryPool};
use futures::StreamExt;
use tokio::sync::OnceCell;

use crate::coverage::TrailChange;
use crate::decode::batch::DecodedBatch;
use crate::decode::gzip::DEFAULT_MAX_FILE_SIZE;
use crate::decode::profiles::ProfileMap;
use crate::decode::sessions::{SessionMap, SessionTags};
use crate::decode::{
    ArchiveFacts, DecodePlan, Decoded, Pending, archive_facts, decode_file, resolve_pending,
    resolve_session_tags,
};
use crate::error::{DecodeError, FileError, LoadError};
use crate::filter::ScanFilter;
use crate::pool::on_rayon;
use crate::source::{Fetched, Fetcher, Listing, LogObject, Skipped};
use crate::table::cache::{CacheUse, ColumnCache};

/// Files checked at once when `load_errors` is asked for files no query has read yet.
const CHECK_CONCURRENCY: usize = 8;

/// What reading a file gave.
#[derive(Debug, Clone)]
enum Outcome {
    Read(FileFacts),
    Failed(LoadError),
}

/// What the files read or searched so far say about the whole archive: application profiles,
/// sessions (the given ones to start with) and trail changes (by log file, so that a file read
/// twice counts once).
#[derive(Debug, Default)]
struct Harvest {
    files: BTreeSet<String>,
    profiles: ProfileMap,
    /// The files whose sessions were collected (a scan collects them only when it needs
    /// them: parsing every STS event costs a query that does not).
    session_files: BTreeSet<String>,
    sessions: SessionMap,
    trail_changes: BTreeMap<String, Vec<TrailChange>>,
}

impl Harvest {
    /// Takes in what one file says.
    fn add(&mut self, log_file: &str, facts: ArchiveFacts) {
        let ArchiveFacts {
            profiles,
            trail_changes,
            sessions,
        } = facts;
        self.files.insert(log_file.to_owned());
        self.profiles.extend(profiles);
        if let Some(sessions) = sessions {
            self.session_files.insert(log_file.to_owned());
            self.sessions.extend(sessions);
        }
        if !trail_changes.is_empty() {
            self.trail_changes
                .insert(log_file.to_owned(), trail_changes);
        }
    }
}

/// What a search looks for in the files the scans have not told it about.
#[derive(Debug, Clone, Copy)]
enum Sought {
    /// Application profiles and trail changes (every scan collects them).
    Facts,
    /// Sessions (a scan collects them only when its plan needs them).
    Sessions,
}

/// A batch of what reading a file for a scan gave.
#[derive(Debug)]
pub enum Part {
    /// Rows ready to use.
    Ready(RecordBatch),
    /// Rows some of which call application profiles the plan does not know yet, or whose
    /// session tags wait for every session: [`Archive::resolve`] them once the other files have
    /// said which profiles they create and which sessions they issue.
    Pending(PendingBatch),
}

/// A batch with rows waiting for application profiles or sessions.
#[derive(Debug)]
pub struct PendingBatch {
    batch: RecordBatch,
    pending: Vec<Pending>,
    /// Its `session_tags` holds access keys to resolve.
    sessions: bool,
    plan: Arc<DecodePlan>,
    /// The delivery day (from its key) of the file the rows come from.
    day: Option<NaiveDate>,
}

impl PendingBatch {
    /// Memory the batch and its groups of waiting rows hold.
    pub fn size(&self) -> usize {
        self.batch.get_array_memory_size() + self.pending.iter().map(Pending::size).sum::<usize>()
    }

    /// `batch` with no row waiting, for tests of holding batches.
    #[cfg(test)]
    pub(crate) fn of(batch: RecordBatch) -> Self {
        PendingBatch {
            batch,
            pending: Vec::new(),
            sessions: false,
            plan: Arc::new(DecodePlan::new(
                Vec::new(),
                ScanFilter::default(),
                Arc::default(),
            )),
            day: None,
        }
    }
}

/// What a file read in full showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFacts {
    /// Records in the file.
    pub records: usize,
    /// Bytes of JSON decoded.
    pub json_bytes: u64,
    /// Records whose `eventTime` is missing or does not parse.
    pub bad_times: usize,
    /// Delivery time (from the key) minus the oldest event, in seconds.
    pub lag_seconds: Option<i64>,
    /// SHA-256 of the JSON text decoded, when the session hashes it ([`ReadOptions::hash_text`]).
    pub sha256: Option<[u8; 32]>,
}

/// The [`FileFacts::sha256`] of a file read twice (by scans or profile searches) with different
/// bytes: no SHA-256 a digest names is all zeros.
pub const CHANGED_WHILE_READ: [u8; 32] = [0; 32];

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
    pub json_bytes: u64,
    /// Records whose `eventTime` is missing or does not parse (kept without a time, or left
    /// out by `--from/--to`, which they cannot be placed in).
    pub bad_event_times: usize,
    /// The largest delivery lag seen: a file's delivery time (from its key) minus its oldest
    /// event, in seconds.
    pub max_delivery_lag_seconds: Option<i64>,
    /// The delivery margin pruning kept, in seconds.
    pub delivery_margin_seconds: i64,
    /// Objects skipped while listing.
    pub skipped: Skipped,
}

impl Coverage {
    /// Counts one file read in full.
    pub fn count_read(&mut self, facts: &FileFacts) {
        self.files_read += 1;
        self.records += facts.records;
        self.json_bytes += facts.json_bytes;
        self.bad_event_times += facts.bad_times;
        self.max_delivery_lag_seconds = self.max_delivery_lag_seconds.max(facts.lag_seconds);
    }

    /// Whether the largest lag seen is more than half the margin: later files may have been
    /// pruned, so the margin should be widened.
    pub fn lag_exceeds_half_margin(&self) -> bool {
        self.max_delivery_lag_seconds
            .is_some_and(|lag| lag * 2 > self.delivery_margin_seconds)
    }

    /// One line on delivery lag, with a warning when it comes close to the margin.
    pub fn delivery_note(&self) -> String {
        let margin = human_duration(self.delivery_margin_seconds);
        let mut note = match self.max_delivery_lag_seconds {
            Some(lag) => format!(
                "delivery margin {margin}; largest delivery lag seen {}",
                human_duration(lag)
            ),
            None => format!("delivery margin {margin}; no delivery lag measured"),
        };
        if self.lag_exceeds_half_margin() {
            note.push_str(
                " (WARNING: more than half the margin; files delivered later than the margin may have been pruned by time: widen --delivery-margin)",
            );
        }
        note
    }
}

/// A random number (from the standard library's randomly keyed hasher).
fn random_token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Seconds as `3d 4h`, `5h 2m` or `12m 5s`.
pub fn human_duration(seconds: i64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
        seconds % 60,
    );
    match (d, h, m) {
        (0, 0, m) => format!("{m}m {s}s"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
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
    fn add(&self, bytes: u64, records: usize, failed: bool) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
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

/// How to read an archive: which events, what is known beyond the logs, and the largest file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// `--from/--to/--account/--source-region` and the delivery margin.
    pub filter: ScanFilter,
    /// Application inference profiles known from `--profiles` (the archive's own
    /// `CreateInferenceProfile` events are added when a call needs them).
    pub profiles: ProfileMap,
    /// Sessions known beyond the files read (a warehouse's, for ingest); the archive's own STS
    /// events are added when a call needs them.
    pub sessions: SessionMap,
    /// `--max-file-size`: a file whose JSON text is larger is a load error, not read.
    pub max_file_size: u64,
    /// `--memory-limit`: the size of DataFusion's memory pool (`None`: unbounded).
    pub memory_limit: Option<u64>,
    /// `--public-keys`: CloudTrail's public keys for the `integrity` table and `--verify`
    /// (else asked of CloudTrail when digests are read from S3).
    pub public_keys: Option<std::path::PathBuf>,
    /// `--signatures` / `--signatures-from`: signatures for a local copy's digests.
    pub signatures: Option<crate::verify::signatures::SignatureSource>,
    /// Hash each file's JSON text as it is decoded (SHA-256, [`FileFacts::sha256`]), so that
    /// `--verify` judges the very bytes that were read, not a second download of them.
    pub hash_text: bool,
    /// Keep decoded columns between statements, up to this many bytes (`trailmap shell`'s
    /// `--cache-size`); `None`: decode for each statement.
    pub column_cache: Option<u64>,
    /// `--cluster df://HOST:PORT`: statements run on this Ballista cluster (`None`: here).
    pub cluster: Option<String>,
    /// `--trail`, `--event-selectors`, `--assume-recorded`: what the trail records.
    pub coverage: crate::coverage::known::CoverageOptions,
}

impl From<&ReadOptions> for crate::verify::VerifyOptions {
    /// Verification of what a session reads: its filter, keys and file-size cap, through the
    /// delivery margin after `--to` (the files it reads).
    fn from(options: &ReadOptions) -> Self {
        crate::verify::VerifyOptions {
            filter: options.filter.clone(),
            public_keys: options.public_keys.clone(),
            max_file_size: options.max_file_size,
            signatures: options.signatures.clone(),
            through_delivery_margin: true,
        }
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            filter: ScanFilter::default(),
            profiles: ProfileMap::default(),
            sessions: SessionMap::default(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            memory_limit: None,
            public_keys: None,
            signatures: None,
            hash_text: false,
            column_cache: None,
            cluster: None,
            coverage: Default::default(),
        }
    }
}

/// The files of a session, shared by every table that reads them.
#[derive(Debug)]
pub struct Archive {
    objects: Vec<Arc<LogObject>>,
    filter: ScanFilter,
    max_file_size: u64,
    /// Application profiles from `--profiles`.
    given_profiles: Arc<ProfileMap>,
    /// Those plus the archive's own `CreateInferenceProfile` events, found on first need.
    all_profiles: OnceCell<Arc<ProfileMap>>,
    /// Sessions known beyond the files (a warehouse's, for ingest).
    given_sessions: Arc<SessionMap>,
    /// Those plus every session the files issue, found on first need.
    all_sessions: OnceCell<Arc<SessionMap>>,
    /// The session tags of `all_sessions`.
    all_session_tags: OnceCell<Arc<SessionTags>>,
    /// Every trail change, when told (by a cluster's search).
    known_trail_changes: std::sync::OnceLock<Vec<TrailChange>>,
    /// The files decoded so far and the profiles they create: a later search for profiles
    /// need not read them again.
    harvest: Mutex<Harvest>,
    /// Held by the search for the profiles a batch calls, one at a time.
    search_for_calls: tokio::sync::Mutex<()>,
    /// Whether a batch calling a profile not found in its account and Region is resolved
    /// with the profiles known so far instead of searching the whole archive (see
    /// [`Archive::resolve_without_searching`]).
    without_searching: AtomicBool,
    /// Whether a batch with rows waiting for a profile is held whole, rather than split into
    /// its ready rows (passed on at once) and its waiting ones (see
    /// [`Archive::hold_whole_batches`]).
    hold_whole: AtomicBool,
    /// Profiles (by ARN) that were not known when rows calling them were resolved without
    /// searching, with the delivery days of the files of those rows.
    resolved_unknown: Mutex<BTreeMap<String, BTreeSet<Option<NaiveDate>>>>,
    /// Likewise the temporary access keys whose sessions were not known.
    keys_resolved_unknown: Mutex<BTreeMap<String, BTreeSet<Option<NaiveDate>>>>,
    skipped: Skipped,
    listing_errors: Vec<LoadError>,
    fetcher: Fetcher,
    outcomes: Mutex<BTreeMap<String, Outcome>>,
    progress: Progress,
    cache: Option<ColumnCache>,
    /// Identifies this listing when a scan of it is sent to other processes (a cluster's
    /// executors keep one [`Archive`] per token, so their tasks share what they learn).
    token: u64,
    /// Whether a file that cannot be read fails the scan instead of being recorded: an
    /// executor of a cluster has no one to tell its load errors to, so it fails closed.
    fail_on_load_error: bool,
    /// [`ReadOptions::hash_text`].
    hash_text: bool,
    /// With `hash_text`: the SHA-256 of every file's text as read so far, by `log_file`
    /// ([`Archive::note_text_hash`]).
    text_hashes: Mutex<HashMap<String, [u8; 32]>>,
}

impl Archive {
    /// An archive of the listed files; the options' filter is the exact record cut of the
    /// command line.
    pub fn new(listing: Listing, options: ReadOptions) -> Self {
        Archive {
            objects: listing.objects,
            filter: options.filter,
            max_file_size: options.max_file_size,
            given_profiles: Arc::new(options.profiles),
            all_profiles: OnceCell::new(),
            given_sessions: Arc::new(options.sessions.clone()),
            all_sessions: OnceCell::new(),
            all_session_tags: OnceCell::new(),
            known_trail_changes: std::sync::OnceLock::new(),
            harvest: Mutex::new(Harvest {
                sessions: options.sessions.clone(),
                ..Harvest::default()
            }),
            search_for_calls: tokio::sync::Mutex::new(()),
            without_searching: AtomicBool::new(false),
            hold_whole: AtomicBool::new(false),
            resolved_unknown: Mutex::new(BTreeMap::new()),
            keys_resolved_unknown: Mutex::new(BTreeMap::new()),
            skipped: listing.skipped,
            listing_errors: listing.errors,
            fetcher: listing.fetcher,
            outcomes: Mutex::new(BTreeMap::new()),
            progress: Progress::default(),
            cache: options.column_cache.map(ColumnCache::new),
            token: random_token(),
            fail_on_load_error: false,
            hash_text: options.hash_text,
            text_hashes: Mutex::new(HashMap::new()),
        }
    }

    /// The archive of `objects` as another process listed it (identified by `token`), read
    /// through `fetcher`. A file that cannot be read fails the scan that reads it.
    pub fn listed_elsewhere(
        objects: Vec<Arc<LogObject>>,
        options: ReadOptions,
        fetcher: Fetcher,
        token: u64,
    ) -> Self {
        let mut listing = Listing::default();
        listing.objects = objects;
        listing.fetcher = fetcher;
        Archive {
            token,
            fail_on_load_error: true,
            ..Archive::new(listing, options)
        }
    }

    /// The same files with no record cut and a token of their own, read as another process
    /// would (to search whole files for the application profiles they create, whatever the
    /// command line keeps).
    pub fn uncut(&self) -> Archive {
        let options = ReadOptions {
            profiles: (*self.given_profiles).clone(),
            sessions: (*self.given_sessions).clone(),
            max_file_size: self.max_file_size,
            ..ReadOptions::default()
        };
        Archive::listed_elsewhere(
            self.objects.clone(),
            options,
            self.fetcher.clone(),
            random_token(),
        )
    }

    /// Every application profile, if already known (searched for, or told with
    /// [`Archive::know_profiles`]).
    pub fn known_profiles(&self) -> Option<Arc<ProfileMap>> {
        self.all_profiles.get().cloned()
    }

    /// Tells the archive the application profiles its files create, found elsewhere (by a
    /// cluster): with `--profiles` they are every profile, and no file is searched for more.
    pub fn know_profiles(&self, found: ProfileMap) {
        let mut all = (*self.given_profiles).clone();
        all.extend(found);
        // Already known: the first answer stands (both come from the same files).
        let _ = self.all_profiles.set(Arc::new(all));
    }

    /// What identifies this listing across processes.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// The largest JSON text a file may hold (`--max-file-size`).
    pub fn max_file_size(&self) -> u64 {
        self.max_file_size
    }

    /// The application profiles given with `--profiles`.
    pub fn given_profiles(&self) -> &ProfileMap {
        &self.given_profiles
    }

    /// What reads the files' bytes.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The listed files.
    pub fn objects(&self) -> &[Arc<LogObject>] {
        &self.objects
    }

    /// Whether `object`'s download started while listing (reading it first saves waiting).
    pub fn started_early(&self, object: &LogObject) -> bool {
        self.fetcher.started_early(object)
    }

    /// Whether decoded columns are kept between statements (scans then leave row filters to
    /// DataFusion, so that what they decode is the whole file).
    pub fn caches(&self) -> bool {
        self.cache.is_some()
    }

    /// What the column cache holds, if there is one.
    pub fn cache_usage(&self) -> Option<CacheUse> {
        self.cache.as_ref().map(ColumnCache::usage)
    }

    /// The command-line filter applied to every record.
    pub fn filter(&self) -> &ScanFilter {
        &self.filter
    }

    /// A decode plan for `columns`, with the profiles known without reading the archive.
    pub fn decode_plan(&self, columns: Vec<crate::schema::Column>) -> DecodePlan {
        DecodePlan::new(
            columns,
            self.filter.clone(),
            Arc::clone(&self.given_profiles),
        )
        .with_max_file_size(self.max_file_size)
        .with_text_hash(self.hash_text)
    }

    /// A pending batch with its rows' application profiles resolved: from every profile of the
    /// archive once that is known, or else from `--profiles` and the files read so far when
    /// they know every profile the batch calls (an ARN is never reused, so more files could not
    /// change those). Otherwise the files of the profiles' accounts and Regions are searched,
    /// then (if that is not enough) every file; with [`Archive::resolve_without_searching`]
    /// nothing is searched.
    /// Session tags are resolved with every session of the archive ([`Archive::session_tags`]).
    pub async fn resolve(&self, pending: PendingBatch) -> Result<RecordBatch, DecodeError> {
        let mut batch = pending.batch.clone();
        if !pending.pending.is_empty() {
            let profiles = match self.all_profiles.get() {
                Some(all) => Arc::clone(all),
                None => self.profiles_for_calls(&pending).await,
            };
            batch = resolve_pending(&batch, pending.plan.columns(), &pending.pending, &profiles)?;
        }
        if pending.sessions {
            batch = match self.without_searching.load(Ordering::Relaxed) {
                true => self.resolve_sessions_known_so_far(&batch, &pending)?,
                false => {
                    let sessions = self.session_tags().await;
                    resolve_session_tags(&batch, pending.plan.columns(), |key| {
                        sessions.get(key).map(str::to_owned)
                    })?
                }
            };
        }
        Ok(batch)
    }

    /// `batch`'s session tags from the sessions given and those of the files read so far (see
    /// [`Archive::resolve_without_searching`]); the keys not known are remembered with the
    /// delivery day of the batch's file ([`Archive::resolved_too_early`]).
    fn resolve_sessions_known_so_far(
        &self,
        batch: &RecordBatch,
        pending: &PendingBatch,
    ) -> Result<RecordBatch, DecodeError> {
        let harvest = self.harvest.lock().unwrap_or_else(|p| p.into_inner());
        let mut unknown = Vec::new();
        let resolved = resolve_session_tags(batch, pending.plan.columns(), |key| {
            // The harvest starts with the given sessions: chains may cross the two.
            let tags = harvest.sessions.session_tags(key);
            if tags.is_none() {
                unknown.push(key.to_owned());
            }
            tags
        })?;
        drop(harvest);
        let mut remembered = self
            .keys_resolved_unknown
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for key in unknown {
            remembered.entry(key).or_default().insert(pending.day);
        }
        Ok(resolved)
    }

    /// Whether `pending` waits for every session of the archive.
    pub fn waits_for_sessions(pending: &PendingBatch) -> bool {
        pending.sessions
    }

    /// Every session: those given (a warehouse's), with which the harvest starts, and those the
    /// STS events of every listed file issue (found on first need: the files the scans decoded
    /// so far tell theirs, the others are searched; files that cannot be read are left to the
    /// scans, which report them).
    pub async fn sessions(&self) -> Arc<SessionMap> {
        let sessions = self
            .all_sessions
            .get_or_init(|| async {
                self.search_unread(Sought::Sessions).await;
                let harvest = self.harvest.lock().unwrap_or_else(|p| p.into_inner());
                tracing::info!(sessions = harvest.sessions.len(), "sessions resolved");
                Arc::new(harvest.sessions.clone())
            })
            .await;
        Arc::clone(sessions)
    }

    /// The session tags of every session ([`Archive::sessions`]).
    pub async fn session_tags(&self) -> Arc<SessionTags> {
        let tags = self
            .all_session_tags
            .get_or_init(|| async { Arc::new(SessionTags::of(&*self.sessions().await)) })
            .await;
        Arc::clone(tags)
    }

    /// The profiles to resolve `pending` with, every profile of the archive not being known.
    async fn profiles_for_calls(&self, pending: &PendingBatch) -> Arc<ProfileMap> {
        let (known, complete) = self.known_calls(pending);
        if complete {
            return Arc::new(known);
        }
        if self.without_searching.load(Ordering::Relaxed) {
            let mut unknown = self
                .resolved_unknown
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for call in pending
                .pending
                .iter()
                .filter(|c| known.get(&c.arn).is_none())
            {
                unknown
                    .entry(call.arn.clone())
                    .or_default()
                    .insert(pending.day);
            }
            return Arc::new(known);
        }
        match self.search_for_profiles_called(pending).await {
            Some(found) => Arc::new(found),
            None => self.application_profiles().await,
        }
    }

    /// From now on, a batch calling a profile that the files read so far do not create (or
    /// using a key whose session they do not issue) is resolved with what is known (those rows
    /// stay unresolved) instead of searching other files, and the call is remembered (by profile and delivery day, so what is kept does
    /// not grow with the calls): for a reader that reads every file anyway and can redo the
    /// days [`Archive::resolved_too_early`] names (ingest). Searching would cost a
    /// second read of most files whenever calls go through profiles made before the archive
    /// starts, which no file creates.
    pub fn resolve_without_searching(&self) {
        self.without_searching.store(true, Ordering::Relaxed);
    }

    /// From now on, a batch with rows waiting for a profile is held whole until the partition
    /// ends, instead of having its ready rows copied out and passed on at once: for a reader
    /// that keeps every row of a day until the day is read (ingest), to which the early rows
    /// save no memory while the copy costs CPU (46 columns of every such batch).
    pub fn hold_whole_batches(&self) {
        self.hold_whole.store(true, Ordering::Relaxed);
    }

    /// The delivery days of files whose rows were resolved without a profile that `all`
    /// (every profile of the archive) holds, or without the session of a key whose tags
    /// `sessions` (those of every session) knows: those days must be read again.
    pub fn resolved_too_early(
        &self,
        all: &ProfileMap,
        sessions: &SessionTags,
    ) -> BTreeSet<Option<NaiveDate>> {
        let profiles = self
            .resolved_unknown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(arn, _)| all.get(arn).is_some())
            .flat_map(|(_, days)| days.iter().copied())
            .collect::<BTreeSet<_>>();
        let keys = self
            .keys_resolved_unknown
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(key, _)| sessions.get(key).is_some())
            .flat_map(|(_, days)| days.iter().copied())
            .collect::<BTreeSet<_>>();
        profiles.union(&keys).copied().collect()
    }

    /// The profiles `pending` calls that `--profiles` or the files read (or searched) so far
    /// know (`--profiles` first, as in [`Archive::application_profiles`]), and whether that is
    /// every profile it calls.
    fn known_calls(&self, pending: &PendingBatch) -> (ProfileMap, bool) {
        let harvest = self.harvest.lock().unwrap_or_else(|p| p.into_inner());
        let mut known = ProfileMap::default();
        let mut complete = true;
        for call in &pending.pending {
            match self
                .given_profiles
                .get(&call.arn)
                .or_else(|| harvest.profiles.get(&call.arn))
            {
                Some(profile) => known.insert(profile.clone()),
                None => complete = false,
            }
        }
        (known, complete)
    }

    /// Searches the files not read yet of the accounts and Regions of the profiles `pending`
    /// calls (a profile's `CreateInferenceProfile` event is logged where its ARN says), a few
    /// at a time in listing order (oldest first within a Region), until every profile it calls
    /// is known. `None` when some are not found there (made before the archive starts, or logged
    /// elsewhere): only a search of every file can tell.
    async fn search_for_profiles_called(&self, pending: &PendingBatch) -> Option<ProfileMap> {
        let _one_search_at_a_time = self.search_for_calls.lock().await;
        let homes: BTreeSet<(&str, &str)> = pending
            .pending
            .iter()
            .filter_map(|call| profile_home(&call.arn))
            .collect();
        let candidates = self.unsearched(Sought::Facts, |object| {
            let key = object.key();
            let home = key.account.as_deref().zip(key.region.as_deref());
            home.is_some_and(|home| homes.contains(&home))
        });
        // Another batch's search may have found them while this one waited for the lock.
        let mut known = self.known_calls(pending);
        for round in candidates.chunks(2 * CHECK_CONCURRENCY) {
            if known.1 {
                break;
            }
            self.search(round.to_vec()).await;
            known = self.known_calls(pending);
        }
        known.1.then_some(known.0)
    }

    /// The listed files that `wanted` keeps and that no scan has read (for `sought`) and no
    /// search looked through yet.
    fn unsearched(
        &self,
        sought: Sought,
        wanted: impl Fn(&LogObject) -> bool,
    ) -> Vec<Arc<LogObject>> {
        let harvest = self.harvest.lock().unwrap_or_else(|p| p.into_inner());
        let done = match sought {
            Sought::Facts => &harvest.files,
            Sought::Sessions => &harvest.session_files,
        };
        self.objects
            .iter()
            .filter(|o| !done.contains(&o.context.log_file) && wanted(o))
            .cloned()
            .collect()
    }

    /// Looks `objects` through a few at a time, and harvests the profiles they create and
    /// their trail changes (a file that cannot be read is harvested as saying nothing: the
    /// scans report it).
    async fn search(&self, objects: Vec<Arc<LogObject>>) {
        futures::stream::iter(objects)
            .map(|object| async move {
                let facts = self.facts_in(&object).await;
                let mut harvest = self.harvest.lock().unwrap_or_else(|p| p.into_inner());
                harvest.add(&object.context.log_file, facts);
            })
            .buffer_unordered(CHECK_CONCURRENCY)
            .collect::<()>()
            .await
    }

    /// Every application profile: `--profiles` and the `CreateInferenceProfile` events of
    /// every listed file (found on first need: the files the scans decoded so far tell theirs,
    /// the others are searched; files that cannot be read are left to the scans, which report
    /// them).
    pub async fn application_profiles(&self) -> Arc<ProfileMap> {
        let profiles = self
            .all_profiles
            .get_or_init(|| async {
                self.search_unread(Sought::Facts).await;
                let harvested = self
                    .harvest
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .profiles
                    .clone();
                let mut all = (*self.given_profiles).clone();
                all.extend(harvested);
                tracing::info!(profiles = all.len(), "application profiles resolved");
                Arc::new(all)
            })
            .await;
        Arc::clone(profiles)
    }

    /// Searches every listed file no scan has read (for `sought`) and no search looked through
    /// yet.
    async fn search_unread(&self, sought: Sought) {
        let unsearched = self.unsearched(sought, |_| true);
        tracing::debug!(
            files = unsearched.len(),
            "searching files for application profiles, sessions and trail changes"
        );
        self.search(unsearched).await;
    }

    /// Every trail change of the listed files (those the scans decoded tell theirs, the others
    /// are searched; files that cannot be read are left to the scans, which report them), in
    /// time order.
    pub async fn trail_changes(&self) -> Vec<TrailChange> {
        if let Some(known) = self.known_trail_changes.get() {
            return known.clone();
        }
        self.search_unread(Sought::Facts).await;
        let harvest = self.harvest.lock().unwrap_or_else(|p| p.into_inner());
        let mut changes: Vec<TrailChange> =
            harvest.trail_changes.values().flatten().cloned().collect();
        changes.sort_by_key(|c| c.time);
        changes
    }

    /// Tells the archive its trail changes, found elsewhere (by a cluster).
    pub fn know_trail_changes(&self, changes: Vec<TrailChange>) {
        let _ = self.known_trail_changes.set(changes);
    }

    /// What one file says about the archive (nothing when it cannot be read, which is recorded
    /// as its load error: calls through a profile it would have created stay unresolved, and
    /// the audit reports them as unverifiable).
    async fn facts_in(&self, object: &Arc<LogObject>) -> ArchiveFacts {
        let searched = object.context.log_file.clone();
        let object = Arc::clone(object);
        let found = match self.fetcher.fetch(&object).await {
            Ok(fetched) => {
                let log_file = object.context.log_file.clone();
                let max_file_size = self.max_file_size;
                let hash = self.hash_text;
                let read = on_rayon(log_file.clone(), move || {
                    archive_facts(
                        fetched.open()?,
                        object.named_gzip(),
                        max_file_size,
                        &object.context.log_file,
                        hash,
                    )
                    .map_err(|e| FileError::decode(&object.context.log_file, e))
                })
                .await;
                read.map(|(facts, sha256)| {
                    self.note_text_hash(&log_file, sha256);
                    facts
                })
            }
            Err(e) => Err(e),
        };
        // A file that cannot be read is a load error like any other (`--strict`, coverage): what
        // it would have said is missing.
        found.unwrap_or_else(|e| {
            self.record_failure(searched, &e);
            ArchiveFacts::default()
        })
    }

    /// Notes the SHA-256 of one read of a file's text (a scan's or a profile search's), and
    /// gives the file's hash so far: [`CHANGED_WHILE_READ`] once two reads differ, for good
    /// (whatever reads or failures come between).
    fn note_text_hash(&self, log_file: &str, sha256: Option<[u8; 32]>) -> Option<[u8; 32]> {
        let sha256 = sha256?;
        let mut hashes = self
            .text_hashes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let noted = hashes.entry(log_file.to_owned()).or_insert(sha256);
        if *noted != sha256 {
            *noted = CHANGED_WHILE_READ;
        }
        Some(*noted)
    }

    fn outcomes(&self) -> MutexGuard<'_, BTreeMap<String, Outcome>> {
        // A poisoned lock only means another reader panicked; the map itself stays valid.
        self.outcomes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Reads one file with `plan` for a scan: its batches, none when it cannot be read (the
    /// failure is recorded). Rows calling application profiles the plan does not know make
    /// [`Part::Pending`] batches when `may_defer`; otherwise they are resolved at once with
    /// every profile of the archive. The rows being decoded count against `pool`; a refusal
    /// of the pool is the one error (it fails the query, not the file).
    pub async fn read(
        &self,
        object: Arc<LogObject>,
        plan: Arc<DecodePlan>,
        may_defer: bool,
        pool: Arc<dyn MemoryPool>,
    ) -> Result<Vec<Part>, DataFusionError> {
        let log_file = object.context.log_file.clone();
        let cache = self
            .cache
            .as_ref()
            .filter(|_| plan.record_filter().is_empty());
        if let Some(batches) = cache.and_then(|c| c.get(&log_file, plan.columns(), plan.schema())) {
            return Ok(batches.into_iter().map(Part::Ready).collect());
        }
        // A cached file must be whole: its rows are resolved now rather than deferred.
        let may_defer = may_defer && cache.is_none();
        let delivered = object.key().delivered;
        let decoded = match self.fetcher.fetch(&object).await {
            Ok(fetched) => self.decode(fetched, Arc::clone(&object), plan, pool).await,
            Err(error) => Err(error),
        };
        let (decoded, plan) = match decoded {
            Ok(decoded) => decoded,
            Err(error @ FileError::OutOfMemory { .. }) => {
                return Err(DataFusionError::ResourcesExhausted(error.to_string()));
            }
            Err(error) => {
                self.record_failure(log_file.clone(), &error);
                if self.fail_on_load_error {
                    let error = LoadError::of_file(log_file, &error);
                    return Err(DataFusionError::Execution(format!(
                        "could not read {error} (on a cluster an unreadable file fails the query: run without --cluster to list it in load_errors)"
                    )));
                }
                return Ok(Vec::new());
            }
        };
        self.record_read(log_file.clone(), delivered, &decoded, object.size);
        let mut parts = Vec::with_capacity(decoded.batches.len());
        for DecodedBatch {
            batch,
            pending,
            sessions,
        } in decoded.batches
        {
            if pending.is_empty() && !sessions {
                parts.push(Part::Ready(batch));
                continue;
            }
            let held = |batch, pending| PendingBatch {
                batch,
                pending,
                sessions,
                plan: Arc::clone(&plan),
                day: object.key().date,
            };
            if may_defer {
                // A batch whose session tags wait is held whole: most of its rows use
                // temporary credentials.
                if self.hold_whole.load(Ordering::Relaxed) || sessions {
                    parts.push(Part::Pending(held(batch, pending)));
                } else {
                    // Only the waiting rows are held; the others go on now.
                    let (ready, waiting, pending) = split_waiting(&batch, pending)?;
                    parts.extend(ready.map(Part::Ready));
                    parts.push(Part::Pending(held(waiting, pending)));
                }
                continue;
            }
            // Resolved now, whole: nothing is held, so nothing is worth copying.
            match self.resolve(held(batch, pending)).await {
                Ok(batch) => parts.push(Part::Ready(batch)),
                Err(e) => {
                    self.record_failure(log_file.clone(), &FileError::decode(&log_file, e));
                    return Ok(Vec::new());
                }
            }
        }
        if let Some(cache) = cache {
            let batches: Vec<RecordBatch> = parts
                .iter()
                .filter_map(|part| match part {
                    Part::Ready(batch) => Some(batch.clone()),
                    Part::Pending(_) => None,
                })
                .collect();
            cache.put(&log_file, plan.columns(), &batches);
        }
        Ok(parts)
    }

    /// Records a file that could not be read.
    fn record_failure(&self, log_file: String, file_error: &FileError) {
        // A file that cannot be read creates no profile either.
        self.harvest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .files
            .insert(log_file.clone());
        self.harvest
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .session_files
            .insert(log_file.clone());
        self.progress.add(0, 0, true);
        let error = LoadError::of_file(log_file.clone(), file_error);
        let first_time = !matches!(self.outcomes().get(&log_file), Some(Outcome::Failed(_)));
        if first_time {
            tracing::warn!("could not read {error}");
        }
        self.outcomes().insert(log_file, Outcome::Failed(error));
    }

    /// Records a file read in full.
    fn record_read(
        &self,
        log_file: String,
        delivered: Option<chrono::DateTime<chrono::Utc>>,
        decoded: &Decoded,
        size: u64,
    ) {
        let lag_seconds = delivered
            .zip(decoded.oldest_event)
            .map(|(d, oldest)| (d.timestamp_micros() - oldest) / 1_000_000);
        let facts = FileFacts {
            records: decoded.records,
            json_bytes: decoded.json_bytes,
            bad_times: decoded.bad_times,
            lag_seconds,
            sha256: self.note_text_hash(&log_file, decoded.sha256),
        };
        let read_before = self.outcomes().insert(log_file, Outcome::Read(facts));
        // A file read again (by another statement, or redone by ingest) counts once.
        if !matches!(read_before, Some(Outcome::Read(_))) {
            self.progress.add(size, decoded.records, false);
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
        let plan = Arc::new(self.decode_plan(Vec::new()));
        // No column is built: nothing to count against a memory pool.
        let pool: Arc<dyn MemoryPool> = Arc::new(UnboundedMemoryPool::default());
        futures::stream::iter(unread)
            .map(|object| self.read(object, Arc::clone(&plan), false, Arc::clone(&pool)))
            .buffer_unordered(CHECK_CONCURRENCY)
            .for_each(|_| async {})
            .await;
    }

    /// Every file that could not be read so far, sorted by file.
    pub fn load_errors(&self) -> Vec<LoadError> {
        let mut errors = self.listing_errors.clone();
        errors.extend(self.outcomes().values().filter_map(|o| match o {
            Outcome::Failed(e) => Some(e.clone()),
            Outcome::Read(_) => None,
        }));
        errors.sort();
        errors
    }

    /// What reading each file read so far gave, by `log_file`: its facts, or why it could not
    /// be read.
    pub fn file_outcomes(&self) -> BTreeMap<String, Result<FileFacts, LoadError>> {
        let hashes = self
            .text_hashes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.outcomes()
            .iter()
            .map(|(file, outcome)| {
                let outcome = match outcome {
                    // The hash of every read of the file so far, a profile search's included.
                    Outcome::Read(facts) => Ok(FileFacts {
                        sha256: facts.sha256.and(hashes.get(file).copied()),
                        ..*facts
                    }),
                    Outcome::Failed(error) => Err(error.clone()),
                };
                (file.clone(), outcome)
            })
            .collect()
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
            delivery_margin_seconds: self.filter.delivery_margin.num_seconds(),
            skipped: self.skipped,
            ..Coverage::default()
        };
        for outcome in self.outcomes().values() {
            match outcome {
                Outcome::Read(facts) => coverage.count_read(facts),
                Outcome::Failed(_) => coverage.files_failed += 1,
            }
        }
        coverage
    }
}

impl Archive {
    /// Decodes a fetched file (with every application profile once they are known) and
    /// harvests the profiles it creates. Returns the plan it used.
    async fn decode(
        &self,
        fetched: Fetched,
        object: Arc<LogObject>,
        plan: Arc<DecodePlan>,
        pool: Arc<dyn MemoryPool>,
    ) -> Result<(Decoded, Arc<DecodePlan>), FileError> {
        let plan = match self.all_profiles.get() {
            Some(all) if !plan.has_all_profiles() => {
                Arc::new(plan.with_all_profiles(Arc::clone(all)))
            }
            _ => plan,
        };
        let plan = match self.all_session_tags.get() {
            Some(all) if plan.waits_for_sessions() => {
                Arc::new(plan.with_all_sessions(Arc::clone(all)))
            }
            _ => plan,
        };
        let mut decoded =
            decode_on_rayon(fetched, Arc::clone(&object), Arc::clone(&plan), pool).await?;
        let mut harvest = self.harvest.lock().unwrap_or_else(|p| p.into_inner());
        harvest.add(
            &object.context.log_file,
            ArchiveFacts {
                profiles: std::mem::take(&mut decoded.created_profiles),
                trail_changes: std::mem::take(&mut decoded.trail_changes),
                sessions: std::mem::take(&mut decoded.issued_sessions),
            },
        );
        Ok((decoded, plan))
    }
}

/// The account and Region whose logs hold the `CreateInferenceProfile` event of the
/// application profile `arn` (`arn:PARTITION:bedrock:REGION:ACCOUNT:application-inference-profile/ID`).
fn profile_home(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    let region = parts.nth(3)?;
    let account = parts.next()?;
    Some((account, region))
}

/// `batch` split into the rows that are ready (none when every row waits) and a batch of only
/// the rows `pending` waits for, with their groups renumbered to it. Only the waiting rows are
/// held until the application profiles are known (most rows of a file that calls a profile are
/// ready at once), and both parts are copied into buffers of their own size: a batch that is
/// held for a while should not keep the builders' spare room.
fn split_waiting(
    batch: &RecordBatch,
    mut pending: Vec<Pending>,
) -> Result<(Option<RecordBatch>, RecordBatch, Vec<Pending>), DataFusionError> {
    let mut waiting: Vec<u32> = pending
        .iter()
        .flat_map(|p| p.rows.iter().copied())
        .collect();
    waiting.sort_unstable();
    waiting.dedup();
    for group in &mut pending {
        for row in &mut group.rows {
            // Every row of a group is in `waiting`, so this is its position there.
            let position = waiting.binary_search(row).unwrap_or_else(|at| at);
            *row = u32::try_from(position).unwrap_or(u32::MAX);
        }
    }
    let mut is_ready = vec![true; batch.num_rows()];
    for &row in &waiting {
        if let Some(ready) = is_ready.get_mut(row as usize) {
            *ready = false;
        }
    }
    let ready = filter_record_batch(batch, &BooleanArray::from(is_ready))?;
    let held = take_record_batch(batch, &UInt32Array::from(waiting))?;
    Ok(((ready.num_rows() > 0).then_some(ready), held, pending))
}

/// Reads (if local) and decodes on the rayon pool, the rows counted against `pool` while they
/// are built, and hands the result back to the async caller (the reservation ends there: the
/// batches are then the consumer's).
async fn decode_on_rayon(
    fetched: Fetched,
    object: Arc<LogObject>,
    plan: Arc<DecodePlan>,
    pool: Arc<dyn MemoryPool>,
) -> Result<Decoded, FileError> {
    let log_file = object.context.log_file.clone();
    on_rayon(log_file, move || {
        let mut memory =
            MemoryConsumer::new(format!("decoding {}", object.context.log_file)).register(&pool);
        let input = fetched.open()?;
        decode_file(
            input,
            object.named_gzip(),
            &object.context,
            &plan,
            &mut memory,
        )
        .map_err(|e| FileError::decode(&object.context.log_file, e))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Column;
    use crate::source::{SourceSpec, aws::AwsOptions};
    use datafusion::arrow::array::{AsArray, StringArray};

    const EU_PROFILE: &str =
        "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/eu1";
    const US_PROFILE: &str =
        "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/us1";

    /// A log file of `records` at `day` of `region`'s folder.
    fn write_log(root: &std::path::Path, region: &str, day: u32, records: &str) {
        let dir = root.join(format!(
            "AWSLogs/111122223333/CloudTrail/{region}/2025/03/{day:02}"
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let name = format!("111122223333_CloudTrail_{region}_202503{day:02}T0000Z_a.json.gz");
        let json = format!(r#"{{"Records":[{records}]}}"#);
        std::fs::write(dir.join(name), crate::decode::gzip::gzip(json.as_bytes())).unwrap();
    }

    fn created(arn: &str, model: &str) -> String {
        format!(
            r#"{{"eventSource":"bedrock.amazonaws.com","eventName":"CreateInferenceProfile","eventTime":"2025-03-01T10:00:00Z",
            "requestParameters":{{"modelSource":{{"copyFrom":"arn:aws:bedrock:eu-west-1::foundation-model/{model}"}}}},
            "responseElements":{{"inferenceProfileArn":"{arn}"}}}}"#
        )
    }

    /// A batch of one row calling `arn`, its `model` not known yet.
    fn calling(arn: &str) -> PendingBatch {
        let model: datafusion::arrow::array::ArrayRef =
            Arc::new(StringArray::from(vec![None::<&str>]));
        PendingBatch {
            batch: RecordBatch::try_from_iter([("model", model)]).unwrap(),
            pending: vec![Pending {
                rows: vec![0],
                arn: arn.to_owned(),
                aws_region: Some("eu-west-1".to_owned()),
                served: false,
            }],
            sessions: false,
            plan: Arc::new(DecodePlan::new(
                vec![Column::Model],
                ScanFilter::default(),
                Arc::default(),
            )),
            day: None,
        }
    }

    #[tokio::test]
    async fn a_called_profile_is_looked_for_where_its_arn_says_before_the_whole_archive() {
        let root = tempfile::tempdir().unwrap();
        let noise = r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2025-03-01T10:00:00Z"}"#;
        write_log(root.path(), "eu-west-1", 1, noise);
        write_log(
            root.path(),
            "eu-west-1",
            2,
            &created(EU_PROFILE, "model-eu"),
        );
        write_log(
            root.path(),
            "us-east-1",
            1,
            &created(US_PROFILE, "model-us"),
        );
        let spec = SourceSpec::Local(root.path().to_owned());
        let listing = crate::source::list(&[spec], None, &AwsOptions::default())
            .await
            .unwrap();
        assert_eq!(listing.objects.len(), 3);
        let archive = Archive::new(listing, ReadOptions::default());

        let resolved = archive.resolve(calling(EU_PROFILE)).await.unwrap();
        assert_eq!(resolved.column(0).as_string::<i32>().value(0), "model-eu");
        // Found in eu-west-1's files: the us-east-1 file was not read, the archive not searched.
        assert!(archive.known_profiles().is_none());
        let searched = archive.harvest.lock().unwrap().files.clone();
        assert_eq!(searched.len(), 2);
        assert!(searched.iter().all(|f| f.contains("/eu-west-1/")));

        // A profile created nowhere in its Region's files: the whole archive is searched.
        let unknown = EU_PROFILE.replace("eu1", "gone");
        let unresolved = archive.resolve(calling(&unknown)).await.unwrap();
        assert!(unresolved.column(0).is_null(0));
        let all = archive.known_profiles().unwrap();
        assert!(all.get(EU_PROFILE).is_some() && all.get(US_PROFILE).is_some());
    }

    #[tokio::test]
    async fn a_query_holds_only_the_waiting_rows_and_ingest_the_whole_batch() {
        let root = tempfile::tempdir().unwrap();
        let other = r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","eventTime":"2025-03-01T10:00:00Z"}"#;
        let call = format!(
            r#"{{"eventSource":"bedrock.amazonaws.com","eventName":"InvokeModel","eventTime":"2025-03-01T11:00:00Z","awsRegion":"eu-west-1","requestParameters":{{"modelId":"{EU_PROFILE}"}}}}"#
        );
        write_log(
            root.path(),
            "eu-west-1",
            1,
            &format!("{other},{call},{other}"),
        );
        let spec = SourceSpec::Local(root.path().to_owned());
        let listing = crate::source::list(&[spec], None, &AwsOptions::default())
            .await
            .unwrap();
        let object = Arc::clone(&listing.objects[0]);
        let plan = Arc::new(DecodePlan::new(
            vec![Column::EventName, Column::Model],
            ScanFilter::default(),
            Arc::default(),
        ));
        let archive = Archive::new(listing, ReadOptions::default());
        let rows = |parts: &[Part]| -> Vec<(&str, usize)> {
            parts
                .iter()
                .map(|part| match part {
                    Part::Ready(batch) => ("ready", batch.num_rows()),
                    Part::Pending(held) => ("pending", held.batch.num_rows()),
                })
                .collect()
        };
        let read = || {
            let pool: Arc<dyn MemoryPool> = Arc::new(UnboundedMemoryPool::default());
            archive.read(Arc::clone(&object), Arc::clone(&plan), true, pool)
        };
        // A query: the two other rows go on now, the call waits alone.
        assert_eq!(rows(&read().await.unwrap()), [("ready", 2), ("pending", 1)]);
        // Ingest sorts a day's rows only once it has them all: the batch waits whole.
        archive.hold_whole_batches();
        assert_eq!(rows(&read().await.unwrap()), [("pending", 3)]);
    }

    #[test]
    fn a_profile_is_created_in_the_account_and_region_of_its_arn() {
        assert_eq!(
            profile_home(EU_PROFILE),
            Some(("111122223333", "eu-west-1"))
        );
        assert_eq!(profile_home("not an arn"), None);
    }

    #[test]
    fn only_the_rows_waiting_for_a_profile_are_held_in_a_batch_of_their_own_size() {
        use datafusion::arrow::array::{ArrayRef, StringBuilder};
        let mut builder = StringBuilder::with_capacity(4096, 64 << 10);
        for row in ["a", "wait-eu", "b", "wait-us", "wait-eu", "c"] {
            builder.append_value(row);
        }
        let column: ArrayRef = Arc::new(builder.finish());
        let batch = RecordBatch::try_from_iter([("model_id", column)]).unwrap();
        let group = |rows: Vec<u32>, arn: &str| Pending {
            rows,
            arn: arn.to_owned(),
            aws_region: None,
            served: true,
        };
        let pending = vec![group(vec![1, 4], EU_PROFILE), group(vec![3], US_PROFILE)];
        let (ready, held, pending) = split_waiting(&batch, pending).unwrap();
        let values = |batch: &RecordBatch| -> Vec<String> {
            let column = batch.column(0).as_string::<i32>();
            column
                .iter()
                .map(|v| v.unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(values(&ready.unwrap()), ["a", "b", "c"]);
        assert_eq!(values(&held), ["wait-eu", "wait-us", "wait-eu"]);
        // Each group's rows now point at its rows in the held batch.
        for group in &pending {
            for &row in &group.rows {
                let expected = if group.arn == EU_PROFILE {
                    "wait-eu"
                } else {
                    "wait-us"
                };
                assert_eq!(values(&held)[row as usize], expected);
            }
        }
        assert_eq!(pending[0].rows, [0, 2]);
        assert!(
            held.get_array_memory_size() * 10 < batch.get_array_memory_size(),
            "{} bytes held for three rows",
            held.get_array_memory_size()
        );
        // A batch whose every row waits has no ready part.
        let (ready, held, _) =
            split_waiting(&held, vec![group(vec![0, 1, 2], EU_PROFILE)]).unwrap();
        assert!(ready.is_none());
        assert_eq!(held.num_rows(), 3);
    }

    #[test]
    fn two_reads_of_different_bytes_mark_a_file_changed_for_good() {
        let archive = Archive::new(
            Listing::default(),
            ReadOptions {
                hash_text: true,
                ..ReadOptions::default()
            },
        );
        let (a, b) = ([1; 32], [2; 32]);
        assert_eq!(archive.note_text_hash("f", None), None);
        assert_eq!(archive.note_text_hash("f", Some(a)), Some(a));
        assert_eq!(archive.note_text_hash("f", Some(a)), Some(a));
        // A profile search (or another scan) saw other bytes: changed, whatever comes after.
        assert_eq!(
            archive.note_text_hash("f", Some(b)),
            Some(CHANGED_WHILE_READ)
        );
        assert_eq!(
            archive.note_text_hash("f", Some(a)),
            Some(CHANGED_WHILE_READ)
        );
        assert_eq!(archive.note_text_hash("g", Some(b)), Some(b));
    }
}
