//! A real S3-protocol server on 127.0.0.1 for tests: `s3s-fs` serving a directory (each
//! subdirectory is a bucket), behind a wrapper that records every request and can inject
//! faults (500, 503 SlowDown, dropped connections) deterministically. Shared by the S3 tests
//! and `benches/s3.rs`; each uses part of it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};

pub const ACCESS_KEY: &str = "AKIATRAILMAPTEST";
pub const SECRET_KEY: &str = "trailmap-test-secret";

/// What the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// ListObjectsV2 with this prefix.
    List(String),
    /// GetObject of this key.
    Get(String),
    /// HeadObject of this key.
    Head(String),
    /// Anything else (method and path).
    Other(String),
}

/// Which requests fail.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// The first attempt at every `n`-th distinct GET key fails (500, 503 SlowDown or a dropped
    /// connection, in turn).
    pub flaky_get_every: Option<usize>,
    /// The first attempt at every `n`-th distinct listing prefix fails with 503 SlowDown.
    pub flaky_list_every: Option<usize>,
    /// GETs of keys containing this always fail with 500.
    pub broken_key: Option<String>,
    /// GETs of keys containing this are refused with 403 AccessDenied.
    pub denied_key: Option<String>,
    /// Listings of prefixes containing this are refused with 403 AccessDenied.
    pub denied_prefix: Option<String>,
    /// The first GET of every `n`-th distinct key sends its headers (with the full
    /// Content-Length) and half of its body, then closes the connection.
    pub cut_body_every: Option<usize>,
    /// Every answer waits this long first, like S3's time to first byte (~10-50 ms).
    pub latency: Option<std::time::Duration>,
    /// How conditional PUTs (`If-None-Match: *`) are answered.
    pub conditional_writes: ConditionalWrites,
    /// The N-th conditional PUT of a Delta commit (`_delta_log/...json`) is written, but its
    /// answer is lost: a 500, as when a connection drops after the write (the client retries).
    pub lose_commit_answer: Option<usize>,
}

/// How the server answers a conditional PUT (`If-None-Match: *`, "create if absent").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConditionalWrites {
    /// Honoured atomically, as S3 does: the existence check and the write happen under one
    /// lock (s3s-fs alone checks, then writes, so two PUTs at once could both succeed).
    #[default]
    Atomic,
    /// Ignored: the PUT overwrites, as endpoints without conditional writes do.
    Ignored,
}

/// s3s-fs with conditional PUTs answered as [`ConditionalWrites`] says; everything else as
/// s3s-fs answers it.
struct Conditional {
    inner: s3s_fs::FileSystem,
    mode: ConditionalWrites,
    lock: tokio::sync::Mutex<()>,
    lose_commit_answer: Option<usize>,
    commits_put: std::sync::atomic::AtomicUsize,
}

/// The S3 implementation of [`Conditional`]: each listed operation delegated to s3s-fs, and
/// `put_object` through [`Conditional::put`]. (A macro writes the whole impl, so that
/// `async_trait` sees the methods it makes.)
macro_rules! s3_delegating {
    ($($name:ident: $input:ident => $output:ident;)*) => {
        #[async_trait::async_trait]
        impl s3s::S3 for Conditional {
            $(
                async fn $name(
                    &self,
                    req: s3s::S3Request<s3s::dto::$input>,
                ) -> s3s::S3Result<s3s::S3Response<s3s::dto::$output>> {
                    self.inner.$name(req).await
                }
            )*

            async fn put_object(
                &self,
                req: s3s::S3Request<s3s::dto::PutObjectInput>,
            ) -> s3s::S3Result<s3s::S3Response<s3s::dto::PutObjectOutput>> {
                self.put(req).await
            }
        }
    };
}

