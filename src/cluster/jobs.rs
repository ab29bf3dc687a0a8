//! What a statement's job did on the cluster, asked of the scheduler afterwards (`-v`).

use std::collections::BTreeMap;
use std::sync::Arc;

use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::serde::protobuf::operator_metric::Metric;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{GetJobMetricsParams, GetJobMetricsResult};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::protobuf::LogicalPlanNode;

use crate::error::{Error, Result};
use crate::table::exec::RUN_BY;

/// The stages and tasks of a job, and which executors read the log files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobWork {
    /// The job's id on the scheduler.
    pub job: String,
    /// Stages run.
    pub stages: usize,
    /// Tasks run (one per partition of each stage).
    pub tasks: u64,
    /// Partitions of a raw archive's scan each executor ran, by executor.
    pub scans_by_executor: BTreeMap<String, u64>,
}

impl std::fmt::Display for JobWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "job {}: {} task(s) in {} stage(s)",
            self.job, self.tasks, self.stages
        )?;
        if !self.scans_by_executor.is_empty() {
            let each: Vec<String> = self
                .scans_by_executor
                .iter()
                .map(|(executor, n)| format!("{executor} {n}"))
                .collect();
            write!(
                f,
                "; log files read by {} executor(s) (scan partitions: {})",
                self.scans_by_executor.len(),
                each.join(", ")
            )?;
        }
        Ok(())
    }
}

/// What the job of `plan` (a statement run on the cluster at `url`, `df://HOST:PORT`) did;
/// `None` when the plan ran no job (e.g. it read only `information_schema`).
pub async fn job_work(plan: &Arc<dyn ExecutionPlan>, url: &str) -> Result<Option<JobWork>> {
    let mut job = None;
    plan.apply(|node| {
        if let Some(exec) = node.downcast_ref::<DistributedQueryExec<LogicalPlanNode>>() {
            job = exec.job_id();
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    let Some(job) = job else {
        return Ok(None);
    };
    let scheduler = crate::cluster::scheduler_url(url)?.replacen("df://", "http://", 1);
    let failed = |e: &dyn std::fmt::Display| Error::Cluster(format!("job {job}: {e}"));
    let mut client = SchedulerGrpcClient::connect(scheduler)
        .await
        .map_err(|e| failed(&e))?;
    let metrics = client
        .get_job_metrics(GetJobMetricsParams {
            job_id: job.to_string(),
        })
        .await
        .map_err(|e| failed(&e))?
        .into_inner();
    Ok(Some(work_of(job.to_string(), &metrics)))
}

fn work_of(job: String, metrics: &GetJobMetricsResult) -> JobWork {
    let mut scans_by_executor = BTreeMap::new();
    for operator in metrics.stages.iter().flat_map(|s| &s.operators) {
        for metric in &operator.metrics {
            if let Some(Metric::Count(count)) = &metric.metric
                && let Some(executor) = count.name.strip_prefix(RUN_BY)
            {
                *scans_by_executor.entry(executor.to_owned()).or_default() += count.value;
            }
        }
    }
    JobWork {
        job,
        stages: metrics.stages.len(),
        tasks: metrics.stages.iter().map(|s| u64::from(s.partitions)).sum(),
        scans_by_executor,
    }
}
