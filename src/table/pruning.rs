//! SQL filters → which files to read (and which S3 folders to list), from what keys say.
//!
//! A "container" is a file or a folder of files; its statistics come from its key: account,
//! Region and dates are exact, `event_time` is the delivery time (or dates) widened by the
//! delivery margin (`--delivery-margin`) and [`crate::filter::CLOCK_SKEW`]. DataFusion's
//! `PruningPredicate` does the reasoning (AND, OR, IN, ranges); containers it proves empty are
//! not listed or fetched. The filters stay `Inexact`, so DataFusion still checks every row.

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

use crate::decode::row::days_since_epoch;
use crate::filter::{TimeSpan, key_time_span, prefix_time_span};
use crate::schema::{Column, UTC, events_schema};
use crate::source::LogObject;
use crate::source::key::{LogKey, PrefixScope};

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
fn prunable_conjunction(filters: &[Expr]) -> Option<Expr> {
    conjunction(
        filters
            .iter()
            .filter(|f| pushdown_support(f) == TableProviderFilterPushDown::Inexact)
            .cloned(),
    )
}

/// What is known about the keys in one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySpan {
    account: Option<String>,
    region: Option<String>,
    dates: Option<(i32, i32)>,
    times: (Option<i64>, Option<i64>),
}

fn micros(span: TimeSpan) -> (Option<i64>, Option<i64>) {
    (
        span.0.map(|t| t.timestamp_micros()),
        span.1.map(|t| t.timestamp_micros()),
    )
}

impl KeySpan {
    /// The span of one file's key; its events may be up to `margin` older than its delivery.
    pub fn of_key(key: &LogKey, margin: Duration) -> KeySpan {
        KeySpan {
            account: key.account.clone(),
            region: key.region.clone(),
            dates: key.date.map(|d| (days_since_epoch(d), days_since_epoch(d))),
            times: micros(key_time_span(key, margin)),
        }
    }

    /// The span of every key under a folder, with the delivery `margin`.
    pub fn of_folder(folder: &PrefixScope, margin: Duration) -> KeySpan {
        KeySpan {
            account: folder.account.clone(),
            region: folder.region.clone(),
            dates: folder
                .dates
                .map(|(a, b)| (days_since_epoch(a), days_since_epoch(b))),
            times: micros(prefix_time_span(folder, margin)),
        }
    }
}

/// A restriction on keys, from SQL filters.
#[derive(Debug, Clone)]
pub struct KeyPredicate {
    predicate: Arc<PruningPredicate>,
}

impl KeyPredicate {
    /// The predicate of `filter` (over `events` columns), if it restricts keys at all.
    fn new(filter: Expr, session: &dyn Session) -> Result<Option<KeyPredicate>> {
        let schema = events_schema();
        let df_schema = DFSchema::try_from(Arc::clone(&schema))?;
        let physical = session.create_physical_expr(filter, &df_schema)?;
        let predicate = PruningPredicateBuilder::new()
            .with_file_schema(schema)
            .build(physical);
        Ok(predicate.map(|predicate| KeyPredicate { predicate }))
    }

    /// The predicate of one scan's pushed-down filters.
    pub fn from_filters(filters: &[Expr], session: &dyn Session) -> Result<Option<KeyPredicate>> {
        match prunable_conjunction(filters) {
            Some(filter) => KeyPredicate::new(filter, session),
            None => Ok(None),
        }
    }

    /// The union of the key restrictions of every `events` scan in an optimized plan: a folder
    /// no scan can use need not be listed. `None` when some scan is unrestricted.
    pub fn from_plan(plan: &LogicalPlan, session: &dyn Session) -> Result<Option<KeyPredicate>> {
        let mut scans = Vec::new();
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node
                && scan.table_name.table() == "events"
            {
                // Plan filters name `events.log_date`; the statistics know `log_date`.
                let filters: Vec<Expr> =
                    scan.filters.iter().cloned().map(unnormalize_col).collect();
                scans.push(prunable_conjunction(&filters));
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        match scans
            .into_iter()
            .collect::<Option<Vec<Expr>>>()
            .and_then(disjunction)
        {
            Some(filter) => KeyPredicate::new(filter, session),
            None => Ok(None),
        }
    }

    /// Which containers may hold matching rows.
    pub fn keep(&self, spans: &[KeySpan]) -> Result<Vec<bool>> {
        self.predicate.prune(&KeyStatistics { spans })
    }
}

/// The files that may hold rows matching `filters`, a file's events being up to `margin` older
/// than its delivery.
pub fn prune(
    objects: &[Arc<LogObject>],
    filters: &[Expr],
    margin: Duration,
    session: &dyn Session,
) -> Result<Vec<Arc<LogObject>>> {
    let Some(predicate) = KeyPredicate::from_filters(filters, session)? else {
        return Ok(objects.to_vec());
    };
    let spans: Vec<KeySpan> = objects
        .iter()
        .map(|o| KeySpan::of_key(o.key(), margin))
        .collect();
    let keep = predicate.keep(&spans)?;
    let kept: Vec<_> = objects
        .iter()
        .zip(keep)
        .filter(|(_, keep)| *keep)
        .map(|(object, _)| Arc::clone(object))
        .collect();
    tracing::debug!(
        listed = objects.len(),
        kept = kept.len(),
        "pruned files by SQL filters"
    );
    Ok(kept)
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
