//! S3 sources through the real SDK against a real S3-protocol server on loopback: same answers
//! as a local copy, faults survived, pruning proven by counting requests.

use crate::common::s3_server::{self, Call, Faults, S3Server};
use crate::common::*;
use trailmap::generate::{GeneratorConfig, generate};

const BUCKET: &str = "trail-bucket";

/// A generated archive under `ROOT/trail-bucket/AWSLogs/...`, and the same files' local path.
fn bucket_with_archive(config: &GeneratorConfig) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let bucket = root.path().join(BUCKET);
    generate(&bucket, config).unwrap();
    (root, bucket)
}

/// The CSV answer of `sql` over the same archive read from the local directory.
fn local_csv(local: &std::path::Path, sql: &str) -> String {
    stdout_ok(&trailmap(&[
        "query",
        "-s",
        local.to_str().unwrap(),
        "--format",
        "csv",
        sql,
    ]))
}

/// The CSV answer of `sql` over the whole bucket, read through `server`.
fn s3_csv(server: &S3Server, sql: &str) -> String {
    stdout_ok(&run(
        server,
        &[
            "query",
            "-s",
            "s3://trail-bucket/AWSLogs/",
            "--format",
            "csv",
            sql,
        ],
    ))
}

fn run(server: &S3Server, args: &[&str]) -> std::process::Output {
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    trailmap_with_env(args, &env)
}

const EVERY_EVENT: &str = "SELECT event_id, event_time, event_name, served_region, model, profile_scope, principal_arn, \
    error_code, request_parameters, log_account, log_region, log_date FROM events ORDER BY event_id";

fn config() -> GeneratorConfig {
    GeneratorConfig {
        events: 3_000,
        events_per_file: 50,
        seed: 5,
        days: 6,
        ..GeneratorConfig::default()
    }
}

/// An archive over 20 days, for the pruning tests: one day of one account is a small part.
fn twenty_days() -> GeneratorConfig {
    GeneratorConfig {
        events: 6_000,
        events_per_file: 40,
        seed: 9,
        days: 20,
        ..GeneratorConfig::default()
    }
}

#[test]
fn s3_results_equal_local_results_event_for_event() {
    let (root, local) = bucket_with_archive(&config());
    let server = S3Server::start(root.path(), Faults::default());
    let local_out = stdout_ok(&trailmap(&[
        "query",
        "-s",
        local.to_str().unwrap(),
        "--format",
        "ndjson",
        EVERY_EVENT,
    ]));
    let source = format!("s3://{BUCKET}/AWSLogs/");
    let s3_out = stdout_ok(&run(
        &server,
        &["query", "-s", &source, "--format", "ndjson", EVERY_EVENT],
    ));
    assert_eq!(s3_out.lines().count(), 3_000);
    assert!(s3_out == local_out, "S3 and local answers differ");

    let files = stdout_ok(&run(
        &server,
        &[
            "query",
            "-s",
            &source,
            "--format",
            "csv",
            "SELECT min(log_file) AS f FROM events",
        ],
    ));
    assert!(files.contains("s3://trail-bucket/AWSLogs/"), "{files}");
    // Digest objects are never fetched, and only read calls are made.
    for call in server.calls() {
        match call {
            Call::Get(key) => assert!(!key.contains("Digest"), "fetched {key}"),
            Call::List(_) | Call::Head(_) => {}
            Call::Other(what) => assert!(
                what.starts_with("HEAD") || what.starts_with("GET"),
                "unexpected call {what}"
            ),
        }
    }
}

#[test]
fn a_trail_name_resolves_to_its_bucket() {
    let (root, local) = bucket_with_archive(&config());
    let server = S3Server::start(root.path(), Faults::default());
    let sql = "SELECT count(*) AS n, count(DISTINCT log_account) AS accounts FROM events";
    let via_trail = stdout_ok(&run(
        &server,
        &["query", "-s", "trail:org-trail", "--format", "csv", sql],
    ));
    assert_eq!(via_trail, local_csv(&local, sql));
    assert_eq!(via_trail, "n,accounts\n3000,3\n");
}

