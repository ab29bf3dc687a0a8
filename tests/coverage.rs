//! What the trail records: hand-written archives whose trail events (CreateTrail,
//! PutEventSelectors, StopLogging) are written here in the shapes the CloudTrail API Reference
//! documents, `--event-selectors` files as `aws cloudtrail get-event-selectors` prints them, and
//! GetEventSelectors answered through the SDK's own replay client. The expected verdicts are
//! written here from the AWS rules (a new trail records management events only; data events
//! need an advanced selector on their resource type), not computed by trailmap's code.

use std::io::Write;

use aws_smithy_http_client::test_util::StaticReplayClient;
use serde_json::{Value, json};

use crate::common::cloudtrail;
use crate::common::*;

const ACCOUNT: &str = "111122223333";

fn record(time: &str, source: &str, name: &str, region: &str, request: Value) -> Value {
    json!({
        "eventVersion": "1.11", "eventTime": time, "eventSource": source, "eventName": name,
        "awsRegion": region, "recipientAccountId": ACCOUNT, "eventID": format!("{name}-{time}"),
        "eventType": "AwsApiCall", "readOnly": false,
        "userIdentity": {"type": "AssumedRole", "accountId": ACCOUNT,
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/s")},
        "requestParameters": request,
    })
}

fn create_trail(time: &str) -> Value {
    record(
        time,
        "cloudtrail.amazonaws.com",
        "CreateTrail",
        "us-east-1",
        json!({"name": "org-trail", "s3BucketName": "org-trail-logs", "isMultiRegionTrail": true}),
    )
}

/// PutEventSelectors selecting every management event and the data events of `types`.
fn put_selectors(time: &str, types: &[&str]) -> Value {
    record(
        time,
        "cloudtrail.amazonaws.com",
        "PutEventSelectors",
        "us-east-1",
        json!({
        "trailName": format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail"),
        "advancedEventSelectors": [
            {"name": "Management", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]},
            {"name": "Inference", "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]},
                                                    {"field": "resources.type", "equals": types}]}]}),
    )
}

