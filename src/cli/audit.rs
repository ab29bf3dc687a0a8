//! `trailmap audit`: findings, per-rule summary and coverage, as a table, JSON or CSV.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use datafusion::arrow::util::pretty::pretty_format_batches;

use super::Outcome;
use super::args::ReadArgs;
use super::output::{self, Format};
use super::progress::Progress;
use super::query::FitArgs;
use super::terminal::{Fit, Kept, wrap, write_fitted};
use trailmap::audit::{self, AuditReport, format_time, policy::Policy};

/// Output format of an audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// Violations, rule summary and coverage as text tables.
    Table,
    /// The whole report as one JSON document (its shape: docs/audit.md).
    Json,
    /// One CSV row per violation; the summary goes to stderr.
    Csv,
}

/// Options of `trailmap audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub source: ReadArgs,
    /// The residency policy (TOML, one [[rule]] per requirement; see queries/policies/).
    #[arg(short, long, value_name = "FILE.toml")]
    pub policy: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Also require the logs to be shown unaltered: check them against CloudTrail's digest
    /// chain (as `trailmap verify` does). Every log file the audit reads must be `valid`; any
    /// that is not (modified, pending, unsigned, named by no digest, ...), any digest in range
    /// that does not verify, or any hour no valid digest covers, makes the audit incomplete
    /// (exit 2). A local copy needs --signatures (or --signatures-from) and --to.
    #[arg(long)]
    pub verify: bool,
    #[command(flatten)]
    pub fit: FitArgs,
}

/// One line saying what the audit concluded.
fn verdict(report: &AuditReport) -> String {
    let c = &report.coverage;
    let findings = || {
        let rules = report
            .rules
            .iter()
            .filter(|r| r.violations + r.unverifiable > 0)
            .count();
        format!(
            "{} violation(s) and {} unverifiable call(s) under {rules} rule(s)",
            report.violation_count(),
            report.unverifiable_count()
        )
    };
    if !report.complete {
        let mut missing = Vec::new();
        if !c.load_errors.is_empty() {
            missing.push(format!("{} file(s) could not be read", c.load_errors.len()));
        }
        if let Some(integrity) = c.integrity.as_ref().filter(|i| !i.verified) {
            let mut text = format!(
                "the logs cannot be shown unaltered: {}",
                integrity.headline()
            );
            if integrity.gap_hours > 0.0 {
                text.push_str(&format!(
                    " (the chain must cover --to plus the delivery margin, {}, since files delivered that late are read: a recent range stays incomplete until then, or narrow --delivery-margin)",
                    c.delivery_margin
                ));
            }
            missing.push(text);
        }
        if let Some(read) = c.integrity_of_read.as_ref().filter(|r| !r.all_valid()) {
            let mut text = format!(
                "log files the audit read are not all shown unaltered: {}",
                read.describe_not_valid()
            );
            if read.files.contains_key("pending") {
                text.push_str(" (pending files were delivered after the newest digest: audit up to an earlier --to to leave them out, or wait for their digest)");
            }
            missing.push(text);
        }
        if !report.blind_spots.is_empty() {
            let surfaces: Vec<&str> = report.blind_spots.iter().map(|b| b.surface).collect();
            missing.push(format!(
                "the trail may not record every call on {} (see Blind spots)",
                surfaces.join(", ")
            ));
        }
        if c.events_left_out_for_bad_time > 0 {
            missing.push(format!(
                "{} record(s) have an eventTime that does not parse, so --from/--to cannot place them",
                c.events_left_out_for_bad_time
            ));
        }
        format!(
            "INCOMPLETE: {}; the audit covers only the {} file(s) read and cannot say the archive is compliant ({})",
            missing.join(" and "),
            c.files_read,
            findings()
        )
    } else if report.violations.is_empty() {
        let left_out: u64 = report
            .rules
            .iter()
            .flat_map(|r| r.left_out_by_surfaces.values())
            .sum();
        let not_judged = if left_out > 0 {
            format!("; {left_out} call(s) on surfaces the rules leave out were not judged")
        } else {
            String::new()
        };
        format!(
            "COMPLIANT: no violations and no unverifiable calls in {} invocations ({} files read){not_judged}",
            c.invocations, c.files_read
        )
    } else {
        format!("NOT COMPLIANT: {}", findings())
    }
}

