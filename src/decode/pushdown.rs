//! SQL filters the decoder evaluates itself, on the top-level fields of a record, before the
//! record's nested parts are parsed or any column is built.
//!
//! A [`RecordFilter`] is a conjunction of conditions on `event_source`, `event_name`,
//! `account_id` (recipientAccountId) and `aws_region` (`=`, `IN`, `OR` of those on one column),
//! `is_invocation` (`is_invocation`, `is_invocation = true`), `event_time` (`<`, `<=`, `>`,
//! `>=` a timestamp, whole microseconds) and `log_date` (`=`, `IN`, `OR` of dates, `IS NULL`:
//! one value per file, from its key). The decoder evaluates such a
//! filter fully, with SQL's meaning (a missing field is NULL and fails it), so the table
//! declares it `Exact` and DataFusion does not filter those rows again. Real archives are mostly
//! not Bedrock: a query over `invocations` skips every other record after reading two fields.

use std::collections::{BTreeSet, HashSet};

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use crate::bedrock;
use crate::decode::record::Record;
use crate::schema::Column;

/// A condition on one top-level text field: its value is one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OneOf {
    column: Column,
    values: HashSet<String>,
}

/// A bound on `event_time`, in microseconds since the epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeBound {
    op: Operator,
    micros: i64,
}

impl TimeBound {
    fn holds(&self, time: i64) -> bool {
        match self.op {
            Operator::Lt => time < self.micros,
            Operator::LtEq => time <= self.micros,
            Operator::Gt => time > self.micros,
            _ => time >= self.micros,
        }
    }
}

/// A condition on `log_date`, the delivery day a file's key tells (the same for all its records).
#[derive(Debug, Clone, PartialEq, Eq)]
enum DayCondition {
    /// `log_date` is one of these days (days since the epoch).
    OneOf(BTreeSet<i32>),
    /// `log_date IS NULL`: the file's name is outside the CloudTrail key layout.
    Unknown,
}

impl DayCondition {
    fn holds(&self, log_date: Option<i32>) -> bool {
        match self {
            DayCondition::OneOf(days) => log_date.is_some_and(|day| days.contains(&day)),
            DayCondition::Unknown => log_date.is_none(),
        }
    }
}

/// Conditions every kept record meets (all of them; none means keep everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    one_of: Vec<OneOf>,
    invocations_only: bool,
    times: Vec<TimeBound>,
    days: Vec<DayCondition>,
}

/// The text columns read straight off a record's top level.
const TEXT_COLUMNS: &[Column] = &[
    Column::EventSource,
    Column::EventName,
    Column::AccountId,
    Column::AwsRegion,
];

impl RecordFilter {
    /// Whether the decoder can evaluate `filter` fully.
    pub fn supports(filter: &Expr) -> bool {
        RecordFilter::default().with(filter).is_some()
    }

    /// The conjunction of `filters` the decoder can evaluate (the others are left to DataFusion).
    pub fn of(filters: &[Expr]) -> RecordFilter {
        filters.iter().fold(RecordFilter::default(), |acc, filter| {
            acc.clone().with(filter).unwrap_or(acc)
        })
    }

    /// Whether it keeps every record.
    pub fn is_empty(&self) -> bool {
        self.one_of.is_empty()
            && !self.invocations_only
            && self.times.is_empty()
            && self.days.is_empty()
    }

    /// This filter AND `filter`, if the decoder can evaluate `filter`.
    fn with(mut self, filter: &Expr) -> Option<RecordFilter> {
        match filter {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::And,
                right,
            }) => self.with(left)?.with(right),
            Expr::Column(c) if c.name == Column::IsInvocation.name() => {
                self.invocations_only = true;
                Some(self)
            }
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Eq,
                right,
            }) if is_column(left, Column::IsInvocation)
                && matches!(
                    right.as_ref(),
                    Expr::Literal(ScalarValue::Boolean(Some(true)), _)
                ) =>
            {
                self.invocations_only = true;
                Some(self)
            }
            other => {
                if let Some(bound) = time_bound(other) {
                    self.times.push(bound);
                    return Some(self);
                }
                if let Some(days) = day_condition(other) {
                    self.days.push(days);
                    return Some(self);
                }
                let condition = one_of(other)?;
                self.one_of.push(condition);
                Some(self)
            }
        }
    }

    /// Whether the records of a file delivered on `log_date` (days since the epoch; `None`
    /// outside the key layout) may be kept: the `log_date` conditions, decided once per file.
    pub fn keeps_file(&self, log_date: Option<i32>) -> bool {
        self.days.iter().all(|condition| condition.holds(log_date))
    }

    /// Whether `record`, whose `eventTime` reads as `time` (microseconds; `None` when missing
    /// or unparsable), meets every condition.
    pub fn keeps(&self, record: &Record<'_>, time: Option<i64>) -> bool {
        let source = record.event_source.get();
        let name = record.event_name.get();
        (self.times.is_empty() || time.is_some_and(|t| self.times.iter().all(|b| b.holds(t))))
            && (!self.invocations_only || bedrock::is_invocation(source, name))
            && self.one_of.iter().all(|condition| {
                let value = match condition.column {
                    Column::EventSource => source,
                    Column::EventName => name,
                    Column::AccountId => record.recipient_account_id.get(),
                    Column::AwsRegion => record.aws_region.get(),
                    _ => None,
                };
                value.is_some_and(|v| condition.values.contains(v))
            })
    }
}

