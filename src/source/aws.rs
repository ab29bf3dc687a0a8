//! AWS SDK configuration, as the AWS CLI does it: the standard credential chain and `AWS_*`
//! variables, `--profile`, `--region` (where API calls go, not a log filter) and
//! `--endpoint-url` (S3-compatible stores; path-style addressing then).

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};

/// Attempts per request (the first and the retries), with the SDK's standard retry mode:
/// exponential back-off with jitter on throttling, 5xx and connection errors.
pub const MAX_ATTEMPTS: u32 = 5;

/// Options of the AWS API calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// Named profile (`--profile`, else `AWS_PROFILE`).
    pub profile: Option<String>,
    /// Region of the API calls (`--region`, else the profile / `AWS_REGION`).
    pub region: Option<String>,
    /// Custom endpoint (`--endpoint-url`, else `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
}

/// Loads the shared SDK configuration for these options.
pub async fn load(options: &AwsOptions) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &options.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(endpoint) = &options.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    loader.load().await
}

/// An S3 client for `config`, in `region` if given. With a custom endpoint, path-style
/// addressing and checksums only when required, which every S3-compatible store accepts.
pub fn s3_client(config: &aws_config::SdkConfig, region: Option<&str>) -> aws_sdk_s3::Client {
    let mut builder = aws_sdk_s3::config::Builder::from(config);
    if let Some(region) = region {
        builder = builder.region(aws_config::Region::new(region.to_owned()));
    }
    if config.endpoint_url().is_some() {
        builder = builder
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
    }
    aws_sdk_s3::Client::from_conf(builder.build())
}
