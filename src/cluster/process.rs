//! `trailmap scheduler` and `trailmap executor`: Ballista's scheduler and executor processes
//! (Ballista's documented custom scheduler / executor pattern) with trailmap's codecs,
//! functions and object stores.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_core::ids::JobId;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::execution_engine::{
    DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use datafusion::physical_plan::ExecutionPlan;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::cluster::codec::{Archives, LogicalCodec, PhysicalCodec};
use crate::cluster::stores::ClusterStores;
use crate::error::{Error, Result};
use crate::source::aws::{self, AwsOptions};

/// The largest gRPC message between client, scheduler and executors (Ballista's default is
/// 16 MiB): a raw archive's listing travels in the plan, some 20-30 bytes an object, so a
/// statement may cover a few million objects.
const GRPC_MESSAGE_BYTES: u32 = 128 << 20;

/// The session configuration every trailmap cluster process starts from: Ballista's, with
/// trailmap's codecs.
pub fn cluster_config(archives: &Arc<Archives>) -> SessionConfig {
    use ballista_core::extension::SessionConfigExt;
    SessionConfig::new_with_ballista()
        .with_information_schema(true)
        .with_ballista_grpc_client_max_message_size(GRPC_MESSAGE_BYTES as usize)
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::new(Arc::clone(archives))))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::new(Arc::clone(archives))))
}

/// Heartbeats an executor sends the scheduler (besides asking for work), in seconds.
const HEARTBEAT_SECONDS: u64 = 5;

/// Runs a scheduler listening on `bind` until the process is stopped. An executor silent for
/// `executor_timeout` seconds is taken out of the cluster (its tasks run again elsewhere, or
/// the job fails).
pub async fn run_scheduler(bind: SocketAddr, executor_timeout: u64) -> Result<()> {
    // The scheduler plans; it reads no log file, so it needs no AWS configuration.
    let archives = Arc::new(Archives::new(None));
    let producer_archives = Arc::clone(&archives);
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: bind.ip().to_string(),
        override_config_producer: Some(Arc::new(move || cluster_config(&producer_archives))),
        override_session_builder: Some(Arc::new(scheduler_session)),
        override_logical_codec: Some(Arc::new(LogicalCodec::new(Arc::clone(&archives)))),
        override_physical_codec: Some(Arc::new(PhysicalCodec::new(Arc::clone(&archives)))),
        executor_timeout_seconds: executor_timeout.max(2 * HEARTBEAT_SECONDS),
        no_executors_grace_period_seconds: executor_timeout.max(2 * HEARTBEAT_SECONDS),
        expire_dead_executor_interval_seconds: HEARTBEAT_SECONDS,
        grpc_server_max_decoding_message_size: GRPC_MESSAGE_BYTES,
        grpc_server_max_encoding_message_size: GRPC_MESSAGE_BYTES,
        grpc_client_max_message_size: GRPC_MESSAGE_BYTES,
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(cluster_error)?;
    tracing::info!(%bind, "trailmap scheduler listening");
    start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(cluster_error)
}

/// The scheduler's session for a client's job: Ballista's, with trailmap's functions.
fn scheduler_session(config: SessionConfig) -> datafusion::common::Result<SessionState> {
    let mut state = default_session_builder(config)?;
    crate::table::register_functions(&mut state)?;
    Ok(state)
}

/// How an executor joins a cluster.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's address.
    pub scheduler: SocketAddr,
    /// Where the executor serves shuffle data (Arrow Flight); its gRPC port is the next one.
    pub bind: SocketAddr,
    /// The host name other processes reach it by (default: the address the scheduler sees it
    /// connect from).
    pub external_host: Option<String>,
    /// Tasks run at once (default: the machine's cores).
    pub concurrency: usize,
    /// Where shuffle files go (default: a temporary directory).
    pub work_dir: Option<String>,
    /// How it reaches S3 (its own credentials: read-only on the trail bucket suffices for
    /// queries; write on the warehouse only for ingest).
    pub aws: AwsOptions,
}

