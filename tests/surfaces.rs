//! Every inference surface, one hand-written record each in the shape AWS documents, classified
//! by trailmap and checked against the expected values written here and against the test
//! oracle's own reading (`WalkedRecord::surface`), not against trailmap's catalogue.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Value, json};

use crate::common::*;

/// `surface`, `is_invocation`, `served_region`, `served_outside_aws` of a row.
type Classified = (Option<String>, bool, Option<String>, Option<bool>);

/// One record: its event, and what trailmap must say of it.
struct Case {
    event_id: &'static str,
    source: &'static str,
    name: &'static str,
    request: Value,
    additional: Value,
    /// `surface`, `is_invocation`, `served_region`, `served_outside_aws`.
    expected: (
        Option<&'static str>,
        bool,
        Option<&'static str>,
        Option<bool>,
    ),
}

fn cases() -> Vec<Case> {
    let none = Value::Null;
    vec![
        Case {
            event_id: "runtime-plain",
            source: "bedrock.amazonaws.com",
            name: "InvokeModel",
            request: json!({"modelId": "anthropic.claude-3-haiku-20240307-v1:0"}),
            additional: none.clone(),
            expected: (Some("runtime"), true, Some("eu-west-1"), Some(false)),
        },
        Case {
            event_id: "runtime-eu-profile",
            source: "bedrock.amazonaws.com",
            name: "Converse",
            request: json!({"modelId": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"}),
            additional: json!({"inferenceRegion": "eu-central-1"}),
            expected: (Some("runtime"), true, Some("eu-central-1"), Some(false)),
        },
        Case {
            event_id: "runtime-global-unlogged",
            source: "bedrock.amazonaws.com",
            name: "ConverseStream",
            request: json!({"modelId": "global.anthropic.claude-haiku-4-5-20251001-v1:0"}),
            additional: none.clone(),
            expected: (Some("runtime"), true, None, Some(false)),
        },
        Case {
            event_id: "bidirectional",
            source: "bedrock.amazonaws.com",
            name: "InvokeModelWithBidirectionalStream",
            request: json!({"modelId": "amazon.nova-sonic-v1:0"}),
            additional: none.clone(),
            expected: (
                Some("bidirectional-stream"),
                true,
                Some("eu-west-1"),
                Some(false),
            ),
        },
        Case {
            event_id: "async",
            source: "bedrock.amazonaws.com",
            name: "StartAsyncInvoke",
            request: json!({"modelId": "amazon.nova-reel-v1:1"}),
            additional: none.clone(),
            expected: (Some("async"), true, Some("eu-west-1"), Some(false)),
        },
        Case {
            event_id: "batch-global",
            source: "bedrock.amazonaws.com",
            name: "CreateModelInvocationJob",
            request: json!({"jobName": "nightly", "modelId": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
                            "roleArn": "arn:aws:iam::111122223333:role/batch"}),
            additional: none.clone(),
            expected: (Some("batch"), true, None, Some(false)),
        },
        Case {
            event_id: "batch-plain",
            source: "bedrock.amazonaws.com",
            name: "CreateModelInvocationJob",
            request: json!({"jobName": "weekly", "modelId": "anthropic.claude-3-haiku-20240307-v1:0"}),
            additional: none.clone(),
            expected: (Some("batch"), true, Some("eu-west-1"), Some(false)),
        },
        Case {
            event_id: "mantle-chat",
            source: "bedrock-mantle.amazonaws.com",
            name: "CreateInference",
            request: json!({"model": "openai.gpt-oss-120b-1:0", "callWithBearerToken": true,
                            "bearerTokenType": "SHORT_TERM"}),
            additional: none.clone(),
            expected: (Some("mantle"), true, Some("eu-west-1"), Some(false)),
        },
        Case {
            event_id: "kb-rag",
            source: "bedrock.amazonaws.com",
            name: "RetrieveAndGenerate",
            request: json!({"input": {"text": "HIDDEN_DUE_TO_SECURITY_REASONS"},
                            "retrieveAndGenerateConfiguration": {"type": "KNOWLEDGE_BASE",
                              "knowledgeBaseConfiguration": {"knowledgeBaseId": "KB12345678",
                                "modelArn": "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"}}}),
            additional: none.clone(),
            expected: (Some("knowledge-base"), true, None, Some(false)),
        },
        Case {
            event_id: "kb-query",
            source: "bedrock.amazonaws.com",
            name: "GenerateQuery",
            request: json!({"queryGenerationInput": {"type": "TEXT", "text": "HIDDEN_DUE_TO_SECURITY_REASONS"}}),
            additional: none.clone(),
            expected: (Some("knowledge-base"), true, None, Some(false)),
        },
        Case {
            event_id: "agent",
            source: "bedrock.amazonaws.com",
            name: "InvokeAgent",
            request: json!({"agentId": "AGENT12345", "agentAliasId": "TSTALIASID", "sessionId": "s-1"}),
            additional: none.clone(),
            expected: (Some("agent"), true, None, Some(false)),
        },
        Case {
            event_id: "flow",
            source: "bedrock.amazonaws.com",
            name: "InvokeFlow",
            request: json!({"flowIdentifier": "FLOW123456", "flowAliasIdentifier": "ALIAS12345"}),
            additional: none.clone(),
            expected: (Some("flow"), true, None, Some(false)),
        },
        Case {
            event_id: "claude-platform",
            source: "aws-external-anthropic.amazonaws.com",
            name: "CreateInference",
            request: json!({"model": "claude-sonnet-4-6", "workspaceId": "wrkspc_01"}),
            additional: none.clone(),
            expected: (Some("claude-platform"), true, None, Some(true)),
        },
        Case {
            event_id: "claude-platform-claiming-a-region",
            source: "aws-external-anthropic.amazonaws.com",
            name: "CreateInference",
            request: json!({"model": "claude-opus-4-6", "workspaceId": "wrkspc_01"}),
            additional: json!({"inferenceRegion": "eu-west-1"}),
            expected: (Some("claude-platform"), true, None, Some(true)),
        },
        Case {
            event_id: "agent-claiming-a-region",
            source: "bedrock.amazonaws.com",
            name: "InvokeAgent",
            request: json!({"agentId": "AGENT12345", "agentAliasId": "TSTALIASID", "sessionId": "s-2"}),
            additional: json!({"inferenceRegion": "eu-west-1"}),
            expected: (Some("agent"), true, None, Some(false)),
        },
        Case {
            event_id: "inline-agent",
            source: "bedrock.amazonaws.com",
            name: "InvokeInlineAgent",
            request: json!({"foundationModel": "anthropic.claude-3-haiku-20240307-v1:0", "sessionId": "s-3"}),
            additional: none.clone(),
            expected: (Some("agent"), true, None, Some(false)),
        },
        Case {
            event_id: "control-plane",
            source: "bedrock.amazonaws.com",
            name: "GetFoundationModel",
            request: json!({"modelIdentifier": "anthropic.claude-3-haiku-20240307-v1:0"}),
            additional: none.clone(),
            expected: (None, false, None, None),
        },
        Case {
            event_id: "mantle-list",
            source: "bedrock-mantle.amazonaws.com",
            name: "ListModels",
            request: json!({"callWithBearerToken": false}),
            additional: none.clone(),
            expected: (None, false, None, None),
        },
        Case {
            event_id: "unknown-name",
            source: "bedrock.amazonaws.com",
            name: "CreateChatCompletion",
            request: json!({"modelId": "openai.gpt-oss-120b-1:0"}),
            additional: none,
            expected: (None, false, None, None),
        },
    ]
}

fn record(case: &Case, minute: usize) -> Value {
    let mut record = json!({
        "eventVersion": "1.11",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/s",
                         "accountId": "111122223333"},
        "eventTime": format!("2025-03-01T10:{minute:02}:00Z"),
        "eventSource": case.source,
        "eventName": case.name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "test",
        "requestParameters": case.request,
        "responseElements": null,
        "requestID": format!("req-{}", case.event_id),
        "eventID": case.event_id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "recipientAccountId": "111122223333",
    });
    if !case.additional.is_null() {
        record["additionalEventData"] = case.additional.clone();
    }
    record
}

/// The archive: every case in one log file.
fn archive() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Value> = cases()
        .iter()
        .enumerate()
        .map(|(i, c)| record(c, i))
        .collect();
    let text = serde_json::to_vec(&json!({ "Records": records })).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&text).unwrap();
    std::fs::write(dir.path().join("surfaces.json.gz"), gz.finish().unwrap()).unwrap();
    dir
}

