//! What both benchmarks share: the question, how it is run, and the thread counts.

use datafusion::arrow::array::RecordBatch;
use tokio::runtime::Runtime;
use trailmap::ReadOptions;
use trailmap::source::{SourceSpec, aws::AwsOptions};

/// The question every end-to-end measurement asks.
pub const SERVED_REGIONS: &str = "SELECT served_region, count(*) AS n FROM invocations GROUP BY served_region ORDER BY served_region";

/// Threads for every pool: `TRAILMAP_BENCH_THREADS`, 2 by default (this machine's cores).
/// Sets rayon's global pool and DataFusion's partitions (through `DATAFUSION_*`, which trailmap
/// sessions read), and returns a tokio runtime of as many workers. Call first thing.
pub fn fixed_threads() -> Runtime {
    let threads = std::env::var("TRAILMAP_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    // SAFETY: called before the benchmark starts any thread of its own.
    unsafe {
        std::env::set_var(
            "DATAFUSION_EXECUTION_TARGET_PARTITIONS",
            threads.to_string(),
        )
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("rayon pool");
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Opens `spec` as a user would and answers [`SERVED_REGIONS`].
pub fn served_regions(runtime: &Runtime, spec: &SourceSpec, aws: &AwsOptions) -> Vec<RecordBatch> {
    runtime.block_on(async {
        let session = trailmap::open(std::slice::from_ref(spec), &ReadOptions::default(), aws)
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
}
