//! Hot paths, measured: inflate, decode (few columns vs all), and the end-to-end scan of the
//! served-Region distribution through DataFusion, beside the bare loop of NOTES.md.
//! `cargo bench --bench scan`; `TRAILMAP_BENCH_EVENTS=500000 cargo bench --bench scan` for the
//! archive size of `benches/compare.sh`.

use std::path::PathBuf;
use std::sync::Arc;

use std::collections::HashMap;
use std::io::Read;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;
use serde::Deserialize;
use trailmap::decode::gzip::inflate_into;
use trailmap::decode::{DecodePlan, decode_file};
use trailmap::filter::ScanFilter;
use trailmap::generate::{GeneratorConfig, generate};
use trailmap::layout::key::FileContext;
use trailmap::schema::Column;
use trailmap::source::{SourceSpec, aws::AwsOptions};

const SERVED_REGIONS: &str = "SELECT served_region, count(*) AS n FROM invocations GROUP BY served_region ORDER BY served_region";

struct Archive {
    _dir: tempfile::TempDir,
    root: PathBuf,
    files: Vec<(FileContext, Vec<u8>)>,
    json_bytes: u64,
}

/// Events in the generated archive: 24,000 unless `TRAILMAP_BENCH_EVENTS` says otherwise
/// (500000 gives the archive of `benches/compare.sh`).
fn archive_events() -> usize {
    std::env::var("TRAILMAP_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24_000)
}

fn archive() -> Archive {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = GeneratorConfig {
        events: archive_events(),
        events_per_file: 120,
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
            json_bytes += inflate_into(&raw, true, &mut Vec::new())
                .expect("gzip")
                .len() as u64;
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

/// The baseline of NOTES.md: a bare loop that only inflates and deserializes the four fields
/// the question needs into borrowed structs, on the rayon pool. No Arrow, no DataFusion.
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
    #[serde(borrow)]
    additional_event_data: Option<BareAdditional<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BareAdditional<'a> {
    inference_region: Option<&'a str>,
}

fn bare_loop(files: &[(FileContext, Vec<u8>)]) -> HashMap<String, u64> {
    files
        .par_iter()
        .map(|(_, raw)| {
            let mut json = Vec::new();
            let mut counts = HashMap::new();
            if flate2::read::MultiGzDecoder::new(&raw[..])
                .read_to_end(&mut json)
                .is_err()
            {
                return counts;
            }
            let Ok(file) = serde_json::from_slice::<BareFile>(&json) else {
                return counts;
            };
            for r in file.records {
                if trailmap::bedrock::is_invocation(r.event_source, r.event_name) {
                    let served = r
                        .additional_event_data
                        .and_then(|a| a.inference_region)
                        .or(r.aws_region);
                    *counts.entry(served.unwrap_or("").to_owned()).or_insert(0) += 1;
                }
            }
            counts
        })
        .reduce(HashMap::new, |mut a, b| {
            for (k, v) in b {
                *a.entry(k).or_insert(0) += v;
            }
            a
        })
}

fn benches(c: &mut Criterion) {
    let archive = archive();
    let mut group = c.benchmark_group("per-core");
    group.throughput(Throughput::Bytes(archive.json_bytes));
    group.sample_size(10);
    let mut buffer = Vec::new();
    group.bench_function("inflate", |b| {
        b.iter(|| {
            archive
                .files
                .iter()
                .map(|(_, raw)| {
                    inflate_into(raw, true, &mut buffer)
                        .map(|j| j.len())
                        .unwrap_or(0)
                })
                .sum::<usize>()
        })
    });
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
        group.bench_function(name, |b| {
            b.iter(|| {
                archive
                    .files
                    .iter()
                    .map(|(file, raw)| {
                        decode_file(raw, true, file, &plan)
                            .map(|d| d.batch.num_rows())
                            .unwrap_or(0)
                    })
                    .sum::<usize>()
            })
        });
    }
    group.finish();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("baseline");
    group.throughput(Throughput::Bytes(archive.json_bytes));
    group.sample_size(10);
    group.bench_function("bare-loop", |b| b.iter(|| bare_loop(&archive.files)));
    group.finish();

    let spec = SourceSpec::Local(archive.root.clone());
    let mut group = c.benchmark_group("end-to-end");
    group.throughput(Throughput::Bytes(archive.json_bytes));
    group.sample_size(10);
    group.bench_function("served-regions", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let session = trailmap::open(
                    std::slice::from_ref(&spec),
                    &trailmap::ReadOptions::default(),
                    &AwsOptions::default(),
                )
                .await
                .expect("open");
                let batches = session
                    .sql(SERVED_REGIONS)
                    .await
                    .expect("plan")
                    .collect()
                    .await
                    .expect("run");
                Arc::new(batches)
            })
        })
    });
    group.finish();
}

criterion_group!(scan, benches);
criterion_main!(scan);
