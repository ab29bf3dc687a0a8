//! A Parquet warehouse of CloudTrail events: where it is, its manifest, and how a run commits.
//!
//! # Layout
//!
//! ```text
//! WAREHOUSE/
//!   events/log_date=2025-03-01/part-00000000000000000003-0001.parquet   rows sorted by event_time
//!   events/log_date=unknown/...                                        files outside the layout
//!   _trailmap/commits/00000000000000000001.json                        the manifest, one commit per run
//! ```
//!
//! The Parquet files hold every column of `events` (zstd; columns of a few distinct values
//! uncompressed) with the types `trailmap schema` prints, so any Parquet engine reads them
//! (`log_date` is both a folder and a column). The manifest is a log of numbered commits
//! ([`manifest::Commit`]); the warehouse is what the commits say, applied in order, and
//! nothing else: a Parquet file no commit names is not part of it, whatever its name.
//!
//! # Commit protocol (crash safety)
//!
//! One run of `trailmap ingest` is one commit, numbered one more than the last:
//!
//! 1. Files left by a run that died before committing (under `events/`, named by no commit) are
//!    deleted first. They can only be such leftovers: data is always written before the commit
//!    that names it.
//! 2. The run writes its Parquet files. Each is written under a staging name and moved into
//!    place when complete (object_store's local `put`; an S3 multipart upload is invisible until
//!    completed), so no reader, trailmap or another engine, ever sees half a file.
//!    On a local disk they are then `fsync`ed, with their folders, before the commit.
//! 3. The commit file is created with "create if absent" (`PutMode::Create`: a hard link on a
//!    local disk, a conditional `If-None-Match: *` PUT on S3). This is the single step that
//!    makes the run's events visible, all at once. If another writer took the number first,
//!    this run fails and changes nothing.
//! 4. Files a compaction replaced are deleted after its commit; until then readers following
//!    the previous commit still find them (one that reads after the deletion gets an error
//!    naming the file, never a wrong answer, and runs again).
//!
//! Killed at any moment, a run leaves either its commit (every event of its objects is in) or
//! no commit (none is; the next run deletes its files and ingests the objects again). Every
//! event is in the warehouse exactly once. One writer at a time is assumed; a second one fails
//! at step 3 rather than duplicating anything.

pub mod manifest;
pub mod s3;

use std::sync::Arc;

use datafusion::execution::object_store::ObjectStoreUrl;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::{Error, Result};
use crate::source::SourceSpec;
use crate::source::aws::{self, AwsOptions};
use manifest::{Commit, IngestedObject, Manifest, ObjectEntry, Skipped};
use s3::S3Store;

/// Folder of the `events` Parquet files.
pub const EVENTS_DIR: &str = "events";
/// Folder of the commits.
const COMMITS_DIR: &str = "_trailmap/commits";

