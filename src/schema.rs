//! The column contract of the `events` table: names, Arrow types and meanings.
//!
//! Everything that needs to know the columns (the decoder, the table provider, `trailmap schema`
//! and docs/tables.md through it) reads them from here, so the names cannot drift apart. This module does not know
//! how a value is computed; that is `decode::row`.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Time zone of every timestamp column.
pub const UTC: &str = "UTC";

/// Arrow type of every time column: microseconds since the epoch, in UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
}

/// The Arrow type family of a column, which decides the builder the decoder uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// UTF-8 text (JSON text for nested values).
    Text,
    /// Boolean.
    Bool,
    /// `Timestamp(Microsecond, "UTC")`.
    Time,
    /// `Date32`.
    Date,
}

impl Kind {
    /// The Arrow data type of this kind.
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Bool => DataType::Boolean,
            Kind::Time => timestamp_type(),
            Kind::Date => DataType::Date32,
        }
    }
}

macro_rules! columns {
    ($($variant:ident => $name:literal, $kind:ident, $meaning:literal;)*) => {
        /// One column of the `events` table, in table order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Column { $($variant),* }

        impl Column {
            /// Every column, in table order.
            pub const ALL: &'static [Column] = &[$(Column::$variant),*];

            /// The snake_case SQL name.
            pub fn name(self) -> &'static str {
                match self { $(Column::$variant => $name),* }
            }

            /// The Arrow type family.
            pub fn kind(self) -> Kind {
                match self { $(Column::$variant => Kind::$kind),* }
            }

            /// One line saying where the value comes from.
            pub fn meaning(self) -> &'static str {
                match self { $(Column::$variant => $meaning),* }
            }
        }
    };
}

