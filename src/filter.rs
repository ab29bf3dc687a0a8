//! The command-line restrictions `--from`, `--to`, `--account` and `--source-region`.
//!
//! A [`ScanFilter`] is applied twice: to keys, as the `Expr` of [`ScanFilter::key_expr`] that
//! [`crate::layout::pruning::KeyPredicate`] turns into skipped folders and files (with a margin,
//! since a key carries the file's delivery time, after its events), and to records, to make the
//! exact cut on `event_time`, `account_id` and `aws_region` ([`ScanFilter::keeps_record`]).
//!
//! The margin is the [`ScanFilter::delivery_margin`]: CloudTrail delivers a file about five
//! minutes after its events *on average*, with no upper bound, so pruning by key keeps two days by
//! default (`--delivery-margin`), and the coverage of a command reports the largest lag seen.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, col, lit};

use crate::error::{Error, Result};
use crate::layout::key::{is_account_id, is_region_code};
use crate::schema::{Column, UTC};

/// Default of `--delivery-margin`: how long before its delivery time a file may hold events.
pub const DEFAULT_DELIVERY_MARGIN: Duration = Duration::hours(48);

/// Restrictions on which events to read. Empty lists mean "all".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFilter {
    /// Earliest event time kept (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Latest event time kept (inclusive).
    pub to: Option<DateTime<Utc>>,
    /// Accounts kept (`recipientAccountId`; keys by their account folder).
    pub accounts: Vec<String>,
    /// Source Regions kept (`awsRegion`; keys by their Region folder).
    pub source_regions: Vec<String>,
    /// How long after its events a file may be delivered; pruning by key keeps this margin.
    pub delivery_margin: Duration,
}

impl Default for ScanFilter {
    fn default() -> Self {
        ScanFilter {
            from: None,
            to: None,
            accounts: Vec::new(),
            source_regions: Vec::new(),
            delivery_margin: DEFAULT_DELIVERY_MARGIN,
        }
    }
}

/// Parses a duration such as `90m`, `2h`, `3d` or `1w` (`--delivery-margin`).
pub fn parse_duration(value: &str) -> Result<Duration> {
    let invalid = || {
        Error::InvalidFilter(format!(
            "invalid duration {value:?}: expected a number and a unit, e.g. 90m, 2h, 3d or 1w"
        ))
    };
    let value_trimmed = value.trim();
    let split = value_trimmed
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (number, unit) = value_trimmed.split_at(split);
    let number: i64 = number.parse().map_err(|_| invalid())?;
    let minutes = match unit {
        "m" | "min" => Some(number),
        "h" => number.checked_mul(60),
        "d" => number.checked_mul(24 * 60),
        "w" => number.checked_mul(7 * 24 * 60),
        _ => None,
    }
    .filter(|m| *m <= 366 * 24 * 60)
    .ok_or_else(invalid)?;
    Ok(Duration::minutes(minutes))
}

/// Which end of a range a date stands for.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// A date means its first instant.
    Start,
    /// A date means its last instant (inclusive `--to`).
    End,
}

/// Parses `YYYY-MM-DD` or an RFC 3339 time. A bare date is the whole day in UTC.
pub fn parse_time(value: &str, bound: Bound) -> Result<DateTime<Utc>> {
    let invalid = || Error::InvalidTime {
        value: value.to_owned(),
    };
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| invalid())?;
    let start = date.and_hms_opt(0, 0, 0).ok_or_else(invalid)?.and_utc();
    Ok(match bound {
        Bound::Start => start,
        Bound::End => start + Duration::days(1) - Duration::microseconds(1),
    })
}

impl ScanFilter {
    /// Whether the filter restricts records at all.
    pub fn is_empty(&self) -> bool {
        self.from.is_none()
            && self.to.is_none()
            && self.accounts.is_empty()
            && self.source_regions.is_empty()
    }

    /// Checks the filter for values and contradictions the user should fix.
    pub fn validate(&self) -> Result<()> {
        if let Some(bad) = self.accounts.iter().find(|a| !is_account_id(a)) {
            return Err(Error::InvalidFilter(format!(
                "--account {bad:?} is not an AWS account id (12 digits, e.g. 111122223333)"
            )));
        }
        if let Some(bad) = self.source_regions.iter().find(|r| !is_region_code(r)) {
            return Err(Error::InvalidFilter(format!(
                "--source-region {bad:?} is not a Region code (e.g. eu-west-1); `trailmap query \"SELECT region FROM regions\"` lists the known ones"
            )));
        }
        if self.delivery_margin < Duration::zero() {
            return Err(Error::InvalidFilter(
                "--delivery-margin must not be negative".into(),
            ));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(Error::InvalidFilter(format!(
                "--from ({from}) is after --to ({to})"
            )));
        }
        Ok(())
    }

