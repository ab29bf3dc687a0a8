//! Who made a call: the person behind it, which field says so, and how the request was
//! authenticated (`person`, `person_source` and `auth` in `events`).
//!
//! CloudTrail scatters the human behind a call over several fields of `userIdentity`; the
//! precedence below takes the one that names a person most reliably, first match wins:
//!
//! 1. `source-identity`: `sessionContext.sourceIdentity`, set by the identity provider or the
//!    first role assumed, and kept through role chaining.
//! 2. `identity-center`: `type = IdentityCenterUser`, the user id in `onBehalfOf.userId`.
//! 3. `sso-session`: an assumed role whose issuer is an IAM Identity Center role
//!    (`AWSReservedSSO_*`): the session name, which Identity Center sets to the user.
//! 4. `api-key`: a call with a Bedrock API key (bearer token) made as an IAM user: the user the
//!    long-term key belongs to.
//! 5. `iam-user`: `type = IAMUser`, the user name (`root` for the account's root user).
//! 6. `role-session`: any other assumed role or federated user: the session name, as whoever
//!    assumed the role chose it.
//! 7. `service`: an AWS service's own call (`type = AWSService`): the service (`invokedBy`).
//! 8. `unknown`: none of these (`person` is null).
//!
//! `auth` is `console` when the call carries `sessionCredentialFromConsole`, `bearer-token` when
//! it carries `callWithBearerToken` (in `additionalEventData` on bedrock-runtime, in
//! `requestParameters` on bedrock-mantle), `sigv4` otherwise, and null for a record without
//! `userIdentity`.

use std::borrow::Cow;

use crate::decode::record::{
    BearerToken, Identity, OnBehalfOf, Record, SessionContext, SessionIssuer, nested,
};

/// Which field gave `person`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonSource {
    /// `sessionContext.sourceIdentity`.
    SourceIdentity,
    /// An IAM Identity Center user (`onBehalfOf.userId`).
    IdentityCenter,
    /// The session name of an IAM Identity Center role session.
    SsoSession,
    /// The IAM user a Bedrock API key belongs to.
    ApiKey,
    /// An IAM user (or the root user).
    IamUser,
    /// The session name of an assumed role or federated user.
    RoleSession,
    /// An AWS service.
    Service,
    /// Nothing names a person.
    Unknown,
}

impl PersonSource {
    /// Every source, in precedence order.
    pub const ALL: [PersonSource; 8] = [
        PersonSource::SourceIdentity,
        PersonSource::IdentityCenter,
        PersonSource::SsoSession,
        PersonSource::ApiKey,
        PersonSource::IamUser,
        PersonSource::RoleSession,
        PersonSource::Service,
        PersonSource::Unknown,
    ];

    /// The value of `person_source`.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonSource::SourceIdentity => "source-identity",
            PersonSource::IdentityCenter => "identity-center",
            PersonSource::SsoSession => "sso-session",
            PersonSource::ApiKey => "api-key",
            PersonSource::IamUser => "iam-user",
            PersonSource::RoleSession => "role-session",
            PersonSource::Service => "service",
            PersonSource::Unknown => "unknown",
        }
    }
}

/// How the request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// Signature Version 4 with access keys.
    Sigv4,
    /// A Bedrock API key.
    BearerToken,
    /// The AWS Management Console.
    Console,
}

impl Auth {
    /// The value of `auth`.
    pub fn as_str(self) -> &'static str {
        match self {
            Auth::Sigv4 => "sigv4",
            Auth::BearerToken => "bearer-token",
            Auth::Console => "console",
        }
    }
}

/// The caller of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller<'r> {
    /// The best human identity of the call.
    pub person: Option<Cow<'r, str>>,
    /// Which field gave it.
    pub source: PersonSource,
    /// How the request was authenticated (none without `userIdentity`).
    pub auth: Option<Auth>,
}

/// Role names IAM Identity Center gives the roles of its permission sets.
const SSO_ROLE_PREFIX: &str = "AWSReservedSSO_";

/// The caller of `record`, whose `userIdentity` parsed is `identity`.
pub fn caller<'r>(record: &Record<'r>, identity: &Identity<'r>) -> Caller<'r> {
    let auth = record.user_identity.map(|_| auth(record));
    let (person, source) = person(identity, auth == Some(Auth::BearerToken));
    Caller {
        person,
        source,
        auth,
    }
}

