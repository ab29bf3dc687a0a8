//! The verdicts: each digest on its own and linked to its predecessor, each log file against
//! the digests that name it, and the stretches of time no valid digest covers.
//!
//! Pure logic over what was read, so every tamper case is a unit test.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use serde::Serialize;

use super::digest::{ChainId, Digest, DigestKey, format_digest_time};
use super::hash::Hashed;
use super::keys::{PublicKeys, SignatureCheck};

/// A digest object as found, with what reading it gave.
#[derive(Debug, Clone)]
pub struct FoundDigest {
    /// Its name in results: a local path or `s3://bucket/key`.
    pub file: String,
    /// Its bucket, when it was read from S3 (`None` for a local copy).
    pub bucket: Option<String>,
    /// What its name says.
    pub key: DigestKey,
    /// Its content, or why it could not be read.
    pub content: Result<ReadDigest, String>,
}

/// A digest's content.
#[derive(Debug, Clone)]
pub struct ReadDigest {
    /// The parsed JSON.
    pub digest: Digest,
    /// Hex SHA-256 of its inflated bytes.
    pub sha256: String,
    /// Its S3 signature metadata, if it has any (local copies never do).
    pub signature: Option<String>,
}

impl FoundDigest {
    /// Whether it was read from a local copy (no S3 metadata of its own).
    pub fn is_local(&self) -> bool {
        self.bucket.is_none()
    }

    /// Whether it was found where it says it was delivered.
    fn in_place(&self, digest: &Digest) -> bool {
        match &self.bucket {
            Some(bucket) => {
                *bucket == digest.digest_s3_bucket
                    && self.file == s3_name(bucket, &digest.digest_s3_object)
            }
            None => self.file.ends_with(&digest.digest_s3_object),
        }
    }

    /// The time it covers: its period, or for a digest whose content or times cannot be read,
    /// the hour before the time in its name (when it was delivered).
    fn estimated_period(&self) -> Period {
        self.content
            .as_ref()
            .ok()
            .and_then(|read| read.digest.period())
            .unwrap_or((self.key.time - Duration::hours(1), self.key.time))
    }

    /// The name in results of the object at `bucket`/`object` as this digest names it: an S3
    /// URL, or for a local copy the same path under the copy's root.
    pub fn name_of(&self, bucket: &str, object: &str) -> String {
        let root = match (&self.bucket, &self.content) {
            (None, Ok(read)) => self.file.strip_suffix(&read.digest.digest_s3_object),
            _ => None,
        };
        match root {
            Some(root) => format!("{root}{object}"),
            None => s3_name(bucket, object),
        }
    }
}

fn s3_name(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// A log file as found.
#[derive(Debug, Clone)]
pub struct FoundLog {
    /// Delivery time from its key (to the minute).
    pub delivered: Option<DateTime<Utc>>,
    /// Account and Region from its key, when it has them.
    pub origin: Option<(String, String)>,
    /// Hashing it, or why it could not be read.
    pub hashed: Result<Hashed, String>,
}

/// What a digest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DigestStatus {
    /// Signed by CloudTrail (or, in a local copy, hash-linked), in place, linked.
    Valid,
    /// The signature does not verify, or its key is unknown.
    BadSignature,
    /// Found somewhere other than the location it names.
    Moved,
    /// Named by its successor, absent.
    Missing,
    /// No signature metadata.
    Unsigned,
    /// Its bytes differ from the hash its successor records.
    Modified,
    /// Not a readable digest (not gzip, not JSON, fields missing).
    Invalid,
}

/// What a log file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogStatus {
    /// Its hash matches a valid digest.
    Valid,
    /// Its hash differs from the digest's.
    Modified,
    /// Named by a digest, absent.
    Missing,
    /// Present and in range, named by no digest.
    Unlisted,
    /// Delivered after the newest digest of its account and Region, too recently for a digest
    /// to name it yet: not a problem of the chain, but not shown unaltered either.
    Pending,
    /// Bytes after its first gzip member.
    TrailingData,
    /// Named only by digests without a signature.
    Unsigned,
    /// Named only by digests that are not valid.
    Unverified,
    /// Could not be read.
    Unreadable,
}

macro_rules! status_names {
    ($type:ty { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $type {
            /// The name in results.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),* }
            }
        }
    };
}
status_names!(DigestStatus { Valid => "valid", BadSignature => "bad-signature", Moved => "moved",
    Missing => "missing", Unsigned => "unsigned", Modified => "modified", Invalid => "invalid" });
status_names!(LogStatus { Valid => "valid", Modified => "modified", Missing => "missing",
    Unlisted => "unlisted", Pending => "pending", TrailingData => "trailing-data", Unsigned => "unsigned",
    Unverified => "unverified", Unreadable => "unreadable" });

/// The verdict on one digest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DigestVerdict {
    /// Local path or `s3://bucket/key`.
    pub digest_file: String,
    /// What it is.
    pub status: DigestStatus,
    /// Why, when not valid.
    pub reason: Option<String>,
    /// Its chain.
    pub chain: ChainId,
    /// Start of the time it covers, when known.
    pub start: Option<String>,
    /// End of the time it covers, when known.
    pub end: Option<String>,
}