    /// The filter as an expression over the key columns of `events` (`event_time`,
    /// `log_account`, `log_region`), for pruning keys and folders; `None` when it restricts
    /// nothing. A key's account and Region folders are those of its records.
    pub fn key_expr(&self) -> Option<Expr> {
        self.expr_over(Column::LogAccount, Column::LogRegion)
    }

    /// The filter as the exact cut on rows of `events` (`event_time`, `account_id`,
    /// `aws_region`), as [`ScanFilter::keeps_record`] makes it while decoding; `None` when it
    /// restricts nothing.
    pub fn record_expr(&self) -> Option<Expr> {
        self.expr_over(Column::AccountId, Column::AwsRegion)
    }

    /// `event_time` within `--from/--to`, `account` in `--account`, `region` in
    /// `--source-region`.
    fn expr_over(&self, account: Column, region: Column) -> Option<Expr> {
        let time = |t: DateTime<Utc>| {
            lit(ScalarValue::TimestampMicrosecond(
                Some(t.timestamp_micros()),
                Some(UTC.into()),
            ))
        };
        let any_of = |column: Column, values: &[String]| {
            (!values.is_empty()).then(|| {
                col(column.name()).in_list(values.iter().map(|v| lit(v.as_str())).collect(), false)
            })
        };
        let event_time = || col(Column::EventTime.name());
        conjunction(
            [
                self.from.map(|from| event_time().gt_eq(time(from))),
                self.to.map(|to| event_time().lt_eq(time(to))),
                any_of(account, &self.accounts),
                any_of(region, &self.source_regions),
            ]
            .into_iter()
            .flatten(),
        )
    }

    /// Whether a record is kept. `time` is in microseconds since the epoch.
    pub fn keeps_record(
        &self,
        time: Option<i64>,
        account: Option<&str>,
        region: Option<&str>,
    ) -> bool {
        let in_time = match time {
            Some(t) => {
                self.from.is_none_or(|from| t >= from.timestamp_micros())
                    && self.to.is_none_or(|to| t <= to.timestamp_micros())
            }
            None => self.from.is_none() && self.to.is_none(),
        };
        in_time && self.keeps_origin(account, region)
    }

