//! An independent reading of a Delta Lake table, for counting what any Delta reader sees.
//!
//! It shares no code with trailmap or delta-rs: the `_delta_log/NNNNNNNNNNNNNNNNNNNN.json`
//! commits are replayed by the protocol's rules (actions of each version in order; a file is
//! in the table from its `add` until a `remove` of the same path), and the live files' rows
//! are read with the `parquet` crate alone. It refuses what it does not implement (checkpoints
//! without their commits, deletion vectors) rather than count wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use datafusion::arrow::array::{Array, StringArray};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

/// A table's log, replayed.
pub struct DeltaLog {
    /// Each version's actions, in version order.
    pub versions: Vec<Vec<Value>>,
}

impl DeltaLog {
    /// Reads every commit of the table at `table` (none: an empty table; panics on anything
    /// unexpected).
    pub fn read(table: &Path) -> DeltaLog {
        let log = table.join("_delta_log");
        let mut numbered: BTreeMap<u64, std::path::PathBuf> = BTreeMap::new();
        for entry in std::fs::read_dir(&log).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if let Some(digits) = name.strip_suffix(".json")
                && digits.len() == 20
                && digits.bytes().all(|b| b.is_ascii_digit())
            {
                numbered.insert(digits.parse().unwrap(), path);
            }
        }
        let versions: Vec<Vec<Value>> = numbered
            .iter()
            .enumerate()
            .map(|(i, (version, path))| {
                assert_eq!(
                    *version, i as u64,
                    "the log's versions are a sequence from 0"
                );
                std::fs::read_to_string(path)
                    .unwrap()
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect()
            })
            .collect();
        DeltaLog { versions }
    }

    /// The files in the table at its last version (relative paths, percent-decoded).
    pub fn files(&self) -> BTreeSet<String> {
        let mut files = BTreeSet::new();
        for action in self.versions.iter().flatten() {
            if let Some(add) = action.get("add") {
                assert!(
                    add.get("deletionVector").is_none_or(Value::is_null),
                    "deletion vectors are not read here"
                );
                files.insert(decode(add["path"].as_str().unwrap()));
            }
            if let Some(remove) = action.get("remove") {
                files.remove(&decode(remove["path"].as_str().unwrap()));
            }
        }
        files
    }

    /// The `trailmap` entry of each version's `commitInfo` that has one, in version order,
    /// with its `objects` read from the file it names (`objects_file`, relative to `table`).
    pub fn ledgers(&self, table: &Path) -> Vec<Value> {
        self.versions
            .iter()
            .flatten()
            .filter_map(|action| action.get("commitInfo")?.get("trailmap").cloned())
            .map(|mut entry| {
                if let Some(file) = entry.get("objects_file").and_then(Value::as_str) {
                    let text = std::fs::read_to_string(table.join(file)).unwrap();
                    entry["objects"] = serde_json::from_str(&text).unwrap();
                }
                entry
            })
            .collect()
    }

    /// The `event_id` of every row of the table, read from its files.
    pub fn event_ids(&self, table: &Path) -> Vec<String> {
        let mut ids = Vec::new();
        for file in self.files() {
            let reader = std::fs::File::open(table.join(&file)).unwrap();
            let builder = ParquetRecordBatchReaderBuilder::try_new(reader).unwrap();
            let column = builder
                .parquet_schema()
                .columns()
                .iter()
                .position(|c| c.name() == "event_id")
                .unwrap();
            let mask = ProjectionMask::leaves(builder.parquet_schema(), [column]);
            for batch in builder.with_projection(mask).build().unwrap() {
                let batch = batch.unwrap();
                let values = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .unwrap();
                ids.extend((0..values.len()).map(|i| values.value(i).to_owned()));
            }
        }
        ids
    }
}

/// A log path with its percent-escapes decoded.
fn decode(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}