/// The verdict on one log file: a row of the `integrity` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogVerdict {
    /// Local path or `s3://bucket/key`, as in `events.log_file`.
    pub log_file: String,
    /// What it is.
    pub status: LogStatus,
    /// The digest that names it.
    pub digest_file: Option<String>,
    /// Why, when not valid.
    pub reason: Option<String>,
    /// The hex SHA-256 of its text as that digest names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A stretch of time no valid digest covers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    /// Trail name.
    pub trail: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Start (inclusive).
    pub from: String,
    /// End.
    pub to: String,
    /// Length in hours.
    pub hours: f64,
    /// Trail events in the archive that explain it (`StopLogging 2025-03-02T10:05:00Z`).
    pub explained_by: Vec<String>,
    #[serde(skip)]
    pub(crate) span: (DateTime<Utc>, DateTime<Utc>),
}

/// How long one digest covers: CloudTrail writes one per hour per chain.
pub const DIGEST_PERIOD: Duration = Duration::hours(1);

/// How long after the end of its period a digest may still be on its way.
pub const DIGEST_GRACE: Duration = Duration::minutes(30);

/// A log file's key gives its delivery time to the minute.
const KEY_PRECISION: Duration = Duration::minutes(1);

/// The range verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range {
    /// `--from`: without it, each chain starts at its oldest digest, which must start the
    /// chain or have its predecessor present.
    pub from: Option<DateTime<Utc>>,
    /// `--to`.
    pub to: Option<DateTime<Utc>>,
    /// When the run started, for sources that show everything delivered so far (S3): without
    /// `to`, the range ends a digest period and a grace before it. `None` for a local copy,
    /// whose newest files nothing vouches for.
    pub now: Option<DateTime<Utc>>,
    /// The latest delivery the log listing holds (`None`: every file). A digest ending later
    /// may name files that were not listed, so it is not judged.
    pub listed_until: Option<DateTime<Utc>>,
}

impl Range {
    /// Where the range ends, when something other than the digests under test says so.
    fn anchored_end(&self) -> Option<DateTime<Utc>> {
        self.to
            .or(self.now.map(|now| now - DIGEST_PERIOD - DIGEST_GRACE))
    }
}

/// Everything judged.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    /// Every digest judged (in range, and those after it that may name files of the range),
    /// and those missing.
    pub digests: Vec<DigestVerdict>,
    /// Every log file in range or named by a digest judged.
    pub log_files: Vec<LogVerdict>,
    /// Uncovered time.
    pub gaps: Vec<Gap>,
    /// The range actually verified.
    pub span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Whether the end of the range was fixed by `--to` or the time of the run. When it was
    /// not (a local copy without `--to`), deleting the newest digests and their log files
    /// cannot be seen.
    pub anchored: bool,
}

/// A stream of logs: trail, account, Region.
type StreamId = (String, String, String);

/// What the range covers for each stream.
struct Span {
    end: DateTime<Utc>,
    start_of: HashMap<StreamId, DateTime<Utc>>,
    default_start: DateTime<Utc>,
    /// The newest time a log file could have been delivered and found: the time of the run,
    /// or for a local copy the newest digest's end.
    tail: DateTime<Utc>,
    /// The end of the newest digest of each account and Region.
    newest_of: HashMap<(String, String), DateTime<Utc>>,
    /// [`Range::listed_until`].
    listed_until: Option<DateTime<Utc>>,
}

impl Span {
    /// The range: `--from` (else each stream's oldest digest, or the hour before it when it
    /// names a predecessor that is not there) to `--to` (else the time of the run less a digest
    /// period and a grace, else the newest digest end of all).
    fn of(digests: &[FoundDigest], range: Range) -> Option<Span> {
        let periods: Vec<(&FoundDigest, Period)> =
            digests.iter().map(|d| (d, d.estimated_period())).collect();
        let newest = periods.iter().map(|(_, (_, end))| *end).max()?;
        let end = range.anchored_end().unwrap_or(newest);
        let present: HashSet<&str> = digests.iter().map(|d| d.file.as_str()).collect();
        let mut oldest: HashMap<StreamId, (DateTime<Utc>, &FoundDigest)> = HashMap::new();
        let mut newest_of: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
        for (d, (start, end)) in &periods {
            let first = oldest.entry(d.key.chain.stream()).or_insert((*start, d));
            if *start < first.0 {
                *first = (*start, d);
            }
            let chain = &d.key.chain;
            let last = newest_of
                .entry((chain.account.clone(), chain.region.clone()))
                .or_insert(*end);
            *last = (*last).max(*end);
        }
        let start_of: HashMap<StreamId, DateTime<Utc>> = oldest
            .into_iter()
            .map(|(stream, (start, first))| {
                let start = match range.from {
                    Some(from) => from,
                    None => absent_predecessor(first, &present)
                        .map_or(start, |previous| start.min(previous - DIGEST_PERIOD)),
                };
                (stream, start)
            })
            .collect();
        let default_start = range
            .from
            .or_else(|| start_of.values().copied().min())
            .unwrap_or(end);
        Some(Span {
            end,
            start_of,
            default_start,
            tail: range.now.unwrap_or(newest),
            newest_of,
            listed_until: range.listed_until,
        })
    }

