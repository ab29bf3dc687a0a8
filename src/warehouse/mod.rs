//! The warehouse: a Delta Lake table of CloudTrail events, with trailmap's ledger of the
//! source objects it holds committed in the same Delta commits as the rows.
//!
//! # Layout
//!
//! ```text
//! WAREHOUSE/
//!   _delta_log/00000000000000000000.json                               the Delta log
//!   events/log_date=2025-03-01/part-<run>-00001.parquet                 rows sorted by event_time
//!   events/log_date=__HIVE_DEFAULT_PARTITION__/...                     files outside the layout
//! ```
//!
//! The table holds every column of `events` (zstd; columns of a few distinct values
//! uncompressed) with the types `trailmap schema` prints, partitioned by `log_date`, so Athena,
//! Spark, Trino, DuckDB, Polars or the `deltalake` package read it with trailmap's counts. The
//! table is what its Delta log says and nothing else: a Parquet file no commit adds (a killed
//! run's) is not part of it, whatever its name, and VACUUM deletes it.
//!
//! # Commits: exactly once, whoever writes
//!
//! One run of `trailmap ingest` is one Delta commit, made by delta-rs: the `add` actions of its
//! files, `remove` actions of files a compaction replaced, and the ledger entry
//! ([`manifest::Commit`]) in its `commitInfo`, under the key `trailmap`. The entry's list of
//! objects is in a file it names, `_trailmap/ledger/RUN.json`, written before the commit like
//! the data files, and part of the ledger only once a commit names it.
//!
//! 1. The run reads the table at version V, with the ledger of every commit up to V, and
//!    leaves out the objects the ledger holds.
//! 2. It writes its Parquet files under names no other run uses (a random run id). On a local
//!    disk they are `fsync`ed, with their folders, before the commit.
//! 3. It commits as version V+1 and only as V+1: the commit file is created with "create if
//!    absent" (a hard link of an `fsync`ed file on a local disk; a conditional
//!    `If-None-Match: *` PUT on S3, probed first). That single step makes the run's events
//!    visible, all at once.
//! 4. If another run committed first, this run reads the commits since V. If any of them
//!    holds one of its objects (or removed a file it compacts), nothing of this run is
//!    committed: it starts again from 1, leaving its files to VACUUM. Otherwise its ledger
//!    entry is recomputed on the new version and step 3 is tried again.
//!
//! Killed at any moment, a run leaves either its commit (every event of its objects is in) or
//! no commit (none is; the next run ingests them). Every source object is in the table at most
//! once however many runs overlap.

pub mod delta;
mod local;
pub mod manifest;
pub mod s3;

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::execution::object_store::ObjectStoreUrl;
use deltalake_core::DeltaTable;
use deltalake_core::kernel::Action;
use deltalake_core::logstore::LogStoreRef;
use deltalake_core::operations::vacuum::VacuumMode;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use crate::error::{Error, Result};
use crate::source::SourceSpec;
use crate::source::aws::{self, AwsOptions};
use delta::{Committed, FileStats};
use manifest::{Commit, DataFile, Manifest, Skipped};
use s3::S3Store;

/// Folder of the `events` Parquet files.
pub const EVENTS_DIR: &str = "events";
/// The Delta log.
const DELTA_LOG: &str = "_delta_log";
/// The table's first commit, which trailmap never deletes.
const FIRST_COMMIT: &str = "_delta_log/00000000000000000000.json";
/// Where warehouses of earlier trailmaps (their own manifest format) kept their commits.
const OLD_COMMITS_DIR: &str = "_trailmap/commits";
/// The first of those commits.
const OLD_FIRST_COMMIT: &str = "_trailmap/commits/00000000000000000001.json";
/// Where the ledger's object lists are, one file per run, each named by its run's commit.
const LEDGER_DIR: &str = "_trailmap/ledger";
/// Where running ingests leave their mark (VACUUM waits for them).
const RUNS_DIR: &str = "_trailmap/runs";
/// How often a running ingest renews its mark.
pub const RUN_MARK_RENEWAL: std::time::Duration = std::time::Duration::from_secs(60);
/// A run's mark not renewed for this long is taken for one left by a killed run.
const RUN_MARK_STALE_MINUTES: i64 = 10;
/// Ledger entries read at once.
const ENTRIES_AT_ONCE: usize = 16;

