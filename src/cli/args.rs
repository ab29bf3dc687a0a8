//! Options shared by every subcommand that reads an archive.

use chrono::{DateTime, Utc};
use clap::Args;

use std::path::PathBuf;

use trailmap::coverage::known::CoverageOptions;
use trailmap::decode::profiles::ProfileMap;
use trailmap::filter::{Bound, ScanFilter, parse_duration, parse_time};
use trailmap::source::SourceSpec;
use trailmap::source::aws::AwsOptions;
use trailmap::verify::signatures::SignatureSource;
use trailmap::verify::{Verification, VerifyOptions, VerifyProgress};
use trailmap::{ReadOptions, TrailSession};

/// Where to read and which events (every command that reads an archive).
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// A local directory (read recursively) or file (.json.gz or .json), s3://bucket/prefix,
    /// or trail:NAME (a trail name or ARN); or a warehouse made by `trailmap ingest` (a
    /// directory or S3 prefix, read on its own). Repeat for several; comma-separated in
    /// TRAILMAP_SOURCE.
    #[arg(
        short,
        long = "source",
        value_name = "SOURCE",
        env = "TRAILMAP_SOURCE",
        value_delimiter = ',',
        required = true
    )]
    pub sources: Vec<String>,
    /// Only events at or after this time: YYYY-MM-DD (start of day, UTC) or RFC 3339.
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Only events at or before this time: YYYY-MM-DD (the whole day, UTC) or RFC 3339.
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only events of this account (recipientAccountId, 12 digits). Repeatable.
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// Only events logged in this source Region (awsRegion, e.g. eu-west-1). Repeatable.
    #[arg(long = "source-region", value_name = "REGION")]
    pub source_regions: Vec<String>,
    /// How late a log file may be delivered after its events (e.g. 90m, 6h, 3d): pruning by
    /// --from/--to or SQL time filters keeps this margin. CloudTrail delivers in about 5
    /// minutes on average, with no upper bound; the coverage reports the largest lag seen.
    #[arg(long, value_name = "DURATION", default_value = "48h")]
    pub delivery_margin: String,
    /// The largest JSON text one log file may inflate to (e.g. 512MiB, 2GiB, 200MB): a larger
    /// file (a gzip bomb, or not a log file) is a load error and the rest is read.
    #[arg(long, value_name = "SIZE", default_value = "1GiB")]
    pub max_file_size: String,
    /// CloudTrail's public keys for digest signatures (`trailmap verify`, the integrity table,
    /// --verify): the JSON `aws cloudtrail list-public-keys` prints. Default: asked of
    /// CloudTrail (ListPublicKeys) in each trail's home Region when digests are read from S3.
    #[arg(long, value_name = "FILE.json")]
    pub public_keys: Option<PathBuf>,
    /// Digest signatures for a local copy (a download keeps no S3 metadata): the file
    /// `trailmap verify -s s3://BUCKET/... --save-signatures FILE` wrote. They are checked with
    /// CloudTrail's keys (--public-keys, or ListPublicKeys), never with keys in the file.
    /// Without signatures a local copy is "hash chain consistent, signatures not checked",
    /// never "verified".
    #[arg(long, value_name = "FILE.json", conflicts_with = "signatures_from")]
    pub signatures: Option<PathBuf>,
    /// Digest signatures for a local copy, read from the trail's bucket: one HEAD request per
    /// digest, at the key the digest names (s3://BUCKET; no object is downloaded).
    #[arg(long, value_name = "s3://BUCKET")]
    pub signatures_from: Option<String>,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The bucket of `--signatures-from s3://BUCKET`.
fn signatures_bucket(value: &str) -> anyhow::Result<String> {
    match SourceSpec::parse(value)? {
        SourceSpec::S3 { bucket, .. } => Ok(bucket),
        _ => anyhow::bail!(
            "--signatures-from {value}: give the trail's bucket as s3://BUCKET (digests are found at the keys they name)"
        ),
    }
}

