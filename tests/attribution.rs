//! Who made each call: hand-written records in every caller shape AWS documents, classified by
//! trailmap and checked against values written here and against this file's own reading of the
//! records (`oracle_caller`), which shares no code with trailmap; session tags joined through
//! the STS events that issued the keys, checked against a walk that pairs the keys itself.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::{Value, json};

use crate::common::*;

const ACCOUNT: &str = "111122223333";

/// A record of `ACCOUNT` in eu-west-1 at `time`, called by `identity`.
fn call(id: &str, time: &str, identity: Value) -> Value {
    json!({
        "eventVersion": "1.11",
        "userIdentity": identity,
        "eventTime": time,
        "eventSource": "bedrock.amazonaws.com",
        "eventName": "InvokeModel",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "test",
        "requestParameters": {"modelId": "anthropic.claude-3-haiku-20240307-v1:0"},
        "responseElements": null,
        "requestID": format!("req-{id}"),
        "eventID": id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    })
}

/// An assumed-role identity of `role`'s session `session` with access key `key`.
fn assumed(role: &str, session: &str, key: &str) -> Value {
    json!({
        "type": "AssumedRole",
        "principalId": format!("AROAEXAMPLE:{session}"),
        "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"),
        "accountId": ACCOUNT,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE",
                "arn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "accountId": ACCOUNT, "userName": role},
            "attributes": {"creationDate": "2025-03-01T09:00:00Z", "mfaAuthenticated": "false"}
        }
    })
}

/// One gzipped CloudTrail log file of `records`, delivered at `stamp` (`20250301T1005Z`).
fn write_log(root: &Path, stamp: &str, records: &[Value]) {
    let (day, region) = (&stamp[..8], "eu-west-1");
    let folder = root.join(format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/{region}/{}/{}/{}",
        &day[..4],
        &day[4..6],
        &day[6..8]
    ));
    std::fs::create_dir_all(&folder).unwrap();
    let name = format!(
        "{ACCOUNT}_CloudTrail_{region}_{stamp}_x{}.json.gz",
        records.len()
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json!({ "Records": records }).to_string().as_bytes())
        .unwrap();
    std::fs::write(folder.join(name), gz.finish().unwrap()).unwrap();
}

/// What `person`, `person_source` and `auth` should be, read from the record by the precedence
/// the schema documents, written here from CloudTrail's userIdentity reference.
fn oracle_caller(record: &Value) -> (Option<String>, String, Option<String>) {
    let id = &record["userIdentity"];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let flag = |v: &Value| v == &json!(true) || v == &json!("true");
    let auth = if id.is_null() {
        None
    } else if flag(&record["sessionCredentialFromConsole"]) {
        Some("console".to_owned())
    } else if flag(&record["additionalEventData"]["callWithBearerToken"])
        || flag(&record["requestParameters"]["callWithBearerToken"])
    {
        Some("bearer-token".to_owned())
    } else {
        Some("sigv4".to_owned())
    };
    let last = |arn: Option<String>| arn.and_then(|a| a.rsplit('/').next().map(str::to_owned));
    let kind = id["type"].as_str().unwrap_or("");
    let issuer_role = text(&id["sessionContext"]["sessionIssuer"]["userName"]).unwrap_or_default();
    let (person, source) =
        if let Some(source_identity) = text(&id["sessionContext"]["sourceIdentity"]) {
            (Some(source_identity), "source-identity")
        } else if kind == "IdentityCenterUser" {
            (text(&id["onBehalfOf"]["userId"]), "identity-center")
        } else if kind == "AssumedRole" && issuer_role.starts_with("AWSReservedSSO_") {
            (last(text(&id["arn"])), "sso-session")
        } else if kind == "IAMUser" && auth.as_deref() == Some("bearer-token") {
            (text(&id["userName"]), "api-key")
        } else if kind == "IAMUser" {
            (text(&id["userName"]), "iam-user")
        } else if kind == "Root" {
            (Some("root".to_owned()), "iam-user")
        } else if kind == "AssumedRole" || kind == "FederatedUser" {
            (last(text(&id["arn"])), "role-session")
        } else if kind == "AWSService" {
            (text(&id["invokedBy"]), "service")
        } else {
            (None, "unknown")
        };
    let source = if person.is_none() { "unknown" } else { source };
    (person, source.to_owned(), auth)
}