fn coverage_text(report: &AuditReport) -> String {
    let c = &report.coverage;
    let span = match (c.first_event, c.last_event) {
        (Some(first), Some(last)) => format!("{} to {}", format_time(first), format_time(last)),
        _ => "no events".to_owned(),
    };
    let mut text = format!(
        "Coverage: {} of {} listed file(s) read, {} failed; {} events, {} invocations; {span}\n",
        c.files_read, c.files_listed, c.files_failed, c.events, c.invocations
    );
    text.push_str(&format!(
        "  delivery margin {}; largest delivery lag seen {}\n",
        c.delivery_margin,
        c.max_delivery_lag.as_deref().unwrap_or("none")
    ));
    if c.delivery_lag_warning {
        text.push_str(
            "  WARNING: the largest lag is more than half the margin; files delivered later may have been pruned by time: widen --delivery-margin\n",
        );
    }
    if let Some(integrity) = &c.integrity {
        text.push_str(&format!("  integrity: {}\n", integrity.headline()));
    }
    if let Some(read) = &c.integrity_of_read {
        let by_status = |counts: Vec<String>| counts.join(", ");
        text.push_str(&format!(
            "  integrity of what the audit read: files {}; events {}\n",
            by_status(read.files.iter().map(|(s, n)| format!("{n} {s}")).collect()),
            by_status(
                read.events
                    .iter()
                    .map(|(s, n)| format!("{n} {s}"))
                    .collect()
            ),
        ));
    }
    if c.bad_event_times > 0 {
        text.push_str(&format!(
            "  {} record(s) with an eventTime that does not parse ({} left out by --from/--to)\n",
            c.bad_event_times, c.events_left_out_for_bad_time
        ));
    }
    for u in &c.unknown_bedrock_events {
        text.push_str(&format!(
            "  not judged: {} {} event(s) on {} name a model, but trailmap does not know that event name as inference\n",
            u.events, u.event_name, u.event_source
        ));
    }
    for r in report
        .rules
        .iter()
        .filter(|r| r.status == "nothing in scope")
    {
        text.push_str(&format!(
            "  rule {}: nothing in scope, so it was not tested\n",
            r.rule
        ));
    }
    for r in report
        .rules
        .iter()
        .filter(|r| !r.left_out_by_surfaces.is_empty())
    {
        let counts: Vec<String> = r
            .left_out_by_surfaces
            .iter()
            .map(|(surface, n)| format!("{n} {surface}"))
            .collect();
        text.push_str(&format!(
            "  rule {}: not judged: call(s) on surfaces its `surfaces` does not list: {}\n",
            r.rule,
            counts.join(", ")
        ));
    }
    for e in &c.load_errors {
        text.push_str(&format!(
            "  not read: {} ({}): {}\n",
            e.log_file, e.stage, e.message
        ));
    }
    text
}

/// Lines of blind spots shown; the rest are in `--format json` and `trail_coverage`.
const BLIND_SPOT_LINES: usize = 6;

/// The blind spots, and what to do about them, in one screen.
fn blind_spots_text(report: &AuditReport) -> String {
    if report.blind_spots.is_empty() {
        return String::new();
    }
    let mut text =
        "Blind spots: calls on these surfaces may be missing from the archive.\n".to_owned();
    let lines = trailmap::coverage::explain(report.blind_spots.iter().flat_map(|b| &b.rows));
    for line in lines.iter().take(BLIND_SPOT_LINES) {
        text.push_str(&format!("  {line}\n"));
    }
    if lines.len() > BLIND_SPOT_LINES {
        text.push_str(&format!(
            "  {} more: --format json, or query trail_coverage\n",
            lines.len() - BLIND_SPOT_LINES
        ));
    }
    for rule in report.rules.iter().filter(|r| !r.blind_spots.is_empty()) {
        text.push_str(&format!(
            "  rule {} covers {}\n",
            rule.rule,
            rule.blind_spots.join(", ")
        ));
    }
    text.push_str(
        "  Data events (bedrock-mantle, Claude Platform, knowledge bases, agents, flows, async and bidirectional calls)\n  \
         are recorded only when the trail's advanced event selectors select their resource type; most trails record\n  \
         management events only. Make the recording known: read the logs as trail:NAME or name the trail with --trail\n  \
         NAME: its CreateTrail and PutEventSelectors events count, and today's selectors (GetEventSelectors for logs in\n  \
         S3, --event-selectors FILE otherwise) for an archive read up to today. Narrow a rule with\n  \
         surfaces = [\"runtime\", \"batch\"], or vouch for a surface with --assume-recorded SURFACE (recorded as assumed).\n",
    );
    text
}

fn table_text(report: &AuditReport) -> anyhow::Result<String> {
    let mut text = String::new();
    if report.violations.is_empty() {
        text.push_str("Findings: none\n\n");
    } else {
        text.push_str(&format!(
            "Findings: {} violation(s), {} unverifiable\n",
            report.violation_count(),
            report.unverifiable_count()
        ));
        text.push_str(&format!(
            "{}\n\n",
            pretty_format_batches(&[report.violations_batch()?])?
        ));
    }
    text.push_str(&format!(
        "Rules:\n{}\n\n",
        pretty_format_batches(&[report.rules_batch()?])?
    ));
    text.push_str(&coverage_text(report));
    text.push_str(&blind_spots_text(report));
    text.push_str(&format!("Result: {}\n", verdict(report)));
    Ok(text)
}

/// Examples of each group of findings a terminal shows.
const EXAMPLES_PER_GROUP: usize = 3;

