//! `trailmap verify`: CloudTrail's signed digest chain checked in full, for every (trail,
//! account, Region) chain in range at once.
//!
//! Every digest in range is read and checked on its own (in place, signed with a CloudTrail key)
//! and against its successor (its SHA-256 and signature as the successor records them). Every
//! log file a digest names is hashed (SHA-256 of the inflated first gzip member) and compared;
//! every log file present in range that no digest names is `unlisted`; every stretch of time
//! no valid digest covers is a gap, measured in hours, at the ends of the range too.
//!
//! Signatures live in S3 object metadata, which a download does not keep: a local copy is
//! checked with signatures saved from S3 ([`signatures`]), or along the hash chain only, and
//! then says so ([`Signatures::LocalCopy`]) and is not "verified".
//!
//! The range is anchored by something other than the digests under test: `--from/--to`, or
//! for S3 the time of the run; a chain's oldest digest either starts the chain or has its
//! predecessor. A local copy without `--to` cannot anchor its tail, and is not "verified".

pub mod chain;
pub mod digest;
pub mod hash;
pub mod keys;
pub mod signatures;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Utc};
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use serde::Serialize;

use crate::error::{DecodeError, FileError, LoadError, LoadStage, Result};
use crate::filter::ScanFilter;
use crate::layout::pruning::KeyPredicate;
use crate::pool::on_rayon;
use crate::schema::INTEGRITY_COLUMNS;
use crate::source::aws::{self, AwsOptions};
use crate::source::{self, Fetched, Fetcher, Location, LogObject, SourceSpec};
use chain::{
    DIGEST_GRACE, DIGEST_PERIOD, DigestStatus, FoundDigest, FoundLog, Gap, Judgement, LogStatus,
    LogVerdict, Range, ReadDigest,
};
use digest::{Digest, DigestKey, format_digest_time};
use hash::hash_inflated;
use keys::PublicKeys;
use signatures::{SignatureFile, SignatureSource};

/// Objects fetched and hashed at once.
const CONCURRENCY: usize = 32;

/// What to verify and with which keys.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// `--from/--to/--account/--source-region`: `--from/--to` bound the range verified (by
    /// delivery time); without them the range is what the digests found cover.
    pub filter: ScanFilter,
    /// `--public-keys`: the JSON of `aws cloudtrail list-public-keys` (else CloudTrail's
    /// `ListPublicKeys` in each trail's home Region, when a digest was read from S3).
    pub public_keys: Option<PathBuf>,
    /// `--max-file-size`: a file inflating past this is unreadable, not hashed to the end.
    pub max_file_size: u64,
    /// `--signatures FILE` or `--signatures-from s3://BUCKET`: signatures for a local copy's
    /// digests.
    pub signatures: Option<SignatureSource>,
    /// Whether the range runs to `--to` plus the delivery margin: what a query, report or audit
    /// up to `--to` reads (files delivered that late may hold events up to `--to`), so the chain
    /// must cover it too. `trailmap verify` itself ends at `--to`.
    pub through_delivery_margin: bool,
}

/// How signatures were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signatures {
    /// Every digest came from S3 and its signature was checked.
    Verified,
    /// Every digest's signature was checked, some or all of them given for a local copy
    /// (`--signatures`, `--signatures-from`).
    VerifiedGiven,
    /// No digest had a signature to check (a local copy without `--signatures`): hashes only.
    LocalCopy,
    /// Some digests had a signature to check, others not.
    Mixed,
    /// No digest was found.
    None,
}

