//! Realistic CloudTrail records: Bedrock invocations in every model id form (bedrock-runtime and
//! bedrock-mantle), application profiles created with `CreateInferenceProfile`, and the noise
//! around them (STS, console sign-in, S3 data events, KMS, Bedrock control plane).
//!
//! Planted on purpose, so that tests and sample-data show them: profile calls whose record has no
//! `inferenceRegion` (the served Region is unknown), calls through an application profile that
//! no event in the archive creates, and records with an `eventTime` that does not parse.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::rng::Rng;

/// Who and where a record is logged for.
pub struct Origin<'a> {
    /// recipientAccountId.
    pub account: &'a str,
    /// awsRegion (the source Region).
    pub region: &'a str,
    /// eventTime.
    pub time: DateTime<Utc>,
}

const MODELS: &[&str] = &[
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "amazon.nova-pro-v1:0",
    "meta.llama3-3-70b-instruct-v1:0",
];

const INVOKE_NAMES: &[(u64, &str)] = &[
    (35, "InvokeModel"),
    (30, "Converse"),
    (20, "ConverseStream"),
    (15, "InvokeModelWithResponseStream"),
];

const GLOBAL_DESTINATIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "eu-north-1",
    "ap-northeast-1",
    "ap-southeast-2",
    "sa-east-1",
];

const USER_AGENTS: &[&str] = &[
    "aws-sdk-py/1.35.36 ua/2.1 os/linux#5.10 lang/python#3.12.4 md/pyimpl#CPython cfg/retry-mode#standard Botocore/1.35.36",
    "aws-sdk-java/2.28.11 Linux/5.10 OpenJDK_64-Bit_Server_VM/21.0.4 Java/21.0.4 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/adaptive",
    "aws-sdk-js/3.670.0 ua/2.1 os/linux#6.1 lang/js md/nodejs#20.18.0 api/bedrock-runtime#3.670.0",
    "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.11.9",
];

/// The geographic profile prefix a caller in `region` would use, with the Regions it routes to.
fn geographic_profile(region: &str, rng: &mut Rng) -> (&'static str, &'static [&'static str]) {
    match region {
        r if r.starts_with("eu-") => (
            "eu",
            &["eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1"],
        ),
        "ap-northeast-1" if rng.percent(50) => ("jp", &["ap-northeast-1", "ap-northeast-3"]),
        "ap-southeast-2" if rng.percent(50) => ("au", &["ap-southeast-2", "ap-southeast-4"]),
        r if r.starts_with("ap-") => (
            "apac",
            &[
                "ap-northeast-1",
                "ap-northeast-2",
                "ap-southeast-1",
                "ap-southeast-2",
                "ap-south-1",
            ],
        ),
        _ => ("us", &["us-east-1", "us-east-2", "us-west-2"]),
    }
}

/// The id of the application profile the generated archive creates for an account and Region.
pub fn application_profile_id(account: &str, region: &str) -> String {
    format!("tm{}{}", &account[..4], region.replace('-', ""))
}

/// The application profile ARN of `id` in the origin's account and Region.
fn application_profile_arn(origin: &Origin, id: &str) -> String {
    format!(
        "arn:aws:bedrock:{}:{}:application-inference-profile/{id}",
        origin.region, origin.account
    )
}

/// What the archive's application profile of a Region copies: a geographic profile in Europe, a
/// global profile in Asia-Pacific, an in-Region foundation model elsewhere.
fn application_profile_source(region: &str) -> String {
    let model = MODELS[0];
    if region.starts_with("eu-") {
        format!("arn:aws:bedrock:{region}::inference-profile/eu.{model}")
    } else if region.starts_with("ap-") {
        format!("arn:aws:bedrock:{region}::inference-profile/global.{model}")
    } else {
        format!("arn:aws:bedrock:{region}::foundation-model/{model}")
    }
}

/// Where a call through the archive's application profile of the origin's Region may run.
fn application_profile_destinations(region: &str) -> &'static [&'static str] {
    if region.starts_with("eu-") {
        &["eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1"]
    } else if region.starts_with("ap-") {
        GLOBAL_DESTINATIONS
    } else {
        &[]
    }
}