fn auth(record: &Record<'_>) -> Auth {
    let bearer = |raw| nested::<BearerToken>(raw).call_with_bearer_token.0 == Some(true);
    if record.session_credential_from_console.0 == Some(true) {
        Auth::Console
    } else if bearer(record.additional_event_data) || bearer(record.request_parameters) {
        Auth::BearerToken
    } else {
        Auth::Sigv4
    }
}

fn person<'r>(identity: &Identity<'r>, bearer: bool) -> (Option<Cow<'r, str>>, PersonSource) {
    let context: SessionContext<'r> = nested(identity.session_context);
    if let Some(source_identity) = context.source_identity.0.filter(|s| !s.is_empty()) {
        return (Some(source_identity), PersonSource::SourceIdentity);
    }
    let kind = identity.user_type.get().unwrap_or_default();
    let found = |value: Option<Cow<'r, str>>, source| {
        value.filter(|v| !v.is_empty()).map(|v| (Some(v), source))
    };
    let by_type = match kind {
        "IdentityCenterUser" => found(
            nested::<OnBehalfOf>(identity.on_behalf_of).user_id.0,
            PersonSource::IdentityCenter,
        ),
        "AssumedRole" => {
            let issuer: SessionIssuer<'r> = nested(context.session_issuer);
            let sso = issuer
                .user_name
                .get()
                .is_some_and(|role| role.starts_with(SSO_ROLE_PREFIX))
                || issuer
                    .arn
                    .get()
                    .is_some_and(|arn| arn.contains("/aws-reserved/sso.amazonaws.com/"));
            let source = if sso {
                PersonSource::SsoSession
            } else {
                PersonSource::RoleSession
            };
            found(session_name(identity), source)
        }
        "FederatedUser" | "SAMLUser" | "WebIdentityUser" => found(
            session_name(identity).or_else(|| identity.user_name.0.clone()),
            PersonSource::RoleSession,
        ),
        "IAMUser" if bearer => found(identity.user_name.0.clone(), PersonSource::ApiKey),
        "IAMUser" => found(identity.user_name.0.clone(), PersonSource::IamUser),
        "Root" => Some((Some(Cow::Borrowed("root")), PersonSource::IamUser)),
        "AWSService" => found(identity.invoked_by.0.clone(), PersonSource::Service),
        _ => None,
    };
    by_type.unwrap_or((None, PersonSource::Unknown))
}

/// The session name in an assumed-role or federated-user ARN (`.../ROLE/SESSION`,
/// `federated-user/NAME`).
fn session_name<'r>(identity: &Identity<'r>) -> Option<Cow<'r, str>> {
    let arn = identity.arn.0.as_ref()?;
    let resource = arn.splitn(6, ':').nth(5)?;
    let name = match resource.split_once('/')? {
        // Session names cannot hold `/`; the role before it is the last part of a path.
        ("assumed-role", rest) => rest.rsplit_once('/')?.1,
        ("federated-user", name) => name,
        _ => return None,
    };
    Some(match arn {
        Cow::Borrowed(text) => Cow::Borrowed(&text[text.len() - name.len()..]),
        Cow::Owned(_) => Cow::Owned(name.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(record_json: &str) -> (Option<String>, &'static str, Option<&'static str>) {
        let record: Record = serde_json::from_str(record_json).unwrap();
        let identity: Identity = nested(record.user_identity);
        let c = caller(&record, &identity);
        (
            c.person.map(Cow::into_owned),
            c.source.as_str(),
            c.auth.map(Auth::as_str),
        )
    }

    #[test]
    fn an_assumed_role_session_name_is_the_last_part_of_its_arn() {
        let got = of(r#"{"userIdentity":{"type":"AssumedRole",
            "arn":"arn:aws:sts::111122223333:assumed-role/path/Role/alice@example.com"}}"#);
        assert_eq!(got.0.as_deref(), Some("alice@example.com"));
        let got = of(r#"{"userIdentity":{"type":"AssumedRole",
            "arn":"arn:aws:sts::111122223333:assumed-role/Role/alice@example.com"}}"#);
        assert_eq!(
            got,
            (
                Some("alice@example.com".into()),
                "role-session",
                Some("sigv4")
            )
        );
    }

    #[test]
    fn no_user_identity_has_no_auth_and_no_person() {
        assert_eq!(of(r#"{"eventName":"X"}"#), (None, "unknown", None));
    }

    #[test]
    fn an_empty_source_identity_is_not_a_person() {
        let got = of(r#"{"userIdentity":{"type":"IAMUser","userName":"bob",
            "sessionContext":{"sourceIdentity":""}}}"#);
        assert_eq!(got, (Some("bob".into()), "iam-user", Some("sigv4")));
    }
}
