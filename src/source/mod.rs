//! Where log files come from: parsing `-s` values, listing objects, fetching bytes.
//!
//! Listing classifies every key (digest, insight and non-JSON objects are skipped by name) and
//! drops folders and files whose key the [`KeyPredicate`] (command-line filters and the query's
//! SQL filters) rules out, before anything is fetched.

pub mod aws;
pub mod local;
pub mod s3;
pub mod trail;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, FileError, LoadError, Result};
use crate::layout::key::{self, FileContext, KeyKind, LogKey};
use crate::layout::pruning::KeyPredicate;

/// One `-s` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A local directory (walked recursively) or file.
    Local(PathBuf),
    /// `s3://bucket/prefix`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix, possibly empty.
        prefix: String,
    },
    /// `trail:NAME` or a trail ARN, resolved with the CloudTrail API.
    Trail(String),
}

impl SourceSpec {
    /// Parses a `-s` value.
    pub fn parse(spec: &str) -> Result<SourceSpec> {
        let invalid = |reason: &str| Error::InvalidSource {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        if spec.trim().is_empty() {
            return Err(invalid(
                "empty source; give a directory, a file, s3://bucket/prefix or trail:NAME",
            ));
        }
        if let Some(rest) = spec.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid("no bucket name after s3://"));
            }
            return Ok(SourceSpec::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if let Some(name) = spec.strip_prefix("trail:") {
            if name.is_empty() {
                return Err(invalid("no trail name after trail:"));
            }
            return Ok(SourceSpec::Trail(name.to_owned()));
        }
        if spec.starts_with("arn:") && spec.contains(":cloudtrail:") {
            return Ok(SourceSpec::Trail(spec.to_owned()));
        }
        if spec.contains("://") {
            return Err(invalid(
                "unknown URL scheme; use a local path, s3://bucket/prefix or trail:NAME",
            ));
        }
        Ok(SourceSpec::Local(PathBuf::from(spec)))
    }
}

/// Where one object's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A local file.
    Local(PathBuf),
    /// An S3 object.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
}

/// One log file to read.
#[derive(Debug, Clone)]
pub struct LogObject {
    /// Where its bytes are.
    pub location: Location,
    /// Size in bytes, as listed.
    pub size: u64,
    /// Facts from its name, shared by every row.
    pub context: FileContext,
    /// What changes when the object is rewritten: an S3 object's ETag, a local file's
    /// modification time (nanoseconds since the epoch); `None` when unknown.
    pub revision: Option<String>,
}

impl LogObject {
    /// A log object at `location`, named `log_file` in results.
    pub fn new(location: Location, log_file: String, size: u64) -> Self {
        LogObject {
            location,
            size,
            context: FileContext::new(log_file),
            revision: None,
        }
    }

    /// The same object, with what changes when it is rewritten (see [`LogObject::revision`]).
    pub fn with_revision(self, revision: Option<String>) -> Self {
        LogObject { revision, ..self }
    }

    /// The key's parts.
    pub fn key(&self) -> &LogKey {
        &self.context.key
    }

    /// Whether reading it goes over the network.
    pub fn is_remote(&self) -> bool {
        matches!(self.location, Location::S3 { .. })
    }

    /// Whether the file is expected to be gzip (by name).
    pub fn named_gzip(&self) -> bool {
        self.context.log_file.ends_with(".gz")
    }
}

/// Counts of objects not read, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Digest, insight and non-JSON objects.
    pub by_name: usize,
    /// Files whose key the filters rule out.
    pub by_filter: usize,
    /// S3 folders not listed because the filters rule out everything under them.
    pub folders: usize,
}

/// Reads objects' bytes: local files, or S3 objects with one client per bucket. The first S3
/// objects listed are downloaded while the listing goes on ([`Fetcher::start_early`]), so the
/// first GETs do not wait for the last LIST.
#[derive(Debug, Clone, Default)]
pub struct Fetcher {
    s3: HashMap<String, aws_sdk_s3::Client>,
    early: Arc<std::sync::Mutex<EarlyGets>>,
}

/// A download started while listing.
type EarlyGet = tokio::task::JoinHandle<std::result::Result<(Bytes, UserMetadata), FileError>>;

/// Downloads started while listing, by location, and the bytes they may take.
#[derive(Debug, Default)]
struct EarlyGets {
    started: HashMap<Location, EarlyGet>,
    bytes: u64,
}