s3_delegating! {
    create_bucket: CreateBucketInput => CreateBucketOutput;
    copy_object: CopyObjectInput => CopyObjectOutput;
    delete_bucket: DeleteBucketInput => DeleteBucketOutput;
    delete_object: DeleteObjectInput => DeleteObjectOutput;
    delete_objects: DeleteObjectsInput => DeleteObjectsOutput;
    get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput;
    get_object: GetObjectInput => GetObjectOutput;
    head_bucket: HeadBucketInput => HeadBucketOutput;
    head_object: HeadObjectInput => HeadObjectOutput;
    list_buckets: ListBucketsInput => ListBucketsOutput;
    list_objects: ListObjectsInput => ListObjectsOutput;
    list_objects_v2: ListObjectsV2Input => ListObjectsV2Output;
    create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput;
    upload_part: UploadPartInput => UploadPartOutput;
    upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput;
    list_parts: ListPartsInput => ListPartsOutput;
    complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput;
    abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput;
}

impl Conditional {
    async fn put(
        &self,
        mut req: s3s::S3Request<s3s::dto::PutObjectInput>,
    ) -> s3s::S3Result<s3s::S3Response<s3s::dto::PutObjectOutput>> {
        use s3s::S3;
        if req.input.if_none_match.is_none() {
            return self.inner.put_object(req).await;
        }
        match self.mode {
            ConditionalWrites::Ignored => {
                req.input.if_none_match = None;
                self.inner.put_object(req).await
            }
            ConditionalWrites::Atomic => {
                let commit =
                    req.input.key.contains("_delta_log/") && req.input.key.ends_with(".json");
                let _one_at_a_time = self.lock.lock().await;
                let answer = self.inner.put_object(req).await?;
                if commit {
                    let n = 1 + self
                        .commits_put
                        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if self.lose_commit_answer == Some(n) {
                        return Err(s3s::s3_error!(InternalError, "the answer was lost"));
                    }
                }
                Ok(answer)
            }
        }
    }
}

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    /// Keys whose GET was answered with a fault.
    faulted_gets: Vec<String>,
    attempts: HashMap<String, usize>,
    distinct: HashMap<String, usize>,
    gets_in_flight: usize,
    peak_gets_in_flight: usize,
    /// User metadata (`x-amz-meta-NAME: VALUE`) of objects, by key, sent with their GETs.
    metadata: HashMap<String, Vec<(String, String)>>,
    /// `(key, Range header)` of every GET with a Range.
    ranged_gets: Vec<(String, String)>,
    /// The answer to CloudTrail ListPublicKeys, if it has one.
    public_keys: Option<String>,
    /// The Region (of the request's signature) of every ListPublicKeys call.
    public_key_regions: Vec<String>,
    /// The bucket GetTrail names (`trail-bucket` unless set).
    trail_bucket: Option<String>,
    /// Objects (their file, their new bytes) overwritten when a digest folder is first listed.
    overwrite_on_digest_listing: Vec<(PathBuf, Vec<u8>)>,
}

/// Counts a GET as in flight from when its request arrives until its answer is produced.
struct GetInFlight(Arc<Mutex<State>>);

impl GetInFlight {
    fn start(state: &Arc<Mutex<State>>) -> GetInFlight {
        let mut guard = state.lock().unwrap();
        guard.gets_in_flight += 1;
        guard.peak_gets_in_flight = guard.peak_gets_in_flight.max(guard.gets_in_flight);
        GetInFlight(Arc::clone(state))
    }
}

impl Drop for GetInFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().gets_in_flight -= 1;
    }
}

pub struct S3Server {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    _runtime: tokio::runtime::Runtime,
}

