//! A deterministic generator of CloudTrail archives in the real key layout.
//!
//! `sample-data/` is made with it, and tests and benchmarks use it to make archives of any size:
//! the same config and seed always give the same bytes. An archive has an organization trail
//! (two accounts under `AWSLogs/o-.../`) and an account trail (`AWSLogs/ACCOUNT/`), several
//! source Regions, every Bedrock model id form, failed calls, non-Bedrock noise, some
//! pretty-printed files, one file with an empty `Records` array, and digest files.
//!
//! It also plants what an audit must not pass in silence: profile calls without
//! `inferenceRegion`, bedrock-mantle `CreateInference` calls, application profiles created in
//! the archive (and calls through one that is not), files delivered up to 20 hours after their
//! events, records whose `eventTime` does not parse and, with [`GeneratorConfig::bad`], a log
//! file with a second gzip member appended.

pub mod chain;
mod events;
pub(crate) mod rng;

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use flate2::{Compression, GzBuilder};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::verify::hash::sha256_hex;
use crate::verify::keys::SigningKey;
use chain::WrittenLog;
use events::Origin;
use rng::Rng;

/// The organization id of the generated organization trail.
pub const ORGANIZATION: &str = "o-a1b2c3d4e5";

/// `(account, under the organization trail, source Regions)`.
const ACCOUNTS: &[(&str, bool, &[&str])] = &[
    (
        "111122223333",
        true,
        &["us-east-1", "us-west-2", "eu-west-1"],
    ),
    (
        "444455556666",
        true,
        &["eu-central-1", "eu-west-1", "ap-northeast-1"],
    ),
    ("777788889999", false, &["us-east-1", "ap-southeast-2"]),
];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Records in all log files together.
    pub events: usize,
    /// Records per log file (the last file of a run may hold fewer).
    pub events_per_file: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// First day of the archive.
    pub start: NaiveDate,
    /// Days covered.
    pub days: u32,
    /// Percentage of records that are Bedrock invocations.
    pub invocation_percent: u64,
    /// Also write files CloudTrail never writes (a second gzip member appended to a log file).
    pub bad: bool,
    /// Write the hourly digest chain CloudTrail writes (else a few placeholder digest files,
    /// which only show that listing skips digests).
    pub digest_chain: Option<DigestChain>,
}

/// How to write the digest chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChain {
    /// The bucket the digests name (the archive is that bucket's content).
    pub bucket: String,
    /// A PEM RSA private key to sign the digests with (unsigned without).
    pub signing_key_pem: Option<String>,
}

/// The bucket generated digests name by default.
pub const DEFAULT_BUCKET: &str = "org-trail-logs";

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            events: 3_000,
            events_per_file: 60,
            seed: 42,
            start: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap_or_default(),
            days: 7,
            invocation_percent: 60,
            bad: false,
            digest_chain: None,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Generated {
    /// Log files written (including the empty one).
    pub log_files: usize,
    /// Records in them.
    pub events: usize,
    /// Digest files written.
    pub digest_files: usize,
    /// Files that are not valid CloudTrail log files (with [`GeneratorConfig::bad`]).
    pub bad_files: usize,
    /// The digests' signatures, when signed.
    pub signatures: Vec<crate::verify::signatures::SavedSignature>,
}

/// One log file to write.
struct FilePlan {
    index: usize,
    account: &'static str,
    org: bool,
    region: &'static str,
    /// When CloudTrail would normally deliver the events (a few minutes after them).
    delivered: DateTime<Utc>,
    /// How much later than that the file was actually delivered (its key's time).
    late: Duration,
    events: usize,
}

impl FilePlan {
    fn prefix(&self) -> String {
        match self.org {
            true => format!("AWSLogs/{ORGANIZATION}/{}", self.account),
            false => format!("AWSLogs/{}", self.account),
        }
    }

    fn path(&self, rng: &mut Rng) -> String {
        let d = self.delivered + self.late;
        let id = rng.string(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            16,
        );
        format!(
            "{}/CloudTrail/{}/{}/{}_CloudTrail_{}_{}_{id}.json.gz",
            self.prefix(),
            self.region,
            d.format("%Y/%m/%d"),
            self.account,
            self.region,
            d.format("%Y%m%dT%H%MZ"),
        )
    }

    /// The log file as a digest names it.
    fn written(&self, key: String, json: &[u8]) -> WrittenLog {
        WrittenLog {
            account: self.account,
            region: self.region,
            key,
            delivered: self.delivered + self.late,
            sha256: sha256_hex(json),
        }
    }
}

