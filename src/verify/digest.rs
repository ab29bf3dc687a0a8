//! CloudTrail digest files: their keys, their JSON and the string CloudTrail signs.
//!
//! `AWSLogs/[o-ORG/]ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_YYYYMMDDTHHMMSSZ.json.gz`
//! (with `_backfill` before `.json.gz` for backfill digests, which form a chain of their own).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// The chain a digest belongs to, from its key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ChainId {
    /// Trail name.
    pub trail: String,
    /// Account whose logs the chain covers.
    pub account: String,
    /// Region whose logs the chain covers.
    pub region: String,
    /// Home Region of the trail.
    pub home_region: String,
    /// Backfill digests form a chain of their own.
    pub backfill: bool,
}

impl ChainId {
    /// The stream of logs the chain covers, backfill or not: trail, account, Region.
    pub fn stream(&self) -> (String, String, String) {
        (
            self.trail.clone(),
            self.account.clone(),
            self.region.clone(),
        )
    }
}

/// What a digest key says: its chain and its delivery time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestKey {
    /// Its chain.
    pub chain: ChainId,
    /// The time in its name (`YYYYMMDDTHHMMSSZ`).
    pub time: DateTime<Utc>,
}

impl DigestKey {
    /// Reads a digest key or path; `None` when the file name is not in the digest layout.
    pub fn parse(key: &str) -> Option<DigestKey> {
        let file_name = key.rsplit(['/', '\\']).next()?;
        let stem = file_name.strip_suffix(".json.gz")?;
        let (stem, backfill) = match stem.strip_suffix("_backfill") {
            Some(stem) => (stem, true),
            None => (stem, false),
        };
        let (account, rest) = stem.split_once("_CloudTrail-Digest_")?;
        let (rest, time) = rest.rsplit_once('_')?;
        let time = NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%SZ")
            .ok()?
            .and_utc();
        // REGION_TRAIL_HOMEREGION: Regions have no underscore; trail names may.
        let (region, rest) = rest.split_once('_')?;
        let (trail, home_region) = rest.rsplit_once('_')?;
        if account.is_empty() || region.is_empty() || trail.is_empty() || home_region.is_empty() {
            return None;
        }
        Some(DigestKey {
            chain: ChainId {
                trail: trail.to_owned(),
                account: account.to_owned(),
                region: region.to_owned(),
                home_region: home_region.to_owned(),
                backfill,
            },
            time,
        })
    }
}

/// One log file named by a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestedLog {
    /// Bucket of the log file.
    pub s3_bucket: String,
    /// Key of the log file.
    pub s3_object: String,
    /// Hex SHA-256 of the inflated log file.
    pub hash_value: String,
    /// `SHA-256`.
    pub hash_algorithm: String,
    /// Time of its oldest event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_event_time: Option<String>,
    /// Time of its newest event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_event_time: Option<String>,
}

/// The fields of a digest file that verification reads (others are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    /// Account of the trail's logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_account_id: Option<String>,
    /// Start of the hour it covers (`2025-03-01T10:15:00Z`).
    pub digest_start_time: String,
    /// End of the hour it covers; part of the signed string, so kept as written.
    pub digest_end_time: String,
    /// Bucket it was delivered to.
    pub digest_s3_bucket: String,
    /// Key it was delivered to.
    pub digest_s3_object: String,
    /// Hex MD5 of the public key whose private key signed it.
    pub digest_public_key_fingerprint: String,
    /// `SHA256withRSA`.
    pub digest_signature_algorithm: String,
    /// Bucket of the previous digest of the chain (null for the first).
    pub previous_digest_s3_bucket: Option<String>,
    /// Key of the previous digest (null for the first).
    pub previous_digest_s3_object: Option<String>,
    /// Hex SHA-256 of the previous digest's inflated bytes (null for the first).
    pub previous_digest_hash_value: Option<String>,
    /// `SHA-256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_digest_hash_algorithm: Option<String>,
    /// Signature of the previous digest (null for the first).
    pub previous_digest_signature: Option<String>,
    /// The log files delivered in its hour.
    pub log_files: Vec<DigestedLog>,
}

impl Digest {
    /// The bytes CloudTrail signs: end time, location, SHA-256 of the inflated digest and the
    /// previous signature (`null` for the first digest of a chain), one per line.
    pub fn string_to_sign(&self, digest_sha256_hex: &str) -> String {
        format!(
            "{}\n{}/{}\n{}\n{}",
            self.digest_end_time,
            self.digest_s3_bucket,
            self.digest_s3_object,
            digest_sha256_hex,
            self.previous_digest_signature.as_deref().unwrap_or("null")
        )
    }

    /// The hour it covers, if its times parse.
    pub fn period(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((
            parse_digest_time(&self.digest_start_time)?,
            parse_digest_time(&self.digest_end_time)?,
        ))
    }
}

