//! `trailmap audit` against planted violations, computed independently from the same files.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;
use trailmap::generate::GeneratorConfig;

fn archive() -> tempfile::TempDir {
    generated(GeneratorConfig {
        events: 6_000,
        events_per_file: 120,
        seed: 11,
        ..GeneratorConfig::default()
    })
}

fn policy_file(dir: &Path, text: &str) -> String {
    let path = dir.join(format!("policy-{}.toml", text.len()));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn audit_json(source: &Path, policy: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec![
        "audit",
        "-s",
        source.to_str().unwrap(),
        "--policy",
        policy,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let output = trailmap(&args);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON report ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), report)
}

fn geography(region: Option<&str>) -> Option<&'static str> {
    region.and_then(trailmap::regions::geography)
}

fn rule<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == name)
        .unwrap()
}

#[test]
fn eu_residency_finds_exactly_the_planted_violations() {
    let dir = archive();
    let walked = walk(dir.path());
    let policy = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/queries/policies/eu-residency.toml"
    );
    let (code, report) = audit_json(dir.path(), policy, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(report["compliant"], false);
    assert_eq!(report["complete"], true);

    let eu_calls: Vec<_> = walked
        .iter()
        .filter(|r| r.is_invocation() && r.str("/awsRegion").is_some_and(|s| s.starts_with("eu-")))
        .collect();
    let served_outside: Vec<&str> = eu_calls
        .iter()
        .filter(|r| r.succeeded() && geography(r.served_region()) != Some("EU"))
        .filter_map(|r| r.str("/eventID"))
        .collect();
    let non_eu_profiles = eu_calls
        .iter()
        .filter(|r| r.succeeded())
        .filter(|r| {
            matches!(
                r.profile_scope().as_deref(),
                Some("global" | "us" | "apac" | "jp" | "au" | "ca" | "us-gov")
            )
        })
        .count() as u64;
    assert!(
        !served_outside.is_empty(),
        "the generator plants EU calls served elsewhere"
    );

    let first = rule(&report, "eu-requests-served-in-eu");
    assert_eq!(
        first["violations"].as_u64(),
        Some(served_outside.len() as u64)
    );
    assert_eq!(
        first["invocations_in_scope"].as_u64(),
        Some(eu_calls.iter().filter(|r| r.succeeded()).count() as u64)
    );
    assert_eq!(
        first["attempted"].as_u64(),
        Some(eu_calls.iter().filter(|r| !r.succeeded()).count() as u64)
    );
    assert_eq!(
        rule(&report, "eu-workloads-use-eu-profiles")["violations"].as_u64(),
        Some(non_eu_profiles)
    );

    let mut found: Vec<&str> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["rule"] == "eu-requests-served-in-eu")
        .map(|v| v["event_id"].as_str().unwrap())
        .collect();
    found.sort();
    let mut expected = served_outside.clone();
    expected.sort();
    assert_eq!(found, expected);
    for v in report["violations"].as_array().unwrap() {
        for key in [
            "rule",
            "event_id",
            "event_time",
            "account_id",
            "principal_arn",
            "aws_region",
            "served_region",
            "model_id",
            "log_file",
        ] {
            assert!(
                v.get(key).is_some_and(|x| !x.is_null()),
                "violation has {key}: {v}"
            );
        }
    }
    let coverage = &report["coverage"];
    assert_eq!(coverage["events"].as_u64(), Some(6_000));
    assert_eq!(
        coverage["invocations"].as_u64(),
        Some(walked.iter().filter(|r| r.is_invocation()).count() as u64)
    );
    assert_eq!(coverage["files_read"], coverage["files_listed"]);
    assert!(coverage["first_event"].is_string() && coverage["last_event"].is_string());
}

#[test]
fn failed_calls_are_attempts_unless_a_rule_asks() {
    let dir = archive();
    let walked = walk(dir.path());
    let all_global = walked
        .iter()
        .filter(|r| r.is_invocation() && r.profile_scope().as_deref() == Some("global"));
    let (ok, failed): (Vec<_>, Vec<_>) = all_global.partition(|r| r.succeeded());
    let text = "[[rule]]\nname = \"g\"\ndenied_profile_scopes = [\"global\"]\n\n[[rule]]\nname = \"g-all\"\ndenied_profile_scopes = [\"global\"]\ninclude_failed = true\n";
    let policy = policy_file(dir.path(), text);
    let (code, report) = audit_json(dir.path(), &policy, &[]);
    assert_eq!(code, Some(1));
    assert_eq!(
        rule(&report, "g")["violations"].as_u64(),
        Some(ok.len() as u64)
    );
    // Every failed call is in scope (the rule has no scope keys): all are attempts.
    let all_failed = walked
        .iter()
        .filter(|r| r.is_invocation() && !r.succeeded())
        .count() as u64;
    assert_eq!(rule(&report, "g")["attempted"].as_u64(), Some(all_failed));
    assert_eq!(
        rule(&report, "g-all")["violations"].as_u64(),
        Some((ok.len() + failed.len()) as u64)
    );
}