/// A warehouse: a local directory (or S3 prefix) and the object store that reaches it.
#[derive(Debug, Clone)]
pub struct Warehouse {
    location: String,
    store: Arc<dyn ObjectStore>,
    store_url: ObjectStoreUrl,
    root: Path,
    /// The directory of a local warehouse: leftovers are found on disk, where a local object
    /// store's half-written staging files (`name#N`) are, which its listings do not show.
    dir: Option<std::path::PathBuf>,
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
        Ok(Warehouse {
            location,
            store: Arc::new(LocalFileSystem::new()),
            store_url: ObjectStoreUrl::local_filesystem(),
            root,
            dir: Some(absolute),
        })
    }

    /// The warehouse on S3 at `s3://bucket/prefix`, through trailmap's S3 client.
    pub async fn on_s3(bucket: &str, prefix: &str, aws_options: &AwsOptions) -> Result<Warehouse> {
        let location = format!("s3://{bucket}/{prefix}");
        let config = aws::load(aws_options).await;
        let client = crate::source::s3::client_for_bucket(&config, bucket).await;
        let store_url =
            ObjectStoreUrl::parse(format!("s3://{bucket}")).map_err(|e| Error::Warehouse {
                location: location.clone(),
                reason: e.to_string(),
            })?;
        Ok(Warehouse {
            location,
            store: Arc::new(S3Store::new(client, bucket.to_owned())),
            store_url,
            root: Path::from(prefix.trim_matches('/')),
            dir: None,
        })
    }

    /// The warehouse at `--into`: a directory (created if missing) or `s3://bucket/prefix`.
    pub async fn for_ingest(into: &str, aws_options: &AwsOptions) -> Result<Warehouse> {
        match SourceSpec::parse(into)? {
            SourceSpec::Local(dir) => Warehouse::local(&dir, true),
            SourceSpec::S3 { bucket, prefix } => {
                Warehouse::on_s3(&bucket, &prefix, aws_options).await
            }
            SourceSpec::Trail(_) => Err(Error::Warehouse {
                location: into.to_owned(),
                reason: "a warehouse is a local directory or s3://bucket/prefix".into(),
            }),
        }
    }

    /// The warehouse `spec` names, if it is one (a directory or S3 prefix with a manifest);
    /// `None` for a raw archive.
    pub async fn detect(spec: &SourceSpec, aws_options: &AwsOptions) -> Result<Option<Warehouse>> {
        match spec {
            SourceSpec::Local(dir) => {
                if !dir.join(COMMITS_DIR).is_dir() {
                    return Ok(None);
                }
                Ok(Some(Warehouse::local(dir, false)?))
            }
            SourceSpec::S3 { bucket, prefix } => {
                // One HEAD of the first commit (every warehouse has it): a raw archive's prefix
                // costs no listing, and an error is left to its own listing to report.
                let warehouse = Warehouse::on_s3(bucket, prefix, aws_options).await?;
                let first = warehouse.path(&commit_file(1));
                Ok(warehouse
                    .store
                    .head(&first)
                    .await
                    .is_ok()
                    .then_some(warehouse))
            }
            SourceSpec::Trail(_) => Ok(None),
        }
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

    /// The path inside the warehouse of a full object path.
    fn relative(&self, path: &Path) -> Option<String> {
        let parts: Vec<String> = path
            .prefix_match(&self.root)?
            .map(|part| part.as_ref().to_owned())
            .collect();
        Some(parts.join("/"))
    }

    fn error(&self, reason: impl Into<String>) -> Error {
        Error::Warehouse {
            location: self.location.clone(),
            reason: reason.into(),
        }
    }

    /// The manifest: every commit, applied in order, with every ingested object.
    pub async fn manifest(&self) -> Result<Manifest> {
        self.read_manifest::<IngestedObject>().await
    }

    /// The manifest without its objects (`objects` left empty), for readers that need only
    /// their totals. Commits written before trailmap kept totals are read whole instead.
    pub async fn manifest_without_objects(&self) -> Result<Manifest> {
        let manifest = self.read_manifest::<Skipped>().await?;
        match manifest.last_totals {
            None if manifest.last_commit > 0 => self.manifest().await,
            _ => Ok(manifest),
        }
    }

    /// Every commit read with its objects as `O`, applied in order.
    async fn read_manifest<O>(&self) -> Result<Manifest>
    where
        O: ObjectEntry + Default + serde::de::DeserializeOwned,
    {
        let mut numbered: Vec<(u64, Path)> = self
            .store
            .list(Some(&self.path(COMMITS_DIR)))
            .map_ok(|meta| meta.location)
            .try_collect::<Vec<Path>>()
            .await
            .map_err(|e| self.error(format!("cannot list its commits: {e}")))?
            .into_iter()
            .filter_map(|path| Some((commit_number(path.filename()?)?, path)))
            .collect();
        numbered.sort();
        let mut manifest = Manifest::new(O::BUILT);
        for (number, path) in numbered {
            let unreadable =
                |e: object_store::Error| self.error(format!("cannot read commit {number}: {e}"));
            let got = self.store.get(&path).await.map_err(unreadable)?;
            let bytes = got.bytes().await.map_err(unreadable)?;
            let commit: Commit<O> = serde_json::from_slice(&bytes)
                .map_err(|e| self.error(format!("commit {number} is not a commit: {e}")))?;
            if commit.number != number {
                return Err(self.error(format!(
                    "commit file {number} holds commit {}",
                    commit.number
                )));
            }
            manifest.apply(commit).map_err(|e| self.error(e))?;
        }
        Ok(manifest)
    }

    /// Makes files written so far survive a power loss (local warehouses: `fsync` of each
    /// file and of the folders naming them; an S3 PUT is durable once answered).
    pub async fn make_durable(&self, relative: &[String]) -> Result<()> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        let paths: Vec<std::path::PathBuf> = relative.iter().map(|r| dir.join(r)).collect();
        let synced = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut folders = std::collections::BTreeSet::new();
            for path in &paths {
                std::fs::File::open(path)?.sync_all()?;
                if let Some(folder) = path.parent() {
                    folders.insert(folder.to_owned());
                }
            }
            for folder in folders {
                std::fs::File::open(folder)?.sync_all()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| self.error(format!("cannot sync files: {e}")))?;
        synced.map_err(|e| self.error(format!("cannot sync files: {e}")))
    }

    /// Commits: creates the commit file, failing if that number is taken (another writer),
    /// and makes it durable.
    pub async fn commit(&self, commit: &Commit) -> Result<()> {
        let bytes = serde_json::to_vec(commit)
            .map_err(|e| self.error(format!("cannot encode commit: {e}")))?;
        let path = self.path(&commit_file(commit.number));
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => self.make_durable(&[commit_file(commit.number)]).await,
            Err(object_store::Error::AlreadyExists { .. }) => Err(self.error(format!(
                "commit {} was made by another run meanwhile: nothing of this run was committed; run ingest again",
                commit.number
            ))),
            Err(e) => Err(self.error(format!("cannot commit: {e}"))),
        }
    }

    /// Every file under `events/` (relative paths), committed or not, half-written ones
    /// included.
    pub async fn stored_data_files(&self) -> Result<Vec<String>> {
        if let Some(dir) = &self.dir {
            return self.local_files(dir);
        }
        let metas: Vec<Path> = self
            .store
            .list(Some(&self.path(EVENTS_DIR)))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(|e| self.error(format!("cannot list its files: {e}")))?;
        Ok(metas.iter().filter_map(|p| self.relative(p)).collect())
    }

    fn local_files(&self, dir: &std::path::Path) -> Result<Vec<String>> {
        let events = dir.join(EVENTS_DIR);
        if !events.exists() {
            return Ok(Vec::new());
        }
        let mut files = Vec::new();
        for entry in walkdir::WalkDir::new(&events) {
            let entry = entry.map_err(|e| self.error(format!("cannot list its files: {e}")))?;
            if !entry.file_type().is_file() {
                continue;
            }
            if let Ok(inside) = entry.path().strip_prefix(dir) {
                let parts: Vec<String> = inside
                    .iter()
                    .map(|part| part.to_string_lossy().into_owned())
                    .collect();
                files.push(parts.join("/"));
            }
        }
        Ok(files)
    }

    /// Deletes a file (missing already is fine).
    pub async fn delete(&self, relative: &str) -> Result<()> {
        let deleted = match &self.dir {
            Some(dir) => match std::fs::remove_file(dir.join(relative)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                _ => Ok(()),
            },
            None => match self.store.delete(&self.path(relative)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
        };
        deleted.map_err(|e| self.error(format!("cannot delete {relative}: {e}")))
    }
}

/// The path of commit `number` inside the warehouse.
fn commit_file(number: u64) -> String {
    format!("{COMMITS_DIR}/{number:020}.json")
}

/// The number of a commit file named `NNNNNNNNNNNNNNNNNNNN.json`.
fn commit_number(file_name: &str) -> Option<u64> {
    let digits = file_name.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}
