//! Amazon Bedrock facts: which events are invocations and what a `modelId` names.
//!
//! A `modelId` in a CloudTrail record takes one of these forms:
//! - a foundation model id: `anthropic.claude-3-haiku-20240307-v1:0`
//! - a foundation-model ARN: `arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude...`
//! - a system inference profile id: `global.anthropic.claude-sonnet-4-5-20250929-v1:0`,
//!   `eu.`, `us.`, `apac.`, `jp.`, `au.`, `ca.`, `us-gov.` prefixes
//! - an inference-profile ARN: `arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.meta...`
//! - an application-inference-profile ARN: `arn:aws:bedrock:...:application-inference-profile/ab12`
//!
//! [`parse_model_id`] turns any of them into the foundation model and the profile scope.
//!
//! Which events run a model, and where their records log it, is the catalogue of
//! [`crate::surfaces`].

use crate::surfaces;

/// The `eventSource` of Bedrock (runtime and control plane share it).
pub const BEDROCK_EVENT_SOURCE: &str = surfaces::BEDROCK;

/// Bedrock event names that name a model but run none (control plane, token counting): not
/// invocations, and not "unknown" either.
const MODEL_NAMING_NON_INFERENCE: &[&str] = &[
    "CountTokens",
    "GetFoundationModel",
    "GetFoundationModelAvailability",
    "CreateFoundationModelAgreement",
    "DeleteFoundationModelAgreement",
    "ListFoundationModelAgreementOffers",
    "PutUseCaseForModelAccess",
    "GetModel",
    "CreateInferenceProfile",
    "GetInferenceProfile",
    "CreateModelCustomizationJob",
    "CreateFineTuningJob",
];

/// Whether an event runs a model, on any surface of the catalogue.
pub fn is_invocation(event_source: Option<&str>, event_name: Option<&str>) -> bool {
    surfaces::of(event_source, event_name).is_some()
}

/// Whether a Bedrock event that names a model (`has_model`) has an event name trailmap does
/// not know: possibly a new inference API, which the audit and the report count by name so it
/// cannot vanish unseen.
pub fn is_unknown_model_call(
    event_source: Option<&str>,
    event_name: Option<&str>,
    has_model: bool,
) -> bool {
    has_model
        && event_source.is_some_and(surfaces::is_inference_source)
        && !is_invocation(event_source, event_name)
        && event_name.is_none_or(|name| !MODEL_NAMING_NON_INFERENCE.contains(&name))
}

/// Prefixes of system-defined cross-Region inference profiles.
pub const PROFILE_SCOPES: &[&str] = &["global", "us", "eu", "apac", "jp", "au", "ca", "us-gov"];

/// `profile_scope` of an application inference profile.
pub const APPLICATION_SCOPE: &str = "application";

/// Model providers on Bedrock, used to tell a new, unlisted profile prefix from a provider.
const PROVIDERS: &[&str] = &[
    "ai21",
    "amazon",
    "anthropic",
    "cohere",
    "deepseek",
    "google",
    "luma",
    "meta",
    "minimax",
    "mistral",
    "moonshot",
    "nvidia",
    "openai",
    "qwen",
    "stability",
    "twelvelabs",
    "writer",
];

/// What a `modelId` says about the model and how it is routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef<'a> {
    /// The foundation model id, `None` for application profiles and custom or provisioned models.
    pub model: Option<&'a str>,
    /// Profile scope, `None` for a plain foundation model.
    pub scope: Option<&'a str>,
    /// The call runs in the Region it was sent to: a foundation model, or a provisioned, custom
    /// or imported model (no profile of any kind).
    pub in_region: bool,
}

/// ARN resource types of models that run only in their own Region.
const IN_REGION_RESOURCES: &[&str] = &[
    "foundation-model",
    "provisioned-model",
    "custom-model",
    "custom-model-deployment",
    "imported-model",
];

/// Parses a `modelId` as sent in `requestParameters`.
pub fn parse_model_id(model_id: &str) -> ModelRef<'_> {
    let Some(arn) = model_id.strip_prefix("arn:") else {
        return parse_plain_id(model_id);
    };
    // arn:PARTITION:bedrock:REGION:ACCOUNT:RESOURCE-TYPE/RESOURCE-ID
    let resource = arn.splitn(5, ':').nth(4).unwrap_or("");
    let (kind, id) = resource.split_once('/').unwrap_or((resource, ""));
    match kind {
        "foundation-model" => ModelRef {
            model: (!id.is_empty()).then_some(id),
            scope: None,
            in_region: !id.is_empty(),
        },
        "inference-profile" => parse_plain_id(id),
        "application-inference-profile" => ModelRef {
            model: None,
            scope: Some(APPLICATION_SCOPE),
            in_region: false,
        },
        _ => ModelRef {
            model: None,
            scope: None,
            in_region: IN_REGION_RESOURCES.contains(&kind) && !id.is_empty(),
        },
    }
}

