//! A CloudTrail digest-chain writer and signer for tests that shares no code with trailmap's own
//! (`trailmap::verify`, `trailmap::generate::chain`, trailmap's key and hash functions): it is
//! written from AWS's documentation alone, so a misreading of the format that trailmap's signer
//! and verifier share cannot make them agree with each other in silence.
//!
//! What it follows (CloudTrail User Guide, "CloudTrail digest file structure" and "Custom
//! implementations of CloudTrail log file integrity validation"; the AWS CLI's
//! `awscli/customizations/cloudtrail/validation.py`):
//!
//! - one digest per period per (trail, account, Region) stream, gzipped, at
//!   `AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_YYYYMMDDTHHMMSSZ.json.gz`,
//!   date and time those of `digestEndTime`;
//! - each log file named with the hex SHA-256 of its *uncompressed* bytes;
//! - `previousDigestHashValue` the hex SHA-256 of the previous digest's *uncompressed* JSON, and
//!   the five `previousDigest*` fields null in the first digest of a chain;
//! - the signed string `digestEndTime \n digestS3Bucket/digestS3Object \n hex SHA-256 of the
//!   uncompressed digest \n previousDigestSignature` (`null` for the first), signed RSASSA-PKCS1-v1_5
//!   with SHA-256 and kept hex-encoded in the object's `x-amz-meta-signature`;
//! - public keys as `aws cloudtrail list-public-keys` prints them: base64 DER of the PKCS#1
//!   `RSAPublicKey`, fingerprint the hex MD5 of that DER.
//!
//! RSA and SHA-256 are RustCrypto's (`rsa`, and the `sha2` it re-exports); trailmap uses aws-lc-rs.
//!
//! The key, `tests/fixtures/digest-signing-key.pem`, was made once with `openssl genrsa 2048`.
//! It is a test-only key, public in this repository: it signs nothing but test fixtures.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use md5::Digest as _;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::{Digest as _, Sha256};
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::Value;

/// The test-only signing key (PKCS#8 PEM, as `openssl genrsa` writes it).
const KEY_PEM: &str = include_str!("../fixtures/digest-signing-key.pem");

/// An RSA key that signs digests the documented way.
pub struct IndependentSigner {
    key: RsaPrivateKey,
    /// DER of the PKCS#1 `RSAPublicKey`, what `list-public-keys` gives as `Value`.
    public_der: Vec<u8>,
}

impl IndependentSigner {
    /// The fixed test key of `tests/fixtures/digest-signing-key.pem`.
    pub fn from_fixture() -> Self {
        let base64: String = KEY_PEM
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(base64.trim())
            .expect("the fixture key is base64 PEM");
        let key = RsaPrivateKey::from_pkcs8_der(&der).expect("the fixture key is PKCS#8 RSA");
        let public_der = key
            .to_public_key()
            .to_pkcs1_der()
            .expect("PKCS#1 DER of the public key")
            .as_bytes()
            .to_vec();
        IndependentSigner { key, public_der }
    }

    /// Hex MD5 of the PKCS#1 DER public key, as `digestPublicKeyFingerprint` names it.
    pub fn fingerprint(&self) -> String {
        hex::encode(md5::Md5::digest(&self.public_der))
    }

    /// The public key as `aws cloudtrail list-public-keys` prints it (AWS CLI v2, ISO 8601
    /// times), valid from 2000 to 2100.
    pub fn public_keys_json(&self) -> String {
        self.public_keys_json_with_times(
            Value::from("2000-01-01T00:00:00+00:00"),
            Value::from("2100-01-01T00:00:00+00:00"),
        )
    }

    /// The public key as the AWS CLI reference's `list-public-keys` example prints it: validity
    /// times as epoch seconds (`"ValidityStartTime": 1453076702.0`, AWS CLI v1's default).
    pub fn public_keys_json_epoch_times(&self) -> String {
        self.public_keys_json_with_times(Value::from(946_684_800.0), Value::from(4_102_444_800.0))
    }