fn plan_files(config: &GeneratorConfig) -> Vec<FilePlan> {
    let routes: Vec<(&'static str, bool, &'static str)> = ACCOUNTS
        .iter()
        .flat_map(|(account, org, regions)| regions.iter().map(move |r| (*account, *org, *r)))
        .collect();
    let per_file = config.events_per_file.max(1);
    let files = config.events.div_ceil(per_file).max(1);
    let start = config
        .start
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let span_minutes = i64::from(config.days.max(1)) * 24 * 60;
    (0..files)
        .map(|index| {
            let (account, org, region) = routes[index % routes.len()];
            let offset = span_minutes * index as i64 / files as i64;
            let events = per_file.min(config.events.saturating_sub(index * per_file));
            // One file in thirteen arrives 1 to 20 hours late (20 hours for the first).
            let late = if index % 13 == 6 {
                Duration::hours(20 - (index as i64 / 13 * 7) % 20)
            } else {
                Duration::zero()
            };
            FilePlan {
                index,
                account,
                org,
                region,
                delivered: start + Duration::minutes(offset + 15),
                late,
                events,
            }
        })
        .collect()
}

/// The records of a file. The first file of each account and Region opens with the
/// `CreateInferenceProfile` event of its application profile; one file in seventeen holds a
/// record whose `eventTime` is missing or does not parse.
fn records(plan: &FilePlan, config: &GeneratorConfig, rng: &mut Rng) -> Vec<Value> {
    let mut records = timed_records(plan, config, rng);
    if plan.index < route_count()
        && let Some(first) = records.first_mut()
    {
        let origin = Origin {
            account: plan.account,
            region: plan.region,
            time: plan.delivered - Duration::minutes(14),
        };
        *first = events::create_application_profile(&origin, rng);
    }
    if plan.index % 17 == 3
        && let Some(record) = records.get_mut(plan.events / 2)
    {
        events::spoil_event_time(record, plan.index.is_multiple_of(2));
    }
    plant_trail_changes(plan, config, &mut records);
    records.iter_mut().for_each(events::tie_to_session);
    records
}

/// The index of the file whose first record switches the trail's data events on: the first
/// file of the trail's home (the first account and Region) from the middle of the archive.
fn switch_file(config: &GeneratorConfig) -> usize {
    let files = config.events.div_ceil(config.events_per_file.max(1)).max(1);
    files / 2 / route_count() * route_count()
}

/// The trail's own story, without touching the rest of the random stream: the first file opens
/// with its `CreateTrail` (management events only); the switch file's first record is the
/// `PutEventSelectors` that adds the inference data events; mantle calls before it are not in
/// the archive (the trail did not record them); two files after the switch (the first account
/// in eu-west-1), one call on each other surface.
fn plant_trail_changes(plan: &FilePlan, config: &GeneratorConfig, records: &mut [Value]) {
    let mut rng = Rng::new(config.seed ^ plan.index as u64, 0x0074_7261_696c);
    let switch = switch_file(config);
    let time_of = |record: &Value| {
        record["eventTime"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map_or(plan.delivered, |t| t.with_timezone(&chrono::Utc))
    };
    let origin = |time| events::Origin {
        account: plan.account,
        region: plan.region,
        time,
    };
    if plan.index < switch {
        records
            .iter_mut()
            .filter(|r| events::is_mantle(r))
            .for_each(events::unrecorded_as_caller_check);
    }
    if plan.index == 0
        && let Some(last) = records.last_mut()
    {
        let start = plan.delivered - Duration::minutes(15);
        *last = events::create_trail(&origin(start), &mut rng);
    } else if plan.index == switch
        && switch > 0
        && let Some(first) = records.first_mut()
    {
        *first = events::put_event_selectors(&origin(time_of(first)), &mut rng);
    } else if plan.index == switch + 2 && records.len() > 6 {
        let time = time_of(&records[1]);
        for (slot, record) in records[1..6]
            .iter_mut()
            .zip(events::other_surfaces(&origin(time), &mut rng))
        {
            *slot = record;
        }
    }
}

fn route_count() -> usize {
    ACCOUNTS.iter().map(|(_, _, regions)| regions.len()).sum()
}

fn timed_records(plan: &FilePlan, config: &GeneratorConfig, rng: &mut Rng) -> Vec<Value> {
    let mut times: Vec<i64> = (0..plan.events)
        .map(|_| rng.below(13 * 60) as i64)
        .collect();
    times.sort_unstable_by(|a, b| b.cmp(a));
    times
        .into_iter()
        .map(|seconds_before| {
            let origin = Origin {
                account: plan.account,
                region: plan.region,
                time: plan.delivered - Duration::seconds(60 + seconds_before),
            };
            if rng.percent(config.invocation_percent) {
                events::invocation(&origin, rng)
            } else {
                events::noise(&origin, rng)
            }
        })
        .collect()
}

/// JSON with object keys sorted, whether or not serde_json's `preserve_order` feature is on
/// (other crates in a build may switch it on), so an archive is the same bytes in every build.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

fn write_gzip(path: &Path, json: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(file, Compression::default());
    gz.write_all(json)?;
    gz.finish()?.flush()
}

fn write_log_file(
    dir: &Path,
    plan: &FilePlan,
    config: &GeneratorConfig,
) -> std::io::Result<(usize, WrittenLog)> {
    let mut rng = Rng::new(config.seed, plan.index as u64);
    let key = plan.path(&mut rng);
    let records = records(plan, config, &mut rng);
    let body = canonical(json!({ "Records": records }));
    let json = if plan.index % 9 == 4 {
        serde_json::to_vec_pretty(&body)
    } else {
        serde_json::to_vec(&body)
    }
    .map_err(std::io::Error::other)?;
    write_gzip(&dir.join(&key), &json)?;
    Ok((records.len(), plan.written(key, &json)))
}

/// A placeholder digest (not a chain), for archives without [`GeneratorConfig::digest_chain`].
fn write_placeholder_digest(dir: &Path, plan: &FilePlan) -> std::io::Result<()> {
    let d = plan.delivered;
    let path = dir.join(format!(
        "{}/CloudTrail-Digest/{}/{}/{}_CloudTrail-Digest_{}_trail_{}_{}.json.gz",
        plan.prefix(),
        plan.region,
        d.format("%Y/%m/%d"),
        plan.account,
        plan.region,
        plan.region,
        d.format("%Y%m%dT%H%M%SZ"),
    ));
    let digest = json!({
        "awsAccountId": plan.account,
        "digestStartTime": (d - Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "digestEndTime": d.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "digestS3Bucket": "org-trail-logs",
        "digestSignatureAlgorithm": "SHA256withRSA",
        "logFiles": []
    });
    write_gzip(
        &path,
        &serde_json::to_vec(&canonical(digest)).map_err(std::io::Error::other)?,
    )
}

/// Writes a copy of the first log file with a second gzip member appended (one more record):
/// CloudTrail never writes one, and `aws cloudtrail validate-logs` rejects it.
fn write_appended_member(
    dir: &Path,
    first: &FilePlan,
    config: &GeneratorConfig,
) -> std::io::Result<usize> {
    let plan = FilePlan {
        index: usize::MAX / 2,
        delivered: first.delivered + Duration::minutes(1),
        ..*first
    };
    let mut rng = Rng::new(config.seed, plan.index as u64);
    let path = dir.join(plan.path(&mut rng));
    let records = records(&plan, config, &mut rng);
    let extra = records.first().cloned().unwrap_or(Value::Null);
    let mut bytes = gzip_bytes(&serde_json::to_vec(&canonical(
        json!({ "Records": records }),
    ))?)?;
    bytes.extend(gzip_bytes(&serde_json::to_vec(&canonical(
        json!({ "Records": [extra] }),
    ))?)?);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)?;
    Ok(1)
}

fn gzip_bytes(json: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::default());
    gz.write_all(json)?;
    gz.finish()
}

