//! A real Ballista cluster on loopback: `trailmap scheduler` and two `trailmap executor`s as
//! child processes on free ports, statements sent with `--cluster`. Answers must equal the
//! single-process run row for row, over a raw archive on the in-process S3 server and over a
//! warehouse; both executors must run tasks; an executor killed mid-query gives the right
//! answer or a clear error, never a wrong answer.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::s3_server::{Faults, S3Server};
use crate::common::*;
use trailmap::generate::{GeneratorConfig, generate};

/// A scheduler and its executors, killed (and reaped) when dropped.
struct Cluster {
    scheduler: Child,
    executors: Vec<Child>,
    url: String,
    logs: tempfile::TempDir,
}

fn spawn(args: &[&str], env: &[(&str, String)], log: &Path) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trailmap"));
    command
        .args(args)
        .env("TRAILMAP_LOG", "trailmap=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("trailmap starts")
}

impl Cluster {
    /// A scheduler and `executors` executors (2 tasks at a time each), reaching S3 with `env`.
    fn start(executors: usize, env: &[(&str, String)]) -> Cluster {
        let logs = tempfile::tempdir().unwrap();
        let port = free_port(false);
        let bind = format!("127.0.0.1:{port}");
        let scheduler = spawn(
            &["scheduler", "--bind", &bind, "--executor-timeout", "10"],
            env,
            &logs.path().join("scheduler.log"),
        );
        wait_for_port(port);
        let executors = (0..executors)
            .map(|i| {
                let own = format!("127.0.0.1:{}", free_port(true));
                spawn(
                    &[
                        "executor",
                        "--scheduler",
                        &bind,
                        "--bind",
                        &own,
                        "--concurrency",
                        "2",
                    ],
                    env,
                    &logs.path().join(format!("executor-{i}.log")),
                )
            })
            .collect();
        Cluster {
            scheduler,
            executors,
            url: format!("df://{bind}"),
            logs,
        }
    }

    /// Tasks executor `i` has run so far.
    fn tasks(&self, i: usize) -> usize {
        let log = std::fs::read_to_string(self.logs.path().join(format!("executor-{i}.log")))
            .unwrap_or_default();
        log.matches("running task").count()
    }