#[test]
fn faults_are_retried_and_a_broken_object_is_a_load_error() {
    let (root, local) = bucket_with_archive(&config());
    let walked = walk(&local);
    // A file that creates no application profile: losing one would change other files' rows.
    let creates_profile = |path: &std::path::Path| {
        walked
            .iter()
            .any(|r| r.path == path && r.str("/eventName") == Some("CreateInferenceProfile"))
    };
    let broken = walked
        .iter()
        .map(|r| r.path.clone())
        .find(|p| p.to_string_lossy().contains("444455556666") && !creates_profile(p))
        .unwrap();
    let broken_name = broken.file_name().unwrap().to_str().unwrap().to_owned();
    let faults = Faults {
        flaky_get_every: Some(3),
        flaky_list_every: Some(2),
        broken_key: Some(broken_name.clone()),
        ..Faults::default()
    };
    let server = S3Server::start(root.path(), faults);
    let source = format!("s3://{BUCKET}/AWSLogs/");
    let output = run(
        &server,
        &["query", "-s", &source, "--format", "ndjson", EVERY_EVENT],
    );
    assert_eq!(output.status.code(), Some(0));
    let s3_out = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&broken_name) && stderr.contains("fetch"),
        "{stderr}"
    );

    // The answer is the local one without the broken file's records.
    let local_rows: Vec<String> = stdout_ok(&trailmap(&[
        "query",
        "-s",
        local.to_str().unwrap(),
        "--format",
        "ndjson",
        EVERY_EVENT,
    ]))
    .lines()
    .map(str::to_owned)
    .collect();
    let broken_ids: Vec<String> = walk(&local)
        .iter()
        .filter(|r| r.path == broken)
        .filter_map(|r| r.str("/eventID").map(str::to_owned))
        .collect();
    assert!(!broken_ids.is_empty());
    let expected: Vec<&String> = local_rows
        .iter()
        .filter(|row| !broken_ids.iter().any(|id| row.contains(id.as_str())))
        .collect();
    let got: Vec<&str> = s3_out.lines().collect();
    assert_eq!(got.len(), expected.len());
    assert!(got.iter().zip(&expected).all(|(a, b)| a == b));

    // Every GET the server failed on purpose was retried, and the broken object was retried
    // up to the limit before it became a load error.
    let gets_of = |key: &str| {
        server
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Get(k) if k == key))
            .count()
    };
    let faulted = server.faulted_gets();
    assert!(faulted.len() >= 10, "faults were injected: {faulted:?}");
    for key in &faulted {
        assert!(gets_of(key) >= 2, "{key} was retried");
    }
    let broken_key = server
        .calls()
        .iter()
        .find_map(|c| match c {
            Call::Get(k) if k.contains(&broken_name) => Some(k.clone()),
            _ => None,
        })
        .unwrap();
    assert!(gets_of(&broken_key) >= 2, "the broken object was retried");
    let errors = run(
        &server,
        &[
            "query",
            "-s",
            &source,
            "--format",
            "csv",
            "SELECT stage, log_file FROM load_errors",
        ],
    );
    let text = String::from_utf8(errors.stdout).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("fetch,s3://trail-bucket/") && text.contains(&broken_name));
}