/// Parses a digest time (`2025-03-01T10:15:00Z`, RFC 3339).
pub fn parse_digest_time(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Formats a time as digests write it.
pub fn format_digest_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_digest_keys() {
        let key = DigestKey::parse("AWSLogs/o-a1b2c3d4e5/111122223333/CloudTrail-Digest/eu-west-1/2025/03/01/111122223333_CloudTrail-Digest_eu-west-1_org_trail_us-east-1_20250301T101500Z.json.gz").unwrap();
        assert_eq!(key.chain.account, "111122223333");
        assert_eq!(key.chain.region, "eu-west-1");
        assert_eq!(key.chain.trail, "org_trail");
        assert_eq!(key.chain.home_region, "us-east-1");
        assert!(!key.chain.backfill);
        assert_eq!(key.time.to_rfc3339(), "2025-03-01T10:15:00+00:00");
        let backfill = DigestKey::parse(
            "p/AWSLogs/1/CloudTrail-Digest/r/2025/03/01/1_CloudTrail-Digest_us-east-1_t_us-east-1_20250301T101500Z_backfill.json.gz",
        )
        .unwrap();
        assert!(backfill.chain.backfill);
        for bad in [
            "AWSLogs/1/CloudTrail-Digest/r/1_CloudTrail-Digest_us-east-1_t_20250301T101500Z.json.gz",
            "AWSLogs/1/CloudTrail-Digest/r/1_CloudTrail-Digest_us-east-1_t_us-east-1_2025.json.gz",
            "AWSLogs/1/CloudTrail/r/1_CloudTrail_us-east-1_20250301T1015Z_abc.json.gz",
        ] {
            assert_eq!(DigestKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_signed_string_is_as_the_aws_cli_builds_it() {
        let digest: Digest = serde_json::from_str(
            r#"{"digestStartTime":"2025-03-01T09:15:00Z","digestEndTime":"2025-03-01T10:15:00Z",
                "digestS3Bucket":"b","digestS3Object":"AWSLogs/k.json.gz",
                "digestPublicKeyFingerprint":"ab","digestSignatureAlgorithm":"SHA256withRSA",
                "previousDigestS3Bucket":null,"previousDigestS3Object":null,
                "previousDigestHashValue":null,"previousDigestSignature":null,"logFiles":[]}"#,
        )
        .unwrap();
        assert_eq!(
            digest.string_to_sign("00ff"),
            "2025-03-01T10:15:00Z\nb/AWSLogs/k.json.gz\n00ff\nnull"
        );
        let (start, end) = digest.period().unwrap();
        assert_eq!((end - start).num_hours(), 1);
    }

    #[test]
    fn reads_a_digest_as_cloudtrail_documents_it() {
        // The shape of the sample in the CloudTrail User Guide ("CloudTrail digest file
        // structure"): times not on the hour, top-level event times, more fields than verified.
        let text = r#"{
          "awsAccountId": "111122223333",
          "digestStartTime": "2015-08-17T14:01:31Z",
          "digestEndTime": "2015-08-17T15:01:31Z",
          "digestS3Bucket": "amzn-s3-demo-bucket",
          "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
          "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
          "digestSignatureAlgorithm": "SHA256withRSA",
          "newestEventTime": "2015-08-17T14:52:27Z",
          "oldestEventTime": "2015-08-17T14:42:27Z",
          "previousDigestS3Bucket": "amzn-s3-demo-bucket",
          "previousDigestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T140131Z.json.gz",
          "previousDigestHashValue": "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d",
          "previousDigestHashAlgorithm": "SHA-256",
          "previousDigestSignature": "50887ccffad4c002b97caa37cc9dc626e3c680207d41d27fa5835458e066e0d3",
          "logFiles": [{
            "s3Bucket": "amzn-s3-demo-bucket",
            "s3Object": "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
            "hashValue": "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6",
            "hashAlgorithm": "SHA-256",
            "newestEventTime": "2015-08-17T14:52:27Z",
            "oldestEventTime": "2015-08-17T14:42:27Z"
          }]
        }"#;
        let digest: Digest = serde_json::from_str(text).unwrap();
        let key = DigestKey::parse(&digest.digest_s3_object).unwrap();
        assert_eq!(key.chain.trail, "your-trail-name");
        assert_eq!(key.chain.region, "us-east-2");
        assert_eq!(key.chain.home_region, "us-east-2");
        assert_eq!(key.time.to_rfc3339(), "2015-08-17T15:01:31+00:00");
        let (start, end) = digest.period().unwrap();
        assert_eq!((end - start).num_minutes(), 60);
        assert_eq!(digest.log_files.len(), 1);
        assert!(
            digest.string_to_sign("ab").ends_with(
                "\nab\n50887ccffad4c002b97caa37cc9dc626e3c680207d41d27fa5835458e066e0d3"
            )
        );
    }
}
