//! The keys of digest signatures: CloudTrail's public keys (from `ListPublicKeys`, or the JSON
//! `aws cloudtrail list-public-keys` prints), and a signing key for generated archives.
//!
//! A public key is DER `RSAPublicKey` (PKCS#1); its fingerprint, which each digest names, is the
//! hex MD5 of those bytes. Signatures are RSASSA-PKCS1-v1_5 with SHA-256.

use std::collections::HashMap;
use std::path::Path;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use md5::Digest as _;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The hex MD5 of a DER public key: the fingerprint a digest names.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(md5::Md5::digest(der))
}

/// A key file's text and its name for errors.
fn read_key_file(path: &Path) -> Result<(String, String)> {
    let origin = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, origin)),
        Err(e) => Err(Error::Keys {
            origin,
            reason: e.to_string(),
        }),
    }
}

/// One entry of `aws cloudtrail list-public-keys` output.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublicKeyEntry {
    /// Base64 DER.
    value: String,
    /// Not read: AWS CLI v2 prints an ISO 8601 time, v1 epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    validity_start_time: Option<serde_json::Value>,
    /// Not read (as `validity_start_time`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    validity_end_time: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
}

/// `aws cloudtrail list-public-keys` output.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PublicKeyList {
    public_key_list: Vec<PublicKeyEntry>,
}

/// How a signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Made by the key the digest names.
    Valid,
    /// No known public key has the fingerprint the digest names.
    UnknownKey,
    /// Not a signature of the signed string by that key (or not hex).
    Invalid,
}

/// Public keys by fingerprint.
#[derive(Debug, Clone, Default)]
pub struct PublicKeys {
    by_fingerprint: HashMap<String, Vec<u8>>,
}

impl PublicKeys {
    /// Adds a DER public key.
    pub fn insert(&mut self, der: Vec<u8>) {
        self.by_fingerprint.insert(fingerprint(&der), der);
    }

    /// Adds every key of `other`.
    pub fn extend(&mut self, other: PublicKeys) {
        self.by_fingerprint.extend(other.by_fingerprint);
    }

    /// How many keys are known.
    pub fn len(&self) -> usize {
        self.by_fingerprint.len()
    }

    /// Whether no key is known.
    pub fn is_empty(&self) -> bool {
        self.by_fingerprint.is_empty()
    }

    /// Whether a key with this fingerprint is known.
    pub fn contains(&self, fingerprint: &str) -> bool {
        self.by_fingerprint
            .contains_key(&fingerprint.to_ascii_lowercase())
    }

    /// Reads the JSON that `aws cloudtrail list-public-keys` prints.
    pub fn from_list_json(text: &str, origin: &str) -> Result<PublicKeys> {
        let invalid = |reason: String| Error::Keys {
            origin: origin.to_owned(),
            reason,
        };
        let list: PublicKeyList = serde_json::from_str(text).map_err(|e| {
            invalid(format!(
                "not the JSON of `aws cloudtrail list-public-keys` ({{\"PublicKeyList\": [{{\"Value\": BASE64, ...}}]}}): {e}"
            ))
        })?;
        let mut keys = PublicKeys::default();
        for (index, entry) in list.public_key_list.into_iter().enumerate() {
            let der = BASE64
                .decode(entry.value.trim())
                .map_err(|e| invalid(format!("PublicKeyList[{index}].Value is not base64: {e}")))?;
            keys.insert(der);
        }
        Ok(keys)
    }

    /// The keys as `aws cloudtrail list-public-keys` prints them (what [`Self::from_list_json`]
    /// reads), in fingerprint order.
    pub fn to_list_json(&self) -> Result<serde_json::Value> {
        let mut entries: Vec<(&String, &Vec<u8>)> = self.by_fingerprint.iter().collect();
        entries.sort();
        let list = PublicKeyList {
            public_key_list: entries
                .into_iter()
                .map(|(fingerprint, der)| PublicKeyEntry {
                    value: BASE64.encode(der),
                    validity_start_time: None,
                    validity_end_time: None,
                    fingerprint: Some(fingerprint.clone()),
                })
                .collect(),
        };
        serde_json::to_value(list).map_err(|e| Error::Internal(e.to_string()))
    }

    /// Reads a `--public-keys` file.
    pub fn from_file(path: &Path) -> Result<PublicKeys> {
        let (text, origin) = read_key_file(path)?;
        PublicKeys::from_list_json(&text, &origin)
    }

    /// Asks CloudTrail in `region` for the keys valid between `start` and `end`.
    pub async fn fetch(
        config: &aws_config::SdkConfig,
        region: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<PublicKeys> {
        let client = aws_sdk_cloudtrail::Client::from_conf(
            aws_sdk_cloudtrail::config::Builder::from(config)
                .region(aws_config::Region::new(region.to_owned()))
                .build(),
        );
        let failed = |reason: String| Error::Keys {
            origin: format!("CloudTrail ListPublicKeys in {region}"),
            reason,
        };
        let to_smithy =
            |t: DateTime<Utc>| aws_sdk_cloudtrail::primitives::DateTime::from_secs(t.timestamp());
        let mut keys = PublicKeys::default();
        let mut pages = client
            .list_public_keys()
            .start_time(to_smithy(start))
            .end_time(to_smithy(end))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                failed(aws_sdk_cloudtrail::error::DisplayErrorContext(&e).to_string())
            })?;
            for key in page.public_key_list() {
                if let Some(value) = key.value() {
                    keys.insert(value.as_ref().to_vec());
                }
            }
        }
        Ok(keys)
    }

    /// Checks a hex signature of `message` by the key with `fingerprint`.
    pub fn check(&self, fingerprint: &str, message: &[u8], signature_hex: &str) -> SignatureCheck {
        let Some(der) = self.by_fingerprint.get(&fingerprint.to_ascii_lowercase()) else {
            return SignatureCheck::UnknownKey;
        };
        let Ok(signature) = hex::decode(signature_hex.trim()) else {
            return SignatureCheck::Invalid;
        };
        match UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der)
            .verify(message, &signature)
        {
            Ok(()) => SignatureCheck::Valid,
            Err(_) => SignatureCheck::Invalid,
        }
    }
}

