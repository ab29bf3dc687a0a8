//! Digest signatures kept apart from the digests. S3 keeps a digest's signature in its object
//! metadata, which a download does not keep, so a local copy's digests carry none:
//! `trailmap verify -s s3://... --save-signatures FILE` writes every signature (and the public
//! keys that checked them) to a file, and `--signatures FILE` gives them back to a local copy;
//! `--signatures-from s3://BUCKET` asks S3 for each digest's metadata with a HEAD request.
//! Either way the signatures are checked with CloudTrail's public keys (`--public-keys`, or
//! `ListPublicKeys`), never with keys that came with them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::chain::FoundDigest;
use super::keys::PublicKeys;
use crate::error::{Error, LoadError, LoadStage, Result};
use crate::source::aws::{self, AwsOptions};
use crate::source::s3;

/// HEAD requests in flight at once.
const HEAD_CONCURRENCY: usize = 32;

/// What the first field of a signatures file says it is.
const FORMAT: &str = "trailmap digest signatures 1";

/// Where a local copy's digest signatures come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureSource {
    /// `--signatures FILE`: saved by `--save-signatures`.
    File(PathBuf),
    /// `--signatures-from s3://BUCKET`: each digest's metadata at the key it names.
    S3 {
        /// The bucket the trail delivers to.
        bucket: String,
    },
}

/// One digest's signature, as S3 kept it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedSignature {
    /// The bucket the digest names as its own.
    pub bucket: String,
    /// The key the digest names as its own.
    pub object: String,
    /// Hex signature (`x-amz-meta-signature`).
    pub signature: String,
    /// The fingerprint of the public key it names.
    pub public_key_fingerprint: String,
    /// `SHA256withRSA`.
    pub signature_algorithm: String,
}

/// A signatures file: every signature of a verification over S3, and the public keys that
/// checked them, as `aws cloudtrail list-public-keys` prints them. The keys are a record of
/// what checked the signatures, not trusted when the file is read back: a local copy's
/// signatures are checked with `--public-keys` or CloudTrail's `ListPublicKeys`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignatureFile {
    /// [`FORMAT`].
    pub format: String,
    /// When it was saved (RFC 3339).
    pub saved_at: String,
    /// The signatures.
    pub digests: Vec<SavedSignature>,
    /// The public keys, `{"PublicKeyList": [...]}`.
    pub public_keys: serde_json::Value,
}

impl SignatureFile {
    /// The signatures of `digests` read from S3, and `keys`.
    pub fn of(digests: &[FoundDigest], keys: &PublicKeys) -> Result<SignatureFile> {
        let saved = digests
            .iter()
            .filter(|d| !d.is_local())
            .filter_map(|d| {
                let read = d.content.as_ref().ok()?;
                Some(SavedSignature {
                    bucket: read.digest.digest_s3_bucket.clone(),
                    object: read.digest.digest_s3_object.clone(),
                    signature: read.signature.clone()?,
                    public_key_fingerprint: read.digest.digest_public_key_fingerprint.clone(),
                    signature_algorithm: read.digest.digest_signature_algorithm.clone(),
                })
            })
            .collect();
        SignatureFile::new(saved, keys)
    }

    /// A file of these signatures and keys, saved now.
    pub fn new(digests: Vec<SavedSignature>, keys: &PublicKeys) -> Result<SignatureFile> {
        Ok(SignatureFile {
            format: FORMAT.to_owned(),
            saved_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            digests,
            public_keys: keys.to_list_json()?,
        })
    }

    /// Reads a file written by [`SignatureFile::save`].
    pub fn load(path: &Path) -> Result<SignatureFile> {
        let invalid = |reason: String| Error::Keys {
            origin: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let file: SignatureFile = serde_json::from_str(&text).map_err(|e| {
            invalid(format!(
                "not a signatures file written by `trailmap verify --save-signatures`: {e}"
            ))
        })?;
        if file.format != FORMAT {
            return Err(invalid(format!(
                "format {:?}, expected {FORMAT:?}",
                file.format
            )));
        }
        Ok(file)
    }

    /// Writes it as JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let failed = |reason: String| Error::Keys {
            origin: path.display().to_string(),
            reason,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| failed(e.to_string()))?;
        std::fs::write(path, text).map_err(|e| failed(format!("cannot write: {e}")))
    }

    /// Gives each local digest the signature saved for the location it names.
    pub fn attach(&self, digests: &mut [FoundDigest]) {
        let by_location: HashMap<(&str, &str), &str> = self
            .digests
            .iter()
            .map(|s| ((s.bucket.as_str(), s.object.as_str()), s.signature.as_str()))
            .collect();
        for found in digests.iter_mut().filter(|d| d.is_local()) {
            if let Ok(read) = &mut found.content {
                let location = (
                    read.digest.digest_s3_bucket.as_str(),
                    read.digest.digest_s3_object.as_str(),
                );
                if let Some(signature) = by_location.get(&location) {
                    read.signature = Some((*signature).to_owned());
                }
            }
        }
    }
}

/// Gives each local digest the signature S3 keeps for it in `bucket`, at the key the digest
/// names, with a HEAD request each. A digest S3 does not answer for is a load error.
pub async fn attach_from_s3(
    digests: &mut [FoundDigest],
    bucket: &str,
    aws_options: &AwsOptions,
) -> Vec<LoadError> {
    let config = aws::load(aws_options).await;
    let client = s3::client_for_bucket(&config, bucket).await;
    let wanted: Vec<(usize, String)> = digests
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_local())
        .filter_map(|(i, d)| Some((i, d.content.as_ref().ok()?.digest.digest_s3_object.clone())))
        .collect();
    let answers: Vec<(usize, String, std::result::Result<_, _>)> = futures::stream::iter(wanted)
        .map(|(i, key)| {
            let client = &client;
            async move {
                let answer = s3::head_metadata(client, bucket, &key).await;
                (i, key, answer)
            }
        })
        .buffer_unordered(HEAD_CONCURRENCY)
        .collect()
        .await;
    let mut errors = Vec::new();
    for (i, key, answer) in answers {
        let found = &mut digests[i];
        match (answer, &mut found.content) {
            (Ok(mut metadata), Ok(read)) => read.signature = metadata.remove("signature"),
            (Err(e), _) => errors.push(LoadError::new(
                found.file.clone(),
                LoadStage::Fetch,
                format!("its signature could not be read from s3://{bucket}/{key}: {e}"),
            )),
            (Ok(_), Err(_)) => {}
        }
    }
    errors
}
