//! Hot paths, measured: inflate, decode (few columns vs all), and the end-to-end scan of the
//! served-Region distribution through DataFusion, beside the bare loop of NOTES.md and inflating
//! alone on the same threads.
//! `cargo bench --bench scan`; `TRAILMAP_BENCH_EVENTS=500000 cargo bench --bench scan` for the
//! archive size of `benches/compare.sh`.

use std::path::PathBuf;

use std::collections::HashMap;
use std::sync::Arc;

mod common;

use common::{fixed_threads, served_regions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryPool, MemoryReservation, UnboundedMemoryPool,
};
use rayon::prelude::*;
use serde::Deserialize;
use trailmap::decode::{DecodePlan, decode_file};
use trailmap::filter::ScanFilter;
use trailmap::generate::{GeneratorConfig, generate};
use trailmap::layout::key::FileContext;
use trailmap::schema::Column;
use trailmap::source::{SourceSpec, aws::AwsOptions};

struct Archive {
    _dir: tempfile::TempDir,
    root: PathBuf,
    files: Vec<(FileContext, Vec<u8>)>,
    json_bytes: u64,
}

/// A number from the environment variable `name`, or `default`.
fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Events in the generated archive: 24,000 unless `TRAILMAP_BENCH_EVENTS` says otherwise
/// (500000 gives the archive of `benches/compare.sh`).
fn archive_events() -> usize {
    env_number("TRAILMAP_BENCH_EVENTS", 24_000)
}

/// The archive: `archive_events()` events, `TRAILMAP_BENCH_INVOCATION_PERCENT` of them Bedrock
/// invocations (the generator's default unless set; 2 is a realistic mix).
fn archive() -> Archive {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = GeneratorConfig {
        events: archive_events(),
        events_per_file: 120,
        invocation_percent: env_number(
            "TRAILMAP_BENCH_INVOCATION_PERCENT",
            GeneratorConfig::default().invocation_percent,
        ),
        ..GeneratorConfig::default()
    };
    generate(dir.path(), &config).expect("generate");
    let mut files = Vec::new();
    let mut json_bytes = 0;
    for entry in walkdir::WalkDir::new(dir.path()).sort_by_file_name() {
        let entry = entry.expect("walk");
        let name = entry.path().display().to_string();
        if entry.file_type().is_file() && !name.contains("Digest") {
            let raw = std::fs::read(entry.path()).expect("read");
            json_bytes += inflate_into(&raw, &mut Vec::new()).expect("gzip").len() as u64;
            files.push((FileContext::new(name.clone()), raw));
        }
    }
    Archive {
        root: dir.path().to_owned(),
        _dir: dir,
        files,
        json_bytes,
    }
}

/// The baseline of NOTES.md: a bare loop that inflates (into the same reused per-thread
/// buffer the engine uses) and deserializes only the fields the question needs into borrowed
/// structs, on the rayon pool, and gives the same answer as the engine: the served Region is
/// `inferenceRegion`, or `awsRegion` for a call that cannot leave it (application profiles
/// resolved from the archive's `CreateInferenceProfile` events), else unknown. No Arrow, no
/// DataFusion.
#[derive(Deserialize)]
struct BareFile<'a> {
    #[serde(borrow, rename = "Records")]
    records: Vec<BareRecord<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BareRecord<'a> {
    event_source: Option<&'a str>,
    event_name: Option<&'a str>,
    aws_region: Option<&'a str>,
    error_code: Option<&'a str>,
    #[serde(borrow)]
    additional_event_data: Option<BareAdditional<'a>>,
    #[serde(borrow)]
    request_parameters: Option<BareParameters<'a>>,
    #[serde(borrow)]
    response_elements: Option<BareResponse<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BareAdditional<'a> {
    inference_region: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BareParameters<'a> {
    model_id: Option<&'a str>,
    model: Option<&'a str>,
    #[serde(borrow)]
    model_source: Option<BareModelSource<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BareModelSource<'a> {
    copy_from: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BareResponse<'a> {
    inference_profile_arn: Option<&'a str>,
}