/// The `CreateInferenceProfile` event that creates the archive's application profile of the
/// origin's account and Region.
pub fn create_application_profile(origin: &Origin, rng: &mut Rng) -> Value {
    let mut record = base(
        origin,
        rng,
        "bedrock.amazonaws.com",
        "CreateInferenceProfile",
    );
    let id = application_profile_id(origin.account, origin.region);
    set(&mut record, "userIdentity", identity(origin, rng));
    set(
        &mut record,
        "requestParameters",
        json!({
            "inferenceProfileName": format!("team-{id}"),
            "modelSource": {"copyFrom": application_profile_source(origin.region)},
            "tags": [{"key": "team", "value": "platform"}]
        }),
    );
    set(
        &mut record,
        "responseElements",
        json!({"inferenceProfileArn": application_profile_arn(origin, &id), "status": "ACTIVE"}),
    );
    record
}

/// How a request named its model, and where it ran (`None`: not recorded).
fn choose_model(origin: &Origin, rng: &mut Rng) -> (String, Option<String>) {
    let model = *rng.pick(MODELS);
    let (geo, geo_destinations) = geographic_profile(origin.region, rng);
    let near = |rng: &mut Rng, list: &[&str]| -> String {
        if list.contains(&origin.region) && rng.percent(40) {
            origin.region.to_owned()
        } else {
            (*rng.pick(list)).to_owned()
        }
    };
    let (account, region) = (origin.account, origin.region);
    match rng.below(100) {
        0..20 => (model.to_owned(), rng.percent(50).then(|| region.to_owned())),
        20..25 => (
            format!("arn:aws:bedrock:{region}::foundation-model/{model}"),
            None,
        ),
        25..58 => (format!("{geo}.{model}"), Some(near(rng, geo_destinations))),
        58..82 => (
            format!("global.{model}"),
            Some(near(rng, GLOBAL_DESTINATIONS)),
        ),
        82..88 => (
            format!("arn:aws:bedrock:{region}:{account}:inference-profile/{geo}.{model}"),
            Some(near(rng, geo_destinations)),
        ),
        88..97 => {
            // The application profile the archive creates for this account and Region.
            let id = application_profile_id(account, region);
            let destinations = application_profile_destinations(region);
            let served = if destinations.is_empty() {
                rng.percent(50).then(|| region.to_owned())
            } else {
                Some(near(rng, destinations))
            };
            (application_profile_arn(origin, &id), served)
        }
        _ => {
            // A profile created before the archive starts: nothing in it says what it copies.
            let id = rng.string(b"abcdefghijklmnopqrstuvwxyz0123456789", 12);
            (
                application_profile_arn(origin, &id),
                Some(near(rng, geo_destinations)),
            )
        }
    }
}

/// Open-weight models served by the OpenAI-compatible bedrock-mantle endpoint.
const MANTLE_MODELS: &[&str] = &["openai.gpt-oss-120b-1:0", "openai.gpt-oss-20b-1:0"];

/// An inference on the OpenAI-compatible `bedrock-mantle` endpoint: a data event named
/// `CreateInference`, the model in `requestParameters.model`, no `inferenceRegion`.
fn mantle_inference(origin: &Origin, rng: &mut Rng) -> Value {
    let mut record = base(
        origin,
        rng,
        "bedrock-mantle.amazonaws.com",
        "CreateInference",
    );
    set(&mut record, "userIdentity", identity(origin, rng));
    set(&mut record, "eventCategory", json!("Data"));
    set(&mut record, "managementEvent", json!(false));
    set(&mut record, "readOnly", json!(false));
    set(
        &mut record,
        "requestParameters",
        json!({"model": *rng.pick(MANTLE_MODELS), "callWithBearerToken": false}),
    );
    set(&mut record, "responseElements", Value::Null);
    set(
        &mut record,
        "tlsDetails",
        json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
               "clientProvidedHostHeader": format!("bedrock-mantle.{}.api.aws", origin.region)}),
    );
    record
}

