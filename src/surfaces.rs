//! The catalogue of inference surfaces: every way of running a model that CloudTrail can log,
//! with where the model and the serving Region are logged and whether the call can leave its
//! Region or AWS. Classification of events reads this table, and only this table.
//!
//! Each entry cites the AWS page behind it. Where AWS documents no served Region for a surface,
//! its calls get none (`served_region` NULL: unverifiable for a residency rule), never the
//! caller's Region.

/// How CloudTrail records a surface's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recording {
    /// A management event: every trail records it unless its selectors exclude management events.
    Management,
    /// A data event: recorded only by a trail whose event selectors select this resource type.
    Data {
        /// The `resources.type` of advanced event selectors.
        resource_type: &'static str,
    },
    /// Not documented where this catalogue could check: treated as possibly unrecorded.
    Unknown,
}

/// What the log proves about where a surface's call ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// `additionalEventData.inferenceRegion` when logged; otherwise the caller's Region when
    /// the model id cannot leave it (a plain model id, a foundation-model ARN, an application
    /// profile copying a foundation model); otherwise unknown.
    ByModelId,
    /// Never logged, and the call may run elsewhere: always unknown.
    NotLogged,
}

/// One inference surface.
#[derive(Debug, Clone, Copy)]
pub struct Surface {
    /// The `surface` column's value.
    pub id: &'static str,
    /// `eventSource` of its records.
    pub event_source: &'static str,
    /// `eventName`s that run a model.
    pub event_names: &'static [&'static str],
    /// How CloudTrail records them.
    pub recording: Recording,
    /// What the log proves about where they ran.
    pub served: Served,
    /// Whether the platform is operated outside AWS, so inference may run outside AWS.
    pub outside_aws: bool,
    /// One line on what the surface is and what trailmap can prove about it.
    pub note: &'static str,
    /// The AWS page the entry is drawn from.
    pub source: &'static str,
}

/// `eventSource` of Bedrock: bedrock-runtime, the control plane and bedrock-agent-runtime.
pub const BEDROCK: &str = "bedrock.amazonaws.com";
/// `eventSource` of the `bedrock-mantle` endpoint (OpenAI- and Anthropic-compatible APIs).
pub const MANTLE: &str = "bedrock-mantle.amazonaws.com";
/// `eventSource` of Claude Platform on AWS: its IAM service prefix `aws-external-anthropic`
/// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_aws-external-anthropic.html)
/// with CloudTrail's `.amazonaws.com`, as for every other service; no published record shows it.
pub const CLAUDE_PLATFORM: &str = "aws-external-anthropic.amazonaws.com";

