//! Does reading from S3 keep up with decoding? The same served-Region query over the same
//! archive, from a local directory and from the tests' in-process S3 server (s3s-fs on
//! 127.0.0.1, real aws-sdk-s3 client), beside what the server alone can deliver: listing only,
//! and listing plus downloading every object with no decoding. When the S3 query takes about as
//! long as the download alone, decoding is hidden behind the transfers.
//! `cargo bench --bench s3`.

#[path = "../tests/common/s3_server.rs"]
mod s3_server;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use s3_server::{Faults, S3Server};
use trailmap::filter::ScanFilter;
use trailmap::generate::{GeneratorConfig, generate};
use trailmap::source::{SourceSpec, aws::AwsOptions};

const SERVED_REGIONS: &str = "SELECT served_region, count(*) AS n FROM invocations GROUP BY served_region ORDER BY served_region";

/// Downloads in flight for the download-only measurement: as many as a scan keeps.
const DOWNLOADS_IN_FLIGHT: usize = 16;

fn benches(c: &mut Criterion) {
    let root = tempfile::tempdir().expect("temp dir");
    let bucket = root.path().join("trail-bucket");
    let config = GeneratorConfig {
        events: 60_000,
        events_per_file: 120,
        ..GeneratorConfig::default()
    };
    generate(&bucket, &config).expect("generate");
    let server = S3Server::start(root.path(), Faults::default());
    for (key, value) in server.env() {
        // SAFETY: set once, before any thread of this process reads the environment.
        unsafe { std::env::set_var(key, value) };
    }
    let aws = AwsOptions {
        endpoint_url: Some(server.endpoint.clone()),
        ..AwsOptions::default()
    };
    let local = SourceSpec::Local(bucket.clone());
    let s3 = SourceSpec::S3 {
        bucket: "trail-bucket".into(),
        prefix: "AWSLogs/".into(),
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("source");
    group.throughput(Throughput::Elements(config.events as u64));
    group.sample_size(10);
    for (name, spec) in [("local", &local), ("s3", &s3)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let session =
                        trailmap::open(std::slice::from_ref(spec), ScanFilter::default(), &aws)
                            .await
                            .expect("open");
                    session
                        .sql(SERVED_REGIONS)
                        .await
                        .expect("plan")
                        .collect()
                        .await
                        .expect("run")
                })
            })
        });
    }
    let no_filter = ScanFilter::default();
    let list = || trailmap::source::list(std::slice::from_ref(&s3), &no_filter, None, &aws);
    group.bench_function("s3-list-only", |b| {
        b.iter(|| runtime.block_on(list()).expect("list").objects.len())
    });
    group.bench_function("s3-download-only", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let listing = list().await.expect("list");
                let fetcher = &listing.fetcher;
                futures::stream::iter(&listing.objects)
                    .map(|object| fetcher.fetch(object))
                    .buffer_unordered(DOWNLOADS_IN_FLIGHT)
                    .filter_map(|fetched| async move { fetched.ok()?.into_bytes().ok() })
                    .fold(0, |total, bytes| async move { total + bytes.len() })
                    .await
            })
        })
    });
    group.finish();
}

criterion_group!(s3, benches);
criterion_main!(s3);