    /// Every process's log, for failure messages.
    fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.logs.path()).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: String = text.lines().rev().take(15).collect::<Vec<_>>().join("\n");
            all.push_str(&format!(
                "== {} (last lines, newest first)\n{tail}\n",
                path.display()
            ));
        }
        all
    }

    /// Runs `sql` on the cluster until both executors have run tasks (executors join the
    /// scheduler a moment after they start), at most a minute.
    fn warm_up(&self, source: &str, env: &[(&str, &str)]) {
        let started = Instant::now();
        while (0..self.executors.len()).any(|i| self.tasks(i) == 0) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "executors never all ran tasks:\n{}",
                self.logs()
            );
            let output = trailmap_with_env(
                &[
                    "query",
                    "--cluster",
                    &self.url,
                    "-s",
                    source,
                    "SELECT count(*) FROM events",
                ],
                env,
            );
            assert!(
                output.status.success(),
                "{}\n{}",
                String::from_utf8_lossy(&output.stderr),
                self.logs()
            );
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.executors.iter_mut().chain([&mut self.scheduler]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for_port(port: u16) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "scheduler did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// CSV with its rows sorted (a query may order ties either way), the header first.
fn sorted_csv(text: &str) -> String {
    let mut lines: Vec<&str> = text.lines().collect();
    if lines.len() > 1 {
        lines[1..].sort_unstable();
    }
    lines.join("\n")
}

/// Every named query's CSV answer over `source`, with `extra` arguments.
fn named_answers(source: &str, extra: &[&str], env: &[(&str, &str)]) -> Vec<(String, String)> {
    trailmap::queries::all()
        .map(|query| {
            let mut args = vec!["query", "-s", source, "--format", "csv"];
            args.extend_from_slice(extra);
            args.push(query.name);
            let output = trailmap_with_env(&args, env);
            (query.name.to_owned(), sorted_csv(&stdout_ok(&output)))
        })
        .collect()
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

const EVERY_EVENT: &str = "SELECT event_id, event_time, event_name, served_region, model, profile_scope, \
    principal_arn, error_code, request_parameters, log_file, log_account, log_region, log_date \
    FROM events ORDER BY event_id";

#[test]
fn a_cluster_answers_as_one_process_over_s3_and_a_warehouse() {
    let root = tempfile::tempdir().unwrap();
    let bucket = root.path().join("trail-bucket");
    generate(
        &bucket,
        &GeneratorConfig {
            events: 4_000,
            events_per_file: 40,
            days: 4,
            seed: 11,
            ..GeneratorConfig::default()
        },
    )
    .unwrap();
    let server = S3Server::start(root.path(), Faults::default());
    let env = server.env();
    let cluster = Cluster::start(2, &env);
    let env = env_refs(&env);
    let s3 = "s3://trail-bucket/AWSLogs/";
    cluster.warm_up(s3, &env);
    let on_cluster = ["--cluster", cluster.url.as_str()];

    // Raw archive on S3: the executors fetch and decode the objects themselves.
    let local = named_answers(s3, &[], &env);
    let remote = named_answers(s3, &on_cluster, &env);
    assert_eq!(local, remote, "{}", cluster.logs());
    let every = |extra: &[&str], source: &str| {
        let mut args = vec!["query", "-s", source, "--format", "csv"];
        args.extend_from_slice(extra);
        args.push(EVERY_EVENT);
        stdout_ok(&trailmap_with_env(&args, &env))
    };
    let all_local = every(&[], s3);
    assert_eq!(all_local, every(&on_cluster, s3), "{}", cluster.logs());
    // The independent walk agrees on the count the cluster gives.
    let counted = query_json_with_env(
        Path::new(s3),
        &on_cluster,
        "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events",
        &env,
    );
    let walked = walk(&bucket).len() as u64;
    assert_eq!(counted[0]["n"], walked);
    assert_eq!(counted[0]["ids"], walked);
    // The command line's cut travels with the scan.
    let cut = [
        "--from",
        "2025-03-02",
        "--to",
        "2025-03-03T06:00:00Z",
        "--source-region",
        "eu-west-1",
    ];
    let cut_on_cluster: Vec<&str> = cut.iter().chain(&on_cluster).copied().collect();
    assert_eq!(
        named_answers(s3, &cut, &env),
        named_answers(s3, &cut_on_cluster, &env)
    );

    // A warehouse of the same archive: DataFusion's Parquet scan on the executors.
    let warehouse = tempfile::tempdir().unwrap();
    let into = warehouse.path().to_str().unwrap();
    stdout_ok(&trailmap_with_env(
        &["ingest", "-q", "-s", s3, "--into", into],
        &env,
    ));
    assert_eq!(local, named_answers(into, &on_cluster, &env));
    assert_eq!(all_local, every(&on_cluster, into));
    let errors = query_json_with_env(
        warehouse.path(),
        &on_cluster,
        "SELECT count(*) AS n FROM load_errors",
        &env,
    );
    assert_eq!(errors[0]["n"], 0);

    // Ingest on the cluster: the executors decode, the client writes and commits. The same
    // answers; each object's rows checked against a count made on the cluster; a second run
    // finds nothing new.
    let ingested_on_cluster = tempfile::tempdir().unwrap();
    let into = ingested_on_cluster.path().to_str().unwrap();
    let ingest = |quiet: bool| {
        let mut args = vec!["ingest", "-s", s3, "--into", into];
        if quiet {
            args.push("-q");
        }
        args.extend_from_slice(&on_cluster);
        trailmap_with_env(&args, &env)
    };
    stdout_ok(&ingest(true));
    assert_eq!(local, named_answers(into, &[], &env));
    assert_eq!(all_local, every(&[], into));
    let again = ingest(false);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        again.status.success() && said.contains("up to date"),
        "{said}"
    );

    // The audit over the cluster: same verdict, same findings.
    let policy = "queries/policies/eu-residency.toml";
    let audit = |extra: &[&str]| {
        let mut args = vec!["audit", "-s", s3, "--policy", policy, "--format", "json"];
        args.extend_from_slice(extra);
        let output = trailmap_with_env(&args, &env);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
        let mut violations: Vec<String> = json["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect();
        violations.sort_unstable();
        (
            output.status.code(),
            violations,
            json["rules"].clone(),
            json["complete"].clone(),
            json["coverage"].clone(),
        )
    };
    assert_eq!(audit(&[]), audit(&on_cluster));
    // With --from/--to the records whose eventTime does not parse cannot be placed: one
    // process says so (incomplete, exit 2), and so must the cluster, with the same coverage
    // (bad times, delivery lag), counted by the executors.
    let times = ["--from", "2025-03-02", "--to", "2025-03-03T06:00:00Z"];
    let times_on_cluster: Vec<&str> = times.iter().chain(&on_cluster).copied().collect();
    let local_cut = audit(&times);
    assert_eq!(local_cut.0, Some(2), "{:#}", local_cut.4);
    assert!(local_cut.4["events_left_out_for_bad_time"].as_u64() > Some(0));
    assert!(local_cut.4["max_delivery_lag"].is_string());
    assert_eq!(local_cut, audit(&times_on_cluster));

    // What the trail records: the executors' search finds the archive's trail events as one
    // process finds them, so the blind spots are the same.
    let blind_spots = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "-s",
            s3,
            "--policy",
            "queries/policies/every-surface.toml",
            "--trail",
            "org-trail",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let output = trailmap_with_env(&args, &env);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
        (
            output.status.code(),
            json["blind_spots"].clone(),
            json["coverage"]["trail_coverage"].clone(),
        )
    };
    let local_blind = blind_spots(&[]);
    assert_eq!(local_blind.0, Some(2));
    let bases: Vec<&str> = local_blind
        .2
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["basis"].as_str())
        .collect();
    assert!(
        bases.iter().any(|b| b.starts_with("PutEventSelectors at")),
        "{bases:?}"
    );
    assert_eq!(local_blind, blind_spots(&on_cluster));

    // Both executors ran tasks.
    assert!(
        cluster.tasks(0) > 0 && cluster.tasks(1) > 0,
        "{}",
        cluster.logs()
    );
}