fn identity(origin: &Origin, rng: &mut Rng) -> Value {
    let account = origin.account;
    let key = format!(
        "ASIA{}",
        rng.string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
    );
    if rng.percent(75) {
        let role = rng.pick(&[
            "app-backend",
            "data-pipeline",
            "support-chatbot",
            "analytics",
        ]);
        let session = rng.pick(&[
            "i-0a1b2c3d4e5f60718",
            "botocore-session-1732",
            "lambda-handler",
        ]);
        let principal = format!(
            "AROA{}",
            rng.string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17)
        );
        json!({
            "type": "AssumedRole",
            "principalId": format!("{principal}:{session}"),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
            "accountId": account,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": principal,
                    "arn": format!("arn:aws:iam::{account}:role/{role}"),
                    "accountId": account,
                    "userName": role
                },
                "attributes": {"creationDate": origin.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "mfaAuthenticated": "false"}
            }
        })
    } else {
        let user = rng.pick(&["alice", "bob", "ci-deployer"]);
        json!({
            "type": "IAMUser",
            "principalId": format!("AIDA{}", rng.string(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 17)),
            "arn": format!("arn:aws:iam::{account}:user/{user}"),
            "accountId": account,
            "accessKeyId": key.replacen("ASIA", "AKIA", 1),
            "userName": user
        })
    }
}

/// The characters of access key ids.
const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// Makes a record's ids repeat as a real trail's do: a role keeps its `AROA...` id and an IAM
/// user its `AIDA...` id and long-term `AKIA...` key; an assumed-role session keeps one
/// temporary `ASIA...` key and one creation time for its hour, and calls from one session (or
/// one user) on one day come from one address. They are derived from what they belong to, so
/// [`identity`] and [`base`] draw the random stream exactly as they always did (the rest of
/// an archive is the same), and only these fields repeat instead of being new each call.
pub fn tie_to_session(record: &mut Value) {
    let Some(time) = record.get("eventTime").and_then(Value::as_str) else {
        return;
    };
    // A record whose time was spoiled on purpose keeps its ids as drawn.
    if DateTime::parse_from_rfc3339(time).is_err() {
        return;
    }
    let (day, hour) = (time[..10].to_owned(), time[..13].to_owned());
    shape_caller(record, &day);
    issue_session(record, &hour);
    let Some(identity) = record.get_mut("userIdentity").filter(|i| i.is_object()) else {
        return;
    };
    let text = |value: &Value| value.as_str().unwrap_or("").to_owned();
    let (account, arn) = (text(&identity["accountId"]), text(&identity["arn"]));
    const KEY: &[u8] = KEY_ALPHABET;
    match identity["type"].as_str() {
        Some("AssumedRole") => {
            let role = text(&identity["sessionContext"]["sessionIssuer"]["userName"]);
            let session = arn.rsplit('/').next().unwrap_or("").to_owned();
            let role_id = format!("AROA{}", derived(KEY, 17, &[&account, &role]));
            replace(identity, &["principalId"], format!("{role_id}:{session}"));
            replace(
                identity,
                &["sessionContext", "sessionIssuer", "principalId"],
                role_id,
            );
            let key = format!("ASIA{}", derived(KEY, 16, &[&arn, &hour]));
            replace(identity, &["accessKeyId"], key);
            let issued = format!("{hour}:00:00Z");
            replace(
                identity,
                &["sessionContext", "attributes", "creationDate"],
                issued,
            );
        }
        Some("IAMUser") => {
            replace(
                identity,
                &["principalId"],
                format!("AIDA{}", derived(KEY, 17, &[&arn])),
            );
            replace(
                identity,
                &["accessKeyId"],
                format!("AKIA{}", derived(KEY, 16, &[&arn])),
            );
        }
        _ => return,
    }
    let address =
        u64::from_str_radix(&derived(b"0123456789abcdef", 4, &[&arn, &day]), 16).unwrap_or(0) % 250
            + 1;
    replace(
        record,
        &["sourceIPAddress"],
        format!("198.51.100.{address}"),
    );
}

/// People behind the analytics role, an IAM Identity Center permission set's role.
const SSO_PEOPLE: &[&str] = &[
    "maria.garcia@example.com",
    "li.wei@example.com",
    "sam.okafor@example.com",
];
/// The people the support chatbot's sessions carry as their source identity.
const SOURCE_IDENTITIES: &[&str] = &["carol@example.com", "dev.patel@example.com"];
/// The session names of the generated assumed roles (as [`identity`] draws them).
const ROLE_SESSIONS: &[&str] = &[
    "i-0a1b2c3d4e5f60718",
    "botocore-session-1732",
    "lambda-handler",
];
/// The Identity Center role the analytics role becomes.
const SSO_ROLE: &str = "AWSReservedSSO_Analyst_5f1e2d3c4b5a6978";

