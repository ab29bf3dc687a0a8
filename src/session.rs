//! An open archive: its files listed, its tables registered on a DataFusion session, and the
//! read-only SQL that runs over them.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::catalog::Session;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};

use crate::coverage::known::KnowledgeInputs;
use crate::coverage::{CoverageRow, Range, TrailKnowledge};
use crate::error::{Error, LoadError, Result};
use crate::filter::ScanFilter;
use crate::layout::pruning::{KeyPredicate, plan_key_filter};
use crate::source::aws::AwsOptions;
use crate::source::{self, Listing, SourceSpec};
use crate::table::archive::FileFacts;
use crate::table::archive::ReadOptions;
use crate::table::coverage::{ChangeSource, Knowledge, TrailCoverageTable};
use crate::table::integrity::Integrity;
use crate::table::warehouse::warehouse_coverage;
use crate::table::{self, archive::Archive, archive::Coverage, archive::ProgressSnapshot};
use crate::verify::{Verification, VerifyOptions};
use crate::warehouse::Warehouse;

/// What reading one file gave: its facts, or why it could not be read.
pub type FileOutcome = std::result::Result<FileFacts, LoadError>;

/// An open archive with its tables registered on a DataFusion session.
pub struct TrailSession {
    ctx: SessionContext,
    store: Store,
    /// What is known of the trails that wrote the sources.
    knowledge: Arc<Knowledge>,
    /// Where the archive's trail changes come from.
    changes: ChangeSource,
    /// The cluster statements run on (`--cluster`), if any.
    cluster: Option<String>,
}

/// Where a session's events come from.
enum Store {
    /// Raw CloudTrail log files, read by the scans.
    Archive {
        archive: Arc<Archive>,
        integrity: Arc<Integrity>,
    },
    /// A Parquet warehouse: what was read is known from its manifest.
    Warehouse(Box<WarehouseStore>),
}

/// What a session over a warehouse knows from its manifest.
struct WarehouseStore {
    location: String,
    filter: ScanFilter,
    coverage: Coverage,
    load_errors: Vec<LoadError>,
}

/// Lists `sources` (pruned by the options' filter) and registers the tables over them. `aws`
/// configures the AWS API calls of S3 and trail sources.
pub async fn open(
    sources: &[SourceSpec],
    options: &ReadOptions,
    aws: &AwsOptions,
) -> Result<TrailSession> {
    options.filter.validate()?;
    if let Some(warehouse) = warehouse_among(sources, aws).await? {
        return session_over_warehouse(warehouse, options).await;
    }
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
    if let Some(warehouse) = warehouse_among(sources, aws).await? {
        return session_over_warehouse(warehouse, options).await;
    }
    // The statement is planned here, even for a cluster: the probe reads nothing.
    let local = ReadOptions {
        cluster: None,
        ..options.clone()
    };
    let probe = session_over(Listing::default(), local, sources, aws).await?;
    let state = probe.ctx.state();
    let plan = probe.checked_plan(sql).await?;
    let keys = key_predicate(&options.filter, Some(&state.optimize(&plan)?), &state)?;
    let listing = source::list(sources, keys.as_ref(), aws).await?;
    session_over(listing, options.clone(), sources, aws).await
}

/// A session over files listed already (e.g. the objects an ingest has not taken yet).
pub async fn open_listed(
    listing: Listing,
    options: &ReadOptions,
    sources: &[SourceSpec],
    aws: &AwsOptions,
) -> Result<TrailSession> {
    options.filter.validate()?;
    session_over(listing, options.clone(), sources, aws).await
}

