//! `trailmap verify`: the digest chain's verdicts as a summary and a table of problems, JSON
//! or CSV.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use datafusion::arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use serde_json::{Value, json};

use super::Outcome;
use super::args::SourceArgs;
use super::output::{self, Format};
use super::progress::CountBar;
use super::query::FitArgs;
use super::terminal::{Fit, Kept, wrap, write_fitted};
use indicatif::HumanBytes;
use trailmap::TrailSession;
use trailmap::verify::chain::{DigestStatus, LogStatus};
use trailmap::verify::digest::format_digest_time;
use trailmap::verify::{
    Signatures, StatusCounts, TRAIL_EVENTS, TrailEvent, UNANCHORED, Verification, VerifyProgress,
    explain_gaps,
};

/// Output format of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    /// A summary and a table of every problem.
    Table,
    /// Everything as one JSON document (its shape: docs/verify.md).
    Json,
    /// One row per digest, log file and gap: kind, file, status, digest_file, reason.
    Csv,
}

/// Options of `trailmap verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = VerifyFormat::Table)]
    pub format: VerifyFormat,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also write every digest's signature (S3 metadata), and the public keys that checked
    /// them, to this JSON file: `--signatures FILE` then checks a local copy of the bucket.
    #[arg(long, value_name = "FILE.json")]
    pub save_signatures: Option<PathBuf>,
    #[command(flatten)]
    pub fit: FitArgs,
}

/// Problems shown in the table format; all of them are in JSON and CSV.
const TABLE_PROBLEMS: usize = 50;

/// Runs `trailmap verify`.
pub async fn run(args: VerifyArgs, quiet: bool) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let progress = Arc::new(VerifyProgress::default());
    let counting = Arc::clone(&progress);
    let bar = CountBar::start("objects", quiet, move || counting.snapshot());
    let mut verification = args.source.verify(&progress).await?;
    drop(bar);
    if !quiet {
        let (listed, _, bytes) = progress.snapshot();
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "trailmap: read {listed} digest and log files, {} inflated, in {seconds:.2} s ({:.0} MB/s)",
            HumanBytes(bytes),
            bytes as f64 / 1e6 / seconds.max(1e-9)
        );
    }
    if let Some(path) = &args.save_signatures {
        anyhow::ensure!(
            !verification.saved.digests.is_empty(),
            "--save-signatures {}: no digest with a signature was read from S3 (give -s s3://BUCKET/...)",
            path.display()
        );
        verification.saved.save(path)?;
        if !quiet {
            eprintln!(
                "trailmap: saved {} digest signature(s) to {}",
                verification.saved.digests.len(),
                path.display()
            );
        }
    }
    if let Some((from, to)) = verification.explaining_span() {
        let session = args.source.open_between(from, to).await?;
        let events = trail_events(&session).await?;
        explain_gaps(&mut verification.judgement.gaps, &events);
    }
    let target = output::target_name(args.output.as_deref());
    match args.format {
        VerifyFormat::Table => {
            let text = match (args.output.is_none(), args.fit.for_stdout()) {
                (true, Some(fit)) => terminal_text(&verification, &fit)?,
                _ => table_text(&verification)?,
            };
            output::write_text(&text, args.output.as_deref())?;
        }
        VerifyFormat::Json => {
            output::write_json(&json_report(&verification), args.output.as_deref())?;
        }
        VerifyFormat::Csv => {
            let sink = output::open_sink(Format::Csv, args.output.as_deref())?;
            output::write_batch(
                &rows_batch(&verification, Rows::All)?,
                Format::Csv,
                sink,
                &target,
            )?;
        }
    }
    if args.format != VerifyFormat::Table || args.output.is_some() {
        eprint!("{}", summary_text(&verification));
    }
    Ok(outcome(&verification))
}

/// 2 when something could not be read or nothing was found; 1 on any integrity problem, on
/// signatures not checked, or on a tail nothing anchors (a local copy without `--to`).
pub fn outcome(verification: &Verification) -> Outcome {
    if !verification.errors.is_empty() || verification.is_empty() {
        Outcome::Incomplete
    } else if !verification.is_verified() {
        Outcome::Violations
    } else {
        Outcome::Success
    }
}

