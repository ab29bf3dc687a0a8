//! `trailmap audit` against planted violations, computed independently from the same files.

use std::path::Path;

use crate::common::*;
use serde_json::{Value, json};
use trailmap::generate::GeneratorConfig;

fn archive() -> tempfile::TempDir {
    generated(GeneratorConfig {
        events: 6_000,
        events_per_file: 120,
        seed: 11,
        ..GeneratorConfig::default()
    })
}

fn audit_json(source: &Path, policy: &str, extra: &[&str]) -> (Option<i32>, Value) {
    let (code, report, stderr) = audit_run(source, policy, extra);
    assert!(!report.is_null(), "no JSON report: {stderr}");
    (code, report)
}

/// The geography of the generator's Regions, by a second, deliberately simple reading.
fn geography(region: Option<&str>) -> Option<&'static str> {
    let region = region?;
    Some(match region.split('-').next()? {
        "us" => "US",
        "eu" => "EU",
        "ap" => "APAC",
        "sa" => "SA",
        "ca" => "CA",
        _ => return None,
    })
}

/// The routing scope of a call (`in-region` for a plain model), by a second reading: `None`
/// when the log does not say (no model id, or an application profile the archive does not
/// create).
fn routing(r: &WalkedRecord) -> Option<String> {
    // Knowledge bases, agents, flows and Claude Platform do not run where their model id says.
    if !matches!(
        r.surface(),
        Some("runtime" | "batch" | "mantle" | "async" | "bidirectional-stream")
    ) {
        return None;
    }
    let id = r.model_id()?;
    let routed = if id.contains(":application-inference-profile/") {
        r.profile_copies.as_deref()?
    } else {
        id
    };
    let last = routed.rsplit('/').next()?;
    let first = last.split('.').next()?;
    Some(
        ["global", "us", "eu", "apac", "jp", "au", "ca", "us-gov"]
            .iter()
            .find(|s| **s == first)
            .map_or("in-region".to_owned(), |s| (*s).to_owned()),
    )
}

