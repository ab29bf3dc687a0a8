//! `trailmap audit`: judge every invocation against a residency policy in one pass.
//!
//! The policy ([`policy`]) compiles to SQL ([`sql`]); one projection over `events` carries a
//! scope flag and breach flags per rule, and [`run`] folds the stream into findings, per-rule
//! summaries and the coverage of what was read. Failed calls (`error_code` set) ran nowhere: they
//! are counted as "attempted", and judged only by rules with `include_failed = true`.
//!
//! Every judged call ends in one of three outcomes: compliant, a violation, or `unverifiable`
//! (the log does not establish what the rule needs: the served Region, the model, the routing
//! scope, a value `violation_when` reads). Unverifiable calls are findings like violations.

pub mod policy;
pub mod sql;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimestampMicrosecondType};
use datafusion::common::tree_node::TreeNode;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::{Expr, col};
use datafusion::prelude::DataFrame;
use futures::StreamExt;
use serde::Serialize;

use crate::bedrock;
use crate::coverage::{CoverageRow, Range, Status, TrailId};
use crate::error::{Error, LoadError, Result};
pub use crate::schema::format_time;
use crate::schema::{serialize_time, timestamp_type};
use crate::session::TrailSession;
use crate::table::archive::human_duration;
use crate::verify::{IntegritySummary, UNJUDGED, Verification};
use policy::{Policy, PolicyError, Rule};

/// `requirement` of a finding the log cannot settle.
pub const UNVERIFIABLE: &str = "unverifiable";

/// One invocation that breaks a rule, or that the log cannot show to keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The rule's name.
    pub rule: String,
    /// Which requirements it breaks (comma-separated keys, e.g. `allowed_geographies`), or
    /// [`UNVERIFIABLE`] when the log does not establish whether it keeps the rule.
    pub requirement: String,
    /// Why, in words: where it ran, or what the log is missing.
    pub reason: String,
    /// CloudTrail eventID.
    pub event_id: Option<String>,
    /// eventTime, RFC 3339.
    #[serde(serialize_with = "serialize_time")]
    pub event_time: Option<i64>,
    /// recipientAccountId.
    pub account_id: Option<String>,
    /// The caller.
    pub principal_arn: Option<String>,
    /// The source Region.
    pub aws_region: Option<String>,
    /// Where it ran (null: the log does not say).
    pub served_region: Option<String>,
    /// As sent.
    pub model_id: Option<String>,
    /// The evidence: the log file holding the record.
    pub log_file: Option<String>,
    /// With `--verify`: the integrity status of that log file as the audit read it (`valid`,
    /// `modified`, `pending`, ..., `unjudged`, `read-differs`: see
    /// [`crate::verify::status_as_read`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrity: Option<String>,
}

impl Violation {
    /// Whether this finding is an unverifiable call rather than a proven violation.
    pub fn is_unverifiable(&self) -> bool {
        self.requirement == UNVERIFIABLE
    }
}

/// What one rule found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSummary {
    /// The rule's name.
    pub rule: String,
    /// Its description.
    pub description: Option<String>,
    /// `violations`, `unverifiable`, `compliant`, or `nothing in scope` (no invocation of the
    /// archive falls under the rule: it was not tested).
    pub status: String,
    /// Successful invocations in scope.
    pub invocations_in_scope: u64,
    /// Failed invocations in scope ("attempted"; judged only with `include_failed`).
    pub attempted: u64,
    /// Invocations breaking the rule.
    pub violations: u64,
    /// Invocations the log cannot show to keep the rule (or to be out of its scope).
    pub unverifiable: u64,
    /// Earliest finding.
    #[serde(serialize_with = "serialize_time")]
    pub first_seen: Option<i64>,
    /// Latest finding.
    #[serde(serialize_with = "serialize_time")]
    pub last_seen: Option<i64>,
    /// Surfaces in the rule's scope that the trail does not record in full over the range
    /// (or whose recording is unknown): calls on them may be missing from the archive.
    pub blind_spots: Vec<&'static str>,
    /// Invocations the rule's `surfaces` key leaves out (in its scope but for their surface,
    /// or maybe in it), by surface: calls the rule does not judge.
    pub left_out_by_surfaces: BTreeMap<String, u64>,
}

impl RuleSummary {
    fn new(rule: &Rule) -> Self {
        RuleSummary {
            rule: rule.name.clone(),
            description: rule.description.clone(),
            status: String::new(),
            invocations_in_scope: 0,
            attempted: 0,
            violations: 0,
            unverifiable: 0,
            first_seen: None,
            last_seen: None,
            blind_spots: Vec::new(),
            left_out_by_surfaces: BTreeMap::new(),
        }
    }

