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

/// Event names of Bedrock runtime calls that run a model.
pub const INVOCATION_EVENT_NAMES: &[&str] = &[
    "InvokeModel",
    "InvokeModelWithResponseStream",
    "Converse",
    "ConverseStream",
    "InvokeModelWithBidirectionalStream",
    "StartAsyncInvoke",
];

/// The `eventSource` of Bedrock (runtime and control plane share it).
pub const BEDROCK_EVENT_SOURCE: &str = "bedrock.amazonaws.com";

/// Whether an event is a Bedrock runtime invocation.
pub fn is_invocation(event_source: Option<&str>, event_name: Option<&str>) -> bool {
    event_source == Some(BEDROCK_EVENT_SOURCE)
        && event_name.is_some_and(|name| INVOCATION_EVENT_NAMES.contains(&name))
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
}

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
            model: Some(id),
            scope: None,
        },
        "inference-profile" => parse_plain_id(id),
        "application-inference-profile" => ModelRef {
            model: None,
            scope: Some(APPLICATION_SCOPE),
        },
        _ => ModelRef {
            model: None,
            scope: None,
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
        };
    }
    ModelRef {
        model: (!id.is_empty()).then_some(id),
        scope: None,
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
    }
}
