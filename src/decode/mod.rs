//! One log file's bytes → Arrow [`RecordBatch`]es of the projected `events` columns.
//!
//! gzip ([`gzip`], inflated as it is read) → a window of JSON text at a time ([`stream`]) →
//! records borrowed from it ([`record`], read by [`skim`] or serde_json) → per-column values
//! ([`row`]) → Arrow builders flushed every `batch_size` rows ([`batch`]). A file is decoded
//! whole or not at all: any failure returns a [`DecodeError`] and no rows. Only the projected
//! columns are built, and nested JSON is parsed only for the columns that need it.

pub mod batch;
pub mod caller;
pub mod gzip;
pub mod profiles;
pub mod pushdown;
pub mod record;
pub mod row;
pub mod sessions;
pub mod skim;
pub mod stream;
pub mod text_hash;
pub mod time;

use std::io::{BufRead, Read};
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::execution::memory_pool::MemoryReservation;

use crate::coverage::{self, TrailChange};
use crate::error::{DecodeError, LoadStage};
use crate::filter::ScanFilter;
use crate::layout::key::FileContext;
use crate::regions;
use crate::schema::Column;
use batch::{BatchBuilder, DecodedBatch, PendingCall};
use profiles::ProfileMap;
use row::{Needs, Row};
use sessions::{SessionMap, SessionTags};
use text_hash::HashingRead;
use time::parse_event_time;

/// Rows per batch unless the plan is given DataFusion's `batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// What to build from each file: the projected columns, the record filter and the application
/// profiles known so far.
#[derive(Debug, Clone)]
pub struct DecodePlan {
    columns: Vec<Column>,
    schema: SchemaRef,
    filter: ScanFilter,
    needs: Needs,
    profiles: Arc<ProfileMap>,
    profiles_complete: bool,
    sessions: Option<Arc<SessionTags>>,
    max_file_size: u64,
    batch_size: usize,
    records: pushdown::RecordFilter,
    hash_text: bool,
}

impl DecodePlan {
    /// A plan that builds `columns` (in this order) of the records `filter` keeps, resolving
    /// application profiles with `profiles` (those of `--profiles`; the archive's own are added
    /// by [`DecodePlan::with_all_profiles`] when a file needs them).
    pub fn new(columns: Vec<Column>, filter: ScanFilter, profiles: Arc<ProfileMap>) -> Self {
        let schema = Arc::new(Schema::new(
            columns.iter().map(|c| c.field()).collect::<Vec<_>>(),
        ));
        let needs = Needs::of(&columns);
        DecodePlan {
            columns,
            schema,
            filter,
            needs,
            profiles,
            profiles_complete: false,
            sessions: None,
            max_file_size: gzip::DEFAULT_MAX_FILE_SIZE,
            batch_size: DEFAULT_BATCH_SIZE,
            records: pushdown::RecordFilter::default(),
            hash_text: false,
        }
    }

    /// The same plan keeping only the records `records` keeps (evaluated before anything but
    /// the record's top-level fields is read).
    pub fn with_record_filter(self, records: pushdown::RecordFilter) -> Self {
        DecodePlan { records, ..self }
    }

    /// The SQL filters the plan evaluates itself.
    pub fn record_filter(&self) -> &pushdown::RecordFilter {
        &self.records
    }

    /// The same plan refusing files whose JSON text is larger than `bytes`.
    pub fn with_max_file_size(self, bytes: u64) -> Self {
        DecodePlan {
            max_file_size: bytes,
            ..self
        }
    }

    /// The same plan hashing each file's JSON text as it decodes it ([`Decoded::sha256`]).
    pub fn with_text_hash(self, hash_text: bool) -> Self {
        DecodePlan { hash_text, ..self }
    }

    /// The same plan flushing a batch every `rows` rows (DataFusion's `batch_size`).
    pub fn with_batch_size(self, rows: usize) -> Self {
        DecodePlan {
            batch_size: rows.max(1),
            ..self
        }
    }

    /// The same plan with every application profile there is to know (the archive's
    /// `CreateInferenceProfile` events and `--profiles`).
    pub fn with_all_profiles(&self, profiles: Arc<ProfileMap>) -> Self {
        DecodePlan {
            profiles,
            profiles_complete: true,
            ..self.clone()
        }
    }

