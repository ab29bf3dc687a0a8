//! The verdicts: each digest on its own and linked to its predecessor, each log file against
//! the digests that name it, and the stretches of time no valid digest covers.
//!
//! Pure logic over what was read, so every tamper case is a unit test.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
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
    /// Delivery time from its key.
    pub delivered: Option<DateTime<Utc>>,
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
    Unlisted => "unlisted", TrailingData => "trailing-data", Unsigned => "unsigned",
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

/// The range verified: `--from/--to`, else what the digests cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Range {
    /// `--from`.
    pub from: Option<DateTime<Utc>>,
    /// `--to`.
    pub to: Option<DateTime<Utc>>,
}

/// Everything judged.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    /// Every digest in range, and those missing.
    pub digests: Vec<DigestVerdict>,
    /// Every log file in range or named by a digest in range.
    pub log_files: Vec<LogVerdict>,
    /// Uncovered time.
    pub gaps: Vec<Gap>,
    /// The range actually verified.
    pub span: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// What the digest in range covers: `[start, end]` of the range for each stream.
struct Span {
    end: DateTime<Utc>,
    start_of: HashMap<(String, String, String), DateTime<Utc>>,
    default_start: DateTime<Utc>,
}

impl Span {
    /// The range: `--from` (else each stream's first digest) to `--to` (else the newest digest
    /// end of all).
    fn of(digests: &[FoundDigest], range: Range) -> Option<Span> {
        let periods: Vec<(&FoundDigest, Period)> =
            digests.iter().map(|d| (d, d.estimated_period())).collect();
        let end = range
            .to
            .or_else(|| periods.iter().map(|(_, (_, end))| *end).max())?;
        let mut start_of: HashMap<(String, String, String), DateTime<Utc>> = HashMap::new();
        for (d, (start, _)) in &periods {
            let first = start_of.entry(d.key.chain.stream()).or_insert(*start);
            *first = (*first).min(*start);
        }
        if let Some(from) = range.from {
            start_of.values_mut().for_each(|s| *s = from);
        }
        let default_start = range
            .from
            .or_else(|| periods.iter().map(|(_, (start, _))| *start).min())
            .unwrap_or(end);
        Some(Span {
            end,
            start_of,
            default_start,
        })
    }

    fn start(&self, stream: &(String, String, String)) -> DateTime<Utc> {
        self.start_of
            .get(stream)
            .copied()
            .unwrap_or(self.default_start)
    }

    /// Whether a digest's period is in range.
    fn holds_digest(&self, digest: &FoundDigest) -> bool {
        let (from, to) = digest.estimated_period();
        from < self.end && to > self.start(&digest.key.chain.stream())
    }
}