    fn settle_status(&mut self) {
        self.status = if self.violations > 0 {
            "violations"
        } else if self.unverifiable > 0 {
            UNVERIFIABLE
        } else if !self.blind_spots.is_empty() {
            "incomplete"
        } else if self.invocations_in_scope == 0 && self.attempted == 0 {
            "nothing in scope"
        } else {
            "compliant"
        }
        .to_owned();
    }
}

/// Bedrock events that name a model under an event name trailmap does not know: maybe a new
/// inference API, not judged, counted so it cannot go unseen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownBedrockEvent {
    /// eventSource.
    pub event_source: String,
    /// eventName.
    pub event_name: String,
    /// How many.
    pub events: u64,
}

/// What the audit read, so a reader knows what "compliant" covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AuditCoverage {
    /// Files listed after pruning by name and `--from/--to/--account/--source-region`.
    pub files_listed: usize,
    /// Files read in full.
    pub files_read: usize,
    /// Files that could not be read.
    pub files_failed: usize,
    /// Records within the filters.
    pub events: u64,
    /// Bedrock invocations among them.
    pub invocations: u64,
    /// Earliest event time read.
    #[serde(serialize_with = "serialize_time")]
    pub first_event: Option<i64>,
    /// Latest event time read.
    #[serde(serialize_with = "serialize_time")]
    pub last_event: Option<i64>,
    /// Records whose `eventTime` is missing or does not parse.
    pub bad_event_times: usize,
    /// Of those, records `--from/--to` left out (they cannot be placed in time, so they may
    /// be in range): the audit is then incomplete.
    pub events_left_out_for_bad_time: usize,
    /// `--delivery-margin`, e.g. `1d 0h`.
    pub delivery_margin: String,
    /// The largest delivery lag seen (a file's delivery minus its oldest event).
    pub max_delivery_lag: Option<String>,
    /// The largest lag is more than half the margin: files delivered later may be missing.
    pub delivery_lag_warning: bool,
    /// Bedrock events with a model and an event name trailmap does not know.
    pub unknown_bedrock_events: Vec<UnknownBedrockEvent>,
    /// The files that could not be read.
    pub load_errors: Vec<LoadErrorRow>,
    /// The digest chain's verdict, with `--verify`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrity: Option<IntegritySummary>,
    /// With `--verify`: the log files the audit read, and their events, by integrity status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrity_of_read: Option<ReadIntegrity>,
    /// The trails that wrote the sources, as named (`trail:NAME`, `--trail`,
    /// `--event-selectors`); empty when none is.
    pub trails: Vec<String>,
    /// Surfaces `--assume-recorded` vouches for.
    pub assumed_recorded: Vec<String>,
    /// What the trails record, per trail, surface and period (the `trail_coverage` rows).
    pub trail_coverage: Vec<CoverageRow>,
}

/// A surface some rule covers that the trail may not record in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlindSpot {
    /// The surface id.
    pub surface: &'static str,
    /// Its worst status over the range and the trails.
    pub status: Status,
    /// Its `trail_coverage` rows that are not `recorded`.
    pub rows: Vec<CoverageRow>,
    /// The rules whose scope includes it.
    pub rules: Vec<String>,
}

/// The log files an audit read, and the events in them it judged, by integrity status.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReadIntegrity {
    /// Log files read, by status.
    pub files: BTreeMap<String, usize>,
    /// Events within the filters, by the status of their log file.
    pub events: BTreeMap<String, u64>,
}

impl ReadIntegrity {
    /// Whether every file read is `valid`.
    pub fn all_valid(&self) -> bool {
        self.files.keys().all(|status| status == "valid")
    }

