//! Arrow builders for the projected columns, flushed into a batch every `batch_size` rows.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, RecordBatch, RecordBatchOptions, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::memory_pool::MemoryReservation;

use crate::decode::Pending;
use crate::decode::row::Value;
use crate::error::{DecodeError, LoadStage};
use crate::schema::{Column, Kind, UTC};

/// Rows a builder makes room for up front (it grows past this as needed). Most log files hold
/// tens to hundreds of records, and filters keep fewer.
const INITIAL_ROWS: usize = 128;

/// A batch of a file's rows, with those that wait for an application profile.
#[derive(Debug)]
pub struct DecodedBatch {
    /// The rows.
    pub batch: RecordBatch,
    /// Rows of `batch` that call an application profile the plan did not know.
    pub pending: Vec<Pending>,
    /// Whether `session_tags` holds access keys waiting for every session of the archive
    /// ([`crate::decode::resolve_session_tags`]).
    pub sessions: bool,
}

/// A row that calls an application profile the plan does not know.
#[derive(Debug, Clone, Copy)]
pub struct PendingCall<'a> {
    /// The profile's ARN.
    pub arn: &'a str,
    /// The record's source Region.
    pub aws_region: Option<&'a str>,
    /// The record logs no `inferenceRegion`.
    pub served: bool,
}

/// Builds batches of the projected columns, at most `batch_size` rows each, their memory
/// reserved from DataFusion's memory pool as they are built.
pub struct BatchBuilder<'m> {
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
    batch_size: usize,
    pending: Vec<Pending>,
    waits_for_sessions: bool,
    done: Vec<DecodedBatch>,
    memory: &'m mut MemoryReservation,
}

impl<'m> BatchBuilder<'m> {
    /// Builders for `columns` (of `schema`), flushed every `batch_size` rows; every batch's
    /// memory is added to `memory` (a refusal of the pool is an error).
    pub fn new(
        schema: SchemaRef,
        columns: &[Column],
        batch_size: usize,
        memory: &'m mut MemoryReservation,
    ) -> Self {
        let batch_size = batch_size.max(1);
        BatchBuilder {
            builders: columns
                .iter()
                .map(|c| Builder::new(c.kind(), batch_size.min(INITIAL_ROWS)))
                .collect(),
            schema,
            rows: 0,
            batch_size,
            pending: Vec::new(),
            waits_for_sessions: false,
            done: Vec::new(),
            memory,
        }
    }

    /// Appends one row: `values` in the order of the columns, `pending` when it waits for an
    /// application profile, `waits_for_sessions` when its `session_tags` waits for every
    /// session.
    pub fn append<'a>(
        &mut self,
        values: impl Iterator<Item = Value<'a>>,
        pending: Option<PendingCall<'_>>,
        waits_for_sessions: bool,
    ) -> Result<(), DecodeError> {
        for (builder, value) in self.builders.iter_mut().zip(values) {
            builder.append(value);
        }
        self.waits_for_sessions |= waits_for_sessions;
        if let Some(call) = pending {
            self.add_pending(call);
        }
        self.rows += 1;
        if self.rows >= self.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    /// The batches built, the last one flushed now.
    pub fn finish(mut self) -> Result<Vec<DecodedBatch>, DecodeError> {
        if self.rows > 0 {
            self.flush()?;
        }
        Ok(self.done)
    }

    /// Adds the row being appended to its group of `call` (groups are few: one per
    /// application profile and source Region in the batch; the latest is looked at first).
    fn add_pending(&mut self, call: PendingCall<'_>) {
        let row = u32::try_from(self.rows).unwrap_or(u32::MAX);
        let group = self.pending.iter_mut().rev().find(|p| {
            p.arn == call.arn
                && p.aws_region.as_deref() == call.aws_region
                && p.served == call.served
        });
        match group {
            Some(group) => group.rows.push(row),
            None => {
                self.pending.push(Pending {
                    rows: vec![row],
                    arn: call.arn.to_owned(),
                    aws_region: call.aws_region.map(str::to_owned),
                    served: call.served,
                });
            }
        }
    }

    fn flush(&mut self) -> Result<(), DecodeError> {
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        let batch = RecordBatch::try_new_with_options(Arc::clone(&self.schema), arrays, &options)
            .map_err(|e| {
            DecodeError::new(LoadStage::Schema, format!("building Arrow batch: {e}"))
        })?;
        self.memory
            .try_grow(batch.get_array_memory_size())
            .map_err(DecodeError::out_of_memory)?;
        self.done.push(DecodedBatch {
            batch,
            pending: std::mem::take(&mut self.pending),
            sessions: std::mem::take(&mut self.waits_for_sessions),
        });
        self.rows = 0;
        Ok(())
    }
}

/// An Arrow builder for one column kind.
enum Builder {
    Text(StringBuilder),
    Bool(BooleanBuilder),
    Time(TimestampMicrosecondBuilder),
    Date(Date32Builder),
}

impl Builder {
    fn new(kind: Kind, rows: usize) -> Self {
        match kind {
            Kind::Text => Builder::Text(StringBuilder::with_capacity(rows, rows * 16)),
            Kind::Bool => Builder::Bool(BooleanBuilder::with_capacity(rows)),
            Kind::Time => {
                Builder::Time(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(UTC))
            }
            Kind::Date => Builder::Date(Date32Builder::with_capacity(rows)),
        }
    }

    /// Appends a value; a value of another kind than the builder's is a bug, caught by tests of
    /// every column, and appends null rather than corrupting the batch.
    fn append(&mut self, value: Value<'_>) {
        match (self, value) {
            (Builder::Text(b), Value::Text(v)) => b.append_option(v),
            (Builder::Bool(b), Value::Bool(v)) => b.append_option(v),
            (Builder::Time(b), Value::Time(v)) => b.append_option(v),
            (Builder::Date(b), Value::Date(v)) => b.append_option(v),
            (builder, value) => {
                debug_assert!(false, "column kind mismatch: {value:?}");
                builder.append_null();
            }
        }
    }

    fn append_null(&mut self) {
        match self {
            Builder::Text(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
            Builder::Time(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
        }
    }
}
