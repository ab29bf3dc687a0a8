//! STS sessions: the temporary credentials that `AssumeRole`, `AssumeRoleWithSAML`,
//! `AssumeRoleWithWebIdentity`, `GetFederationToken` and `GetSessionToken` issue, with the session tags passed
//! when they were issued (rows of `sessions`, and `events.session_tags`).
//!
//! Session tags appear only in the STS event that issued the credentials: `requestParameters.tags`
//! (`[{"key": ..., "value": ...}]`, AssumeRole and GetFederationToken) or
//! `requestParameters.principalTags` (from the identity provider, AssumeRoleWithSAML and
//! AssumeRoleWithWebIdentity), with `transitiveTagKeys`. Later calls made with the credentials
//! carry only the access key id (`userIdentity.accessKeyId`), which the issuing event logs in
//! `responseElements.credentials.accessKeyId`.
//!
//! A session assumed with another session's credentials (role chaining) also carries that
//! session's transitive tags: its tags are known only when every session of the chain is.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::record::{Identity, Raw, Record, Text, nested};
use super::time::parse_event_time;

/// The STS event source.
pub const STS_EVENT_SOURCE: &str = "sts.amazonaws.com";

/// The STS events that issue temporary credentials (`GetSessionToken` passes no tags: its
/// sessions are known to carry none).
pub const ISSUING_EVENTS: [&str; 5] = [
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetFederationToken",
    "GetSessionToken",
];

/// Tags by key.
pub type Tags = BTreeMap<String, String>;

/// Chains longer than this are treated as unknown (AWS allows a session to assume a role for at
/// most an hour; real chains are a few links).
const MAX_CHAIN: usize = 32;

/// One issued credential: a row of `sessions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The issued access key id (`ASIA...`).
    pub access_key_id: String,
    /// The account whose log holds the event (`recipientAccountId`).
    pub account_id: Option<String>,
    /// The STS event (`AssumeRole`, ...).
    pub event_name: String,
    /// The role assumed (none for `GetFederationToken`).
    pub role_arn: Option<String>,
    /// The role session name, or the federated user's name.
    pub session_name: Option<String>,
    /// The source identity set on the session.
    pub source_identity: Option<String>,
    /// The tags passed in this event.
    pub tags: Tags,
    /// The keys of those (and inherited) tags that pass on to chained sessions.
    pub transitive_tag_keys: Vec<String>,
    /// Whether the tags and transitive keys were read as logged (false: present in a shape
    /// trailmap cannot read, such as `HIDDEN_DUE_TO_SECURITY_REASONS`, so they are unknown).
    pub tags_readable: bool,
    /// Who called STS, as far as inherited tags go.
    pub caller: StsCaller,
    /// Who asked: the caller's ARN, or the identity provider.
    pub issuer: Option<String>,
    /// When (microseconds since the epoch).
    pub issued_at: Option<i64>,
    /// When the credentials expire.
    pub expires_at: Option<i64>,
    /// The log file of the event.
    pub log_file: String,
}

/// Who called STS for a session, as far as the tags it inherits go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsCaller {
    /// A caller without session tags to pass on: an IAM user or the root user (long-term
    /// keys, or `GetSessionToken`'s untagged session), an AWS service, or an identity provider
    /// (`AssumeRoleWithSAML`, `AssumeRoleWithWebIdentity`).
    NoSession,
    /// Another session's temporary credentials (role chaining): its transitive tags pass on.
    Session(String),
    /// A caller the event does not identify well enough (another account, an assumed role
    /// without its key): what it passes on is unknown.
    Unknown,
}

impl StsCaller {
    /// The caller of an STS event whose `userIdentity` parsed is `identity`.
    fn of(identity: Option<&Identity<'_>>) -> Self {
        let Some(identity) = identity else {
            return StsCaller::Unknown;
        };
        match identity.user_type.get() {
            Some("IAMUser" | "Root" | "AWSService" | "SAMLUser" | "WebIdentityUser") => {
                StsCaller::NoSession
            }
            _ => match identity.access_key_id.get().filter(|k| is_temporary(k)) {
                Some(key) => StsCaller::Session(key.to_owned()),
                None => StsCaller::Unknown,
            },
        }
    }

