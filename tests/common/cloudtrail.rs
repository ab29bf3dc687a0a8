//! CloudTrail's API answered by the SDK's own replay client (AWS's CloudTrail API cannot run
//! here): hand-written responses in the JSON the API Reference documents.

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::{Credentials, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;

/// One CloudTrail answer: `status` with the JSON `body`.
pub fn response(status: u16, body: &str) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .uri("https://cloudtrail.us-east-1.amazonaws.com/")
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1")
            .body(SdkBody::from(body.to_owned()))
            .unwrap(),
    )
}

/// A CloudTrail client whose requests get `events`' answers in turn, and the replay client
/// that records the requests.
pub fn client(events: Vec<ReplayEvent>) -> (Client, StaticReplayClient) {
    let http = StaticReplayClient::new(events);
    let config = aws_sdk_cloudtrail::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(http.clone())
        .build();
    (Client::from_conf(config), http)
}
