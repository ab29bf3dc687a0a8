//! What the trail can see: per trail, inference surface and period, whether the trail's event
//! selectors record the surface's calls (the `trail_coverage` table, the report's blind spots,
//! the audit's incompleteness over surfaces a trail does not record).
//!
//! A trail's selectors are learnt from:
//! - the archive's own trail events ([`TrailChange`]: `CreateTrail` gives a new trail's
//!   default selectors, `PutEventSelectors` new ones, `StopLogging`/`DeleteTrail` stop all
//!   recording until `StartLogging`);
//! - today's selectors, from `GetEventSelectors` or `--event-selectors FILE` (the JSON
//!   `aws cloudtrail get-event-selectors` prints): they hold over the audited range only when the
//!   archive shows every change since the range started ([`Freshness`]).
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
    "UpdateTrail",
    "PutEventSelectors",
    "StartLogging",
    "StopLogging",
    "DeleteTrail",
];

/// `UpdateTrail` parameters after which the trail's logs may be elsewhere or cover fewer
/// Regions or accounts.
const RELOCATING_UPDATES: &[&str] = &[
    "s3BucketName",
    "s3KeyPrefix",
    "isMultiRegionTrail",
    "isOrganizationTrail",
];

/// The account and Region a trail lives in (its ARN's), where its own changes are logged.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Home {
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
}

/// A trail: its name, and its home when known (from an ARN, or from where its change was logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailId {
    /// The name.
    pub name: String,
    /// The home, when known.
    pub home: Option<Home>,
}

impl TrailId {
    /// A trail from a name or an ARN (`arn:PARTITION:cloudtrail:REGION:ACCOUNT:trail/NAME`).
    pub fn parse(name_or_arn: &str) -> TrailId {
        match name_or_arn.rsplit_once(":trail/") {
            Some((prefix, name)) => {
                let parts: Vec<&str> = prefix.split(':').collect();
                let home = match parts.as_slice() {
                    [_, _, _, region, account] if !region.is_empty() && !account.is_empty() => {
                        Some(Home {
                            account: (*account).to_owned(),
                            region: (*region).to_owned(),
                        })
                    }
                    _ => None,
                };
                TrailId {
                    name: name.to_owned(),
                    home,
                }
            }
            None => TrailId {
                name: name_or_arn.to_owned(),
                home: None,
            },
        }
    }

    /// How rows and messages name it: `NAME` or `NAME (ACCOUNT, REGION)`.
    pub fn label(&self) -> String {
        match &self.home {
            Some(home) => format!("{} ({} {})", self.name, home.account, home.region),
            None => self.name.clone(),
        }
    }

    /// Whether a change of `name` logged in `home` may be this trail's.
    fn may_be(&self, name: &str, home: Option<&Home>) -> bool {
        name.is_empty()
            || (name == self.name
                && match (&self.home, home) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                })
    }
}

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
    /// The trail's name (the last part of an ARN); empty when the event does not say, and then
    /// it may be any trail's.
    pub trail: String,
    /// The trail's home: from an ARN in the request, else where the event was logged (a trail
    /// is changed in its home Region, by its account).
    pub home: Option<Home>,
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