/// Gives callers the shapes real trails show, from what they already are (no random draw):
/// the `analytics` role is an IAM Identity Center role whose session name is the person (one
/// of them at the console); `support-chatbot` sessions carry a `sourceIdentity`; the IAM user
/// `bob` is an Identity Center user of an Identity Center-aware application; `ci-deployer`
/// calls bedrock-runtime with a Bedrock API key.
fn shape_caller(record: &mut Value, day: &str) {
    let account = record["recipientAccountId"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let Some(identity) = record.get_mut("userIdentity").filter(|i| i.is_object()) else {
        return;
    };
    let role = identity["sessionContext"]["sessionIssuer"]["userName"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let user = identity["userName"].as_str().unwrap_or("").to_owned();
    match (identity["type"].as_str(), role.as_str(), user.as_str()) {
        (Some("AssumedRole"), "analytics", _) => {
            let person = derived_pick(SSO_PEOPLE, &[&account, day]);
            let issuer = format!(
                "arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/eu-west-1/{SSO_ROLE}"
            );
            replace(
                identity,
                &["arn"],
                format!("arn:aws:sts::{account}:assumed-role/{SSO_ROLE}/{person}"),
            );
            replace(
                identity,
                &["sessionContext", "sessionIssuer", "arn"],
                issuer,
            );
            replace(
                identity,
                &["sessionContext", "sessionIssuer", "userName"],
                SSO_ROLE.to_owned(),
            );
            if person == SSO_PEOPLE[0] {
                set(record, "sessionCredentialFromConsole", json!("true"));
            }
        }
        (Some("AssumedRole"), "support-chatbot", _) => {
            let person = derived_pick(SOURCE_IDENTITIES, &[&account, day]);
            if let Some(context) = identity
                .get_mut("sessionContext")
                .and_then(Value::as_object_mut)
            {
                context.insert("sourceIdentity".to_owned(), json!(person));
            }
        }
        (Some("IAMUser"), _, "bob") => {
            let user_id = format!(
                "{}-{}",
                derived(b"0123456789abcdef", 8, &[&account, "bob"]),
                "80c1-707f-60e3-3ba6510dfac1"
            );
            *identity = json!({
                "type": "IdentityCenterUser",
                "accountId": account,
                "onBehalfOf": {
                    "userId": user_id,
                    "identityStoreArn": format!("arn:aws:identitystore::{account}:identitystore/d-9067642ac7")
                },
                "credentialId": derived(KEY_ALPHABET, 40, &[&account, "bob", day])
            });
        }
        (Some("IAMUser"), _, "ci-deployer") => {
            let runtime = record["eventSource"].as_str() == Some("bedrock.amazonaws.com");
            if let Some(data) = record
                .get_mut("additionalEventData")
                .and_then(Value::as_object_mut)
                .filter(|_| runtime)
            {
                data.insert("callWithBearerToken".to_owned(), json!(true));
            }
        }
        _ => {}
    }
}

/// Makes the STS `AssumeRole` events of the ECS tasks issue the credentials the generated calls
/// use: one session of the role (of those [`identity`] names) per hour, with the session tags
/// of its team (`data-pipeline`, `app-backend`) or a source identity (`support-chatbot`).
/// The other sessions of the hour have no issuing event in the archive, as with credentials
/// issued before it starts.
fn issue_session(record: &mut Value, hour: &str) {
    let is_task_assume = record["eventSource"].as_str() == Some("sts.amazonaws.com")
        && record["eventName"].as_str() == Some("AssumeRole")
        && record["userIdentity"]["type"].as_str() == Some("AWSService");
    if !is_task_assume {
        return;
    }
    let account = record["recipientAccountId"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let Some(role) = record["requestParameters"]["roleArn"]
        .as_str()
        .and_then(|arn| arn.rsplit('/').next())
        .map(str::to_owned)
    else {
        return;
    };
    let session = derived_pick(ROLE_SESSIONS, &[&account, &role, hour]);
    let arn = format!("arn:aws:sts::{account}:assumed-role/{role}/{session}");
    let key = format!("ASIA{}", derived(KEY_ALPHABET, 16, &[&arn, hour]));
    let Some(request) = record
        .get_mut("requestParameters")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    request.insert("roleSessionName".to_owned(), json!(session));
    match role.as_str() {
        "data-pipeline" => {
            request.insert(
                "tags".to_owned(),
                json!([{"key": "team", "value": "eu-analytics"}, {"key": "cost-center", "value": "4711"}]),
            );
            request.insert("transitiveTagKeys".to_owned(), json!(["team"]));
        }
        "app-backend" => {
            request.insert(
                "tags".to_owned(),
                json!([{"key": "team", "value": "platform"}]),
            );
        }
        _ => {
            let person = derived_pick(SOURCE_IDENTITIES, &[&account, &hour[..10]]);
            request.insert("sourceIdentity".to_owned(), json!(person));
        }
    }
    replace(
        record,
        &["responseElements", "credentials", "accessKeyId"],
        key,
    );
}

/// One of `options`, chosen by `parts` alone.
fn derived_pick<'a>(options: &[&'a str], parts: &[&str]) -> &'a str {
    let index = u64::from_str_radix(&derived(b"0123456789abcdef", 8, parts), 16).unwrap_or(0);
    options[index as usize % options.len()]
}

