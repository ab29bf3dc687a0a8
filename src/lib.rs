//! trailmap: where did our Amazon Bedrock requests actually run?
//!
//! Streams CloudTrail log archives (local directories or files), decodes them into Arrow and
//! answers SQL over them with DataFusion. [`open`] lists the sources and returns a
//! [`TrailSession`] with the tables `events`, `invocations`, `regions` and `load_errors`.
//!
//! ```no_run
//! # async fn run() -> trailmap::error::Result<()> {
//! use trailmap::{ReadOptions, source::SourceSpec};
//! let session = trailmap::open(&[SourceSpec::parse("sample-data")?], &ReadOptions::default(), &Default::default()).await?;
//! let batches = session
//!     .sql("SELECT served_region, count(*) FROM invocations GROUP BY 1")
//!     .await?
//!     .collect()
//!     .await?;
//! # Ok(()) }
//! ```

pub mod audit;
pub mod bedrock;
pub mod decode;
pub mod error;
pub mod filter;
pub mod generate;
pub mod queries;
pub mod regions;
pub mod report;
pub mod schema;
pub mod source;
pub mod table;

use std::sync::Arc;

use datafusion::common::tree_node::TreeNode;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};

use decode::profiles::ProfileMap;
use error::{Error, LoadError, Result};
use filter::ScanFilter;
use source::aws::AwsOptions;
use source::{Listing, SourceSpec};
use table::archive::{Archive, Coverage, ProgressSnapshot};
use table::pruning::KeyPredicate;

/// An open archive with its tables registered on a DataFusion session.
pub struct TrailSession {
    ctx: SessionContext,
    archive: Arc<Archive>,
}

/// How to read an archive: which events, and what is known beyond the logs.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// `--from/--to/--account/--source-region` and the delivery margin.
    pub filter: ScanFilter,
    /// Application inference profiles known from `--profiles` (the archive's own
    /// `CreateInferenceProfile` events are added when a call needs them).
    pub profiles: ProfileMap,
}

/// Lists `sources` (pruned by the options' filter) and registers the tables over them. `aws`
/// configures the AWS API calls of S3 and trail sources.
pub async fn open(
    sources: &[SourceSpec],
    options: &ReadOptions,
    aws: &AwsOptions,
) -> Result<TrailSession> {
    options.filter.validate()?;
    let listing = source::list(sources, &options.filter, None, aws).await?;
    session_over(listing, options.clone()).await
}

/// Like [`open`], for one statement: the statement is planned first (so bad SQL fails before
/// anything is listed), and S3 folders its filters on `log_date`, `log_account`, `log_region`
/// or `event_time` rule out are not listed at all.
pub async fn open_for_query(
    sources: &[SourceSpec],
    options: &ReadOptions,
    aws: &AwsOptions,
    sql: &str,
) -> Result<TrailSession> {
    options.filter.validate()?;
    let probe = session_over(Listing::default(), options.clone()).await?;
    let state = probe.ctx.state();
    let plan = probe.checked_plan(sql).await?;
    let folders = KeyPredicate::from_plan(&state.optimize(&plan)?, &state)?;
    let listing = source::list(sources, &options.filter, folders.as_ref(), aws).await?;
    session_over(listing, options.clone()).await
}

/// A session over already listed files.
async fn session_over(listing: Listing, options: ReadOptions) -> Result<TrailSession> {
    tracing::info!(
        files = listing.objects.len(),
        skipped_by_name = listing.skipped.by_name,
        skipped_by_filter = listing.skipped.by_filter,
        folders_not_listed = listing.skipped.folders,
        "listed sources"
    );
    let archive = Arc::new(Archive::new(listing, options));
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    table::register(&ctx, Arc::clone(&archive)).await?;
    Ok(TrailSession { ctx, archive })
}

impl TrailSession {
    /// The DataFusion session, for callers that want to go further.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Plans a read-only SQL statement. DDL, DML, `COPY` and `SET` are refused.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame> {
        let plan = self.checked_plan(sql).await?;
        Ok(self.ctx.execute_logical_plan(plan).await?)
    }

    /// The logical plan of a statement, refused if it writes.
    async fn checked_plan(&self, sql: &str) -> Result<LogicalPlan> {
        let plan = self.ctx.state().create_logical_plan(sql).await?;
        if let Some(what) = first_write(&plan) {
            return Err(Error::NotReadOnly(format!("{what} is not allowed")));
        }
        Ok(plan)
    }

    /// Files that could not be read so far.
    pub fn load_errors(&self) -> Vec<LoadError> {
        self.archive.load_errors()
    }

    /// Reads every file no query has read yet, so that [`TrailSession::load_errors`] and
    /// [`TrailSession::coverage`] describe the whole archive.
    pub async fn check_all(&self) {
        self.archive.check_all().await;
    }

    /// Live reading counters (for progress bars).
    pub fn progress(&self) -> ProgressSnapshot {
        self.archive.progress().snapshot()
    }

    /// What has been read so far.
    pub fn coverage(&self) -> Coverage {
        self.archive.coverage()
    }

    /// The filter the session reads with.
    pub fn filter(&self) -> &ScanFilter {
        self.archive.filter()
    }
}

/// The first node of `plan` that writes or changes state, named for an error message.
fn first_write(plan: &LogicalPlan) -> Option<String> {
    let mut found = None;
    let _ = plan.apply(|node| {
        found = match node {
            LogicalPlan::Ddl(ddl) => Some(ddl.name().to_owned()),
            LogicalPlan::Dml(dml) => Some(dml.op.to_string()),
            LogicalPlan::Copy(_) => Some("COPY".to_owned()),
            LogicalPlan::Statement(statement) => Some(statement.name().to_owned()),
            _ => None,
        };
        Ok(if found.is_some() {
            datafusion::common::tree_node::TreeNodeRecursion::Stop
        } else {
            datafusion::common::tree_node::TreeNodeRecursion::Continue
        })
    });
    found
}
