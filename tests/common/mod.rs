//! Shared test helpers: run the real binary, generate archives, and an independent reading of
//! an archive (a plain flate2 + serde_json::Value walk) to compare trailmap's answers with.

#![allow(dead_code)]

pub mod chain_signer;
pub mod cloudtrail;
pub mod delta;
pub mod s3_server;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use trailmap::generate::{GeneratorConfig, generate};

/// A port free now on 127.0.0.1 (and, with `pair`, the next one too: an executor takes two).
pub fn free_port(pair: bool) -> u16 {
    loop {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("its address").port();
        if !pair || std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

/// Runs `trailmap` with `args`.
pub fn trailmap(args: &[&str]) -> Output {
    trailmap_with_env(args, &[])
}

/// Runs `trailmap` with `args` and extra environment variables.
pub fn trailmap_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trailmap"));
    command
        .args(args)
        .env_remove("TRAILMAP_SOURCE")
        .env_remove("TRAILMAP_LOG");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the trailmap binary runs")
}

/// Stdout as text; panics with stderr if the command failed.
pub fn stdout_ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "trailmap failed ({:?}): {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

/// Stderr as text, asserting the command ended with exit code 2 (an error trailmap reports).
pub fn stderr_of_exit_2(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs a query with `--format json` and returns the rows.
pub fn query_json(source: &Path, extra: &[&str], sql: &str) -> Vec<serde_json::Map<String, Value>> {
    query_json_with_env(source, extra, sql, &[])
}

/// [`query_json`] with extra environment variables.
pub fn query_json_with_env(
    source: &Path,
    extra: &[&str],
    sql: &str,
    env: &[(&str, &str)],
) -> Vec<serde_json::Map<String, Value>> {
    let source = source.to_str().expect("utf-8 path");
    let mut args = vec!["query", "-s", source, "--format", "json"];
    args.extend_from_slice(extra);
    args.push(sql);
    let text = stdout_ok(&trailmap_with_env(&args, env));
    let rows: Vec<Value> = serde_json::from_str(&text).expect("JSON array output");
    rows.into_iter()
        .map(|row| match row {
            Value::Object(map) => map,
            other => panic!("row is not an object: {other}"),
        })
        .collect()
}

/// `--assume-recorded` for every surface: for tests of judging, not of what the trail records
/// (tests/coverage.rs).
pub const ASSUME_ALL_RECORDED: &[&str] = &[
    "--assume-recorded",
    "bidirectional-stream",
    "--assume-recorded",
    "async",
    "--assume-recorded",
    "mantle",
    "--assume-recorded",
    "knowledge-base",
    "--assume-recorded",
    "agent",
    "--assume-recorded",
    "flow",
    "--assume-recorded",
    "claude-platform",
];

/// Writes a residency policy into `dir` and returns its path.
pub fn policy_file(dir: &Path, text: &str) -> String {
    let path = dir.join(format!("policy-{}.toml", text.len()));
    std::fs::write(&path, text).expect("write policy");
    path.to_str().expect("utf-8 path").to_owned()
}

/// Runs `trailmap audit --format json` and returns the exit code, the report (null when the
/// audit printed none) and stderr.
pub fn audit_run(source: &Path, policy: &str, extra: &[&str]) -> (Option<i32>, Value, String) {
    let source = source.to_str().expect("utf-8 path");
    let mut args = vec![
        "audit", "-s", source, "--policy", policy, "--format", "json",
    ];
    args.extend_from_slice(extra);
    let output = trailmap(&args);
    let report = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), report, stderr)
}

/// `key column → count column` of query rows, as strings → integers.
pub fn counts(
    rows: &[serde_json::Map<String, Value>],
    key: &str,
    count: &str,
) -> BTreeMap<String, u64> {
    rows.iter()
        .map(|row| {
            let k = match &row.get(key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => "<null>".to_owned(),
                Some(other) => other.to_string(),
            };
            (k, row[count].as_u64().expect("integer count"))
        })
        .collect()
}

/// Generates an archive in a new temporary directory.
pub fn generated(config: GeneratorConfig) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    generate(dir.path(), &config).expect("generate archive");
    dir
}

/// One record as the independent walk sees it.
#[derive(Debug, Clone)]
pub struct WalkedRecord {
    pub path: PathBuf,
    pub record: Value,
    /// For a call through an application profile created in the walked archive: what the
    /// profile copies (`requestParameters.modelSource.copyFrom` of its CreateInferenceProfile).
    pub profile_copies: Option<String>,
}

const SCOPES: &[&str] = &["global", "us", "eu", "apac", "jp", "au", "ca", "us-gov"];

impl WalkedRecord {
    pub fn str(&self, pointer: &str) -> Option<&str> {
        self.record.pointer(pointer).and_then(Value::as_str)
    }