/// Every surface, in the order reports list them.
pub const SURFACES: &[Surface] = &[
    Surface {
        id: "runtime",
        event_source: BEDROCK,
        event_names: &[
            "InvokeModel",
            "InvokeModelWithResponseStream",
            "Converse",
            "ConverseStream",
        ],
        recording: Recording::Management,
        served: Served::ByModelId,
        outside_aws: false,
        note: "bedrock-runtime inference; cross-Region profiles log the serving Region in \
               additionalEventData.inferenceRegion",
        source: "https://docs.aws.amazon.com/bedrock/latest/userguide/cross-region-inference.html",
    },
    Surface {
        id: "bidirectional-stream",
        event_source: BEDROCK,
        event_names: &["InvokeModelWithBidirectionalStream"],
        recording: Recording::Data {
            resource_type: "AWS::Bedrock::Model",
        },
        served: Served::ByModelId,
        outside_aws: false,
        note: "bedrock-runtime bidirectional streaming (speech models); served Region as for \
               runtime; a data event",
        source: "https://docs.aws.amazon.com/bedrock/latest/userguide/logging-using-cloudtrail.html",
    },
    Surface {
        id: "async",
        event_source: BEDROCK,
        event_names: &["StartAsyncInvoke"],
        recording: Recording::Data {
            resource_type: "AWS::Bedrock::AsyncInvoke",
        },
        served: Served::ByModelId,
        outside_aws: false,
        note: "asynchronous invocation of a model id (video models); in-Region unless a \
               profile; a data event",
        source: "https://docs.aws.amazon.com/bedrock/latest/userguide/logging-using-cloudtrail.html",
    },
    Surface {
        id: "batch",
        event_source: BEDROCK,
        event_names: &["CreateModelInvocationJob"],
        recording: Recording::Management,
        served: Served::ByModelId,
        outside_aws: false,
        note: "a batch inference job; one record per job, not per prompt; a job through a \
               cross-Region profile logs no serving Region",
        source: "https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference.html",
    },
    Surface {
        id: "mantle",
        event_source: MANTLE,
        event_names: &["CreateInference"],
        recording: Recording::Data {
            resource_type: "AWS::BedrockMantle::Project",
        },
        served: Served::ByModelId,
        outside_aws: false,
        note: "the bedrock-mantle endpoint (OpenAI Chat Completions and Responses, Anthropic \
               Messages): Region-specific (bedrock-mantle.REGION.api.aws), model in \
               requestParameters.model; a data event on a project (the resource type is named \
               after the IAM project resource)",
        source: "https://docs.aws.amazon.com/bedrock/latest/userguide/logging-cloudtrail-mantle.html",
    },
    Surface {
        id: "knowledge-base",
        event_source: BEDROCK,
        event_names: &["Retrieve", "RetrieveAndGenerate"],
        recording: Recording::Data {
            resource_type: "AWS::Bedrock::KnowledgeBase",
        },
        served: Served::NotLogged,
        outside_aws: false,
        note: "knowledge-base retrieval and generation; the models it runs and where (structured \
               data stores may use cross-Region inference) are not logged; a data event",
        source: "https://docs.aws.amazon.com/bedrock/latest/userguide/logging-using-cloudtrail.html",
    },
    Surface {
        id: "knowledge-base",
        event_names: &["RetrieveAndGenerateStream", "GenerateQuery"],
        event_source: BEDROCK,
        recording: Recording::Unknown,
        served: Served::NotLogged,
        outside_aws: false,
        note: "knowledge-base calls AWS's CloudTrail page does not list (streamed generation, \
               text-to-SQL for structured data stores): counted, never placed",
        source: "https://docs.aws.amazon.com/bedrock/latest/userguide/knowledge-base.html",
    },
    Surface {
        id: "agent",
        event_source: BEDROCK,
        event_names: &["InvokeAgent"],
        recording: Recording::Data {
            resource_type: "AWS::Bedrock::AgentAlias",
        },
        served: Served::NotLogged,
        outside_aws: false,
        note: "Bedrock Agents; the models an agent calls and where are not logged; a data event",
        source: "https://docs.aws.amazon.com/bedrock/latest/userguide/logging-using-cloudtrail.html",
    },
    Surface {
        id: "agent",
        event_source: BEDROCK,
        event_names: &["InvokeInlineAgent"],
        recording: Recording::Data {
            resource_type: "AWS::Bedrock::InlineAgent",
        },
        served: Served::NotLogged,
        outside_aws: false,
        note: "inline Bedrock Agents; the models they call and where are not logged; a data event",
        source: "https://docs.aws.amazon.com/bedrock/latest/userguide/logging-using-cloudtrail.html",
    },
    Surface {
        id: "flow",
        event_source: BEDROCK,
        event_names: &["InvokeFlow"],
        recording: Recording::Data {
            resource_type: "AWS::Bedrock::FlowAlias",
        },
        served: Served::NotLogged,
        outside_aws: false,
        note: "Bedrock Flows; the models a flow calls and where are not logged; a data event",
        source: "https://docs.aws.amazon.com/bedrock/latest/userguide/logging-using-cloudtrail.html",
    },
    Surface {
        id: "claude-platform",
        event_source: CLAUDE_PLATFORM,
        event_names: &["CreateInference", "CreateBatchInference"],
        recording: Recording::Data {
            resource_type: "AWS::AWSExternalAnthropic::Workspace",
        },
        served: Served::NotLogged,
        outside_aws: true,
        note: "Claude Platform on AWS: Claude models run on Anthropic-managed infrastructure and \
               inference may route outside AWS; inference and batch are data events on \
               workspaces. The event source (the IAM prefix with .amazonaws.com) and event names \
               (the IAM actions) are assumed: no published record shows them; model names have \
               no provider prefix (claude-sonnet-4-6)",
        source: "https://docs.aws.amazon.com/claude-platform/latest/userguide/monitoring.html",
    },
];