/// A warehouse: a local directory (or S3 prefix) and the object store that reaches it.
#[derive(Debug, Clone)]
pub struct Warehouse {
    location: String,
    store: Arc<dyn ObjectStore>,
    store_url: ObjectStoreUrl,
    /// The table's URL, as delta-rs knows it.
    table_url: Url,
    root: Path,
    /// The directory of a local warehouse (files are `fsync`ed there before a commit).
    dir: Option<std::path::PathBuf>,
}

/// A file written by a run, to be added by its commit.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// The file.
    pub file: DataFile,
    /// Its statistics, for its `add` action.
    pub stats: FileStats,
}

/// What one commit changes: files added and removed, and the ledger entry.
#[derive(Debug, Clone)]
pub struct PendingCommit {
    /// Files written by the run.
    pub added: Vec<NewFile>,
    /// Files replaced (by a compaction or a repair): removed from the table, deleted by VACUUM.
    pub removed: Vec<DataFile>,
    /// The days (`log_date`) whose rows change: new objects' rows, or rows resolved anew. Their
    /// files' actions say `dataChange: true`; the other files (compaction) `false`.
    pub changed_days: std::collections::BTreeSet<Option<String>>,
    /// The ledger entry.
    pub ledger: Commit,
}

impl Warehouse {
    /// The warehouse in local directory `dir`, created when `create` (for `ingest --into`).
    pub fn local(dir: &std::path::Path, create: bool) -> Result<Warehouse> {
        let location = dir.display().to_string();
        let error = |reason: String| Error::Warehouse {
            location: location.clone(),
            reason,
        };
        if create {
            std::fs::create_dir_all(dir).map_err(|e| error(format!("cannot create it: {e}")))?;
        }
        let absolute = std::fs::canonicalize(dir).map_err(|e| error(e.to_string()))?;
        if !absolute.is_dir() {
            return Err(error("not a directory".into()));
        }
        let root = Path::from_filesystem_path(&absolute).map_err(|e| error(e.to_string()))?;
        let table_url = Url::from_directory_path(&absolute)
            .map_err(|()| error("not an absolute path".into()))?;
        Ok(Warehouse {
            location,
            store: Arc::new(local::DurableLocal::new()),
            store_url: ObjectStoreUrl::local_filesystem(),
            table_url,
            root,
            dir: Some(absolute),
        })
    }

    /// The warehouse on S3 at `s3://bucket/prefix`, through trailmap's S3 client.
    pub async fn on_s3(bucket: &str, prefix: &str, aws_options: &AwsOptions) -> Result<Warehouse> {
        let location = format!("s3://{bucket}/{prefix}");
        let error = |reason: String| Error::Warehouse {
            location: location.clone(),
            reason,
        };
        let config = aws::load(aws_options).await;
        let client = crate::source::s3::client_for_bucket(&config, bucket).await;
        let store_url =
            ObjectStoreUrl::parse(format!("s3://{bucket}")).map_err(|e| error(e.to_string()))?;
        let root = Path::from(prefix.trim_matches('/'));
        let folder = match root.as_ref() {
            "" => String::new(),
            inside => format!("{inside}/"),
        };
        let table_url =
            Url::parse(&format!("s3://{bucket}/{folder}")).map_err(|e| error(e.to_string()))?;
        Ok(Warehouse {
            location: location.clone(),
            store: Arc::new(S3Store::new(client, bucket.to_owned())),
            store_url,
            table_url,
            root,
            dir: None,
        })
    }

