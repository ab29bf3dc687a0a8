//! What the trail can see: per trail, inference surface and period, whether the trail's event
//! selectors record the surface's calls (the `trail_coverage` table, the report's blind spots,
//! the audit's incompleteness over surfaces a trail does not record).
//!
//! A trail's selectors are learnt from:
//! - the archive's own trail events ([`TrailChange`]: `CreateTrail` gives a new trail's
//!   default selectors, `PutEventSelectors` new ones, `StopLogging`/`DeleteTrail` stop all
//!   recording until `StartLogging`);
//! - `GetEventSelectors` (today's selectors: they hold over the audited range only when the
//!   range reaches today, the archive shows no change in it, and no `--account` or
//!   `--source-region` filter kept the trail's own events from being read);
//! - `--event-selectors FILE`: the user's word that these were the selectors before any change
//!   the archive shows.
//!
//! Management events are recorded by every trail unless its selectors say otherwise; a data
//! event is recorded only when the selectors are known and select it. Nothing else is assumed.

pub mod known;
pub mod selectors;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::surfaces::{Recording, SURFACES, Surface};
pub use selectors::{Selected, Selectors};

/// `eventSource` of CloudTrail's own API.
pub const CLOUDTRAIL_EVENT_SOURCE: &str = "cloudtrail.amazonaws.com";

/// The CloudTrail events that change what a trail records.
pub const TRAIL_CHANGE_EVENTS: &[&str] = &[
    "CreateTrail",
    "PutEventSelectors",
    "StartLogging",
    "StopLogging",
    "DeleteTrail",
];

/// What a trail event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// New selectors.
    Selectors(Selectors),
    /// Selectors that could not be read, and why: unknown from then on.
    Unreadable(String),
    /// Logging started.
    Started,
    /// Logging stopped (`StopLogging`, `DeleteTrail`).
    Stopped,
}

/// One trail event of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailChange {
    /// The trail's name (the last part of an ARN).
    pub trail: String,
    /// When (microseconds since the epoch).
    pub time: i64,
    /// `eventName`.
    pub event_name: String,
    /// What it did.
    pub kind: ChangeKind,
    /// The log file holding it.
    pub log_file: String,
}

/// Whether an event may change what a trail records.
pub fn is_trail_change(event_source: Option<&str>, event_name: Option<&str>) -> bool {
    event_source == Some(CLOUDTRAIL_EVENT_SOURCE)
        && event_name.is_some_and(|n| TRAIL_CHANGE_EVENTS.contains(&n))
}

/// A trail's name from a name or an ARN (`arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME`).
pub fn trail_name(name_or_arn: &str) -> &str {
    name_or_arn
        .rsplit_once(":trail/")
        .map_or(name_or_arn, |(_, name)| name)
}

/// The change a successful trail event made, from its `eventName`, `requestParameters` JSON
/// text and time (an event without a time or a trail name changes nothing trailmap can place).
pub fn change_of_row(
    event_name: &str,
    request_parameters: Option<&str>,
    event_time: Option<i64>,
    log_file: &str,
) -> Option<TrailChange> {
    let time = event_time?;
    let request: Value = serde_json::from_str(request_parameters?).ok()?;
    let trail = ["trailName", "name", "TrailName", "Name"]
        .iter()
        .find_map(|k| request.get(k).and_then(Value::as_str))?;
    let kind = match event_name {
        "CreateTrail" => ChangeKind::Selectors(Selectors::trail_default()),
        "PutEventSelectors" => match Selectors::from_json(&request) {
            Ok(Some(selectors)) => ChangeKind::Selectors(selectors),
            Ok(None) => ChangeKind::Unreadable("the request holds no event selectors".into()),
            Err(why) => ChangeKind::Unreadable(why),
        },
        "StartLogging" => ChangeKind::Started,
        "StopLogging" | "DeleteTrail" => ChangeKind::Stopped,
        _ => return None,
    };
    Some(TrailChange {
        trail: trail_name(trail).to_owned(),
        time,
        event_name: event_name.to_owned(),
        kind,
        log_file: log_file.to_owned(),
    })
}

/// Selectors known without the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The trail.
    pub trail: String,
    /// Its selectors.
    pub selectors: Selectors,
    /// Where they come from (`GetEventSelectors`, `--event-selectors FILE`).
    pub basis: String,
    /// Whether they are today's selectors (GetEventSelectors), valid only back to the last
    /// change; otherwise the user's word for the time before any change the archive shows.
    pub current: bool,
}