#[test]
fn every_surface_is_classified_as_expected_and_as_the_oracle_reads_it() {
    let dir = archive();
    let rows = query_json(
        dir.path(),
        &[],
        "SELECT event_id, surface, is_invocation, served_region, served_outside_aws FROM events",
    );
    let found: BTreeMap<String, Classified> = rows
        .iter()
        .map(|row| {
            let text = |k: &str| row.get(k).and_then(Value::as_str).map(str::to_owned);
            (
                text("event_id").unwrap(),
                (
                    text("surface"),
                    row["is_invocation"].as_bool().unwrap(),
                    text("served_region"),
                    row.get("served_outside_aws").and_then(Value::as_bool),
                ),
            )
        })
        .collect();
    let walked: BTreeMap<String, WalkedRecord> = walk(dir.path())
        .into_iter()
        .map(|r| (r.str("/eventID").unwrap().to_owned(), r))
        .collect();
    assert_eq!(found.len(), cases().len());
    for case in cases() {
        let (surface, invocation, served, outside) = case.expected;
        let expected = (
            surface.map(str::to_owned),
            invocation,
            served.map(str::to_owned),
            outside,
        );
        assert_eq!(found[case.event_id], expected, "{}", case.event_id);
        let oracle = &walked[case.event_id];
        assert_eq!(oracle.surface(), surface, "oracle: {}", case.event_id);
        assert_eq!(oracle.served_region(), served, "oracle: {}", case.event_id);
    }
}

