//! The warehouse's ledger of ingested objects, and the manifest: the table's files (from the
//! Delta snapshot) with the ledger as of the same version.
//!
//! Each commit trailmap makes carries a ledger entry ([`Commit`]) in its Delta `commitInfo`,
//! in the same atomic write as the files it adds: the objects it ingested, and the state of
//! what could not be read as it leaves it. The ledger is every entry applied in version order
//! ([`Manifest::apply`]); commits of other writers carry none and change no ledger.
//!
//! Most of an entry is its objects (one per source object, thousands a day). A reader needs
//! them only to cut coverage by key (`--from/--to/--account/--source-region`): each entry also
//! carries the [`ObjectTotals`] of the warehouse as it leaves it, so a reader without that cut
//! reads only the last entry, as [`Commit<Skipped>`], and never builds an object.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use crate::decode::profiles::{ApplicationProfile, ProfileMap};
use crate::error::LoadError;
use crate::layout::key::{is_account_id, is_region_code};

/// Version of the ledger format this trailmap writes (3: the first in a Delta table); an entry
/// of a newer format is refused.
pub const FORMAT: u32 = 3;

/// An object entry read past without building it ([`Commit<Skipped>`]).
pub type Skipped = IgnoredAny;

/// One ledger entry: what one run changed, beside the files its Delta commit adds and
/// removes. `O` is how its objects are read: [`IngestedObject`], or [`Skipped`] by readers that
/// need only the [`ObjectTotals`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Commit<O = IngestedObject> {
    /// Ledger format ([`FORMAT`]).
    pub format: u32,
    /// When it was committed (RFC 3339).
    pub committed_at: String,
    /// The program that wrote it (`trailmap 0.1.0`).
    pub writer: String,
    /// The run that committed it (a random id): a run that cannot tell whether its commit
    /// landed (an answer lost after the write) finds it by this id.
    #[serde(default)]
    pub run: String,
    /// The file holding [`Commit::objects`] (`_trailmap/ledger/RUN.json`), when they are not
    /// listed in the entry itself: a commit stays small for every reader of the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects_file: Option<String>,
    /// Source objects ingested, or re-pointed to new files by a compaction or a repair.
    #[serde(default)]
    pub objects: Vec<O>,
    /// What every object of the warehouse adds up to once this commit is applied (commits
    /// written before trailmap kept totals have none: readers then add up the objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totals: Option<ObjectTotals>,
    /// Every object that could not be read, or changed since it was ingested, as of this
    /// commit: replaces the previous set.
    #[serde(default)]
    pub load_errors: Vec<LoadError>,
    /// Folders that could not be listed (their objects may be missing), as of this commit:
    /// replaces the previous set. A folder stays in it until a run lists it.
    #[serde(default)]
    pub listing_errors: Vec<LoadError>,
    /// Every application inference profile known, as of this commit (`--profiles` and the
    /// `CreateInferenceProfile` events read): replaces the previous set.
    #[serde(default)]
    pub profiles: Vec<ApplicationProfile>,
}

/// One Parquet file of the `events` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFile {
    /// Path relative to the warehouse root (`events/log_date=2025-03-01/part-...parquet`).
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Rows (events), when the table's log says (`numRecords`).
    pub rows: Option<u64>,
    /// The `log_date` of every row (`None`: files outside the CloudTrail key layout).
    pub log_date: Option<String>,
}

/// One source object, ingested whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestedObject {
    /// Its `log_file` (path or `s3://` URL), as the events' `log_file` column says.
    pub log_file: String,
    /// Size in bytes when ingested.
    pub size: u64,
    /// ETag (S3) or modification time (local) when ingested.
    pub revision: Option<String>,
    /// Events read from it (every record: ingest takes whole objects).
    pub events: u64,
    /// Bytes of JSON decoded.
    pub json_bytes: u64,
    /// Records whose `eventTime` is missing or does not parse.
    pub bad_times: u64,
    /// Delivery time minus its oldest event, in seconds.
    pub lag_seconds: Option<i64>,
    /// The Parquet files holding its events (none when it had no events).
    pub files: Vec<String>,
    /// Its identity ([`object_identity`]), as found when it was ingested.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identity: String,
}

impl IngestedObject {
    /// The object's identity in the warehouse ([`object_identity`]).
    pub fn identity(&self) -> String {
        match self.identity.is_empty() {
            true => located_identity(&self.log_file),
            false => self.identity.clone(),
        }
    }
}

/// What a set of ingested objects adds up to: the coverage a reader reports for them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectTotals {
    /// Objects.
    pub objects: u64,
    /// Events read from them.
    pub events: u64,
    /// Bytes of JSON decoded.
    pub json_bytes: u64,
    /// Records whose `eventTime` is missing or does not parse.
    pub bad_times: u64,
    /// The largest delivery lag of any of them, in seconds.
    pub max_lag_seconds: Option<i64>,
}

