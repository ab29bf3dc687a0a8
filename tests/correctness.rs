//! trailmap's answers against an independent reading of the same files.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::*;
use trailmap::generate::GeneratorConfig;

fn sample() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample-data")
        .leak()
}

fn big_config() -> GeneratorConfig {
    GeneratorConfig {
        events: 12_000,
        events_per_file: 150,
        seed: 7,
        days: 10,
        ..GeneratorConfig::default()
    }
}

#[test]
fn served_region_distribution_matches_on_sample_data() {
    let rows = query_json(
        sample(),
        &[],
        "SELECT served_region, count(*) AS n FROM invocations GROUP BY served_region",
    );
    let walked = walk(sample());
    let expected = tally(walked.iter().filter(|r| r.is_invocation()), |r| {
        r.served_region().map(str::to_owned)
    });
    assert_eq!(counts(&rows, "served_region", "n"), expected);
    assert!(
        expected.len() > 5,
        "sample data should spread over many Regions"
    );
}

#[test]
fn files_of_many_batches_give_the_answers_of_one_batch_per_file() {
    // 2,000 records per file and 64 rows per batch: every file is decoded into 32 batches.
    let dir = generated(GeneratorConfig {
        events: 6_000,
        events_per_file: 2_000,
        seed: 11,
        ..GeneratorConfig::default()
    });
    let walked = walk(dir.path());
    let small_batches = [("DATAFUSION_EXECUTION_BATCH_SIZE", "64")];
    let routes = "SELECT coalesce(model_id, '-') || ' ' || coalesce(aws_region, '-') || ' > ' || coalesce(served_region, '-') AS k, count(*) AS n FROM invocations GROUP BY 1 ORDER BY 1";
    let batched = query_json_with_env(dir.path(), &[], routes, &small_batches);
    assert_eq!(batched, query_json(dir.path(), &[], routes));
    let expected = tally(walked.iter().filter(|r| r.is_invocation()), |r| {
        Some(format!(
            "{} {} > {}",
            r.model_id().unwrap_or("-"),
            r.str("/awsRegion").unwrap_or("-"),
            r.served_region().unwrap_or("-")
        ))
    });
    assert_eq!(counts(&batched, "k", "n"), expected);
    let everything = query_json_with_env(
        dir.path(),
        &[],
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events",
        &small_batches,
    );
    assert_eq!(everything[0]["n"].as_u64(), Some(6_000));
    assert_eq!(everything[0]["ids"].as_u64(), Some(6_000));
}

#[test]
fn every_record_is_read_once_on_a_generated_archive() {
    let dir = generated(big_config());
    let walked = walk(dir.path());
    assert_eq!(walked.len(), 12_000);
    let rows = query_json(
        dir.path(),
        &[],
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, count(DISTINCT log_file) AS files FROM events",
    );
    assert_eq!(rows[0]["n"].as_u64(), Some(12_000));
    assert_eq!(rows[0]["ids"].as_u64(), Some(12_000));
    assert_eq!(rows[0]["files"].as_u64(), Some(80));

    let by_source = query_json(
        dir.path(),
        &[],
        "SELECT event_source, count(*) AS n FROM events GROUP BY event_source",
    );
    let expected = tally(walked.iter(), |r| r.str("/eventSource").map(str::to_owned));
    assert_eq!(counts(&by_source, "event_source", "n"), expected);

    let by_account = query_json(
        dir.path(),
        &[],
        "SELECT log_account || '/' || log_region AS k, count(*) AS n FROM events GROUP BY 1",
    );
    let expected = tally(walked.iter(), |r| {
        Some(format!(
            "{}/{}",
            r.str("/recipientAccountId")?,
            r.str("/awsRegion")?
        ))
    });
    assert_eq!(counts(&by_account, "k", "n"), expected);
}