enum Fault {
    Status(u16, &'static str),
    Drop,
    CutBody,
}

fn decide(state: &mut State, faults: &Faults, call: &Call) -> Option<Fault> {
    let (id, every) = match call {
        Call::Get(key) => {
            if faults
                .broken_key
                .as_deref()
                .is_some_and(|b| key.contains(b))
            {
                return Some(Fault::Status(500, "InternalError"));
            }
            if faults
                .denied_key
                .as_deref()
                .is_some_and(|d| key.contains(d))
            {
                return Some(Fault::Status(403, "AccessDenied"));
            }
            if let Some(every) = faults.cut_body_every {
                let next = state.distinct.len();
                let index = *state.distinct.entry(format!("get:{key}")).or_insert(next);
                let attempt = state.attempts.entry(format!("get:{key}")).or_insert(0);
                *attempt += 1;
                if *attempt == 1 && index.is_multiple_of(every) {
                    state.faulted_gets.push(key.clone());
                    return Some(Fault::CutBody);
                }
                return None;
            }
            (format!("get:{key}"), faults.flaky_get_every?)
        }
        Call::List(prefix) => {
            if faults
                .denied_prefix
                .as_deref()
                .is_some_and(|d| prefix.contains(d))
            {
                return Some(Fault::Status(403, "AccessDenied"));
            }
            (format!("list:{prefix}"), faults.flaky_list_every?)
        }
        Call::Other(_) | Call::Head(_) => return None,
    };
    let next = state.distinct.len();
    let index = *state.distinct.entry(id.clone()).or_insert(next);
    let attempt = state.attempts.entry(id).or_insert(0);
    *attempt += 1;
    if *attempt > 1 || !index.is_multiple_of(every) {
        return None;
    }
    if let Call::Get(key) = call {
        state.faulted_gets.push(key.clone());
    }
    Some(match (call, (index / every) % 3) {
        (Call::List(_), _) | (_, 1) => Fault::Status(503, "SlowDown"),
        (_, 0) => Fault::Status(500, "InternalError"),
        _ => Fault::Drop,
    })
}

fn classify(req: &http::Request<Incoming>) -> Call {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("");
    let params: HashMap<String, String> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect();
    let mut segments = path.trim_start_matches('/').splitn(2, '/');
    let _bucket = segments.next();
    let key = segments.next().map(percent_decode).unwrap_or_default();
    match *req.method() {
        http::Method::GET if params.get("list-type").map(String::as_str) == Some("2") => {
            Call::List(params.get("prefix").cloned().unwrap_or_default())
        }
        http::Method::GET if !key.is_empty() => Call::Get(key),
        http::Method::HEAD if !key.is_empty() => Call::Head(key),
        ref method => Call::Other(format!("{method} {path}")),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl S3Server {
    /// Serves `root` (its subdirectories are buckets) with `faults`.
    pub fn start(root: &Path, faults: Faults) -> S3Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime");
        let fs = Conditional {
            inner: s3s_fs::FileSystem::new(root).expect("s3s-fs root"),
            mode: faults.conditional_writes,
            lock: tokio::sync::Mutex::new(()),
            lose_commit_answer: faults.lose_commit_answer,
            commits_put: std::sync::atomic::AtomicUsize::new(0),
        };
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service: S3Service = builder.build();
        let state = Arc::new(Mutex::new(State::default()));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let shared = Arc::clone(&state);
        runtime.spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                // As S3 does: without it, Nagle's algorithm and delayed ACKs hold each small
                // response back ~40 ms and the server, not the client, sets the pace.
                let _ = socket.set_nodelay(true);
                let service = service.clone();
                let state = Arc::clone(&shared);
                let faults = faults.clone();
                tokio::spawn(async move {
                    let handler = service_fn(move |req: http::Request<Incoming>| {
                        let service = service.clone();
                        let cloudtrail = {
                            let mut state = state.lock().unwrap();
                            if is_list_public_keys(&req) {
                                let region = signing_region(&req);
                                state.public_key_regions.push(region);
                            }
                            cloudtrail_answer(
                                &req,
                                state.public_keys.as_deref(),
                                state.trail_bucket.as_deref().unwrap_or("trail-bucket"),
                            )
                        };
                        let call = classify(&req);
                        if matches!(&call, Call::List(prefix) if prefix.contains("CloudTrail-Digest"))
                        {
                            let due = std::mem::take(
                                &mut state.lock().unwrap().overwrite_on_digest_listing,
                            );
                            for (path, bytes) in due {
                                overwrite(&path, &bytes);
                            }
                        }
                        let latency = faults.latency;
                        let fault = {
                            let mut state = state.lock().unwrap();
                            state.calls.push(call.clone());
                            decide(&mut state, &faults, &call)
                        };
                        if let (Call::Get(key), Some(range)) = (
                            &call,
                            req.headers().get("range").and_then(|r| r.to_str().ok()),
                        ) {
                            let entry = (key.clone(), range.to_owned());
                            state.lock().unwrap().ranged_gets.push(entry);
                        }
                        let metadata = match &call {
                            Call::Get(key) | Call::Head(key) => {
                                state.lock().unwrap().metadata.get(key).cloned()
                            }
                            _ => None,
                        };
                        let in_flight =
                            matches!(call, Call::Get(_)).then(|| GetInFlight::start(&state));
                        async move {
                            let _in_flight = in_flight;
                            if let Some(latency) = latency {
                                tokio::time::sleep(latency).await;
                            }
                            if let Some(answer) = cloudtrail {
                                return Ok(answer);
                            }
                            match fault {
                                None => Ok(match service.call(req.map(s3s::Body::from)).await {
                                    Ok(mut response) => {
                                        add_metadata(&mut response, metadata);
                                        response
                                    }
                                    Err(_) => error_response(500, "InternalError"),
                                }),
                                Some(Fault::Status(code, name)) => Ok(error_response(code, name)),
                                Some(Fault::Drop) => {
                                    Err(std::io::Error::other("dropped on purpose"))
                                }
                                Some(Fault::CutBody) => {
                                    Ok(match service.call(req.map(s3s::Body::from)).await {
                                        Ok(response) => cut_body(response).await,
                                        Err(_) => error_response(500, "InternalError"),
                                    })
                                }
                            }
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), handler)
                        .await;
                });
            }
        });
        S3Server {
            endpoint,
            state,
            _runtime: runtime,
        }
    }