fn converse(time: &str) -> Value {
    let mut r = record(
        time,
        "bedrock.amazonaws.com",
        "Converse",
        "eu-west-1",
        json!({"modelId": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"}),
    );
    r["additionalEventData"] = json!({"inferenceRegion": "eu-central-1"});
    r
}

fn mantle(time: &str) -> Value {
    let mut r = record(
        time,
        "bedrock-mantle.amazonaws.com",
        "CreateInference",
        "eu-west-1",
        json!({"model": "openai.gpt-oss-120b-1:0"}),
    );
    r["eventCategory"] = json!("Data");
    r["managementEvent"] = json!(false);
    r
}

/// A directory holding one log file of `records` (delivered 2025-03-01 12:00 in us-east-1).
fn archive(records: &[Value]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let delivered = chrono::DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z").unwrap();
    write_log(
        dir.path(),
        ACCOUNT,
        "us-east-1",
        delivered.to_utc(),
        records,
    );
    dir
}

/// Writes a log file of `records` under `root`, as CloudTrail names one of `account` and
/// `region` delivered at `delivered`.
fn write_log(
    root: &std::path::Path,
    account: &str,
    region: &str,
    delivered: chrono::DateTime<chrono::Utc>,
    records: &[Value],
) {
    let folder = root.join(format!(
        "AWSLogs/{account}/CloudTrail/{region}/{}",
        delivered.format("%Y/%m/%d")
    ));
    std::fs::create_dir_all(&folder).unwrap();
    let text = serde_json::to_vec(&json!({"Records": records})).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&text).unwrap();
    let name = format!(
        "{account}_CloudTrail_{region}_{}_coverage.json.gz",
        delivered.format("%Y%m%dT%H%MZ")
    );
    std::fs::write(folder.join(name), gz.finish().unwrap()).unwrap();
}

/// The rule of [`RUNTIME_AND_MANTLE`] over bedrock-runtime calls only.
const RUNTIME_ONLY: &str = r#"
[[rule]]
name = "eu"
source_regions = ["eu-*"]
surfaces = ["runtime"]
allowed_geographies = ["EU"]
"#;

const RUNTIME_AND_MANTLE: &str = r#"
[[rule]]
name = "eu"
source_regions = ["eu-*"]
surfaces = ["runtime", "mantle"]
allowed_geographies = ["EU"]
"#;

fn blind(report: &Value) -> Vec<(String, String)> {
    let spots = report["blind_spots"]
        .as_array()
        .unwrap_or_else(|| panic!("no blind_spots in {report}"));
    spots
        .iter()
        .map(|s| {
            (
                s["surface"].as_str().unwrap().to_owned(),
                s["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_trail_without_mantle_selectors_leaves_a_rule_over_mantle_incomplete() {
    // A new trail records management events only: no mantle call can be in the archive.
    let dir = archive(&[
        create_trail("2025-03-01T10:00:00Z"),
        converse("2025-03-01T11:00:00Z"),
    ]);
    let policy = policy_file(dir.path(), RUNTIME_AND_MANTLE);
    let (code, report, _) = audit_run(dir.path(), &policy, &["--trail", "org-trail"]);
    assert_eq!(code, Some(2), "{report}");
    assert_eq!(
        blind(&report),
        [("mantle".to_owned(), "not recorded".to_owned())]
    );
    assert_eq!(
        report["incomplete_reasons"],
        json!(["surfaces-not-recorded"])
    );
    assert_eq!(report["rules"][0]["status"], "incomplete");
    assert_eq!(report["rules"][0]["invocations_in_scope"], 1);
    let reason = report["blind_spots"][0]["rows"][0]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("advanced event selectors"), "{reason}");
    // The table output explains it and says how to make the recording known.
    let output = trailmap(&[
        "audit",
        "-s",
        dir.path().to_str().unwrap(),
        "--policy",
        &policy,
        "--trail",
        "org-trail",
    ]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("Blind spots") && text.contains("--event-selectors"),
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .unwrap_or_default()
            .starts_with("Result: INCOMPLETE"),
        "{text}"
    );
}

#[test]
fn with_mantle_selected_the_calls_are_judged_and_the_audit_complete() {
    let dir = archive(&[
        create_trail("2025-03-01T10:00:00Z"),
        put_selectors("2025-03-01T10:00:00Z", &["AWS::BedrockMantle::Project"]),
        converse("2025-03-01T11:00:00Z"),
        mantle("2025-03-01T11:30:00Z"),
    ]);
    let policy = policy_file(dir.path(), RUNTIME_AND_MANTLE);
    let (code, report, stderr) = audit_run(dir.path(), &policy, &["--trail", "org-trail"]);
    assert_eq!(code, Some(0), "{report} {stderr}");
    assert_eq!(blind(&report), []);
    assert_eq!(report["rules"][0]["invocations_in_scope"], 2);
    assert_eq!(report["rules"][0]["status"], "compliant");
}

#[test]
fn selectors_switched_on_midway_leave_the_time_before_blind() {
    let dir = archive(&[
        create_trail("2025-03-01T09:00:00Z"),
        converse("2025-03-01T10:00:00Z"),
        put_selectors("2025-03-01T11:00:00Z", &["AWS::BedrockMantle::Project"]),
        mantle("2025-03-01T11:30:00Z"),
    ]);
    let policy = policy_file(dir.path(), RUNTIME_AND_MANTLE);
    let (code, report, _) = audit_run(dir.path(), &policy, &["--trail", "org-trail"]);
    assert_eq!(code, Some(2));
    let rows = report["blind_spots"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["period_start"], "2025-03-01T09:00:00Z");
    assert_eq!(rows[0]["period_end"], "2025-03-01T11:00:00Z");
    // Narrowing the audit to after the change makes it complete.
    let (code, report, _) = audit_run(
        dir.path(),
        &policy,
        &["--trail", "org-trail", "--from", "2025-03-01T11:00:00Z"],
    );
    assert_eq!(code, Some(0), "{report}");
}

#[test]
fn without_a_named_trail_data_events_are_unknown_and_runtime_is_judged() {
    let dir = archive(&[
        put_selectors("2025-03-01T10:00:00Z", &["AWS::BedrockMantle::Project"]),
        converse("2025-03-01T11:00:00Z"),
    ]);
    // A PutEventSelectors event of some trail does not say which trail wrote these logs.
    let policy = policy_file(dir.path(), RUNTIME_AND_MANTLE);
    let (code, report, _) = audit_run(dir.path(), &policy, &[]);
    assert_eq!(code, Some(2));
    assert_eq!(
        blind(&report),
        [("mantle".to_owned(), "unknown".to_owned())]
    );
    let runtime_only = policy_file(dir.path(), RUNTIME_ONLY);
    let (code, report, _) = audit_run(dir.path(), &runtime_only, &[]);
    assert_eq!(code, Some(0), "{report}");
}

#[test]
fn stopped_logging_blinds_even_management_events() {
    let dir = archive(&[
        create_trail("2025-03-01T09:00:00Z"),
        converse("2025-03-01T10:00:00Z"),
        record(
            "2025-03-01T10:30:00Z",
            "cloudtrail.amazonaws.com",
            "StopLogging",
            "us-east-1",
            json!({"name": "org-trail"}),
        ),
        record(
            "2025-03-01T11:30:00Z",
            "cloudtrail.amazonaws.com",
            "StartLogging",
            "us-east-1",
            json!({"name": "org-trail"}),
        ),
        converse("2025-03-01T11:45:00Z"),
    ]);
    let runtime_only = policy_file(dir.path(), RUNTIME_ONLY);
    let (code, report, _) = audit_run(dir.path(), &runtime_only, &["--trail", "org-trail"]);
    assert_eq!(code, Some(2), "{report}");
    assert_eq!(
        blind(&report),
        [("runtime".to_owned(), "not recorded".to_owned())]
    );
    assert_eq!(
        report["blind_spots"][0]["rows"][0]["period_start"],
        "2025-03-01T10:30:00Z"
    );
}

#[test]
fn an_event_selectors_file_as_the_cli_prints_it_and_assume_recorded() {
    // Today's selectors speak for an archive that reaches today: one delivered minutes ago.
    let dir = tempfile::tempdir().unwrap();
    let now = chrono::Utc::now();
    let ago = |minutes: i64| {
        (now - chrono::Duration::minutes(minutes))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    write_log(
        dir.path(),
        ACCOUNT,
        "us-east-1",
        now - chrono::Duration::minutes(5),
        &[converse(&ago(20)), mantle(&ago(15))],
    );
    let policy = policy_file(dir.path(), RUNTIME_AND_MANTLE);
    // `aws cloudtrail get-event-selectors --trail-name org-trail` of a trail with mantle on.
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("selectors.json");
    std::fs::write(&file, format!(r#"{{
        "TrailARN": "arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail",
        "AdvancedEventSelectors": [
            {{"Name": "Management events selector", "FieldSelectors": [{{"Field": "eventCategory", "Equals": ["Management"]}}]}},
            {{"Name": "Mantle", "FieldSelectors": [{{"Field": "eventCategory", "Equals": ["Data"]}},
                {{"Field": "resources.type", "Equals": ["AWS::BedrockMantle::Project"]}}]}}]
    }}"#)).unwrap();
    let (code, report, stderr) = audit_run(
        dir.path(),
        &policy,
        &["--event-selectors", file.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "{report} {stderr}");
    assert_eq!(
        report["coverage"]["trails"],
        json!(["org-trail (111122223333 us-east-1)"])
    );
    // Basic selectors (management only): mantle is not recorded ...
    std::fs::write(&file, r#"{"TrailARN": "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail",
        "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": true, "DataResources": [], "ExcludeManagementEventSources": []}]}"#).unwrap();
    let (code, report, _) = audit_run(
        dir.path(),
        &policy,
        &["--event-selectors", file.to_str().unwrap()],
    );
    assert_eq!(code, Some(2));
    assert_eq!(
        blind(&report),
        [("mantle".to_owned(), "not recorded".to_owned())]
    );
    // ... unless the user vouches for it, which the coverage records.
    let (code, report, _) = audit_run(
        dir.path(),
        &policy,
        &[
            "--event-selectors",
            file.to_str().unwrap(),
            "--assume-recorded",
            "mantle",
        ],
    );
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["coverage"]["assumed_recorded"], json!(["mantle"]));
    let mantle_rows: Vec<&Value> = report["coverage"]["trail_coverage"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["surface"] == "mantle")
        .collect();
    assert!(
        mantle_rows
            .iter()
            .all(|r| r["status"] == "assumed recorded"),
        "{mantle_rows:?}"
    );
    // A file that is not selectors is refused with a clear error.
    std::fs::write(&file, r#"{"TrailARN": "x"}"#).unwrap();
    let (code, _, stderr) = audit_run(
        dir.path(),
        &policy,
        &["--event-selectors", file.to_str().unwrap()],
    );
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("neither EventSelectors nor AdvancedEventSelectors"),
        "{stderr}"
    );
    let (code, _, stderr) = audit_run(dir.path(), &policy, &["--assume-recorded", "mantel"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("not an inference surface"), "{stderr}");
}

#[test]
fn trail_coverage_over_a_warehouse_equals_the_raw_archive() {
    let dir = archive(&[
        create_trail("2025-03-01T09:00:00Z"),
        put_selectors("2025-03-01T11:00:00Z", &["AWS::BedrockMantle::Project"]),
        mantle("2025-03-01T11:30:00Z"),
    ]);
    let warehouse = tempfile::tempdir().unwrap();
    let into = warehouse.path().join("wh");
    let output = trailmap(&[
        "ingest",
        "-s",
        dir.path().to_str().unwrap(),
        "--into",
        into.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sql = "SELECT surface, event_names, status, period_start, period_end FROM trail_coverage ORDER BY surface, event_names, period_start";
    let raw = query_json(dir.path(), &["--trail", "org-trail"], sql);
    let stored = query_json(&into, &["--trail", "org-trail"], sql);
    assert_eq!(raw, stored);
    let mantle: Vec<(&str, &str)> = raw
        .iter()
        .filter(|r| r["surface"] == "mantle")
        .map(|r| {
            (
                r["status"].as_str().unwrap(),
                r["period_start"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        mantle,
        [
            ("not recorded", "2025-03-01T09:00:00Z"),
            ("recorded", "2025-03-01T11:00:00Z")
        ]
    );
}

fn replay(body: &str) -> (aws_sdk_cloudtrail::Client, StaticReplayClient) {
    cloudtrail::client(vec![cloudtrail::response(200, body)])
}

#[tokio::test]
async fn get_event_selectors_answers_are_read_as_the_api_reference_shows_them() {
    use trailmap::coverage::{Selected, known::ask};
    use trailmap::surfaces::SURFACES;
    let mantle = SURFACES.iter().find(|s| s.id == "mantle").unwrap();
    let runtime = SURFACES.iter().find(|s| s.id == "runtime").unwrap();
    // The API Reference's advanced-selector response shape.
    let (client, http) = replay(
        r#"{"TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail",
        "AdvancedEventSelectors":[{"Name":"mantle","FieldSelectors":[
            {"Field":"eventCategory","Equals":["Data"]},
            {"Field":"resources.type","Equals":["AWS::BedrockMantle::Project"]}]}]}"#,
    );
    let (arn, selectors) = ask(&client, "org-trail").await.unwrap().unwrap();
    assert_eq!(
        arn.as_deref(),
        Some("arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail")
    );
    let target = http
        .actual_requests()
        .next()
        .unwrap()
        .headers()
        .get("x-amz-target")
        .unwrap()
        .to_owned();
    assert_eq!(target, "CloudTrail_20131101.GetEventSelectors");
    assert_eq!(selectors.select(mantle), Selected::All);
    // Data events only: no management event is recorded.
    assert!(matches!(selectors.select(runtime), Selected::None(_)));
    // Basic selectors, write-only management events.
    let (client, _) = replay(
        r#"{"TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/t",
        "EventSelectors":[{"ReadWriteType":"WriteOnly","IncludeManagementEvents":true,"DataResources":[]}]}"#,
    );
    let (_, selectors) = ask(&client, "t").await.unwrap().unwrap();
    assert!(matches!(selectors.select(runtime), Selected::Some(_)));
    assert!(matches!(selectors.select(mantle), Selected::None(_)));
}

/// Today's selectors (GetEventSelectors, answered by the test server: mantle on) speak for a
/// range only when the archive shows the trail's home unchanged up to the last hour: a fresh
/// archive, yes; the same calls delivered two days ago, or a member account's prefix without the
/// trail's home, no.
#[test]
fn todays_selectors_count_only_for_an_archive_that_reaches_today() {
    use crate::common::s3_server::{Faults, S3Server};
    let now = chrono::Utc::now();
    let calls = |at: chrono::DateTime<chrono::Utc>| {
        let time = |minutes: i64| {
            (at - chrono::Duration::minutes(minutes))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        };
        vec![converse(&time(20)), mantle(&time(15))]
    };
    let audit = |delivered: chrono::DateTime<chrono::Utc>, account: &str, prefix: &str| {
        let root = tempfile::tempdir().unwrap();
        let bucket = root.path().join("org-trail-logs");
        let mut records = calls(delivered);
        for r in &mut records {
            r["recipientAccountId"] = json!(account);
        }
        write_log(&bucket, account, "us-east-1", delivered, &records);
        let server = S3Server::start(root.path(), Faults::default());
        let policy = policy_file(root.path(), RUNTIME_AND_MANTLE);
        let env = server.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let source = format!("s3://org-trail-logs/{prefix}");
        let output = trailmap_with_env(
            &[
                "audit",
                "-s",
                &source,
                "--trail",
                "org-trail",
                "--policy",
                &policy,
                "--format",
                "json",
            ],
            &env,
        );
        let report: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        (
            output.status.code(),
            report,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, report, stderr) = audit(now - chrono::Duration::minutes(5), ACCOUNT, "AWSLogs/");
    assert_eq!(code, Some(0), "{report} {stderr}");
    assert_eq!(
        report["coverage"]["trails"],
        json!(["org-trail (111122223333 us-east-1)"])
    );
    let mantle = report["coverage"]["trail_coverage"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["surface"] == "mantle")
        .unwrap()
        .clone();
    assert_eq!(
        (mantle["status"].as_str(), mantle["basis"].as_str()),
        (Some("recorded"), Some("GetEventSelectors"))
    );

    let (code, report, _) = audit(now - chrono::Duration::days(2), ACCOUNT, "AWSLogs/");
    assert_eq!(code, Some(2), "{report}");
    assert_eq!(
        blind(&report),
        [("mantle".to_owned(), "unknown".to_owned())]
    );
    let reason = report["blind_spots"][0]["rows"][0]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("was delivered at"), "{reason}");

    let member = "444455556666";
    let (code, report, _) = audit(
        now - chrono::Duration::minutes(5),
        member,
        &format!("AWSLogs/{member}/"),
    );
    assert_eq!(code, Some(2), "{report}");
    let reason = report["blind_spots"][0]["rows"][0]["reason"]
        .as_str()
        .unwrap();
    assert!(reason.contains("no file of the trail's home"), "{reason}");
}

/// A trail change in a file that cannot be read is a load error for every reader, and makes
/// `--strict` exit 2 (what the file would have said is missing).
#[test]
fn a_trail_change_that_cannot_be_read_is_a_load_error() {
    let dir = archive(&[
        create_trail("2025-03-01T09:00:00Z"),
        converse("2025-03-01T10:00:00Z"),
    ]);
    let folder = dir
        .path()
        .join(format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2025/03/01"));
    let broken = folder.join(format!(
        "{ACCOUNT}_CloudTrail_us-east-1_20250301T1100Z_broken.json.gz"
    ));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(serde_json::to_string(&json!({"Records": [record("2025-03-01T10:30:00Z", "cloudtrail.amazonaws.com", "StopLogging", "us-east-1", json!({"name": "org-trail"}))]})).unwrap().as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    std::fs::write(&broken, &bytes[..bytes.len() / 2]).unwrap();
    let output = trailmap(&[
        "query",
        "-s",
        dir.path().to_str().unwrap(),
        "--trail",
        "org-trail",
        "--strict",
        "SELECT status FROM trail_coverage WHERE surface = 'runtime'",
    ]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Today's selectors cannot speak for an archive that ends long ago or changed in range, and
/// when they do not record management events they cannot leave runtime calls "recorded" either.
#[test]
fn today_s_selectors_from_a_file_never_vouch_for_what_they_cannot_see() {
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("selectors.json");
    let write_selectors = |advanced: Value| {
        std::fs::write(
            &file,
            json!({"TrailARN": format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail"),
                   "AdvancedEventSelectors": advanced})
            .to_string(),
        )
        .unwrap();
    };
    let management_and_mantle = json!([
        {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
        {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                            {"Field": "resources.type", "Equals": ["AWS::BedrockMantle::Project"]}]}]);
    write_selectors(management_and_mantle);
    let selectors = ["--event-selectors", file.to_str().unwrap()];
    // An archive of 2025: today's selectors say nothing of it.
    let old = archive(&[
        converse("2025-03-01T11:00:00Z"),
        mantle("2025-03-01T11:30:00Z"),
    ]);
    let policy = policy_file(old.path(), RUNTIME_AND_MANTLE);
    let (code, report, _) = audit_run(old.path(), &policy, &selectors);
    assert_eq!(code, Some(2), "{report}");
    assert_eq!(
        blind(&report),
        [("mantle".to_owned(), "unknown".to_owned())]
    );
    // A fresh archive whose trail changed within the range: before the change is unknown.
    let now = chrono::Utc::now();
    let ago = |minutes: i64| {
        (now - chrono::Duration::minutes(minutes))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let fresh = tempfile::tempdir().unwrap();
    write_log(
        fresh.path(),
        ACCOUNT,
        "us-east-1",
        now - chrono::Duration::minutes(5),
        &[
            converse(&ago(30)),
            put_selectors(&ago(20), &["AWS::BedrockMantle::Project"]),
            mantle(&ago(10)),
        ],
    );
    let (code, report, _) = audit_run(fresh.path(), &policy, &selectors);
    assert_eq!(code, Some(2), "{report}");
    let rows = report["blind_spots"][0]["rows"].as_array().unwrap();
    assert_eq!(rows[0]["status"], "unknown");
    assert_eq!(rows[0]["period_end"].as_str(), Some(ago(20).as_str()));
    // Data events only: runtime calls are not recorded today, and whether they were then is
    // unknown, never "recorded".
    write_selectors(
        json!([{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::BedrockMantle::Project"]}]}]),
    );
    let runtime_only = policy_file(old.path(), RUNTIME_ONLY);
    let (code, report, _) = audit_run(old.path(), &runtime_only, &selectors);
    assert_eq!(code, Some(2), "{report}");
    assert_eq!(
        blind(&report),
        [("runtime".to_owned(), "unknown".to_owned())]
    );
}

/// Trails are told apart by their home: a selectors file of another account's trail of the same
/// name is that trail's, not the named one's.
#[test]
fn a_same_named_trail_of_another_account_is_another_trail() {
    let now = chrono::Utc::now();
    let dir = tempfile::tempdir().unwrap();
    let ago = (now - chrono::Duration::minutes(15))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    write_log(
        dir.path(),
        ACCOUNT,
        "us-east-1",
        now - chrono::Duration::minutes(5),
        &[mantle(&ago)],
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("selectors.json");
    std::fs::write(&file, json!({"TrailARN": "arn:aws:cloudtrail:us-east-1:222233334444:trail/org-trail",
        "AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
            {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                {"Field": "resources.type", "Equals": ["AWS::BedrockMantle::Project"]}]}]}).to_string()).unwrap();
    let policy = policy_file(dir.path(), RUNTIME_AND_MANTLE);
    let ours = format!("arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail");
    let (code, report, _) = audit_run(
        dir.path(),
        &policy,
        &[
            "--trail",
            &ours,
            "--event-selectors",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(2), "{report}");
    assert_eq!(
        report["coverage"]["trails"],
        json!([
            "org-trail (111122223333 us-east-1)",
            "org-trail (222233334444 us-east-1)"
        ])
    );
    assert!(blind(&report).contains(&("mantle".to_owned(), "unknown".to_owned())));
}

/// `UpdateTrail` moving the logs or narrowing the Regions leaves what the trail records after it
/// unknown, management events included; files of an account outside the organization's folder
/// were written by that account's own trail, which nobody named.
#[test]
fn an_update_moving_the_trail_and_an_account_trail_are_blind_spots() {
    let dir = archive(&[
        create_trail("2025-03-01T09:00:00Z"),
        converse("2025-03-01T10:00:00Z"),
        record(
            "2025-03-01T10:30:00Z",
            "cloudtrail.amazonaws.com",
            "UpdateTrail",
            "us-east-1",
            json!({"name": "org-trail", "isMultiRegionTrail": false}),
        ),
        converse("2025-03-01T11:00:00Z"),
    ]);
    let runtime_only = policy_file(dir.path(), RUNTIME_ONLY);
    let (code, report, _) = audit_run(dir.path(), &runtime_only, &["--trail", "org-trail"]);
    assert_eq!(code, Some(2), "{report}");
    assert_eq!(
        blind(&report),
        [("runtime".to_owned(), "unknown".to_owned())]
    );
    let rows = report["blind_spots"][0]["rows"].as_array().unwrap();
    assert_eq!(rows[0]["period_start"], "2025-03-01T10:30:00Z");
    assert!(
        rows[0]["reason"]
            .as_str()
            .unwrap()
            .contains("isMultiRegionTrail")
    );

    // Another account's own trail wrote its files (no o-ORG folder): not the named trail.
    let dir = archive(&[
        create_trail("2025-03-01T09:00:00Z"),
        converse("2025-03-01T10:00:00Z"),
    ]);
    let mut other = converse("2025-03-01T10:05:00Z");
    other["recipientAccountId"] = json!("999988887777");
    let delivered = chrono::DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z").unwrap();
    write_log(
        dir.path(),
        "999988887777",
        "eu-west-1",
        delivered.to_utc(),
        &[other],
    );
    let every = policy_file(
        dir.path(),
        "[[rule]]\nname = \"all\"\nallowed_geographies = [\"EU\"]\n",
    );
    let (code, report, _) = audit_run(
        dir.path(),
        &every,
        &[
            "--trail",
            "org-trail",
            "--assume-recorded",
            "knowledge-base",
        ],
    );
    assert_eq!(code, Some(2), "{report}");
    let trails: Vec<&str> = report["blind_spots"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["rows"].as_array().unwrap())
        .filter_map(|r| r["trail"].as_str())
        .collect();
    assert!(
        trails.contains(&"(account trail of 999988887777)"),
        "{trails:?}"
    );
}