/// An RSA private key that signs digests as CloudTrail does (for generated archives and tests).
#[derive(Debug)]
pub struct SigningKey {
    pair: KeyPair,
}

const PKCS8_PEM: (&str, &str) = ("-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----");
const PKCS1_PEM: (&str, &str) = (
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----END RSA PRIVATE KEY-----",
);

impl SigningKey {
    /// A new 2048-bit key.
    pub fn generate() -> Result<SigningKey> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| Error::Keys {
            origin: "a new RSA key".to_owned(),
            reason: e.to_string(),
        })?;
        Ok(SigningKey { pair })
    }

    /// Reads a PEM private key (`BEGIN PRIVATE KEY`, PKCS#8, as `openssl genpkey` writes, or
    /// `BEGIN RSA PRIVATE KEY`, PKCS#1).
    pub fn from_pem(text: &str, origin: &str) -> Result<SigningKey> {
        let invalid = |reason: String| Error::Keys {
            origin: origin.to_owned(),
            reason,
        };
        let body = |(begin, end): (&str, &str)| {
            let start = text.find(begin)? + begin.len();
            let stop = start + text[start..].find(end)?;
            Some(text[start..stop].split_whitespace().collect::<String>())
        };
        let (der, pkcs8) = match (body(PKCS8_PEM), body(PKCS1_PEM)) {
            (Some(b64), _) => (BASE64.decode(b64), true),
            (None, Some(b64)) => (BASE64.decode(b64), false),
            (None, None) => {
                return Err(invalid(
                    "no PEM RSA private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)".into(),
                ));
            }
        };
        let der = der.map_err(|e| invalid(format!("PEM body is not base64: {e}")))?;
        let pair = match pkcs8 {
            true => KeyPair::from_pkcs8(&der),
            false => KeyPair::from_der(&der),
        }
        .map_err(|e| invalid(format!("not an RSA private key: {e}")))?;
        Ok(SigningKey { pair })
    }

    /// The key as PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<String> {
        let der: Pkcs8V1Der = self.pair.as_der().map_err(|e| Error::Keys {
            origin: "the signing key".to_owned(),
            reason: e.to_string(),
        })?;
        let b64 = BASE64.encode(der.as_ref());
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .filter_map(|c| std::str::from_utf8(c).ok())
            .collect();
        Ok(format!(
            "{}\n{}\n{}\n",
            PKCS8_PEM.0,
            lines.join("\n"),
            PKCS8_PEM.1
        ))
    }

    /// The public key, DER `RSAPublicKey`.
    pub fn public_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// The fingerprint digests signed with this key name.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public_der())
    }

    /// Signs `message`; the hex signature, as CloudTrail stores it in S3 metadata.
    pub fn sign(&self, message: &[u8]) -> Result<String> {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|e| Error::Keys {
                origin: "the signing key".to_owned(),
                reason: format!("cannot sign: {e}"),
            })?;
        Ok(hex::encode(signature))
    }

    /// The public key in the JSON `aws cloudtrail list-public-keys` prints (for
    /// `trailmap verify --public-keys`).
    pub fn public_keys_json(&self) -> Result<String> {
        let list = PublicKeyList {
            public_key_list: vec![PublicKeyEntry {
                value: BASE64.encode(self.public_der()),
                validity_start_time: None,
                validity_end_time: None,
                fingerprint: Some(self.fingerprint()),
            }],
        };
        serde_json::to_string_pretty(&list).map_err(|e| Error::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_with_the_listed_key_only() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_pem(&key.to_pem().unwrap(), "pem").unwrap();
        assert_eq!(again.fingerprint(), key.fingerprint());
        let keys = PublicKeys::from_list_json(&key.public_keys_json().unwrap(), "json").unwrap();
        assert_eq!(keys.len(), 1);
        let signature = key.sign(b"message").unwrap();
        let fp = key.fingerprint();
        assert_eq!(
            keys.check(&fp, b"message", &signature),
            SignatureCheck::Valid
        );
        assert_eq!(
            keys.check(&fp, b"messagE", &signature),
            SignatureCheck::Invalid
        );
        assert_eq!(keys.check(&fp, b"message", "zz"), SignatureCheck::Invalid);
        assert_eq!(
            keys.check("00", b"message", &signature),
            SignatureCheck::UnknownKey
        );
        let other = SigningKey::generate().unwrap();
        let forged = other.sign(b"message").unwrap();
        assert_eq!(
            keys.check(&fp, b"message", &forged),
            SignatureCheck::Invalid
        );
    }

    #[test]
    fn bad_key_files_are_named() {
        let err = PublicKeys::from_list_json("{}", "keys.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("keys.json") && err.contains("PublicKeyList"),
            "{err}"
        );
        let err = PublicKeys::from_list_json(r#"{"PublicKeyList":[{"Value":"!!"}]}"#, "k")
            .unwrap_err()
            .to_string();
        assert!(err.contains("PublicKeyList[0].Value"), "{err}");
        let err = SigningKey::from_pem("hello", "key.pem")
            .unwrap_err()
            .to_string();
        assert!(err.contains("key.pem") && err.contains("PEM"), "{err}");
    }
}
