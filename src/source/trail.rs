//! `trail:NAME` (or a trail ARN) → the bucket and key prefix its logs are delivered to.

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::error::DisplayErrorContext;

use crate::error::{Error, Result};

/// Where a trail delivers its log files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailLocation {
    /// The trail's name.
    pub name: String,
    /// Its ARN, when CloudTrail gives it.
    pub arn: Option<String>,
    /// Bucket receiving the logs.
    pub bucket: String,
    /// Prefix of the `AWSLogs/` folder (the trail's key prefix, if any, then `AWSLogs/`).
    pub prefix: String,
    /// Whether it is an organization trail (logs under `AWSLogs/o-ORGID/`).
    pub organization: bool,
}

/// Resolves a trail by name or ARN with GetTrail, falling back to DescribeTrails (which also
/// sees organization trails shadowed in member accounts).
pub async fn resolve(client: &Client, name: &str) -> Result<TrailLocation> {
    let trail = match client.get_trail().name(name).send().await {
        Ok(output) => output.trail,
        Err(get_error) => {
            let described = client
                .describe_trails()
                .trail_name_list(name)
                .include_shadow_trails(true)
                .send()
                .await
                .map_err(|e| unknown(name, &DisplayErrorContext(&e).to_string()))?;
            match described.trail_list.unwrap_or_default().into_iter().next() {
                Some(trail) => Some(trail),
                None => return Err(unknown(name, &DisplayErrorContext(&get_error).to_string())),
            }
        }
    };
    let trail = trail.ok_or_else(|| unknown(name, "CloudTrail returned no trail"))?;
    let bucket = trail
        .s3_bucket_name
        .filter(|b| !b.is_empty())
        .ok_or_else(|| unknown(name, "the trail has no S3 bucket"))?;
    let prefix = match trail.s3_key_prefix.as_deref().map(|p| p.trim_matches('/')) {
        Some(p) if !p.is_empty() => format!("{p}/AWSLogs/"),
        _ => "AWSLogs/".to_owned(),
    };
    Ok(TrailLocation {
        arn: trail.trail_arn.clone(),
        name: trail.name.unwrap_or_else(|| name.to_owned()),
        bucket,
        prefix,
        organization: trail.is_organization_trail.unwrap_or(false),
    })
}

fn unknown(name: &str, reason: &str) -> Error {
    Error::InvalidSource {
        spec: format!("trail:{name}"),
        reason: format!(
            "cannot resolve the trail (check the name, --region and --profile; a trail is found in its home Region): {reason}"
        ),
    }
}
