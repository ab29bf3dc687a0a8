//! SQL filters → which files to read, from what their keys say.
//!
//! Each file is a "container" whose statistics come from its key: `log_account`, `log_region`
//! and `log_date` are exact, `event_time` is the delivery time widened by
//! [`crate::filter::DELIVERY_LAG`] / [`crate::filter::CLOCK_SKEW`]. DataFusion's
//! `PruningPredicate` does the reasoning (AND, OR, IN, ranges); files it proves empty are not
//! fetched. The filters stay `Inexact`, so DataFusion still checks every row.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::catalog::Session;
use datafusion::common::pruning::PruningStatistics;
use datafusion::common::{Column as ColumnRef, DFSchema, Result, ScalarValue};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_optimizer::pruning::PruningPredicateBuilder;

use crate::filter::key_time_span;
use crate::schema::{Column, UTC, events_schema};
use crate::source::LogObject;

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

/// The files that may hold rows matching `filters`.
pub fn prune(
    objects: &[Arc<LogObject>],
    filters: &[Expr],
    session: &dyn Session,
) -> Result<Vec<Arc<LogObject>>> {
    let prunable: Vec<Expr> = filters
        .iter()
        .filter(|f| pushdown_support(f) == TableProviderFilterPushDown::Inexact)
        .cloned()
        .collect();
    let Some(predicate) = conjunction(prunable) else {
        return Ok(objects.to_vec());
    };
    let schema = events_schema();
    let df_schema = DFSchema::try_from(Arc::clone(&schema))?;
    let physical = session.create_physical_expr(predicate, &df_schema)?;
    let Some(pruning) = PruningPredicateBuilder::new()
        .with_file_schema(schema)
        .build(physical)
    else {
        return Ok(objects.to_vec());
    };
    let keep = pruning.prune(&KeyStatistics { objects })?;
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

/// Per-file statistics read off the keys.
struct KeyStatistics<'a> {
    objects: &'a [Arc<LogObject>],
}

impl KeyStatistics<'_> {
    fn text(&self, value: impl Fn(&LogObject) -> Option<&str>) -> ArrayRef {
        Arc::new(
            self.objects
                .iter()
                .map(|o| value(o))
                .collect::<StringArray>(),
        )
    }

    fn times(&self, bound: impl Fn(&LogObject) -> Option<i64>) -> ArrayRef {
        let array: TimestampMicrosecondArray = self.objects.iter().map(|o| bound(o)).collect();
        Arc::new(array.with_timezone(UTC))
    }

    fn stat(&self, column: &ColumnRef, minimum: bool) -> Option<ArrayRef> {
        let span = |o: &LogObject| {
            let (earliest, latest) = key_time_span(&o.context.key);
            if minimum { earliest } else { latest }.map(|t| t.timestamp_micros())
        };
        match column.name.as_str() {
            "log_account" => Some(self.text(|o| o.context.key.account.as_deref())),
            "log_region" => Some(self.text(|o| o.context.key.region.as_deref())),
            "log_date" => Some(Arc::new(
                self.objects
                    .iter()
                    .map(|o| o.context.log_date)
                    .collect::<Date32Array>(),
            )),
            "event_time" => Some(self.times(span)),
            _ => None,
        }
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
        self.objects.len()
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