/// How AWS is reached (as in the AWS CLI).
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// AWS named profile (as in the AWS CLI).
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE", help_heading = "AWS")]
    pub profile: Option<String>,
    /// Region of the AWS API calls (as in the AWS CLI; not a log filter, see --source-region).
    #[arg(long, value_name = "REGION", help_heading = "AWS")]
    pub region: Option<String>,
    /// Custom S3 / CloudTrail endpoint, e.g. an S3-compatible store (path-style addressing).
    #[arg(
        long,
        value_name = "URL",
        env = "AWS_ENDPOINT_URL",
        help_heading = "AWS"
    )]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// The AWS options of the API calls.
    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}

impl SourceArgs {
    /// Validates the options (cheap, before anything is listed).
    pub fn parse(&self) -> anyhow::Result<(Vec<SourceSpec>, ReadOptions)> {
        let specs = self
            .sources
            .iter()
            .map(|s| SourceSpec::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        let filter = ScanFilter {
            from: self
                .from
                .as_deref()
                .map(|v| parse_time(v, Bound::Start))
                .transpose()?,
            to: self
                .to
                .as_deref()
                .map(|v| parse_time(v, Bound::End))
                .transpose()?,
            accounts: self.accounts.clone(),
            source_regions: self.source_regions.clone(),
            delivery_margin: parse_duration(&self.delivery_margin)?,
        };
        filter.validate()?;
        Ok((
            specs,
            ReadOptions {
                filter,
                max_file_size: parse_size(&self.max_file_size)?,
                public_keys: self.public_keys.clone(),
                signatures: match (&self.signatures, &self.signatures_from) {
                    (Some(path), _) => Some(SignatureSource::File(path.clone())),
                    (None, Some(url)) => Some(SignatureSource::S3 {
                        bucket: signatures_bucket(url)?,
                    }),
                    (None, None) => None,
                },
                ..ReadOptions::default()
            },
        ))
    }

    /// The AWS options of the API calls.
    pub fn aws(&self) -> AwsOptions {
        self.aws.options()
    }

    /// Lists the sources and opens a session over the events from `from` to `to` (within
    /// `--from/--to`), with the engine's defaults.
    pub async fn open_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<TrailSession> {
        let (specs, mut options) = self.parse()?;
        let filter = &mut options.filter;
        filter.from = Some(filter.from.map_or(from, |f| f.max(from)));
        filter.to = Some(filter.to.map_or(to, |t| t.min(to)));
        if filter.from > filter.to {
            filter.to = filter.from;
        }
        Ok(trailmap::open(&specs, &options, &self.aws()).await?)
    }

    /// Verifies the digest chain of the sources, counting in `progress`.
    pub async fn verify(&self, progress: &VerifyProgress) -> anyhow::Result<Verification> {
        let (specs, options) = self.parse()?;
        let options = VerifyOptions {
            through_delivery_margin: false,
            ..VerifyOptions::from(&options)
        };
        Ok(trailmap::verify::verify(&specs, &options, &self.aws(), progress).await?)
    }
}

/// The sources, and how the query engine reads them (query, report, audit).
#[derive(Debug, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Application inference profiles created before the archive starts: the JSON output of
    /// `aws bedrock list-inference-profiles --type-equals APPLICATION`. Profiles created inside
    /// the archive are read from its CreateInferenceProfile events.
    #[arg(long, value_name = "FILE.json")]
    pub profiles: Option<PathBuf>,
    /// The most memory the query engine may hold (e.g. 2GiB, 512MiB): rows being decoded,
    /// rows waiting for application profiles, sorts and aggregations count against it; a query
    /// that needs more fails with an error saying so instead of exhausting the machine.
    /// Default: no limit; for `ingest`, 2GiB (a day's rows beyond it are sorted on disk).
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Exit with code 2 if any file could not be read (default: warn and go on).
    #[arg(long)]
    pub strict: bool,
    /// Run on an Apache Ballista cluster (`trailmap scheduler` + `trailmap executor`s): the
    /// scheduler plans, the executors read the files themselves (the paths or S3 objects must
    /// be reachable from them) and an unreadable file fails the statement (for ingest: the run,
    /// which commits nothing). Needs a trailmap built with `--features cluster`.
    #[arg(long, value_name = "df://HOST:PORT", env = "TRAILMAP_CLUSTER")]
    pub cluster: Option<String>,
    /// The trail that wrote the sources (repeatable), for what it records (`trail_coverage`,
    /// the report's blind spots, the audit). Its selectors come from the archive's own
    /// CreateTrail/PutEventSelectors events and, when the sources are in S3, from CloudTrail's
    /// GetEventSelectors. A `trail:NAME` source names its trail already.
    #[arg(long, value_name = "NAME")]
    pub trail: Vec<String>,
    /// The trail's event selectors today: the JSON that `aws cloudtrail get-event-selectors
    /// --trail-name NAME > FILE` writes, for logs read without AWS (as GetEventSelectors is for
    /// logs in S3). Today's selectors count for the range only when the archive shows the trail
    /// unchanged since the range started, up to the last hour (its home account and Region's
    /// files read); otherwise the surfaces they would vouch for stay unknown.
    #[arg(long, value_name = "FILE.json")]
    pub event_selectors: Option<PathBuf>,
    /// Treat this inference surface as recorded whatever the trail's selectors say
    /// (repeatable; `trailmap schema` lists the surfaces). The audit then judges it as covered,
    /// and its coverage says it was assumed.
    #[arg(long, value_name = "SURFACE", value_parser = surface_id)]
    pub assume_recorded: Vec<String>,
}

