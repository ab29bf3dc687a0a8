//! An object store over trailmap's own S3 client (aws-sdk-s3), so that a warehouse on S3 uses
//! the same credentials, Region and endpoint as reading the trail bucket, and DataFusion's
//! Parquet scan reads it through the same client.
//!
//! What the warehouse needs: ranged GETs and HEADs, listing, PUT with "create if absent"
//! (`If-None-Match: *`, S3's conditional write: the commit step), multipart uploads (large
//! Parquet files, invisible until completed) and DELETE. Copying is not needed and not offered.

use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, UploadPart,
};

/// The store's name in errors.
const STORE: &str = "S3";

/// One bucket, through trailmap's S3 client.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    /// The store of `bucket`.
    pub fn new(client: Client, bucket: String) -> Self {
        S3Store { client, bucket }
    }
}

impl fmt::Display for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3Store(s3://{})", self.bucket)
    }
}

/// An SDK error as an object_store error: not found, already there (a failed conditional
/// write), or anything else with its full context.
fn store_error<E>(path: &Path, error: SdkError<E, HttpResponse>) -> object_store::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = error.code().map(str::to_owned);
    let status = error.raw_response().map(|r| r.status().as_u16());
    let path = path.to_string();
    let source: Box<dyn std::error::Error + Send + Sync> =
        DisplayErrorContext(&error).to_string().into();
    match (code.as_deref(), status) {
        (Some("NoSuchKey" | "NotFound"), _) | (_, Some(404)) => {
            object_store::Error::NotFound { path, source }
        }
        (Some("PreconditionFailed" | "ConditionalRequestConflict"), _) | (_, Some(412)) => {
            object_store::Error::AlreadyExists { path, source }
        }
        _ => object_store::Error::Generic {
            store: STORE,
            source,
        },
    }
}

fn generic(message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: message.into(),
    }
}

fn modified(time: Option<&aws_sdk_s3::primitives::DateTime>) -> DateTime<Utc> {
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_default()
}

/// The metadata of a listed object (none without a key).
fn listed(object: &aws_sdk_s3::types::Object) -> Option<ObjectMeta> {
    Some(ObjectMeta {
        location: Path::from(object.key()?),
        last_modified: modified(object.last_modified()),
        size: object.size().unwrap_or(0).max(0) as u64,
        e_tag: object.e_tag().map(str::to_owned),
        version: None,
    })
}

/// `bytes START-END/TOTAL` of a Content-Range header.
fn content_range(header: &str) -> Option<(u64, u64, u64)> {
    let rest = header.strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    Some((start.parse().ok()?, end.parse().ok()?, total.parse().ok()?))
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        options: PutOptions,
    ) -> object_store::Result<PutResult> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(location.as_ref())
            .body(ByteStream::from(Bytes::from(payload)));
        match options.mode {
            PutMode::Overwrite => {}
            PutMode::Create => request = request.if_none_match("*"),
            PutMode::Update(_) => {
                return Err(object_store::Error::NotImplemented {
                    operation: "put_opts with PutMode::Update".into(),
                    implementer: self.to_string(),
                });
            }
        }
        let output = request.send().await.map_err(|e| store_error(location, e))?;
        Ok(PutResult {
            e_tag: output.e_tag().map(str::to_owned),
            version: output.version_id().map(str::to_owned),
        })
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        _options: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(location.as_ref())
            .send()
            .await
            .map_err(|e| store_error(location, e))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| generic(format!("no upload id for {location}")))?
            .to_owned();
        Ok(Box::new(Upload {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            location: location.clone(),
            upload_id,
            next_part: 1,
            parts: Arc::default(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if options.head {
            let head = self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(location.as_ref())
                .send()
                .await
                .map_err(|e| store_error(location, e))?;
            let size = head.content_length().unwrap_or(0).max(0) as u64;
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                meta: ObjectMeta {
                    location: location.clone(),
                    last_modified: modified(head.last_modified()),
                    size,
                    e_tag: head.e_tag().map(str::to_owned),
                    version: head.version_id().map(str::to_owned),
                },
                range: 0..size,
                attributes: Attributes::default(),
            });
        }
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(location.as_ref())
            .set_range(options.range.as_ref().map(ToString::to_string))
            .set_if_match(options.if_match.clone())
            .set_if_none_match(options.if_none_match.clone())
            .send()
            .await
            .map_err(|e| store_error(location, e))?;
        let length = output.content_length().unwrap_or(0).max(0) as u64;
        let (range, size) = match output.content_range().and_then(content_range) {
            Some((start, end, total)) => (start..end + 1, total),
            None => (0..length, length),
        };
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified: modified(output.last_modified()),
            size,
            e_tag: output.e_tag().map(str::to_owned),
            version: output.version_id().map(str::to_owned),
        };
        let path = location.clone();
        let body = stream::try_unfold(output.body, move |mut body| {
            let path = path.clone();
            async move {
                match body.try_next().await {
                    Ok(Some(bytes)) => Ok(Some((bytes, body))),
                    Ok(None) => Ok(None),
                    Err(e) => Err(generic(format!("reading {path}: {e}"))),
                }
            }
        });
        Ok(GetResult {
            payload: GetResultPayload::Stream(body.boxed()),
            meta,
            range,
            attributes: Attributes::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        let store = self.clone();
        locations
            .and_then(move |path| {
                let store = store.clone();
                async move {
                    store
                        .client
                        .delete_object()
                        .bucket(&store.bucket)
                        .key(path.as_ref())
                        .send()
                        .await
                        .map_err(|e| store_error(&path, e))?;
                    Ok(path)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let prefix = prefix.map(|p| format!("{p}/")).unwrap_or_default();
        let pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix.clone())
            .into_paginator()
            .send();
        let root = Path::from(prefix.trim_end_matches('/'));
        stream::try_unfold(pages, move |mut pages| {
            let root = root.clone();
            async move {
                match pages.next().await {
                    None => Ok(None),
                    Some(Err(e)) => Err(store_error(&root, e)),
                    Some(Ok(page)) => {
                        let metas: Vec<object_store::Result<ObjectMeta>> =
                            page.contents().iter().filter_map(listed).map(Ok).collect();
                        Ok(Some((stream::iter(metas), pages)))
                    }
                }
            }
        })
        .try_flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let prefix_text = prefix.map(|p| format!("{p}/")).unwrap_or_default();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix_text)
            .delimiter("/")
            .into_paginator()
            .send();
        let root = prefix.cloned().unwrap_or_default();
        let mut result = ListResult {
            common_prefixes: Vec::new(),
            objects: Vec::new(),
        };
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| store_error(&root, e))?;
            result.common_prefixes.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix())
                    .map(|p| Path::from(p.trim_end_matches('/'))),
            );
            result
                .objects
                .extend(page.contents().iter().filter_map(listed));
        }
        Ok(result)
    }

    async fn copy_opts(
        &self,
        _from: &Path,
        _to: &Path,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(object_store::Error::NotImplemented {
            operation: "copy_opts".into(),
            implementer: self.to_string(),
        })
    }
}

