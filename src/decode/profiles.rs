//! Application inference profiles: what each one copies, so that calls through them get a model
//! and a routing scope.
//!
//! An application profile ARN (`arn:aws:bedrock:REGION:ACCOUNT:application-inference-profile/ID`)
//! says nothing about the model or where it may run. CloudTrail records its creation as the
//! management event `CreateInferenceProfile`, with `requestParameters.modelSource.copyFrom` (a
//! foundation-model ARN, or a system inference profile such as `eu.anthropic...`) and
//! `responseElements.inferenceProfileArn`. Profiles created before an archive starts come from
//! `--profiles FILE`: the JSON that `aws bedrock list-inference-profiles --type-equals
//! APPLICATION` prints.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::record::{
    CreateProfileRequest, CreateProfileResponse, ModelSource, Raw, Record, nested,
};
use super::time::parse_event_time;
use crate::bedrock::parse_model_id;
use crate::regions;

/// `source` of profiles read from a `--profiles` file.
pub const FROM_PROFILES_FILE: &str = "profiles-file";

/// One application inference profile: a row of `application_profiles`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct ApplicationProfile {
    /// The profile's ARN, as calls name it in `modelId`.
    pub arn: String,
    /// The account that owns it (from the ARN).
    pub account_id: Option<String>,
    /// What it copies: a foundation-model ARN or a system inference profile id or ARN.
    pub copied_from: Option<String>,
    /// The foundation model inside `copied_from`.
    pub model: Option<String>,
    /// The scope of what it copies (`global`, `eu`, ...); `None` when it copies a foundation
    /// model and so runs in its own Region.
    pub routing_scope: Option<String>,
    /// Calls through it run in the Region they were sent to.
    pub in_region: bool,
    /// When it was created (microseconds since the epoch), if known.
    pub created_at: Option<i64>,
    /// Where this came from: the log file of the `CreateInferenceProfile` event, or
    /// [`FROM_PROFILES_FILE`].
    pub source: String,
}

impl ApplicationProfile {
    /// A profile copying `copied_from` (a model ARN or a system profile id or ARN).
    fn copying(arn: &str, copied_from: &str, created_at: Option<i64>, source: &str) -> Self {
        let copied = parse_model_id(copied_from);
        ApplicationProfile {
            arn: arn.to_owned(),
            account_id: arn_account(arn),
            copied_from: Some(copied_from.to_owned()),
            model: copied.model.map(str::to_owned),
            routing_scope: copied.scope.map(str::to_owned),
            in_region: copied.in_region,
            created_at,
            source: source.to_owned(),
        }
    }
}

/// The account field of an ARN.
fn arn_account(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
}

/// Whether a JSON text may hold a `CreateInferenceProfile` event: it names the event, or it
/// has a `\u` escape of an ASCII letter (with which a JSON text could spell the name other
/// ways; no CloudTrail writer does, so such a text is simply parsed).
pub fn may_create_profile(text: &[u8]) -> bool {
    memchr::memmem::find(text, b"CreateInferenceProfile").is_some()
        || memchr::memmem::find_iter(text, b"\\u00")
            .any(|at| matches!(text.get(at + 4), Some(b'4'..=b'7')))
}

/// Application profiles by ARN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileMap {
    profiles: BTreeMap<String, ApplicationProfile>,
}

impl FromIterator<ApplicationProfile> for ProfileMap {
    fn from_iter<I: IntoIterator<Item = ApplicationProfile>>(profiles: I) -> Self {
        let mut map = ProfileMap::default();
        profiles.into_iter().for_each(|p| map.insert(p));
        map
    }
}

impl ProfileMap {
    /// The profile with this ARN.
    pub fn get(&self, arn: &str) -> Option<&ApplicationProfile> {
        self.profiles.get(arn)
    }

    /// Every profile, by ARN.
    pub fn iter(&self) -> impl Iterator<Item = &ApplicationProfile> {
        self.profiles.values()
    }

    /// Number of profiles.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// Adds a profile; an earlier definition of the same ARN from the logs wins over a later one
    /// and over the profiles file (an ARN is never reused).
    pub fn insert(&mut self, profile: ApplicationProfile) {
        self.profiles.entry(profile.arn.clone()).or_insert(profile);
    }

    /// Adds every profile of `other`.
    pub fn extend(&mut self, other: ProfileMap) {
        for profile in other.profiles.into_values() {
            self.insert(profile);
        }
    }

    /// Collects `record` if it is a successful `CreateInferenceProfile` event.
    pub fn collect_record(&mut self, record: &Record<'_>, log_file: &str) {
        if let Some(profile) = created_profile(record, log_file) {
            self.insert(profile);
        }
    }