impl ObjectTotals {
    /// The totals of `objects`.
    pub fn of<'a>(objects: impl IntoIterator<Item = &'a IngestedObject>) -> Self {
        objects
            .into_iter()
            .fold(ObjectTotals::default(), |totals, object| ObjectTotals {
                objects: totals.objects + 1,
                events: totals.events + object.events,
                json_bytes: totals.json_bytes + object.json_bytes,
                bad_times: totals.bad_times + object.bad_times,
                max_lag_seconds: totals.max_lag_seconds.max(object.lag_seconds),
            })
    }
}

/// How [`Manifest::apply`] takes in a commit's object entries.
pub trait ObjectEntry {
    /// Whether entries read this way are built (and so a manifest of them holds every object).
    const BUILT: bool;

    /// Adds the entry to `objects` (by identity, replacing an earlier entry of the object).
    fn apply_to(self, objects: &mut BTreeMap<String, IngestedObject>);
}

impl ObjectEntry for IngestedObject {
    const BUILT: bool = true;

    fn apply_to(self, objects: &mut BTreeMap<String, IngestedObject>) {
        objects.insert(self.identity(), self);
    }
}

impl ObjectEntry for Skipped {
    const BUILT: bool = false;

    fn apply_to(self, _objects: &mut BTreeMap<String, IngestedObject>) {}
}

/// The identity of a source object: its file name when it follows the CloudTrail layout
/// (`ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz` is unique, so the same object
/// under `./logs`, `/abs/logs` or a replica bucket is ingested once), else its whole name.
pub fn object_identity(log_file: &str) -> String {
    let file_name = log_file.rsplit(['/', '\\']).next().unwrap_or(log_file);
    match is_cloudtrail_file_name(file_name) {
        true => file_name.to_owned(),
        false => log_file.to_owned(),
    }
}

/// Whether `identity` names the object by where it is (a path or URL: an object outside the
/// CloudTrail layout), rather than by its unique CloudTrail file name.
pub fn names_a_place(identity: &str) -> bool {
    identity.contains(['/', '\\'])
}

/// [`object_identity`] of an object at hand: a local file outside the layout is known by its
/// canonical path, so `./export.json.gz` and `/abs/export.json.gz` are one object. Kept in the
/// ledger ([`IngestedObject::identity`]), as another machine may not have the file.
pub fn located_identity(log_file: &str) -> String {
    let identity = object_identity(log_file);
    if identity != log_file || log_file.starts_with("s3://") {
        return identity;
    }
    std::fs::canonicalize(log_file)
        .map(|path| path.display().to_string())
        .unwrap_or(identity)
}

/// Whether `name` is `ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE...` (checked on the name
/// alone: the manifest asks it of every object each time a warehouse is opened).
fn is_cloudtrail_file_name(name: &str) -> bool {
    let mut parts = name.splitn(5, '_');
    let (Some(account), Some("CloudTrail"), Some(region), Some(time), Some(unique)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let time = time.as_bytes();
    is_account_id(account)
        && is_region_code(region)
        && time.len() == 14
        && time[8] == b'T'
        && time[13] == b'Z'
        && !unique.is_empty()
}

/// The warehouse's state at one version: the table's files and the ledger.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// The table version read (`None`: no table yet).
    pub version: Option<u64>,
    /// The Parquet files of `events`, by path (the Delta snapshot's).
    pub files: BTreeMap<String, DataFile>,
    /// Ingested objects, by [`object_identity`] (empty when the ledger was read as
    /// [`Commit<Skipped>`]: see [`Manifest::objects_read`]).
    pub objects: BTreeMap<String, IngestedObject>,
    /// Whether `objects` holds every ingested object.
    pub objects_read: bool,
    /// Whether any ledger entry was applied.
    pub has_ledger: bool,
    /// The last entry's totals of every object, if it has them.
    pub last_totals: Option<ObjectTotals>,
    /// Objects that could not be read (retried by the next run), or changed since ingested.
    pub load_errors: Vec<LoadError>,
    /// Folders that could not be listed.
    pub listing_errors: Vec<LoadError>,
    /// Application inference profiles.
    pub profiles: ProfileMap,
}

impl Manifest {
    /// The manifest of the table version `version` with files `files`, before any ledger
    /// entry is applied; `objects_read` says whether entries will be applied with their objects.
    pub fn new(
        version: Option<u64>,
        files: BTreeMap<String, DataFile>,
        objects_read: bool,
    ) -> Self {
        Manifest {
            version,
            files,
            objects_read,
            ..Manifest::default()
        }
    }