    /// The same plan with the session tags of every session there is to know, so that no row
    /// waits for them.
    pub fn with_all_sessions(&self, sessions: Arc<SessionTags>) -> Self {
        DecodePlan {
            sessions: Some(sessions),
            ..self.clone()
        }
    }

    /// Whether the plan builds `session_tags` without knowing every session yet.
    pub fn waits_for_sessions(&self) -> bool {
        self.sessions.is_none() && self.columns.contains(&Column::SessionTags)
    }

    /// Whether the plan already knows every application profile.
    pub fn has_all_profiles(&self) -> bool {
        self.profiles_complete
    }

    /// The schema of the batches this plan builds.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The projected columns.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Rows per batch at most.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }
}

/// A decoded file.
#[derive(Debug)]
pub struct Decoded {
    /// The rows the filter kept, projected, in batches of at most the plan's batch size.
    pub batches: Vec<DecodedBatch>,
    /// Records in the file, before filtering.
    pub records: usize,
    /// Bytes of JSON text decoded.
    pub json_bytes: u64,
    /// The earliest `eventTime` in the file (microseconds), all records counted.
    pub oldest_event: Option<i64>,
    /// Records whose `eventTime` is missing or does not parse.
    pub bad_times: usize,
    /// The application profiles the file's `CreateInferenceProfile` events create.
    pub created_profiles: ProfileMap,
    /// The sessions the file's STS events issue (all records, whatever the filters), when the
    /// plan collects them ([`DecodePlan::waits_for_sessions`]).
    pub issued_sessions: Option<SessionMap>,
    /// The file's trail events that change what a trail records (all records, whatever the
    /// filters).
    pub trail_changes: Vec<TrailChange>,
    /// SHA-256 of the JSON text, when the plan hashes it.
    pub sha256: Option<[u8; 32]>,
}

/// The rows of a decoded batch that call one application profile the plan did not know, from
/// one source Region (a batch keeps one such group per profile and Region, not one per row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The rows in the batch.
    pub rows: Vec<u32>,
    /// The profile's ARN (`model_id`).
    pub arn: String,
    /// The record's source Region (`aws_region`).
    pub aws_region: Option<String>,
    /// The records log no `inferenceRegion`: their served Region depends on the profile too.
    pub served: bool,
}

impl Pending {
    /// Memory the group holds.
    pub fn size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.rows.capacity() * std::mem::size_of::<u32>()
            + self.arn.capacity()
            + self.aws_region.as_ref().map_or(0, String::capacity)
    }
}

/// `batch` with the values of its `pending` rows filled in from `profiles`: `model` and
/// `routing_scope` from what the profile copies, `served_region` / `served_geography` the
/// source Region when it copies a foundation model. Rows whose profile `profiles` does not know
/// either stay null.
pub fn resolve_pending(
    batch: &RecordBatch,
    columns: &[Column],
    pending: &[Pending],
    profiles: &ProfileMap,
) -> Result<RecordBatch, DecodeError> {
    let mut arrays = batch.columns().to_vec();
    for (index, column) in columns.iter().enumerate() {
        let value = |p: &Pending| -> Option<Option<String>> {
            let profile = profiles.get(&p.arn)?;
            let served = || profile.in_region.then(|| p.aws_region.clone()).flatten();
            Some(match column {
                Column::Model => profile.model.clone(),
                Column::RoutingScope => profile.routing_scope.clone(),
                Column::ServedRegion if p.served => served(),
                Column::ServedGeography if p.served => {
                    served().and_then(|r| regions::geography(&r).map(str::to_owned))
                }
                _ => return None,
            })
        };
        let replacements: Vec<(&[u32], Option<String>)> = pending
            .iter()
            .filter_map(|p| value(p).map(|v| (p.rows.as_slice(), v)))
            .collect();
        if replacements.is_empty() {
            continue;
        }
        let Some(old) = arrays[index].as_string_opt::<i32>() else {
            continue;
        };
        let mut values: Vec<Option<String>> = old.iter().map(|v| v.map(str::to_owned)).collect();
        for (rows, value) in replacements {
            for &row in rows {
                if let Some(slot) = values.get_mut(row as usize) {
                    slot.clone_from(&value);
                }
            }
        }
        arrays[index] = Arc::new(values.into_iter().collect::<StringArray>());
    }
    RecordBatch::try_new(batch.schema(), arrays)
        .map_err(|e| DecodeError::new(LoadStage::Schema, format!("resolving profiles: {e}")))
}