/// A surface id of the catalogue.
fn surface_id(text: &str) -> Result<String, String> {
    match trailmap::surfaces::by_id(text) {
        Some(surface) => Ok(surface.id.to_owned()),
        None => Err(format!(
            "not an inference surface; use one of {}",
            trailmap::surfaces::ids().join(", ")
        )),
    }
}

impl ReadArgs {
    /// Validates the options (cheap, before anything is listed).
    pub fn parse(&self) -> anyhow::Result<(Vec<SourceSpec>, ReadOptions)> {
        let (specs, options) = self.source.parse()?;
        let profiles = match &self.profiles {
            Some(path) => ProfileMap::from_profiles_file(path)?,
            None => ProfileMap::default(),
        };
        let memory_limit = self.memory_limit.as_deref().map(parse_size).transpose()?;
        Ok((
            specs,
            ReadOptions {
                profiles,
                memory_limit,
                cluster: self.cluster.clone(),
                coverage: CoverageOptions {
                    trails: self.trail.clone(),
                    event_selectors: self.event_selectors.clone(),
                    assume_recorded: self.assume_recorded.clone(),
                },
                ..options
            },
        ))
    }

    /// Lists the sources and opens a session over them, hashing each file's text as it is
    /// decoded when `hash_text` is set (for `--verify`: the bytes judged are the bytes the
    /// digest names).
    pub async fn open_hashing(&self, hash_text: bool) -> anyhow::Result<TrailSession> {
        let (specs, mut options) = self.parse()?;
        options.hash_text = hash_text;
        Ok(trailmap::open(&specs, &options, &self.source.aws()).await?)
    }

    /// Opens a session for one statement: S3 folders its SQL rules out are not listed.
    pub async fn open_for_query(&self, sql: &str) -> anyhow::Result<TrailSession> {
        let (specs, options) = self.parse()?;
        Ok(trailmap::open_for_query(&specs, &options, &self.source.aws(), sql).await?)
    }
}

/// Prints a one-line summary of unreadable files on stderr; returns whether there were any.
pub fn report_load_errors(session: &TrailSession) -> bool {
    let errors = session.load_errors();
    if errors.is_empty() {
        return false;
    }
    let coverage = session.coverage();
    eprintln!(
        "trailmap: {} file(s) could not be read ({} read); their events are missing. SELECT * FROM load_errors lists them.",
        errors.len(),
        coverage.files_read
    );
    true
}

/// Parses a size: a number of bytes with an optional unit (`KB`, `MB`, `GB` are powers of 1000,
/// `KiB`, `MiB`, `GiB` powers of 1024), e.g. `512MiB` or `2GB`.
pub fn parse_size(value: &str) -> anyhow::Result<u64> {
    let text = value.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "invalid size {value:?}: expected a number and a unit, e.g. 512MiB, 2GiB or 200MB"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("200MB").unwrap(), 200_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("2 GiB").unwrap(), 2 << 30);
        for bad in ["", "GiB", "0", "1TB", "-1MB", "1.5GiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
