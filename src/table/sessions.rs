//! The `sessions` table: every temporary credential the archive's STS events issue, with the
//! session tags passed (see [`crate::decode::sessions`]).
//!
//! Over a raw archive the sessions are found with the files' other facts; over a warehouse they
//! are read back from its `events` rows ([`sessions_in`]).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, AsArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampMicrosecondType};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use crate::decode::record::Raw;
use crate::decode::sessions::{
    ISSUING_EVENTS, IssuingEvent, STS_EVENT_SOURCE, Session as StsSession, SessionMap,
    issued_session,
};
use crate::schema::{SESSIONS_COLUMNS, UTC, timestamp_type};
use crate::table::archive::Archive;
use crate::table::small::{SmallTable, SmallTableRows};

/// The rows of `sessions` over a raw archive.
#[derive(Debug)]
pub struct SessionRows;

/// The `sessions` table over `archive`.
pub fn sessions_table(archive: Arc<Archive>) -> SmallTable<SessionRows> {
    SmallTable::new(archive, sessions_schema(), SessionRows)
}

#[async_trait]
impl SmallTableRows for SessionRows {
    async fn rows(&self, archive: &Archive, schema: SchemaRef) -> Result<RecordBatch> {
        sessions_batch(schema, &*archive.sessions().await)
    }
}

/// The columns of `sessions`.
pub fn sessions_schema() -> SchemaRef {
    let fields: Vec<Field> = SESSIONS_COLUMNS
        .iter()
        .map(|c| match c.name {
            "issued_at" | "expires_at" => Field::new(c.name, timestamp_type(), true),
            "access_key_id" | "event_name" | "log_file" => {
                Field::new(c.name, DataType::Utf8, false)
            }
            _ => Field::new(c.name, DataType::Utf8, true),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The rows of `sessions` as one batch, in the order they were issued.
pub fn sessions_batch(schema: SchemaRef, sessions: &SessionMap) -> Result<RecordBatch> {
    let mut rows: Vec<&StsSession> = sessions.iter().collect();
    rows.sort_by(|a, b| (a.issued_at, &a.access_key_id).cmp(&(b.issued_at, &b.access_key_id)));
    let text = |f: &dyn Fn(&StsSession) -> Option<String>| {
        Arc::new(rows.iter().map(|s| f(s)).collect::<StringArray>())
    };
    let time = |f: fn(&StsSession) -> Option<i64>| {
        Arc::new(
            rows.iter()
                .map(|s| f(s))
                .collect::<TimestampMicrosecondArray>()
                .with_timezone(UTC),
        )
    };
    Ok(RecordBatch::try_new(
        schema,
        vec![
            text(&|s| Some(s.access_key_id.clone())),
            text(&|s| s.account_id.clone()),
            text(&|s| Some(s.event_name.clone())),
            text(&|s| s.role_arn.clone()),
            text(&|s| s.session_name.clone()),
            text(&|s| s.source_identity.clone()),
            text(&|s| json_text(&s.tags)),
            text(&|s| sessions.session_tags(&s.access_key_id)),
            text(&|s| json_text(&s.transitive_tag_keys)),
            text(&|s| s.caller_access_key_id().map(str::to_owned)),
            text(&|s| s.issuer.clone()),
            time(|s| s.issued_at),
            time(|s| s.expires_at),
            text(&|s| Some(s.log_file.clone())),
        ],
    )?)
}

/// A value as JSON text.
fn json_text<T: serde::Serialize>(value: &T) -> Option<String> {
    serde_json::to_string(value).ok()
}

/// The `events` columns a session is read from.
const ISSUING_COLUMNS: [&str; 8] = [
    "event_name",
    "request_parameters",
    "response_elements",
    "user_identity",
    "event_time",
    "account_id",
    "log_file",
    "event_source",
];

/// The sessions issued by the STS events of `events` (a table with the `events` columns, such
/// as a warehouse's), read with `ctx`.
pub async fn sessions_in(
    ctx: &SessionContext,
    events: Arc<dyn TableProvider>,
) -> Result<SessionMap> {
    let issuing = ISSUING_EVENTS.iter().map(|name| lit(*name)).collect();
    let batches = ctx
        .read_table(events)?
        .filter(
            col("event_source")
                .eq(lit(STS_EVENT_SOURCE))
                .and(col("error_code").is_null())
                .and(col("event_name").in_list(issuing, false)),
        )?
        .select_columns(&ISSUING_COLUMNS)?
        .collect()
        .await?;
    let mut sessions = SessionMap::default();
    for batch in &batches {
        collect_batch(batch, &mut sessions)?;
    }
    Ok(sessions)
}

/// Adds the sessions of the rows of `batch` (of [`ISSUING_COLUMNS`]).
fn collect_batch(batch: &RecordBatch, sessions: &mut SessionMap) -> Result<()> {
    let text = |name: &str| -> Result<&StringArray> {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| DataFusionError::Internal(format!("sessions: no text column {name}")))
    };
    let (names, request, response, identity, account, log_file) = (
        text("event_name")?,
        text("request_parameters")?,
        text("response_elements")?,
        text("user_identity")?,
        text("account_id")?,
        text("log_file")?,
    );
    let times = batch
        .column_by_name("event_time")
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>())
        .ok_or_else(|| DataFusionError::Internal("sessions: no event_time".into()))?;
    let value = text_at;
    for row in 0..batch.num_rows() {
        let Some(event_name) = value(names, row) else {
            continue;
        };
        let issued = issued_session(IssuingEvent {
            event_name,
            request_parameters: raw(request, row),
            response_elements: raw(response, row),
            user_identity: raw(identity, row),
            event_time: times.is_valid(row).then(|| times.value(row)),
            account_id: value(account, row),
            log_file: value(log_file, row).unwrap_or_default(),
        });
        if let Some(session) = issued {
            sessions.insert(session);
        }
    }
    Ok(())
}

/// The JSON text of `array` at `row`, if not null (the JSON texts of `events` are the log's
/// own, one value each).
fn raw(array: &StringArray, row: usize) -> Option<Raw<'_>> {
    text_at(array, row).map(Raw::checked)
}

/// The text of `array` at `row`, if not null.
fn text_at(array: &StringArray, row: usize) -> Option<&str> {
    array.is_valid(row).then(|| array.value(row))
}

/// `sessions` over a warehouse: read from its `events` when scanned.
#[derive(Debug)]
pub struct WarehouseSessions {
    events: Arc<dyn TableProvider>,
}

impl WarehouseSessions {
    /// The sessions of the warehouse whose `events` table is `events`.
    pub fn new(events: Arc<dyn TableProvider>) -> Self {
        WarehouseSessions { events }
    }
}

#[async_trait]
impl TableProvider for WarehouseSessions {
    fn schema(&self) -> SchemaRef {
        sessions_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let state = state
            .as_any()
            .downcast_ref::<SessionState>()
            .ok_or_else(|| DataFusionError::Internal("sessions: not a SessionState".into()))?;
        let ctx = SessionContext::new_with_state(state.clone());
        let sessions = sessions_in(&ctx, Arc::clone(&self.events)).await?;
        let schema = sessions_schema();
        let batch = sessions_batch(Arc::clone(&schema), &sessions)?;
        let exec = MemorySourceConfig::try_new_exec(&[vec![batch]], schema, projection.cloned())?;
        Ok(exec)
    }
}