columns! {
    EventTime => "event_time", Time, "eventTime: when the request was made (UTC)";
    EventVersion => "event_version", Text, "eventVersion: version of the CloudTrail record format";
    EventSource => "event_source", Text, "eventSource: the service called, e.g. bedrock.amazonaws.com";
    EventName => "event_name", Text, "eventName: the API action, e.g. InvokeModel";
    EventType => "event_type", Text, "eventType: AwsApiCall, AwsServiceEvent, AwsConsoleSignIn, ...";
    EventCategory => "event_category", Text, "eventCategory: Management, Data, Insight, NetworkActivity";
    EventId => "event_id", Text, "eventID: CloudTrail's unique id of the record";
    RequestId => "request_id", Text, "requestID: the service's id of the request";
    SharedEventId => "shared_event_id", Text, "sharedEventID: links copies of one cross-account event";
    ReadOnly => "read_only", Bool, "readOnly: whether the call only reads";
    ManagementEvent => "management_event", Bool, "managementEvent: management (true) or data (false) event";
    AwsRegion => "aws_region", Text, "awsRegion: the source Region, where the caller sent the request";
    InferenceRegion => "inference_region", Text, "additionalEventData.inferenceRegion: the Region that ran the inference, null when absent";
    ServedRegion => "served_region", Text, "where the request ran, as the log proves it: inference_region when logged; aws_region for an in-Region model call on a surface whose Region the model id decides (no profile, or an application profile copying a foundation model); otherwise NULL = unknown, never a guess";
    SourceGeography => "source_geography", Text, "geography(aws_region): US, EU, APAC, ... (see the regions table)";
    ServedGeography => "served_geography", Text, "geography(served_region)";
    ModelId => "model_id", Text, "requestParameters.modelId (bedrock-runtime) or requestParameters.model (bedrock-mantle) exactly as sent: model id, profile id or ARN";
    Model => "model", Text, "the foundation model inside model_id, e.g. anthropic.claude-sonnet-4-5-20250929-v1:0; for an application profile the model of what it copies (null when the profile is not known: see application_profiles; null for a name without a provider prefix, such as Claude Platform's claude-sonnet-4-6, which a models scope then cannot place)";
    ProfileScope => "profile_scope", Text, "global, us, eu, apac, jp, au, ca, us-gov (the profile prefix), application (application inference profile), null for a plain foundation model";
    RoutingScope => "routing_scope", Text, "where the call may be routed: profile_scope, except for application profiles, which get the scope of the profile they copy (null when they copy a foundation model, or when the profile is not known)";
    IsInvocation => "is_invocation", Bool, "a call that runs a model, on any inference surface of the catalogue (see Inference surfaces below; `surface` says which)";
    Surface => "surface", Text, "the inference surface of the call: runtime, bidirectional-stream, async, batch, mantle, knowledge-base, agent, flow, claude-platform; null for every other event";
    ServedOutsideAws => "served_outside_aws", Bool, "true for a call to a platform operated outside AWS (Claude Platform on AWS: inference may run outside AWS, and served_region is null); false for every other inference call; null for other events";
    Person => "person", Text, "the best human identity of the call, by the first of: sessionContext.sourceIdentity; an IAM Identity Center user's onBehalfOf.userId; the session name of an Identity Center role session (AWSReservedSSO_*); the IAM user of a Bedrock API key; the IAM user name (root for the root user); an assumed role's or federated user's session name; the AWS service (invokedBy) of a service's own call; else null (see person_source)";
    PersonSource => "person_source", Text, "which field gave person: source-identity, identity-center, sso-session, api-key, iam-user, role-session, service, unknown";
    Auth => "auth", Text, "how the request was authenticated: console (sessionCredentialFromConsole), bearer-token (a Bedrock API key: callWithBearerToken in additionalEventData or requestParameters), else sigv4; null without userIdentity";
    SessionTags => "session_tags", Text, "the session tags of the call's credentials as a JSON object (inherited transitive tags included), from the STS event that issued its access key (see sessions); {} when that event passed none; null when the issuing event (or one of a role chain) is not in the archive, and for long-term keys";
    AccountId => "account_id", Text, "recipientAccountId: the account the record belongs to";
    UserType => "user_type", Text, "userIdentity.type: IAMUser, AssumedRole, AWSService, Root, ...";
    PrincipalArn => "principal_arn", Text, "userIdentity.arn";
    PrincipalId => "principal_id", Text, "userIdentity.principalId";
    PrincipalAccountId => "principal_account_id", Text, "userIdentity.accountId: the caller's account";
    AccessKeyId => "access_key_id", Text, "userIdentity.accessKeyId";
    UserName => "user_name", Text, "userIdentity.userName";
    SessionIssuerArn => "session_issuer_arn", Text, "userIdentity.sessionContext.sessionIssuer.arn: the role behind an assumed-role session";
    InvokedBy => "invoked_by", Text, "userIdentity.invokedBy: the AWS service that made the call on the caller's behalf";
    SourceIp => "source_ip", Text, "sourceIPAddress";
    UserAgent => "user_agent", Text, "userAgent";
    VpcEndpointId => "vpc_endpoint_id", Text, "vpcEndpointId";
    ErrorCode => "error_code", Text, "errorCode: null when the call succeeded";
    ErrorMessage => "error_message", Text, "errorMessage";
    RequestParameters => "request_parameters", Text, "requestParameters as JSON text (null when absent)";
    ResponseElements => "response_elements", Text, "responseElements as JSON text (null when absent)";
    AdditionalEventData => "additional_event_data", Text, "additionalEventData as JSON text (null when absent)";
    UserIdentity => "user_identity", Text, "userIdentity as JSON text";
    Resources => "resources", Text, "resources as JSON text (null when absent)";
    TlsDetails => "tls_details", Text, "tlsDetails as JSON text (null when absent)";
    ServiceEventDetails => "service_event_details", Text, "serviceEventDetails as JSON text (null when absent)";
    LogFile => "log_file", Text, "the file the record came from: local path or s3://bucket/key";
    LogAccount => "log_account", Text, "account id from the CloudTrail key layout (null outside it)";
    LogRegion => "log_region", Text, "Region from the CloudTrail key layout (null outside it)";
    LogDate => "log_date", Date, "delivery date from the CloudTrail key layout (null outside it)";
}

