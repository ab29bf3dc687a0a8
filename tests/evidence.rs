//! Evidence that binds: `audit --verify` is complete only when every log file it read is
//! `valid`, and `verify` cannot be fooled at the edges of the chain. Each test plants one way
//! of getting "verified" over logs nobody checked and requires a problem, an incomplete audit
//! or a non-zero exit instead.

use std::path::PathBuf;

use serde_json::Value;

use crate::common::*;
use crate::verify::{
    AUDIT_TO, BUCKET, LAST_DAY, Signed, gaps, gzip, problems, read_gzip_json, verify, verify_local,
    verify_s3,
};
use trailmap::verify::keys::SigningKey;

const POLICY: &str = "queries/policies/eu-residency.toml";
const ORG1: &str = "111122223333";

/// A copy of the first log file of ORG1's us-east-1 stream under a new key delivered at `at`
/// (`YYYYMMDDTHHMMZ`): a file no digest names.
fn planted_copy(signed: &Signed, at: &str) -> PathBuf {
    let source = &signed.logs(ORG1, "us-east-1")[0];
    let date = format!("{}/{}/{}", &at[0..4], &at[4..6], &at[6..8]);
    let key = format!(
        "AWSLogs/o-a1b2c3d4e5/{ORG1}/CloudTrail/us-east-1/{date}/{ORG1}_CloudTrail_us-east-1_{at}_PLANTEDPLANTED.json.gz"
    );
    let path = signed.bucket().join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::copy(source, &path).unwrap();
    path
}

/// `audit --verify` of the local copy with its signatures, `--to AUDIT_TO` (one hour of
/// delivery margin) and `extra`.
fn audit_verified(signed: &Signed, extra: &[&str]) -> (Option<i32>, Value) {
    let local = signed.audit_args();
    let mut args: Vec<&str> = vec!["--verify"];
    args.extend(local.iter().map(String::as_str));
    args.extend_from_slice(extra);
    audit_bound(signed, &args)
}

/// `audit` with `args`: exit code and report. When any file read is not `valid`, the report
/// must say so among the reasons it is incomplete, and in its verdict. (The generated archives
/// hold records whose eventTime does not parse, which alone make an audit with `--to`
/// incomplete: the exit code alone cannot show the integrity of what was read counted.)
fn audit_bound(signed: &Signed, args: &[&str]) -> (Option<i32>, Value) {
    let (code, report, stderr) = audit_run(&signed.bucket(), POLICY, args);
    let read = &report["coverage"]["integrity_of_read"]["files"];
    let all_valid = read
        .as_object()
        .is_some_and(|m| m.keys().all(|k| k == "valid"));
    let reasons = &report["incomplete_reasons"];
    let named = reasons
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r == "files-read-not-valid"));
    assert_eq!(named, !all_valid, "{reasons} {read}");
    assert_eq!(
        stderr.contains("log files the audit read are not all shown unaltered"),
        !all_valid,
        "{stderr}"
    );
    (code, report)
}

fn read_files(report: &Value) -> &Value {
    &report["coverage"]["integrity_of_read"]["files"]
}

#[test]
fn a_clean_local_copy_with_its_signatures_binds_every_file_read() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    let (_, report) = audit_verified(&signed, &[]);
    let files = read_files(&report);
    let statuses: Vec<&String> = files.as_object().unwrap().keys().collect();
    assert_eq!(statuses, ["valid"], "{report:#}");
    assert_eq!(report["coverage"]["integrity"]["verified"], true);
    // Incomplete only for the records whose time does not parse (planted by the generator).
    assert_eq!(
        report["incomplete_reasons"],
        serde_json::json!(["unplaceable-event-times"])
    );
    for finding in report["violations"].as_array().unwrap() {
        assert_eq!(finding["integrity"], "valid", "{finding:#}");
    }
}