/// Sets the string at `path` in `value`, only if a value is there already (a record that lacks
/// a field keeps lacking it).
fn replace(value: &mut Value, path: &[&str], new: String) {
    let slot = path
        .iter()
        .try_fold(value, |inside, key| inside.get_mut(*key));
    if let Some(slot) = slot {
        *slot = Value::String(new);
    }
}

/// A string of `len` characters of `alphabet` that depends only on `parts` (FNV-1a of them
/// seeding the generator's own random stream).
fn derived(alphabet: &[u8], len: usize, parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.join("\u{1f}").bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    Rng::new(hash, 0x5e55_1015).string(alphabet, len)
}

fn base(origin: &Origin, rng: &mut Rng, source: &str, name: &str) -> Value {
    json!({
        "eventVersion": "1.11",
        "eventTime": origin.time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "eventSource": source,
        "eventName": name,
        "awsRegion": origin.region,
        "sourceIPAddress": format!("198.51.100.{}", rng.below(250) + 1),
        "userAgent": *rng.pick(USER_AGENTS),
        "requestID": rng.uuid(),
        "eventID": rng.uuid(),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": origin.account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("{}.{}.amazonaws.com", source.trim_end_matches(".amazonaws.com"), origin.region)
        }
    })
}

fn set(record: &mut Value, key: &str, value: Value) {
    if let Value::Object(map) = record {
        map.insert(key.to_owned(), value);
    }
}

/// A Bedrock invocation, sometimes failed (throttled, denied, invalid); one in twenty on the
/// bedrock-mantle endpoint.
pub fn invocation(origin: &Origin, rng: &mut Rng) -> Value {
    if rng.percent(5) {
        return mantle_inference(origin, rng);
    }
    let name = *rng.weighted(INVOKE_NAMES);
    let mut record = base(origin, rng, "bedrock.amazonaws.com", name);
    let user_identity = identity(origin, rng);
    let (model_id, inference_region) = choose_model(origin, rng);
    set(
        &mut record,
        "requestParameters",
        json!({"modelId": model_id}),
    );
    set(&mut record, "responseElements", Value::Null);
    match rng.below(100) {
        0..4 => {
            set(&mut record, "errorCode", json!("ThrottlingException"));
            set(
                &mut record,
                "errorMessage",
                json!("Too many requests, please wait before trying again."),
            );
        }
        4..6 => {
            let arn = user_identity["arn"].as_str().unwrap_or_default().to_owned();
            set(&mut record, "errorCode", json!("AccessDenied"));
            set(
                &mut record,
                "errorMessage",
                json!(format!(
                    "User: {arn} is not authorized to perform: bedrock:InvokeModel on resource: {model_id} because no identity-based policy allows the bedrock:InvokeModel action"
                )),
            );
        }
        6..7 => {
            set(&mut record, "errorCode", json!("ValidationException"));
            set(
                &mut record,
                "errorMessage",
                json!("The provided model identifier is invalid."),
            );
        }
        // A successful profile call whose record lacks inferenceRegion: served Region unknown.
        7..10 if !is_plain_model(&model_id) => {}
        _ => {
            if let Some(served) = inference_region {
                set(
                    &mut record,
                    "additionalEventData",
                    json!({"inferenceRegion": served}),
                );
            }
        }
    }
    set(&mut record, "userIdentity", user_identity);
    record
}

