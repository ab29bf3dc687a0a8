//! Unreadable files are named with their stage and reason; every good file is still read in full.

use std::io::Write;
use std::path::Path;

use crate::common::*;
use flate2::{Compression, write::GzEncoder};
use trailmap::generate::GeneratorConfig;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

const LOG_DIR: &str = "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/02";

fn log_name(tag: &str) -> String {
    format!("{LOG_DIR}/111122223333_CloudTrail_eu-west-1_20250302T1200Z_{tag}.json.gz")
}

/// A record whose fields have unexpected types: it must load, not fail its file.
const ODD_RECORD: &str = r#"{"Records":[{"eventVersion":"1.11","eventTime":"2025-03-02T11:55:00Z",
  "eventSource":"bedrock.amazonaws.com","eventName":"InvokeModel","awsRegion":"eu-west-1",
  "recipientAccountId":"111122223333","requestParameters":null,"responseElements":"a string",
  "readOnly":"false","userIdentity":"not an object","additionalEventData":{"inferenceRegion":42},
  "eventID":"odd-1","brandNewField":{"nested":[1,2,3]}}]}"#;

fn write(root: &Path, relative: &str, bytes: &[u8]) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A generated archive plus one file of every bad kind; returns the bad files with their stage.
fn archive_with_bad_files() -> (tempfile::TempDir, Vec<(String, &'static str)>) {
    let dir = generated(GeneratorConfig {
        events: 900,
        events_per_file: 100,
        ..GeneratorConfig::default()
    });
    let root = dir.path();
    let good = gzip(br#"{"Records":[{"eventID":"x","eventTime":"2025-03-02T11:58:00Z"}]}"#);
    let mut random_inside = Vec::new();
    let mut state = 12345u32;
    for _ in 0..5000 {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        random_inside.push((state >> 16) as u8);
    }
    let bad: Vec<(String, &'static str, Vec<u8>)> = vec![
        (
            log_name("truncated"),
            "gunzip",
            good[..good.len() / 2].to_vec(),
        ),
        (log_name("notgzip"), "gunzip", br#"{"Records":[]}"#.to_vec()),
        (log_name("randombytes"), "json", gzip(&random_inside)),
        (
            log_name("invalidjson"),
            "json",
            gzip(br#"{"Records":[{"eventID":"a",}]}"#),
        ),
        (log_name("norecords"), "schema", gzip(br#"{"logFiles":[]}"#)),
        (
            log_name("badrecord"),
            "schema",
            gzip(br#"{"Records":[{"eventID":"a"},{"eventID":"b"},"not a record"]}"#),
        ),
        (log_name("empty"), "gunzip", Vec::new()),
        ("exports/empty.json".to_owned(), "json", Vec::new()),
    ];
    for (path, _, bytes) in &bad {
        write(root, path, bytes);
    }
    write(root, &log_name("odd"), &gzip(ODD_RECORD.as_bytes()));
    write(
        root,
        "exports/plain.json",
        br#"{"Records":[{"eventID":"plain-1","eventSource":"s3.amazonaws.com"}]}"#,
    );
    write(root, "AWSLogs/README.txt", b"not a log");
    write(
        root,
        "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2025/03/02/111122223333_CloudTrail-Digest_eu-west-1_t_eu-west-1_20250302T120000Z.json.gz",
        b"garbage digest",
    );
    let expected = bad
        .into_iter()
        .map(|(path, stage, _)| (root.join(path).display().to_string(), stage))
        .collect();
    (dir, expected)
}

#[test]
fn each_bad_file_is_named_and_the_rest_is_read() {
    let (dir, expected_errors) = archive_with_bad_files();
    let source = dir.path().to_str().unwrap();
    let output = trailmap(&[
        "query",
        "-s",
        source,
        "--format",
        "json",
        "SELECT log_file, stage, message, record_index FROM load_errors ORDER BY log_file",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let mut got: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["log_file"].as_str().unwrap().to_owned(),
                r["stage"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = expected_errors
        .iter()
        .map(|(f, s)| (f.clone(), s.to_string()))
        .collect();
    want.sort();
    assert_eq!(got, want);
    for row in &rows {
        assert!(!row["message"].as_str().unwrap().is_empty());
    }
    // The first bad record is named by its index where the failure is in one record.
    let record_index = |name: &str| {
        rows.iter()
            .find(|r| r["log_file"].as_str().unwrap().contains(name))
            .map(|r| r["record_index"].as_u64())
    };
    assert_eq!(record_index("badrecord"), Some(Some(2)));
    assert_eq!(record_index("invalidjson"), Some(Some(0)));
    assert_eq!(record_index("norecords"), Some(None));
    assert_eq!(record_index("truncated"), Some(None));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for (file, stage) in &expected_errors {
        let line = stderr
            .lines()
            .find(|l| l.contains(file.as_str()))
            .unwrap_or_else(|| panic!("stderr names {file}: {stderr}"));
        assert!(line.contains(&format!("({stage}")), "{line}");
    }
    assert!(stderr.contains("8 file(s) could not be read"), "{stderr}");
    assert!(
        !stderr.contains("Digest") && !stderr.contains("README"),
        "skipped files are not errors: {stderr}"
    );

    // Every good record is there: 900 generated + the odd one + the plain JSON one.
    let rows = query_json(dir.path(), &[], "SELECT count(*) AS n FROM events");
    assert_eq!(rows[0]["n"].as_u64(), Some(902));
}

#[test]
fn odd_field_types_load_as_nulls() {
    let (dir, _) = archive_with_bad_files();
    let rows = query_json(
        dir.path(),
        &[],
        "SELECT request_parameters, response_elements, read_only, user_type, inference_region, served_region, log_account \
         FROM events WHERE event_id = 'odd-1'",
    );
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(row.get("request_parameters").is_none_or(|v| v.is_null()));
    assert_eq!(row["response_elements"], "\"a string\"");
    assert_eq!(row["read_only"], false);
    assert!(row.get("user_type").is_none_or(|v| v.is_null()));
    assert_eq!(row["inference_region"], "42");
    assert_eq!(row["log_account"], "111122223333");

    let rows = query_json(
        dir.path(),
        &[],
        "SELECT log_account, log_region, log_date FROM events WHERE event_id = 'plain-1'",
    );
    assert_eq!(rows.len(), 1);
    assert!(
        rows[0].get("log_account").is_none_or(|v| v.is_null()),
        "outside the key layout: {:?}",
        rows[0]
    );
}

#[test]
fn strict_turns_load_errors_into_exit_2() {
    let (dir, _) = archive_with_bad_files();
    let source = dir.path().to_str().unwrap();
    let lenient = trailmap(&["query", "-s", source, "SELECT count(*) FROM events"]);
    assert_eq!(lenient.status.code(), Some(0));
    let strict = trailmap(&[
        "query",
        "-s",
        source,
        "--strict",
        "SELECT count(*) FROM events",
    ]);
    assert_eq!(strict.status.code(), Some(2));
    // The answer is still printed; the exit code says it is incomplete.
    assert!(String::from_utf8_lossy(&strict.stdout).contains("902"));

    let clean = generated(GeneratorConfig {
        events: 200,
        ..GeneratorConfig::default()
    });
    let ok = trailmap(&[
        "query",
        "-s",
        clean.path().to_str().unwrap(),
        "--strict",
        "SELECT count(*) FROM events",
    ]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn a_gzip_bomb_is_a_load_error_and_the_rest_is_read() {
    let dir = generated(GeneratorConfig {
        events: 300,
        events_per_file: 100,
        ..GeneratorConfig::default()
    });
    // 12 MiB of JSON padding in about 12 KiB of gzip.
    let mut bomb = b"{\"Records\":[".to_vec();
    bomb.resize(12 << 20, b' ');
    bomb.extend_from_slice(b"]}");
    let name = log_name("bomb");
    write(dir.path(), &name, &gzip(&bomb));
    let output = trailmap(&[
        "query",
        "-s",
        dir.path().to_str().unwrap(),
        "--max-file-size",
        "4MiB",
        "--format",
        "json",
        "SELECT (SELECT count(*) FROM events) AS events, stage, message FROM load_errors",
    ]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["events"], 300);
    assert_eq!(rows[0]["stage"], "gunzip");
    assert!(
        rows[0]["message"]
            .as_str()
            .unwrap()
            .contains("larger than 4194304 bytes (--max-file-size)"),
        "{rows:?}"
    );
    // Under the default cap the same file is read (it is only padding).
    let rows = query_json(dir.path(), &[], "SELECT count(*) AS n FROM load_errors");
    assert_eq!(rows[0]["n"], 0);
    let output = trailmap(&["query", "-s", "x", "--max-file-size", "lots", "SELECT 1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid size \"lots\""));
}