impl std::fmt::Display for RecordFilter {
    /// `is_invocation AND event_source IN (...)`, values sorted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.invocations_only {
            parts.push(Column::IsInvocation.name().to_owned());
        }
        for bound in &self.times {
            parts.push(format!(
                "{} {} {}",
                Column::EventTime.name(),
                bound.op,
                chrono::DateTime::from_timestamp_micros(bound.micros)
                    .map_or_else(|| bound.micros.to_string(), |t| t.to_rfc3339())
            ));
        }
        for condition in &self.days {
            parts.push(match condition {
                DayCondition::OneOf(days) => {
                    let days: Vec<String> = days
                        .iter()
                        .map(|&day| {
                            let date = chrono::NaiveDate::default()
                                .checked_add_signed(chrono::Duration::days(i64::from(day)));
                            date.map_or_else(|| day.to_string(), |d| d.to_string())
                        })
                        .collect();
                    format!("{} IN ({})", Column::LogDate.name(), days.join(", "))
                }
                DayCondition::Unknown => format!("{} IS NULL", Column::LogDate.name()),
            });
        }
        for condition in &self.one_of {
            let mut values: Vec<&str> = condition.values.iter().map(String::as_str).collect();
            values.sort_unstable();
            parts.push(format!(
                "{} IN ({})",
                condition.column.name(),
                values.join(", ")
            ));
        }
        f.write_str(&parts.join(" AND "))
    }
}

fn is_column(expr: &Expr, column: Column) -> bool {
    matches!(expr, Expr::Column(c) if c.name == column.name())
}

/// `event_time <op> timestamp` (either side), for a timestamp in UTC (or without a time zone)
/// that is a whole number of microseconds.
fn time_bound(expr: &Expr) -> Option<TimeBound> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return None;
    };
    let (op, literal) = match (
        is_column(left, Column::EventTime),
        is_column(right, Column::EventTime),
    ) {
        (true, false) => (*op, right.as_ref()),
        (false, true) => (op.swap()?, left.as_ref()),
        _ => return None,
    };
    if !matches!(
        op,
        Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
    ) {
        return None;
    }
    let Expr::Literal(value, _) = literal else {
        return None;
    };
    let utc = |tz: &Option<std::sync::Arc<str>>| {
        tz.as_deref()
            .is_none_or(|tz| matches!(tz, "UTC" | "+00:00" | "Z"))
    };
    let micros = match value {
        ScalarValue::TimestampSecond(Some(v), tz) if utc(tz) => v.checked_mul(1_000_000)?,
        ScalarValue::TimestampMillisecond(Some(v), tz) if utc(tz) => v.checked_mul(1_000)?,
        ScalarValue::TimestampMicrosecond(Some(v), tz) if utc(tz) => *v,
        ScalarValue::TimestampNanosecond(Some(v), tz) if utc(tz) && v % 1_000 == 0 => v / 1_000,
        _ => return None,
    };
    Some(TimeBound { op, micros })
}

/// `log_date = DATE 'd'`, `log_date IN (...)`, an OR of those, or `log_date IS NULL`.
fn day_condition(expr: &Expr) -> Option<DayCondition> {
    if let Expr::IsNull(inner) = expr {
        return is_column(inner, Column::LogDate).then_some(DayCondition::Unknown);
    }
    let log_date = |expr: &Expr| is_column(expr, Column::LogDate).then_some(());
    let date = |expr: &Expr| match expr {
        Expr::Literal(ScalarValue::Date32(Some(day)), _) => Some(*day),
        _ => None,
    };
    let ((), days) = equalities(expr, &log_date, &date)?;
    Some(DayCondition::OneOf(days.into_iter().collect()))
}