/// The archive's `StopLogging`, `StartLogging`, `UpdateTrail` and `DeleteTrail` events.
async fn trail_events(session: &TrailSession) -> anyhow::Result<Vec<TrailEvent>> {
    let names = TRAIL_EVENTS.map(|n| format!("'{n}'")).join(", ");
    let sql = format!(
        "SELECT CAST(to_unixtime(event_time) AS BIGINT) AS t, event_name, \
         json_get_str(request_parameters, 'name') AS trail FROM events \
         WHERE event_source = 'cloudtrail.amazonaws.com' AND event_name IN ({names})"
    );
    let batches = session.sql(&sql).await?.collect().await?;
    let mut events = Vec::new();
    for batch in batches {
        let (Some(times), Some(names), Some(trails)) = (
            batch.column(0).as_any().downcast_ref::<Int64Array>(),
            batch.column(1).as_any().downcast_ref::<StringArray>(),
            batch.column(2).as_any().downcast_ref::<StringArray>(),
        ) else {
            anyhow::bail!("internal error: unexpected column types reading trail events");
        };
        for row in 0..batch.num_rows() {
            if times.is_null(row) || trails.is_null(row) {
                continue;
            }
            if let Some(time) = chrono::DateTime::from_timestamp(times.value(row), 0) {
                events.push(TrailEvent {
                    time,
                    name: names.value(row).to_owned(),
                    trail: trails.value(row).to_owned(),
                });
            }
        }
    }
    Ok(events)
}

