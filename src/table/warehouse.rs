//! `events` over a Parquet warehouse: the files its manifest names, pruned by the keys of the
//! objects each file holds (the same [`KeyPredicate`] that prunes a raw archive's keys, so
//! `log_date`, `log_account`, `log_region` and `event_time` filters skip whole files), then read
//! by DataFusion's Parquet scan, which prunes row groups by their statistics.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DFSchema, Result};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::DataFusionError;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::filter::FilterExecBuilder;

use crate::error::LoadError;
use crate::filter::ScanFilter;
use crate::layout::key::{LogKey, PrefixScope};
use crate::layout::pruning::KeyPredicate;
use crate::schema::events_schema;
use crate::table::archive::Coverage;
use crate::verify::integrity_schema;
use crate::warehouse::Warehouse;
use crate::warehouse::manifest::{Manifest, ObjectTotals};

/// Bytes read from the end of a Parquet file at first: its whole footer (46 columns' chunk
/// statistics per row group) in one request.
const FOOTER_HINT: usize = 64 << 10;

/// One Parquet file of the warehouse and the objects in it (their keys are parsed only when
/// a statement has filters to prune by).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EventsFile {
    /// Its path in the object store.
    pub path: String,
    /// Its size.
    pub bytes: u64,
    /// The `log_date` of its rows (`None`: files outside the CloudTrail key layout).
    pub log_date: Option<String>,
    /// The log files (names of the ingested objects) whose events it holds; `None` when the
    /// manifest was read without its objects (the file is then pruned by its `log_date`, and
    /// its row groups by their statistics).
    pub log_files: Option<Vec<String>>,
}

impl EventsFile {
    /// Which of `files` may hold rows `predicate` keeps: by the keys of their objects, or by
    /// their day when the objects were not read.
    fn keep(files: &[EventsFile], predicate: &KeyPredicate) -> Vec<bool> {
        let days: Vec<PrefixScope> = files
            .iter()
            .map(|file| PrefixScope {
                dates: file
                    .log_date
                    .as_deref()
                    .and_then(|d| d.parse().ok())
                    .map(|day| (day, day)),
                ..PrefixScope::default()
            })
            .collect();
        let kept_by_day = predicate.keep_folders(&days);
        files
            .iter()
            .zip(kept_by_day)
            .map(|(file, kept_by_day)| match &file.log_files {
                // A file no ledger object names (another engine's OPTIMIZE or append) is
                // pruned by its day alone.
                Some(log_files) if !log_files.is_empty() => {
                    let keys: Vec<LogKey> = log_files.iter().map(|f| LogKey::parse(f)).collect();
                    predicate.keep_keys(&keys).contains(&true)
                }
                _ => kept_by_day,
            })
            .collect()
    }
}

/// `events` over a warehouse, with the command line's exact cut.
#[derive(Debug)]
pub struct WarehouseEvents {
    store_url: ObjectStoreUrl,
    files: Vec<EventsFile>,
    filter: ScanFilter,
}

impl WarehouseEvents {
    /// The table over `manifest`'s files, rows cut by `filter` as a raw scan cuts them.
    pub fn new(warehouse: Warehouse, manifest: &Manifest, filter: ScanFilter) -> Self {
        let objects = manifest.objects_by_file();
        let files = manifest
            .files
            .values()
            .map(|file| EventsFile {
                path: warehouse.path(&file.path).to_string(),
                bytes: file.bytes,
                log_date: file.log_date.clone(),
                log_files: manifest.objects_read.then(|| {
                    objects
                        .get(file.path.as_str())
                        .into_iter()
                        .flatten()
                        .map(|o| o.log_file.clone())
                        .collect()
                }),
            })
            .collect();
        WarehouseEvents::of_files(warehouse.store_url(), files, filter)
    }

    /// The table over `files` in the object store known as `store_url`.
    pub fn of_files(store_url: ObjectStoreUrl, files: Vec<EventsFile>, filter: ScanFilter) -> Self {
        WarehouseEvents {
            store_url,
            files,
            filter,
        }
    }

    /// The URL of the object store holding the files.
    pub fn store_url(&self) -> &ObjectStoreUrl {
        &self.store_url
    }

