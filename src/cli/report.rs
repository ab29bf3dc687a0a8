//! `trailmap report`: the HTML page (and optionally Markdown) of where requests ran.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use super::Outcome;
use super::args::{ReadArgs, report_load_errors};
use super::progress::Progress;
use trailmap::report::{self, html, markdown};
use trailmap::verify::chain::LogStatus;

/// Options of `trailmap report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub source: ReadArgs,
    /// The HTML file to write (self-contained: open it from disk, print it, mail it).
    #[arg(short, long, value_name = "report.html")]
    pub output: PathBuf,
    /// Also write the same numbers as Markdown (tables only).
    #[arg(long, value_name = "report.md")]
    pub markdown: Option<PathBuf>,
    /// Every row of every table in the Markdown (default: the top 15, and how many more
    /// `trailmap query NAME` gives, as on the page).
    #[arg(long, requires = "markdown")]
    pub full: bool,
    /// Also check the logs against CloudTrail's digest chain (as `trailmap verify` does) and
    /// say in the headline how many log files verified; with --strict, any log file read that
    /// is not shown unaltered (or any problem of the chain) is exit 2.
    #[arg(long)]
    pub verify: bool,
}

/// Runs `trailmap report`.
pub async fn run(args: ReportArgs, quiet: bool) -> anyhow::Result<Outcome> {
    let session = Arc::new(args.source.open_hashing(args.verify).await?);
    let progress = Progress::start(&session, quiet);
    let mut data = report::build(&session).await?;
    let mut unverified = false;
    if args.verify {
        let (verification, status_of) = session.integrity_as_read().await?;
        let summary = verification.summary();
        let not_valid = status_of
            .values()
            .filter(|status| **status != LogStatus::Valid.as_str())
            .count();
        if !summary.verified || not_valid > 0 {
            unverified = true;
            eprintln!(
                "trailmap: integrity: {}; {not_valid} log file(s) the report read are not shown unaltered",
                summary.headline()
            );
        }
        data.integrity = Some(summary);
    }
    progress.finish(&session);
    std::fs::write(&args.output, html::render(&data))
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!("trailmap: wrote {}", args.output.display());
    if let Some(path) = &args.markdown {
        std::fs::write(path, markdown::render(&data, args.full))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("trailmap: wrote {}", path.display());
    }
    let incomplete = report_load_errors(&session) || unverified;
    Ok(if incomplete && args.source.strict {
        Outcome::Incomplete
    } else {
        Outcome::Success
    })
}