/// Everything known about which trails wrote the sources and what they record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailKnowledge {
    /// The trails that wrote the sources (`trail:NAME`, `--trail`, `--event-selectors`).
    pub trails: Vec<String>,
    /// Selectors known without the archive.
    pub declared: Vec<Declared>,
    /// Why today's selectors cannot speak for the range (a `--to` before today, an
    /// `--account`/`--source-region` filter), if so.
    pub current_not_applicable: Option<String>,
    /// `--assume-recorded` surfaces.
    pub assumed: Vec<String>,
    /// Trails whose selectors could not be asked for, and why.
    pub failures: Vec<String>,
}

impl TrailKnowledge {
    /// Adds a trail that wrote the sources (once).
    pub fn add_trail(&mut self, name: &str) {
        let name = trail_name(name).to_owned();
        if !self.trails.contains(&name) {
            self.trails.push(name);
        }
    }
}

/// Whether a trail records a surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Status {
    /// Every call.
    #[serde(rename = "recorded")]
    Recorded,
    /// Not recorded, but the user says it is (`--assume-recorded`).
    #[serde(rename = "assumed recorded")]
    AssumedRecorded,
    /// Some calls at most.
    #[serde(rename = "partly recorded")]
    PartlyRecorded,
    /// Not known.
    #[serde(rename = "unknown")]
    Unknown,
    /// No call.
    #[serde(rename = "not recorded")]
    NotRecorded,
}

impl Status {
    /// The `status` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Recorded => "recorded",
            Status::AssumedRecorded => "assumed recorded",
            Status::PartlyRecorded => "partly recorded",
            Status::Unknown => "unknown",
            Status::NotRecorded => "not recorded",
        }
    }

    /// Whether every call of the surface is in the archive (as far as the trail goes), or the
    /// user says so.
    pub fn is_covered(self) -> bool {
        matches!(self, Status::Recorded | Status::AssumedRecorded)
    }
}

/// One row of `trail_coverage`: one trail, one catalogue entry, one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverageRow {
    /// The trail (`None`: not known which trail wrote the sources).
    pub trail: Option<String>,
    /// The surface id.
    pub surface: &'static str,
    /// Its event source.
    pub event_source: &'static str,
    /// Its event names, comma-separated.
    pub event_names: String,
    /// `Management`, `Data`, or `None` when AWS does not document it.
    pub event_category: Option<&'static str>,
    /// The data event resource type.
    pub resource_type: Option<&'static str>,
    /// Start of the period (µs).
    #[serde(serialize_with = "crate::schema::serialize_time")]
    pub period_start: Option<i64>,
    /// End of the period (µs).
    #[serde(serialize_with = "crate::schema::serialize_time")]
    pub period_end: Option<i64>,
    /// Whether the trail records the calls over the period.
    pub status: Status,
    /// What says so.
    pub basis: String,
    /// Why, when not every call is recorded.
    pub reason: Option<String>,
}

/// What a trail's selectors were over a period, and what says so.
#[derive(Debug, Clone)]
enum State {
    Known(Selectors),
    Unreadable(String),
    Unknown(String),
}

/// The audited range: `--from`/`--to`, or the first and last event read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Start (µs; `i64::MIN`: open).
    pub start: i64,
    /// End (µs; `i64::MAX`: open).
    pub end: i64,
}

impl Range {
    /// The range of `--from/--to`, open where not given.
    pub fn of_filter(filter: &crate::filter::ScanFilter) -> Range {
        Range {
            start: filter.from.map_or(i64::MIN, |t| t.timestamp_micros()),
            end: filter.to.map_or(i64::MAX, |t| t.timestamp_micros()),
        }
    }
}

/// The `trail_coverage` rows: for each trail that wrote the sources (or one unnamed trail),
/// each catalogue entry and each period between the trail's changes within `range`.
pub fn coverage_rows(
    knowledge: &TrailKnowledge,
    changes: &[TrailChange],
    range: Range,
) -> Vec<CoverageRow> {
    let trails: Vec<Option<&str>> = if knowledge.trails.is_empty() {
        vec![None]
    } else {
        knowledge.trails.iter().map(|t| Some(t.as_str())).collect()
    };
    let mut rows = Vec::new();
    for trail in trails {
        for period in periods(knowledge, changes, trail, range) {
            for entry in SURFACES {
                rows.push(period.row(trail, entry, &knowledge.assumed));
            }
        }
    }
    rows
}

/// One stretch of time with one state.
struct Period {
    start: Option<i64>,
    end: Option<i64>,
    state: State,
    logging_stopped: bool,
    basis: String,
}

