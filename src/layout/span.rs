//! The span of column values a file or a folder may hold, from what its key says.
//!
//! Account, Region and dates are exact. `event_time` comes from the delivery time (or dates):
//! CloudTrail delivers a file about five minutes after its events *on average*, with no upper
//! bound, so a file may hold events up to the delivery margin (`--delivery-margin`) older than
//! its delivery, and up to [`CLOCK_SKEW`] newer.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::layout::key::{LogKey, PrefixScope, days_since_epoch};

/// How far after its delivery time a file may hold events (clock skew between services).
pub const CLOCK_SKEW: Duration = Duration::minutes(15);

/// What is known about the keys in one container (a file or a folder of files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySpan {
    /// Account of every key, if known.
    pub account: Option<String>,
    /// Region of every key, if known.
    pub region: Option<String>,
    /// First and last `log_date`, as days since the epoch.
    pub dates: Option<(i32, i32)>,
    /// Earliest and latest `event_time`, in microseconds since the epoch.
    pub times: (Option<i64>, Option<i64>),
}

/// Earliest and latest event time of a span.
type TimeSpan = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn micros(span: TimeSpan) -> (Option<i64>, Option<i64>) {
    (
        span.0.map(|t| t.timestamp_micros()),
        span.1.map(|t| t.timestamp_micros()),
    )
}

impl KeySpan {
    /// The span of one file's key; its events may be up to `margin` older than its delivery.
    pub fn of_key(key: &LogKey, margin: Duration) -> KeySpan {
        let times = match (key.delivered, key.date) {
            (Some(delivered), _) => (Some(delivered - margin), Some(delivered + CLOCK_SKEW)),
            (None, Some(date)) => delivery_dates_span(date, date, margin),
            (None, None) => (None, None),
        };
        KeySpan {
            account: key.account.clone(),
            region: key.region.clone(),
            dates: key.date.map(|d| (days_since_epoch(d), days_since_epoch(d))),
            times: micros(times),
        }
    }

    /// The span of every key under a folder, with the delivery `margin`.
    pub fn of_folder(folder: &PrefixScope, margin: Duration) -> KeySpan {
        let times = folder.dates.map_or((None, None), |(first, last)| {
            delivery_dates_span(first, last, margin)
        });
        KeySpan {
            account: folder.account.clone(),
            region: folder.region.clone(),
            dates: folder
                .dates
                .map(|(a, b)| (days_since_epoch(a), days_since_epoch(b))),
            times: micros(times),
        }
    }
}

/// Event times of files delivered from the start of `first` to the end of `last`.
fn delivery_dates_span(first: NaiveDate, last: NaiveDate, margin: Duration) -> TimeSpan {
    let start = first.and_hms_opt(0, 0, 0).map(|t| t.and_utc() - margin);
    let end = last
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc() + Duration::days(1) + CLOCK_SKEW);
    (start, end)
}
