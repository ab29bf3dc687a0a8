//! The `application_profiles` table: every application inference profile trailmap knows, from
//! the archive's `CreateInferenceProfile` events and `--profiles`.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Result;

use crate::decode::profiles::{ApplicationProfile, ProfileMap};
use crate::schema::{APPLICATION_PROFILES_COLUMNS, UTC, timestamp_type};
use crate::table::archive::Archive;
use crate::table::small::{SmallTable, SmallTableRows};

/// The rows of `application_profiles`: arn, account_id, copied_from, model, routing_scope,
/// created_at, source.
#[derive(Debug)]
pub struct ApplicationProfileRows;

/// The `application_profiles` table over `archive`.
pub fn application_profiles_table(archive: Arc<Archive>) -> SmallTable<ApplicationProfileRows> {
    SmallTable::new(archive, profiles_schema(), ApplicationProfileRows)
}

/// The columns of `application_profiles`.
pub fn profiles_schema() -> SchemaRef {
    let fields: Vec<Field> = APPLICATION_PROFILES_COLUMNS
        .iter()
        .map(|c| match c.name {
            "created_at" => Field::new(c.name, timestamp_type(), true),
            "arn" | "source" => Field::new(c.name, DataType::Utf8, false),
            _ => Field::new(c.name, DataType::Utf8, true),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The rows of `application_profiles` as one batch.
pub fn profiles_batch(schema: SchemaRef, profiles: &ProfileMap) -> Result<RecordBatch> {
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
impl SmallTableRows for ApplicationProfileRows {
    async fn rows(&self, archive: &Archive, schema: SchemaRef) -> Result<RecordBatch> {
        profiles_batch(schema, &*archive.application_profiles().await)
    }
}