impl Period {
    fn row(&self, trail: Option<&str>, entry: &'static Surface, assumed: &[String]) -> CoverageRow {
        let (event_category, resource_type) = match entry.recording {
            Recording::Management => (Some("Management"), None),
            Recording::Data { resource_type } => (Some("Data"), Some(resource_type)),
            Recording::Unknown => (None, None),
        };
        let (mut status, reason) = self.judge(entry);
        let mut basis = self.basis.clone();
        if !status.is_covered() && assumed.iter().any(|a| a == entry.id) {
            status = Status::AssumedRecorded;
            basis = format!("--assume-recorded {} (was: {basis})", entry.id);
        }
        CoverageRow {
            trail: trail.map(str::to_owned),
            surface: entry.id,
            event_source: entry.event_source,
            event_names: entry.event_names.join(","),
            event_category,
            resource_type,
            period_start: self.start,
            period_end: self.end,
            status,
            basis,
            reason,
        }
    }

    fn judge(&self, entry: &Surface) -> (Status, Option<String>) {
        if self.logging_stopped {
            return (Status::NotRecorded, Some("logging was stopped".into()));
        }
        if entry.recording == Recording::Unknown {
            return (
                Status::Unknown,
                Some(
                    "AWS documents no CloudTrail recording for these calls: whether any trail \
                     records them is unknown"
                        .into(),
                ),
            );
        }
        match &self.state {
            State::Known(selectors) => match selectors.select(entry) {
                Selected::All => (Status::Recorded, None),
                Selected::Some(why) => (Status::PartlyRecorded, Some(why)),
                Selected::None(why) => (Status::NotRecorded, Some(why)),
            },
            State::Unreadable(why) => (
                Status::Unknown,
                Some(format!("the trail's selectors could not be read: {why}")),
            ),
            State::Unknown(why) => match entry.recording {
                Recording::Management => (Status::Recorded, None),
                _ => (Status::Unknown, Some(why.clone())),
            },
        }
    }
}

/// The periods of one trail within `range`, split at its changes.
fn periods(
    knowledge: &TrailKnowledge,
    changes: &[TrailChange],
    trail: Option<&str>,
    range: Range,
) -> Vec<Period> {
    let Some(trail) = trail else {
        return vec![Period {
            start: open_if(range.start, i64::MIN),
            end: open_if(range.end, i64::MAX),
            state: State::Unknown(
                "which trail wrote these logs is not known, so neither are its event selectors"
                    .into(),
            ),
            logging_stopped: false,
            basis: "no trail named".into(),
        }];
    };
    let mut own: Vec<&TrailChange> = changes.iter().filter(|c| c.trail == trail).collect();
    own.sort_by_key(|c| c.time);
    let (start, end) = (range.start, range.end);
    let declared_file = knowledge
        .declared
        .iter()
        .find(|d| d.trail == trail && !d.current);
    let declared_now = knowledge
        .declared
        .iter()
        .find(|d| d.trail == trail && d.current);
    // The state before the first change of the archive.
    let changed_since_start = own.iter().any(|c| c.time > start);
    let (mut state, mut basis) = match (declared_file, declared_now) {
        (Some(d), _) => (State::Known(d.selectors.clone()), d.basis.clone()),
        (None, Some(d)) if !changed_since_start && knowledge.current_not_applicable.is_none() => {
            (State::Known(d.selectors.clone()), d.basis.clone())
        }
        (None, Some(_)) => (
            State::Unknown(match &knowledge.current_not_applicable {
                Some(why) => format!("GetEventSelectors gives today's selectors, which {why}"),
                None => "the trail's selectors changed within the range (GetEventSelectors gives only the latest) and the archive does not show what they were before".into(),
            }),
            "GetEventSelectors (not applicable)".into(),
        ),
        (None, None) => (
            State::Unknown(format!(
                "the archive holds no CreateTrail or PutEventSelectors event of trail {trail} before this period; pass --event-selectors FILE"
            )),
            "no selectors known".into(),
        ),
    };
    let mut logging_stopped = false;
    let mut periods = Vec::new();
    let mut period_start = start;
    for change in own {
        if change.time > end {
            break;
        }
        if change.time > period_start {
            // An open start before the trail's CreateTrail: the trail wrote no log then. (Within
            // a range the time before it stays: those logs came from some other trail.)
            if change.event_name != "CreateTrail" || period_start != i64::MIN {
                periods.push(Period {
                    start: open_if(period_start, i64::MIN),
                    end: Some(change.time),
                    state: state.clone(),
                    logging_stopped,
                    basis: basis.clone(),
                });
            }
            period_start = change.time;
        }
        basis = format!(
            "{} at {} in {}",
            change.event_name,
            crate::schema::format_time(change.time),
            change.log_file
        );
        match &change.kind {
            ChangeKind::Selectors(s) => state = State::Known(s.clone()),
            ChangeKind::Unreadable(why) => state = State::Unreadable(why.clone()),
            ChangeKind::Started => logging_stopped = false,
            ChangeKind::Stopped => logging_stopped = true,
        }
    }
    periods.push(Period {
        start: open_if(period_start, i64::MIN),
        end: open_if(end, i64::MAX),
        state,
        logging_stopped,
        basis,
    });
    periods
}

