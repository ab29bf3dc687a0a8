//! What the logs cannot prove is never "compliant": each case of the fail-closed audit, with
//! expected values from hand-written records or from an independent reading of generated files.

use std::io::Write;
use std::path::Path;

use crate::common::*;
use serde_json::{Value, json};
use trailmap::generate::{GeneratorConfig, generate};

const KEY_DIR: &str = "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/01";

/// Writes `records` as one gzipped CloudTrail log file in the real key layout under `dir`.
fn write_log(dir: &Path, name: &str, records: &[Value]) -> std::path::PathBuf {
    let folder = dir.join(KEY_DIR);
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(format!(
        "111122223333_CloudTrail_eu-west-1_20250301T1205Z_{name}.json.gz"
    ));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json!({ "Records": records }).to_string().as_bytes())
        .unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    path
}

/// A Bedrock runtime call from eu-west-1, as CloudTrail documents it.
fn call(id: &str, name: &str, model_id: Option<&str>, inference_region: Option<&str>) -> Value {
    let mut record = json!({
        "eventVersion": "1.11",
        "eventTime": "2025-03-01T12:00:00Z",
        "eventSource": "bedrock.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-west-1",
        "recipientAccountId": "111122223333",
        "eventID": id,
        "eventType": "AwsApiCall",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/s", "accountId": "111122223333"},
        "requestParameters": {},
    });
    if let Some(m) = model_id {
        record["requestParameters"]["modelId"] = json!(m);
    }
    if let Some(r) = inference_region {
        record["additionalEventData"] = json!({ "inferenceRegion": r });
    }
    record
}

fn findings(report: &Value) -> Vec<(String, String, String)> {
    report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["rule"].as_str().unwrap().to_owned(),
                v["event_id"].as_str().unwrap().to_owned(),
                v["requirement"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A field of a JSON output row; trailmap leaves nulls out of JSON rows.
fn field(row: &serde_json::Map<String, Value>, name: &str) -> Value {
    row.get(name).cloned().unwrap_or(Value::Null)
}

const SONNET: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";

#[test]
fn a_profile_call_without_inference_region_is_unverifiable_not_compliant() {
    let dir = tempfile::tempdir().unwrap();
    let global = format!("global.{SONNET}");
    write_log(
        dir.path(),
        "a",
        &[
            call("no-region", "Converse", Some(&global), None),
            call("in-eu", "Converse", Some(&global), Some("eu-central-1")),
            call("in-us", "InvokeModel", Some(&global), Some("us-east-2")),
            call("plain", "InvokeModel", Some(SONNET), None),
            call("no-model", "Converse", None, None),
        ],
    );
    let rows = query_json(
        dir.path(),
        &[],
        "SELECT event_id, served_region, profile_scope, routing_scope FROM invocations ORDER BY event_id",
    );
    let served: Vec<(String, Value)> = rows
        .iter()
        .map(|r| {
            (
                r["event_id"].as_str().unwrap().to_owned(),
                field(r, "served_region"),
            )
        })
        .collect();
    assert_eq!(
        served,
        [
            ("in-eu".to_owned(), json!("eu-central-1")),
            ("in-us".to_owned(), json!("us-east-2")),
            ("no-model".to_owned(), Value::Null),
            ("no-region".to_owned(), Value::Null),
            ("plain".to_owned(), json!("eu-west-1")),
        ]
    );
    let p = policy_file(
        dir.path(),
        "[[rule]]\nname = \"eu\"\nallowed_geographies = [\"EU\"]\n\n[[rule]]\nname = \"no-global\"\ndenied_profile_scopes = [\"global\"]\n\n[[rule]]\nname = \"when\"\nviolation_when = \"inference_region = 'us-east-2'\"\n",
    );
    let (code, report, stderr) = audit_run(dir.path(), &p, ASSUME_ALL_RECORDED);
    assert_eq!(code, Some(1), "{stderr}");
    let expected = [
        ("eu", "in-us", "allowed_geographies"),
        ("eu", "no-model", "unverifiable"),
        ("eu", "no-region", "unverifiable"),
        ("no-global", "in-eu", "denied_profile_scopes"),
        ("no-global", "in-us", "denied_profile_scopes"),
        ("no-global", "no-model", "unverifiable"),
        ("no-global", "no-region", "denied_profile_scopes"),
        ("when", "in-us", "violation_when"),
        ("when", "no-model", "unverifiable"),
        ("when", "no-region", "unverifiable"),
        ("when", "plain", "unverifiable"),
    ];
    let mut got = findings(&report);
    got.sort();
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).into(), (*b).into(), (*c).into()))
        .collect();
    assert_eq!(got, expected);
    let eu = &report["rules"][0];
    assert_eq!(
        (eu["violations"].as_u64(), eu["unverifiable"].as_u64()),
        (Some(1), Some(2))
    );
    assert!(stderr.contains("NOT COMPLIANT"), "{stderr}");
}

