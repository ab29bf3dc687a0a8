//! What a trailmap table or scan is made of, as JSON for another process: the listing of a raw
//! archive (objects, command-line filter, file-size cap, given application profiles, each
//! bucket's Region), the files of a warehouse, and a scan's partitions, columns and filters.
//! No credentials travel: every process reaches S3 with its own.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use serde::{Deserialize, Serialize};

use crate::decode::profiles::{ApplicationProfile, ProfileMap};
use crate::filter::ScanFilter;
use crate::source::{Fetcher, Location, LogObject};
use crate::table::archive::{Archive, ReadOptions};
use crate::table::warehouse::{EventsFile, WarehouseEvents};

/// [`ScanFilter`] as JSON (times in RFC 3339, the margin in seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FilterSpec {
    from: Option<String>,
    to: Option<String>,
    accounts: Vec<String>,
    source_regions: Vec<String>,
    delivery_margin_seconds: i64,
}

impl From<&ScanFilter> for FilterSpec {
    fn from(filter: &ScanFilter) -> Self {
        FilterSpec {
            from: filter.from.map(|t| t.to_rfc3339()),
            to: filter.to.map(|t| t.to_rfc3339()),
            accounts: filter.accounts.clone(),
            source_regions: filter.source_regions.clone(),
            delivery_margin_seconds: filter.delivery_margin.num_seconds(),
        }
    }
}

impl FilterSpec {
    /// The filter again.
    pub fn to_filter(&self) -> Result<ScanFilter> {
        let time = |text: &Option<String>| -> Result<Option<DateTime<Utc>>> {
            text.as_deref()
                .map(|t| {
                    DateTime::parse_from_rfc3339(t)
                        .map(|t| t.with_timezone(&Utc))
                        .map_err(|e| malformed(format!("time {t:?}: {e}")))
                })
                .transpose()
        };
        Ok(ScanFilter {
            from: time(&self.from)?,
            to: time(&self.to)?,
            accounts: self.accounts.clone(),
            source_regions: self.source_regions.clone(),
            delivery_margin: Duration::seconds(self.delivery_margin_seconds),
        })
    }
}

/// Listed log objects, compactly: local paths, and keys by bucket (a log file's name is its path,
/// or `s3://bucket/key`), each with its size and revision.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct ObjectsSpec {
    local: Vec<(PathBuf, u64, Option<String>)>,
    s3: BTreeMap<String, Vec<(String, u64, Option<String>)>>,
}

impl ObjectsSpec {
    fn of(objects: &[Arc<LogObject>]) -> Self {
        let mut spec = ObjectsSpec::default();
        for object in objects {
            let (size, revision) = (object.size, object.revision.clone());
            match &object.location {
                Location::Local(path) => spec.local.push((path.clone(), size, revision)),
                Location::S3 { bucket, key } => {
                    spec.s3
                        .entry(bucket.clone())
                        .or_default()
                        .push((key.clone(), size, revision))
                }
            }
        }
        spec
    }

    /// Those of `names` (log file names).
    fn only(&self, names: &std::collections::HashSet<&str>) -> Self {
        let local = self
            .local
            .iter()
            .filter(|(path, ..)| names.contains(path.display().to_string().as_str()))
            .cloned()
            .collect();
        let s3 = self
            .s3
            .iter()
            .map(|(bucket, objects)| {
                let kept = objects
                    .iter()
                    .filter(|(key, ..)| names.contains(format!("s3://{bucket}/{key}").as_str()))
                    .cloned()
                    .collect();
                (bucket.clone(), kept)
            })
            .collect();
        ObjectsSpec { local, s3 }
    }

    /// The objects again, named as listing names them.
    fn objects(&self) -> Vec<Arc<LogObject>> {
        let local = self.local.iter().map(|(path, size, revision)| {
            let name = path.display().to_string();
            LogObject::new(Location::Local(path.clone()), name, *size)
                .with_revision(revision.clone())
        });
        let s3 = self.s3.iter().flat_map(|(bucket, objects)| {
            objects.iter().map(move |(key, size, revision)| {
                let location = Location::S3 {
                    bucket: bucket.clone(),
                    key: key.clone(),
                };
                LogObject::new(location, format!("s3://{bucket}/{key}"), *size)
                    .with_revision(revision.clone())
            })
        });
        local.chain(s3).map(Arc::new).collect()
    }
}

/// A raw archive as its client listed it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchiveSpec {
    /// Identifies the listing: processes keep one [`Archive`] per token.
    pub token: u64,
    objects: ObjectsSpec,
    filter: FilterSpec,
    max_file_size: u64,
    profiles: Vec<ApplicationProfile>,
    /// Every application profile the files create, when the client has found them (on a
    /// cluster it always has before a statement runs): executors then search no file.
    all_profiles: Option<Vec<ApplicationProfile>>,
    /// The Region of each bucket read (`None`: the SDK's default Region).
    bucket_regions: BTreeMap<String, Option<String>>,
}

impl From<&Archive> for ArchiveSpec {
    fn from(archive: &Archive) -> Self {
        ArchiveSpec {
            token: archive.token(),
            objects: ObjectsSpec::of(archive.objects()),
            filter: FilterSpec::from(archive.filter()),
            max_file_size: archive.max_file_size(),
            profiles: archive.given_profiles().iter().cloned().collect(),
            all_profiles: archive
                .known_profiles()
                .map(|all| all.iter().cloned().collect()),
            bucket_regions: archive.fetcher().bucket_regions(),
        }
    }
}