    /// The files read that are not `valid`, by status, in words (`3 pending, 1 unjudged`).
    pub fn describe_not_valid(&self) -> String {
        self.files
            .iter()
            .filter(|(status, _)| *status != "valid")
            .map(|(status, n)| {
                let events = self.events.get(status).copied().unwrap_or(0);
                format!("{n} {status} ({events} events)")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A load error in the audit output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadErrorRow {
    /// The file.
    pub log_file: String,
    /// fetch, gunzip, json or schema.
    pub stage: String,
    /// What was wrong.
    pub message: String,
    /// Index of the first record that could not be decoded, when known.
    pub record_index: Option<u64>,
}

impl From<LoadError> for LoadErrorRow {
    fn from(e: LoadError) -> Self {
        LoadErrorRow {
            log_file: e.log_file,
            stage: e.stage.as_str().to_owned(),
            message: e.message,
            record_index: e.record_index,
        }
    }
}

/// The audit's result. JSON output is this structure serialized.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    /// No findings (violations or unverifiable calls) and complete input.
    pub compliant: bool,
    /// Every listed file was read, and no record was left out for a time that does not parse
    /// (with `--verify`: and every log file read is shown unaltered).
    pub complete: bool,
    /// Why it is not complete, one code each: `load-errors`, `unplaceable-event-times`,
    /// `integrity-not-verified` (with `--verify`: a problem of the chain, a gap, signatures not
    /// checked or a tail not anchored), `files-read-not-valid` (with `--verify`: a log file read
    /// that is not `valid`), `surfaces-not-recorded` (a rule covers a surface the trail does
    /// not record in full, or whose recording is unknown: see `blind_spots`).
    pub incomplete_reasons: Vec<&'static str>,
    /// Surfaces some rule covers that the trail may not record in full.
    pub blind_spots: Vec<BlindSpot>,
    /// Every finding, by rule (policy order), then time: violations, and unverifiable calls
    /// (`requirement = "unverifiable"`).
    pub violations: Vec<Violation>,
    /// One summary per rule, in policy order.
    pub rules: Vec<RuleSummary>,
    /// What was read.
    pub coverage: AuditCoverage,
    /// Events judged, by log file (for [`AuditReport::require_integrity`]).
    #[serde(skip)]
    pub events_by_file: HashMap<String, u64>,
}

impl AuditReport {
    /// Requires the logs to be shown unaltered (`--verify`): unless every log file and digest
    /// in range verified, every hour is covered, and every log file the audit read is `valid`
    /// (`status_of`: each file read, with its status as read), the audit is incomplete. Each
    /// finding gets its log file's status.
    pub fn require_integrity(
        &mut self,
        verification: &Verification,
        status_of: &BTreeMap<String, &'static str>,
    ) {
        let mut read = ReadIntegrity::default();
        for (file, status) in status_of {
            *read.files.entry((*status).to_owned()).or_default() += 1;
            let events = self.events_by_file.get(file).copied().unwrap_or(0);
            *read.events.entry((*status).to_owned()).or_default() += events;
        }
        for finding in &mut self.violations {
            let status = finding
                .log_file
                .as_deref()
                .and_then(|file| status_of.get(file).copied())
                .unwrap_or(UNJUDGED);
            finding.integrity = Some(status.to_owned());
        }
        let integrity = verification.summary();
        if !integrity.verified {
            self.incomplete_reasons.push("integrity-not-verified");
        }
        if !read.all_valid() {
            self.incomplete_reasons.push("files-read-not-valid");
        }
        if !self.incomplete_reasons.is_empty() {
            self.complete = false;
            self.compliant = false;
        }
        self.coverage.integrity = Some(integrity);
        self.coverage.integrity_of_read = Some(read);
    }

    /// Proven violations.
    pub fn violation_count(&self) -> usize {
        self.violations
            .iter()
            .filter(|v| !v.is_unverifiable())
            .count()
    }

    /// Unverifiable calls.
    pub fn unverifiable_count(&self) -> usize {
        self.violations
            .iter()
            .filter(|v| v.is_unverifiable())
            .count()
    }
}

/// The per-event columns the audit reads, besides the flags, in [`Evidence`] order.
const EVIDENCE: &[&str] = &[
    "event_id",
    "account_id",
    "principal_arn",
    "aws_region",
    "served_region",
    "served_geography",
    "model_id",
    "model",
    "routing_scope",
    "log_file",
    "event_source",
    "event_name",
    "surface",
];

/// The caller columns a finding of `policy` is explained with: `person` when a rule is scoped
/// by person, the session tags and access key when one is scoped by session tags (only then,
/// as resolving session tags needs every session of the archive).
fn caller_evidence(policy: &Policy) -> Vec<&'static str> {
    let mut columns = Vec::new();
    if policy
        .rules
        .iter()
        .any(|r| !r.persons.is_empty() || !r.person_sources.is_empty())
    {
        columns.extend(["person", "person_source"]);
    }
    if policy.rules.iter().any(|r| !r.session_tags.is_empty()) {
        columns.extend(["session_tags", "access_key_id"]);
    }
    columns
}

/// Every rule's `violation_when`, by rule: parsed as exactly one expression over `invocations`
/// columns (a `--` or a `)` cannot reach into the audit's own query), and checked to be a
/// boolean (planning only, no data read).
fn violation_exprs(invocations: &DataFrame, policy: &Policy) -> Result<Vec<Option<Expr>>> {
    policy
        .rules
        .iter()
        .map(|rule| {
            let Some(text) = &rule.violation_when else {
                return Ok(None);
            };
            let reject = |reason: String| {
                Error::Policy(PolicyError::Rule {
                    rule: rule.name.clone(),
                    reason,
                })
            };
            let invalid = |e: DataFusionError| {
                reject(format!(
                    "violation_when is not a valid SQL expression over invocations columns: {}",
                    Error::from(e)
                ))
            };
            let expr = invocations.parse_sql_expr(text).map_err(invalid)?;
            if expr.exists(|e| {
                Ok(matches!(
                    e,
                    Expr::AggregateFunction(_) | Expr::WindowFunction(_)
                ))
            })? {
                return Err(reject(
                    "violation_when must judge one call: aggregate and window functions are not allowed"
                        .into(),
                ));
            }
            let typed = invocations
                .clone()
                .select(vec![expr.clone().alias("violation")])
                .map_err(invalid)?;
            let data_type = typed.schema().field(0).data_type();
            if data_type != &DataType::Boolean {
                return Err(reject(format!(
                    "violation_when must be a boolean expression, it gives {data_type}"
                )));
            }
            // Checked over `invocations`, evaluated over `events`: drop the table qualifier.
            Ok(Some(unnormalize_col(expr)))
        })
        .collect()
}

/// The single-pass projection over `events`: evidence columns, `failed`, and per rule `scope_i`
/// plus `breach_i_j`, each true, false or NULL (unknown).
fn audit_frame(
    events: DataFrame,
    policy: &Policy,
    violations: Vec<Option<Expr>>,
) -> Result<DataFrame> {
    let compiled = |sql: String| -> Result<Expr> {
        events
            .parse_sql_expr(&sql)
            .map_err(|e| Error::Internal(format!("audit expression {sql:?}: {e}")))
    };
    let mut columns: Vec<Expr> = ["event_time", "is_invocation"]
        .iter()
        .chain(EVIDENCE)
        .copied()
        .chain(caller_evidence(policy))
        .map(col)
        .collect();
    columns.push(col("error_code").is_not_null().alias("failed"));
    for (i, (rule, violation)) in policy.rules.iter().zip(violations).enumerate() {
        let scope = col("is_invocation").and(compiled(sql::scope(rule))?);
        columns.push(scope.alias(format!("scope_{i}")));
        if let Some(surfaces) = sql::surfaces_match(rule) {
            let left_out = format!(
                "is_invocation AND ({}) IS NOT FALSE AND NOT ({surfaces})",
                sql::scope_except_surfaces(rule)
            );
            columns.push(compiled(left_out)?.alias(format!("left_out_{i}")));
        }
        let breaches = sql::breaches(rule)
            .into_iter()
            .map(|(_, breach)| compiled(breach))
            .chain(violation.map(Ok));
        for (j, breach) in breaches.enumerate() {
            columns.push(breach?.alias(format!("breach_{i}_{j}")));
        }
    }
    Ok(events.select(columns)?)
}

/// What the filters were, for a message about finding nothing.
fn filter_description(session: &TrailSession) -> String {
    let f = session.filter();
    let mut parts = Vec::new();
    if let Some(from) = f.from {
        parts.push(format!("--from {}", from.to_rfc3339()));
    }
    if let Some(to) = f.to {
        parts.push(format!("--to {}", to.to_rfc3339()));
    }
    for a in &f.accounts {
        parts.push(format!("--account {a}"));
    }
    for r in &f.source_regions {
        parts.push(format!("--source-region {r}"));
    }
    if parts.is_empty() {
        "no filters".to_owned()
    } else {
        parts.join(" ")
    }
}

/// Runs the audit of `policy` over the session's archive. No file to read, or no event read,
/// is an error ([`Error::NoEvidence`]): nothing can be called compliant on no evidence.
pub async fn run(session: &TrailSession, policy: &Policy) -> Result<AuditReport> {
    let ctx = session.context();
    let violations = violation_exprs(&ctx.table("invocations").await?, policy)?;
    if session.coverage().files_listed == 0 && session.load_errors().is_empty() {
        return Err(Error::NoEvidence(format!(
            "no CloudTrail log file found in the sources with {}; check the source path or prefix and the filters",
            filter_description(session)
        )));
    }
    let frame = audit_frame(ctx.table("events").await?, policy, violations)?;
    let mut stream = frame.execute_stream().await?;
    let mut fold = Fold::new(policy);
    while let Some(batch) = stream.next().await {
        fold.add(&batch?)?;
    }
    let load_errors = session.load_errors();
    let files = session.coverage_collected().await?;
    if fold.events == 0 && load_errors.is_empty() {
        return Err(Error::NoEvidence(format!(
            "no event in the {} file(s) read matches {}; check the filters (--account, --source-region, --from/--to)",
            files.files_read,
            filter_description(session)
        )));
    }
    // A record left out by --from/--to because its time does not parse may be in range.
    let time_filtered = session.filter().from.is_some() || session.filter().to.is_some();
    let coverage = AuditCoverage {
        files_listed: files.files_listed,
        files_read: files.files_read,
        files_failed: files.files_failed,
        events: fold.events,
        invocations: fold.invocations,
        first_event: fold.first_event,
        last_event: fold.last_event,
        bad_event_times: files.bad_event_times,
        events_left_out_for_bad_time: if time_filtered {
            files.bad_event_times
        } else {
            0
        },
        delivery_margin: human_duration(files.delivery_margin_seconds),
        max_delivery_lag: files.max_delivery_lag_seconds.map(human_duration),
        delivery_lag_warning: files.lag_exceeds_half_margin(),
        unknown_bedrock_events: fold
            .unknown_events
            .into_iter()
            .map(|((event_source, event_name), events)| UnknownBedrockEvent {
                event_source,
                event_name,
                events,
            })
            .collect(),
        load_errors: load_errors.into_iter().map(LoadErrorRow::from).collect(),
        integrity: None,
        integrity_of_read: None,
        trails: Vec::new(),
        assumed_recorded: Vec::new(),
        trail_coverage: Vec::new(),
    };
    let mut violations = fold.violations;
    let order = |v: &Violation| policy.rules.iter().position(|r| r.name == v.rule);
    violations.sort_by(|a, b| {
        (order(a), a.event_time, &a.event_id).cmp(&(order(b), b.event_time, &b.event_id))
    });
    let mut rules = fold.rules;
    let mut coverage = coverage;
    let blind_spots = find_blind_spots(session, policy, &mut rules, &mut coverage).await?;
    rules.iter_mut().for_each(RuleSummary::settle_status);
    let mut incomplete_reasons = Vec::new();
    if !coverage.load_errors.is_empty() {
        incomplete_reasons.push("load-errors");
    }
    if coverage.events_left_out_for_bad_time > 0 {
        incomplete_reasons.push("unplaceable-event-times");
    }
    if !blind_spots.is_empty() {
        incomplete_reasons.push("surfaces-not-recorded");
    }
    let complete = incomplete_reasons.is_empty();
    Ok(AuditReport {
        compliant: complete && violations.is_empty(),
        complete,
        incomplete_reasons,
        blind_spots,
        violations,
        rules,
        coverage,
        events_by_file: fold.events_by_file,
    })
}

/// What the trails record over the audited range (`--from/--to`, else the events read), into
/// `coverage`; each rule's surfaces not recorded in full into its summary; and the blind spots
/// of the whole policy.
async fn find_blind_spots(
    session: &TrailSession,
    policy: &Policy,
    rules: &mut [RuleSummary],
    coverage: &mut AuditCoverage,
) -> Result<Vec<BlindSpot>> {
    let filter = session.filter();
    let range = Range::of_filter_or(filter, coverage.first_event, coverage.last_event);
    let rows = session.trail_coverage(range).await?;
    let knowledge = session.trail_knowledge().await?;
    coverage.trails = knowledge.trails.iter().map(TrailId::label).collect();
    coverage.assumed_recorded = knowledge.assumed.clone();
    let mut blind_spots = Vec::new();
    for recording in crate::coverage::by_surface(&rows) {
        if recording.status.is_covered() {
            continue;
        }
        let mut covering = Vec::new();
        for (rule, summary) in policy.rules.iter().zip(rules.iter_mut()) {
            if rule.surfaces_in_scope().contains(&recording.surface) {
                summary.blind_spots.push(recording.surface);
                covering.push(rule.name.clone());
            }
        }
        if !covering.is_empty() {
            blind_spots.push(BlindSpot {
                surface: recording.surface,
                status: recording.status,
                rows: recording.rows,
                rules: covering,
            });
        }
    }
    coverage.trail_coverage = rows;
    Ok(blind_spots)
}

/// One row's evidence columns.
struct Evidence {
    columns: Vec<(&'static str, StringArray)>,
}

impl Evidence {
    fn get(&self, name: &str, row: usize) -> Option<&str> {
        let (_, array) = self.columns.iter().find(|(c, _)| *c == name)?;
        array.is_valid(row).then(|| array.value(row))
    }

    fn owned(&self, name: &str, row: usize) -> Option<String> {
        self.get(name, row).map(str::to_owned)
    }
}

/// One invocation as one rule sees it: its scope flag and one outcome per requirement, each
/// true, false or unknown (`None`).
struct Judged<'e> {
    scope: Option<bool>,
    failed: bool,
    outcomes: Vec<Option<bool>>,
    evidence: &'e Evidence,
    row: usize,
    time: Option<i64>,
}

/// Running totals while the stream goes by.
struct Fold<'p> {
    policy: &'p Policy,
    requirement_names: Vec<Vec<&'static str>>,
    rules: Vec<RuleSummary>,
    violations: Vec<Violation>,
    unknown_events: BTreeMap<(String, String), u64>,
    events_by_file: HashMap<String, u64>,
    events: u64,
    invocations: u64,
    first_event: Option<i64>,
    last_event: Option<i64>,
}

/// A three-valued flag: `None` is SQL NULL (unknown).
fn flag(array: &BooleanArray, row: usize) -> Option<bool> {
    array.is_valid(row).then(|| array.value(row))
}

/// Whether the call is on a surface whose served Region its model id does not decide.
fn not_routed_by_model(e: &Evidence, row: usize) -> bool {
    crate::surfaces::by_id(e.get("surface", row).unwrap_or_default())
        .is_some_and(|s| s.served == crate::surfaces::Served::NotLogged)
}

/// Why the log cannot settle `requirement` for this call.
fn unknown_reason(requirement: &str, e: &Evidence, row: usize) -> String {
    let model_id = e.get("model_id", row);
    match requirement {
        "allowed_regions" | "allowed_geographies" => match e.get("served_region", row) {
            None => match crate::surfaces::by_id(e.get("surface", row).unwrap_or_default()) {
                Some(surface) if surface.outside_aws => format!(
                    "{requirement}: {} is operated outside AWS: inference may run outside any \
                     AWS Region, and the log names none",
                    surface.id
                ),
                Some(surface) if surface.served == crate::surfaces::Served::NotLogged => format!(
                    "{requirement}: the {} surface logs no served Region",
                    surface.id
                ),
                _ => format!(
                    "{requirement}: served Region not in the log (no additionalEventData.inferenceRegion) for {}",
                    model_id.map_or("a call without a model id".to_owned(), |m| format!(
                        "model id {m}"
                    ))
                ),
            },
            Some(region) => format!("{requirement}: no geography known for Region {region}"),
        },
        "denied_profile_scopes" => match model_id {
            None => format!("{requirement}: no model id in the record"),
            Some(_) if not_routed_by_model(e, row) => format!(
                "{requirement}: the {} surface is not routed by its model id, so its profile \
                 scope says nothing about where it ran",
                e.get("surface", row).unwrap_or("?")
            ),
            Some(m) => format!(
                "{requirement}: application profile {m} is not known (no CreateInferenceProfile event in the archive; pass --profiles)"
            ),
        },
        _ => {
            format!("{requirement}: evaluates to NULL for this call (a value it reads is missing)")
        }
    }
}

/// Why a call breaks `requirement`.
fn breach_reason(requirement: &str, rule: &Rule, e: &Evidence, row: usize) -> String {
    let served = e.get("served_region", row).unwrap_or("?");
    match requirement {
        "allowed_regions" => format!(
            "served in {served}, not in allowed_regions {:?}",
            rule.allowed_regions
        ),
        "allowed_geographies" => format!(
            "served in {served} ({}), not in allowed_geographies {:?}",
            e.get("served_geography", row).unwrap_or("?"),
            rule.allowed_geographies
        ),
        "denied_profile_scopes" => format!(
            "routed by a denied profile scope: {}",
            e.get("routing_scope", row)
                .or(e.get("model_id", row))
                .unwrap_or("?")
        ),
        _ => "violation_when is true".to_owned(),
    }
}

/// Why the log cannot tell whether `rule` applies to this call.
fn scope_reason(rule: &Rule, e: &Evidence, row: usize) -> String {
    let keyed = [
        (!rule.accounts.is_empty(), "accounts", "account_id"),
        (
            !rule.source_regions.is_empty(),
            "source_regions",
            "aws_region",
        ),
        (!rule.principals.is_empty(), "principals", "principal_arn"),
        (!rule.models.is_empty(), "models", "model"),
        (!rule.persons.is_empty(), "persons", "person"),
        (
            !rule.person_sources.is_empty(),
            "person_sources",
            "person_source",
        ),
        (
            !rule.session_tags.is_empty(),
            "session_tags",
            "session_tags",
        ),
        (
            !rule.profile_scopes.is_empty(),
            "profile_scopes",
            "routing_scope",
        ),
    ];
    let missing: Vec<String> = keyed
        .iter()
        .filter(|(used, _, column)| *used && e.get(column, row).is_none())
        .map(|(_, key, column)| format!("{key} ({column} unknown)"))
        .collect();
    format!(
        "cannot tell whether the rule applies: {}",
        if missing.is_empty() {
            "a scoped value is unknown".to_owned()
        } else {
            missing.join(", ")
        }
    )
}

impl<'p> Fold<'p> {
    fn new(policy: &'p Policy) -> Self {
        Fold {
            policy,
            requirement_names: policy.rules.iter().map(sql::requirement_names).collect(),
            rules: policy.rules.iter().map(RuleSummary::new).collect(),
            violations: Vec::new(),
            unknown_events: BTreeMap::new(),
            events_by_file: HashMap::new(),
            events: 0,
            invocations: 0,
            first_event: None,
            last_event: None,
        }
    }

    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| Error::Internal(format!("audit query lost column {name}")))
        };
        let booleans = |name: &str| -> Result<BooleanArray> {
            column(name)?
                .as_boolean_opt()
                .cloned()
                .ok_or_else(|| Error::Internal(format!("audit column {name} is not boolean")))
        };
        let times: TimestampMicrosecondArray = column("event_time")?
            .as_primitive_opt::<TimestampMicrosecondType>()
            .cloned()
            .ok_or_else(|| Error::Internal("event_time is not a timestamp".into()))?;
        let is_invocation = booleans("is_invocation")?;
        let failed = booleans("failed")?;
        let evidence = Evidence {
            columns: EVIDENCE
                .iter()
                .copied()
                .chain(caller_evidence(self.policy))
                .map(|c| {
                    let text = column(c)?
                        .as_string_opt::<i32>()
                        .cloned()
                        .ok_or_else(|| Error::Internal(format!("audit column {c} is not text")))?;
                    Ok((c, text))
                })
                .collect::<Result<_>>()?,
        };
        let mut scopes = Vec::new();
        let mut breaches = Vec::new();
        let mut left_out = Vec::new();
        for (i, names) in self.requirement_names.iter().enumerate() {
            scopes.push(booleans(&format!("scope_{i}"))?);
            left_out.push(
                batch
                    .column_by_name(&format!("left_out_{i}"))
                    .and_then(|c| c.as_boolean_opt().cloned()),
            );
            breaches.push(
                (0..names.len())
                    .map(|j| booleans(&format!("breach_{i}_{j}")))
                    .collect::<Result<Vec<_>>>()?,
            );
        }
        for row in 0..batch.num_rows() {
            self.events += 1;
            if let Some(file) = evidence.get("log_file", row) {
                match self.events_by_file.get_mut(file) {
                    Some(n) => *n += 1,
                    None => {
                        self.events_by_file.insert(file.to_owned(), 1);
                    }
                }
            }
            let time = times.is_valid(row).then(|| times.value(row));
            if let Some(t) = time {
                self.first_event = Some(self.first_event.map_or(t, |f| f.min(t)));
                self.last_event = Some(self.last_event.map_or(t, |l| l.max(t)));
            }
            if flag(&is_invocation, row) != Some(true) {
                self.count_unknown_event(&evidence, row);
                continue;
            }
            self.invocations += 1;
            let failed = flag(&failed, row) == Some(true);
            for (i, left) in left_out.iter().enumerate() {
                if left.as_ref().and_then(|l| flag(l, row)) == Some(true) {
                    let surface = evidence.get("surface", row).unwrap_or("unknown");
                    *self.rules[i]
                        .left_out_by_surfaces
                        .entry(surface.to_owned())
                        .or_default() += 1;
                }
            }
            for i in 0..self.policy.rules.len() {
                let call = Judged {
                    scope: flag(&scopes[i], row),
                    failed,
                    outcomes: breaches[i].iter().map(|b| flag(b, row)).collect(),
                    evidence: &evidence,
                    row,
                    time,
                };
                self.judge(i, &call);
            }
        }
        Ok(())
    }

    /// Counts a non-invocation Bedrock event that names a model under an unknown event name.
    fn count_unknown_event(&mut self, e: &Evidence, row: usize) {
        let (source, name) = (e.get("event_source", row), e.get("event_name", row));
        if bedrock::is_unknown_model_call(source, name, e.get("model_id", row).is_some()) {
            *self
                .unknown_events
                .entry((
                    source.unwrap_or_default().to_owned(),
                    name.unwrap_or_default().to_owned(),
                ))
                .or_default() += 1;
        }
    }

    /// Judges one invocation against rule `i`.
    fn judge(&mut self, i: usize, call: &Judged<'_>) {
        let Judged {
            scope,
            failed,
            ref outcomes,
            evidence: e,
            row,
            time,
        } = *call;
        let rule = &self.policy.rules[i];
        let summary = &mut self.rules[i];
        if scope == Some(false) {
            return;
        }
        if scope == Some(true) {
            if failed {
                summary.attempted += 1;
            } else {
                summary.invocations_in_scope += 1;
            }
        }
        if failed && !rule.include_failed {
            return;
        }
        let names = &self.requirement_names[i];
        let broken: Vec<&str> = names
            .iter()
            .zip(outcomes)
            .filter(|(_, o)| **o == Some(true))
            .map(|(n, _)| *n)
            .collect();
        let unknown: Vec<&str> = names
            .iter()
            .zip(outcomes)
            .filter(|(_, o)| o.is_none())
            .map(|(n, _)| *n)
            .collect();
        let (requirement, reason) = if scope.is_none() {
            (UNVERIFIABLE.to_owned(), scope_reason(rule, e, row))
        } else if !broken.is_empty() {
            let reasons: Vec<String> = broken
                .iter()
                .map(|r| breach_reason(r, rule, e, row))
                .collect();
            (broken.join(","), reasons.join("; "))
        } else if !unknown.is_empty() {
            let reasons: Vec<String> = unknown.iter().map(|r| unknown_reason(r, e, row)).collect();
            (UNVERIFIABLE.to_owned(), reasons.join("; "))
        } else {
            return;
        };
        if requirement == UNVERIFIABLE {
            summary.unverifiable += 1;
        } else {
            summary.violations += 1;
        }
        if let Some(t) = time {
            summary.first_seen = Some(summary.first_seen.map_or(t, |f| f.min(t)));
            summary.last_seen = Some(summary.last_seen.map_or(t, |l| l.max(t)));
        }
        self.violations.push(Violation {
            rule: rule.name.clone(),
            requirement,
            reason,
            event_id: e.owned("event_id", row),
            event_time: time,
            account_id: e.owned("account_id", row),
            principal_arn: e.owned("principal_arn", row),
            aws_region: e.owned("aws_region", row),
            served_region: e.owned("served_region", row),
            model_id: e.owned("model_id", row),
            log_file: e.owned("log_file", row),
            integrity: None,
        });
    }
}