    /// How much the caller tells: a session beats no session beats unknown.
    fn rank(&self) -> u8 {
        match self {
            StsCaller::Session(_) => 2,
            StsCaller::NoSession => 1,
            StsCaller::Unknown => 0,
        }
    }
}

impl Session {
    /// The access key of the session that called STS (role chaining), if any.
    pub fn caller_access_key_id(&self) -> Option<&str> {
        match &self.caller {
            StsCaller::Session(key) => Some(key),
            _ => None,
        }
    }

    /// Which of two events issuing the same key to keep, whatever order they come in: the one
    /// that tells more of its caller (a cross-account `AssumeRole` is logged in both accounts,
    /// only the caller's copy with the caller's key), then readable tags, then the first log
    /// file by name, then the tags.
    fn preference(&self) -> impl Ord + '_ {
        (
            self.caller.rank(),
            self.tags_readable,
            std::cmp::Reverse(self.log_file.as_str()),
            std::cmp::Reverse(&self.tags),
        )
    }
}

/// Sessions by issued access key id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionMap {
    by_key: HashMap<String, Session>,
}

impl SessionMap {
    /// The session that issued `access_key_id`.
    pub fn get(&self, access_key_id: &str) -> Option<&Session> {
        self.by_key.get(access_key_id)
    }

    /// Every session, in no order.
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.by_key.values()
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Adds a session. A key is issued once, but its event may be logged twice (in the caller's
    /// and the role's account): the copy kept is the same whatever the order
    /// ([`Session::preference`]).
    pub fn insert(&mut self, session: Session) {
        match self.by_key.get_mut(&session.access_key_id) {
            Some(kept) if session.preference() > kept.preference() => *kept = session,
            Some(_) => {}
            None => {
                self.by_key.insert(session.access_key_id.clone(), session);
            }
        }
    }

    /// Adds every session of `other`.
    pub fn extend(&mut self, other: SessionMap) {
        for session in other.by_key.into_values() {
            self.insert(session);
        }
    }

    /// Collects `record` if it is a successful STS event that issued credentials.
    pub fn collect_record(&mut self, record: &Record<'_>, log_file: &str) {
        if record.event_source.get() != Some(STS_EVENT_SOURCE) || record.error_code.get().is_some()
        {
            return;
        }
        let Some(event_name) = record.event_name.get() else {
            return;
        };
        let issued = issued_session(IssuingEvent {
            event_name,
            request_parameters: record.request_parameters,
            response_elements: record.response_elements,
            user_identity: record.user_identity,
            event_time: record.event_time.get().and_then(parse_event_time),
            account_id: record.recipient_account_id.get(),
            log_file,
        });
        if let Some(session) = issued {
            self.insert(session);
        }
    }

    /// The tags calls made with `access_key_id` carry, as a JSON object text (`{}` for none);
    /// `None` when the key was not issued by an event of the map, or a session it was chained
    /// from was not (or its caller is unknown, or its tags unreadable). Long-term keys
    /// (`AKIA...`) carry no session tags: `None` too.
    pub fn session_tags(&self, access_key_id: &str) -> Option<String> {
        let (tags, _) = self.effective(access_key_id, 0)?;
        serde_json::to_string(&tags).ok()
    }

    /// The tags and transitive keys of the session of `access_key_id`, inherited ones included.
    fn effective(&self, access_key_id: &str, depth: usize) -> Option<(Tags, Vec<String>)> {
        let session = self.get(access_key_id)?;
        if !session.tags_readable {
            return None;
        }
        let mut tags = Tags::new();
        let mut transitive: Vec<String> = Vec::new();
        match &session.caller {
            StsCaller::NoSession => {}
            StsCaller::Unknown => return None,
            StsCaller::Session(caller) => {
                if depth >= MAX_CHAIN {
                    return None;
                }
                let (inherited, keys) = self.effective(caller, depth + 1)?;
                for key in keys {
                    // Tag keys are one whatever their case, as IAM compares them.
                    let value = inherited.iter().find(|(k, _)| k.eq_ignore_ascii_case(&key));
                    if let Some((k, value)) = value {
                        tags.insert(k.clone(), value.clone());
                    }
                    transitive.push(key);
                }
            }
        }
        tags.extend(session.tags.clone());
        transitive.extend(session.transitive_tag_keys.iter().cloned());
        transitive.sort();
        transitive.dedup();
        Some((tags, transitive))
    }
}

/// The `session_tags` of every key a complete [`SessionMap`] knows the tags of, as the JSON text
/// `events.session_tags` holds (worked out once, not per call).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionTags {
    by_key: HashMap<String, String>,
}