    fn public_keys_json_with_times(&self, start: Value, end: Value) -> String {
        let entry = object(&[
            ("ValidityStartTime", start),
            ("ValidityEndTime", end),
            (
                "Value",
                Value::from(base64::engine::general_purpose::STANDARD.encode(&self.public_der)),
            ),
            ("Fingerprint", Value::from(self.fingerprint())),
        ]);
        format!(r#"{{"PublicKeyList":[{entry}]}}"#)
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 of `message`, hex.
    pub fn sign_hex(&self, message: &[u8]) -> String {
        let hashed = Sha256::digest(message);
        let signature = self
            .key
            .sign(Pkcs1v15Sign::new::<Sha256>(), &hashed)
            .expect("RSA signing");
        hex::encode(signature)
    }
}

/// Which chains to write.
#[derive(Debug, Clone)]
pub struct ChainPlan {
    /// The bucket the digests name (`bucket_dir` is its content).
    pub bucket: String,
    /// The trail name in digest keys.
    pub trail: String,
    /// The trail's home Region in digest keys.
    pub home_region: String,
    /// Start of every stream's first digest period.
    pub first_start: DateTime<Utc>,
    /// Length of each digest period.
    pub period: Duration,
    /// Digests per stream.
    pub periods: usize,
}

/// One digest written.
#[derive(Debug, Clone)]
pub struct SignedDigest {
    /// Its key in the bucket.
    pub key: String,
    /// Its file.
    pub path: PathBuf,
    pub account: String,
    pub region: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Hex signature, for `x-amz-meta-signature`.
    pub signature: String,
    /// Hex SHA-256 of its uncompressed JSON.
    pub sha256: String,
    /// Keys (in the bucket) of the log files it names.
    pub log_files: Vec<String>,
}

/// A CloudTrail log file found in a bucket directory, read from its key alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LogFileKey {
    /// Everything before `AWSLogs/` (the trail's S3 key prefix, with its `/`).
    pub prefix: String,
    /// `o-...` for an organization trail.
    pub organization: Option<String>,
    pub account: String,
    pub region: String,
    /// The delivery time in the file name (to the minute).
    pub delivered: DateTime<Utc>,
    /// The whole key in the bucket.
    pub key: String,
}

impl LogFileKey {
    /// Reads `[PREFIX]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/
    /// ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz`; `None` for a key outside a
    /// `CloudTrail/` folder, a panic for one inside it that does not have that form.
    pub fn parse(key: &str) -> Option<LogFileKey> {
        let at = key.find("AWSLogs/")?;
        let (prefix, rest) = key.split_at(at);
        let mut parts: Vec<&str> = rest.split('/').skip(1).collect();
        let organization = match parts.first() {
            Some(first) if first.starts_with("o-") => Some(parts.remove(0).to_owned()),
            _ => None,
        };
        if parts.get(1) != Some(&"CloudTrail") {
            return None;
        }
        let [account, _, region, year, month, day, name] = parts[..] else {
            bad_key(key)
        };
        let Some(tail) = name.strip_prefix(&format!("{account}_CloudTrail_{region}_")) else {
            bad_key(key)
        };
        let (time, unique) = tail.split_at_checked(14).unwrap_or_else(|| bad_key(key));
        if !unique.starts_with('_') || !unique.ends_with(".json.gz") {
            bad_key(key);
        }
        let delivered = NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%MZ")
            .unwrap_or_else(|_| bad_key(key))
            .and_utc();
        if delivered.format("%Y/%m/%d").to_string() != format!("{year}/{month}/{day}") {
            bad_key(key);
        }
        Some(LogFileKey {
            prefix: prefix.to_owned(),
            organization,
            account: account.to_owned(),
            region: region.to_owned(),
            delivered,
            key: key.to_owned(),
        })
    }