    /// The warehouse at `--into`: a directory (created if missing) or `s3://bucket/prefix`,
    /// refused when it is a warehouse of an earlier trailmap. On S3 the endpoint is probed
    /// first for the conditional writes commits rely on.
    pub async fn for_ingest(into: &str, aws_options: &AwsOptions) -> Result<Warehouse> {
        let warehouse = match SourceSpec::parse(into)? {
            SourceSpec::Local(dir) => Warehouse::local(&dir, true)?,
            SourceSpec::S3 { bucket, prefix } => {
                Warehouse::on_s3(&bucket, &prefix, aws_options).await?
            }
            SourceSpec::Trail(_) => {
                return Err(Error::Warehouse {
                    location: into.to_owned(),
                    reason: "a warehouse is a local directory or s3://bucket/prefix".into(),
                });
            }
        };
        warehouse.refuse_old_format().await?;
        warehouse.probe_writes().await?;
        Ok(warehouse)
    }

    /// On S3, checks that the endpoint honours the conditional writes every commit relies on
    /// (nothing to check on a local disk).
    pub async fn probe_writes(&self) -> Result<()> {
        if self.dir.is_some() {
            return Ok(());
        }
        s3::probe_conditional_writes(&self.store, &self.path("_trailmap"))
            .await
            .map_err(|reason| self.error(reason))
    }

    /// The warehouse `spec` names, if it is one (a directory or S3 prefix holding a Delta
    /// log); `None` for a raw archive. A warehouse of an earlier trailmap is refused.
    pub async fn detect(spec: &SourceSpec, aws_options: &AwsOptions) -> Result<Option<Warehouse>> {
        let warehouse = match spec {
            SourceSpec::Local(dir) => {
                let has = |folder: &str| dir.join(folder).is_dir();
                if !has(DELTA_LOG) && !has(OLD_COMMITS_DIR) {
                    return Ok(None);
                }
                Warehouse::local(dir, false)?
            }
            SourceSpec::S3 { bucket, prefix } => {
                // HEADs of the first commit (trailmap keeps every commit), and of an earlier
                // trailmap's: a raw archive's prefix costs no listing, and an error is left to
                // its own listing to report.
                let warehouse = Warehouse::on_s3(bucket, prefix, aws_options).await?;
                let exists = |relative: &str| {
                    let (store, path) = (warehouse.store(), warehouse.path(relative));
                    async move { store.head(&path).await.is_ok() }
                };
                if !exists(FIRST_COMMIT).await && !exists(OLD_FIRST_COMMIT).await {
                    return Ok(None);
                }
                warehouse
            }
            SourceSpec::Trail(_) => return Ok(None),
        };
        warehouse.refuse_old_format().await?;
        Ok(Some(warehouse))
    }

    /// Refuses a warehouse written by an earlier trailmap (its own manifest, no Delta log).
    async fn refuse_old_format(&self) -> Result<()> {
        let old = self.path(OLD_COMMITS_DIR);
        if !matches!(self.store.list(Some(&old)).next().await, Some(Ok(_))) {
            return Ok(());
        }
        Err(self.error(format!(
            "this warehouse was written by an earlier trailmap (its own manifest in {OLD_COMMITS_DIR}/, \
             not a Delta Lake table); it is not read, in part or whole. Ingest the sources again \
             into a new warehouse (trailmap ingest -s SOURCE... --into NEW), then delete this one"
        )))
    }

    /// The URL of a file inside the warehouse, as DataFusion reads it.
    pub fn url_of(&self, relative: &str) -> String {
        format!("{}{}", self.store_url.as_str(), self.path(relative))
    }

