//! `trailmap verify` over a signed digest chain: on the S3 test server (signatures in
//! `x-amz-meta-signature`, as on S3) and as a local copy (hash chain only). Each tamper case is
//! planted in a stream (account and Region) of its own and must be found exactly: the set of
//! everything not valid equals the set planted.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::s3_server::{Faults, S3Server};
use crate::common::*;
use trailmap::generate::{DigestChain, GeneratorConfig, chain::SIGNATURE_SUFFIX, generate};
use trailmap::verify::keys::{PublicKeys, SigningKey};
use trailmap::verify::signatures::SignatureFile;

pub(crate) const BUCKET: &str = "trail-bucket";

/// The last day of the generated archives (two days from 2025-03-01): `--to` anchors the end
/// of the range there.
pub(crate) const LAST_DAY: &str = "2025-03-02";

/// Where audits of the generated archives end: with a one-hour delivery margin, their chain
/// (through the end of [`LAST_DAY`]) covers what they may read.
pub(crate) const AUDIT_TO: &str = "2025-03-02T22:00:00Z";

/// A signed archive under `ROOT/trail-bucket/`, and CloudTrail's "public keys" in `ROOT/keys.json`.
pub(crate) struct Signed {
    pub(crate) root: tempfile::TempDir,
}

impl Signed {
    pub(crate) fn new(key: &SigningKey) -> Signed {
        let root = tempfile::tempdir().unwrap();
        let config = GeneratorConfig {
            events: 1_200,
            events_per_file: 40,
            seed: 9,
            days: 2,
            digest_chain: Some(DigestChain {
                bucket: BUCKET.to_owned(),
                signing_key_pem: Some(key.to_pem().unwrap()),
            }),
            ..GeneratorConfig::default()
        };
        let written = generate(&root.path().join(BUCKET), &config).unwrap();
        std::fs::write(
            root.path().join("keys.json"),
            key.public_keys_json().unwrap(),
        )
        .unwrap();
        let mut keys = PublicKeys::default();
        keys.insert(key.public_der());
        SignatureFile::new(written.signatures, &keys)
            .unwrap()
            .save(&root.path().join("signatures.json"))
            .unwrap();
        Signed { root }
    }

    /// The signatures of the digests, as `--save-signatures` saves them from S3.
    pub(crate) fn signatures(&self) -> String {
        self.root
            .path()
            .join("signatures.json")
            .display()
            .to_string()
    }

    /// The options that give a local copy its signatures and CloudTrail's keys (four values).
    pub(crate) fn signature_args(&self) -> Vec<String> {
        vec![
            "--signatures".into(),
            self.signatures(),
            "--public-keys".into(),
            self.keys(),
        ]
    }

    /// The options that let a local copy be verified: [`Signed::signature_args`], and `--to`.
    pub(crate) fn local_args(&self) -> Vec<String> {
        let mut args = self.signature_args();
        args.extend(["--to".into(), LAST_DAY.into()]);
        args
    }

    /// The options of an audit (or report) of the local copy whose range the chain covers:
    /// [`Signed::signature_args`], `--to AUDIT_TO` and a one-hour delivery margin (an audit's
    /// chain must cover `--to` plus the margin, the files it may read).
    pub(crate) fn audit_args(&self) -> Vec<String> {
        let mut args = self.signature_args();
        args.extend(["--to", AUDIT_TO, "--delivery-margin", "1h"].map(String::from));
        args
    }

    pub(crate) fn bucket(&self) -> PathBuf {
        self.root.path().join(BUCKET)
    }

    pub(crate) fn keys(&self) -> String {
        self.root.path().join("keys.json").display().to_string()
    }