    /// `[PREFIX]AWSLogs/[o-ORGID/]ACCOUNT`, the part of the key a stream's digests share.
    fn stream_root(&self) -> String {
        match &self.organization {
            Some(org) => format!("{}AWSLogs/{org}/{}", self.prefix, self.account),
            None => format!("{}AWSLogs/{}", self.prefix, self.account),
        }
    }
}

fn bad_key(key: &str) -> ! {
    panic!("not a CloudTrail log file key: {key}")
}

/// Every CloudTrail log file under `bucket_dir`, sorted by stream, then delivery time, then key.
pub fn find_log_files(bucket_dir: &Path) -> Vec<LogFileKey> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(bucket_dir) {
        let entry = entry.expect("walk the bucket");
        if !entry.file_type().is_file() {
            continue;
        }
        let key = entry
            .path()
            .strip_prefix(bucket_dir)
            .expect("inside the bucket")
            .to_str()
            .expect("utf-8 key")
            .replace(std::path::MAIN_SEPARATOR, "/");
        found.extend(LogFileKey::parse(&key));
    }
    // Field order: stream, then delivery time, then key.
    found.sort();
    found
}

/// Finds every CloudTrail log file under `bucket_dir` (a walk of the directory, keys parsed
/// here), groups them by (key prefix, organization, account, Region), and for each stream writes
/// `plan.periods` consecutive digests from `plan.first_start`, each naming the log files whose
/// delivery minute (in their key) falls in `[start, end)`, chained and signed as documented.
/// Returns them stream by stream, each stream in time order. The signatures are returned, not
/// stored: S3 keeps them in object metadata, which a directory cannot.
pub fn write_chains(
    bucket_dir: &Path,
    signer: &IndependentSigner,
    plan: &ChainPlan,
) -> Vec<SignedDigest> {
    let mut streams: BTreeMap<(String, String), Vec<LogFileKey>> = BTreeMap::new();
    for log in find_log_files(bucket_dir) {
        streams
            .entry((log.stream_root(), log.region.clone()))
            .or_default()
            .push(log);
    }
    let mut written = Vec::new();
    for ((root, region), logs) in &streams {
        let stream = Stream {
            account: &logs[0].account,
            region,
        };
        let mut chain: Vec<SignedDigest> = Vec::with_capacity(plan.periods);
        for index in 0..plan.periods {
            let start = plan.first_start + plan.period * i32::try_from(index).expect("periods");
            let end = start + plan.period;
            let named: Vec<&LogFileKey> = logs
                .iter()
                .filter(|l| l.delivered >= start && l.delivered < end)
                .collect();
            let key = format!(
                "{root}/CloudTrail-Digest/{region}/{date}/{account}_CloudTrail-Digest_{region}_{trail}_{home}_{time}.json.gz",
                account = stream.account,
                date = end.format("%Y/%m/%d"),
                trail = plan.trail,
                home = plan.home_region,
                time = end.format("%Y%m%dT%H%M%SZ"),
            );
            let digest = write_digest(
                bucket_dir,
                signer,
                plan,
                &stream,
                &key,
                (start, end),
                &named,
                chain.last(),
            );
            chain.push(digest);
        }
        written.extend(chain);
    }
    written
}

/// The account and Region of a chain.
struct Stream<'a> {
    account: &'a str,
    region: &'a str,
}