    /// Reads the output of `aws bedrock list-inference-profiles --type-equals APPLICATION`.
    pub fn from_profiles_file(path: &Path) -> Result<ProfileMap, ProfilesFileError> {
        let error = |reason: String| ProfilesFileError {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let listing: ProfileListing = serde_json::from_str(&text).map_err(|e| {
            error(format!(
                "{e}; expected the JSON of `aws bedrock list-inference-profiles --type-equals APPLICATION`"
            ))
        })?;
        let mut map = ProfileMap::default();
        for summary in listing.inference_profile_summaries {
            map.insert(summary.into_profile());
        }
        Ok(map)
    }
}

/// A `--profiles` file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot use --profiles {path}: {reason}")]
pub struct ProfilesFileError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// The profile a `CreateInferenceProfile` record created, if it is one and succeeded.
fn created_profile(record: &Record<'_>, log_file: &str) -> Option<ApplicationProfile> {
    if record.event_name.get() != Some("CreateInferenceProfile")
        || record.event_source.get() != Some(crate::bedrock::BEDROCK_EVENT_SOURCE)
        || record.error_code.get().is_some()
    {
        return None;
    }
    let created_at = record.event_time.get().and_then(parse_event_time);
    profile_created(
        nested(record.request_parameters),
        nested(record.response_elements),
        created_at,
        log_file,
    )
}

/// The application profile a successful `CreateInferenceProfile` call created, from the
/// `request_parameters` and `response_elements` JSON texts and `event_time` of its row in
/// `events` (the same profile [`ProfileMap::collect_record`] finds in the record).
pub fn created_profile_of_row(
    request_parameters: Option<&str>,
    response_elements: Option<&str>,
    event_time: Option<i64>,
    log_file: &str,
) -> Option<ApplicationProfile> {
    profile_created(
        nested(raw_json(request_parameters)),
        nested(raw_json(response_elements)),
        event_time,
        log_file,
    )
}

/// JSON text as a raw value (none when absent or not JSON).
fn raw_json(text: Option<&str>) -> Option<Raw<'_>> {
    text.and_then(|t| serde_json::from_str(t).ok())
}

