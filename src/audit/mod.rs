//! `trailmap audit`: judge every invocation against a residency policy in one pass.
//!
//! The policy ([`policy`]) compiles to SQL ([`sql`]); one projection over `events` carries a
//! scope flag and breach flags per rule, and [`run`] folds the stream into findings, per-rule
//! summaries and the coverage of what was read. Failed calls (`error_code` set) ran nowhere: they
//! are counted as "attempted", and judged only by rules with `include_failed = true`.

pub mod policy;
pub mod sql;

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, RecordBatch, StringArray, TimestampMicrosecondArray, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimestampMicrosecondType};
use futures::StreamExt;
use serde::Serialize;

use crate::TrailSession;
use crate::error::{Error, LoadError, Result};
use crate::schema::timestamp_type;
use policy::{Policy, PolicyError};

/// One invocation that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The rule's name.
    pub rule: String,
    /// Which requirements it breaks (comma-separated keys, e.g. `allowed_geographies`).
    pub requirement: String,
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
    /// Where it ran.
    pub served_region: Option<String>,
    /// As sent.
    pub model_id: Option<String>,
    /// The evidence: the log file holding the record.
    pub log_file: Option<String>,
}

/// What one rule found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSummary {
    /// The rule's name.
    pub rule: String,
    /// Its description.
    pub description: Option<String>,
    /// Successful invocations in scope.
    pub invocations_in_scope: u64,
    /// Failed invocations in scope ("attempted"; judged only with `include_failed`).
    pub attempted: u64,
    /// Invocations breaking the rule.
    pub violations: u64,
    /// Earliest violation.
    #[serde(serialize_with = "serialize_time")]
    pub first_seen: Option<i64>,
    /// Latest violation.
    #[serde(serialize_with = "serialize_time")]
    pub last_seen: Option<i64>,
}

/// What the audit read, so a reader knows what "compliant" covers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
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
    /// The files that could not be read.
    pub load_errors: Vec<LoadErrorRow>,
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
}

impl From<LoadError> for LoadErrorRow {
    fn from(e: LoadError) -> Self {
        LoadErrorRow {
            log_file: e.log_file,
            stage: e.stage.as_str().to_owned(),
            message: e.message,
        }
    }
}

/// The audit's result. JSON output is this structure serialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// No violations and complete input.
    pub compliant: bool,
    /// Every listed file was read.
    pub complete: bool,
    /// Every violation, by rule (policy order), then time.
    pub violations: Vec<Violation>,
    /// One summary per rule, in policy order.
    pub rules: Vec<RuleSummary>,
    /// What was read.
    pub coverage: AuditCoverage,
}

fn serialize_time<S: serde::Serializer>(
    time: &Option<i64>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match time.map(format_time) {
        Some(text) => s.serialize_str(&text),
        None => s.serialize_none(),
    }
}

/// Microseconds since the epoch as RFC 3339 UTC.
pub fn format_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| micros.to_string())
}

/// The per-event columns the audit reads, besides the flags.
const EVIDENCE: &[&str] = &[
    "event_time",
    "is_invocation",
    "event_id",
    "account_id",
    "principal_arn",
    "aws_region",
    "served_region",
    "model_id",
    "log_file",
];

/// Checks every `violation_when` against the real table (planning only, no data read).
async fn check_rule_sql(session: &TrailSession, policy: &Policy) -> Result<()> {
    for rule in &policy.rules {
        let Some(expr) = &rule.violation_when else {
            continue;
        };
        let reject = |reason: String| {
            Error::Policy(PolicyError::Rule {
                rule: rule.name.clone(),
                reason,
            })
        };
        let frame = session
            .sql(&format!("SELECT ({expr}) AS violation FROM invocations"))
            .await
            .map_err(|e| {
                reject(format!(
                    "violation_when is not a valid SQL expression over invocations: {e}"
                ))
            })?;
        let data_type = frame.schema().field(0).data_type().clone();
        if data_type != DataType::Boolean {
            return Err(reject(format!(
                "violation_when must be a boolean expression, it gives {data_type}"
            )));
        }
    }
    Ok(())
}

/// The single-pass SQL: evidence columns, `failed`, and per rule `scope_i` plus `breach_i_j`.
fn audit_sql(policy: &Policy) -> String {
    let mut columns: Vec<String> = EVIDENCE.iter().map(|c| (*c).to_owned()).collect();
    columns.push("error_code IS NOT NULL AS failed".into());
    for (i, rule) in policy.rules.iter().enumerate() {
        columns.push(format!(
            "coalesce(is_invocation AND ({}), false) AS scope_{i}",
            sql::scope(rule)
        ));
        for (j, (_, breach)) in sql::breaches(rule).iter().enumerate() {
            columns.push(format!("{breach} AS breach_{i}_{j}"));
        }
    }
    format!("SELECT {} FROM events", columns.join(",\n  "))
}

/// Runs the audit of `policy` over the session's archive.
pub async fn run(session: &TrailSession, policy: &Policy) -> Result<AuditReport> {
    check_rule_sql(session, policy).await?;
    let frame = session.sql(&audit_sql(policy)).await?;
    let mut stream = frame.execute_stream().await?;
    let mut fold = Fold::new(policy);
    while let Some(batch) = stream.next().await {
        fold.add(&batch?)?;
    }
    let load_errors = session.load_errors();
    let files = session.coverage();
    let coverage = AuditCoverage {
        files_listed: files.files_listed,
        files_read: files.files_read,
        files_failed: files.files_failed,
        events: fold.events,
        invocations: fold.invocations,
        first_event: fold.first_event,
        last_event: fold.last_event,
        load_errors: load_errors.into_iter().map(LoadErrorRow::from).collect(),
    };
    let mut violations = fold.violations;
    let order = |v: &Violation| policy.rules.iter().position(|r| r.name == v.rule);
    violations.sort_by(|a, b| {
        (order(a), a.event_time, &a.event_id).cmp(&(order(b), b.event_time, &b.event_id))
    });
    let complete = coverage.load_errors.is_empty();
    Ok(AuditReport {
        compliant: complete && violations.is_empty(),
        complete,
        violations,
        rules: fold.rules,
        coverage,
    })
}

