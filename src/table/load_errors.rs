//! The `load_errors` table: every file of the archive that could not be read.
//!
//! Scanning it first reads (validates) every file no earlier query has read, so the answer
//! covers the whole archive, not just what the last query happened to touch.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::Result;

use crate::error::LoadError;
use crate::schema::LOAD_ERRORS_COLUMNS;
use crate::table::archive::Archive;
use crate::table::small::{SmallTable, SmallTableRows};

/// The rows of `load_errors`: log_file, stage, message, record_index.
#[derive(Debug)]
pub struct LoadErrorRows;

/// The `load_errors` table over `archive`.
pub fn load_errors_table(archive: Arc<Archive>) -> SmallTable<LoadErrorRows> {
    SmallTable::new(archive, load_errors_schema(), LoadErrorRows)
}

/// The columns of `load_errors`.
pub fn load_errors_schema() -> SchemaRef {
    let fields: Vec<Field> = LOAD_ERRORS_COLUMNS
        .iter()
        .map(|c| match c.name {
            "record_index" => Field::new(c.name, DataType::UInt64, true),
            _ => Field::new(c.name, DataType::Utf8, false),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// The rows of `load_errors` as one batch.
pub fn load_errors_batch(schema: SchemaRef, errors: &[LoadError]) -> Result<RecordBatch> {
    let column = |f: fn(&LoadError) -> &str| {
        Arc::new(errors.iter().map(f).map(Some).collect::<StringArray>())
    };
    Ok(RecordBatch::try_new(
        schema,
        vec![
            column(|e| &e.log_file),
            column(|e| e.stage.as_str()),
            column(|e| &e.message),
            Arc::new(
                errors
                    .iter()
                    .map(|e| e.record_index)
                    .collect::<UInt64Array>(),
            ),
        ],
    )?)
}

#[async_trait]
impl SmallTableRows for LoadErrorRows {
    async fn rows(&self, archive: &Archive, schema: SchemaRef) -> Result<RecordBatch> {
        archive.check_all().await;
        load_errors_batch(schema, &archive.load_errors())
    }
}
