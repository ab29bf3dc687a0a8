//! `trailmap ingest` and reading a warehouse: the same answers as the raw archive, every event
//! exactly once across incremental runs and across runs killed with SIGKILL, load errors kept
//! and retried, changed objects reported.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::Value;
use trailmap::generate::GeneratorConfig;

use crate::common::delta::DeltaLog;
use crate::common::{copy_tree, generated, query_json, trailmap, walk};

/// Runs `trailmap ingest -s SOURCE --into WAREHOUSE EXTRA...`; returns stderr, asserting success.
fn ingest(source: &Path, warehouse: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "ingest",
        "-s",
        source.to_str().unwrap(),
        "--into",
        warehouse.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = trailmap(&args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "ingest failed: {stderr}");
    stderr
}

/// The rows of a query, each as JSON text, sorted (queries may order ties either way).
fn sorted_rows(source: &Path, extra: &[&str], sql: &str) -> Vec<String> {
    let mut rows: Vec<String> = query_json(source, extra, sql)
        .into_iter()
        .map(|row| Value::Object(row).to_string())
        .collect();
    rows.sort();
    rows
}

/// Every named query answers the same rows over `warehouse` as over `raw`.
fn assert_named_queries_agree(warehouse: &Path, raw: &Path) {
    for query in trailmap::queries::all() {
        assert_eq!(
            sorted_rows(warehouse, &[], query.name),
            sorted_rows(raw, &[], query.name),
            "{}",
            query.name
        );
    }
}