/// The report for a terminal, read top-down: the result, the rules, the coverage, then the
/// findings grouped by rule and requirement with a few examples each (log files relative to
/// the sources given), tables fitted by `fit`.
fn terminal_text(report: &AuditReport, fit: &Fit, sources: &[String]) -> anyhow::Result<String> {
    let result = wrap(&format!("Result: {}", verdict(report)), fit);
    let mut text = format!("{}\n\n", paint_result(result.trim_end(), report));
    let rules = report.rules_batch()?;
    let mut kept = Kept::default();
    kept.add(&rules, fit);
    let mut table = Vec::new();
    write_fitted(&mut table, &rules.schema(), &kept, fit)?;
    text.push_str(&format!("Rules:\n{}\n", String::from_utf8_lossy(&table)));
    text.push_str(&wrap(&coverage_text(report), fit));
    text.push_str(&wrap(&blind_spots_text(report), fit));
    if report.violations.is_empty() {
        text.push_str("\nFindings: none\n");
        return Ok(text);
    }
    text.push_str(&format!(
        "\nFindings: {} violation(s), {} unverifiable, by rule and requirement:\n",
        report.violation_count(),
        report.unverifiable_count()
    ));
    let mut groups: Vec<(&str, &str, Vec<&audit::Violation>)> = Vec::new();
    for v in &report.violations {
        match groups
            .iter_mut()
            .find(|(rule, requirement, _)| *rule == v.rule && *requirement == v.requirement)
        {
            Some((_, _, members)) => members.push(v),
            None => groups.push((&v.rule, &v.requirement, vec![v])),
        }
    }
    let mut left_out = 0;
    for (rule, requirement, members) in &groups {
        text.push_str(&format!("\n  {rule}: {requirement}: {}\n", members.len()));
        for v in members.iter().take(EXAMPLES_PER_GROUP) {
            let time = v.event_time.map(format_time).unwrap_or_default();
            let file = v
                .log_file
                .as_deref()
                .map(|f| relative(f, sources))
                .unwrap_or_default();
            let line = format!(
                "    {time} {} {} -> {} {}: {} ({file})",
                v.account_id.as_deref().unwrap_or("-"),
                v.aws_region.as_deref().unwrap_or("-"),
                v.served_region.as_deref().unwrap_or("unknown"),
                v.model_id.as_deref().unwrap_or("-"),
                v.reason,
            );
            text.push_str(&cut(&line, fit));
            text.push('\n');
        }
        left_out += members.len().saturating_sub(EXAMPLES_PER_GROUP);
    }
    if left_out > 0 {
        text.push_str(&format!(
            "\n{left_out} more: --format csv (or json) lists every finding\n"
        ));
    }
    Ok(text)
}

/// `line` cut to the terminal's width (whole with `--wide`).
fn cut(line: &str, fit: &Fit) -> String {
    if fit.wide || line.chars().count() <= fit.max_width {
        return line.to_owned();
    }
    let kept: String = line.chars().take(fit.max_width.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// `log_file` relative to the source it is under, if one is.
fn relative(log_file: &str, sources: &[String]) -> String {
    sources
        .iter()
        .filter_map(|s| log_file.strip_prefix(s.trim_end_matches('/')))
        // At a path boundary: `logs` does not hold `logs-old/...`.
        .filter_map(|rest| rest.strip_prefix('/'))
        .map(str::to_owned)
        .next()
        .unwrap_or_else(|| log_file.to_owned())
}

/// The result line in colour (green when compliant, red otherwise), unless `NO_COLOR` is set.
fn paint_result(line: &str, report: &AuditReport) -> String {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        return line.to_owned();
    }
    let colour = match report.complete && report.violations.is_empty() {
        true => "32",
        false => "31",
    };
    format!("\x1b[1;{colour}m{line}\x1b[0m")
}

/// Runs `trailmap audit`.
pub async fn run(args: AuditArgs, quiet: bool) -> anyhow::Result<Outcome> {
    let policy = Policy::load(&args.policy)?;
    // With --verify each file's text is hashed as it is decoded: the bytes judged are the
    // bytes the digest names.
    let session = Arc::new(args.source.open_hashing(args.verify).await?);
    let progress = Progress::start(&session, quiet);
    let mut report = audit::run(&session, &policy).await?;
    if args.verify {
        let (verification, status_of) = session.integrity_as_read().await?;
        report.require_integrity(&verification, &status_of);
    }
    progress.finish(&session);
    let target = output::target_name(args.output.as_deref());
    match args.format {
        AuditFormat::Table => {
            let text = match (args.output.is_none(), args.fit.for_stdout()) {
                (true, Some(fit)) => terminal_text(&report, &fit, &args.source.source.sources)?,
                _ => table_text(&report)?,
            };
            output::write_text(&text, args.output.as_deref())?
        }
        AuditFormat::Json => output::write_json(&report, args.output.as_deref())?,
        AuditFormat::Csv => {
            let sink = output::open_sink(Format::Csv, args.output.as_deref())?;
            output::write_batch(&report.violations_batch()?, Format::Csv, sink, &target)?;
        }
    }
    if args.format != AuditFormat::Table || args.output.is_some() {
        eprint!("{}", coverage_text(&report));
        eprint!("{}", blind_spots_text(&report));
        eprintln!("trailmap: {}", verdict(&report));
    }
    Ok(if !report.complete {
        Outcome::Incomplete
    } else if report.violations.is_empty() {
        Outcome::Success
    } else {
        Outcome::Violations
    })
}