#[test]
fn a_one_day_one_account_query_lists_and_fetches_only_that_prefix() {
    let (root, local) = bucket_with_archive(&twenty_days());
    let server = S3Server::start(root.path(), Faults::default());
    let filters = [
        "--from",
        "2025-03-10",
        "--to",
        "2025-03-10",
        "--account",
        "444455556666",
    ];
    let sql = "SELECT count(*) AS n FROM events";
    let mut args = vec![
        "query",
        "-s",
        "s3://trail-bucket/AWSLogs/",
        "--format",
        "csv",
    ];
    args.extend_from_slice(&filters);
    args.push(sql);
    let s3_count = stdout_ok(&run(&server, &args));
    let mut local_args = vec!["query", "-s", local.to_str().unwrap(), "--format", "csv"];
    local_args.extend_from_slice(&filters);
    local_args.push(sql);
    assert_eq!(s3_count, stdout_ok(&trailmap(&local_args)));
    assert_ne!(s3_count, "n\n0\n");

    // The day itself, the day before (clock skew) and the two days after (the default 48-hour
    // delivery margin: a file delivered then may still hold events of the 10th).
    let allowed_days = ["2025/03/09/", "2025/03/10/", "2025/03/11/", "2025/03/12/"];
    let calls = server.calls();
    let mut gets = 0;
    for call in &calls {
        match call {
            Call::List(prefix) => {
                let under_account =
                    prefix.starts_with("AWSLogs/o-a1b2c3d4e5/444455556666/CloudTrail/");
                let ancestor = [
                    "AWSLogs/",
                    "AWSLogs/o-a1b2c3d4e5/",
                    "AWSLogs/o-a1b2c3d4e5/444455556666/",
                    "",
                ]
                .contains(&prefix.as_str());
                assert!(
                    ancestor || under_account,
                    "listed outside the account: {prefix}"
                );
                let date = prefix.splitn(6, '/').nth(5).unwrap_or("");
                let date_ok = date.is_empty()
                    || date == "2025/"
                    || date == "2025/03/"
                    || allowed_days.contains(&date);
                assert!(!under_account || date_ok, "listed another day: {prefix}");
            }
            Call::Get(key) => {
                gets += 1;
                assert!(
                    key.contains("/444455556666/CloudTrail/"),
                    "fetched another account: {key}"
                );
                assert!(
                    allowed_days.iter().any(|d| key.contains(d)),
                    "fetched another day: {key}"
                );
            }
            Call::Other(_) | Call::Head(_) => {}
        }
    }
    // Exactly the files the local listing keeps for the same filters are fetched.
    let mut explain = local_args.clone();
    explain.pop();
    explain.push("EXPLAIN SELECT count(*) FROM events");
    let plan = stdout_ok(&trailmap(&explain));
    let listed: usize = plan
        .split(" of ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(gets, listed);
    let lists = calls.iter().filter(|c| matches!(c, Call::List(_))).count();
    // AWSLogs/, the org folder, the account, CloudTrail/, then per Region (3): the Region, 2025/,
    // 2025/03/ and four days.
    assert!(
        lists <= 4 + 3 * 7,
        "{lists} listing requests for one day of one account"
    );
}

#[test]
fn sql_filters_on_key_columns_prune_the_listing_too() {
    let (root, local) = bucket_with_archive(&twenty_days());
    let server = S3Server::start(root.path(), Faults::default());
    let sql = "SELECT count(*) AS n FROM invocations WHERE log_date = DATE '2025-03-10' AND log_account = '444455556666' AND log_region IN ('eu-west-1', 'eu-central-1')";
    let s3_count = s3_csv(&server, sql);
    assert_eq!(s3_count, local_csv(&local, sql));
    assert_ne!(s3_count, "n\n0\n");
    for call in server.calls() {
        match call {
            Call::List(prefix) => {
                let ancestors = [
                    "AWSLogs/",
                    "AWSLogs/o-a1b2c3d4e5/",
                    "AWSLogs/o-a1b2c3d4e5/444455556666/",
                    "AWSLogs/o-a1b2c3d4e5/444455556666/CloudTrail/",
                ];
                let allowed = ancestors.contains(&prefix.as_str())
                    || ["eu-west-1", "eu-central-1"].iter().any(|r| {
                        let base = format!("AWSLogs/o-a1b2c3d4e5/444455556666/CloudTrail/{r}/");
                        [
                            base.clone(),
                            format!("{base}2025/"),
                            format!("{base}2025/03/"),
                            format!("{base}2025/03/10/"),
                        ]
                        .contains(&prefix)
                    });
                assert!(allowed, "listed a folder the SQL rules out: {prefix}");
            }
            Call::Get(key) => assert!(
                key.contains("/444455556666/CloudTrail/eu-") && key.contains("/2025/03/10/"),
                "fetched {key}"
            ),
            Call::Other(_) | Call::Head(_) => {}
        }
    }
}

#[test]
fn many_gets_are_in_flight_at_once_when_the_server_is_slow() {
    // About 60 files; each answer waits 200 ms, like a slow S3 first byte. Read one at a time
    // this would take 12 s; the scan keeps up to 32 GETs in flight per partition instead.
    let (root, local) = bucket_with_archive(&config());
    let slow = Faults {
        latency: Some(std::time::Duration::from_millis(200)),
        ..Faults::default()
    };
    let server = S3Server::start(root.path(), slow);
    // Columns that need no application profile: every file is read exactly once (a query on
    // model or served_region reads again the files calling profiles the archive defines later).
    let sql =
        "SELECT aws_region, event_name, count(*) AS n FROM events GROUP BY 1, 2 ORDER BY 1, 2";
    let s3_out = s3_csv(&server, sql);
    assert_eq!(s3_out, local_csv(&local, sql));
    let gets = server
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Get(_)))
        .count();
    let log_files = walkdir::WalkDir::new(&local)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !e.path().to_string_lossy().contains("Digest"))
        .count();
    assert_eq!(gets, log_files, "every log file fetched once");
    let peak = server.peak_gets_in_flight();
    assert!(
        peak >= 24,
        "at most {peak} GETs were in flight at once; expected downloads to overlap"
    );
}

