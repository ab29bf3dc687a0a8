//! The serde shape of a CloudTrail log file, borrowed from the JSON text.
//!
//! Every field is lenient: a missing field, `null`, or a value of an unexpected type becomes
//! "absent" instead of failing the file, and unknown fields are ignored. Nested values are kept
//! as raw JSON text ([`Raw`]) and parsed further only when a column needs them.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

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

/// A nested value kept as its JSON text, exactly as the log holds it (parsed further only when a
/// column needs it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a>(&'a str);

impl<'a> Raw<'a> {
    /// The value's JSON text.
    pub fn get(&self) -> &'a str {
        self.0
    }

    /// `text`, which the caller has checked is one JSON value without surrounding whitespace.
    pub(crate) fn checked(text: &'a str) -> Self {
        Raw(text)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'a RawValue>::deserialize(deserializer).map(|raw| Raw(raw.get()))
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
    pub request_parameters: Option<Raw<'a>>,
    #[serde(borrow)]
    pub response_elements: Option<Raw<'a>>,
    #[serde(borrow)]
    pub additional_event_data: Option<Raw<'a>>,
    #[serde(borrow)]
    pub user_identity: Option<Raw<'a>>,
    #[serde(borrow)]
    pub resources: Option<Raw<'a>>,
    #[serde(borrow)]
    pub tls_details: Option<Raw<'a>>,
    #[serde(borrow)]
    pub service_event_details: Option<Raw<'a>>,
    /// `sessionCredentialFromConsole`: the call was made from the AWS Management Console.
    pub session_credential_from_console: Flag,
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
    pub session_context: Option<Raw<'a>>,
    #[serde(borrow)]
    pub on_behalf_of: Option<Raw<'a>>,
}

/// `userIdentity.onBehalfOf` (an IAM Identity Center user).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OnBehalfOf<'a> {
    #[serde(borrow)]
    pub user_id: Text<'a>,
}

/// `callWithBearerToken`, in `additionalEventData` (bedrock-runtime) or `requestParameters`
/// (bedrock-mantle): the call was authenticated with a Bedrock API key.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BearerToken {
    pub call_with_bearer_token: Flag,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow)]
    pub session_issuer: Option<Raw<'a>>,
    #[serde(borrow)]
    pub source_identity: Text<'a>,
}

/// `userIdentity.sessionContext.sessionIssuer`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SessionIssuer<'a> {
    #[serde(borrow)]
    pub arn: Text<'a>,
    #[serde(borrow, rename = "userName")]
    pub user_name: Text<'a>,
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
    pub model_source: Option<Raw<'a>>,
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
pub fn nested<'a, T: Deserialize<'a> + Default>(raw: Option<Raw<'a>>) -> T {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_fields() {
        let json = r#"{"eventTime":"2025-03-01T00:00:00Z","readOnly":"true",
            "managementEvent":7,"recipientAccountId":111122223333,"awsRegion":{"x":[1]},
            "requestParameters":null,"responseElements":"a string","eventName":"A\"b",
            "somethingNew":{"deep":[1,2,{"x":null}]}}"#;
        let record: Record = serde_json::from_str(json).unwrap();
        let r = &record;
        assert_eq!(r.read_only, Flag(Some(true)));
        assert_eq!(r.management_event, Flag(None));
        assert_eq!(r.recipient_account_id.get(), Some("111122223333"));
        assert_eq!(r.aws_region.get(), None);
        assert!(r.request_parameters.is_none());
        assert_eq!(r.response_elements.map(|v| v.get()), Some("\"a string\""));
        assert_eq!(r.event_name.get(), Some("A\"b"));
    }

    #[test]
    fn nested_values_of_other_shapes_are_absent() {
        let id: Identity = nested(Some(Raw("\"just text\"")));
        assert_eq!(id.arn.get(), None);
    }
}