impl ArchiveSpec {
    /// Whether it carries every application profile the files create: a scan then needs no
    /// file but its own.
    pub fn has_all_profiles(&self) -> bool {
        self.all_profiles.is_some()
    }

    /// The same listing reduced to the objects named in `log_files` (what one task reads, when
    /// the profiles are all known).
    pub fn only<'a>(&self, log_files: impl IntoIterator<Item = &'a str>) -> ArchiveSpec {
        let names: std::collections::HashSet<&str> = log_files.into_iter().collect();
        ArchiveSpec {
            objects: self.objects.only(&names),
            ..self.clone()
        }
    }

    /// The archive again, its S3 objects read with clients made from `aws` (each in its
    /// bucket's Region); without `aws` (a scheduler, which plans but reads nothing) S3
    /// objects cannot be read.
    pub fn to_archive(&self, aws: Option<&aws_config::SdkConfig>) -> Result<Archive> {
        let objects = self.objects.objects();
        let options = ReadOptions {
            filter: self.filter.to_filter()?,
            profiles: map_of(&self.profiles),
            max_file_size: self.max_file_size,
            ..ReadOptions::default()
        };
        let clients: HashMap<String, aws_sdk_s3::Client> = match aws {
            Some(config) => self
                .bucket_regions
                .iter()
                .map(|(bucket, region)| {
                    let client = crate::source::aws::s3_client(config, region.as_deref());
                    (bucket.clone(), client)
                })
                .collect(),
            None => HashMap::new(),
        };
        let archive = Archive::listed_elsewhere(
            objects,
            options,
            Fetcher::with_s3_clients(clients),
            self.token,
        );
        if let Some(all) = &self.all_profiles {
            archive.know_profiles(map_of(all));
        }
        Ok(archive)
    }
}

fn map_of(profiles: &[ApplicationProfile]) -> ProfileMap {
    let mut map = ProfileMap::default();
    for profile in profiles {
        map.insert(profile.clone());
    }
    map
}

/// The `events` table of a warehouse.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarehouseSpec {
    store_url: String,
    files: Vec<EventsFile>,
    filter: FilterSpec,
}

impl From<&WarehouseEvents> for WarehouseSpec {
    fn from(table: &WarehouseEvents) -> Self {
        WarehouseSpec {
            store_url: table.store_url().as_str().to_owned(),
            files: table.files().to_vec(),
            filter: FilterSpec::from(table.filter()),
        }
    }
}

impl WarehouseSpec {
    /// The table again.
    pub fn to_table(&self) -> Result<WarehouseEvents> {
        let url = ObjectStoreUrl::parse(&self.store_url)?;
        Ok(WarehouseEvents::of_files(
            url,
            self.files.clone(),
            self.filter.to_filter()?,
        ))
    }
}

/// A scan of a raw archive: which files each partition reads and what it builds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanSpec {
    /// The archive.
    pub archive: ArchiveSpec,
    /// Per partition, the log files it reads.
    pub partitions: Vec<Vec<String>>,
    /// The columns built, by name.
    pub columns: Vec<String>,
    /// Rows per batch.
    pub batch_size: usize,
    /// The SQL filters the decoder evaluates (DataFusion's protobuf encoding of their
    /// conjunction), if any.
    pub filters: Option<Vec<u8>>,
}

/// The error of a description that does not decode.
pub fn malformed(what: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!(
        "trailmap cluster: malformed plan description ({what}); are the client, scheduler and executors the same trailmap version?"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Location;

    /// Each object's location, name, size and revision, in name order.
    fn described(archive: &Archive) -> Vec<(Location, String, u64, Option<String>)> {
        let mut objects: Vec<_> = archive
            .objects()
            .iter()
            .map(|o| {
                let name = o.context.log_file.clone();
                (o.location.clone(), name, o.size, o.revision.clone())
            })
            .collect();
        objects.sort_by(|a, b| a.1.cmp(&b.1));
        objects
    }

    #[test]
    fn a_listing_travels_whole() {
        let filter = ScanFilter {
            from: Some(
                DateTime::parse_from_rfc3339("2025-03-01T00:00:00Z")
                    .unwrap()
                    .to_utc(),
            ),
            to: Some(
                DateTime::parse_from_rfc3339("2025-03-02T12:30:00.5Z")
                    .unwrap()
                    .to_utc(),
            ),
            accounts: vec!["111122223333".into()],
            source_regions: vec!["eu-west-1".into()],
            delivery_margin: Duration::hours(6),
        };
        let objects = vec![
            Arc::new(
                LogObject::new(
                    Location::S3 {
                        bucket: "b".into(),
                        key: "AWSLogs/x.json.gz".into(),
                    },
                    "s3://b/AWSLogs/x.json.gz".into(),
                    120,
                )
                .with_revision(Some("\"etag\"".into())),
            ),
            Arc::new(LogObject::new(
                Location::Local("/logs/y.json.gz".into()),
                "/logs/y.json.gz".into(),
                7,
            )),
        ];
        let options = ReadOptions {
            filter: filter.clone(),
            max_file_size: 1 << 20,
            ..ReadOptions::default()
        };
        let archive = Archive::listed_elsewhere(objects, options, Fetcher::default(), 42);
        let spec = ArchiveSpec::from(&archive);
        let json = serde_json::to_string(&spec).unwrap();
        let again: ArchiveSpec = serde_json::from_str(&json).unwrap();
        let rebuilt = again.to_archive(None).unwrap();
        assert_eq!(rebuilt.token(), 42);
        assert_eq!(rebuilt.filter(), &filter);
        assert_eq!(rebuilt.max_file_size(), 1 << 20);
        assert_eq!(described(&rebuilt), described(&archive));
    }
}
