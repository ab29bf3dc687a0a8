//! The command line as a user meets it: formats, listings, and one-line errors.

use std::path::Path;

use crate::common::*;
use trailmap::generate::{GeneratorConfig, generate};

fn sample() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/sample-data")
}

const SQL: &str = "SELECT coalesce(served_region, 'unknown') AS served_region, count(*) AS n FROM invocations GROUP BY 1 ORDER BY 2 DESC, 1";

#[test]
fn table_output_is_readable() {
    let text = stdout_ok(&trailmap(&["query", "-s", sample(), SQL]));
    assert!(text.starts_with("+--"), "{text}");
    assert!(text.contains("| served_region "));
    // An empty result still shows its header.
    let text = stdout_ok(&trailmap(&[
        "query",
        "-s",
        sample(),
        "SELECT event_id FROM events WHERE false",
    ]));
    assert!(text.contains("event_id"), "{text}");
    // A large result shows its first 1,000 rows and says where the rest is.
    let text = stdout_ok(&trailmap(&[
        "query",
        "-s",
        sample(),
        "SELECT event_id FROM events ORDER BY event_id",
    ]));
    let data_rows = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.contains("event_id"))
        .count();
    assert_eq!(data_rows, 1_000);
    assert!(
        text.trim_end()
            .ends_with("1000 of 3000 rows shown; --format csv, ndjson or parquet writes them all"),
        "{text}"
    );
}