/// Whether a model id names a foundation model directly (no profile of any kind).
fn is_plain_model(model_id: &str) -> bool {
    !model_id.contains("profile/") && MODELS.iter().any(|m| model_id.ends_with(m)) && {
        let first = model_id.split('.').next().unwrap_or_default();
        !["global", "us", "eu", "apac", "jp", "au", "ca", "us-gov"].contains(&first)
    }
}

/// Spoils the `eventTime` of a record, as a broken producer might: missing, or not RFC 3339.
pub fn spoil_event_time(record: &mut Value, missing: bool) {
    if let Value::Object(map) = record {
        if missing {
            map.remove("eventTime");
        } else if let Some(Value::String(time)) = map.get_mut("eventTime") {
            *time = time.replace('T', " ").trim_end_matches('Z').to_owned();
        }
    }
}

/// A record that is not a Bedrock invocation.
pub fn noise(origin: &Origin, rng: &mut Rng) -> Value {
    let account = origin.account;
    match rng.below(100) {
        0..30 => {
            let mut r = base(origin, rng, "sts.amazonaws.com", "AssumeRole");
            let role = rng.pick(&["app-backend", "data-pipeline", "support-chatbot"]);
            set(
                &mut r,
                "userIdentity",
                json!({"type": "AWSService", "invokedBy": "ecs-tasks.amazonaws.com"}),
            );
            set(&mut r, "readOnly", json!(true));
            set(
                &mut r,
                "requestParameters",
                json!({
                    "roleArn": format!("arn:aws:iam::{account}:role/{role}"),
                    "roleSessionName": rng.uuid(), "durationSeconds": 3600
                }),
            );
            set(
                &mut r,
                "responseElements",
                json!({"credentials": {"accessKeyId": "ASIAEXAMPLE", "expiration": "Mar 1, 2025, 1:00:00 PM"}}),
            );
            set(
                &mut r,
                "resources",
                json!([{"accountId": account, "type": "AWS::IAM::Role", "ARN": format!("arn:aws:iam::{account}:role/{role}")}]),
            );
            set(&mut r, "sharedEventID", json!(rng.uuid()));
            r
        }
        30..40 => {
            let mut r = base(origin, rng, "signin.amazonaws.com", "ConsoleLogin");
            set(&mut r, "eventType", json!("AwsConsoleSignIn"));
            set(
                &mut r,
                "userIdentity",
                if rng.percent(20) {
                    json!({"type": "Root", "principalId": account, "arn": format!("arn:aws:iam::{account}:root"), "accountId": account})
                } else {
                    identity(origin, rng)
                },
            );
            set(&mut r, "requestParameters", Value::Null);
            set(
                &mut r,
                "responseElements",
                json!({"ConsoleLogin": "Success"}),
            );
            set(
                &mut r,
                "additionalEventData",
                json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "Yes"}),
            );
            r
        }
        40..72 => {
            let name = *rng.pick(&["GetObject", "PutObject", "HeadObject"]);
            let mut r = base(origin, rng, "s3.amazonaws.com", name);
            set(&mut r, "userIdentity", identity(origin, rng));
            set(&mut r, "readOnly", json!(name != "PutObject"));
            set(&mut r, "managementEvent", json!(false));
            set(&mut r, "eventCategory", json!("Data"));
            let key = format!(
                "exports/{}/part-{:05}.parquet",
                origin.time.format("%Y/%m/%d"),
                rng.below(99999)
            );
            set(
                &mut r,
                "requestParameters",
                json!({"bucketName": "analytics-exports", "Host": "analytics-exports.s3.amazonaws.com", "key": key}),
            );
            set(
                &mut r,
                "additionalEventData",
                json!({"SignatureVersion": "SigV4", "bytesTransferredIn": 0, "bytesTransferredOut": rng.below(1 << 20)}),
            );
            set(
                &mut r,
                "resources",
                json!([
                    {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::analytics-exports/{key}")},
                    {"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::analytics-exports"}
                ]),
            );
            r
        }
        72..92 => {
            let mut r = base(origin, rng, "kms.amazonaws.com", "Decrypt");
            set(
                &mut r,
                "userIdentity",
                json!({"type": "AWSService", "invokedBy": "s3.amazonaws.com"}),
            );
            set(&mut r, "readOnly", json!(true));
            set(&mut r, "eventType", json!("AwsServiceEvent"));
            set(
                &mut r,
                "requestParameters",
                json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:s3:arn": "arn:aws:s3:::analytics-exports"}}),
            );
            set(
                &mut r,
                "resources",
                json!([{"accountId": account, "type": "AWS::KMS::Key", "ARN": format!("arn:aws:kms:{}:{account}:key/{}", origin.region, rng.uuid())}]),
            );
            r
        }
        _ => {
            let name = *rng.pick(&[
                "GetFoundationModel",
                "ListFoundationModels",
                "ListInferenceProfiles",
            ]);
            let mut r = base(origin, rng, "bedrock.amazonaws.com", name);
            set(&mut r, "userIdentity", identity(origin, rng));
            set(&mut r, "readOnly", json!(true));
            set(
                &mut r,
                "requestParameters",
                if name == "GetFoundationModel" {
                    json!({"modelIdentifier": *rng.pick(MODELS)})
                } else {
                    Value::Null
                },
            );
            r
        }
    }
}

