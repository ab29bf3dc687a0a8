//! The report's single pass over the archive, and the invocations re-expanded from it.
//!
//! One query folds every event into groups of the columns the report reads ([`CUBE_SQL`]): for
//! invocations every column a section groups or filters by, with the count `n`, the first and
//! last `event_time` and the smallest `error_message` of the group; for other events only the
//! account (and, for Bedrock events naming a model under an unknown event name, the event
//! source and name). Memory is bounded by the number of groups, not of events.
//!
//! The sections then run their named queries, unchanged, over [`expanded_invocations`]: a
//! table that streams each invocation group back as `n` rows, `batch_size` rows at a time. Its
//! `event_time` is the group's first time on every row but the last, which has the group's last
//! time, so that `count`, `count(DISTINCT ...)`, `min` and `max` of `event_time` and the day of
//! `event_time` (a grouping column) are exactly those of the archive's invocations. That is all
//! the named queries compute.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, TimestampMicrosecondArray, UInt32Array,
};
use datafusion::arrow::compute::{filter_record_batch, take};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::streaming::StreamingTable;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;

use crate::schema::timestamp_type;

/// Columns of an invocation group, in the order of the expanded table (then `event_time`).
const GROUP_COLUMNS: &[&str] = &[
    "account_id",
    "principal_arn",
    "user_type",
    "person",
    "person_source",
    "aws_region",
    "source_geography",
    "served_region",
    "served_geography",
    "model_id",
    "model",
    "profile_scope",
    "routing_scope",
    "surface",
    "error_code",
    "error_message",
];

/// The single pass: events folded into groups (see the module documentation).
pub fn cube_sql(unknown_event_sources: &[&str]) -> String {
    let sources: Vec<String> = unknown_event_sources
        .iter()
        .map(|s| format!("'{s}'"))
        .collect();
    let only_invocations =
        |column: &str| format!("CASE WHEN is_invocation THEN {column} END AS {column}");
    let dims: Vec<String> = GROUP_COLUMNS
        .iter()
        .filter(|c| **c != "account_id" && **c != "error_message")
        .map(|c| only_invocations(c))
        .collect();
    let named_model = format!(
        "event_source IN ({}) AND NOT is_invocation AND model_id IS NOT NULL",
        sources.join(", ")
    );
    // is_invocation, account_id, the dimensions, the two event columns and the day.
    let group_by: Vec<String> = (1..=dims.len() + 5).map(|i| i.to_string()).collect();
    format!(
        "SELECT is_invocation, account_id, {dims}, \
         CASE WHEN {named_model} THEN event_source END AS other_event_source, \
         CASE WHEN {named_model} THEN event_name END AS other_event_name, \
         CASE WHEN is_invocation THEN CAST(event_time AS DATE) END AS day, \
         count(*) AS n, min(event_time) AS first_seen, max(event_time) AS last_seen, \
         min(CASE WHEN is_invocation THEN error_message END) AS error_message \
         FROM events GROUP BY {group_by}",
        dims = dims.join(", "),
        group_by = group_by.join(", ")
    )
}

/// The invocations of `cube` (batches of [`cube_sql`], of schema `cube_schema`) as a table of
/// one row per invocation, streamed `batch_size` rows at a time.
pub fn expanded_invocations(
    cube_schema: &SchemaRef,
    cube: &[RecordBatch],
    batch_size: usize,
) -> Result<StreamingTable> {
    let invocation_groups = cube
        .iter()
        .map(|batch| {
            let flags = column(batch, "is_invocation")?;
            let flags = flags
                .as_any()
                .downcast_ref::<BooleanArray>()
                .ok_or_else(|| cube_error("is_invocation is not boolean"))?;
            let only_true: BooleanArray = flags.iter().map(|f| Some(f == Some(true))).collect();
            Ok(filter_record_batch(batch, &only_true)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let schema = expanded_schema(cube_schema)?;
    let partition = Expansion {
        schema: Arc::clone(&schema),
        groups: Arc::new(invocation_groups),
        batch_size: batch_size.max(1),
    };
    StreamingTable::try_new(schema, vec![Arc::new(partition)])
}

fn cube_error(message: &str) -> DataFusionError {
    DataFusionError::Internal(format!("report cube: {message}"))
}

fn column<'b>(batch: &'b RecordBatch, name: &str) -> Result<&'b ArrayRef> {
    batch
        .column_by_name(name)
        .ok_or_else(|| cube_error(&format!("no column {name}")))
}

/// The group columns (typed as in the cube) and `event_time`.
fn expanded_schema(cube: &SchemaRef) -> Result<SchemaRef> {
    let mut fields: Vec<Field> = GROUP_COLUMNS
        .iter()
        .map(|name| Ok(cube.field_with_name(name)?.clone().with_nullable(true)))
        .collect::<Result<_>>()?;
    fields.push(Field::new("event_time", timestamp_type(), true));
    Ok(Arc::new(Schema::new(fields)))
}

/// Streams the invocation groups back as rows.
#[derive(Debug)]
struct Expansion {
    schema: SchemaRef,
    groups: Arc<Vec<RecordBatch>>,
    batch_size: usize,
}

impl PartitionStream for Expansion {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let rows = ExpandedRows {
            schema: Arc::clone(&self.schema),
            groups: Arc::clone(&self.groups),
            batch_size: self.batch_size,
            batch: 0,
            group: 0,
            done_in_group: 0,
        };
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            futures::stream::iter(rows),
        ))
    }
}