/// Checks that the endpoint honours S3's conditional write (`If-None-Match: *`), which every
/// commit relies on: a probe object is created under `folder`, then created again, which must
/// fail. An endpoint that lets the second through would let two runs overwrite each other's
/// commits; the reason returned says so. The probe object is deleted either way.
pub async fn probe_conditional_writes(
    store: &Arc<dyn ObjectStore>,
    folder: &Path,
) -> Result<(), String> {
    let probe = folder
        .clone()
        .join(format!("conditional-write-probe-{}", uuid::Uuid::new_v4()).as_str());
    let create = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    store
        .put_opts(&probe, PutPayload::from("probe"), create.clone())
        .await
        .map_err(|e| format!("cannot write a probe object ({probe}): {e}"))?;
    let second = store
        .put_opts(&probe, PutPayload::from("probe"), create)
        .await;
    let _ = store.delete(&probe).await;
    match second {
        Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
        Ok(_) => Err(format!(
            "the S3 endpoint does not honour conditional writes (If-None-Match: *): a second \
             create-if-absent PUT of {probe} succeeded. Two ingest runs could then overwrite \
             each other's Delta commits and lose events, so trailmap does not write here. Use \
             an endpoint with conditional writes (Amazon S3 has them; so do recent MinIO and \
             Ceph), or ingest into a local directory"
        )),
        Err(e) => Err(format!(
            "cannot tell whether the S3 endpoint honours conditional writes (If-None-Match: *): \
             a second create-if-absent PUT of {probe} failed with {e}"
        )),
    }
}

/// A multipart upload: parts upload concurrently as they come; the object appears only when
/// the upload completes.
#[derive(Debug)]
struct Upload {
    client: Client,
    bucket: String,
    location: Path,
    upload_id: String,
    next_part: i32,
    parts: Arc<Mutex<Vec<CompletedPart>>>,
}

#[async_trait]
impl MultipartUpload for Upload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let number = self.next_part;
        self.next_part += 1;
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(self.location.as_ref())
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(Bytes::from(data)));
        let parts = Arc::clone(&self.parts);
        let location = self.location.clone();
        Box::pin(async move {
            let uploaded = request
                .send()
                .await
                .map_err(|e| store_error(&location, e))?;
            let part = CompletedPart::builder()
                .part_number(number)
                .set_e_tag(uploaded.e_tag().map(str::to_owned))
                .build();
            parts.lock().unwrap_or_else(|p| p.into_inner()).push(part);
            Ok(())
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let mut parts = self.parts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        parts.sort_by_key(|p| p.part_number());
        let output = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(self.location.as_ref())
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| store_error(&self.location, e))?;
        Ok(PutResult {
            e_tag: output.e_tag().map(str::to_owned),
            version: output.version_id().map(str::to_owned),
        })
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(self.location.as_ref())
            .upload_id(&self.upload_id)
            .send()
            .await
            .map_err(|e| store_error(&self.location, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::content_range;

    #[test]
    fn content_ranges_parse() {
        assert_eq!(content_range("bytes 10-19/100"), Some((10, 19, 100)));
        assert_eq!(content_range("bytes */100"), None);
        assert_eq!(content_range("items 1-2/3"), None);
    }
}
