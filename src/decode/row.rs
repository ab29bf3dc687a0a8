//! The value of every `events` column for one record.
//!
//! [`Row::new`] parses only the nested parts the projected columns need ([`Needs`]), and
//! [`Row::value`] is the single place that says how each column is computed.

use std::borrow::Cow;

use crate::bedrock;
use crate::decode::caller::{self, Caller};
use crate::decode::profiles::ProfileMap;
use crate::decode::record::{
    AdditionalEventData, Identity, Record, RequestParameters, SessionContext, SessionIssuer, nested,
};
use crate::decode::sessions::{SessionTags, is_temporary};
use crate::layout::key::FileContext;
use crate::regions;
use crate::schema::Column;
use crate::surfaces::{self, Served, Surface};

/// A column value, typed by the column's [`crate::schema::Kind`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Text or null.
    Text(Option<&'a str>),
    /// Boolean or null.
    Bool(Option<bool>),
    /// Microseconds since the epoch, or null.
    Time(Option<i64>),
    /// Days since the epoch, or null.
    Date(Option<i32>),
}

/// Which nested parts of a record the projected columns (and filters) need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// `userIdentity` fields.
    pub identity: bool,
    /// `sessionContext.sessionIssuer.arn`.
    pub session_issuer: bool,
    /// `requestParameters.modelId` (or `model`) and what it names, for every record.
    pub model: bool,
    /// `additionalEventData.inferenceRegion`.
    pub inference_region: bool,
    /// The served Region: the model id of invocations that log no `inferenceRegion`.
    pub served: bool,
    /// `person`, `person_source`, `auth`.
    pub caller: bool,
}

impl Needs {
    /// The needs of a set of columns (`eventTime` is not among them: the decoder parses it for
    /// every record, to count each file's oldest event and its unparsable times).
    pub fn of(columns: &[Column]) -> Needs {
        let mut needs = Needs::default();
        for column in columns {
            use Column::*;
            match column {
                UserType | PrincipalArn | PrincipalId | PrincipalAccountId | AccessKeyId
                | UserName | InvokedBy | SessionTags => needs.identity = true,
                Person | PersonSource | Auth => {
                    needs.identity = true;
                    needs.caller = true;
                }
                SessionIssuerArn => {
                    needs.identity = true;
                    needs.session_issuer = true;
                }
                ModelId | Model | ProfileScope | RoutingScope => needs.model = true,
                InferenceRegion => needs.inference_region = true,
                // Whether aws_region is where a call ran depends on the model it names.
                ServedRegion | ServedGeography => {
                    needs.inference_region = true;
                    needs.served = true;
                }
                _ => {}
            }
        }
        needs
    }
}

/// What the model id of a call says, with application profiles resolved where known.
#[derive(Debug, Clone, Copy, Default)]
struct Routing<'r> {
    model: Option<&'r str>,
    profile_scope: Option<&'r str>,
    routing_scope: Option<&'r str>,
    in_region: bool,
    /// An application profile the profile map does not know.
    unresolved_profile: bool,
}

impl<'r> Routing<'r> {
    fn of(model_id: &'r str, profiles: Option<&'r ProfileMap>) -> Self {
        let parsed = bedrock::parse_model_id(model_id);
        let mut routing = Routing {
            model: parsed.model,
            profile_scope: parsed.scope,
            routing_scope: parsed.scope,
            in_region: parsed.in_region,
            unresolved_profile: false,
        };
        if parsed.scope == Some(bedrock::APPLICATION_SCOPE) {
            routing.routing_scope = None;
            match profiles.and_then(|p| p.get(model_id)) {
                Some(profile) => {
                    routing.model = profile.model.as_deref();
                    routing.routing_scope = profile.routing_scope.as_deref();
                    routing.in_region = profile.in_region;
                }
                None => routing.unresolved_profile = true,
            }
        }
        routing
    }
}

/// One record with the nested parts its columns need already parsed.
pub struct Row<'r> {
    record: &'r Record<'r>,
    file: &'r FileContext,
    time: Option<i64>,
    identity: Identity<'r>,
    session_issuer_arn: Option<Cow<'r, str>>,
    model_id: Option<Cow<'r, str>>,
    inference_region: Option<Cow<'r, str>>,
    caller: Option<Caller<'r>>,
}