impl Signatures {
    /// The line in reports.
    pub fn describe(self) -> &'static str {
        match self {
            Signatures::Verified => "verified (S3 metadata)",
            Signatures::VerifiedGiven => "verified (signatures given for the local copy)",
            Signatures::LocalCopy => {
                "not checked (local copy: hash chain only; pass --signatures or --signatures-from)"
            }
            Signatures::Mixed => "checked for some digests only; the others are hash chain only",
            Signatures::None => "none (no digest files found)",
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The verdicts.
    pub judgement: Judgement,
    /// How signatures were checked.
    pub signatures: Signatures,
    /// Objects that could not be listed or read.
    pub errors: Vec<LoadError>,
    /// Inflated bytes hashed (log files and digests).
    pub hashed_bytes: u64,
    /// The signatures of the digests read from S3 and the keys that checked them, for
    /// `--save-signatures`.
    pub saved: SignatureFile,
}

/// Counts by status name.
pub type StatusCounts = BTreeMap<&'static str, usize>;

/// What a verification concluded, in a few numbers (for the audit and the report).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntegritySummary {
    /// Everything in range verified.
    pub verified: bool,
    /// How signatures were checked (in JSON, as [`Signatures::describe`] says it).
    #[serde(serialize_with = "describe_signatures")]
    pub signatures: Signatures,
    /// Digests by status.
    pub digests: StatusCounts,
    /// Log files by status.
    pub log_files: StatusCounts,
    /// Log files valid.
    pub log_files_valid: usize,
    /// Log files judged.
    pub log_files_total: usize,
    /// Hours no valid digest covers.
    pub gap_hours: f64,
    /// Objects that could not be read.
    pub errors: usize,
    /// Whether the end of the range was fixed by `--to` or the time of the run (not for a
    /// local copy without `--to`).
    pub anchored: bool,
}

fn describe_signatures<S: serde::Serializer>(
    signatures: &Signatures,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(signatures.describe())
}

impl IntegritySummary {
    /// One sentence for a report's headline: how many log files verified, against what.
    pub fn headline(&self) -> String {
        let against = match self.signatures {
            Signatures::Verified | Signatures::VerifiedGiven => "against signed digests",
            Signatures::LocalCopy => "along the digest hash chain only (signatures not checked)",
            Signatures::Mixed | Signatures::None => "against digests",
        };
        let mut text = format!(
            "{} of {} log files verified {against}",
            self.log_files_valid, self.log_files_total
        );
        if let Some(pending) = self.log_files.get(LogStatus::Pending.as_str()) {
            text.push_str(&format!("; {pending} too new for a digest (pending)"));
        }
        if self.gap_hours > 0.0 {
            text.push_str(&format!(
                "; {} hour(s) no valid digest covers",
                self.gap_hours
            ));
        }
        if !self.anchored {
            text.push_str(UNANCHORED);
        }
        if !self.verified {
            text.push_str(" (trailmap verify lists every problem)");
        }
        text
    }
}

/// The status of a log file that was read but that no digest judged.
pub const UNJUDGED: &str = "unjudged";

/// The status of a valid log file whose text was not hashed as it was read (on a cluster the
/// executors decode it), so the bytes used cannot be tied to the digest.
pub const UNHASHED: &str = "unhashed";

/// The status of a valid log file whose text, hashed as it was read, is not the text its digest
/// names: it changed between the read and the verification (or while it was read).
pub const READ_DIFFERS: &str = "read-differs";

/// The integrity status of a log file as a session read it (`read_sha256`: the SHA-256 of the
/// text decoded, when it was hashed): its verdict's, unless the text used is not the text its
/// digest names.
pub fn status_as_read(verdict: Option<&LogVerdict>, read_sha256: Option<[u8; 32]>) -> &'static str {
    let Some(verdict) = verdict else {
        return UNJUDGED;
    };
    if verdict.status != LogStatus::Valid {
        return verdict.status.as_str();
    }
    match (read_sha256, &verdict.sha256) {
        (None, _) => UNHASHED,
        (Some(read), Some(named)) if hex::encode(read).eq_ignore_ascii_case(named) => {
            LogStatus::Valid.as_str()
        }
        _ => READ_DIFFERS,
    }
}

/// What a range without an anchored end cannot show.
pub const UNANCHORED: &str =
    "; a local copy cannot show that its newest digests and log files were not removed: pass --to";

impl Verification {
    /// Whether everything in range verified: something found, every digest and log file valid
    /// (or pending), no gap, no error, and the end of the range anchored. Nothing found is
    /// never verified.
    pub fn is_verified(&self) -> bool {
        !self.is_empty()
            && self.errors.is_empty()
            && !self.has_problems()
            && self.judgement.anchored
    }

