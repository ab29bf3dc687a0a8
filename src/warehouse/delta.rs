//! The warehouse as a Delta Lake table, through delta-rs (`deltalake-core`): the table's schema
//! and properties, the `add`/`remove` actions of trailmap's Parquet files, committing at exactly
//! one version, and reading back the ledger each commit carries in its `commitInfo`.
//!
//! trailmap writes its own Parquet files (sorted, encoded per column; see
//! [`crate::ingest::writer`]) and uses delta-rs for what makes them a table: the log, its
//! snapshots and checkpoints, and VACUUM.

use std::collections::HashMap;
use std::sync::{Arc, Once};

use deltalake_core::kernel::transaction::{
    CommitBuilder, CommitProperties, TableReference, TransactionError,
};
use deltalake_core::kernel::{
    Action, Add, DataType as DeltaType, PrimitiveType, Remove, StructField,
};
use deltalake_core::logstore::{
    LogStore, LogStoreFactory, LogStoreRef, StorageConfig, default_logstore, logstore_factories,
};
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use deltalake_core::{DeltaTable, DeltaTableBuilder, DeltaTableError, ObjectStore, TableProperty};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::schema::{Column, Kind};
use crate::warehouse::manifest::{Commit, DataFile};

/// The key of trailmap's ledger in a commit's `commitInfo`.
pub const LEDGER_KEY: &str = "trailmap";
/// The partition column.
pub const PARTITION_COLUMN: &str = "log_date";
/// Commits between checkpoints (Delta's default): readers load a checkpoint and the commits
/// after it, not every commit.
const CHECKPOINT_INTERVAL: &str = "100";

/// The columns of `events` as Delta types (`trailmap schema` lists the same names and types).
fn columns() -> Vec<StructField> {
    Column::ALL
        .iter()
        .map(|column| {
            let kind = match column.kind() {
                Kind::Text => PrimitiveType::String,
                Kind::Bool => PrimitiveType::Boolean,
                Kind::Time => PrimitiveType::Timestamp,
                Kind::Date => PrimitiveType::Date,
            };
            StructField::new(column.name(), DeltaType::Primitive(kind), true)
        })
        .collect()
}

/// The log store of the table at `url` in `store` (whose root is the store's root).
pub fn log_store(store: Arc<dyn ObjectStore>, url: &Url) -> Result<LogStoreRef, DeltaTableError> {
    register_s3_log_store();
    DeltaTableBuilder::from_url(url.clone())?
        .with_storage_backend(store, url.clone())
        .build_storage()
}

/// delta-rs knows `file://` and `memory://` tables by itself; an `s3://` table here is reached
/// through trailmap's own S3 store, whose "create if absent" PUT is S3's conditional write
/// (`If-None-Match: *`), which the default log store commits with. (Whether the endpoint
/// honours it is probed before a run writes: [`crate::warehouse::s3::probe_conditional_writes`].)
fn register_s3_log_store() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        if let Ok(scheme) = Url::parse("s3://") {
            logstore_factories().insert(scheme, Arc::new(ConditionalPutLogStore));
        }
    });
}

/// Delta's default log store: commits with "create if absent".
struct ConditionalPutLogStore;

