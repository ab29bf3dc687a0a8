//! `trailmap ingest`: raw archives into the incremental Delta Lake warehouse.

use std::sync::Arc;

use clap::Args;
use indicatif::HumanBytes;

use super::Outcome;
use super::args::{ReadArgs, parse_size};
use super::progress::Progress;
use trailmap::ingest::{Ingest, IngestOptions, IngestReport, RunEnd};
use trailmap::warehouse::Warehouse;

/// Options of `trailmap ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    #[command(flatten)]
    pub source: ReadArgs,
    /// The warehouse: a local directory (created if missing) or s3://bucket/prefix. It is the
    /// only place ingest writes; the sources are only read.
    #[arg(long, value_name = "WAREHOUSE")]
    pub into: String,
    /// The size of Parquet file to aim for (one day's events are split into files of about
    /// this size).
    #[arg(long, value_name = "SIZE", default_value = "128MiB")]
    pub target_file_size: String,
    /// Also rewrite every day that has small Parquet files into files of about
    /// --target-file-size (done anyway, in the same run, for a day with more than 8 files).
    #[arg(long)]
    pub compact: bool,
}

/// Runs `trailmap ingest`.
pub async fn run(args: IngestArgs, quiet: bool) -> anyhow::Result<Outcome> {
    let (specs, read) = args.source.parse()?;
    if read.coverage != Default::default() {
        anyhow::bail!(
            "--trail, --event-selectors and --assume-recorded say what a trail records, for query, report and audit; ingest keeps the archive's own trail events in the warehouse: give them when reading it"
        );
    }
    let options = IngestOptions {
        read,
        target_file_bytes: parse_size(&args.target_file_size)?,
        compact: args.compact,
    };
    let aws = args.source.source.aws();
    let warehouse = Warehouse::for_ingest(&args.into, &aws).await?;
    let mut attempt = 1;
    let report = loop {
        let ingest = Ingest::prepare(&specs, &options, &aws, warehouse.clone()).await?;
        let session = Arc::clone(ingest.session());
        let progress = Progress::start(&session, quiet);
        match ingest.run().await? {
            RunEnd::Done(report) => {
                match report.commit {
                    Some(_) => progress.finish(&session),
                    None => progress.clear(),
                }
                break report;
            }
            RunEnd::Overtaken if attempt < ATTEMPTS => {
                progress.clear();
                if !quiet {
                    eprintln!(
                        "trailmap: another ingest committed some of the same objects first; nothing of this run was committed; listing again (attempt {} of {ATTEMPTS})",
                        attempt + 1
                    );
                }
                attempt += 1;
            }
            RunEnd::Overtaken => anyhow::bail!(
                "warehouse {}: other ingest runs committed objects of this one first, {ATTEMPTS} times in a row; nothing of this run was committed: run it again when they are done",
                args.into
            ),
        }
    };
    if !quiet {
        print_summary(&report, &args.into);
    }
    Ok(if !report.load_errors.is_empty() && args.source.strict {
        Outcome::Incomplete
    } else {
        Outcome::Success
    })
}

/// Runs of one `ingest` (each listing again) before it gives up to runs that keep committing
/// the same objects first.
const ATTEMPTS: usize = 5;

/// Objects changed since ingested that are named one by one.
const CHANGED_SHOWN: usize = 10;

/// What the run did, on stderr.
fn print_summary(report: &IngestReport, into: &str) {
    match report.commit {
        Some(commit) => eprintln!(
            "trailmap: ingested {} object(s), {} events, into {into}: Delta version {commit}, {} Parquet file(s) written, {}; {} of {} listed object(s) were in already",
            report.ingested,
            report.events,
            report.files_written,
            HumanBytes(report.bytes_written),
            report.already_in,
            report.listed
        ),
        None => eprintln!(
            "trailmap: {into} is up to date: {} listed object(s), all in already",
            report.listed
        ),
    }
    if report.days_compacted > 0 {
        eprintln!(
            "trailmap: compacted {} day(s): {} file(s) replaced",
            report.days_compacted, report.files_replaced
        );
    }
    if report.days_repaired > 0 {
        eprintln!(
            "trailmap: rewrote {} day(s) whose calls go through application profiles, or use sessions, this run learned",
            report.days_repaired
        );
    }
    if report.duplicates > 0 {
        eprintln!(
            "trailmap: {} listed object(s) were named by more than one source; each was read once",
            report.duplicates
        );
    }
    if report.concurrent_commits > 0 {
        eprintln!(
            "trailmap: {} commit(s) of other runs landed during this one; none held its objects",
            report.concurrent_commits
        );
    }
    if !report.changed.is_empty() {
        eprintln!(
            "trailmap: WARNING: {} object(s) changed since they were ingested (not ingested again; the warehouse keeps what was read then, and lists them in load_errors):",
            report.changed.len()
        );
        for change in report.changed.iter().take(CHANGED_SHOWN) {
            eprintln!(
                "  {}: size {} -> {}, revision {} -> {}",
                change.log_file,
                change.ingested.0,
                change.listed.0,
                change.ingested.1.as_deref().unwrap_or("unknown"),
                change.listed.1.as_deref().unwrap_or("unknown")
            );
        }
        if report.changed.len() > CHANGED_SHOWN {
            eprintln!("  and {} more", report.changed.len() - CHANGED_SHOWN);
        }
    }
    if !report.load_errors.is_empty() {
        eprintln!(
            "trailmap: {} object(s) could not be read; they are listed in the warehouse's load_errors and retried by the next run",
            report.load_errors.len()
        );
    }
}