/// Case 1a: a file delivered after the newest digest (a live bucket's current hour) is
/// `pending`: no problem for `verify`, but an audit that reads it is incomplete.
#[test]
fn a_file_after_the_newest_digest_is_pending_and_the_audit_that_reads_it_incomplete() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    let planted = planted_copy(&signed, "20250303T0020Z");
    let (code, report) = verify_local(&signed, &[]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["summary"]["log_files"]["pending"], 1, "{report:#}");
    // Read with a margin that reaches it (the chain cannot cover that far: a gap too).
    let local = signed.signature_args();
    let mut args = vec!["--verify", "--delivery-margin", "3h", "--to", AUDIT_TO];
    args.extend(local.iter().map(String::as_str));
    let (code, report) = audit_bound(&signed, &args);
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(report["complete"], false);
    assert_eq!(read_files(&report)["pending"], 1, "{report:#}");
    let events = &report["coverage"]["integrity_of_read"]["events"]["pending"];
    assert!(events.as_u64() > Some(0), "{report:#}");
    let planted = signed.key(&planted);
    for finding in report["violations"].as_array().unwrap() {
        if finding["log_file"].as_str().unwrap().ends_with(&planted) {
            assert_eq!(finding["integrity"], "pending", "{finding:#}");
        }
    }
}

/// Case 1c: a file delivered before the chain's first digest is judged by no digest: the
/// audit that reads it is incomplete.
#[test]
fn a_file_before_the_first_digest_leaves_the_audit_incomplete() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    planted_copy(&signed, "20250228T2340Z");
    let (code, report) = audit_verified(&signed, &[]);
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(read_files(&report)["unjudged"], 1, "{report:#}");
}

/// Case 1d: a file whose key carries no account or Region is named by no digest: unlisted.
#[test]
fn a_file_outside_the_key_layout_leaves_the_audit_incomplete() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    let source = &signed.logs(ORG1, "us-east-1")[0];
    let stray = signed.bucket().join("AWSLogs/exported/records.json.gz");
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::copy(source, &stray).unwrap();
    let (code, report) = audit_verified(&signed, &[]);
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(read_files(&report)["unlisted"], 1, "{report:#}");
}

/// The first file whose oldest event is before the hour it was delivered in, and that hour's
/// start: `--to` just before it keeps the file (its events are in range) while the digest that
/// names it starts after `--to`.
fn straddling_file(signed: &Signed) -> (PathBuf, chrono::DateTime<chrono::Utc>) {
    let time = |text: &str| chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc();
    for log in signed.logs(ORG1, "us-east-1") {
        let name = log.file_name().unwrap().to_str().unwrap().to_owned();
        let stamp = name.split('_').nth(3).unwrap();
        let delivered = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ")
            .unwrap()
            .and_utc();
        let hour_start =
            delivered - chrono::Duration::minutes(i64::from(chrono::Timelike::minute(&delivered)));
        let records = read_gzip_json(&log)["Records"].clone();
        let oldest = records
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["eventTime"].as_str())
            .filter_map(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc())
            .min();
        if oldest.is_some_and(|oldest| oldest < hour_start && oldest > time("2025-03-01T01:00:00Z"))
        {
            return (log, hour_start);
        }
    }
    panic!("no log file whose events start before its delivery hour");
}