/// A gzipped one-record log file.
fn tiny_log(event_id: &str) -> Vec<u8> {
    use std::io::Write;
    let json = format!(
        r#"{{"Records":[{{"eventVersion":"1.11","eventID":"{event_id}","eventTime":"2025-03-02T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","recipientAccountId":"111122223333"}}]}}"#
    );
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(json.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn listing_pages_past_1000_keys_and_denied_or_missing_buckets_are_named() {
    let root = tempfile::tempdir().unwrap();
    let day = root
        .path()
        .join(BUCKET)
        .join("AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/02");
    std::fs::create_dir_all(&day).unwrap();
    let files = 1_100;
    for i in 0..files {
        let name = format!("111122223333_CloudTrail_eu-west-1_20250302T1005Z_{i:05}.json.gz");
        std::fs::write(day.join(name), tiny_log(&format!("event-{i:05}"))).unwrap();
    }
    let server = S3Server::start(
        root.path(),
        Faults {
            denied_key: Some("_00007.json.gz".into()),
            ..Faults::default()
        },
    );
    let output = run(
        &server,
        &[
            "query",
            "-s",
            "s3://trail-bucket/AWSLogs/",
            "--format",
            "csv",
            "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events",
        ],
    );
    // ListObjectsV2 answers at most 1,000 keys a page: the day folder takes two pages.
    let day_prefix = "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/02/";
    let pages = server
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::List(p) if p == day_prefix))
        .count();
    assert_eq!(pages, 2, "{:?}", server.calls());
    // Every file but the denied one is read; the denied one is a load error naming the cause.
    let readable = files - 1;
    assert_eq!(
        stdout_ok(&output),
        format!("n,ids\n{readable},{readable}\n")
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let denied = stderr
        .lines()
        .find(|l| l.contains("_00007.json.gz"))
        .unwrap_or_else(|| panic!("the denied file is named: {stderr}"));
    assert!(
        denied.contains("(fetch") && denied.contains("AccessDenied"),
        "{denied}"
    );

    // A bucket that does not exist: the listing error names the bucket and S3's reason.
    let output = run(
        &server,
        &[
            "audit",
            "-s",
            "s3://no-such-bucket/AWSLogs/",
            "--policy",
            &policy_file(
                root.path(),
                "[[rule]]\nname = \"eu\"\nallowed_geographies = [\"EU\"]\n",
            ),
        ],
    );
    let stderr = stderr_of_exit_2(&output);
    assert!(
        stderr.contains("s3://no-such-bucket/AWSLogs/") && stderr.contains("NoSuchBucket"),
        "{stderr}"
    );
}

#[test]
fn bodies_cut_off_mid_way_are_fetched_again() {
    let (root, local) = bucket_with_archive(&config());
    let server = S3Server::start(
        root.path(),
        Faults {
            cut_body_every: Some(4),
            ..Faults::default()
        },
    );
    let output = run(
        &server,
        &[
            "query",
            "-s",
            "s3://trail-bucket/AWSLogs/",
            "--format",
            "ndjson",
            EVERY_EVENT,
        ],
    );
    assert_eq!(
        stdout_ok(&output),
        stdout_ok(&trailmap(&[
            "query",
            "-s",
            local.to_str().unwrap(),
            "--format",
            "ndjson",
            EVERY_EVENT,
        ]))
    );
    let cut = server.faulted_gets();
    assert!(cut.len() >= 10, "bodies were cut: {cut:?}");
    for key in &cut {
        let gets = server
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Get(k) if k == key))
            .count();
        assert!(gets >= 2, "{key} was fetched again");
    }
}

#[test]
fn downloads_start_while_the_listing_goes_on() {
    let (root, local) = bucket_with_archive(&config());
    // S3's time to first byte: each round of folder listings takes a while, and the account
    // trail's day folders (one level shallower than the organization trail's) come first.
    let server = S3Server::start(
        root.path(),
        Faults {
            latency: Some(std::time::Duration::from_millis(20)),
            ..Faults::default()
        },
    );
    assert_eq!(s3_csv(&server, EVERY_EVENT), local_csv(&local, EVERY_EVENT));
    let calls = server.calls();
    let first_get = calls.iter().position(|c| matches!(c, Call::Get(_)));
    let last_list = calls.iter().rposition(|c| matches!(c, Call::List(_)));
    assert!(
        first_get < last_list,
        "first GET at {first_get:?}, last LIST at {last_list:?}"
    );
}

