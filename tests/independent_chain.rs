//! `trailmap verify` against a digest chain that trailmap did not write: digests written and
//! signed by `common::chain_signer` from AWS's documented format alone (no code shared with
//! trailmap's signer or verifier), with periods that do not start on the hour. A misreading of
//! the format shared by trailmap's own signer and verifier would fail here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::Value;

use crate::common::chain_signer::{
    ChainPlan, IndependentSigner, SignedDigest, find_log_files, write_chains,
};
use crate::common::s3_server::{Faults, S3Server};
use trailmap::generate::{GeneratorConfig, generate};

const BUCKET: &str = "trail-bucket";

/// Runs `trailmap verify -s s3://trail-bucket/ --public-keys KEYS --to TO --format json`
/// against `server`; returns the exit code and the report. (On S3, without `--to`, the range
/// runs to the present, and chains that ended in 2025 would end in a gap.)
fn verify_s3(server: &S3Server, keys: &Path, to: &str) -> (Option<i32>, Value) {
    verify_s3_range(server, keys, &["--to", to])
}

/// [`verify_s3`] with the range options `range` (`--from`, `--to`).
fn verify_s3_range(server: &S3Server, keys: &Path, range: &[&str]) -> (Option<i32>, Value) {
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let keys = keys.to_str().expect("utf-8 path");
    let mut args = vec!["--public-keys", keys];
    args.extend_from_slice(range);
    crate::verify::verify(&format!("s3://{BUCKET}/"), &args, &env)
}

