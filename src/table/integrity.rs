//! The `integrity` table: the digest chain's verdict on each log file (`log_file`, `status`,
//! `digest_file`, `reason`), joinable to `events.log_file`. Verification runs the first time
//! the table is scanned (or `audit --verify` / `report --verify` asks), once per session.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::Result as DataFusionResult;
use datafusion::error::DataFusionError;
use tokio::sync::OnceCell;

use crate::error::Result;
use crate::source::SourceSpec;
use crate::source::aws::AwsOptions;
use crate::table::archive::Archive;
use crate::table::small::{SmallTable, SmallTableRows};
use crate::verify::{Verification, VerifyOptions, VerifyProgress, integrity_schema, verify};

/// The sources of a session, verified on first use.
#[derive(Debug)]
pub struct Integrity {
    specs: Vec<SourceSpec>,
    options: VerifyOptions,
    aws: AwsOptions,
    verification: OnceCell<Arc<Verification>>,
}

impl Integrity {
    /// Verification of `specs` with `options`, not run yet.
    pub fn new(specs: &[SourceSpec], options: VerifyOptions, aws: &AwsOptions) -> Self {
        Integrity {
            specs: specs.to_vec(),
            options,
            aws: aws.clone(),
            verification: OnceCell::new(),
        }
    }

    /// The verification, run now if it has not been.
    pub async fn verification(&self) -> Result<Arc<Verification>> {
        self.verification
            .get_or_try_init(|| async {
                verify(
                    &self.specs,
                    &self.options,
                    &self.aws,
                    &VerifyProgress::default(),
                )
                .await
                .map(Arc::new)
            })
            .await
            .cloned()
    }
}

/// The rows of `integrity`.
#[derive(Debug)]
pub struct IntegrityRows(Arc<Integrity>);

#[async_trait]
impl SmallTableRows for IntegrityRows {
    async fn rows(&self, _archive: &Archive, _schema: SchemaRef) -> DataFusionResult<RecordBatch> {
        let verification = self
            .0
            .verification()
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        verification
            .integrity_batch()
            .map_err(|e| DataFusionError::External(Box::new(e)))
    }
}

/// The `integrity` table of a session.
pub fn integrity_table(
    archive: Arc<Archive>,
    integrity: Arc<Integrity>,
) -> SmallTable<IntegrityRows> {
    SmallTable::new(archive, integrity_schema(), IntegrityRows(integrity))
}