/// Compressed bytes downloaded ahead of the scan while listing, at most.
pub const EARLY_GET_BYTES: u64 = 32 << 20;
/// Downloads started while listing, at most.
pub const EARLY_GETS: usize = 64;

/// An object's bytes, a local file for the decoding thread to read itself (saving a hand-off
/// between threads per file), or a large S3 object arriving as it is read.
#[derive(Debug)]
pub enum Fetched {
    /// Downloaded bytes (the SDK's buffer, not copied).
    Bytes(Bytes),
    /// A local file, not read yet.
    LocalFile(PathBuf),
    /// A large S3 object, streamed as it is read.
    Stream(s3::BodyReader),
}

/// Bytes read from a local file at a time.
const LOCAL_READ_BUFFER: usize = 256 << 10;

impl Fetched {
    /// The file's bytes as a reader (a local file is opened now and read as it is consumed,
    /// never whole).
    pub fn open(self) -> std::result::Result<Box<dyn BufRead + Send>, FileError> {
        match self {
            Fetched::Bytes(bytes) => Ok(Box::new(std::io::Cursor::new(bytes))),
            Fetched::Stream(reader) => Ok(Box::new(reader)),
            Fetched::LocalFile(path) => match std::fs::File::open(&path) {
                Ok(file) => Ok(Box::new(BufReader::with_capacity(LOCAL_READ_BUFFER, file))),
                Err(source) => Err(FileError::ReadLocal {
                    path: path.display().to_string(),
                    source,
                }),
            },
        }
    }
}

/// S3 user metadata (`x-amz-meta-NAME`, by NAME).
pub type UserMetadata = HashMap<String, String>;

impl Fetcher {
    /// A fetcher reading S3 buckets with these clients (by bucket name) and local files.
    pub fn with_s3_clients(s3: HashMap<String, aws_sdk_s3::Client>) -> Fetcher {
        Fetcher {
            s3,
            ..Fetcher::default()
        }
    }

    /// The Region each bucket's client calls (`None`: the SDK's default), by bucket.
    pub fn bucket_regions(&self) -> std::collections::BTreeMap<String, Option<String>> {
        self.s3
            .iter()
            .map(|(bucket, client)| {
                let region = client.config().region().map(|r| r.to_string());
                (bucket.clone(), region)
            })
            .collect()
    }

    /// Downloads a remote object; local files are left for [`Fetched::open`].
    pub async fn fetch(&self, object: &LogObject) -> std::result::Result<Fetched, FileError> {
        self.fetch_with_metadata(object)
            .await
            .map(|(fetched, _)| fetched)
    }

    /// Like [`Fetcher::fetch`], with the object's S3 user metadata (`None` for a local file,
    /// which has none).
    pub async fn fetch_with_metadata(
        &self,
        object: &LogObject,
    ) -> std::result::Result<(Fetched, Option<UserMetadata>), FileError> {
        let (bucket, key) = match &object.location {
            Location::Local(path) => return Ok((Fetched::LocalFile(path.clone()), None)),
            Location::S3 { bucket, key } => (bucket, key),
        };
        if let Some(early) = self.take_early(&object.location) {
            return match early.await {
                Ok(got) => got.map(|(body, metadata)| (Fetched::Bytes(body), Some(metadata))),
                Err(e) => Err(FileError::Fetch {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    source: format!("the download task failed: {e}").into(),
                }),
            };
        }
        match self.s3.get(bucket) {
            Some(client) if object.size > s3::STREAM_ABOVE => s3::stream(client, bucket, key)
                .await
                .map(|(body, metadata)| (Fetched::Stream(body), Some(metadata))),
            Some(client) => s3::get(client, bucket, key)
                .await
                .map(|(body, metadata)| (Fetched::Bytes(body), Some(metadata))),
            None => Err(FileError::Fetch {
                bucket: bucket.clone(),
                key: key.clone(),
                source: "no S3 client for this bucket (a bug: the listing makes one)".into(),
            }),
        }
    }
}

impl Fetcher {
    /// Starts downloading `object` now, if it is an S3 object small enough to be downloaded
    /// whole and the early budget ([`EARLY_GETS`], [`EARLY_GET_BYTES`]) allows.
    fn start_early(&self, object: &LogObject) {
        let Location::S3 { bucket, key } = &object.location else {
            return;
        };
        let Some(client) = self.s3.get(bucket).cloned() else {
            return;
        };
        let mut early = self.early();
        if object.size > s3::STREAM_ABOVE
            || early.started.len() >= EARLY_GETS
            || early.bytes + object.size > EARLY_GET_BYTES
            || early.started.contains_key(&object.location)
        {
            return;
        }
        early.bytes += object.size;
        let (bucket, key) = (bucket.clone(), key.clone());
        let task = tokio::spawn(async move { s3::get(&client, &bucket, &key).await });
        early.started.insert(object.location.clone(), task);
    }