    /// The object key of a file in the bucket.
    pub(crate) fn key(&self, path: &Path) -> String {
        path.strip_prefix(self.bucket())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Files of one stream's `CloudTrail` or `CloudTrail-Digest` folder, in time order.
    pub(crate) fn files(&self, folder: &str, account: &str, region: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = walkdir::WalkDir::new(self.bucket())
            .into_iter()
            .filter_map(|e| e.ok())
            .map(|e| e.into_path())
            .filter(|p| {
                let text = p.to_str().unwrap();
                text.ends_with(".json.gz")
                    && text.contains(&format!("/{account}/{folder}/{region}/"))
            })
            .collect();
        files.sort_by_key(|p| p.file_name().unwrap().to_owned());
        files
    }

    pub(crate) fn logs(&self, account: &str, region: &str) -> Vec<PathBuf> {
        self.files("CloudTrail", account, region)
    }

    pub(crate) fn digests(&self, account: &str, region: &str) -> Vec<PathBuf> {
        self.files("CloudTrail-Digest", account, region)
    }

    /// Serves the bucket, every digest put through the S3 API with its signature metadata.
    pub(crate) fn serve(&self) -> S3Server {
        let server = S3Server::start(self.root.path(), Faults::default());
        for entry in walkdir::WalkDir::new(self.bucket()) {
            let path = entry.unwrap().into_path();
            let mut sig = path.clone().into_os_string();
            sig.push(SIGNATURE_SUFFIX);
            if let Ok(signature) = std::fs::read_to_string(&sig) {
                put_digest(&server, &self.key(&path), &signature);
            }
        }
        server
    }
}

/// Gives a digest (already on disk at `key`) its signature metadata, as CloudTrail stores it.
pub(crate) fn put_digest(server: &S3Server, key: &str, signature: &str) {
    server.set_metadata(
        key,
        &[
            ("signature", signature),
            ("signature-algorithm", "SHA256withRSA"),
        ],
    );
}

/// Runs `trailmap verify --format json` and returns its exit code and document.
pub(crate) fn verify(source: &str, extra: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value) {
    let mut args = vec!["verify", "-s", source, "--format", "json"];
    args.extend_from_slice(extra);
    let output = trailmap_with_env(&args, env);
    let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), json)
}

/// `trailmap verify` of the local copy `signed`, with its signatures and `--to`.
pub(crate) fn verify_local(signed: &Signed, extra: &[&str]) -> (Option<i32>, Value) {
    let local = signed.local_args();
    let mut args: Vec<&str> = local.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    verify(&signed.bucket().display().to_string(), &args, &[])
}

/// `trailmap verify` of the served bucket, with the keys and `--to` (the end of the archive).
pub(crate) fn verify_s3(
    server: &S3Server,
    signed: &Signed,
    extra: &[&str],
) -> (Option<i32>, Value) {
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let keys = signed.keys();
    let mut args = vec!["--public-keys", keys.as_str(), "--to", LAST_DAY];
    args.extend_from_slice(extra);
    verify(&format!("s3://{BUCKET}/"), &args, &env)
}

/// Everything not valid: `(kind, status, name)`, names relative to the bucket.
pub(crate) fn problems(report: &Value) -> BTreeSet<(String, String, String)> {
    let name = |v: &Value| {
        let text = v.as_str().unwrap();
        let at = text.find("AWSLogs/").unwrap();
        text[at..].to_owned()
    };
    let mut found = BTreeSet::new();
    for (kind, field) in [("digest", "digest_file"), ("log_file", "log_file")] {
        let plural = if kind == "digest" {
            "digests"
        } else {
            "log_files"
        };
        for row in report[plural].as_array().unwrap() {
            let status = row["status"].as_str().unwrap();
            if status != "valid" {
                found.insert((kind.to_owned(), status.to_owned(), name(&row[field])));
            }
        }
    }
    found
}

/// `(account, region, hours)` of every gap.
pub(crate) fn gaps(report: &Value) -> BTreeSet<(String, String, String)> {
    report["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["account"].as_str().unwrap().to_owned(),
                g["region"].as_str().unwrap().to_owned(),
                g["hours"].to_string(),
            )
        })
        .collect()
}

pub(crate) fn entry(kind: &str, status: &str, key: &str) -> (String, String, String) {
    (kind.to_owned(), status.to_owned(), key.to_owned())
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

pub(crate) fn read_gzip_json(path: &Path) -> Value {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut text,
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Digests of a stream that name no log file (an hour with no delivery), in time order.
pub(crate) fn empty_hours(signed: &Signed, account: &str, region: &str) -> Vec<PathBuf> {
    signed
        .digests(account, region)
        .into_iter()
        .filter(|p| read_gzip_json(p)["logFiles"].as_array().unwrap().is_empty())
        .collect()
}

/// The digest of a stream that names the log file `log`.
fn digest_naming(signed: &Signed, account: &str, region: &str, log: &Path) -> PathBuf {
    let key = signed.key(log);
    signed
        .digests(account, region)
        .into_iter()
        .find(|d| {
            read_gzip_json(d)["logFiles"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["s3Object"] == key.as_str())
        })
        .expect("a digest names every log file")
}

/// Two consecutive digests of a stream that name no log file (after the first few hours).
fn consecutive_empty_hours(signed: &Signed, account: &str, region: &str) -> (PathBuf, PathBuf) {
    let empty = empty_hours(signed, account, region);
    signed
        .digests(account, region)
        .windows(2)
        .skip(2)
        .find(|w| empty.contains(&w[0]) && empty.contains(&w[1]))
        .map(|w| (w[0].clone(), w[1].clone()))
        .expect("two consecutive hours without log files")
}

/// The log files named by the digest of every valid row, per the independent count: one per
/// generated log file (the `--bad` file is not generated here).
fn log_file_count(signed: &Signed) -> usize {
    walkdir::WalkDir::new(signed.bucket())
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            let p = e.path().to_str().unwrap();
            p.contains("/CloudTrail/") && p.ends_with(".json.gz")
        })
        .count()
}