/// Judges what was read. `logs` are the log files found, by name; `keys` check signatures of
/// digests read from S3.
pub fn judge(
    digests: &[FoundDigest],
    logs: &BTreeMap<String, FoundLog>,
    keys: &PublicKeys,
    range: Range,
) -> Judgement {
    let Some(span) = Span::of(digests, range) else {
        // No digest at all: every log file in range is unlisted.
        return Judgement {
            log_files: unlisted(logs, &HashSet::new(), range.from, range.to),
            ..Judgement::default()
        };
    };
    let in_range: Vec<&FoundDigest> = digests.iter().filter(|d| span.holds_digest(d)).collect();
    let mut verdicts: BTreeMap<String, DigestVerdict> = in_range
        .iter()
        .map(|d| (d.file.clone(), own_verdict(d, keys)))
        .collect();
    link(&in_range, digests, &span, &mut verdicts);
    let log_files = judge_logs(&in_range, &verdicts, logs, &span);
    let gaps = gaps(digests, &in_range, &verdicts, &span);
    let whole = (
        span.start_of
            .values()
            .copied()
            .min()
            .unwrap_or(span.default_start),
        span.end,
    );
    Judgement {
        digests: verdicts.into_values().collect(),
        log_files,
        gaps,
        span: Some(whole),
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
    if found.bucket.is_none() {
        // A local copy: no signature to check; the hash chain is checked by `link`.
        return verdict(DigestStatus::Valid, None, Some(digest));
    }
    let Some(signature) = &read.signature else {
        return verdict(
            DigestStatus::Unsigned,
            Some("no x-amz-meta-signature metadata".into()),
            Some(digest),
        );
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

/// Checks each valid digest's link to its predecessor: the predecessor's hash (and signature)
/// must be what the successor records, and a predecessor in range must be present.
fn link(
    in_range: &[&FoundDigest],
    all: &[FoundDigest],
    span: &Span,
    verdicts: &mut BTreeMap<String, DigestVerdict>,
) {
    let by_name: HashMap<&str, &FoundDigest> = all.iter().map(|d| (d.file.as_str(), d)).collect();
    for found in in_range {
        let (Ok(read), Some(DigestStatus::Valid)) =
            (&found.content, verdicts.get(&found.file).map(|v| v.status))
        else {
            continue;
        };
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
                    && verdict.status == DigestStatus::Valid
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

/// Judges every log file a digest in range names, and every present file in range no digest
/// names.
fn judge_logs(
    in_range: &[&FoundDigest],
    verdicts: &BTreeMap<String, DigestVerdict>,
    logs: &BTreeMap<String, FoundLog>,
    span: &Span,
) -> Vec<LogVerdict> {
    // Each named log file with the digest that names it, a valid one first.
    let mut named: BTreeMap<String, (&FoundDigest, &str, DigestStatus)> = BTreeMap::new();
    for found in in_range {
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
            let (status, reason) = log_status(logs.get(name), expected, *status, &digest.file);
            LogVerdict {
                log_file: name.clone(),
                status,
                digest_file: Some(digest.file.clone()),
                reason,
            }
        })
        .collect();
    let named_names: HashSet<&str> = named.keys().map(String::as_str).collect();
    let start = span
        .start_of
        .values()
        .copied()
        .min()
        .unwrap_or(span.default_start);
    verdicts_out.extend(unlisted(logs, &named_names, Some(start), Some(span.end)));
    verdicts_out.sort_by(|a, b| a.log_file.cmp(&b.log_file));
    verdicts_out
}

fn log_status(
    found: Option<&FoundLog>,
    expected: &str,
    digest_status: DigestStatus,
    digest_file: &str,
) -> (LogStatus, Option<String>) {
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
    match digest_status {
        DigestStatus::Valid if hashed.sha256.eq_ignore_ascii_case(expected) => {
            (LogStatus::Valid, None)
        }
        DigestStatus::Valid => (
            LogStatus::Modified,
            Some(format!(
                "SHA-256 {} differs from {expected} in {digest_file}",
                hashed.sha256
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
            }
        })
        .collect()
}

/// A stretch of time, start and end.
type Period = (DateTime<Utc>, DateTime<Utc>);

/// Every stretch of each stream's range that no valid digest (main or backfill) covers.
fn gaps(
    all: &[FoundDigest],
    in_range: &[&FoundDigest],
    verdicts: &BTreeMap<String, DigestVerdict>,
    span: &Span,
) -> Vec<Gap> {
    let mut covered: BTreeMap<(String, String, String), Vec<Period>> = BTreeMap::new();
    for found in all {
        covered.entry(found.key.chain.stream()).or_default();
    }
    for found in in_range {
        let valid = verdicts
            .get(&found.file)
            .is_some_and(|v| v.status == DigestStatus::Valid);
        if let (true, Ok(read)) = (valid, &found.content)
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
        let end = format!("2025-03-01T{:02}:00:00Z", hour + 1);
        let suffix = if backfill { "_backfill" } else { "" };
        let object = format!(
            "AWSLogs/1/CloudTrail-Digest/r-1/1_CloudTrail-Digest_eu-west-1_t_us-east-1_20250301T{:02}0000Z{suffix}.json.gz",
            hour + 1
        );
        let previous_read = previous.and_then(|p| p.content.as_ref().ok());
        let digest = Digest {
            aws_account_id: None,
            digest_start_time: format!("2025-03-01T{hour:02}:00:00Z"),
            digest_end_time: end,
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
                sha256: format!("hash-of-{hour}{suffix}"),
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
                hashed: Ok(Hashed {
                    sha256: sha256.into(),
                    trailing_bytes: 0,
                    inflated_bytes: 1,
                }),
            },
        )
    }

    #[test]
    fn a_linked_chain_is_valid_and_a_broken_link_is_named() {
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
        assert!(
            judged
                .digests
                .iter()
                .all(|d| d.status == DigestStatus::Valid)
        );
        assert_eq!(judged.log_files.len(), 1);
        assert_eq!(judged.log_files[0].status, LogStatus::Valid);
        assert!(judged.gaps.is_empty());

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
                DigestStatus::Valid,
                DigestStatus::Modified,
                DigestStatus::Valid
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
        assert_eq!(statuses, [DigestStatus::Invalid, DigestStatus::Valid]);
    }
}