    /// The downloads started while listing. A poisoned lock only means another thread
    /// panicked; the map stays valid.
    fn early(&self) -> std::sync::MutexGuard<'_, EarlyGets> {
        self.early.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the early budget ([`EARLY_GETS`], [`EARLY_GET_BYTES`]) is spent.
    fn early_budget_spent(&self) -> bool {
        let early = self.early();
        early.started.len() >= EARLY_GETS || early.bytes >= EARLY_GET_BYTES
    }

    /// The download started early for `location`, if any (taken: a second read fetches again).
    fn take_early(&self, location: &Location) -> Option<EarlyGet> {
        self.early().started.remove(location)
    }

    /// Whether `object` was downloaded (or is downloading) ahead of the scan.
    pub fn started_early(&self, object: &LogObject) -> bool {
        self.early().started.contains_key(&object.location)
    }

    /// Stops the early downloads of objects the listing dropped.
    fn cancel_early(&self, location: &Location) {
        if let Some(task) = self.take_early(location) {
            task.abort();
        }
    }
}

/// The result of listing every source.
#[derive(Debug, Default)]
pub struct Listing {
    /// The files to read, in a stable order.
    pub objects: Vec<Arc<LogObject>>,
    /// What was skipped, and why.
    pub skipped: Skipped,
    /// Parts of a source that could not be listed (stage `fetch`).
    pub errors: Vec<LoadError>,
    /// How to read the listed objects.
    pub fetcher: Fetcher,
    /// Digest files, when listing for verification ([`list_with_digests`]).
    pub digests: Vec<Arc<LogObject>>,
    /// The trails `trail:NAME` sources resolved to, by ARN (by name when CloudTrail gives no ARN).
    pub trails: Vec<String>,
    /// Whether digest files are kept (in [`Listing::digests`]) rather than skipped.
    keep_digests: bool,
    /// Local files listed so far, by identity on disk (a file reached by two paths is read once).
    local_files: std::collections::HashSet<local::FileIdentity>,
}

impl Listing {
    /// Adds a listed object, classifying it by key. `explicit` objects were named directly by
    /// the user and are read whatever their name, unless they are digests or insights.
    pub fn offer(&mut self, object: LogObject, explicit: bool) {
        match key::classify(&object.context.log_file) {
            KeyKind::Log => {}
            KeyKind::Digest if self.keep_digests => {
                self.digests.push(Arc::new(object));
                return;
            }
            KeyKind::Other if explicit => {}
            KeyKind::Digest | KeyKind::Insight | KeyKind::Other => {
                tracing::debug!(file = %object.context.log_file, "skipped by name");
                self.skipped.by_name += 1;
                return;
            }
        }
        self.objects.push(Arc::new(object));
    }

    /// Starts downloading the log objects listed since `first` (those `keys` keeps), within the
    /// early budget, while listing goes on.
    pub fn start_early_gets(&self, first: usize, keys: Option<&KeyPredicate>) {
        let Some(new) = self.objects.get(first..) else {
            return;
        };
        // Past the budget, the listing is not slowed by judging keys for nothing.
        if new.is_empty() || self.fetcher.early_budget_spent() {
            return;
        }
        let keep = match keys {
            Some(keys) => keys.keep_keys(new.iter().map(|o| o.key())),
            None => vec![true; new.len()],
        };
        for (object, kept) in new.iter().zip(keep) {
            if kept {
                self.fetcher.start_early(object);
            }
        }
    }

    /// Whether the files under a folder are wanted: log folders, and digest folders when
    /// listing for verification.
    pub fn wants_folder(&self, scope: &key::PrefixScope) -> bool {
        scope.may_hold_logs()
            || (self.keep_digests && scope.folder.as_deref() == Some("CloudTrail-Digest"))
    }

