//! Options shared by every subcommand that reads an archive.

use clap::Args;

use trailmap::TrailSession;
use trailmap::filter::{Bound, ScanFilter, parse_time};
use trailmap::source::SourceSpec;

/// Where to read and which events.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// A local directory (read recursively) or file (.json.gz or .json). Repeat for several;
    /// comma-separated in TRAILMAP_SOURCE.
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
    /// Only events of this account (recipientAccountId). Repeatable.
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// Only events logged in this source Region (awsRegion). Repeatable.
    #[arg(long = "source-region", value_name = "REGION")]
    pub source_regions: Vec<String>,
    /// Exit with code 2 if any file could not be read (default: warn and go on).
    #[arg(long)]
    pub strict: bool,
}

impl SourceArgs {
    /// Validates the options (cheap, before anything is read).
    pub fn parse(&self) -> trailmap::error::Result<(Vec<SourceSpec>, ScanFilter)> {
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
        };
        filter.validate()?;
        Ok((specs, filter))
    }

    /// Lists the sources and opens a session over them.
    pub async fn open(&self) -> trailmap::error::Result<TrailSession> {
        let (specs, filter) = self.parse()?;
        trailmap::open(&specs, filter).await
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