/// The surface an event belongs to, if it runs a model.
pub fn of(event_source: Option<&str>, event_name: Option<&str>) -> Option<&'static Surface> {
    let (source, name) = (event_source?, event_name?);
    SURFACES
        .iter()
        .find(|s| s.event_source == source && s.event_names.contains(&name))
}

/// The surfaces whose model id decides where a call may run (its profile scope means
/// something): the others never log a served Region.
pub fn routed_by_model_id() -> impl Iterator<Item = &'static Surface> {
    SURFACES.iter().filter(|s| s.served == Served::ByModelId)
}

/// Every surface id, once each, in catalogue order.
pub fn ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = SURFACES.iter().map(|s| s.id).collect();
    ids.dedup();
    ids
}

/// The surface whose `surface` column value is `id`.
pub fn by_id(id: &str) -> Option<&'static Surface> {
    SURFACES.iter().find(|s| s.id == id)
}

/// Whether `event_source` is the source of some inference surface: an event of it under a
/// name the catalogue does not know, that names a model, may be a new inference API.
pub fn is_inference_source(event_source: &str) -> bool {
    SURFACES.iter().any(|s| s.event_source == event_source)
}

/// Every event source of the catalogue, once each, in catalogue order.
pub fn event_sources() -> Vec<&'static str> {
    let mut sources: Vec<&'static str> = Vec::new();
    for surface in SURFACES {
        if !sources.contains(&surface.event_source) {
            sources.push(surface.event_source);
        }
    }
    sources
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_has_one_entry_at_most() {
        for a in SURFACES {
            for name in a.event_names {
                let entries = SURFACES
                    .iter()
                    .filter(|b| b.event_source == a.event_source && b.event_names.contains(name))
                    .count();
                assert_eq!(entries, 1, "{} {name}", a.event_source);
            }
        }
    }

    #[test]
    fn every_entry_cites_an_aws_page() {
        for surface in SURFACES {
            assert!(
                surface.source.starts_with("https://docs.aws.amazon.com/"),
                "{}",
                surface.id
            );
        }
    }

    #[test]
    fn entries_of_one_surface_agree_on_what_it_proves() {
        for a in SURFACES {
            for b in SURFACES.iter().filter(|b| b.id == a.id) {
                assert_eq!(
                    (a.served, a.outside_aws),
                    (b.served, b.outside_aws),
                    "{}",
                    a.id
                );
            }
        }
    }

    /// The named query `by-profile-scope` lists the surfaces routed by their model id itself.
    #[test]
    fn by_profile_scope_names_the_surfaces_routed_by_model_id() {
        let sql = crate::queries::find("by-profile-scope")
            .map(|q| q.sql)
            .unwrap_or_default();
        let ids: Vec<String> = routed_by_model_id()
            .map(|s| format!("'{}'", s.id))
            .collect();
        assert!(
            sql.contains(&format!("surface IN ({})", ids.join(", "))),
            "{sql}"
        );
    }

    #[test]
    fn a_surface_outside_aws_never_proves_a_region() {
        for surface in SURFACES.iter().filter(|s| s.outside_aws) {
            assert_eq!(surface.served, Served::NotLogged, "{}", surface.id);
        }
    }
}