/// The (objects, events) the summary line of `SELECT count(*) FROM events` over `source` with
/// `extra` options counts: the files a raw read lists and reads, or the ingested objects in
/// range of a warehouse.
fn objects_in_range(source: &Path, extra: &[&str]) -> (u64, u64) {
    let mut args = vec!["query", "-s", source.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push("SELECT count(*) FROM events");
    let output = trailmap(&args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let number_before = |text: &str, label: &str| -> u64 {
        let before = text.split(label).next().unwrap().trim_end();
        let digits = before.rsplit([' ', '(']).next().unwrap();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("{label:?} in {text}"))
    };
    let line = stderr.lines().find(|l| l.contains(" events")).unwrap();
    match line.contains("ingested object(s)") {
        true => (
            number_before(line, " ingested object(s)"),
            number_before(line, " events"),
        ),
        false => (number_before(line, " of "), number_before(line, " events")),
    }
}

/// A test on a row of JSON output.
type RowTest<'a> = dyn Fn(&serde_json::Map<String, Value>) -> bool + 'a;

/// `count(*)` and `count(DISTINCT event_id)` of `events`.
fn event_counts(source: &Path) -> (u64, u64) {
    let rows = query_json(
        source,
        &[],
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events",
    );
    (
        rows[0]["n"].as_u64().unwrap(),
        rows[0]["ids"].as_u64().unwrap(),
    )
}

#[test]
fn every_named_query_and_the_audit_agree_with_the_raw_archive() {
    let raw = Path::new("sample-data");
    let warehouse = tempfile::tempdir().unwrap();
    ingest(raw, warehouse.path(), &[]);
    assert_named_queries_agree(warehouse.path(), raw);
    for sql in [
        "SELECT * FROM events",
        "SELECT * FROM application_profiles",
        "SELECT * FROM load_errors",
    ] {
        assert_eq!(
            sorted_rows(warehouse.path(), &[], sql),
            sorted_rows(raw, &[], sql),
            "{sql}"
        );
    }
    // The command line's filters cut the warehouse's rows as the test cuts the rows of the
    // whole raw archive. (Not as a raw read with the same filters or SQL filters: that read
    // lists only the files in range, so calls through application profiles created before it
    // stay unresolved, while the warehouse knows every profile it ingested.)
    let all_raw = query_json(raw, &[], "SELECT * FROM events");
    let text = |row: &serde_json::Map<String, Value>, column: &str| {
        row.get(column)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let cuts: [(&[&str], Box<RowTest<'_>>); 2] = [
        (
            &["--from", "2025-03-03", "--to", "2025-03-04T12:00:00Z"],
            Box::new(|row| {
                let time = text(row, "event_time");
                !time.is_empty()
                    && time.as_str() >= "2025-03-03T00:00:00Z"
                    && time.as_str() <= "2025-03-04T12:00:00Z"
            }),
        ),
        (
            &["--account", "111122223333", "--source-region", "us-east-1"],
            Box::new(|row| {
                text(row, "account_id") == "111122223333" && text(row, "aws_region") == "us-east-1"
            }),
        ),
    ];
    for (flags, keep) in cuts {
        let mut expected: Vec<String> = all_raw
            .iter()
            .filter(|row| keep(row))
            .map(|row| Value::Object(row.clone()).to_string())
            .collect();
        expected.sort();
        assert!(!expected.is_empty());
        let rows = sorted_rows(warehouse.path(), flags, "SELECT * FROM events");
        assert!(
            rows == expected,
            "{flags:?}: {} rows, {} expected",
            rows.len(),
            expected.len()
        );
        // The objects in range, and their events, are the files a raw read lists and reads.
        assert_eq!(
            objects_in_range(warehouse.path(), flags),
            objects_in_range(raw, flags),
            "{flags:?}"
        );
    }
    let audit = |source: &Path| {
        let output = trailmap(&[
            "audit",
            "-s",
            source.to_str().unwrap(),
            "--policy",
            "queries/policies/eu-residency.toml",
            "--format",
            "json",
        ]);
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
        )
    };
    assert_eq!(audit(warehouse.path()), audit(raw));
    // The walk, independently of trailmap.
    let walked = walk(raw).len() as u64;
    assert_eq!(event_counts(warehouse.path()), (walked, walked));
}

#[test]
fn a_query_prunes_warehouse_files_by_day_and_the_integrity_table_says_where_to_verify() {
    let warehouse = tempfile::tempdir().unwrap();
    ingest(Path::new("sample-data"), warehouse.path(), &[]);
    // Files are pruned by their day when the manifest's objects are not read, and by their
    // objects' keys when they are (a cut by key, here one that keeps every object).
    for extra in [&[][..], &["--from", "2000-01-01"]] {
        let mut args = vec!["query", "-v", "-s", warehouse.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push("EXPLAIN ANALYZE SELECT count(*) FROM events WHERE log_date = DATE '2025-03-02'");
        let output = trailmap(&args);
        let plan = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{plan}");
        let scanned: BTreeSet<&str> = plan
            .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
            .filter(|w| w.ends_with(".parquet"))
            .collect();
        assert!(
            !scanned.is_empty() && scanned.iter().all(|f| f.contains("log_date=2025-03-02")),
            "{extra:?}: {plan}"
        );
    }
    let output = trailmap(&[
        "query",
        "-s",
        warehouse.path().to_str().unwrap(),
        "SELECT * FROM integrity",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("trailmap verify"), "{stderr}");
}

#[test]
fn incremental_runs_ingest_every_event_exactly_once() {
    let archive = generated(GeneratorConfig {
        events: 4_000,
        days: 3,
        start: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
        ..GeneratorConfig::default()
    });
    let walked = walk(archive.path());
    let warehouse = tempfile::tempdir().unwrap();
    let mut expected_ids = BTreeSet::new();
    // Objects are chosen by key (delivery day), with no margin so each step takes one day;
    // the last step takes the rest (files delivered after the last day of events).
    for (step, last_day) in ["2025-06-01", "2025-06-02", "2025-06-03", "2025-06-30"]
        .iter()
        .enumerate()
    {
        ingest(
            archive.path(),
            warehouse.path(),
            &["--to", last_day, "--delivery-margin", "0h"],
        );
        let day: NaiveDate = last_day.parse().unwrap();
        expected_ids.extend(
            walked
                .iter()
                .filter(|r| delivery_day(&r.path) <= day)
                .map(|r| r.str("/eventID").unwrap().to_owned()),
        );
        let n = expected_ids.len() as u64;
        assert_eq!(event_counts(warehouse.path()), (n, n), "after step {step}");
    }
    assert_eq!(expected_ids.len(), walked.len());
    // A fourth run finds nothing new and commits nothing.
    let stderr = ingest(archive.path(), warehouse.path(), &[]);
    assert!(stderr.contains("up to date"), "{stderr}");
    assert_eq!(commits(warehouse.path()).len(), 4);
    assert_exactly_once_for_another_reader(warehouse.path(), walked.len());
    // The same objects under another spelling of the path are the same objects.
    let copy = tempfile::tempdir().unwrap();
    copy_tree(archive.path(), copy.path());
    let stderr = ingest(copy.path(), warehouse.path(), &[]);
    assert!(stderr.contains("up to date"), "{stderr}");
}

/// The delivery day in a log file's key (`.../YYYY/MM/DD/file`).
fn delivery_day(path: &Path) -> NaiveDate {
    let parts: Vec<&str> = path.iter().map(|p| p.to_str().unwrap()).collect::<Vec<_>>();
    let n = parts.len();
    NaiveDate::from_ymd_opt(
        parts[n - 4].parse().unwrap(),
        parts[n - 3].parse().unwrap(),
        parts[n - 2].parse().unwrap(),
    )
    .unwrap()
}

#[test]
fn a_run_killed_at_any_moment_leaves_every_event_exactly_once_after_the_next() {
    let archive = generated(GeneratorConfig {
        events: 30_000,
        days: 4,
        events_per_file: 100,
        ..GeneratorConfig::default()
    });
    let total = walk(archive.path()).len() as u64;
    let warehouse = tempfile::tempdir().unwrap();
    let source = archive.path().to_str().unwrap();
    let into = warehouse.path().to_str().unwrap();
    // Kill moments spread over a run (a deterministic sequence; a run takes a second or more
    // in a debug build), each followed by checking what readers see, then a run to the end.
    let mut killed_mid_run = 0;
    for (i, delay_ms) in [40u64, 150, 300, 500, 800, 1200].into_iter().enumerate() {
        // Each kill gets a warehouse with some history: every other round starts from scratch.
        if i % 2 == 0 {
            std::fs::remove_dir_all(warehouse.path()).unwrap();
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_trailmap"))
            .args(["ingest", "-q", "-s", source, "--into", into])
            .args(["--target-file-size", "256KiB"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Readers see whole commits only: nothing, or every event exactly once.
        if warehouse.path().join("_delta_log").is_dir() {
            let (n, ids) = event_counts(warehouse.path());
            assert!(
                n == ids && (n == 0 || n == total),
                "round {i}: {n} rows, {ids} ids"
            );
            let seen = DeltaLog::read(warehouse.path())
                .event_ids(warehouse.path())
                .len() as u64;
            assert_eq!(
                seen, n,
                "round {i}: another Delta reader counts what trailmap does"
            );
        }
        ingest(
            archive.path(),
            warehouse.path(),
            &["--target-file-size", "256KiB"],
        );
        assert_eq!(event_counts(warehouse.path()), (total, total), "round {i}");
        assert_exactly_once_for_another_reader(warehouse.path(), total as usize);
        assert_vacuum_leaves_the_committed_files(warehouse.path());
    }
    assert!(
        killed_mid_run >= 3,
        "only {killed_mid_run} kills hit a running ingest"
    );
}

#[test]
fn objects_that_cannot_be_read_are_kept_as_load_errors_and_retried_and_changed_ones_reported() {
    let archive = generated(GeneratorConfig {
        events: 600,
        days: 2,
        ..GeneratorConfig::default()
    });
    let files: Vec<_> = walkdir::WalkDir::new(archive.path())
        .sort_by_file_name()
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.to_string_lossy().contains("_CloudTrail_") && p.is_file())
        .collect();
    let broken = &files[3];
    let good_bytes = std::fs::read(broken).unwrap();
    std::fs::write(broken, b"not gzip at all").unwrap();
    let warehouse = tempfile::tempdir().unwrap();
    let stderr = ingest(archive.path(), warehouse.path(), &[]);
    assert!(stderr.contains("1 object(s) could not be read"), "{stderr}");
    let errors = query_json(
        warehouse.path(),
        &[],
        "SELECT log_file, stage FROM load_errors",
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["log_file"], broken.to_str().unwrap());
    assert_eq!(errors[0]["stage"], "gunzip");
    let total = walk(archive.path()).len() as u64; // the walk skips the broken file too
    assert_eq!(event_counts(warehouse.path()), (total, total));
    // --strict makes a load error exit 2, as for query.
    let strict = trailmap(&[
        "query",
        "--strict",
        "-s",
        warehouse.path().to_str().unwrap(),
        "SELECT 1",
    ]);
    assert_eq!(strict.status.code(), Some(2));

    // Repaired, it is read by the next run and its error is gone.
    std::fs::write(broken, &good_bytes).unwrap();
    ingest(archive.path(), warehouse.path(), &[]);
    assert!(query_json(warehouse.path(), &[], "SELECT * FROM load_errors").is_empty());
    let total = walk(archive.path()).len() as u64;
    assert_eq!(event_counts(warehouse.path()), (total, total));

    // An ingested object rewritten with other content is reported, not ingested again, and
    // readers are told: a load error (stage `changed`), so --strict exits 2.
    let changed = &files[5];
    let mut bytes = std::fs::read(changed).unwrap();
    bytes.extend_from_slice(b"trailing");
    std::fs::write(changed, &bytes).unwrap();
    let stderr = ingest(archive.path(), warehouse.path(), &[]);
    assert!(
        stderr.contains("1 object(s) changed since they were ingested")
            && stderr.contains(changed.to_str().unwrap()),
        "{stderr}"
    );
    assert_eq!(event_counts(warehouse.path()), (total, total));
    let changed_errors =
        |warehouse: &Path| query_json(warehouse, &[], "SELECT log_file, stage FROM load_errors");
    let errors = changed_errors(warehouse.path());
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["log_file"], changed.to_str().unwrap());
    assert_eq!(errors[0]["stage"], "changed");
    let strict = trailmap(&[
        "query",
        "--strict",
        "-q",
        "-s",
        warehouse.path().to_str().unwrap(),
        "SELECT 1",
    ]);
    assert_eq!(strict.status.code(), Some(2));
    // `ingest --strict` says so too, and a run that does not list the object keeps the error.
    let strict_ingest = trailmap(&[
        "ingest",
        "--strict",
        "-s",
        archive.path().to_str().unwrap(),
        "--into",
        warehouse.path().to_str().unwrap(),
    ]);
    assert_eq!(strict_ingest.status.code(), Some(2));
    ingest(archive.path(), warehouse.path(), &["--from", "2030-01-01"]);
    assert_eq!(changed_errors(warehouse.path()), errors);
    // Same size, another modification time: changed too (the revision of a local file).
    let touched = &files[6];
    let later = std::fs::metadata(touched).unwrap().modified().unwrap() + Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(touched)
        .unwrap()
        .set_modified(later)
        .unwrap();
    ingest(archive.path(), warehouse.path(), &[]);
    let errors = changed_errors(warehouse.path());
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e["log_file"] == touched.to_str().unwrap())
    );
}

/// Another Delta reader ([`DeltaLog`]) sees every one of `total` events once.
fn assert_exactly_once_for_another_reader(warehouse: &Path, total: usize) {
    let ids = DeltaLog::read(warehouse).event_ids(warehouse);
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), distinct.len()), (total, total));
}

