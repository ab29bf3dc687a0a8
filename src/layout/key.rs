//! The CloudTrail object key layout and what a key says about its file.
//!
//! `AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_ID.json.gz`
//!
//! A key in this layout gives the account, Region and delivery time of the file without opening
//! it; that is what pruning uses. Keys outside the layout still name loadable files, with those
//! facts unknown. Digest and Insight files and non-JSON objects are recognised by name and skipped.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// What kind of object a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A CloudTrail log file (or any `.json` / `.json.gz` file): read it.
    Log,
    /// A `CloudTrail-Digest` integrity file: skipped.
    Digest,
    /// A `CloudTrail-Insight` file: skipped.
    Insight,
    /// Anything else (not `.json` or `.json.gz`): skipped.
    Other,
}

/// What a CloudTrail key says about its file. Unknown parts are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogKey {
    /// Organization id when the key is under an organization trail prefix.
    pub organization: Option<String>,
    /// Account id (12 digits) of the records in the file.
    pub account: Option<String>,
    /// Region the records were logged in.
    pub region: Option<String>,
    /// Delivery date from the `YYYY/MM/DD` folders.
    pub date: Option<NaiveDate>,
    /// Delivery time (to the minute) from the file name.
    pub delivered: Option<DateTime<Utc>>,
}

/// Classifies an object by its key or path, before it is read.
pub fn classify(key: &str) -> KeyKind {
    let file_name = key.rsplit(['/', '\\']).next().unwrap_or(key);
    let json = file_name.ends_with(".json.gz") || file_name.ends_with(".json");
    if !json {
        // Not JSON wherever it is (e.g. a signature saved beside a digest).
        KeyKind::Other
    } else if key.contains("/CloudTrail-Digest/") || file_name.contains("_CloudTrail-Digest_") {
        KeyKind::Digest
    } else if key.contains("/CloudTrail-Insight/") || file_name.contains("_CloudTrail-Insight_") {
        KeyKind::Insight
    } else {
        KeyKind::Log
    }
}

/// The folders of a path in the CloudTrail layout, as written: one reading shared by
/// [`LogKey::parse`] (a whole key) and [`PrefixScope::parse`] (a folder).
#[derive(Debug, Default)]
struct Segments<'a> {
    organization: Option<&'a str>,
    account: Option<&'a str>,
    folder: Option<&'a str>,
    region: Option<&'a str>,
    year: Option<&'a str>,
    month: Option<&'a str>,
    day: Option<&'a str>,
    file_name: Option<&'a str>,
}

impl<'a> Segments<'a> {
    /// Reads the layout after the last `AWSLogs/` of `path`. With `folders_only`, the text after
    /// the last `/` (an incomplete folder name of a prefix) is ignored.
    fn read(path: &'a str, folders_only: bool) -> Segments<'a> {
        let Some(start) = path.rfind("AWSLogs/") else {
            return Segments::default();
        };
        let rest = &path[start + "AWSLogs/".len()..];
        let rest = match folders_only {
            true => rest.rsplit_once('/').map_or("", |(folders, _)| folders),
            false => rest,
        };
        let mut parts = rest.split('/').filter(|p| !p.is_empty()).peekable();
        let organization = parts.next_if(|p| p.starts_with("o-"));
        let mut next = || parts.next();
        Segments {
            organization,
            account: next(),
            folder: next(),
            region: next(),
            year: next(),
            month: next(),
            day: next(),
            file_name: next(),
        }
    }

    /// The account folder, if it is an account id.
    fn account(&self) -> Option<String> {
        self.account.filter(|a| is_account_id(a)).map(str::to_owned)
    }

    /// The Region folder of a `CloudTrail` folder, if it is a Region code.
    fn region(&self) -> Option<String> {
        self.region.filter(|r| is_region_code(r)).map(str::to_owned)
    }

    /// The year, month and day folders as numbers, as far as they go and parse.
    fn date_parts(&self) -> (Option<i32>, Option<u32>, Option<u32>) {
        (
            self.year.and_then(|y| y.parse().ok()),
            self.month.and_then(|m| m.parse().ok()),
            self.day.and_then(|d| d.parse().ok()),
        )
    }
}

impl LogKey {
    /// Parses the CloudTrail layout anywhere in `key` (a local path or an S3 key).
    pub fn parse(key: &str) -> LogKey {
        let segments = Segments::read(key, false);
        let mut log_key = LogKey {
            organization: segments.organization.map(str::to_owned),
            account: segments.account(),
            ..LogKey::default()
        };
        if segments.folder != Some("CloudTrail") {
            return log_key;
        }
        log_key.region = segments.region();
        log_key.date = match segments.date_parts() {
            (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y, m, d),
            _ => None,
        };
        log_key.delivered = segments.file_name.and_then(parse_delivery_time);
        log_key
    }
}

/// What a key prefix (a "folder", ending in `/`) says about every key under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefixScope {
    /// The folder after the account: `CloudTrail`, `CloudTrail-Digest`, ...
    pub folder: Option<String>,
    /// Account id.
    pub account: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// First and last delivery date of keys under it (from `YYYY/`, `YYYY/MM/` or `YYYY/MM/DD/`).
    pub dates: Option<(NaiveDate, NaiveDate)>,
}