/// Parses a model or system-profile id that is not an ARN.
fn parse_plain_id(id: &str) -> ModelRef<'_> {
    if let Some((prefix, rest)) = id.split_once('.')
        && is_profile_prefix(prefix, rest)
    {
        return ModelRef {
            model: Some(rest),
            scope: Some(prefix),
            in_region: false,
        };
    }
    // Every Bedrock model id is `provider.name`: a bare name (Claude Platform's
    // `claude-sonnet-4-6`) names no Bedrock model, so a `models` scope cannot judge it.
    let bedrock_id = id.contains('.');
    ModelRef {
        model: bedrock_id.then_some(id),
        scope: None,
        in_region: bedrock_id,
    }
}

/// Whether `prefix` in `prefix.rest` is a profile scope: a listed one, or an unlisted short word
/// that is not a provider and is followed by a known provider (a profile prefix AWS adds later).
fn is_profile_prefix(prefix: &str, rest: &str) -> bool {
    if PROFILE_SCOPES.contains(&prefix) {
        return true;
    }
    let provider_follows = rest
        .split_once('.')
        .is_some_and(|(provider, _)| PROVIDERS.contains(&provider));
    provider_follows
        && !PROVIDERS.contains(&prefix)
        && prefix.len() <= 8
        && prefix.chars().all(|c| c.is_ascii_lowercase() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(id: &str) -> (Option<String>, Option<String>) {
        let r = parse_model_id(id);
        (r.model.map(str::to_owned), r.scope.map(str::to_owned))
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_owned())
    }

    #[test]
    fn every_model_id_form() {
        let sonnet = "anthropic.claude-sonnet-4-5-20250929-v1:0";
        assert_eq!(parsed(sonnet), (some(sonnet), None));
        assert_eq!(
            parsed(&format!(
                "arn:aws:bedrock:us-east-1::foundation-model/{sonnet}"
            )),
            (some(sonnet), None)
        );
        for scope in PROFILE_SCOPES {
            assert_eq!(
                parsed(&format!("{scope}.{sonnet}")),
                (some(sonnet), some(scope))
            );
            assert_eq!(
                parsed(&format!(
                    "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/{scope}.{sonnet}"
                )),
                (some(sonnet), some(scope))
            );
        }
        assert_eq!(
            parsed("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"),
            (None, some("application"))
        );
        assert_eq!(
            parsed(
                "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:inference-profile/us-gov.anthropic.claude-3-haiku-20240307-v1:0"
            ),
            (
                some("anthropic.claude-3-haiku-20240307-v1:0"),
                some("us-gov")
            )
        );
    }

    #[test]
    fn unlisted_prefix_provider_names_and_odd_input() {
        assert_eq!(
            parsed("sa.anthropic.claude-3-haiku-20240307-v1:0"),
            (some("anthropic.claude-3-haiku-20240307-v1:0"), some("sa"))
        );
        assert_eq!(
            parsed("amazon.nova-pro-v1:0"),
            (some("amazon.nova-pro-v1:0"), None)
        );
        assert_eq!(
            parsed("meta.llama3-1-8b-instruct-v1:0"),
            (some("meta.llama3-1-8b-instruct-v1:0"), None)
        );
        assert_eq!(parsed(""), (None, None));
        assert_eq!(
            parsed("arn:aws:bedrock:us-east-1:1:provisioned-model/x"),
            (None, None)
        );
        assert_eq!(parsed("arn:broken"), (None, None));
    }

    #[test]
    fn invocations() {
        assert!(is_invocation(
            Some("bedrock.amazonaws.com"),
            Some("Converse")
        ));
        assert!(!is_invocation(
            Some("bedrock.amazonaws.com"),
            Some("GetFoundationModel")
        ));
        assert!(!is_invocation(
            Some("s3.amazonaws.com"),
            Some("InvokeModel")
        ));
        assert!(!is_invocation(None, None));
        assert!(is_invocation(
            Some("bedrock-mantle.amazonaws.com"),
            Some("CreateInference")
        ));
        assert!(!is_invocation(
            Some("bedrock-mantle.amazonaws.com"),
            Some("ListModels")
        ));
    }

    #[test]
    fn unknown_model_calls() {
        let bedrock = Some("bedrock.amazonaws.com");
        assert!(is_unknown_model_call(
            bedrock,
            Some("CreateChatCompletion"),
            true
        ));
        assert!(!is_unknown_model_call(
            bedrock,
            Some("CreateChatCompletion"),
            false
        ));
        assert!(!is_unknown_model_call(bedrock, Some("Converse"), true));
        assert!(!is_unknown_model_call(bedrock, Some("CountTokens"), true));
        assert!(!is_unknown_model_call(
            Some("s3.amazonaws.com"),
            Some("X"),
            true
        ));
    }

    #[test]
    fn in_region_models() {
        assert!(parse_model_id("amazon.nova-pro-v1:0").in_region);
        assert!(parse_model_id("arn:aws:bedrock:us-east-1:1:provisioned-model/x").in_region);
        assert!(!parse_model_id("eu.amazon.nova-pro-v1:0").in_region);
        assert!(
            !parse_model_id("arn:aws:bedrock:us-east-1:1:application-inference-profile/x")
                .in_region
        );
        assert!(!parse_model_id("arn:broken").in_region);
        assert!(!parse_model_id("").in_region);
    }
}
