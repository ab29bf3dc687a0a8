//! S3 sources: fan-out listing over the CloudTrail layout, and GETs.
//!
//! Listing walks the layout folder by folder (`ListObjectsV2` with delimiter `/`), many folders
//! at once, descending only into folders the filters allow: accounts, Regions and dates outside
//! `--account/--source-region/--from/--to` are never listed, digest folders never entered.
//! Only read calls are made: ListObjectsV2, GetObject and HeadBucket.
//!
//! Objects up to [`STREAM_ABOVE`] are downloaded whole (many at once, to hide S3's time to first
//! byte); larger ones are streamed into the reader as they arrive ([`stream`]), so a huge log
//! file never sits in memory compressed either.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use bytes::Buf;

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
    /// Key, size and ETag of each object.
    objects: Vec<(String, u64, Option<String>)>,
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
                folder.objects.push((
                    key.to_owned(),
                    object.size().unwrap_or(0).max(0) as u64,
                    object.e_tag().map(str::to_owned),
                ));
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
                let first = listing.objects.len();
                for (key, size, etag) in folder.objects {
                    let log_file = format!("s3://{bucket}/{key}");
                    listing.offer(
                        LogObject::new(
                            Location::S3 {
                                bucket: bucket.to_owned(),
                                key,
                            },
                            log_file,
                            size,
                        )
                        .with_revision(etag),
                        false,
                    );
                }
                listing.start_early_gets(first, keys);
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
        let mut output = send_get(client, bucket, key).await?;
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

/// The user metadata of one object, with a HEAD request (the SDK retrying it).
pub async fn head_metadata(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<UserMetadata, FileError> {
    client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map(|output| output.metadata.unwrap_or_default())
        .map_err(|e| FileError::Fetch {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            source: DisplayErrorContext(&e).to_string().into(),
        })
}

/// Sends a GET of `key` (the SDK retrying it), up to its response headers.
async fn send_get(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<aws_sdk_s3::operation::get_object::GetObjectOutput, FileError> {
    client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        // The SDK error's Display is its kind only; the context names the cause.
        .map_err(|e| FileError::Fetch {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            source: DisplayErrorContext(&e).to_string().into(),
        })
}

/// Objects larger than this (compressed) are streamed rather than downloaded whole first.
pub const STREAM_ABOVE: u64 = 8 << 20;

/// Chunks of a streamed body downloaded ahead of its reader.
const STREAM_CHUNKS: usize = 16;

/// A streamed S3 body, read (on a decoding thread, never inside the async runtime) as it
/// downloads.
#[derive(Debug)]
pub struct BodyReader {
    chunks: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for BodyReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.chunk.is_empty() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.chunk = chunk,
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Ok(&self.chunk)
    }

    fn consume(&mut self, amount: usize) {
        self.chunk.advance(amount.min(self.chunk.len()));
    }
}

/// Starts streaming one object: the GET is sent now (so a missing or forbidden object is a fetch
/// error at once), and its body is then pumped into the returned reader by a task of its own,
/// a few chunks ahead. A body cut off mid-way is resumed from where it stopped with a ranged GET
/// (`If-Match` its ETag, so a changed object is never spliced), up to
/// [`super::aws::MAX_ATTEMPTS`] times; past that the reader fails with the cause.
pub async fn stream(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<(BodyReader, UserMetadata), FileError> {
    let mut output = send_get(client, bucket, key).await?;
    let metadata = output.metadata.take().unwrap_or_default();
    let (sender, chunks) = tokio::sync::mpsc::channel(STREAM_CHUNKS);
    let pump = Pump {
        client: client.clone(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        etag: output.e_tag.take(),
        sender,
    };
    tokio::spawn(pump.run(output.body));
    Ok((
        BodyReader {
            chunks,
            chunk: Bytes::new(),
        },
        metadata,
    ))
}

/// Moves one streamed body into its reader's channel.
struct Pump {
    client: Client,
    bucket: String,
    key: String,
    etag: Option<String>,
    sender: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
}

impl Pump {
    async fn run(self, mut body: aws_sdk_s3::primitives::ByteStream) {
        let mut delivered = 0u64;
        let mut attempts = 1;
        loop {
            let error = match body.next().await {
                // The whole body: dropping the sender ends the reader.
                None => return,
                Some(Ok(chunk)) => {
                    delivered += chunk.len() as u64;
                    if self.sender.send(Ok(chunk)).await.is_err() {
                        // The reader is gone (the file failed, or the query was cancelled).
                        return;
                    }
                    continue;
                }
                Some(Err(e)) => e.to_string(),
            };
            if attempts >= super::aws::MAX_ATTEMPTS {
                return self
                    .fail(format!(
                        "download interrupted after {delivered} bytes, {attempts} attempts: {error}"
                    ))
                    .await;
            }
            attempts += 1;
            tracing::debug!(key = self.key, delivered, error, "resuming a cut-off body");
            let mut resume = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .range(format!("bytes={delivered}-"));
            if let Some(etag) = &self.etag {
                resume = resume.if_match(etag);
            }
            match resume.send().await {
                Ok(output) => body = output.body,
                Err(e) => {
                    return self
                        .fail(format!(
                            "download interrupted after {delivered} bytes ({error}) and could not be resumed: {}",
                            DisplayErrorContext(&e)
                        ))
                        .await;
                }
            }
        }
    }

    async fn fail(&self, message: String) {
        let _ = self.sender.send(Err(io::Error::other(message))).await;
    }
}