impl AuditReport {
    /// The violations as an Arrow batch (for table and CSV output).
    pub fn violations_batch(&self) -> Result<RecordBatch> {
        let v = &self.violations;
        let strings = |f: fn(&Violation) -> Option<&str>| -> Arc<StringArray> {
            Arc::new(v.iter().map(f).collect())
        };
        let mut fields = vec![
            Field::new("rule", DataType::Utf8, false),
            Field::new("requirement", DataType::Utf8, false),
            Field::new("reason", DataType::Utf8, false),
        ];
        fields.push(Field::new("event_id", DataType::Utf8, true));
        fields.push(Field::new("event_time", timestamp_type(), true));
        for name in [
            "account_id",
            "principal_arn",
            "aws_region",
            "served_region",
            "model_id",
            "log_file",
        ] {
            fields.push(Field::new(name, DataType::Utf8, true));
        }
        let times: TimestampMicrosecondArray = v.iter().map(|x| x.event_time).collect();
        let mut columns: Vec<Arc<dyn Array>> = vec![
            strings(|x| Some(&x.rule)),
            strings(|x| Some(&x.requirement)),
            strings(|x| Some(&x.reason)),
            strings(|x| x.event_id.as_deref()),
            Arc::new(times.with_timezone(crate::schema::UTC)),
            strings(|x| x.account_id.as_deref()),
            strings(|x| x.principal_arn.as_deref()),
            strings(|x| x.aws_region.as_deref()),
            strings(|x| x.served_region.as_deref()),
            strings(|x| x.model_id.as_deref()),
            strings(|x| x.log_file.as_deref()),
        ];
        // With --verify, each finding's log file status.
        if self.coverage.integrity_of_read.is_some() {
            fields.push(Field::new("integrity", DataType::Utf8, true));
            columns.push(strings(|x| x.integrity.as_deref()));
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Ok(batch)
    }

    /// The per-rule summary as an Arrow batch (for table output).
    pub fn rules_batch(&self) -> Result<RecordBatch> {
        let r = &self.rules;
        let counts = |f: fn(&RuleSummary) -> u64| -> Arc<UInt64Array> {
            Arc::new(r.iter().map(f).map(Some).collect())
        };
        let times = |f: fn(&RuleSummary) -> Option<i64>| -> Arc<TimestampMicrosecondArray> {
            Arc::new(
                r.iter()
                    .map(f)
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone(crate::schema::UTC),
            )
        };
        let schema = Schema::new(vec![
            Field::new("rule", DataType::Utf8, false),
            Field::new("status", DataType::Utf8, false),
            Field::new("invocations_in_scope", DataType::UInt64, false),
            Field::new("attempted", DataType::UInt64, false),
            Field::new("violations", DataType::UInt64, false),
            Field::new("unverifiable", DataType::UInt64, false),
            Field::new("first_seen", timestamp_type(), true),
            Field::new("last_seen", timestamp_type(), true),
            Field::new("description", DataType::Utf8, true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(
                    r.iter()
                        .map(|x| Some(x.rule.as_str()))
                        .collect::<StringArray>(),
                ),
                Arc::new(
                    r.iter()
                        .map(|x| Some(x.status.as_str()))
                        .collect::<StringArray>(),
                ),
                counts(|x| x.invocations_in_scope),
                counts(|x| x.attempted),
                counts(|x| x.violations),
                counts(|x| x.unverifiable),
                times(|x| x.first_seen),
                times(|x| x.last_seen),
                Arc::new(
                    r.iter()
                        .map(|x| x.description.as_deref())
                        .collect::<StringArray>(),
                ),
            ],
        )?;
        Ok(batch)
    }
}