#[test]
fn a_clean_signed_chain_verifies_on_s3() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let server = signed.serve();
    let (code, report) = verify_s3(&server, &signed, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(problems(&report), BTreeSet::new());
    assert_eq!(gaps(&report), BTreeSet::new());
    assert_eq!(report["verified"], true);
    assert_eq!(report["signatures"], "verified (S3 metadata)");
    let digests = walkdir::WalkDir::new(signed.bucket())
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.path().to_str().unwrap().ends_with(".json.gz")
                && e.path().to_str().unwrap().contains("CloudTrail-Digest")
        })
        .count();
    assert_eq!(report["summary"]["digests"]["valid"], digests);
    assert_eq!(
        report["summary"]["log_files"]["valid"],
        log_file_count(&signed)
    );

    // Without --public-keys, the keys come from CloudTrail's ListPublicKeys in the trails'
    // home Region.
    // (The SDK's own Region is another one.)
    server.set_public_keys(&key.public_keys_json().unwrap());
    let mut env = server.env();
    env.retain(|(k, _)| *k != "AWS_REGION");
    env.push(("AWS_REGION", "eu-west-2".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, report) = verify(&format!("s3://{BUCKET}/"), &["--to", LAST_DAY], &env);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(server.public_key_regions(), vec!["us-east-1".to_owned()]);

    // Without CloudTrail's key, no signature is taken on trust.
    let other = SigningKey::generate().unwrap();
    std::fs::write(
        signed.root.path().join("keys.json"),
        other.public_keys_json().unwrap(),
    )
    .unwrap();
    let (code, report) = verify_s3(&server, &signed, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(report["summary"]["digests"]["bad-signature"], digests);
    assert_eq!(
        report["summary"]["log_files"]["unverified"],
        log_file_count(&signed)
    );
}

#[test]
fn every_tamper_case_is_found_exactly_on_s3() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let server = signed.serve();
    let mut expected = BTreeSet::new();
    let mut expected_gaps = BTreeSet::new();
    let org1 = "111122223333";
    let org2 = "444455556666";
    let own = "777788889999";

    // A modified log file.
    let modified = &signed.logs(org1, "us-east-1")[0];
    std::fs::write(modified, gzip(br#"{"Records":[]}"#)).unwrap();
    expected.insert(entry("log_file", "modified", &signed.key(modified)));

    // A digest without signature metadata: unsigned, and so are the log files it names.
    let named = &signed.logs(org1, "us-east-1")[1];
    let unsigned = digest_naming(&signed, org1, "us-east-1", named);
    server.set_metadata(&signed.key(&unsigned), &[]);
    expected.insert(entry("digest", "unsigned", &signed.key(&unsigned)));
    for log in read_gzip_json(&unsigned)["logFiles"].as_array().unwrap() {
        expected.insert(entry(
            "log_file",
            "unsigned",
            log["s3Object"].as_str().unwrap(),
        ));
    }
    expected_gaps.insert((org1.to_owned(), "us-east-1".to_owned(), "1.0".to_owned()));

    // A deleted log file.
    let deleted = &signed.logs(org1, "us-west-2")[1];
    std::fs::remove_file(deleted).unwrap();
    expected.insert(entry("log_file", "missing", &signed.key(deleted)));

    // Two consecutive deleted digests (hours without log files): the later is named by its
    // successor; the gap is two hours.
    let (first, second) = &consecutive_empty_hours(&signed, org1, "eu-west-1");
    std::fs::remove_file(first).unwrap();
    std::fs::remove_file(second).unwrap();
    expected.insert(entry("digest", "missing", &signed.key(second)));
    expected_gaps.insert((org1.to_owned(), "eu-west-1".to_owned(), "2.0".to_owned()));

    // An inserted log file no digest names.
    let source = &signed.logs(org2, "eu-central-1")[0];
    let inserted = source.with_file_name(format!(
        "{org2}_CloudTrail_eu-central-1_20250301T0301Z_INSERTEDINSERTED.json.gz"
    ));
    std::fs::copy(source, &inserted).unwrap();
    expected.insert(entry("log_file", "unlisted", &signed.key(&inserted)));

    // A second gzip member appended to a listed log file.
    let appended = &signed.logs(org2, "eu-west-1")[0];
    let mut bytes = std::fs::read(appended).unwrap();
    bytes.extend(gzip(br#"{"Records":[{"eventVersion":"1.09"}]}"#));
    std::fs::write(appended, bytes).unwrap();
    expected.insert(entry("log_file", "trailing-data", &signed.key(appended)));

    // A digest moved to another key (an hour without log files).
    let original = &empty_hours(&signed, org2, "ap-northeast-1")[5];
    let signature =
        std::fs::read_to_string(format!("{}{SIGNATURE_SUFFIX}", original.display())).unwrap();
    // Same bytes and signature, in another folder.
    let moved_key = {
        let key = signed.key(original);
        let (folder, file) = key.rsplit_once('/').unwrap();
        format!("{folder}/moved/{file}")
    };
    let moved_path = signed.bucket().join(&moved_key);
    std::fs::create_dir_all(moved_path.parent().unwrap()).unwrap();
    std::fs::copy(original, &moved_path).unwrap();
    put_digest(&server, &moved_key, &signature);
    std::fs::remove_file(original).unwrap();
    expected.insert(entry("digest", "moved", &moved_key));
    expected.insert(entry("digest", "missing", &signed.key(original)));
    expected_gaps.insert((
        org2.to_owned(),
        "ap-northeast-1".to_owned(),
        "1.0".to_owned(),
    ));

    // A digest whose signature is not CloudTrail's; the log files it names are unverified.
    let bad = signed
        .digests(own, "us-east-1")
        .into_iter()
        .find(|d| !empty_hours(&signed, own, "us-east-1").contains(d))
        .unwrap();
    let forged = SigningKey::generate().unwrap().sign(b"forged").unwrap();
    put_digest(&server, &signed.key(&bad), &forged);
    expected.insert(entry("digest", "bad-signature", &signed.key(&bad)));
    expected_gaps.insert((own.to_owned(), "us-east-1".to_owned(), "1.0".to_owned()));
    let named = read_gzip_json(&bad);
    for log in named["logFiles"].as_array().unwrap() {
        expected.insert(entry(
            "log_file",
            "unverified",
            log["s3Object"].as_str().unwrap(),
        ));
    }

    // The newest three digests of a stream deleted with the log files they name.
    let newest: Vec<PathBuf> = signed
        .digests(own, "ap-southeast-2")
        .into_iter()
        .rev()
        .take(3)
        .collect();
    for digest in &newest {
        let named = read_gzip_json(digest);
        for log in named["logFiles"].as_array().unwrap() {
            std::fs::remove_file(signed.bucket().join(log["s3Object"].as_str().unwrap())).unwrap();
        }
        std::fs::remove_file(digest).unwrap();
    }
    expected_gaps.insert((
        own.to_owned(),
        "ap-southeast-2".to_owned(),
        "3.0".to_owned(),
    ));

    let (code, report) = verify_s3(&server, &signed, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(problems(&report), expected, "{report:#}");
    assert_eq!(gaps(&report), expected_gaps, "{report:#}");
    assert_eq!(report["verified"], false);
}

#[test]
fn a_local_copy_needs_its_signatures_and_to_to_be_verified() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let source = signed.bucket().display().to_string();
    let logs = log_file_count(&signed);
    // Without signatures: the hash chain is consistent, nothing vouches for it: exit 1.
    let (code, report) = verify(&source, &["--to", LAST_DAY], &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["verified"], false);
    assert_eq!(report["hash_chain_consistent"], true);
    assert_eq!(report["summary"]["log_files"]["unsigned"], logs);
    // With them but without --to: nothing anchors the tail: exit 1.
    let signature_args = signed.signature_args();
    let signature_args: Vec<&str> = signature_args.iter().map(String::as_str).collect();
    let (code, report) = verify(&source, &signature_args, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["anchored"], false);
    assert_eq!(report["summary"]["log_files"]["valid"], logs);
    // With both: verified.
    let (code, report) = verify_local(&signed, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(
        report["signatures"],
        "verified (signatures given for the local copy)"
    );
    assert_eq!(report["summary"]["log_files"]["valid"], logs);
}

#[test]
fn a_local_copy_is_checked_along_the_hash_chain() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let source = signed.bucket().display().to_string();

    // A digest rewritten (its log list emptied): its successor's hash shows it.
    let org1 = "111122223333";
    let digests = signed.digests(org1, "us-east-1");
    let victim = digests
        .iter()
        .find(|d| !empty_hours(&signed, org1, "us-east-1").contains(d))
        .unwrap()
        .clone();
    let mut digest = read_gzip_json(&victim);
    let hidden: Vec<String> = digest["logFiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["s3Object"].as_str().unwrap().to_owned())
        .collect();
    digest["logFiles"] = Value::Array(Vec::new());
    std::fs::write(&victim, gzip(&serde_json::to_vec(&digest).unwrap())).unwrap();
    // And a modified log file elsewhere.
    let modified = &signed.logs("444455556666", "eu-west-1")[1];
    std::fs::write(modified, gzip(br#"{"Records":[]}"#)).unwrap();

    let (code, report) = verify(&source, &["--to", LAST_DAY], &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["hash_chain_consistent"], false);
    let mut expected = BTreeSet::from([
        entry("digest", "modified", &signed.key(&victim)),
        entry("log_file", "modified", &signed.key(modified)),
    ]);
    // The files the rewritten digest no longer names are unlisted.
    for log in hidden {
        expected.insert(entry("log_file", "unlisted", &log));
    }
    // Everything else is hash-linked only: unsigned.
    let found: BTreeSet<_> = problems(&report)
        .into_iter()
        .filter(|(_, status, _)| status != "unsigned")
        .collect();
    assert_eq!(found, expected, "{report:#}");
    assert_eq!(
        gaps(&report),
        BTreeSet::from([(org1.to_owned(), "us-east-1".to_owned(), "1.0".to_owned())])
    );
}

/// A log of the newest hour rewritten, and the newest digest's `hashValue` with it: the hash
/// chain cannot see it (nothing follows the newest digest), only a signature can.
#[test]
fn a_rewritten_newest_hour_is_never_verified() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let source = signed.bucket().display().to_string();
    // A copy taken right after a digest that names a log file: every later digest and log
    // file removed, so no successor records its hash.
    let org2 = "444455556666";
    let newest = signed
        .digests(org2, "eu-west-1")
        .into_iter()
        .rev()
        .find(|d| !empty_hours(&signed, org2, "eu-west-1").contains(d))
        .unwrap();
    let cut = read_gzip_json(&newest)["digestEndTime"]
        .as_str()
        .unwrap()
        .to_owned();
    // Key times as digits: YYYYMMDDTHHMM[SS]Z.
    let digits = |text: &str| -> String { text.chars().filter(char::is_ascii_digit).collect() };
    let cut_digits = digits(&cut);
    for entry in walkdir::WalkDir::new(signed.bucket()) {
        let path = entry.unwrap().into_path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".json.gz") {
            continue;
        }
        let Some(time) = name
            .split('_')
            .find(|p| p.len() >= 14 && p.as_bytes()[8] == b'T')
        else {
            continue;
        };
        // Log keys have minutes only: compare as far as both go.
        let time = digits(time);
        let n = time.len().min(cut_digits.len());
        if time[..n] > cut_digits[..n] {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let mut digest = read_gzip_json(&newest);
    let named = digest["logFiles"][0]["s3Object"]
        .as_str()
        .unwrap()
        .to_owned();
    let log_path = signed.bucket().join(&named);
    let mut log = read_gzip_json(&log_path);
    log["Records"].as_array_mut().unwrap().pop();
    let text = serde_json::to_vec(&log).unwrap();
    std::fs::write(&log_path, gzip(&text)).unwrap();
    // Its hash, computed apart from trailmap's code.
    let hash = {
        use rsa::sha2::Digest as _;
        hex::encode(rsa::sha2::Sha256::digest(&text))
    };
    digest["logFiles"][0]["hashValue"] = Value::String(hash);
    std::fs::write(&newest, gzip(&serde_json::to_vec(&digest).unwrap())).unwrap();

    // The hash chain alone: consistent, and said to be no more than that (exit 1).
    let (code, report) = verify(&source, &["--to", &cut], &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["verified"], false);
    assert_eq!(report["hash_chain_consistent"], true, "{report:#}");
    // With the signatures saved from S3: the rewritten digest does not verify.
    let signature_args = signed.signature_args();
    let mut with_signatures: Vec<&str> = signature_args.iter().map(String::as_str).collect();
    with_signatures.extend(["--to", cut.as_str()]);
    let (code, report) = verify(&source, &with_signatures, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(
        problems(&report),
        BTreeSet::from([
            entry("digest", "bad-signature", &signed.key(&newest)),
            entry("log_file", "unverified", &named),
        ]),
        "{report:#}"
    );
    // And the audit over it is incomplete either way, for the chain (no delivery margin: the
    // copy ends at the cut).
    for extra in [
        vec!["--verify", "--to", &cut, "--delivery-margin", "0h"],
        [
            &["--verify", "--delivery-margin", "0h"],
            &with_signatures[..],
        ]
        .concat(),
    ] {
        let (code, report, _) = audit_run(
            &signed.bucket(),
            "queries/policies/eu-residency.toml",
            &extra,
        );
        assert_eq!(code, Some(2), "{report:#}");
        assert_eq!(report["complete"], false);
        let reasons = report["incomplete_reasons"].as_array().unwrap();
        assert!(
            reasons.contains(&Value::from("integrity-not-verified"))
                && reasons.contains(&Value::from("files-read-not-valid")),
            "{reasons:?}"
        );
    }
}

#[test]
fn the_table_and_csv_formats_and_exit_code_two() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let source = signed.bucket().display().to_string();
    let output = trailmap(&["verify", "-s", &source]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("Signatures: not checked (local copy: hash chain only"),
        "{text}"
    );
    assert!(
        text.contains("Result: HASH CHAIN CONSISTENT, signatures not checked"),
        "{text}"
    );
    assert!(text.contains("pass --to"), "{text}");
    let local = signed.local_args();
    let local: Vec<&str> = local.iter().map(String::as_str).collect();
    let text = stdout_ok(&trailmap(
        &[&["verify", "-s", &source], &local[..]].concat(),
    ));
    assert!(text.contains("Result: VERIFIED"), "{text}");
    let csv = stdout_ok(&trailmap(
        &[&["verify", "-s", &source, "--format", "csv"], &local[..]].concat(),
    ));
    assert!(
        csv.starts_with("kind,file,status,digest_file,reason\n"),
        "{csv}"
    );
    let rows = csv.lines().count() - 1;
    let (_, report) = verify_local(&signed, &[]);
    assert_eq!(
        rows,
        report["digests"].as_array().unwrap().len() + report["log_files"].as_array().unwrap().len()
    );
    // Nothing to verify is not "verified".
    let empty = tempfile::tempdir().unwrap();
    let output = trailmap(&["verify", "-s", empty.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stdout).contains("INCOMPLETE"));
}

#[test]
fn the_integrity_table_joins_events_and_audit_and_report_require_it() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let source = signed.bucket().display().to_string();
    let modified = &signed.logs("444455556666", "eu-west-1")[0];
    // Altered but still a readable log: one record fewer.
    let mut log = read_gzip_json(modified);
    log["Records"].as_array_mut().unwrap().pop();
    let events_left = log["Records"].as_array().unwrap().len() as u64;
    std::fs::write(modified, gzip(&serde_json::to_vec(&log).unwrap())).unwrap();

    let local = signed.local_args();
    let local: Vec<&str> = local.iter().map(String::as_str).collect();
    // Signatures alone (no --to, which would leave out records whose time does not parse):
    // the status of each file does not depend on where the range ends.
    let rows = query_json(
        &signed.bucket(),
        &local[..4],
        "SELECT i.status, count(*) AS events FROM events e JOIN integrity i ON e.log_file = i.log_file GROUP BY 1 ORDER BY 1",
    );
    let by_status: Vec<(String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r["status"].as_str().unwrap().to_owned(),
                r["events"].as_u64().unwrap(),
            )
        })
        .collect();
    let walked = walk(&signed.bucket()).len() as u64;
    assert_eq!(
        by_status,
        vec![
            ("modified".to_owned(), events_left),
            ("valid".to_owned(), walked - events_left)
        ]
    );

    let audit = signed.audit_args();
    let audit: Vec<&str> = audit.iter().map(String::as_str).collect();
    let verify_args = [&["--verify"], &audit[..]].concat();
    let (code, report, _) = audit_run(
        &signed.bucket(),
        "queries/policies/eu-residency.toml",
        &verify_args,
    );
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(report["complete"], false);
    let integrity = &report["coverage"]["integrity"];
    assert_eq!(integrity["log_files"]["modified"], 1);
    assert_eq!(integrity["verified"], false);
    // What the audit read, by status: the one modified file and its events.
    let read = &report["coverage"]["integrity_of_read"];
    assert_eq!(read["files"]["modified"], 1, "{read:#}");
    assert_eq!(read["events"]["modified"], events_left, "{read:#}");
    let judged = report["coverage"]["events"].as_u64().unwrap();
    assert_eq!(read["events"]["valid"], judged - events_left, "{read:#}");
    // Each finding names its file's status.
    let findings = report["violations"].as_array().unwrap();
    assert!(!findings.is_empty());
    for finding in findings {
        let modified_file = finding["log_file"]
            .as_str()
            .unwrap()
            .ends_with(&signed.key(modified));
        let expected = if modified_file { "modified" } else { "valid" };
        assert_eq!(finding["integrity"], expected, "{finding:#}");
    }

    let html = signed.root.path().join("report.html");
    let report_args = [
        &[
            "report",
            "-s",
            &source,
            "--verify",
            "-o",
            html.to_str().unwrap(),
        ],
        &audit[..],
    ]
    .concat();
    stdout_ok(&trailmap(&report_args));
    // --strict: a report over logs that are not shown unaltered is exit 2.
    let strict = trailmap(&[&report_args[..], &["--strict"]].concat());
    assert_eq!(strict.status.code(), Some(2));
    let page = std::fs::read_to_string(&html).unwrap();
    let expected = format!(
        "{} of {} log files verified",
        log_file_count(&signed) - 1,
        log_file_count(&signed)
    );
    assert!(page.contains(&expected), "{expected}");
}

#[test]
fn gaps_are_explained_by_the_trails_own_events() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let org1 = "111122223333";
    let (first, second) = &consecutive_empty_hours(&signed, org1, "eu-west-1");
    let from = read_gzip_json(first)["digestStartTime"]
        .as_str()
        .unwrap()
        .to_owned();
    let to = read_gzip_json(second)["digestEndTime"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::remove_file(first).unwrap();
    std::fs::remove_file(second).unwrap();
    let time = |t: &str, minutes: i64| {
        (chrono::DateTime::parse_from_rfc3339(t).unwrap() + chrono::Duration::minutes(minutes))
            .to_utc()
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let event = |name: &str, at: &str, trail: &str| {
        serde_json::json!({
            "eventVersion": "1.11", "eventTime": at, "eventSource": "cloudtrail.amazonaws.com",
            "eventName": name, "awsRegion": "us-east-1", "recipientAccountId": org1,
            "eventID": format!("{name}-{at}"),
            "requestParameters": { "name": trail }
        })
    };
    let arn = format!("arn:aws:cloudtrail:us-east-1:{org1}:trail/org-trail");
    let records = serde_json::json!({ "Records": [
        event("StopLogging", &time(&from, -10), &arn),
        event("StartLogging", &time(&to, 5), "org-trail"),
        event("StopLogging", &time(&from, -10), "another-trail"),
        event("StopLogging", &time(&from, -600), &arn),
    ]});
    // Outside the CloudTrail layout, so not a log file in range.
    let events_file = signed.bucket().join("exported/trail-events.json.gz");
    std::fs::create_dir_all(events_file.parent().unwrap()).unwrap();
    std::fs::write(&events_file, gzip(&serde_json::to_vec(&records).unwrap())).unwrap();

    let (code, report) = verify(&signed.bucket().display().to_string(), &[], &[]);
    assert_eq!(code, Some(1), "{report:#}");
    let gaps = report["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{report:#}");
    assert_eq!(
        (gaps[0]["from"].as_str(), gaps[0]["to"].as_str()),
        (Some(from.as_str()), Some(to.as_str()))
    );
    assert_eq!(gaps[0]["hours"], 2.0);
    assert_eq!(
        gaps[0]["explained_by"],
        serde_json::json!([
            format!("StopLogging {}", time(&from, -10)),
            format!("StartLogging {}", time(&to, 5)),
        ])
    );
}

#[test]
fn what_cannot_be_read_or_placed_is_never_passed() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let org2 = "444455556666";
    // A digest that is not gzip: invalid, and its hour a gap.
    let broken = empty_hours(&signed, org2, "eu-central-1")[4].clone();
    std::fs::write(&broken, b"not a digest").unwrap();
    // A log file a digest names that cannot be read.
    let garbage = signed.logs(org2, "eu-west-1")[1].clone();
    std::fs::write(&garbage, b"garbage").unwrap();
    // A log file outside the CloudTrail key layout: no delivery time, named by no digest.
    let stray = signed.bucket().join("AWSLogs/exported/notes.json.gz");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, gzip(br#"{"Records":[]}"#)).unwrap();
    // A file in a digest folder not named as a digest.
    let odd = signed
        .bucket()
        .join("AWSLogs/777788889999/CloudTrail-Digest/us-east-1/2025/03/01/odd.json.gz");
    std::fs::write(&odd, gzip(b"{}")).unwrap();

    let (code, report) = verify_local(&signed, &[]);
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(
        problems(&report),
        BTreeSet::from([
            entry("digest", "invalid", &signed.key(&broken)),
            entry("log_file", "unreadable", &signed.key(&garbage)),
            entry("log_file", "unlisted", "AWSLogs/exported/notes.json.gz"),
        ]),
        "{report:#}"
    );
    assert_eq!(
        gaps(&report),
        BTreeSet::from([(org2.to_owned(), "eu-central-1".to_owned(), "1.0".to_owned())])
    );
    let errors: Vec<&str> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["file"].as_str().unwrap())
        .collect();
    assert_eq!(errors.len(), 2, "{report:#}");
    assert!(
        errors.iter().any(|f| f.ends_with("odd.json.gz")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|f| f.ends_with(&signed.key(&garbage))),
        "{errors:?}"
    );
}

/// `--save-signatures` from S3, then `--signatures FILE` for the local copy; or
/// `--signatures-from s3://BUCKET`, which asks S3 for each digest's metadata (HEAD).
#[test]
fn signatures_saved_from_s3_or_read_with_head_verify_a_local_copy() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let server = signed.serve();
    let saved = signed.root.path().join("saved.json");
    let saved_arg = saved.display().to_string();
    let keys = signed.keys();
    let (code, report) = verify_s3(&server, &signed, &["--save-signatures", &saved_arg]);
    assert_eq!(code, Some(0), "{report:#}");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let digests = report["summary"]["digests"]["valid"].as_u64().unwrap();
    assert_eq!(file["digests"].as_array().unwrap().len() as u64, digests);

    let source = signed.bucket().display().to_string();
    let with_saved = [
        "--signatures",
        &saved_arg,
        "--public-keys",
        &keys,
        "--to",
        LAST_DAY,
    ];
    let (code, report) = verify(&source, &with_saved, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(
        report["summary"]["digests"]["valid"].as_u64(),
        Some(digests)
    );

    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let from_s3 = format!("s3://{BUCKET}");
    let args = [
        "--signatures-from",
        from_s3.as_str(),
        "--public-keys",
        keys.as_str(),
        "--to",
        LAST_DAY,
    ];
    let (code, report) = verify(&source, &args, &env);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(
        report["summary"]["digests"]["valid"].as_u64(),
        Some(digests)
    );

    // A signature S3 holds for a digest the copy altered does not verify.
    let org1 = "111122223333";
    let victim = signed.digests(org1, "eu-west-1")[3].clone();
    let mut digest = read_gzip_json(&victim);
    digest["digestEndTime"] = Value::String("2025-03-01T04:00:01Z".into());
    std::fs::write(&victim, gzip(&serde_json::to_vec(&digest).unwrap())).unwrap();
    let (code, report) = verify(&source, &with_saved, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert!(
        problems(&report).contains(&entry("digest", "bad-signature", &signed.key(&victim))),
        "{report:#}"
    );
}

/// A signatures file carries the keys that checked it, but they are never trusted: a forged
/// copy signed with another key, and a signatures file naming that key, do not verify against
/// CloudTrail's keys.
#[test]
fn a_signatures_file_cannot_bring_its_own_keys() {
    let cloudtrail = SigningKey::generate().unwrap();
    let real = Signed::new(&cloudtrail);
    let forger = SigningKey::generate().unwrap();
    let forged = Signed::new(&forger);
    let source = forged.bucket().display().to_string();
    // CloudTrail's keys given: the forged digests name a key CloudTrail never had.
    let (code, report) = verify(
        &source,
        &[
            "--signatures",
            &forged.signatures(),
            "--public-keys",
            &real.keys(),
            "--to",
            LAST_DAY,
        ],
        &[],
    );
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["verified"], false);
    assert!(
        report["summary"]["log_files"]["valid"].is_null(),
        "{report:#}"
    );
}

/// An empty source (a mistyped prefix) is never "verified", not even in the JSON a pipeline
/// may read instead of the exit code.
#[test]
fn nothing_found_is_never_verified() {
    let empty = tempfile::tempdir().unwrap();
    let (code, report) = verify(empty.path().to_str().unwrap(), &["--to", LAST_DAY], &[]);
    assert_eq!(code, Some(2));
    assert_eq!(report["verified"], false, "{report}");
    assert_eq!(report["hash_chain_consistent"], false, "{report}");
}