/// The status of every digest in a report, by its key in the bucket.
fn digest_statuses(report: &Value) -> BTreeMap<String, String> {
    report["digests"]
        .as_array()
        .expect("a digests array")
        .iter()
        .map(|row| {
            let name = row["digest_file"].as_str().expect("digest_file");
            let at = name.find("AWSLogs/").expect("a CloudTrail key");
            (
                name[at..].to_owned(),
                row["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

/// The status of every log file in a report, by its key in the bucket.
fn log_statuses(report: &Value) -> BTreeMap<String, String> {
    report["log_files"]
        .as_array()
        .expect("a log_files array")
        .iter()
        .map(|row| {
            let name = row["log_file"].as_str().expect("log_file");
            let at = name.find("AWSLogs/").expect("a CloudTrail key");
            (
                name[at..].to_owned(),
                row["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect()
}

/// An archive whose chains `chain_signer` wrote, served on the S3 test server with each
/// digest's signature in its metadata.
struct Independent {
    root: tempfile::TempDir,
    signer: IndependentSigner,
    digests: Vec<SignedDigest>,
    /// Log files in the bucket.
    log_files: usize,
    /// The start of every chain.
    first_start: DateTime<Utc>,
    /// The newest log file's delivery time.
    last_delivery: DateTime<Utc>,
    server: S3Server,
}

impl Independent {
    fn new() -> Independent {
        let root = tempfile::tempdir().unwrap();
        let bucket = root.path().join(BUCKET);
        let config = GeneratorConfig {
            events: 600,
            events_per_file: 40,
            seed: 11,
            days: 1,
            digest_chain: None,
            ..GeneratorConfig::default()
        };
        generate(&bucket, &config).unwrap();
        // Without a chain the generator writes a few placeholder digests: ours replace them.
        for entry in walkdir::WalkDir::new(&bucket) {
            let path = entry.unwrap().into_path();
            if path.is_file() && path.to_str().unwrap().contains("/CloudTrail-Digest/") {
                std::fs::remove_file(path).unwrap();
            }
        }

        let logs = find_log_files(&bucket);
        assert!(logs.len() > 10, "{} log files", logs.len());
        let first = logs.iter().map(|l| l.delivered).min().unwrap();
        let last_delivery = logs.iter().map(|l| l.delivered).max().unwrap();
        // Periods that do not sit on the hour: hh:01:31 to hh+1:01:31.
        let hour = Duration::hours(1);
        let first_start = first.duration_trunc(hour).unwrap() - hour
            + Duration::minutes(1)
            + Duration::seconds(31);
        let periods = usize::try_from((last_delivery - first_start).num_hours() + 1).unwrap();
        let signer = IndependentSigner::from_fixture();
        let plan = ChainPlan {
            bucket: BUCKET.to_owned(),
            trail: "independent-trail".to_owned(),
            home_region: "us-east-1".to_owned(),
            first_start,
            period: hour,
            periods,
        };
        let started = std::time::Instant::now();
        let digests = write_chains(&bucket, &signer, &plan);
        eprintln!(
            "{} digests over {} log files written and signed in {:?}",
            digests.len(),
            logs.len(),
            started.elapsed()
        );

        // A check of the writer itself: every log file named exactly once, every stream
        // complete, no period on the hour.
        let mut named: BTreeMap<&str, usize> = BTreeMap::new();
        for digest in &digests {
            for key in &digest.log_files {
                *named.entry(key.as_str()).or_default() += 1;
            }
        }
        let on_disk: BTreeMap<&str, usize> = logs.iter().map(|l| (l.key.as_str(), 1)).collect();
        assert_eq!(named, on_disk);
        let streams: BTreeSet<(&str, &str)> = digests
            .iter()
            .map(|d| (d.account.as_str(), d.region.as_str()))
            .collect();
        assert_eq!(digests.len(), streams.len() * periods);
        assert!(digests.iter().all(|d| d.start.timestamp() % 3600 == 91));

        let server = S3Server::start(root.path(), Faults::default());
        for digest in &digests {
            crate::verify::put_digest(&server, &digest.key, &digest.signature);
        }
        Independent {
            root,
            log_files: logs.len(),
            signer,
            digests,
            first_start,
            last_delivery,
            server,
        }
    }

    /// Writes the public keys file `list-public-keys` would give.
    fn keys(&self, json: &str) -> PathBuf {
        let path = self.root.path().join("keys.json");
        std::fs::write(&path, json).unwrap();
        path
    }

    /// The end of every chain, for `--to`.
    fn end(&self) -> String {
        let end = self.digests.iter().map(|d| d.end).max().unwrap();
        end.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

#[test]
fn trailmap_verifies_an_independently_signed_chain() {
    let archive = Independent::new();
    let keys = archive.keys(&archive.signer.public_keys_json());
    let (code, report) = verify_s3(&archive.server, &keys, &archive.end());
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["verified"], true, "{report:#}");
    assert_eq!(
        report["summary"]["digests"]["valid"],
        archive.digests.len(),
        "{report:#}"
    );
    assert_eq!(
        report["summary"]["log_files"]["valid"], archive.log_files,
        "{report:#}"
    );

    // One byte of one signature flipped (a digest in the middle of a chain that names a log
    // file): that digest's signature no longer verifies, nor do the log files only it names.
    let victim = archive
        .digests
        .iter()
        .filter(|d| {
            !d.log_files.is_empty()
                && d.start > archive.first_start
                && d.end <= archive.last_delivery
        })
        .nth(1)
        .expect("a digest naming log files, mid-chain");
    let mut signature = hex::decode(&victim.signature).unwrap();
    let middle = signature.len() / 2;
    signature[middle] ^= 0x01;
    crate::verify::put_digest(&archive.server, &victim.key, &hex::encode(signature));
    let (code, report) = verify_s3(&archive.server, &keys, &archive.end());
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["verified"], false, "{report:#}");
    assert_eq!(
        digest_statuses(&report)
            .get(&victim.key)
            .map(String::as_str),
        Some("bad-signature"),
        "{report:#}"
    );
    let statuses = log_statuses(&report);
    for log in &victim.log_files {
        assert_eq!(
            statuses.get(log).map(String::as_str),
            Some("unverified"),
            "{log}: {report:#}"
        );
    }
}

/// The AWS CLI reference's `list-public-keys` example prints the validity times as epoch
/// seconds (`"ValidityStartTime": 1453076702.0`), as AWS CLI v1 does by default (and v2 with
/// `cli_timestamp_format = wire`): trailmap reads such a file as well as ISO 8601 times.
#[test]
fn trailmap_reads_public_keys_with_epoch_validity_times() {
    let archive = Independent::new();
    let keys = archive.keys(&archive.signer.public_keys_json_epoch_times());
    let (code, report) = verify_s3(&archive.server, &keys, &archive.end());
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["verified"], true, "{report:#}");
}

/// `--from` and `--to` inside digest periods that do not sit on the hour: the first digest
/// overlapping the range names files delivered before `--from`, the last names files after
/// `--to`. None is reported `missing` or `unlisted`, and no gap opens at either edge.
#[test]
fn from_and_to_inside_digest_periods_leave_no_false_problem() {
    let archive = Independent::new();
    let keys = archive.keys(&archive.signer.public_keys_json());
    let naming: Vec<&SignedDigest> = archive
        .digests
        .iter()
        .filter(|d| !d.log_files.is_empty())
        .collect();
    assert!(naming.len() >= 4, "{} digests name log files", naming.len());
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // --from more than 15 minutes after a file the first digest overlapping it names was
    // delivered (a listing pruned at --from less 15 minutes loses that file), and --to 10
    // minutes into the period of the last digest naming a file.
    let delivered: BTreeMap<String, DateTime<Utc>> =
        find_log_files(&archive.root.path().join(BUCKET))
            .into_iter()
            .map(|l| (l.key, l.delivered))
            .collect();
    let (first, early) = naming
        .iter()
        .find_map(|d| {
            let early = d
                .log_files
                .iter()
                .map(|l| delivered[l])
                .find(|t| *t + Duration::minutes(20) < d.end)?;
            Some((*d, early))
        })
        .expect("a digest naming a file delivered 20 minutes before its end");
    let from = time(early + Duration::minutes(17));
    let naming: Vec<&SignedDigest> = naming
        .into_iter()
        .filter(|d| d.start >= first.start)
        .collect();
    let to = time(naming[naming.len() - 1].start + Duration::minutes(10));
    let (code, report) = verify_s3_range(&archive.server, &keys, &["--from", &from, "--to", &to]);
    assert_eq!(code, Some(0), "{report:#}");
    let not_valid: Vec<(String, String)> = log_statuses(&report)
        .into_iter()
        .chain(digest_statuses(&report))
        .filter(|(_, status)| status != "valid")
        .collect();
    assert_eq!(not_valid, [], "{report:#}");
    assert_eq!(
        report["gaps"].as_array().map(Vec::len),
        Some(0),
        "{report:#}"
    );
    // Every log file the range's digests name is judged, those delivered before --from and
    // after --to included.
    let judged = log_statuses(&report);
    for digest in [naming[0], naming[naming.len() - 1]] {
        for log in &digest.log_files {
            assert_eq!(judged.get(log).map(String::as_str), Some("valid"), "{log}");
        }
    }
}