#[test]
fn csv_json_ndjson_and_parquet_agree() {
    let csv = stdout_ok(&trailmap(&[
        "query",
        "-s",
        sample(),
        "--format",
        "csv",
        SQL,
    ]));
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("served_region,n"));
    let csv_rows: Vec<(String, u64)> = lines
        .map(|l| {
            let (region, n) = l.split_once(',').unwrap();
            (region.to_owned(), n.parse().unwrap())
        })
        .collect();

    let json = query_json(Path::new(sample()), &[], SQL);
    let json_rows: Vec<(String, u64)> = json
        .iter()
        .map(|r| {
            (
                r["served_region"].as_str().unwrap().to_owned(),
                r["n"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(csv_rows, json_rows);

    let ndjson = stdout_ok(&trailmap(&[
        "query",
        "-s",
        sample(),
        "--format",
        "ndjson",
        SQL,
    ]));
    let nd_rows: Vec<(String, u64)> = ndjson
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["served_region"].as_str().unwrap().to_owned(),
                v["n"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(nd_rows, json_rows);

    let dir = tempfile::tempdir().unwrap();
    let parquet = dir.path().join("out.parquet");
    stdout_ok(&trailmap(&[
        "query",
        "-s",
        sample(),
        "--format",
        "parquet",
        "-o",
        parquet.to_str().unwrap(),
        SQL,
    ]));
    let file = std::fs::File::open(&parquet).unwrap();
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, json_rows.len());

    let out = dir.path().join("out.csv");
    stdout_ok(&trailmap(&[
        "query",
        "-s",
        sample(),
        "--format",
        "csv",
        "-o",
        out.to_str().unwrap(),
        SQL,
    ]));
    assert_eq!(std::fs::read_to_string(out).unwrap(), csv);
}

#[test]
fn sql_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.sql");
    std::fs::write(&file, format!("-- my query\n{SQL}\n")).unwrap();
    let from_file = stdout_ok(&trailmap(&[
        "query",
        "-s",
        sample(),
        "--format",
        "csv",
        "-f",
        file.to_str().unwrap(),
    ]));
    let inline = stdout_ok(&trailmap(&[
        "query",
        "-s",
        sample(),
        "--format",
        "csv",
        SQL,
    ]));
    assert_eq!(from_file, inline);
}

fn assert_one_line_error(args: &[&str], needle: &str) {
    let output = trailmap(args);
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn mistakes_get_one_clear_line_and_exit_2() {
    assert_one_line_error(
        &["query", "-s", sample(), "servd-regions"],
        "unknown named query \"servd-regions\"; known queries: api-keys, blind-spots, bursts, by-model",
    );
    assert_one_line_error(&["query", "-s", sample(), "SELEC 1"], "invalid SQL");
    assert_one_line_error(
        &["query", "-s", sample(), "SELECT nope FROM events"],
        "No field named nope",
    );
    assert_one_line_error(
        &["query", "-s", sample(), "SELECT * FROM nope"],
        "trailmap schema",
    );
    assert_one_line_error(
        &[
            "query",
            "-s",
            sample(),
            "--from",
            "2025-13-01",
            "served-regions",
        ],
        "invalid date or time \"2025-13-01\"",
    );
    assert_one_line_error(
        &[
            "query",
            "-s",
            sample(),
            "--from",
            "2025-03-05",
            "--to",
            "2025-03-01",
            "served-regions",
        ],
        "is after --to",
    );
    assert_one_line_error(
        &["query", "-s", "/no/such/dir", "served-regions"],
        "cannot read source /no/such/dir",
    );
    assert_one_line_error(
        &["query", "-s", "gs://bucket/x", "served-regions"],
        "unknown URL scheme",
    );
    for write in [
        "CREATE TABLE t AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "INSERT INTO regions VALUES ('a','b','c','d','e')",
        "COPY (SELECT 1) TO '/tmp/trailmap-copy.csv'",
        "SET datafusion.execution.batch_size = 1",
        "DROP VIEW invocations",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/tmp/x.csv'",
    ] {
        assert_one_line_error(&["query", "-s", sample(), write], "only read statements");
    }
    assert!(!Path::new("/tmp/trailmap-copy.csv").exists());
}

#[test]
fn queries_and_schema_list_everything() {
    let text = stdout_ok(&trailmap(&["queries"]));
    for q in trailmap::queries::all() {
        assert!(
            text.contains(q.name) && text.contains(q.description),
            "{}",
            q.name
        );
    }
    let text = stdout_ok(&trailmap(&["schema"]));
    for c in trailmap::schema::Column::ALL {
        assert!(text.contains(c.name()), "schema lists {}", c.name());
    }
    for table in [
        "events:",
        "invocations:",
        "regions:",
        "load_errors:",
        "geography(region)",
    ] {
        assert!(text.contains(table), "schema lists {table}");
    }
}

#[test]
fn regions_table_and_geography_function() {
    // Geographies written by hand from AWS's Region list, one per geography and the edge cases
    // (Israel and the UAE are Middle East, Mexico is not US, GovCloud is its own).
    let expected = [
        ("us-east-1", "US"),
        ("ca-west-1", "CA"),
        ("mx-central-1", "MX"),
        ("sa-east-1", "SA"),
        ("eu-central-2", "EU"),
        ("eu-south-2", "EU"),
        ("ap-southeast-5", "APAC"),
        ("ap-northeast-3", "APAC"),
        ("il-central-1", "ME"),
        ("me-central-1", "ME"),
        ("af-south-1", "AF"),
        ("us-gov-east-1", "US-GOV"),
        ("cn-northwest-1", "CN"),
    ];
    let list: Vec<String> = expected.iter().map(|(r, _)| format!("'{r}'")).collect();
    let rows = query_json(
        Path::new(sample()),
        &[],
        &format!(
            "SELECT region, geography, geography(region) AS by_function FROM regions WHERE region IN ({}) ORDER BY region",
            list.join(", ")
        ),
    );
    let mut want = expected.to_vec();
    want.sort();
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["region"].as_str().unwrap(),
                r["geography"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(rows.iter().all(|r| r["by_function"] == r["geography"]));
    let rows = query_json(
        Path::new(sample()),
        &[],
        "SELECT count(*) AS n, count(DISTINCT region) AS distinct_regions FROM regions",
    );
    assert!(rows[0]["n"].as_u64().unwrap() >= 39);
    assert_eq!(rows[0]["n"], rows[0]["distinct_regions"]);
    let rows = query_json(
        Path::new(sample()),
        &[],
        "SELECT geography('eu-west-2') AS london, geography('us-gov-west-1') AS gov, geography('nowhere') AS unknown, \
         json_get_str(request_parameters, 'modelId') = model_id AS same FROM invocations LIMIT 1",
    );
    assert_eq!(rows[0]["london"], "EU");
    assert_eq!(rows[0]["gov"], "US-GOV");
    assert!(rows[0].get("unknown").is_none_or(|v| v.is_null()));
    assert_eq!(rows[0]["same"], true);
}

#[test]
fn sample_data_is_what_the_generator_makes() {
    // The regeneration command (`trailmap generate -o sample-data`) itself, through the binary.
    let dir = tempfile::tempdir().unwrap();
    stdout_ok(&trailmap(&["generate", "-o", dir.path().to_str().unwrap()]));
    let files = |root: &Path| -> Vec<(String, Vec<u8>)> {
        walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path().strip_prefix(root).unwrap().display().to_string(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
    };
    let fresh = files(dir.path());
    let committed = files(Path::new(sample()));
    assert_eq!(
        fresh.len(),
        committed.len(),
        "regenerate with: trailmap generate -o sample-data"
    );
    for ((name_a, bytes_a), (name_b, bytes_b)) in fresh.iter().zip(&committed) {
        assert_eq!(name_a, name_b);
        assert!(
            bytes_a == bytes_b,
            "{name_a} differs; regenerate with: trailmap generate -o sample-data"
        );
    }
    let total: usize = committed.iter().map(|(_, b)| b.len()).sum();
    assert!(total < 2 << 20, "sample-data stays small: {total} bytes");
}

#[test]
fn sample_data_has_every_shape_the_issue_asks_for() {
    let rows = query_json(
        Path::new(sample()),
        &[],
        "SELECT count(DISTINCT log_account) AS accounts, count(DISTINCT aws_region) AS regions, \
         count(DISTINCT user_type) AS identity_types, count(*) FILTER (WHERE error_code = 'ThrottlingException') AS throttled, \
         count(*) FILTER (WHERE error_code = 'AccessDenied') AS denied, \
         count(*) FILTER (WHERE event_name = 'AssumeRole' AND resources IS NOT NULL) AS assume_role, \
         count(*) FILTER (WHERE event_name = 'ConsoleLogin') AS console, \
         count(*) FILTER (WHERE event_source = 's3.amazonaws.com') AS s3, \
         count(*) FILTER (WHERE event_source = 'kms.amazonaws.com') AS kms, \
         count(*) FILTER (WHERE model_id LIKE 'arn:%:foundation-model/%') AS fm_arn, \
         count(*) FILTER (WHERE model_id LIKE 'arn:%:inference-profile/%') AS profile_arn, \
         count(*) FILTER (WHERE model_id LIKE 'global.%') AS global_id \
         FROM events",
    );
    let row = &rows[0];
    assert!(row["accounts"].as_u64() >= Some(3));
    assert!(row["regions"].as_u64() >= Some(5));
    assert!(row["identity_types"].as_u64() >= Some(4));
    for key in [
        "throttled",
        "denied",
        "assume_role",
        "console",
        "s3",
        "kms",
        "fm_arn",
        "profile_arn",
        "global_id",
    ] {
        assert!(row[key].as_u64() > Some(0), "sample data has {key}");
    }
    let org = Path::new(sample()).join("AWSLogs/o-a1b2c3d4e5");
    assert!(org.is_dir(), "an organization trail prefix");
    let digests = walkdir::WalkDir::new(sample())
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().to_string_lossy().contains("CloudTrail-Digest_"))
        .count();
    assert!(digests > 0);
    let rows = query_json(
        Path::new(sample()),
        &[],
        "SELECT count(*) AS n FROM load_errors",
    );
    assert_eq!(rows[0]["n"], 0);
}

#[test]
fn generate_writes_what_its_flags_say() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    stdout_ok(&trailmap(&[
        "generate",
        "-o",
        out.to_str().unwrap(),
        "--events",
        "500",
        "--events-per-file",
        "50",
        "--days",
        "2",
        "--start",
        "2025-06-01",
        "--seed",
        "3",
    ]));
    let walked = walk(&out);
    assert_eq!(walked.len(), 500);
    let mut days: Vec<&str> = walked
        .iter()
        .filter_map(|r| r.str("/eventTime"))
        .filter(|t| t.len() == 20)
        .map(|t| &t[..10])
        .collect();
    days.sort();
    days.dedup();
    assert_eq!(days, ["2025-06-01", "2025-06-02"]);
    let rows = query_json(&out, &[], "SELECT count(*) AS n FROM events");
    assert_eq!(rows[0]["n"].as_u64(), Some(500));

    // The Bedrock share of a realistic archive: a few percent.
    let mix = dir.path().join("mix");
    stdout_ok(&trailmap(&[
        "generate",
        "-o",
        mix.to_str().unwrap(),
        "--events",
        "2000",
        "--invocation-percent",
        "2",
    ]));
    let walked = walk(&mix);
    let invocations = walked.iter().filter(|r| r.is_invocation()).count();
    assert_eq!(walked.len(), 2000);
    assert!(
        (20..=80).contains(&invocations),
        "{invocations} invocations"
    );
}

#[test]
fn read_statements_of_every_kind_run_and_writes_are_refused() {
    let source = Path::new(sample());
    for sql in [
        "WITH calls AS (SELECT * FROM invocations) SELECT count(*) AS n FROM calls",
        "SHOW TABLES",
        "SHOW COLUMNS FROM events",
        "DESCRIBE events",
        "EXPLAIN SELECT count(*) FROM events",
    ] {
        assert!(!query_json(source, &[], sql).is_empty(), "{sql}");
    }
    let described = query_json(source, &[], "DESCRIBE invocations");
    assert!(
        described
            .iter()
            .any(|r| r["column_name"] == "served_region")
    );
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        "INSERT INTO regions VALUES ('a', 'b', 'c', 'd', 'e')",
        "COPY (SELECT 1) TO '/tmp/trailmap-copy.csv'",
        "SET datafusion.execution.batch_size = 10",
        "DROP VIEW invocations",
    ] {
        let output = trailmap(&["query", "-s", sample(), sql]);
        assert_eq!(output.status.code(), Some(2), "{sql}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("only read statements"), "{sql}: {stderr}");
    }
    assert!(!Path::new("/tmp/trailmap-copy.csv").exists());
}

#[test]
fn repeated_accounts_quiet_verbose_and_parquet_on_a_terminal() {
    let walked = walk(Path::new(sample()));
    let accounts = ["111122223333", "777788889999"];
    let expected = walked
        .iter()
        .filter(|r| {
            r.str("/recipientAccountId")
                .is_some_and(|a| accounts.contains(&a))
        })
        .count() as u64;
    let rows = query_json(
        Path::new(sample()),
        &["--account", accounts[0], "--account", accounts[1]],
        "SELECT count(*) AS n FROM events",
    );
    assert_eq!(rows[0]["n"].as_u64(), Some(expected));
    assert!(expected > 0 && expected < walked.len() as u64);

    let sql = "SELECT count(*) FROM events";
    let normal = trailmap(&["query", "-s", sample(), sql]);
    assert!(String::from_utf8_lossy(&normal.stderr).contains("trailmap: read 51 of 51"));
    let quiet = trailmap(&["query", "-q", "-s", sample(), sql]);
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    assert_eq!(quiet.stdout, normal.stdout);
    // DATAFUSION_* variables reach the session: the scan is split as asked.
    let plan = stdout_ok(&trailmap_with_env(
        &[
            "query",
            "-s",
            sample(),
            "EXPLAIN SELECT count(*) FROM events",
        ],
        &[("DATAFUSION_EXECUTION_TARGET_PARTITIONS", "3")],
    ));
    assert!(plan.contains("partitions=3"), "{plan}");
    let verbose = trailmap(&["query", "-v", "-s", sample(), sql]);
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        stderr.contains("INFO") && stderr.contains("listed sources"),
        "{stderr}"
    );

    // Parquet is binary: refused on a terminal (script(1) gives the command one), written
    // when redirected.
    let command = format!(
        "{} query -s {} --format parquet 'SELECT 1 AS one'",
        env!("CARGO_BIN_EXE_trailmap"),
        sample()
    );
    let on_terminal = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("script(1) runs");
    assert_eq!(on_terminal.status.code(), Some(2));
    let shown = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(
        shown.contains("Parquet is binary: give -o FILE or redirect stdout"),
        "{shown}"
    );
    let redirected = trailmap(&[
        "query",
        "-s",
        sample(),
        "--format",
        "parquet",
        "SELECT 1 AS one",
    ]);
    assert!(redirected.status.success());
    assert_eq!(&redirected.stdout[..4], b"PAR1");
}

#[test]
fn insight_and_digest_files_are_skipped_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("archive");
    generate(
        &copy,
        &GeneratorConfig {
            events: 200,
            events_per_file: 50,
            ..GeneratorConfig::default()
        },
    )
    .unwrap();
    // Insight files are gzipped JSON with Records too: reading them would add events.
    let insight = copy.join(
        "AWSLogs/111122223333/CloudTrail-Insight/eu-west-1/2025/03/01/111122223333_CloudTrail-Insight_eu-west-1_20250301T1200Z_abc.json.gz",
    );
    std::fs::create_dir_all(insight.parent().unwrap()).unwrap();
    let any_log = walkdir::WalkDir::new(&copy)
        .into_iter()
        .filter_map(|e| e.ok())
        .find(|e| e.path().to_string_lossy().ends_with(".json.gz"))
        .unwrap();
    std::fs::copy(any_log.path(), &insight).unwrap();
    let rows = query_json(&copy, &[], "SELECT count(*) AS n FROM events");
    assert_eq!(rows[0]["n"].as_u64(), Some(200));
    let verbose = trailmap(&["query", "-vv", "-s", copy.to_str().unwrap(), "SELECT 1"]);
    let stderr = String::from_utf8_lossy(&verbose.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("CloudTrail-Insight") && l.contains("skipped by name")),
        "{stderr}"
    );
}

#[test]
fn a_memory_limit_too_small_fails_the_query_and_is_not_a_load_error() {
    let output = trailmap(&[
        "query",
        "-s",
        sample(),
        "--memory-limit",
        "1KiB",
        "--format",
        "csv",
        "SELECT * FROM events",
    ]);
    let stderr = stderr_of_exit_2(&output);
    assert!(
        stderr.contains("the memory limit (--memory-limit)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("could not read"),
        "no file is blamed: {stderr}"
    );
    // A limit with room gives the answer of no limit.
    let sql = "SELECT count(*) AS n, count(DISTINCT request_parameters) AS p FROM events";
    let limited = query_json(Path::new(sample()), &["--memory-limit", "256MiB"], sql);
    assert_eq!(limited, query_json(Path::new(sample()), &[], sql));
    assert_eq!(limited[0]["n"].as_u64(), Some(3000));
    assert_one_line_error(
        &[
            "query",
            "-s",
            sample(),
            "--memory-limit",
            "lots",
            "SELECT 1",
        ],
        "lots",
    );
}