/// A log file of `records` records of about 600 bytes each (event ids `NAME-INDEX`), gzip
/// without compression (so it is as large compressed as inflated, cheaply).
fn stored_log(name: &str, records: usize) -> Vec<u8> {
    use std::io::Write;
    let mut json = String::from(r#"{"Records":["#);
    for i in 0..records {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            r#"{{"eventVersion":"1.11","eventTime":"2025-03-01T00:{:02}:{:02}Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","eventID":"{name}-{i}","recipientAccountId":"111122223333","requestParameters":{{"bucketName":"data","key":"{}"}}}}"#,
            (i / 60) % 60,
            i % 60,
            "k".repeat(400)
        ));
    }
    json.push_str("]}");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    encoder.write_all(json.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn large_bodies_stream_and_a_cut_one_resumes_with_a_ranged_get() {
    let root = tempfile::tempdir().unwrap();
    let folder = "AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/01";
    let big_key = format!("{folder}/111122223333_CloudTrail_us-east-1_20250301T0100Z_big.json.gz");
    let small_key =
        format!("{folder}/111122223333_CloudTrail_us-east-1_20250301T0100Z_small.json.gz");
    let big = stored_log("big", 20_000);
    assert!(big.len() > 10 << 20, "{} bytes", big.len());
    for (key, body) in [(&big_key, big), (&small_key, stored_log("small", 10))] {
        let path = root.path().join(BUCKET).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    // The first GET of every object is cut off half-way.
    let server = S3Server::start(
        root.path(),
        Faults {
            cut_body_every: Some(1),
            ..Faults::default()
        },
    );
    let sql = "SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events";
    assert_eq!(s3_csv(&server, sql), "n,d\n20010,20010\n");
    let gets = |key: &str| {
        server
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Get(k) if k == key))
            .count()
    };
    // The large object streamed: the cut was resumed from where it stopped, not fetched whole
    // again; the small one was fetched whole again.
    assert_eq!(gets(&big_key), 2);
    let ranges = server.ranged_gets();
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    assert_eq!(ranges[0].0, big_key);
    let start: u64 = ranges[0]
        .1
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("an open range from an offset: {}", ranges[0].1));
    assert!(start > 0);
    assert_eq!(gets(&small_key), 2);
}

#[test]
fn an_event_time_range_in_sql_prunes_the_s3_listing() {
    let (root, local) = bucket_with_archive(&twenty_days());
    let server = S3Server::start(root.path(), Faults::default());
    let sql = "SELECT count(*) AS n FROM events WHERE event_time >= TIMESTAMP '2025-03-10T00:00:00Z' AND event_time < TIMESTAMP '2025-03-11T00:00:00Z'";
    let s3_count = s3_csv(&server, sql);
    assert_eq!(s3_count, local_csv(&local, sql));
    let lo = "2025-03-10T00:00:00Z";
    let hi = "2025-03-11T00:00:00Z";
    let expected = walk(&local)
        .iter()
        .filter(|r| {
            r.str("/eventTime")
                .is_some_and(|t| t.len() == 20 && t >= lo && t < hi)
        })
        .count();
    assert_eq!(s3_count, format!("n\n{expected}\n"));
    // Day folders from the day before (clock skew) to two days after (delivery margin) only.
    let allowed_days = ["2025/03/09/", "2025/03/10/", "2025/03/11/", "2025/03/12/"];
    for call in server.calls() {
        if let Call::List(prefix) | Call::Get(prefix) = &call {
            let day = prefix.split("/CloudTrail/").nth(1).and_then(|rest| {
                let parts: Vec<&str> = rest.splitn(5, '/').collect();
                (parts.len() >= 5).then(|| format!("{}/{}/{}/", parts[1], parts[2], parts[3]))
            });
            if let Some(day) = day {
                assert!(
                    allowed_days.contains(&day.as_str()),
                    "{call:?} outside the range"
                );
            }
        }
    }
}

#[test]
fn profile_region_and_endpoint_flags_reach_the_sdk() {
    let (root, local) = bucket_with_archive(&config());
    let server = S3Server::start(root.path(), Faults::default());
    let sql = "SELECT count(*) AS n FROM events";
    let expected = local_csv(&local, sql);
    // Credentials from a named profile in a config file, the endpoint and Region from flags:
    // no AWS_* variable names them.
    let config_dir = tempfile::tempdir().unwrap();
    let credentials = config_dir.path().join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[audit]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            s3_server::ACCESS_KEY,
            s3_server::SECRET_KEY
        ),
    )
    .unwrap();
    let env = [
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ("AWS_CONFIG_FILE", "/nonexistent"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let args = |profile: &'static str| {
        vec![
            "query",
            "-s",
            "s3://trail-bucket/AWSLogs/",
            "--profile",
            profile,
            "--region",
            "eu-west-1",
            "--endpoint-url",
            server.endpoint.as_str(),
            "--format",
            "csv",
            sql,
        ]
    };
    assert_eq!(
        stdout_ok(&trailmap_with_env(&args("audit"), &env)),
        expected
    );
    // Another profile has no credentials: nothing is read, and the error says why.
    let output = trailmap_with_env(&args("nobody"), &env);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("(fetch"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("3000"));
}