/// Where the expansion is: cube batch, group in it, rows of that group already emitted.
struct ExpandedRows {
    schema: SchemaRef,
    groups: Arc<Vec<RecordBatch>>,
    batch_size: usize,
    batch: usize,
    group: usize,
    done_in_group: i64,
}

impl ExpandedRows {
    /// The next batch of at most `batch_size` rows, from the current cube batch.
    fn next_batch(&mut self, cube: &RecordBatch) -> Result<RecordBatch> {
        let counts = typed::<Int64Array>(column(cube, "n")?)?;
        let first = typed::<TimestampMicrosecondArray>(column(cube, "first_seen")?)?;
        let last = typed::<TimestampMicrosecondArray>(column(cube, "last_seen")?)?;
        let mut indices = Vec::with_capacity(self.batch_size);
        let mut times: Vec<Option<i64>> = Vec::with_capacity(self.batch_size);
        while indices.len() < self.batch_size && self.group < cube.num_rows() {
            let n = counts.value(self.group);
            let take_now = (n - self.done_in_group).min((self.batch_size - indices.len()) as i64);
            for k in 0..take_now {
                let row = self.done_in_group + k;
                indices.push(self.group as u32);
                let time = if row == n - 1 { last } else { first };
                times.push(time.is_valid(self.group).then(|| time.value(self.group)));
            }
            self.done_in_group += take_now;
            if self.done_in_group == n {
                self.group += 1;
                self.done_in_group = 0;
            }
        }
        let indices = UInt32Array::from(indices);
        let mut columns = GROUP_COLUMNS
            .iter()
            .map(|name| Ok(take(column(cube, name)?.as_ref(), &indices, None)?))
            .collect::<Result<Vec<ArrayRef>>>()?;
        columns.push(Arc::new(
            TimestampMicrosecondArray::from(times).with_timezone(crate::schema::UTC),
        ));
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

impl Iterator for ExpandedRows {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let groups = Arc::clone(&self.groups);
            let cube = groups.get(self.batch)?;
            if self.group < cube.num_rows() {
                return Some(self.next_batch(cube));
            }
            self.batch += 1;
            self.group = 0;
            self.done_in_group = 0;
        }
    }
}

fn typed<T: 'static>(array: &ArrayRef) -> Result<&T> {
    array
        .as_any()
        .downcast_ref::<T>()
        .ok_or_else(|| cube_error("unexpected column type"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::StringArray;
    use datafusion::prelude::SessionContext;

    /// Two invocation groups (3 calls and 1 call) and one group of other events.
    fn cube() -> (SchemaRef, RecordBatch) {
        let text = |values: [Option<&str>; 3]| -> ArrayRef {
            Arc::new(StringArray::from(values.to_vec()))
        };
        let mut fields = vec![Field::new(
            "is_invocation",
            datafusion::arrow::datatypes::DataType::Boolean,
            true,
        )];
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(BooleanArray::from(vec![true, true, false]))];
        for name in GROUP_COLUMNS {
            fields.push(Field::new(
                *name,
                datafusion::arrow::datatypes::DataType::Utf8,
                true,
            ));
            columns.push(match *name {
                "aws_region" => text([Some("eu-west-1"), Some("us-east-1"), None]),
                _ => text([None, None, None]),
            });
        }
        fields.push(Field::new(
            "n",
            datafusion::arrow::datatypes::DataType::Int64,
            false,
        ));
        columns.push(Arc::new(Int64Array::from(vec![3, 1, 50])));
        for name in ["first_seen", "last_seen"] {
            fields.push(Field::new(name, timestamp_type(), true));
        }
        let times = |values: [i64; 3]| -> ArrayRef {
            Arc::new(
                TimestampMicrosecondArray::from(values.to_vec()).with_timezone(crate::schema::UTC),
            )
        };
        columns.push(times([10, 40, 1]));
        columns.push(times([30, 40, 99]));
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).unwrap();
        (schema, batch)
    }

    #[test]
    fn groups_come_back_as_their_rows_in_small_batches() {
        let (schema, batch) = cube();
        let table = expanded_invocations(&schema, &[batch], 2).unwrap();
        let ctx = SessionContext::new();
        ctx.register_table("invocations", Arc::new(table)).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let rows = runtime.block_on(async {
            ctx.sql(
                "SELECT aws_region, count(*) AS n, CAST(min(event_time) AS BIGINT) AS first, \
                 CAST(max(event_time) AS BIGINT) AS last FROM invocations GROUP BY 1 ORDER BY 1",
            )
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
        });
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&rows)
            .unwrap()
            .to_string();
        assert!(text.contains("| eu-west-1  | 3 | 10    | 30   |"), "{text}");
        assert!(text.contains("| us-east-1  | 1 | 40    | 40   |"), "{text}");
        let batches = runtime.block_on(async {
            ctx.sql("SELECT * FROM invocations")
                .await
                .unwrap()
                .collect()
                .await
                .unwrap()
        });
        assert_eq!(
            batches
                .iter()
                .map(RecordBatch::num_rows)
                .collect::<Vec<_>>(),
            [2, 2]
        );
    }
}