/// Case 1b: a late file the delivery margin keeps for `--to T`, named by a digest that starts
/// after T, is judged: altered, it makes the audit incomplete.
#[test]
fn a_late_file_kept_by_the_margin_is_judged_by_its_digest_after_to() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    let (file, hour_start) = straddling_file(&signed);
    let mut log = read_gzip_json(&file);
    log["Records"].as_array_mut().unwrap().pop();
    std::fs::write(&file, gzip(&serde_json::to_vec(&log).unwrap())).unwrap();
    let to = (hour_start - chrono::Duration::seconds(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let local = signed.signature_args();
    let mut args = vec!["--verify", "--delivery-margin", "1h", "--to", to.as_str()];
    args.extend(local.iter().map(String::as_str));
    let (code, report) = audit_bound(&signed, &args);
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(read_files(&report)["modified"], 1, "{report:#}");
}

/// An audit up to `--to T` reads files delivered up to T plus the delivery margin, so its chain
/// must cover that far: a late file deleted together with the digests after T is a gap.
#[test]
fn a_late_file_deleted_with_the_digests_after_to_is_a_gap_for_the_audit() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    let (file, hour_start) = straddling_file(&signed);
    let to = hour_start - chrono::Duration::seconds(1);
    std::fs::remove_file(&file).unwrap();
    // Every digest that starts after T (the one covering T stays): the chain still covers T.
    for digest in signed.digests(ORG1, "us-east-1") {
        let start = read_gzip_json(&digest)["digestStartTime"]
            .as_str()
            .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().to_utc());
        if start.is_some_and(|start| start >= hour_start) {
            std::fs::remove_file(&digest).unwrap();
        }
    }
    let to = to.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let local = signed.signature_args();
    let mut args = vec!["--verify", "--delivery-margin", "1h", "--to", to.as_str()];
    args.extend(local.iter().map(String::as_str));
    let (code, report) = audit_bound(&signed, &args);
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(
        report["coverage"]["integrity"]["verified"], false,
        "{report:#}"
    );
    let reasons = report["incomplete_reasons"].as_array().unwrap();
    assert!(
        reasons.contains(&Value::from("integrity-not-verified")),
        "{reasons:?}"
    );
}

/// `--from` late in a digest's period: the digests judged name files delivered up to two
/// periods before it, and every one of them is listed (none reported `missing`). At hh:50 the
/// first digest judged starts at hh-1:00, and a listing only a period and a grace (plus the
/// 15 minutes of clock skew) back would miss the files delivered in its first five minutes.
#[test]
fn no_from_falsely_reports_a_file_missing() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    let early = walkdir::WalkDir::new(signed.bucket())
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|name| name.contains("_CloudTrail_"))
        .filter(|name| {
            // YYYYMMDDTHHMMZ: minutes 00 to 04.
            let stamp = name.split('_').nth(3).unwrap_or_default();
            stamp.len() == 14 && stamp[11..13] < *"05"
        })
        .count();
    assert!(
        early > 0,
        "no log file delivered in the first minutes of an hour"
    );
    let start = chrono::DateTime::parse_from_rfc3339("2025-03-01T01:50:00Z")
        .unwrap()
        .to_utc();
    for hour in 0..46 {
        let from = (start + chrono::Duration::hours(hour))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let (code, report) = verify_local(&signed, &["--from", &from]);
        assert_eq!(code, Some(0), "--from {from}: {report:#}");
        let problems = problems(&report);
        assert!(problems.is_empty(), "--from {from}: {problems:?}");
    }
}