/// What listing may skip: the command-line filters, and the key filters of every `events` scan
/// of `plan` (when listing for one statement), through one [`KeyPredicate`].
pub fn key_predicate(
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

/// The warehouse among `sources`, if one is (it must then be the only source).
async fn warehouse_among(sources: &[SourceSpec], aws: &AwsOptions) -> Result<Option<Warehouse>> {
    let mut found = None;
    for spec in sources {
        if let Some(warehouse) = Warehouse::detect(spec, aws).await? {
            found = Some(warehouse);
        }
    }
    match found {
        Some(warehouse) if sources.len() > 1 => Err(Error::Warehouse {
            location: warehouse.location().to_owned(),
            reason: "a warehouse is read on its own: give it as the only -s source (ingest the other sources into it first)".into(),
        }),
        found => Ok(found),
    }
}

/// The DataFusion session every store uses: `--memory-limit` on the memory pool, `DATAFUSION_*`
/// variables (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS) tuning the engine; with
/// `--cluster`, a session whose statements run on that cluster.
async fn new_context(options: &ReadOptions) -> Result<SessionContext> {
    if let Some(url) = &options.cluster {
        return connect_cluster(url).await;
    }
    let runtime = match options.memory_limit {
        Some(bytes) => RuntimeEnvBuilder::new()
            .with_memory_limit(usize::try_from(bytes).unwrap_or(usize::MAX), 1.0)
            .build_arc()?,
        None => Arc::new(RuntimeEnv::default()),
    };
    let config = SessionConfig::from_env()?.with_information_schema(true);
    Ok(SessionContext::new_with_config_rt(config, runtime))
}

/// A session on the Ballista cluster at `url`.
#[cfg(feature = "cluster")]
async fn connect_cluster(url: &str) -> Result<SessionContext> {
    crate::cluster::connect(url).await
}

/// What the job of `plan` did on the cluster at `url`, said in one line.
#[cfg(feature = "cluster")]
async fn job_work(
    plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    url: &str,
) -> Result<Option<String>> {
    Ok(crate::cluster::jobs::job_work(plan, url)
        .await?
        .map(|work| work.to_string()))
}

/// Without Ballista built in, no statement runs on a cluster.
#[cfg(not(feature = "cluster"))]
async fn job_work(
    _plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    _url: &str,
) -> Result<Option<String>> {
    Ok(None)
}

/// Without Ballista built in, `--cluster` says how to get it.
#[cfg(not(feature = "cluster"))]
async fn connect_cluster(url: &str) -> Result<SessionContext> {
    Err(Error::Cluster(format!(
        "--cluster {url}: this trailmap was built without Ballista; build it with `cargo build --release --features cluster`"
    )))
}

/// A session over a warehouse's manifest.
async fn session_over_warehouse(
    warehouse: Warehouse,
    options: &ReadOptions,
) -> Result<TrailSession> {
    // The manifest is read and parsed on another worker while the session is built; its
    // objects only when coverage is cut by key.
    let cut_by_key = options.filter.key_expr().is_some();
    let reading = tokio::spawn({
        let warehouse = warehouse.clone();
        async move {
            match cut_by_key {
                true => warehouse.manifest().await,
                false => warehouse.manifest_without_objects().await,
            }
        }
    });
    let ctx = new_context(options).await?;
    let manifest = reading
        .await
        .map_err(|e| Error::Internal(format!("reading the manifest stopped: {e}")))??;
    ctx.register_object_store(warehouse.store_url().as_ref(), warehouse.store());
    let state = ctx.state();
    let (coverage, load_errors) = warehouse_coverage(&manifest, &options.filter, &state)?;
    tracing::info!(
        version = manifest.version,
        files = manifest.files.len(),
        objects = coverage.files_read,
        "opened warehouse"
    );
    let location = warehouse.location().to_owned();
    table::register_warehouse(
        &ctx,
        warehouse,
        &manifest,
        options.filter.clone(),
        &load_errors,
    )
    .await?;
    let knowledge = Arc::new(Knowledge::new(KnowledgeInputs {
        options: options.coverage.clone(),
        source_trails: Vec::new(),
        aws: None,
        current_not_applicable: Some(
            "cannot be checked against changes after the warehouse's last ingest".into(),
        ),
    }));
    let changes = ChangeSource::Events(ctx.table_provider("events").await?);
    register_trail_coverage(&ctx, &knowledge, &changes, &options.filter)?;
    if options.cluster.is_some() {
        register_trail_coverage_rows(&ctx, &knowledge, &changes, &options.filter).await?;
    }
    Ok(TrailSession {
        ctx,
        knowledge,
        changes,
        cluster: options.cluster.clone(),
        store: Store::Warehouse(Box::new(WarehouseStore {
            location,
            filter: options.filter.clone(),
            coverage,
            load_errors,
        })),
    })
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
    let ctx = new_context(&options).await?;
    let cluster = options.cluster.clone();
    let integrity = Arc::new(Integrity::new(sources, VerifyOptions::from(&options), aws));
    let in_aws = sources.iter().any(|s| !matches!(s, SourceSpec::Local(_)));
    let knowledge = Arc::new(Knowledge::new(KnowledgeInputs {
        options: options.coverage.clone(),
        source_trails: listing.trails.clone(),
        aws: in_aws.then(|| aws.clone()),
        current_not_applicable: None,
    }));
    let filter = options.filter.clone();
    let archive = Arc::new(Archive::new(listing, options));
    table::register(&ctx, Arc::clone(&archive), Arc::clone(&integrity)).await?;
    let changes = ChangeSource::Archive(Arc::clone(&archive));
    register_trail_coverage(&ctx, &knowledge, &changes, &filter)?;
    if cluster.is_some() {
        find_profiles_on_cluster(&ctx, &archive).await?;
        register_trail_coverage_rows(&ctx, &knowledge, &changes, &filter).await?;
    }
    Ok(TrailSession {
        ctx,
        knowledge,
        changes,
        store: Store::Archive { archive, integrity },
        cluster,
    })
}

/// Registers `trail_coverage` over `changes`, for the range of `filter`.
fn register_trail_coverage(
    ctx: &SessionContext,
    knowledge: &Arc<Knowledge>,
    changes: &ChangeSource,
    filter: &ScanFilter,
) -> Result<()> {
    ctx.register_table(
        "trail_coverage",
        Arc::new(TrailCoverageTable::new(
            Arc::clone(knowledge),
            changes.clone(),
            Range::of_filter(filter),
        )),
    )?;
    Ok(())
}

/// Replaces `trail_coverage` with its rows, computed now: a cluster carries a table of rows (a
/// raw archive's trail changes are known from the cluster's search by now, a warehouse's are
/// selected from its events).
async fn register_trail_coverage_rows(
    ctx: &SessionContext,
    knowledge: &Knowledge,
    changes: &ChangeSource,
    filter: &ScanFilter,
) -> Result<()> {
    let known = knowledge.get().await?;
    let found = changes.changes(&ctx.state()).await?;
    let rows = crate::coverage::coverage_rows(
        known,
        &found,
        Range::of_filter(filter),
        &changes.freshness(),
    );
    let batch = table::coverage::coverage_batch(&rows)?;
    ctx.deregister_table("trail_coverage")?;
    ctx.register_table(
        "trail_coverage",
        Arc::new(datafusion::catalog::MemTable::try_new(
            batch.schema(),
            vec![vec![batch]],
        )?),
    )?;
    Ok(())
}

/// The table of the per-file facts statement on a cluster, registered while it runs.
const FILE_FACTS: &str = "trailmap_file_facts";

/// The table of the search for application profiles on a cluster, registered while it runs.
const PROFILE_SEARCH: &str = "trailmap_profile_search";

/// On a cluster, finds the application profiles the listed files create and their trail
/// changes with one distributed pass over them (whole files, no record cut, as a local search
/// reads them), and tells the archive: every later statement carries the profiles, so no
/// executor searches the archive itself.
async fn find_profiles_on_cluster(ctx: &SessionContext, archive: &Archive) -> Result<()> {
    let table = table::events::EventsTable::new(Arc::new(archive.uncut()));
    ctx.register_table(PROFILE_SEARCH, Arc::new(table))?;
    let trail_events: Vec<String> = crate::coverage::TRAIL_CHANGE_EVENTS
        .iter()
        .map(|n| format!("'{n}'"))
        .collect();
    let sql = format!(
        "SELECT request_parameters, response_elements, CAST(event_time AS BIGINT), log_file, \
         event_name, account_id, aws_region FROM {PROFILE_SEARCH} WHERE error_code IS NULL AND \
         ((event_source = '{}' AND event_name = 'CreateInferenceProfile') \
         OR (event_source = '{}' AND event_name IN ({})))",
        crate::bedrock::BEDROCK_EVENT_SOURCE,
        crate::coverage::CLOUDTRAIL_EVENT_SOURCE,
        trail_events.join(", ")
    );
    let found = match ctx.sql(&sql).await {
        Ok(frame) => frame.collect().await,
        Err(e) => Err(e),
    };
    ctx.deregister_table(PROFILE_SEARCH)?;
    let mut profiles = crate::decode::profiles::ProfileMap::default();
    let mut changes = Vec::new();
    for batch in found? {
        let (request, response) = (texts(&batch, 0)?, texts(&batch, 1)?);
        let (times, log_file, names) = (
            batch.column(2).as_primitive::<Int64Type>(),
            texts(&batch, 3)?,
            texts(&batch, 4)?,
        );
        let (accounts, regions) = (texts(&batch, 5)?, texts(&batch, 6)?);
        for row in 0..batch.num_rows() {
            let time = times.is_valid(row).then(|| times.value(row));
            let name = text_at(&names, row).unwrap_or_default();
            if name == "CreateInferenceProfile" {
                if let Some(profile) = crate::decode::profiles::created_profile_of_row(
                    text_at(&request, row),
                    text_at(&response, row),
                    time,
                    log_file.value(row),
                ) {
                    profiles.insert(profile);
                }
            } else if let Some(change) = crate::coverage::change_of_row(
                name,
                text_at(&request, row),
                time,
                log_file.value(row),
                text_at(&accounts, row),
                text_at(&regions, row),
            ) {
                changes.push(change);
            }
        }
    }
    tracing::info!(
        profiles = profiles.len(),
        trail_changes = changes.len(),
        "application profiles and trail changes found on the cluster"
    );
    changes.sort_by_key(|c| c.time);
    archive.know_profiles(profiles);
    archive.know_trail_changes(changes);
    Ok(())
}

/// Column `index` of `batch` as text (whatever string type it has).
fn texts(batch: &RecordBatch, index: usize) -> Result<StringArray> {
    let column = cast(batch.column(index), &DataType::Utf8)?;
    Ok(column.as_string::<i32>().clone())
}

/// The text at `row` of `array`, if not null.
fn text_at(array: &StringArray, row: usize) -> Option<&str> {
    array.is_valid(row).then(|| array.value(row))
}

impl TrailSession {
    /// What is known of the trails that wrote the sources (built on first need: it may ask
    /// CloudTrail).
    pub async fn trail_knowledge(&self) -> Result<&TrailKnowledge> {
        self.knowledge.get().await
    }

    /// The `trail_coverage` rows over `range`.
    pub async fn trail_coverage(&self, range: Range) -> Result<Vec<CoverageRow>> {
        let knowledge = self.knowledge.get().await?;
        let changes = self.changes.changes(&self.ctx.state()).await?;
        Ok(crate::coverage::coverage_rows(
            knowledge,
            &changes,
            range,
            &self.changes.freshness(),
        ))
    }

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

    /// Files that could not be read so far (over a warehouse: the objects that could not be
    /// ingested).
    pub fn load_errors(&self) -> Vec<LoadError> {
        match &self.store {
            Store::Archive { archive, .. } => archive.load_errors(),
            Store::Warehouse(store) => store.load_errors.clone(),
        }
    }

    /// Reads every file no query has read yet, so that [`TrailSession::load_errors`] and
    /// [`TrailSession::coverage`] describe the whole archive (a warehouse's manifest does
    /// already).
    pub async fn check_all(&self) {
        // On a cluster the executors read the files, and a file they cannot read fails the
        // statement: nothing to check here.
        if let (Store::Archive { archive, .. }, None) = (&self.store, &self.cluster) {
            archive.check_all().await;
        }
    }

    /// Live reading counters (for progress bars; none over a warehouse).
    pub fn progress(&self) -> ProgressSnapshot {
        match &self.store {
            Store::Archive { archive, .. } => archive.progress().snapshot(),
            Store::Warehouse(_) => ProgressSnapshot::default(),
        }
    }

    /// What has been read so far (over a warehouse: every object the filter keeps). On a
    /// cluster the executors read a raw archive's files and a file they cannot read fails the
    /// statement, so every listed file counts as read and per-file facts (records, bad event
    /// times, delivery lag) are not known here.
    pub fn coverage(&self) -> Coverage {
        match (&self.store, &self.cluster) {
            (Store::Archive { archive, .. }, None) => archive.coverage(),
            (Store::Archive { archive, .. }, Some(_)) => {
                let listed = archive.coverage();
                Coverage {
                    files_read: listed.files_listed,
                    ..listed
                }
            }
            (Store::Warehouse(store), _) => store.coverage,
        }
    }

    /// What has been read, with every per-file fact. On a cluster the executors read the files,
    /// so the facts come back from them ([`Self::file_outcomes`]): records, records whose
    /// `eventTime` does not parse, the largest delivery lag.
    pub async fn coverage_collected(&self) -> Result<Coverage> {
        let (Some(archive), Some(_)) = (self.archive(), &self.cluster) else {
            return Ok(self.coverage());
        };
        let mut coverage = archive.coverage();
        for outcome in self.file_outcomes().await?.values() {
            match outcome {
                Ok(facts) => coverage.count_read(facts),
                Err(_) => coverage.files_failed += 1,
            }
        }
        Ok(coverage)
    }

    /// What reading each listed file gave, by `log_file` (none over a warehouse). On a cluster
    /// the executors read the files, so the facts are counted there by one more statement over
    /// the listed files whole, without the `--from/--to` cut (as a local read counts them):
    /// records, records without a usable `eventTime`, the oldest event for the delivery lag.
    /// The JSON size is not known there and counts 0. A statement succeeds only when every
    /// file was read, so each listed file is either counted or was empty.
    pub async fn file_outcomes(&self) -> Result<BTreeMap<String, FileOutcome>> {
        let Some(archive) = self.archive() else {
            return Ok(BTreeMap::new());
        };
        if self.cluster.is_none() {
            return Ok(archive.file_outcomes());
        }
        let whole = table::events::EventsTable::new(Arc::new(archive.uncut()));
        self.ctx.register_table(FILE_FACTS, Arc::new(whole))?;
        let sql = format!(
            "SELECT log_file, count(*), count(*) FILTER (WHERE event_time IS NULL), \
             CAST(min(event_time) AS BIGINT) FROM {FILE_FACTS} GROUP BY log_file"
        );
        let counted = match self.ctx.sql(&sql).await {
            Ok(frame) => frame.collect().await,
            Err(e) => Err(e),
        };
        self.ctx.deregister_table(FILE_FACTS)?;
        let counted = counted?;
        // Per log file: records, records without a usable time, the oldest event (µs).
        let mut counts: BTreeMap<String, (usize, usize, Option<i64>)> = BTreeMap::new();
        for batch in &counted {
            let names = texts(batch, 0)?;
            let records = batch.column(1).as_primitive::<Int64Type>();
            let untimed = batch.column(2).as_primitive::<Int64Type>();
            let oldest = batch.column(3).as_primitive::<Int64Type>();
            for row in 0..batch.num_rows() {
                let count = |n: i64| usize::try_from(n).unwrap_or(0);
                counts.insert(
                    names.value(row).to_owned(),
                    (
                        count(records.value(row)),
                        count(untimed.value(row)),
                        oldest.is_valid(row).then(|| oldest.value(row)),
                    ),
                );
            }
        }
        Ok(archive
            .objects()
            .iter()
            .map(|object| {
                let log_file = object.context.log_file.clone();
                let (records, bad_times, oldest) = counts.remove(&log_file).unwrap_or((0, 0, None));
                // Delivery time (from the key) minus the oldest event, as a local read measures.
                let lag_seconds = object
                    .key()
                    .delivered
                    .zip(oldest)
                    .map(|(delivered, oldest)| (delivered.timestamp_micros() - oldest) / 1_000_000);
                let facts = FileFacts {
                    records,
                    json_bytes: 0,
                    bad_times,
                    lag_seconds,
                    // The executors decode; the bytes they read are not hashed here.
                    sha256: None,
                };
                (log_file, Ok(facts))
            })
            .collect())
    }

    /// The compressed size of the listed files (none over a warehouse).
    pub fn listed_bytes(&self) -> u64 {
        self.archive()
            .map_or(0, |archive| archive.objects().iter().map(|o| o.size).sum())
    }

    /// What the cluster did for the statement `plan` ran (stages, tasks, which executors read
    /// the log files), asked of the scheduler; `None` when not on a cluster.
    pub async fn cluster_work(
        &self,
        plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    ) -> Result<Option<String>> {
        let Some(url) = &self.cluster else {
            return Ok(None);
        };
        job_work(plan, url).await
    }

    /// The cluster statements run on (`--cluster df://HOST:PORT`), if any.
    pub fn cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }

    /// The digest chain's verdicts on the session's sources (the `integrity` table), verified
    /// now if no query has needed them yet. A warehouse keeps no digests: an error says so.
    pub async fn verification(&self) -> Result<Arc<Verification>> {
        match &self.store {
            Store::Archive { integrity, .. } => integrity.verification().await,
            Store::Warehouse(store) => Err(Error::Warehouse {
                location: store.location.clone(),
                reason: "a warehouse keeps no digest files: verify the raw archive it was ingested from (trailmap verify, or --verify over the raw sources)".into(),
            }),
        }
    }

    /// The digest chain's verdicts, and the integrity status of every file the session read
    /// as it read it ([`crate::verify::status_as_read`]: with the hash of the text decoded, when
    /// the session hashed it).
    pub async fn integrity_as_read(
        &self,
    ) -> Result<(Arc<Verification>, BTreeMap<String, &'static str>)> {
        let verification = self.verification().await?;
        let verdicts = verification.verdicts();
        let statuses = self
            .file_outcomes()
            .await?
            .into_iter()
            .filter_map(|(file, outcome)| {
                let facts = outcome.ok()?;
                let status = crate::verify::status_as_read(
                    verdicts.get(file.as_str()).copied(),
                    facts.sha256,
                );
                Some((file, status))
            })
            .collect();
        drop(verdicts);
        Ok((verification, statuses))
    }

    /// The filter the session reads with.
    pub fn filter(&self) -> &ScanFilter {
        match &self.store {
            Store::Archive { archive, .. } => archive.filter(),
            Store::Warehouse(store) => &store.filter,
        }
    }

    /// What the column cache holds (`None`: the session keeps no decoded columns).
    pub fn cache_usage(&self) -> Option<crate::table::cache::CacheUse> {
        self.archive().and_then(|archive| archive.cache_usage())
    }

    /// The warehouse the session reads, if it reads one.
    pub fn warehouse_location(&self) -> Option<&str> {
        match &self.store {
            Store::Archive { .. } => None,
            Store::Warehouse(store) => Some(&store.location),
        }
    }

    /// The raw archive the session reads, if it reads one (not a warehouse).
    pub fn archive(&self) -> Option<&Arc<Archive>> {
        match &self.store {
            Store::Archive { archive, .. } => Some(archive),
            Store::Warehouse(_) => None,
        }
    }
}