    /// Whether any integrity problem was found (a digest or log file neither valid nor
    /// pending, or a gap).
    pub fn has_problems(&self) -> bool {
        let j = &self.judgement;
        j.digests.iter().any(|d| d.status != DigestStatus::Valid)
            || j.log_files
                .iter()
                .any(|l| !matches!(l.status, LogStatus::Valid | LogStatus::Pending))
            || !j.gaps.is_empty()
    }

    /// Whether the only problems are a local copy's signatures not being checked: the hash
    /// chain itself is consistent.
    pub fn only_signatures_unchecked(&self) -> bool {
        let j = &self.judgement;
        !self.is_empty()
            && self.signatures == Signatures::LocalCopy
            && j.gaps.is_empty()
            && j.digests.iter().all(|d| d.status == DigestStatus::Unsigned)
            && j.log_files.iter().all(|l| {
                matches!(
                    l.status,
                    LogStatus::Unsigned | LogStatus::Pending | LogStatus::Valid
                )
            })
    }

    /// The verdict of each log file judged, by name.
    pub fn verdicts(&self) -> std::collections::HashMap<&str, &LogVerdict> {
        self.judgement
            .log_files
            .iter()
            .map(|l| (l.log_file.as_str(), l))
            .collect()
    }

    /// Whether nothing at all was found to verify.
    pub fn is_empty(&self) -> bool {
        self.judgement.digests.is_empty() && self.judgement.log_files.is_empty()
    }

    /// Digests by status.
    pub fn digest_counts(&self) -> StatusCounts {
        count(self.judgement.digests.iter().map(|d| d.status.as_str()))
    }

    /// Log files by status.
    pub fn log_counts(&self) -> StatusCounts {
        count(self.judgement.log_files.iter().map(|l| l.status.as_str()))
    }

    /// The numbers of the verdict.
    pub fn summary(&self) -> IntegritySummary {
        let log_files = &self.judgement.log_files;
        IntegritySummary {
            verified: self.is_verified(),
            signatures: self.signatures,
            digests: self.digest_counts(),
            log_files: self.log_counts(),
            log_files_valid: log_files
                .iter()
                .filter(|l| l.status == LogStatus::Valid)
                .count(),
            log_files_total: log_files.len(),
            gap_hours: self.gap_hours(),
            errors: self.errors.len(),
            anchored: self.judgement.anchored,
        }
    }

    /// The time in which trail events could explain a gap (`None` without gaps): only events
    /// then need reading.
    pub fn explaining_span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let gaps = &self.judgement.gaps;
        let from = gaps.iter().map(|g| g.span.0).min()?;
        let to = gaps.iter().map(|g| g.span.1).max()?;
        Some((from - EXPLAIN_SLACK, to + EXPLAIN_SLACK))
    }

    /// Hours no valid digest covers.
    pub fn gap_hours(&self) -> f64 {
        self.judgement
            .gaps
            .iter()
            .map(|g| g.hours)
            .fold(0.0, |a, b| a + b)
    }

    /// The verdict of each log file, as the `integrity` table.
    pub fn integrity_batch(&self) -> Result<RecordBatch> {
        let rows = &self.judgement.log_files;
        let text = |f: &dyn Fn(&LogVerdict) -> Option<&str>| {
            Arc::new(StringArray::from_iter(rows.iter().map(f)))
        };
        Ok(RecordBatch::try_new(
            integrity_schema(),
            vec![
                text(&|r| Some(&r.log_file)),
                text(&|r| Some(r.status.as_str())),
                text(&|r| r.digest_file.as_deref()),
                text(&|r| r.reason.as_deref()),
            ],
        )?)
    }
}

/// The columns of the `integrity` table ([`INTEGRITY_COLUMNS`]).
pub fn integrity_schema() -> SchemaRef {
    Arc::new(Schema::new(
        INTEGRITY_COLUMNS
            .iter()
            .map(|c| {
                let nullable = matches!(c.name, "digest_file" | "reason");
                Field::new(c.name, DataType::Utf8, nullable)
            })
            .collect::<Vec<_>>(),
    ))
}