    /// The warehouse as given on the command line.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The object store holding it.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.store)
    }

    /// The URL DataFusion knows that store by.
    pub fn store_url(&self) -> ObjectStoreUrl {
        self.store_url.clone()
    }

    /// The full object path of `relative` (a `/`-separated path inside the warehouse).
    pub fn path(&self, relative: &str) -> Path {
        relative
            .split('/')
            .filter(|part| !part.is_empty())
            .fold(self.root.clone(), |path, part| path.join(part))
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Warehouse {
            location: self.location.clone(),
            reason: reason.into(),
        }
    }

    fn delta_error(&self, doing: &str, e: impl std::fmt::Display) -> Error {
        self.error(format!("{doing}: {e}"))
    }

    /// The table's log store.
    fn log_store(&self) -> Result<LogStoreRef> {
        delta::log_store(self.store(), &self.table_url)
            .map_err(|e| self.delta_error("cannot open its Delta log", e))
    }

    /// The table at its latest version (or `version`); `None` when there is none yet.
    pub async fn table(&self, version: Option<u64>) -> Result<Option<DeltaTable>> {
        delta::load(self.log_store()?, version)
            .await
            .map_err(|e| self.delta_error("cannot read its Delta log", e))
    }

    /// The table, created empty if there is none yet (by this run or, meanwhile, another).
    pub async fn table_or_create(&self) -> Result<DeltaTable> {
        if let Some(table) = self.table(None).await? {
            return Ok(table);
        }
        match delta::create(self.log_store()?).await {
            Ok(table) => {
                crate::failpoint::hit("table-created");
                Ok(table)
            }
            Err(created) => self
                .table(None)
                .await?
                .ok_or_else(|| self.delta_error("cannot create the Delta table", created)),
        }
    }

    /// The manifest at the latest version: every file, and the ledger with every object.
    pub async fn manifest(&self) -> Result<Manifest> {
        match self.table(None).await? {
            Some(table) => self.manifest_of(&table).await,
            None => Ok(Manifest::new(None, BTreeMap::new(), true)),
        }
    }

    /// The manifest of `table` as loaded: its files, and the ledger of every commit up to its
    /// version, with every object.
    pub async fn manifest_of(&self, table: &DeltaTable) -> Result<Manifest> {
        let (version, files) = self.files_of(table)?;
        let mut manifest = Manifest::new(Some(version), files, true);
        let log_store = table.log_store();
        let mut entries = futures::stream::iter(0..=version)
            .map(|v| {
                let log_store = Arc::clone(&log_store);
                async move { (v, delta::ledger_entry::<Commit>(&*log_store, v).await) }
            })
            .buffered(ENTRIES_AT_ONCE);
        while let Some((v, entry)) = entries.next().await {
            if let Some(commit) = entry.map_err(|e| self.error(e))? {
                let commit = self.objects_of(v, commit).await?;
                manifest.apply(v, commit).map_err(|e| self.error(e))?;
            }
        }
        Ok(manifest)
    }

    /// The manifest without its objects (`objects` left empty), for readers that need only
    /// their totals: the files, and the last ledger entry.
    pub async fn manifest_without_objects(&self) -> Result<Manifest> {
        // A log without a commit yet (the first run stopped before creating the table) holds
        // nothing: no event was ingested.
        let Some(table) = self.table(None).await? else {
            return Ok(Manifest::new(None, BTreeMap::new(), true));
        };
        let (version, files) = self.files_of(&table)?;
        let mut manifest = Manifest::new(Some(version), files, false);
        let log_store = table.log_store();
        for v in (0..=version).rev() {
            let entry = delta::ledger_entry::<Commit<Skipped>>(&*log_store, v)
                .await
                .map_err(|e| self.error(e))?;
            if let Some(commit) = entry {
                manifest.apply(v, commit).map_err(|e| self.error(e))?;
                break;
            }
        }
        // No entry: no object was ingested, so every object (none) is read.
        manifest.objects_read = !manifest.has_ledger;
        Ok(manifest)
    }

    /// The version of `table` and its files.
    fn files_of(&self, table: &DeltaTable) -> Result<(u64, BTreeMap<String, DataFile>)> {
        let snapshot = table
            .snapshot()
            .map_err(|e| self.delta_error("cannot read its Delta log", e))?;
        let version = snapshot.version();
        let schema = snapshot.schema();
        let table_columns: std::collections::BTreeSet<&str> =
            schema.fields().map(|field| field.name().as_str()).collect();
        let missing: Vec<&str> = crate::schema::Column::ALL
            .iter()
            .map(|c| c.name())
            .filter(|name| !table_columns.contains(name))
            .collect();
        if !missing.is_empty() {
            return Err(self.error(format!(
                "its events table has no column {} (written by an earlier trailmap): ingest the \
                 sources again into a new warehouse (trailmap ingest -s SOURCE... --into NEW)",
                missing.join(", ")
            )));
        }
        let mut files = BTreeMap::new();
        for view in snapshot.log_data().iter() {
            if view.deletion_vector_descriptor().is_some() {
                return Err(self.error(format!(
                    "{} has a deletion vector (rows deleted by another engine): trailmap reads \
                     whole files only, and refuses rather than count deleted rows",
                    view.path()
                )));
            }
            let partition = view.partition_values_map();
            let file = DataFile {
                path: view.path().into_owned(),
                bytes: u64::try_from(view.size()).unwrap_or(0),
                rows: view.num_records().map(|n| n as u64),
                log_date: partition.get(delta::PARTITION_COLUMN).cloned().flatten(),
            };
            files.insert(file.path.clone(), file);
        }
        Ok((version, files))
    }

    /// Makes files written so far survive a power loss (local warehouses: `fsync` of each
    /// file and of the folders naming them; an S3 PUT is durable once answered).
    pub async fn make_durable(&self, relative: &[String]) -> Result<()> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        let paths: Vec<std::path::PathBuf> = relative.iter().map(|r| dir.join(r)).collect();
        let synced = tokio::task::spawn_blocking(move || local::sync_files(&dir, &paths))
            .await
            .map_err(|e| self.error(format!("cannot sync files: {e}")))?;
        synced.map_err(|e| self.error(format!("cannot sync files: {e}")))
    }

    /// Commits `pending` as the version after `read`'s, and only as that one
    /// ([`Committed::Moved`] when another writer committed first).
    pub async fn commit(
        &self,
        read: &DeltaTable,
        pending: &PendingCommit,
        target_bytes: u64,
    ) -> Result<Committed> {
        let changes = |file: &DataFile| pending.changed_days.contains(&file.log_date);
        let actions: Vec<Action> = pending
            .added
            .iter()
            .map(|new| delta::add(&new.file, &new.stats, changes(&new.file)))
            .chain(pending.removed.iter().map(|f| delta::remove(f, changes(f))))
            .collect();
        let operation = delta::operation(!pending.changed_days.is_empty(), target_bytes);
        // The objects go in a file of their own, named by the commit: a commit stays small
        // for every reader of the log, and the file is part of the ledger only once a commit
        // names it (one no commit names is ignored, like a data file).
        let objects_file = format!("{LEDGER_DIR}/{}.json", pending.ledger.run);
        let objects = serde_json::to_vec(&pending.ledger.objects)
            .map_err(|e| self.error(format!("cannot encode the ledger: {e}")))?;
        self.store
            .put(&self.path(&objects_file), objects.into())
            .await
            .map_err(|e| self.error(format!("cannot write {objects_file}: {e}")))?;
        self.make_durable(std::slice::from_ref(&objects_file))
            .await?;
        let entry = Commit {
            objects: Vec::new(),
            objects_file: Some(objects_file),
            ..pending.ledger.clone()
        };
        delta::commit(read, actions, &entry, operation)
            .await
            .map_err(|e| self.delta_error("cannot commit", e))
    }

    /// The objects of a ledger entry: listed in it, or in the file it names.
    async fn objects_of(&self, version: u64, mut commit: Commit) -> Result<Commit> {
        let Some(file) = commit.objects_file.take() else {
            return Ok(commit);
        };
        let unreadable = |e: String| {
            self.error(format!(
                "commit {version} names {file}, which cannot be read: {e} (the ledger of ingested objects is incomplete)"
            ))
        };
        let got = self
            .store
            .get(&self.path(&file))
            .await
            .map_err(|e| unreadable(e.to_string()))?;
        let bytes = got.bytes().await.map_err(|e| unreadable(e.to_string()))?;
        commit.objects = serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
        Ok(commit)
    }

    /// Deletes files this run wrote and no commit names (written again, or the run was
    /// overtaken); one left behind is VACUUM's to delete.
    pub async fn delete_uncommitted(&self, relative: &[String]) {
        for file in relative {
            match self.store.delete(&self.path(file)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => tracing::warn!(file, "cannot delete a file no commit names: {e}"),
            }
        }
    }

    /// The version in `versions` whose ledger entry `run` committed, if one is: a commit
    /// whose answer was lost (so it looked taken) is found this way.
    pub async fn version_of_run(
        &self,
        table: &DeltaTable,
        versions: std::ops::RangeInclusive<u64>,
        run: &str,
    ) -> Result<Option<u64>> {
        let log_store = table.log_store();
        for v in versions {
            let entry = delta::ledger_entry::<Commit<Skipped>>(&*log_store, v)
                .await
                .map_err(|e| self.error(e))?;
            if entry.is_some_and(|commit| commit.run == run) {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// Whether every one of `relative` is still there (a VACUUM with a retention shorter than
    /// a run could have deleted files the run has not committed yet).
    pub async fn all_present(&self, relative: &[String]) -> Result<bool> {
        for file in relative {
            match self.store.head(&self.path(file)).await {
                Ok(_) => {}
                Err(object_store::Error::NotFound { .. }) => return Ok(false),
                Err(e) => return Err(self.error(format!("cannot check {file}: {e}"))),
            }
        }
        Ok(true)
    }

    /// Marks run `run` as running (again every [`RUN_MARK_RENEWAL`] while it runs): until
    /// [`Warehouse::end_run`], VACUUM refuses to run (the run's files are not in the table
    /// yet, and may be older than the retention).
    pub async fn mark_run(&self, run: &str) -> Result<()> {
        let started = chrono::Utc::now().to_rfc3339();
        self.store
            .put(&self.path(&format!("{RUNS_DIR}/{run}")), started.into())
            .await
            .map(|_| ())
            .map_err(|e| self.error(format!("cannot mark the run as running: {e}")))
    }

    /// Clears run `run`'s mark (a mark left behind stops counting once it is not renewed).
    pub async fn end_run(&self, run: &str) {
        if let Err(e) = self
            .store
            .delete(&self.path(&format!("{RUNS_DIR}/{run}")))
            .await
        {
            tracing::warn!(run, "cannot clear the run's mark: {e}");
        }
    }

    /// The runs whose mark was renewed lately, with when it was.
    pub async fn running_ingests(&self) -> Result<Vec<(String, chrono::DateTime<chrono::Utc>)>> {
        let since = chrono::Utc::now() - chrono::Duration::minutes(RUN_MARK_STALE_MINUTES);
        let marks: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&self.path(RUNS_DIR)))
            .try_collect()
            .await
            .or_else(|e| match e {
                object_store::Error::NotFound { .. } => Ok(Vec::new()),
                e => Err(self.error(format!("cannot list running ingests: {e}"))),
            })?;
        Ok(marks
            .into_iter()
            .filter(|mark| mark.last_modified > since)
            .filter_map(|mark| Some((mark.location.filename()?.to_owned(), mark.last_modified)))
            .collect())
    }

    /// VACUUM: deletes files no version within `retain` reads (replaced by compactions, or
    /// written by runs that never committed) once older than `retain`.
    pub async fn vacuum(&self, retain: chrono::Duration, dry_run: bool) -> Result<Vec<String>> {
        let Some(table) = self.table(None).await? else {
            return Err(self.error("it is not a Delta table (no _delta_log/)"));
        };
        let (_, metrics) = table
            .vacuum()
            .with_retention_period(retain)
            .with_enforce_retention_duration(false)
            .with_mode(VacuumMode::Full)
            .with_dry_run(dry_run)
            .await
            .map_err(|e| self.delta_error("cannot vacuum", e))?;
        Ok(metrics.files_deleted)
    }
}