impl LogStoreFactory for ConditionalPutLogStore {
    fn with_options(
        &self,
        prefixed_store: Arc<dyn ObjectStore>,
        root_store: Arc<dyn ObjectStore>,
        location: &Url,
        options: &StorageConfig,
    ) -> Result<Arc<dyn LogStore>, DeltaTableError> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// The table at `log_store`, loaded at its latest version (or at `version`); `None` when there
/// is no table there yet.
pub async fn load(
    log_store: LogStoreRef,
    version: Option<u64>,
) -> Result<Option<DeltaTable>, DeltaTableError> {
    let mut table = DeltaTable::new(log_store);
    let loaded = match version {
        Some(version) => table.load_version(version).await,
        None => table.load().await,
    };
    match loaded {
        Ok(()) => Ok(Some(table)),
        Err(DeltaTableError::NotATable(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Creates the empty table (version 0): the `events` columns, partitioned by `log_date`,
/// with its commits kept for the table's life (the ledger is read from them).
pub async fn create(log_store: LogStoreRef) -> Result<DeltaTable, DeltaTableError> {
    DeltaTable::new(log_store)
        .create()
        .with_table_name("events")
        .with_comment("CloudTrail events, written by trailmap ingest")
        .with_columns(columns())
        .with_partition_columns([PARTITION_COLUMN])
        .with_configuration_property(TableProperty::EnableExpiredLogCleanup, Some("false"))
        .with_configuration_property(TableProperty::CheckpointInterval, Some(CHECKPOINT_INTERVAL))
        .with_save_mode(SaveMode::ErrorIfExists)
        // Told version 0 exists (another run, or this one's own answer lost), it fails rather
        // than commit the table's creation again: the caller then reads the table.
        .with_commit_properties(CommitProperties::default().with_max_retries(0))
        .await
}

/// What a file's `add` action says about it beyond its path and size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Rows.
    pub rows: u64,
    /// The smallest and largest `event_time` (microseconds), if any row has one.
    pub event_time: Option<(i64, i64)>,
    /// Rows without an `event_time`.
    pub null_times: u64,
}

/// The `add` action of a file trailmap wrote; `data_change` is false for a file that only
/// rewrites rows already in the table (compaction).
pub fn add(file: &DataFile, stats: &FileStats, data_change: bool) -> Action {
    Action::Add(Add {
        path: file.path.clone(),
        partition_values: partition_values(file),
        size: file.bytes as i64,
        modification_time: chrono::Utc::now().timestamp_millis(),
        data_change,
        stats: Some(stats_json(stats)),
        ..Add::default()
    })
}

/// The `remove` action of a file replaced by a compaction or a repair (`data_change`: its
/// day's rows change); the file stays on disk for readers of earlier versions until VACUUM.
pub fn remove(file: &DataFile, data_change: bool) -> Action {
    Action::Remove(Remove {
        path: file.path.clone(),
        data_change,
        deletion_timestamp: Some(chrono::Utc::now().timestamp_millis()),
        extended_file_metadata: Some(true),
        partition_values: Some(partition_values(file)),
        size: Some(file.bytes as i64),
        ..Remove::default()
    })
}

fn partition_values(file: &DataFile) -> HashMap<String, Option<String>> {
    HashMap::from([(PARTITION_COLUMN.to_owned(), file.log_date.clone())])
}

/// Delta's per-file statistics: the row count, and `event_time`'s bounds (rounded outwards to
/// the millisecond, the precision of Delta's statistics) and nulls, which readers skip files by.
fn stats_json(stats: &FileStats) -> String {
    let time = Column::EventTime.name();
    let mut value = serde_json::json!({
        "numRecords": stats.rows,
        "nullCount": { time: stats.null_times },
    });
    if let Some((min, max)) = stats.event_time {
        let millis = |micros: i64, up: bool| {
            let ms = micros.div_euclid(1000) + i64::from(up && micros.rem_euclid(1000) != 0);
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        };
        if let (Some(min), Some(max)) = (millis(min, false), millis(max, true)) {
            value["minValues"] = serde_json::json!({ time: min });
            value["maxValues"] = serde_json::json!({ time: max });
        }
    }
    value.to_string()
}

/// How a commit attempt ended.
#[derive(Debug)]
pub enum Committed {
    /// Committed as this version.
    Version(u64),
    /// Another writer committed after the version read: nothing was committed.
    Moved,
}

/// Commits `actions` with `ledger` in its `commitInfo` as the version after `read`'s, and
/// only as that version: a table that moved meanwhile is [`Committed::Moved`] (delta-rs would
/// let an append through on top of the other commit; trailmap decides itself what to do).
pub async fn commit(
    read: &DeltaTable,
    actions: Vec<Action>,
    ledger: &Commit,
    operation: DeltaOperation,
) -> Result<Committed, DeltaTableError> {
    let snapshot = read.snapshot()?;
    let metadata = HashMap::from([(LEDGER_KEY.to_owned(), serde_json::to_value(ledger)?)]);
    let properties = CommitProperties::default()
        .with_metadata(metadata)
        .with_max_retries(0)
        .with_create_checkpoint(true)
        .with_cleanup_expired_logs(Some(false));
    let committed = CommitBuilder::from(properties)
        .with_actions(actions)
        .build(
            Some(snapshot as &dyn TableReference),
            read.log_store(),
            operation,
        )
        .await;
    match committed {
        Ok(done) => Ok(Committed::Version(done.version)),
        Err(DeltaTableError::Transaction {
            source:
                TransactionError::MaxCommitAttempts(_) | TransactionError::VersionAlreadyExists(_),
        })
        | Err(DeltaTableError::VersionAlreadyExists(_)) => Ok(Committed::Moved),
        Err(e) => Err(e),
    }
}

/// The operation a run's commit records: a WRITE when rows change (new objects, rows resolved
/// anew), else an OPTIMIZE (compaction alone).
pub fn operation(changes_rows: bool, target_size: u64) -> DeltaOperation {
    match changes_rows {
        false => DeltaOperation::Optimize {
            predicate: None,
            target_size: target_size as i64,
        },
        true => DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: Some(vec![PARTITION_COLUMN.to_owned()]),
            predicate: None,
        },
    }
}

/// One line of a commit file, as far as the ledger needs it.
#[derive(Deserialize)]
struct LogLine<L> {
    #[serde(rename = "commitInfo")]
    commit_info: Option<CommitInfo<L>>,
}

#[derive(Deserialize)]
struct CommitInfo<L> {
    #[serde(rename = "trailmap")]
    ledger: Option<L>,
}

/// The ledger entry in commit `version`'s file: `None` when the commit was made by another
/// writer (or carries none); an error when the commit file is gone (log cleanup) or unreadable.
pub async fn ledger_entry<L: DeserializeOwned>(
    log_store: &dyn LogStore,
    version: u64,
) -> Result<Option<L>, String> {
    let bytes = log_store
        .read_commit_entry(version)
        .await
        .map_err(|e| format!("cannot read commit {version}: {e}"))?
        .ok_or_else(|| {
            format!(
                "commit {version} is missing from _delta_log/ (log cleanup?): the ledger of ingested \
                 objects is read from every commit"
            )
        })?;
    for line in bytes.split(|b| *b == b'\n') {
        if !line.windows(13).any(|w| w == b"\"commitInfo\":") {
            continue;
        }
        let parsed: LogLine<L> = serde_json::from_slice(line)
            .map_err(|e| format!("commit {version}: its commitInfo is not trailmap's: {e}"))?;
        return Ok(parsed.commit_info.and_then(|info| info.ledger));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_round_outwards_to_the_millisecond() {
        let stats = FileStats {
            rows: 3,
            event_time: Some((1_740_830_400_000_500, 1_740_830_401_000_001)),
            null_times: 1,
        };
        let json: serde_json::Value = serde_json::from_str(&stats_json(&stats)).unwrap();
        assert_eq!(json["numRecords"], 3);
        assert_eq!(json["nullCount"]["event_time"], 1);
        assert_eq!(json["minValues"]["event_time"], "2025-03-01T12:00:00.000Z");
        assert_eq!(json["maxValues"]["event_time"], "2025-03-01T12:00:01.001Z");
    }
}