fn profile_created(
    request: CreateProfileRequest<'_>,
    response: CreateProfileResponse<'_>,
    created_at: Option<i64>,
    log_file: &str,
) -> Option<ApplicationProfile> {
    let source: ModelSource = nested(request.model_source);
    let arn = response.inference_profile_arn.get()?;
    let copied_from = source.copy_from.get()?;
    Some(ApplicationProfile::copying(
        arn,
        copied_from,
        created_at,
        log_file,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileListing {
    inference_profile_summaries: Vec<ProfileSummary>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileSummary {
    inference_profile_arn: String,
    #[serde(default)]
    models: Vec<ProfileModel>,
    #[serde(default)]
    created_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProfileModel {
    model_arn: String,
}

impl ProfileSummary {
    /// The listing names the foundation-model ARNs the profile can use, one per Region: one
    /// ARN in the profile's own Region is an in-Region copy; several Regions are a copy of a
    /// cross-Region profile, whose scope is the one geography they share, or `global`.
    fn into_profile(self) -> ApplicationProfile {
        let created_at = self.created_at.as_deref().and_then(parse_event_time);
        let arn = self.inference_profile_arn;
        let model_regions: Vec<&str> = self
            .models
            .iter()
            .filter_map(|m| m.model_arn.split(':').nth(3))
            .collect();
        let profile_region = arn.split(':').nth(3).unwrap_or_default();
        let first_model = self.models.first().map(|m| m.model_arn.as_str());
        let mut profile = match first_model {
            Some(model_arn) => {
                ApplicationProfile::copying(&arn, model_arn, created_at, FROM_PROFILES_FILE)
            }
            None => ApplicationProfile {
                arn: arn.clone(),
                account_id: arn_account(&arn),
                copied_from: None,
                model: None,
                routing_scope: None,
                in_region: false,
                created_at,
                source: FROM_PROFILES_FILE.to_owned(),
            },
        };
        let cross_region = model_regions.iter().any(|r| *r != profile_region);
        if first_model.is_some() && cross_region {
            let geographies: std::collections::BTreeSet<Option<&str>> = model_regions
                .iter()
                .map(|r| regions::geography(r))
                .collect();
            profile.in_region = false;
            profile.routing_scope = Some(match geographies.iter().collect::<Vec<_>>()[..] {
                [Some(one)] => one.to_ascii_lowercase(),
                _ => "global".to_owned(),
            });
        }
        profile
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_profile_from_a_row_is_the_profile_from_its_record() {
        let request = r#"{
        "inferenceProfileName": "team",
        "modelSource": {"copyFrom": "arn:aws:bedrock:eu-west-1::inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0"}
      }"#;
        let response = r#"{"inferenceProfileArn": "arn:aws:bedrock:eu-west-1:444455556666:application-inference-profile/tm1", "status": "ACTIVE"}"#;
        let profile =
            created_profile_of_row(Some(request), Some(response), Some(7), "f.json.gz").unwrap();
        assert_eq!(
            profile.arn,
            "arn:aws:bedrock:eu-west-1:444455556666:application-inference-profile/tm1"
        );
        assert_eq!(profile.routing_scope.as_deref(), Some("eu"));
        assert_eq!(profile.created_at, Some(7));
        assert_eq!(profile.source, "f.json.gz");
        assert!(created_profile_of_row(None, Some(response), None, "f").is_none());
        assert!(created_profile_of_row(Some("not json"), Some(response), None, "f").is_none());
    }
    use super::*;
    use crate::decode::created_profiles;

    #[test]
    fn only_a_text_that_names_the_event_or_escapes_letters_may_create_a_profile() {
        assert!(may_create_profile(
            br#"{"eventName":"CreateInferenceProfile"}"#
        ));
        assert!(may_create_profile(
            br#"{"eventName":"\u0043reateInferenceProfile"}"#
        ));
        assert!(may_create_profile(
            br#"{"eventName":"Cre\u0061teInferenceProfile"}"#
        ));
        assert!(!may_create_profile(br#"{"eventName":"InvokeModel"}"#));
        // Escapes of characters other than letters cannot spell the name.
        assert!(!may_create_profile(
            br#"{"errorMessage":"\u003cxml\u003e \u00e9"}"#
        ));
    }

    #[test]
    fn created_in_the_logs() {
        let json = r#"{"Records":[{"eventSource":"bedrock.amazonaws.com","eventName":"CreateInferenceProfile",
            "eventTime":"2025-03-01T10:00:00Z",
            "requestParameters":{"inferenceProfileName":"team-a","modelSource":{"copyFrom":"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0"}},
            "responseElements":{"inferenceProfileArn":"arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/abc","status":"ACTIVE"}},
            {"eventSource":"bedrock.amazonaws.com","eventName":"CreateInferenceProfile","errorCode":"ValidationException",
            "requestParameters":{"modelSource":{"copyFrom":"x"}},"responseElements":null}]}"#;
        let map = created_profiles(json.as_bytes(), false, u64::MAX, "f.json.gz").unwrap();
        assert_eq!(map.len(), 1);
        // The same event with its name spelled with escapes is found too.
        let escaped = json.replacen(
            "\"CreateInferenceProfile\"",
            r#""\u0043reateInferenceProfile""#,
            1,
        );
        assert_ne!(escaped, json);
        let escaped_map =
            created_profiles(escaped.as_bytes(), false, u64::MAX, "f.json.gz").unwrap();
        assert_eq!(escaped_map, map);
        // A text too long to be read whole first (9 MiB of another record before the event)
        // is parsed as it streams.
        let long = json.replacen(
            r#"{"Records":["#,
            &format!(
                r#"{{"Records":[{{"errorMessage":"{}"}},"#,
                "x".repeat(9 << 20)
            ),
            1,
        );
        let long_map = created_profiles(long.as_bytes(), false, u64::MAX, "f.json.gz").unwrap();
        assert_eq!(long_map, map);
        let p = map
            .get("arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/abc")
            .unwrap();
        assert_eq!(
            p.model.as_deref(),
            Some("anthropic.claude-3-haiku-20240307-v1:0")
        );
        assert_eq!(p.routing_scope.as_deref(), Some("eu"));
        assert_eq!(p.account_id.as_deref(), Some("111122223333"));
        assert!(!p.in_region);
        assert_eq!(p.source, "f.json.gz");
    }

    #[test]
    fn profiles_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(
            &path,
            r#"{"inferenceProfileSummaries":[
            {"inferenceProfileName":"one","inferenceProfileArn":"arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/one",
             "models":[{"modelArn":"arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-pro-v1:0"}],"type":"APPLICATION","createdAt":"2024-05-01T00:00:00Z"},
            {"inferenceProfileName":"geo","inferenceProfileArn":"arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/geo",
             "models":[{"modelArn":"arn:aws:bedrock:eu-west-1::foundation-model/m"},{"modelArn":"arn:aws:bedrock:eu-central-1::foundation-model/m"}]},
            {"inferenceProfileName":"world","inferenceProfileArn":"arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/world",
             "models":[{"modelArn":"arn:aws:bedrock:eu-west-1::foundation-model/m"},{"modelArn":"arn:aws:bedrock:us-east-1::foundation-model/m"}]}]}"#,
        )
        .unwrap();
        let map = ProfileMap::from_profiles_file(&path).unwrap();
        let get = |id: &str| {
            map.get(&format!(
                "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/{id}"
            ))
            .unwrap()
            .clone()
        };
        assert!(get("one").in_region);
        assert_eq!(get("one").model.as_deref(), Some("amazon.nova-pro-v1:0"));
        assert_eq!(get("geo").routing_scope.as_deref(), Some("eu"));
        assert_eq!(get("world").routing_scope.as_deref(), Some("global"));
        std::fs::write(&path, "{}").unwrap();
        let err = ProfileMap::from_profiles_file(&path).unwrap_err();
        assert!(err.to_string().contains("list-inference-profiles"), "{err}");
    }
}