/// Decodes one file, read from `input` as it comes (the JSON text is never held whole: see
/// [`stream`]). `named_gzip` tells whether its name ends in `.gz`. The batches' memory is added
/// to `memory` as they are built; a refusal of its pool stops the decoding with an error for
/// which [`DecodeError::is_out_of_memory`] holds. The file is decoded whole or not at all: on
/// any failure no batch is returned.
pub fn decode_file<R: BufRead>(
    input: R,
    named_gzip: bool,
    file: &FileContext,
    plan: &DecodePlan,
    memory: &mut MemoryReservation,
) -> Result<Decoded, DecodeError> {
    let mut text = HashingRead::new(gzip::JsonText::open(input, named_gzip)?, plan.hash_text);
    let mut batches = BatchBuilder::new(
        Arc::clone(&plan.schema),
        &plan.columns,
        plan.batch_size,
        memory,
    );
    let mut oldest_event: Option<i64> = None;
    let mut bad_times = 0;
    let mut created_profiles = ProfileMap::default();
    let mut issued_sessions = plan.waits_for_sessions().then(SessionMap::default);
    let mut trail_changes = Vec::new();
    let profiles = Some(plan.profiles.as_ref());
    let known_sessions = plan.sessions.as_deref();
    // A file the `log_date` filters leave out is still read whole, for its counts and profiles.
    let file_kept = plan.records.keeps_file(file.log_date);
    let read = stream::read_records(&mut text, plan.max_file_size, |record, _| {
        if record.event_name.get() == Some("CreateInferenceProfile") {
            created_profiles.collect_record(record, &file.log_file);
        } else if let Some(change) = change_of_record(record, &file.log_file) {
            trail_changes.push(change);
        } else if let Some(sessions) = issued_sessions.as_mut() {
            sessions.collect_record(record, &file.log_file);
        }
        // Every record's time counts for the coverage (delivery lag, unparsable times).
        let time = record.event_time.get().and_then(parse_event_time);
        match time {
            Some(t) => oldest_event = Some(oldest_event.map_or(t, |o| o.min(t))),
            None => bad_times += 1,
        }
        // Both filters read top-level fields only: a record they leave out is not parsed further.
        let kept_by_flags = plan.filter.is_empty()
            || plan.filter.keeps_record(
                time,
                record.recipient_account_id.get(),
                record.aws_region.get(),
            );
        if !file_kept || !kept_by_flags || !plan.records.keeps(record, time) {
            return Ok(());
        }
        let row = Row::new(record, time, file, plan.needs);
        let pending = if (plan.needs.model || plan.needs.served) && !plan.profiles_complete {
            row.unknown_profile(&plan.columns, profiles)
                .map(|(arn, served)| PendingCall {
                    arn,
                    aws_region: record.aws_region.get(),
                    served,
                })
        } else {
            None
        };
        let waits_for_sessions = row.waits_for_sessions(&plan.columns, known_sessions);
        batches.append(
            plan.columns
                .iter()
                .map(|c| row.value(*c, profiles, known_sessions)),
            pending,
            waits_for_sessions,
        )
    })?;
    let (text, sha256) = text.finish().map_err(gzip::read_error)?;
    text.finish()?;
    Ok(Decoded {
        batches: batches.finish()?,
        records: read.records,
        json_bytes: read.bytes,
        oldest_event,
        bad_times,
        created_profiles,
        issued_sessions,
        trail_changes,
        sha256,
    })
}

/// `batch` (of `columns`) with the access keys its `session_tags` holds replaced by their
/// tags, as `tags_of` gives them (from every session of the archive): null where the issuing
/// event is not known.
pub fn resolve_session_tags(
    batch: &RecordBatch,
    columns: &[Column],
    mut tags_of: impl FnMut(&str) -> Option<String>,
) -> Result<RecordBatch, DecodeError> {
    let Some(index) = columns.iter().position(|c| *c == Column::SessionTags) else {
        return Ok(batch.clone());
    };
    let mut arrays = batch.columns().to_vec();
    let Some(keys) = arrays[index].as_string_opt::<i32>() else {
        return Ok(batch.clone());
    };
    let tags: StringArray = keys.iter().map(|key| key.and_then(&mut tags_of)).collect();
    arrays[index] = Arc::new(tags);
    RecordBatch::try_new(batch.schema(), arrays)
        .map_err(|e| DecodeError::new(LoadStage::Schema, format!("resolving session tags: {e}")))
}

