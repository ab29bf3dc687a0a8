//! Command-line interface: one file per subcommand, shared source options in [`args`].

mod args;
mod audit;
mod catalog;
mod cluster;
mod generate;
mod help_files;
mod ingest;
mod output;
mod progress;
mod query;
mod report;
mod shell;
mod terminal;
mod vacuum;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Where did our Amazon Bedrock requests actually run? SQL over CloudTrail archives.
///
/// trailmap reads CloudTrail log files (gzipped JSON, as CloudTrail delivers them to S3, or a
/// local copy), decodes every record into Arrow and answers SQL with DataFusion. Bedrock
/// cross-Region inference serves a request in a Region other than the caller's; CloudTrail logs
/// that Region in additionalEventData.inferenceRegion, which trailmap exposes as
/// `inference_region` and `served_region`.
///
/// Data goes to stdout, diagnostics to stderr. Exit codes: 0 success; 1 findings (audit
/// violations or unverifiable calls, verify integrity problems); 2 an error, or input that is
/// incomplete where the command must say so (audit, verify, and --strict elsewhere). README.md
/// has what each code proves, per command.
#[derive(Debug, Parser)]
#[command(name = "trailmap", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// More diagnostics on stderr (-v: progress summary, -vv: every skipped file).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr (no warnings about unreadable files).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run SQL (or a named query) over the archive.
    ///
    /// Tables: events (every record), invocations (Bedrock invocations), regions, load_errors,
    /// application_profiles, integrity (the digest chain's verdict per log file).
    /// `trailmap schema` lists the columns and `trailmap queries` the named queries.
    ///
    /// Examples:
    ///   trailmap query -s sample-data served-regions
    ///   trailmap query -s sample-data \
    ///     "SELECT served_region, count(*) FROM invocations GROUP BY 1 ORDER BY 2 DESC"
    ///   trailmap query -s s3://org-trail-logs/AWSLogs/ --from 2025-03-01 --to 2025-03-31 \
    ///     --format csv -o routes.csv routes
    #[command(verbatim_doc_comment)]
    Query(query::QueryArgs),
    /// Write the report of where requests ran: one self-contained HTML page (charts, tables).
    ///
    /// Examples:
    ///   trailmap report -s sample-data -o report.html
    ///   trailmap report -s s3://org-trail-logs/AWSLogs/ --from 2025-03-01 --to 2025-03-31 \
    ///     -o march.html --markdown march.md
    #[command(verbatim_doc_comment)]
    Report(report::ReportArgs),
    /// Check every invocation against a data-residency policy.
    ///
    /// Each call a rule covers is compliant, a violation, or unverifiable (the logs do not show
    /// what the rule needs, e.g. a cross-Region profile call without inferenceRegion).
    ///
    /// Exit codes: 0 no finding over complete input (a rule whose scope matched nothing passes,
    /// with the status "nothing in scope"); 1 violations or unverifiable calls; 2 incomplete or
    /// an error: a file not read, an eventTime --from/--to cannot place, nothing read, with
    /// --verify the chain or a file read not verified, a rule covering a surface the trail
    /// may not record (data events: name the trail with --trail or trail:NAME; the JSON's
    /// incomplete_reasons says which), or a bad policy or source. The audit fails closed.
    ///
    /// Examples:
    ///   trailmap audit -s sample-data --policy queries/policies/eu-residency.toml
    ///   trailmap audit -s sample-data --trail org-trail --policy queries/policies/every-surface.toml
    ///   trailmap audit -s s3://org-trail-logs/AWSLogs/ \
    ///     --policy queries/policies/no-global-profiles.toml --format json -o evidence.json
    #[command(verbatim_doc_comment)]
    Audit(audit::AuditArgs),
    /// Check the logs against CloudTrail's signed digest chain: altered, deleted or inserted
    /// log files, deleted or moved digests, and hours no digest covers.
    ///
    /// Every (trail, account, Region) chain in the sources at once. Digests read from S3 have
    /// their signatures checked (x-amz-meta-signature, CloudTrail's public keys). A local copy
    /// has lost that metadata: give it the signatures saved from S3 (--signatures FILE, or
    /// --signatures-from s3://BUCKET), else it is only "hash chain consistent" (exit 1).
    /// The range ends at --to, or for S3 at the time of the run less 1 h 30 min (a local copy
    /// without --to cannot show its newest files were not removed: exit 1); it starts at
    /// --from, or at each chain's oldest digest, whose predecessor must be there unless it
    /// starts the chain. Files delivered after the newest digest are listed as pending.
    ///
    /// Exit codes: 0 everything in range verified; 1 any integrity problem, signatures not
    /// checked, or a local copy without --to; 2 an object that could not be read, or nothing
    /// found.
    ///
    /// Examples:
    ///   trailmap verify -s s3://org-trail-logs/AWSLogs/ --from 2025-03-01 --to 2025-03-07
    ///   trailmap verify -s s3://org-trail-logs/AWSLogs/ --from 2025-03-01 --to 2025-03-07 \
    ///     --save-signatures sigs.json
    ///   trailmap verify -s trail-copy --signatures sigs.json --to 2025-03-07
    ///   trailmap verify -s trail-copy --signatures-from s3://org-trail-logs --to 2025-03-07
    #[command(verbatim_doc_comment)]
    Verify(verify::VerifyArgs),
    /// Turn raw archives into a Delta Lake table, incrementally: each run adds the objects the
    /// warehouse does not hold yet, whole and exactly once, whatever other runs do at once.
    ///
    /// The warehouse (a local directory or s3://bucket/prefix) then works as a source for
    /// query, report, audit and shell (`-s WAREHOUSE`): same tables, same answers, without
    /// parsing JSON again; any Delta reader (Athena, Spark, DuckDB, the deltalake package)
    /// reads it too. --from/--to, --account and --source-region choose which objects (by key,
    /// with the delivery margin); every event of each chosen object is ingested. A run killed
    /// at any moment leaves nothing half-done: the next run finishes the job. Objects that
    /// could not be read, changed since ingested, or sit in folders that could not be listed
    /// are in the warehouse's load_errors until a run reads them. A day with many small files
    /// is compacted in the same run (--compact: any day); `trailmap vacuum` deletes what no
    /// recent version reads.
    ///
    /// Examples:
    ///   trailmap ingest -s sample-data --into warehouse/
    ///   trailmap ingest -s s3://org-trail-logs/AWSLogs/ --from 2025-03-01 --into month/
    ///   trailmap ingest -s s3://org-trail-logs/AWSLogs/ --into s3://analytics/trail-warehouse
    ///   trailmap query -s warehouse/ served-regions
    #[command(verbatim_doc_comment)]
    Ingest(ingest::IngestArgs),
    /// Delete the warehouse's files no recent version reads (Delta VACUUM).
    ///
    /// Files replaced by a compaction, and files of runs that never committed, stay on disk
    /// so that readers of earlier versions keep working; vacuum deletes those older than
    /// --retain that no version of that window reads.
    ///
    /// Examples:
    ///   trailmap vacuum --into warehouse/
    ///   trailmap vacuum --into s3://analytics/trail-warehouse --retain 30d --dry-run
    #[command(verbatim_doc_comment)]
    Vacuum(vacuum::VacuumArgs),
    /// An interactive SQL prompt over the sources (a raw archive or a warehouse).
    ///
    /// Statements end with `;` and may span lines; a named query runs by its name. \d lists
    /// the tables, \d TABLE their columns, \timing times statements, \q quits. Tab
    /// completes tables, columns and named queries; Ctrl-C cancels the running statement.
    /// History is kept in the user's data directory (e.g. ~/.local/share/trailmap).
    ///
    /// Examples:
    ///   trailmap shell -s sample-data
    ///   trailmap shell -s warehouse/
    ///   echo 'SELECT count(*) AS events FROM events;' | trailmap shell -s sample-data
    #[command(verbatim_doc_comment)]
    Shell(shell::ShellArgs),
    /// Start the scheduler of an Apache Ballista cluster, with trailmap's tables and functions.
    ///
    /// Clients send statements with --cluster df://HOST:PORT (query, report, audit, shell,
    /// ingest); the scheduler plans them and hands tasks to the executors. It reads no log
    /// file. Needs a trailmap built with `--features cluster`.
    ///
    /// Examples:
    ///   trailmap scheduler --bind 0.0.0.0:50050
    ///   trailmap executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50051 --concurrency 2
    ///   trailmap query --cluster df://127.0.0.1:50050 -s s3://org-trail-logs/AWSLogs/ \
    ///     served-regions
    #[command(verbatim_doc_comment)]
    Scheduler(cluster::SchedulerArgs),
    /// Start an executor of an Apache Ballista cluster: it fetches and decodes the log files
    /// (or reads the warehouse) of the tasks the scheduler gives it.
    ///
    /// It reaches S3 with its own credentials (the standard AWS chain, --profile, --region):
    /// read-only on the trail bucket (and the warehouse) is all it needs. Local sources must
    /// be at the same path on every executor. Needs a trailmap built with `--features cluster`.
    ///
    /// Examples:
    ///   trailmap executor --scheduler 127.0.0.1:50050 --bind 127.0.0.1:50051 --concurrency 2
    #[command(verbatim_doc_comment)]
    Executor(cluster::ExecutorArgs),
    /// List the named queries with their descriptions.
    ///
    /// Each is a SQL file under queries/, built into the binary; run one by its name.
    ///
    /// Examples:
    ///   trailmap queries
    ///   trailmap query -s sample-data routes
    #[command(verbatim_doc_comment)]
    Queries,
    /// Print the tables and their columns with meanings.
    ///
    /// docs/tables.md is `trailmap schema --format markdown`; a test fails when they differ.
    ///
    /// Examples:
    ///   trailmap schema
    ///   trailmap schema --format markdown > tables.md
    #[command(verbatim_doc_comment)]
    Schema(catalog::SchemaArgs),
    /// Write a synthetic CloudTrail archive (for tests, demos and benchmarks).
    ///
    /// The same options always give the same bytes: sample-data/ is `trailmap generate -o
    /// sample-data`. With --sign-key it also writes the signed digest chain CloudTrail writes
    /// with log file validation on, for trying `trailmap verify`.
    ///
    /// Examples:
    ///   trailmap generate -o demo --events 50000 --days 7
    ///   trailmap generate -o signed --sign-key key.pem --public-keys-out signed-keys.json \
    ///     --signatures-out signed-sigs.json
    #[command(verbatim_doc_comment)]
    Generate(generate::GenerateArgs),
    /// Print a completion script for a shell.
    ///
    /// Examples:
    ///   trailmap completions bash > trailmap.bash
    ///   trailmap completions zsh > _trailmap
    ///   trailmap completions fish > trailmap.fish
    #[command(verbatim_doc_comment)]
    Completions(help_files::CompletionsArgs),
    /// Write the man pages (roff), generated from this --help.
    ///
    /// Examples:
    ///   trailmap man > trailmap.1
    ///   trailmap man --out-dir man/
    #[command(verbatim_doc_comment)]
    Man(help_files::ManArgs),
}