#[test]
fn bedrock_columns_match_on_a_generated_archive() {
    let dir = generated(big_config());
    let walked = walk(dir.path());
    let invocations: Vec<_> = walked.iter().filter(|r| r.is_invocation()).collect();

    let scopes = query_json(
        dir.path(),
        &[],
        "SELECT profile_scope, count(*) AS n FROM invocations GROUP BY 1",
    );
    assert_eq!(
        counts(&scopes, "profile_scope", "n"),
        tally(invocations.iter().copied(), |r| r.profile_scope())
    );
    for scope in [
        "global",
        "us",
        "eu",
        "apac",
        "jp",
        "au",
        "application",
        "<null>",
    ] {
        assert!(
            counts(&scopes, "profile_scope", "n").contains_key(scope),
            "no {scope} invocations generated"
        );
    }

    let routes = query_json(
        dir.path(),
        &[],
        "SELECT aws_region || '>' || served_region AS route, count(*) AS n FROM invocations WHERE error_code IS NULL GROUP BY 1",
    );
    let expected = tally(invocations.iter().copied().filter(|r| r.succeeded()), |r| {
        Some(format!("{}>{}", r.str("/awsRegion")?, r.served_region()?))
    });
    assert_eq!(counts(&routes, "route", "n"), expected);

    let errors = query_json(dir.path(), &[], "errors");
    let total_errors: u64 = errors
        .iter()
        .map(|r| r["invocations"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        total_errors,
        invocations.iter().filter(|r| !r.succeeded()).count() as u64
    );

    let principals = query_json(
        dir.path(),
        &[],
        "SELECT principal_arn, count(*) AS n FROM invocations GROUP BY 1",
    );
    assert_eq!(
        counts(&principals, "principal_arn", "n"),
        tally(invocations.iter().copied(), |r| r
            .str("/userIdentity/arn")
            .map(str::to_owned))
    );
}

#[test]
fn cross_geography_counts_match() {
    let dir = generated(big_config());
    let walked = walk(dir.path());
    let rows = query_json(dir.path(), &[], "cross-geography");
    let total: u64 = rows
        .iter()
        .map(|r| r["invocations"].as_u64().unwrap_or(0))
        .sum();
    let geo = |region: &str| trailmap::regions::geography(region).map(str::to_owned);
    let expected = walked
        .iter()
        .filter(|r| r.is_invocation() && r.succeeded())
        .filter(|r| {
            // Only calls proven to run elsewhere: an unknown served Region is not counted.
            r.served_region()
                .is_some_and(|served| geo(r.str("/awsRegion").unwrap_or("")) != geo(served))
        })
        .count() as u64;
    assert_eq!(total, expected);
    assert!(expected > 0, "the generator plants cross-geography calls");
}

fn micros(time: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(time)
        .map(|t| t.timestamp_micros())
        .unwrap_or(i64::MIN)
}

#[test]
fn command_line_filters_cut_exactly_and_prune_files() {
    let dir = generated(big_config());
    let walked = walk(dir.path());
    let (from, to) = ("2025-03-03T06:30:00Z", "2025-03-04");
    let (lo, hi) = (micros(from), micros("2025-03-05T00:00:00Z"));
    let filters = [
        "--from",
        from,
        "--to",
        to,
        "--account",
        "111122223333",
        "--source-region",
        "eu-west-1",
        "--source-region",
        "us-east-1",
    ];
    let rows = query_json(dir.path(), &filters, "SELECT count(*) AS n FROM events");
    let expected = walked
        .iter()
        .filter(|r| {
            let t = micros(r.str("/eventTime").unwrap_or(""));
            t >= lo
                && t < hi
                && r.str("/recipientAccountId") == Some("111122223333")
                && matches!(r.str("/awsRegion"), Some("eu-west-1" | "us-east-1"))
        })
        .count() as u64;
    assert!(expected > 0);
    assert_eq!(rows[0]["n"].as_u64(), Some(expected));

    let plan = query_json(dir.path(), &filters, "EXPLAIN SELECT count(*) FROM events");
    let text: String = plan
        .iter()
        .map(|r| r["plan"].as_str().unwrap_or("").to_owned())
        .collect();
    let listed = text
        .split("files=")
        .nth(1)
        .and_then(|s| s.split(" of ").nth(1))
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("EXPLAIN names the listed files");
    assert!(
        listed < 10,
        "only the files of those days, account and Regions are listed: {listed}"
    );
}

#[test]
fn sql_filters_on_key_columns_prune_and_stay_exact() {
    let dir = generated(big_config());
    let walked = walk(dir.path());
    let sql = "SELECT count(*) AS n FROM events WHERE log_date = DATE '2025-03-02' AND log_account IN ('444455556666', '777788889999')";
    let rows = query_json(dir.path(), &[], sql);
    let in_scope = |r: &&WalkedRecord| {
        let path = r.path.to_string_lossy();
        path.contains("/2025/03/02/")
            && (path.contains("/444455556666/") || path.contains("/777788889999/"))
    };
    let expected = walked.iter().filter(in_scope).count() as u64;
    assert!(expected > 0);
    assert_eq!(rows[0]["n"].as_u64(), Some(expected));

    let plan = query_json(dir.path(), &[], &format!("EXPLAIN {sql}"));
    let text: String = plan
        .iter()
        .map(|r| r["plan"].as_str().unwrap_or("").to_owned())
        .collect();
    // The statement's key filters prune the listing itself (local and S3 alike): only the
    // files of that day and those accounts are listed, one per account and Region.
    let files_in_plan = regex::Regex::new(r"files=(\d+) of (\d+) listed")
        .unwrap()
        .captures(&text)
        .map(|c| {
            (
                c[1].parse::<usize>().unwrap(),
                c[2].parse::<usize>().unwrap(),
            )
        });
    let expected_files = walked
        .iter()
        .filter(in_scope)
        .map(|r| r.path.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(
        files_in_plan,
        Some((expected_files, expected_files)),
        "SQL filters prune files: {text}"
    );

    // A time range in SQL prunes by delivery time and cuts exactly on event_time.
    let sql = "SELECT count(*) AS n FROM events WHERE event_time >= TIMESTAMP '2025-03-05T00:00:00Z' AND event_time < TIMESTAMP '2025-03-06T00:00:00Z'";
    let (lo, hi) = (
        micros("2025-03-05T00:00:00Z"),
        micros("2025-03-06T00:00:00Z"),
    );
    let expected = walked
        .iter()
        .filter(|r| (lo..hi).contains(&micros(r.str("/eventTime").unwrap_or(""))))
        .count() as u64;
    assert_eq!(
        query_json(dir.path(), &[], sql)[0]["n"].as_u64(),
        Some(expected)
    );
    let plan = query_json(dir.path(), &[], &format!("EXPLAIN {sql}"));
    let text: String = plan
        .iter()
        .map(|r| r["plan"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        !text.contains("files=81 "),
        "time filters prune files: {text}"
    );
}

#[test]
fn several_sources_files_and_the_environment_variable() {
    let root = sample();
    let walked = walk(root);
    let org = root.join("AWSLogs/o-a1b2c3d4e5");
    let account = root.join("AWSLogs/777788889999");
    let both = [org.to_str().unwrap(), account.to_str().unwrap()];
    let text = stdout_ok(&trailmap(&[
        "query",
        "-s",
        both[0],
        "-s",
        both[1],
        "--format",
        "csv",
        "SELECT count(*) AS n FROM events",
    ]));
    assert_eq!(text, format!("n\n{}\n", walked.len()));

    let joined = both.join(",");
    let text = stdout_ok(&trailmap_with_env(
        &[
            "query",
            "--format",
            "csv",
            "SELECT count(*) AS n FROM events",
        ],
        &[("TRAILMAP_SOURCE", &joined)],
    ));
    assert_eq!(text, format!("n\n{}\n", walked.len()));

    let one_file = walked
        .iter()
        .find(|r| r.path.to_string_lossy().contains("777788889999"))
        .unwrap()
        .path
        .clone();
    let in_file = walked.iter().filter(|r| r.path == one_file).count();
    let text = stdout_ok(&trailmap(&[
        "query",
        "-s",
        one_file.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT count(*) AS n, min(log_account) AS a FROM events",
    ]));
    assert_eq!(text, format!("n,a\n{in_file},777788889999\n"));

    // The same source twice is read once.
    let text = stdout_ok(&trailmap(&[
        "query",
        "-s",
        both[1],
        "-s",
        both[1],
        "--format",
        "csv",
        "SELECT count(*) AS n FROM events",
    ]));
    let in_account = walked
        .iter()
        .filter(|r| r.path.starts_with(&account))
        .count();
    assert_eq!(text, format!("n\n{in_account}\n"));

    // The same files under other names: a path with `./` and `..`, a symlinked copy of the
    // directory, a hard link and a symlink to one file. Each file is read once.
    let links = tempfile::tempdir().unwrap();
    let linked_dir = links.path().join("linked-account");
    std::os::unix::fs::symlink(&account, &linked_dir).unwrap();
    std::fs::hard_link(&one_file, links.path().join("hard.json.gz")).unwrap();
    std::os::unix::fs::symlink(&one_file, links.path().join("soft.json.gz")).unwrap();
    let dotted = format!(
        "{}/./../{}/AWSLogs/./777788889999",
        root.display(),
        root.file_name().unwrap().to_str().unwrap()
    );
    let text = stdout_ok(&trailmap(&[
        "query",
        "-s",
        both[1],
        "-s",
        &dotted,
        "-s",
        linked_dir.to_str().unwrap(),
        "-s",
        links.path().to_str().unwrap(),
        "--format",
        "csv",
        "SELECT count(*) AS n, count(DISTINCT log_file) AS files FROM events",
    ]));
    let files_in_account = walked
        .iter()
        .filter(|r| r.path.starts_with(&account))
        .map(|r| r.path.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(text, format!("n,files\n{in_account},{files_in_account}\n"));
}

#[test]
fn named_queries_all_run_on_sample_data() {
    let list = stdout_ok(&trailmap(&["queries"]));
    let names: Vec<&str> = list
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for required in [
        "served-regions",
        "routes",
        "cross-geography",
        "by-model",
        "by-profile-scope",
        "global-profile-principals",
        "daily",
        "errors",
        "top-principals",
    ] {
        assert!(names.contains(&required), "missing named query {required}");
    }
    let mut totals = BTreeMap::new();
    for name in &names {
        let rows = query_json(sample(), &[], name);
        // The sample's principals call a few times an hour: no burst (tests/attribution.rs
        // plants one).
        if *name == "bursts" {
            assert!(rows.is_empty(), "{rows:?}");
            continue;
        }
        assert!(!rows.is_empty(), "{name} returned no rows on sample data");
        totals.insert(*name, rows.len());
    }
    let walked = walk(sample());
    let served: u64 = query_json(sample(), &[], "served-regions")
        .iter()
        .map(|r| r["invocations"].as_u64().unwrap_or(0))
        .sum();
    let daily: u64 = query_json(sample(), &[], "daily")
        .iter()
        .map(|r| r["invocations"].as_u64().unwrap_or(0))
        .sum();
    let expected = walked
        .iter()
        .filter(|r| r.is_invocation() && r.succeeded())
        .count() as u64;
    assert_eq!(served, expected);
    assert_eq!(daily, expected);
}

/// `sql` (a `count(*) AS n`) counts `expected` rows over `source`, and its plan shows the
/// decoder evaluating `decoder_filter` with no `FilterExec` left to DataFusion.
fn assert_decoder_evaluates(source: &Path, sql: &str, expected: u64, decoder_filter: &str) {
    assert!(expected > 0, "the case selects something");
    assert_eq!(
        query_json(source, &[], sql)[0]["n"].as_u64(),
        Some(expected)
    );
    let plan: String = query_json(source, &[], &format!("EXPLAIN {sql}"))
        .iter()
        .map(|r| r["plan"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        plan.contains(&format!("decoder_filter=[{decoder_filter}]")),
        "{plan}"
    );
    assert!(!plan.contains("FilterExec"), "{plan}");
}

#[test]
fn filters_the_decoder_evaluates_give_the_walks_counts() {
    let dir = generated(big_config());
    let walked = walk(dir.path());
    let sql = "SELECT count(*) AS n FROM events WHERE event_source = 'bedrock.amazonaws.com' \
               AND event_name IN ('InvokeModel', 'Converse', 'CreateInferenceProfile') \
               AND (aws_region = 'eu-west-1' OR aws_region = 'us-east-1') AND account_id = '111122223333'";
    let expected = walked
        .iter()
        .filter(|r| {
            r.str("/eventSource") == Some("bedrock.amazonaws.com")
                && ["InvokeModel", "Converse", "CreateInferenceProfile"]
                    .iter()
                    .any(|n| r.str("/eventName") == Some(n))
                && ["eu-west-1", "us-east-1"]
                    .iter()
                    .any(|g| r.str("/awsRegion") == Some(g))
                && r.str("/recipientAccountId") == Some("111122223333")
        })
        .count() as u64;
    // The decoder evaluates all of it (DataFusion does not filter again).
    assert_decoder_evaluates(
        dir.path(),
        sql,
        expected,
        "event_source IN (bedrock.amazonaws.com) AND event_name IN (Converse, CreateInferenceProfile, InvokeModel) AND aws_region IN (eu-west-1, us-east-1) AND account_id IN (111122223333)",
    );
    // Invocations: the view's is_invocation is evaluated by the decoder too.
    let invocations = walked.iter().filter(|r| r.is_invocation()).count() as u64;
    let rows = query_json(dir.path(), &[], "SELECT count(*) AS n FROM invocations");
    assert_eq!(rows[0]["n"].as_u64(), Some(invocations));
    // A time range: bounds on event_time are the decoder's too, records without a time fail it.
    let sql = "SELECT count(*) AS n FROM events \
               WHERE event_time >= '2025-03-03T06:00:00Z' AND event_time < '2025-03-05'";
    let (from, to) = (
        chrono::DateTime::parse_from_rfc3339("2025-03-03T06:00:00Z").unwrap(),
        chrono::DateTime::parse_from_rfc3339("2025-03-05T00:00:00Z").unwrap(),
    );
    let expected = walked
        .iter()
        .filter_map(|r| chrono::DateTime::parse_from_rfc3339(r.str("/eventTime")?).ok())
        .filter(|t| *t >= from && *t < to)
        .count() as u64;
    assert_decoder_evaluates(
        dir.path(),
        sql,
        expected,
        "event_time >= 2025-03-03T06:00:00+00:00 AND event_time < 2025-03-05T00:00:00+00:00",
    );
}

#[test]
fn log_date_filters_are_decided_per_file_and_leave_files_outside_the_layout_alone() {
    let dir = generated(big_config());
    // A log file under a name outside the CloudTrail layout: its log_date is NULL, so pruning
    // by key cannot leave it out; only the per-file decision does.
    let layout_file = walk(dir.path())
        .iter()
        .map(|r| r.path.clone())
        .find(|p| p.to_string_lossy().contains("/2025/03/02/"))
        .unwrap();
    std::fs::create_dir_all(dir.path().join("loose")).unwrap();
    std::fs::copy(&layout_file, dir.path().join("loose/copied.json.gz")).unwrap();
    let walked = walk(dir.path());
    let count = |keep: &dyn Fn(&str) -> bool| {
        walked
            .iter()
            .filter(|r| keep(&r.path.to_string_lossy()))
            .count() as u64
    };
    let loose = |path: &str| path.contains("/loose/");
    assert!(count(&loose) > 0);
    assert_decoder_evaluates(
        dir.path(),
        "SELECT count(*) AS n FROM events WHERE log_date = DATE '2025-03-02'",
        count(&|p| p.contains("/2025/03/02/")),
        "log_date IN (2025-03-02)",
    );
    assert_decoder_evaluates(
        dir.path(),
        "SELECT count(*) AS n FROM events WHERE log_date IN (DATE '2025-03-02', DATE '2025-03-04') \
         OR log_date = DATE '2025-03-06'",
        count(&|p| {
            ["/2025/03/02/", "/2025/03/04/", "/2025/03/06/"]
                .iter()
                .any(|d| p.contains(d))
        }),
        "log_date IN (2025-03-02, 2025-03-04, 2025-03-06)",
    );
    assert_decoder_evaluates(
        dir.path(),
        "SELECT count(*) AS n FROM events WHERE log_date IS NULL",
        count(&loose),
        "log_date IS NULL",
    );
}