fn count(names: impl Iterator<Item = &'static str>) -> StatusCounts {
    let mut counts = StatusCounts::new();
    for name in names {
        *counts.entry(name).or_default() += 1;
    }
    counts
}

/// A CloudTrail management event that changes a trail's logging, for explaining gaps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailEvent {
    /// `eventTime`.
    pub time: DateTime<Utc>,
    /// `StopLogging`, `StartLogging`, `UpdateTrail` or `DeleteTrail`.
    pub name: String,
    /// `requestParameters.name`: the trail's name or ARN.
    pub trail: String,
}

/// The events that change a trail's logging.
pub const TRAIL_EVENTS: [&str; 4] = ["StopLogging", "StartLogging", "UpdateTrail", "DeleteTrail"];

/// How far before or after a gap a trail event may explain it.
const EXPLAIN_SLACK: Duration = Duration::hours(1);

/// Notes on each gap the trail events within an hour of it.
pub fn explain_gaps(gaps: &mut [Gap], events: &[TrailEvent]) {
    for gap in gaps {
        let (from, to) = gap.span;
        gap.explained_by = events
            .iter()
            .filter(|e| {
                (e.trail == gap.trail || e.trail.ends_with(&format!(":trail/{}", gap.trail)))
                    && e.time >= from - EXPLAIN_SLACK
                    && e.time <= to + EXPLAIN_SLACK
            })
            .map(|e| format!("{} {}", e.name, format_digest_time(e.time)))
            .collect();
    }
}

/// Live counters of a verification under way, for a progress display.
#[derive(Debug, Default)]
pub struct VerifyProgress {
    listed: AtomicUsize,
    done: AtomicUsize,
    bytes: AtomicU64,
}

impl VerifyProgress {
    /// Objects listed (0 while listing), objects read so far, inflated bytes hashed so far.
    pub fn snapshot(&self) -> (usize, usize, u64) {
        (
            self.listed.load(Ordering::Relaxed),
            self.done.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }

    fn read_one(&self, bytes: u64) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Lists the sources (digests included), reads every digest and hashes every log file, and
/// judges them; `progress` counts as it goes.
pub async fn verify(
    specs: &[SourceSpec],
    options: &VerifyOptions,
    aws_options: &AwsOptions,
    progress: &VerifyProgress,
) -> Result<Verification> {
    options.filter.validate()?;
    // Listed from two digest periods (and a grace) before --from: the digests judged (those
    // ending after a period before --from) name files delivered up to two periods before it.
    let listed = ScanFilter {
        from: options
            .filter
            .from
            .map(|from| from - DIGEST_PERIOD * 2 - DIGEST_GRACE),
        ..options.filter.clone()
    };
    let key_filters: Vec<_> = listed.key_expr().into_iter().collect();
    let listing_margin = options.filter.delivery_margin + Duration::hours(2);
    let keys = KeyPredicate::new(&key_filters, listing_margin, &SessionContext::new().state())?;
    let listing = source::list_with_digests(specs, keys.as_ref(), aws_options).await?;
    let mut errors = listing.errors.clone();
    let fetcher = &listing.fetcher;
    let filter = &options.filter;
    let mut digest_objects: Vec<(Arc<LogObject>, DigestKey)> = Vec::new();
    for object in &listing.digests {
        match DigestKey::parse(&object.context.log_file) {
            Some(key) if filter.keeps_origin(Some(&key.chain.account), Some(&key.chain.region)) => {
                digest_objects.push((Arc::clone(object), key));
            }
            Some(_) => {}
            // In a digest folder but not named as a digest: it cannot be placed in a chain.
            None => errors.push(LoadError::new(
                object.context.log_file.clone(),
                LoadStage::Schema,
                "in a CloudTrail-Digest folder but not named ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_TIME.json.gz: it cannot be placed in a chain",
            )),
        }
    }
    let log_objects: Vec<Arc<LogObject>> = listing
        .objects
        .iter()
        .filter(|o| filter.keeps_origin(o.key().account.as_deref(), o.key().region.as_deref()))
        .cloned()
        .collect();

    progress
        .listed
        .store(digest_objects.len() + log_objects.len(), Ordering::Relaxed);
    let mut hashed_bytes = 0;
    let mut digests: Vec<FoundDigest> = futures::stream::iter(digest_objects)
        .map(|(object, key)| read_digest(fetcher, object, key))
        .buffer_unordered(CONCURRENCY)
        .inspect(|(_, bytes, _)| progress.read_one(*bytes))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|(found, bytes, error)| {
            hashed_bytes += bytes;
            errors.extend(error);
            found
        })
        .collect();

    let max = options.max_file_size;
    let logs: BTreeMap<String, FoundLog> = futures::stream::iter(log_objects)
        .map(|object| hash_log(fetcher, object, max))
        .buffer_unordered(CONCURRENCY)
        .inspect(|(_, found, _)| {
            let bytes = found.hashed.as_ref().map_or(0, |h| h.inflated_bytes);
            progress.read_one(bytes);
        })
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|(name, found, error)| {
            if let Ok(hashed) = &found.hashed {
                hashed_bytes += hashed.inflated_bytes;
            }
            errors.extend(error);
            (name, found)
        })
        .collect();

