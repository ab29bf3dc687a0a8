//! A fast reader of one record's top level: the same [`Record`] serde_json would give, for the
//! records it is sure of.
//!
//! serde_json reads a record a byte at a time through serde's visitors, although most of a
//! record is nested values trailmap keeps as text or skips, and most records of a real archive
//! are left out by the query's filters after two fields. [`skim`] reads the record object by
//! hand instead: it scans strings eight bytes at a time, checks the grammar of every nested
//! value as it skips it, and borrows every field from the text.
//!
//! It reads only a subset of JSON: a record whose top-level keys and text fields hold no
//! escapes, whose text fields are strings or `null`, whose flags are booleans, strings or
//! `null`, with no field twice and nesting at most [`MAX_DEPTH`] deep. On anything else (and on
//! every kind of broken JSON) it answers [`NotRead::Unsure`], and the caller parses the record
//! with serde, which gives the value or the error it always gave. So whatever `skim` reads,
//! serde reads the same way: no answer and no error depends on which of the two read a record.

use crate::decode::record::{Flag, Raw, Record, Text};

/// How deep nested values may go before the skimmer leaves the record to serde.
pub const MAX_DEPTH: u32 = 64;

/// Why [`skim`] did not read a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRead {
    /// The text ends inside the record; more of it may follow.
    NeedMore,
    /// Something the skimmer does not read (or broken JSON): parse the record with serde.
    Unsure,
}

/// Reads the record at the start of `text` (its first byte, no whitespace before it): the record
/// and the bytes it takes. `at_end`: nothing follows `text`.
pub fn skim(text: &str, at_end: bool) -> Result<(Record<'_>, usize), NotRead> {
    let mut cursor = Cursor { text, at: 0 };
    match cursor.record() {
        Ok(record) => Ok((record, cursor.at)),
        Err(Stop::TextEnds) if !at_end => Err(NotRead::NeedMore),
        Err(_) => Err(NotRead::Unsure),
    }
}

/// Why the skimmer stopped before the end of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The text ends first.
    TextEnds,
    /// The record is outside what the skimmer reads.
    Unsure,
}

