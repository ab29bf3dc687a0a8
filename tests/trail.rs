//! `trail:NAME` resolution through the CloudTrail SDK, and the S3 bucket's Region discovery
//! with HeadBucket, against hand-written responses replayed by the SDK's own test client (AWS's
//! CloudTrail API and S3's Region redirects cannot run here).

use aws_sdk_cloudtrail::config::{Credentials, Region};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use trailmap::source::trail::{TrailLocation, resolve};

use crate::common::cloudtrail::{client, response};

fn targets(http: &StaticReplayClient) -> Vec<String> {
    http.actual_requests()
        .map(|r| {
            r.headers()
                .get("x-amz-target")
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

const NOT_FOUND: &str = r#"{"__type":"TrailNotFoundException","Message":"Unknown trail: arn:aws:cloudtrail:us-east-1:111122223333:trail/nope for the user: 111122223333"}"#;

#[tokio::test]
async fn an_organization_trail_with_a_key_prefix() {
    let (client, http) = client(vec![response(
        200,
        r#"{"Trail":{"Name":"org-trail","S3BucketName":"org-trail-logs","S3KeyPrefix":"cloudtrail/",
            "IsMultiRegionTrail":true,"IsOrganizationTrail":true,"HomeRegion":"us-east-1",
            "TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail"}}"#,
    )]);
    let location = resolve(&client, "org-trail").await.unwrap();
    assert_eq!(
        location,
        TrailLocation {
            name: "org-trail".into(),
            arn: Some("arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail".into()),
            bucket: "org-trail-logs".into(),
            prefix: "cloudtrail/AWSLogs/".into(),
            organization: true,
        }
    );
    assert_eq!(targets(&http), ["CloudTrail_20131101.GetTrail"]);
}

#[tokio::test]
async fn a_trail_without_prefix_by_arn() {
    let (client, _) = client(vec![response(
        200,
        r#"{"Trail":{"Name":"main","S3BucketName":"acct-logs","IsOrganizationTrail":false}}"#,
    )]);
    let location = resolve(
        &client,
        "arn:aws:cloudtrail:us-east-1:111122223333:trail/main",
    )
    .await
    .unwrap();
    assert_eq!(location.bucket, "acct-logs");
    assert_eq!(location.prefix, "AWSLogs/");
    assert!(!location.organization);
}

#[tokio::test]
async fn a_shadow_trail_is_found_with_describe_trails() {
    let (client, http) = client(vec![
        response(400, NOT_FOUND),
        response(
            200,
            r#"{"trailList":[{"Name":"org-trail","S3BucketName":"org-trail-logs","IsOrganizationTrail":true,"HomeRegion":"eu-west-1"}]}"#,
        ),
    ]);
    let location = resolve(&client, "org-trail").await.unwrap();
    assert_eq!(location.bucket, "org-trail-logs");
    assert!(location.organization);
    assert_eq!(
        targets(&http),
        [
            "CloudTrail_20131101.GetTrail",
            "CloudTrail_20131101.DescribeTrails"
        ]
    );
}

#[tokio::test]
async fn an_unknown_trail_is_a_clear_error() {
    let (client, _) = client(vec![
        response(400, NOT_FOUND),
        response(200, r#"{"trailList":[]}"#),
    ]);
    let error = resolve(&client, "nope").await.unwrap_err().to_string();
    assert!(error.contains("trail:nope"), "{error}");
    assert!(error.contains("cannot resolve the trail"), "{error}");
    assert!(error.contains("TrailNotFoundException"), "{error}");
}

/// An SDK configuration in us-east-1 whose requests `http` answers, without a custom endpoint
/// (so the bucket's Region is looked up).
fn s3_config(http: &StaticReplayClient) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            Credentials::new("AKIDTEST", "secret", None, None, "test"),
        ))
        .http_client(http.clone())
        .build()
}

fn head_bucket_answer(status: u16, region: &str) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .uri("https://trail-bucket.s3.us-east-1.amazonaws.com/")
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(status)
            .header("x-amz-bucket-region", region)
            .body(SdkBody::empty())
            .unwrap(),
    )
}

#[tokio::test]
async fn the_bucket_region_is_found_with_head_bucket() {
    use trailmap::source::s3::client_for_bucket;
    // S3 answers HeadBucket from another Region with a 301 and the bucket's Region in a header.
    for (status, region) in [
        (301, "eu-west-1"),
        (200, "ap-southeast-2"),
        (200, "us-east-1"),
    ] {
        let http = StaticReplayClient::new(vec![head_bucket_answer(status, region)]);
        let client = client_for_bucket(&s3_config(&http), "trail-bucket").await;
        assert_eq!(
            client.config().region().map(|r| r.as_ref()),
            Some(region),
            "HeadBucket {status}"
        );
        let requests: Vec<_> = http.actual_requests().collect();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].method(), "HEAD");
        assert!(
            requests[0].uri().contains("trail-bucket"),
            "{}",
            requests[0].uri()
        );
    }
}
