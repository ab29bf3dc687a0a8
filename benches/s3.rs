//! Does reading from S3 keep up with decoding? The same served-Region query over the same
//! archive, from a local directory and from the tests' in-process S3 server (s3s-fs on
//! 127.0.0.1, real aws-sdk-s3 client), beside what the server alone can deliver: listing only,
//! and listing plus downloading every object with no decoding. When the S3 query takes about as
//! long as the download alone, decoding is hidden behind the transfers. The S3 measurements run
//! twice: on bare loopback, and with 20 ms added to every answer (S3's time to first byte is
//! of that order), where only many requests in flight keep the decoder fed.
//! `cargo bench --bench s3`.

mod common;
#[path = "../tests/common/s3_server.rs"]
mod s3_server;

use std::path::Path;
use std::time::Duration;

use common::{fixed_threads, served_regions};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::util::pretty::pretty_format_batches;
use futures::StreamExt;
use s3_server::{Faults, S3Server};
use tokio::runtime::Runtime;
use trailmap::generate::{GeneratorConfig, generate};
use trailmap::source::{SourceSpec, aws::AwsOptions};

/// Downloads in flight for the download-only measurement: as many as a scan keeps over the two
/// partitions of this 2-core machine.
const DOWNLOADS_IN_FLIGHT: usize = 2 * trailmap::table::exec::S3_PREFETCH_PER_PARTITION;

/// The served-Region query over `spec`, as text.
fn served_regions_text(runtime: &Runtime, spec: &SourceSpec, aws: &AwsOptions) -> String {
    let batches = served_regions(runtime, spec, aws);
    pretty_format_batches(&batches).expect("format").to_string()
}

/// Times the served-Region query over `spec`, once checked against `expected` (the answer
/// over the local copy).
fn bench_query(
    group: &mut BenchmarkGroup<WallTime>,
    name: &str,
    runtime: &Runtime,
    spec: &SourceSpec,
    aws: &AwsOptions,
    expected: &str,
) {
    assert_eq!(served_regions_text(runtime, spec, aws), expected, "{name}");
    group.bench_function(name, |b| b.iter(|| served_regions(runtime, spec, aws)));
}

/// Starts a server over `root` answering after `latency`, and times the query, the listing
/// alone and listing plus downloads alone against it.
fn bench_server(
    group: &mut BenchmarkGroup<WallTime>,
    name: &str,
    runtime: &Runtime,
    root: &Path,
    latency: Option<Duration>,
    local: &Local,
) {
    let server = S3Server::start(
        root,
        Faults {
            latency,
            ..Faults::default()
        },
    );
    let aws = AwsOptions {
        endpoint_url: Some(server.endpoint.clone()),
        ..AwsOptions::default()
    };
    let s3 = SourceSpec::S3 {
        bucket: "trail-bucket".into(),
        prefix: "AWSLogs/".into(),
    };
    bench_query(group, name, runtime, &s3, &aws, &local.answer);
    let list = || trailmap::source::list(std::slice::from_ref(&s3), None, &aws);
    let list_only = || runtime.block_on(list()).expect("list").objects.len();
    assert_eq!(list_only(), local.files, "{name}: every file is listed");
    group.bench_function(format!("{name}/list-only"), |b| b.iter(list_only));
    let download_only = || {
        runtime.block_on(async {
            let listing = list().await.expect("list");
            let fetcher = &listing.fetcher;
            futures::stream::iter(&listing.objects)
                .map(|object| fetcher.fetch(object))
                .buffer_unordered(DOWNLOADS_IN_FLIGHT)
                .filter_map(|fetched| async move {
                    let mut body = fetched.ok()?.open().ok()?;
                    std::io::copy(&mut body, &mut std::io::sink()).ok()
                })
                .fold(0, |total, bytes| async move { total + bytes })
                .await
        })
    };
    assert_eq!(
        download_only(),
        local.bytes,
        "{name}: every byte is downloaded"
    );
    group.bench_function(format!("{name}/download-only"), |b| b.iter(download_only));
}

/// What the local copy holds, for checking the S3 measurements.
struct Local {
    answer: String,
    files: usize,
    bytes: u64,
}

/// Every measurement is checked once against the local copy before it is timed.
fn benches(c: &mut Criterion) {
    let runtime = fixed_threads();
    let root = tempfile::tempdir().expect("temp dir");
    let bucket = root.path().join("trail-bucket");
    let config = GeneratorConfig {
        events: 60_000,
        events_per_file: 120,
        ..GeneratorConfig::default()
    };
    generate(&bucket, &config).expect("generate");
    for (key, value) in S3Server::credentials_env() {
        // SAFETY: no other thread reads or writes the environment now (the workers are idle).
        unsafe { std::env::set_var(key, value) };
    }
    let local_spec = SourceSpec::Local(bucket.clone());
    let listing = runtime
        .block_on(trailmap::source::list(
            std::slice::from_ref(&local_spec),
            None,
            &AwsOptions::default(),
        ))
        .expect("list the local copy");
    let local = Local {
        answer: served_regions_text(&runtime, &local_spec, &AwsOptions::default()),
        files: listing.objects.len(),
        bytes: listing.objects.iter().map(|o| o.size).sum(),
    };
    let mut group = c.benchmark_group("source");
    group.throughput(Throughput::Elements(config.events as u64));
    group.sample_size(10);
    bench_query(
        &mut group,
        "local",
        &runtime,
        &local_spec,
        &AwsOptions::default(),
        &local.answer,
    );
    bench_server(&mut group, "s3", &runtime, root.path(), None, &local);
    let latency = Some(Duration::from_millis(20));
    bench_server(
        &mut group,
        "s3-20ms",
        &runtime,
        root.path(),
        latency,
        &local,
    );
    group.finish();
}

criterion_group!(s3, benches);
criterion_main!(s3);
