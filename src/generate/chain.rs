//! The digest chain of a generated archive, as CloudTrail writes it: one digest per hour per
//! trail, account and Region, naming the SHA-256 of every log file delivered in its hour and
//! linked to the previous digest by its hash and signature. With a signing key each digest is
//! signed as CloudTrail signs; the hex signature is written beside it as `DIGEST.sig` (S3 keeps
//! it in the object's `x-amz-meta-signature`, which a directory cannot).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::{ACCOUNTS, ORGANIZATION, write_gzip};
use crate::verify::digest::{Digest, DigestedLog, format_digest_time};
use crate::verify::hash::sha256_hex;
use crate::verify::keys::SigningKey;
use crate::verify::signatures::SavedSignature;

/// The organization trail's name (accounts under the organization prefix).
pub const ORGANIZATION_TRAIL: &str = "org-trail";
/// The account trail's name.
pub const ACCOUNT_TRAIL: &str = "account-trail";
/// Home Region of both trails.
pub const HOME_REGION: &str = "us-east-1";
/// The suffix of a digest's signature file.
pub const SIGNATURE_SUFFIX: &str = ".sig";

/// A log file written, as its digest names it.
#[derive(Debug, Clone)]
pub struct WrittenLog {
    /// Account and Region of its key.
    pub account: &'static str,
    /// Region of its key.
    pub region: &'static str,
    /// Its key under the archive root.
    pub key: String,
    /// Its delivery time (the time in its key).
    pub delivered: DateTime<Utc>,
    /// Hex SHA-256 of its JSON text.
    pub sha256: String,
}

/// Digests written: how many, and the signature of each signed one.
#[derive(Debug, Default)]
pub struct WrittenChain {
    /// Digest files written.
    pub digests: usize,
    /// Their signatures, when signed (what `--save-signatures` would save from S3).
    pub signatures: Vec<SavedSignature>,
}

/// Writes the hourly chain of every account and Region from the hour of `start` to `end` or
/// the hour after the last delivery, whichever is later (a live trail writes a digest every
/// hour, with or without log files).
pub fn write_chain(
    dir: &Path,
    bucket: &str,
    key: Option<&SigningKey>,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    logs: &[WrittenLog],
) -> std::io::Result<WrittenChain> {
    let last_delivery = logs.iter().map(|l| l.delivered).max().unwrap_or(start);
    // The hour starting at `last` is the last one written.
    let last = last_delivery.max(end - Duration::hours(1));
    let first_hour = start.duration_trunc(Duration::hours(1)).unwrap_or(start);
    let mut by_stream: BTreeMap<(&str, &str), Vec<&WrittenLog>> = BTreeMap::new();
    for log in logs {
        by_stream
            .entry((log.account, log.region))
            .or_default()
            .push(log);
    }
    let mut written = WrittenChain::default();
    for (account, org, regions) in ACCOUNTS {
        for region in *regions {
            let stream = by_stream.remove(&(*account, *region)).unwrap_or_default();
            let mut previous: Option<Link> = None;
            let mut hour = first_hour;
            while hour <= last {
                let end = hour + Duration::hours(1);
                let in_hour = stream
                    .iter()
                    .filter(|l| l.delivered >= hour && l.delivered < end);
                let stream_id = Stream {
                    account,
                    org: *org,
                    region,
                };
                let link =
                    write_digest(dir, bucket, key, &stream_id, (hour, end), in_hour, previous)?;
                written.digests += 1;
                if let (Some(signature), Some(key)) = (&link.signature, key) {
                    written.signatures.push(SavedSignature {
                        bucket: bucket.to_owned(),
                        object: link.object.clone(),
                        signature: signature.clone(),
                        public_key_fingerprint: key.fingerprint(),
                        signature_algorithm: "SHA256withRSA".to_owned(),
                    });
                }
                previous = Some(link);
                hour = end;
            }
        }
    }
    Ok(written)
}

struct Stream<'a> {
    account: &'a str,
    org: bool,
    region: &'a str,
}

impl Stream<'_> {
    fn digest_key(&self, end: DateTime<Utc>) -> String {
        let (prefix, trail) = match self.org {
            true => (
                format!("AWSLogs/{ORGANIZATION}/{}", self.account),
                ORGANIZATION_TRAIL,
            ),
            false => (format!("AWSLogs/{}", self.account), ACCOUNT_TRAIL),
        };
        format!(
            "{prefix}/CloudTrail-Digest/{region}/{date}/{account}_CloudTrail-Digest_{region}_{trail}_{HOME_REGION}_{time}.json.gz",
            region = self.region,
            account = self.account,
            date = end.format("%Y/%m/%d"),
            time = end.format("%Y%m%dT%H%M%SZ"),
        )
    }
}

/// What a digest's successor records of it.
struct Link {
    /// Its key.
    object: String,
    /// Hex SHA-256 of its JSON text.
    sha256: String,
    /// Its signature, when signed.
    signature: Option<String>,
}

/// Writes one digest; returns what the next records of it.
fn write_digest<'a>(
    dir: &Path,
    bucket: &str,
    key: Option<&SigningKey>,
    stream: &Stream,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    logs: impl Iterator<Item = &'a &'a WrittenLog>,
    previous: Option<Link>,
) -> std::io::Result<Link> {
    let object = stream.digest_key(end);
    let (previous_object, previous_hash, previous_signature) = match previous {
        Some(link) => (Some(link.object), Some(link.sha256), link.signature),
        None => (None, None, None),
    };
    let digest = Digest {
        aws_account_id: Some(stream.account.to_owned()),
        digest_start_time: format_digest_time(start),
        digest_end_time: format_digest_time(end),
        digest_s3_bucket: bucket.to_owned(),
        digest_s3_object: object.clone(),
        digest_public_key_fingerprint: key.map(SigningKey::fingerprint).unwrap_or_default(),
        digest_signature_algorithm: "SHA256withRSA".to_owned(),
        previous_digest_s3_bucket: previous_object.as_ref().map(|_| bucket.to_owned()),
        previous_digest_hash_algorithm: previous_hash.as_ref().map(|_| "SHA-256".to_owned()),
        previous_digest_s3_object: previous_object,
        previous_digest_hash_value: previous_hash,
        previous_digest_signature: previous_signature,
        log_files: logs
            .map(|log| DigestedLog {
                s3_bucket: bucket.to_owned(),
                s3_object: log.key.clone(),
                hash_value: log.sha256.clone(),
                hash_algorithm: "SHA-256".to_owned(),
                oldest_event_time: None,
                newest_event_time: None,
            })
            .collect(),
    };
    let json = serde_json::to_vec(&digest).map_err(std::io::Error::other)?;
    let sha256 = sha256_hex(&json);
    let path = dir.join(&object);
    write_gzip(&path, &json)?;
    let signature = match key {
        Some(key) => {
            let signature = key
                .sign(digest.string_to_sign(&sha256).as_bytes())
                .map_err(std::io::Error::other)?;
            let mut sig_path = path.into_os_string();
            sig_path.push(SIGNATURE_SUFFIX);
            std::fs::write(sig_path, &signature)?;
            Some(signature)
        }
        None => None,
    };
    Ok(Link {
        object,
        sha256,
        signature,
    })
}