#[test]
fn a_raw_archive_table_read_by_the_client_and_a_missing_scheduler_are_refused_with_a_reason() {
    let cluster = Cluster::start(1, &[]);
    let output = trailmap(&[
        "query",
        "--cluster",
        &cluster.url,
        "-s",
        "sample-data",
        "SELECT count(*) FROM load_errors",
    ]);
    let stderr = stderr_of_exit_2(&output);
    assert!(
        stderr.contains("load_errors table of a raw archive"),
        "{stderr}"
    );
    assert!(stderr.contains("without --cluster"), "{stderr}");
    // A scheduler that is not there is said before anything runs.
    let nowhere = format!("df://127.0.0.1:{}", free_port(false));
    let output = trailmap(&[
        "query",
        "--cluster",
        &nowhere,
        "-s",
        "sample-data",
        "served-regions",
    ]);
    let stderr = stderr_of_exit_2(&output);
    assert!(
        stderr.contains("cannot reach the scheduler at df://127.0.0.1:"),
        "{stderr}"
    );
}

#[test]
fn an_executor_killed_mid_query_never_gives_a_wrong_answer() {
    let archive = generated(GeneratorConfig {
        events: 40_000,
        events_per_file: 100,
        days: 4,
        ..GeneratorConfig::default()
    });
    let source = archive.path().to_str().unwrap();
    let sql = "SELECT log_account, count(*) AS n, count(DISTINCT event_id) AS ids FROM events GROUP BY 1 ORDER BY 1";
    let expected = stdout_ok(&trailmap(&["query", "-s", source, "--format", "csv", sql]));
    let mut cluster = Cluster::start(2, &[]);
    cluster.warm_up(source, &[]);
    let mut query = Command::new(env!("CARGO_BIN_EXE_trailmap"))
        .args([
            "query",
            "--cluster",
            &cluster.url,
            "-s",
            source,
            "--format",
            "csv",
            sql,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the second executor once it has started a task of this query.
    let before = cluster.tasks(1);
    let started = Instant::now();
    while cluster.tasks(1) == before && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        cluster.tasks(1) > before,
        "the executor never started a task of the query"
    );
    assert!(
        query.try_wait().unwrap().is_none(),
        "the query ended before the executor was killed"
    );
    cluster.executors[1].kill().unwrap();
    cluster.executors[1].wait().unwrap();
    let output = query.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!(
        "killed an executor mid-query: {:?}: {stderr}",
        output.status.code()
    );
    if output.status.success() {
        assert_eq!(
            stdout, expected,
            "a retried query must give the right answer"
        );
    } else {
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stdout.is_empty(), "no partial answer: {stdout}");
        assert!(stderr.contains("trailmap: error"), "{stderr}");
    }
}