    fn start(&self, stream: &StreamId) -> DateTime<Utc> {
        self.start_of
            .get(stream)
            .copied()
            .unwrap_or(self.default_start)
    }

    /// The earliest start of any stream.
    fn first_start(&self) -> DateTime<Utc> {
        self.start_of
            .values()
            .copied()
            .min()
            .unwrap_or(self.default_start)
    }

    /// Whether a digest is judged: one that ends after a period before its stream's start
    /// (it may name files the range reads), up to the end of the log listing (a file delivered
    /// after `--to` may hold events of the range).
    fn judges_digest(&self, digest: &FoundDigest) -> bool {
        let (_, to) = digest.estimated_period();
        to > self.start(&digest.key.chain.stream()) - DIGEST_PERIOD
            && self.listed_until.is_none_or(|until| to <= until)
    }

    /// Where a log file named by no digest stands.
    fn place_unnamed(&self, log: &FoundLog, delivered: DateTime<Utc>) -> Unnamed {
        let latest = delivered + KEY_PRECISION;
        let after_newest = log
            .origin
            .as_ref()
            .and_then(|origin| self.newest_of.get(origin))
            .is_none_or(|newest| latest > *newest);
        let recent = latest > self.tail - DIGEST_PERIOD - DIGEST_GRACE;
        if after_newest && recent {
            Unnamed::Pending
        } else if delivered <= self.end {
            // In range: a digest covering it does not name it, or (after the newest digest) the
            // end gap shows the digest that is not there.
            Unnamed::Unlisted
        } else {
            Unnamed::BeyondListing
        }
    }
}

/// Where a log file named by no digest stands.
enum Unnamed {
    /// A digest covering its delivery exists (or should, inside the range) and does not name it.
    Unlisted,
    /// Delivered after the newest digest of its account and Region, within a digest period and
    /// a grace of the tail: too new for a digest to name it yet.
    Pending,
    /// Delivered after the range: the digest that would name it may lie beyond what was
    /// listed, so it is not judged.
    BeyondListing,
}

/// The delivery time of the predecessor `first` names, when it is not among the digests read
/// (`None`: `first` starts its chain, or its predecessor is there).
fn absent_predecessor(first: &FoundDigest, present: &HashSet<&str>) -> Option<DateTime<Utc>> {
    let read = first.content.as_ref().ok()?;
    let (Some(bucket), Some(object)) = (
        &read.digest.previous_digest_s3_bucket,
        &read.digest.previous_digest_s3_object,
    ) else {
        return None;
    };
    if present.contains(first.name_of(bucket, object).as_str()) {
        return None;
    }
    // A predecessor whose name gives no time: at least the period before `first`.
    Some(DigestKey::parse(object).map_or(first.estimated_period().0, |k| k.time))
}

/// Whether a digest vouches for the time it covers and the files it names: valid, or in a
/// local copy without signatures, consistent along the hash chain.
fn hash_linked(found: &FoundDigest, status: DigestStatus) -> bool {
    status == DigestStatus::Valid || (found.is_local() && status == DigestStatus::Unsigned)
}

/// Judges what was read. `logs` are the log files found, by name; `keys` check signatures.
pub fn judge(
    digests: &[FoundDigest],
    logs: &BTreeMap<String, FoundLog>,
    keys: &PublicKeys,
    range: Range,
) -> Judgement {
    let anchored = range.anchored_end().is_some();
    let Some(span) = Span::of(digests, range) else {
        // No digest at all: every log file in range is unlisted.
        return Judgement {
            log_files: unlisted(logs, &HashSet::new(), range.from, range.to),
            anchored,
            ..Judgement::default()
        };
    };
    let judged: Vec<&FoundDigest> = digests.iter().filter(|d| span.judges_digest(d)).collect();
    // Signature checks are the costly part: on all cores.
    let mut verdicts: BTreeMap<String, DigestVerdict> = judged
        .par_iter()
        .map(|d| (d.file.clone(), own_verdict(d, keys)))
        .collect();
    link(&judged, digests, &span, &mut verdicts);
    let log_files = judge_logs(&judged, &verdicts, logs, &span);
    let gaps = gaps(digests, &judged, &verdicts, &span);
    Judgement {
        digests: verdicts.into_values().collect(),
        log_files,
        gaps,
        span: Some((span.first_start(), span.end)),
        anchored,
    }
}