/// Event ids of the findings of one rule and requirement kind in a report.
fn finding_ids(report: &Value, rule: &str, unverifiable: bool) -> Vec<String> {
    let mut ids: Vec<String> = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["rule"] == rule && (v["requirement"] == "unverifiable") == unverifiable)
        .map(|v| v["event_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted_ids<'a>(records: impl Iterator<Item = &'a WalkedRecord>) -> Vec<String> {
    let mut ids: Vec<String> = records
        .filter_map(|r| r.str("/eventID").map(str::to_owned))
        .collect();
    ids.sort();
    ids
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

    // The policy covers bedrock-runtime calls and batch jobs (`surfaces`).
    // Calls on the surfaces the policy leaves out are counted, per rule and surface.
    let mut left_out: std::collections::BTreeMap<String, u64> = Default::default();
    for r in walked.iter().filter(|r| {
        r.is_invocation()
            && !matches!(r.surface(), Some("runtime" | "batch"))
            && r.str("/awsRegion").is_some_and(|s| s.starts_with("eu-"))
    }) {
        *left_out
            .entry(r.surface().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    assert!(!left_out.is_empty());
    for rule in report["rules"].as_array().unwrap() {
        assert_eq!(
            rule["left_out_by_surfaces"],
            json!(left_out),
            "{}",
            rule["rule"]
        );
    }
    let eu_calls: Vec<&WalkedRecord> = walked
        .iter()
        .filter(|r| {
            r.is_invocation()
                && matches!(r.surface(), Some("runtime" | "batch"))
                && r.str("/awsRegion").is_some_and(|s| s.starts_with("eu-"))
        })
        .collect();
    let ok = || eu_calls.iter().copied().filter(|r| r.succeeded());
    // Rule 1: served in the EU. Unknown served Region: unverifiable, never compliant.
    let served_outside = sorted_ids(ok().filter(|r| {
        r.served_region()
            .is_some_and(|s| geography(Some(s)) != Some("EU"))
    }));
    let served_unknown = sorted_ids(ok().filter(|r| r.served_region().is_none()));
    assert!(!served_outside.is_empty() && !served_unknown.is_empty());
    assert_eq!(
        finding_ids(&report, "eu-requests-served-in-eu", false),
        served_outside
    );
    assert_eq!(
        finding_ids(&report, "eu-requests-served-in-eu", true),
        served_unknown
    );
    let first = rule(&report, "eu-requests-served-in-eu");
    assert_eq!(
        first["unverifiable"].as_u64(),
        Some(served_unknown.len() as u64)
    );
    assert_eq!(first["status"], "violations");
    assert_eq!(
        first["invocations_in_scope"].as_u64(),
        Some(ok().count() as u64)
    );
    assert_eq!(
        first["attempted"].as_u64(),
        Some(eu_calls.iter().filter(|r| !r.succeeded()).count() as u64)
    );

    // Rule 2: no non-EU profile scope, application profiles judged by what they copy.
    let denied = ["global", "us", "apac", "jp", "au", "ca", "us-gov"];
    let non_eu_profiles = sorted_ids(ok().filter(|r| {
        routing(r).is_some_and(|s| denied.contains(&s.as_str()))
            || r.profile_scope()
                .is_some_and(|s| denied.contains(&s.as_str()))
    }));
    let scope_unknown = sorted_ids(ok().filter(|r| {
        routing(r).is_none()
            && !r
                .profile_scope()
                .is_some_and(|s| denied.contains(&s.as_str()))
    }));
    assert!(
        !scope_unknown.is_empty(),
        "the generator plants unknown application profiles"
    );
    assert_eq!(
        finding_ids(&report, "eu-workloads-use-eu-profiles", false),
        non_eu_profiles
    );
    assert_eq!(
        finding_ids(&report, "eu-workloads-use-eu-profiles", true),
        scope_unknown
    );

    for v in report["violations"].as_array().unwrap() {
        let mut keys = vec![
            "rule",
            "requirement",
            "reason",
            "event_id",
            "event_time",
            "account_id",
            "aws_region",
            "model_id",
            "log_file",
        ];
        // An IAM Identity Center user's call has no principal ARN (sample-data has them).
        if v["rule"] == "eu-requests-served-in-eu" && v["requirement"] != "unverifiable" {
            keys.push("served_region");
        }
        for key in keys {
            assert!(
                v.get(key).is_some_and(|x| !x.is_null()),
                "finding has {key}: {v}"
            );
        }
    }
    let reason = report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["requirement"] == "unverifiable" && v["rule"] == "eu-requests-served-in-eu")
        .map(|v| v["reason"].as_str().unwrap().to_owned())
        .unwrap();
    assert!(reason.contains("inferenceRegion"), "{reason}");
    let coverage = &report["coverage"];
    assert_eq!(coverage["events"].as_u64(), Some(6_000));
    assert_eq!(
        coverage["invocations"].as_u64(),
        Some(walked.iter().filter(|r| r.is_invocation()).count() as u64)
    );
    assert_eq!(coverage["files_read"], coverage["files_listed"]);
    assert!(coverage["first_event"].is_string() && coverage["last_event"].is_string());
    assert_eq!(coverage["delivery_margin"], "2d 0h");
}

#[test]
fn failed_calls_are_attempts_unless_a_rule_asks() {
    let dir = archive();
    let walked = walk(dir.path());
    let text = "[[rule]]\nname = \"g\"\ndenied_profile_scopes = [\"global\"]\n\n[[rule]]\nname = \"g-all\"\ndenied_profile_scopes = [\"global\"]\ninclude_failed = true\n";
    let policy = policy_file(dir.path(), text);
    let (code, report) = audit_json(dir.path(), &policy, ASSUME_ALL_RECORDED);
    assert_eq!(code, Some(1));
    let calls: Vec<&WalkedRecord> = walked.iter().filter(|r| r.is_invocation()).collect();
    let global = |r: &&&WalkedRecord| routing(r).as_deref() == Some("global");
    let unknown = |r: &&&WalkedRecord| routing(r).is_none();
    let ok = || calls.iter().filter(|r| r.succeeded());
    assert_eq!(
        finding_ids(&report, "g", false),
        sorted_ids(ok().filter(global).copied())
    );
    assert_eq!(
        finding_ids(&report, "g", true),
        sorted_ids(ok().filter(unknown).copied())
    );
    // Every failed call is in scope (the rule has no scope keys): all are attempts.
    let all_failed = calls.iter().filter(|r| !r.succeeded()).count() as u64;
    assert_eq!(rule(&report, "g")["attempted"].as_u64(), Some(all_failed));
    assert_eq!(
        finding_ids(&report, "g-all", false),
        sorted_ids(calls.iter().filter(global).copied())
    );
    assert_eq!(
        finding_ids(&report, "g-all", true),
        sorted_ids(calls.iter().filter(unknown).copied())
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
    assert!(expected > 0, "the archive has calls the rule must find");
    assert_eq!(report["rules"][0]["violations"].as_u64(), Some(expected));
}

#[test]
fn compliant_input_exits_0_and_csv_lists_violations() {
    let dir = archive();
    // A rule every call provably keeps, and one with nothing in scope.
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nname = \"anything-goes\"\nviolation_when = \"aws_region = 'xx-none-1'\"\n\n[[rule]]\nname = \"nobody\"\naccounts = [\"000000000000\"]\nallowed_regions = [\"eu-*\"]\n",
    );
    let (code, report) = audit_json(dir.path(), &policy, ASSUME_ALL_RECORDED);
    assert_eq!(code, Some(0));
    assert_eq!(report["compliant"], true);
    assert_eq!(report["violations"].as_array().map(Vec::len), Some(0));
    assert_eq!(rule(&report, "anything-goes")["status"], "compliant");
    assert_eq!(rule(&report, "nobody")["status"], "nothing in scope");

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
    assert!(csv.starts_with("rule,requirement,reason,event_id,event_time,account_id,principal_arn,aws_region,served_region,model_id,log_file\n"));
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
        // One expression, never spliced into the audit's SQL: text that would close it and
        // add a column of its own is refused, as are aggregates.
        (
            "true) AS breach, (false",
            "violation_when is not a valid SQL expression",
        ),
        (
            "count(*) > 0",
            "aggregate and window functions are not allowed",
        ),
    ] {
        let policy = policy_file(
            dir.path(),
            &format!("[[rule]]\nname = \"sql-rule\"\nviolation_when = \"{sql}\"\n"),
        );
        let output = trailmap(&["audit", "-s", sample, "--policy", &policy]);
        let stderr = stderr_of_exit_2(&output);
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

/// SQL's three-valued AND.
fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// Whether the call's principal is one of the `app-*` roles (`None`: no principal in the log).
fn app_role(r: &WalkedRecord) -> Option<bool> {
    r.str("/userIdentity/arn")
        .map(|a| a.starts_with("arn:aws:sts::") && a.contains(":assumed-role/app-"))
}

/// The base model a call names, by a second reading: the last ARN segment without a profile
/// prefix; for an application profile, what it copies (`None` when the log does not say).
fn base_model(r: &WalkedRecord) -> Option<String> {
    let id = r.model_id()?;
    let named = if id.contains(":application-inference-profile/") {
        r.profile_copies.as_deref()?
    } else {
        id
    };
    let last = named.rsplit('/').next()?;
    let (first, rest) = last.split_once('.')?;
    let scoped = ["global", "us", "eu", "apac", "jp", "au", "ca", "us-gov"].contains(&first);
    Some(if scoped { rest } else { last }.to_owned())
}

/// The ids a rule must report as violations and as unverifiable, from its scope and breach
/// as three-valued answers per call (a call of unknown scope is unverifiable).
fn expected_findings<'a>(
    calls: impl Iterator<Item = &'a WalkedRecord>,
    scope: impl Fn(&WalkedRecord) -> Option<bool>,
    breach: impl Fn(&WalkedRecord) -> Option<bool>,
) -> (Vec<String>, Vec<String>) {
    let (mut violations, mut unverifiable) = (Vec::new(), Vec::new());
    for r in calls {
        let id = r.str("/eventID").unwrap_or_default().to_owned();
        match (scope(r), breach(r)) {
            (Some(false), _) | (Some(true), Some(false)) => {}
            (Some(true), Some(true)) => violations.push(id),
            _ => unverifiable.push(id),
        }
    }
    violations.sort();
    unverifiable.sort();
    (violations, unverifiable)
}

#[test]
fn principal_and_in_region_scopes_and_the_production_policy() {
    let dir = archive();
    let walked = walk(dir.path());
    let successful = || walked.iter().filter(|r| r.is_invocation() && r.succeeded());
    let in_region = |r: &WalkedRecord| routing(r).map(|s| s == "in-region");
    let outside = |prefix: &'static str| {
        move |r: &WalkedRecord| r.served_region().map(|s| !s.starts_with(prefix))
    };

    // principals + profile_scopes = ["in-region"].
    let policy = policy_file(
        dir.path(),
        "[[rule]]\nname = \"app-roles-in-region\"\nprincipals = [\"arn:aws:sts::*:assumed-role/app-*\"]\nprofile_scopes = [\"in-region\"]\nallowed_regions = [\"eu-*\"]\n",
    );
    let (_, report) = audit_json(dir.path(), &policy, &[]);
    let (violations, unverifiable) = expected_findings(
        successful(),
        |r| and3(app_role(r), in_region(r)),
        outside("eu-"),
    );
    assert!(!violations.is_empty() && !unverifiable.is_empty());
    assert_eq!(
        finding_ids(&report, "app-roles-in-region", false),
        violations
    );
    assert_eq!(
        finding_ids(&report, "app-roles-in-region", true),
        unverifiable
    );

    // The bundled production policy: accounts + principals, and models + violation_when with
    // failed calls included.
    let policy = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/queries/policies/production-accounts.toml"
    );
    let (_, report) = audit_json(dir.path(), policy, &[]);
    // Its rules cover bedrock-runtime calls and batch jobs.
    let runtime_or_batch = |r: &&WalkedRecord| matches!(r.surface(), Some("runtime" | "batch"));
    let (violations, unverifiable) = expected_findings(
        successful().filter(runtime_or_batch),
        |r| {
            let account = r.str("/recipientAccountId").map(|a| a == "777788889999");
            and3(account, app_role(r))
        },
        outside("us-"),
    );
    assert!(!violations.is_empty());
    assert_eq!(finding_ids(&report, "prod-us-only", false), violations);
    assert_eq!(finding_ids(&report, "prod-us-only", true), unverifiable);
    let (violations, unverifiable) = expected_findings(
        walked
            .iter()
            .filter(|r| r.is_invocation())
            .filter(runtime_or_batch),
        |r| {
            let by_id = r.model_id().map(|m| m.starts_with("anthropic.claude-"));
            let by_model = base_model(r).map(|m| m.starts_with("anthropic.claude-"));
            match (by_id, by_model) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            }
        },
        |r| {
            let apac = geography(r.served_region()).map(|g| g == "APAC");
            let outside_ap = r.str("/awsRegion").map(|a| !a.starts_with("ap-"));
            and3(apac, outside_ap)
        },
    );
    assert!(!violations.is_empty());
    assert_eq!(
        finding_ids(&report, "no-apac-serving-for-claude", false),
        violations
    );
    assert_eq!(
        finding_ids(&report, "no-apac-serving-for-claude", true),
        unverifiable
    );
}