/// `person`, `person_source` and `auth` as written by hand.
type Expected = (Option<&'static str>, &'static str, Option<&'static str>);

/// Every caller shape, with the person, source and auth written by hand.
fn shapes() -> Vec<(Value, Expected)> {
    let t = "2025-03-01T10:00:00Z";
    let mut console = call("sso-console", t, {
        let mut id = assumed(
            "AWSReservedSSO_Analyst_0123456789abcdef",
            "alice@example.com",
            "ASIACONSOLE",
        );
        id["sessionContext"]["sessionIssuer"]["arn"] = json!(format!(
            "arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Analyst_0123456789abcdef"
        ));
        id
    });
    console["sessionCredentialFromConsole"] = json!("true");
    let mut chained_source = assumed("data-pipeline", "etl", "ASIASOURCE");
    chained_source["sessionContext"]["sourceIdentity"] = json!("bob@example.com");
    let mut runtime_key = call(
        "api-key-runtime",
        t,
        json!({"type": "IAMUser", "principalId": "AIDAKEY", "arn": format!("arn:aws:iam::{ACCOUNT}:user/BedrockAPIKey_ci"),
               "accountId": ACCOUNT, "accessKeyId": "AKIAKEY", "userName": "BedrockAPIKey_ci"}),
    );
    runtime_key["additionalEventData"] = json!({"callWithBearerToken": true});
    let mut mantle_key = call(
        "api-key-mantle-short-term",
        t,
        assumed("app", "worker-1", "ASIAMANTLE"),
    );
    mantle_key["eventSource"] = json!("bedrock-mantle.amazonaws.com");
    mantle_key["eventName"] = json!("CreateInference");
    mantle_key["requestParameters"] =
        json!({"model": "openai.gpt-oss-120b-1:0", "callWithBearerToken": true});
    let mut no_identity = call("no-identity", t, Value::Null);
    no_identity.as_object_mut().unwrap().remove("userIdentity");
    vec![
        (
            call("source-identity", t, chained_source),
            (Some("bob@example.com"), "source-identity", Some("sigv4")),
        ),
        (
            call(
                "identity-center",
                t,
                json!({"type": "IdentityCenterUser", "accountId": ACCOUNT,
                       "onBehalfOf": {"userId": "544894e8-80c1-707f-60e3-3ba6510dfac1",
                                      "identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-9067642ac7"},
                       "credentialId": "EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE"}),
            ),
            (
                Some("544894e8-80c1-707f-60e3-3ba6510dfac1"),
                "identity-center",
                Some("sigv4"),
            ),
        ),
        (
            console,
            (Some("alice@example.com"), "sso-session", Some("console")),
        ),
        (
            runtime_key,
            (Some("BedrockAPIKey_ci"), "api-key", Some("bearer-token")),
        ),
        (
            mantle_key,
            (Some("worker-1"), "role-session", Some("bearer-token")),
        ),
        (
            call(
                "iam-user",
                t,
                json!({"type": "IAMUser", "principalId": "AIDAJ45Q7YFFAREXAMPLE", "arn": format!("arn:aws:iam::{ACCOUNT}:user/Alice"),
                       "accountId": ACCOUNT, "accessKeyId": "AKIAALICE", "userName": "Alice"}),
            ),
            (Some("Alice"), "iam-user", Some("sigv4")),
        ),
        (
            call(
                "root",
                t,
                json!({"type": "Root", "principalId": ACCOUNT, "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT}),
            ),
            (Some("root"), "iam-user", Some("sigv4")),
        ),
        (
            call(
                "role-session",
                t,
                assumed("app-backend", "lambda-handler", "ASIAROLE"),
            ),
            (Some("lambda-handler"), "role-session", Some("sigv4")),
        ),
        (
            call(
                "federated",
                t,
                json!({"type": "FederatedUser", "principalId": format!("{ACCOUNT}:Bob"),
                       "arn": format!("arn:aws:sts::{ACCOUNT}:federated-user/Bob"), "accountId": ACCOUNT,
                       "accessKeyId": "ASIAFED",
                       "sessionContext": {"sessionIssuer": {"type": "IAMUser", "userName": "ops",
                            "arn": format!("arn:aws:iam::{ACCOUNT}:user/ops")}}}),
            ),
            (Some("Bob"), "role-session", Some("sigv4")),
        ),
        (
            call(
                "service",
                t,
                json!({"type": "AWSService", "invokedBy": "bedrock.amazonaws.com"}),
            ),
            (Some("bedrock.amazonaws.com"), "service", Some("sigv4")),
        ),
        (
            call(
                "cross-account",
                t,
                json!({"type": "AWSAccount", "principalId": "AIDAX", "accountId": "999988887777"}),
            ),
            (None, "unknown", Some("sigv4")),
        ),
        (no_identity, (None, "unknown", None)),
    ]
}

#[test]
fn every_caller_shape_is_attributed_as_written_and_as_the_oracle_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let shapes = shapes();
    let records: Vec<Value> = shapes.iter().map(|(r, _)| r.clone()).collect();
    write_log(dir.path(), "20250301T1005Z", &records);
    let rows = query_json(
        dir.path(),
        &[],
        "SELECT event_id, person, person_source, auth FROM events",
    );
    assert_eq!(rows.len(), shapes.len());
    let found: BTreeMap<String, (Option<String>, String, Option<String>)> = rows
        .iter()
        .map(|row| {
            let text = |k: &str| row.get(k).and_then(Value::as_str).map(str::to_owned);
            (
                text("event_id").unwrap(),
                (text("person"), text("person_source").unwrap(), text("auth")),
            )
        })
        .collect();
    for (record, (person, source, auth)) in &shapes {
        let id = record["eventID"].as_str().unwrap();
        let expected = (
            person.map(str::to_owned),
            source.to_string(),
            auth.map(str::to_owned),
        );
        assert_eq!(
            found[id], expected,
            "{id}: trailmap against the hand-written answer"
        );
        assert_eq!(
            oracle_caller(record),
            expected,
            "{id}: the oracle against the hand-written answer"
        );
    }
}

/// `(event_id, requirement)` of every finding of an audit report, sorted.
fn findings(report: &Value) -> Vec<(String, String)> {
    let mut findings: Vec<(String, String)> = report["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| {
            (
                v["event_id"].as_str().unwrap_or_default().to_owned(),
                v["requirement"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    findings.sort();
    findings
}

/// An STS `AssumeRole` event issuing `key` to `(role, session)`, called with `caller_key` (if any),
/// passing `tags` (transitive: `transitive`).
fn assume_role(
    id: &str,
    time: &str,
    (role, session): (&str, &str),
    key: &str,
    caller_key: Option<&str>,
    tags: Value,
    transitive: Value,
) -> Value {
    let identity = match caller_key {
        Some(k) => assumed("parent", "hop", k),
        None => json!({"type": "AWSService", "invokedBy": "ecs-tasks.amazonaws.com"}),
    };
    json!({
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": time,
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "ecs-tasks.amazonaws.com",
        "userAgent": "ecs-tasks.amazonaws.com",
        "requestParameters": {"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/{role}"), "roleSessionName": session,
                              "tags": tags, "transitiveTagKeys": transitive, "durationSeconds": 3600},
        "responseElements": {"credentials": {"accessKeyId": key, "expiration": "Mar 1, 2025, 11:00:00 AM"},
                             "assumedRoleUser": {"assumedRoleId": format!("AROAEXAMPLE:{session}"),
                                                 "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}")}},
        "requestID": format!("req-{id}"),
        "eventID": id,
        "readOnly": true,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
    })
}

/// An archive of tagged sessions: a tagged session, one chained from it (inheriting its
/// transitive tag), one whose issuing event is missing, one chained from a missing one, and an
/// IAM user's call; each call in a file of its own after the STS events' file, and the STS event
/// of the chained session in the last file of all.
fn tagged_archive() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let t = |m: u32| format!("2025-03-01T10:{m:02}:00Z");
    write_log(
        dir.path(),
        "20250301T1005Z",
        &[assume_role(
            "sts-eu",
            &t(0),
            ("analytics", "etl"),
            "ASIAEU",
            None,
            json!([{"key": "team", "value": "eu-analytics"}, {"key": "cost", "value": "7"}]),
            json!(["team"]),
        )],
    );
    write_log(
        dir.path(),
        "20250301T1015Z",
        &[call(
            "call-eu",
            &t(10),
            assumed("analytics", "etl", "ASIAEU"),
        )],
    );
    write_log(
        dir.path(),
        "20250301T1020Z",
        &[call(
            "call-chained",
            &t(15),
            assumed("next", "hop2", "ASIACHAIN"),
        )],
    );
    write_log(
        dir.path(),
        "20250301T1025Z",
        &[call(
            "call-missing",
            &t(20),
            assumed("analytics", "other", "ASIAMISSING"),
        )],
    );
    write_log(
        dir.path(),
        "20250301T1030Z",
        &[call(
            "call-orphan-chain",
            &t(25),
            assumed("next", "hop3", "ASIAORPHAN"),
        )],
    );
    write_log(
        dir.path(),
        "20250301T1035Z",
        &[call(
            "call-iam-user",
            &t(30),
            json!({"type": "IAMUser", "arn": format!("arn:aws:iam::{ACCOUNT}:user/ci"), "accountId": ACCOUNT,
                   "accessKeyId": "AKIACI", "userName": "ci"}),
        )],
    );
    write_log(
        dir.path(),
        "20250301T1040Z",
        &[
            assume_role(
                "sts-chain",
                &t(12),
                ("next", "hop2"),
                "ASIACHAIN",
                Some("ASIAEU"),
                json!([{"key": "project", "value": "x"}]),
                json!([]),
            ),
            assume_role(
                "sts-orphan",
                &t(22),
                ("next", "hop3"),
                "ASIAORPHAN",
                Some("ASIAGONE"),
                json!([{"key": "team", "value": "eu-analytics"}]),
                json!([]),
            ),
        ],
    );
    dir
}

/// `session_tags` of every call by event id, as trailmap gives them over `partitions`
/// partitions.
fn session_tags_by_call(dir: &Path, partitions: &str) -> BTreeMap<String, Option<String>> {
    query_json_with_env(
        dir,
        &[],
        "SELECT event_id, session_tags FROM events WHERE event_source = 'bedrock.amazonaws.com'",
        &[("DATAFUSION_EXECUTION_TARGET_PARTITIONS", partitions)],
    )
    .iter()
    .map(|row| {
        (
            row["event_id"].as_str().unwrap().to_owned(),
            row.get("session_tags")
                .and_then(Value::as_str)
                .map(str::to_owned),
        )
    })
    .collect()
}

#[test]
fn session_tags_come_from_the_issuing_event_through_role_chains_and_are_null_when_it_is_missing() {
    let dir = tagged_archive();
    let expected: BTreeMap<String, Option<String>> = [
        ("call-eu", Some(r#"{"cost":"7","team":"eu-analytics"}"#)),
        // The chained session inherits the transitive tag only.
        (
            "call-chained",
            Some(r#"{"project":"x","team":"eu-analytics"}"#),
        ),
        ("call-missing", None),
        // Its own event is here, but the session it was chained from is not.
        ("call-orphan-chain", None),
        ("call-iam-user", None),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
    .collect();
    // One file per partition and one at a time: the calls' files are read before the files of
    // the events that issued their keys, whatever the order.
    for partitions in ["1", "2", "8"] {
        let found = session_tags_by_call(dir.path(), partitions);
        assert_eq!(found, expected, "target partitions {partitions}");
    }
    let sessions = query_json(
        dir.path(),
        &[],
        "SELECT access_key_id, principal_tags, session_tags, caller_access_key_id, expires_at FROM sessions ORDER BY access_key_id",
    );
    let keys: Vec<&str> = sessions
        .iter()
        .map(|r| r["access_key_id"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["ASIACHAIN", "ASIAEU", "ASIAORPHAN"]);
    assert_eq!(sessions[0]["principal_tags"], json!(r#"{"project":"x"}"#));
    assert_eq!(sessions[0]["caller_access_key_id"], json!("ASIAEU"));
    assert_eq!(sessions[1]["expires_at"], json!("2025-03-01T11:00:00Z"));
    assert!(sessions[2].get("session_tags").is_none_or(Value::is_null));
}

#[test]
fn a_tag_scoped_rule_finds_unverifiable_calls_whose_tags_cannot_be_known() {
    let dir = tagged_archive();
    let policy = policy_file(
        dir.path(),
        r#"
[[rule]]
name = "eu-analytics stays in us-east-1"
session_tags = { team = "eu-*" }
allowed_regions = ["us-east-1"]
"#,
    );
    let (code, report, stderr) = audit_run(dir.path(), &policy, ASSUME_ALL_RECORDED);
    assert_eq!(code, Some(1), "{stderr}");
    let findings = findings(&report);
    // call-eu and call-chained carry team=eu-analytics and ran in eu-west-1: violations. The
    // calls whose tags are unknown are unverifiable, never out of scope; the IAM user's call
    // (no session, no session tag) is out of scope.
    assert_eq!(
        findings,
        [
            ("call-chained".to_owned(), "allowed_regions".to_owned()),
            ("call-eu".to_owned(), "allowed_regions".to_owned()),
            ("call-missing".to_owned(), "unverifiable".to_owned()),
            ("call-orphan-chain".to_owned(), "unverifiable".to_owned()),
        ]
    );
    let reason = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["event_id"] == "call-missing")
        .and_then(|v| v["reason"].as_str())
        .unwrap()
        .to_owned();
    assert!(reason.contains("session_tags"), "{reason}");
}

#[test]
fn a_person_scoped_rule_judges_named_people_and_cannot_place_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Value> = shapes().into_iter().map(|(r, _)| r).collect();
    write_log(dir.path(), "20250301T1005Z", &records);
    let policy = policy_file(
        dir.path(),
        r#"
[[rule]]
name = "alice in us"
persons = ["alice@*"]
allowed_geographies = ["US"]
"#,
    );
    let (code, report, stderr) = audit_run(dir.path(), &policy, ASSUME_ALL_RECORDED);
    assert_eq!(code, Some(1), "{stderr}");
    let findings = findings(&report);
    assert_eq!(
        findings,
        [
            ("cross-account".to_owned(), "unverifiable".to_owned()),
            ("no-identity".to_owned(), "unverifiable".to_owned()),
            ("sso-console".to_owned(), "allowed_geographies".to_owned()),
        ]
    );
    // Trusting only the fields a caller cannot choose: a role session named like anyone is
    // out of scope; so is a call whose source says no field names a person.
    let trusted = policy_file(
        dir.path(),
        "[[rule]]\nname = \"trusted in us\"\npersons = [\"*\"]\nperson_sources = [\"sso-*\", \"identity-center\"]\nallowed_geographies = [\"US\"]\n",
    );
    let (code, report, stderr) = audit_run(dir.path(), &trusted, ASSUME_ALL_RECORDED);
    assert_eq!(code, Some(1), "{stderr}");
    let mut ids: Vec<&str> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["event_id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["identity-center", "sso-console"]);
    let unknown_source = policy_file(
        dir.path(),
        "[[rule]]\nname = \"x\"\nperson_sources = [\"human\"]\nallowed_geographies = [\"US\"]\n",
    );
    let (code, _, stderr) = audit_run(dir.path(), &unknown_source, &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("person_sources: \"human\" matches no person source"),
        "{stderr}"
    );
}

/// Tags, transitive keys and calling key of each issued key.
type Issued = BTreeMap<String, (BTreeMap<String, String>, Vec<String>, Option<String>)>;

/// `key → tags` of the STS events that issued keys, read by the walk itself; then the tags of
/// each call's key (chains followed, none when a link is missing).
fn walked_session_tags(dir: &Path) -> BTreeMap<String, u64> {
    let records = walk(dir);
    let mut issued: Issued = BTreeMap::new();
    for r in &records {
        let issuing = r.str("/eventSource") == Some("sts.amazonaws.com")
            && r.record.get("errorCode").is_none_or(Value::is_null);
        let Some(key) = r
            .str("/responseElements/credentials/accessKeyId")
            .filter(|_| issuing)
        else {
            continue;
        };
        let mut tags = BTreeMap::new();
        for tag in r
            .record
            .pointer("/requestParameters/tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            tags.insert(
                tag["key"].as_str().unwrap().to_owned(),
                tag["value"].as_str().unwrap().to_owned(),
            );
        }
        let transitive: Vec<String> = r
            .record
            .pointer("/requestParameters/transitiveTagKeys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
        let caller = r
            .str("/userIdentity/accessKeyId")
            .filter(|k| k.starts_with("ASIA"))
            .map(str::to_owned);
        issued
            .entry(key.to_owned())
            .or_insert((tags, transitive, caller));
    }
    fn tags_of(key: &str, issued: &Issued) -> Option<(BTreeMap<String, String>, Vec<String>)> {
        let (own, transitive, caller) = issued.get(key)?;
        let (mut tags, mut keys) = (BTreeMap::new(), Vec::new());
        if let Some(caller) = caller {
            let (inherited, passed) = tags_of(caller, issued)?;
            for k in passed {
                if let Some(v) = inherited.get(&k) {
                    tags.insert(k.clone(), v.clone());
                }
                keys.push(k);
            }
        }
        tags.extend(own.clone());
        keys.extend(transitive.clone());
        Some((tags, keys))
    }
    let mut counts = BTreeMap::new();
    for r in &records {
        let Some(key) = r
            .str("/userIdentity/accessKeyId")
            .filter(|k| k.starts_with("ASIA"))
        else {
            continue;
        };
        let Some((tags, _)) = tags_of(key, &issued) else {
            continue;
        };
        *counts
            .entry(serde_json::to_string(&tags).unwrap())
            .or_insert(0) += 1;
    }
    counts
}

#[test]
fn session_tags_over_a_generated_archive_match_a_walk_that_pairs_the_keys_itself() {
    let dir = generated(trailmap::generate::GeneratorConfig {
        events: 6000,
        ..Default::default()
    });
    let expected = walked_session_tags(dir.path());
    assert!(
        expected.len() >= 3,
        "the generator plants tagged and untagged sessions: {expected:?}"
    );
    let rows = query_json(
        dir.path(),
        &[],
        "SELECT session_tags, count(*) AS n FROM events WHERE session_tags IS NOT NULL GROUP BY session_tags",
    );
    assert_eq!(counts(&rows, "session_tags", "n"), expected);
    // The same through a warehouse ingested in two runs: the first day, then the rest.
    let warehouse = tempfile::tempdir().unwrap();
    let source = dir.path().to_str().unwrap();
    let into = warehouse.path().to_str().unwrap();
    for extra in [&["--to", "2025-03-01"][..], &[][..]] {
        let mut args = vec!["ingest", "-s", source, "--into", into];
        args.extend_from_slice(extra);
        let output = trailmap(&args);
        assert!(output.status.success(), "{output:?}");
    }
    let rows = query_json(
        warehouse.path(),
        &[],
        "SELECT session_tags, count(*) AS n FROM events WHERE session_tags IS NOT NULL GROUP BY session_tags",
    );
    assert_eq!(counts(&rows, "session_tags", "n"), expected);
}

#[test]
fn bursts_finds_a_planted_burst_with_the_principal_s_first_model() {
    let dir = tempfile::tempdir().unwrap();
    let burster = assumed("app", "stolen", "ASIABURST");
    let mut earlier = Vec::new();
    for minute in 0..5 {
        let mut r = call(
            &format!("early-{minute}"),
            &format!("2025-03-01T08:{minute:02}:00Z"),
            burster.clone(),
        );
        r["requestParameters"]["modelId"] = json!("amazon.nova-lite-v1:0");
        earlier.push(r);
    }
    write_log(dir.path(), "20250301T0810Z", &earlier);
    let mut burst = Vec::new();
    for i in 0..60 {
        let mut r = call(
            &format!("burst-{i}"),
            &format!("2025-03-01T10:{:02}:{:02}Z", i / 2, (i % 2) * 30),
            burster.clone(),
        );
        r["requestParameters"]["modelId"] = json!("anthropic.claude-sonnet-4-5-20250929-v1:0");
        burst.push(r);
    }
    // Another principal at the threshold exactly: not a burst.
    for i in 0..50 {
        burst.push(call(
            &format!("calm-{i}"),
            &format!("2025-03-01T10:{i:02}:10Z"),
            assumed("app", "calm", "ASIACALM"),
        ));
    }
    write_log(dir.path(), "20250301T1105Z", &burst);
    let rows = query_json(dir.path(), &[], "bursts");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(
        row["principal"],
        json!(format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/stolen"))
    );
    assert_eq!(
        row["model"],
        json!("anthropic.claude-sonnet-4-5-20250929-v1:0")
    );
    assert_eq!(row["calls"], json!(60));
    assert_eq!(row["first_model"], json!("amazon.nova-lite-v1:0"));
    assert_eq!(row["new_model"], json!(true));
    assert_eq!(row["hour"], json!("2025-03-01T10:00:00Z"));
}

#[test]
fn each_file_is_read_once_to_resolve_session_tags() {
    let dir = tagged_archive();
    for partitions in ["2", "4"] {
        let output = trailmap_with_env(
            &[
                "query",
                "-s",
                dir.path().to_str().unwrap(),
                "SELECT count(session_tags) AS n FROM events",
            ],
            &[
                ("DATAFUSION_EXECUTION_TARGET_PARTITIONS", partitions),
                ("TRAILMAP_LOG", "trailmap=debug"),
            ],
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        // The partitions wait for each other: the sessions are known from the scans' own reads,
        // and the search for what no scan read finds nothing left.
        let searched: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("searching files for application profiles, sessions"))
            .collect();
        assert_eq!(searched.len(), 1, "{stderr}");
        assert!(searched[0].ends_with("files=0"), "{stderr}");
    }
    // Ingest writes day by day: each day's rows take the sessions read so far, not a search of
    // the other days' files.
    let warehouse = tempfile::tempdir().unwrap();
    let output = trailmap_with_env(
        &[
            "ingest",
            "-s",
            dir.path().to_str().unwrap(),
            "--into",
            warehouse.path().to_str().unwrap(),
        ],
        &[("TRAILMAP_LOG", "trailmap=debug")],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let searched: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("searching files for application profiles, sessions"))
        .collect();
    assert!(!searched.is_empty(), "{stderr}");
    assert!(searched.iter().all(|l| l.ends_with("files=0")), "{stderr}");
}

#[test]
fn a_warehouse_fills_the_tags_of_calls_ingested_before_the_event_that_issued_their_key() {
    // The call's file is ingested first; the STS event's file (delivered later, or listed by
    // a later run) comes in the next run, which rewrites the call's day.
    let full = tempfile::tempdir().unwrap();
    let t = "2025-03-01T23:50:00Z";
    write_log(
        full.path(),
        "20250301T2355Z",
        &[call(
            "late-call",
            t,
            assumed("analytics", "etl", "ASIALATE"),
        )],
    );
    write_log(
        full.path(),
        "20250302T0015Z",
        &[assume_role(
            "sts-late",
            "2025-03-01T23:40:00Z",
            ("analytics", "etl"),
            "ASIALATE",
            None,
            json!([{"key": "team", "value": "eu-analytics"}]),
            json!([]),
        )],
    );
    let first = tempfile::tempdir().unwrap();
    copy_tree(
        &full
            .path()
            .join("AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/01"),
        &first
            .path()
            .join("AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/01"),
    );
    let warehouse = tempfile::tempdir().unwrap();
    let into = warehouse.path().to_str().unwrap();
    for source in [first.path(), full.path()] {
        let output = trailmap(&["ingest", "-s", source.to_str().unwrap(), "--into", into]);
        assert!(output.status.success(), "{output:?}");
    }
    assert_eq!(
        session_tags_by_call(warehouse.path(), "2"),
        session_tags_by_call(full.path(), "2"),
    );
    assert_eq!(
        session_tags_by_call(warehouse.path(), "2")["late-call"].as_deref(),
        Some(r#"{"team":"eu-analytics"}"#)
    );
    // In one run, the call's day is written before the day whose file holds the STS event:
    // it is written again once that is read.
    let one_run = tempfile::tempdir().unwrap();
    let output = trailmap(&[
        "ingest",
        "-s",
        full.path().to_str().unwrap(),
        "--into",
        one_run.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        session_tags_by_call(one_run.path(), "2"),
        session_tags_by_call(full.path(), "2"),
    );
}

/// An STS event of `name` issuing `key`, called by `identity`, with `request` parameters.
fn sts(id: &str, name: &str, identity: Value, request: Value, key: &str) -> Value {
    let mut record = assume_role(
        id,
        "2025-03-01T10:00:00Z",
        ("r", "s"),
        key,
        None,
        json!([]),
        json!([]),
    );
    record["eventName"] = json!(name);
    record["userIdentity"] = identity;
    record["requestParameters"] = request;
    record
}

#[test]
fn every_issuing_event_shape_gives_the_tags_written_here() {
    let dir = tempfile::tempdir().unwrap();
    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/R");
    let parent = assume_role(
        "parent",
        "2025-03-01T09:00:00Z",
        ("analytics", "etl"),
        "ASIAPARENT",
        None,
        json!([{"key": "team", "value": "eu-analytics"}]),
        json!(["team"]),
    );
    // A cross-account AssumeRole as the role's account logs it: the caller is another account,
    // its key not shown. Alone it cannot say what the caller passed on.
    let role_account_copy = sts(
        "cross-b",
        "AssumeRole",
        json!({"type": "AWSAccount", "principalId": "AROAEXAMPLE:etl", "accountId": "999988887777"}),
        json!({"roleArn": role_arn, "roleSessionName": "x"}),
        "ASIACROSS",
    );
    // The same event as the caller's account logs it, with the caller's key.
    let caller_account_copy = sts(
        "cross-a",
        "AssumeRole",
        assumed("analytics", "etl", "ASIAPARENT"),
        json!({"roleArn": role_arn, "roleSessionName": "x"}),
        "ASIACROSS",
    );
    let only_role_copy = sts(
        "cross-only-b",
        "AssumeRole",
        json!({"type": "AWSAccount", "principalId": "AROAEXAMPLE:etl", "accountId": "999988887777"}),
        json!({"roleArn": role_arn, "roleSessionName": "y"}),
        "ASIACROSSONLY",
    );
    let saml = sts(
        "saml",
        "AssumeRoleWithSAML",
        json!({"type": "SAMLUser", "principalId": "x", "userName": "alice@example.com"}),
        json!({"roleArn": role_arn, "roleSessionName": "alice@example.com", "principalArn": format!("arn:aws:iam::{ACCOUNT}:saml-provider/Okta"),
               "principalTags": {"Team": "eu-analytics", "level": 3}}),
        "ASIASAML",
    );
    let web = sts(
        "web",
        "AssumeRoleWithWebIdentity",
        json!({"type": "WebIdentityUser", "principalId": "accounts.google.com:1", "userName": "1", "identityProvider": "accounts.google.com"}),
        json!({"roleArn": role_arn, "roleSessionName": "app"}),
        "ASIAWEB",
    );
    let federation = sts(
        "federation",
        "GetFederationToken",
        json!({"type": "IAMUser", "userName": "ops", "accessKeyId": "AKIAOPS", "arn": format!("arn:aws:iam::{ACCOUNT}:user/ops")}),
        json!({"name": "Bob", "tags": [{"key": "team", "value": "us-sales"}]}),
        "ASIAFED",
    );
    let session_token = sts(
        "session-token",
        "GetSessionToken",
        json!({"type": "IAMUser", "userName": "ops", "accessKeyId": "AKIAOPS"}),
        json!({"durationSeconds": 3600}),
        "ASIASESSION",
    );
    let hidden = sts(
        "hidden",
        "AssumeRole",
        json!({"type": "AWSService", "invokedBy": "ecs-tasks.amazonaws.com"}),
        json!({"roleArn": role_arn, "roleSessionName": "h", "tags": "HIDDEN_DUE_TO_SECURITY_REASONS"}),
        "ASIAHIDDEN",
    );
    let hidden_parameters = {
        let mut r = sts(
            "hidden-parameters",
            "AssumeRole",
            json!({"type": "AWSService", "invokedBy": "ecs-tasks.amazonaws.com"}),
            json!("HIDDEN_DUE_TO_SECURITY_REASONS"),
            "ASIAHIDDENPARAMS",
        );
        r["requestParameters"] = json!("HIDDEN_DUE_TO_SECURITY_REASONS");
        r
    };
    let odd_value = sts(
        "odd-value",
        "AssumeRole",
        json!({"type": "AWSService", "invokedBy": "ecs-tasks.amazonaws.com"}),
        json!({"roleArn": role_arn, "roleSessionName": "o", "tags": [{"key": "team", "value": {"x": 1}}]}),
        "ASIAODD",
    );
    // The parent passes `Team` on under the transitive key `team`: one key to IAM.
    let cased_parent = sts(
        "cased-parent",
        "AssumeRole",
        json!({"type": "AWSService", "invokedBy": "ecs-tasks.amazonaws.com"}),
        json!({"roleArn": role_arn, "roleSessionName": "p", "tags": [{"key": "Team", "value": "eu-analytics"}],
               "transitiveTagKeys": ["team"]}),
        "ASIACASEDPARENT",
    );
    let cased_child = sts(
        "cased-child",
        "AssumeRole",
        assumed("R", "p", "ASIACASEDPARENT"),
        json!({"roleArn": role_arn, "roleSessionName": "c"}),
        "ASIACASEDCHILD",
    );
    // The caller's copy in a file named after the role's copy: the order must not matter.
    write_log(
        dir.path(),
        "20250301T1001Z",
        &[parent, role_account_copy, only_role_copy],
    );
    write_log(
        dir.path(),
        "20250301T1002Z",
        &[
            caller_account_copy,
            saml,
            web,
            federation,
            session_token,
            hidden,
            hidden_parameters,
            odd_value,
            cased_parent,
            cased_child,
        ],
    );
    let t = "2025-03-01T10:30:00Z";
    let calls = [
        (
            "uses-cross",
            "ASIACROSS",
            Some(r#"{"team":"eu-analytics"}"#),
        ),
        ("uses-cross-only", "ASIACROSSONLY", None),
        (
            "uses-saml",
            "ASIASAML",
            Some(r#"{"Team":"eu-analytics","level":"3"}"#),
        ),
        ("uses-web", "ASIAWEB", Some("{}")),
        ("uses-federation", "ASIAFED", Some(r#"{"team":"us-sales"}"#)),
        ("uses-session-token", "ASIASESSION", Some("{}")),
        ("uses-hidden", "ASIAHIDDEN", None),
        ("uses-hidden-parameters", "ASIAHIDDENPARAMS", None),
        ("uses-odd-value", "ASIAODD", None),
        (
            "uses-cased-child",
            "ASIACASEDCHILD",
            Some(r#"{"Team":"eu-analytics"}"#),
        ),
    ];
    let records: Vec<Value> = calls
        .iter()
        .map(|(id, key, _)| call(id, t, assumed("R", id, key)))
        .collect();
    write_log(dir.path(), "20250301T1035Z", &records);
    let expected: BTreeMap<String, Option<String>> = calls
        .iter()
        .map(|(id, _, tags)| (id.to_string(), tags.map(str::to_owned)))
        .collect();
    for partitions in ["1", "3"] {
        assert_eq!(
            session_tags_by_call(dir.path(), partitions),
            expected,
            "{partitions}"
        );
    }
    // A warehouse reads the same sessions back from its rows.
    let warehouse = tempfile::tempdir().unwrap();
    let output = trailmap(&[
        "ingest",
        "-s",
        dir.path().to_str().unwrap(),
        "--into",
        warehouse.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(session_tags_by_call(warehouse.path(), "2"), expected);
    let tables: Vec<_> = [dir.path(), warehouse.path()]
        .iter()
        .map(|source| {
            query_json(source, &[], "SELECT access_key_id, session_tags, caller_access_key_id, log_file LIKE '%1002Z%' AS caller_copy FROM sessions ORDER BY access_key_id")
        })
        .collect();
    let cross = tables[0]
        .iter()
        .find(|r| r["access_key_id"] == "ASIACROSS")
        .unwrap();
    assert_eq!(cross["caller_access_key_id"], json!("ASIAPARENT"));
    assert_eq!(cross["caller_copy"], json!(true));
    assert_eq!(tables[0].len(), 12);
    assert_eq!(
        tables[0]
            .iter()
            .map(|r| (&r["access_key_id"], r.get("session_tags")))
            .collect::<Vec<_>>(),
        tables[1]
            .iter()
            .map(|r| (&r["access_key_id"], r.get("session_tags")))
            .collect::<Vec<_>>(),
    );
    // Keys match in any case; a call whose record names no key, or whose caller is an
    // Identity Center user, cannot be placed; an IAM user's call carries no session tag.
    let more = vec![
        call("no-key", t, {
            let mut id = assumed("R", "nokey", "ASIAX");
            id.as_object_mut().unwrap().remove("accessKeyId");
            id
        }),
        call(
            "identity-center",
            t,
            json!({"type": "IdentityCenterUser", "accountId": ACCOUNT,
            "onBehalfOf": {"userId": "u-1", "identityStoreArn": "arn:aws:identitystore::1:identitystore/d-1"}}),
        ),
        call(
            "iam-user",
            t,
            json!({"type": "IAMUser", "userName": "ci", "accessKeyId": "AKIACI"}),
        ),
    ];
    write_log(dir.path(), "20250301T1040Z", &more);
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nname = \"eu team in us\"\nsession_tags = { team = \"eu-*\" }\nallowed_regions = [\"us-*\"]\n",
    );
    let (code, report, stderr) = audit_run(dir.path(), &policy, ASSUME_ALL_RECORDED);
    assert_eq!(code, Some(1), "{stderr}");
    let findings = findings(&report);
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        findings,
        [
            pair("identity-center", "unverifiable"),
            pair("no-key", "unverifiable"),
            pair("uses-cased-child", "allowed_regions"),
            pair("uses-cross", "allowed_regions"),
            pair("uses-cross-only", "unverifiable"),
            pair("uses-hidden", "unverifiable"),
            pair("uses-hidden-parameters", "unverifiable"),
            pair("uses-odd-value", "unverifiable"),
            pair("uses-saml", "allowed_regions"),
        ]
    );
}