/// The trail every generated archive is written by.
pub const TRAIL: &str = "org-trail";

/// The data event resource types the trail's selectors switch on partway through an archive.
pub const SELECTED_DATA_RESOURCES: &[&str] = &[
    "AWS::BedrockMantle::Project",
    "AWS::Bedrock::KnowledgeBase",
    "AWS::AWSExternalAnthropic::Workspace",
];

/// The administrator who configures the trail.
fn trail_admin(origin: &Origin) -> Value {
    json!({
        "type": "AssumedRole",
        "arn": format!("arn:aws:sts::{}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/admin@example.com", origin.account),
        "accountId": origin.account,
        "sessionContext": {"sessionIssuer": {"type": "Role",
            "arn": format!("arn:aws:iam::{}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef", origin.account)}}
    })
}

/// `CreateTrail` of the organization trail: a new trail records management events only.
pub fn create_trail(origin: &Origin, rng: &mut Rng) -> Value {
    let mut record = base(origin, rng, "cloudtrail.amazonaws.com", "CreateTrail");
    set(&mut record, "userIdentity", trail_admin(origin));
    set(
        &mut record,
        "requestParameters",
        json!({"name": TRAIL, "s3BucketName": "org-trail-logs", "isMultiRegionTrail": true,
               "isOrganizationTrail": true, "includeGlobalServiceEvents": true,
               "enableLogFileValidation": true}),
    );
    set(
        &mut record,
        "responseElements",
        json!({"name": TRAIL, "s3BucketName": "org-trail-logs",
               "trailARN": format!("arn:aws:cloudtrail:{}:{}:trail/{TRAIL}", origin.region, origin.account)}),
    );
    record
}

/// `PutEventSelectors` switching on the data events of [`SELECTED_DATA_RESOURCES`] besides
/// every management event, with advanced event selectors as the API takes them (camelCase in
/// `requestParameters`).
pub fn put_event_selectors(origin: &Origin, rng: &mut Rng) -> Value {
    let selectors = json!([
        {"name": "Management events",
         "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]},
        {"name": "Model inference data events",
         "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]},
                            {"field": "resources.type", "equals": SELECTED_DATA_RESOURCES}]}
    ]);
    let mut record = base(origin, rng, "cloudtrail.amazonaws.com", "PutEventSelectors");
    set(&mut record, "userIdentity", trail_admin(origin));
    set(
        &mut record,
        "requestParameters",
        json!({"trailName": TRAIL, "advancedEventSelectors": selectors}),
    );
    set(
        &mut record,
        "responseElements",
        json!({"trailARN": format!("arn:aws:cloudtrail:{}:{}:trail/{TRAIL}", origin.region, origin.account),
               "advancedEventSelectors": selectors}),
    );
    record
}