/// Runs an executor until the process is stopped or the scheduler tells it to stop.
pub async fn run_executor(options: ExecutorOptions) -> Result<()> {
    let aws = aws::load(&options.aws).await;
    // How `-v` on a client names this executor: its advertised host, else the machine's name
    // when bound to every interface.
    let host = match (&options.external_host, std::env::var("HOSTNAME")) {
        (Some(host), _) => host.clone(),
        (None, Ok(name)) if options.bind.ip().is_unspecified() => name,
        (None, _) => options.bind.ip().to_string(),
    };
    let name = format!("{host}:{}", options.bind.port());
    let archives = Arc::new(Archives::new(Some(aws.clone())).run_by(&name));
    let producer_archives = Arc::clone(&archives);
    let grpc_port = options.bind.port().checked_add(1).ok_or_else(|| {
        Error::Cluster(format!(
            "--bind {}: the gRPC port is the next one; choose a lower port",
            options.bind
        ))
    })?;
    let work_dir = options.work_dir.clone();
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        port: options.bind.port(),
        grpc_port,
        external_host: options.external_host.clone(),
        scheduler_host: options.scheduler.ip().to_string(),
        scheduler_port: options.scheduler.port(),
        vcores: options.concurrency,
        executor_heartbeat_interval_seconds: HEARTBEAT_SECONDS,
        grpc_max_decoding_message_size: GRPC_MESSAGE_BYTES,
        grpc_max_encoding_message_size: GRPC_MESSAGE_BYTES,
        work_dir: options.work_dir.clone(),
        override_config_producer: Some(Arc::new(move || cluster_config(&producer_archives))),
        override_runtime_producer: Some(Arc::new(move |_config: &SessionConfig| {
            let mut runtime = RuntimeEnvBuilder::new()
                .with_object_store_registry(Arc::new(ClusterStores::new(aws.clone())));
            if let Some(dir) = &work_dir {
                runtime = runtime.with_temp_file_path(dir);
            }
            runtime.build_arc()
        })),
        override_function_registry: Some(Arc::new(executor_functions()?)),
        override_execution_engine: Some(Arc::new(LoggedEngine::new())),
        override_logical_codec: Some(Arc::new(LogicalCodec::new(Arc::clone(&archives)))),
        override_physical_codec: Some(Arc::new(PhysicalCodec::new(archives))),
        ..ExecutorProcessConfig::default()
    };
    tracing::info!(bind = %options.bind, scheduler = %options.scheduler, "trailmap executor starting");
    start_executor_process(Arc::new(config))
        .await
        .map_err(cluster_error)
}

/// Ballista's execution engine, saying on stderr (`-v`) which tasks this executor runs.
struct LoggedEngine {
    engine: DefaultExecutionEngine,
}

impl LoggedEngine {
    fn new() -> Self {
        LoggedEngine {
            engine: DefaultExecutionEngine::new(),
        }
    }
}

impl ExecutionEngine for LoggedEngine {
    fn create_query_stage_exec(
        &self,
        job_id: JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> datafusion::common::Result<Arc<dyn QueryStageExecutor>> {
        tracing::info!(
            job = %job_id,
            stage = stage_id,
            task = task_id,
            partitions = ?global_output_partition_ids,
            "running task"
        );
        self.engine.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )
    }
}

/// Ballista's functions and trailmap's (`geography`, the JSON functions).
fn executor_functions() -> Result<BallistaFunctionRegistry> {
    let mut registry = BallistaFunctionRegistry::default();
    let mut ctx = SessionContext::new();
    crate::table::register_functions(&mut ctx)?;
    for name in ctx.state().scalar_functions().keys() {
        if let Some(udf) = ctx.state().scalar_functions().get(name) {
            registry
                .scalar_functions
                .entry(name.clone())
                .or_insert_with(|| Arc::clone(udf));
        }
    }
    Ok(registry)
}

fn cluster_error(e: ballista_core::error::BallistaError) -> Error {
    Error::Cluster(e.to_string())
}