/// The change a successful trail event made, from its `eventName`, `requestParameters` JSON
/// text, time and the account and Region it was logged in. An event that does not name its
/// trail is taken as any trail's when that is the cautious reading (`PutEventSelectors`,
/// `UpdateTrail`, `StopLogging`, `DeleteTrail`) and ignored otherwise; an event without a time
/// changes nothing trailmap can place.
pub fn change_of_row(
    event_name: &str,
    request_parameters: Option<&str>,
    event_time: Option<i64>,
    log_file: &str,
    account: Option<&str>,
    region: Option<&str>,
) -> Option<TrailChange> {
    let time = event_time?;
    let request: Option<Value> = request_parameters
        .and_then(|t| serde_json::from_str(t).ok())
        .filter(Value::is_object);
    let named = request.as_ref().and_then(|r| {
        ["trailName", "name", "TrailName", "Name"]
            .iter()
            .find_map(|k| r.get(k).and_then(Value::as_str))
    });
    let kind = match (event_name, &request) {
        ("CreateTrail", _) if named.is_some() => ChangeKind::Selectors(Selectors::trail_default()),
        ("PutEventSelectors", Some(request)) if named.is_some() => {
            match Selectors::from_json(request) {
                Ok(Some(selectors)) => ChangeKind::Selectors(selectors),
                Ok(None) => ChangeKind::Unreadable(
                    "its PutEventSelectors request holds no event selectors".into(),
                ),
                Err(why) => ChangeKind::Unreadable(format!(
                    "its PutEventSelectors request could not be read: {why}"
                )),
            }
        }
        ("PutEventSelectors", _) => ChangeKind::Unreadable(
            "a PutEventSelectors event logs no request naming the trail".into(),
        ),
        ("UpdateTrail", request) => {
            let changed: Vec<&str> = RELOCATING_UPDATES
                .iter()
                .copied()
                .filter(|k| request.as_ref().is_none_or(|r| r.get(k).is_some()))
                .collect();
            if changed.is_empty() {
                return None;
            }
            ChangeKind::Unreadable(format!(
                "UpdateTrail changed {}: the trail's logs may since be elsewhere or cover fewer Regions or accounts",
                changed.join(", ")
            ))
        }
        ("StartLogging", _) if named.is_some() => ChangeKind::Started,
        ("StopLogging" | "DeleteTrail", _) => ChangeKind::Stopped,
        _ => return None,
    };
    let id = named.map(TrailId::parse);
    let logged_in = account.zip(region).map(|(account, region)| Home {
        account: account.to_owned(),
        region: region.to_owned(),
    });
    Some(TrailChange {
        trail: id.as_ref().map_or(String::new(), |t| t.name.clone()),
        home: id.and_then(|t| t.home).or(logged_in),
        time,
        event_name: event_name.to_owned(),
        kind,
        log_file: log_file.to_owned(),
    })
}

/// A trail's selectors today, known without the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    /// The trail (its home from the `TrailARN`).
    pub trail: TrailId,
    /// Its selectors.
    pub selectors: Selectors,
    /// Where they come from (`GetEventSelectors`, `--event-selectors FILE`).
    pub basis: String,
}

/// Everything known about which trails wrote the sources and what they record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrailKnowledge {
    /// The trails that wrote the sources (`trail:NAME`, `--trail`, `--event-selectors`).
    pub trails: Vec<TrailId>,
    /// Today's selectors, known without the archive.
    pub declared: Vec<Declared>,
    /// Why today's selectors can never speak for the range (a warehouse: its events end at its
    /// last ingest), if so.
    pub current_not_applicable: Option<String>,
    /// `--assume-recorded` surfaces.
    pub assumed: Vec<String>,
}

impl TrailKnowledge {
    /// Adds a trail that wrote the sources, by name or ARN, once: an ARN gives a trail known
    /// by name only its home; a trail of the same name in another home is another trail.
    pub fn add_trail(&mut self, name_or_arn: &str) -> TrailId {
        let id = TrailId::parse(name_or_arn);
        let same = self.trails.iter_mut().find(|t| {
            t.name == id.name && (t.home.is_none() || id.home.is_none() || t.home == id.home)
        });
        match same {
            Some(known) => {
                if known.home.is_none() {
                    known.home.clone_from(&id.home);
                }
                known.clone()
            }
            None => {
                self.trails.push(id.clone());
                id
            }
        }
    }

    /// Today's selectors of `trail`, if known.
    fn declared_for(&self, trail: &TrailId) -> Option<&Declared> {
        self.declared.iter().find(|d| {
            d.trail.name == trail.name
                && match (&d.trail.home, &trail.home) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                }
        })
    }
}

