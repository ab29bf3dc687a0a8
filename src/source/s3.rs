//! S3 sources: fan-out listing over the CloudTrail layout, and GETs.
//!
//! Listing walks the layout folder by folder (`ListObjectsV2` with delimiter `/`), many folders
//! at once, descending only into folders the filters allow: accounts, Regions and dates outside
//! `--account/--source-region/--from/--to` are never listed, digest folders never entered.
//! Only read calls are made: ListObjectsV2, GetObject and HeadBucket.

use std::collections::VecDeque;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;

use crate::error::{BoxError, FileError, LoadError, LoadStage};
use crate::layout::key::PrefixScope;
use crate::layout::pruning::KeyPredicate;
use crate::source::{Listing, Location, LogObject, UserMetadata};

/// Folders listed at once. Each LIST waits tens of milliseconds on S3, and a day's folders
/// are many (accounts × Regions × days), so many go at once.
pub const LIST_CONCURRENCY: usize = 64;

/// The client to use for `bucket`: in the bucket's own Region, found with HeadBucket (or the
/// `x-amz-bucket-region` header of its redirect), unless a custom endpoint is set.
pub async fn client_for_bucket(config: &aws_config::SdkConfig, bucket: &str) -> Client {
    let client = super::aws::s3_client(config, None);
    if config.endpoint_url().is_some() {
        return client;
    }
    let region = match client.head_bucket().bucket(bucket).send().await {
        Ok(output) => output.bucket_region().map(str::to_owned),
        Err(e) => e
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-bucket-region"))
            .map(str::to_owned),
    };
    match region {
        Some(region) if Some(region.as_str()) != config.region().map(|r| r.as_ref()) => {
            tracing::debug!(bucket, region, "bucket is in another Region");
            super::aws::s3_client(config, Some(&region))
        }
        _ => client,
    }
}

/// One folder's listing.
struct Folder {
    prefix: String,
    objects: Vec<(String, u64)>,
    folders: Vec<String>,
}

async fn list_folder(
    client: Client,
    bucket: String,
    prefix: String,
) -> Result<Folder, (String, String)> {
    let mut pages = client
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(&prefix)
        .delimiter("/")
        .into_paginator()
        .send();
    let mut folder = Folder {
        prefix: prefix.clone(),
        objects: Vec::new(),
        folders: Vec::new(),
    };
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| (prefix.clone(), DisplayErrorContext(&e).to_string()))?;
        for object in page.contents() {
            if let Some(key) = object.key() {
                folder
                    .objects
                    .push((key.to_owned(), object.size().unwrap_or(0).max(0) as u64));
            }
        }
        folder.folders.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_owned)),
        );
    }
    Ok(folder)
}

/// Lists `s3://bucket/prefix` into `listing`, descending only into `CloudTrail` folders that
/// `keys` (the command-line and SQL filters) allows. A folder that cannot be listed (after the
/// SDK's retries) becomes a load error naming it; the rest is still listed.
pub async fn list(
    client: &Client,
    bucket: &str,
    prefix: &str,
    keys: Option<&KeyPredicate>,
    listing: &mut Listing,
) {
    let mut waiting = VecDeque::from([prefix.to_owned()]);
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < LIST_CONCURRENCY
            && let Some(next) = waiting.pop_front()
        {
            running.push(list_folder(client.clone(), bucket.to_owned(), next));
        }
        let Some(result) = running.next().await else {
            break;
        };
        match result {
            Ok(folder) => {
                tracing::debug!(
                    prefix = folder.prefix,
                    objects = folder.objects.len(),
                    folders = folder.folders.len(),
                    "listed"
                );
                for (key, size) in folder.objects {
                    let log_file = format!("s3://{bucket}/{key}");
                    listing.offer(
                        LogObject::new(
                            Location::S3 {
                                bucket: bucket.to_owned(),
                                key,
                            },
                            log_file,
                            size,
                        ),
                        false,
                    );
                }
                let scopes: Vec<PrefixScope> = folder
                    .folders
                    .iter()
                    .map(|f| PrefixScope::parse(f))
                    .collect();
                let allowed = keys.map_or_else(
                    || vec![true; scopes.len()],
                    |keys| keys.keep_folders(&scopes),
                );
                for ((sub, scope), allowed) in folder.folders.into_iter().zip(&scopes).zip(allowed)
                {
                    if allowed && listing.wants_folder(scope) {
                        waiting.push_back(sub);
                    } else {
                        tracing::debug!(prefix = sub, "folder skipped by filters");
                        listing.skipped.folders += 1;
                    }
                }
            }
            Err((prefix, message)) => {
                let error = LoadError::new(
                    format!("s3://{bucket}/{prefix}"),
                    LoadStage::Fetch,
                    format!("cannot list: {message}"),
                );
                tracing::warn!("could not read {error}");
                listing.errors.push(error);
            }
        }
    }
}

/// Downloads one object whole (into the SDK's buffer, handed on without a copy), with its user
/// metadata. The SDK retries the request; a body cut off mid-way is fetched again, up to
/// [`super::aws::MAX_ATTEMPTS`] times.
pub async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<(Bytes, UserMetadata), FileError> {
    let failed = |source: BoxError| FileError::Fetch {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        source,
    };
    let mut last_error = None;
    for _ in 0..super::aws::MAX_ATTEMPTS {
        let mut output = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            // The SDK error's Display is its kind only; the context names the cause.
            .map_err(|e| failed(DisplayErrorContext(&e).to_string().into()))?;
        let metadata = output.metadata.take().unwrap_or_default();
        match output.body.collect().await {
            Ok(data) => return Ok((data.into_bytes(), metadata)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(failed(match last_error {
        Some(e) => format!("download interrupted: {e}").into(),
        None => "no attempt made".into(),
    }))
}