/// A digest judged on its own: readable, in place, signed.
fn own_verdict(found: &FoundDigest, keys: &PublicKeys) -> DigestVerdict {
    let verdict = |status, reason: Option<String>, digest: Option<&Digest>| DigestVerdict {
        digest_file: found.file.clone(),
        status,
        reason,
        chain: found.key.chain.clone(),
        start: digest.map(|d| d.digest_start_time.clone()),
        end: digest.map(|d| d.digest_end_time.clone()),
    };
    let read = match &found.content {
        Ok(read) => read,
        Err(reason) => return verdict(DigestStatus::Invalid, Some(reason.clone()), None),
    };
    let digest = &read.digest;
    if digest.period().is_none() {
        return verdict(
            DigestStatus::Invalid,
            Some("digestStartTime or digestEndTime is not an RFC 3339 time".into()),
            Some(digest),
        );
    }
    if !found.in_place(digest) {
        let named = s3_name(&digest.digest_s3_bucket, &digest.digest_s3_object);
        return verdict(
            DigestStatus::Moved,
            Some(format!("it says it was delivered to {named}")),
            Some(digest),
        );
    }
    let Some(signature) = &read.signature else {
        let reason = match found.is_local() {
            true => {
                "local copy: signature not checked (pass --signatures FILE saved by `trailmap verify -s s3://... --save-signatures`, or --signatures-from s3://BUCKET)"
            }
            false => "no x-amz-meta-signature metadata",
        };
        return verdict(DigestStatus::Unsigned, Some(reason.into()), Some(digest));
    };
    let message = digest.string_to_sign(&read.sha256);
    match keys.check(
        &digest.digest_public_key_fingerprint,
        message.as_bytes(),
        signature,
    ) {
        SignatureCheck::Valid => verdict(DigestStatus::Valid, None, Some(digest)),
        SignatureCheck::UnknownKey => verdict(
            DigestStatus::BadSignature,
            Some(format!(
                "no public key with fingerprint {} (--public-keys, or CloudTrail ListPublicKeys)",
                digest.digest_public_key_fingerprint
            )),
            Some(digest),
        ),
        SignatureCheck::Invalid => verdict(
            DigestStatus::BadSignature,
            Some("the signature does not verify with the key it names".into()),
            Some(digest),
        ),
    }
}

/// Checks each hash-linked digest's link to its predecessor: the predecessor's hash (and
/// signature) must be what the successor records, and a predecessor in range must be present.
fn link(
    judged: &[&FoundDigest],
    all: &[FoundDigest],
    span: &Span,
    verdicts: &mut BTreeMap<String, DigestVerdict>,
) {
    let by_name: HashMap<&str, &FoundDigest> = all.iter().map(|d| (d.file.as_str(), d)).collect();
    for found in judged {
        let (Ok(read), Some(status)) =
            (&found.content, verdicts.get(&found.file).map(|v| v.status))
        else {
            continue;
        };
        if !hash_linked(found, status) {
            continue;
        }
        let digest = &read.digest;
        let (Some(bucket), Some(object)) = (
            &digest.previous_digest_s3_bucket,
            &digest.previous_digest_s3_object,
        ) else {
            continue;
        };
        let name = found.name_of(bucket, object);
        match by_name.get(name.as_str()) {
            Some(previous) => {
                let Ok(previous_read) = &previous.content else {
                    continue;
                };
                let hash_differs = digest
                    .previous_digest_hash_value
                    .as_deref()
                    .is_some_and(|h| !h.eq_ignore_ascii_case(&previous_read.sha256));
                let signature_differs =
                    match (&previous_read.signature, &digest.previous_digest_signature) {
                        (Some(actual), Some(recorded)) => !actual.eq_ignore_ascii_case(recorded),
                        _ => false,
                    };
                if (hash_differs || signature_differs)
                    && let Some(verdict) = verdicts.get_mut(&name)
                    && hash_linked(previous, verdict.status)
                {
                    verdict.status = DigestStatus::Modified;
                    verdict.reason = Some(format!(
                        "its {} differs from the one its successor {} records",
                        if hash_differs { "SHA-256" } else { "signature" },
                        found.file
                    ));
                }
            }
            None => {
                let previous_time = DigestKey::parse(object).map(|k| k.time);
                let start = span.start(&found.key.chain.stream());
                if previous_time.is_none_or(|t| t > start) {
                    verdicts.entry(name.clone()).or_insert(DigestVerdict {
                        digest_file: name,
                        status: DigestStatus::Missing,
                        reason: Some(format!("named as the previous digest by {}", found.file)),
                        chain: found.key.chain.clone(),
                        start: None,
                        end: None,
                    });
                }
            }
        }
    }
}