/// What one file says about the whole archive: the application profiles it creates and the
/// trail events that change what a trail records.
#[derive(Debug, Default)]
pub struct ArchiveFacts {
    /// Profiles created by its `CreateInferenceProfile` events.
    pub profiles: ProfileMap,
    /// Its trail changes.
    pub trail_changes: Vec<TrailChange>,
    /// The sessions its STS events issue (`None`: not looked for).
    pub sessions: Option<SessionMap>,
}

/// The application profiles created by the `CreateInferenceProfile` events of one file (of at
/// most `max_file_size` bytes of JSON).
pub fn created_profiles<R: BufRead>(
    input: R,
    named_gzip: bool,
    max_file_size: u64,
    log_file: &str,
) -> Result<ProfileMap, DecodeError> {
    archive_facts(input, named_gzip, max_file_size, log_file, false).map(|(f, _)| f.profiles)
}

/// The [`ArchiveFacts`] of one file (of at most `max_file_size` bytes of JSON), with the
/// SHA-256 of the whole text when `hash` is set (the facts found then resolve calls and judge
/// coverage, so the bytes they came from are held to the digest too).
pub fn archive_facts<R: BufRead>(
    input: R,
    named_gzip: bool,
    max_file_size: u64,
    log_file: &str,
    hash: bool,
) -> Result<(ArchiveFacts, Option<[u8; 32]>), DecodeError> {
    let mut text = HashingRead::new(gzip::JsonText::open(input, named_gzip)?, hash);
    // A search looks for sessions too: none found is an answer.
    let mut facts = ArchiveFacts {
        sessions: Some(SessionMap::default()),
        ..ArchiveFacts::default()
    };
    SEARCHED_TEXT.with_borrow_mut(|head| -> Result<(), DecodeError> {
        // Most files hold neither: their text is only looked through, not parsed.
        head.clear();
        let limit = SEARCH_WHOLE_UP_TO.min(max_file_size);
        (&mut text)
            .take(limit + 1)
            .read_to_end(head)
            .map_err(gzip::read_error)?;
        if head.len() as u64 <= limit
            && !profiles::may_create_profile(head)
            && !may_change_a_trail(head)
            && !sessions::may_issue_session(head)
        {
            return Ok(());
        }
        let mut whole = std::io::Cursor::new(head.as_slice()).chain(&mut text);
        stream::read_records(&mut whole, max_file_size, |record, _| {
            facts.profiles.collect_record(record, log_file);
            if let Some(change) = change_of_record(record, log_file) {
                facts.trail_changes.push(change);
            }
            facts
                .sessions
                .get_or_insert_with(SessionMap::default)
                .collect_record(record, log_file);
            Ok(())
        })?;
        Ok(())
    })?;
    let (text, sha256) = text.finish().map_err(gzip::read_error)?;
    text.finish()?;
    Ok((facts, sha256))
}

/// The change `record` made, if it is a successful trail event.
fn change_of_record(record: &record::Record<'_>, log_file: &str) -> Option<TrailChange> {
    if !coverage::is_trail_change(record.event_source.get(), record.event_name.get())
        || record.error_code.get().is_some()
    {
        return None;
    }
    coverage::change_of_row(
        record.event_name.get()?,
        record.request_parameters.map(|r| r.get()),
        record.event_time.get().and_then(parse_event_time),
        log_file,
        record.recipient_account_id.get(),
        record.aws_region.get(),
    )
}

/// Whether a JSON text may hold a trail change: it names one of the events (a text spelling
/// names with `\u` escapes is parsed anyway, see [`profiles::may_create_profile`]).
fn may_change_a_trail(text: &[u8]) -> bool {
    coverage::TRAIL_CHANGE_EVENTS
        .iter()
        .any(|name| memchr::memmem::find(text, name.as_bytes()).is_some())
}

/// A file whose JSON text is at most this long is read whole and looked through for a
/// `CreateInferenceProfile` event before it is parsed (nearly every file: CloudTrail delivers a
/// file every five minutes or so); a longer one is parsed record by record.
const SEARCH_WHOLE_UP_TO: u64 = 8 << 20;