impl SessionTags {
    /// The tags of every session of `map` whose chain `map` knows whole.
    pub fn of(map: &SessionMap) -> Self {
        let by_key = map
            .iter()
            .filter_map(|s| {
                let tags = map.session_tags(&s.access_key_id)?;
                Some((s.access_key_id.clone(), tags))
            })
            .collect();
        SessionTags { by_key }
    }

    /// The tags of calls made with `access_key_id`, when known.
    pub fn get(&self, access_key_id: &str) -> Option<&str> {
        self.by_key.get(access_key_id).map(String::as_str)
    }

    /// The keys whose tags are known.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.by_key.keys().map(String::as_str)
    }

    /// Whether no key's tags are known.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The tags known here but not in `before` (keys whose sessions, or a session of whose
    /// chain, were learned since).
    pub fn learned_since(&self, before: &SessionTags) -> SessionTags {
        let by_key = self
            .by_key
            .iter()
            .filter(|(key, _)| before.get(key).is_none())
            .map(|(key, tags)| (key.clone(), tags.clone()))
            .collect();
        SessionTags { by_key }
    }
}

impl FromIterator<Session> for SessionMap {
    fn from_iter<I: IntoIterator<Item = Session>>(sessions: I) -> Self {
        let mut map = SessionMap::default();
        sessions.into_iter().for_each(|s| map.insert(s));
        map
    }
}

/// Whether an access key id is a temporary credential's (issued by STS).
pub fn is_temporary(access_key_id: &str) -> bool {
    access_key_id.starts_with("ASIA")
}

/// Whether a JSON text may hold an issuing STS event (it names the event source, or spells
/// names with escapes: see [`super::profiles::may_create_profile`]).
pub fn may_issue_session(text: &[u8]) -> bool {
    memchr::memmem::find(text, STS_EVENT_SOURCE.as_bytes()).is_some()
}

/// The parts of an STS event a session is read from (of a record, or of a row of `events`).
#[derive(Debug, Clone, Copy)]
pub struct IssuingEvent<'a> {
    /// `eventName`.
    pub event_name: &'a str,
    /// `requestParameters`.
    pub request_parameters: Option<Raw<'a>>,
    /// `responseElements`.
    pub response_elements: Option<Raw<'a>>,
    /// `userIdentity`.
    pub user_identity: Option<Raw<'a>>,
    /// `eventTime`.
    pub event_time: Option<i64>,
    /// `recipientAccountId`.
    pub account_id: Option<&'a str>,
    /// The log file.
    pub log_file: &'a str,
}