    /// Sets the user metadata GETs and HEADs of `key` answer with (`x-amz-meta-NAME: VALUE`), as S3
    /// stores it with an object. (s3s-fs stores metadata in a file named after the base64 of
    /// the key, too long for the file system with CloudTrail's digest keys.)
    pub fn set_metadata(&self, key: &str, metadata: &[(&str, &str)]) {
        let pairs = metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.state
            .lock()
            .unwrap()
            .metadata
            .insert(key.to_owned(), pairs);
    }

    /// Overwrites the object stored in `path` with `bytes` when a `CloudTrail-Digest` folder is
    /// first listed (as `trailmap verify` does, and a query's listing never does): someone
    /// replacing an object between two reads of it.
    pub fn overwrite_when_digests_are_listed(&self, path: &Path, bytes: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .overwrite_on_digest_listing
            .push((path.to_owned(), bytes));
    }

    /// Answers CloudTrail ListPublicKeys with this JSON (`{"PublicKeyList": [...]}`).
    pub fn set_public_keys(&self, json: &str) {
        self.state.lock().unwrap().public_keys = Some(json.to_owned());
    }

    /// Makes GetTrail name `bucket` as the trail's bucket.
    pub fn set_trail_bucket(&self, bucket: &str) {
        self.state.lock().unwrap().trail_bucket = Some(bucket.to_owned());
    }

    /// The Region of every ListPublicKeys call so far.
    pub fn public_key_regions(&self) -> Vec<String> {
        self.state.lock().unwrap().public_key_regions.clone()
    }

    /// `(key, Range header)` of every ranged GET so far.
    pub fn ranged_gets(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().ranged_gets.clone()
    }

    /// Every request so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The most GETs that were being answered at the same moment.
    /// Keys whose first GET the server failed on purpose (not the broken key).
    pub fn faulted_gets(&self) -> Vec<String> {
        self.state.lock().unwrap().faulted_gets.clone()
    }

    pub fn peak_gets_in_flight(&self) -> usize {
        self.state.lock().unwrap().peak_gets_in_flight
    }

    /// Environment for the trailmap binary to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = Self::credentials_env();
        env.push(("AWS_ENDPOINT_URL", self.endpoint.clone()));
        env
    }

    /// The credentials and Region every server accepts, with no AWS configuration files or
    /// instance metadata consulted.
    pub fn credentials_env() -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_CONFIG_FILE", "/nonexistent".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".to_owned()),
        ]
    }
}

/// Replaces the file at `path` with `bytes` in one step (a reader that has it open keeps the old
/// bytes, as a GET under way on S3 does).
fn overwrite(path: &Path, bytes: &[u8]) {
    let mut staged = path.as_os_str().to_owned();
    staged.push(".replacing");
    std::fs::write(&staged, bytes).expect("write the replacement");
    std::fs::rename(&staged, path).expect("replace the object");
}