/// How a command ended, short of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything read, nothing to report.
    Success,
    /// An audit found violations.
    Violations,
    /// Some input could not be read and the command was asked to fail for it.
    Incomplete,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Violations => ExitCode::from(1),
            Outcome::Incomplete => ExitCode::from(2),
        }
    }
}

/// Runs a subcommand; `quiet` hides progress.
pub async fn run(command: Command, quiet: bool) -> anyhow::Result<Outcome> {
    match command {
        Command::Query(args) => query::run(args, quiet).await,
        Command::Report(args) => report::run(args, quiet).await,
        Command::Audit(args) => audit::run(args, quiet).await,
        Command::Verify(args) => verify::run(args, quiet).await,
        Command::Ingest(args) => ingest::run(args, quiet).await,
        Command::Vacuum(args) => vacuum::run(args, quiet).await,
        Command::Shell(args) => shell::run(args, quiet).await,
        Command::Scheduler(args) => cluster::run_scheduler(args).await,
        Command::Executor(args) => cluster::run_executor(args).await,
        Command::Queries => catalog::list_queries(),
        Command::Schema(args) => catalog::print_schema(args),
        Command::Generate(args) => generate::run(args),
        Command::Completions(args) => help_files::completions(args),
        Command::Man(args) => help_files::man(args),
    }
}

/// Diagnostics to stderr: warnings by default, more with `-v`, `TRAILMAP_LOG` overrides.
pub fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TRAILMAP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("trailmap={default}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
}