/// One file's (or the archive's) tally: counts by served Region, calls through application
/// profiles by (profile, source Region), and the profiles created (ARN → copies a foundation
/// model).
#[derive(Default)]
struct BareTally {
    served: HashMap<Option<String>, u64>,
    through_profiles: HashMap<(String, Option<String>), u64>,
    created: HashMap<String, bool>,
}

impl BareTally {
    fn merge(mut self, other: BareTally) -> BareTally {
        for (k, v) in other.served {
            *self.served.entry(k).or_insert(0) += v;
        }
        for (k, v) in other.through_profiles {
            *self.through_profiles.entry(k).or_insert(0) += v;
        }
        self.created.extend(other.created);
        self
    }

    /// Counts by served Region once every file has told its profiles.
    fn resolve(mut self) -> HashMap<Option<String>, u64> {
        for ((profile, region), n) in self.through_profiles {
            let stays = self.created.get(&profile).copied().unwrap_or(false);
            *self.served.entry(region.filter(|_| stays)).or_insert(0) += n;
        }
        self.served
    }
}

/// `raw` inflated into `buffer` (cleared first), the way a hand-written loop would: the whole
/// file at once, into one buffer reused file after file.
fn inflate_into<'a>(raw: &[u8], buffer: &'a mut Vec<u8>) -> std::io::Result<&'a [u8]> {
    use std::io::Read;
    buffer.clear();
    flate2::read::GzDecoder::new(raw).read_to_end(buffer)?;
    Ok(buffer)
}

thread_local! {
    static BARE_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn bare_file(raw: &[u8]) -> BareTally {
    BARE_BUFFER.with_borrow_mut(|buffer| {
        let mut tally = BareTally::default();
        let Ok(json) = inflate_into(raw, buffer) else {
            return tally;
        };
        let Ok(file) = serde_json::from_slice::<BareFile>(json) else {
            return tally;
        };
        for r in file.records {
            let parameters = r.request_parameters.as_ref();
            if r.event_name == Some("CreateInferenceProfile") && r.error_code.is_none() {
                let copies = parameters
                    .and_then(|p| p.model_source.as_ref())
                    .and_then(|s| s.copy_from);
                let arn = r
                    .response_elements
                    .as_ref()
                    .and_then(|e| e.inference_profile_arn);
                if let (Some(arn), Some(copies)) = (arn, copies) {
                    tally
                        .created
                        .insert(arn.to_owned(), copies.contains(":foundation-model/"));
                }
            }
            if !trailmap::bedrock::is_invocation(r.event_source, r.event_name) {
                continue;
            }
            let logged = r.additional_event_data.and_then(|a| a.inference_region);
            let model_id = parameters.and_then(|p| p.model_id.or(p.model));
            let served = match (logged, model_id) {
                (Some(region), _) => Some(region),
                (None, Some(id)) if id.contains(":application-inference-profile/") => {
                    let key = (id.to_owned(), r.aws_region.map(str::to_owned));
                    *tally.through_profiles.entry(key).or_insert(0) += 1;
                    continue;
                }
                (None, Some(id)) if trailmap::bedrock::parse_model_id(id).in_region => r.aws_region,
                _ => None,
            };
            *tally.served.entry(served.map(str::to_owned)).or_insert(0) += 1;
        }
        tally
    })
}

fn bare_loop(files: &[(FileContext, Vec<u8>)]) -> HashMap<Option<String>, u64> {
    files
        .par_iter()
        .map(|(_, raw)| bare_file(raw))
        .reduce(BareTally::default, BareTally::merge)
        .resolve()
}

/// Inflating every file and nothing else, on the same threads as the bare loop and the engine:
/// the yardstick of the 2% mix against inflating alone (docs/performance.md). Gives the bytes
/// of JSON.
fn inflate_only(files: &[(FileContext, Vec<u8>)]) -> u64 {
    files
        .par_iter()
        .map(|(_, raw)| {
            BARE_BUFFER.with_borrow_mut(|buffer| {
                inflate_into(raw, buffer).map_or(0, |json| json.len() as u64)
            })
        })
        .sum()
}

/// The served-regions answer of the engine, as counts by served Region.
fn engine_answer(
    batches: &[datafusion::arrow::array::RecordBatch],
) -> HashMap<Option<String>, u64> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;
    let mut answer = HashMap::new();
    for batch in batches {
        let regions = batch.column(0).as_string::<i32>();
        let counts = batch.column(1).as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            let region = regions.is_valid(row).then(|| regions.value(row).to_owned());
            answer.insert(region, counts.value(row) as u64);
        }
    }
    answer
}

