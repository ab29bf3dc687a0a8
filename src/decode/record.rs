//! The serde shape of a CloudTrail log file, borrowed from the JSON text.
//!
//! Every field is lenient: a missing field, `null`, or a value of an unexpected type becomes
//! "absent" instead of failing the file, and unknown fields are ignored. Nested values are kept
//! as raw JSON text ([`RawValue`]) and parsed further only when a column needs them.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::{DecodeError, LoadStage};

/// A string field; numbers and booleans become their text, objects and arrays become absent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl Text<'_> {
    /// The text, if present.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor(PhantomData))
    }
}

struct TextVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
}

/// A boolean field; `"true"` / `"false"` strings are accepted, anything else is absent.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Text::deserialize(deserializer)?;
        Ok(Flag(match text.get() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        }))
    }
}

/// One CloudTrail record, as much as trailmap reads of it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Record<'a> {
    #[serde(borrow)]
    pub event_time: Text<'a>,
    #[serde(borrow)]
    pub event_version: Text<'a>,
    #[serde(borrow)]
    pub event_source: Text<'a>,
    #[serde(borrow)]
    pub event_name: Text<'a>,
    #[serde(borrow)]
    pub event_type: Text<'a>,
    #[serde(borrow)]
    pub event_category: Text<'a>,
    #[serde(borrow, rename = "eventID")]
    pub event_id: Text<'a>,
    #[serde(borrow, rename = "requestID")]
    pub request_id: Text<'a>,
    #[serde(borrow, rename = "sharedEventID")]
    pub shared_event_id: Text<'a>,
    pub read_only: Flag,
    pub management_event: Flag,
    #[serde(borrow)]
    pub aws_region: Text<'a>,
    #[serde(borrow)]
    pub recipient_account_id: Text<'a>,
    #[serde(borrow, rename = "sourceIPAddress")]
    pub source_ip: Text<'a>,
    #[serde(borrow)]
    pub user_agent: Text<'a>,
    #[serde(borrow)]
    pub vpc_endpoint_id: Text<'a>,
    #[serde(borrow)]
    pub error_code: Text<'a>,
    #[serde(borrow)]
    pub error_message: Text<'a>,
    #[serde(borrow)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(borrow)]
    pub response_elements: Option<&'a RawValue>,
    #[serde(borrow)]
    pub additional_event_data: Option<&'a RawValue>,
    #[serde(borrow)]
    pub user_identity: Option<&'a RawValue>,
    #[serde(borrow)]
    pub resources: Option<&'a RawValue>,
    #[serde(borrow)]
    pub tls_details: Option<&'a RawValue>,
    #[serde(borrow)]
    pub service_event_details: Option<&'a RawValue>,
}

/// `userIdentity`, the parts trailmap flattens.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Identity<'a> {
    #[serde(borrow, rename = "type")]
    pub user_type: Text<'a>,
    #[serde(borrow)]
    pub arn: Text<'a>,
    #[serde(borrow)]
    pub principal_id: Text<'a>,
    #[serde(borrow)]
    pub account_id: Text<'a>,
    #[serde(borrow)]
    pub access_key_id: Text<'a>,
    #[serde(borrow)]
    pub user_name: Text<'a>,
    #[serde(borrow)]
    pub invoked_by: Text<'a>,
    #[serde(borrow)]
    pub session_context: Option<&'a RawValue>,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow)]
    pub session_issuer: Option<&'a RawValue>,
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SessionIssuer<'a> {
    #[serde(borrow)]
    pub arn: Text<'a>,
}

/// `requestParameters`, the part trailmap flattens: `modelId` (bedrock-runtime) or `model`
/// (bedrock-mantle).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RequestParameters<'a> {
    #[serde(borrow)]
    pub model_id: Text<'a>,
    #[serde(borrow)]
    pub model: Text<'a>,
}

impl<'a> RequestParameters<'a> {
    /// The model the call names, `modelId` first.
    pub fn into_model(self) -> Option<Cow<'a, str>> {
        self.model_id.0.or(self.model.0)
    }
}

/// `requestParameters` of `CreateInferenceProfile`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CreateProfileRequest<'a> {
    #[serde(borrow)]
    pub model_source: Option<&'a RawValue>,
}

/// `requestParameters.modelSource` of `CreateInferenceProfile`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ModelSource<'a> {
    #[serde(borrow)]
    pub copy_from: Text<'a>,
}

/// `responseElements` of `CreateInferenceProfile`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CreateProfileResponse<'a> {
    #[serde(borrow)]
    pub inference_profile_arn: Text<'a>,
}

/// `additionalEventData`, the part trailmap flattens.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AdditionalEventData<'a> {
    #[serde(borrow)]
    pub inference_region: Text<'a>,
}

/// Parses a nested value; a value of another shape gives the default (all fields absent).
pub fn nested<'a, T: Deserialize<'a> + Default>(raw: Option<&'a RawValue>) -> T {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default()
}