/// Writes an archive under `dir` (created if needed).
pub fn generate(dir: &Path, config: &GeneratorConfig) -> std::io::Result<Generated> {
    let plans = plan_files(config);
    let written: Vec<(usize, WrittenLog)> = plans
        .par_iter()
        .map(|plan| write_log_file(dir, plan, config))
        .collect::<std::io::Result<_>>()?;
    let events = written.iter().map(|(n, _)| n).sum();
    let mut logs: Vec<WrittenLog> = written.into_iter().map(|(_, log)| log).collect();
    // A file with an empty Records array, as CloudTrail writes when nothing happened.
    if let Some(last) = plans.last() {
        let empty = FilePlan {
            index: plans.len(),
            events: 0,
            delivered: last.delivered + Duration::minutes(5),
            late: Duration::zero(),
            ..*last
        };
        let mut rng = Rng::new(config.seed, empty.index as u64);
        let key = empty.path(&mut rng);
        let json = br#"{"Records":[]}"#;
        write_gzip(&dir.join(&key), json)?;
        logs.push(empty.written(key, json));
    }
    let mut signatures = Vec::new();
    let digests = match &config.digest_chain {
        Some(chain) => {
            let key = chain
                .signing_key_pem
                .as_deref()
                .map(|pem| SigningKey::from_pem(pem, "the signing key"))
                .transpose()
                .map_err(std::io::Error::other)?;
            let start = config
                .start
                .and_hms_opt(0, 0, 0)
                .unwrap_or_default()
                .and_utc();
            let end = start + Duration::days(i64::from(config.days));
            let written =
                chain::write_chain(dir, &chain.bucket, key.as_ref(), (start, end), &logs)?;
            signatures = written.signatures;
            written.digests
        }
        None => {
            // One placeholder per Region route on the first and last day.
            let last_day = plans.len().saturating_sub(8).max(8);
            let mut count = 0;
            for plan in plans.iter().take(8).chain(plans.iter().skip(last_day)) {
                write_placeholder_digest(dir, plan)?;
                count += 1;
            }
            count
        }
    };
    let bad_files = match (config.bad, plans.first()) {
        (true, Some(first)) => write_appended_member(dir, first, config)?,
        _ => 0,
    };
    Ok(Generated {
        log_files: plans.len() + 1,
        events,
        digest_files: digests,
        bad_files,
        signatures,
    })
}
