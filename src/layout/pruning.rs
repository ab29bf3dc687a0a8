//! Filters → which keys and folders may hold matching rows, from what the keys say.
//!
//! One engine for every restriction: the command-line filters (`--from/--to/--account/
//! --source-region`, as `ScanFilter::key_expr` gives them) and the SQL filters of a query
//! are DataFusion `Expr`s over `events` columns, and DataFusion's `PruningPredicate` does the
//! reasoning (AND, OR, IN, ranges) against each container's [`KeySpan`]. A container it proves
//! empty is not listed or fetched. Pruning is never exact: rows are still checked one by one.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::catalog::Session;
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Column as ColumnRef, DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::{conjunction, disjunction};
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_optimizer::pruning::{PruningPredicate, PruningPredicateBuilder};

use crate::layout::key::{LogKey, PrefixScope};
use crate::layout::span::KeySpan;
use crate::schema::{Column, UTC, events_schema};

/// Columns whose values a key tells.
const KEY_COLUMNS: &[Column] = &[
    Column::LogAccount,
    Column::LogRegion,
    Column::LogDate,
    Column::EventTime,
];

/// Whether a filter can prune files: it refers only to columns a key tells.
pub fn pushdown_support(filter: &Expr) -> TableProviderFilterPushDown {
    let columns = filter.column_refs();
    let prunable = !columns.is_empty()
        && columns
            .iter()
            .all(|c| KEY_COLUMNS.iter().any(|k| k.name() == c.name));
    if prunable {
        TableProviderFilterPushDown::Inexact
    } else {
        TableProviderFilterPushDown::Unsupported
    }
}

/// The prunable filters of a scan, ANDed.
pub fn prunable_conjunction(filters: &[Expr]) -> Option<Expr> {
    conjunction(
        filters
            .iter()
            .filter(|f| pushdown_support(f) == TableProviderFilterPushDown::Inexact)
            .cloned(),
    )
}

/// The union of the key restrictions of every `events` scan in an optimized plan: a folder no
/// scan can use need not be listed. `None` when some scan is unrestricted.
pub fn plan_key_filter(plan: &LogicalPlan) -> Result<Option<Expr>> {
    let mut scans = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && scan.table_name.table() == "events"
        {
            // Plan filters name `events.log_date`; the statistics know `log_date`.
            let filters: Vec<Expr> = scan.filters.iter().cloned().map(unnormalize_col).collect();
            scans.push(prunable_conjunction(&filters));
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(scans
        .into_iter()
        .collect::<Option<Vec<Expr>>>()
        .and_then(disjunction))
}

/// A restriction on keys: a filter over `events` columns, and the delivery margin that widens
/// a key's delivery time into the event times it may hold.
#[derive(Debug, Clone)]
pub struct KeyPredicate {
    predicate: Arc<PruningPredicate>,
    margin: Duration,
}

impl KeyPredicate {
    /// The predicate of `filter` (over `events` columns, only the prunable parts of which
    /// count), if it restricts keys at all.
    pub fn new(
        filter: &[Expr],
        margin: Duration,
        session: &dyn Session,
    ) -> Result<Option<KeyPredicate>> {
        let Some(filter) = prunable_conjunction(filter) else {
            return Ok(None);
        };
        let schema = events_schema();
        let df_schema = DFSchema::try_from(Arc::clone(&schema))?;
        let physical = session.create_physical_expr(filter, &df_schema)?;
        let predicate = PruningPredicateBuilder::new()
            .with_file_schema(schema)
            .build(physical);
        Ok(predicate.map(|predicate| KeyPredicate { predicate, margin }))
    }

    /// Which of these files may hold matching rows (all of them if the statistics cannot be
    /// evaluated: pruning only ever skips what it proves empty).
    pub fn keep_keys<'k>(&self, keys: impl IntoIterator<Item = &'k LogKey>) -> Vec<bool> {
        let spans: Vec<KeySpan> = keys
            .into_iter()
            .map(|k| KeySpan::of_key(k, self.margin))
            .collect();
        self.keep(&spans)
    }

    /// Which of these folders may hold matching files.
    pub fn keep_folders<'f>(
        &self,
        folders: impl IntoIterator<Item = &'f PrefixScope>,
    ) -> Vec<bool> {
        let spans: Vec<KeySpan> = folders
            .into_iter()
            .map(|f| KeySpan::of_folder(f, self.margin))
            .collect();
        self.keep(&spans)
    }

    fn keep(&self, spans: &[KeySpan]) -> Vec<bool> {
        self.predicate
            .prune(&KeyStatistics { spans })
            .unwrap_or_else(|e| {
                tracing::warn!("cannot prune by key, keeping every file: {e}");
                vec![true; spans.len()]
            })
    }
}

/// Per-container statistics.
struct KeyStatistics<'a> {
    spans: &'a [KeySpan],
}

/// The lower or the upper end of a span.
fn bound<T>((low, high): (T, T), minimum: bool) -> T {
    if minimum { low } else { high }
}

impl KeyStatistics<'_> {
    fn text(&self, value: impl Fn(&KeySpan) -> Option<&str>) -> ArrayRef {
        Arc::new(self.spans.iter().map(value).collect::<StringArray>())
    }

    fn stat(&self, column: &ColumnRef, minimum: bool) -> Option<ArrayRef> {
        Some(match column.name.as_str() {
            "log_account" => self.text(|s| s.account.as_deref()),
            "log_region" => self.text(|s| s.region.as_deref()),
            "log_date" => Arc::new(
                self.spans
                    .iter()
                    .map(|s| s.dates.map(|dates| bound(dates, minimum)))
                    .collect::<Date32Array>(),
            ),
            "event_time" => Arc::new(
                self.spans
                    .iter()
                    .map(|s| bound(s.times, minimum))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone(UTC),
            ),
            _ => return None,
        })
    }
}

impl PruningStatistics for KeyStatistics<'_> {
    fn min_values(&self, column: &ColumnRef) -> Option<ArrayRef> {
        self.stat(column, true)
    }

    fn max_values(&self, column: &ColumnRef) -> Option<ArrayRef> {
        self.stat(column, false)
    }

    fn num_containers(&self) -> usize {
        self.spans.len()
    }

    fn null_counts(&self, _column: &ColumnRef) -> Option<ArrayRef> {
        None
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        None
    }

    fn contained(
        &self,
        _column: &ColumnRef,
        _values: &HashSet<ScalarValue>,
    ) -> Option<BooleanArray> {
        None
    }
}