#[test]
fn violation_when_and_scope_globs() {
    let dir = archive();
    let walked = walk(dir.path());
    let text = r#"
[[rule]]
name = "sonnet-from-us-east-1-served-in-us-east-2"
source_regions = ["us-east-?"]
accounts = ["1111*"]
models = ["*sonnet*"]
violation_when = "served_region = 'us-east-2'"
"#;
    let policy = policy_file(dir.path(), text);
    let (_, report) = audit_json(dir.path(), &policy, &[]);
    let expected = walked
        .iter()
        .filter(|r| r.is_invocation() && r.succeeded())
        .filter(|r| {
            r.str("/awsRegion")
                .is_some_and(|s| s.starts_with("us-east-"))
        })
        .filter(|r| {
            r.str("/recipientAccountId")
                .is_some_and(|a| a.starts_with("1111"))
        })
        .filter(|r| {
            r.str("/requestParameters/modelId")
                .is_some_and(|m| m.contains("sonnet"))
        })
        .filter(|r| r.served_region() == Some("us-east-2"))
        .count() as u64;
    assert_eq!(report["rules"][0]["violations"].as_u64(), Some(expected));
}

#[test]
fn compliant_input_exits_0_and_csv_lists_violations() {
    let dir = archive();
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nname = \"anything-goes\"\nallowed_regions = [\"*\"]\n",
    );
    let (code, report) = audit_json(dir.path(), &policy, &[]);
    assert_eq!(code, Some(0));
    assert_eq!(report["compliant"], true);
    assert_eq!(report["violations"].as_array().map(Vec::len), Some(0));

    let eu = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/queries/policies/no-global-profiles.toml"
    );
    let (_, report) = audit_json(dir.path(), eu, &[]);
    let output = trailmap(&[
        "audit",
        "-s",
        dir.path().to_str().unwrap(),
        "--policy",
        eu,
        "--format",
        "csv",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let csv = String::from_utf8(output.stdout).unwrap();
    assert!(csv.starts_with("rule,requirement,event_id,event_time,account_id,principal_arn,aws_region,served_region,model_id,log_file\n"));
    assert_eq!(
        csv.lines().count() - 1,
        report["violations"].as_array().unwrap().len()
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("NOT COMPLIANT"));

    let table = trailmap(&["audit", "-s", dir.path().to_str().unwrap(), "--policy", eu]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("Rules:")
            && text.contains("Coverage:")
            && text.contains("Result: NOT COMPLIANT")
    );
}

#[test]
fn a_corrupt_file_makes_the_audit_incomplete_even_without_violations() {
    let dir = archive();
    let bad = dir.path().join("AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/02/111122223333_CloudTrail_eu-west-1_20250302T1200Z_bad.json.gz");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, b"\x1f\x8b\x08\x00truncated").unwrap();
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nname = \"anything-goes\"\nallowed_regions = [\"*\"]\n",
    );
    let (code, report) = audit_json(dir.path(), &policy, &[]);
    assert_eq!(code, Some(2));
    assert_eq!(report["compliant"], false);
    assert_eq!(report["complete"], false);
    let errors = report["coverage"]["load_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["log_file"], bad.display().to_string());
    assert_eq!(errors[0]["stage"], "gunzip");
    let table = trailmap(&[
        "audit",
        "-s",
        dir.path().to_str().unwrap(),
        "--policy",
        &policy,
    ]);
    assert_eq!(table.status.code(), Some(2));
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("INCOMPLETE") && text.contains("not read:"),
        "{text}"
    );
}

#[test]
fn malformed_policies_are_rejected_before_reading_data() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[[rule]]\nname = \"a\"\nallowed_region = [\"eu-*\"]\n",
            "unknown field `allowed_region`",
        ),
        (
            "[[rule]]\nname = \"a\"\nsource_regions = [\"eu-*\"]\n",
            "policy rule \"a\": no requirement",
        ),
        (
            "[[rule]]\nname = \"a\"\nallowed_regions = [\"eu-[\"]\n",
            "invalid glob",
        ),
        (
            "[[rule]]\nname = \"a\"\nallowed_geographies = [\"Europe\"]\n",
            "unknown geography \"Europe\"",
        ),
        ("[[rule]\nname = \"a\"\n", "invalid policy"),
    ];
    for (text, needle) in cases {
        let policy = policy_file(dir.path(), text);
        // The source does not exist: the policy error must come first.
        let output = trailmap(&["audit", "-s", "/no/such/archive", "--policy", &policy]);
        assert_eq!(output.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{text}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data");
    for (sql, needle) in [
        (
            "served_region = ",
            "violation_when is not a valid SQL expression",
        ),
        (
            "no_such_column = 1",
            "violation_when is not a valid SQL expression",
        ),
        ("served_region", "must be a boolean expression"),
    ] {
        let policy = policy_file(
            dir.path(),
            &format!("[[rule]]\nname = \"sql-rule\"\nviolation_when = \"{sql}\"\n"),
        );
        let output = trailmap(&["audit", "-s", sample, "--policy", &policy]);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("policy rule \"sql-rule\"") && stderr.contains(needle),
            "{stderr}"
        );
    }
    let output = trailmap(&["audit", "-s", sample, "--policy", "/no/such/policy.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot read policy /no/such/policy.toml")
    );
}