impl Column {
    /// The Arrow field of this column; every column is nullable.
    pub fn field(self) -> Field {
        Field::new(self.name(), self.kind().data_type(), true)
    }
}

/// The Arrow schema of the `events` table.
pub fn events_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(
            Column::ALL.iter().map(|c| c.field()).collect::<Vec<_>>(),
        ))
    });
    Arc::clone(&SCHEMA)
}

/// A column of one of the small tables (`regions`, `load_errors`) with its meaning.
pub struct SmallColumn {
    /// SQL name.
    pub name: &'static str,
    /// One line of meaning.
    pub meaning: &'static str,
}

/// Columns of the `integrity` table (`trailmap verify`'s verdict per log file).
pub const INTEGRITY_COLUMNS: &[SmallColumn] = &[
    SmallColumn {
        name: "log_file",
        meaning: "the log file, as in events.log_file",
    },
    SmallColumn {
        name: "status",
        meaning: "valid, modified, missing, unlisted, pending (delivered after the newest digest: too new to judge), trailing-data, unsigned (a local copy without --signatures: hash chain only), unverified or unreadable",
    },
    SmallColumn {
        name: "digest_file",
        meaning: "the digest that names it (null when none does)",
    },
    SmallColumn {
        name: "reason",
        meaning: "why, when not valid",
    },
];

/// Columns of the `regions` reference table.
pub const REGIONS_COLUMNS: &[SmallColumn] = &[
    SmallColumn {
        name: "region",
        meaning: "Region code, e.g. eu-central-1",
    },
    SmallColumn {
        name: "geography",
        meaning: "broad residency area: US, CA, MX, SA, EU, APAC, ME, AF, US-GOV, CN",
    },
    SmallColumn {
        name: "country",
        meaning: "ISO 3166 alpha-2 country of the Region",
    },
    SmallColumn {
        name: "name",
        meaning: "AWS's location name, e.g. Europe (Frankfurt)",
    },
    SmallColumn {
        name: "partition",
        meaning: "aws, aws-us-gov, aws-cn or aws-eusc",
    },
];

/// Columns of the `load_errors` table.
pub const LOAD_ERRORS_COLUMNS: &[SmallColumn] = &[
    SmallColumn {
        name: "log_file",
        meaning: "the file that could not be read",
    },
    SmallColumn {
        name: "stage",
        meaning: "fetch, gunzip, json or schema: how far reading got",
    },
    SmallColumn {
        name: "message",
        meaning: "what was wrong",
    },
    SmallColumn {
        name: "record_index",
        meaning: "index (from 0) of the first record of Records that could not be decoded, when the failure is in one record; null otherwise",
    },
];

/// Columns of the `application_profiles` table.
pub const APPLICATION_PROFILES_COLUMNS: &[SmallColumn] = &[
    SmallColumn {
        name: "arn",
        meaning: "the application inference profile ARN, as calls send it in modelId",
    },
    SmallColumn {
        name: "account_id",
        meaning: "the account that owns it",
    },
    SmallColumn {
        name: "copied_from",
        meaning: "what it copies: a foundation-model ARN or a system inference profile",
    },
    SmallColumn {
        name: "model",
        meaning: "the foundation model inside copied_from",
    },
    SmallColumn {
        name: "routing_scope",
        meaning: "scope of what it copies (global, eu, ...); null when it copies a foundation model (in-Region)",
    },
    SmallColumn {
        name: "created_at",
        meaning: "when it was created (Timestamp), if known",
    },
    SmallColumn {
        name: "source",
        meaning: "the log file of its CreateInferenceProfile event, or profiles-file (--profiles)",
    },
];

/// Microseconds since the epoch as RFC 3339 UTC.
pub fn format_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| micros.to_string())
}

/// Serializes optional microseconds as RFC 3339 UTC text (JSON output).
pub(crate) fn serialize_time<S: serde::Serializer>(
    time: &Option<i64>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match time.map(format_time) {
        Some(text) => s.serialize_str(&text),
        None => s.serialize_none(),
    }
}