/// Case 2, end: the newest digest of every chain deleted and a log of that hour edited. On S3
/// the range runs to the time of the run, so the missing hour is a gap.
#[test]
fn a_deleted_tail_is_a_gap_on_s3_with_or_without_to() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    let server = signed.serve();
    let mut edited = false;
    for account in [ORG1, "444455556666", "777788889999"] {
        for region in regions_of(&signed, account) {
            let newest = signed.digests(account, &region).pop().unwrap();
            // A log of the deleted hour edited, where there is one.
            if let (false, Some(log)) = (edited, read_gzip_json(&newest)["logFiles"].get(0)) {
                let path = signed.bucket().join(log["s3Object"].as_str().unwrap());
                std::fs::write(&path, gzip(br#"{"Records":[]}"#)).unwrap();
                edited = true;
            }
            std::fs::remove_file(&newest).unwrap();
        }
    }
    // Without --to: the range ends at the time of the run, less a digest period and a grace.
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let keys = signed.keys();
    let (code, report) = verify(&format!("s3://{BUCKET}/"), &["--public-keys", &keys], &env);
    assert_eq!(code, Some(1), "{report:#}");
    assert_eq!(report["verified"], false);
    assert!(!gaps(&report).is_empty());
    // With --to at the end of the archive: one hour of every chain is a gap.
    let (code, report) = verify_s3(&server, &signed, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    assert!(
        gaps(&report).iter().all(|(_, _, hours)| hours == "1.0"),
        "{report:#}"
    );
}

/// The Regions of an account's digest folders.
fn regions_of(signed: &Signed, account: &str) -> Vec<String> {
    let mut regions = std::collections::BTreeSet::new();
    for entry in walkdir::WalkDir::new(signed.bucket()) {
        let path = entry.unwrap().into_path();
        let text = path.to_str().unwrap();
        let marker = format!("/{account}/CloudTrail-Digest/");
        if let Some(at) = text.find(&marker)
            && let Some(region) = text[at + marker.len()..].split('/').next()
            && !region.is_empty()
        {
            regions.insert(region.to_owned());
        }
    }
    regions.into_iter().collect()
}

/// Case 2, start: the first digests of a chain deleted, no `--from`: the oldest remaining
/// digest names its predecessor, which is missing, with a gap.
#[test]
fn deleted_first_digests_are_missing_without_from() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    let digests = signed.digests(ORG1, "us-east-1");
    for first in &digests[..3] {
        std::fs::remove_file(first).unwrap();
    }
    let (code, report) = verify_local(&signed, &[]);
    assert_eq!(code, Some(1), "{report:#}");
    let missing: Vec<(String, String, String)> = problems(&report)
        .into_iter()
        .filter(|(kind, status, _)| kind == "digest" && status == "missing")
        .collect();
    assert_eq!(
        missing,
        [crate::verify::entry(
            "digest",
            "missing",
            &signed.key(&digests[2])
        )],
        "{report:#}"
    );
    assert_eq!(
        gaps(&report)
            .into_iter()
            .map(|(a, r, _)| (a, r))
            .collect::<Vec<_>>(),
        [(ORG1.to_owned(), "us-east-1".to_owned())]
    );
}

/// Case 3: without signatures a local copy is never "verified" (exit 1), whatever its hashes.
#[test]
fn a_local_copy_without_signatures_or_to_never_exits_zero() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    let source = signed.bucket().display().to_string();
    for extra in [vec![], vec!["--to", LAST_DAY]] {
        let (code, report) = verify(&source, &extra, &[]);
        assert_eq!(code, Some(1), "{extra:?} {report:#}");
        assert_eq!(report["verified"], false);
    }
    let (code, report) = audit_bound(&signed, &["--verify", "--to", LAST_DAY]);
    assert_eq!(code, Some(2), "{report:#}");
    assert_eq!(
        read_files(&report)["unsigned"].as_u64().map(|n| n > 0),
        Some(true)
    );
}

/// Case 1, the bytes: the audit reads an edited file, and the original is back by the time the
/// verification fetches it again. The audit hashed what it decoded, so the file is not valid.
#[test]
fn a_file_replaced_between_the_audit_read_and_the_verification_is_not_valid() {
    let signed = Signed::new(&SigningKey::generate().unwrap());
    let server = signed.serve();
    let file = signed.logs(ORG1, "us-east-1")[1].clone();
    let original = std::fs::read(&file).unwrap();
    let mut log = read_gzip_json(&file);
    log["Records"].as_array_mut().unwrap().pop();
    std::fs::write(&file, gzip(&serde_json::to_vec(&log).unwrap())).unwrap();
    server.overwrite_when_digests_are_listed(&file, original);

    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let source = format!("s3://{BUCKET}/");
    let keys = signed.keys();
    let args = [
        "audit",
        "-s",
        &source,
        "--policy",
        POLICY,
        "--format",
        "json",
        "--verify",
        "--public-keys",
        &keys,
        "--to",
        AUDIT_TO,
        "--delivery-margin",
        "1h",
    ];
    let output = trailmap_with_env(&args, &env);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&output.stderr));
    });
    assert_eq!(output.status.code(), Some(2), "{report:#}");
    // The chain itself verified: the original is what the digest names.
    assert_eq!(
        report["coverage"]["integrity"]["verified"], true,
        "{report:#}"
    );
    assert_eq!(read_files(&report)["read-differs"], 1, "{report:#}");
    let reasons = report["incomplete_reasons"].as_array().unwrap();
    assert!(
        reasons.contains(&Value::from("files-read-not-valid")),
        "{reasons:?}"
    );
}