#[test]
fn no_evidence_is_exit_2_and_filters_are_checked_before_listing() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data");
    let eu = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/queries/policies/eu-residency.toml"
    );
    let output = trailmap(&[
        "audit",
        "-s",
        sample,
        "--policy",
        eu,
        "--account",
        "999999999999",
    ]);
    let stderr = stderr_of_exit_2(&output);
    assert!(
        stderr.contains("no evidence") && stderr.contains("--account 999999999999"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("COMPLIANT"));

    let empty = tempfile::tempdir().unwrap();
    let output = trailmap(&[
        "audit",
        "-s",
        empty.path().to_str().unwrap(),
        "--policy",
        eu,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no CloudTrail log file found"));

    // Bad filter values fail before the (missing) source is even looked at.
    for (flag, value, says) in [
        ("--account", "99999999999", "12 digits"),
        ("--source-region", "euwest1", "Region code"),
        ("--delivery-margin", "soon", "duration"),
    ] {
        let output = trailmap(&["audit", "-s", "/no/such/dir", "--policy", eu, flag, value]);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(says) && !stderr.contains("/no/such/dir"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

fn ten_days() -> GeneratorConfig {
    GeneratorConfig {
        events: 6_000,
        events_per_file: 60,
        seed: 5,
        days: 10,
        ..GeneratorConfig::default()
    }
}

fn micros(time: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.timestamp_micros())
}

#[test]
fn late_files_are_kept_by_the_delivery_margin_and_the_lag_is_reported() {
    let dir = generated(ten_days());
    let walked = walk(dir.path());
    // The day of events that a late file delivered after midnight holds.
    let day = walked
        .iter()
        .find_map(|r| {
            let event_day = r.str("/eventTime")?.get(..10)?.to_owned();
            let key_day = event_day.replace('-', "/");
            (!r.path.to_string_lossy().contains(&key_day)).then_some(event_day)
        })
        .expect("the generator plants a late file across midnight");
    let (from, to) = (format!("{day}T00:00:00Z"), format!("{day}T23:59:59Z"));
    let expected = walked
        .iter()
        .filter(|r| {
            r.str("/eventTime")
                .and_then(micros)
                .is_some_and(|t| t >= micros(&from).unwrap() && t <= micros(&to).unwrap())
        })
        .count() as u64;
    let source = dir.path().to_str().unwrap();
    let count = |extra: &[&str], sql: &str| -> (u64, String) {
        let mut args = vec!["query", "-s", source, "--format", "csv", "-v"];
        args.extend_from_slice(extra);
        args.push(sql);
        let output = trailmap(&args);
        let text = stdout_ok(&output);
        let n = text.lines().nth(1).unwrap().parse().unwrap();
        (n, String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (by_flags, stderr) = count(
        &["--from", &day, "--to", &day],
        "SELECT count(*) FROM events",
    );
    assert_eq!(by_flags, expected);
    assert!(
        stderr.contains("delivery margin 2d 0h; largest delivery lag seen 20h"),
        "{stderr}"
    );
    let by_sql = count(
        &[],
        &format!("SELECT count(*) FROM events WHERE event_time BETWEEN '{from}' AND '{to}'"),
    )
    .0;
    assert_eq!(by_sql, expected);
    // A margin shorter than the lag loses the late file's events; the lag of the files read
    // is what can be seen, and a run that reads the late file warns that the margin is short.
    let short_margin = ["--delivery-margin", "1h"];
    let (short, _) = count(
        &[
            "--from",
            &day,
            "--to",
            &day,
            short_margin[0],
            short_margin[1],
        ],
        "SELECT count(*) FROM events",
    );
    assert!(short < expected, "{short} < {expected}");
    let (_, stderr) = count(&short_margin, "SELECT count(*) FROM events");
    assert!(
        stderr.contains("WARNING") && stderr.contains("--delivery-margin"),
        "{stderr}"
    );
}

#[test]
fn unparsable_event_times_are_counted_and_make_a_time_bounded_audit_incomplete() {
    let dir = generated(ten_days());
    let walked = walk(dir.path());
    let bad = walked
        .iter()
        .filter(|r| r.str("/eventTime").and_then(micros).is_none())
        .count();
    assert!(bad > 0, "the generator plants unparsable times");
    let output = trailmap(&[
        "query",
        "-s",
        dir.path().to_str().unwrap(),
        "SELECT count(*) FROM events",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "{bad} record(s) have an eventTime that does not parse"
        )),
        "{stderr}"
    );

    let p = policy_file(
        dir.path(),
        "[[rule]]\nname = \"x\"\nviolation_when = \"aws_region = 'xx-none-1'\"\n",
    );
    let (code, report, _) = audit_run(dir.path(), &p, ASSUME_ALL_RECORDED);
    assert_eq!(code, Some(0), "without --from/--to every record is judged");
    assert_eq!(
        report["coverage"]["bad_event_times"].as_u64(),
        Some(bad as u64)
    );
    let mut bounded = vec!["--from", "2025-03-01", "--to", "2025-03-10"];
    bounded.extend_from_slice(ASSUME_ALL_RECORDED);
    let (code, report, stderr) = audit_run(dir.path(), &p, &bounded);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(report["complete"], false);
    assert_eq!(
        report["incomplete_reasons"],
        json!(["unplaceable-event-times"])
    );
    assert!(stderr.contains("eventTime that does not parse"), "{stderr}");
}

#[test]
fn mantle_inference_counts_and_unknown_bedrock_event_names_are_reported() {
    let dir = generated(ten_days());
    let walked = walk(dir.path());
    let mantle = walked
        .iter()
        .filter(|r| {
            r.str("/eventSource") == Some("bedrock-mantle.amazonaws.com")
                && r.str("/eventName") == Some("CreateInference")
        })
        .count() as u64;
    assert!(mantle > 0);
    let rows = query_json(
        dir.path(),
        &[],
        "SELECT count(*) AS n, count(served_region) AS served, count(model) AS models FROM invocations WHERE event_source = 'bedrock-mantle.amazonaws.com'",
    );
    assert_eq!(rows[0]["n"].as_u64(), Some(mantle));
    assert_eq!(
        rows[0]["served"].as_u64(),
        Some(mantle),
        "a plain model runs in-Region"
    );
    assert_eq!(rows[0]["models"].as_u64(), Some(mantle));

    // A Bedrock event naming a model under a name trailmap does not know.
    let mut unknown = call("chat-1", "CreateChatCompletion", Some(SONNET), None);
    unknown["eventSource"] = json!("bedrock.amazonaws.com");
    write_log(
        dir.path(),
        "unknown",
        &[unknown.clone(), {
            let mut u = unknown;
            u["eventID"] = json!("chat-2");
            u
        }],
    );
    let p = policy_file(
        dir.path(),
        "[[rule]]\nname = \"x\"\nviolation_when = \"aws_region = 'xx-none-1'\"\n",
    );
    let (_, report, stderr) = audit_run(dir.path(), &p, &[]);
    assert_eq!(
        report["coverage"]["unknown_bedrock_events"],
        json!([{"event_source": "bedrock.amazonaws.com", "event_name": "CreateChatCompletion", "events": 2}])
    );
    assert!(stderr.contains("CreateChatCompletion"), "{stderr}");
    let md = dir.path().join("r.md");
    let output = trailmap(&[
        "report",
        "-s",
        dir.path().to_str().unwrap(),
        "-o",
        dir.path().join("r.html").to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(md).unwrap();
    assert!(
        text.contains("| bedrock.amazonaws.com | CreateChatCompletion | 2 |"),
        "{text}"
    );
}

#[test]
fn application_profiles_resolve_from_the_archive_and_from_a_profiles_file() {
    let dir = generated(ten_days());
    let walked = walk(dir.path());
    let created: Vec<(String, String)> = walked
        .iter()
        .filter(|r| r.str("/eventName") == Some("CreateInferenceProfile"))
        .map(|r| {
            (
                r.str("/responseElements/inferenceProfileArn")
                    .unwrap()
                    .to_owned(),
                r.str("/requestParameters/modelSource/copyFrom")
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert!(created.len() >= 8);
    let table = query_json(
        dir.path(),
        &[],
        "SELECT arn, copied_from, model, routing_scope FROM application_profiles ORDER BY arn",
    );
    let mut expected = created.clone();
    expected.sort();
    let got: Vec<(String, String)> = table
        .iter()
        .map(|r| {
            (
                r["arn"].as_str().unwrap().to_owned(),
                r["copied_from"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got, expected);

    // Calls through a profile the archive creates get the model and scope of what it copies.
    let rows = query_json(
        dir.path(),
        &[],
        "SELECT event_id, model, routing_scope, served_region FROM invocations WHERE profile_scope = 'application'",
    );
    let by_id: std::collections::BTreeMap<&str, &serde_json::Map<String, Value>> = rows
        .iter()
        .map(|r| (r["event_id"].as_str().unwrap(), r))
        .collect();
    let mut unknown_arn = None;
    for r in walked
        .iter()
        .filter(|r| r.is_invocation() && r.profile_scope().as_deref() == Some("application"))
    {
        let row = by_id[r.str("/eventID").unwrap()];
        match r.profile_copies.as_deref() {
            Some(copy) => {
                let model = copy.rsplit('/').next().unwrap();
                let model = model
                    .strip_prefix("eu.")
                    .or(model.strip_prefix("global."))
                    .unwrap_or(model);
                assert_eq!(field(row, "model"), json!(model));
                let scope = if copy.contains("/eu.") {
                    json!("eu")
                } else if copy.contains("/global.") {
                    json!("global")
                } else {
                    Value::Null
                };
                assert_eq!(field(row, "routing_scope"), scope);
            }
            None => {
                assert_eq!(field(row, "model"), Value::Null);
                assert_eq!(field(row, "routing_scope"), Value::Null);
                unknown_arn = r.model_id().map(str::to_owned);
            }
        }
        assert_eq!(field(row, "served_region").as_str(), r.served_region());
    }

    // A profile made before the archive starts, from `aws bedrock list-inference-profiles`.
    let unknown_arn = unknown_arn.expect("the generator plants an unknown profile");
    let profiles = dir.path().join("profiles.json");
    std::fs::write(
        &profiles,
        json!({"inferenceProfileSummaries": [{
            "inferenceProfileName": "old", "inferenceProfileArn": unknown_arn, "type": "APPLICATION",
            "models": [{"modelArn": format!("arn:aws:bedrock:eu-west-1::foundation-model/{SONNET}")},
                       {"modelArn": format!("arn:aws:bedrock:us-east-1::foundation-model/{SONNET}")}]
        }]})
        .to_string(),
    )
    .unwrap();
    let rows = query_json(
        dir.path(),
        &["--profiles", profiles.to_str().unwrap()],
        &format!(
            "SELECT DISTINCT model, routing_scope FROM invocations WHERE model_id = '{unknown_arn}'"
        ),
    );
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["model"], json!(SONNET));
    assert_eq!(rows[0]["routing_scope"], json!("global"));
    // The audit's model scope sees the resolved model.
    let p = policy_file(
        dir.path(),
        &format!(
            "[[rule]]\nname = \"m\"\nmodels = [\"anthropic.*\"]\nviolation_when = \"model_id = '{unknown_arn}'\"\n"
        ),
    );
    let (_, report, _) = audit_run(dir.path(), &p, &["--profiles", profiles.to_str().unwrap()]);
    let expected = walked
        .iter()
        .filter(|r| {
            r.is_invocation() && r.succeeded() && r.model_id() == Some(unknown_arn.as_str())
        })
        .count() as u64;
    assert!(expected > 0);
    assert_eq!(report["rules"][0]["violations"].as_u64(), Some(expected));
}

#[test]
fn an_appended_gzip_member_is_a_load_error_and_its_events_are_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let written = generate(
        dir.path(),
        &GeneratorConfig {
            bad: true,
            ..GeneratorConfig::default()
        },
    )
    .unwrap();
    assert_eq!(written.bad_files, 1);
    let walked = walk(dir.path());
    let source = dir.path().to_str().unwrap();
    let output = trailmap(&[
        "query",
        "-s",
        source,
        "--format",
        "csv",
        "SELECT count(*) AS n FROM events",
    ]);
    assert_eq!(stdout_ok(&output), format!("n\n{}\n", walked.len()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("after the end of the first gzip member"),
        "{stderr}"
    );
    let errors = query_json(dir.path(), &[], "SELECT stage, message FROM load_errors");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["stage"], "gunzip");
    let strict = trailmap(&[
        "query",
        "-s",
        source,
        "--strict",
        "SELECT count(*) FROM events",
    ]);
    assert_eq!(strict.status.code(), Some(2));
    let eu = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/queries/policies/eu-residency.toml"
    );
    let (code, report, _) = audit_run(dir.path(), eu, &[]);
    assert_eq!(code, Some(2));
    assert_eq!(report["complete"], false);
}