/// Adds stored user metadata to a successful GET's response.
fn add_metadata(response: &mut http::Response<s3s::Body>, metadata: Option<Vec<(String, String)>>) {
    if !response.status().is_success() {
        return;
    }
    for (name, value) in metadata.unwrap_or_default() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(format!("x-amz-meta-{name}")),
            http::HeaderValue::try_from(value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
}

/// The loopback endpoint also answers CloudTrail's GetTrail (AWS's CloudTrail API cannot run
/// here), with a hand-written organization trail delivering to this server's `trail_bucket`,
/// GetEventSelectors with that trail's selectors, and ListPublicKeys with the keys given by [`S3Server::set_public_keys`].
fn cloudtrail_answer(
    req: &http::Request<Incoming>,
    public_keys: Option<&str>,
    trail_bucket: &str,
) -> Option<http::Response<s3s::Body>> {
    let target = req.headers().get("x-amz-target")?.to_str().ok()?;
    let (status, body) = match (target, public_keys) {
        ("CloudTrail_20131101.GetTrail", _) => (
            http::StatusCode::OK,
            format!(
                r#"{{"Trail":{{"Name":"org-trail","S3BucketName":"{trail_bucket}","IsOrganizationTrail":true,"HomeRegion":"us-east-1"}}}}"#
            ),
        ),
        // Today's selectors of the generator's trail: every management event, and the data
        // events it switches on partway through an archive.
        ("CloudTrail_20131101.GetEventSelectors", _) => (
            http::StatusCode::OK,
            r#"{"TrailARN":"arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail","AdvancedEventSelectors":[{"Name":"Management events","FieldSelectors":[{"Field":"eventCategory","Equals":["Management"]}]},{"Name":"Model inference data events","FieldSelectors":[{"Field":"eventCategory","Equals":["Data"]},{"Field":"resources.type","Equals":["AWS::BedrockMantle::Project","AWS::Bedrock::KnowledgeBase","AWS::AWSExternalAnthropic::Workspace"]}]}]}"#.to_owned(),
        ),
        ("CloudTrail_20131101.ListPublicKeys", Some(keys)) => {
            (http::StatusCode::OK, keys.to_owned())
        }
        _ => (
            http::StatusCode::BAD_REQUEST,
            r#"{"__type":"TrailNotFoundException","Message":"Unknown trail"}"#.to_owned(),
        ),
    };
    let mut response = http::Response::new(s3s::Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    Some(response)
}

fn is_list_public_keys(req: &http::Request<Incoming>) -> bool {
    req.headers()
        .get("x-amz-target")
        .is_some_and(|t| t == "CloudTrail_20131101.ListPublicKeys")
}

/// The Region of a SigV4 request: `Credential=KEY/DATE/REGION/SERVICE/aws4_request`.
fn signing_region(req: &http::Request<Incoming>) -> String {
    req.headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .unwrap_or_default()
        .to_owned()
}

/// The response with its full Content-Length but only the first half of its body, after which
/// the connection fails, as a network failure mid-body would.
async fn cut_body(response: http::Response<s3s::Body>) -> http::Response<s3s::Body> {
    let (mut parts, mut body) = response.into_parts();
    let bytes = body.store_all_limited(usize::MAX).await.unwrap_or_default();
    parts.headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(bytes.len()),
    );
    let half = bytes.slice(..bytes.len() / 2);
    http::Response::from_parts(parts, s3s::Body::http_body(HalfBody(Some(half))))
}

/// A body that sends its bytes, then fails (its length unknown to hyper, so the
/// Content-Length header stands).
struct HalfBody(Option<bytes::Bytes>);

impl http_body::Body for HalfBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(Some(match self.0.take() {
            Some(half) => Ok(http_body::Frame::data(half)),
            None => Err(std::io::Error::other("connection cut on purpose")),
        }))
    }
}

fn error_response(code: u16, name: &str) -> http::Response<s3s::Body> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{name}</Code><Message>injected by the test</Message></Error>"
    );
    let mut response = http::Response::new(s3s::Body::from(body));
    *response.status_mut() =
        http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response
}