    match &options.signatures {
        // The file's own keys are never trusted: whoever could forge the copy could forge the
        // file. The signatures are checked with CloudTrail's keys, as for S3.
        Some(SignatureSource::File(path)) => SignatureFile::load(path)?.attach(&mut digests),
        Some(SignatureSource::S3 { bucket }) => {
            errors.extend(signatures::attach_from_s3(&mut digests, bucket, aws_options).await);
        }
        None => {}
    }
    let public_keys = public_keys(&digests, options, aws_options).await?;
    let everything_in_s3 = specs.iter().all(|s| !matches!(s, SourceSpec::Local(_)));
    let late = match options.through_delivery_margin {
        true => options.filter.delivery_margin,
        false => Duration::zero(),
    };
    let range = Range {
        from: options.filter.from,
        to: options.filter.to.map(|to| to + late),
        listed_until: options.filter.to.map(|to| to + listing_margin),
        now: everything_in_s3.then(Utc::now),
    };
    let judgement = chain::judge(&digests, &logs, &public_keys, range);
    errors.sort_by(|a, b| a.log_file.cmp(&b.log_file));
    Ok(Verification {
        judgement,
        signatures: signatures(&digests),
        errors,
        hashed_bytes,
        saved: SignatureFile::of(&digests, &public_keys)?,
    })
}

/// Whether a digest has a signature to check: read from S3, or given for a local copy.
fn has_signature(digest: &FoundDigest) -> bool {
    !digest.is_local() || digest.content.as_ref().is_ok_and(|r| r.signature.is_some())
}

fn signatures(digests: &[FoundDigest]) -> Signatures {
    let signed = digests.iter().filter(|d| has_signature(d)).count();
    let from_s3 = digests.iter().filter(|d| !d.is_local()).count();
    match (signed, digests.len()) {
        (_, 0) => Signatures::None,
        (0, _) => Signatures::LocalCopy,
        (signed, all) if signed == all && from_s3 == all => Signatures::Verified,
        (signed, all) if signed == all => Signatures::VerifiedGiven,
        _ => Signatures::Mixed,
    }
}

/// CloudTrail's public keys for the digests with a signature: `--public-keys`, else asked of
/// CloudTrail in each trail's home Region.
async fn public_keys(
    digests: &[FoundDigest],
    options: &VerifyOptions,
    aws_options: &AwsOptions,
) -> Result<PublicKeys> {
    if let Some(path) = &options.public_keys {
        return PublicKeys::from_file(path);
    }
    let signed: Vec<&FoundDigest> = digests.iter().filter(|d| has_signature(d)).collect();
    let times: Vec<DateTime<Utc>> = signed.iter().map(|d| d.key.time).collect();
    let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
        return Ok(PublicKeys::default());
    };
    let home_regions: BTreeSet<&str> = signed
        .iter()
        .map(|d| d.key.chain.home_region.as_str())
        .collect();
    let config = aws::load(aws_options).await;
    let mut keys = PublicKeys::default();
    for region in home_regions {
        let (start, end) = (*first - Duration::days(1), *last + Duration::days(1));
        keys.extend(PublicKeys::fetch(&config, region, start, end).await?);
    }
    Ok(keys)
}