thread_local! {
    /// The text being searched for profiles, kept for the thread's next file.
    static SEARCHED_TEXT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, AsArray};

    /// The one batch of a file decoded into exactly one.
    fn only_batch(decoded: Decoded) -> DecodedBatch {
        let mut batches = decoded.batches;
        assert_eq!(batches.len(), 1, "one batch expected");
        batches.remove(0)
    }

    /// A reservation from a pool without a limit.
    fn memory() -> MemoryReservation {
        use datafusion::execution::memory_pool::{MemoryConsumer, MemoryPool, UnboundedMemoryPool};
        let pool: Arc<dyn MemoryPool> = Arc::new(UnboundedMemoryPool::default());
        MemoryConsumer::new("test").register(&pool)
    }

    /// A pool with room for `bytes` refuses a file whose rows need more.
    #[test]
    fn a_refusal_of_the_memory_pool_stops_decoding() {
        use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryConsumer, MemoryPool};
        let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(64));
        let mut memory = MemoryConsumer::new("test").register(&pool);
        let plan = DecodePlan::new(
            Column::ALL.to_vec(),
            ScanFilter::default(),
            Default::default(),
        );
        let error = decode_file(INVOKE.as_bytes(), false, &file(), &plan, &mut memory).unwrap_err();
        assert!(error.is_out_of_memory(), "{error}");
        let not_memory = decode_file(&b"{"[..], false, &file(), &plan, &mut memory).unwrap_err();
        assert!(!not_memory.is_out_of_memory());
    }

    fn file() -> FileContext {
        let key = "AWSLogs/111122223333/CloudTrail/eu-west-1/2025/03/01/111122223333_CloudTrail_eu-west-1_20250301T1205Z_x.json.gz";
        FileContext::new(key.into())
    }

    const INVOKE: &str = r#"{"Records":[{
        "eventVersion":"1.11","eventTime":"2025-03-01T12:00:00Z","eventSource":"bedrock.amazonaws.com",
        "eventName":"Converse","awsRegion":"eu-west-1","recipientAccountId":"111122223333",
        "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/s",
          "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/app"}}},
        "requestParameters":{"modelId":"global.anthropic.claude-sonnet-4-5-20250929-v1:0"},
        "additionalEventData":{"inferenceRegion":"us-east-2"}},
        {"eventTime":"2025-03-01T12:01:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",
         "awsRegion":"eu-west-1","requestParameters":null,"responseElements":"odd"}]}"#;

    #[test]
    fn every_column_has_its_declared_type() {
        let plan = DecodePlan::new(
            Column::ALL.to_vec(),
            ScanFilter::default(),
            Default::default(),
        );
        let decoded = decode_file(INVOKE.as_bytes(), false, &file(), &plan, &mut memory()).unwrap();
        assert_eq!(decoded.records, 2);
        let decoded = only_batch(decoded);
        assert_eq!(decoded.batch.num_rows(), 2);
        assert_eq!(decoded.batch.schema(), crate::schema::events_schema());
        let col = |name: &str| {
            let array = decoded.batch.column_by_name(name).unwrap();
            let strings = array.as_string::<i32>();
            (0..2)
                .map(|i| strings.is_valid(i).then(|| strings.value(i).to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            col("served_region"),
            [Some("us-east-2".into()), None],
            "served_region is only known for model calls"
        );
        assert_eq!(col("served_geography"), [Some("US".into()), None]);
        assert_eq!(col("profile_scope"), [Some("global".into()), None]);
        assert_eq!(
            col("model"),
            [
                Some("anthropic.claude-sonnet-4-5-20250929-v1:0".into()),
                None
            ]
        );
        assert_eq!(
            col("session_issuer_arn")[0].as_deref(),
            Some("arn:aws:iam::111122223333:role/app")
        );
        assert_eq!(col("request_parameters")[1], None);
        assert_eq!(col("response_elements")[1].as_deref(), Some("\"odd\""));
        assert_eq!(col("log_account")[0].as_deref(), Some("111122223333"));
        let invocations = decoded
            .batch
            .column_by_name("is_invocation")
            .unwrap()
            .as_boolean()
            .clone();
        assert!(invocations.value(0) && !invocations.value(1));
    }

    #[test]
    fn pending_rows_are_resolved_in_place() {
        let arn = "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/p1";
        let json = format!(
            r#"{{"Records":[
            {{"eventSource":"bedrock.amazonaws.com","eventName":"Converse","awsRegion":"eu-west-1","eventTime":"2025-03-01T12:00:00Z","requestParameters":{{"modelId":"{arn}"}}}},
            {{"eventSource":"bedrock.amazonaws.com","eventName":"Converse","awsRegion":"eu-west-1","eventTime":"2025-03-01T12:00:00Z","requestParameters":{{"modelId":"{arn}"}},"additionalEventData":{{"inferenceRegion":"eu-central-1"}}}},
            {{"eventSource":"bedrock.amazonaws.com","eventName":"Converse","awsRegion":"eu-west-1","eventTime":"2025-03-01T12:00:00Z","requestParameters":{{"modelId":"amazon.nova-pro-v1:0"}}}}]}}"#
        );
        let columns = vec![
            Column::Model,
            Column::RoutingScope,
            Column::ServedRegion,
            Column::ServedGeography,
        ];
        let plan = DecodePlan::new(columns.clone(), ScanFilter::default(), Default::default());
        let decoded =
            only_batch(decode_file(json.as_bytes(), false, &file(), &plan, &mut memory()).unwrap());
        assert_eq!(
            decoded
                .pending
                .iter()
                .map(|p| (p.rows.clone(), p.served))
                .collect::<Vec<_>>(),
            [(vec![0], true), (vec![1], false)]
        );
        let create = format!(
            r#"{{"Records":[{{"eventSource":"bedrock.amazonaws.com","eventName":"CreateInferenceProfile",
            "requestParameters":{{"modelSource":{{"copyFrom":"arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-pro-v1:0"}}}},
            "responseElements":{{"inferenceProfileArn":"{arn}"}}}}]}}"#
        );
        let profiles = created_profiles(create.as_bytes(), false, u64::MAX, "f").unwrap();
        let batch = resolve_pending(&decoded.batch, &columns, &decoded.pending, &profiles).unwrap();
        let col = |i: usize| {
            let strings = batch.column(i).as_string::<i32>();
            (0..3)
                .map(|r| strings.is_valid(r).then(|| strings.value(r).to_owned()))
                .collect::<Vec<_>>()
        };
        let nova = Some("amazon.nova-pro-v1:0".to_owned());
        assert_eq!(col(0), [nova.clone(), nova.clone(), nova]);
        assert_eq!(
            col(1),
            [None, None, None],
            "an in-Region copy has no routing scope"
        );
        assert_eq!(
            col(2),
            [
                Some("eu-west-1".into()),
                Some("eu-central-1".into()),
                Some("eu-west-1".into())
            ]
        );
        assert_eq!(
            col(3),
            [Some("EU".into()), Some("EU".into()), Some("EU".into())]
        );
        // Unknown profiles stay null.
        let unknown = resolve_pending(
            &decoded.batch,
            &columns,
            &decoded.pending,
            &ProfileMap::default(),
        )
        .unwrap();
        assert!(unknown.column(0).is_null(0) && unknown.column(2).is_null(0));
    }

    #[test]
    fn a_batch_is_flushed_every_batch_size_rows() {
        let plan = DecodePlan::new(
            vec![Column::EventName],
            ScanFilter::default(),
            Default::default(),
        )
        .with_batch_size(1);
        let decoded = decode_file(INVOKE.as_bytes(), false, &file(), &plan, &mut memory()).unwrap();
        let rows: Vec<usize> = decoded.batches.iter().map(|b| b.batch.num_rows()).collect();
        assert_eq!(rows, [1, 1]);
    }

    #[test]
    fn projection_and_filter() {
        let filter = ScanFilter {
            to: Some(
                crate::filter::parse_time("2025-03-01T12:00:30Z", crate::filter::Bound::End)
                    .unwrap(),
            ),
            ..ScanFilter::default()
        };
        let plan = DecodePlan::new(vec![Column::EventName], filter, Default::default());
        let decoded = only_batch(
            decode_file(INVOKE.as_bytes(), false, &file(), &plan, &mut memory()).unwrap(),
        );
        assert_eq!(decoded.batch.num_columns(), 1);
        assert_eq!(decoded.batch.num_rows(), 1);
        let empty = DecodePlan::new(vec![], ScanFilter::default(), Default::default());
        assert_eq!(
            only_batch(
                decode_file(INVOKE.as_bytes(), false, &file(), &empty, &mut memory()).unwrap()
            )
            .batch
            .num_rows(),
            2
        );
    }
}