/// `time`, or none when it is the open end `open`.
fn open_if(time: i64, open: i64) -> Option<i64> {
    (time != open).then_some(time)
}

/// One surface's recording over the whole range and every trail: the worst of its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurfaceRecording {
    /// The surface id.
    pub surface: &'static str,
    /// The worst status of its rows.
    pub status: Status,
    /// Its rows that are not [`Status::Recorded`].
    pub rows: Vec<CoverageRow>,
}

/// Each surface's recording, in catalogue order.
pub fn by_surface(rows: &[CoverageRow]) -> Vec<SurfaceRecording> {
    let mut summary: BTreeMap<usize, SurfaceRecording> = BTreeMap::new();
    for row in rows {
        let order = SURFACES
            .iter()
            .position(|s| s.id == row.surface)
            .unwrap_or(usize::MAX);
        let entry = summary.entry(order).or_insert(SurfaceRecording {
            surface: row.surface,
            status: Status::Recorded,
            rows: Vec::new(),
        });
        entry.status = entry.status.max(row.status);
        if row.status != Status::Recorded {
            entry.rows.push(row.clone());
        }
    }
    summary.into_values().collect()
}

/// Rows as short lines, one per status, trail, period and reason, naming every surface that
/// shares them: `mantle, claude-platform: not recorded by trail t from A to B: reason [basis]`.
pub fn explain<'r>(rows: impl IntoIterator<Item = &'r CoverageRow>) -> Vec<String> {
    type Key = (
        Status,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        String,
    );
    let mut groups: Vec<(Key, Vec<&'static str>)> = Vec::new();
    for row in rows {
        let key: Key = (
            row.status,
            row.trail.clone(),
            row.period_start,
            row.period_end,
            row.reason.clone(),
            row.basis.clone(),
        );
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, surfaces)) if surfaces.contains(&row.surface) => {}
            Some((_, surfaces)) => surfaces.push(row.surface),
            None => groups.push((key, vec![row.surface])),
        }
    }
    let time = |t: Option<i64>| t.map_or("…".to_owned(), crate::schema::format_time);
    groups
        .into_iter()
        .map(|((status, trail, start, end, reason, basis), surfaces)| {
            let by = trail.map_or(String::new(), |t| format!(" by trail {t}"));
            let why = reason.map_or(String::new(), |r| format!(": {r}"));
            // The log file is in trail_coverage and the JSON; the line names the event.
            let basis = basis.split(" in ").next().unwrap_or_default();
            format!(
                "{}: {}{by} from {} to {}{why} [{basis}]",
                surfaces.join(", "),
                status.as_str(),
                time(start),
                time(end)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_says_what_the_table_says() {
        for status in [
            Status::Recorded,
            Status::AssumedRecorded,
            Status::PartlyRecorded,
            Status::Unknown,
            Status::NotRecorded,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    const MANTLE_ON: &str = r#"{"trailName":"arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail",
        "advancedEventSelectors":[
          {"fieldSelectors":[{"field":"eventCategory","equals":["Management"]}]},
          {"fieldSelectors":[{"field":"eventCategory","equals":["Data"]},
            {"field":"resources.type","equals":["AWS::BedrockMantle::Project"]}]}]}"#;

    fn change(name: &str, request: &str, time: i64) -> TrailChange {
        change_of_row(name, Some(request), Some(time), "f.json.gz").unwrap()
    }

    fn named(trail: &str) -> TrailKnowledge {
        let mut k = TrailKnowledge::default();
        k.add_trail(trail);
        k
    }

    fn status(rows: &[CoverageRow], surface: &str) -> Vec<(Option<i64>, Status)> {
        rows.iter()
            .filter(|r| r.surface == surface)
            .map(|r| (r.period_start, r.status))
            .collect()
    }

    #[test]
    fn mantle_switched_on_midway_is_recorded_only_after() {
        let changes = vec![
            change(
                "CreateTrail",
                r#"{"name":"org-trail","s3BucketName":"b"}"#,
                0,
            ),
            change("PutEventSelectors", MANTLE_ON, 50),
        ];
        let rows = coverage_rows(&named("org-trail"), &changes, Range { start: 0, end: 100 });
        assert_eq!(
            status(&rows, "mantle"),
            [(Some(0), Status::NotRecorded), (Some(50), Status::Recorded)]
        );
        assert_eq!(
            status(&rows, "runtime"),
            [(Some(0), Status::Recorded), (Some(50), Status::Recorded)]
        );
        let summary = by_surface(&rows);
        let mantle = summary.iter().find(|s| s.surface == "mantle").unwrap();
        assert_eq!(mantle.status, Status::NotRecorded);
        let lines = explain(&mantle.rows);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("mantle: not recorded by trail org-trail from"),
            "{lines:?}"
        );
        assert!(lines[0].contains("[CreateTrail at"), "{lines:?}");
    }

    #[test]
    fn without_a_named_trail_data_events_are_unknown_and_management_recorded() {
        let rows = coverage_rows(&TrailKnowledge::default(), &[], Range { start: 0, end: 9 });
        assert_eq!(status(&rows, "runtime"), [(Some(0), Status::Recorded)]);
        assert_eq!(status(&rows, "mantle"), [(Some(0), Status::Unknown)]);
    }

    #[test]
    fn stopped_logging_records_nothing_until_started() {
        let changes = vec![
            change("CreateTrail", r#"{"name":"t"}"#, 0),
            change("StopLogging", r#"{"name":"t"}"#, 10),
            change("StartLogging", r#"{"name":"t"}"#, 20),
        ];
        let rows = coverage_rows(&named("t"), &changes, Range { start: 0, end: 30 });
        assert_eq!(
            status(&rows, "runtime"),
            [
                (Some(0), Status::Recorded),
                (Some(10), Status::NotRecorded),
                (Some(20), Status::Recorded)
            ]
        );
    }

    #[test]
    fn todays_selectors_hold_only_when_nothing_changed_in_range() {
        let mantle_on = Selectors::from_json(&serde_json::from_str(MANTLE_ON).unwrap())
            .unwrap()
            .unwrap();
        let mut knowledge = named("org-trail");
        knowledge.declared.push(Declared {
            trail: "org-trail".into(),
            selectors: mantle_on,
            basis: "GetEventSelectors".into(),
            current: true,
        });
        let range = Range { start: 0, end: 100 };
        let rows = coverage_rows(&knowledge, &[], range);
        assert_eq!(status(&rows, "mantle"), [(Some(0), Status::Recorded)]);
        // A change in range: what came before it is not what GetEventSelectors says.
        let changes = vec![change("PutEventSelectors", MANTLE_ON, 50)];
        let rows = coverage_rows(&knowledge, &changes, range);
        assert_eq!(
            status(&rows, "mantle"),
            [(Some(0), Status::Unknown), (Some(50), Status::Recorded)]
        );
        // A range ending before today.
        knowledge.current_not_applicable =
            Some("say nothing of a range ending before today".into());
        let rows = coverage_rows(&knowledge, &[], range);
        assert_eq!(status(&rows, "mantle"), [(Some(0), Status::Unknown)]);
    }

    #[test]
    fn an_assumed_surface_says_so() {
        let mut knowledge = TrailKnowledge::default();
        knowledge.assumed.push("mantle".into());
        let rows = coverage_rows(
            &knowledge,
            &[],
            Range {
                start: i64::MIN,
                end: i64::MAX,
            },
        );
        let mantle = rows.iter().find(|r| r.surface == "mantle").unwrap();
        assert_eq!(mantle.status, Status::AssumedRecorded);
        assert!(
            mantle.basis.starts_with("--assume-recorded mantle"),
            "{}",
            mantle.basis
        );
    }

    #[test]
    fn failed_or_foreign_events_change_nothing() {
        assert!(change_of_row("PutEventSelectors", Some("{}"), Some(1), "f").is_none());
        assert!(change_of_row("PutEventSelectors", Some(MANTLE_ON), None, "f").is_none());
        let odd = change_of_row(
            "PutEventSelectors",
            Some(r#"{"trailName":"t","eventSelectors":[{"readWriteType":"Most"}]}"#),
            Some(1),
            "f",
        )
        .unwrap();
        assert!(matches!(odd.kind, ChangeKind::Unreadable(_)));
    }
}