/// The session a successful issuing STS event created (the caller checked the event source and
/// that it did not fail).
pub fn issued_session(event: IssuingEvent<'_>) -> Option<Session> {
    if !ISSUING_EVENTS.contains(&event.event_name) {
        return None;
    }
    let request: StsRequest = nested(event.request_parameters);
    // Parameters that are not an object (hidden, or missing) hide any tags they would hold;
    // GetSessionToken takes none.
    let parameters_readable = event.event_name == "GetSessionToken"
        || event
            .request_parameters
            .is_some_and(|raw| raw.get().trim_start().starts_with('{'));
    let response: StsResponse = nested(event.response_elements);
    let credentials: Credentials = nested(response.credentials);
    let access_key_id = credentials.access_key_id.get()?.to_owned();
    let identity: Option<Identity> = event
        .user_identity
        .and_then(|raw| serde_json::from_str(raw.get()).ok());
    let mut tags = Tags::new();
    let mut tags_readable = parameters_readable;
    for tags_field in [request.tags, request.principal_tags] {
        match tag_list(tags_field) {
            Some(list) => tags.extend(list),
            None => tags_readable = false,
        }
    }
    let transitive_tag_keys: Vec<String> = match request.transitive_tag_keys {
        None => Vec::new(),
        Some(raw) => serde_json::from_str::<Vec<String>>(raw.get()).unwrap_or_else(|_| {
            tags_readable = false;
            Vec::new()
        }),
    };
    let caller = StsCaller::of(identity.as_ref());
    let identity = identity.unwrap_or_default();
    let owned = |text: Text<'_>| text.get().filter(|t| !t.is_empty()).map(str::to_owned);
    Some(Session {
        access_key_id,
        account_id: event.account_id.map(str::to_owned),
        event_name: event.event_name.to_owned(),
        role_arn: owned(request.role_arn),
        session_name: owned(request.role_session_name).or_else(|| owned(request.name)),
        source_identity: owned(request.source_identity).or_else(|| owned(response.source_identity)),
        tags,
        transitive_tag_keys,
        tags_readable,
        caller,
        issuer: owned(identity.arn)
            .or_else(|| owned(request.principal_arn))
            .or_else(|| owned(identity.invoked_by)),
        issued_at: event.event_time,
        expires_at: credentials.expiration.get().and_then(parse_expiration),
        log_file: event.log_file.to_owned(),
    })
}

/// Tags as CloudTrail logs them: a list of `{"key": ..., "value": ...}` (any case of the
/// names), or an object of key to value; values of any scalar type are read as text. `None`
/// when they are there in another shape (then what they say is unknown).
fn tag_list(raw: Option<Raw<'_>>) -> Option<Tags> {
    let Some(raw) = raw else {
        return Some(Tags::new());
    };
    #[derive(Deserialize)]
    struct Tag<'a> {
        #[serde(alias = "Key", borrow)]
        key: Text<'a>,
        #[serde(alias = "Value", borrow, default)]
        value: Text<'a>,
    }
    // A value that is not text, a number or a boolean is not a tag CloudTrail would log.
    let pair =
        |key: Text<'_>, value: Text<'_>| Some((key.get()?.to_owned(), value.get()?.to_owned()));
    match serde_json::from_str::<serde_json::Value>(raw.get()).ok()? {
        serde_json::Value::Null => Some(Tags::new()),
        serde_json::Value::Array(_) => serde_json::from_str::<Vec<Tag>>(raw.get())
            .ok()?
            .into_iter()
            .map(|t| pair(t.key, t.value))
            .collect(),
        serde_json::Value::Object(_) => serde_json::from_str::<BTreeMap<String, Text>>(raw.get())
            .ok()?
            .into_iter()
            .map(|(key, value)| pair(Text(Some(key.into())), value))
            .collect(),
        _ => None,
    }
}

/// `credentials.expiration`: CloudTrail writes `Jul 19, 2019 10:08:13 PM` or
/// `Jul 19, 2019, 10:08:13 PM` (UTC); RFC 3339 is accepted too.
fn parse_expiration(text: &str) -> Option<i64> {
    parse_event_time(text).or_else(|| {
        ["%b %d, %Y %I:%M:%S %p", "%b %d, %Y, %I:%M:%S %p"]
            .iter()
            .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
            .map(|t| t.and_utc().timestamp_micros())
    })
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct StsRequest<'a> {
    #[serde(borrow)]
    role_arn: Text<'a>,
    #[serde(borrow)]
    role_session_name: Text<'a>,
    /// `GetFederationToken`'s federated user name.
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    source_identity: Text<'a>,
    #[serde(borrow)]
    principal_arn: Text<'a>,
    #[serde(borrow)]
    tags: Option<Raw<'a>>,
    #[serde(borrow)]
    principal_tags: Option<Raw<'a>>,
    #[serde(borrow)]
    transitive_tag_keys: Option<Raw<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct StsResponse<'a> {
    #[serde(borrow)]
    credentials: Option<Raw<'a>>,
    #[serde(borrow)]
    source_identity: Text<'a>,
}