/// Judges every log file a judged digest names, and every present file delivered after the
/// start of the range that no digest names (`pending` when too new for one, else `unlisted`).
fn judge_logs(
    judged: &[&FoundDigest],
    verdicts: &BTreeMap<String, DigestVerdict>,
    logs: &BTreeMap<String, FoundLog>,
    span: &Span,
) -> Vec<LogVerdict> {
    // Each named log file with the digest that names it, a hash-linked one first.
    let mut named: BTreeMap<String, (&FoundDigest, &str, DigestStatus)> = BTreeMap::new();
    for found in judged {
        let (Ok(read), Some(status)) =
            (&found.content, verdicts.get(&found.file).map(|v| v.status))
        else {
            continue;
        };
        for log in &read.digest.log_files {
            let name = found.name_of(&log.s3_bucket, &log.s3_object);
            let entry = named
                .entry(name)
                .or_insert((found, log.hash_value.as_str(), status));
            if entry.2 != DigestStatus::Valid && status == DigestStatus::Valid {
                *entry = (found, log.hash_value.as_str(), status);
            }
        }
    }
    let mut verdicts_out: Vec<LogVerdict> = named
        .iter()
        .map(|(name, (digest, expected, status))| {
            let (status, reason) = log_status(logs.get(name), expected, *status, digest);
            LogVerdict {
                log_file: name.clone(),
                status,
                digest_file: Some(digest.file.clone()),
                reason,
                sha256: Some((*expected).to_owned()),
            }
        })
        .collect();
    let named_names: HashSet<&str> = named.keys().map(String::as_str).collect();
    for mut verdict in unlisted(logs, &named_names, Some(span.first_start()), None) {
        let placed = logs
            .get(&verdict.log_file)
            .and_then(|log| Some((log, log.delivered?)));
        match placed.map(|(log, delivered)| span.place_unnamed(log, delivered)) {
            Some(Unnamed::Pending) if verdict.status == LogStatus::Unlisted => {
                verdict.status = LogStatus::Pending;
                verdict.reason = Some(
                    "delivered after the newest digest of its account and Region: too new for a digest to name it yet"
                        .into(),
                );
            }
            Some(Unnamed::BeyondListing) => continue,
            _ => {}
        }
        verdicts_out.push(verdict);
    }
    verdicts_out.sort_by(|a, b| a.log_file.cmp(&b.log_file));
    verdicts_out
}

fn log_status(
    found: Option<&FoundLog>,
    expected: &str,
    digest_status: DigestStatus,
    digest: &FoundDigest,
) -> (LogStatus, Option<String>) {
    let digest_file = &digest.file;
    let Some(found) = found else {
        return (
            LogStatus::Missing,
            Some(format!("named by {digest_file}, not found")),
        );
    };
    let hashed = match &found.hashed {
        Ok(hashed) => hashed,
        Err(reason) => return (LogStatus::Unreadable, Some(reason.clone())),
    };
    if hashed.trailing_bytes > 0 {
        return (
            LogStatus::TrailingData,
            Some(format!(
                "{} byte(s) after the first gzip member",
                hashed.trailing_bytes
            )),
        );
    }
    let linked = hash_linked(digest, digest_status);
    if linked && !hashed.sha256.eq_ignore_ascii_case(expected) {
        return (
            LogStatus::Modified,
            Some(format!(
                "SHA-256 {} differs from {expected} in {digest_file}",
                hashed.sha256
            )),
        );
    }
    match digest_status {
        DigestStatus::Valid => (LogStatus::Valid, None),
        DigestStatus::Unsigned if linked => (
            LogStatus::Unsigned,
            Some(format!(
                "its hash matches {digest_file}, a local copy whose signature was not checked"
            )),
        ),
        DigestStatus::Unsigned => (
            LogStatus::Unsigned,
            Some(format!(
                "named only by {digest_file}, which has no signature"
            )),
        ),
        other => (
            LogStatus::Unverified,
            Some(format!(
                "named only by {digest_file}, which is {}",
                other.as_str()
            )),
        ),
    }
}

