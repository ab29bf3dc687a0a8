//! The `load_errors` table: every file of the archive that could not be read.
//!
//! Scanning it first reads (validates) every file no earlier query has read, so the answer
//! covers the whole archive, not just what the last query happened to touch.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::error::LoadError;
use crate::schema::LOAD_ERRORS_COLUMNS;
use crate::table::archive::Archive;

/// `load_errors`: log_file, stage, message.
#[derive(Debug)]
pub struct LoadErrorsTable {
    archive: Arc<Archive>,
    schema: SchemaRef,
}

impl LoadErrorsTable {
    /// The table over `archive`.
    pub fn new(archive: Arc<Archive>) -> Self {
        let fields: Vec<Field> = LOAD_ERRORS_COLUMNS
            .iter()
            .map(|c| Field::new(c.name, DataType::Utf8, false))
            .collect();
        LoadErrorsTable {
            archive,
            schema: Arc::new(Schema::new(fields)),
        }
    }
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
        ],
    )?)
}

#[async_trait]
impl TableProvider for LoadErrorsTable {
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
        self.archive.check_all().await;
        let batch = load_errors_batch(Arc::clone(&self.schema), &self.archive.load_errors())?;
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            Arc::clone(&self.schema),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}