#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Credentials<'a> {
    #[serde(borrow)]
    access_key_id: Text<'a>,
    #[serde(borrow)]
    expiration: Text<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_map(records: &[&str]) -> SessionMap {
        let mut map = SessionMap::default();
        for json in records {
            let record: Record = serde_json::from_str(json).unwrap();
            map.collect_record(&record, "f.json.gz");
        }
        map
    }

    const ASSUME: &str = r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole",
        "eventTime":"2025-03-01T10:00:00Z","recipientAccountId":"111122223333",
        "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops","accessKeyId":"AKIAOPS"},
        "requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/Analyst","roleSessionName":"alice",
          "tags":[{"key":"team","value":"eu-analytics"},{"key":"cost","value":"42"}],"transitiveTagKeys":["team"]},
        "responseElements":{"credentials":{"accessKeyId":"ASIAONE","expiration":"Mar 1, 2025 11:00:00 AM"}}}"#;

    #[test]
    fn an_assume_role_event_issues_a_session_with_its_tags() {
        let map = record_map(&[ASSUME]);
        let s = map.get("ASIAONE").unwrap();
        assert_eq!(
            s.role_arn.as_deref(),
            Some("arn:aws:iam::111122223333:role/Analyst")
        );
        assert_eq!(s.session_name.as_deref(), Some("alice"));
        assert_eq!(s.caller, StsCaller::NoSession);
        assert_eq!(
            s.issuer.as_deref(),
            Some("arn:aws:iam::111122223333:user/ops")
        );
        assert_eq!(s.expires_at, parse_event_time("2025-03-01T11:00:00Z"));
        assert_eq!(
            parse_expiration("Mar 1, 2025, 1:00:00 PM"),
            parse_event_time("2025-03-01T13:00:00Z")
        );
        assert_eq!(
            map.session_tags("ASIAONE").as_deref(),
            Some(r#"{"cost":"42","team":"eu-analytics"}"#)
        );
        assert_eq!(map.session_tags("ASIAOTHER"), None);
    }

    #[test]
    fn a_chained_session_inherits_transitive_tags_and_is_unknown_without_its_parent() {
        let chained = r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole",
            "userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAONE"},
            "requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/Next","roleSessionName":"hop",
              "tags":[{"key":"project","value":"x"}]},
            "responseElements":{"credentials":{"accessKeyId":"ASIATWO"}}}"#;
        let map = record_map(&[ASSUME, chained]);
        assert_eq!(
            map.session_tags("ASIATWO").as_deref(),
            Some(r#"{"project":"x","team":"eu-analytics"}"#)
        );
        let alone = record_map(&[chained]);
        assert_eq!(alone.session_tags("ASIATWO"), None);
    }

    #[test]
    fn saml_principal_tags_as_an_object_and_failed_events_issue_nothing() {
        let saml = r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRoleWithSAML",
            "userIdentity":{"type":"SAMLUser","principalId":"x","userName":"alice@example.com"},
            "requestParameters":{"roleArn":"arn:aws:iam::1:role/R","roleSessionName":"alice@example.com",
              "principalArn":"arn:aws:iam::1:saml-provider/Okta","principalTags":{"team":"eu"}},
            "responseElements":{"credentials":{"accessKeyId":"ASIASAML"}}}"#;
        let failed = ASSUME.replace(
            "\"eventTime\"",
            "\"errorCode\":\"AccessDenied\",\"eventTime\"",
        );
        let map = record_map(&[saml, &failed]);
        assert_eq!(map.len(), 1);
        assert_eq!(
            map.session_tags("ASIASAML").as_deref(),
            Some(r#"{"team":"eu"}"#)
        );
        assert_eq!(
            map.get("ASIASAML").unwrap().issuer.as_deref(),
            Some("arn:aws:iam::1:saml-provider/Okta")
        );
    }
}
