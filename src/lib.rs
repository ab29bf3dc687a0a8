//! trailmap: where did our Amazon Bedrock requests actually run?
//!
//! Streams CloudTrail log archives (local directories or files), decodes them into Arrow and
//! answers SQL over them with DataFusion. [`open`] lists the sources and returns a
//! [`TrailSession`] with the tables `events`, `invocations`, `regions` and `load_errors`.
//!
//! ```no_run
//! # async fn run() -> trailmap::error::Result<()> {
//! use trailmap::{ReadOptions, source::SourceSpec};
//! let session = trailmap::open(&[SourceSpec::parse("sample-data")?], &ReadOptions::default(), &Default::default()).await?;
//! let batches = session
//!     .sql("SELECT served_region, count(*) FROM invocations GROUP BY 1")
//!     .await?
//!     .collect()
//!     .await?;
//! # Ok(()) }
//! ```

pub mod audit;
pub mod bedrock;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod coverage;
pub mod decode;
pub mod error;
pub mod failpoint;
pub mod filter;
pub mod generate;
pub mod ingest;
pub mod layout;
pub mod pool;
pub mod queries;
pub mod regions;
pub mod report;
pub mod schema;
pub mod session;
pub mod source;
pub mod surfaces;
pub mod table;
pub mod verify;
pub mod warehouse;

pub use session::{TrailSession, open, open_for_query};
pub use table::archive::ReadOptions;