impl PrefixScope {
    /// Reads the complete folders of `prefix` in the CloudTrail layout.
    pub fn parse(prefix: &str) -> PrefixScope {
        let segments = Segments::read(prefix, true);
        let dates = match segments.date_parts() {
            (Some(y), Some(m), Some(d)) => {
                NaiveDate::from_ymd_opt(y, m, d).map(|date| (date, date))
            }
            (Some(y), Some(m), None) => NaiveDate::from_ymd_opt(y, m, 1).and_then(|first| {
                let next = if m == 12 {
                    NaiveDate::from_ymd_opt(y + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(y, m + 1, 1)
                };
                next.and_then(|n| n.pred_opt()).map(|last| (first, last))
            }),
            (Some(y), None, _) => {
                NaiveDate::from_ymd_opt(y, 1, 1).zip(NaiveDate::from_ymd_opt(y, 12, 31))
            }
            _ => None,
        };
        PrefixScope {
            folder: segments.folder.map(str::to_owned),
            account: segments.account(),
            region: segments.region(),
            dates,
        }
    }

    /// Whether log files may be under this folder: not a digest, insight or other service
    /// folder next to `CloudTrail`.
    pub fn may_hold_logs(&self) -> bool {
        self.folder.as_deref().is_none_or(|f| f == "CloudTrail")
    }
}

/// Whether `value` is an AWS account id: 12 digits.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `value` looks like a Region code: lowercase letters and digits in at least three
/// dash-separated parts, ending in a number (`eu-west-1`, `us-gov-west-1`, `eusc-de-east-1`).
pub fn is_region_code(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// Facts about the file records come from, shared by every row: its name and its key's parts.
#[derive(Debug, Clone)]
pub struct FileContext {
    /// `log_file`: the path or `s3://` URL.
    pub log_file: String,
    /// The key's parts.
    pub key: LogKey,
    /// `log_date` as days since the epoch.
    pub log_date: Option<i32>,
}

impl FileContext {
    /// The context of the file named `log_file`, its key parsed from the name.
    pub fn new(log_file: String) -> Self {
        let key = LogKey::parse(&log_file);
        let log_date = key.date.map(days_since_epoch);
        FileContext {
            log_file,
            key,
            log_date,
        }
    }
}

/// Days since 1970-01-01 (Arrow Date32).
pub fn days_since_epoch(date: NaiveDate) -> i32 {
    // The date range of chrono fits i32 days comfortably.
    (date - NaiveDate::default()).num_days() as i32
}

/// `ACCOUNT_CloudTrail_REGION_20250301T1205Z_ID.json.gz` → 2025-03-01 12:05 UTC.
fn parse_delivery_time(file_name: &str) -> Option<DateTime<Utc>> {
    let stamp = file_name.split('_').nth(3)?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/01/111122223333_CloudTrail_eu-west-1_20250301T1205Z_AbCdEf0123456789.json.gz";

    #[test]
    fn standard_layout() {
        let k = LogKey::parse(KEY);
        assert_eq!(k.organization, None);
        assert_eq!(k.account.as_deref(), Some("111122223333"));
        assert_eq!(k.region.as_deref(), Some("eu-west-1"));
        assert_eq!(k.date, NaiveDate::from_ymd_opt(2025, 3, 1));
        assert_eq!(
            k.delivered,
            Some(Utc.with_ymd_and_hms(2025, 3, 1, 12, 5, 0).unwrap())
        );
        assert_eq!(classify(KEY), KeyKind::Log);
    }

    #[test]
    fn organization_layout_under_a_local_path() {
        let k = LogKey::parse(
            "/data/trail/AWSLogs/o-a1b2c3d4e5/444455556666/CloudTrail/us-east-1/2024/12/31/444455556666_CloudTrail_us-east-1_20241231T2355Z_x.json.gz",
        );
        assert_eq!(k.organization.as_deref(), Some("o-a1b2c3d4e5"));
        assert_eq!(k.account.as_deref(), Some("444455556666"));
        assert_eq!(k.region.as_deref(), Some("us-east-1"));
        assert_eq!(k.date, NaiveDate::from_ymd_opt(2024, 12, 31));
    }

    #[test]
    fn outside_the_layout() {
        assert_eq!(LogKey::parse("exports/events.json"), LogKey::default());
        let partial =
            LogKey::parse("AWSLogs/111122223333/CloudTrail/eu-west-1/2025/13/01/f.json.gz");
        assert_eq!(partial.region.as_deref(), Some("eu-west-1"));
        assert_eq!(partial.date, None);
        assert_eq!(partial.delivered, None);
    }

    #[test]
    fn prefixes() {
        let p = PrefixScope::parse("logs/AWSLogs/o-abc/111122223333/CloudTrail/eu-west-1/2025/02/");
        assert_eq!(p.account.as_deref(), Some("111122223333"));
        assert_eq!(p.folder.as_deref(), Some("CloudTrail"));
        assert_eq!(p.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            p.dates,
            NaiveDate::from_ymd_opt(2025, 2, 1).zip(NaiveDate::from_ymd_opt(2025, 2, 28))
        );
        let p = PrefixScope::parse("AWSLogs/111122223333/CloudTrail/eu-west-1/2024/");
        assert_eq!(
            p.dates,
            NaiveDate::from_ymd_opt(2024, 1, 1).zip(NaiveDate::from_ymd_opt(2024, 12, 31))
        );
        let p = PrefixScope::parse("AWSLogs/111122223333/CloudTrail/eu-west-1/2024/12/31/");
        assert_eq!(
            p.dates,
            NaiveDate::from_ymd_opt(2024, 12, 31).zip(NaiveDate::from_ymd_opt(2024, 12, 31))
        );
        assert_eq!(PrefixScope::parse("AWSLogs/"), PrefixScope::default());
        assert_eq!(PrefixScope::parse("AWSLogs/1111"), PrefixScope::default());
        assert_eq!(PrefixScope::parse("other/"), PrefixScope::default());
    }

    #[test]
    fn skipped_kinds() {
        assert_eq!(
            classify(
                "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2025/03/01/111122223333_CloudTrail-Digest_eu-west-1_t_20250301T120000Z.json.gz"
            ),
            KeyKind::Digest
        );
        assert_eq!(
            classify("AWSLogs/111122223333/CloudTrail-Insight/eu-west-1/2025/03/01/x.json.gz"),
            KeyKind::Insight
        );
        assert_eq!(classify("AWSLogs/README.txt"), KeyKind::Other);
        assert_eq!(classify("local/events.json"), KeyKind::Log);
    }
}
