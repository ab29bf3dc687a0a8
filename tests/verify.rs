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
use trailmap::verify::keys::SigningKey;

const BUCKET: &str = "trail-bucket";

/// A signed archive under `ROOT/trail-bucket/`, and CloudTrail's "public keys" in `ROOT/keys.json`.
struct Signed {
    root: tempfile::TempDir,
}

impl Signed {
    fn new(key: &SigningKey) -> Signed {
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
        generate(&root.path().join(BUCKET), &config).unwrap();
        std::fs::write(
            root.path().join("keys.json"),
            key.public_keys_json().unwrap(),
        )
        .unwrap();
        Signed { root }
    }

    fn bucket(&self) -> PathBuf {
        self.root.path().join(BUCKET)
    }

    fn keys(&self) -> String {
        self.root.path().join("keys.json").display().to_string()
    }

    /// The object key of a file in the bucket.
    fn key(&self, path: &Path) -> String {
        path.strip_prefix(self.bucket())
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Files of one stream's `CloudTrail` or `CloudTrail-Digest` folder, in time order.
    fn files(&self, folder: &str, account: &str, region: &str) -> Vec<PathBuf> {
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

    fn logs(&self, account: &str, region: &str) -> Vec<PathBuf> {
        self.files("CloudTrail", account, region)
    }

    fn digests(&self, account: &str, region: &str) -> Vec<PathBuf> {
        self.files("CloudTrail-Digest", account, region)
    }

    /// Serves the bucket, every digest put through the S3 API with its signature metadata.
    fn serve(&self) -> S3Server {
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
fn put_digest(server: &S3Server, key: &str, signature: &str) {
    server.set_metadata(
        key,
        &[
            ("signature", signature),
            ("signature-algorithm", "SHA256withRSA"),
        ],
    );
}

/// Runs `trailmap verify --format json` and returns its exit code and document.
fn verify(source: &str, extra: &[&str], env: &[(&str, &str)]) -> (Option<i32>, Value) {
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

fn verify_s3(server: &S3Server, signed: &Signed, extra: &[&str]) -> (Option<i32>, Value) {
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let keys = signed.keys();
    let mut args = vec!["--public-keys", keys.as_str()];
    args.extend_from_slice(extra);
    verify(&format!("s3://{BUCKET}/"), &args, &env)
}

/// Everything not valid: `(kind, status, name)`, names relative to the bucket.
fn problems(report: &Value) -> BTreeSet<(String, String, String)> {
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
fn gaps(report: &Value) -> BTreeSet<(String, String, String)> {
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

fn entry(kind: &str, status: &str, key: &str) -> (String, String, String) {
    (kind.to_owned(), status.to_owned(), key.to_owned())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn read_gzip_json(path: &Path) -> Value {
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut text,
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Digests of a stream that name no log file (an hour with no delivery), in time order.
fn empty_hours(signed: &Signed, account: &str, region: &str) -> Vec<PathBuf> {
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
    let (code, report) = verify(&format!("s3://{BUCKET}/"), &[], &env);
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
fn a_local_copy_is_verified_along_the_hash_chain() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let source = signed.bucket().display().to_string();
    let (code, report) = verify(&source, &[], &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["signatures"], "unverified (local copy)");
    assert_eq!(
        report["summary"]["log_files"]["valid"],
        log_file_count(&signed)
    );

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

    let (code, report) = verify(&source, &[], &[]);
    assert_eq!(code, Some(1), "{report:#}");
    let mut expected = BTreeSet::from([
        entry("digest", "modified", &signed.key(&victim)),
        entry("log_file", "modified", &signed.key(modified)),
    ]);
    // The files the rewritten digest no longer names are unlisted.
    for log in hidden {
        expected.insert(entry("log_file", "unlisted", &log));
    }
    assert_eq!(problems(&report), expected, "{report:#}");
    assert_eq!(
        gaps(&report),
        BTreeSet::from([(org1.to_owned(), "us-east-1".to_owned(), "1.0".to_owned())])
    );
}

#[test]
fn the_table_and_csv_formats_and_exit_code_two() {
    let key = SigningKey::generate().unwrap();
    let signed = Signed::new(&key);
    let source = signed.bucket().display().to_string();
    let output = trailmap(&["verify", "-s", &source]);
    let text = stdout_ok(&output);
    assert!(
        text.contains("Signatures: unverified (local copy)"),
        "{text}"
    );
    assert!(text.contains("Result: VERIFIED"), "{text}");
    let csv = stdout_ok(&trailmap(&["verify", "-s", &source, "--format", "csv"]));
    assert!(
        csv.starts_with("kind,file,status,digest_file,reason\n"),
        "{csv}"
    );
    let rows = csv.lines().count() - 1;
    let (_, report) = verify(&source, &[], &[]);
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

    let rows = query_json(
        &signed.bucket(),
        &[],
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

    let (code, report, _) = audit_run(
        &signed.bucket(),
        "queries/policies/eu-residency.toml",
        &["--verify"],
    );
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(report["complete"], false);
    let integrity = &report["coverage"]["integrity"];
    assert_eq!(integrity["log_files"]["modified"], 1);
    assert_eq!(integrity["verified"], false);

    let html = signed.root.path().join("report.html");
    stdout_ok(&trailmap(&[
        "report",
        "-s",
        &source,
        "--verify",
        "-o",
        html.to_str().unwrap(),
    ]));
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

    let (code, report) = verify(&signed.bucket().display().to_string(), &[], &[]);
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