/// Running totals while the stream goes by.
struct Fold<'p> {
    policy: &'p Policy,
    requirement_names: Vec<Vec<&'static str>>,
    rules: Vec<RuleSummary>,
    violations: Vec<Violation>,
    events: u64,
    invocations: u64,
    first_event: Option<i64>,
    last_event: Option<i64>,
}

fn text(array: &StringArray, row: usize) -> Option<String> {
    array.is_valid(row).then(|| array.value(row).to_owned())
}

impl<'p> Fold<'p> {
    fn new(policy: &'p Policy) -> Self {
        Fold {
            policy,
            requirement_names: policy
                .rules
                .iter()
                .map(|r| sql::breaches(r).iter().map(|(k, _)| *k).collect())
                .collect(),
            rules: policy
                .rules
                .iter()
                .map(|r| RuleSummary {
                    rule: r.name.clone(),
                    description: r.description.clone(),
                    invocations_in_scope: 0,
                    attempted: 0,
                    violations: 0,
                    first_seen: None,
                    last_seen: None,
                })
                .collect(),
            violations: Vec::new(),
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
                .ok_or_else(|| Error::Usage(format!("internal: audit query lost column {name}")))
        };
        let strings = |name: &str| -> Result<StringArray> {
            column(name)?
                .as_string_opt::<i32>()
                .cloned()
                .ok_or_else(|| Error::Usage(format!("internal: audit column {name} is not text")))
        };
        let booleans = |name: &str| -> Result<Vec<bool>> {
            let array = column(name)?.as_boolean_opt().cloned().ok_or_else(|| {
                Error::Usage(format!("internal: audit column {name} is not boolean"))
            })?;
            Ok((0..array.len())
                .map(|i| array.is_valid(i) && array.value(i))
                .collect())
        };
        let times: TimestampMicrosecondArray = column("event_time")?
            .as_primitive_opt::<TimestampMicrosecondType>()
            .cloned()
            .ok_or_else(|| Error::Usage("internal: event_time is not a timestamp".into()))?;
        let is_invocation = booleans("is_invocation")?;
        let failed = booleans("failed")?;
        let evidence: Vec<StringArray> = EVIDENCE[2..]
            .iter()
            .map(|c| strings(c))
            .collect::<Result<_>>()?;
        let mut scopes = Vec::new();
        let mut breaches = Vec::new();
        for (i, names) in self.requirement_names.iter().enumerate() {
            scopes.push(booleans(&format!("scope_{i}"))?);
            breaches.push(
                (0..names.len())
                    .map(|j| booleans(&format!("breach_{i}_{j}")))
                    .collect::<Result<Vec<_>>>()?,
            );
        }
        for row in 0..batch.num_rows() {
            self.events += 1;
            let time = times.is_valid(row).then(|| times.value(row));
            if let Some(t) = time {
                self.first_event = Some(self.first_event.map_or(t, |f| f.min(t)));
                self.last_event = Some(self.last_event.map_or(t, |l| l.max(t)));
            }
            if !is_invocation[row] {
                continue;
            }
            self.invocations += 1;
            for (i, rule) in self.policy.rules.iter().enumerate() {
                if !scopes[i][row] {
                    continue;
                }
                let summary = &mut self.rules[i];
                if failed[row] {
                    summary.attempted += 1;
                    if !rule.include_failed {
                        continue;
                    }
                } else {
                    summary.invocations_in_scope += 1;
                }
                let broken: Vec<&str> = self.requirement_names[i]
                    .iter()
                    .zip(&breaches[i])
                    .filter(|(_, flags)| flags[row])
                    .map(|(name, _)| *name)
                    .collect();
                if broken.is_empty() {
                    continue;
                }
                summary.violations += 1;
                if let Some(t) = time {
                    summary.first_seen = Some(summary.first_seen.map_or(t, |f| f.min(t)));
                    summary.last_seen = Some(summary.last_seen.map_or(t, |l| l.max(t)));
                }
                self.violations.push(Violation {
                    rule: rule.name.clone(),
                    requirement: broken.join(","),
                    event_id: text(&evidence[0], row),
                    event_time: time,
                    account_id: text(&evidence[1], row),
                    principal_arn: text(&evidence[2], row),
                    aws_region: text(&evidence[3], row),
                    served_region: text(&evidence[4], row),
                    model_id: text(&evidence[5], row),
                    log_file: text(&evidence[6], row),
                });
            }
        }
        Ok(())
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
        let batch = RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            vec![
                strings(|x| Some(&x.rule)),
                strings(|x| Some(&x.requirement)),
                strings(|x| x.event_id.as_deref()),
                Arc::new(times.with_timezone(crate::schema::UTC)),
                strings(|x| x.account_id.as_deref()),
                strings(|x| x.principal_arn.as_deref()),
                strings(|x| x.aws_region.as_deref()),
                strings(|x| x.served_region.as_deref()),
                strings(|x| x.model_id.as_deref()),
                strings(|x| x.log_file.as_deref()),
            ],
        )?;
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
            Field::new("invocations_in_scope", DataType::UInt64, false),
            Field::new("attempted", DataType::UInt64, false),
            Field::new("violations", DataType::UInt64, false),
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
                counts(|x| x.invocations_in_scope),
                counts(|x| x.attempted),
                counts(|x| x.violations),
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