    /// Drops files listed twice, keeps those `keys` allows, in a stable order.
    fn settle(&mut self, keys: Option<&KeyPredicate>) {
        let mut seen = std::collections::HashSet::new();
        self.objects.retain(|o| seen.insert(o.location.clone()));
        self.digests.retain(|o| seen.insert(o.location.clone()));
        self.digests
            .sort_by(|a, b| a.context.log_file.cmp(&b.context.log_file));
        if let Some(keys) = keys {
            let keep = keys.keep_keys(self.objects.iter().map(|o| o.key()));
            let listed = self.objects.len();
            let mut keep = keep.into_iter();
            let fetcher = &self.fetcher;
            self.objects.retain(|o| {
                let kept = keep.next().unwrap_or(true);
                if !kept {
                    tracing::debug!(file = %o.context.log_file, "skipped by key filter");
                    fetcher.cancel_early(&o.location);
                }
                kept
            });
            self.skipped.by_filter += listed - self.objects.len();
        }
        self.objects
            .sort_by(|a, b| a.context.log_file.cmp(&b.context.log_file));
    }
}

/// Lists every source, dropping files listed twice and files (and S3 folders) that `keys` rules
/// out. AWS configuration is loaded only when a source needs it.
pub async fn list(
    specs: &[SourceSpec],
    keys: Option<&KeyPredicate>,
    aws_options: &aws::AwsOptions,
) -> Result<Listing> {
    list_into(Listing::default(), specs, keys, aws_options).await
}

/// Like [`list`], keeping digest files (in [`Listing::digests`]; `keys` prunes their folders by
/// account, Region and date) for verification.
pub async fn list_with_digests(
    specs: &[SourceSpec],
    keys: Option<&KeyPredicate>,
    aws_options: &aws::AwsOptions,
) -> Result<Listing> {
    let listing = Listing {
        keep_digests: true,
        ..Listing::default()
    };
    list_into(listing, specs, keys, aws_options).await
}

async fn list_into(
    mut listing: Listing,
    specs: &[SourceSpec],
    keys: Option<&KeyPredicate>,
    aws_options: &aws::AwsOptions,
) -> Result<Listing> {
    let needs_aws = specs.iter().any(|s| !matches!(s, SourceSpec::Local(_)));
    let config = match needs_aws {
        true => Some(aws::load(aws_options).await),
        false => None,
    };
    for spec in specs {
        let (bucket, prefix) = match (spec, &config) {
            (SourceSpec::Local(path), _) => {
                local::list(path, &mut listing).await?;
                continue;
            }
            (SourceSpec::S3 { bucket, prefix }, Some(_)) => (bucket.clone(), prefix.clone()),
            (SourceSpec::Trail(name), Some(config)) => {
                let client = aws_sdk_cloudtrail::Client::new(config);
                let trail = trail::resolve(&client, name).await?;
                tracing::info!(
                    trail = trail.name,
                    bucket = trail.bucket,
                    prefix = trail.prefix,
                    "resolved trail"
                );
                listing
                    .trails
                    .push(trail.arn.clone().unwrap_or_else(|| trail.name.clone()));
                (trail.bucket, trail.prefix)
            }
            (_, None) => continue,
        };
        let Some(config) = &config else { continue };
        if !listing.fetcher.s3.contains_key(&bucket) {
            let client = s3::client_for_bucket(config, &bucket).await;
            listing.fetcher.s3.insert(bucket.clone(), client);
        }
        if let Some(client) = listing.fetcher.s3.get(&bucket).cloned() {
            s3::list(&client, &bucket, &prefix, keys, &mut listing).await;
        }
    }
    listing.settle(keys);
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(
            SourceSpec::parse("sample-data").unwrap(),
            SourceSpec::Local("sample-data".into())
        );
        assert_eq!(
            SourceSpec::parse("s3://b/AWSLogs/").unwrap(),
            SourceSpec::S3 {
                bucket: "b".into(),
                prefix: "AWSLogs/".into()
            }
        );
        assert_eq!(
            SourceSpec::parse("s3://b").unwrap(),
            SourceSpec::S3 {
                bucket: "b".into(),
                prefix: "".into()
            }
        );
        assert_eq!(
            SourceSpec::parse("trail:org").unwrap(),
            SourceSpec::Trail("org".into())
        );
        let arn = "arn:aws:cloudtrail:us-east-1:111122223333:trail/org";
        assert_eq!(
            SourceSpec::parse(arn).unwrap(),
            SourceSpec::Trail(arn.into())
        );
        for bad in ["", "s3://", "s3:///x", "trail:", "gs://bucket/x"] {
            assert!(SourceSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