impl<'r> Row<'r> {
    /// Prepares a record, whose `eventTime` parsed is `time`, for reading its columns.
    pub fn new(
        record: &'r Record<'r>,
        time: Option<i64>,
        file: &'r FileContext,
        needs: Needs,
    ) -> Self {
        let identity: Identity<'r> = if needs.identity {
            nested(record.user_identity)
        } else {
            Identity::default()
        };
        let session_issuer_arn = if needs.session_issuer {
            let context: SessionContext<'r> = nested(identity.session_context);
            let issuer: SessionIssuer<'r> = nested(context.session_issuer);
            issuer.arn.0
        } else {
            None
        };
        let inference_region = if needs.inference_region {
            nested::<AdditionalEventData>(record.additional_event_data)
                .inference_region
                .0
        } else {
            None
        };
        // For the served Region alone, only invocations without inferenceRegion need the model.
        let model_needed = needs.model
            || (needs.served
                && inference_region.is_none()
                && bedrock::is_invocation(record.event_source.get(), record.event_name.get()));
        let model_id = if model_needed {
            nested::<RequestParameters>(record.request_parameters).into_model()
        } else {
            None
        };
        let caller = needs.caller.then(|| caller::caller(record, &identity));
        Row {
            record,
            file,
            time,
            identity,
            session_issuer_arn,
            model_id,
            inference_region,
            caller,
        }
    }

    /// The record itself.
    pub fn record(&self) -> &Record<'r> {
        self.record
    }

    /// The application profile ARN a value of `columns` depends on, when `profiles` does not
    /// know it: the model and routing scope of a call through it always, its served Region when
    /// the record has no `inferenceRegion` (then `served` is true).
    pub fn unknown_profile(
        &self,
        columns: &[Column],
        profiles: Option<&ProfileMap>,
    ) -> Option<(&str, bool)> {
        let arn = self.model_id.as_deref()?;
        if !Routing::of(arn, profiles).unresolved_profile {
            return None;
        }
        let served = self.inference_region.is_none()
            && columns
                .iter()
                .any(|c| matches!(c, Column::ServedRegion | Column::ServedGeography));
        let routed = columns
            .iter()
            .any(|c| matches!(c, Column::Model | Column::RoutingScope));
        (served || routed).then_some((arn, served))
    }

    /// The record's access key, when it is a temporary credential's (whose session tags the
    /// STS event that issued it holds).
    fn temporary_key(&self) -> Option<&str> {
        self.identity
            .access_key_id
            .get()
            .filter(|k| is_temporary(k))
    }

    /// Whether `session_tags` must wait for every session of the archive: the record uses a
    /// temporary credential and `sessions` (every session's tags, once known) is not given.
    pub fn waits_for_sessions(&self, columns: &[Column], sessions: Option<&SessionTags>) -> bool {
        sessions.is_none()
            && self.temporary_key().is_some()
            && columns.contains(&Column::SessionTags)
    }

    fn routing<'a>(&'a self, profiles: Option<&'a ProfileMap>) -> Routing<'a> {
        self.model_id
            .as_deref()
            .map(|id| Routing::of(id, profiles))
            .unwrap_or_default()
    }

    /// The inference surface of the record, if it runs a model.
    fn surface(&self) -> Option<&'static Surface> {
        surfaces::of(self.record.event_source.get(), self.record.event_name.get())
    }

    /// Where the call ran, as far as the log proves it: the logged `inferenceRegion`, or the
    /// source Region for a call on a surface where the model id decides and names a model that
    /// cannot leave it; otherwise unknown. A surface whose served Region AWS does not log (one
    /// call may run several models, or run outside AWS) never gets one, whatever the record says.
    fn served_region<'a>(&'a self, routing: &Routing<'a>) -> Option<&'a str> {
        let surface = self.surface();
        if surface.is_some_and(|s| s.served == Served::NotLogged) {
            return None;
        }
        self.inference_region.as_deref().or_else(|| {
            (surface.is_some() && routing.in_region)
                .then(|| self.record.aws_region.get())
                .flatten()
        })
    }

    /// The value of `column` for this record; `profiles` resolves application profiles and
    /// `sessions` session tags. Without `sessions`, `session_tags` holds the record's temporary
    /// access key, to be replaced by its tags ([`crate::decode::resolve_session_tags`]) once every
    /// session is known.
    pub fn value<'a>(
        &'a self,
        column: Column,
        profiles: Option<&'a ProfileMap>,
        sessions: Option<&'a SessionTags>,
    ) -> Value<'a> {
        use Column::*;
        let r = self.record;
        let routing = match column {
            Model | ProfileScope | RoutingScope | ServedRegion | ServedGeography => {
                self.routing(profiles)
            }
            _ => Routing::default(),
        };
        match column {
            EventTime => Value::Time(self.time),
            EventVersion => Value::Text(r.event_version.get()),
            EventSource => Value::Text(r.event_source.get()),
            EventName => Value::Text(r.event_name.get()),
            EventType => Value::Text(r.event_type.get()),
            EventCategory => Value::Text(r.event_category.get()),
            EventId => Value::Text(r.event_id.get()),
            RequestId => Value::Text(r.request_id.get()),
            SharedEventId => Value::Text(r.shared_event_id.get()),
            ReadOnly => Value::Bool(r.read_only.0),
            ManagementEvent => Value::Bool(r.management_event.0),
            AwsRegion => Value::Text(r.aws_region.get()),
            InferenceRegion => Value::Text(self.inference_region.as_deref()),
            ServedRegion => Value::Text(self.served_region(&routing)),
            SourceGeography => Value::Text(r.aws_region.get().and_then(regions::geography)),
            ServedGeography => {
                Value::Text(self.served_region(&routing).and_then(regions::geography))
            }
            ModelId => Value::Text(self.model_id.as_deref()),
            Model => Value::Text(routing.model),
            ProfileScope => Value::Text(routing.profile_scope),
            RoutingScope => Value::Text(routing.routing_scope),
            IsInvocation => Value::Bool(Some(self.surface().is_some())),
            Surface => Value::Text(self.surface().map(|s| s.id)),
            ServedOutsideAws => Value::Bool(self.surface().map(|s| s.outside_aws)),
            Person => Value::Text(self.caller.as_ref().and_then(|c| c.person.as_deref())),
            PersonSource => Value::Text(self.caller.as_ref().map(|c| c.source.as_str())),
            Auth => Value::Text(
                self.caller
                    .as_ref()
                    .and_then(|c| c.auth.map(|a| a.as_str())),
            ),
            SessionTags => Value::Text(match sessions {
                Some(sessions) => self.temporary_key().and_then(|k| sessions.get(k)),
                None => self.temporary_key(),
            }),
            AccountId => Value::Text(r.recipient_account_id.get()),
            UserType => Value::Text(self.identity.user_type.get()),
            PrincipalArn => Value::Text(self.identity.arn.get()),
            PrincipalId => Value::Text(self.identity.principal_id.get()),
            PrincipalAccountId => Value::Text(self.identity.account_id.get()),
            AccessKeyId => Value::Text(self.identity.access_key_id.get()),
            UserName => Value::Text(self.identity.user_name.get()),
            SessionIssuerArn => Value::Text(self.session_issuer_arn.as_deref()),
            InvokedBy => Value::Text(self.identity.invoked_by.get()),
            SourceIp => Value::Text(r.source_ip.get()),
            UserAgent => Value::Text(r.user_agent.get()),
            VpcEndpointId => Value::Text(r.vpc_endpoint_id.get()),
            ErrorCode => Value::Text(r.error_code.get()),
            ErrorMessage => Value::Text(r.error_message.get()),
            RequestParameters => Value::Text(r.request_parameters.map(|v| v.get())),
            ResponseElements => Value::Text(r.response_elements.map(|v| v.get())),
            AdditionalEventData => Value::Text(r.additional_event_data.map(|v| v.get())),
            UserIdentity => Value::Text(r.user_identity.map(|v| v.get())),
            Resources => Value::Text(r.resources.map(|v| v.get())),
            TlsDetails => Value::Text(r.tls_details.map(|v| v.get())),
            ServiceEventDetails => Value::Text(r.service_event_details.map(|v| v.get())),
            LogFile => Value::Text(Some(&self.file.log_file)),
            LogAccount => Value::Text(self.file.key.account.as_deref()),
            LogRegion => Value::Text(self.file.key.region.as_deref()),
            LogDate => Value::Date(self.file.log_date),
        }
    }
}