/// What the listing says about who wrote the files and when: the delivery times of the listed
/// files per account and Region (to tell whether the archive shows every change of a trail up
/// to now), and the accounts whose files no organization trail wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Freshness {
    /// Now (µs).
    pub now: i64,
    /// Delivery times (µs) of the listed files, sorted, per account and Region of their keys.
    pub deliveries: BTreeMap<Home, Vec<i64>>,
    /// The oldest delivery of any listed file (µs).
    pub oldest_delivery: Option<i64>,
    /// Accounts with files outside an organization's folder (`AWSLogs/ACCOUNT/`, not
    /// `AWSLogs/o-ORG/ACCOUNT/`): each written by a trail of that account.
    pub account_trail_accounts: std::collections::BTreeSet<String>,
}

/// The longest stretch without a delivered file of a trail's home that still counts as read
/// without a gap, and how recent its newest file must be, for today's selectors to speak for
/// the range: CloudTrail delivers about every 5 minutes while there are events. A change in the
/// last hour may not be read yet, which is the one window left open.
const FRESH_WITHIN_MICROS: i64 = 3_600_000_000;

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
    /// These selectors.
    Known(Selectors),
    /// Not known, nor whether management events were recorded.
    Unreadable(String),
    /// Not known; management events count as recorded (every trail's default) unless today's
    /// selectors, which cannot speak for the period, do not record them either.
    Unknown(String, Option<Selectors>),
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
        Range::of_filter_or(filter, None, None)
    }

    /// The range of `--from/--to`, else of the events read (`first`, `last`), else open.
    pub fn of_filter_or(
        filter: &crate::filter::ScanFilter,
        first: Option<i64>,
        last: Option<i64>,
    ) -> Range {
        Range {
            start: filter
                .from
                .map(|t| t.timestamp_micros())
                .or(first)
                .unwrap_or(i64::MIN),
            end: filter
                .to
                .map(|t| t.timestamp_micros())
                .or(last)
                .unwrap_or(i64::MAX),
        }
    }
}

/// The `trail_coverage` rows: for each trail that wrote the sources (or one unnamed trail),
/// each catalogue entry and each period between the trail's changes within `range`.
pub fn coverage_rows(
    knowledge: &TrailKnowledge,
    changes: &[TrailChange],
    range: Range,
    freshness: &Freshness,
) -> Vec<CoverageRow> {
    let trails: Vec<Option<&TrailId>> = if knowledge.trails.is_empty() {
        vec![None]
    } else {
        knowledge.trails.iter().map(Some).collect()
    };
    let mut rows = Vec::new();
    for trail in trails {
        let label = trail.map(TrailId::label);
        for period in periods(knowledge, changes, trail, range, freshness) {
            for entry in SURFACES {
                rows.push(period.row(label.as_deref(), entry, &knowledge.assumed));
            }
        }
    }
    // Files outside an organization's folder are written by a trail of their own account: one
    // no named trail's home is in was written by a trail nobody named.
    let unnamed: Vec<&String> = freshness
        .account_trail_accounts
        .iter()
        .filter(|account| {
            !knowledge.trails.is_empty()
                && knowledge
                    .trails
                    .iter()
                    .all(|t| home_of(t, changes).is_some_and(|h| &h.account != *account))
        })
        .collect();
    if !unnamed.is_empty() {
        let accounts: Vec<&str> = unnamed.iter().map(|a| a.as_str()).collect();
        let period = Period {
            start: open_if(range.start, i64::MIN),
            end: open_if(range.end, i64::MAX),
            state: State::Unknown(
                format!(
                    "the files of account(s) {} are not in an organization's folder, so a trail of that account wrote them, not the trail(s) named: name it with --trail",
                    accounts.join(", ")
                ),
                None,
            ),
            logging_stopped: false,
            basis: "a trail not named".into(),
        };
        let label = format!("(account trail of {})", accounts.join(", "));
        for entry in SURFACES {
            rows.push(period.row(Some(&label), entry, &knowledge.assumed));
        }
    }
    rows
}