fn counts_text(counts: &StatusCounts) -> String {
    if counts.is_empty() {
        return "none".to_owned();
    }
    counts
        .iter()
        .map(|(status, n)| format!("{n} {status}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What was verified and the verdict, a few lines.
fn summary_text(v: &Verification) -> String {
    format!(
        "{}Result: {}\n{}",
        summary_body(v),
        result_text(v),
        hint_text(v)
    )
}

/// The range, signatures, counts, gaps and unread objects.
fn summary_body(v: &Verification) -> String {
    let j = &v.judgement;
    let range = match j.span {
        Some((from, to)) => format!("{} to {}", format_digest_time(from), format_digest_time(to)),
        None => "no digest range".to_owned(),
    };
    let mut text = format!("Range: {range}\n");
    text.push_str(&format!("Signatures: {}\n", v.signatures.describe()));
    text.push_str(&format!("Digests: {}\n", counts_text(&v.digest_counts())));
    text.push_str(&format!("Log files: {}\n", counts_text(&v.log_counts())));
    text.push_str(&format!(
        "Gaps: {} ({} hours not covered by a valid digest)\n",
        j.gaps.len(),
        v.gap_hours()
    ));
    text.push_str(&format!(
        "Hashed: {:.1} MB of inflated digests and log files\n",
        v.hashed_bytes as f64 / 1e6
    ));
    for e in &v.errors {
        text.push_str(&format!(
            "  not read: {} ({}): {}\n",
            e.log_file, e.stage, e.message
        ));
    }
    text
}

/// What the verification concluded, in one line.
fn result_text(v: &Verification) -> String {
    if !v.errors.is_empty() {
        format!(
            "INCOMPLETE: {} object(s) could not be read; nothing can be said of them",
            v.errors.len()
        )
    } else if v.is_empty() {
        "INCOMPLETE: no digest or log file found in range".to_owned()
    } else if v.only_signatures_unchecked() {
        let mut text = "HASH CHAIN CONSISTENT, signatures not checked: a local copy's digests carry no signature, so whoever could rewrite the copy could rewrite them too (pass --signatures FILE or --signatures-from s3://BUCKET)".to_owned();
        if !v.judgement.anchored {
            text.push_str(UNANCHORED);
        }
        text
    } else if v.has_problems() {
        "NOT VERIFIED: the logs in range cannot be shown to be complete and unaltered".to_owned()
    } else if !v.judgement.anchored {
        format!("NOT VERIFIED: every digest and log file found is intact{UNANCHORED}")
    } else {
        let mut text =
            "VERIFIED: every digest and log file in range is intact and every hour is covered"
                .to_owned();
        let pending = v.log_counts().get(LogStatus::Pending.as_str()).copied();
        if let Some(pending) = pending {
            text.push_str(&format!(
                "; {pending} log file(s) delivered after the newest digest are pending (not yet vouched for)"
            ));
        }
        text
    }
}

/// A hint when no digest was found.
fn hint_text(v: &Verification) -> String {
    match v.signatures == Signatures::None && !v.is_empty() {
        true => "Hint: no digest files were found. They live in CloudTrail-Digest/ beside CloudTrail/: give -s at the AWSLogs/ level (or above), and check that the trail has log file validation on.\n".to_owned(),
        false => String::new(),
    }
}

/// The verification for a terminal, read top-down: the result, the summary, then the problems
/// fitted by `fit`.
fn terminal_text(v: &Verification, fit: &Fit) -> anyhow::Result<String> {
    let mut text = wrap(
        &format!(
            "Result: {}\n\n{}{}",
            result_text(v),
            summary_body(v),
            hint_text(v)
        ),
        fit,
    );
    let total = problem_count(v);
    if total > 0 {
        let problems = rows_batch(
            v,
            Rows::Problems {
                limit: TABLE_PROBLEMS,
            },
        )?;
        // Every problem listed is shown: the line below says how many more there are.
        let fit = &Fit {
            max_rows: TABLE_PROBLEMS,
            ..*fit
        };
        let mut kept = Kept::default();
        kept.add(&problems, fit);
        let mut table = Vec::new();
        write_fitted(&mut table, &problems.schema(), &kept, fit)?;
        text.push_str(&format!(
            "\nProblems: {total}\n{}",
            String::from_utf8_lossy(&table)
        ));
        if total > TABLE_PROBLEMS {
            text.push_str(&format!(
                "... and {} more: --format csv or --format json lists every one\n",
                total - TABLE_PROBLEMS
            ));
        }
    }
    Ok(text)
}

fn table_text(v: &Verification) -> anyhow::Result<String> {
    let problems = rows_batch(
        v,
        Rows::Problems {
            limit: TABLE_PROBLEMS,
        },
    )?;
    let total = problem_count(v);
    let mut text = String::new();
    if total > 0 {
        text.push_str(&format!("Problems: {total}\n"));
        text.push_str(&format!("{}\n", pretty_format_batches(&[problems])?));
        if total > TABLE_PROBLEMS {
            text.push_str(&format!(
                "... and {} more: --format csv or --format json lists every one\n",
                total - TABLE_PROBLEMS
            ));
        }
        text.push('\n');
    }
    text.push_str(&summary_text(v));
    Ok(text)
}

fn problem_count(v: &Verification) -> usize {
    let j = &v.judgement;
    j.digests
        .iter()
        .filter(|d| d.status != DigestStatus::Valid)
        .count()
        + j.log_files
            .iter()
            .filter(|l| !matches!(l.status, LogStatus::Valid | LogStatus::Pending))
            .count()
        + j.gaps.len()
}

/// Which rows [`rows_batch`] makes.
#[derive(Clone, Copy)]
enum Rows {
    /// Every digest, log file and gap.
    All,
    /// Those that are not valid, and gaps, the first `limit`.
    Problems { limit: usize },
}

/// One row per digest, log file and gap: kind, file, status, digest_file, reason.
fn rows_batch(v: &Verification, which: Rows) -> anyhow::Result<RecordBatch> {
    let (everything, limit) = match which {
        Rows::All => (true, usize::MAX),
        Rows::Problems { limit } => (false, limit),
    };
    let j = &v.judgement;
    let mut rows: Vec<[Option<String>; 5]> = Vec::new();
    for d in j
        .digests
        .iter()
        .filter(|d| everything || d.status != DigestStatus::Valid)
    {
        rows.push([
            Some("digest".into()),
            Some(d.digest_file.clone()),
            Some(d.status.as_str().into()),
            None,
            d.reason.clone(),
        ]);
    }
    for l in j
        .log_files
        .iter()
        .filter(|l| everything || !matches!(l.status, LogStatus::Valid | LogStatus::Pending))
    {
        rows.push([
            Some("log_file".into()),
            Some(l.log_file.clone()),
            Some(l.status.as_str().into()),
            l.digest_file.clone(),
            l.reason.clone(),
        ]);
    }
    for g in &j.gaps {
        let mut reason = format!("{} to {}, {} hour(s) not covered", g.from, g.to, g.hours);
        if !g.explained_by.is_empty() {
            reason.push_str(&format!("; trail events: {}", g.explained_by.join(", ")));
        }
        rows.push([
            Some("gap".into()),
            Some(format!("{} {} {}", g.trail, g.account, g.region)),
            Some("gap".into()),
            None,
            Some(reason),
        ]);
    }
    rows.truncate(limit);
    let names = ["kind", "file", "status", "digest_file", "reason"];
    let schema = Arc::new(Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let columns = (0..names.len())
        .map(|i| {
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r[i].as_deref()))) as Arc<dyn Array>
        })
        .collect();
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// The JSON document of `--format json`.
fn json_report(v: &Verification) -> Value {
    let j = &v.judgement;
    json!({
        "verified": v.is_verified(),
        "hash_chain_consistent": v.only_signatures_unchecked() || v.is_verified(),
        "anchored": v.judgement.anchored,
        "signatures": v.signatures.describe(),
        "range": j.span.map(|(from, to)| json!({
            "from": format_digest_time(from),
            "to": format_digest_time(to),
        })),
        "summary": {
            "digests": v.digest_counts(),
            "log_files": v.log_counts(),
            "gaps": j.gaps.len(),
            "gap_hours": v.gap_hours(),
            "hashed_bytes": v.hashed_bytes,
            "errors": v.errors.len(),
        },
        "digests": j.digests,
        "log_files": j.log_files,
        "gaps": j.gaps,
        "errors": v.errors.iter().map(|e| json!({
            "file": e.log_file,
            "stage": e.stage.as_str(),
            "message": e.message,
        })).collect::<Vec<_>>(),
    })
}
