//! Small tables computed from the archive when they are scanned (`load_errors`,
//! `application_profiles`): one batch, built by a [`SmallTableRows`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use crate::table::archive::Archive;

/// How a small table's rows are computed from the archive at scan time.
#[async_trait]
pub trait SmallTableRows: fmt::Debug + Send + Sync + 'static {
    /// The rows now, as one batch of `schema`.
    async fn rows(&self, archive: &Archive, schema: SchemaRef) -> Result<RecordBatch>;
}

/// A table whose rows `R` computes from the archive when it is scanned.
#[derive(Debug)]
pub struct SmallTable<R> {
    archive: Arc<Archive>,
    schema: SchemaRef,
    rows: R,
}

impl<R: SmallTableRows> SmallTable<R> {
    /// The table of `schema` over `archive`.
    pub fn new(archive: Arc<Archive>, schema: SchemaRef, rows: R) -> Self {
        SmallTable {
            archive,
            schema,
            rows,
        }
    }
}

#[async_trait]
impl<R: SmallTableRows> TableProvider for SmallTable<R> {
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
        let batch = self
            .rows
            .rows(&self.archive, Arc::clone(&self.schema))
            .await?;
        let exec = MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            Arc::clone(&self.schema),
            projection.cloned(),
        )?;
        Ok(exec)
    }
}