    /// Every file of the table.
    pub fn files(&self) -> &[EventsFile] {
        &self.files
    }

    /// The command line's cut.
    pub fn filter(&self) -> &ScanFilter {
        &self.filter
    }

    /// The files that may hold rows matching `filters` (and the command line's filter).
    fn prune(&self, filters: &[Expr], session: &dyn Session) -> Result<Vec<&EventsFile>> {
        let key_filters: Vec<Expr> = filters
            .iter()
            .cloned()
            .chain(self.filter.key_expr())
            .collect();
        let Some(predicate) =
            KeyPredicate::new(&key_filters, self.filter.delivery_margin, session)?
        else {
            return Ok(self.files.iter().collect());
        };
        let keep = EventsFile::keep(&self.files, &predicate);
        Ok(self
            .files
            .iter()
            .zip(keep)
            .filter_map(|(file, keep)| keep.then_some(file))
            .collect())
    }
}

#[async_trait]
impl TableProvider for WarehouseEvents {
    fn schema(&self) -> SchemaRef {
        events_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Files and row groups are pruned by them; DataFusion still filters the rows.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let schema = events_schema();
        let requested: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..schema.fields().len()).collect());
        let files = self.prune(filters, state)?;
        tracing::debug!(
            files = self.files.len(),
            kept = files.len(),
            "pruned warehouse files"
        );
        if files.is_empty() {
            return Ok(Arc::new(EmptyExec::new(Arc::new(
                schema.project(&requested)?,
            ))));
        }
        // The command line's cut reads its columns even when the query does not select them:
        // they are scanned after the requested ones and projected away after the filter.
        let cut = self.filter.record_expr();
        let mut scanned = requested.clone();
        if let Some(cut) = &cut {
            for column in cut.column_refs() {
                let index = schema.index_of(&column.name)?;
                if !scanned.contains(&index) {
                    scanned.push(index);
                }
            }
        }
        let table_schema = DFSchema::try_from(Arc::clone(&schema))?;
        // trailmap writes row-group statistics only (no page index, no bloom filters): the
        // footer, read in one request, is all there is to prune by.
        let mut source = ParquetSource::new(Arc::clone(&schema))
            .with_enable_page_index(false)
            .with_bloom_filter_on_read(false)
            .with_metadata_size_hint(FOOTER_HINT);
        if let Some(predicate) = conjunction(filters.iter().cloned().chain(cut.clone())) {
            source = source.with_predicate(state.create_physical_expr(predicate, &table_schema)?);
        }
        let partitions = state.config().target_partitions().max(1);
        let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); partitions.min(files.len())];
        let group_count = groups.len();
        for (i, file) in files.iter().enumerate() {
            groups[i % group_count].push(PartitionedFile::new(file.path.clone(), file.bytes));
        }
        let exact_limit = (filters.is_empty() && cut.is_none())
            .then_some(limit)
            .flatten();
        let config = FileScanConfigBuilder::new(self.store_url.clone(), Arc::new(source))
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(Some(scanned.clone()))?
            .with_limit(exact_limit)
            .build();
        let scan: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
        let Some(cut) = cut else {
            return Ok(scan);
        };
        let scanned_schema = DFSchema::try_from(scan.schema())?;
        let predicate = state.create_physical_expr(cut, &scanned_schema)?;
        let filter = FilterExecBuilder::new(predicate, scan)
            .apply_projection(Some((0..requested.len()).collect()))?
            .build()?;
        Ok(Arc::new(filter))
    }
}