/// Present log files that no digest names, delivered in `(from, to]` by their key or with no
/// delivery time in their key (which cannot be placed outside the range).
fn unlisted(
    logs: &BTreeMap<String, FoundLog>,
    named: &HashSet<&str>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Vec<LogVerdict> {
    logs.iter()
        .filter(|(name, log)| {
            // A file whose key carries no delivery time (outside the CloudTrail layout) cannot
            // be placed outside the range, so it counts as in it.
            !named.contains(name.as_str())
                && log
                    .delivered
                    .is_none_or(|t| from.is_none_or(|from| t > from) && to.is_none_or(|to| t <= to))
        })
        .map(|(name, log)| {
            let (status, reason) = match &log.hashed {
                Err(reason) => (LogStatus::Unreadable, reason.clone()),
                Ok(hashed) if hashed.trailing_bytes > 0 => (
                    LogStatus::TrailingData,
                    format!(
                        "named by no digest, and {} byte(s) after the first gzip member",
                        hashed.trailing_bytes
                    ),
                ),
                Ok(_) if log.delivered.is_none() => (
                    LogStatus::Unlisted,
                    "named by no digest, and outside the CloudTrail key layout (no delivery time)"
                        .to_owned(),
                ),
                Ok(_) => (
                    LogStatus::Unlisted,
                    "delivered in range but named by no digest".to_owned(),
                ),
            };
            LogVerdict {
                log_file: name.clone(),
                status,
                digest_file: None,
                reason: Some(reason),
                sha256: None,
            }
        })
        .collect()
}

/// A stretch of time, start and end.
type Period = (DateTime<Utc>, DateTime<Utc>);

/// Every stretch of each stream's range that no hash-linked digest (main or backfill) covers.
fn gaps(
    all: &[FoundDigest],
    judged: &[&FoundDigest],
    verdicts: &BTreeMap<String, DigestVerdict>,
    span: &Span,
) -> Vec<Gap> {
    let mut covered: BTreeMap<StreamId, Vec<Period>> = BTreeMap::new();
    for found in all {
        covered.entry(found.key.chain.stream()).or_default();
    }
    for found in judged {
        let linked = verdicts
            .get(&found.file)
            .is_some_and(|v| hash_linked(found, v.status));
        if let (true, Ok(read)) = (linked, &found.content)
            && let Some(period) = read.digest.period()
        {
            covered
                .entry(found.key.chain.stream())
                .or_default()
                .push(period);
        }
    }
    let mut gaps = Vec::new();
    for (stream, mut periods) in covered {
        periods.sort();
        let mut cursor = span.start(&stream);
        let mut uncovered = Vec::new();
        for (start, end) in periods {
            if start > cursor {
                uncovered.push((cursor, start.min(span.end)));
            }
            cursor = cursor.max(end);
        }
        if cursor < span.end {
            uncovered.push((cursor, span.end));
        }
        let (trail, account, region) = stream;
        gaps.extend(
            uncovered
                .into_iter()
                .filter(|(a, b)| b > a)
                .map(|(from, to)| Gap {
                    trail: trail.clone(),
                    account: account.clone(),
                    region: region.clone(),
                    from: format_digest_time(from),
                    to: format_digest_time(to),
                    hours: ((to - from).num_seconds() as f64 / 36.0).round() / 100.0,
                    explained_by: Vec::new(),
                    span: (from, to),
                }),
        );
    }
    gaps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::digest::DigestedLog;

    const ROOT: &str = "/copy/";

    /// A local digest of `trail` covering hour `hour` (of 2025-03-01), naming `logs`.
    fn digest(
        hour: u32,
        backfill: bool,
        previous: Option<&FoundDigest>,
        logs: &[(&str, &str)],
    ) -> FoundDigest {
        let suffix = if backfill { "_backfill" } else { "" };
        let object = format!(
            "AWSLogs/1/CloudTrail-Digest/r-1/1_CloudTrail-Digest_eu-west-1_t_us-east-1_20250301T{:02}0000Z{suffix}.json.gz",
            hour + 1
        );
        let start = at(&format!("2025-03-01T{hour:02}:00:00Z"));
        local_digest((start, start + DIGEST_PERIOD), object, previous, logs)
    }

    /// A local digest (no signature: hash chain only) of `period` at `object`, naming `logs`
    /// (key and hash), linked to `previous`.
    fn local_digest(
        (start, end): Period,
        object: String,
        previous: Option<&FoundDigest>,
        logs: &[(&str, &str)],
    ) -> FoundDigest {
        let previous_read = previous.and_then(|p| p.content.as_ref().ok());
        let digest = Digest {
            aws_account_id: None,
            digest_start_time: format_digest_time(start),
            digest_end_time: format_digest_time(end),
            digest_s3_bucket: "b".into(),
            digest_s3_object: object.clone(),
            digest_public_key_fingerprint: String::new(),
            digest_signature_algorithm: "SHA256withRSA".into(),
            previous_digest_s3_bucket: previous_read.map(|_| "b".into()),
            previous_digest_s3_object: previous_read.map(|p| p.digest.digest_s3_object.clone()),
            previous_digest_hash_value: previous_read.map(|p| p.sha256.clone()),
            previous_digest_hash_algorithm: None,
            previous_digest_signature: None,
            log_files: logs
                .iter()
                .map(|(key, hash)| DigestedLog {
                    s3_bucket: "b".into(),
                    s3_object: (*key).into(),
                    hash_value: (*hash).into(),
                    hash_algorithm: "SHA-256".into(),
                    oldest_event_time: None,
                    newest_event_time: None,
                })
                .collect(),
        };
        let file = format!("{ROOT}{object}");
        FoundDigest {
            key: DigestKey::parse(&file).unwrap(),
            file,
            bucket: None,
            content: Ok(ReadDigest {
                digest,
                sha256: format!("hash-of-{object}"),
                signature: None,
            }),
        }
    }

    fn log(hour: u32, sha256: &str) -> (String, FoundLog) {
        (
            format!("{ROOT}AWSLogs/1/CloudTrail/eu-west-1/f{hour}.json.gz"),
            FoundLog {
                delivered: Some(
                    chrono::DateTime::parse_from_rfc3339(&format!("2025-03-01T{hour:02}:30:00Z"))
                        .unwrap()
                        .to_utc(),
                ),
                origin: Some(("1".into(), "eu-west-1".into())),
                hashed: Ok(Hashed {
                    sha256: sha256.into(),
                    trailing_bytes: 0,
                    inflated_bytes: 1,
                }),
            },
        )
    }

    #[test]
    fn a_local_chain_is_hash_linked_and_a_broken_link_is_named() {
        let d0 = digest(
            0,
            false,
            None,
            &[("AWSLogs/1/CloudTrail/eu-west-1/f0.json.gz", "aa")],
        );
        let d1 = digest(1, false, Some(&d0), &[]);
        let d2 = digest(2, false, Some(&d1), &[]);
        let logs = BTreeMap::from([log(0, "aa")]);
        let judged = judge(
            &[d0.clone(), d1.clone(), d2.clone()],
            &logs,
            &PublicKeys::default(),
            Range::default(),
        );
        // A local copy without signatures: hash-linked, not valid.
        assert!(
            judged
                .digests
                .iter()
                .all(|d| d.status == DigestStatus::Unsigned)
        );
        assert_eq!(judged.log_files.len(), 1);
        assert_eq!(judged.log_files[0].status, LogStatus::Unsigned);
        assert!(judged.gaps.is_empty());
        assert!(!judged.anchored);

        // d1 altered: d2's record of its hash no longer matches.
        let mut altered = d1.clone();
        if let Ok(read) = &mut altered.content {
            read.sha256 = "other".into();
        }
        let judged = judge(
            &[d0.clone(), altered, d2.clone()],
            &logs,
            &PublicKeys::default(),
            Range::default(),
        );
        let statuses: Vec<DigestStatus> = judged.digests.iter().map(|d| d.status).collect();
        assert_eq!(
            statuses,
            [
                DigestStatus::Unsigned,
                DigestStatus::Modified,
                DigestStatus::Unsigned
            ]
        );
        assert_eq!(judged.gaps.len(), 1);
        assert_eq!(judged.gaps[0].hours, 1.0);
    }

    #[test]
    fn backfill_digests_cover_time_and_the_range_ends_are_gaps() {
        let d0 = digest(0, false, None, &[]);
        let d2 = digest(2, false, None, &[]);
        let hour = |h: u32| {
            chrono::DateTime::parse_from_rfc3339(&format!("2025-03-01T{h:02}:00:00Z"))
                .unwrap()
                .to_utc()
        };
        // Hour 1 is missing from the main chain: a gap, unless a backfill digest covers it.
        let judged = judge(
            &[d0.clone(), d2.clone()],
            &BTreeMap::new(),
            &PublicKeys::default(),
            Range::default(),
        );
        assert_eq!(judged.gaps.len(), 1);
        let backfill = digest(1, true, None, &[]);
        assert!(backfill.key.chain.backfill);
        let all = [d0, backfill, d2];
        let judged = judge(
            &all,
            &BTreeMap::new(),
            &PublicKeys::default(),
            Range::default(),
        );
        assert!(judged.gaps.is_empty(), "{:?}", judged.gaps);
        // --to four hours past the newest digest: a gap at the end of the range.
        let range = Range {
            from: Some(hour(0)),
            to: Some(hour(7)),
            now: None,
            listed_until: None,
        };
        let judged = judge(&all, &BTreeMap::new(), &PublicKeys::default(), range);
        assert_eq!(judged.gaps.len(), 1);
        assert_eq!(
            (judged.gaps[0].from.as_str(), judged.gaps[0].hours),
            ("2025-03-01T03:00:00Z", 4.0)
        );
        // A log file delivered in range that no digest names is unlisted.
        let logs = BTreeMap::from([log(1, "bb")]);
        let judged = judge(&all, &logs, &PublicKeys::default(), range);
        assert_eq!(judged.log_files[0].status, LogStatus::Unlisted);
        // So is one whose key carries no delivery time.
        let mut undated = log(1, "bb");
        undated.1.delivered = None;
        let judged = judge(
            &all,
            &BTreeMap::from([undated]),
            &PublicKeys::default(),
            range,
        );
        assert_eq!(judged.log_files[0].status, LogStatus::Unlisted);
    }

    #[test]
    fn a_digest_whose_times_do_not_parse_is_invalid() {
        let mut d0 = digest(0, false, None, &[]);
        if let Ok(read) = &mut d0.content {
            read.digest.digest_start_time = "yesterday".into();
        }
        let d1 = digest(1, false, None, &[]);
        let judged = judge(
            &[d0, d1],
            &BTreeMap::new(),
            &PublicKeys::default(),
            Range::default(),
        );
        let statuses: Vec<DigestStatus> = judged.digests.iter().map(|d| d.status).collect();
        assert_eq!(statuses, [DigestStatus::Invalid, DigestStatus::Unsigned]);
    }

    fn at(text: &str) -> DateTime<Utc> {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    /// A local digest covering `[start, start + 1 h)`, naming `logs` with hash `aa`.
    fn digest_from(start: &str, previous: Option<&FoundDigest>, logs: &[&str]) -> FoundDigest {
        let start = at(start);
        let end = start + DIGEST_PERIOD;
        let object = format!(
            "AWSLogs/1/CloudTrail-Digest/eu-west-1/1_CloudTrail-Digest_eu-west-1_t_us-east-1_{}.json.gz",
            end.format("%Y%m%dT%H%M%SZ")
        );
        let logs: Vec<(&str, &str)> = logs.iter().map(|key| (*key, "aa")).collect();
        local_digest((start, end), object, previous, &logs)
    }

    /// A log file delivered at `delivered` (its key's minute), hash `aa`.
    fn log_at(key: &str, delivered: &str) -> (String, FoundLog) {
        let (_, mut found) = log(0, "aa");
        found.delivered = Some(at(delivered));
        (format!("{ROOT}{key}"), found)
    }

    fn status_of(judged: &Judgement, key: &str) -> Option<LogStatus> {
        judged
            .log_files
            .iter()
            .find(|l| l.log_file.ends_with(key))
            .map(|l| l.status)
    }

    #[test]
    fn the_oldest_digest_must_start_its_chain_or_have_its_predecessor() {
        let d0 = digest_from("2025-03-01T00:01:31Z", None, &[]);
        let d1 = digest_from("2025-03-01T01:01:31Z", Some(&d0), &[]);
        let d2 = digest_from("2025-03-01T02:01:31Z", Some(&d1), &[]);
        let keys = PublicKeys::default();
        let whole = judge(
            &[d0.clone(), d1.clone(), d2.clone()],
            &BTreeMap::new(),
            &keys,
            Range::default(),
        );
        assert!(whole.gaps.is_empty(), "{:?}", whole.gaps);
        // The first digest deleted: its successor names it, so it is missing, with a gap.
        let judged = judge(&[d1, d2], &BTreeMap::new(), &keys, Range::default());
        let missing: Vec<&str> = judged
            .digests
            .iter()
            .filter(|d| d.status == DigestStatus::Missing)
            .map(|d| d.digest_file.as_str())
            .collect();
        assert_eq!(missing, [d0.file.as_str()]);
        assert_eq!(judged.gaps.len(), 1, "{:?}", judged.gaps);
        assert_eq!(judged.gaps[0].to, "2025-03-01T01:01:31Z");
    }

    #[test]
    fn files_after_the_newest_digest_are_pending_only_near_the_tail() {
        let d0 = digest_from("2025-03-01T00:01:31Z", None, &[]);
        let d1 = digest_from("2025-03-01T01:01:31Z", Some(&d0), &[]);
        let late = "AWSLogs/1/CloudTrail/eu-west-1/late.json.gz";
        let logs = BTreeMap::from([log_at(late, "2025-03-01T02:20:00Z")]);
        let keys = PublicKeys::default();
        let digests = [d0, d1];
        // A local copy: the newest digest ends the copy, so the file is too new for one.
        let local = judge(&digests, &logs, &keys, Range::default());
        assert_eq!(status_of(&local, late), Some(LogStatus::Pending));
        assert!(!local.anchored);
        // On S3 at the time of the run, shortly after: pending, and no gap yet.
        let soon = Range {
            now: Some(at("2025-03-01T02:40:00Z")),
            ..Range::default()
        };
        let judged = judge(&digests, &logs, &keys, soon);
        assert_eq!(status_of(&judged, late), Some(LogStatus::Pending));
        assert!(judged.gaps.is_empty(), "{:?}", judged.gaps);
        assert!(judged.anchored);
        // A day later the digest that should name it is not there: an end gap, and the file
        // is unlisted.
        let later = Range {
            now: Some(at("2025-03-02T02:40:00Z")),
            ..Range::default()
        };
        let judged = judge(&digests, &logs, &keys, later);
        assert_eq!(status_of(&judged, late), Some(LogStatus::Unlisted));
        assert_eq!(judged.gaps.len(), 1);
        assert_eq!(judged.gaps[0].from, "2025-03-01T02:01:31Z");
        assert_eq!(judged.gaps[0].to, "2025-03-02T01:10:00Z");
    }

    #[test]
    fn digest_periods_off_the_hour_leave_no_false_problem_at_either_edge() {
        let first = "AWSLogs/1/CloudTrail/eu-west-1/first.json.gz";
        let inside = "AWSLogs/1/CloudTrail/eu-west-1/inside.json.gz";
        let after_to = "AWSLogs/1/CloudTrail/eu-west-1/after-to.json.gz";
        let late = "AWSLogs/1/CloudTrail/eu-west-1/late.json.gz";
        let d0 = digest_from("2025-03-01T00:01:31Z", None, &[first]);
        let d1 = digest_from("2025-03-01T01:01:31Z", Some(&d0), &[inside, after_to]);
        let d2 = digest_from("2025-03-01T02:01:31Z", Some(&d1), &[late]);
        let logs = BTreeMap::from([
            log_at(first, "2025-03-01T00:05:00Z"),
            log_at(inside, "2025-03-01T01:20:00Z"),
            log_at(after_to, "2025-03-01T01:50:00Z"),
            log_at(late, "2025-03-01T02:10:00Z"),
        ]);
        // --from and --to inside digest periods: the first digest overlapping names a file
        // delivered before --from, the last names one after --to, and a file delivered after
        // the last in-range digest is named by the next.
        let range = Range {
            from: Some(at("2025-03-01T00:30:00Z")),
            to: Some(at("2025-03-01T01:30:00Z")),
            now: None,
            listed_until: None,
        };
        let judged = judge(&[d0, d1, d2], &logs, &PublicKeys::default(), range);
        for key in [first, inside, after_to, late] {
            assert_eq!(status_of(&judged, key), Some(LogStatus::Unsigned), "{key}");
        }
        assert!(judged.gaps.is_empty(), "{:?}", judged.gaps);
        assert!(
            judged
                .digests
                .iter()
                .all(|d| d.status == DigestStatus::Unsigned)
        );
    }
}