/// Writes and signs one digest.
#[allow(clippy::too_many_arguments)]
fn write_digest(
    bucket_dir: &Path,
    signer: &IndependentSigner,
    plan: &ChainPlan,
    stream: &Stream,
    key: &str,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    logs: &[&LogFileKey],
    previous: Option<&SignedDigest>,
) -> SignedDigest {
    let mut oldest: Option<Timed> = None;
    let mut newest: Option<Timed> = None;
    let log_files: Vec<String> = logs
        .iter()
        .map(|log| {
            let json = inflate(&bucket_dir.join(&log.key));
            let (old, new) = event_time_range(&json);
            oldest = earliest(oldest.take(), old.clone());
            newest = latest(newest.take(), new.clone());
            object(&[
                ("s3Bucket", Value::from(plan.bucket.as_str())),
                ("s3Object", Value::from(log.key.as_str())),
                ("hashValue", Value::from(sha256_hex(&json))),
                ("hashAlgorithm", Value::from("SHA-256")),
                ("newestEventTime", Timed::value(new)),
                ("oldestEventTime", Timed::value(old)),
            ])
        })
        .collect();
    let string = |s: &str| Value::from(s);
    let (prev_bucket, prev_object, prev_hash, prev_algorithm, prev_signature) = match previous {
        Some(p) => (
            string(&plan.bucket),
            string(&p.key),
            string(&p.sha256),
            string("SHA-256"),
            string(&p.signature),
        ),
        None => (
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ),
    };
    let end_time = rfc3339(end);
    let fields = object(&[
        ("awsAccountId", string(stream.account)),
        ("digestStartTime", Value::from(rfc3339(start))),
        ("digestEndTime", Value::from(end_time.as_str())),
        ("digestS3Bucket", string(&plan.bucket)),
        ("digestS3Object", string(key)),
        (
            "digestPublicKeyFingerprint",
            Value::from(signer.fingerprint()),
        ),
        ("digestSignatureAlgorithm", string("SHA256withRSA")),
        ("newestEventTime", Timed::value(newest)),
        ("oldestEventTime", Timed::value(oldest)),
        ("previousDigestS3Bucket", prev_bucket),
        ("previousDigestS3Object", prev_object),
        ("previousDigestHashValue", prev_hash),
        ("previousDigestHashAlgorithm", prev_algorithm),
        ("previousDigestSignature", prev_signature),
    ]);
    // `object` ends with `}`: the log file list goes last, as in the guide's example.
    let json = format!(
        "{},\"logFiles\":[{}]}}",
        &fields[..fields.len() - 1],
        log_files.join(",")
    );
    let sha256 = sha256_hex(json.as_bytes());
    let to_sign = format!(
        "{end_time}\n{bucket}/{key}\n{sha256}\n{previous}",
        bucket = plan.bucket,
        previous = previous.map_or("null", |p| p.signature.as_str()),
    );
    let signature = signer.sign_hex(to_sign.as_bytes());
    let path = bucket_dir.join(key);
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("create digest"),
        flate2::Compression::default(),
    );
    gz.write_all(json.as_bytes()).expect("write digest");
    gz.finish().expect("finish digest");
    SignedDigest {
        key: key.to_owned(),
        path,
        account: stream.account.to_owned(),
        region: stream.region.to_owned(),
        start,
        end,
        signature,
        sha256,
        log_files: logs.iter().map(|l| l.key.clone()).collect(),
    }
}

/// A JSON object with its fields in the order given.
fn object(fields: &[(&str, Value)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("{}:{value}", Value::from(*name)))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The uncompressed bytes of a gzipped file (one gzip member, as CloudTrail writes).
fn inflate(path: &Path) -> Vec<u8> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("open log file"))
        .read_to_end(&mut json)
        .expect("gunzip log file");
    json
}

/// An `eventTime` as written, with its instant.
#[derive(Debug, Clone)]
struct Timed {
    at: DateTime<Utc>,
    text: String,
}

impl Timed {
    fn value(time: Option<Timed>) -> Value {
        time.map_or(Value::Null, |t| Value::from(t.text))
    }
}

fn earliest(a: Option<Timed>, b: Option<Timed>) -> Option<Timed> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.at < a.at { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<Timed>, b: Option<Timed>) -> Option<Timed> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.at > a.at { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// Oldest and newest parsable `eventTime` of a log file's records.
fn event_time_range(json: &[u8]) -> (Option<Timed>, Option<Timed>) {
    let file: Value = serde_json::from_slice(json).expect("log file JSON");
    let mut range = (None, None);
    for record in file["Records"].as_array().into_iter().flatten() {
        let Some(text) = record["eventTime"].as_str() else {
            continue;
        };
        let Ok(at) = DateTime::parse_from_rfc3339(text) else {
            continue;
        };
        let timed = Timed {
            at: at.with_timezone(&Utc),
            text: text.to_owned(),
        };
        range = (
            earliest(range.0, Some(timed.clone())),
            latest(range.1, Some(timed)),
        );
    }
    range
}