/// A trail's home: from its ARN, else where its changes in the archive were logged, when they
/// all were in one place.
fn home_of(trail: &TrailId, changes: &[TrailChange]) -> Option<Home> {
    if trail.home.is_some() {
        return trail.home.clone();
    }
    let homes: std::collections::BTreeSet<&Home> = changes
        .iter()
        .filter(|c| c.trail == trail.name)
        .filter_map(|c| c.home.as_ref())
        .collect();
    match homes.len() {
        1 => homes.into_iter().next().cloned(),
        _ => None,
    }
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
        // The user may vouch for what the selectors say, never for a stopped trail.
        if !status.is_covered() && !self.logging_stopped && assumed.iter().any(|a| a == entry.id) {
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
            State::Unreadable(why) => (Status::Unknown, Some(why.clone())),
            State::Unknown(why, today) => match (entry.recording, today) {
                (Recording::Management, None) => (Status::Recorded, None),
                (Recording::Management, Some(today)) if today.select(entry) == Selected::All => {
                    (Status::Recorded, None)
                }
                _ => (Status::Unknown, Some(why.clone())),
            },
        }
    }
}

/// CloudTrail's own `PutEventSelectors`, as selectors see it: a trail whose selectors do not
/// record it does not log its own changes.
const OWN_CHANGES: Surface = Surface {
    id: "cloudtrail",
    event_source: CLOUDTRAIL_EVENT_SOURCE,
    event_names: &["PutEventSelectors", "StopLogging", "UpdateTrail"],
    recording: Recording::Management,
    served: crate::surfaces::Served::NotLogged,
    outside_aws: false,
    note: "",
    source: "",
};

/// Whether today's selectors `declared` speak for the time from `start` on, or why not: the
/// archive must show the trail's home without a gap from `start` to the last hour, the
/// selectors must record the trail's own changes, and no change may be in the archive since.
fn fresh(
    declared: &Declared,
    knowledge: &TrailKnowledge,
    changed_since_start: bool,
    start: i64,
    freshness: &Freshness,
) -> Result<(), String> {
    if let Some(why) = &knowledge.current_not_applicable {
        return Err(why.clone());
    }
    if changed_since_start {
        return Err(
            "the trail changed since the range started, and they say only what it is now".into(),
        );
    }
    if declared.selectors.select(&OWN_CHANGES) != Selected::All {
        return Err("they do not record the trail's own changes (its management events), so the archive cannot show whether it changed".into());
    }
    let Some(home) = &declared.trail.home else {
        return Err("the trail's home account and Region are not known (name it by ARN)".into());
    };
    let Some(deliveries) = freshness.deliveries.get(home).filter(|d| !d.is_empty()) else {
        return Err(format!(
            "no file of the trail's home ({} {}) was read, so its changes cannot be seen",
            home.account, home.region
        ));
    };
    // An open start: from the oldest file listed.
    let start = if start == i64::MIN {
        freshness.oldest_delivery.unwrap_or(i64::MIN)
    } else {
        start
    };
    let mut previous = start;
    for &delivered in deliveries.iter().filter(|&&d| d > start) {
        if delivered - previous > FRESH_WITHIN_MICROS {
            return Err(format!(
                "no file of the trail's home ({} {}) was read between {} and {}, so a change then cannot be seen",
                home.account,
                home.region,
                crate::schema::format_time(previous),
                crate::schema::format_time(delivered)
            ));
        }
        previous = delivered;
    }
    if previous < freshness.now - FRESH_WITHIN_MICROS {
        return Err(format!(
            "the newest file read from the trail's home ({} {}) was delivered at {}: changes since then cannot be seen",
            home.account,
            home.region,
            crate::schema::format_time(previous)
        ));
    }
    Ok(())
}