/// A record field the skimmer fills, with the bit that marks it as seen.
enum Slot<'r, 'a> {
    Text(&'r mut Text<'a>),
    Flag(&'r mut Flag),
    Raw(&'r mut Option<Raw<'a>>),
}

/// The field of `record` that the top-level key `key` names, as serde's derive of [`Record`]
/// maps it, and its bit. Unknown keys are ignored, as serde ignores them.
fn slot<'r, 'a>(record: &'r mut Record<'a>, key: &str) -> Option<(u32, Slot<'r, 'a>)> {
    let r = record;
    Some(match key {
        "eventTime" => (0, Slot::Text(&mut r.event_time)),
        "eventVersion" => (1, Slot::Text(&mut r.event_version)),
        "eventSource" => (2, Slot::Text(&mut r.event_source)),
        "eventName" => (3, Slot::Text(&mut r.event_name)),
        "eventType" => (4, Slot::Text(&mut r.event_type)),
        "eventCategory" => (5, Slot::Text(&mut r.event_category)),
        "eventID" => (6, Slot::Text(&mut r.event_id)),
        "requestID" => (7, Slot::Text(&mut r.request_id)),
        "sharedEventID" => (8, Slot::Text(&mut r.shared_event_id)),
        "readOnly" => (9, Slot::Flag(&mut r.read_only)),
        "managementEvent" => (10, Slot::Flag(&mut r.management_event)),
        "awsRegion" => (11, Slot::Text(&mut r.aws_region)),
        "recipientAccountId" => (12, Slot::Text(&mut r.recipient_account_id)),
        "sourceIPAddress" => (13, Slot::Text(&mut r.source_ip)),
        "userAgent" => (14, Slot::Text(&mut r.user_agent)),
        "vpcEndpointId" => (15, Slot::Text(&mut r.vpc_endpoint_id)),
        "errorCode" => (16, Slot::Text(&mut r.error_code)),
        "errorMessage" => (17, Slot::Text(&mut r.error_message)),
        "requestParameters" => (18, Slot::Raw(&mut r.request_parameters)),
        "responseElements" => (19, Slot::Raw(&mut r.response_elements)),
        "additionalEventData" => (20, Slot::Raw(&mut r.additional_event_data)),
        "userIdentity" => (21, Slot::Raw(&mut r.user_identity)),
        "resources" => (22, Slot::Raw(&mut r.resources)),
        "tlsDetails" => (23, Slot::Raw(&mut r.tls_details)),
        "serviceEventDetails" => (24, Slot::Raw(&mut r.service_event_details)),
        "sessionCredentialFromConsole" => (25, Slot::Flag(&mut r.session_credential_from_console)),
        _ => return None,
    })
}

/// A position in the text of one record.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// The record object.
    fn record(&mut self) -> Result<Record<'a>, Stop> {
        self.expect(b'{')?;
        let mut record = Record::default();
        let mut seen = 0u32;
        self.skip_space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Ok(record);
        }
        loop {
            self.skip_space();
            let key = self.key()?;
            match slot(&mut record, key) {
                Some((bit, slot)) => {
                    if seen & (1 << bit) != 0 {
                        // serde fails the record: a duplicate field.
                        return Err(Stop::Unsure);
                    }
                    seen |= 1 << bit;
                    self.field(slot)?;
                }
                None => self.skip_value()?,
            }
            self.skip_space();
            match self.next()? {
                b',' => continue,
                b'}' => return Ok(record),
                _ => return Err(Stop::Unsure),
            }
        }
    }

    /// A key with its colon (and the whitespace after it).
    fn key(&mut self) -> Result<&'a str, Stop> {
        self.expect(b'"')?;
        let key = self.plain_string()?;
        self.skip_space();
        self.expect(b':')?;
        self.skip_space();
        Ok(key)
    }

    /// The value of a known field, into its slot.
    fn field(&mut self, slot: Slot<'_, 'a>) -> Result<(), Stop> {
        let first = self.peek()?;
        match (slot, first) {
            (Slot::Text(text), b'"') => {
                self.at += 1;
                text.0 = Some(self.plain_string()?.into());
            }
            (Slot::Flag(flag), b'"') => {
                self.at += 1;
                flag.0 = match self.plain_string()? {
                    "true" => Some(true),
                    "false" => Some(false),
                    _ => None,
                };
            }
            (Slot::Flag(flag), b't') => {
                self.literal("true")?;
                flag.0 = Some(true);
            }
            (Slot::Flag(flag), b'f') => {
                self.literal("false")?;
                flag.0 = Some(false);
            }
            (Slot::Text(_) | Slot::Flag(_) | Slot::Raw(_), b'n') => self.literal("null")?,
            (Slot::Raw(raw), _) => {
                let start = self.at;
                self.skip_value()?;
                let text = self.text.get(start..self.at).ok_or(Stop::Unsure)?;
                *raw = Some(Raw::checked(text));
            }
            // Numbers, objects and arrays in text fields: serde's own reading of those.
            (Slot::Text(_) | Slot::Flag(_), _) => return Err(Stop::Unsure),
        }
        Ok(())
    }

    /// Skips one JSON value (and no whitespace after it), checking its grammar.
    fn skip_value(&mut self) -> Result<(), Stop> {
        // One bit per open container, set for an object; `depth` of them are open.
        let mut objects = 0u64;
        let mut depth = 0u32;
        loop {
            // At the start of a value.
            self.skip_space();
            match self.next()? {
                b'"' => self.skip_string()?,
                open @ (b'{' | b'[') => {
                    if depth == MAX_DEPTH {
                        return Err(Stop::Unsure);
                    }
                    objects = (objects << 1) | u64::from(open == b'{');
                    depth += 1;
                    self.skip_space();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek()? != close {
                        if open == b'{' {
                            self.skip_space();
                            self.member_key()?;
                        }
                        continue;
                    }
                    self.at += 1;
                    objects >>= 1;
                    depth -= 1;
                }
                b't' => self.literal_after_first("true")?,
                b'f' => self.literal_after_first("false")?,
                b'n' => self.literal_after_first("null")?,
                first @ (b'-' | b'0'..=b'9') => self.skip_number(first)?,
                _ => return Err(Stop::Unsure),
            }
            // After a value: close containers until one goes on with another value.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let in_object = objects & 1 == 1;
                self.skip_space();
                match (self.next()?, in_object) {
                    (b',', true) => {
                        self.skip_space();
                        self.member_key()?;
                        break;
                    }
                    (b',', false) => break,
                    (b'}', true) | (b']', false) => {
                        objects >>= 1;
                        depth -= 1;
                    }
                    _ => return Err(Stop::Unsure),
                }
            }
        }
    }

    /// A nested object's key and colon, any string.
    fn member_key(&mut self) -> Result<(), Stop> {
        self.expect(b'"')?;
        self.skip_string()?;
        self.skip_space();
        self.expect(b':')
    }

    /// A number whose first byte `first` was read, as JSON writes numbers.
    fn skip_number(&mut self, first: u8) -> Result<(), Stop> {
        let first = match first {
            b'-' => self.next()?,
            digit => digit,
        };
        match first {
            b'0' => {}
            b'1'..=b'9' => self.skip_digits()?,
            _ => return Err(Stop::Unsure),
        }
        if self.peek()? == b'.' {
            self.at += 1;
            if !self.next()?.is_ascii_digit() {
                return Err(Stop::Unsure);
            }
            self.skip_digits()?;
        }
        if matches!(self.peek()?, b'e' | b'E') {
            self.at += 1;
            if matches!(self.peek()?, b'+' | b'-') {
                self.at += 1;
            }
            if !self.next()?.is_ascii_digit() {
                return Err(Stop::Unsure);
            }
            self.skip_digits()?;
        }
        Ok(())
    }

    /// Digits up to the first other byte, which must be there (a number never ends a record).
    fn skip_digits(&mut self) -> Result<(), Stop> {
        while self.peek()?.is_ascii_digit() {
            self.at += 1;
        }
        Ok(())
    }

    /// The rest of a string without escapes, its opening quote read: its text.
    fn plain_string(&mut self) -> Result<&'a str, Stop> {
        let start = self.at;
        match self.string_stop()? {
            b'"' => {
                let text = self.text.get(start..self.at).ok_or(Stop::Unsure)?;
                self.at += 1;
                Ok(text)
            }
            _ => Err(Stop::Unsure),
        }
    }

    /// The rest of any string, its opening quote read, checking its escapes.
    fn skip_string(&mut self) -> Result<(), Stop> {
        loop {
            match self.string_stop()? {
                b'"' => {
                    self.at += 1;
                    return Ok(());
                }
                b'\\' => self.skip_escape()?,
                _ => return Err(Stop::Unsure),
            }
        }
    }

    /// An escape at the cursor: `\` and one of `"\/bfnrt`, or `\u` and four hex digits.
    fn skip_escape(&mut self) -> Result<(), Stop> {
        let bytes = self.text.as_bytes();
        let escaped = *bytes.get(self.at + 1).ok_or(Stop::TextEnds)?;
        match escaped {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 2,
            b'u' => {
                let hex = bytes.get(self.at + 2..self.at + 6).ok_or(Stop::TextEnds)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(Stop::Unsure);
                }
                self.at += 6;
            }
            _ => return Err(Stop::Unsure),
        }
        Ok(())
    }

    /// Moves to the next `"`, `\` or control character of a string and gives it.
    fn string_stop(&mut self) -> Result<u8, Stop> {
        let bytes = self.text.as_bytes();
        while let Some(word) = bytes.get(self.at..).and_then(<[u8]>::first_chunk::<8>) {
            let stops = string_stops(u64::from_le_bytes(*word));
            if stops != 0 {
                self.at += (stops.trailing_zeros() / 8) as usize;
                return Ok(bytes[self.at]);
            }
            self.at += 8;
        }
        while let Some(&byte) = bytes.get(self.at) {
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                return Ok(byte);
            }
            self.at += 1;
        }
        Err(Stop::TextEnds)
    }

    /// `word` (at the cursor).
    fn literal(&mut self, word: &str) -> Result<(), Stop> {
        self.at += 1;
        self.literal_after_first(word)
    }

    /// The rest of `word`, its first byte read.
    fn literal_after_first(&mut self, word: &str) -> Result<(), Stop> {
        let rest = &word.as_bytes()[1..];
        let available = self.text.as_bytes().get(self.at..).unwrap_or_default();
        if available.starts_with(rest) {
            self.at += rest.len();
            Ok(())
        } else if rest.starts_with(available) {
            Err(Stop::TextEnds)
        } else {
            Err(Stop::Unsure)
        }
    }

    fn skip_space(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&self) -> Result<u8, Stop> {
        self.text
            .as_bytes()
            .get(self.at)
            .copied()
            .ok_or(Stop::TextEnds)
    }

    fn next(&mut self) -> Result<u8, Stop> {
        let byte = self.peek()?;
        self.at += 1;
        Ok(byte)
    }

    fn expect(&mut self, wanted: u8) -> Result<(), Stop> {
        match self.next()? {
            byte if byte == wanted => Ok(()),
            _ => Err(Stop::Unsure),
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` (eight bytes of text, little-endian) that stop a string: `"`, `\` and
/// control characters, each flagged by its high bit. Only the lowest flag is exact (a borrow
/// may flag a byte above a true one), which is the one used.
fn string_stops(word: u64) -> u64 {
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGH_BITS;
    let quotes = zero_bytes(word ^ (ONES * u64::from(b'"')));
    let backslashes = zero_bytes(word ^ (ONES * u64::from(b'\\')));
    let controls = word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS;
    quotes | backslashes | controls
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::stream::at_the_end;
    use crate::generate::rng::Rng;
    use serde::de::{self, Deserialize, Deserializer, Visitor};
    use std::io::Read;

    /// What serde_json makes of the record at the start of `text`: the record (as its Debug
    /// text) and the bytes it takes, or whether its error may be the text ending early (as
    /// [`crate::decode::stream`] takes its errors).
    fn serde_reading(text: &str) -> Result<(String, usize), bool> {
        let mut values = serde_json::Deserializer::from_str(text).into_iter::<Record>();
        match values.next() {
            Some(Ok(record)) => Ok((format!("{record:?}"), values.byte_offset())),
            Some(Err(e)) => Err(e.is_eof() || at_the_end(text, &e)),
            None => Err(true),
        }
    }

    /// Checks that whatever the skimmer reads in `text`, serde reads the same way, and that
    /// where the skimmer wants more text, serde too found the text ending early. Returns
    /// whether the skimmer read it.
    fn agrees_with_serde(text: &str) -> bool {
        match skim(text, false) {
            Ok((record, used)) => {
                let skimmed = (format!("{record:?}"), used);
                assert_eq!(Ok(skimmed), serde_reading(text), "{text}");
                true
            }
            Err(NotRead::NeedMore) => {
                assert_eq!(serde_reading(text).map(|_| ()), Err(true), "{text}");
                false
            }
            Err(NotRead::Unsure) => false,
        }
    }

    /// serde's names for the fields of [`Record`], as its derive passes them to a
    /// deserializer.
    fn serde_field_names() -> Vec<&'static str> {
        struct FieldNames(Vec<&'static str>);
        impl<'de> Deserializer<'de> for &mut FieldNames {
            type Error = de::value::Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
                Err(de::Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Self::Error> {
                self.0 = fields.to_vec();
                Err(de::Error::custom("names taken"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        let mut names = FieldNames(Vec::new());
        assert!(Record::deserialize(&mut names).is_err());
        names.0
    }

    #[test]
    fn the_skimmer_knows_every_field_serde_knows_each_by_its_own_bit() {
        let names = serde_field_names();
        assert_eq!(names.len(), 26, "{names:?}");
        let mut bits = 0u32;
        for name in &names {
            let (bit, _) = slot(&mut Record::default(), name).expect(name);
            assert_eq!(bits & (1 << bit), 0, "{name} shares bit {bit}");
            bits |= 1 << bit;
            // Twice is serde's duplicate-field error: left to serde.
            let twice = format!(r#"{{"{name}":null,"{name}":null}}"#);
            assert!(
                matches!(skim(&twice, true), Err(NotRead::Unsure)),
                "{twice}"
            );
            assert!(serde_json::from_str::<Record>(&twice).is_err());
        }
        // Every field once, each a value its type reads.
        let all: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, name)| match slot(&mut Record::default(), name) {
                Some((_, Slot::Text(_))) => format!(r#""{name}":"v{i}""#),
                Some((_, Slot::Flag(_))) => format!(r#""{name}":true"#),
                _ => format!(r#""{name}":{{"n":[{i}]}}"#),
            })
            .collect();
        assert!(agrees_with_serde(&format!("{{{}}}", all.join(","))));
    }

    /// Records shaped as AWS documents CloudTrail's (a Bedrock call through a cross-Region
    /// profile, a service event with `resources`), and odd but valid ones.
    const RECORDS: &[&str] = &[
        r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:alice","arn":"arn:aws:sts::111122223333:assumed-role/App/alice","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::111122223333:role/App","accountId":"111122223333","userName":"App"},"attributes":{"creationDate":"2025-03-01T09:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2025-03-01T10:00:00Z","eventSource":"bedrock.amazonaws.com","eventName":"InvokeModel","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","userAgent":"Boto3/1.35.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1","requestParameters":{"modelId":"us.anthropic.claude-3-5-sonnet-20240620-v1:0"},"responseElements":null,"additionalEventData":{"inferenceRegion":"us-west-2"},"requestID":"a1b2","eventID":"c3d4","readOnly":true,"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"111122223333","eventCategory":"Data","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"bedrock-runtime.us-east-1.amazonaws.com"}}"#,
        r#"{"eventVersion":"1.08","userIdentity":{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"},"eventTime":"2025-03-01T10:05:00Z","eventSource":"kms.amazonaws.com","eventName":"GenerateDataKey","awsRegion":"eu-west-1","sourceIPAddress":"cloudtrail.amazonaws.com","userAgent":"cloudtrail.amazonaws.com","requestParameters":{"keySpec":"AES_256","encryptionContext":{"aws:cloudtrail:arn":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/t"}},"responseElements":null,"requestID":"x","eventID":"y","readOnly":true,"resources":[{"accountId":"111122223333","type":"AWS::KMS::Key","ARN":"arn:aws:kms:eu-west-1:111122223333:key/k"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","sharedEventID":"z","eventCategory":"Management"}"#,
        r#"{"eventTime":"2025-03-01T10:00:00Z","errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::1:user/bob is not authorized","vpcEndpointId":"vpce-1","serviceEventDetails":{"n":-0.5e+10,"m":[0,1.25,-3,4E2,true,false,null,{},[],""]},"readOnly":"false","managementEvent":"maybe"}"#,
        "{ \"eventName\" : \"A\" ,\n\t\"eventTime\"\r: null , \"readOnly\" : null, \"requestParameters\" : null, \"resources\" : [ ] , \"x\" : { } }",
        r#"{"userAgent":"é€𝄞 (unicode)","requestParameters":{"policy":"{\"Version\":\"2012-10-17\",\"a\\b\":\"\u00e9\uD83D\uDE00\/\b\f\n\r\t\"}"},"unknown":"\"quoted\" \\ ]}","n":[[[[1]]]]}"#,
        r#"{}"#,
        r#"{"Records":[{"eventName":"nested records are just another field"}]}"#,
    ];

    #[test]
    fn records_as_cloudtrail_writes_them_are_read_as_serde_reads_them() {
        for record in RECORDS {
            assert!(agrees_with_serde(record), "not skimmed: {record}");
            let followed = format!("{record} ,{{}}]");
            assert!(agrees_with_serde(&followed), "{followed}");
        }
    }

    #[test]
    fn every_cut_of_a_record_waits_for_more_text() {
        for record in RECORDS {
            for cut in (0..record.len()).filter(|&i| record.is_char_boundary(i)) {
                let prefix = &record[..cut];
                assert!(
                    matches!(skim(prefix, false), Err(NotRead::NeedMore)),
                    "{prefix:?} of {record}"
                );
                assert!(
                    matches!(skim(prefix, true), Err(NotRead::Unsure)),
                    "{prefix:?}"
                );
            }
        }
    }

    #[test]
    fn what_the_skimmer_is_not_sure_of_is_left_to_serde() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(65), "]".repeat(65));
        let cases = [
            // serde reads these (differently or the same), the skimmer does not.
            r#"{"event\u004eame":"A"}"#,
            r#"{"eventName":"A\"B"}"#,
            r#"{"eventName":7}"#,
            r#"{"eventName":{"a":1}}"#,
            r#"{"readOnly":1}"#,
            r#"{"readOnly":"tr\u0075e"}"#,
            deep.as_str(),
            "[1]",
            r#""record""#,
            // serde fails these.
            r#"{"eventName":"A","eventName":"B"}"#,
            r#"{"eventName":"A",}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":{"b":1,}}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12G4"}"#,
            "{\"a\":\"\u{1}\"}",
            "{\"eventName\":\"\u{1f}\"}",
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":1.}"#,
            r#"{"a":1e}"#,
            r#"{"a":.5}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul,"b":1}"#,
            r#"{"a" 1}"#,
            r#"{a:1}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":{1:2}}"#,
            r#"{"a":[}"#,
            r#"{"a":{]}"#,
        ];
        for case in cases {
            assert!(matches!(skim(case, true), Err(NotRead::Unsure)), "{case}");
            assert!(matches!(skim(case, false), Err(NotRead::Unsure)), "{case}");
        }
        let deepest = format!("{{\"a\":{}1{}}}", "[".repeat(64), "]".repeat(64));
        assert!(agrees_with_serde(&deepest));
    }

    /// The records of the bundled sample archive, compact and pretty-printed.
    fn sample_records() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-data");
        let mut records = Vec::new();
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy();
            if !name.ends_with(".json.gz") || name.contains("Digest") {
                continue;
            }
            let mut json = String::new();
            flate2::read::MultiGzDecoder::new(std::fs::File::open(entry.path()).unwrap())
                .read_to_string(&mut json)
                .unwrap();
            let file: serde_json::Value = serde_json::from_str(&json).unwrap();
            for record in file["Records"].as_array().unwrap() {
                records.push(serde_json::to_string(record).unwrap());
                if records.len() % 50 == 0 {
                    records.push(serde_json::to_string_pretty(record).unwrap());
                }
            }
        }
        records
    }

    #[test]
    fn every_sample_record_is_skimmed_as_serde_reads_it() {
        let records = sample_records();
        assert!(records.len() > 3000, "{}", records.len());
        for record in &records {
            assert!(agrees_with_serde(record), "not skimmed: {record}");
        }
    }

    /// Bytes that change what JSON means.
    const MUTATIONS: &[u8] = b"{}[]\":,\\ \n0123456789-+.eEtrufalsn/\x01x";

    #[test]
    fn mutated_records_are_read_as_serde_reads_them_or_left_to_serde() {
        let mut rng = Rng::new(13, 1);
        let mut seeds: Vec<String> = RECORDS.iter().map(|r| r.to_string()).collect();
        seeds.extend(sample_records().into_iter().step_by(97));
        let (mut read, mut tried) = (0, 0);
        for seed in &seeds {
            for _ in 0..200 {
                let mut text = seed.clone().into_bytes();
                for _ in 0..=rng.below(2) {
                    let at = rng.below(text.len() as u64 + 1) as usize;
                    let byte = *rng.pick(MUTATIONS);
                    match rng.below(3) {
                        0 => text.insert(at, byte),
                        1 if at < text.len() => text[at] = byte,
                        _ if at < text.len() => {
                            text.remove(at);
                        }
                        _ => text.push(byte),
                    }
                }
                // Only ASCII bytes were changed; a cut multi-byte character is not UTF-8.
                let Ok(text) = String::from_utf8(text) else {
                    continue;
                };
                tried += 1;
                read += usize::from(agrees_with_serde(&text));
            }
        }
        // Many mutations keep the record valid (a changed letter in a string), many break it.
        assert!(
            read > tried / 10 && read < tried * 9 / 10,
            "{read} of {tried}"
        );
    }
}
