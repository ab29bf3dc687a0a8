//! `trailmap scheduler` and `trailmap executor`: the processes of a Ballista cluster.

use std::net::SocketAddr;

use clap::Args;

use super::Outcome;
use super::args::AwsArgs;

/// `trailmap scheduler`.
#[derive(Debug, Args)]
#[cfg_attr(not(feature = "cluster"), allow(dead_code))]
pub struct SchedulerArgs {
    /// Address to listen on (clients connect with --cluster df://HOST:PORT, executors with
    /// --scheduler HOST:PORT).
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:50050")]
    pub bind: SocketAddr,
    /// Seconds without news from an executor (executors report every 5 s) after which it is
    /// taken out of the cluster: its tasks run again on the others, or the job fails.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub executor_timeout: u64,
}

/// `trailmap executor`.
#[derive(Debug, Args)]
#[cfg_attr(not(feature = "cluster"), allow(dead_code))]
pub struct ExecutorArgs {
    /// The scheduler to join.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Address to serve shuffle data on (Arrow Flight); tasks arrive on the next port (gRPC).
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:50051")]
    pub bind: SocketAddr,
    /// Host name the scheduler, the other executors and clients reach this one by (default:
    /// the address the scheduler sees it connect from; set it behind NAT or in containers).
    #[arg(long, value_name = "HOST")]
    pub external_host: Option<String>,
    /// Tasks run at once (default: the machine's cores).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub concurrency: usize,
    /// Directory for shuffle files (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Runs `trailmap scheduler` until stopped.
#[cfg(feature = "cluster")]
pub async fn run_scheduler(args: SchedulerArgs) -> anyhow::Result<Outcome> {
    trailmap::cluster::process::run_scheduler(args.bind, args.executor_timeout).await?;
    Ok(Outcome::Success)
}

/// Runs `trailmap executor` until stopped.
#[cfg(feature = "cluster")]
pub async fn run_executor(args: ExecutorArgs) -> anyhow::Result<Outcome> {
    use anyhow::Context;
    let scheduler = tokio::net::lookup_host(&args.scheduler)
        .await
        .with_context(|| format!("--scheduler {}: expected HOST:PORT", args.scheduler))?
        .next()
        .with_context(|| format!("--scheduler {}: no address", args.scheduler))?;
    let options = trailmap::cluster::process::ExecutorOptions {
        scheduler,
        bind: args.bind,
        external_host: args.external_host,
        concurrency: args.concurrency,
        work_dir: args.work_dir,
        aws: args.aws.options(),
    };
    trailmap::cluster::process::run_executor(options).await?;
    Ok(Outcome::Success)
}

/// Without Ballista built in, says how to get it.
#[cfg(not(feature = "cluster"))]
pub async fn run_scheduler(_args: SchedulerArgs) -> anyhow::Result<Outcome> {
    Err(not_built())
}

/// Without Ballista built in, says how to get it.
#[cfg(not(feature = "cluster"))]
pub async fn run_executor(_args: ExecutorArgs) -> anyhow::Result<Outcome> {
    Err(not_built())
}

#[cfg(not(feature = "cluster"))]
fn not_built() -> anyhow::Error {
    anyhow::anyhow!(
        "this trailmap was built without Ballista: build it with `cargo build --release --features cluster`"
    )
}