/// What a session over the warehouse covers under `filter`: the ingested objects whose keys
/// `filter` keeps (as listing the raw archive with the same filter would), and the objects it
/// keeps that could not be ingested.
pub fn warehouse_coverage(
    manifest: &Manifest,
    filter: &ScanFilter,
    session: &dyn Session,
) -> Result<(Coverage, Vec<LoadError>)> {
    let key_filters: Vec<Expr> = filter.key_expr().into_iter().collect();
    let predicate = KeyPredicate::new(&key_filters, filter.delivery_margin, session)?;
    let load_errors: Vec<LoadError> =
        kept_by_key(manifest.unread(), |e| &e.log_file, predicate.as_ref())
            .into_iter()
            .cloned()
            .collect();
    let mut coverage = Coverage {
        files_failed: load_errors.len(),
        delivery_margin_seconds: filter.delivery_margin.num_seconds(),
        ..Coverage::default()
    };
    let totals = match (&predicate, manifest.totals()) {
        (None, Some(totals)) => totals,
        _ if manifest.objects_read => ObjectTotals::of(kept_by_key(
            manifest.objects.values(),
            |o| &o.log_file,
            predicate.as_ref(),
        )),
        _ => {
            return Err(DataFusionError::Internal(
                "the warehouse's objects were not read, yet coverage is cut by key".into(),
            ));
        }
    };
    coverage.files_read = totals.objects as usize;
    coverage.records = totals.events as usize;
    coverage.json_bytes = totals.json_bytes;
    coverage.bad_event_times = totals.bad_times as usize;
    coverage.max_delivery_lag_seconds = totals.max_lag_seconds;
    coverage.files_listed = coverage.files_read + coverage.files_failed;
    Ok((coverage, load_errors))
}

/// The items whose log file's key `predicate` keeps (all of them without one), the predicate
/// evaluated once for all.
fn kept_by_key<'a, T>(
    items: impl IntoIterator<Item = &'a T>,
    log_file: impl Fn(&T) -> &str,
    predicate: Option<&KeyPredicate>,
) -> Vec<&'a T> {
    let items: Vec<&T> = items.into_iter().collect();
    let Some(predicate) = predicate else {
        return items;
    };
    let keys: Vec<LogKey> = items
        .iter()
        .map(|item| LogKey::parse(log_file(item)))
        .collect();
    let keep = predicate.keep_keys(&keys);
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, keep)| keep.then_some(item))
        .collect()
}

/// `integrity` over a warehouse: the digest chain covers the raw log files, which a warehouse
/// does not keep, so scanning it says where to verify instead of answering nothing.
#[derive(Debug)]
pub struct NoIntegrity {
    location: String,
}

impl NoIntegrity {
    /// The table of the warehouse at `location`.
    pub fn new(location: String) -> Self {
        NoIntegrity { location }
    }

    /// The warehouse's location.
    pub fn location(&self) -> &str {
        &self.location
    }
}

#[async_trait]
impl TableProvider for NoIntegrity {
    fn schema(&self) -> SchemaRef {
        integrity_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Err(DataFusionError::Plan(format!(
            "the integrity table needs the raw archive and its digest files; {} is a warehouse: run `trailmap verify -s` on the trail bucket it was ingested from",
            self.location
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{SessionContext, col, lit};

    fn file(day: &str, log_files: Option<Vec<String>>) -> EventsFile {
        EventsFile {
            path: format!("events/log_date={day}/part.parquet"),
            bytes: 1,
            log_date: Some(day.to_owned()),
            log_files,
        }
    }

    #[test]
    fn a_file_no_ledger_object_names_is_pruned_by_its_day_alone() {
        let key = |day: &str| {
            format!(
                "s3://b/AWSLogs/111122223333/CloudTrail/eu-west-1/{}/111122223333_CloudTrail_eu-west-1_{}T1205Z_a.json.gz",
                day.replace('-', "/"),
                day.replace('-', "")
            )
        };
        let files = [
            file("2025-03-01", Some(vec![key("2025-03-01")])),
            file("2025-03-01", Some(vec![])),
            file("2025-03-02", Some(vec![])),
            file("2025-03-01", None),
        ];
        let state = SessionContext::new().state();
        let filter = col("log_region")
            .eq(lit("eu-west-1"))
            .and(col("log_date").eq(lit(datafusion::scalar::ScalarValue::Date32(Some(20148)))));
        let predicate = KeyPredicate::new(&[filter], chrono::Duration::zero(), &state)
            .unwrap()
            .unwrap();
        // 20148 days after 1970-01-01 is 2025-03-01.
        assert_eq!(
            EventsFile::keep(&files, &predicate),
            vec![true, true, false, true]
        );
    }
}