/// A data event on `resource_type` `arn`.
fn data_event(record: &mut Value, origin: &Origin, resource_type: &str, arn: String) {
    set(record, "eventCategory", json!("Data"));
    set(record, "managementEvent", json!(false));
    set(
        record,
        "resources",
        json!([{"accountId": origin.account, "type": resource_type, "ARN": arn}]),
    );
}

/// One call on each surface besides bedrock-runtime, as their records are documented: a
/// knowledge-base `RetrieveAndGenerate`, a batch job through a `global.` profile, a Claude
/// Platform inference, a bedrock-mantle embeddings call and a bedrock-mantle call with an API
/// key (`callWithBearerToken`). All but the batch job are data events.
pub fn other_surfaces(origin: &Origin, rng: &mut Rng) -> Vec<Value> {
    let (account, region) = (origin.account, origin.region);
    let mut knowledge_base = base(origin, rng, "bedrock.amazonaws.com", "RetrieveAndGenerate");
    data_event(
        &mut knowledge_base,
        origin,
        "AWS::Bedrock::KnowledgeBase",
        format!("arn:aws:bedrock:{region}:{account}:knowledge-base/KB7EXAMPLE"),
    );
    set(&mut knowledge_base, "readOnly", json!(true));
    set(
        &mut knowledge_base,
        "requestParameters",
        json!({"input": "***", "retrieveAndGenerateConfiguration": {"type": "KNOWLEDGE_BASE",
               "knowledgeBaseConfiguration": {"knowledgeBaseId": "KB7EXAMPLE",
               "modelArn": format!("arn:aws:bedrock:{region}::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0")}}}),
    );
    set(&mut knowledge_base, "userIdentity", identity(origin, rng));
    let mut batch = base(
        origin,
        rng,
        "bedrock.amazonaws.com",
        "CreateModelInvocationJob",
    );
    set(
        &mut batch,
        "requestParameters",
        json!({"jobName": "nightly-summaries",
               "modelId": "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
               "roleArn": format!("arn:aws:iam::{account}:role/bedrock-batch"),
               "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://batch-input/summaries/"}},
               "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://batch-output/summaries/"}}}),
    );
    set(
        &mut batch,
        "responseElements",
        json!({"jobArn": format!("arn:aws:bedrock:{region}:{account}:model-invocation-job/b7example")}),
    );
    set(&mut batch, "userIdentity", identity(origin, rng));
    let mut claude = base(
        origin,
        rng,
        crate::surfaces::CLAUDE_PLATFORM,
        "CreateInference",
    );
    data_event(
        &mut claude,
        origin,
        "AWS::AWSExternalAnthropic::Workspace",
        format!("arn:aws:aws-external-anthropic:{region}:{account}:workspace/wrkspc_01EXAMPLE"),
    );
    set(
        &mut claude,
        "requestParameters",
        json!({"model": "claude-sonnet-4-6", "workspaceId": "wrkspc_01EXAMPLE"}),
    );
    set(&mut claude, "userIdentity", identity(origin, rng));
    let mut embeddings = mantle_inference(origin, rng);
    set(
        &mut embeddings,
        "requestParameters",
        json!({"model": "amazon.titan-embed-text-v2:0", "callWithBearerToken": false}),
    );
    let mut bearer = mantle_inference(origin, rng);
    set(
        &mut bearer,
        "requestParameters",
        json!({"model": "openai.gpt-oss-120b-1:0", "callWithBearerToken": true}),
    );
    vec![knowledge_base, batch, claude, embeddings, bearer]
}

/// Whether `record` is a bedrock-mantle inference.
pub fn is_mantle(record: &Value) -> bool {
    record["eventSource"] == "bedrock-mantle.amazonaws.com"
}

/// `record` as the management event `sts:GetCallerIdentity` of the same caller and time: what
/// a mantle call becomes in an archive whose trail does not record mantle data events yet.
pub fn unrecorded_as_caller_check(record: &mut Value) {
    set(record, "eventSource", json!("sts.amazonaws.com"));
    set(record, "eventName", json!("GetCallerIdentity"));
    set(record, "eventCategory", json!("Management"));
    set(record, "managementEvent", json!(true));
    set(record, "readOnly", json!(true));
    set(record, "requestParameters", Value::Null);
    if let Value::Object(map) = record {
        map.remove("tlsDetails");
    }
}
