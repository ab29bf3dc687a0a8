//! SQL filters the decoder evaluates itself, on the top-level fields of a record, before the
//! record's nested parts are parsed or any column is built.
//!
//! A [`RecordFilter`] is a conjunction of conditions on `event_source`, `event_name`,
//! `account_id` (recipientAccountId) and `aws_region` (`=`, `IN`, `OR` of those on one column)
//! and `is_invocation` (`is_invocation`, `is_invocation = true`). The decoder evaluates such a
//! filter fully, with SQL's meaning (a missing field is NULL and fails it), so the table
//! declares it `Exact` and DataFusion does not filter those rows again. Real archives are mostly
//! not Bedrock: a query over `invocations` skips every other record after reading two fields.

use std::collections::HashSet;

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

/// Conditions every kept record meets (all of them; none means keep everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    one_of: Vec<OneOf>,
    invocations_only: bool,
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
        self.one_of.is_empty() && !self.invocations_only
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
                let condition = one_of(other)?;
                self.one_of.push(condition);
                Some(self)
            }
        }
    }

    /// Whether `record` meets every condition.
    pub fn keeps(&self, record: &Record<'_>) -> bool {
        let source = record.event_source.get();
        let name = record.event_name.get();
        (!self.invocations_only || bedrock::is_invocation(source, name))
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
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => {
            let (column, value) = match (text_column(left), text_column(right)) {
                (Some(column), None) => (column, text(right)?),
                (None, Some(column)) => (column, text(left)?),
                _ => return None,
            };
            Some(OneOf {
                column,
                values: HashSet::from([value]),
            })
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let (mut a, b) = (one_of(left)?, one_of(right)?);
            (a.column == b.column).then(|| {
                a.values.extend(b.values);
                a
            })
        }
        Expr::InList(list) if !list.negated => Some(OneOf {
            column: text_column(&list.expr)?,
            values: list.list.iter().map(text).collect::<Option<_>>()?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::stream::read_records;
    use datafusion::logical_expr::{col, lit};

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
        let kept = |filters: &[Expr]| {
            let filter = RecordFilter::of(filters);
            let mut kept = Vec::new();
            read_records(&mut &json[..], u64::MAX, |record, _| {
                kept.push(filter.keeps(record));
                Ok(())
            })
            .unwrap();
            kept
        };
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
}
