//! `trailmap vacuum`: Delta VACUUM of a warehouse.

use clap::Args;

use super::Outcome;
use super::args::AwsArgs;
use trailmap::filter::parse_duration;
use trailmap::warehouse::Warehouse;

/// Options of `trailmap vacuum`.
#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// The warehouse: a local directory or s3://bucket/prefix.
    #[arg(long, value_name = "WAREHOUSE")]
    pub into: String,
    /// Keep every file a version of the last DURATION reads, and files younger than that
    /// (an ingest still writing, or a reader of an earlier version). At least 1h.
    #[arg(long, value_name = "DURATION", default_value = "7d")]
    pub retain: String,
    /// List what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The shortest `--retain`: an ingest run's files exist before its commit names them, and a
/// VACUUM must not take them from under it.
const SHORTEST_RETAIN_MINUTES: i64 = 60;

/// Runs `trailmap vacuum`.
pub async fn run(args: VacuumArgs, quiet: bool) -> anyhow::Result<Outcome> {
    let retain = parse_duration(&args.retain)?;
    if retain.num_minutes() < SHORTEST_RETAIN_MINUTES {
        anyhow::bail!(
            "--retain {}: at least 1h (files of a running ingest are not in the table yet; a shorter window could delete them)",
            args.retain
        );
    }
    let aws = args.aws.options();
    let Some(warehouse) =
        Warehouse::detect(&trailmap::source::SourceSpec::parse(&args.into)?, &aws).await?
    else {
        anyhow::bail!("{}: not a warehouse (no _delta_log/)", args.into);
    };
    if !args.dry_run {
        // VACUUM commits too (its start and end): only where commits cannot overwrite others.
        warehouse.probe_writes().await?;
        // A running ingest's files are in no version yet: VACUUM would take them.
        if let Some((run, since)) = warehouse.running_ingests().await?.into_iter().next() {
            anyhow::bail!(
                "{}: an ingest is running (run {run}, since {}): its files are not in the table yet and VACUUM could delete them; run vacuum when it has finished (a run renews its mark every minute: one left by a killed run stops counting 10 minutes after, or delete {}/_trailmap/runs/{run})",
                args.into,
                since.format("%Y-%m-%d %H:%M:%S UTC"),
                args.into.trim_end_matches('/')
            );
        }
    }
    let deleted = warehouse.vacuum(retain, args.dry_run).await?;
    if args.dry_run {
        for file in &deleted {
            println!("{file}");
        }
    }
    if !quiet {
        let verb = match args.dry_run {
            true => "would delete",
            false => "deleted",
        };
        eprintln!(
            "trailmap: {verb} {} file(s) no version of the last {} reads",
            deleted.len(),
            args.retain
        );
    }
    Ok(Outcome::Success)
}