/// Reads `{"Records": [...]}`, noting the index of a record that fails to deserialize.
struct LogFileSeed<'c> {
    failed_record: &'c Cell<Option<u64>>,
}

impl<'de> DeserializeSeed<'de> for LogFileSeed<'_> {
    type Value = Option<Vec<Record<'de>>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LogFileSeed<'_> {
    type Value = Option<Vec<Record<'de>>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a CloudTrail log file: {\"Records\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut records = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "Records" {
                records = Some(map.next_value_seed(RecordsSeed {
                    failed_record: self.failed_record,
                })?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(records)
    }
}

/// The `Records` array, element by element.
struct RecordsSeed<'c> {
    failed_record: &'c Cell<Option<u64>>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = Vec<Record<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = Vec<Record<'de>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of CloudTrail records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            match seq.next_element::<Record<'de>>() {
                Ok(Some(record)) => records.push(record),
                Ok(None) => return Ok(records),
                Err(e) => {
                    self.failed_record.set(Some(records.len() as u64));
                    return Err(e);
                }
            }
        }
    }
}

/// Parses a whole log file: `{"Records": [ ... ]}`. The text is checked for UTF-8 once, up
/// front, so the parser need not check every string again. A record that is not a CloudTrail
/// record (or breaks the JSON) is named by its index in the error.
pub fn parse_records(json: &[u8]) -> Result<Vec<Record<'_>>, DecodeError> {
    let text = std::str::from_utf8(json)
        .map_err(|e| DecodeError::new(LoadStage::Json, format!("not UTF-8 text: {e}")))?;
    let failed_record = Cell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = LogFileSeed {
        failed_record: &failed_record,
    }
    .deserialize(&mut deserializer)
    .and_then(|records| deserializer.end().map(|()| records));
    let records = parsed.map_err(|e| {
        let stage = match e.classify() {
            serde_json::error::Category::Data => LoadStage::Schema,
            _ => LoadStage::Json,
        };
        DecodeError {
            stage,
            record_index: failed_record.get(),
            source: Box::new(e),
        }
    })?;
    records.ok_or_else(|| {
        DecodeError::new(
            LoadStage::Schema,
            "no \"Records\" array: not a CloudTrail log file",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage_of(json: &str) -> LoadStage {
        parse_records(json.as_bytes()).unwrap_err().stage
    }

    #[test]
    fn lenient_fields() {
        let json = r#"{"Records":[{"eventTime":"2025-03-01T00:00:00Z","readOnly":"true",
            "managementEvent":7,"recipientAccountId":111122223333,"awsRegion":{"x":[1]},
            "requestParameters":null,"responseElements":"a string","eventName":"A\"b",
            "somethingNew":{"deep":[1,2,{"x":null}]}}]}"#;
        let records = parse_records(json.as_bytes()).unwrap();
        let r = &records[0];
        assert_eq!(r.read_only, Flag(Some(true)));
        assert_eq!(r.management_event, Flag(None));
        assert_eq!(r.recipient_account_id.get(), Some("111122223333"));
        assert_eq!(r.aws_region.get(), None);
        assert!(r.request_parameters.is_none());
        assert_eq!(r.response_elements.map(|v| v.get()), Some("\"a string\""));
        assert_eq!(r.event_name.get(), Some("A\"b"));
    }

    #[test]
    fn bad_shapes_have_stages() {
        assert_eq!(stage_of("{\"Records\":[{}"), LoadStage::Json);
        assert_eq!(stage_of("not json"), LoadStage::Json);
        assert_eq!(stage_of("{\"records\":[]}"), LoadStage::Schema);
        assert_eq!(stage_of("{\"Records\":{}}"), LoadStage::Schema);
        assert_eq!(stage_of("{\"Records\":[1]}"), LoadStage::Schema);
        assert_eq!(stage_of("[1,2]"), LoadStage::Schema);
        assert!(parse_records(b"{\"Records\":[]}").unwrap().is_empty());
    }

    #[test]
    fn the_first_bad_record_is_named_by_index() {
        let index = |json: &str| parse_records(json.as_bytes()).unwrap_err().record_index;
        assert_eq!(index(r#"{"Records":[{},{},7]}"#), Some(2));
        assert_eq!(index(r#"{"Records":[{}, {"eventTime": ]}"#), Some(1));
        assert_eq!(index(r#"{"Records":{}}"#), None);
        assert_eq!(index(r#"{"Records":[{}]} trailing"#), None);
        let records = parse_records(br#"{"other":[1],"Records":[{"eventName":"A"}]}"#).unwrap();
        assert_eq!(records[0].event_name.get(), Some("A"));
    }

    #[test]
    fn nested_values_of_other_shapes_are_absent() {
        let raw: Box<RawValue> = serde_json::from_str("\"just text\"").unwrap();
        let id: Identity = nested(Some(&raw));
        assert_eq!(id.arn.get(), None);
    }
}
