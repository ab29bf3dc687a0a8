//! The `application_profiles` table: every application inference profile trailmap knows, from
//! the archive's `CreateInferenceProfile` events and `--profiles`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::profiles::{ApplicationProfile, ProfileMap};
use crate::schema::{APPLICATION_PROFILES_COLUMNS, UTC, timestamp_type};
use crate::table::archive::Archive;

/// `application_profiles`: arn, account_id, copied_from, model, routing_scope, created_at,
/// source.
#[derive(Debug)]
pub struct ApplicationProfilesTable {
    archive: Arc<Archive>,
    schema: SchemaRef,
}

impl ApplicationProfilesTable {
    /// The table over `archive`.
    pub fn new(archive: Arc<Archive>) -> Self {
        let fields: Vec<Field> = APPLICATION_PROFILES_COLUMNS
            .iter()
            .map(|c| match c.name {
                "created_at" => Field::new(c.name, timestamp_type(), true),
                "arn" | "source" => Field::new(c.name, DataType::Utf8, false),
                _ => Field::new(c.name, DataType::Utf8, true),
            })
            .collect();
        ApplicationProfilesTable {
            archive,
            schema: Arc::new(Schema::new(fields)),
        }
    }
}

/// The rows of `application_profiles` as one batch.
fn profiles_batch(schema: SchemaRef, profiles: &ProfileMap) -> Result<RecordBatch> {
    let rows: Vec<&ApplicationProfile> = profiles.iter().collect();
    let text = |f: fn(&ApplicationProfile) -> Option<&str>| {
        Arc::new(rows.iter().map(|p| f(p)).collect::<StringArray>())
    };
    let created: TimestampMicrosecondArray = rows.iter().map(|p| p.created_at).collect();
    Ok(RecordBatch::try_new(
        schema,
        vec![
            text(|p| Some(&p.arn)),
            text(|p| p.account_id.as_deref()),
            text(|p| p.copied_from.as_deref()),
            text(|p| p.model.as_deref()),
            text(|p| p.routing_scope.as_deref()),
            Arc::new(created.with_timezone(UTC)),
            text(|p| Some(&p.source)),
        ],
    )?)
}

#[async_trait]
impl TableProvider for ApplicationProfilesTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let profiles = self.archive.application_profiles().await;
        let batch = profiles_batch(Arc::clone(&self.schema), &profiles)?;
        MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            Arc::clone(&self.schema),
            projection.cloned(),
        )
        .map(|exec| exec as Arc<dyn ExecutionPlan>)
    }
}