/// A residency rule over every model judges the calls no log places as unverifiable, saying
/// why, and never as compliant; a call to a platform outside AWS says so.
#[test]
fn calls_whose_surface_logs_no_region_are_unverifiable() {
    let dir = archive();
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nname = \"eu\"\nallowed_geographies = [\"EU\"]\n",
    );
    let (code, report, _) = audit_run(dir.path(), &policy, ASSUME_ALL_RECORDED);
    assert_eq!(code, Some(1));
    let unverifiable: BTreeMap<String, String> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["requirement"] == "unverifiable")
        .map(|v| {
            (
                v["event_id"].as_str().unwrap().to_owned(),
                v["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<&str> = cases()
        .iter()
        .filter(|c| c.expected.1 && c.expected.2.is_none())
        .map(|c| c.event_id)
        .collect();
    assert_eq!(
        unverifiable.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut sorted = expected.clone();
            sorted.sort_unstable();
            sorted
        }
    );
    assert!(unverifiable["claude-platform"].contains("operated outside AWS"));
    assert!(unverifiable["agent"].contains("logs no served Region"));
    assert_eq!(report["rules"][0]["invocations_in_scope"], 16);
}

/// A rule on profile scopes cannot judge a call whose surface is not routed by its model id:
/// no prefix there means nothing, so such a call is unverifiable, never "in-region".
#[test]
fn profile_scope_rules_do_not_judge_surfaces_routed_otherwise() {
    let dir = archive();
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nname = \"no-global\"\ndenied_profile_scopes = [\"global\"]\n",
    );
    let (code, report, _) = audit_run(dir.path(), &policy, ASSUME_ALL_RECORDED);
    assert_eq!(code, Some(1));
    let findings: BTreeMap<String, String> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["event_id"].as_str().unwrap().to_owned(),
                v["requirement"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("runtime-global-unlogged", "denied_profile_scopes"),
        ("batch-global", "denied_profile_scopes"),
        ("kb-rag", "unverifiable"),
        ("kb-query", "unverifiable"),
        ("agent", "unverifiable"),
        ("agent-claiming-a-region", "unverifiable"),
        ("inline-agent", "unverifiable"),
        ("flow", "unverifiable"),
        ("claude-platform", "unverifiable"),
        ("claude-platform-claiming-a-region", "unverifiable"),
    ]
    .into_iter()
    .map(|(id, requirement)| (id.to_owned(), requirement.to_owned()))
    .collect();
    assert_eq!(findings, expected);
}

/// A rule scoped to Claude models by Bedrock's names (`anthropic.claude-*`) cannot place a
/// Claude Platform call, whose model has no provider prefix (`claude-sonnet-4-6`): its scope is
/// unknown, so the call is unverifiable, never out of scope.
#[test]
fn a_models_scope_cannot_place_a_bare_model_name() {
    let dir = archive();
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nname = \"claude-in-eu\"\nmodels = [\"anthropic.claude-*\"]\nallowed_geographies = [\"EU\"]\n",
    );
    let (_, report, _) = audit_run(dir.path(), &policy, ASSUME_ALL_RECORDED);
    let claude_platform: Vec<&Value> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| {
            v["event_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("claude-platform"))
        })
        .collect();
    assert_eq!(claude_platform.len(), 2, "{report}");
    for finding in claude_platform {
        assert_eq!(finding["requirement"], "unverifiable");
        assert!(
            finding["reason"]
                .as_str()
                .unwrap()
                .contains("models (model unknown)"),
            "{finding}"
        );
    }
}