    /// The inference surface, by a reading of AWS's pages written apart from trailmap's catalogue:
    /// which event names run a model on which event source.
    pub fn surface(&self) -> Option<&'static str> {
        let name = self.str("/eventName")?;
        let surface = match self.str("/eventSource")? {
            "bedrock.amazonaws.com" => match name {
                "InvokeModel" | "InvokeModelWithResponseStream" | "Converse" | "ConverseStream" => {
                    "runtime"
                }
                "InvokeModelWithBidirectionalStream" => "bidirectional-stream",
                "StartAsyncInvoke" => "async",
                "CreateModelInvocationJob" => "batch",
                "Retrieve"
                | "RetrieveAndGenerate"
                | "RetrieveAndGenerateStream"
                | "GenerateQuery" => "knowledge-base",
                "InvokeAgent" | "InvokeInlineAgent" => "agent",
                "InvokeFlow" => "flow",
                _ => return None,
            },
            "bedrock-mantle.amazonaws.com" if name == "CreateInference" => "mantle",
            "aws-external-anthropic.amazonaws.com"
                if name == "CreateInference" || name == "CreateBatchInference" =>
            {
                "claude-platform"
            }
            _ => return None,
        };
        Some(surface)
    }

    /// A call that runs a model, on any surface.
    pub fn is_invocation(&self) -> bool {
        self.surface().is_some()
    }

    /// Whether the model id decides where the call may run (the surfaces that send one and log
    /// `inferenceRegion` when a profile routes them); the others never prove a Region.
    fn region_follows_model(&self) -> bool {
        matches!(
            self.surface(),
            Some("runtime" | "bidirectional-stream" | "async" | "batch" | "mantle")
        )
    }

    /// `requestParameters.modelId`, or `requestParameters.model` (bedrock-mantle).
    pub fn model_id(&self) -> Option<&str> {
        self.str("/requestParameters/modelId")
            .or(self.str("/requestParameters/model"))
    }

    /// Whether the call cannot leave its source Region: a model id without any profile, or an
    /// application profile known to copy a foundation model.
    pub fn stays_in_region(&self) -> bool {
        let Some(id) = self.model_id() else {
            return false;
        };
        if id.contains(":application-inference-profile/") {
            return self
                .profile_copies
                .as_deref()
                .is_some_and(|c| c.contains(":foundation-model/"));
        }
        if id.starts_with("arn:") {
            return id.contains(":foundation-model/");
        }
        !SCOPES.contains(&id.split('.').next().unwrap_or_default())
    }

    /// Where the call ran, as the log proves it: inferenceRegion, or awsRegion for an
    /// invocation that cannot leave it; otherwise unknown. Calls on a surface AWS logs no
    /// served Region for (knowledge bases, agents, flows, Claude Platform) have none.
    pub fn served_region(&self) -> Option<&str> {
        if self.is_invocation() && !self.region_follows_model() {
            return None;
        }
        self.str("/additionalEventData/inferenceRegion")
            .or_else(|| {
                (self.region_follows_model() && self.stays_in_region())
                    .then(|| self.str("/awsRegion"))
                    .flatten()
            })
    }

    pub fn succeeded(&self) -> bool {
        self.record.get("errorCode").is_none_or(Value::is_null)
    }

    /// Profile scope by a deliberately simple second reading of the model id.
    pub fn profile_scope(&self) -> Option<String> {
        let id = self.model_id()?;
        if id.contains(":application-inference-profile/") {
            return Some("application".into());
        }
        let id = id.rsplit('/').next()?;
        let first = id.split('.').next()?;
        SCOPES.contains(&first).then(|| first.to_owned())
    }
}

/// Every record of every log file under `dir`, skipping digest files and unreadable files, with
/// application profiles resolved from the CreateInferenceProfile events among them.
pub fn walk(dir: &Path) -> Vec<WalkedRecord> {
    let mut records = walk_files(dir);
    let copies: BTreeMap<String, String> = records
        .iter()
        .filter(|r| {
            r.str("/eventName") == Some("CreateInferenceProfile")
                && r.record.get("errorCode").is_none_or(Value::is_null)
        })
        .filter_map(|r| {
            Some((
                r.str("/responseElements/inferenceProfileArn")?.to_owned(),
                r.str("/requestParameters/modelSource/copyFrom")?.to_owned(),
            ))
        })
        .collect();
    for r in &mut records {
        r.profile_copies = r.model_id().and_then(|id| copies.get(id)).cloned();
    }
    records
}

fn walk_files(dir: &Path) -> Vec<WalkedRecord> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.expect("walk");
        let path = entry.path();
        let name = path.to_string_lossy();
        if !entry.file_type().is_file()
            || name.contains("CloudTrail-Digest")
            || !name.contains(".json")
        {
            continue;
        }
        let raw = std::fs::read(path).expect("read");
        let mut json = Vec::new();
        if name.ends_with(".gz") {
            // One gzip member and nothing after it, as CloudTrail writes them.
            let mut member = flate2::bufread::GzDecoder::new(&raw[..]);
            if member.read_to_end(&mut json).is_err() || !member.into_inner().is_empty() {
                continue;
            }
        } else {
            json = raw;
        }
        let Ok(Value::Object(file)) = serde_json::from_slice::<Value>(&json) else {
            continue;
        };
        let Some(Value::Array(records)) = file.get("Records") else {
            continue;
        };
        out.extend(records.iter().map(|r| WalkedRecord {
            path: path.to_owned(),
            record: r.clone(),
            profile_copies: None,
        }));
    }
    out
}

/// Counts of `f(record)` over records.
pub fn tally<'a>(
    records: impl Iterator<Item = &'a WalkedRecord>,
    f: impl Fn(&WalkedRecord) -> Option<String>,
) -> BTreeMap<String, u64> {
    let mut map = BTreeMap::new();
    for r in records {
        *map.entry(f(r).unwrap_or_else(|| "<null>".into()))
            .or_default() += 1;
    }
    map
}

/// Copies the directory tree `from` into `to`.
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let target = to.join(entry.path().strip_prefix(from).expect("inside"));
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