/// Fetches and reads one digest: its inflated bytes hashed, its JSON parsed, its signature
/// metadata kept. Returns the bytes hashed and a load error if it could not be fetched.
async fn read_digest(
    fetcher: &Fetcher,
    object: Arc<LogObject>,
    key: DigestKey,
) -> (FoundDigest, u64, Option<LoadError>) {
    let bucket = match &object.location {
        Location::S3 { bucket, .. } => Some(bucket.clone()),
        Location::Local(_) => None,
    };
    let file = object.context.log_file.clone();
    let outcome = match fetcher.fetch_with_metadata(&object).await {
        Ok((fetched, metadata)) => {
            let signature = metadata.and_then(|mut m| m.remove("signature"));
            let file = file.clone();
            on_rayon(file.clone(), move || {
                inflate_digest(&file, fetched, signature)
            })
            .await
        }
        Err(e) => Err(e),
    };
    let (content, bytes, error) = match outcome {
        Ok((read, bytes)) => (Ok(read), bytes, None),
        Err(e) => {
            let error = LoadError::of_file(file.clone(), &e);
            (Err(error.message.clone()), 0, Some(error))
        }
    };
    (
        FoundDigest {
            file,
            bucket,
            key,
            content,
        },
        bytes,
        // A digest that is there but not a digest is a finding (`invalid`), not a read error.
        error.filter(|e| e.stage == LoadStage::Fetch),
    )
}

/// The largest digest file read: a digest names an hour of log files, a few hundred KB at most.
const MAX_DIGEST_SIZE: u64 = 256 << 20;

fn inflate_digest(
    file: &str,
    fetched: Fetched,
    signature: Option<String>,
) -> std::result::Result<(ReadDigest, u64), FileError> {
    let failed = |e: DecodeError| FileError::decode(file, e);
    let input = fetched.open()?;
    let mut text = crate::decode::gzip::JsonText::open(input, true).map_err(failed)?;
    let mut bytes = Vec::new();
    (&mut text)
        .take(MAX_DIGEST_SIZE)
        .read_to_end(&mut bytes)
        .map_err(|e| failed(crate::decode::gzip::read_error(e)))?;
    let sha256 = hash::sha256_hex(&bytes);
    let digest: Digest = serde_json::from_slice(&bytes).map_err(|e| {
        failed(DecodeError::new(
            LoadStage::Schema,
            format!("not a CloudTrail digest: {e}"),
        ))
    })?;
    Ok((
        ReadDigest {
            digest,
            sha256,
            signature,
        },
        bytes.len() as u64,
    ))
}

/// Fetches and hashes one log file on the rayon pool.
async fn hash_log(
    fetcher: &Fetcher,
    object: Arc<LogObject>,
    max_file_size: u64,
) -> (String, FoundLog, Option<LoadError>) {
    let name = object.context.log_file.clone();
    let delivered = object.key().delivered;
    let origin = object
        .key()
        .account
        .clone()
        .zip(object.key().region.clone());
    let hashed = match fetcher.fetch(&object).await {
        Ok(fetched) => {
            let object = Arc::clone(&object);
            on_rayon(name.clone(), move || {
                let input = fetched.open()?;
                hash_inflated(input, object.named_gzip(), max_file_size)
                    .map_err(|e| FileError::decode(&object.context.log_file, e))
            })
            .await
        }
        Err(e) => Err(e),
    };
    let (hashed, error) = match hashed {
        Ok(hashed) => (Ok(hashed), None),
        Err(e) => {
            let error = LoadError::of_file(name.clone(), &e);
            (Err(error.to_string()), Some(error))
        }
    };
    (
        name,
        FoundLog {
            delivered,
            origin,
            hashed,
        },
        error,
    )
}