/// Once old enough, the files no version reads (a killed run's) are deleted by VACUUM, and
/// exactly those: what is left on disk is what the table holds. (The killed runs' marks, no
/// longer renewed, age with them.)
fn assert_vacuum_leaves_the_committed_files(warehouse: &Path) {
    let two_hours_ago = std::time::SystemTime::now() - Duration::from_secs(2 * 3600);
    let marks: Vec<String> = match std::fs::read_dir(warehouse.join("_trailmap/runs")) {
        Ok(entries) => entries
            .map(|e| {
                format!(
                    "_trailmap/runs/{}",
                    e.unwrap().file_name().to_str().unwrap()
                )
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    for file in files_on_disk(warehouse).into_iter().chain(marks) {
        let handle = std::fs::File::options()
            .write(true)
            .open(warehouse.join(&file))
            .unwrap();
        handle.set_modified(two_hours_ago).unwrap();
    }
    let into = warehouse.to_str().unwrap();
    let vacuum = trailmap(&["vacuum", "--into", into, "--retain", "1h"]);
    assert!(
        vacuum.status.success(),
        "{}",
        String::from_utf8_lossy(&vacuum.stderr)
    );
    assert_eq!(files_on_disk(warehouse), committed_files(warehouse));
}

/// A generated archive of `events` over `days` in `root/trail-bucket` (a bucket of the test
/// S3 server); its path.
fn generate_trail_bucket(root: &Path, events: usize, days: u32) -> std::path::PathBuf {
    let trail = root.join("trail-bucket");
    let config = GeneratorConfig {
        events,
        days,
        ..GeneratorConfig::default()
    };
    trailmap::generate::generate(&trail, &config).unwrap();
    trail
}

/// Runs `trailmap ingest -s s3://trail-bucket/AWSLogs/ --into INTO EXTRA...` against `server`.
fn ingest_over_s3(
    server: &crate::common::s3_server::S3Server,
    into: &str,
    extra: &[&str],
) -> std::process::Output {
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec!["ingest", "-s", "s3://trail-bucket/AWSLogs/", "--into", into];
    args.extend_from_slice(extra);
    crate::common::trailmap_with_env(&args, &env)
}

/// Every file under the warehouse's `events/`, relative to the warehouse.
fn files_on_disk(warehouse: &Path) -> BTreeSet<String> {
    if !warehouse.join("events").is_dir() {
        return BTreeSet::new();
    }
    walkdir::WalkDir::new(warehouse.join("events"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let inside = e.path().strip_prefix(warehouse).unwrap();
            inside.to_str().unwrap().to_owned()
        })
        .collect()
}

/// The data files in the table, by an independent replay of its Delta log.
fn committed_files(warehouse: &Path) -> BTreeSet<String> {
    DeltaLog::read(warehouse).files()
}

#[test]
fn a_warehouse_on_s3_is_written_and_read_through_the_sdk() {
    use crate::common::s3_server::{Faults, S3Server};
    let root = tempfile::tempdir().unwrap();
    let trail = generate_trail_bucket(root.path(), 2_000, 3);
    std::fs::create_dir(root.path().join("warehouse-bucket")).unwrap();
    let server = S3Server::start(root.path(), Faults::default());
    let env = server.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |args: &[&str]| crate::common::trailmap_with_env(args, &env);
    let into = "s3://warehouse-bucket/wh";
    let first = run(&["ingest", "-s", "s3://trail-bucket/AWSLogs/", "--into", into]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(stderr.contains("Delta version 1"), "{stderr}");
    let again = run(&["ingest", "-s", "s3://trail-bucket/AWSLogs/", "--into", into]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("up to date"));
    // The objects are where the layout says: the Parquet files the commit names.
    let stored = root.path().join("warehouse-bucket/wh");
    let parquet: BTreeSet<String> = files_on_disk(&stored)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .collect();
    assert!(!parquet.is_empty());
    assert_eq!(parquet, committed_files(&stored));
    // Every named query over the S3 warehouse answers as over the raw archive on disk.
    for query in trailmap::queries::all() {
        let output = run(&["query", "-s", into, "--format", "json", query.name]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut rows: Vec<String> = serde_json::from_slice::<Vec<Value>>(&output.stdout)
            .unwrap()
            .into_iter()
            .map(|row| row.to_string())
            .collect();
        rows.sort();
        assert_eq!(rows, sorted_rows(&trail, &[], query.name), "{}", query.name);
    }
}

#[test]
fn small_increments_are_compacted_without_changing_an_answer() {
    let raw = Path::new("sample-data");
    let warehouse = tempfile::tempdir().unwrap();
    let regions: Vec<String> = query_json(
        raw,
        &[],
        "SELECT DISTINCT log_region AS r FROM events ORDER BY 1",
    )
    .into_iter()
    .map(|row| row["r"].as_str().unwrap().to_owned())
    .collect();
    assert!(regions.len() > 3);
    // One run per source Region: each adds a small file to most days; past eight files a day
    // is compacted on its own.
    for region in &regions {
        ingest(raw, warehouse.path(), &["--source-region", region]);
    }
    let days = query_json(
        warehouse.path(),
        &[],
        "SELECT count(DISTINCT log_date) AS d FROM events",
    )[0]["d"]
        .as_u64()
        .unwrap() as usize;
    assert!(files_on_disk(warehouse.path()).len() > days);
    let walked = walk(raw).len() as u64;
    assert_eq!(event_counts(warehouse.path()), (walked, walked));
    let stderr = ingest(raw, warehouse.path(), &["--compact"]);
    assert!(stderr.contains("compacted"), "{stderr}");
    // One file per day now, nothing lost or doubled; the replaced files stay on disk for
    // readers of earlier versions until VACUUM.
    let files = committed_files(warehouse.path());
    assert_eq!(files.len(), days, "{files:?}");
    assert!(files_on_disk(warehouse.path()).is_superset(&files));
    assert_eq!(event_counts(warehouse.path()), (walked, walked));
    assert_named_queries_agree(warehouse.path(), raw);
    // Every object was re-pointed to the file that holds its events now.
    let mut objects = std::collections::BTreeMap::new();
    for commit in commits(warehouse.path()) {
        for object in commit["objects"].as_array().unwrap() {
            objects.insert(object["log_file"].to_string(), object["files"].clone());
        }
    }
    for (object, named) in objects {
        for file in named.as_array().unwrap() {
            assert!(
                files.contains(file.as_str().unwrap()),
                "{object} names {file}"
            );
        }
    }
    // The compaction rewrote rows already in: its actions say no data changed (an OPTIMIZE),
    // while the runs that added rows said they did.
    let log = DeltaLog::read(warehouse.path());
    for actions in &log.versions {
        let operation = actions
            .iter()
            .find_map(|a| a.get("commitInfo")?.get("operation")?.as_str())
            .unwrap_or_default();
        let changes: Vec<bool> = actions
            .iter()
            .filter_map(|a| a.get("add").or_else(|| a.get("remove")))
            .map(|a| a["dataChange"].as_bool().unwrap())
            .collect();
        match operation {
            "OPTIMIZE" => assert!(changes.iter().all(|c| !c), "{actions:?}"),
            "WRITE" => assert!(changes.iter().any(|c| *c), "{actions:?}"),
            _ => {}
        }
    }
    assert!(
        log.versions
            .iter()
            .flatten()
            .any(|a| a["commitInfo"]["operation"] == "OPTIMIZE")
    );
    // Compacted days stay compacted: nothing to do.
    let again = ingest(raw, warehouse.path(), &["--compact"]);
    assert!(again.contains("up to date"), "{again}");
    assert_totals_match_the_objects(warehouse.path());
}

/// The last commit's totals are what the objects of every commit add up to (each object
/// counted once, compactions re-listing objects included), and readers report the same
/// coverage from the totals as from the objects.
fn assert_totals_match_the_objects(warehouse: &Path) {
    let commits = commits(warehouse);
    let mut objects = std::collections::BTreeMap::new();
    for commit in &commits {
        for object in commit["objects"].as_array().unwrap() {
            let log_file = object["log_file"].as_str().unwrap();
            objects.insert(log_file.rsplit('/').next().unwrap().to_owned(), object);
        }
    }
    let sum = |field: &str| -> u64 { objects.values().map(|o| o[field].as_u64().unwrap()).sum() };
    let max_lag = objects
        .values()
        .filter_map(|o| o["lag_seconds"].as_i64())
        .max();
    let totals = &commits.last().unwrap()["totals"];
    assert_eq!(totals["objects"].as_u64(), Some(objects.len() as u64));
    assert_eq!(totals["events"].as_u64(), Some(sum("events")));
    assert_eq!(totals["json_bytes"].as_u64(), Some(sum("json_bytes")));
    assert_eq!(totals["bad_times"].as_u64(), Some(sum("bad_times")));
    assert_eq!(totals["max_lag_seconds"].as_i64(), max_lag);
    let from_totals = coverage_lines(warehouse, &[]);
    assert!(
        from_totals.iter().any(|l| l.contains(&format!(
            "{} ingested object(s) in range ({} events)",
            objects.len(),
            sum("events")
        ))),
        "{from_totals:?}"
    );
    // A cut by key that keeps every object makes readers add up the objects themselves.
    assert_eq!(
        from_totals,
        coverage_lines(warehouse, &["--from", "2000-01-01"])
    );
}

/// What `query -v` says of a warehouse's coverage with `extra` options (the time taken left
/// out).
fn coverage_lines(warehouse: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["query", "-v", "-s", warehouse.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push("SELECT 1");
    let output = trailmap(&args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
        .lines()
        .filter(|l| {
            [
                "opened warehouse",
                "read warehouse",
                "delivery margin",
                "eventTime",
            ]
            .iter()
            .any(|needle| l.contains(needle))
        })
        .map(|l| match l.split_once(" in ") {
            Some((before, after)) => {
                format!("{before}{}", after.split_once(':').map_or("", |(_, a)| a))
            }
            None => l.to_owned(),
        })
        .collect()
}

/// Every ledger entry of the warehouse's commits, in order, as JSON (read by [`DeltaLog`]).
fn commits(warehouse: &Path) -> Vec<Value> {
    DeltaLog::read(warehouse).ledgers(warehouse)
}

#[test]
fn a_folder_that_cannot_be_listed_is_told_to_readers_until_a_run_lists_it() {
    use crate::common::s3_server::{Faults, S3Server};
    let root = tempfile::tempdir().unwrap();
    generate_trail_bucket(root.path(), 1_000, 2);
    let warehouse = tempfile::tempdir().unwrap();
    let into = warehouse.path().to_str().unwrap();
    let ingest_through = |server: &S3Server| {
        let output = ingest_over_s3(server, into, &[]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let denying = S3Server::start(
        root.path(),
        Faults {
            denied_prefix: Some("/eu-west-1/".into()),
            ..Faults::default()
        },
    );
    ingest_through(&denying);
    let unread = query_json(
        warehouse.path(),
        &[],
        "SELECT log_file, message FROM load_errors",
    );
    assert!(!unread.is_empty());
    for row in &unread {
        let folder = row["log_file"].as_str().unwrap();
        assert!(
            folder.starts_with("s3://trail-bucket/") && folder.ends_with("/eu-west-1/"),
            "{folder}"
        );
        assert!(row["message"].as_str().unwrap().contains("cannot list"));
    }
    let strict = trailmap(&["query", "--strict", "-s", into, "SELECT 1"]);
    assert_eq!(
        strict.status.code(),
        Some(2),
        "a reader is told the warehouse is incomplete"
    );
    // A narrower run that does not list the folder (another Region, a later day) leaves it
    // reported: the warehouse still lacks its objects.
    let serving = S3Server::start(root.path(), Faults::default());
    // (The folder listed in part, from its second day, is not listed whole either.)
    let narrower_runs: [&[&str]; 3] = [
        &["--source-region", "us-east-1"],
        &["--from", "2030-01-01"],
        &["--source-region", "eu-west-1", "--from", "2025-03-02"],
    ];
    for narrower in narrower_runs {
        let output = ingest_over_s3(&serving, into, narrower);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let still = query_json(
            warehouse.path(),
            &[],
            "SELECT log_file, message FROM load_errors",
        );
        assert_eq!(still, unread, "after a run with {narrower:?}");
    }
    // Listed again, the folder's objects come in and the warehouse is complete.
    ingest_through(&S3Server::start(root.path(), Faults::default()));
    assert!(query_json(warehouse.path(), &[], "SELECT * FROM load_errors").is_empty());
    let total = walk(&root.path().join("trail-bucket")).len() as u64;
    assert_eq!(event_counts(warehouse.path()), (total, total));
}

/// One gzipped log file of `records` for account 999988887777, `region`'s folder, March `day`.
fn write_log(root: &Path, region: &str, day: u32, records: &[Value]) {
    use std::io::Write;
    let folder = root.join(format!(
        "AWSLogs/999988887777/CloudTrail/{region}/2025/03/{day:02}"
    ));
    std::fs::create_dir_all(&folder).unwrap();
    let name = format!("999988887777_CloudTrail_{region}_202503{day:02}T1205Z_a.json.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    std::fs::write(folder.join(name), gz.finish().unwrap()).unwrap();
}

/// A record of account 999988887777 in `region`, on March `day`.
fn record(id: &str, region: &str, day: u32, name: &str, extra: Value) -> Value {
    let mut record = serde_json::json!({
        "eventVersion": "1.11",
        "eventTime": format!("2025-03-{day:02}T12:00:00Z"),
        "eventSource": "bedrock.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "recipientAccountId": "999988887777",
        "eventID": id,
        "eventType": "AwsApiCall",
    });
    record
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    record
}

#[test]
fn rows_calling_a_profile_created_in_a_file_read_later_are_resolved_as_over_the_raw_archive() {
    // Calls on March 1 through a profile whose CreateInferenceProfile event is in a file of
    // March 6 under another Region's folder than its ARN says: ingest, which writes March 1
    // long before it reads March 6 and does not search every file first, must write March 1
    // again once the profile turns up.
    let root = tempfile::tempdir().unwrap();
    let arn = "arn:aws:bedrock:eu-west-1:999988887777:application-inference-profile/late1";
    let calls: Vec<Value> = (0..3)
        .map(|i| {
            record(
                &format!("call-{i}"),
                "eu-west-1",
                1,
                "InvokeModel",
                serde_json::json!({
                    "requestParameters": {"modelId": arn},
                    "additionalEventData": {"inferenceRegion": "eu-west-3"},
                }),
            )
        })
        .collect();
    write_log(root.path(), "eu-west-1", 1, &calls);
    for day in 2..=5 {
        let noise = serde_json::json!({"requestParameters": {}});
        write_log(
            root.path(),
            "eu-west-1",
            day,
            &[record(
                &format!("noise-{day}"),
                "eu-west-1",
                day,
                "ListFoundationModels",
                noise,
            )],
        );
    }
    let create = serde_json::json!({
        "requestParameters": {"inferenceProfileName": "late", "modelSource": {"copyFrom":
            "arn:aws:bedrock:eu-west-1:999988887777:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0"}},
        "responseElements": {"inferenceProfileArn": arn, "status": "ACTIVE"},
    });
    write_log(
        root.path(),
        "us-east-1",
        6,
        &[record(
            "create",
            "us-east-1",
            6,
            "CreateInferenceProfile",
            create,
        )],
    );

    let warehouse = tempfile::tempdir().unwrap();
    let stderr = ingest(root.path(), warehouse.path(), &["-v"]);
    assert!(stderr.contains("writing again the days"), "{stderr}");
    // The file of March 1, read twice, counts once.
    assert!(stderr.contains("read 6 of 6 listed files"), "{stderr}");
    assert!(stderr.contains("B, 8 events)"), "{stderr}");
    let sql = "SELECT event_id, model, routing_scope, served_region FROM events ORDER BY event_id";
    let over_raw = query_json(root.path(), &[], sql);
    assert_eq!(
        over_raw[0]["model"],
        "anthropic.claude-3-haiku-20240307-v1:0"
    );
    assert_eq!(over_raw[0]["routing_scope"], "eu");
    assert_eq!(query_json(warehouse.path(), &[], sql), over_raw);
    assert_eq!(event_counts(warehouse.path()), (8, 8));
    assert_named_queries_agree(warehouse.path(), root.path());
}

#[test]
fn the_same_object_named_by_two_sources_in_one_run_is_ingested_once() {
    let archive = generated(GeneratorConfig {
        events: 1_500,
        days: 2,
        ..GeneratorConfig::default()
    });
    let copy = tempfile::tempdir().unwrap();
    copy_tree(archive.path(), copy.path());
    let total = walk(archive.path()).len();
    let warehouse = tempfile::tempdir().unwrap();
    let stderr = ingest(
        archive.path(),
        warehouse.path(),
        &["-s", copy.path().to_str().unwrap()],
    );
    assert!(stderr.contains("named by more than one source"), "{stderr}");
    assert_eq!(event_counts(warehouse.path()), (total as u64, total as u64));
    assert_exactly_once_for_another_reader(warehouse.path(), total);
}

/// Starts `trailmap ingest -q -s SOURCE... --into WAREHOUSE` without waiting for it.
fn spawn_ingest(sources: &[&Path], warehouse: &Path, env: &[(&str, &str)]) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailmap"));
    command.args(["ingest", "-q", "--into", warehouse.to_str().unwrap()]);
    for source in sources {
        command.args(["-s", source.to_str().unwrap()]);
    }
    command
        .args(["--target-file-size", "256KiB"])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn runs_at_once_and_runs_killed_leave_every_object_in_exactly_once() {
    let archive = generated(GeneratorConfig {
        events: 12_000,
        days: 4,
        events_per_file: 100,
        ..GeneratorConfig::default()
    });
    // Overlapping sources: the whole archive, and a copy of it under another path.
    let copy = tempfile::tempdir().unwrap();
    copy_tree(archive.path(), copy.path());
    let total = walk(archive.path()).len();
    let warehouse = tempfile::tempdir().unwrap();
    // Rounds of two runs started together; in some rounds one of them is killed (SIGKILL)
    // after a while (a deterministic sequence of moments).
    for (round, kill_after_ms) in [None, Some(300u64), Some(900), None, Some(150)]
        .into_iter()
        .enumerate()
    {
        let mut first = spawn_ingest(&[archive.path()], warehouse.path(), &[]);
        let mut second = spawn_ingest(&[copy.path(), archive.path()], warehouse.path(), &[]);
        if let Some(ms) = kill_after_ms {
            std::thread::sleep(Duration::from_millis(ms));
            let victim = match round % 2 {
                0 => &mut first,
                _ => &mut second,
            };
            victim.kill().unwrap();
        }
        for child in [&mut first, &mut second] {
            let status = child.wait().unwrap();
            if status.code().is_some() {
                let mut stderr = String::new();
                std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
                assert!(status.success(), "round {round}: {stderr}");
            }
        }
        // Whatever landed, every event in is there once, for trailmap and another reader.
        let (n, ids) = event_counts(warehouse.path());
        assert_eq!(n, ids, "round {round}");
        let seen = DeltaLog::read(warehouse.path()).event_ids(warehouse.path());
        assert_eq!(seen.len() as u64, n, "round {round}");
    }
    ingest(archive.path(), warehouse.path(), &[]);
    assert_eq!(event_counts(warehouse.path()), (total as u64, total as u64));
    assert_exactly_once_for_another_reader(warehouse.path(), total);
    assert_named_queries_agree(warehouse.path(), archive.path());
}

/// A run stopped dead (abort, as a SIGKILL or power loss would) at each step of the commit
/// path leaves readers nothing or everything of it, and the next run completes the job. The
/// first run of a warehouse commits twice (the empty table, then its events): each step of
/// both is a stop.
#[cfg(feature = "failpoints")]
#[test]
fn a_run_stopped_dead_at_every_step_of_the_commit_path_leaves_whole_commits() {
    let archive = generated(GeneratorConfig {
        events: 2_000,
        days: 2,
        ..GeneratorConfig::default()
    });
    let walked = walk(archive.path());
    let total = walked.len() as u64;
    let source = archive.path().to_str().unwrap();
    // (point, warehouse with a commit already, events readers see after the stop)
    let march_1 = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
    let first_day = walked
        .iter()
        .filter(|r| delivery_day(&r.path) <= march_1)
        .count() as u64;
    let stops: Vec<(String, bool, u64)> = [
        ("table-created", false, 0),
        ("commit-staged", false, 0),
        ("commit-linked", false, 0),
        ("commit-staged@2", false, 0),
        ("commit-linked@2", false, total),
        ("files-written", false, 0),
        ("files-durable", false, 0),
        ("committed", false, total),
        ("files-written", true, first_day),
        ("files-durable", true, first_day),
        ("commit-staged", true, first_day),
        ("commit-linked", true, total),
        ("committed", true, total),
    ]
    .into_iter()
    .map(|(point, history, seen)| (point.to_owned(), history, seen))
    .collect();
    let named: BTreeSet<&str> = stops
        .iter()
        .map(|(point, _, _)| point.split('@').next().unwrap())
        .collect();
    let every: BTreeSet<&str> = trailmap::failpoint::POINTS.iter().copied().collect();
    assert_eq!(named, every, "every point of the commit path is a stop");
    for (point, history, seen) in stops {
        let warehouse = tempfile::tempdir().unwrap();
        let into = warehouse.path().to_str().unwrap();
        if history {
            ingest(
                archive.path(),
                warehouse.path(),
                &["--to", "2025-03-01", "--delivery-margin", "0h"],
            );
            assert_eq!(event_counts(warehouse.path()).0, first_day);
        }
        let stopped = crate::common::trailmap_with_env(
            &["ingest", "-q", "-s", source, "--into", into],
            &[("TRAILMAP_FAILPOINT", &point)],
        );
        assert_eq!(
            stopped.status.code(),
            None,
            "{point}: the run was stopped there"
        );
        let (n, ids) = event_counts(warehouse.path());
        assert_eq!((n, ids), (seen, seen), "{point}, history {history}");
        let another = DeltaLog::read(warehouse.path()).event_ids(warehouse.path());
        assert_eq!(
            another.len() as u64,
            n,
            "{point}: another Delta reader agrees"
        );
        ingest(archive.path(), warehouse.path(), &[]);
        assert_eq!(event_counts(warehouse.path()), (total, total), "{point}");
        assert_exactly_once_for_another_reader(warehouse.path(), total as usize);
    }
}

#[test]
fn an_s3_endpoint_without_conditional_writes_is_refused_before_anything_is_written() {
    use crate::common::s3_server::{ConditionalWrites, Faults, S3Server};
    let root = tempfile::tempdir().unwrap();
    generate_trail_bucket(root.path(), 200, 1);
    std::fs::create_dir(root.path().join("warehouse-bucket")).unwrap();
    let server = S3Server::start(
        root.path(),
        Faults {
            conditional_writes: ConditionalWrites::Ignored,
            ..Faults::default()
        },
    );
    let output = ingest_over_s3(&server, "s3://warehouse-bucket/wh", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("s3://warehouse-bucket/wh")
            && stderr.contains("does not honour conditional writes"),
        "{stderr}"
    );
    let written: Vec<_> = walkdir::WalkDir::new(root.path().join("warehouse-bucket"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().display().to_string())
        .collect();
    assert!(written.is_empty(), "{written:?}");
}

#[test]
fn a_warehouse_of_an_earlier_trailmap_is_refused_whole_with_how_to_replace_it() {
    let old = tempfile::tempdir().unwrap();
    let commits = old.path().join("_trailmap/commits");
    std::fs::create_dir_all(&commits).unwrap();
    std::fs::write(
        commits.join("00000000000000000001.json"),
        r#"{"format":2,"number":1}"#,
    )
    .unwrap();
    let into = old.path().to_str().unwrap();
    for args in [
        vec!["query", "-s", into, "SELECT count(*) FROM events"],
        vec!["ingest", "-s", "sample-data", "--into", into],
    ] {
        let output = trailmap(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("earlier trailmap")
                && stderr.contains("trailmap ingest -s SOURCE... --into NEW"),
            "{stderr}"
        );
    }
    assert!(
        !old.path().join("_delta_log").exists(),
        "nothing was written"
    );
}

#[test]
fn rows_of_earlier_runs_calling_a_profile_a_later_run_learns_are_rewritten_resolved() {
    // Calls on March 1 through an application profile whose CreateInferenceProfile event is
    // in a file delivered on March 6: a first run ingests up to March 5 (the calls stay
    // unresolved, as over the raw archive cut the same way); the run that reads March 6 learns
    // the profile and rewrites March 1, so the warehouse answers as the whole raw archive does.
    let root = tempfile::tempdir().unwrap();
    let arn = "arn:aws:bedrock:eu-west-1:999988887777:application-inference-profile/later1";
    let calls: Vec<Value> = (0..4)
        .map(|i| {
            let served = match i % 2 {
                0 => serde_json::json!({"inferenceRegion": "eu-west-3"}),
                _ => serde_json::json!({}),
            };
            record(
                &format!("call-{i}"),
                "eu-west-1",
                1,
                "InvokeModel",
                serde_json::json!({
                    "requestParameters": {"modelId": arn},
                    "additionalEventData": served,
                }),
            )
        })
        .collect();
    write_log(root.path(), "eu-west-1", 1, &calls);
    let create = serde_json::json!({
        "requestParameters": {"inferenceProfileName": "later", "modelSource": {"copyFrom":
            "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"}},
        "responseElements": {"inferenceProfileArn": arn, "status": "ACTIVE"},
    });
    write_log(
        root.path(),
        "eu-west-1",
        6,
        &[record(
            "create",
            "eu-west-1",
            6,
            "CreateInferenceProfile",
            create,
        )],
    );
    let warehouse = tempfile::tempdir().unwrap();
    let cut = ["--to", "2025-03-05", "--delivery-margin", "0h"];
    ingest(root.path(), warehouse.path(), &cut);
    let sql = "SELECT event_id, model, routing_scope, served_region, served_geography FROM events ORDER BY event_id";
    let unresolved = query_json(warehouse.path(), &[], sql);
    // (JSON output leaves null columns out.)
    assert!(
        unresolved.iter().all(|row| !row.contains_key("model")),
        "{unresolved:?}"
    );
    assert_eq!(unresolved.len(), 4);
    let stderr = ingest(root.path(), warehouse.path(), &[]);
    assert!(stderr.contains("rewrote 1 day(s)"), "{stderr}");
    let over_raw = query_json(root.path(), &[], sql);
    assert_eq!(
        over_raw[0]["model"],
        "anthropic.claude-3-haiku-20240307-v1:0"
    );
    assert!(
        over_raw
            .iter()
            .any(|row| row.get("served_region") == Some(&Value::from("eu-west-1"))),
        "{over_raw:?}"
    );
    assert_eq!(query_json(warehouse.path(), &[], sql), over_raw);
    assert_eq!(event_counts(warehouse.path()), (5, 5));
    assert_exactly_once_for_another_reader(warehouse.path(), 5);
    assert_named_queries_agree(warehouse.path(), root.path());
}

#[test]
fn a_commit_whose_answer_was_lost_is_found_as_this_runs_and_kept() {
    use crate::common::s3_server::{Faults, S3Server};
    let root = tempfile::tempdir().unwrap();
    let trail = generate_trail_bucket(root.path(), 1_500, 2);
    let total = walk(&trail).len();
    std::fs::create_dir(root.path().join("warehouse-bucket")).unwrap();
    // The 1st commit PUT creates the table, the 2nd holds the events: each one's answer lost
    // in turn (the client retries and is told the commit exists).
    for lost in [1, 2] {
        let stored = root.path().join("warehouse-bucket/wh");
        let _ = std::fs::remove_dir_all(&stored);
        let server = S3Server::start(
            root.path(),
            Faults {
                lose_commit_answer: Some(lost),
                ..Faults::default()
            },
        );
        let output = ingest_over_s3(&server, "s3://warehouse-bucket/wh", &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "commit {lost}: {stderr}");
        assert_exactly_once_for_another_reader(&stored, total);
        let files = committed_files(&stored);
        assert!(
            files.iter().all(|f| stored.join(f).is_file()),
            "commit {lost}: files kept"
        );
        // (delta-rs, told the table's creation exists, commits it once more: harmless.)
        assert_eq!(
            DeltaLog::read(&stored).ledgers(&stored).len(),
            1,
            "commit {lost}: one data commit"
        );
    }
}

/// A run that read the table before another run committed other objects commits on top of
/// it: both runs' objects are in, each once.
#[cfg(feature = "failpoints")]
#[test]
fn a_run_overtaken_by_a_commit_of_other_objects_commits_on_top_of_it() {
    let archive = generated(GeneratorConfig {
        events: 3_000,
        days: 2,
        ..GeneratorConfig::default()
    });
    let total = walk(archive.path()).len();
    let warehouse = tempfile::tempdir().unwrap();
    // The table exists before both runs (each would otherwise create it).
    ingest(archive.path(), warehouse.path(), &["--from", "2030-01-01"]);
    // Split by account: no session is issued in one account and used in another, so neither
    // run's rows wait for the other's STS events (which would make the slow run start again).
    let accounts: Vec<String> = query_json(
        archive.path(),
        &[],
        "SELECT DISTINCT log_account AS a FROM events ORDER BY 1",
    )
    .into_iter()
    .map(|row| row["a"].as_str().unwrap().to_owned())
    .collect();
    let (first, rest) = accounts.split_first().unwrap();
    // The slow run reads the table, writes its files, then waits before committing.
    let slow = Command::new(env!("CARGO_BIN_EXE_trailmap"))
        .args(["ingest", "-s", archive.path().to_str().unwrap()])
        .args(["--into", warehouse.path().to_str().unwrap()])
        .args(["--account", first])
        .env("TRAILMAP_FAILPOINT", "files-durable:pause=8000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its files written, it is at the pause (or about to be).
    while files_on_disk(warehouse.path()).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut others = vec![];
    for account in rest {
        others.extend(["--account", account.as_str()]);
    }
    ingest(archive.path(), warehouse.path(), &others);
    let output = slow.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 commit(s) of other runs landed during this one"),
        "{stderr}"
    );
    assert_eq!(event_counts(warehouse.path()), (total as u64, total as u64));
    assert_exactly_once_for_another_reader(warehouse.path(), total);
}

#[test]
fn an_object_outside_the_layout_named_two_ways_is_one_object() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<Value> = (0..3)
        .map(|i| {
            record(
                &format!("e-{i}"),
                "eu-west-1",
                1,
                "ListFoundationModels",
                serde_json::json!({}),
            )
        })
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(
        &mut gz,
        serde_json::json!({ "Records": records })
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    std::fs::write(dir.path().join("export.json.gz"), gz.finish().unwrap()).unwrap();
    let warehouse = tempfile::tempdir().unwrap();
    let plain = dir.path().join("export.json.gz");
    let dotted = dir.path().join(".").join("export.json.gz");
    ingest(&plain, warehouse.path(), &[]);
    let again = ingest(&dotted, warehouse.path(), &[]);
    assert!(again.contains("up to date"), "{again}");
    assert_eq!(event_counts(warehouse.path()), (3, 3));
}

/// VACUUM refuses while an ingest runs: the run's files are in no version yet.
#[cfg(feature = "failpoints")]
#[test]
fn vacuum_waits_for_a_running_ingest() {
    let archive = generated(GeneratorConfig {
        events: 600,
        days: 1,
        ..GeneratorConfig::default()
    });
    let warehouse = tempfile::tempdir().unwrap();
    let into = warehouse.path().to_str().unwrap();
    let running = Command::new(env!("CARGO_BIN_EXE_trailmap"))
        .args([
            "ingest",
            "-q",
            "-s",
            archive.path().to_str().unwrap(),
            "--into",
            into,
        ])
        .env("TRAILMAP_FAILPOINT", "files-durable:pause=6000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while files_on_disk(warehouse.path()).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = trailmap(&["vacuum", "--into", into, "--retain", "1h"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("an ingest is running"), "{stderr}");
    assert!(running.wait_with_output().unwrap().status.success());
    let done = trailmap(&["vacuum", "--into", into, "--retain", "1h"]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_exactly_once_for_another_reader(warehouse.path(), walk(archive.path()).len());
}
