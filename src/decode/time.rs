//! `eventTime` → microseconds since the epoch.

use chrono::{DateTime, NaiveDate};

/// Parses a CloudTrail `eventTime`. The usual `2025-03-01T12:34:56Z` takes a fast path; any
/// other RFC 3339 form (fractions, offsets) is parsed by chrono; anything else is `None`.
pub fn parse_event_time(text: &str) -> Option<i64> {
    parse_plain_utc(text.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.timestamp_micros())
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` exactly.
fn parse_plain_utc(b: &[u8]) -> Option<i64> {
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = date.and_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    Some(time.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = parse_event_time("2025-03-01T12:34:56Z").unwrap();
        assert_eq!(t, 1_740_832_496_000_000);
        assert_eq!(
            parse_event_time("2025-03-01T12:34:56.250Z"),
            Some(t + 250_000)
        );
        assert_eq!(parse_event_time("2025-03-01T13:34:56+01:00"), Some(t));
        assert_eq!(parse_event_time("2025-02-30T12:34:56Z"), None);
        assert_eq!(parse_event_time("yesterday"), None);
        assert_eq!(parse_event_time(""), None);
    }
}
