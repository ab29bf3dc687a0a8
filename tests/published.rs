//! Real CloudTrail records published by others (see `tests/fixtures/published/README.md`), read
//! by trailmap and checked against values written by hand from the records themselves.

use std::path::{Path, PathBuf};

use crate::common::*;
use serde_json::Value;

fn fixtures(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/published")
        .join(set)
}

const COLUMNS: &str = "event_name, event_source, event_version, event_time, event_id, event_type, \
    aws_region, account_id, user_type, principal_arn, principal_id, principal_account_id, \
    access_key_id, user_name, session_issuer_arn, source_ip, user_agent, error_code, \
    error_message, is_invocation, served_region, model_id, log_account, log_region, log_date, \
    json_get_str(request_parameters, 'instancesSet', 'items', 0, 'instanceId') AS instance, \
    json_get_str(response_elements, 'keyMaterial') AS key_material, \
    json_get_str(request_parameters, 'guardrailIdentifier') AS guardrail";

fn rows(set: &str) -> Vec<serde_json::Map<String, Value>> {
    query_json(
        &fixtures(set),
        &[],
        &format!("SELECT {COLUMNS} FROM events ORDER BY event_name"),
    )
}

/// Asserts `row[column] == expected` for each pair (`None`: null or absent).
fn expect(row: &serde_json::Map<String, Value>, expected: &[(&str, Option<&str>)]) {
    for (column, value) in expected {
        let got = row.get(*column).and_then(|v| match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        });
        assert_eq!(
            got.as_deref(),
            *value,
            "{column} of {:?}",
            row["event_name"]
        );
    }
}

#[test]
fn the_cloudtrail_user_guide_examples() {
    let rows = rows("aws-cloudtrail-user-guide");
    assert_eq!(rows.len(), 3);
    let alice = Some("arn:aws:iam::123456789012:user/Alice");
    expect(
        &rows[0],
        &[
            ("event_name", Some("CreateKeyPair")),
            ("event_source", Some("ec2.amazonaws.com")),
            ("event_version", Some("1.0")),
            ("event_time", Some("2014-03-06T17:10:34Z")),
            ("event_id", None),
            ("account_id", None),
            ("aws_region", Some("us-east-2")),
            ("user_type", Some("IAMUser")),
            ("principal_arn", alice),
            ("principal_id", Some("EX_PRINCIPAL_ID")),
            ("principal_account_id", Some("123456789012")),
            ("access_key_id", Some("EXAMPLE_KEY_ID")),
            ("user_name", Some("Alice")),
            ("session_issuer_arn", None),
            ("source_ip", Some("72.21.198.64")),
            (
                "user_agent",
                Some(
                    "EC2ConsoleBackend, aws-sdk-java/Linux/x.xx.fleetxen Java_HotSpot(TM)_64-Bit_Server_VM/xx",
                ),
            ),
            ("key_material", Some("<sensitiveDataRemoved>")),
            ("is_invocation", Some("false")),
            ("served_region", None),
            ("model_id", None),
            ("log_account", Some("123456789012")),
            ("log_region", Some("us-east-2")),
            ("log_date", Some("2014-03-06")),
        ],
    );
    expect(
        &rows[1],
        &[
            ("event_name", Some("StartInstances")),
            ("event_time", Some("2014-03-06T21:22:54Z")),
            ("source_ip", Some("205.251.233.176")),
            ("user_agent", Some("ec2-api-tools 1.6.12.2")),
            ("instance", Some("i-ebeaf9e2")),
            ("error_code", None),
        ],
    );
    expect(
        &rows[2],
        &[
            ("event_name", Some("UpdateTrail")),
            ("event_source", Some("cloudtrail.amazonaws.com")),
            ("event_version", Some("1.04")),
            ("event_time", Some("2016-07-14T19:15:45Z")),
            ("event_id", Some("b7d4398e-b2f0-4faa-9c76-e2d316a8d67f")),
            ("event_type", Some("AwsApiCall")),
            ("account_id", Some("123456789012")),
            ("principal_arn", alice),
            ("error_code", Some("TrailNotFoundException")),
            (
                "error_message",
                Some("Unknown trail: myTrail2 for the user: 123456789012"),
            ),
            ("log_date", Some("2016-07-14")),
        ],
    );
}

#[test]
fn the_stratus_red_team_bedrock_detonations() {
    let rows = rows("stratus-red-team");
    assert_eq!(rows.len(), 2);
    let role = "arn:aws:sts::847129010505:assumed-role/AWSReservedSSO_DevAdmin_635426549a280cc6/ariel.ropek";
    let issuer = "arn:aws:iam::847129010505:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_DevAdmin_635426549a280cc6";
    for (row, name, guardrail) in [
        (&rows[0], "DeleteGuardrail", Some("14sw4es53xdo")),
        (&rows[1], "DeleteModelInvocationLoggingConfiguration", None),
    ] {
        expect(
            row,
            &[
                ("event_name", Some(name)),
                ("event_source", Some("bedrock.amazonaws.com")),
                ("event_version", Some("1.09")),
                // "2025-03-26 16:43:57.000000000" is not CloudTrail's format: not guessed.
                ("event_time", None),
                ("event_id", Some("ee73c230-44bc-4492-8542-cfb189eae287")),
                ("aws_region", Some("us-west-2")),
                ("account_id", Some("847129010505")),
                ("user_type", Some("AssumedRole")),
                ("principal_arn", Some(role)),
                ("session_issuer_arn", Some(issuer)),
                ("source_ip", Some("8.1.250.216")),
                ("guardrail", guardrail),
                // Bedrock control-plane calls run nowhere: not invocations, no served Region.
                ("is_invocation", Some("false")),
                ("served_region", None),
                ("model_id", None),
                ("log_region", Some("us-west-2")),
            ],
        );
    }
    // The unparsable times are counted, and a time-bounded question says so.
    let output = trailmap(&[
        "query",
        "-s",
        fixtures("stratus-red-team").to_str().unwrap(),
        "--from",
        "2025-03-26",
        "SELECT count(*) AS n FROM events",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("2 record(s) have an eventTime that does not parse"),
        "{stderr}"
    );
}