/// Every benchmark's work, checked once before it is timed: a benchmark of a wrong answer
/// measures nothing.
fn benches(c: &mut Criterion) {
    let runtime = fixed_threads();
    let archive = archive();
    let events = archive_events();

    let mut group = c.benchmark_group("per-core");
    group.throughput(Throughput::Bytes(archive.json_bytes));
    group.sample_size(10);
    let mut buffer = Vec::new();
    let mut inflate_all = || {
        archive
            .files
            .iter()
            .map(|(_, raw)| {
                inflate_into(raw, &mut buffer)
                    .map(|j| j.len() as u64)
                    .unwrap_or(0)
            })
            .sum::<u64>()
    };
    assert_eq!(
        inflate_all(),
        archive.json_bytes,
        "inflate reads every byte"
    );
    group.bench_function("inflate", |b| b.iter(&mut inflate_all));
    let projections: [(&str, Vec<Column>); 3] = [
        ("decode/count-only", vec![]),
        (
            "decode/served-region",
            vec![Column::ServedRegion, Column::IsInvocation],
        ),
        ("decode/all-columns", Column::ALL.to_vec()),
    ];
    for (name, columns) in projections {
        let plan = DecodePlan::new(columns, ScanFilter::default(), Default::default());
        let mut memory = unbounded_reservation();
        let mut decode_all = || {
            archive
                .files
                .iter()
                .map(|(file, raw)| {
                    decode_file(&raw[..], true, file, &plan, &mut memory)
                        .map(|d| d.batches.iter().map(|b| b.batch.num_rows()).sum())
                        .unwrap_or(0)
                })
                .sum::<usize>()
        };
        assert_eq!(decode_all(), events, "{name} decodes every record");
        group.bench_function(name, |b| b.iter(&mut decode_all));
    }
    group.finish();

    let spec = SourceSpec::Local(archive.root.clone());
    let engine_run = || served_regions(&runtime, &spec, &AwsOptions::default());
    let expected = bare_loop(&archive.files);
    assert_eq!(
        expected.values().sum::<u64>(),
        trailmap_invocations(&archive),
        "the bare loop counts every invocation"
    );
    assert_eq!(
        engine_answer(&engine_run()),
        expected,
        "the engine and the bare loop agree"
    );

    let mut group = c.benchmark_group("baseline");
    group.throughput(Throughput::Bytes(archive.json_bytes));
    group.sample_size(10);
    group.bench_function("bare-loop", |b| b.iter(|| bare_loop(&archive.files)));
    assert_eq!(
        inflate_only(&archive.files),
        archive.json_bytes,
        "inflating alone reads every byte"
    );
    group.bench_function("inflate-only", |b| b.iter(|| inflate_only(&archive.files)));
    group.finish();

    let mut group = c.benchmark_group("end-to-end");
    group.throughput(Throughput::Bytes(archive.json_bytes));
    group.sample_size(10);
    group.bench_function("served-regions", |b| b.iter(engine_run));
    group.finish();
}

/// A reservation from a memory pool without a limit (the decoder counts its batches in it).
fn unbounded_reservation() -> MemoryReservation {
    let pool: Arc<dyn MemoryPool> = Arc::new(UnboundedMemoryPool::default());
    MemoryConsumer::new("bench").register(&pool)
}

/// Invocations in the archive, by the decoder (for the bare loop's total).
fn trailmap_invocations(archive: &Archive) -> u64 {
    let plan = DecodePlan::new(
        vec![Column::IsInvocation],
        ScanFilter::default(),
        Default::default(),
    );
    archive
        .files
        .iter()
        .filter_map(|(file, raw)| {
            decode_file(&raw[..], true, file, &plan, &mut unbounded_reservation()).ok()
        })
        .flat_map(|d| d.batches)
        .map(|b| {
            use datafusion::arrow::array::AsArray;
            b.batch.column(0).as_boolean().true_count() as u64
        })
        .sum()
}

criterion_group!(scan, benches);
criterion_main!(scan);