    /// Whether `--account` and `--source-region` keep records of this account and Region.
    pub fn keeps_origin(&self, account: Option<&str>, region: Option<&str>) -> bool {
        (self.accounts.is_empty() || account.is_some_and(|a| self.accounts.iter().any(|x| x == a)))
            && (self.source_regions.is_empty()
                || region.is_some_and(|r| self.source_regions.iter().any(|x| x == r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::key::{LogKey, PrefixScope};
    use crate::layout::pruning::KeyPredicate;
    use crate::layout::span::CLOCK_SKEW;
    use chrono::TimeZone;
    use datafusion::prelude::SessionContext;

    /// The key predicate of `filter`, through the same path the listing takes.
    fn predicate(filter: &ScanFilter) -> KeyPredicate {
        let state = SessionContext::new().state();
        let exprs: Vec<Expr> = filter.key_expr().into_iter().collect();
        KeyPredicate::new(&exprs, filter.delivery_margin, &state)
            .unwrap()
            .expect("the filter restricts keys")
    }

    fn key(account: &str, region: &str, delivered: DateTime<Utc>) -> LogKey {
        LogKey {
            account: Some(account.into()),
            region: Some(region.into()),
            date: Some(delivered.date_naive()),
            delivered: Some(delivered),
            ..LogKey::default()
        }
    }

    #[test]
    fn dates_and_times() {
        let start = parse_time("2025-03-01", Bound::Start).unwrap();
        assert_eq!(start, Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap());
        let end = parse_time("2025-03-01", Bound::End).unwrap();
        assert_eq!(
            end.timestamp_micros() + 1,
            Utc.with_ymd_and_hms(2025, 3, 2, 0, 0, 0)
                .unwrap()
                .timestamp_micros()
        );
        let t = parse_time("2025-03-01T10:00:00+02:00", Bound::End).unwrap();
        assert_eq!(t, Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).unwrap());
        assert!(matches!(
            parse_time("March 1st", Bound::Start),
            Err(Error::InvalidTime { .. })
        ));
        assert!(parse_time("2025-02-30", Bound::Start).is_err());
    }

    #[test]
    fn durations_accounts_and_regions() {
        assert_eq!(parse_duration("2h").unwrap(), Duration::hours(2));
        assert_eq!(parse_duration("3d").unwrap(), Duration::days(3));
        assert_eq!(parse_duration("90m").unwrap(), Duration::minutes(90));
        for bad in ["", "h", "2", "2 hours", "-1h", "999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(is_account_id("111122223333"));
        assert!(!is_account_id("11112222333"));
        assert!(!is_account_id("11112222333x"));
        for good in [
            "eu-west-1",
            "us-gov-west-1",
            "ap-southeast-5",
            "eusc-de-east-1",
        ] {
            assert!(is_region_code(good), "{good}");
        }
        for bad in ["eu-west", "EU-WEST-1", "euwest1", "eu--1", "eu-west-1a"] {
            assert!(!is_region_code(bad), "{bad}");
        }
        let typo = ScanFilter {
            accounts: vec!["99999999999".into()],
            ..ScanFilter::default()
        };
        assert!(
            typo.validate()
                .unwrap_err()
                .to_string()
                .contains("12 digits")
        );
    }

    #[test]
    fn key_pruning_keeps_a_margin() {
        let filter = ScanFilter {
            from: Some(Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()),
            to: Some(Utc.with_ymd_and_hms(2025, 3, 1, 23, 59, 59).unwrap()),
            accounts: vec!["111122223333".into()],
            delivery_margin: Duration::hours(1),
            ..ScanFilter::default()
        };
        let keys = predicate(&filter);
        let may_match_key = |key: &LogKey| keys.keep_keys([key])[0];
        let at = |d, h, m| Utc.with_ymd_and_hms(2025, 3, d, h, m, 0).unwrap();
        assert!(may_match_key(&key(
            "111122223333",
            "eu-west-1",
            at(1, 12, 0)
        )));
        // Delivered just after midnight: may hold events of the evening before.
        assert!(may_match_key(&key(
            "111122223333",
            "eu-west-1",
            at(2, 0, 10)
        )));
        assert!(!may_match_key(&key(
            "111122223333",
            "eu-west-1",
            at(2, 3, 0)
        )));
        assert!(may_match_key(&key(
            "111122223333",
            "eu-west-1",
            at(1, 0, 0) - CLOCK_SKEW
        )));
        assert!(!may_match_key(&key(
            "111122223333",
            "eu-west-1",
            at(1, 0, 0) - CLOCK_SKEW - Duration::minutes(1)
        )));
        assert!(!may_match_key(&key(
            "444455556666",
            "eu-west-1",
            at(1, 12, 0)
        )));
        assert!(may_match_key(&LogKey::default()));
        // The default margin keeps a file delivered up to two days late.
        let default_margin = predicate(&ScanFilter {
            delivery_margin: DEFAULT_DELIVERY_MARGIN,
            ..filter.clone()
        });
        let late = |key: LogKey| default_margin.keep_keys([&key])[0];
        assert!(late(key("111122223333", "eu-west-1", at(3, 20, 0))));
        assert!(!late(key("111122223333", "eu-west-1", at(4, 1, 0))));
    }

    #[test]
    fn prefix_pruning() {
        let filter = ScanFilter {
            from: Some(Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()),
            to: Some(Utc.with_ymd_and_hms(2025, 3, 1, 23, 59, 59).unwrap()),
            accounts: vec!["111122223333".into()],
            delivery_margin: Duration::hours(1),
            ..ScanFilter::default()
        };
        let folders = predicate(&filter);
        let may = |p: &str| {
            let scope = PrefixScope::parse(p);
            scope.may_hold_logs() && folders.keep_folders([&scope])[0]
        };
        assert!(may("AWSLogs/"));
        assert!(may("AWSLogs/o-x/"));
        assert!(may("AWSLogs/o-x/111122223333/"));
        assert!(!may("AWSLogs/o-x/444455556666/"));
        assert!(!may("AWSLogs/o-x/111122223333/CloudTrail-Digest/"));
        assert!(may("AWSLogs/o-x/111122223333/CloudTrail/eu-west-1/2025/"));
        assert!(!may("AWSLogs/o-x/111122223333/CloudTrail/eu-west-1/2024/"));
        assert!(may(
            "AWSLogs/o-x/111122223333/CloudTrail/eu-west-1/2025/03/01/"
        ));
        assert!(may(
            "AWSLogs/o-x/111122223333/CloudTrail/eu-west-1/2025/03/02/"
        ));
        assert!(!may(
            "AWSLogs/o-x/111122223333/CloudTrail/eu-west-1/2025/03/03/"
        ));
        assert!(
            may("AWSLogs/o-x/111122223333/CloudTrail/eu-west-1/2025/02/28/"),
            "clock skew margin"
        );
        assert!(!may(
            "AWSLogs/o-x/111122223333/CloudTrail/eu-west-1/2025/02/27/"
        ));
    }

    #[test]
    fn records_are_cut_exactly() {
        let filter = ScanFilter {
            from: Some(Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()),
            source_regions: vec!["eu-west-1".into()],
            ..ScanFilter::default()
        };
        let t = Utc
            .with_ymd_and_hms(2025, 3, 1, 0, 0, 0)
            .unwrap()
            .timestamp_micros();
        assert!(filter.keeps_record(Some(t), None, Some("eu-west-1")));
        assert!(!filter.keeps_record(Some(t - 1), None, Some("eu-west-1")));
        assert!(!filter.keeps_record(Some(t), None, Some("us-east-1")));
        assert!(!filter.keeps_record(None, None, Some("eu-west-1")));
    }
}