/// Columns of the `sessions` table.
pub const SESSIONS_COLUMNS: &[SmallColumn] = &[
    SmallColumn {
        name: "access_key_id",
        meaning: "the temporary access key the event issued (responseElements.credentials.accessKeyId): events.access_key_id of the calls made with it",
    },
    SmallColumn {
        name: "account_id",
        meaning: "the account whose log holds the event (recipientAccountId)",
    },
    SmallColumn {
        name: "event_name",
        meaning: "AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, GetFederationToken or GetSessionToken",
    },
    SmallColumn {
        name: "role_arn",
        meaning: "the role assumed (null for GetFederationToken)",
    },
    SmallColumn {
        name: "session_name",
        meaning: "requestParameters.roleSessionName, or GetFederationToken's name",
    },
    SmallColumn {
        name: "source_identity",
        meaning: "the source identity set on the session",
    },
    SmallColumn {
        name: "principal_tags",
        meaning: "the session tags this event passed (requestParameters.tags or principalTags) as a JSON object",
    },
    SmallColumn {
        name: "session_tags",
        meaning: "what calls with the key carry: principal_tags plus the transitive tags of the session that called STS (role chaining); null when a session of the chain is not in the archive",
    },
    SmallColumn {
        name: "transitive_tag_keys",
        meaning: "requestParameters.transitiveTagKeys as a JSON array",
    },
    SmallColumn {
        name: "caller_access_key_id",
        meaning: "the access key that called STS (userIdentity.accessKeyId); a temporary one chains this session to the one that issued it",
    },
    SmallColumn {
        name: "issuer",
        meaning: "who asked: the caller's ARN, the SAML provider (principalArn) or the AWS service",
    },
    SmallColumn {
        name: "issued_at",
        meaning: "eventTime of the STS event (Timestamp)",
    },
    SmallColumn {
        name: "expires_at",
        meaning: "responseElements.credentials.expiration (Timestamp; null when it does not parse)",
    },
    SmallColumn {
        name: "log_file",
        meaning: "the log file of the event",
    },
];

/// Columns of the `trail_coverage` table.
pub const TRAIL_COVERAGE_COLUMNS: &[SmallColumn] = &[
    SmallColumn {
        name: "trail",
        meaning: "the trail that wrote the logs (trail:NAME sources, --trail, --event-selectors); null when none is named",
    },
    SmallColumn {
        name: "surface",
        meaning: "the inference surface (as events.surface)",
    },
    SmallColumn {
        name: "event_source",
        meaning: "its event source",
    },
    SmallColumn {
        name: "event_names",
        meaning: "its event names, comma-separated (one catalogue entry)",
    },
    SmallColumn {
        name: "event_category",
        meaning: "Management or Data (null: AWS documents none)",
    },
    SmallColumn {
        name: "resource_type",
        meaning: "the resources.type advanced event selectors must select (data events)",
    },
    SmallColumn {
        name: "period_start",
        meaning: "start of the period (--from, or a trail change; null: open)",
    },
    SmallColumn {
        name: "period_end",
        meaning: "end of the period (a trail change, or --to; null: open)",
    },
    SmallColumn {
        name: "status",
        meaning: "recorded, partly recorded, not recorded, unknown, or assumed recorded (--assume-recorded)",
    },
    SmallColumn {
        name: "basis",
        meaning: "what says so: the trail event of the archive (CreateTrail, PutEventSelectors, StopLogging, ...) with its time and file, GetEventSelectors, --event-selectors FILE, or no selectors known",
    },
    SmallColumn {
        name: "reason",
        meaning: "why not every call is recorded (null when recorded)",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in Column::ALL {
            assert!(seen.insert(c.name()), "duplicate column {}", c.name());
            assert!(
                c.name()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            );
        }
        assert_eq!(events_schema().fields().len(), Column::ALL.len());
    }
}
