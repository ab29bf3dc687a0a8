//! A log file's JSON text, read as a stream: inflated when the file is gzip, as it is when it
//! is JSON.

use std::io::{self, BufRead, Read};

use flate2::bufread::GzDecoder;

use crate::error::{DecodeError, LoadStage};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Default of `--max-file-size`: the largest JSON text one log file may inflate to. CloudTrail
/// log files are a few MB; a file past this is a gzip bomb or not a log file.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// The JSON text of a file, read from its bytes as they come.
pub enum JsonText<R: BufRead> {
    /// A file that is not gzip (a `.json` file).
    Plain(R),
    /// A gzip file, inflated while it is read.
    Gzip(Box<GzDecoder<R>>),
}

impl<R: BufRead> JsonText<R> {
    /// The text of the file read from `input`. `named_gzip` says whether its name ends in
    /// `.gz`, so that a `.json.gz` that is not gzip is reported as such rather than as bad JSON.
    pub fn open(mut input: R, named_gzip: bool) -> Result<Self, DecodeError> {
        let head = input
            .fill_buf()
            .map_err(|e| DecodeError::new(LoadStage::Fetch, format!("cannot read: {e}")))?;
        if head.is_empty() {
            let stage = if named_gzip {
                LoadStage::Gunzip
            } else {
                LoadStage::Json
            };
            return Err(DecodeError::new(stage, "empty file (0 bytes)"));
        }
        if head.starts_with(&GZIP_MAGIC) {
            return Ok(JsonText::Gzip(Box::new(GzDecoder::new(input))));
        }
        if named_gzip {
            return Err(DecodeError::new(
                LoadStage::Gunzip,
                format!(
                    "not a gzip file: starts with {:02x?}, expected 1f 8b",
                    &head[..head.len().min(4)]
                ),
            ));
        }
        Ok(JsonText::Plain(input))
    }

    /// Checks what follows the text once it is read to its end. A CloudTrail log file is
    /// exactly one gzip member: bytes after its end (a second member appended, or anything
    /// else) are an error, as in `aws cloudtrail validate-logs`, and none of the file is used.
    pub fn finish(self) -> Result<(), DecodeError> {
        let trailing = self.trailing_bytes()?;
        if trailing > 0 {
            return Err(DecodeError::new(
                LoadStage::Gunzip,
                format!(
                    "{trailing} byte(s) after the end of the first gzip member; a CloudTrail log file is a single gzip member, so the file is not used"
                ),
            ));
        }
        Ok(())
    }
}

impl<R: BufRead> JsonText<R> {
    /// How many bytes follow the first gzip member, once the text is read to its end (0 for a
    /// plain file).
    pub fn trailing_bytes(self) -> Result<u64, DecodeError> {
        let JsonText::Gzip(decoder) = self else {
            return Ok(0);
        };
        io::copy(&mut decoder.into_inner(), &mut io::sink())
            .map_err(|e| DecodeError::new(LoadStage::Fetch, format!("cannot read: {e}")))
    }
}

impl<R: BufRead> Read for JsonText<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            JsonText::Plain(input) => input.read(buf),
            JsonText::Gzip(decoder) => decoder.read(buf).map_err(|e| match e.kind() {
                // Bad data, or the file ends before its gzip stream does.
                io::ErrorKind::InvalidData
                | io::ErrorKind::InvalidInput
                | io::ErrorKind::UnexpectedEof => {
                    io::Error::new(e.kind(), CorruptGzip(e.to_string()))
                }
                // The file's bytes could not be read (e.g. a download cut off for good).
                _ => e,
            }),
        }
    }
}

/// The inflater's complaint about a corrupt gzip stream, as a read error's inner error.
#[derive(Debug, thiserror::Error)]
#[error("corrupt gzip stream: {0}")]
struct CorruptGzip(String);

/// The load error of a failure reading a file's text: stage `gunzip` when the gzip stream is
/// corrupt, `fetch` when the bytes themselves could not be read.
pub fn read_error(error: io::Error) -> DecodeError {
    let corrupt = error
        .get_ref()
        .is_some_and(|inner| inner.is::<CorruptGzip>());
    match corrupt {
        true => DecodeError::new(LoadStage::Gunzip, error),
        false => DecodeError::new(LoadStage::Fetch, format!("cannot read: {error}")),
    }
}

/// `data` as one gzip member (for unit tests).
#[cfg(test)]
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(raw: &[u8], named_gzip: bool) -> Result<Vec<u8>, DecodeError> {
        let mut text = JsonText::open(raw, named_gzip)?;
        let mut out = Vec::new();
        text.read_to_end(&mut out).map_err(read_error)?;
        text.finish().map(|()| out)
    }

    #[test]
    fn gzip_and_plain() {
        assert_eq!(
            &*inflate(&gzip(b"{\"Records\":[]}"), true).unwrap(),
            b"{\"Records\":[]}"
        );
        assert_eq!(&*inflate(b"{}", false).unwrap(), b"{}");
        // Data after the first member is refused, whatever it is.
        let mut two = gzip(b"ab");
        two.extend(gzip(b"cd"));
        let err = inflate(&two, true).unwrap_err();
        assert_eq!(err.stage, LoadStage::Gunzip);
        assert!(
            err.source
                .to_string()
                .contains("after the end of the first gzip member"),
            "{}",
            err.source
        );
        let mut padded = gzip(b"ab");
        padded.push(0);
        assert_eq!(inflate(&padded, true).unwrap_err().stage, LoadStage::Gunzip);
    }

    #[test]
    fn a_failing_input_is_a_fetch_error_not_bad_gzip() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("connection reset"))
            }
        }
        let mut plain = JsonText::Plain(io::BufReader::new(Failing));
        let err = read_error(plain.read(&mut [0; 8]).unwrap_err());
        assert_eq!(err.stage, LoadStage::Fetch);
        let mut half = gzip(&[b'x'; 10_000]);
        half.truncate(half.len() / 2);
        let mut gz = JsonText::open(
            io::BufReader::new(io::Read::chain(&half[..], Failing)),
            true,
        )
        .unwrap();
        let err = read_error(gz.read_to_end(&mut Vec::new()).unwrap_err());
        assert_eq!(err.stage, LoadStage::Fetch, "{}", err.source);
    }

    #[test]
    fn bad_gzip_is_named() {
        let full = gzip(&[b'x'; 10_000]);
        let truncated = inflate(&full[..full.len() / 2], true).unwrap_err();
        assert_eq!(truncated.stage, LoadStage::Gunzip);
        let not_gzip = inflate(b"{\"Records\":[]}", true).unwrap_err();
        assert_eq!(not_gzip.stage, LoadStage::Gunzip);
        assert!(
            not_gzip.source.to_string().contains("not a gzip file"),
            "{}",
            not_gzip.source
        );
        assert_eq!(inflate(b"", true).unwrap_err().stage, LoadStage::Gunzip);
        assert_eq!(inflate(b"", false).unwrap_err().stage, LoadStage::Json);
        let mut bad_crc = full.clone();
        let n = bad_crc.len();
        bad_crc[n - 6] ^= 0xff;
        assert_eq!(
            inflate(&bad_crc, true).unwrap_err().stage,
            LoadStage::Gunzip
        );
    }
}
