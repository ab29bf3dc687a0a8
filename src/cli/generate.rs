//! `trailmap generate`: write a synthetic archive (the one `sample-data/` was made with).

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;

use super::Outcome;
use trailmap::generate::{GeneratorConfig, generate};

/// Write a synthetic CloudTrail archive in the real key layout.
///
/// The same options always give the same bytes. sample-data/ is
/// `trailmap generate -o sample-data` with the defaults.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory to write into (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Number of records in all files together.
    #[arg(long, default_value_t = GeneratorConfig::default().events)]
    pub events: usize,
    /// Records per log file.
    #[arg(long, default_value_t = GeneratorConfig::default().events_per_file)]
    pub events_per_file: usize,
    /// Seed of all random choices.
    #[arg(long, default_value_t = GeneratorConfig::default().seed)]
    pub seed: u64,
    /// First day (YYYY-MM-DD).
    #[arg(long, default_value_t = GeneratorConfig::default().start)]
    pub start: NaiveDate,
    /// Number of days covered.
    #[arg(long, default_value_t = GeneratorConfig::default().days)]
    pub days: u32,
    /// Percentage of records that are Bedrock invocations (real archives: a few percent; 2 gives
    /// the realistic mix of the benchmarks).
    #[arg(long, value_name = "PERCENT", default_value_t = GeneratorConfig::default().invocation_percent,
          value_parser = clap::value_parser!(u64).range(0..=100))]
    pub invocation_percent: u64,
    /// Also write a file CloudTrail never writes: a log file with a second gzip member
    /// appended (trailmap must report it as a load error).
    #[arg(long)]
    pub bad: bool,
}

/// Runs `trailmap generate`.
pub fn run(args: GenerateArgs) -> anyhow::Result<Outcome> {
    let config = GeneratorConfig {
        events: args.events,
        events_per_file: args.events_per_file,
        seed: args.seed,
        start: args.start,
        days: args.days,
        invocation_percent: args.invocation_percent,
        bad: args.bad,
    };
    let written = generate(&args.output, &config)?;
    eprintln!(
        "trailmap: wrote {} log files ({} records), {} digest files and {} bad file(s) under {}",
        written.log_files,
        written.events,
        written.digest_files,
        written.bad_files,
        args.output.display()
    );
    Ok(Outcome::Success)
}