/// The periods of one trail within `range`, split at its changes.
fn periods(
    knowledge: &TrailKnowledge,
    changes: &[TrailChange],
    trail: Option<&TrailId>,
    range: Range,
    freshness: &Freshness,
) -> Vec<Period> {
    let whole = |state: State, basis: &str| {
        vec![Period {
            start: open_if(range.start, i64::MIN),
            end: open_if(range.end, i64::MAX),
            state,
            logging_stopped: false,
            basis: basis.to_owned(),
        }]
    };
    let Some(trail) = trail else {
        return whole(
            State::Unknown(
                "which trail wrote these logs is not known, so neither are its event selectors"
                    .into(),
                None,
            ),
            "no trail named",
        );
    };
    let mut own: Vec<&TrailChange> = changes
        .iter()
        .filter(|c| trail.may_be(&c.trail, c.home.as_ref()))
        .collect();
    own.sort_by_key(|c| c.time);
    // A bare name that trails of several homes share: which changes are this trail's is unknown.
    let homes: std::collections::BTreeSet<&Home> = own
        .iter()
        .filter(|c| !c.trail.is_empty())
        .filter_map(|c| c.home.as_ref())
        .collect();
    if trail.home.is_none() && homes.len() > 1 {
        let listed: Vec<String> = homes
            .iter()
            .map(|h| format!("{} {}", h.account, h.region))
            .collect();
        return whole(
            State::Unreadable(format!(
                "trails named {} in {} changed: name the trail by ARN with --trail",
                trail.name,
                listed.join(", ")
            )),
            "ambiguous trail name",
        );
    }
    let (start, end) = (range.start, range.end);
    let changed_since_start = own.iter().any(|c| c.time > start);
    let declared = knowledge.declared_for(trail);
    let (mut state, mut basis) = match declared {
        Some(d) => match fresh(d, knowledge, changed_since_start, start, freshness) {
            Ok(()) => (State::Known(d.selectors.clone()), d.basis.clone()),
            Err(why) => (
                State::Unknown(
                    format!(
                        "{} gives today's selectors, which cannot speak for this period: {why}",
                        d.basis
                    ),
                    Some(d.selectors.clone()),
                ),
                format!("{} (not applicable)", d.basis),
            ),
        },
        None => (
            State::Unknown(
                format!(
                    "the archive holds no CreateTrail or PutEventSelectors event of trail {} before this period; read the logs in S3 (GetEventSelectors) or pass --event-selectors FILE",
                    trail.name
                ),
                None,
            ),
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

    const ARN: &str = "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail";

    const MANTLE_ON: &str = r#"{"trailName":"arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail",
        "advancedEventSelectors":[
          {"fieldSelectors":[{"field":"eventCategory","equals":["Management"]}]},
          {"fieldSelectors":[{"field":"eventCategory","equals":["Data"]},
            {"field":"resources.type","equals":["AWS::BedrockMantle::Project"]}]}]}"#;

    fn change(name: &str, request: &str, time: i64) -> TrailChange {
        change_of_row(
            name,
            Some(request),
            Some(time),
            "f.json.gz",
            Some("111122223333"),
            Some("us-east-1"),
        )
        .unwrap()
    }

    fn named(trail: &str) -> TrailKnowledge {
        let mut k = TrailKnowledge::default();
        k.add_trail(trail);
        k
    }

    fn home() -> Home {
        Home {
            account: "111122223333".into(),
            region: "us-east-1".into(),
        }
    }

    /// The home's files read every half hour from the start of the epoch up to `newest`, at
    /// `now`.
    fn fresh_at(newest: i64, now: i64) -> Freshness {
        let deliveries: Vec<i64> = (0..=newest / (FRESH_WITHIN_MICROS / 2))
            .map(|i| i * FRESH_WITHIN_MICROS / 2)
            .chain([newest])
            .collect();
        Freshness {
            now,
            deliveries: [(home(), deliveries)].into_iter().collect(),
            oldest_delivery: Some(0),
            ..Freshness::default()
        }
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
        let range = Range { start: 0, end: 100 };
        let rows = coverage_rows(&named("org-trail"), &changes, range, &Freshness::default());
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
        let range = Range { start: 0, end: 9 };
        let rows = coverage_rows(
            &TrailKnowledge::default(),
            &[],
            range,
            &Freshness::default(),
        );
        assert_eq!(status(&rows, "runtime"), [(Some(0), Status::Recorded)]);
        assert_eq!(status(&rows, "mantle"), [(Some(0), Status::Unknown)]);
    }

    #[test]
    fn stopped_logging_records_nothing_until_started_whatever_is_assumed() {
        let changes = vec![
            change("CreateTrail", r#"{"name":"org-trail"}"#, 0),
            change("StopLogging", r#"{"name":"org-trail"}"#, 10),
            change("StartLogging", r#"{"name":"org-trail"}"#, 20),
        ];
        let mut knowledge = named("org-trail");
        knowledge.assumed.push("runtime".into());
        let range = Range { start: 0, end: 30 };
        let rows = coverage_rows(&knowledge, &changes, range, &Freshness::default());
        assert_eq!(
            status(&rows, "runtime"),
            [
                (Some(0), Status::Recorded),
                (Some(10), Status::NotRecorded),
                (Some(20), Status::Recorded)
            ]
        );
    }

    /// Today's selectors hold over a range only when the archive shows every change of the
    /// trail from the range's start to within the last hour.
    #[test]
    fn todays_selectors_hold_only_when_the_archive_shows_every_change_since_the_start() {
        let mantle_on = Selectors::from_json(&serde_json::from_str(MANTLE_ON).unwrap())
            .unwrap()
            .unwrap();
        let mut knowledge = named(ARN);
        knowledge.declared.push(Declared {
            trail: TrailId::parse(ARN),
            selectors: mantle_on,
            basis: "GetEventSelectors".into(),
        });
        let hour = FRESH_WITHIN_MICROS;
        let range = Range { start: 0, end: 100 };
        let now = 10 * hour;
        let rows = coverage_rows(&knowledge, &[], range, &fresh_at(now - 60, now));
        assert_eq!(status(&rows, "mantle"), [(Some(0), Status::Recorded)]);
        // The home's files end more than an hour ago: a later change would not show.
        let rows = coverage_rows(&knowledge, &[], range, &fresh_at(now - 2 * hour, now));
        assert_eq!(status(&rows, "mantle"), [(Some(0), Status::Unknown)]);
        // No file of the home read (a member account's prefix, --source-region, ...).
        let rows = coverage_rows(
            &knowledge,
            &[],
            range,
            &Freshness {
                now,
                ..Freshness::default()
            },
        );
        assert_eq!(status(&rows, "mantle"), [(Some(0), Status::Unknown)]);
        assert!(rows.iter().any(|r| {
            r.reason
                .as_deref()
                .is_some_and(|w| w.contains("no file of the trail's home"))
        }));
        // A gap of hours in the home's files: a change then would not show.
        let mut gap = fresh_at(now - 60, now);
        gap.deliveries
            .values_mut()
            .for_each(|d| d.retain(|t| *t < hour || *t > 5 * hour));
        let rows = coverage_rows(&knowledge, &[], range, &gap);
        assert_eq!(status(&rows, "mantle"), [(Some(0), Status::Unknown)]);
        // A change in range: what came before it is not what today's selectors say.
        let changes = vec![change("PutEventSelectors", MANTLE_ON, 50)];
        let rows = coverage_rows(&knowledge, &changes, range, &fresh_at(now - 60, now));
        assert_eq!(
            status(&rows, "mantle"),
            [(Some(0), Status::Unknown), (Some(50), Status::Recorded)]
        );
        // Selectors that do not record the trail's own changes cannot vouch for their absence.
        let data_only = Selectors::from_json(&serde_json::json!({"AdvancedEventSelectors": [
            {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                {"Field": "resources.type", "Equals": ["AWS::BedrockMantle::Project"]}]}]}))
        .unwrap()
        .unwrap();
        knowledge.declared[0].selectors = data_only;
        let rows = coverage_rows(&knowledge, &[], range, &fresh_at(now - 60, now));
        assert_eq!(status(&rows, "mantle"), [(Some(0), Status::Unknown)]);
    }

    #[test]
    fn another_homes_trail_of_the_same_name_is_not_ours() {
        let other = change_of_row(
            "PutEventSelectors",
            Some(&MANTLE_ON.replace("us-east-1:111122223333", "eu-west-1:444455556666")),
            Some(50),
            "f",
            Some("444455556666"),
            Some("eu-west-1"),
        )
        .unwrap();
        let ours = change("CreateTrail", r#"{"name":"org-trail"}"#, 0);
        let range = Range { start: 0, end: 100 };
        let by_arn = coverage_rows(
            &named(ARN),
            &[ours.clone(), other.clone()],
            range,
            &Freshness::default(),
        );
        assert_eq!(status(&by_arn, "mantle"), [(Some(0), Status::NotRecorded)]);
        // By bare name, two homes changed a trail of that name: nothing can be said.
        let by_name = coverage_rows(
            &named("org-trail"),
            &[ours, other],
            range,
            &Freshness::default(),
        );
        assert_eq!(status(&by_name, "runtime"), [(Some(0), Status::Unknown)]);
    }

    #[test]
    fn an_assumed_surface_says_so() {
        let mut knowledge = TrailKnowledge::default();
        knowledge.assumed.push("mantle".into());
        let open = Range {
            start: i64::MIN,
            end: i64::MAX,
        };
        let rows = coverage_rows(&knowledge, &[], open, &Freshness::default());
        let mantle = rows.iter().find(|r| r.surface == "mantle").unwrap();
        assert_eq!(mantle.status, Status::AssumedRecorded);
        assert!(
            mantle.basis.starts_with("--assume-recorded mantle"),
            "{}",
            mantle.basis
        );
    }

    #[test]
    fn events_that_do_not_say_enough_are_read_cautiously() {
        let at = |name: &str, request: Option<&str>, time: Option<i64>| {
            change_of_row(name, request, time, "f", Some("1"), Some("r"))
        };
        assert!(at("PutEventSelectors", Some(MANTLE_ON), None).is_none());
        // A PutEventSelectors that does not say what it set, or for which trail: any trail's
        // selectors are unknown from then on.
        for request in [
            None,
            Some("{}"),
            Some(r#"{"trailName":"t","eventSelectors":[{"readWriteType":"Most"}]}"#),
        ] {
            let odd = at("PutEventSelectors", request, Some(1)).unwrap();
            assert!(matches!(odd.kind, ChangeKind::Unreadable(_)), "{request:?}");
        }
        // A StartLogging of no named trail starts nothing; a StopLogging stops any.
        assert!(at("StartLogging", None, Some(1)).is_none());
        assert_eq!(
            at("StopLogging", None, Some(1)).unwrap().kind,
            ChangeKind::Stopped
        );
        // UpdateTrail moving the logs or narrowing the Regions: unknown from then on.
        let moved = at(
            "UpdateTrail",
            Some(r#"{"name":"t","isMultiRegionTrail":false}"#),
            Some(1),
        )
        .unwrap();
        assert!(matches!(moved.kind, ChangeKind::Unreadable(_)));
        assert!(
            at(
                "UpdateTrail",
                Some(r#"{"name":"t","enableLogFileValidation":true}"#),
                Some(1)
            )
            .is_none()
        );
    }
}