/// `col = 'v'`, `col IN ('v', ...)`, or an OR of those on one text column.
fn one_of(expr: &Expr) -> Option<OneOf> {
    let text_column = |expr: &Expr| match expr {
        Expr::Column(c) => TEXT_COLUMNS.iter().copied().find(|k| k.name() == c.name),
        _ => None,
    };
    let text = |expr: &Expr| match expr {
        Expr::Literal(ScalarValue::Utf8(Some(v)) | ScalarValue::Utf8View(Some(v)), _) => {
            Some(v.clone())
        }
        _ => None,
    };
    let (column, values) = equalities(expr, &text_column, &text)?;
    Some(OneOf {
        column,
        values: values.into_iter().collect(),
    })
}

/// `col = v` (either side), `col IN (v, ...)`, or an OR of those on one column: the column
/// `column` recognises and the values `value` reads, if `expr` is that and nothing else.
fn equalities<C: PartialEq, V>(
    expr: &Expr,
    column: &impl Fn(&Expr) -> Option<C>,
    value: &impl Fn(&Expr) -> Option<V>,
) -> Option<(C, Vec<V>)> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (column(left), column(right)) {
            (Some(c), None) => Some((c, vec![value(right)?])),
            (None, Some(c)) => Some((c, vec![value(left)?])),
            _ => None,
        },
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let (a, mut values) = equalities(left, column, value)?;
            let (b, more) = equalities(right, column, value)?;
            (a == b).then(|| {
                values.extend(more);
                (a, values)
            })
        }
        Expr::InList(list) if !list.negated => Some((
            column(&list.expr)?,
            list.list.iter().map(value).collect::<Option<_>>()?,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::stream::read_records;
    use crate::decode::time::parse_event_time;
    use datafusion::logical_expr::{col, lit};

    /// Whether `filter` keeps each record of `json`.
    fn kept_records(json: &[u8], filter: &RecordFilter) -> Vec<bool> {
        let mut kept = Vec::new();
        read_records(&mut &json[..], u64::MAX, |record, _| {
            let time = record.event_time.get().and_then(parse_event_time);
            kept.push(filter.keeps(record, time));
            Ok(())
        })
        .unwrap();
        kept
    }

    #[test]
    fn supported_shapes_and_their_meaning() {
        let bedrock = col("event_source").eq(lit("bedrock.amazonaws.com"));
        let names = col("event_name").in_list(vec![lit("InvokeModel"), lit("Converse")], false);
        let regions = col("aws_region")
            .eq(lit("eu-west-1"))
            .or(col("aws_region").eq(lit("eu-west-3")));
        for supported in [
            bedrock.clone(),
            names.clone(),
            regions.clone(),
            col("is_invocation"),
            col("is_invocation").eq(lit(true)),
            bedrock.clone().and(col("is_invocation")),
        ] {
            assert!(RecordFilter::supports(&supported), "{supported}");
        }
        for unsupported in [
            col("event_name").in_list(vec![lit("A")], true),
            col("event_source")
                .eq(lit("x"))
                .or(col("event_name").eq(lit("y"))),
            col("error_code").is_null(),
            col("event_name").like(lit("Invoke%")),
            col("is_invocation").eq(lit(false)),
        ] {
            assert!(!RecordFilter::supports(&unsupported), "{unsupported}");
        }
        let json = br#"{"Records":[
            {"eventSource":"bedrock.amazonaws.com","eventName":"InvokeModel","awsRegion":"eu-west-1"},
            {"eventSource":"bedrock.amazonaws.com","eventName":"ListFoundationModels","awsRegion":"eu-west-1"},
            {"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-3"},
            {"eventName":"InvokeModel","awsRegion":"eu-west-1"}]}"#;
        let kept = |filters: &[Expr]| kept_records(json, &RecordFilter::of(filters));
        assert_eq!(kept(&[col("is_invocation")]), [true, false, false, false]);
        assert_eq!(kept(&[bedrock]), [true, true, false, false]);
        assert_eq!(kept(&[names]), [true, false, false, true]);
        assert_eq!(
            kept(std::slice::from_ref(&regions)),
            [true, true, true, true]
        );
        assert_eq!(
            kept(&[regions, col("error_code").is_null()]),
            [true, true, true, true]
        );
        assert!(RecordFilter::of(&[col("error_code").is_null()]).is_empty());
        assert_eq!(
            RecordFilter::of(&[
                col("is_invocation"),
                col("aws_region").in_list(vec![lit("b"), lit("a")], false)
            ])
            .to_string(),
            "is_invocation AND aws_region IN (a, b)"
        );
    }

    #[test]
    fn log_date_conditions_are_decided_per_file() {
        let day = |d: i32| lit(ScalarValue::Date32(Some(d)));
        let date = || col("log_date");
        let keeps = |filters: &[Expr], log_date: Option<i32>| {
            let filter = RecordFilter::of(filters);
            assert!(!filter.is_empty(), "{filters:?}");
            filter.keeps_file(log_date)
        };
        assert!(keeps(&[date().eq(day(20_150))], Some(20_150)));
        assert!(!keeps(&[date().eq(day(20_150))], Some(20_151)));
        assert!(
            !keeps(&[date().eq(day(20_150))], None),
            "NULL = d is not true"
        );
        assert!(keeps(&[day(20_150).eq(date())], Some(20_150)));
        let either = date().eq(day(1)).or(date().eq(day(3)));
        assert!(keeps(std::slice::from_ref(&either), Some(3)));
        assert!(!keeps(&[either], Some(2)));
        let listed = date().in_list(vec![day(1), day(3)], false);
        assert!(keeps(std::slice::from_ref(&listed), Some(1)));
        assert!(!keeps(&[listed], None));
        assert!(keeps(&[date().is_null()], None));
        assert!(!keeps(&[date().is_null()], Some(1)));
        for unsupported in [
            date().in_list(vec![day(1)], true),
            date().gt_eq(day(1)),
            date().is_not_null(),
            date().eq(day(1)).or(date().is_null()),
            date().eq(lit("2025-03-01")),
        ] {
            assert!(!RecordFilter::supports(&unsupported), "{unsupported}");
        }
        assert_eq!(
            RecordFilter::of(&[date().in_list(vec![day(20_150), day(0)], false)]).to_string(),
            "log_date IN (1970-01-01, 2025-03-03)"
        );
    }

    #[test]
    fn time_bounds_are_evaluated_on_the_parsed_event_time() {
        let at = |t: &str| parse_event_time(t).unwrap();
        let micros =
            |v: i64, tz: &str| lit(ScalarValue::TimestampMicrosecond(Some(v), Some(tz.into())));
        let quarter = at("2025-03-01T12:15:00Z");
        let json = br#"{"Records":[
            {"eventTime":"2025-03-01T12:00:00Z"},{"eventTime":"2025-03-01T12:15:00Z"},
            {"eventTime":"2025-03-01T12:30:00Z"},{},{"eventTime":"yesterday"}]}"#;
        let kept = |filters: &[Expr]| {
            let filter = RecordFilter::of(filters);
            assert!(!filter.is_empty(), "{filters:?}");
            kept_records(json, &filter)
        };
        let time = || col("event_time");
        assert_eq!(
            kept(&[time().gt_eq(micros(quarter, "UTC"))]),
            [false, true, true, false, false]
        );
        assert_eq!(
            kept(&[time().gt(micros(quarter, "UTC"))]),
            [false, false, true, false, false]
        );
        assert_eq!(
            kept(&[micros(quarter, "UTC").gt(time())]),
            [true, false, false, false, false]
        );
        assert_eq!(
            kept(&[lit(ScalarValue::TimestampSecond(
                Some(quarter / 1_000_000),
                None
            ))
            .gt_eq(time())]),
            [true, true, false, false, false]
        );
        let nanos = |v: i64| {
            lit(ScalarValue::TimestampNanosecond(
                Some(v),
                Some("UTC".into()),
            ))
        };
        assert_eq!(
            kept(&[
                time().lt_eq(nanos(quarter * 1_000)),
                time().gt(micros(quarter - 1, "UTC"))
            ]),
            [false, true, false, false, false]
        );
        for unsupported in [
            time().gt_eq(micros(quarter, "+01:00")),
            time().gt_eq(nanos(quarter * 1_000 + 1)),
            time().not_eq(micros(quarter, "UTC")),
            time().gt_eq(col("event_time")),
        ] {
            assert!(!RecordFilter::supports(&unsupported), "{unsupported}");
        }
        assert_eq!(
            RecordFilter::of(&[time().lt(micros(quarter, "UTC"))]).to_string(),
            "event_time < 2025-03-01T12:15:00+00:00"
        );
    }
}