    /// Applies the next ledger entry (of a later version than those applied). Refuses one of a
    /// newer or an older format.
    pub fn apply<O: ObjectEntry>(&mut self, version: u64, commit: Commit<O>) -> Result<(), String> {
        if commit.format != FORMAT {
            let what = match commit.format > FORMAT {
                true => "newer than this trailmap reads: upgrade trailmap",
                false => {
                    "older than this trailmap reads: ingest the sources again into a new warehouse"
                }
            };
            return Err(format!(
                "commit {version} has ledger format {}, {what}",
                commit.format
            ));
        }
        for object in commit.objects {
            object.apply_to(&mut self.objects);
        }
        self.has_ledger = true;
        self.last_totals = commit.totals;
        self.load_errors = commit.load_errors;
        self.listing_errors = commit.listing_errors;
        self.profiles = ProfileMap::default();
        for profile in commit.profiles {
            self.profiles.insert(profile);
        }
        Ok(())
    }

    /// What readers are told could not be read: the objects, and the folders not listed.
    pub fn unread(&self) -> impl Iterator<Item = &LoadError> {
        self.load_errors.iter().chain(&self.listing_errors)
    }

    /// What every ingested object adds up to: added up from the objects when they were
    /// read, else the last commit's totals (`None`: neither is at hand).
    pub fn totals(&self) -> Option<ObjectTotals> {
        match self.objects_read {
            true => Some(ObjectTotals::of(self.objects.values())),
            false => self.last_totals,
        }
    }

    /// The totals of every object once `commit`, not applied yet, is (objects it names
    /// replace their earlier entries, as [`Manifest::apply`] does). Needs the objects read.
    pub fn totals_after(&self, commit: &Commit) -> ObjectTotals {
        let named: BTreeMap<String, &IngestedObject> = commit
            .objects
            .iter()
            .map(|object| (object.identity(), object))
            .collect();
        let kept = self
            .objects
            .iter()
            .filter(|(identity, _)| !named.contains_key(*identity))
            .map(|(_, object)| object);
        ObjectTotals::of(kept.chain(named.values().copied()))
    }

    /// The ingested objects of each data file.
    pub fn objects_by_file(&self) -> BTreeMap<&str, Vec<&IngestedObject>> {
        let mut by_file: BTreeMap<&str, Vec<&IngestedObject>> = BTreeMap::new();
        for object in self.objects.values() {
            for file in &object.files {
                by_file.entry(file.as_str()).or_default().push(object);
            }
        }
        by_file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(log_file: &str, files: &[&str]) -> IngestedObject {
        IngestedObject {
            log_file: log_file.into(),
            size: 10,
            revision: None,
            events: 2,
            json_bytes: 100,
            bad_times: 0,
            lag_seconds: Some(300),
            files: files.iter().map(|f| f.to_string()).collect(),
            identity: String::new(),
        }
    }

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/01/111122223333_CloudTrail_eu-west-1_20250301T1205Z_abc.json.gz";

    #[test]
    fn a_layout_object_is_known_by_its_file_name_wherever_it_is() {
        let name = KEY.rsplit('/').next().unwrap();
        assert_eq!(object_identity(&format!("s3://bucket/{KEY}")), name);
        assert_eq!(object_identity(&format!("./logs/{KEY}")), name);
        assert_eq!(object_identity("logs/odd.json.gz"), "logs/odd.json.gz");
        let not_quite = "logs/111122223333_CloudTrail_eu-west-1_20250301_abc.json.gz";
        assert_eq!(object_identity(not_quite), not_quite);
    }

    #[test]
    fn entries_apply_in_order_and_a_compaction_re_points_objects() {
        let mut manifest = Manifest::new(Some(2), BTreeMap::new(), true);
        let first = Commit {
            format: FORMAT,
            objects: vec![
                object(&format!("s3://b/{KEY}"), &["events/a.parquet"]),
                object("x/odd.json", &["events/b.parquet"]),
            ],
            ..Commit::default()
        };
        manifest.apply(1, first).unwrap();
        assert_eq!(manifest.objects_by_file()["events/a.parquet"].len(), 1);
        let compaction = Commit {
            format: FORMAT,
            objects: vec![
                object(&format!("s3://b/{KEY}"), &["events/c.parquet"]),
                object("x/odd.json", &["events/c.parquet"]),
            ],
            ..Commit::default()
        };
        let expected = manifest.totals_after(&compaction);
        assert_eq!(expected.objects, 2);
        assert_eq!(expected.events, 4);
        manifest.apply(2, compaction).unwrap();
        assert_eq!(manifest.totals(), Some(expected));
        assert_eq!(manifest.objects_by_file()["events/c.parquet"].len(), 2);
        assert!(!manifest.objects_by_file().contains_key("events/a.parquet"));
    }

    #[test]
    fn entries_of_another_format_are_refused() {
        let mut manifest = Manifest::new(Some(1), BTreeMap::new(), true);
        let newer: Commit = Commit {
            format: FORMAT + 1,
            ..Commit::default()
        };
        assert!(manifest.apply(1, newer).unwrap_err().contains("upgrade"));
        let older: Commit = Commit {
            format: FORMAT - 1,
            ..Commit::default()
        };
        let refused = manifest.apply(1, older).unwrap_err();
        assert!(refused.contains("ingest the sources again"), "{refused}");
    }
}
