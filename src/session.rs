//! An open archive: its files listed, its tables registered on a DataFusion session, and the
//! read-only SQL that runs over them.

use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};

use crate::error::{Error, LoadError, Result};
use crate::filter::ScanFilter;
use crate::layout::pruning::{KeyPredicate, plan_key_filter};
use crate::source::aws::AwsOptions;
use crate::source::{self, Listing, SourceSpec};
use crate::table::archive::ReadOptions;
use crate::table::integrity::Integrity;
use crate::table::{self, archive::Archive, archive::Coverage, archive::ProgressSnapshot};
use crate::verify::{Verification, VerifyOptions};

/// An open archive with its tables registered on a DataFusion session.
pub struct TrailSession {
    ctx: SessionContext,
    archive: Arc<Archive>,
    integrity: Arc<Integrity>,
}

/// Lists `sources` (pruned by the options' filter) and registers the tables over them. `aws`
/// configures the AWS API calls of S3 and trail sources.
pub async fn open(
    sources: &[SourceSpec],
    options: &ReadOptions,
    aws: &AwsOptions,
) -> Result<TrailSession> {
    options.filter.validate()?;
    let state = SessionContext::new().state();
    let keys = key_predicate(&options.filter, None, &state)?;
    let listing = source::list(sources, keys.as_ref(), aws).await?;
    session_over(listing, options.clone(), sources, aws).await
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
    let probe = session_over(Listing::default(), options.clone(), sources, aws).await?;
    let state = probe.ctx.state();
    let plan = probe.checked_plan(sql).await?;
    let keys = key_predicate(&options.filter, Some(&state.optimize(&plan)?), &state)?;
    let listing = source::list(sources, keys.as_ref(), aws).await?;
    session_over(listing, options.clone(), sources, aws).await
}

/// What listing may skip: the command-line filters, and the key filters of every `events` scan
/// of `plan` (when listing for one statement), through one [`KeyPredicate`].
fn key_predicate(
    filter: &ScanFilter,
    plan: Option<&LogicalPlan>,
    state: &SessionState,
) -> Result<Option<KeyPredicate>> {
    let from_sql = plan.map(plan_key_filter).transpose()?.flatten();
    let filters: Vec<Expr> = filter.key_expr().into_iter().chain(from_sql).collect();
    Ok(KeyPredicate::new(
        &filters,
        filter.delivery_margin,
        state as &dyn Session,
    )?)
}

/// What SQL may do in trailmap: read. DDL, DML (`INSERT`, `COPY`) and statements (`SET`, ...)
/// are refused anywhere in a plan, subqueries included.
fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// A session over already listed files.
async fn session_over(
    listing: Listing,
    options: ReadOptions,
    sources: &[SourceSpec],
    aws: &AwsOptions,
) -> Result<TrailSession> {
    tracing::info!(
        files = listing.objects.len(),
        skipped_by_name = listing.skipped.by_name,
        skipped_by_filter = listing.skipped.by_filter,
        folders_not_listed = listing.skipped.folders,
        "listed sources"
    );
    let runtime = match options.memory_limit {
        Some(bytes) => RuntimeEnvBuilder::new()
            .with_memory_limit(usize::try_from(bytes).unwrap_or(usize::MAX), 1.0)
            .build_arc()?,
        None => Arc::new(RuntimeEnv::default()),
    };
    let integrity = Arc::new(Integrity::new(sources, VerifyOptions::from(&options), aws));
    let archive = Arc::new(Archive::new(listing, options));
    // DATAFUSION_* variables (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS) tune the engine.
    let config = SessionConfig::from_env()?.with_information_schema(true);
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    table::register(&ctx, Arc::clone(&archive), Arc::clone(&integrity)).await?;
    Ok(TrailSession {
        ctx,
        archive,
        integrity,
    })
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

    /// The logical plan of a statement, refused if it writes or changes state.
    async fn checked_plan(&self, sql: &str) -> Result<LogicalPlan> {
        let plan = self.ctx.state().create_logical_plan(sql).await?;
        read_only().verify_plan(&plan).map_err(|e| match e {
            DataFusionError::Plan(message) => Error::NotReadOnly(message),
            other => Error::from(other),
        })?;
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

    /// The digest chain's verdicts on the session's sources (the `integrity` table), verified
    /// now if no query has needed them yet.
    pub async fn verification(&self) -> Result<Arc<Verification>> {
        self.integrity.verification().await
    }

    /// The filter the session reads with.
    pub fn filter(&self) -> &ScanFilter {
        self.archive.filter()
    }
}
